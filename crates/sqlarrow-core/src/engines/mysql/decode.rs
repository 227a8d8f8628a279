//! MySQL/MariaDB result columns → Arrow.
//!
//! The column definitions of a result (type, UNSIGNED flag, character set, decimals,
//! length) decide every Arrow type before the first row is read ([`schema_for`]). Rows
//! are then pushed cell by cell into the column buffers of [`RowDecoder`].
//!
//! Cells arrive as `mysql_async::Value`s. The binary protocol (prepared statements, the
//! normal path) gives integers, floats, dates and times already decoded and only
//! strings, decimals, BIT and JSON as bytes; the text protocol (the fallback for the
//! rare statements the server cannot prepare) gives every cell as text, which the
//! `parse_*` helpers below decode. Both are accepted for every column kind.
//!
//! Type mapping (documented behaviour):
//! - `TINYINT(1)` → bool (unless `tinyint1_as_bool` is off), other integers → the
//!   matching signed/unsigned width (`MEDIUMINT` → 32 bits, `BIGINT UNSIGNED` → uint64).
//! - `DECIMAL(p,s)` → decimal128(p,s), or decimal256(p,s) when p > 38.
//! - `DATE` → date32, `DATETIME` → timestamp[us], `TIMESTAMP` → timestamp[us, UTC]
//!   (the session time zone is `+00:00`), `TIME` → time64[us]: a TIME outside
//!   `00:00:00`–`23:59:59.999999` (negative or ≥ 24 h, which MySQL allows) is a
//!   `DataError` naming the column (cast it, e.g. `TIME_TO_SEC(col)`, to read it).
//! - Zero and partial-zero dates (`0000-00-00`, `2020-00-15`) and the zero `YEAR` 0000
//!   become NULL (or a `DataError` when `zero_date_as_null` is off); never garbage.
//! - `YEAR` → int16; `BIT(n)` → uint64; `ENUM`/`SET` and text (any non-binary charset;
//!   the session sends utf8mb4) → utf8; binary charset strings and blobs → binary;
//!   MySQL's `JSON` → utf8 tagged `arrow.json`. MariaDB's JSON is an alias of LONGTEXT
//!   and is not marked in the protocol, so it arrives as plain utf8.
//! - `GEOMETRY` reads as `geoarrow.wkb` binary: the server's value is a 4-byte SRID and
//!   WKB; SRID 0 gives the WKB, any other SRID EWKB carrying it (as PostGIS sends).
//! - `VECTOR` is unsupported (`UnsupportedTypeError` with a hint).

use std::sync::Arc;

use arrow_array::types::{
    Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, Time64MicrosecondType, TimestampMicrosecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{ArrayRef, NullArray, RecordBatch, RecordBatchOptions};
use arrow_buffer::i256;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::{Column, Value as MyValue};

use crate::builders::{BoolBuf, PrimBuf, VarBuf};
use crate::error::{Error, Result};
use crate::types::{json_field, timestamp_us};
use crate::value::civil::days_from_civil;

/// The character set number of binary strings (`binary`).
pub const BINARY_CHARSET: u16 = 63;
const US_PER_DAY: i64 = 86_400_000_000;

/// Decoding options of a connector.
#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions {
    /// `TINYINT(1)` (and `BOOL`) columns → Arrow bool.
    pub tinyint1_as_bool: bool,
    /// Zero dates → NULL (true) or a `DataError` (false).
    pub zero_date_as_null: bool,
    /// `TIME` columns → Arrow `duration[us]` (the whole ±838:59:59 range, negative
    /// values included) instead of `time64[us]` (times of day only).
    pub time_as_duration: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            tinyint1_as_bool: true,
            zero_date_as_null: true,
            time_as_duration: false,
        }
    }
}

/// How one result column is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    Decimal128 {
        precision: u8,
        scale: i8,
    },
    Decimal256 {
        precision: u8,
        scale: i8,
    },
    Date,
    Time,
    /// `TIME` read as a duration (`time_as_duration`).
    Duration,
    /// `DATETIME` (no time zone).
    Datetime,
    /// `TIMESTAMP` (UTC).
    Timestamp,
    Year,
    Utf8,
    /// `ENUM`: dictionary-encoded labels (`SET` stays utf8: its values are lists).
    Enum,
    Binary,
    /// `GEOMETRY`: WKB (EWKB with the SRID when it is not 0), tagged `geoarrow.wkb`.
    Geometry,
    Json,
    Bit,
    Null,
}

fn type_label(ct: ColumnType) -> String {
    let s = format!("{ct:?}");
    s.strip_prefix("MYSQL_TYPE_").unwrap_or(&s).to_string()
}

/// Precision of a DECIMAL column from its display length (digits, plus one for the
/// sign unless UNSIGNED, plus one for the point when there is a scale).
pub fn decimal_precision(length: u32, decimals: u8, unsigned: bool) -> u32 {
    let mut p = length;
    if decimals > 0 {
        p = p.saturating_sub(1);
    }
    if !unsigned {
        p = p.saturating_sub(1);
    }
    p.max(decimals as u32).max(1)
}

/// The decode kind of a column (type, flags, length, decimals, charset).
pub fn kind_of(
    name: &str,
    ct: ColumnType,
    flags: ColumnFlags,
    length: u32,
    decimals: u8,
    charset: u16,
    opts: &DecodeOptions,
) -> Result<Kind> {
    use ColumnType::*;
    let unsigned = flags.contains(ColumnFlags::UNSIGNED_FLAG);
    let k = match ct {
        MYSQL_TYPE_TINY if opts.tinyint1_as_bool && length == 1 => Kind::Bool,
        MYSQL_TYPE_TINY => {
            if unsigned {
                Kind::U8
            } else {
                Kind::I8
            }
        }
        MYSQL_TYPE_SHORT => {
            if unsigned {
                Kind::U16
            } else {
                Kind::I16
            }
        }
        MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG => {
            if unsigned {
                Kind::U32
            } else {
                Kind::I32
            }
        }
        MYSQL_TYPE_LONGLONG => {
            if unsigned {
                Kind::U64
            } else {
                Kind::I64
            }
        }
        MYSQL_TYPE_YEAR => Kind::Year,
        MYSQL_TYPE_FLOAT => Kind::F32,
        MYSQL_TYPE_DOUBLE => Kind::F64,
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => {
            let p = decimal_precision(length, decimals, unsigned);
            if p > 76 || decimals > 76 {
                return Err(Error::unsupported_type(
                    name,
                    &format!("DECIMAL({p},{decimals})"),
                    "precision above 76 does not fit Arrow's decimal256; CAST it to CHAR",
                ));
            }
            if p <= 38 {
                Kind::Decimal128 {
                    precision: p as u8,
                    scale: decimals as i8,
                }
            } else {
                Kind::Decimal256 {
                    precision: p as u8,
                    scale: decimals as i8,
                }
            }
        }
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => Kind::Date,
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 if opts.time_as_duration => Kind::Duration,
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => Kind::Time,
        MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 => Kind::Datetime,
        MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => Kind::Timestamp,
        MYSQL_TYPE_JSON => Kind::Json,
        MYSQL_TYPE_BIT => Kind::Bit,
        MYSQL_TYPE_NULL => Kind::Null,
        MYSQL_TYPE_ENUM => Kind::Enum,
        MYSQL_TYPE_SET => Kind::Utf8,
        MYSQL_TYPE_VARCHAR
        | MYSQL_TYPE_VAR_STRING
        | MYSQL_TYPE_STRING
        | MYSQL_TYPE_TINY_BLOB
        | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB
        | MYSQL_TYPE_BLOB => {
            if flags.contains(ColumnFlags::ENUM_FLAG) {
                Kind::Enum
            } else if flags.contains(ColumnFlags::SET_FLAG) {
                Kind::Utf8
            } else if charset == BINARY_CHARSET {
                Kind::Binary
            } else {
                Kind::Utf8
            }
        }
        MYSQL_TYPE_GEOMETRY => Kind::Geometry,
        MYSQL_TYPE_VECTOR => {
            return Err(Error::unsupported_type(
                name,
                "VECTOR",
                "select VECTOR_TO_STRING(col) instead",
            ))
        }
        other => {
            return Err(Error::unsupported_type(
                name,
                &type_label(other),
                "CAST it to CHAR or BINARY",
            ))
        }
    };
    Ok(k)
}

impl Kind {
    pub fn data_type(self) -> DataType {
        match self {
            Kind::Bool => DataType::Boolean,
            Kind::I8 => DataType::Int8,
            Kind::I16 | Kind::Year => DataType::Int16,
            Kind::I32 => DataType::Int32,
            Kind::I64 => DataType::Int64,
            Kind::U8 => DataType::UInt8,
            Kind::U16 => DataType::UInt16,
            Kind::U32 => DataType::UInt32,
            Kind::U64 | Kind::Bit => DataType::UInt64,
            Kind::F32 => DataType::Float32,
            Kind::F64 => DataType::Float64,
            Kind::Decimal128 { precision, scale } => DataType::Decimal128(precision, scale),
            Kind::Decimal256 { precision, scale } => DataType::Decimal256(precision, scale),
            Kind::Date => DataType::Date32,
            Kind::Time => DataType::Time64(TimeUnit::Microsecond),
            Kind::Duration => DataType::Duration(TimeUnit::Microsecond),
            Kind::Datetime => timestamp_us(false),
            Kind::Timestamp => timestamp_us(true),
            Kind::Utf8 | Kind::Json => DataType::Utf8,
            Kind::Enum => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            Kind::Binary | Kind::Geometry => DataType::Binary,
            Kind::Null => DataType::Null,
        }
    }

    pub fn field(self, name: &str) -> Field {
        match self {
            Kind::Json => json_field(name, true),
            Kind::Geometry => crate::types::wkb_field(name, true),
            Kind::Null => Field::new(name, DataType::Null, true),
            k => Field::new(name, k.data_type(), true),
        }
    }
}

/// Append a MySQL geometry value (a little-endian SRID, then WKB) as WKB, or as EWKB
/// with the SRID (PostGIS's form: the type's 0x20000000 flag, then the SRID) when it is
/// not 0, so that no SRID is lost.
fn push_wkb(b: &mut VarBuf, v: &[u8]) -> Result<()> {
    let bad = || Error::data("a GEOMETRY value shorter than an SRID and a WKB header");
    if v.len() < 9 {
        return Err(bad());
    }
    let srid = u32::from_le_bytes([v[0], v[1], v[2], v[3]]);
    let wkb = &v[4..];
    if srid == 0 {
        return b.push(wkb);
    }
    let little = match wkb[0] {
        1 => true,
        0 => false,
        _ => {
            return Err(Error::data(
                "a GEOMETRY value with an unknown WKB byte order",
            ))
        }
    };
    let (ty, srid_bytes) = if little {
        let t = u32::from_le_bytes([wkb[1], wkb[2], wkb[3], wkb[4]]) | 0x2000_0000;
        (t.to_le_bytes(), srid.to_le_bytes())
    } else {
        let t = u32::from_be_bytes([wkb[1], wkb[2], wkb[3], wkb[4]]) | 0x2000_0000;
        (t.to_be_bytes(), srid.to_be_bytes())
    };
    let mut out = Vec::with_capacity(wkb.len() + 4);
    out.push(wkb[0]);
    out.extend_from_slice(&ty);
    out.extend_from_slice(&srid_bytes);
    out.extend_from_slice(&wkb[5..]);
    b.push(&out)
}

/// The Arrow schema and decode kinds of a result's columns.
pub fn schema_for(columns: &[Column], opts: &DecodeOptions) -> Result<(SchemaRef, Vec<Kind>)> {
    let mut fields = Vec::with_capacity(columns.len());
    let mut kinds = Vec::with_capacity(columns.len());
    for c in columns {
        let name = c.name_str();
        let k = kind_of(
            &name,
            c.column_type(),
            c.flags(),
            c.column_length(),
            c.decimals(),
            c.character_set(),
            opts,
        )?;
        fields.push(k.field(&name));
        kinds.push(k);
    }
    Ok((Arc::new(Schema::new(fields)), kinds))
}

// -- text decoding (text protocol cells and hand-built values) ---------------------------

fn ascii(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok().map(|s| s.trim())
}

pub fn parse_i64(b: &[u8]) -> Option<i64> {
    ascii(b)?.parse().ok()
}

pub fn parse_u64(b: &[u8]) -> Option<u64> {
    ascii(b)?.parse().ok()
}

/// Accumulator of decimal digits (i128 or i256) with overflow checks.
pub trait DecimalAcc: Copy {
    const ZERO: Self;
    fn push_digit(self, d: u8) -> Option<Self>;
    fn negate(self) -> Self;
}

impl DecimalAcc for i128 {
    const ZERO: Self = 0;
    #[inline]
    fn push_digit(self, d: u8) -> Option<Self> {
        self.checked_mul(10)?.checked_add(d as i128)
    }
    fn negate(self) -> Self {
        -self
    }
}

impl DecimalAcc for i256 {
    const ZERO: Self = i256::ZERO;
    #[inline]
    fn push_digit(self, d: u8) -> Option<Self> {
        self.checked_mul(i256::from_i128(10))?
            .checked_add(i256::from_i128(d as i128))
    }
    fn negate(self) -> Self {
        self.wrapping_neg()
    }
}

/// Parse decimal text (`-123.4500`, `7`, `.5`) into an integer scaled by `scale`.
/// Digits beyond `scale` must be zeros (the server always sends exactly `scale`).
pub fn parse_decimal<T: DecimalAcc>(b: &[u8], scale: i8) -> Option<T> {
    let s = ascii(b)?.as_bytes();
    let (neg, s) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = match s.iter().position(|&c| c == b'.') {
        Some(p) => (&s[..p], &s[p + 1..]),
        None => (s, &s[..0]),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let scale = scale.max(0) as usize;
    let mut acc = T::ZERO;
    for &c in int {
        if !c.is_ascii_digit() {
            return None;
        }
        acc = acc.push_digit(c - b'0')?;
    }
    for (i, &c) in frac.iter().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        if i < scale {
            acc = acc.push_digit(c - b'0')?;
        } else if c != b'0' {
            return None;
        }
    }
    for _ in frac.len()..scale {
        acc = acc.push_digit(0)?;
    }
    Some(if neg { acc.negate() } else { acc })
}

/// A date or date-time read from the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateVal {
    /// `0000-00-00` or a date with a zero month or day (allowed by some SQL modes).
    Zero,
    /// Microseconds since 1970-01-01 00:00:00.
    Micros(i64),
}

/// Combine date-time parts; zero month/day means a zero date.
pub fn date_parts(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: u8, us: u32) -> Result<DateVal> {
    if mo == 0 || d == 0 {
        return Ok(DateVal::Zero);
    }
    if mo > 12 || d > 31 || h > 23 || mi > 59 || s > 59 || us > 999_999 {
        return Err(Error::data(format!(
            "invalid date-time from the server: {y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}"
        )));
    }
    let days = days_from_civil(y as i64, mo as u32, d as u32);
    Ok(DateVal::Micros(
        days * US_PER_DAY + ((h as i64 * 60 + mi as i64) * 60 + s as i64) * 1_000_000 + us as i64,
    ))
}

fn num<T: std::str::FromStr>(b: &[u8]) -> Option<T> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Microseconds from a fraction like `5` (= .5 s) or `123456`.
fn frac_us(b: &[u8]) -> Option<u32> {
    if b.len() > 6 {
        return None;
    }
    let v: u32 = num(b)?;
    Some(v * 10u32.pow(6 - b.len() as u32))
}

/// Parse `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` (text protocol DATE, DATETIME, TIMESTAMP).
pub fn parse_datetime_text(b: &[u8]) -> Result<DateVal> {
    let bad = || {
        Error::data(format!(
            "invalid date-time text {:?}",
            String::from_utf8_lossy(b)
        ))
    };
    let s = ascii(b).ok_or_else(bad)?.as_bytes();
    if s.len() < 10 || s[4] != b'-' || s[7] != b'-' {
        return Err(bad());
    }
    let y: u16 = num(&s[..4]).ok_or_else(bad)?;
    let mo: u8 = num(&s[5..7]).ok_or_else(bad)?;
    let d: u8 = num(&s[8..10]).ok_or_else(bad)?;
    let (mut h, mut mi, mut sec, mut us) = (0u8, 0u8, 0u8, 0u32);
    if s.len() > 10 {
        let t = &s[11..];
        if !matches!(s[10], b' ' | b'T') || t.len() < 8 || t[2] != b':' || t[5] != b':' {
            return Err(bad());
        }
        h = num(&t[..2]).ok_or_else(bad)?;
        mi = num(&t[3..5]).ok_or_else(bad)?;
        sec = num(&t[6..8]).ok_or_else(bad)?;
        if t.len() > 8 {
            if t[8] != b'.' {
                return Err(bad());
            }
            us = frac_us(&t[9..]).ok_or_else(bad)?;
        }
    }
    date_parts(y, mo, d, h, mi, sec, us)
}

/// Signed microseconds of a TIME value's parts.
pub fn time_parts_us(neg: bool, days: u32, h: u8, mi: u8, s: u8, us: u32) -> i64 {
    let v =
        (((days as i64 * 24 + h as i64) * 60 + mi as i64) * 60 + s as i64) * 1_000_000 + us as i64;
    if neg {
        -v
    } else {
        v
    }
}

/// Parse `[-]H…H:MM:SS[.ffffff]` (text protocol TIME) into signed microseconds.
pub fn parse_time_text(b: &[u8]) -> Result<i64> {
    let bad = || {
        Error::data(format!(
            "invalid time text {:?}",
            String::from_utf8_lossy(b)
        ))
    };
    let s = ascii(b).ok_or_else(bad)?.as_bytes();
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let mut parts = s.splitn(3, |&c| c == b':');
    let h: u32 = num(parts.next().ok_or_else(bad)?).ok_or_else(bad)?;
    let mi: u8 = num(parts.next().ok_or_else(bad)?).ok_or_else(bad)?;
    let rest = parts.next().ok_or_else(bad)?;
    let (sec, frac) = match rest.iter().position(|&c| c == b'.') {
        Some(p) => (&rest[..p], Some(&rest[p + 1..])),
        None => (rest, None),
    };
    let sec: u8 = num(sec).ok_or_else(bad)?;
    let us = match frac {
        Some(f) => frac_us(f).ok_or_else(bad)?,
        None => 0,
    };
    if mi > 59 || sec > 59 {
        return Err(bad());
    }
    Ok(time_parts_us(neg, h / 24, (h % 24) as u8, mi, sec, us))
}

/// A BIT(n) value: big-endian bytes, at most 8.
pub fn parse_bit(b: &[u8]) -> Result<u64> {
    if b.len() > 8 {
        return Err(Error::data(format!(
            "a BIT value of {} bytes does not fit uint64",
            b.len()
        )));
    }
    Ok(b.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64))
}

// -- column buffers ----------------------------------------------------------------------

enum Buf {
    Bool(BoolBuf),
    I8(PrimBuf<i8>),
    I16(PrimBuf<i16>),
    I32(PrimBuf<i32>),
    I64(PrimBuf<i64>),
    U8(PrimBuf<u8>),
    U16(PrimBuf<u16>),
    U32(PrimBuf<u32>),
    U64(PrimBuf<u64>),
    F32(PrimBuf<f32>),
    F64(PrimBuf<f64>),
    D128(PrimBuf<i128>),
    D256(PrimBuf<i256>),
    /// Date32, Time64 and timestamps share i32/i64 buffers.
    Days(PrimBuf<i32>),
    Micros(PrimBuf<i64>),
    Var(VarBuf),
    /// Enum labels: keys into a per-batch dictionary.
    Dict {
        keys: PrimBuf<i32>,
        values: VarBuf,
        index: std::collections::HashMap<Vec<u8>, i32>,
    },
    Null(usize),
}

/// One cell as it arrived, borrowed from the row (no allocation): what the binary
/// protocol decodes (integers, floats, dates, times) or the bytes of everything else.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    UInt(u64),
    F32(f32),
    F64(f64),
    Bytes(&'a [u8]),
    /// Year, month, day, hour, minute, second, microsecond.
    Date(u16, u8, u8, u8, u8, u8, u32),
    /// Negative, days, hours, minutes, seconds, microseconds.
    Time(bool, u32, u8, u8, u8, u32),
}

impl<'a> From<&'a MyValue> for Cell<'a> {
    fn from(v: &'a MyValue) -> Self {
        match v {
            MyValue::NULL => Cell::Null,
            MyValue::Bytes(b) => Cell::Bytes(b),
            MyValue::Int(i) => Cell::Int(*i),
            MyValue::UInt(u) => Cell::UInt(*u),
            MyValue::Float(f) => Cell::F32(*f),
            MyValue::Double(d) => Cell::F64(*d),
            MyValue::Date(y, mo, d, h, mi, s, us) => Cell::Date(*y, *mo, *d, *h, *mi, *s, *us),
            MyValue::Time(neg, days, h, mi, s, us) => Cell::Time(*neg, *days, *h, *mi, *s, *us),
        }
    }
}

impl Cell<'_> {
    /// The cell as text, for a value of an unexpected kind in a string column.
    fn text(&self) -> String {
        match *self {
            Cell::Null => String::new(),
            Cell::Int(i) => i.to_string(),
            Cell::UInt(u) => u.to_string(),
            Cell::F32(f) => f.to_string(),
            Cell::F64(f) => f.to_string(),
            Cell::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Cell::Date(y, mo, d, h, mi, s, us) => {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
            }
            Cell::Time(neg, days, h, mi, s, us) => {
                let sign = if neg { "-" } else { "" };
                let h = days as u64 * 24 + h as u64;
                format!("{sign}{h:02}:{mi:02}:{s:02}.{us:06}")
            }
        }
    }
}

/// One column being decoded.
pub struct ColumnDecoder {
    kind: Kind,
    data_type: DataType,
    name: String,
    zero_date_as_null: bool,
    buf: Buf,
}

fn int_of(v: Cell<'_>) -> Result<i64> {
    match v {
        Cell::Int(i) => Ok(i),
        Cell::UInt(u) => i64::try_from(u).map_err(|_| Error::data(format!("{u} overflows int64"))),
        Cell::Bytes(b) => parse_i64(b).ok_or_else(|| {
            Error::data(format!("invalid integer {:?}", String::from_utf8_lossy(b)))
        }),
        other => Err(unexpected(other, "an integer")),
    }
}

fn uint_of(v: Cell<'_>) -> Result<u64> {
    match v {
        Cell::UInt(u) => Ok(u),
        Cell::Int(i) => u64::try_from(i).map_err(|_| Error::data(format!("{i} is negative"))),
        Cell::Bytes(b) => parse_u64(b).ok_or_else(|| {
            Error::data(format!(
                "invalid unsigned integer {:?}",
                String::from_utf8_lossy(b)
            ))
        }),
        other => Err(unexpected(other, "an unsigned integer")),
    }
}

fn f64_of(v: Cell<'_>) -> Result<f64> {
    match v {
        Cell::F64(d) => Ok(d),
        Cell::F32(f) => Ok(f as f64),
        Cell::Int(i) => Ok(i as f64),
        Cell::UInt(u) => Ok(u as f64),
        Cell::Bytes(b) => ascii(b)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::data(format!("invalid float {:?}", String::from_utf8_lossy(b)))),
        other => Err(unexpected(other, "a float")),
    }
}

fn unexpected(v: Cell<'_>, what: &str) -> Error {
    Error::data(format!("expected {what}, the server sent {v:?}"))
}

fn narrow<T: TryFrom<i64>>(v: i64) -> Result<T> {
    T::try_from(v).map_err(|_| Error::data(format!("{v} is out of range for the column type")))
}

fn narrow_u<T: TryFrom<u64>>(v: u64) -> Result<T> {
    T::try_from(v).map_err(|_| Error::data(format!("{v} is out of range for the column type")))
}

fn decimal_of<T: DecimalAcc>(v: Cell<'_>, scale: i8) -> Result<T> {
    let text;
    let b: &[u8] = match v {
        Cell::Bytes(b) => b,
        Cell::Int(i) => {
            text = i.to_string();
            text.as_bytes()
        }
        Cell::UInt(u) => {
            text = u.to_string();
            text.as_bytes()
        }
        other => return Err(unexpected(other, "a decimal")),
    };
    parse_decimal::<T>(b, scale).ok_or_else(|| {
        Error::data(format!(
            "invalid or out-of-range decimal {:?} for scale {scale}",
            String::from_utf8_lossy(b)
        ))
    })
}

fn datetime_of(v: Cell<'_>) -> Result<DateVal> {
    match v {
        Cell::Date(y, mo, d, h, mi, s, us) => date_parts(y, mo, d, h, mi, s, us),
        Cell::Bytes(b) => parse_datetime_text(b),
        other => Err(unexpected(other, "a date")),
    }
}

/// A TIME value as signed microseconds (its whole ±838:59:59 range).
fn duration_of(v: Cell<'_>) -> Result<i64> {
    Ok(match v {
        Cell::Time(neg, days, h, mi, s, us) => time_parts_us(neg, days, h, mi, s, us),
        Cell::Bytes(b) => parse_time_text(b)?,
        other => return Err(unexpected(other, "a time")),
    })
}

fn time_of(v: Cell<'_>) -> Result<i64> {
    let us = duration_of(v)?;
    if !(0..US_PER_DAY).contains(&us) {
        return Err(Error::data(format!(
            "TIME value {} is outside 00:00:00–23:59:59.999999 and cannot be an Arrow time64; \
             connect with time_as_duration=True to read TIME columns as durations, or read it \
             as TIME_TO_SEC(col)",
            format_time_us(us)
        )));
    }
    Ok(us)
}

/// `us` as MySQL TIME text, sign and hours past 24 included: `-26:00:00.000000`.
pub(super) fn format_time_us(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let a = us.unsigned_abs();
    let (s, frac) = (a / 1_000_000, a % 1_000_000);
    format!(
        "{sign}{:02}:{:02}:{:02}.{frac:06}",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

impl ColumnDecoder {
    pub fn new(kind: Kind, name: &str, capacity: usize, opts: &DecodeOptions) -> Self {
        let n = capacity;
        let buf = match kind {
            Kind::Bool => Buf::Bool(BoolBuf::with_capacity(n)),
            Kind::I8 => Buf::I8(PrimBuf::with_capacity(n)),
            Kind::I16 | Kind::Year => Buf::I16(PrimBuf::with_capacity(n)),
            Kind::I32 => Buf::I32(PrimBuf::with_capacity(n)),
            Kind::I64 => Buf::I64(PrimBuf::with_capacity(n)),
            Kind::U8 => Buf::U8(PrimBuf::with_capacity(n)),
            Kind::U16 => Buf::U16(PrimBuf::with_capacity(n)),
            Kind::U32 => Buf::U32(PrimBuf::with_capacity(n)),
            Kind::U64 | Kind::Bit => Buf::U64(PrimBuf::with_capacity(n)),
            Kind::F32 => Buf::F32(PrimBuf::with_capacity(n)),
            Kind::F64 => Buf::F64(PrimBuf::with_capacity(n)),
            Kind::Decimal128 { .. } => Buf::D128(PrimBuf::with_capacity(n)),
            Kind::Decimal256 { .. } => Buf::D256(PrimBuf::with_capacity(n)),
            Kind::Date => Buf::Days(PrimBuf::with_capacity(n)),
            Kind::Time | Kind::Duration | Kind::Datetime | Kind::Timestamp => {
                Buf::Micros(PrimBuf::with_capacity(n))
            }
            Kind::Utf8 | Kind::Json | Kind::Binary | Kind::Geometry => {
                Buf::Var(VarBuf::with_capacity(n, n * 8))
            }
            Kind::Enum => Buf::Dict {
                keys: PrimBuf::with_capacity(n),
                values: VarBuf::with_capacity(16, 256),
                index: Default::default(),
            },
            Kind::Null => Buf::Null(0),
        };
        ColumnDecoder {
            kind,
            data_type: kind.data_type(),
            name: name.to_string(),
            zero_date_as_null: opts.zero_date_as_null,
            buf,
        }
    }

    /// The column's name (for error messages).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn push_null(&mut self) {
        match &mut self.buf {
            Buf::Bool(b) => b.push_null(),
            Buf::I8(b) => b.push_null(),
            Buf::I16(b) => b.push_null(),
            Buf::I32(b) => b.push_null(),
            Buf::I64(b) => b.push_null(),
            Buf::U8(b) => b.push_null(),
            Buf::U16(b) => b.push_null(),
            Buf::U32(b) => b.push_null(),
            Buf::U64(b) => b.push_null(),
            Buf::F32(b) => b.push_null(),
            Buf::F64(b) => b.push_null(),
            Buf::D128(b) => b.push_null(),
            Buf::D256(b) => b.push_null(),
            Buf::Days(b) => b.push_null(),
            Buf::Micros(b) => b.push_null(),
            Buf::Var(b) => b.push_null(),
            Buf::Dict { keys, .. } => keys.push_null(),
            Buf::Null(n) => *n += 1,
        }
    }

    fn zero_date(&mut self) -> Result<()> {
        if self.zero_date_as_null {
            self.push_null();
            Ok(())
        } else {
            Err(Error::data(
                "a zero date (0000-00-00) cannot be represented; pass zero_date_as_null=True \
                 to read it as NULL",
            ))
        }
    }

    /// Append one cell (`None` = the value was taken out of the row: an internal error).
    pub fn push(&mut self, v: Option<&MyValue>) -> Result<()> {
        self.push_cell(v.map_or(Cell::Null, Cell::from))
    }

    /// Append one cell.
    #[inline]
    pub fn push_cell(&mut self, v: Cell<'_>) -> Result<()> {
        if v == Cell::Null {
            self.push_null();
            return Ok(());
        }
        let kind = self.kind;
        match &mut self.buf {
            Buf::Bool(b) => b.push(match int_of(v)? {
                0 => false,
                1 => true,
                // A TINYINT(1) is an integer to MySQL: 2 or -1 read as true would lose it.
                other => {
                    return Err(Error::data(format!(
                        "TINYINT(1) value {other} is neither 0 nor 1, so it is no boolean; \
                         read the column as integers with tinyint1_as_bool=False"
                    )))
                }
            }),
            Buf::I8(b) => b.push(narrow(int_of(v)?)?),
            Buf::I16(b) if kind == Kind::Year => {
                let y = int_of(v)?;
                if y == 0 {
                    return self.zero_date();
                }
                b.push(narrow(y)?)
            }
            Buf::I16(b) => b.push(narrow(int_of(v)?)?),
            Buf::I32(b) => b.push(narrow(int_of(v)?)?),
            Buf::I64(b) => b.push(int_of(v)?),
            Buf::U8(b) => b.push(narrow_u(uint_of(v)?)?),
            Buf::U16(b) => b.push(narrow_u(uint_of(v)?)?),
            Buf::U32(b) => b.push(narrow_u(uint_of(v)?)?),
            Buf::U64(b) if kind == Kind::Bit => match v {
                Cell::Bytes(bytes) => b.push(parse_bit(bytes)?),
                other => b.push(uint_of(other)?),
            },
            Buf::U64(b) => b.push(uint_of(v)?),
            Buf::F32(b) => match v {
                Cell::F32(f) => b.push(f),
                other => b.push(f64_of(other)? as f32),
            },
            Buf::F64(b) => b.push(f64_of(v)?),
            Buf::D128(b) => {
                let Kind::Decimal128 { scale, .. } = kind else {
                    unreachable!("decimal128 buffer")
                };
                b.push(decimal_of::<i128>(v, scale)?)
            }
            Buf::D256(b) => {
                let Kind::Decimal256 { scale, .. } = kind else {
                    unreachable!("decimal256 buffer")
                };
                b.push(decimal_of::<i256>(v, scale)?)
            }
            Buf::Days(b) => match datetime_of(v)? {
                DateVal::Zero => return self.zero_date(),
                DateVal::Micros(us) => b.push(narrow(us.div_euclid(US_PER_DAY))?),
            },
            Buf::Micros(b) if kind == Kind::Time => b.push(time_of(v)?),
            Buf::Micros(b) if kind == Kind::Duration => b.push(duration_of(v)?),
            Buf::Micros(b) => match datetime_of(v)? {
                DateVal::Zero => return self.zero_date(),
                DateVal::Micros(us) => b.push(us),
            },
            Buf::Var(b) if kind == Kind::Geometry => match v {
                Cell::Bytes(bytes) => push_wkb(b, bytes)?,
                _ => {
                    return Err(Error::data(
                        "a GEOMETRY value came as something else than bytes",
                    ))
                }
            },
            Buf::Var(b) => match v {
                Cell::Bytes(bytes) => b.push(bytes)?,
                other => {
                    // Not expected for string columns; keep the value's text form.
                    b.push(other.text().as_bytes())?
                }
            },
            Buf::Dict {
                keys,
                values,
                index,
            } => {
                let text;
                let label: &[u8] = match v {
                    Cell::Bytes(bytes) => bytes,
                    other => {
                        text = other.text();
                        text.as_bytes()
                    }
                };
                let key = match index.get(label) {
                    Some(k) => *k,
                    None => {
                        let k = index.len() as i32;
                        values.push(label)?;
                        index.insert(label.to_vec(), k);
                        k
                    }
                };
                keys.push(key);
            }
            Buf::Null(n) => *n += 1,
        }
        Ok(())
    }

    fn var_bytes(&self) -> usize {
        match &self.buf {
            Buf::Var(b) => b.values.len(),
            _ => 0,
        }
    }

    pub fn finish(&mut self) -> Result<ArrayRef> {
        let dt = &self.data_type;
        match &mut self.buf {
            Buf::Bool(b) => b.finish(),
            Buf::I8(b) => b.finish::<Int8Type>(dt),
            Buf::I16(b) => b.finish::<Int16Type>(dt),
            Buf::I32(b) => b.finish::<Int32Type>(dt),
            Buf::I64(b) => b.finish::<Int64Type>(dt),
            Buf::U8(b) => b.finish::<UInt8Type>(dt),
            Buf::U16(b) => b.finish::<UInt16Type>(dt),
            Buf::U32(b) => b.finish::<UInt32Type>(dt),
            Buf::U64(b) => b.finish::<UInt64Type>(dt),
            Buf::F32(b) => b.finish::<Float32Type>(dt),
            Buf::F64(b) => b.finish::<Float64Type>(dt),
            Buf::D128(b) => b.finish::<Decimal128Type>(dt),
            Buf::D256(b) => b.finish::<Decimal256Type>(dt),
            Buf::Days(b) => b.finish::<Date32Type>(dt),
            Buf::Micros(b) if self.kind == Kind::Time => b.finish::<Time64MicrosecondType>(dt),
            Buf::Micros(b) if self.kind == Kind::Duration => {
                b.finish::<arrow_array::types::DurationMicrosecondType>(dt)
            }
            Buf::Micros(b) => b.finish::<TimestampMicrosecondType>(dt),
            Buf::Var(b) => {
                if matches!(self.kind, Kind::Binary | Kind::Geometry) {
                    b.finish_binary()
                } else {
                    b.finish_utf8(&DataType::Utf8)
                }
            }
            Buf::Dict {
                keys,
                values,
                index,
            } => (|| {
                index.clear();
                let k = keys.finish::<Int32Type>(&DataType::Int32)?;
                let k = k
                    .as_any()
                    .downcast_ref::<arrow_array::Int32Array>()
                    .cloned()
                    .ok_or_else(|| Error::data("internal: dictionary keys"))?;
                let v = values.finish_utf8(&DataType::Utf8)?;
                Ok(Arc::new(arrow_array::DictionaryArray::<Int32Type>::try_new(k, v)?) as ArrayRef)
            })(),
            Buf::Null(n) => Ok(Arc::new(NullArray::new(std::mem::take(n))) as ArrayRef),
        }
        .map_err(|e| e.context(format!("column \"{}\"", self.name)))
    }
}

/// Rows being gathered into one record batch.
pub struct RowDecoder {
    pub schema: SchemaRef,
    pub columns: Vec<ColumnDecoder>,
    pub rows: usize,
    batch_size: usize,
}

/// Cut a batch early when its text/binary buffers grow past this (well below 2 GiB).
const BATCH_BYTES: usize = 256 << 20;

impl RowDecoder {
    pub fn new(schema: SchemaRef, kinds: &[Kind], batch_size: usize, opts: &DecodeOptions) -> Self {
        let cap = batch_size.min(8192);
        let columns = kinds
            .iter()
            .zip(schema.fields())
            .map(|(k, f)| ColumnDecoder::new(*k, f.name(), cap, opts))
            .collect();
        RowDecoder {
            schema,
            columns,
            rows: 0,
            batch_size,
        }
    }

    /// Append one row.
    pub fn push_row(&mut self, row: &mysql_async::Row) -> Result<()> {
        self.push_cells(row.len(), (0..row.len()).map(|i| row.as_ref(i)))
    }

    /// Append one row given as its `n` cells.
    pub fn push_cells<'a>(
        &mut self,
        n: usize,
        cells: impl Iterator<Item = Option<&'a MyValue>>,
    ) -> Result<()> {
        if n != self.columns.len() {
            return Err(Error::data(format!(
                "a row has {n} values but the result has {} columns",
                self.columns.len()
            )));
        }
        for (col, v) in self.columns.iter_mut().zip(cells) {
            col.push(v)
                .map_err(|e| e.context(format!("column \"{}\"", col.name)))?;
        }
        self.rows += 1;
        Ok(())
    }

    pub fn is_full(&self) -> bool {
        self.rows >= self.batch_size
            || (self.rows % 1024 == 0
                && self.columns.iter().map(|c| c.var_bytes()).sum::<usize>() >= BATCH_BYTES)
    }

    pub fn finish(&mut self) -> Result<RecordBatch> {
        let arrays = self
            .columns
            .iter_mut()
            .map(|c| c.finish())
            .collect::<Result<Vec<_>>>()?;
        let opts = RecordBatchOptions::new().with_row_count(Some(self.rows));
        self.rows = 0;
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &opts,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, BinaryArray, Decimal256Array, StringArray};

    fn opts() -> DecodeOptions {
        DecodeOptions::default()
    }

    #[test]
    fn geometry_values_become_wkb_or_ewkb_with_their_srid() {
        // POINT(1 2), little-endian WKB.
        let mut wkb = vec![1u8, 1, 0, 0, 0];
        wkb.extend_from_slice(&1f64.to_le_bytes());
        wkb.extend_from_slice(&2f64.to_le_bytes());
        let stored = |srid: u32| [srid.to_le_bytes().to_vec(), wkb.clone()].concat();
        let mut b = VarBuf::with_capacity(2, 64);
        push_wkb(&mut b, &stored(0)).unwrap();
        push_wkb(&mut b, &stored(4326)).unwrap();
        let a = b.finish_binary().unwrap();
        let a = a
            .as_any()
            .downcast_ref::<arrow_array::BinaryArray>()
            .unwrap();
        assert_eq!(a.value(0), &wkb[..]);
        let ewkb = a.value(1);
        assert_eq!(&ewkb[..5], &[1, 1, 0, 0, 0x20]);
        assert_eq!(&ewkb[5..9], &4326u32.to_le_bytes());
        assert_eq!(&ewkb[9..], &wkb[5..]);
        assert!(push_wkb(&mut VarBuf::with_capacity(1, 8), &[0, 0, 0, 0, 1]).is_err());
    }

    #[test]
    fn kinds_from_metadata() {
        let o = opts();
        let k = |ct, flags, len, dec, cs| kind_of("c", ct, flags, len, dec, cs, &o).unwrap();
        use ColumnType::*;
        let u = ColumnFlags::UNSIGNED_FLAG;
        let none = ColumnFlags::empty();
        assert_eq!(k(MYSQL_TYPE_TINY, none, 1, 0, 63), Kind::Bool);
        assert_eq!(k(MYSQL_TYPE_TINY, none, 4, 0, 63), Kind::I8);
        assert_eq!(k(MYSQL_TYPE_TINY, u, 3, 0, 63), Kind::U8);
        assert_eq!(k(MYSQL_TYPE_INT24, u, 8, 0, 63), Kind::U32);
        assert_eq!(k(MYSQL_TYPE_LONGLONG, u, 20, 0, 63), Kind::U64);
        assert_eq!(k(MYSQL_TYPE_LONGLONG, none, 20, 0, 63), Kind::I64);
        // decimal(10,2): length 12 (sign + point); unsigned decimal(10,2): 11.
        assert_eq!(
            k(MYSQL_TYPE_NEWDECIMAL, none, 12, 2, 63),
            Kind::Decimal128 {
                precision: 10,
                scale: 2
            }
        );
        assert_eq!(
            k(MYSQL_TYPE_NEWDECIMAL, u, 11, 2, 63),
            Kind::Decimal128 {
                precision: 10,
                scale: 2
            }
        );
        // decimal(65,30) → decimal256; decimal(5,0) has no point.
        assert_eq!(
            k(MYSQL_TYPE_NEWDECIMAL, none, 67, 30, 63),
            Kind::Decimal256 {
                precision: 65,
                scale: 30
            }
        );
        assert_eq!(
            k(MYSQL_TYPE_NEWDECIMAL, none, 6, 0, 63),
            Kind::Decimal128 {
                precision: 5,
                scale: 0
            }
        );
        assert_eq!(k(MYSQL_TYPE_VAR_STRING, none, 40, 0, 45), Kind::Utf8);
        assert_eq!(k(MYSQL_TYPE_BLOB, none, 65535, 0, 63), Kind::Binary);
        assert_eq!(
            k(MYSQL_TYPE_STRING, ColumnFlags::ENUM_FLAG, 4, 0, 63),
            Kind::Enum
        );
        assert_eq!(
            k(MYSQL_TYPE_STRING, ColumnFlags::SET_FLAG, 4, 0, 63),
            Kind::Utf8
        );
        assert_eq!(k(MYSQL_TYPE_JSON, none, 0, 0, 63), Kind::Json);
        assert_eq!(k(MYSQL_TYPE_BIT, u, 10, 0, 63), Kind::Bit);
        assert_eq!(k(MYSQL_TYPE_GEOMETRY, none, 0, 0, 63), Kind::Geometry);
        assert_eq!(
            Kind::Geometry.field("g").metadata()["ARROW:extension:name"],
            "geoarrow.wkb"
        );
        let no_bool = DecodeOptions {
            tinyint1_as_bool: false,
            ..o
        };
        assert_eq!(
            kind_of("c", MYSQL_TYPE_TINY, none, 1, 0, 63, &no_bool).unwrap(),
            Kind::I8
        );
        assert_eq!(
            Kind::Json.field("j").metadata()["ARROW:extension:name"],
            "arrow.json"
        );
        assert_eq!(
            Kind::Timestamp.data_type(),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
    }

    #[test]
    fn decimals_from_text() {
        assert_eq!(parse_decimal::<i128>(b"-123.4500", 4), Some(-1_234_500));
        assert_eq!(parse_decimal::<i128>(b"7", 2), Some(700));
        assert_eq!(parse_decimal::<i128>(b".5", 1), Some(5));
        assert_eq!(parse_decimal::<i128>(b"1.50", 1), Some(15));
        assert_eq!(parse_decimal::<i128>(b"1.55", 1), None);
        assert_eq!(parse_decimal::<i128>(b"1e5", 0), None);
        assert_eq!(parse_decimal::<i128>(b"", 0), None);
        assert_eq!(parse_decimal::<i128>(b"-", 0), None);
        let max38 = "9".repeat(38);
        assert_eq!(
            parse_decimal::<i128>(max38.as_bytes(), 0),
            Some(10i128.pow(38) - 1)
        );
        assert_eq!(parse_decimal::<i128>("9".repeat(40).as_bytes(), 0), None);
        // decimal(65,30) extremes.
        let big = format!("-{}.{}", "9".repeat(35), "9".repeat(30));
        let v = parse_decimal::<i256>(big.as_bytes(), 30).unwrap();
        let expect = i256::from_i128(10)
            .checked_pow(65)
            .unwrap()
            .checked_sub(i256::ONE)
            .unwrap()
            .wrapping_neg();
        assert_eq!(v, expect);
    }

    #[test]
    fn dates_times_bits_from_text() {
        assert_eq!(
            parse_datetime_text(b"1970-01-01").unwrap(),
            DateVal::Micros(0)
        );
        assert_eq!(
            parse_datetime_text(b"1970-01-02 00:00:01.5").unwrap(),
            DateVal::Micros(US_PER_DAY + 1_500_000)
        );
        assert_eq!(parse_datetime_text(b"0000-00-00").unwrap(), DateVal::Zero);
        assert_eq!(
            parse_datetime_text(b"0000-00-00 00:00:00").unwrap(),
            DateVal::Zero
        );
        assert_eq!(parse_datetime_text(b"2020-05-00").unwrap(), DateVal::Zero);
        assert_eq!(
            parse_datetime_text(b"9999-12-31").unwrap(),
            DateVal::Micros(2_932_896 * US_PER_DAY)
        );
        assert_eq!(
            parse_datetime_text(b"1000-01-01").unwrap(),
            DateVal::Micros(-354_285 * US_PER_DAY)
        );
        assert!(parse_datetime_text(b"2020-13-01").is_err());
        assert!(parse_datetime_text(b"garbage").is_err());
        assert_eq!(parse_time_text(b"01:02:03.25").unwrap(), 3_723_250_000);
        assert_eq!(parse_time_text(b"-838:59:59").unwrap(), -3_020_399_000_000);
        assert_eq!(parse_time_text(b"100:00:00").unwrap(), 360_000_000_000);
        assert!(parse_time_text(b"1:2").is_err());
        assert_eq!(parse_bit(&[0x01, 0x02]).unwrap(), 258);
        assert_eq!(parse_bit(&[0xff; 8]).unwrap(), u64::MAX);
        assert!(parse_bit(&[0; 9]).is_err());
    }

    #[test]
    fn columns_decode_binary_and_text_values() {
        let o = opts();
        let mut d = ColumnDecoder::new(Kind::Date, "d", 4, &o);
        d.push(Some(&MyValue::Date(1970, 1, 2, 0, 0, 0, 0)))
            .unwrap();
        d.push(Some(&MyValue::Date(0, 0, 0, 0, 0, 0, 0))).unwrap();
        d.push(Some(&MyValue::Bytes(b"1969-12-31".to_vec())))
            .unwrap();
        d.push(Some(&MyValue::NULL)).unwrap();
        let a = d.finish().unwrap();
        let a = a
            .as_any()
            .downcast_ref::<arrow_array::Date32Array>()
            .unwrap();
        assert_eq!(a.value(0), 1);
        assert!(a.is_null(1), "zero date → NULL");
        assert_eq!(a.value(2), -1);
        assert!(a.is_null(3));

        let strict = DecodeOptions {
            zero_date_as_null: false,
            ..o
        };
        let mut d = ColumnDecoder::new(Kind::Datetime, "d", 1, &strict);
        assert!(d.push(Some(&MyValue::Date(0, 0, 0, 0, 0, 0, 0))).is_err());

        let mut t = ColumnDecoder::new(Kind::Time, "t", 2, &o);
        t.push(Some(&MyValue::Time(false, 0, 23, 59, 59, 999_999)))
            .unwrap();
        t.push(Some(&MyValue::Bytes(b"12:00:00".to_vec()))).unwrap();
        let err = t
            .push(Some(&MyValue::Time(false, 1, 0, 0, 0, 0)))
            .unwrap_err();
        assert!(err.message.contains("24:00:00.000000"), "{}", err.message);
        assert!(t.push(Some(&MyValue::Time(true, 0, 0, 0, 1, 0))).is_err());

        // time_as_duration: the whole range, negative values included
        let mut du = ColumnDecoder::new(Kind::Duration, "du", 3, &o);
        du.push(Some(&MyValue::Time(false, 1, 2, 0, 0, 5))).unwrap();
        du.push(Some(&MyValue::Time(true, 0, 0, 0, 1, 0))).unwrap();
        du.push(Some(&MyValue::Bytes(b"-838:59:59".to_vec())))
            .unwrap();
        let a = du.finish().unwrap();
        assert_eq!(a.data_type(), &DataType::Duration(TimeUnit::Microsecond));
        let a = arrow_array::cast::AsArray::as_primitive::<
            arrow_array::types::DurationMicrosecondType,
        >(&a);
        assert_eq!(a.value(0), (26 * 3600) * 1_000_000 + 5);
        assert_eq!(a.value(1), -1_000_000);
        assert_eq!(a.value(2), -((838 * 3600 + 59 * 60 + 59) * 1_000_000));

        let mut u = ColumnDecoder::new(Kind::U64, "u", 2, &o);
        u.push(Some(&MyValue::UInt(u64::MAX))).unwrap();
        u.push(Some(&MyValue::Bytes(b"18446744073709551615".to_vec())))
            .unwrap();
        let a = u.finish().unwrap();
        let a = a
            .as_any()
            .downcast_ref::<arrow_array::UInt64Array>()
            .unwrap();
        assert_eq!(a.values().to_vec(), vec![u64::MAX, u64::MAX]);

        let mut i = ColumnDecoder::new(Kind::I8, "i", 2, &o);
        i.push(Some(&MyValue::Int(-128))).unwrap();
        assert!(i.push(Some(&MyValue::Int(128))).is_err());

        let mut y = ColumnDecoder::new(Kind::Year, "y", 2, &o);
        y.push(Some(&MyValue::Int(2155))).unwrap();
        y.push(Some(&MyValue::Int(0))).unwrap();
        let a = y.finish().unwrap();
        assert_eq!(a.null_count(), 1);

        let mut s = ColumnDecoder::new(Kind::Utf8, "s", 2, &o);
        s.push(Some(&MyValue::Bytes("😀".as_bytes().to_vec())))
            .unwrap();
        s.push(None).unwrap();
        let a = s.finish().unwrap();
        let a = a.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(a.value(0), "😀");
        assert!(a.is_null(1));

        let mut s = ColumnDecoder::new(Kind::Utf8, "bad", 1, &o);
        s.push(Some(&MyValue::Bytes(vec![0xff]))).unwrap();
        assert!(s.finish().unwrap_err().message.contains("\"bad\""));

        let mut b = ColumnDecoder::new(Kind::Binary, "b", 1, &o);
        b.push(Some(&MyValue::Bytes(vec![0, 255]))).unwrap();
        let a = b.finish().unwrap();
        let a = a.as_any().downcast_ref::<BinaryArray>().unwrap();
        assert_eq!(a.value(0), &[0, 255]);

        let kind = Kind::Decimal256 {
            precision: 65,
            scale: 30,
        };
        let mut dd = ColumnDecoder::new(kind, "d", 1, &o);
        dd.push(Some(&MyValue::Bytes(b"1.5".to_vec()))).unwrap();
        let a = dd.finish().unwrap();
        let a = a.as_any().downcast_ref::<Decimal256Array>().unwrap();
        assert_eq!(a.value_as_string(0), format!("1.5{}", "0".repeat(29)));

        let mut bit = ColumnDecoder::new(Kind::Bit, "b", 1, &o);
        bit.push(Some(&MyValue::Bytes(vec![1, 0]))).unwrap();
        let a = bit.finish().unwrap();
        let a = a
            .as_any()
            .downcast_ref::<arrow_array::UInt64Array>()
            .unwrap();
        assert_eq!(a.value(0), 256);
    }

    #[test]
    fn batches_from_rows() {
        use mysql_async::consts::ColumnType::*;
        let cols: Arc<[Column]> = vec![
            Column::new(MYSQL_TYPE_LONGLONG).with_name(b"id"),
            Column::new(MYSQL_TYPE_VAR_STRING)
                .with_name(b"s")
                .with_character_set(45),
            Column::new(MYSQL_TYPE_NULL).with_name(b"n"),
        ]
        .into();
        let (schema, kinds) = schema_for(&cols, &opts()).unwrap();
        assert_eq!(kinds, vec![Kind::I64, Kind::Utf8, Kind::Null]);
        let mut rows = RowDecoder::new(schema, &kinds, 2, &opts());
        for i in 0..2 {
            let row = [
                MyValue::Int(i),
                MyValue::Bytes(format!("r{i}").into_bytes()),
                MyValue::NULL,
            ];
            rows.push_cells(3, row.iter().map(Some)).unwrap();
        }
        assert!(rows.is_full());
        let b = rows.finish().unwrap();
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.column(2).len(), 2);
        assert_eq!(rows.rows, 0);
    }
}
