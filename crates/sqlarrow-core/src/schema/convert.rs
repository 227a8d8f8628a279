//! Canonical schema ⇄ Arrow schema.
//!
//! Forward (canonical → Arrow) matches what the engines return: UUID →
//! `FixedSizeBinary(16)` tagged `arrow.uuid`, JSON → `Utf8` tagged `arrow.json`,
//! TIMESTAMP_TZ → `Timestamp(us, "UTC")`, ENUM → `Dictionary(Int32, Utf8)`, INTERVAL →
//! `Interval(MonthDayNano)`, ARRAY → `List`, GEOMETRY → `Binary` tagged `geoarrow.wkb`.
//! Details Arrow has no place for (maximum lengths, ENUM labels, defaults, comments,
//! the primary key) travel in field/schema metadata under `sqlarrow.*` keys, so
//! canonical → Arrow → canonical is lossless.
//!
//! Reverse (Arrow → canonical) covers every Arrow type that has a canonical
//! equivalent; the others (Null, Struct, Map, Union, ...) are an
//! `UnsupportedTypeError` naming the column.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, IntervalUnit, Schema, TimeUnit};

use super::{CanonicalSchema, Column, LogicalType};
use crate::error::{Error, ErrorKind, Result};
use crate::types::{
    timestamp_us, EXTENSION_METADATA_KEY, EXTENSION_NAME_KEY, JSON_EXTENSION, UUID_EXTENSION,
};

/// Field metadata: the canonical type string when Arrow alone cannot carry it.
pub const TYPE_KEY: &str = "sqlarrow.type";
pub const DEFAULT_KEY: &str = "sqlarrow.default";
pub const COMMENT_KEY: &str = "sqlarrow.comment";
/// Schema metadata: the primary key as a JSON array of column names.
pub const PRIMARY_KEY_KEY: &str = "sqlarrow.primary_key";
pub use crate::types::WKB_EXTENSION;

impl LogicalType {
    /// The Arrow data type (extension tags live on the field, see [`LogicalType::to_field`]).
    pub fn to_arrow(&self) -> DataType {
        use LogicalType::*;
        match self {
            Bool => DataType::Boolean,
            Int8 => DataType::Int8,
            Int16 => DataType::Int16,
            Int32 => DataType::Int32,
            Int64 => DataType::Int64,
            UInt8 => DataType::UInt8,
            UInt16 => DataType::UInt16,
            UInt32 => DataType::UInt32,
            UInt64 => DataType::UInt64,
            Float32 => DataType::Float32,
            Float64 => DataType::Float64,
            Decimal { precision, scale } if *precision <= 38 => {
                DataType::Decimal128(*precision, *scale)
            }
            Decimal { precision, scale } => DataType::Decimal256(*precision, *scale),
            String(_) | Json => DataType::Utf8,
            Binary(_) | Geometry => DataType::Binary,
            Date => DataType::Date32,
            Time => DataType::Time64(TimeUnit::Microsecond),
            Timestamp => timestamp_us(false),
            TimestampTz => timestamp_us(true),
            Interval => DataType::Interval(IntervalUnit::MonthDayNano),
            Uuid => DataType::FixedSizeBinary(16),
            Array(inner) => DataType::List(Arc::new(inner.to_field("item", true))),
            Enum(_) => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        }
    }

    /// An Arrow field of this type, with extension and `sqlarrow.type` metadata.
    pub fn to_field(&self, name: &str, nullable: bool) -> Field {
        let mut md = HashMap::new();
        let ext = match self {
            LogicalType::Uuid => Some(UUID_EXTENSION),
            LogicalType::Json => Some(JSON_EXTENSION),
            LogicalType::Geometry => Some(WKB_EXTENSION),
            _ => None,
        };
        if let Some(e) = ext {
            md.insert(EXTENSION_NAME_KEY.to_string(), e.to_string());
            md.insert(EXTENSION_METADATA_KEY.to_string(), String::new());
        }
        if matches!(
            self,
            LogicalType::String(Some(_)) | LogicalType::Binary(Some(_)) | LogicalType::Enum(_)
        ) {
            md.insert(TYPE_KEY.to_string(), self.to_string());
        }
        Field::new(name, self.to_arrow(), nullable).with_metadata(md)
    }

    /// The canonical type of an Arrow field (honouring extension and `sqlarrow.type` tags).
    pub fn from_field(field: &Field) -> Result<LogicalType> {
        let md = field.metadata();
        if let Some(t) = md.get(TYPE_KEY) {
            if let Ok(t) = t.parse::<LogicalType>() {
                if t.to_arrow() == *field.data_type() {
                    return Ok(t);
                }
            }
        }
        let ext = md.get(EXTENSION_NAME_KEY).map(|s| s.as_str());
        from_arrow_type(field.name(), field.data_type(), ext)
    }
}

fn unsupported(column: &str, dt: &DataType, why: &str) -> Error {
    Error::new(
        ErrorKind::UnsupportedType,
        format!("column \"{column}\" has Arrow type {dt}, which has no canonical type{why}"),
    )
    .with_detail("column", column)
    .with_detail("type_name", dt.to_string())
}

fn from_arrow_type(column: &str, dt: &DataType, ext: Option<&str>) -> Result<LogicalType> {
    use LogicalType as L;
    Ok(match dt {
        DataType::Boolean => L::Bool,
        DataType::Int8 => L::Int8,
        DataType::Int16 => L::Int16,
        DataType::Int32 => L::Int32,
        DataType::Int64 => L::Int64,
        DataType::UInt8 => L::UInt8,
        DataType::UInt16 => L::UInt16,
        DataType::UInt32 => L::UInt32,
        DataType::UInt64 => L::UInt64,
        // float16 widens exactly into float32.
        DataType::Float16 | DataType::Float32 => L::Float32,
        DataType::Float64 => L::Float64,
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => {
            if *s < 0 || *s as u8 > *p {
                return Err(unsupported(column, dt, " (negative or oversized scale)"));
            }
            L::Decimal {
                precision: *p,
                scale: *s,
            }
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            if ext == Some(JSON_EXTENSION) {
                L::Json
            } else {
                L::String(None)
            }
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            if ext == Some(WKB_EXTENSION) || ext == Some("geoarrow.wkt") {
                L::Geometry
            } else {
                L::Binary(None)
            }
        }
        DataType::FixedSizeBinary(16) if ext == Some(UUID_EXTENSION) => L::Uuid,
        DataType::FixedSizeBinary(n) => L::Binary(Some(*n as u32)),
        DataType::Date32 | DataType::Date64 => L::Date,
        DataType::Time32(_) | DataType::Time64(_) => L::Time,
        DataType::Timestamp(_, None) => L::Timestamp,
        DataType::Timestamp(_, Some(_)) => L::TimestampTz,
        DataType::Interval(_) | DataType::Duration(_) => L::Interval,
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _) => L::Array(Box::new(
            LogicalType::from_field(f)
                .map_err(|e| e.context(format!("element of \"{column}\"")))?,
        )),
        DataType::Dictionary(_, value) => from_arrow_type(column, value, ext)?,
        DataType::RunEndEncoded(_, values) => from_arrow_type(column, values.data_type(), ext)?,
        DataType::Null => {
            return Err(unsupported(
                column,
                dt,
                " (every value is NULL, so the type is unknown; cast the column first)",
            ))
        }
        _ => return Err(unsupported(column, dt, "")),
    })
}

impl Column {
    pub fn to_field(&self) -> Field {
        let f = self.data_type.to_field(&self.name, self.nullable);
        let mut md = f.metadata().clone();
        if let Some(d) = &self.default {
            md.insert(DEFAULT_KEY.to_string(), d.clone());
        }
        if let Some(c) = &self.comment {
            md.insert(COMMENT_KEY.to_string(), c.clone());
        }
        f.with_metadata(md)
    }

    pub fn from_field(field: &Field) -> Result<Column> {
        Ok(Column {
            name: field.name().clone(),
            data_type: LogicalType::from_field(field)?,
            nullable: field.is_nullable(),
            default: field.metadata().get(DEFAULT_KEY).cloned(),
            comment: field.metadata().get(COMMENT_KEY).cloned(),
        })
    }
}

impl CanonicalSchema {
    /// The Arrow schema of this table as sqlarrow reads it.
    pub fn to_arrow(&self) -> Schema {
        let fields: Vec<Field> = self.columns.iter().map(Column::to_field).collect();
        let mut md = HashMap::new();
        if !self.primary_key.is_empty() {
            md.insert(
                PRIMARY_KEY_KEY.to_string(),
                serde_json::to_string(&self.primary_key).expect("strings serialize"),
            );
        }
        Schema::new_with_metadata(fields, md)
    }

    /// Infer a canonical schema from an Arrow schema.
    pub fn from_arrow(schema: &Schema) -> Result<CanonicalSchema> {
        let columns = schema
            .fields()
            .iter()
            .map(|f| Column::from_field(f))
            .collect::<Result<Vec<_>>>()?;
        let primary_key = schema
            .metadata()
            .get(PRIMARY_KEY_KEY)
            .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
            .unwrap_or_default();
        let s = CanonicalSchema {
            columns,
            primary_key,
            ..Default::default()
        };
        s.validate()?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{json_field, uuid_field};

    #[test]
    fn forward_matches_engine_fields() {
        // What the engines return (crate::types helpers) is what the canonical type maps to.
        assert_eq!(LogicalType::Uuid.to_field("u", true), uuid_field("u", true));
        assert_eq!(LogicalType::Json.to_field("j", true), json_field("j", true));
        assert_eq!(
            LogicalType::TimestampTz.to_arrow(),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        assert_eq!(
            LogicalType::Decimal {
                precision: 18,
                scale: 4
            }
            .to_arrow(),
            DataType::Decimal128(18, 4)
        );
        assert_eq!(
            LogicalType::Decimal {
                precision: 50,
                scale: 4
            }
            .to_arrow(),
            DataType::Decimal256(50, 4)
        );
        assert_eq!(
            LogicalType::Enum(vec!["a".into()]).to_arrow(),
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        );
        assert_eq!(
            LogicalType::Interval.to_arrow(),
            DataType::Interval(IntervalUnit::MonthDayNano)
        );
    }

    #[test]
    fn schema_round_trips_through_arrow() {
        let j = r#"{"columns": [
            {"name": "id", "type": "INT64", "nullable": false, "default": "1", "comment": "pk"},
            {"name": "name", "type": "STRING(255)"},
            {"name": "s", "type": "STRING"},
            {"name": "b", "type": "BINARY(4)"},
            {"name": "u", "type": "UUID"},
            {"name": "j", "type": "JSON"},
            {"name": "e", "type": "ENUM('x','y')"},
            {"name": "a", "type": "ARRAY<UUID>"},
            {"name": "g", "type": "GEOMETRY"},
            {"name": "d", "type": "DECIMAL(60,10)"},
            {"name": "t", "type": "TIMESTAMP_TZ"},
            {"name": "i", "type": "INTERVAL"},
            {"name": "u64", "type": "UINT64"}
        ], "primary_key": ["id"]}"#;
        let s = CanonicalSchema::from_json(j).unwrap();
        let a = s.to_arrow();
        assert_eq!(CanonicalSchema::from_arrow(&a).unwrap(), s);
    }

    #[test]
    fn reverse_mapping_of_plain_arrow() {
        let f = |dt: DataType| LogicalType::from_field(&Field::new("c", dt, true));
        assert_eq!(f(DataType::LargeUtf8).unwrap(), LogicalType::String(None));
        assert_eq!(
            f(DataType::Timestamp(
                TimeUnit::Nanosecond,
                Some("+01:00".into())
            ))
            .unwrap(),
            LogicalType::TimestampTz
        );
        assert_eq!(
            f(DataType::Timestamp(TimeUnit::Second, None)).unwrap(),
            LogicalType::Timestamp
        );
        assert_eq!(f(DataType::Date64).unwrap(), LogicalType::Date);
        assert_eq!(
            f(DataType::FixedSizeBinary(16)).unwrap(),
            LogicalType::Binary(Some(16))
        );
        assert_eq!(
            f(DataType::Dictionary(
                Box::new(DataType::Int8),
                Box::new(DataType::Utf8)
            ))
            .unwrap(),
            LogicalType::String(None)
        );
        assert_eq!(
            f(DataType::LargeList(Arc::new(Field::new(
                "x",
                DataType::Float64,
                true
            ))))
            .unwrap(),
            LogicalType::Array(Box::new(LogicalType::Float64))
        );
        let e = f(DataType::Null).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedType);
        let e = f(DataType::Struct(
            vec![Field::new("x", DataType::Int8, true)].into(),
        ))
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedType);
        assert!(e.message.contains("\"c\""));
        // A stale sqlarrow.type tag that does not fit the Arrow type is ignored.
        let stale = Field::new("c", DataType::Int32, true)
            .with_metadata(HashMap::from([(TYPE_KEY.into(), "STRING(3)".into())]));
        assert_eq!(LogicalType::from_field(&stale).unwrap(), LogicalType::Int32);
    }
}
