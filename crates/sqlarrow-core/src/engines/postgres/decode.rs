//! PostgreSQL binary wire values → Arrow buffers.
//!
//! The same per-column decoders serve binary `COPY` tuples and binary-format
//! `DataRow`s, since both carry each field in PostgreSQL's binary send format.

use std::sync::Arc;

use arrow_array::types::{
    Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, IntervalMonthDayNanoType, Time64MicrosecondType, TimestampMicrosecondType,
    UInt32Type, UInt64Type,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_buffer::{i256, IntervalMonthDayNano};
use arrow_schema::{DataType, Field, IntervalUnit, Schema, SchemaRef, TimeUnit};
use tokio_postgres::types::{Kind, Type};

use crate::builders::{BoolBuf, FixedBuf, PrimBuf, VarBuf};
use crate::error::{Error, Result};
use crate::types::{json_field, timestamp_us, uuid_field};

/// Days from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// Precision and scale used for `numeric` columns without a declared typmod.
pub const UNCONSTRAINED_NUMERIC: (u8, i8) = (38, 18);

/// How one result column is decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PgKind {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    /// `xid8` (a 64-bit transaction id): UInt64.
    Xid8,
    Float4,
    Float8,
    /// Declared (or default) precision and scale; `declared` is false for bare `numeric`.
    Numeric {
        precision: u8,
        scale: i8,
        declared: bool,
    },
    Text,
    Bytea,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Interval,
    Uuid,
    Json,
    Jsonb,
    /// `void` (e.g. `pg_sleep()`): an all-NULL column.
    Void,
    /// `uuid` returned as its canonical text (`uuid_as="string"`).
    UuidText,
    /// A user-defined enum: dictionary-encoded labels.
    Enum,
    Inet,
    Cidr,
    MacAddr,
    MacAddr8,
    Money,
    TsVector,
    /// `bit(n)` / `varbit`: the bits as '0'/'1' text.
    Bits,
    /// `timetz`: its text (`12:00:00+02`); Arrow has no time with an offset.
    TimeTz,
    /// `pg_lsn`: its text (`16/B374D848`).
    Lsn,
    /// `ltree`, `lquery`, `ltxtquery` (extension types known by name): a version byte,
    /// then the text.
    VersionedText,
    /// `hstore` (extension type known by name): a JSON object of text values or nulls.
    Hstore,
    /// A range (`int4range`, `tstzrange`, ... or a user's range over one of those
    /// element types): its text (`[1,5)`, `empty`).
    Range(RangeSub),
    /// A built-in multirange (`int4multirange`, ...): its text (`{[1,3),[5,7)}`).
    Multirange(RangeSub),
    /// A geometric type (`point`, `box`, ...): its text (`(1,2)`, `<(0,0),1.5>`).
    Geometry(Geo),
    /// `tsquery`: its text (`'a' & !'b'`).
    TsQuery,
    /// `tid` (a row's `ctid`): its text (`(0,1)`).
    Tid,
    /// `pg_snapshot` / `txid_snapshot`: its text (`10:20:10,14,15`).
    Snapshot,
}

/// PostgreSQL's geometric types.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Geo {
    Point,
    Line,
    Lseg,
    Box,
    Path,
    Polygon,
    Circle,
}

/// The element type of a range that can be read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RangeSub {
    Int4,
    Int8,
    Numeric,
    Date,
    Timestamp,
    TimestampTz,
}

fn range_sub(ty: &Type) -> Option<RangeSub> {
    Some(match *ty {
        Type::INT4 => RangeSub::Int4,
        Type::INT8 => RangeSub::Int8,
        Type::NUMERIC => RangeSub::Numeric,
        Type::DATE => RangeSub::Date,
        Type::TIMESTAMP => RangeSub::Timestamp,
        Type::TIMESTAMPTZ => RangeSub::TimestampTz,
        _ => return None,
    })
}

/// Resolve the decoder for a column type; domains decode as their base type and
/// enums as their label text.
pub fn kind_of(ty: &Type, typmod: i32) -> Option<PgKind> {
    use PgKind::*;
    let k = match *ty {
        Type::BOOL => Bool,
        Type::INT2 => Int2,
        Type::INT4 => Int4,
        Type::INT8 => Int8,
        Type::OID
        | Type::XID
        | Type::CID
        | Type::REGCLASS
        | Type::REGPROC
        | Type::REGTYPE
        | Type::REGPROCEDURE
        | Type::REGOPER
        | Type::REGOPERATOR
        | Type::REGCONFIG
        | Type::REGDICTIONARY
        | Type::REGNAMESPACE
        | Type::REGROLE
        | Type::REGCOLLATION => Oid,
        Type::XID8 => Xid8,
        Type::TID => Tid,
        Type::PG_SNAPSHOT | Type::TXID_SNAPSHOT => Snapshot,
        Type::FLOAT4 => Float4,
        Type::FLOAT8 => Float8,
        Type::NUMERIC => {
            if typmod >= 4 {
                match crate::schema::mapping::pg_numeric_typmod(typmod) {
                    Some((precision, scale)) => Numeric {
                        precision,
                        scale,
                        declared: true,
                    },
                    None => return None,
                }
            } else {
                Numeric {
                    precision: UNCONSTRAINED_NUMERIC.0,
                    scale: UNCONSTRAINED_NUMERIC.1,
                    declared: false,
                }
            }
        }
        Type::TEXT
        | Type::VARCHAR
        | Type::BPCHAR
        | Type::NAME
        | Type::CHAR
        | Type::UNKNOWN
        | Type::XML => Text,
        Type::BYTEA => Bytea,
        Type::DATE => Date,
        Type::TIME => Time,
        Type::TIMESTAMP => Timestamp,
        Type::TIMESTAMPTZ => TimestampTz,
        Type::INTERVAL => Interval,
        Type::UUID => Uuid,
        Type::JSON => Json,
        Type::JSONB => Jsonb,
        Type::VOID => Void,
        Type::INET => Inet,
        Type::CIDR => Cidr,
        Type::MACADDR => MacAddr,
        Type::MACADDR8 => MacAddr8,
        Type::MONEY => Money,
        Type::TS_VECTOR => TsVector,
        Type::TSQUERY => TsQuery,
        Type::BIT | Type::VARBIT => Bits,
        Type::TIMETZ => TimeTz,
        Type::PG_LSN => Lsn,
        // A version byte, then the text, as ltree's.
        Type::JSONPATH => VersionedText,
        Type::POINT => Geometry(Geo::Point),
        Type::LINE => Geometry(Geo::Line),
        Type::LSEG => Geometry(Geo::Lseg),
        Type::BOX => Geometry(Geo::Box),
        Type::PATH => Geometry(Geo::Path),
        Type::POLYGON => Geometry(Geo::Polygon),
        Type::CIRCLE => Geometry(Geo::Circle),
        _ => match ty.kind() {
            Kind::Enum(_) => Enum,
            Kind::Domain(base) => return kind_of(base, typmod),
            Kind::Range(sub) => Range(range_sub(sub)?),
            Kind::Multirange(sub) => Multirange(range_sub(sub)?),
            // Redshift-only types, known by name (their OIDs are not PostgreSQL's).
            _ => match ty.name() {
                "super" => Json,
                "varbyte" | "geometry" | "geography" => Bytea,
                "citext" => Text,
                // Extension types (their OIDs differ per database).
                "ltree" | "lquery" | "ltxtquery" => VersionedText,
                "hstore" => Hstore,
                _ => return None,
            },
        },
    };
    Some(k)
}

/// The Arrow field for a column of `kind`.
pub fn field_for(name: &str, kind: PgKind) -> Field {
    use PgKind::*;
    let dt = match kind {
        Bool => DataType::Boolean,
        Int2 => DataType::Int16,
        Int4 => DataType::Int32,
        Int8 => DataType::Int64,
        Oid => DataType::UInt32,
        Xid8 => DataType::UInt64,
        Float4 => DataType::Float32,
        Float8 => DataType::Float64,
        Numeric {
            precision, scale, ..
        } if precision <= 38 => DataType::Decimal128(precision, scale),
        Numeric {
            precision, scale, ..
        } => DataType::Decimal256(precision, scale),
        Text => DataType::Utf8,
        Bytea => DataType::Binary,
        Date => DataType::Date32,
        Time => DataType::Time64(TimeUnit::Microsecond),
        Timestamp => timestamp_us(false),
        TimestampTz => timestamp_us(true),
        Interval => DataType::Interval(IntervalUnit::MonthDayNano),
        Void => DataType::Null,
        Enum => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        Inet | Cidr | MacAddr | MacAddr8 | Money | TsVector | UuidText | Bits | TimeTz | Lsn
        | VersionedText | Range(_) | Multirange(_) | Geometry(_) | TsQuery | Tid | Snapshot => {
            DataType::Utf8
        }
        Uuid => return uuid_field(name, true),
        Json | Jsonb | Hstore => return json_field(name, true),
    };
    Field::new(name, dt, true)
}

enum Buf {
    Bool(BoolBuf),
    I16(PrimBuf<i16>),
    I32(PrimBuf<i32>),
    I64(PrimBuf<i64>),
    U32(PrimBuf<u32>),
    U64(PrimBuf<u64>),
    F32(PrimBuf<f32>),
    F64(PrimBuf<f64>),
    D128(PrimBuf<i128>),
    D256(PrimBuf<i256>),
    Var(VarBuf),
    Fixed(FixedBuf),
    Iv(PrimBuf<IntervalMonthDayNano>),
    Null(usize),
    Dict(Box<DictBuf>),
    List(Box<ListBuf>),
}

/// Dictionary-encoded text (enum labels): one dictionary per batch.
struct DictBuf {
    keys: PrimBuf<i32>,
    values: VarBuf,
    index: std::collections::HashMap<Box<[u8]>, i32>,
}

/// A one-dimensional array column: offsets and validity here, elements in `child`.
struct ListBuf {
    offsets: Vec<i32>,
    nulls: arrow_buffer::NullBufferBuilder,
    child: ColumnDecoder,
    item: arrow_schema::FieldRef,
}

/// Where one field of a buffered tuple lies in the read buffer: its offset and its
/// length (negative for SQL NULL).
#[derive(Clone, Copy, Default, Debug)]
pub struct FieldAt {
    pub off: u32,
    pub len: i32,
}

impl FieldAt {
    #[inline(always)]
    fn slice(self, data: &[u8]) -> &[u8] {
        let start = self.off as usize;
        &data[start..start + self.len as usize]
    }
}

/// One column's decoder and buffer.
pub struct ColumnDecoder {
    kind: PgKind,
    name: Arc<str>,
    data_type: DataType,
    buf: Buf,
}

#[inline]
fn be_i16(b: &[u8]) -> i16 {
    i16::from_be_bytes([b[0], b[1]])
}
#[inline]
fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
#[inline]
fn be_i64(b: &[u8]) -> i64 {
    i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

impl ColumnDecoder {
    pub fn new(name: &str, kind: PgKind, data_type: DataType, capacity: usize) -> Self {
        use PgKind::*;
        let buf = match kind {
            Bool => Buf::Bool(BoolBuf::with_capacity(capacity)),
            Int2 => Buf::I16(PrimBuf::with_capacity(capacity)),
            Int4 | Date => Buf::I32(PrimBuf::with_capacity(capacity)),
            Int8 | Time | Timestamp | TimestampTz => Buf::I64(PrimBuf::with_capacity(capacity)),
            Oid => Buf::U32(PrimBuf::with_capacity(capacity)),
            Xid8 => Buf::U64(PrimBuf::with_capacity(capacity)),
            Float4 => Buf::F32(PrimBuf::with_capacity(capacity)),
            Float8 => Buf::F64(PrimBuf::with_capacity(capacity)),
            Numeric { precision, .. } if precision <= 38 => {
                Buf::D128(PrimBuf::with_capacity(capacity))
            }
            Numeric { .. } => Buf::D256(PrimBuf::with_capacity(capacity)),
            Text | Json | Jsonb => Buf::Var(VarBuf::with_capacity(capacity, capacity * 16)),
            Bytea => Buf::Var(VarBuf::with_capacity(capacity, capacity * 16)),
            Uuid => Buf::Fixed(FixedBuf::with_capacity(16, capacity)),
            Interval => Buf::Iv(PrimBuf::with_capacity(capacity)),
            Void => Buf::Null(0),
            Enum => Buf::Dict(Box::new(DictBuf {
                keys: PrimBuf::with_capacity(capacity),
                values: VarBuf::with_capacity(16, 256),
                index: Default::default(),
            })),
            Inet | Cidr | MacAddr | MacAddr8 | Money | TsVector | Bits | TimeTz | Lsn
            | VersionedText | Hstore | Range(_) | Multirange(_) | Geometry(_) | TsQuery | Tid
            | Snapshot => Buf::Var(VarBuf::with_capacity(capacity, capacity * 16)),
            UuidText => Buf::Var(VarBuf::with_capacity(capacity, capacity * 36)),
        };
        let buf = match &data_type {
            DataType::List(item) => {
                let mut offsets = Vec::with_capacity(crate::builders::start_capacity(capacity) + 1);
                offsets.push(0);
                Buf::List(Box::new(ListBuf {
                    offsets,
                    nulls: arrow_buffer::NullBufferBuilder::new(crate::builders::start_capacity(
                        capacity,
                    )),
                    child: ColumnDecoder::new(name, kind, item.data_type().clone(), capacity),
                    item: item.clone(),
                }))
            }
            _ => buf,
        };
        ColumnDecoder {
            kind,
            name: Arc::from(name),
            data_type,
            buf,
        }
    }

    /// Append one field: `None` is SQL NULL, otherwise the binary send format.
    #[inline]
    pub fn push(&mut self, raw: Option<&[u8]>) -> Result<()> {
        let Some(v) = raw else {
            self.push_null();
            return Ok(());
        };
        let kind = self.kind;
        let name = &self.name;
        let bad = || bad_len(name, kind, v.len());
        match (&mut self.buf, kind) {
            (Buf::List(l), _) => return l.push_array(v, name),
            (Buf::Dict(d), _) => {
                let next = d.index.len() as i32;
                let key = match d.index.get(v) {
                    Some(k) => *k,
                    None => {
                        d.values.push(v)?;
                        d.index.insert(v.into(), next);
                        next
                    }
                };
                d.keys.push(key);
            }
            (Buf::Var(b), PgKind::UuidText) => {
                if v.len() != 16 {
                    return Err(bad());
                }
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut text = [0u8; 36];
                let mut k = 0;
                for (i, byte) in v.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        text[k] = b'-';
                        k += 1;
                    }
                    text[k] = HEX[(byte >> 4) as usize];
                    text[k + 1] = HEX[(byte & 15) as usize];
                    k += 2;
                }
                b.push(&text)?
            }
            (
                Buf::Var(b),
                PgKind::Inet
                | PgKind::Cidr
                | PgKind::MacAddr
                | PgKind::MacAddr8
                | PgKind::Money
                | PgKind::TsVector
                | PgKind::Bits
                | PgKind::TimeTz
                | PgKind::Lsn
                | PgKind::VersionedText
                | PgKind::Hstore
                | PgKind::Range(_)
                | PgKind::Multirange(_)
                | PgKind::Geometry(_)
                | PgKind::TsQuery
                | PgKind::Tid
                | PgKind::Snapshot,
            ) => {
                let text = format_special(kind, v).ok_or_else(bad)?;
                b.push(text.as_bytes())?
            }
            (Buf::Bool(b), _) => {
                if v.len() != 1 {
                    return Err(bad());
                }
                b.push(v[0] != 0)
            }
            (Buf::I16(b), _) => {
                if v.len() != 2 {
                    return Err(bad());
                }
                b.push(be_i16(v))
            }
            (Buf::I32(b), PgKind::Date) => {
                if v.len() != 4 {
                    return Err(bad());
                }
                let d = be_i32(v);
                if d == i32::MAX || d == i32::MIN {
                    return Err(infinity(name, "date"));
                }
                b.push(d + PG_EPOCH_DAYS)
            }
            (Buf::I32(b), _) => {
                if v.len() != 4 {
                    return Err(bad());
                }
                b.push(be_i32(v))
            }
            (Buf::U32(b), _) => {
                if v.len() != 4 {
                    return Err(bad());
                }
                b.push(be_i32(v) as u32)
            }
            (Buf::U64(b), _) => {
                if v.len() != 8 {
                    return Err(bad());
                }
                b.push(be_i64(v) as u64)
            }
            (Buf::I64(b), PgKind::Timestamp | PgKind::TimestampTz) => {
                if v.len() != 8 {
                    return Err(bad());
                }
                let t = be_i64(v);
                if t == i64::MAX || t == i64::MIN {
                    return Err(infinity(name, "timestamp"));
                }
                b.push(t + PG_EPOCH_US)
            }
            (Buf::I64(b), _) => {
                if v.len() != 8 {
                    return Err(bad());
                }
                b.push(be_i64(v))
            }
            (Buf::F32(b), _) => {
                if v.len() != 4 {
                    return Err(bad());
                }
                b.push(f32::from_bits(be_i32(v) as u32))
            }
            (Buf::F64(b), _) => {
                if v.len() != 8 {
                    return Err(bad());
                }
                b.push(f64::from_bits(be_i64(v) as u64))
            }
            (
                Buf::D128(b),
                PgKind::Numeric {
                    precision,
                    scale,
                    declared,
                },
            ) => {
                let x = decode_numeric_i128(v, scale, precision)
                    .map_err(|e| numeric_err(name, kind, e, declared))?;
                b.push(x)
            }
            (
                Buf::D256(b),
                PgKind::Numeric {
                    precision,
                    scale,
                    declared,
                },
            ) => {
                let x = decode_numeric_i256(v, scale, precision)
                    .map_err(|e| numeric_err(name, kind, e, declared))?;
                b.push(x)
            }
            (Buf::Var(b), PgKind::Jsonb) => {
                // jsonb's binary format: a version byte (1) then the JSON text.
                match v.split_first() {
                    Some((1, text)) => b.push(text)?,
                    _ => {
                        return Err(Error::data(format!(
                            "column \"{name}\": unknown jsonb binary version"
                        )))
                    }
                }
            }
            (Buf::Var(b), _) => b.push(v)?,
            (Buf::Fixed(b), _) => b.push(v).map_err(|_| bad())?,
            (Buf::Null(n), _) => *n += 1,
            (Buf::Iv(b), _) => {
                if v.len() != 16 {
                    return Err(bad());
                }
                let micros = be_i64(&v[..8]);
                let days = be_i32(&v[8..12]);
                let months = be_i32(&v[12..16]);
                b.push(IntervalMonthDayNano::new(
                    months,
                    days,
                    micros.saturating_mul(1000),
                ))
            }
            (_, k) => {
                return Err(Error::data(format!("internal: no decoder for {k:?}")));
            }
        }
        Ok(())
    }

    /// Append one column's values for a block of buffered tuples (`fields[t]` is
    /// where tuple `t`'s field lies in `data`): one type dispatch per block instead of
    /// one per value, and a tight loop per type. Types without a loop of their own go
    /// through [`ColumnDecoder::push`] value by value.
    pub fn push_block(&mut self, data: &[u8], fields: &[FieldAt]) -> Result<()> {
        let kind = self.kind;
        // Each arm loops over the block and returns; `$e` may `return Err(..)`.
        macro_rules! each {
            ($b:expr, $width:expr, |$v:ident| $e:expr) => {{
                for &f in fields {
                    if f.len < 0 {
                        $b.push_null();
                        continue;
                    }
                    let $v = f.slice(data);
                    if $width != 0 && $v.len() != $width {
                        return Err(bad_len(&self.name, kind, $v.len()));
                    }
                    $b.push($e);
                }
                return Ok(());
            }};
        }
        match (&mut self.buf, kind) {
            (Buf::Bool(b), PgKind::Bool) => each!(b, 1, |v| v[0] != 0),
            (Buf::I16(b), PgKind::Int2) => each!(b, 2, |v| be_i16(v)),
            (Buf::I32(b), PgKind::Int4) => each!(b, 4, |v| be_i32(v)),
            (Buf::I32(b), PgKind::Date) => each!(b, 4, |v| {
                let d = be_i32(v);
                if d == i32::MAX || d == i32::MIN {
                    return Err(infinity(&self.name, "date"));
                }
                d + PG_EPOCH_DAYS
            }),
            (Buf::I64(b), PgKind::Int8 | PgKind::Time) => each!(b, 8, |v| be_i64(v)),
            (Buf::I64(b), PgKind::Timestamp | PgKind::TimestampTz) => each!(b, 8, |v| {
                let t = be_i64(v);
                if t == i64::MAX || t == i64::MIN {
                    return Err(infinity(&self.name, "timestamp"));
                }
                t + PG_EPOCH_US
            }),
            (Buf::F32(b), PgKind::Float4) => each!(b, 4, |v| f32::from_bits(be_i32(v) as u32)),
            (Buf::F64(b), PgKind::Float8) => each!(b, 8, |v| f64::from_bits(be_i64(v) as u64)),
            (
                Buf::D128(b),
                PgKind::Numeric {
                    precision,
                    scale,
                    declared,
                },
            ) => each!(b, 0, |v| decode_numeric_i128(v, scale, precision)
                .map_err(|e| numeric_err(&self.name, kind, e, declared))?),
            (Buf::Var(b), PgKind::Text | PgKind::Json | PgKind::Bytea) => {
                for &f in fields {
                    if f.len < 0 {
                        b.push_null();
                    } else {
                        b.push(f.slice(data))?;
                    }
                }
                return Ok(());
            }
            (Buf::Fixed(b), PgKind::Uuid) => {
                for &f in fields {
                    if f.len < 0 {
                        b.push_null();
                    } else {
                        let v = f.slice(data);
                        b.push(v).map_err(|_| bad_len(&self.name, kind, v.len()))?;
                    }
                }
                return Ok(());
            }
            _ => {}
        }
        for &f in fields {
            if f.len < 0 {
                self.push_null();
            } else {
                self.push(Some(f.slice(data)))?;
            }
        }
        Ok(())
    }

    #[inline]
    pub fn push_null(&mut self) {
        match &mut self.buf {
            Buf::Bool(b) => b.push_null(),
            Buf::I16(b) => b.push_null(),
            Buf::I32(b) => b.push_null(),
            Buf::I64(b) => b.push_null(),
            Buf::U32(b) => b.push_null(),
            Buf::U64(b) => b.push_null(),
            Buf::F32(b) => b.push_null(),
            Buf::F64(b) => b.push_null(),
            Buf::D128(b) => b.push_null(),
            Buf::D256(b) => b.push_null(),
            Buf::Var(b) => b.push_null(),
            Buf::Fixed(b) => b.push_null(),
            Buf::Iv(b) => b.push_null(),
            Buf::Null(n) => *n += 1,
            Buf::Dict(d) => d.keys.push_null(),
            Buf::List(l) => {
                l.offsets.push(*l.offsets.last().unwrap_or(&0));
                l.nulls.append_null();
            }
        }
    }

    /// Bytes buffered so far (to cut batches before they grow too large).
    pub fn byte_size(&self) -> usize {
        match &self.buf {
            Buf::Var(b) => b.byte_size(),
            Buf::Fixed(b) => b.values.len(),
            Buf::Bool(b) => b.len() / 8,
            Buf::I16(b) => b.byte_size(),
            Buf::I32(b) => b.byte_size(),
            Buf::I64(b) => b.byte_size(),
            Buf::U32(b) => b.byte_size(),
            Buf::U64(b) => b.byte_size(),
            Buf::F32(b) => b.byte_size(),
            Buf::F64(b) => b.byte_size(),
            Buf::D128(b) => b.byte_size(),
            Buf::D256(b) => b.byte_size(),
            Buf::Iv(b) => b.byte_size(),
            Buf::Null(_) => 0,
            Buf::Dict(d) => d.keys.byte_size() + d.values.byte_size(),
            Buf::List(l) => l.offsets.len() * 4 + l.child.byte_size(),
        }
    }

    pub fn finish(&mut self) -> Result<ArrayRef> {
        let dt = &self.data_type;
        match &mut self.buf {
            Buf::Bool(b) => b.finish(),
            Buf::I16(b) => b.finish::<Int16Type>(dt),
            Buf::I32(b) if matches!(self.kind, PgKind::Date) => b.finish::<Date32Type>(dt),
            Buf::I32(b) => b.finish::<Int32Type>(dt),
            Buf::I64(b) => match self.kind {
                PgKind::Time => b.finish::<Time64MicrosecondType>(dt),
                PgKind::Timestamp | PgKind::TimestampTz => b.finish::<TimestampMicrosecondType>(dt),
                _ => b.finish::<Int64Type>(dt),
            },
            Buf::U32(b) => b.finish::<UInt32Type>(dt),
            Buf::U64(b) => b.finish::<UInt64Type>(dt),
            Buf::F32(b) => b.finish::<Float32Type>(dt),
            Buf::F64(b) => b.finish::<Float64Type>(dt),
            Buf::D128(b) => b.finish::<Decimal128Type>(dt),
            Buf::D256(b) => b.finish::<Decimal256Type>(dt),
            Buf::Var(b) if matches!(self.kind, PgKind::Bytea) => b.finish_binary(),
            Buf::Var(b) => b
                .finish_utf8(dt)
                .map_err(|e| e.context(format!("column \"{}\"", self.name))),
            Buf::Fixed(b) => b.finish(),
            Buf::Iv(b) => b.finish::<IntervalMonthDayNanoType>(dt),
            Buf::Null(n) => Ok(Arc::new(arrow_array::NullArray::new(std::mem::take(n)))),
            Buf::Dict(d) => {
                let keys = d.keys.finish::<Int32Type>(&DataType::Int32)?;
                let values = d.values.finish_utf8(&DataType::Utf8)?;
                d.index.clear();
                let keys = keys
                    .as_any()
                    .downcast_ref::<arrow_array::Int32Array>()
                    .cloned()
                    .ok_or_else(|| Error::data("internal: dictionary keys"))?;
                Ok(Arc::new(
                    arrow_array::DictionaryArray::<Int32Type>::try_new(keys, values)?,
                ))
            }
            Buf::List(l) => {
                let values = l.child.finish()?;
                let offsets = std::mem::replace(&mut l.offsets, vec![0]);
                let offsets =
                    arrow_buffer::OffsetBuffer::new(arrow_buffer::ScalarBuffer::from(offsets));
                Ok(Arc::new(arrow_array::ListArray::try_new(
                    l.item.clone(),
                    offsets,
                    values,
                    l.nulls.finish(),
                )?))
            }
        }
    }
}

impl ListBuf {
    /// Decode a binary array value (one dimension) into the child column.
    fn push_array(&mut self, v: &[u8], name: &str) -> Result<()> {
        let bad = || Error::data(format!("column \"{name}\": malformed array value"));
        if v.len() < 12 {
            return Err(bad());
        }
        let ndim = be_i32(&v[0..4]);
        let mut pos = 12usize;
        let count =
            match ndim {
                0 => 0usize,
                1 => {
                    if v.len() < 20 {
                        return Err(bad());
                    }
                    pos = 20;
                    usize::try_from(be_i32(&v[12..16])).map_err(|_| bad())?
                }
                n => return Err(Error::unsupported_type(
                    name,
                    &format!("{n}-dimensional array"),
                    "only one-dimensional arrays convert to Arrow lists; unnest it or cast to text",
                )),
            };
        for _ in 0..count {
            if v.len() < pos + 4 {
                return Err(bad());
            }
            let len = be_i32(&v[pos..pos + 4]);
            pos += 4;
            if len < 0 {
                self.child.push_null();
            } else {
                let end = pos + len as usize;
                if v.len() < end {
                    return Err(bad());
                }
                self.child.push(Some(&v[pos..end]))?;
                pos = end;
            }
        }
        let last = *self.offsets.last().unwrap_or(&0);
        let next = i32::try_from(last as usize + count).map_err(|_| {
            Error::data(
                "an array column exceeds 2^31 elements in one batch; use a smaller batch_size",
            )
        })?;
        self.offsets.push(next);
        self.nulls.append_non_null();
        Ok(())
    }
}

/// Text for types sqlarrow returns as strings (the server's text form).
pub(crate) fn format_special(kind: PgKind, v: &[u8]) -> Option<String> {
    match kind {
        PgKind::Inet | PgKind::Cidr => {
            if v.len() < 4 {
                return None;
            }
            let (family, bits, nb) = (v[0], v[1], v[3] as usize);
            let addr = v.get(4..4 + nb)?;
            let (text, full) = match (family, nb) {
                (2, 4) => (
                    std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
                    32,
                ),
                (3, 16) => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(addr);
                    (std::net::Ipv6Addr::from(a).to_string(), 128)
                }
                _ => return None,
            };
            Some(if kind == PgKind::Inet && bits == full {
                text
            } else {
                format!("{text}/{bits}")
            })
        }
        PgKind::MacAddr | PgKind::MacAddr8 => Some(
            v.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
        ),
        PgKind::Money => {
            let c = i64::from_be_bytes(v.try_into().ok()?);
            let sign = if c < 0 { "-" } else { "" };
            let a = c.unsigned_abs();
            Some(format!("{sign}{}.{:02}", a / 100, a % 100))
        }
        PgKind::TsVector => {
            let n = usize::try_from(be_i32(v.get(0..4)?)).ok()?;
            let mut pos = 4;
            // (A count from the value itself: capacity within what its bytes can hold.)
            let mut parts = Vec::with_capacity(n.min(v.len() / 3));
            for _ in 0..n {
                let end = pos + v.get(pos..)?.iter().position(|b| *b == 0)?;
                let lex = std::str::from_utf8(&v[pos..end]).ok()?;
                pos = end + 1;
                let np = u16::from_be_bytes([*v.get(pos)?, *v.get(pos + 1)?]) as usize;
                pos += 2;
                let mut s = format!("'{}'", lex.replace('\\', "\\\\").replace('\'', "''"));
                for k in 0..np {
                    let w = u16::from_be_bytes([*v.get(pos)?, *v.get(pos + 1)?]);
                    pos += 2;
                    s.push(if k == 0 { ':' } else { ',' });
                    s.push_str(&(w & 0x3fff).to_string());
                    match w >> 14 {
                        3 => s.push('A'),
                        2 => s.push('B'),
                        1 => s.push('C'),
                        _ => {}
                    }
                }
                parts.push(s);
            }
            Some(parts.join(" "))
        }
        PgKind::Bits => {
            let n = usize::try_from(be_i32(v.get(0..4)?)).ok()?;
            let bytes = v.get(4..4 + n.div_ceil(8))?;
            Some(
                (0..n)
                    .map(|i| {
                        if bytes[i / 8] & (0x80 >> (i % 8)) != 0 {
                            '1'
                        } else {
                            '0'
                        }
                    })
                    .collect(),
            )
        }
        PgKind::TimeTz => {
            if v.len() != 12 {
                return None;
            }
            let us = be_i64(&v[0..8]);
            // Seconds west of UTC: the offset shown is its negation.
            let west = be_i32(&v[8..12]);
            let mut s = format_time_of_day(us)?;
            let east = -i64::from(west);
            let a = east.unsigned_abs();
            s.push(if east < 0 { '-' } else { '+' });
            s.push_str(&format!("{:02}", a / 3600));
            if a % 3600 != 0 {
                s.push_str(&format!(":{:02}", (a / 60) % 60));
                if a % 60 != 0 {
                    s.push_str(&format!(":{:02}", a % 60));
                }
            }
            Some(s)
        }
        PgKind::Lsn => {
            let x = u64::from_be_bytes(v.try_into().ok()?);
            Some(format!("{:X}/{:X}", x >> 32, x & 0xFFFF_FFFF))
        }
        PgKind::VersionedText => match v.split_first() {
            Some((1, text)) => Some(std::str::from_utf8(text).ok()?.to_string()),
            _ => None,
        },
        PgKind::Hstore => {
            let n = usize::try_from(be_i32(v.get(0..4)?)).ok()?;
            let mut pos = 4;
            let take = |pos: &mut usize| -> Option<Option<&str>> {
                let len = be_i32(v.get(*pos..*pos + 4)?);
                *pos += 4;
                if len < 0 {
                    return Some(None);
                }
                let bytes = v.get(*pos..*pos + len as usize)?;
                *pos += len as usize;
                Some(Some(std::str::from_utf8(bytes).ok()?))
            };
            // Each pair takes at least 8 bytes; a larger count is malformed.
            if n > v.len() / 8 {
                return None;
            }
            let mut out = String::with_capacity(v.len() + 4 * n + 2);
            out.push('{');
            for i in 0..n {
                let key = take(&mut pos)??;
                let value = take(&mut pos)?;
                if i > 0 {
                    out.push_str(", ");
                }
                crate::write::json_string(key, &mut out);
                out.push_str(": ");
                match value {
                    Some(value) => crate::write::json_string(value, &mut out),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
            (pos == v.len()).then_some(out)
        }
        PgKind::Geometry(geo) => format_geometry(geo, v),
        PgKind::TsQuery => format_tsquery(v),
        PgKind::Tid => {
            if v.len() != 6 {
                return None;
            }
            let block = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
            let offset = u16::from_be_bytes([v[4], v[5]]);
            Some(format!("({block},{offset})"))
        }
        PgKind::Snapshot => {
            // The count of in-progress ids, xmin, xmax, then those ids.
            let n = usize::try_from(be_i32(v.get(0..4)?)).ok()?;
            if v.len() != 20 + n.checked_mul(8)? {
                return None;
            }
            let id = |i: usize| u64::from_be_bytes(v[i..i + 8].try_into().unwrap_or([0; 8]));
            let xips: Vec<String> = (0..n).map(|k| id(20 + 8 * k).to_string()).collect();
            Some(format!("{}:{}:{}", id(4), id(12), xips.join(",")))
        }
        PgKind::Range(sub) => {
            let mut out = String::with_capacity(v.len() * 2 + 8);
            format_range(sub, v, &mut out)?;
            Some(out)
        }
        PgKind::Multirange(sub) => {
            let n = usize::try_from(be_i32(v.get(0..4)?)).ok()?;
            // Each range takes at least 5 bytes (its length and flags).
            if n > v.len() / 5 {
                return None;
            }
            let mut out = String::with_capacity(v.len() * 2 + 2);
            out.push('{');
            let mut pos = 4;
            for i in 0..n {
                let len = usize::try_from(be_i32(v.get(pos..pos + 4)?)).ok()?;
                let range = v.get(pos + 4..pos + 4 + len)?;
                pos += 4 + len;
                if i > 0 {
                    out.push(',');
                }
                format_range(sub, range, &mut out)?;
            }
            out.push('}');
            (pos == v.len()).then_some(out)
        }
        _ => None,
    }
}

/// PostgreSQL's text of a geometric value in binary form (`point_send` and kin): its
/// coordinates as `float8out` prints them.
fn format_geometry(geo: Geo, v: &[u8]) -> Option<String> {
    let f = |at: usize| -> Option<f64> {
        Some(f64::from_be_bytes(v.get(at..at + 8)?.try_into().ok()?))
    };
    let point = |out: &mut String, at: usize| -> Option<()> {
        let (x, y) = (f(at)?, f(at + 8)?);
        out.push('(');
        out.push_str(&float8_text(x));
        out.push(',');
        out.push_str(&float8_text(y));
        out.push(')');
        Some(())
    };
    let floats = |n: usize| (v.len() == n * 8).then_some(());
    let mut out = String::with_capacity(v.len() * 3);
    match geo {
        Geo::Point => {
            floats(2)?;
            point(&mut out, 0)?;
        }
        Geo::Line => {
            floats(3)?;
            out.push('{');
            out.push_str(&float8_text(f(0)?));
            out.push(',');
            out.push_str(&float8_text(f(8)?));
            out.push(',');
            out.push_str(&float8_text(f(16)?));
            out.push('}');
        }
        Geo::Lseg | Geo::Box => {
            floats(4)?;
            let (open, close) = if geo == Geo::Lseg {
                ("[", "]")
            } else {
                ("", "")
            };
            out.push_str(open);
            point(&mut out, 0)?;
            out.push(',');
            point(&mut out, 16)?;
            out.push_str(close);
        }
        Geo::Circle => {
            floats(3)?;
            out.push('<');
            point(&mut out, 0)?;
            out.push(',');
            out.push_str(&float8_text(f(16)?));
            out.push('>');
        }
        Geo::Path | Geo::Polygon => {
            let (closed, at) = if geo == Geo::Path {
                (*v.first()? != 0, 1)
            } else {
                (true, 0)
            };
            let n = usize::try_from(be_i32(v.get(at..at + 4)?)).ok()?;
            if v.len() != at + 4 + n.checked_mul(16)? {
                return None;
            }
            out.push(if closed { '(' } else { '[' });
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                point(&mut out, at + 4 + i * 16)?;
            }
            out.push(if closed { ')' } else { ']' });
        }
    }
    Some(out)
}

/// PostgreSQL's text of a `tsquery` in binary form (`tsquerysend`): its items in
/// prefix order (an operator, then its right operand, then its left), printed infix
/// with the parentheses and quoting `tsqueryout` uses. Built bottom-up from the last
/// item, so a deep query needs no deep recursion.
fn format_tsquery(v: &[u8]) -> Option<String> {
    const NOT: u8 = 1;
    const AND: u8 = 2;
    const OR: u8 = 3;
    const PHRASE: u8 = 4;
    let priority = |op: u8| match op {
        NOT => 4,
        PHRASE => 3,
        AND => 2,
        _ => 1,
    };
    enum Item<'a> {
        Val {
            weight: u8,
            prefix: bool,
            text: &'a [u8],
        },
        Op {
            op: u8,
            distance: i16,
        },
    }
    let n = usize::try_from(be_i32(v.get(0..4)?)).ok()?;
    // Every item takes at least 2 bytes.
    if n > v.len() / 2 {
        return None;
    }
    let mut items = Vec::with_capacity(n);
    let mut pos = 4;
    for _ in 0..n {
        let kind = *v.get(pos)?;
        pos += 1;
        match kind {
            1 => {
                let (weight, prefix) = (*v.get(pos)?, *v.get(pos + 1)? != 0);
                pos += 2;
                let end = pos + v.get(pos..)?.iter().position(|b| *b == 0)?;
                items.push(Item::Val {
                    weight,
                    prefix,
                    text: &v[pos..end],
                });
                pos = end + 1;
            }
            2 => {
                let op = *v.get(pos)?;
                pos += 1;
                let distance = if op == PHRASE {
                    pos += 2;
                    be_i16(v.get(pos - 2..pos)?)
                } else {
                    0
                };
                if !(NOT..=PHRASE).contains(&op) {
                    return None;
                }
                items.push(Item::Op { op, distance });
            }
            _ => return None,
        }
    }
    if pos != v.len() {
        return None;
    }
    // (text, root operator) of each finished subtree; evaluated from the last item.
    let mut stack: Vec<(String, Option<u8>)> = Vec::new();
    // A child in parentheses when its operator binds looser than its parent's, or
    // when it is a phrase on the right of a phrase.
    let wrap = |(text, root): (String, Option<u8>), parent: i32, right_of_phrase: bool| match root {
        Some(op) if priority(op) < parent || (op == PHRASE && right_of_phrase) => {
            format!("( {text} )")
        }
        _ => text,
    };
    for item in items.iter().rev() {
        match item {
            Item::Val {
                weight,
                prefix,
                text,
            } => {
                let text = std::str::from_utf8(text).ok()?;
                let mut out = String::with_capacity(text.len() + 8);
                out.push('\'');
                for c in text.chars() {
                    if c == '\'' || c == '\\' {
                        out.push(c);
                    }
                    out.push(c);
                }
                out.push('\'');
                if *weight != 0 || *prefix {
                    out.push(':');
                    if *prefix {
                        out.push('*');
                    }
                    for (bit, letter) in [(8, 'A'), (4, 'B'), (2, 'C'), (1, 'D')] {
                        if weight & bit != 0 {
                            out.push(letter);
                        }
                    }
                }
                stack.push((out, None));
            }
            Item::Op { op: NOT, .. } => {
                let child = stack.pop()?;
                stack.push((format!("!{}", wrap(child, priority(NOT), false)), Some(NOT)));
            }
            Item::Op { op, distance } => {
                // Prefix order is op, right, left: from the end, the left subtree is
                // finished first, so the right one is on top.
                let right = stack.pop()?;
                let left = stack.pop()?;
                let p = priority(*op);
                let sign = match *op {
                    AND => "&".to_string(),
                    OR => "|".to_string(),
                    _ if *distance == 1 => "<->".to_string(),
                    _ => format!("<{distance}>"),
                };
                // The left text is extended in place (a left-deep chain stays linear).
                let mut text = wrap(left, p, false);
                text.push(' ');
                text.push_str(&sign);
                text.push(' ');
                text.push_str(&wrap(right, p, *op == PHRASE));
                stack.push((text, Some(*op)));
            }
        }
    }
    match (stack.pop(), stack.is_empty()) {
        (Some((text, _)), true) => Some(text),
        (None, true) if n == 0 => Some(String::new()),
        _ => None,
    }
}

/// A `float8` as PostgreSQL prints it (`extra_float_digits` 1, the default): the
/// shortest digits that read back as the same number, in fixed notation for decimal
/// exponents -4 to 14 and as `1.5e+300` otherwise; `NaN`, `Infinity`, `-Infinity`.
pub(crate) fn float8_text(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // PostgreSQL's Ryu prints the fewest digits strictly inside the interval of values
    // that read back as `x`, correctly rounded (ties to even). Rust's `{:e}` gives the
    // fewest digits for that interval with its ends included, and may break a tie the
    // other way: from that length on, take the correctly rounded digits (`{:.Ne}`
    // rounds ties to even) until they are strictly inside; 17 digits always are.
    let shortest = format!("{x:e}");
    let len = shortest
        .split('e')
        .next()
        .map_or(1, |m| m.chars().filter(char::is_ascii_digit).count())
        .max(1);
    let sci = (len - 1..17)
        .map(|p| format!("{x:.p$e}"))
        .find(|c| c.parse::<f64>().ok() == Some(x) && !at_midpoint(x, c))
        .unwrap_or(shortest);
    // `{:.Ne}` keeps trailing zeros; Ryu's digits have none.
    let sci = match sci.split_once('e') {
        Some((m, e)) if m.contains('.') => {
            format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
        }
        _ => sci,
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::from(sign);
    if (-4..15).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            out.push_str(&"0".repeat((-exp - 1) as usize));
            out.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.push_str(&"0".repeat(int_len - digits.len()));
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    }
    out
}

/// Whether the decimal `sci` (`d.ddde±k`, as `{:e}` writes it) is exactly halfway
/// between `x` and a neighbouring double: exact dyadic arithmetic on `odd × 2^j`.
fn at_midpoint(x: f64, sci: &str) -> bool {
    // x and a neighbour as (significand, binary exponent).
    fn parts(v: f64) -> (u128, i32) {
        let bits = v.abs().to_bits();
        let (e, f) = ((bits >> 52) as i32, u128::from(bits & ((1 << 52) - 1)));
        if e == 0 {
            (f, -1074)
        } else {
            (f | (1 << 52), e - 1075)
        }
    }
    // odd × 2^j of a positive dyadic value m × 2^e.
    fn odd(m: u128, e: i32) -> (u128, i32) {
        let tz = m.trailing_zeros();
        (m >> tz, e + tz as i32)
    }
    let Some((mant, exp)) = sci.trim_start_matches('-').split_once('e') else {
        return false;
    };
    let Ok(exp) = exp.parse::<i32>() else {
        return false;
    };
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let Ok(d) = digits.parse::<u128>() else {
        return false;
    };
    if d == 0 {
        return false;
    }
    // The decimal value d × 10^k as odd × 2^j, if it is dyadic at all.
    let k = exp - (digits.len() as i32 - 1);
    let decimal = if k >= 0 {
        match 5u128.checked_pow(k as u32).and_then(|p| d.checked_mul(p)) {
            Some(v) => odd(v, k),
            None => return false,
        }
    } else {
        match 5u128.checked_pow(k.unsigned_abs()) {
            Some(p) if d % p == 0 => odd(d / p, k),
            _ => return false,
        }
    };
    let (mx, ex) = parts(x);
    let a = x.abs();
    [
        f64::from_bits(a.to_bits() + 1),
        f64::from_bits(a.to_bits().wrapping_sub(1)),
    ]
    .into_iter()
    .filter(|n| n.is_finite() && *n > 0.0 && a.to_bits() > 0)
    .any(|n| {
        let (mn, en) = parts(n);
        let e0 = ex.min(en);
        let sum = (mx << (ex - e0)) + (mn << (en - e0));
        odd(sum, e0 - 1) == decimal
    })
}

/// Append PostgreSQL's text of one range in binary form (`range_send`): a flags byte,
/// then the lower and upper bounds that are present, each with its length. The bounds
/// are quoted and escaped as `range_out` does.
fn format_range(sub: RangeSub, v: &[u8], out: &mut String) -> Option<()> {
    const EMPTY: u8 = 0x01;
    const LB_INC: u8 = 0x02;
    const UB_INC: u8 = 0x04;
    const LB_INF: u8 = 0x08;
    const UB_INF: u8 = 0x10;
    const LB_NULL: u8 = 0x20;
    const UB_NULL: u8 = 0x40;
    let (&flags, mut rest) = v.split_first()?;
    if flags & EMPTY != 0 {
        out.push_str("empty");
        return rest.is_empty().then_some(());
    }
    let bound = |rest: &mut &[u8], out: &mut String| -> Option<()> {
        let len = usize::try_from(be_i32(rest.get(0..4)?)).ok()?;
        let bytes = rest.get(4..4 + len)?;
        *rest = &rest[4 + len..];
        push_range_bound(&range_bound_text(sub, bytes)?, out);
        Some(())
    };
    out.push(if flags & LB_INC != 0 { '[' } else { '(' });
    if flags & (LB_INF | LB_NULL) == 0 {
        bound(&mut rest, out)?;
    }
    out.push(',');
    if flags & (UB_INF | UB_NULL) == 0 {
        bound(&mut rest, out)?;
    }
    out.push(if flags & UB_INC != 0 { ']' } else { ')' });
    rest.is_empty().then_some(())
}

/// A bound as `range_out` writes it: in double quotes when empty or holding a quote,
/// backslash, bracket, parenthesis, comma or white space; quotes and backslashes
/// doubled.
fn push_range_bound(text: &str, out: &mut String) {
    let special = |c: char| {
        matches!(
            c,
            '"' | '\\' | '(' | ')' | '[' | ']' | ',' | ' ' | '\t' | '\n' | '\r' | '\x0B' | '\x0C'
        )
    };
    let quote = text.is_empty() || text.chars().any(special);
    if quote {
        out.push('"');
    }
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    if quote {
        out.push('"');
    }
}

/// The text of a range bound (the element type's binary send format), as PostgreSQL
/// prints it with `DateStyle=ISO` and `TimeZone=UTC` (the session's settings).
fn range_bound_text(sub: RangeSub, v: &[u8]) -> Option<String> {
    match sub {
        RangeSub::Int4 => Some(i32::from_be_bytes(v.try_into().ok()?).to_string()),
        RangeSub::Int8 => Some(i64::from_be_bytes(v.try_into().ok()?).to_string()),
        RangeSub::Numeric => numeric_text(v),
        RangeSub::Date => {
            let d = i32::from_be_bytes(v.try_into().ok()?);
            Some(match d {
                i32::MAX => "infinity".into(),
                i32::MIN => "-infinity".into(),
                _ => {
                    let (y, m, day) = crate::value::civil::civil_from_days(
                        i64::from(d) + i64::from(PG_EPOCH_DAYS),
                    );
                    with_era(format!("{:04}-{m:02}-{day:02}", era_year(y)), y)
                }
            })
        }
        RangeSub::Timestamp | RangeSub::TimestampTz => {
            let us = i64::from_be_bytes(v.try_into().ok()?);
            Some(match us {
                i64::MAX => "infinity".into(),
                i64::MIN => "-infinity".into(),
                _ => {
                    let days = us.div_euclid(86_400_000_000);
                    let (y, m, day) =
                        crate::value::civil::civil_from_days(days + i64::from(PG_EPOCH_DAYS));
                    let time = format_time_of_day(us.rem_euclid(86_400_000_000))?;
                    let tz = if sub == RangeSub::TimestampTz {
                        "+00"
                    } else {
                        ""
                    };
                    with_era(format!("{:04}-{m:02}-{day:02} {time}{tz}", era_year(y)), y)
                }
            })
        }
    }
}

/// The year as PostgreSQL shows it: astronomical year 0 is 1 BC.
fn era_year(y: i64) -> i64 {
    if y <= 0 {
        1 - y
    } else {
        y
    }
}

fn with_era(mut text: String, y: i64) -> String {
    if y <= 0 {
        text.push_str(" BC");
    }
    text
}

/// PostgreSQL's text of a `numeric` in binary form: every digit of its display scale,
/// `NaN`, `Infinity` or `-Infinity`.
pub(crate) fn numeric_text(v: &[u8]) -> Option<String> {
    if v.len() < 8 {
        return None;
    }
    let ndigits = usize::try_from(be_i16(&v[0..2])).ok()?;
    let weight = i32::from(be_i16(&v[2..4]));
    let sign = u16::from_be_bytes([v[4], v[5]]);
    let dscale = usize::from(u16::from_be_bytes([v[6], v[7]]));
    if v.len() != 8 + 2 * ndigits {
        return None;
    }
    let neg = match sign {
        0x0000 => false,
        0x4000 => true,
        0xC000 => return (ndigits == 0).then(|| "NaN".into()),
        0xD000 => return (ndigits == 0).then(|| "Infinity".into()),
        0xF000 => return (ndigits == 0).then(|| "-Infinity".into()),
        _ => return None,
    };
    let digits: Vec<i16> = v[8..].chunks_exact(2).map(be_i16).collect();
    if digits.iter().any(|d| !(0..10_000).contains(d)) {
        return None;
    }
    let digit = |i: i32| {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i))
            .copied()
            .unwrap_or(0)
    };
    let mut out = String::with_capacity(4 * (weight.max(0) as usize + 1) + dscale + 2);
    if neg {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for i in 0..=weight {
            if i == 0 {
                out.push_str(&digit(0).to_string());
            } else {
                out.push_str(&format!("{:04}", digit(i)));
            }
        }
    }
    if dscale > 0 {
        out.push('.');
        let start = out.len();
        let mut i = weight + 1;
        while out.len() - start < dscale {
            out.push_str(&format!("{:04}", digit(i)));
            i += 1;
        }
        out.truncate(start + dscale);
    }
    Some(out)
}

/// `HH:MM:SS[.ffffff]` (fraction without trailing zeros) of microseconds since
/// midnight, as PostgreSQL prints a time; `None` outside 00:00 to 24:00.
fn format_time_of_day(us: i64) -> Option<String> {
    if !(0..=86_400_000_000).contains(&us) {
        return None;
    }
    let s = crate::value::civil::format_time(us);
    Some(s.trim_end_matches('0').trim_end_matches('.').to_string())
}

fn bad_len(name: &str, kind: PgKind, got: usize) -> Error {
    Error::data(format!(
        "column \"{name}\": malformed {kind:?} value of {got} bytes from the server"
    ))
}

fn infinity(name: &str, what: &str) -> Error {
    Error::data(format!(
        "column \"{name}\" holds an infinite {what}, which Arrow cannot represent; \
         filter it out or map it in SQL (e.g. CASE WHEN isfinite(col) THEN col END)"
    ))
    .with_detail("column", name.to_string())
}

fn numeric_err(name: &str, kind: PgKind, e: NumericError, declared: bool) -> Error {
    let (p, s) = match kind {
        PgKind::Numeric {
            precision, scale, ..
        } => (precision, scale),
        _ => (0, 0),
    };
    let what = match e {
        NumericError::NaN => "NaN".to_string(),
        NumericError::Infinite => "an infinite value".to_string(),
        NumericError::TooManyFractionDigits(d) => format!("a value with {d} fractional digits"),
        NumericError::Overflow => "a value too large".to_string(),
        NumericError::Malformed => "a malformed value".to_string(),
    };
    let hint = if declared {
        "cast it in SQL or filter such values out".to_string()
    } else {
        let need = if let NumericError::TooManyFractionDigits(d) = e {
            d
        } else {
            s as u16
        };
        format!(
            "numeric without a declared precision is returned as decimal({p},{s}); \
             cast the column to the precision you need (e.g. col::numeric(38,{need})) or to text"
        )
    };
    Error::data(format!(
        "column \"{name}\" holds {what} that does not fit decimal({p},{s}); {hint}"
    ))
    .with_detail("column", name.to_string())
}

/// Decoders for a whole row, turning into record batches.
pub struct RowDecoder {
    pub schema: SchemaRef,
    pub columns: Vec<ColumnDecoder>,
    pub rows: usize,
    capacity: usize,
}

impl RowDecoder {
    pub fn new(schema: SchemaRef, kinds: &[PgKind], capacity: usize) -> Self {
        let columns = schema
            .fields()
            .iter()
            .zip(kinds)
            .map(|(f, k)| ColumnDecoder::new(f.name(), *k, f.data_type().clone(), capacity))
            .collect();
        RowDecoder {
            schema,
            columns,
            rows: 0,
            capacity,
        }
    }

    /// Whether the current batch should be emitted (row count or byte size reached).
    #[inline]
    pub fn is_full(&self) -> bool {
        self.rows >= self.capacity || (self.rows % 1024 == 0 && self.rows > 0 && self.too_big())
    }

    /// How many more rows the current batch takes before [`RowDecoder::is_full`] must
    /// be asked again: up to the batch's row count, and up to the next multiple of 1024
    /// rows (where the byte-size limit is checked).
    #[inline]
    pub fn room(&self) -> usize {
        (self.capacity.saturating_sub(self.rows)).min(1024 - self.rows % 1024)
    }

    fn too_big(&self) -> bool {
        self.columns.iter().any(|c| c.byte_size() > (1 << 30))
    }

    pub fn finish(&mut self) -> Result<RecordBatch> {
        let arrays = self
            .columns
            .iter_mut()
            .map(|c| c.finish())
            .collect::<Result<Vec<_>>>()?;
        let n = self.rows;
        self.rows = 0;
        let opts = arrow_array::RecordBatchOptions::new().with_row_count(Some(n));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &opts,
        )?)
    }
}

/// Build the Arrow schema for a statement's columns, or fail naming the first
/// unsupported column before any data moves.
pub fn schema_for(
    columns: &[tokio_postgres::Column],
    uuid_as_string: bool,
) -> Result<(SchemaRef, Vec<PgKind>)> {
    schema_of(
        columns
            .iter()
            .map(|c| (c.name(), c.type_(), c.type_modifier())),
        uuid_as_string,
    )
}

/// [`schema_for`] over (name, type, type modifier) triples, as a statement's columns or
/// a RowDescription give them.
pub fn schema_of<'a>(
    columns: impl ExactSizeIterator<Item = (&'a str, &'a Type, i32)>,
    uuid_as_string: bool,
) -> Result<(SchemaRef, Vec<PgKind>)> {
    let mut fields = Vec::with_capacity(columns.len());
    let mut kinds = Vec::with_capacity(columns.len());
    for (name, ty, modifier) in columns {
        let (elem_ty, is_array) = match ty.kind() {
            Kind::Array(elem) => (elem, true),
            _ => (ty, false),
        };
        let kind = kind_of(elem_ty, modifier).ok_or_else(|| {
            let hint = if is_array {
                "arrays of this element type are not supported; cast to text (col::text) or unnest it"
            } else {
                "cast it in SQL to a supported type (e.g. col::text)"
            };
            Error::unsupported_type(name, ty.name(), hint)
        })?;
        let kind = if uuid_as_string && kind == PgKind::Uuid {
            PgKind::UuidText
        } else {
            kind
        };
        let field = field_for(name, kind);
        let field = if is_array {
            let item = field.clone().with_name("item");
            Field::new(name, DataType::List(Arc::new(item)), true)
        } else {
            field
        };
        fields.push(field);
        kinds.push(kind);
    }
    Ok((Arc::new(Schema::new(fields)), kinds))
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumericError {
    NaN,
    Infinite,
    TooManyFractionDigits(u16),
    Overflow,
    Malformed,
}

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;

struct NumericHeader<'a> {
    weight: i32,
    negative: bool,
    dscale: u16,
    digits: &'a [u8],
}

#[inline]
fn numeric_header(v: &[u8]) -> Result<NumericHeader<'_>, NumericError> {
    if v.len() < 8 {
        return Err(NumericError::Malformed);
    }
    let ndigits = be_i16(&v[0..2]);
    let weight = be_i16(&v[2..4]) as i32;
    let sign = u16::from_be_bytes([v[4], v[5]]);
    let dscale = u16::from_be_bytes([v[6], v[7]]);
    if ndigits < 0 || v.len() != 8 + 2 * ndigits as usize {
        return Err(NumericError::Malformed);
    }
    let negative = match sign {
        NUMERIC_POS => false,
        NUMERIC_NEG => true,
        NUMERIC_NAN => return Err(NumericError::NaN),
        _ => return Err(NumericError::Infinite),
    };
    Ok(NumericHeader {
        weight,
        negative,
        dscale,
        digits: &v[8..],
    })
}

/// The decimal exponent adjustment: the base-10000 integer formed by the digits equals
/// value × 10^(4 × (ndigits − 1 − weight)); scale it to `scale`.
fn exponent_shift(ndigits: usize, weight: i32, scale: i8) -> i32 {
    scale as i32 - 4 * (ndigits as i32 - 1 - weight)
}

/// 10^k for k in 0..=38, the powers an i128 decimal needs.
const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut k = 1;
    while k < 39 {
        t[k] = t[k - 1] * 10;
        k += 1;
    }
    t
};

/// 10^k for k in 0..=19, the powers a u64 holds.
const POW10_U64: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut k = 1;
    while k < 20 {
        t[k] = t[k - 1] * 10;
        k += 1;
    }
    t
};

/// The common case of [`decode_numeric_i128`] in machine words: at most four base-10000
/// digits (16 decimal digits), none beyond the target scale. `None`: take the general
/// path (which also reports every error).
///
/// Scaling stays in 64 bits while the product fits (a 128-bit checked multiply is a
/// library call), and a value with digits below the scale is divided by a constant
/// (10, 100 or 1000), which compiles to a multiply rather than a division.
#[inline]
fn numeric_i128_fast(h: &NumericHeader<'_>, scale: i8, precision: u8) -> Option<i128> {
    let n = h.digits.len() / 2;
    if n > 4 || h.dscale as i32 > scale as i32 || precision > 38 {
        return None;
    }
    let mut acc: u64 = 0;
    for d in h.digits.chunks_exact(2) {
        let d = u16::from_be_bytes([d[0], d[1]]);
        if d >= 10_000 {
            return None;
        }
        acc = acc * 10_000 + d as u64;
    }
    let shift = exponent_shift(n, h.weight, scale);
    let unscaled: i128 = if shift >= 0 {
        match POW10_U64
            .get(shift as usize)
            .and_then(|p| acc.checked_mul(*p))
        {
            Some(x) => x as i128,
            None => (acc as i128).checked_mul(*POW10.get(shift as usize)?)?,
        }
    } else {
        // Only zeros lie below the scale here (dscale <= scale). The server strips
        // trailing zero digits, so they are within the last base-10000 digit: at most
        // three decimal places. Anything else takes the general path.
        let (q, r) = match -shift {
            1 => (acc / 10, acc % 10),
            2 => (acc / 100, acc % 100),
            3 => (acc / 1000, acc % 1000),
            _ => return None,
        };
        if r != 0 {
            return None;
        }
        q as i128
    };
    if unscaled >= POW10[precision as usize] {
        return None;
    }
    Some(if h.negative { -unscaled } else { unscaled })
}

/// Decode PostgreSQL binary numeric to an unscaled i128 at `scale`, exactly.
///
/// Inlined into the column loops, so that the common case returns in registers; the
/// rest (and every error) is one call away.
#[inline]
pub fn decode_numeric_i128(v: &[u8], scale: i8, precision: u8) -> Result<i128, NumericError> {
    if let Some(x) = numeric_header(v)
        .ok()
        .and_then(|h| numeric_i128_fast(&h, scale, precision))
    {
        return Ok(x);
    }
    decode_numeric_i128_slow(v, scale, precision)
}

#[inline(never)]
fn decode_numeric_i128_slow(v: &[u8], scale: i8, precision: u8) -> Result<i128, NumericError> {
    let h = numeric_header(v)?;
    numeric_i128_general(&h, scale, precision)
}

fn numeric_i128_general(
    h: &NumericHeader<'_>,
    scale: i8,
    precision: u8,
) -> Result<i128, NumericError> {
    if h.dscale as i32 > scale as i32 {
        // Fractional digits beyond the target scale must all be zero.
        check_extra_fraction_zero(h, scale)?;
    }
    let n = h.digits.len() / 2;
    let mut acc: i128 = 0;
    let mut shift = exponent_shift(n, h.weight, scale);
    let mut take = n;
    // Drop trailing base-10000 digits that lie entirely beyond the scale (all zero, checked above).
    while shift < 0 && take > 0 {
        let d = be_i16(&h.digits[(take - 1) * 2..]) as i128;
        if shift <= -4 {
            if d != 0 {
                return Err(NumericError::TooManyFractionDigits(h.dscale));
            }
            take -= 1;
            shift += 4;
        } else {
            break;
        }
    }
    for i in 0..take {
        let d = be_i16(&h.digits[i * 2..]) as i128;
        acc = acc
            .checked_mul(10_000)
            .and_then(|a| a.checked_add(d))
            .ok_or(NumericError::Overflow)?;
    }
    if shift > 0 {
        let p = 10i128
            .checked_pow(shift as u32)
            .ok_or(NumericError::Overflow)?;
        acc = acc.checked_mul(p).ok_or(NumericError::Overflow)?;
    } else if shift < 0 && acc != 0 {
        let p = 10i128
            .checked_pow((-shift) as u32)
            .ok_or(NumericError::TooManyFractionDigits(h.dscale))?;
        if acc % p != 0 {
            return Err(NumericError::TooManyFractionDigits(h.dscale));
        }
        acc /= p;
    }
    if precision <= 38 && acc >= POW10[precision as usize] {
        return Err(NumericError::Overflow);
    }
    Ok(if h.negative { -acc } else { acc })
}

fn check_extra_fraction_zero(h: &NumericHeader<'_>, scale: i8) -> Result<(), NumericError> {
    // Digit i covers decimal positions 10^(4*(weight-i)) .. 10^(4*(weight-i)+3).
    let n = h.digits.len() / 2;
    for i in 0..n {
        let d = be_i16(&h.digits[i * 2..]);
        if d == 0 {
            continue;
        }
        // Lowest decimal exponent this digit contributes to.
        let low_exp = 4 * (h.weight - i as i32);
        if low_exp < -(scale as i32) {
            // Part of this digit lies beyond the scale; check those decimal places.
            let beyond = (-(scale as i32) - low_exp) as u32; // number of low decimal places beyond
            let m = 10i32.pow(beyond.min(4));
            if (d as i32) % m != 0 {
                return Err(NumericError::TooManyFractionDigits(h.dscale));
            }
        }
    }
    Ok(())
}

/// Decode PostgreSQL binary numeric to an unscaled i256 at `scale` (precision > 38).
pub fn decode_numeric_i256(v: &[u8], scale: i8, precision: u8) -> Result<i256, NumericError> {
    let h = numeric_header(v)?;
    if h.dscale as i32 > scale as i32 {
        check_extra_fraction_zero(&h, scale)?;
    }
    let n = h.digits.len() / 2;
    let shift = exponent_shift(n, h.weight, scale);
    let ten_k = i256::from_i128(10_000);
    let mut acc = i256::ZERO;
    for i in 0..n {
        let d = i256::from_i128(be_i16(&h.digits[i * 2..]) as i128);
        acc = acc
            .checked_mul(ten_k)
            .and_then(|a| a.checked_add(d))
            .ok_or(NumericError::Overflow)?;
    }
    let ten = i256::from_i128(10);
    if shift > 0 {
        for _ in 0..shift {
            acc = acc.checked_mul(ten).ok_or(NumericError::Overflow)?;
        }
    } else {
        for _ in 0..(-shift) {
            acc = acc.checked_div(ten).ok_or(NumericError::Overflow)?;
        }
    }
    let mut limit = i256::ONE;
    for _ in 0..precision {
        limit = limit.wrapping_mul(ten);
    }
    if acc >= limit {
        return Err(NumericError::Overflow);
    }
    Ok(if h.negative { acc.wrapping_neg() } else { acc })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encode a decimal string the way PostgreSQL's numeric_send does (test helper).
    fn encode(s: &str) -> Vec<u8> {
        let neg = s.starts_with('-');
        let s = s.trim_start_matches('-');
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let dscale = frac.len() as u16;
        // Pad the integer part on the left and the fraction on the right to multiples of 4.
        let int_pad = (4 - int.len() % 4) % 4;
        let int_s = format!("{}{}", "0".repeat(int_pad), int);
        let frac_pad = (4 - frac.len() % 4) % 4;
        let frac_s = format!("{}{}", frac, "0".repeat(frac_pad));
        let mut digits: Vec<i16> = Vec::new();
        for c in int_s.as_bytes().chunks(4) {
            digits.push(std::str::from_utf8(c).unwrap().parse().unwrap());
        }
        let mut weight = digits.len() as i16 - 1;
        for c in frac_s.as_bytes().chunks(4) {
            digits.push(std::str::from_utf8(c).unwrap().parse().unwrap());
        }
        while digits.first() == Some(&0) && digits.len() > 1 {
            digits.remove(0);
            weight -= 1;
        }
        while digits.last() == Some(&0) && digits.len() > 1 {
            digits.pop();
        }
        if digits == [0] {
            digits.clear();
            weight = 0;
        }
        let mut out = Vec::new();
        out.extend((digits.len() as i16).to_be_bytes());
        out.extend(weight.to_be_bytes());
        out.extend((if neg { NUMERIC_NEG } else { NUMERIC_POS }).to_be_bytes());
        out.extend(dscale.to_be_bytes());
        for d in digits {
            out.extend(d.to_be_bytes());
        }
        out
    }

    #[test]
    fn text_forms_of_special_types_and_malformed_counts() {
        let huge = i32::MAX.to_be_bytes();
        // A count the value's bytes cannot hold is malformed, not an allocation.
        for kind in [PgKind::Hstore, PgKind::TsVector, PgKind::Bits] {
            assert_eq!(
                format_special(kind, &[&huge[..], b"abcdefgh"].concat()),
                None
            );
        }
        let hstore = [
            &2i32.to_be_bytes()[..],
            &1i32.to_be_bytes(),
            b"k",
            &1i32.to_be_bytes(),
            b"v",
            &2i32.to_be_bytes(),
            b"q\"",
            &(-1i32).to_be_bytes(),
        ]
        .concat();
        assert_eq!(
            format_special(PgKind::Hstore, &hstore).as_deref(),
            Some(r#"{"k": "v", "q\"": null}"#)
        );
        let bits = [&9i32.to_be_bytes()[..], &[0b1010_0000, 0x80]].concat();
        assert_eq!(
            format_special(PgKind::Bits, &bits).as_deref(),
            Some("101000001")
        );
        let timetz = [
            &43_200_500_000i64.to_be_bytes()[..],
            &19_800i32.to_be_bytes(),
        ]
        .concat();
        assert_eq!(
            format_special(PgKind::TimeTz, &timetz).as_deref(),
            Some("12:00:00.5-05:30")
        );
        let lsn = 0x16_B374_D848u64.to_be_bytes();
        assert_eq!(
            format_special(PgKind::Lsn, &lsn).as_deref(),
            Some("16/B374D848")
        );
        assert_eq!(
            format_special(PgKind::VersionedText, b"\x01a.b").as_deref(),
            Some("a.b")
        );
        assert_eq!(format_special(PgKind::VersionedText, b"\x02a.b"), None);
    }

    #[test]
    fn numeric_i128_exact() {
        assert_eq!(
            decode_numeric_i128(&encode("123.4500"), 4, 18),
            Ok(1_234_500)
        );
        assert_eq!(decode_numeric_i128(&encode("-0.0001"), 4, 18), Ok(-1));
        assert_eq!(decode_numeric_i128(&encode("0"), 4, 18), Ok(0));
        assert_eq!(decode_numeric_i128(&encode("10000"), 0, 18), Ok(10_000));
        assert_eq!(
            decode_numeric_i128(&encode("12345678901234.5678"), 4, 18),
            Ok(123_456_789_012_345_678)
        );
        assert_eq!(
            decode_numeric_i128(&encode("1.5"), 18, 38),
            Ok(1_500_000_000_000_000_000)
        );
        assert_eq!(
            decode_numeric_i128(&encode("99999999999999999999999999999999999999"), 0, 38),
            Ok(99_999_999_999_999_999_999_999_999_999_999_999_999)
        );
        assert_eq!(decode_numeric_i128(&encode("1.00000"), 2, 10), Ok(100));
        // Negative scales (numeric(5,-2)): the unscaled value counts hundreds.
        assert_eq!(decode_numeric_i128(&encode("123400"), -2, 5), Ok(1234));
        assert_eq!(decode_numeric_i128(&encode("-100"), -2, 5), Ok(-1));
        assert_eq!(decode_numeric_i128(&encode("0"), -2, 5), Ok(0));
        assert!(decode_numeric_i128(&encode("150"), -2, 5).is_err());
        assert!(decode_numeric_i128(&encode("100.5"), -2, 5).is_err());
        assert_eq!(
            decode_numeric_i256(&encode("123400"), -2, 50).map(|v| v.as_i128()),
            Ok(1234)
        );
        // A scale above the precision (numeric(3,5), read as decimal(5,5)).
        assert_eq!(decode_numeric_i128(&encode("0.00123"), 5, 5), Ok(123));
    }

    #[test]
    fn numeric_typmods_of_postgres_15() {
        let typmod = |p: i32, s: i32| ((p << 16) | (s & 0x7ff)) + 4;
        let kind = |p, s| match kind_of(&Type::NUMERIC, typmod(p, s)) {
            Some(PgKind::Numeric {
                precision, scale, ..
            }) => Some((precision, scale)),
            _ => None,
        };
        assert_eq!(kind(18, 4), Some((18, 4)));
        assert_eq!(kind(5, -2), Some((7, 0)));
        assert_eq!(kind(3, 5), Some((5, 5)));
        // Beyond what Arrow's decimals hold: refused, not wrapped into another scale.
        assert_eq!(kind(10, 200), None);
        assert_eq!(kind(10, -100), None);
        assert_eq!(kind(70, -10), None);
        assert_eq!(kind(1000, 0), None);
    }

    #[test]
    fn numeric_fast_path_agrees_with_the_general_one() {
        let mut seen_fast = 0;
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            // xorshift: varied magnitudes, fraction lengths and signs.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let int = (x % 10u64.pow((x >> 8) as u32 % 17)).to_string();
            let frac_len = (x >> 16) as usize % 7;
            let frac: String = (0..frac_len)
                .map(|i| char::from(b'0' + ((x >> (20 + i * 3)) % 10) as u8))
                .collect();
            let text = match (frac.is_empty(), x & 1 == 1) {
                (true, neg) => format!("{}{int}", if neg { "-" } else { "" }),
                (false, neg) => format!("{}{int}.{frac}", if neg { "-" } else { "" }),
            };
            let v = encode(&text);
            let h = numeric_header(&v).unwrap();
            for (scale, precision) in [
                (0, 18),
                (2, 15),
                (4, 18),
                (6, 10),
                (2, 38),
                (10, 20),
                (19, 38),
                (22, 38),
            ] {
                let general = numeric_i128_general(&h, scale, precision);
                match numeric_i128_fast(&h, scale, precision) {
                    Some(fast) => {
                        seen_fast += 1;
                        assert_eq!(Ok(fast), general, "{text} at ({precision},{scale})");
                    }
                    None => {
                        assert_eq!(decode_numeric_i128(&v, scale, precision), general)
                    }
                }
            }
        }
        assert!(seen_fast > 10_000);
    }

    #[test]
    fn numeric_i128_refuses_loss() {
        assert_eq!(
            decode_numeric_i128(&encode("1.23456"), 4, 18),
            Err(NumericError::TooManyFractionDigits(5))
        );
        assert_eq!(
            decode_numeric_i128(&encode("100000"), 0, 5),
            Err(NumericError::Overflow)
        );
        let mut nan = encode("0");
        nan[4..6].copy_from_slice(&NUMERIC_NAN.to_be_bytes());
        assert_eq!(decode_numeric_i128(&nan, 0, 5), Err(NumericError::NaN));
        assert_eq!(
            decode_numeric_i128(&[0, 1], 0, 5),
            Err(NumericError::Malformed)
        );
    }

    #[test]
    fn numeric_i256() {
        let v = decode_numeric_i256(
            &encode("-1234567890123456789012345678901234567890.1234567890"),
            10,
            50,
        )
        .unwrap();
        assert_eq!(
            v.to_string(),
            "-12345678901234567890123456789012345678901234567890"
        );
    }

    #[test]
    fn typmod_parsing() {
        // numeric(18,4) → typmod ((18 << 16) | 4) + 4
        let typmod = ((18 << 16) | 4) + 4;
        assert_eq!(
            kind_of(&Type::NUMERIC, typmod),
            Some(PgKind::Numeric {
                precision: 18,
                scale: 4,
                declared: true
            })
        );
        assert!(matches!(
            kind_of(&Type::NUMERIC, -1),
            Some(PgKind::Numeric {
                declared: false,
                ..
            })
        ));
        assert_eq!(
            kind_of(&Type::POINT, -1),
            Some(PgKind::Geometry(Geo::Point))
        );
    }

    #[test]
    // The literals are the exact values whose printing is in question.
    #[allow(clippy::excessive_precision)]
    fn float8_text_as_postgres_prints_it() {
        // Each pair is a value and PostgreSQL 15's `float8::text` of it.
        for (x, pg) in [
            (4.3618846783207856e16, "4.3618846783207856e+16"),
            (1e15, "1e+15"),
            (1e14, "100000000000000"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (0.1, "0.1"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (123456.789, "123456.789"),
            (-0.000123, "-0.000123"),
            (9007199254740993.0, "9.007199254740992e+15"),
            // Two 17-digit candidates equally close: the even one.
            (1368965689383259.25, "1.3689656893832592e+15"),
            (1e22, "1e+22"),
            // 1e23 is halfway between two doubles: PostgreSQL prints the digits
            // strictly inside the interval.
            (1e23, "9.999999999999999e+22"),
            (-0.0, "-0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(float8_text(x), pg, "{x:e}");
        }
    }

    #[test]
    fn tid_and_snapshot_text() {
        let text = |k, v: &[u8]| format_special(k, v);
        let tid = [&u32::MAX.to_be_bytes()[..], &7u16.to_be_bytes()].concat();
        assert_eq!(text(PgKind::Tid, &tid).as_deref(), Some("(4294967295,7)"));
        assert_eq!(text(PgKind::Tid, &tid[..5]), None);
        let ids = |xs: &[u64]| xs.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
        let snap = [&2i32.to_be_bytes()[..], &ids(&[10, 20, 10, 14])].concat();
        assert_eq!(
            text(PgKind::Snapshot, &snap).as_deref(),
            Some("10:20:10,14")
        );
        let none = [&0i32.to_be_bytes()[..], &ids(&[10, 20])].concat();
        assert_eq!(text(PgKind::Snapshot, &none).as_deref(), Some("10:20:"));
        for bad in [
            &snap[..snap.len() - 1],
            &[&i32::MAX.to_be_bytes()[..], &ids(&[1, 2])].concat(),
        ] {
            assert_eq!(text(PgKind::Snapshot, bad), None);
        }
    }

    #[test]
    fn tsquery_text_and_malformed_values() {
        let val = |w: &str| [&[1u8, 0, 0][..], w.as_bytes(), &[0]].concat();
        let op = |o: u8| vec![2u8, o];
        let q =
            |items: &[Vec<u8>]| [&(items.len() as i32).to_be_bytes()[..], &items.concat()].concat();
        let text = |v: &[u8]| format_special(PgKind::TsQuery, v);
        // Prefix order: operator, right operand, left operand.
        assert_eq!(
            text(&q(&[op(2), val("b"), val("a")])).as_deref(),
            Some("'a' & 'b'")
        );
        assert_eq!(
            text(&q(&[op(3), val("c"), op(2), val("b"), val("a")])).as_deref(),
            Some("'a' & 'b' | 'c'")
        );
        assert_eq!(
            text(&q(&[op(2), val("c"), op(3), val("b"), val("a")])).as_deref(),
            Some("( 'a' | 'b' ) & 'c'")
        );
        assert_eq!(text(&q(&[op(1), val("it's")])).as_deref(), Some("!'it''s'"));
        assert_eq!(text(&q(&[])).as_deref(), Some(""));
        // A count the bytes cannot hold, an unknown item or operator, a missing operand,
        // an unterminated word, bytes left over: malformed, never a panic.
        for bad in [
            [&i32::MAX.to_be_bytes()[..], &val("a")].concat(),
            q(&[vec![9, 0]]),
            q(&[op(7), val("a"), val("b")]),
            q(&[op(2), val("a")]),
            q(&[val("a"), val("b")]),
            [&1i32.to_be_bytes()[..], &[1, 0, 0], b"abc"].concat(),
            [q(&[val("a")]), vec![0]].concat(),
        ] {
            assert_eq!(text(&bad), None, "{bad:?}");
        }
        // A deep query is built without recursion.
        let mut deep = Vec::new();
        for _ in 0..50_000 {
            deep.push(op(2));
            deep.push(val("x"));
        }
        deep.push(val("y"));
        assert!(text(&q(&deep)).is_some_and(|t| t.starts_with("'y' & 'x'")));
    }

    #[test]
    fn geometric_text_and_malformed_values() {
        let floats = |xs: &[f64]| xs.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
        let text = |geo, v: &[u8]| format_special(PgKind::Geometry(geo), v);
        assert_eq!(
            text(Geo::Point, &floats(&[1.0, -2.5])).as_deref(),
            Some("(1,-2.5)")
        );
        assert_eq!(
            text(Geo::Line, &floats(&[1.0, -1.0, 0.0])).as_deref(),
            Some("{1,-1,0}")
        );
        assert_eq!(
            text(Geo::Lseg, &floats(&[0.0, 0.0, 1.0, 1.0])).as_deref(),
            Some("[(0,0),(1,1)]")
        );
        assert_eq!(
            text(Geo::Box, &floats(&[1.0, 1.0, 0.0, 0.0])).as_deref(),
            Some("(1,1),(0,0)")
        );
        assert_eq!(
            text(Geo::Circle, &floats(&[1.0, 2.0, 3.0])).as_deref(),
            Some("<(1,2),3>")
        );
        let path = |closed: u8, pts: &[f64]| {
            [
                &[closed][..],
                &((pts.len() / 2) as i32).to_be_bytes(),
                &floats(pts),
            ]
            .concat()
        };
        assert_eq!(
            text(Geo::Path, &path(0, &[0.0, 0.0, 1.0, 1.0])).as_deref(),
            Some("[(0,0),(1,1)]")
        );
        assert_eq!(
            text(Geo::Path, &path(1, &[0.0, 0.0])).as_deref(),
            Some("((0,0))")
        );
        assert_eq!(
            text(Geo::Polygon, &path(1, &[0.5, 0.25])[1..]).as_deref(),
            Some("((0.5,0.25))")
        );
        // Wrong widths, a count the bytes cannot hold, a truncated point: malformed.
        for (geo, bad) in [
            (Geo::Point, floats(&[1.0])),
            (Geo::Circle, floats(&[1.0, 2.0])),
            (
                Geo::Path,
                [&[0u8][..], &i32::MAX.to_be_bytes(), &floats(&[1.0, 2.0])].concat(),
            ),
            (
                Geo::Polygon,
                [&2i32.to_be_bytes()[..], &floats(&[1.0, 2.0, 3.0])].concat(),
            ),
            (Geo::Path, vec![]),
        ] {
            assert_eq!(text(geo, &bad), None, "{geo:?} {bad:?}");
        }
    }

    #[test]
    fn range_text_and_malformed_ranges() {
        for n in [
            "0",
            "-0.001",
            "12345678901234567890.123456789",
            "1.50",
            "10000",
            "0.0000",
        ] {
            assert_eq!(numeric_text(&encode(n)).as_deref(), Some(n), "{n}");
        }
        let bound = |b: &[u8]| [&(b.len() as i32).to_be_bytes()[..], b].concat();
        let i4 = |x: i32| bound(&x.to_be_bytes());
        let range = |flags: u8, bounds: &[Vec<u8>]| [&[flags][..], &bounds.concat()].concat();
        let text = |kind, v: &[u8]| format_special(kind, v);
        let int4 = PgKind::Range(RangeSub::Int4);
        assert_eq!(
            text(int4, &range(0x02, &[i4(1), i4(5)])).as_deref(),
            Some("[1,5)")
        );
        assert_eq!(text(int4, &range(0x01, &[])).as_deref(), Some("empty"));
        assert_eq!(text(int4, &range(0x18, &[])).as_deref(), Some("(,)"));
        let ts = PgKind::Range(RangeSub::TimestampTz);
        let t = bound(&0i64.to_be_bytes());
        assert_eq!(
            text(ts, &range(0x16, std::slice::from_ref(&t))).as_deref(),
            Some("[\"2000-01-01 00:00:00+00\",]")
        );
        let dates = PgKind::Range(RangeSub::Date);
        let bc = bound(&(-730_485i32).to_be_bytes());
        assert_eq!(
            text(dates, &range(0x12, &[bc])).as_deref(),
            Some("[\"0001-01-01 BC\",)")
        );
        // Truncated bounds, bytes left over, a negative length, a bound of the wrong
        // width, bad numeric digits: malformed, never a panic.
        for bad in [
            range(0x02, &[i4(1)]),
            range(0x02, &[i4(1), i4(5), vec![0]]),
            range(0x01, &[i4(1)]),
            range(0x12, &[(-5i32).to_be_bytes().to_vec()]),
            range(0x12, &[bound(&[1, 2])]),
            vec![],
        ] {
            assert_eq!(text(int4, &bad), None, "{bad:?}");
        }
        let mut digits = encode("1.5");
        digits[8] = 0x7f;
        assert_eq!(numeric_text(&digits), None);
        let multi = PgKind::Multirange(RangeSub::Int4);
        let one = range(0x02, &[i4(1), i4(3)]);
        let mr = [
            &2i32.to_be_bytes()[..],
            &bound(&one),
            &bound(&range(0x01, &[])),
        ]
        .concat();
        assert_eq!(text(multi, &mr).as_deref(), Some("{[1,3),empty}"));
        let huge = [&i32::MAX.to_be_bytes()[..], &bound(&one)].concat();
        assert_eq!(text(multi, &huge), None);
        assert_eq!(text(multi, &[&1i32.to_be_bytes()[..], &one].concat()), None);
        let mut quoted = String::new();
        push_range_bound("a \"b\\", &mut quoted);
        assert_eq!(quoted, "\"a \"\"b\\\\\"");
        assert_eq!(
            kind_of(&Type::TSTZ_RANGE, -1),
            Some(PgKind::Range(RangeSub::TimestampTz))
        );
        assert_eq!(
            kind_of(&Type::INT8MULTI_RANGE, -1),
            Some(PgKind::Multirange(RangeSub::Int8))
        );
    }
}
