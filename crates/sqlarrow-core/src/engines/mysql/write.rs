//! Bulk writes to MySQL/MariaDB.
//!
//! Plain appends (`append`/`create`/`replace` without `on_error="skip"`) outside a
//! caller's transaction go straight into the target on MariaDB, as binary parameter
//! arrays on a connection of their own ([`super::bulk`]). Everything else, and every
//! write on MySQL, takes the paths below.
//!
//! The input is first loaded into a temporary staging table whose columns mirror the
//! input's Arrow types (all nullable, plus an input-ordinal primary key):
//!
//! * fast path: `LOAD DATA LOCAL INFILE` fed from a Rust stream (tab-separated text
//!   encoded straight from the Arrow arrays on a blocking thread; binary values travel
//!   as hex and are `UNHEX`ed by the server);
//! * fallback, when the server forbids local infile (`local_infile=OFF`, error 1148,
//!   3948, 4166): multi-row prepared `INSERT`s. The fallback is reported in
//!   [`WriteResult::warnings`].
//!
//! The target is then changed by one statement in one transaction (`INSERT ... SELECT`
//! for append/create, `DELETE` + `INSERT ... SELECT` for replace, `INSERT ... SELECT ...
//! ON DUPLICATE KEY UPDATE` for upsert, `UPDATE ... JOIN` for update). Loading into a
//! stage first matters: `LOAD DATA LOCAL` turns duplicate-key and conversion errors into
//! warnings, while `INSERT ... SELECT` in strict mode raises them, so constraint
//! violations roll the whole write back. Duplicate keys in the input: the last row wins.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchReader};
use arrow_schema::{DataType, Field, TimeUnit};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value as MyValue};

use super::{map_err, MySqlConnector};
use crate::cancel::CancelSlot;
use crate::error::{Error, ErrorKind, Result};
use crate::schema::ddl::column_def;
use crate::schema::{Column, DdlOptions, Dialect};
use crate::value::civil;
use crate::write::{
    cast_strict, mapped_names, next_batch, FailedRows, TableRef, WriteMode, WriteOptions,
    WriteResult,
};

const CHUNK_BYTES: usize = 1 << 20;
const ORD: &str = "_sqlarrow_ord";

/// Backtick-quote an identifier.
pub fn mq(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

fn quoted_table(t: &TableRef) -> String {
    match &t.schema {
        Some(s) => format!("{}.{}", mq(s), mq(&t.name)),
        None => mq(&t.name),
    }
}

pub(super) type Reader = Box<dyn RecordBatchReader + Send>;

/// A target column as `information_schema` describes it.
struct TargetColumn {
    name: String,
    not_null: bool,
    has_default: bool,
    /// For an integer column: whether it is unsigned.
    integer: Option<bool>,
    /// For a `DECIMAL(p,s)` column: its precision and scale.
    decimal: Option<(u8, i8)>,
    /// For a `VARCHAR(n)` or `CHAR(n)` column: `n` (characters).
    char_len: Option<u32>,
    /// A spatial column (`GEOMETRY`, `POINT`, ...).
    geometry: bool,
    /// A `DATE` column.
    date: bool,
    /// A `BINARY`, `VARBINARY` or `BLOB` column.
    binary: bool,
    /// A generated column (`AS (...) VIRTUAL/STORED`): computed, never written.
    generated: bool,
}

/// `n` of a MySQL `COLUMN_TYPE` such as `varchar(20)` or `char(3)`.
fn char_type_len(column_type: &str) -> Option<u32> {
    let rest = column_type
        .strip_prefix("varchar(")
        .or_else(|| column_type.strip_prefix("char("))?;
    rest.split_once(')')?.0.trim().parse().ok()
}

/// `(p, s)` of a MySQL `COLUMN_TYPE` such as `decimal(10,2)` or `decimal(65,30) unsigned`.
fn decimal_type(column_type: &str) -> Option<(u8, i8)> {
    let rest = column_type.strip_prefix("decimal(")?;
    let inner = rest.split_once(')')?.0;
    let (p, s) = inner.split_once(',').unwrap_or((inner, "0"));
    let (p, s) = (p.trim().parse::<u8>().ok()?, s.trim().parse::<i8>().ok()?);
    ((1..=65).contains(&p) && (0..=30).contains(&s) && i16::from(s) <= i16::from(p))
        .then_some((p, s))
}

async fn target_columns(conn: &mut Conn, t: &TableRef) -> Result<Option<Vec<TargetColumn>>> {
    type Row = (String, String, Option<String>, String, String);
    let rows: Vec<Row> = conn
        .exec(
            "SELECT CAST(COLUMN_NAME AS CHAR), CAST(IS_NULLABLE AS CHAR), \
                    CAST(COLUMN_DEFAULT AS CHAR), CAST(EXTRA AS CHAR), \
                    CAST(COLUMN_TYPE AS CHAR) \
             FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? \
             ORDER BY ORDINAL_POSITION",
            (t.schema.clone(), t.name.clone()),
        )
        .await
        .map_err(map_err)?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        rows.into_iter()
            .map(|(name, nullable, default, extra, column_type)| {
                let extra = extra.to_ascii_lowercase();
                let ty = column_type.to_ascii_lowercase();
                let base = ty.split(['(', ' ']).next().unwrap_or("");
                let integer = matches!(
                    base,
                    "tinyint" | "smallint" | "mediumint" | "int" | "bigint"
                )
                .then(|| ty.contains("unsigned"));
                let decimal = decimal_type(&ty);
                let char_len = char_type_len(&ty);
                let geometry = matches!(
                    base,
                    "geometry"
                        | "point"
                        | "linestring"
                        | "polygon"
                        | "multipoint"
                        | "multilinestring"
                        | "multipolygon"
                        | "geometrycollection"
                        | "geomcollection"
                );
                TargetColumn {
                    name,
                    not_null: nullable == "NO",
                    has_default: default.is_some()
                        || extra.contains("auto_increment")
                        || extra.contains("generated"),
                    integer,
                    decimal,
                    char_len,
                    geometry,
                    date: base == "date",
                    binary: matches!(
                        base,
                        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
                    ),
                    // MySQL 8 marks expression defaults DEFAULT_GENERATED: not these.
                    generated: [
                        "virtual generated",
                        "stored generated",
                        "persistent generated",
                    ]
                    .iter()
                    .any(|g| extra.contains(g)),
                }
            })
            .collect(),
    ))
}

/// Whether `t` has a unique index (or primary key) on exactly the `key` columns.
async fn has_unique_index(conn: &mut Conn, t: &TableRef, key: &[String]) -> Result<bool> {
    let rows: Vec<(String, String)> = conn
        .exec(
            "SELECT CAST(INDEX_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR) \
             FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND NON_UNIQUE = 0",
            (t.schema.clone(), t.name.clone()),
        )
        .await
        .map_err(map_err)?;
    let mut idx: HashMap<String, Vec<String>> = HashMap::new();
    for (i, c) in rows {
        idx.entry(i).or_default().push(c);
    }
    let mut want: Vec<&String> = key.iter().collect();
    want.sort();
    Ok(idx.values().any(|cols| {
        let mut c: Vec<&String> = cols.iter().collect();
        c.sort();
        c == want
    }))
}

/// The MySQL type of a column made for Arrow field `f` (the canonical schema's DDL).
/// Key columns get an indexable type (`VARCHAR(255)`/`VARBINARY(255)` for text/bytes).
fn column_ddl(f: &Field, name: &str, nullable: bool, is_key: bool) -> Result<String> {
    // A duration column is created as TIME(6), the type it is written as; a column of
    // Arrow's Null type (every value NULL, e.g. polars' `Null`) as text, as on
    // PostgreSQL and SQLite.
    let remapped;
    let f = match f.data_type() {
        DataType::Duration(_) => {
            remapped = Field::new(
                f.name(),
                DataType::Time64(TimeUnit::Microsecond),
                f.is_nullable(),
            );
            &remapped
        }
        DataType::Null => {
            remapped = Field::new(f.name(), DataType::Utf8, true);
            &remapped
        }
        _ => f,
    };
    let mut c = Column::from_field(f)?;
    c.name = name.to_string();
    c.nullable = nullable;
    let opts = DdlOptions {
        widen_unsigned: true,
        text_fallback: true,
    };
    let mut def = column_def(Dialect::Mysql, &c, opts)?;
    if is_key {
        def = def
            .replace(" LONGTEXT", " VARCHAR(255)")
            .replace(" LONGBLOB", " VARBINARY(255)");
    }
    Ok(def)
}

/// How one input column is encoded (after normalization).
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Null,
    Bool,
    I64,
    U64,
    F32,
    F64,
    D128(i8),
    D256(i8),
    Text,
    Bin,
    Uuid,
    Date,
    Time,
    /// A duration, written as a TIME (which spans ±838:59:59).
    Dur,
    Ts,
}

fn normalize_type(f: &Field) -> Result<(DataType, Kind)> {
    let is_uuid = f
        .metadata()
        .get(crate::types::EXTENSION_NAME_KEY)
        .map(|s| s.as_str())
        == Some(crate::types::UUID_EXTENSION);
    Ok(match f.data_type() {
        DataType::Null => (DataType::Null, Kind::Null),
        DataType::Boolean => (DataType::Boolean, Kind::Bool),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            (DataType::Int64, Kind::I64)
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            (DataType::UInt64, Kind::U64)
        }
        DataType::Float16 | DataType::Float32 => (DataType::Float32, Kind::F32),
        DataType::Float64 => (DataType::Float64, Kind::F64),
        DataType::Decimal128(_, s) => (f.data_type().clone(), Kind::D128(*s)),
        DataType::Decimal256(_, s) => (f.data_type().clone(), Kind::D256(*s)),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..) => {
            (DataType::Utf8, Kind::Text)
        }
        DataType::FixedSizeBinary(16) if is_uuid => (DataType::FixedSizeBinary(16), Kind::Uuid),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => (DataType::Binary, Kind::Bin),
        DataType::Date32 | DataType::Date64 => (DataType::Date32, Kind::Date),
        DataType::Time32(_) | DataType::Time64(_) => {
            (DataType::Time64(TimeUnit::Microsecond), Kind::Time)
        }
        DataType::Duration(_) => (DataType::Duration(TimeUnit::Microsecond), Kind::Dur),
        DataType::Timestamp(_, tz) => (
            DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
            Kind::Ts,
        ),
        other => {
            return Err(Error::unsupported_write_type(
                f.name(),
                &other.to_string(),
                "MySQL",
                "cast it first",
            ))
        }
    })
}

pub(super) fn decimal_text(v: String, scale: i8) -> String {
    if scale <= 0 {
        return format!("{v}{}", "0".repeat((-scale) as usize));
    }
    let (neg, d) = match v.strip_prefix('-') {
        Some(r) => (true, r.to_string()),
        None => (false, v),
    };
    let s = scale as usize;
    let padded = if d.len() <= s {
        format!("{}{d}", "0".repeat(s - d.len() + 1))
    } else {
        d
    };
    let (a, b) = padded.split_at(padded.len() - s);
    format!("{}{a}.{b}", if neg { "-" } else { "" })
}

/// The largest magnitude of a MySQL TIME, 838:59:59, in microseconds.
const MAX_TIME_US: i64 = (838 * 3600 + 59 * 60 + 59) * 1_000_000;

/// `us` when a MySQL TIME holds it, else a `DataError`.
pub(super) fn check_time_range(us: i64) -> Result<i64> {
    if us.unsigned_abs() > MAX_TIME_US as u64 {
        return Err(Error::data(format!(
            "the duration {} is outside MySQL's TIME range (-838:59:59 to 838:59:59)",
            super::decode::format_time_us(us)
        )));
    }
    Ok(us)
}

fn ts_text(us: i64) -> String {
    let days = us.div_euclid(86_400_000_000);
    let rem = us.rem_euclid(86_400_000_000);
    format!(
        "{} {}",
        civil::format_date(days),
        super::decode::format_time_us(rem)
    )
}

fn uuid_text(b: &[u8]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// One cell: NULL, text, or raw bytes.
enum Cell<'a> {
    Null,
    Text(std::borrow::Cow<'a, str>),
    Bin(&'a [u8]),
}

fn cell<'a>(a: &'a ArrayRef, kind: Kind, i: usize) -> Result<Cell<'a>> {
    use std::borrow::Cow;
    if kind == Kind::Null || a.is_null(i) {
        return Ok(Cell::Null);
    }
    Ok(match kind {
        Kind::Null => Cell::Null,
        Kind::Bool => Cell::Text(Cow::Borrowed(if a.as_boolean().value(i) {
            "1"
        } else {
            "0"
        })),
        Kind::I64 => Cell::Text(Cow::Owned(
            a.as_primitive::<Int64Type>().value(i).to_string(),
        )),
        Kind::U64 => Cell::Text(Cow::Owned(
            a.as_primitive::<UInt64Type>().value(i).to_string(),
        )),
        Kind::F32 => {
            let v = a.as_primitive::<Float32Type>().value(i);
            if !v.is_finite() {
                return Err(Error::data(format!("MySQL cannot store the float {v}")));
            }
            Cell::Text(Cow::Owned(format!("{v:e}")))
        }
        Kind::F64 => {
            let v = a.as_primitive::<Float64Type>().value(i);
            if !v.is_finite() {
                return Err(Error::data(format!("MySQL cannot store the float {v}")));
            }
            Cell::Text(Cow::Owned(format!("{v:e}")))
        }
        Kind::D128(s) => Cell::Text(Cow::Owned(decimal_text(
            a.as_primitive::<Decimal128Type>().value(i).to_string(),
            s,
        ))),
        Kind::D256(s) => Cell::Text(Cow::Owned(decimal_text(
            a.as_primitive::<Decimal256Type>().value(i).to_string(),
            s,
        ))),
        Kind::Text => Cell::Text(Cow::Borrowed(a.as_string::<i32>().value(i))),
        Kind::Bin => Cell::Bin(a.as_binary::<i32>().value(i)),
        Kind::Uuid => Cell::Text(Cow::Owned(uuid_text(a.as_fixed_size_binary().value(i)))),
        Kind::Date => Cell::Text(Cow::Owned(civil::format_date(
            a.as_primitive::<Date32Type>().value(i) as i64,
        ))),
        Kind::Time => Cell::Text(Cow::Owned(super::decode::format_time_us(
            a.as_primitive::<Time64MicrosecondType>().value(i),
        ))),
        Kind::Dur => Cell::Text(Cow::Owned(super::decode::format_time_us(check_time_range(
            a.as_primitive::<DurationMicrosecondType>().value(i),
        )?))),
        Kind::Ts => Cell::Text(Cow::Owned(ts_text(
            a.as_primitive::<TimestampMicrosecondType>().value(i),
        ))),
    })
}

/// The Arrow type and encoding of a `DECIMAL(p,s)` column's values.
fn decimal_at(p: u8, s: i8) -> (DataType, Kind) {
    if p <= 38 {
        (DataType::Decimal128(p, s), Kind::D128(s))
    } else {
        (DataType::Decimal256(p, s), Kind::D256(s))
    }
}

/// The input's columns prepared for encoding.
#[derive(Clone)]
pub(super) struct Plan {
    pub(super) names: Vec<String>,
    types: Vec<DataType>,
    pub(super) kinds: Vec<Kind>,
    /// Binary columns bound for spatial columns: WKB (or EWKB) values are sent in
    /// MySQL's own geometry format (see [`mysql_geometry`]), which every write path
    /// can carry as plain bytes; the server refuses bare WKB there.
    geometry: Vec<bool>,
}

impl Plan {
    /// This plan with floats and fractional decimals bound for integer columns as
    /// integers, so that a fraction is refused here: MySQL rounds 1.5 into an INT to
    /// 2 without a warning. Likewise floats and decimals of a larger scale bound for
    /// `DECIMAL(p,s)` columns are cast at the column's scale here, so that digits it
    /// would drop are refused with the input row (float noise such as
    /// 0.30000000000000004 for two places is not a dropped digit), where the server
    /// would round them with a warning. Timestamps bound for `DATE` columns are cast
    /// to dates, so that a time of day is refused; UUIDs bound for binary columns are
    /// sent as their 16 bytes. Binary values bound for spatial columns are
    /// sent in MySQL's geometry format; text for them is refused (the server takes no
    /// WKT there). `None`: no column changes.
    fn for_target(&self, target: &[TargetColumn]) -> Result<Option<Plan>> {
        let mut out: Option<Plan> = None;
        for (i, n) in self.names.iter().enumerate() {
            let Some(t) = target.iter().find(|c| &c.name == n) else {
                continue;
            };
            if t.geometry && self.kinds[i] == Kind::Bin {
                let p = out.get_or_insert_with(|| self.clone());
                p.geometry[i] = true;
                continue;
            }
            if t.geometry && self.kinds[i] != Kind::Null {
                return Err(Error::new(
                    ErrorKind::UnsupportedType,
                    format!(
                        "column \"{n}\" is a spatial column, which takes WKB: write it as \
                         binary WKB or EWKB (geoarrow.wkb; shapely.to_wkb, or \
                         GeoDataFrame.to_arrow() gives it), not {}",
                        self.types[i]
                    ),
                )
                .with_detail("column", n.clone())
                .with_detail("type_name", self.types[i].to_string()));
            }
            let to = match (t.integer, t.decimal, self.kinds[i]) {
                (Some(unsigned), _, Kind::F32 | Kind::F64)
                | (Some(unsigned), _, Kind::D128(1..) | Kind::D256(1..)) => {
                    if unsigned {
                        (DataType::UInt64, Kind::U64)
                    } else {
                        (DataType::Int64, Kind::I64)
                    }
                }
                (None, Some((p, s)), Kind::F32 | Kind::F64) => decimal_at(p, s),
                (None, Some((p, s)), Kind::D128(is) | Kind::D256(is)) if is > s => decimal_at(p, s),
                // A timestamp into a DATE: as a date here, so that a time of day is
                // refused with the input row (the server cut it with a warning).
                (_, _, Kind::Ts) if t.date => (DataType::Date32, Kind::Date),
                // A UUID into a binary column (the usual BINARY(16)): its 16 bytes, not
                // its 36-character text, which did not fit.
                (_, _, Kind::Uuid) if t.binary => (DataType::Binary, Kind::Bin),
                _ => continue,
            };
            let p = out.get_or_insert_with(|| self.clone());
            (p.types[i], p.kinds[i]) = to;
        }
        Ok(out)
    }

    pub(super) fn prepare(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        batch
            .columns()
            .iter()
            .zip(&self.types)
            .zip(&self.names)
            .zip(&self.geometry)
            .map(|(((a, t), n), &geometry)| {
                let a = match a.data_type() {
                    DataType::Dictionary(..) => arrow_cast::cast(a, &DataType::Utf8)
                        .map_err(|e| Error::data(format!("column \"{n}\": {e}")))?,
                    _ => a.clone(),
                };
                let a = cast_strict(&a, t, n)?;
                if !geometry {
                    return Ok(a);
                }
                let wkb = a.as_binary::<i32>();
                let mut out = arrow_array::builder::BinaryBuilder::with_capacity(
                    wkb.len(),
                    wkb.values().len() + 4 * wkb.len(),
                );
                for (i, v) in wkb.iter().enumerate() {
                    match v {
                        None => out.append_null(),
                        Some(v) => out.append_value(mysql_geometry(v).map_err(|e| {
                            Error::data(format!("column \"{n}\" (input row {i}): {}", e.message))
                                .with_detail("column", n.clone())
                                .with_detail(crate::write::BATCH_ROW, i.to_string())
                        })?),
                    }
                }
                Ok(Arc::new(out.finish()) as ArrayRef)
            })
            .collect()
    }
}

/// Append one field in LOAD DATA's escaped tab-separated format.
fn put_text(buf: &mut BytesMut, v: &[u8]) {
    let mut start = 0;
    for (k, b) in v.iter().enumerate() {
        let esc: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            0 => b"\\0",
            _ => continue,
        };
        buf.put_slice(&v[start..k]);
        buf.put_slice(esc);
        start = k + 1;
    }
    buf.put_slice(&v[start..]);
}

pub(super) const HEX: &[u8; 16] = b"0123456789abcdef";

fn encode_batch(
    plan: &Plan,
    arrays: &[ArrayRef],
    n: usize,
    ord0: u64,
    with_ord: bool,
    buf: &mut BytesMut,
) -> Result<()> {
    for row in 0..n {
        for (k, a) in arrays.iter().enumerate() {
            match cell(a, plan.kinds[k], row).map_err(|e| {
                e.context(format!(
                    "column \"{}\", input row {}",
                    plan.names[k],
                    ord0 + row as u64
                ))
            })? {
                Cell::Null => buf.put_slice(b"\\N"),
                Cell::Text(t) => put_text(buf, t.as_bytes()),
                Cell::Bin(b) => {
                    buf.reserve(b.len() * 2);
                    for x in b {
                        buf.put_u8(HEX[(x >> 4) as usize]);
                        buf.put_u8(HEX[(x & 15) as usize]);
                    }
                }
            }
            buf.put_u8(b'\t');
        }
        if with_ord {
            buf.put_slice((ord0 + row as u64).to_string().as_bytes());
        } else if !arrays.is_empty() {
            // The line ends where the last field's separator was written.
            buf.truncate(buf.len() - 1);
        }
        buf.put_u8(b'\n');
    }
    Ok(())
}

/// Shared state of the LOAD DATA producer.
#[derive(Default)]
struct Produced {
    rows: u64,
    error: Option<Error>,
    started: bool,
}

/// Server errors meaning "LOAD DATA LOCAL is not allowed here".
fn is_local_infile_refused(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(se) if matches!(se.code, 1148 | 3948 | 4166 | 2068))
}

/// Load every input row into `into` (a quoted table name) with LOAD DATA LOCAL INFILE;
/// the input ordinal goes to `ord_into` (the stage's ordinal column), or is not sent
/// at all (`None`: a direct load, where the server would parse it only to discard it;
/// on a narrow table it is a quarter of the bytes). Returns the reader back
/// (untouched) when the server refuses local infile before reading.
/// Send `data` to the infile stream; a buffer grown past twice [`CHUNK_BYTES`] (by one
/// huge row) goes in pieces of [`CHUNK_BYTES`]: as one piece it was larger than the
/// packet limit, and mysql_async refused it as a broken connection. False when the
/// server stopped reading.
fn send_chunks(tx: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>, mut data: Bytes) -> bool {
    while !data.is_empty() {
        let take = if data.len() <= 2 * CHUNK_BYTES {
            data.len()
        } else {
            CHUNK_BYTES
        };
        let piece = data.split_to(take);
        if tx.blocking_send(Ok(piece)).is_err() {
            return false;
        }
    }
    true
}

async fn load_infile(
    conn: &mut Conn,
    into: &str,
    ord_into: Option<&str>,
    plan: &Arc<Plan>,
    reader: Reader,
) -> Result<std::result::Result<u64, (Reader, String)>> {
    let slot: Arc<Mutex<Option<Reader>>> = Arc::new(Mutex::new(Some(reader)));
    let state: Arc<Mutex<Produced>> = Arc::default();
    let (slot2, state2, plan2) = (slot.clone(), state.clone(), plan.clone());
    let with_ord = ord_into.is_some();
    conn.set_infile_handler(async move {
        let reader = slot2.lock().map(|mut g| g.take()).unwrap_or(None);
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
        if let Some(mut reader) = reader {
            if let Ok(mut s) = state2.lock() {
                s.started = true;
            }
            tokio::task::spawn_blocking(move || {
                let res: Result<()> = (|| {
                    let mut ord = 0u64;
                    let mut buf = BytesMut::with_capacity(CHUNK_BYTES + (64 << 10));
                    while let Some(batch) = next_batch(reader.as_mut())? {
                        let arrays = plan2
                            .prepare(&batch)
                            .map_err(|e| crate::write::at_input_row(e, ord))?;
                        // Encode in slices so chunks stay near CHUNK_BYTES.
                        let n = batch.num_rows();
                        let step = 4096;
                        let mut off = 0;
                        while off < n {
                            let len = step.min(n - off);
                            let sliced: Vec<ArrayRef> =
                                arrays.iter().map(|a| a.slice(off, len)).collect();
                            encode_batch(&plan2, &sliced, len, ord, with_ord, &mut buf)?;
                            ord += len as u64;
                            off += len;
                            if buf.len() >= CHUNK_BYTES && !send_chunks(&tx, buf.split().freeze()) {
                                return Err(Error::interface(
                                    "the server stopped reading the data",
                                ));
                            }
                        }
                    }
                    if !buf.is_empty() {
                        let _ = send_chunks(&tx, buf.split().freeze());
                    }
                    if let Ok(mut s) = state2.lock() {
                        s.rows = ord;
                    }
                    Ok(())
                })();
                if let Err(e) = res {
                    // End the data where it stands (whole rows only: a chunk is sent
                    // after complete slices) instead of failing the stream, which
                    // makes mysql_async drop the connection, and with it the caller's
                    // transaction. The caller returns this error and rolls the rows
                    // loaded so far back.
                    if let Ok(mut s) = state2.lock() {
                        s.error = Some(e);
                    }
                }
            });
        }
        let stream =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|x| (x, rx)) },
            );
        Ok(stream.boxed())
    });
    let mut cols: Vec<String> = Vec::new();
    let mut sets: Vec<String> = Vec::new();
    for (k, n) in plan.names.iter().enumerate() {
        if plan.kinds[k] == Kind::Bin {
            cols.push(format!("@v{k}"));
            sets.push(format!("{} = UNHEX(@v{k})", mq(n)));
        } else {
            cols.push(mq(n));
        }
    }
    if let Some(o) = ord_into {
        cols.push(o.to_string());
    }
    let sql = format!(
        "LOAD DATA LOCAL INFILE 'sqlarrow-stream' INTO TABLE {} CHARACTER SET utf8mb4 \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({}){}",
        into,
        cols.join(", "),
        if sets.is_empty() {
            String::new()
        } else {
            format!(" SET {}", sets.join(", "))
        }
    );
    let res = conn.query_drop(&sql).await;
    let produced_err = state.lock().ok().and_then(|mut s| s.error.take());
    if let Some(e) = produced_err {
        return Err(e);
    }
    match res {
        Ok(()) => {}
        Err(e) if is_local_infile_refused(&e) => {
            let back = slot.lock().ok().and_then(|mut g| g.take());
            return match back {
                Some(r) => Ok(Err((r, format!("{}", map_err(e))))),
                None => Err(map_err(e)),
            };
        }
        Err(e) => return Err(map_err(e)),
    }
    if conn.get_warnings() > 0 {
        let w: Option<(String, u32, String)> = conn
            .query_first("SHOW WARNINGS LIMIT 1")
            .await
            .map_err(map_err)?;
        if let Some((_, code, msg)) = w {
            // With LOCAL the server downgrades errors to warnings and goes on (skipping
            // duplicate rows, defaulting NULLs): any warning fails the whole write.
            return Err(warning_error(&code.to_string(), &msg));
        }
    }
    let rows = state.lock().map(|s| s.rows).unwrap_or(0);
    Ok(Ok(rows))
}

/// The constraint a server message (or a set-aside reason quoting one) names, if any.
fn constraint_kind(msg: &str) -> Option<ErrorKind> {
    Some(if msg.starts_with("Duplicate entry") {
        ErrorKind::UniqueViolation
    } else if msg.contains("NULL supplied to NOT NULL") || msg.contains("cannot be null") {
        ErrorKind::NotNullViolation
    } else if msg.contains("foreign key") {
        ErrorKind::ForeignKeyViolation
    } else if msg.contains("CONSTRAINT") {
        ErrorKind::CheckViolation
    } else {
        return None;
    })
}

/// The typed error for a warning the server gave while loading (a load fails on any
/// warning: the server would otherwise have skipped, truncated or defaulted a value).
pub(super) fn warning_error(code: &str, msg: &str) -> Error {
    Error::new(
        constraint_kind(msg).unwrap_or(ErrorKind::Data),
        format!("loading the data into MySQL reported a problem (warning {code}): {msg}"),
    )
    .transient(false)
}

/// Fallback: multi-row prepared INSERTs into the stage.
async fn load_inserts(
    conn: &mut Conn,
    stage: &str,
    plan: &Plan,
    mut reader: Reader,
) -> Result<u64> {
    let width = plan.names.len() + 1;
    let per = (60_000 / width).clamp(1, 1000);
    let mut cols: Vec<String> = plan.names.iter().map(|n| mq(n)).collect();
    cols.push(mq(ORD));
    let one = format!("({})", vec!["?"; width].join(", "));
    let sql_for = |rows: usize| {
        format!(
            "INSERT INTO {} ({}) VALUES {}",
            mq(stage),
            cols.join(", "),
            vec![one.as_str(); rows].join(", ")
        )
    };
    let full = conn.prep(sql_for(per)).await.map_err(map_err)?;
    let mut ord = 0u64;
    let mut pending: Vec<MyValue> = Vec::with_capacity(per * width);
    let mut pending_rows = 0usize;
    while let Some(batch) = next_batch(reader.as_mut())? {
        let arrays = plan
            .prepare(&batch)
            .map_err(|e| crate::write::at_input_row(e, ord))?;
        for row in 0..batch.num_rows() {
            for (k, a) in arrays.iter().enumerate() {
                let v = match cell(a, plan.kinds[k], row).map_err(|e| {
                    e.context(format!("column \"{}\", input row {ord}", plan.names[k]))
                })? {
                    Cell::Null => MyValue::NULL,
                    Cell::Text(t) => MyValue::Bytes(t.into_owned().into_bytes()),
                    Cell::Bin(b) => MyValue::Bytes(b.to_vec()),
                };
                pending.push(v);
            }
            pending.push(MyValue::UInt(ord));
            ord += 1;
            pending_rows += 1;
            if pending_rows == per {
                conn.exec_drop(&full, std::mem::take(&mut pending))
                    .await
                    .map_err(map_err)?;
                pending_rows = 0;
            }
        }
    }
    if pending_rows > 0 {
        conn.exec_drop(sql_for(pending_rows), pending)
            .await
            .map_err(map_err)?;
    }
    Ok(ord)
}

async fn count(conn: &mut Conn, table: &str) -> Result<u64> {
    let n: Option<u64> = conn
        .query_first(format!("SELECT COUNT(*) FROM {table}"))
        .await
        .map_err(map_err)?;
    Ok(n.unwrap_or(0))
}

/// The column names and Arrow → MySQL encodings of a write's input.
pub(super) fn plan_for(schema: &arrow_schema::SchemaRef, opts: &WriteOptions) -> Result<Arc<Plan>> {
    let names = mapped_names(schema, &opts.column_map)?;
    let mut kinds = Vec::new();
    let mut types = Vec::new();
    for f in schema.fields() {
        let (t, k) = normalize_type(f)?;
        types.push(t);
        kinds.push(k);
    }
    Ok(Arc::new(Plan {
        geometry: vec![false; names.len()],
        names,
        types,
        kinds,
    }))
}

/// A WKB value (or EWKB, as PostGIS and sqlarrow's own MySQL reads give when the SRID
/// is not 0) in the format MySQL stores geometries in: the SRID as a little-endian
/// u32, then the WKB without an SRID. Only 2D types 1–7 exist in MySQL.
fn mysql_geometry(v: &[u8]) -> Result<Vec<u8>> {
    const SRID_FLAG: u32 = 0x2000_0000;
    let &[order, a, b, c, d, ..] = v else {
        return Err(Error::data("a WKB value shorter than its 5-byte header"));
    };
    let little = match order {
        1 => true,
        0 => false,
        _ => {
            return Err(Error::data(format!(
                "a WKB value with the unknown byte order {order} (not WKB?)"
            )))
        }
    };
    let ty = if little {
        u32::from_le_bytes([a, b, c, d])
    } else {
        u32::from_be_bytes([a, b, c, d])
    };
    let (srid, body) = if ty & SRID_FLAG != 0 {
        let Some(s) = v.get(5..9) else {
            return Err(Error::data("an EWKB value cut short in its SRID"));
        };
        let s = [s[0], s[1], s[2], s[3]];
        let srid = if little {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        };
        (srid, &v[9..])
    } else {
        (0, &v[5..])
    };
    let base = ty & !SRID_FLAG;
    if !(1..=7).contains(&base) {
        return Err(Error::data(format!(
            "WKB geometry type {base} cannot be stored: MySQL has 2D points, lines, \
             polygons, their multi forms and collections only (no Z or M coordinates)"
        )));
    }
    let mut out = Vec::with_capacity(body.len() + 9);
    out.extend_from_slice(&srid.to_le_bytes());
    out.push(order);
    out.extend_from_slice(&if little {
        base.to_le_bytes()
    } else {
        base.to_be_bytes()
    });
    out.extend_from_slice(body);
    Ok(out)
}

/// A session-unique name for a write's temporary stage table.
fn stage_name() -> String {
    format!(
        "_sqlarrow_stage_{}",
        STAGE_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Undoing a write: on its own (`[0]`) or inside the caller's transaction (`[1]`).
const ROLLBACK_WRITE: [&str; 2] = ["ROLLBACK", "ROLLBACK TO SAVEPOINT _sqlarrow_write"];

/// Open the write's unit of work: a transaction, or a savepoint in the caller's.
async fn begin_write(conn: &mut Conn, in_tx: bool) -> Result<()> {
    let sql = if in_tx {
        "SAVEPOINT _sqlarrow_write"
    } else {
        "START TRANSACTION"
    };
    conn.query_drop(sql).await.map_err(map_err)
}

/// Close the write's unit of work. A failed COMMIT of its own transaction leaves the
/// outcome unknown, and says so.
async fn end_write(conn: &mut Conn, in_tx: bool) -> Result<()> {
    if in_tx {
        conn.query_drop("RELEASE SAVEPOINT _sqlarrow_write")
            .await
            .map_err(map_err)
    } else {
        conn.query_drop("COMMIT")
            .await
            .map_err(|e| map_err(e).commit_in_doubt())
    }
}

impl MySqlConnector {
    /// Write every batch of `reader` into `table`.
    pub async fn write(
        &self,
        table: &TableRef,
        reader: Reader,
        opts: &WriteOptions,
        cancel: &CancelSlot,
    ) -> Result<WriteResult> {
        crate::write::check_key(opts)?;
        let start = std::time::Instant::now();
        let schema = reader.schema();
        let plan = plan_for(&schema, opts)?;
        crate::write::check_name_lengths(crate::schema::Dialect::Mysql, table, &plan.names)?;
        let mut conn = self.checkout(cancel).await?;
        let stage = stage_name();
        let mut created = false;
        let res = self
            .write_on(
                &mut conn,
                table,
                reader,
                opts,
                &plan,
                &schema,
                &stage,
                &mut created,
                Some(cancel),
            )
            .await;
        if res.is_err() && !conn.is_disconnected() {
            let _ = conn.query_drop(ROLLBACK_WRITE[0]).await;
            let _ = conn
                .query_drop(format!("DROP TEMPORARY TABLE IF EXISTS {}", mq(&stage)))
                .await;
            if created {
                // DDL commits implicitly in MySQL: undo the table this write created.
                let _ = conn
                    .query_drop(format!("DROP TABLE IF EXISTS {}", quoted_table(table)))
                    .await;
            }
        }
        let mut res = res;
        if let Ok(r) = &mut res {
            r.elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
        }
        self.finish(conn, &res, false, cancel).await;
        res
    }

    /// A write inside the caller's open transaction (on its pinned connection).
    pub(crate) async fn write_in_tx(
        &self,
        conn: &mut Conn,
        table: &TableRef,
        reader: Reader,
        opts: &WriteOptions,
    ) -> Result<WriteResult> {
        crate::write::check_key(opts)?;
        let start = std::time::Instant::now();
        let schema = reader.schema();
        let plan = plan_for(&schema, opts)?;
        crate::write::check_name_lengths(crate::schema::Dialect::Mysql, table, &plan.names)?;
        let stage = stage_name();
        let mut created = false;
        let res = self
            .write_on(
                conn,
                table,
                reader,
                opts,
                &plan,
                &schema,
                &stage,
                &mut created,
                None,
            )
            .await;
        if res.is_err() && !conn.is_disconnected() {
            let _ = conn.query_drop(ROLLBACK_WRITE[1]).await;
            let _ = conn
                .query_drop(format!("DROP TEMPORARY TABLE IF EXISTS {}", mq(&stage)))
                .await;
        }
        res.map(|mut r| {
            r.elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
            r
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_on(
        &self,
        conn: &mut Conn,
        table: &TableRef,
        reader: Reader,
        opts: &WriteOptions,
        plan: &Arc<Plan>,
        schema: &arrow_schema::Schema,
        stage: &str,
        created: &mut bool,
        own_tx: Option<&CancelSlot>,
    ) -> Result<WriteResult> {
        // `own_tx`: the write is its own transaction (not inside the caller's), and may
        // then run on a connection of its own (the bulk path), cancelled through this.
        let in_tx = own_tx.is_none();
        let qt = quoted_table(table);
        let existing = target_columns(conn, table).await?;
        // MySQL column names are case-insensitive: `id` writes to a column `ID`.
        let (folded, folded_plan) = match &existing {
            Some(t) => {
                let cols: Vec<&str> = t.iter().map(|c| c.name.as_str()).collect();
                let schema_ref = Arc::new(schema.clone());
                match crate::write::fold_name_case(&schema_ref, opts, &cols)? {
                    Some(o) => {
                        let p = plan_for(&schema_ref, &o)?;
                        (Some(o), Some(p))
                    }
                    None => (None, None),
                }
            }
            // A table to create: `key` names input columns, ignoring case too.
            None => {
                let cols: Vec<&str> = plan.names.iter().map(|n| n.as_str()).collect();
                let schema_ref = Arc::new(schema.clone());
                (
                    crate::write::fold_name_case(&schema_ref, opts, &cols)?,
                    None,
                )
            }
        };
        let opts = folded.as_ref().unwrap_or(opts);
        let plan = folded_plan.as_ref().unwrap_or(plan);
        let names = &plan.names;
        let target = match (existing, opts.mode) {
            (Some(_), WriteMode::Create) => {
                return Err(Error::new(
                    ErrorKind::Query,
                    format!("table {qt} already exists (mode=\"create\")"),
                ))
            }
            (None, m) if m == WriteMode::Create || opts.create_if_missing => {
                if in_tx {
                    return Err(Error::config(format!(
                        "table {qt} does not exist, and creating it inside a transaction would \
                         commit the transaction (MySQL DDL commits implicitly); create it first"
                    )));
                }
                let mut cols = Vec::new();
                for (f, n) in schema.fields().iter().zip(names) {
                    let is_key = opts.mode.is_keyed() && opts.key.contains(n);
                    cols.push(column_ddl(f, n, f.is_nullable() && !is_key, is_key)?);
                }
                if opts.mode.is_keyed() {
                    for k in &opts.key {
                        if !names.contains(k) {
                            return Err(Error::config(format!(
                                "key column {k:?} is not in the input (after column_map)"
                            )));
                        }
                    }
                    let k: Vec<String> = opts.key.iter().map(|k| mq(k)).collect();
                    cols.push(format!("PRIMARY KEY ({})", k.join(", ")));
                }
                conn.query_drop(format!("CREATE TABLE {qt} ({})", cols.join(", ")))
                    .await
                    .map_err(map_err)?;
                *created = true;
                target_columns(conn, table)
                    .await?
                    .ok_or_else(|| Error::interface("the new table is not visible"))?
            }
            (None, _) => {
                return Err(Error::new(
                    ErrorKind::UndefinedObject,
                    format!("table {qt} does not exist (create_if_missing=False)"),
                ))
            }
            (Some(t), _) => t,
        };
        for n in names {
            if target.iter().any(|c| &c.name == n && c.generated) {
                // LOAD DATA dropped the value without a word; INSERTs failed mid-write.
                return Err(Error::config(format!(
                    "column \"{n}\" is a generated column (the server computes it): leave it \
                     out of the input"
                ))
                .with_detail("column", n.clone()));
            }
            if !target.iter().any(|c| &c.name == n) {
                return Err(crate::write::unknown_input_column(
                    n,
                    &target.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
                    opts.mode,
                    "",
                ));
            }
        }
        for t in &target {
            if opts.mode != WriteMode::Update
                && t.not_null
                && !t.has_default
                && !names.contains(&t.name)
            {
                return Err(Error::config(format!(
                    "the table's NOT NULL column {:?} (no default) is missing from the input",
                    t.name
                ))
                .with_detail("column", t.name.clone()));
            }
        }
        if opts.mode.is_keyed() {
            for k in &opts.key {
                if !names.contains(k) {
                    return Err(Error::config(format!(
                        "key column {k:?} is not in the input (after column_map)"
                    ))
                    .with_detail("column", k.clone()));
                }
            }
            if opts.mode == WriteMode::Upsert && !has_unique_index(conn, table, &opts.key).await? {
                return Err(Error::config(format!(
                    "upsert into {qt} needs a PRIMARY KEY or UNIQUE index on exactly ({}): \
                     MySQL's ON DUPLICATE KEY UPDATE matches rows through unique indexes; \
                     create one or use mode=\"update\"",
                    opts.key.join(", ")
                )));
            }
        }
        let adjusted = plan.for_target(&target)?.map(Arc::new);
        let plan = adjusted.as_ref().unwrap_or(plan);
        let mut reader = reader;
        let plain = !opts.skip_errors
            && matches!(
                opts.mode,
                WriteMode::Append | WriteMode::Create | WriteMode::Replace
            );
        if let (Some(cancel), true) = (own_tx, plain) {
            // MariaDB: binary parameter arrays, on a connection of the fast reader's.
            match self
                .bulk_append(&qt, plan, reader, opts.mode, cancel)
                .await?
            {
                Ok(rows) => {
                    return Ok(WriteResult {
                        rows_written: rows,
                        ..Default::default()
                    })
                }
                Err(back) => reader = back,
            }
        }
        let local: Option<i64> = conn
            .query_first("SELECT @@local_infile")
            .await
            .map_err(map_err)?;
        let local = local.unwrap_or(0) == 1;
        let mut warnings = Vec::new();
        // Plain appends load straight into the target in one transaction: one pass
        // instead of stage + INSERT ... SELECT. LOCAL turns constraint errors into
        // warnings (rows skipped or defaulted), so any warning rolls the write back.
        if local && plain {
            begin_write(conn, in_tx).await?;
            if opts.mode == WriteMode::Replace {
                conn.query_drop(format!("DELETE FROM {qt}"))
                    .await
                    .map_err(map_err)?;
            }
            match load_infile(conn, &qt, None, plan, reader).await? {
                Ok(rows) => {
                    end_write(conn, in_tx).await?;
                    return Ok(WriteResult {
                        rows_written: rows,
                        ..Default::default()
                    });
                }
                Err((back, why)) => {
                    conn.query_drop(ROLLBACK_WRITE[usize::from(in_tx)])
                        .await
                        .map_err(map_err)?;
                    warnings.push(format!(
                        "LOAD DATA LOCAL INFILE was refused ({why}); wrote with multi-row INSERTs instead"
                    ));
                    reader = back;
                }
            }
        }
        // The stage: input-typed, all nullable, no constraints but the ordinal.
        let mut cols = Vec::new();
        for (f, n) in schema.fields().iter().zip(names) {
            cols.push(column_ddl(f, n, true, false)?);
        }
        cols.push(format!("{} BIGINT UNSIGNED NOT NULL PRIMARY KEY", mq(ORD)));
        let stage_ddl = cols.clone();
        conn.query_drop(format!(
            "CREATE TEMPORARY TABLE {} ({})",
            mq(stage),
            cols.join(", ")
        ))
        .await
        .map_err(map_err)?;
        let rows = if !warnings.is_empty() {
            // Local infile was refused above: INSERTs straight away.
            load_inserts(conn, stage, plan, reader).await?
        } else if local {
            match load_infile(conn, &mq(stage), Some(&mq(ORD)), plan, reader).await? {
                Ok(n) => n,
                Err((reader, why)) => {
                    warnings.push(format!(
                        "LOAD DATA LOCAL INFILE was refused ({why}); wrote with multi-row INSERTs instead"
                    ));
                    load_inserts(conn, stage, plan, reader).await?
                }
            }
        } else {
            warnings.push(
                "the server has local_infile=OFF; wrote with multi-row INSERTs instead of \
                 LOAD DATA LOCAL INFILE (SET GLOBAL local_infile = 1 enables the fast path)"
                    .to_string(),
            );
            load_inserts(conn, stage, plan, reader).await?
        };

        let st = mq(stage);
        let col_list = names.iter().map(|n| mq(n)).collect::<Vec<_>>().join(", ");
        begin_write(conn, in_tx).await?;
        // Upsert always runs the checks: ON DUPLICATE KEY UPDATE fires on *any* unique
        // index, so a clash on another unique index would silently update a different
        // row. Without skip, such a clash is raised like PostgreSQL does.
        let checked = opts.skip_errors || opts.mode == WriteMode::Upsert;
        let failed = if checked {
            let ctx = SkipCtx {
                table,
                names,
                stage,
                stage_ddl: &stage_ddl,
                target: &target,
                input: schema,
            };
            let (failed, first) = self.set_aside(conn, &ctx, opts).await?;
            if let (false, Some((ord, reason))) = (opts.skip_errors, first) {
                let kind = constraint_kind(&reason).unwrap_or(ErrorKind::CheckViolation);
                return Err(Error::new(kind, reason)
                    .transient(false)
                    .with_detail("row_index", ord.to_string()));
            }
            opts.skip_errors.then_some(failed)
        } else {
            None
        };
        let nfailed = failed.as_ref().map(|f| f.num_rows()).unwrap_or(0);
        // What is left in the stage: the rows to apply.
        let rows = if checked {
            count(conn, &mq(stage)).await?
        } else {
            rows
        };
        let (written, updated) = match opts.mode {
            WriteMode::Append | WriteMode::Create | WriteMode::Replace => {
                if opts.mode == WriteMode::Replace {
                    conn.query_drop(format!("DELETE FROM {qt}"))
                        .await
                        .map_err(map_err)?;
                }
                conn.query_drop(format!(
                    "INSERT INTO {qt} ({col_list}) SELECT {col_list} FROM {st} ORDER BY {}",
                    mq(ORD)
                ))
                .await
                .map_err(map_err)?;
                (conn.affected_rows(), 0)
            }
            WriteMode::Upsert => {
                let non_key: Vec<String> = names
                    .iter()
                    .filter(|n| !opts.key.contains(n))
                    .map(|n| mq(n))
                    .collect();
                // With no non-key column, "update" the key to itself (a no-op; named
                // with the table, since the stage's SELECT has the same column).
                let set = if non_key.is_empty() {
                    let k = format!("{qt}.{}", mq(&opts.key[0]));
                    format!("{k} = {k}")
                } else {
                    non_key
                        .iter()
                        .map(|c| format!("{c} = VALUES({c})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let before = count(conn, &qt).await?;
                // Rows are applied in input order: a later duplicate key overwrites an
                // earlier one (last row wins).
                conn.query_drop(format!(
                    "INSERT INTO {qt} ({col_list}) SELECT {col_list} FROM {st} ORDER BY {} \
                     ON DUPLICATE KEY UPDATE {set}",
                    mq(ORD)
                ))
                .await
                .map_err(map_err)?;
                let after = count(conn, &qt).await?;
                let inserted = after.saturating_sub(before);
                (inserted, rows.saturating_sub(inserted))
            }
            WriteMode::Update => {
                let non_key: Vec<String> = names
                    .iter()
                    .filter(|n| !opts.key.contains(n))
                    .map(|n| mq(n))
                    .collect();
                if non_key.is_empty() {
                    return Err(Error::config(
                        "mode=\"update\" needs at least one input column besides the key",
                    ));
                }
                // Keep the last input row per key: the stage cannot be opened twice in
                // one statement (a MySQL limit on temporary tables), so the winners go
                // into a second temporary table first.
                let keys: Vec<String> = opts.key.iter().map(|k| mq(k)).collect();
                let last = mq(&format!("{stage}_last"));
                conn.query_drop(format!(
                    "CREATE TEMPORARY TABLE {last} (PRIMARY KEY (o)) AS SELECT MAX({}) AS o FROM {st} GROUP BY {}",
                    mq(ORD),
                    keys.join(", ")
                ))
                .await
                .map_err(map_err)?;
                let set = non_key
                    .iter()
                    .map(|c| format!("t.{c} = s.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let on = keys
                    .iter()
                    .map(|k| format!("t.{k} = s.{k}"))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let r = conn
                    .query_drop(format!(
                        "UPDATE {qt} AS t JOIN {st} AS s ON {on} JOIN {last} AS l ON l.o = s.{} SET {set}",
                        mq(ORD)
                    ))
                    .await;
                let n = conn.affected_rows();
                let _ = conn
                    .query_drop(format!("DROP TEMPORARY TABLE IF EXISTS {last}"))
                    .await;
                r.map_err(map_err)?;
                (0, n)
            }
        };
        end_write(conn, in_tx).await?;
        conn.query_drop(format!("DROP TEMPORARY TABLE IF EXISTS {st}"))
            .await
            .map_err(map_err)?;
        Ok(WriteResult {
            rows_written: written,
            rows_updated: updated,
            rows_failed: nfailed,
            failed,
            warnings,
            ..Default::default()
        })
    }

    /// A plain append (or replace) through MariaDB's bulk execution ([`super::bulk`])
    /// on a fast-reader connection, in a transaction of its own. `Ok(Err(reader))`:
    /// this path does not apply (MySQL, the fast reader unavailable, no columns), and
    /// nothing was read from `reader`.
    async fn bulk_append(
        &self,
        qt: &str,
        plan: &Arc<Plan>,
        reader: Reader,
        mode: WriteMode,
        cancel: &CancelSlot,
    ) -> Result<std::result::Result<u64, Reader>> {
        if plan.kinds.is_empty() || self.wire_off.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(Err(reader));
        }
        let mut w = match self.wire.get().await {
            Ok(c) => c,
            Err(e) if super::wire::is_unsupported(&e) => return Ok(Err(reader)),
            Err(e) => return Err(e),
        };
        if !w.can_bulk() {
            return Ok(Err(reader));
        }
        if self.register_kill(cancel, w.id()) {
            return Err(Error::cancelled("cancelled before it started"));
        }
        let cols: Vec<String> = plan.names.iter().map(|n| mq(n)).collect();
        let insert = format!(
            "INSERT INTO {qt} ({}) VALUES ({})",
            cols.join(", "),
            vec!["?"; cols.len()].join(", ")
        );
        let delete = (mode == WriteMode::Replace).then(|| format!("DELETE FROM {qt}"));
        let res =
            super::bulk::append(&mut w, &insert, delete.as_deref(), plan, reader, cancel).await;
        if w.is_dirty() {
            // Stopped mid-exchange: stop the statement on the server, drop the
            // connection (the server rolls its transaction back).
            if !cancel.is_cancelled() {
                self.settings().kill_query(w.id()).await;
            }
            w.mark_broken();
        }
        if cancel.is_cancelled() {
            w.mark_broken();
        }
        w.observe(&res);
        res.map(Ok)
    }

    /// `on_error="skip"`: move the staged rows that would violate the target's NOT NULL,
    /// CHECK (MariaDB's catalog), FOREIGN KEY and UNIQUE/PRIMARY KEY constraints into a
    /// second temporary table with a reason, and return them. Keyed modes first keep
    /// the last staged row per key (superseded rows are not failures).
    async fn set_aside(
        &self,
        conn: &mut Conn,
        ctx: &SkipCtx<'_>,
        opts: &WriteOptions,
    ) -> Result<(FailedRows, Option<(u64, String)>)> {
        let st = mq(ctx.stage);
        let fail = mq(&format!("{}_failed", ctx.stage));
        let ord = mq(ORD);
        let qt = quoted_table(ctx.table);
        let lit = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"));
        let has_all = |cols: &[String]| cols.iter().all(|c| ctx.names.contains(c));
        let col_list = ctx
            .names
            .iter()
            .map(|n| mq(n))
            .collect::<Vec<_>>()
            .join(", ");
        let mut ddl = ctx.stage_ddl.to_vec();
        ddl.push("`_sqlarrow_reason` TEXT NOT NULL".into());
        conn.query_drop(format!(
            "CREATE TEMPORARY TABLE {fail} ({})",
            ddl.join(", ")
        ))
        .await
        .map_err(map_err)?;
        let move_rows = |from_where: &str, reason: &str| {
            [
                format!(
                    "INSERT INTO {fail} ({col_list}, {ord}, `_sqlarrow_reason`) \
                     SELECT {}, s.{ord}, {} {from_where}",
                    ctx.names
                        .iter()
                        .map(|n| format!("s.{}", mq(n)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    lit(reason)
                ),
                format!("DELETE s FROM {st} s JOIN {fail} f ON f.{ord} = s.{ord}"),
            ]
        };
        if opts.mode.is_keyed() {
            // A NULL key matches no row (see `write::refuse_null_keys`), and GROUP BY
            // below would merge such rows into one: set them aside first.
            for k in &opts.key {
                let reason = format!("key column '{k}' is null: a NULL key matches no row");
                for sql in move_rows(&format!("FROM {st} s WHERE s.{} IS NULL", mq(k)), &reason) {
                    conn.query_drop(&sql).await.map_err(map_err)?;
                }
            }
            let last = mq(&format!("{}_last", ctx.stage));
            let keys = opts
                .key
                .iter()
                .map(|k| mq(k))
                .collect::<Vec<_>>()
                .join(", ");
            for sql in [
                format!(
                    "CREATE TEMPORARY TABLE {last} (PRIMARY KEY (o)) AS SELECT MAX({ord}) AS o FROM {st} GROUP BY {keys}"
                ),
                format!("DELETE s FROM {st} s LEFT JOIN {last} l ON l.o = s.{ord} WHERE l.o IS NULL"),
                format!("DROP TEMPORARY TABLE {last}"),
            ] {
                conn.query_drop(sql).await.map_err(map_err)?;
            }
        }
        // Each check moves its rows out of the stage, so a row fails for one reason.
        let mut checks: Vec<(String, String, bool)> = Vec::new(); // (FROM/WHERE, reason, optional)
        for c in ctx.target {
            if c.not_null && ctx.names.contains(&c.name) {
                checks.push((
                    format!("FROM {st} s WHERE s.{} IS NULL", mq(&c.name)),
                    format!("Column '{}' cannot be null", c.name),
                    false,
                ));
            }
        }
        // Text longer than a VARCHAR(n)/CHAR(n) column (trailing spaces beyond n are
        // cut by the server, as for any insert)
        for c in ctx.target {
            if let (Some(n), true) = (c.char_len, ctx.names.contains(&c.name)) {
                checks.push((
                    format!(
                        "FROM {st} s WHERE CHAR_LENGTH(RTRIM(s.{})) > {n}",
                        mq(&c.name)
                    ),
                    format!(
                        "Data too long for column '{}' (at most {n} characters)",
                        c.name
                    ),
                    false,
                ));
            }
        }
        let ck: Vec<(String, String)> = conn
            .exec(
                "SELECT CAST(CONSTRAINT_NAME AS CHAR), CAST(CHECK_CLAUSE AS CHAR) \
                 FROM information_schema.CHECK_CONSTRAINTS \
                 WHERE CONSTRAINT_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?",
                (ctx.table.schema.clone(), ctx.table.name.clone()),
            )
            .await
            .unwrap_or_default();
        for (name, clause) in ck {
            checks.push((
                format!("FROM {st} s WHERE ({clause}) IS FALSE"),
                format!("CHECK CONSTRAINT `{name}` failed for `{}`", ctx.table.name),
                true,
            ));
        }
        let fk: Vec<(String, String, Option<String>, String, String)> = conn
            .exec(
                "SELECT CAST(CONSTRAINT_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
                        CAST(REFERENCED_TABLE_SCHEMA AS CHAR), CAST(REFERENCED_TABLE_NAME AS CHAR), \
                        CAST(REFERENCED_COLUMN_NAME AS CHAR) \
                 FROM information_schema.KEY_COLUMN_USAGE \
                 WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? \
                   AND REFERENCED_TABLE_NAME IS NOT NULL \
                 ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION",
                (ctx.table.schema.clone(), ctx.table.name.clone()),
            )
            .await
            .map_err(map_err)?;
        // (constraint, referenced table, [(column, referenced column)])
        type Fk = (String, String, Vec<(String, String)>);
        let mut fks: Vec<Fk> = Vec::new();
        for (name, col, rs, rt, rc) in fk {
            let reft = match rs {
                Some(s) => format!("{}.{}", mq(&s), mq(&rt)),
                None => mq(&rt),
            };
            match fks.last_mut() {
                Some(last) if last.0 == name => last.2.push((col, rc)),
                _ => fks.push((name, reft, vec![(col, rc)])),
            }
        }
        for (name, reft, pairs) in fks {
            let local: Vec<String> = pairs.iter().map(|p| p.0.clone()).collect();
            if !has_all(&local) {
                continue;
            }
            let nn = pairs
                .iter()
                .map(|p| format!("s.{} IS NOT NULL", mq(&p.0)))
                .collect::<Vec<_>>()
                .join(" AND ");
            let on = pairs
                .iter()
                .map(|p| format!("f.{} = s.{}", mq(&p.1), mq(&p.0)))
                .collect::<Vec<_>>()
                .join(" AND ");
            checks.push((
                format!(
                    "FROM {st} s WHERE {nn} AND NOT EXISTS (SELECT 1 FROM {reft} f WHERE {on})"
                ),
                format!(
                    "Cannot add or update a child row: a foreign key constraint fails (`{name}`)"
                ),
                false,
            ));
        }
        let uq: Vec<(String, String)> = conn
            .exec(
                "SELECT CAST(INDEX_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR) \
                 FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND NON_UNIQUE = 0 \
                 ORDER BY INDEX_NAME, SEQ_IN_INDEX",
                (ctx.table.schema.clone(), ctx.table.name.clone()),
            )
            .await
            .map_err(map_err)?;
        let mut idx: Vec<(String, Vec<String>)> = Vec::new();
        for (i, c) in uq {
            match idx.last_mut() {
                Some(last) if last.0 == i => last.1.push(c),
                _ => idx.push((i, vec![c])),
            }
        }
        let mut sorted_key = opts.key.clone();
        sorted_key.sort();
        let mut dupes: Vec<(Vec<String>, String)> = Vec::new();
        for (name, cols) in idx {
            if !has_all(&cols) {
                continue;
            }
            let mut sc = cols.clone();
            sc.sort();
            if opts.mode.is_keyed() && sc == sorted_key {
                continue;
            }
            let reason = format!("Duplicate entry for unique key '{name}'");
            if opts.mode != WriteMode::Replace {
                let same = cols
                    .iter()
                    .map(|c| format!("e.{c} = s.{c}", c = mq(c)))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let other = if opts.mode.is_keyed() {
                    format!(
                        " AND NOT ({})",
                        opts.key
                            .iter()
                            .map(|k| format!("e.{k} = s.{k}", k = mq(k)))
                            .collect::<Vec<_>>()
                            .join(" AND ")
                    )
                } else {
                    String::new()
                };
                checks.push((
                    format!("FROM {st} s WHERE EXISTS (SELECT 1 FROM {qt} e WHERE {same}{other})"),
                    format!("{reason} (the key exists in the table)"),
                    false,
                ));
            }
            dupes.push((cols, format!("{reason} (repeated within the input)")));
        }
        for (from_where, reason, optional) in checks {
            for sql in move_rows(&from_where, &reason) {
                match conn.query_drop(&sql).await {
                    Ok(()) => {}
                    // A CHECK clause that does not evaluate against the input's columns
                    // is left to the server.
                    Err(_) if optional => break,
                    Err(e) => return Err(map_err(e)),
                }
            }
        }
        for (cols, reason) in dupes {
            let part = cols
                .iter()
                .map(|c| format!("d.{}", mq(c)))
                .collect::<Vec<_>>()
                .join(", ");
            let nn = cols
                .iter()
                .map(|c| format!("d.{} IS NOT NULL", mq(c)))
                .collect::<Vec<_>>()
                .join(" AND ");
            let inner = format!(
                "FROM (SELECT d.*, ROW_NUMBER() OVER (PARTITION BY {part} ORDER BY d.{ord}) AS _rn \
                 FROM {st} d WHERE {nn}) s WHERE s._rn > 1"
            );
            for sql in move_rows(&inner, &reason) {
                conn.query_drop(&sql).await.map_err(map_err)?;
            }
        }
        let mut sink = crate::stream::Sink::collect();
        let mut pending = false;
        self.query_on(
            conn,
            &format!("SELECT {col_list}, `_sqlarrow_reason`, {ord} FROM {fail} ORDER BY {ord}"),
            &crate::value::Params::default(),
            65_536,
            &mut sink,
            &mut pending,
        )
        .await?;
        conn.query_drop(format!("DROP TEMPORARY TABLE {fail}"))
            .await
            .map_err(map_err)?;
        let mut failed = FailedRows::empty(ctx.input);
        let mut first = None;
        if let crate::stream::Sink::Collect { batches, .. } = sink {
            for b in batches {
                let ords = arrow_cast::cast(b.column(b.num_columns() - 1), &DataType::UInt64)?;
                let b = b.project(&(0..b.num_columns() - 1).collect::<Vec<_>>())?;
                let n = b.num_columns();
                let reason = arrow_cast::cast(b.column(n - 1), &DataType::Utf8)?;
                if first.is_none() && b.num_rows() > 0 {
                    first = Some((
                        ords.as_primitive::<UInt64Type>().value(0),
                        reason.as_string::<i32>().value(0).to_string(),
                    ));
                }
                let reasons: Vec<String> = reason
                    .as_string::<i32>()
                    .iter()
                    .map(|s| s.unwrap_or_default().to_string())
                    .collect();
                failed.push(b.columns()[..n - 1].to_vec(), reasons)?;
            }
        }
        Ok((failed, first))
    }
}

struct SkipCtx<'a> {
    table: &'a TableRef,
    names: &'a [String],
    stage: &'a str,
    stage_ddl: &'a [String],
    target: &'a [TargetColumn],
    input: &'a arrow_schema::Schema,
}

static STAGE_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wkb_and_ewkb_become_mysql_geometry() {
        let xy: Vec<u8> = [1f64.to_be_bytes(), 2f64.to_be_bytes()].concat();
        // Big-endian WKB POINT: SRID 0 in front, the WKB unchanged.
        let wkb = [&[0u8, 0, 0, 0, 1][..], &xy].concat();
        assert_eq!(
            mysql_geometry(&wkb).unwrap(),
            [&0u32.to_le_bytes()[..], &wkb].concat()
        );
        // Big-endian EWKB with SRID 4326: the SRID moves in front (little-endian), the
        // flag and the SRID leave the WKB.
        let ewkb = [&[0u8, 0x20, 0, 0, 1][..], &4326u32.to_be_bytes(), &xy].concat();
        assert_eq!(
            mysql_geometry(&ewkb).unwrap(),
            [&4326u32.to_le_bytes()[..], &wkb].concat()
        );
        for (bad, says) in [
            (&[1u8, 1, 0][..], "header"),
            (&[2u8, 1, 0, 0, 0][..], "byte order"),
            (&[1u8, 1, 0, 0, 0x20, 1][..], "SRID"),
            (&[1u8, 0xE9, 3, 0, 0][..], "1001"),
        ] {
            let e = mysql_geometry(bad).unwrap_err();
            assert!(e.message.contains(says), "{}", e.message);
        }
    }

    #[test]
    fn char_column_lengths() {
        assert_eq!(char_type_len("varchar(20)"), Some(20));
        assert_eq!(char_type_len("char(3)"), Some(3));
        assert_eq!(char_type_len("text"), None);
        assert_eq!(char_type_len("varbinary(8)"), None);
    }

    #[test]
    fn decimal_column_types() {
        assert_eq!(decimal_type("decimal(10,2)"), Some((10, 2)));
        assert_eq!(decimal_type("decimal(65,30) unsigned"), Some((65, 30)));
        assert_eq!(decimal_type("decimal(7)"), Some((7, 0)));
        assert_eq!(decimal_type("decimal(66,2)"), None);
        assert_eq!(decimal_type("double"), None);
        assert_eq!(decimal_type("decimal(x,2)"), None);
    }

    #[test]
    fn escapes_load_data_text() {
        let mut b = BytesMut::new();
        put_text(&mut b, b"a\tb\\c\nd\0e\rf");
        assert_eq!(&b[..], b"a\\tb\\\\c\\nd\\0e\\rf");
        assert_eq!(decimal_text("-5".into(), 3), "-0.005");
        assert_eq!(ts_text(-1), "1969-12-31 23:59:59.999999");
        assert_eq!(mq("a`b"), "`a``b`");
    }
}
