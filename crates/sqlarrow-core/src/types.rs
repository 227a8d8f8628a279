//! Arrow field helpers shared by the engines: canonical extension types.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, TimeUnit};

pub const EXTENSION_NAME_KEY: &str = "ARROW:extension:name";
pub const EXTENSION_METADATA_KEY: &str = "ARROW:extension:metadata";
pub const UUID_EXTENSION: &str = "arrow.uuid";
pub const JSON_EXTENSION: &str = "arrow.json";
/// GeoArrow's well-known-binary geometry extension.
pub const WKB_EXTENSION: &str = "geoarrow.wkb";

/// The UTC time zone used for every time-zone-aware timestamp sqlarrow returns.
pub fn utc() -> Option<Arc<str>> {
    Some(Arc::from("UTC"))
}

pub fn timestamp_us(tz: bool) -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, if tz { utc() } else { None })
}

fn with_extension(field: Field, name: &str) -> Field {
    field.with_metadata(HashMap::from([
        (EXTENSION_NAME_KEY.to_string(), name.to_string()),
        (EXTENSION_METADATA_KEY.to_string(), String::new()),
    ]))
}

/// A 16-byte UUID column tagged with the canonical `arrow.uuid` extension.
pub fn uuid_field(name: &str, nullable: bool) -> Field {
    with_extension(
        Field::new(name, DataType::FixedSizeBinary(16), nullable),
        UUID_EXTENSION,
    )
}

/// A WKB column tagged with the GeoArrow `geoarrow.wkb` extension.
pub fn wkb_field(name: &str, nullable: bool) -> Field {
    with_extension(Field::new(name, DataType::Binary, nullable), WKB_EXTENSION)
}

/// A JSON text column tagged with the canonical `arrow.json` extension.
pub fn json_field(name: &str, nullable: bool) -> Field {
    with_extension(Field::new(name, DataType::Utf8, nullable), JSON_EXTENSION)
}
