//! Bulk writes to PostgreSQL: Arrow batches encoded in Rust straight into the binary
//! `COPY ... FROM STDIN (FORMAT binary)` stream, in one transaction.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchReader};
use arrow_schema::{DataType, IntervalUnit, TimeUnit};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::SinkExt;
use tokio_postgres::Client;

use super::decode::{Geo, RangeSub};
use super::{map_err, PgConnector};
use crate::cancel::CancelSlot;
use crate::error::{Error, ErrorKind, Result};
use crate::write::{
    cast_strict, mapped_names, next_batch, quote_ident, FailedRows, TableRef, WriteMode,
    WriteOptions, WriteResult,
};

const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_US: i64 = 946_684_800_000_000;
const FLUSH_BYTES: usize = 1 << 20;

/// A target column as the catalog describes it.
#[derive(Debug, Clone)]
struct TargetColumn {
    name: String,
    /// The base type's name (domains resolved), e.g. `int4`, `numeric`, `enum` or `array`.
    base: String,
    /// For an array: its element's base type name and the element type's OID (which
    /// the binary array format names, and the server checks).
    elem: Option<(String, u32)>,
    not_null: bool,
    has_default: bool,
    /// The declared type modifier (`numeric(p,s)`'s precision and scale), or -1.
    typmod: i32,
    /// `GENERATED ALWAYS AS (...) STORED`: computed, never written.
    generated: bool,
    /// `GENERATED ALWAYS AS IDENTITY`: an INSERT needs `OVERRIDING SYSTEM VALUE` to
    /// take a given value (COPY takes it as is).
    identity_always: bool,
}

impl TargetColumn {
    /// For a `varchar(n)` or `char(n)` column: `n`, and the type's name as PostgreSQL
    /// writes it in its "value too long" message.
    fn char_limit(&self) -> Option<(i32, &'static str)> {
        let name = match self.base.as_str() {
            "varchar" => "character varying",
            "bpchar" => "character",
            _ => return None,
        };
        (self.typmod >= 5).then_some((self.typmod - 4, name))
    }

    /// The declared scale of a `numeric(p,s)` column with `0 <= s <= 76`, and the Arrow
    /// decimal type that holds any of its values at that scale.
    fn numeric_scale(&self) -> Option<(i8, DataType)> {
        if self.base != "numeric" {
            return None;
        }
        let (p, s) = crate::schema::mapping::pg_numeric_typmod_raw(self.typmod)?;
        let s = i8::try_from(s).ok().filter(|s| (0..=76).contains(s))?;
        Some((
            s,
            if p <= 38 && s <= 38 {
                DataType::Decimal128(38, s)
            } else {
                DataType::Decimal256(76, s)
            },
        ))
    }
}

/// How one column is encoded.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Enc {
    Bool,
    Int2,
    Int4,
    Int8,
    /// `oid`, `xid`, `cid`: an unsigned 32-bit number (what sqlarrow reads them as).
    Oid,
    /// `xid8`: an unsigned 64-bit number.
    Xid8,
    Float4,
    Float8,
    Numeric,
    Text,
    Jsonb,
    Bytea,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Uuid,
    Interval,
    /// A PostgreSQL array: the element's encoder is in [`Plan::elem`].
    Array,
    /// Types written from their text form (the form sqlarrow reads them as).
    Special(Special),
}

/// Types sqlarrow reads as text (or hstore as JSON) and writes back from that text,
/// encoded here into their binary format.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Special {
    /// `bit(n)`, `varbit` from '0'/'1' text.
    Bits,
    /// `timetz` from `HH:MM[:SS[.ffffff]]±HH[:MM[:SS]]`.
    TimeTz,
    /// `pg_lsn` from `X/Y` (hexadecimal).
    Lsn,
    /// `ltree`, `lquery`, `ltxtquery`: a version byte, then the text.
    VersionedText,
    /// `hstore` from a JSON object of text (or scalar) values and nulls.
    Hstore,
    /// A range from its text (`[1,5)`, `empty`), as the reader gives it.
    Range(RangeSub),
    /// A multirange from its text (`{[1,3),[5,7)}`).
    Multirange(RangeSub),
    /// A geometric value from its text (`(1,2)`, `<(0,0),1.5>`).
    Geometry(Geo),
}

/// PostgreSQL's limit on an array's dimensions (`MAXDIM`).
const MAX_ARRAY_DIMS: usize = 6;

fn encoder_for(base: &str) -> Option<Enc> {
    Some(match base {
        "bool" => Enc::Bool,
        "int2" => Enc::Int2,
        "int4" => Enc::Int4,
        "int8" => Enc::Int8,
        "oid" | "xid" | "cid" => Enc::Oid,
        "xid8" => Enc::Xid8,
        "float4" => Enc::Float4,
        "float8" => Enc::Float8,
        "numeric" => Enc::Numeric,
        "text" | "varchar" | "bpchar" | "name" | "json" | "xml" | "citext" | "enum" => Enc::Text,
        "jsonb" => Enc::Jsonb,
        "bytea" => Enc::Bytea,
        "date" => Enc::Date,
        "time" => Enc::Time,
        "timestamp" => Enc::Timestamp,
        "timestamptz" => Enc::TimestampTz,
        "uuid" => Enc::Uuid,
        "interval" => Enc::Interval,
        "bit" | "varbit" => Enc::Special(Special::Bits),
        "timetz" => Enc::Special(Special::TimeTz),
        "pg_lsn" => Enc::Special(Special::Lsn),
        "ltree" | "lquery" | "ltxtquery" | "jsonpath" => Enc::Special(Special::VersionedText),
        "hstore" => Enc::Special(Special::Hstore),
        "point" => Enc::Special(Special::Geometry(Geo::Point)),
        "line" => Enc::Special(Special::Geometry(Geo::Line)),
        "lseg" => Enc::Special(Special::Geometry(Geo::Lseg)),
        "box" => Enc::Special(Special::Geometry(Geo::Box)),
        "path" => Enc::Special(Special::Geometry(Geo::Path)),
        "polygon" => Enc::Special(Special::Geometry(Geo::Polygon)),
        "circle" => Enc::Special(Special::Geometry(Geo::Circle)),
        _ => {
            let (kind, rest) = base.split_once(':')?;
            let (sub, _name) = rest.split_once(':')?;
            let sub = match sub {
                "int4" => RangeSub::Int4,
                "int8" => RangeSub::Int8,
                "numeric" => RangeSub::Numeric,
                "date" => RangeSub::Date,
                "timestamp" => RangeSub::Timestamp,
                "timestamptz" => RangeSub::TimestampTz,
                _ => return None,
            };
            match kind {
                "range" => Enc::Special(Special::Range(sub)),
                "multirange" => Enc::Special(Special::Multirange(sub)),
                _ => return None,
            }
        }
    })
}

/// The Arrow type each encoder reads (inputs are cast to it first, strictly).
fn arrow_for(enc: Enc, input: &DataType) -> Option<DataType> {
    Some(match enc {
        Enc::Bool => DataType::Boolean,
        Enc::Int2 => DataType::Int16,
        Enc::Int4 => DataType::Int32,
        Enc::Int8 => DataType::Int64,
        Enc::Oid => DataType::UInt32,
        Enc::Xid8 => DataType::UInt64,
        Enc::Float4 => DataType::Float32,
        Enc::Float8 => DataType::Float64,
        Enc::Numeric => match input {
            DataType::Decimal128(..) | DataType::Decimal256(..) => input.clone(),
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => DataType::Decimal128(38, 0),
            _ => DataType::Utf8,
        },
        Enc::Text | Enc::Jsonb | Enc::Special(_) => DataType::Utf8,
        Enc::Bytea => DataType::Binary,
        Enc::Date => DataType::Date32,
        Enc::Time => DataType::Time64(TimeUnit::Microsecond),
        Enc::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        Enc::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Enc::Uuid => match input {
            DataType::FixedSizeBinary(16) => input.clone(),
            _ => DataType::Utf8,
        },
        Enc::Interval => DataType::Interval(IntervalUnit::MonthDayNano),
        // Lists are planned by array_target.
        Enc::Array => return None,
    })
}

/// The Arrow type an input list column is cast to for an array column whose elements
/// are encoded by `elem`: a `List` (of lists, for a multidimensional array) of the
/// element's Arrow type. `None` when the input is not a list of something `elem` reads.
fn array_target(input: &DataType, elem: Enc) -> Option<DataType> {
    let f = list_item(input)?;
    let child = match f.data_type() {
        DataType::Dictionary(_, v) => v.as_ref(),
        dt => dt,
    };
    let item = if is_list(child) {
        array_target(child, elem)?
    } else {
        arrow_for(elem, child)?
    };
    Some(DataType::List(Arc::new(arrow_schema::Field::new(
        "item", item, true,
    ))))
}

/// The item field of any Arrow list type (list, large list, list views, fixed size).
fn list_item(dt: &DataType) -> Option<&arrow_schema::FieldRef> {
    match dt {
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _) => Some(f),
        _ => None,
    }
}

fn is_list(dt: &DataType) -> bool {
    list_item(dt).is_some()
}

/// The number of list levels in `dt`.
fn list_depth(dt: &DataType) -> usize {
    match dt {
        DataType::List(f) => 1 + list_depth(f.data_type()),
        _ => 0,
    }
}

/// The PostgreSQL type for a new column for field `f`, its extension type included.
fn pg_type_for_field(f: &arrow_schema::Field) -> Option<String> {
    let ext = f
        .metadata()
        .get(crate::types::EXTENSION_NAME_KEY)
        .map(|s| s.as_str());
    pg_type_for(
        f.data_type(),
        ext == Some(crate::types::UUID_EXTENSION),
        ext == Some(crate::types::JSON_EXTENSION),
    )
}

/// The PostgreSQL type for a new column of Arrow type `dt` (`CREATE TABLE` from data).
pub fn pg_type_for(dt: &DataType, is_uuid: bool, is_json: bool) -> Option<String> {
    Some(match dt {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint".into(),
        DataType::Int32 | DataType::UInt16 => "integer".into(),
        DataType::Int64 | DataType::UInt32 => "bigint".into(),
        DataType::UInt64 => "numeric(20,0)".into(),
        DataType::Float16 | DataType::Float32 => "real".into(),
        DataType::Float64 => "double precision".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("numeric({p},{s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if is_json => "jsonb".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text".into(),
        DataType::FixedSizeBinary(16) if is_uuid => "uuid".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "bytea".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Time32(_) | DataType::Time64(_) => "time".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Timestamp(_, Some(_)) => "timestamptz".into(),
        DataType::Interval(_) | DataType::Duration(_) => "interval".into(),
        DataType::Null => "text".into(),
        DataType::Dictionary(_, v) => return pg_type_for(v, false, false),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _) => {
            // One `[]` whatever the depth: PostgreSQL's array types do not fix it.
            let mut leaf = f;
            while let Some(g) = list_item(leaf.data_type()) {
                leaf = g;
            }
            format!("{}[]", pg_type_for_field(leaf)?)
        }
        _ => return None,
    })
}

async fn target_columns(client: &Client, table: &TableRef) -> Result<Option<Vec<TargetColumn>>> {
    let name = table.quoted();
    let exists = client
        .query_one("select to_regclass($1)::oid::int8", &[&name])
        .await
        .map_err(map_err)?;
    let oid: Option<i64> = exists.get(0);
    let Some(oid) = oid else { return Ok(None) };
    let rows = client
        .query(
            "select a.attname::text, \
                    case when b.typtype = 'e' then 'enum' \
                         when b.typcategory = 'A' and b.typelem <> 0 then 'array' \
                         when b.typtype in ('r', 'm') then \
                              'rng:' || b.typtype::text || ':' || b.oid::text || ':' || b.typname::text \
                         else b.typname::text end, \
                    a.attnotnull, \
                    (a.atthasdef or a.attidentity <> '' or a.attgenerated <> ''), \
                    case when e.typtype = 'e' then 'enum' \
                         when e.typtype = 'd' then (select eb.typname::text from pg_type eb where eb.oid = e.typbasetype) \
                         when e.typtype in ('r', 'm') then \
                              'rng:' || e.typtype::text || ':' || e.oid::text || ':' || e.typname::text \
                         else e.typname::text end, \
                    e.oid::int8, \
                    case when t.typtype = 'd' then t.typtypmod else a.atttypmod end, \
                    a.attgenerated <> '', a.attidentity = 'a' \
             from pg_attribute a join pg_type t on t.oid = a.atttypid \
                  join pg_type b on b.oid = case when t.typtype = 'd' then t.typbasetype else t.oid end \
                  left join pg_type e on e.oid = b.typelem and b.typcategory = 'A' \
             where a.attrelid = $1::int8::oid and a.attnum > 0 and not a.attisdropped \
             order by a.attnum",
            &[&oid],
        )
        .await
        .map_err(map_err)?;
    let mut columns: Vec<TargetColumn> = rows
        .iter()
        .map(|r| TargetColumn {
            name: r.get(0),
            base: r.get(1),
            not_null: r.get(2),
            has_default: r.get(3),
            elem: r
                .get::<_, Option<String>>(4)
                .zip(r.get::<_, Option<i64>>(5))
                .map(|(name, oid)| (name, oid as u32)),
            typmod: r.get(6),
            generated: r.get(7),
            identity_always: r.get(8),
        })
        .collect();
    // Range and multirange columns (and arrays of them): their element type, looked up
    // only when the table has one (pg_range's multirange column is PostgreSQL 14+, and
    // Redshift has no pg_range).
    for c in &mut columns {
        if c.base.starts_with("rng:") {
            c.base = range_base(client, &c.base).await?;
        }
        if let Some((elem, _)) = c.elem.as_mut().filter(|(e, _)| e.starts_with("rng:")) {
            *elem = range_base(client, elem).await?;
        }
    }
    Ok(Some(columns))
}

/// `rng:<typtype>:<oid>:<name>` (from [`target_columns`]) as `range:<element>:<name>` or
/// `multirange:<element>:<name>`, which [`encoder_for`] takes.
async fn range_base(client: &Client, marked: &str) -> Result<String> {
    let mut parts = marked.splitn(4, ':').skip(1);
    let (Some(kind), Some(oid), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::interface(format!(
            "unexpected range type entry {marked:?}"
        )));
    };
    let oid: i64 = oid
        .parse()
        .map_err(|_| Error::interface(format!("unexpected range type entry {marked:?}")))?;
    let (sql, prefix) = if kind == "m" {
        (
            "select s.typname::text from pg_range r join pg_type s on s.oid = r.rngsubtype \
             where r.rngmultitypid = $1::int8::oid",
            "multirange",
        )
    } else {
        (
            "select s.typname::text from pg_range r join pg_type s on s.oid = r.rngsubtype \
             where r.rngtypid = $1::int8::oid",
            "range",
        )
    };
    let row = client.query_opt(sql, &[&oid]).await.map_err(map_err)?;
    let sub: String = row.map(|r| r.get(0)).unwrap_or_default();
    Ok(format!("{prefix}:{sub}:{name}"))
}

/// The type name to show for a column's base entry (a range's own name, not its
/// `range:<element>:<name>` entry).
fn shown_base(base: &str) -> &str {
    if base.starts_with("range:") || base.starts_with("multirange:") {
        base.splitn(3, ':').nth(2).unwrap_or(base)
    } else {
        base
    }
}

fn create_sql(
    table: &TableRef,
    schema: &arrow_schema::Schema,
    names: &[String],
    key: &[String],
) -> Result<String> {
    let mut cols = Vec::new();
    for (f, n) in schema.fields().iter().zip(names) {
        let ty = pg_type_for_field(f).ok_or_else(|| {
            Error::unsupported_write_type(
                n,
                &f.data_type().to_string(),
                "PostgreSQL",
                "no PostgreSQL column type for it; cast it first",
            )
        })?;
        let null = if f.is_nullable() { "" } else { " NOT NULL" };
        cols.push(format!("{} {ty}{null}", quote_ident(n)));
    }
    if !key.is_empty() {
        // Keyed modes create the table with the key as its primary key (upsert needs a
        // unique index for ON CONFLICT).
        let k: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
        cols.push(format!("PRIMARY KEY ({})", k.join(", ")));
    }
    Ok(format!(
        "CREATE TABLE {} ({})",
        table.quoted(),
        cols.join(", ")
    ))
}

/// One input column prepared for encoding.
struct Plan {
    input_index: usize,
    enc: Enc,
    /// For [`Enc::Array`]: the element's encoder and type OID.
    elem: Option<(Enc, u32)>,
    /// For text into `numeric(p,s)`: the scale its values must fit (checked as each
    /// value is encoded; text keeps PostgreSQL's own forms, `1e2` included).
    text_scale: Option<i8>,
    target: DataType,
    name: String,
    /// A list column into a `json`/`jsonb` column: each row as a JSON document.
    to_json: bool,
    /// A UUID into a text column: its standard text.
    uuid_text: bool,
}

impl PgConnector {
    /// Write every batch of `reader` into `table`.
    pub async fn write(
        &self,
        table: &TableRef,
        reader: Box<dyn RecordBatchReader + Send>,
        opts: &WriteOptions,
        cancel: &CancelSlot,
    ) -> Result<WriteResult> {
        if self.is_redshift() {
            return self.write_redshift(table, reader, opts, cancel).await;
        }
        crate::write::check_key(opts)?;
        let start = std::time::Instant::now();
        let mut conn = self.checkout(cancel).await?;
        let client = &conn.client;
        let res = async {
            let names = mapped_names(&reader.schema(), &opts.column_map)?;
            let replace = opts.mode == WriteMode::Replace;
            let check = check_may_copy(client, table, &names, replace).await?;
            client.batch_execute("BEGIN").await.map_err(map_err)?;
            let r = write_body(self, &conn, table, reader, opts, start, check).await?;
            client
                .batch_execute("COMMIT")
                .await
                .map_err(|e| map_err(e).commit_in_doubt())?;
            Ok(r)
        }
        .await;
        // A connection that cannot roll back (tokio-postgres drops it after a COPY
        // the server refused at the start, e.g. into a view) must not be handed out
        // again: it may not look closed yet.
        if res.is_err()
            && (conn.client.is_closed() || conn.client.batch_execute("ROLLBACK").await.is_err())
        {
            conn.mark_broken();
        }
        conn.observe(&res);
        cancel.clear();
        res
    }
}

/// A COPY the server refuses before it starts (a read-only transaction, no INSERT
/// privilege, a view, row-level security) makes tokio-postgres drop the connection
/// (its copy_in sends a second Sync, whose extra ReadyForQuery it cannot place): a
/// caller's whole transaction would be lost, and outside one the next call could get
/// the dying connection. Those cases are checked first: refusals are plain errors,
/// and the answer says whether the rows must go in through INSERT (from a staged
/// copy), which views and row-level security policies take where COPY is refused.
/// For a replace it also says how to empty the table (see [`empty_table`]).
async fn check_may_copy(
    client: &tokio_postgres::Client,
    table: &TableRef,
    columns: &[String],
    replace: bool,
) -> Result<CopyCheck> {
    // relkind: r table, p partitioned, f foreign table, v view, m, S, ...; then the
    // input's columns the role may not insert into (column-level grants); then, for a
    // replace only, whether the server allows TRUNCATE (a plain or partitioned table,
    // the privilege, no foreign key referencing it or one of its partitions).
    let row = client
        .query_one(
            "select current_setting('transaction_read_only') = 'on', \
                    coalesce(has_any_column_privilege(r, 'INSERT'), true), \
                    k.relkind, \
                    coalesce(row_security_active(r), false), \
                    array(select a.attname::text from pg_attribute a \
                          where a.attrelid = r and a.attnum > 0 and not a.attisdropped \
                            and a.attname = any($2::text[]) \
                            and not has_column_privilege(r, a.attnum, 'INSERT') \
                          order by a.attnum), \
                    case when $3 and k.relkind in ('r', 'p') \
                         then has_table_privilege(r, 'TRUNCATE') \
                              and not exists (select 1 from pg_constraint f \
                                  where f.contype = 'f' and (f.confrelid = r \
                                     or f.confrelid in (select i.inhrelid from pg_inherits i \
                                                        where i.inhparent = r))) \
                         else false end \
             from (select to_regclass($1) as r) x, \
                  lateral (select (select c.relkind::text from pg_class c \
                                   where c.oid = x.r) as relkind) k",
            &[&table.quoted(), &columns, &replace],
        )
        .await
        .map_err(map_err)?;
    let (read_only, may_insert): (bool, bool) = (row.get(0), row.get(1));
    let (kind, rls): (Option<String>, bool) = (row.get(2), row.get(3));
    let denied: Vec<String> = row.get(4);
    let may_truncate: bool = row.get(5);
    let what = match kind.as_deref() {
        None | Some("r" | "p" | "f" | "v") => None,
        Some("m") => Some("a materialized view"),
        Some("S") => Some("a sequence"),
        Some(_) => Some("not a table"),
    };
    if let Some(what) = what {
        return Err(Error::new(
            ErrorKind::Query,
            format!(
                "cannot write to {}: it is {what}; write into its table",
                table.quoted()
            ),
        )
        .with_sqlstate("42809")
        .transient(false));
    }
    if read_only {
        return Err(Error::new(
            ErrorKind::ReadOnly,
            format!(
                "cannot write to {} in a read-only transaction",
                table.quoted()
            ),
        )
        .with_sqlstate("25006")
        .transient(false));
    }
    if !may_insert {
        return Err(Error::new(
            ErrorKind::Query,
            format!("permission denied for table {}", table.quoted()),
        )
        .with_sqlstate("42501")
        .transient(false));
    }
    if !denied.is_empty() {
        return Err(Error::new(
            ErrorKind::Query,
            format!(
                "permission denied for column(s) {} of table {}: the role may insert only \
                 into other columns",
                denied.join(", "),
                table.quoted()
            ),
        )
        .with_sqlstate("42501")
        .with_detail("column", denied[0].clone())
        .transient(false));
    }
    Ok(CopyCheck {
        via_insert: rls || kind.as_deref() == Some("v"),
        may_truncate,
    })
}

/// What [`check_may_copy`] found about a write's target.
#[derive(Clone, Copy)]
struct CopyCheck {
    /// COPY is refused there (a view, row-level security): stage, then INSERT.
    via_insert: bool,
    /// A replace may empty it with TRUNCATE.
    may_truncate: bool,
}

/// Remove every row of `table` for a replace, inside the write's transaction.
/// `TRUNCATE` where the server allows it (it is the fast way, and leaves no dead rows);
/// `DELETE` where it does not: a table a foreign key references (TRUNCATE is refused
/// then, even when no row refers to it), a role with DELETE but not TRUNCATE privilege,
/// and views and foreign tables. A DELETE that would orphan a referencing row is then a
/// `ForeignKeyViolation`, as on MySQL and SQLite. A table the write itself created
/// (not there at the check) is empty: DELETE has nothing to do.
async fn empty_table(
    client: &tokio_postgres::Client,
    table: &TableRef,
    check: CopyCheck,
) -> Result<()> {
    let verb = if check.may_truncate {
        "TRUNCATE"
    } else {
        "DELETE FROM"
    };
    client
        .batch_execute(&format!("{verb} {}", table.quoted()))
        .await
        .map_err(map_err)
}

/// A write inside the caller's open transaction, atomic through a savepoint.
pub(crate) async fn write_in_tx(
    owner: &PgConnector,
    conn: &super::PgConn,
    table: &TableRef,
    reader: Box<dyn RecordBatchReader + Send>,
    opts: &WriteOptions,
) -> Result<WriteResult> {
    if owner.is_redshift() {
        return Err(Error::interface(
            "writes to Redshift are not supported yet (Redshift has no COPY FROM STDIN; use COPY from S3)",
        ));
    }
    crate::write::check_key(opts)?;
    let start = std::time::Instant::now();
    let client = &conn.client;
    let names = mapped_names(&reader.schema(), &opts.column_map)?;
    let replace = opts.mode == WriteMode::Replace;
    let check = check_may_copy(client, table, &names, replace).await?;
    client
        .batch_execute("SAVEPOINT _sqlarrow_write")
        .await
        .map_err(map_err)?;
    match write_body(owner, conn, table, reader, opts, start, check).await {
        Ok(r) => {
            client
                .batch_execute("RELEASE SAVEPOINT _sqlarrow_write")
                .await
                .map_err(map_err)?;
            Ok(r)
        }
        Err(e) => {
            if !client.is_closed() {
                let _ = client
                    .batch_execute(
                        "ROLLBACK TO SAVEPOINT _sqlarrow_write; RELEASE SAVEPOINT _sqlarrow_write",
                    )
                    .await;
            }
            Err(e)
        }
    }
}

/// The write itself, inside an open transaction (no BEGIN/COMMIT here). `check`: what
/// [`check_may_copy`] found (a target that takes no COPY has its rows staged and
/// inserted; how a replace empties it).
async fn write_body(
    owner: &PgConnector,
    conn: &super::PgConn,
    table: &TableRef,
    reader: Box<dyn RecordBatchReader + Send>,
    opts: &WriteOptions,
    start: std::time::Instant,
    check: CopyCheck,
) -> Result<WriteResult> {
    let client = &conn.client;
    let mut reader = reader;
    let schema = reader.schema();
    let names = mapped_names(&schema, &opts.column_map)?;
    crate::write::check_name_lengths(crate::schema::Dialect::Postgres, table, &names)?;
    let mut existing = target_columns(client, table).await?;
    match (&existing, opts.mode) {
        (Some(_), WriteMode::Create) => {
            return Err(Error::new(
                ErrorKind::Query,
                format!("table {} already exists (mode=\"create\")", table.quoted()),
            )
            .with_sqlstate("42P07"))
        }
        (None, WriteMode::Create) | (None, _)
            if opts.mode == WriteMode::Create || opts.create_if_missing =>
        {
            client
                .batch_execute(&create_sql(
                    table,
                    &schema,
                    &names,
                    if opts.mode.is_keyed() { &opts.key } else { &[] },
                )?)
                .await
                .map_err(map_err)?;
            existing = target_columns(client, table).await?;
        }
        (None, _) => {
            return Err(Error::new(
                ErrorKind::UndefinedObject,
                format!(
                    "table {} does not exist (create_if_missing=False)",
                    table.quoted()
                ),
            )
            .with_sqlstate("42P01"))
        }
        _ => {}
    }
    let target = existing.ok_or_else(|| Error::interface("table vanished while writing"))?;
    let plans = plan(&schema, &names, &target, opts.mode)?;
    if opts.mode.is_keyed() || opts.skip_errors || check.via_insert {
        let ctx = MergeCtx {
            owner,
            conn,
            table,
            plans: &plans,
            target: &target,
            input: &schema,
            check,
        };
        return merge(&ctx, reader.as_mut(), opts, start).await;
    }
    if opts.mode == WriteMode::Replace {
        empty_table(client, table, check).await?;
    }
    let cols: Vec<String> = plans.iter().map(|p| quote_ident(&p.name)).collect();
    let copy = format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        table.quoted(),
        cols.join(", ")
    );
    let sink = client
        .copy_in::<_, Bytes>(copy.as_str())
        .await
        .map_err(map_err)?;
    futures_util::pin_mut!(sink);
    let mut buf = BytesMut::with_capacity(FLUSH_BYTES + (64 << 10));
    buf.put_slice(b"PGCOPY\n\xff\r\n\0");
    buf.put_i32(0);
    buf.put_i32(0);
    let mut rows = 0u64;
    while let Some(batch) = next_batch(reader.as_mut())? {
        let arrays =
            prepare_batch(&batch, &plans).map_err(|e| crate::write::at_input_row(e, rows))?;
        encode_rows(
            &arrays,
            &plans,
            batch.num_rows(),
            (rows, false),
            &mut buf,
            &mut sink,
        )
        .await?;
        rows += batch.num_rows() as u64;
    }
    buf.put_i16(-1);
    sink.send(buf.split().freeze()).await.map_err(map_err)?;
    let written = sink.as_mut().finish().await.map_err(map_err)?;
    debug_assert_eq!(written, rows);
    Ok(WriteResult {
        rows_written: written,
        elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
        ..Default::default()
    })
}

static STAGE_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The name of a fresh staging table (temporary, dropped at commit).
fn stage_name() -> String {
    let n = STAGE_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("_sqlarrow_stage_{}_{n}", std::process::id())
}

/// Whether `table` has a unique index (or primary key) on exactly the `key` columns.
async fn has_unique_index(client: &Client, table: &TableRef, key: &[String]) -> Result<bool> {
    let rows = client
        .query(
            "select array(select a.attname::text from unnest(i.indkey) k \
                          join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k) \
             from pg_index i \
             where i.indrelid = to_regclass($1) and i.indisunique and i.indpred is null \
               and i.indexprs is null",
            &[&table.quoted()],
        )
        .await
        .map_err(map_err)?;
    let mut want: Vec<&str> = key.iter().map(|s| s.as_str()).collect();
    want.sort_unstable();
    Ok(rows.iter().any(|r| {
        let mut cols: Vec<String> = r.get(0);
        cols.sort_unstable();
        cols == want
    }))
}

/// Upsert/update: stage the input with binary COPY into a temporary table (with an
/// input-ordinal column), then merge with one statement. Duplicate keys in the input:
/// the last row wins (the stage is deduplicated keeping the highest ordinal).
struct MergeCtx<'a> {
    owner: &'a PgConnector,
    conn: &'a super::PgConn,
    table: &'a TableRef,
    plans: &'a [Plan],
    target: &'a [TargetColumn],
    input: &'a arrow_schema::Schema,
    check: CopyCheck,
}

async fn merge(
    ctx: &MergeCtx<'_>,
    reader: &mut (dyn RecordBatchReader + Send),
    opts: &WriteOptions,
    start: std::time::Instant,
) -> Result<WriteResult> {
    let (client, table, plans) = (&ctx.conn.client, ctx.table, ctx.plans);
    for k in &opts.key {
        if !plans.iter().any(|p| &p.name == k) {
            return Err(Error::config(format!(
                "key column {k:?} is not in the input (after column_map)"
            ))
            .with_detail("column", k.clone()));
        }
    }
    if opts.mode == WriteMode::Upsert && !has_unique_index(client, table, &opts.key).await? {
        return Err(Error::config(format!(
            "upsert into {} needs a primary key or unique index on exactly ({}): PostgreSQL's \
             INSERT ... ON CONFLICT can only match a unique index; create one (e.g. \
             ALTER TABLE ... ADD PRIMARY KEY ({})) or use mode=\"update\"",
            table.quoted(),
            opts.key.join(", "),
            opts.key
                .iter()
                .map(|k| quote_ident(k))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let stage = quote_ident(&stage_name());
    let cols: Vec<String> = plans.iter().map(|p| quote_ident(&p.name)).collect();
    let col_list = cols.join(", ");
    // With on_error="skip", text longer than a varchar(n)/char(n) column is set aside
    // like a constraint violation (see `set_aside`): the stage takes it as text.
    let widen: String = if opts.skip_errors {
        ctx.target
            .iter()
            .filter(|c| c.char_limit().is_some() && plans.iter().any(|p| p.name == c.name))
            .map(|c| {
                format!(
                    "; ALTER TABLE {stage} ALTER COLUMN {} TYPE text",
                    quote_ident(&c.name)
                )
            })
            .collect()
    } else {
        String::new()
    };
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {col_list} FROM {} WITH NO DATA; \
             ALTER TABLE {stage} ADD COLUMN _sqlarrow_ord int8{widen}",
            table.quoted()
        ))
        .await
        .map_err(map_err)?;
    let copy = format!("COPY {stage} ({col_list}, _sqlarrow_ord) FROM STDIN (FORMAT binary)");
    let sink = client
        .copy_in::<_, Bytes>(copy.as_str())
        .await
        .map_err(map_err)?;
    futures_util::pin_mut!(sink);
    let mut buf = BytesMut::with_capacity(FLUSH_BYTES + (64 << 10));
    buf.put_slice(b"PGCOPY\n\xff\r\n\0");
    buf.put_i32(0);
    buf.put_i32(0);
    let mut rows = 0u64;
    while let Some(batch) = next_batch(reader)? {
        let arrays =
            prepare_batch(&batch, plans).map_err(|e| crate::write::at_input_row(e, rows))?;
        encode_rows(
            &arrays,
            plans,
            batch.num_rows(),
            (rows, true),
            &mut buf,
            &mut sink,
        )
        .await?;
        rows += batch.num_rows() as u64;
    }
    buf.put_i16(-1);
    sink.send(buf.split().freeze()).await.map_err(map_err)?;
    sink.as_mut().finish().await.map_err(map_err)?;

    let keys: Vec<String> = opts.key.iter().map(|k| quote_ident(k)).collect();
    let key_list = keys.join(", ");
    let failed_table = if opts.skip_errors {
        Some(set_aside(ctx, &stage, opts).await?)
    } else {
        None
    };
    if opts.mode == WriteMode::Replace {
        empty_table(client, table, ctx.check).await?;
    }
    let non_key: Vec<&String> = cols.iter().filter(|c| !keys.contains(c)).collect();
    // An input value for a GENERATED ALWAYS identity column is taken, as COPY takes it.
    let overriding = if ctx
        .target
        .iter()
        .any(|c| c.identity_always && plans.iter().any(|p| p.name == c.name))
    {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    // A partitioned table cannot return xmax (the insert-or-update tell): its upsert
    // counts the keys it finds in the table beforehand, in the same snapshot.
    let partitioned = opts.mode == WriteMode::Upsert
        && client
            .query_one(
                "select coalesce((select relkind = 'p' from pg_class where oid = to_regclass($1)), false)",
                &[&table.quoted()],
            )
            .await
            .map_err(map_err)?
            .get::<_, bool>(0);
    if opts.mode == WriteMode::Update && non_key.is_empty() {
        return Err(Error::config(
            "mode=\"update\" needs at least one input column besides the key",
        ));
    }
    // The statement that moves the staged rows (those `range` selects, e.g.
    // `WHERE _sqlarrow_ord >= 5 AND _sqlarrow_ord < 9`, or all) into the table.
    let statement = |range: &str| -> String {
        let t = table.quoted();
        // The last staged row per key (keyed modes).
        let dedup = || {
            format!(
                "SELECT DISTINCT ON ({key_list}) {col_list} FROM {stage}{range} \
                 ORDER BY {key_list}, _sqlarrow_ord DESC"
            )
        };
        match opts.mode {
            WriteMode::Upsert => {
                let action = if non_key.is_empty() {
                    "DO NOTHING".to_string()
                } else {
                    format!(
                        "DO UPDATE SET {}",
                        non_key
                            .iter()
                            .map(|c| format!("{c} = EXCLUDED.{c}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                if partitioned {
                    let found = if non_key.is_empty() {
                        // DO NOTHING returns the inserted rows only.
                        "0::int8".to_string()
                    } else {
                        format!("(SELECT count(*) FROM s JOIN {t} USING ({key_list}))")
                    };
                    format!(
                        "WITH s AS ({}), m AS (INSERT INTO {t} ({col_list}){overriding} \
                         SELECT {col_list} FROM s ON CONFLICT ({key_list}) {action} RETURNING 1), \
                         f AS (SELECT {found} AS n) \
                         SELECT (SELECT count(*) FROM m) - f.n, f.n FROM f",
                        dedup()
                    )
                } else {
                    format!(
                        "WITH m AS (INSERT INTO {t} ({col_list}){overriding} {} \
                         ON CONFLICT ({key_list}) \
                         {action} RETURNING (xmax = 0) AS inserted) \
                         SELECT count(*) FILTER (WHERE inserted), \
                                count(*) FILTER (WHERE NOT inserted) FROM m",
                        dedup()
                    )
                }
            }
            WriteMode::Update => {
                let set = non_key
                    .iter()
                    .map(|c| format!("{c} = s.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let on = keys
                    .iter()
                    .map(|k| format!("t.{k} = s.{k}"))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                format!(
                    "UPDATE {t} AS t SET {set} FROM ({}) AS s WHERE {on}",
                    dedup()
                )
            }
            _ => format!(
                "INSERT INTO {t} ({col_list}){overriding} SELECT {col_list} FROM {stage}{range} \
                 ORDER BY _sqlarrow_ord"
            ),
        }
    };
    // (inserted, updated). No RETURNING outside upserts: under row-level security it
    // would need SELECT rights on the new rows too.
    let mode = opts.mode;
    let run = |sql: String| async move {
        Ok::<_, Error>(match mode {
            WriteMode::Upsert => {
                let r = client.query_one(&sql, &[]).await.map_err(map_err)?;
                (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64)
            }
            WriteMode::Update => (0, client.execute(&sql, &[]).await.map_err(map_err)?),
            _ => (client.execute(&sql, &[]).await.map_err(map_err)?, 0),
        })
    };
    let (written, updated) = match &failed_table {
        None => run(statement("")).await?,
        Some(failed) => apply_skipping(client, &stage, failed, &statement, &run).await?,
    };
    let failed = match &failed_table {
        Some(t) => Some(collect_failed(ctx, t).await?),
        None => None,
    };
    Ok(WriteResult {
        rows_written: written,
        rows_updated: updated,
        rows_failed: failed.as_ref().map(|f| f.num_rows()).unwrap_or(0),
        failed,
        elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
        ..Default::default()
    })
}

/// Whether a failed statement's error is about a row (a constraint, a value, a
/// trigger's exception, a row-level security policy's check), so that
/// `on_error="skip"` can look for the rows behind it.
fn row_level(e: &Error) -> bool {
    let state = e.sqlstate.as_deref().unwrap_or("");
    matches!(state.get(..2), Some("22" | "23" | "44" | "P0"))
        || (state == "42501" && e.message.contains("row-level security"))
}

/// `on_error="skip"`: run `statement` over the whole stage; if the server refuses a
/// row that [`set_aside`]'s checks do not foresee (no partition for it, an exclusion
/// constraint, a trigger's exception), find such rows by halving the stage's
/// ordinal ranges, each try in a savepoint: the ranges that go through stay written,
/// a single row that fails joins `failed` with the server's message. k such rows cost
/// about 2·k·log2(n) statements; past [`MAX_SKIP_TRIES`] statements (a cause that
/// refuses most rows, such as a trigger that always raises) the search gives up with
/// an error, and the write is undone. Returns the summed (inserted, updated) counts.
/// See [`apply_skipping`].
const MAX_SKIP_TRIES: usize = 10_000;

async fn apply_skipping<S, F, Fut>(
    client: &Client,
    stage: &str,
    failed: &str,
    statement: &S,
    run: &F,
) -> Result<(u64, u64)>
where
    S: Fn(&str) -> String + Sync,
    F: Fn(String) -> Fut + Sync,
    Fut: std::future::Future<Output = Result<(u64, u64)>>,
{
    let savepoint = "_sqlarrow_rows";
    let attempt = |sql: String| async move {
        client
            .batch_execute(&format!("SAVEPOINT {savepoint}"))
            .await
            .map_err(map_err)?;
        match run(sql).await {
            Ok(counts) => {
                client
                    .batch_execute(&format!("RELEASE SAVEPOINT {savepoint}"))
                    .await
                    .map_err(map_err)?;
                Ok(Ok(counts))
            }
            Err(e) if row_level(&e) => {
                client
                    .batch_execute(&format!(
                        "ROLLBACK TO SAVEPOINT {savepoint}; RELEASE SAVEPOINT {savepoint}"
                    ))
                    .await
                    .map_err(map_err)?;
                Ok(Err(e))
            }
            Err(e) => Err(e),
        }
    };
    let first = match attempt(statement("")).await? {
        Ok(counts) => return Ok(counts),
        Err(e) => e,
    };
    client
        .batch_execute(&format!(
            "CREATE INDEX ON {stage} (_sqlarrow_ord); ANALYZE {stage}"
        ))
        .await
        .map_err(map_err)?;
    let bounds = client
        .query_one(
            &format!("SELECT min(_sqlarrow_ord), max(_sqlarrow_ord) FROM {stage}"),
            &[],
        )
        .await
        .map_err(map_err)?;
    let (Some(lo), Some(hi)) = (
        bounds.get::<_, Option<i64>>(0),
        bounds.get::<_, Option<i64>>(1),
    ) else {
        return Ok((0, 0));
    };
    let (mut inserted, mut updated) = (0u64, 0u64);
    let mut ranges = vec![(lo, hi + 1)];
    let (mut tries, mut set_aside) = (0usize, 0usize);
    while let Some((a, b)) = ranges.pop() {
        tries += 1;
        if tries > MAX_SKIP_TRIES {
            let mut e = Error::new(
                first.kind,
                format!(
                    "on_error=\"skip\" gave up after {MAX_SKIP_TRIES} statements looking for the \
                     rows behind this error, which too many rows raise ({set_aside} set aside so \
                     far); nothing was written: {}",
                    first.message
                ),
            )
            .transient(false);
            e.sqlstate = first.sqlstate.clone();
            return Err(e);
        }
        let range = format!(" WHERE _sqlarrow_ord >= {a} AND _sqlarrow_ord < {b}");
        match attempt(statement(&range)).await? {
            Ok((i, u)) => {
                inserted += i;
                updated += u;
            }
            Err(e) if b - a == 1 => {
                client
                    .execute(
                        &format!(
                            "INSERT INTO {failed} SELECT s.*, $1::text FROM {stage} s \
                             WHERE s._sqlarrow_ord = {a}"
                        ),
                        &[&e.message],
                    )
                    .await
                    .map_err(map_err)?;
                set_aside += 1;
            }
            Err(_) => {
                let mid = a + (b - a) / 2;
                // The upper half first off the stack: rows go in in input order.
                ranges.push((mid, b));
                ranges.push((a, mid));
            }
        }
    }
    Ok((inserted, updated))
}

/// `on_error="skip"`: find the staged rows that would violate the target's NOT NULL,
/// CHECK, FOREIGN KEY and UNIQUE/PRIMARY KEY constraints (checked in SQL against the
/// stage), return them with a reason each, and delete them from the stage. In keyed
/// modes the stage is first reduced to the last row per key (superseded rows are not
/// failures).
async fn set_aside(ctx: &MergeCtx<'_>, stage: &str, opts: &WriteOptions) -> Result<String> {
    let client = &ctx.conn.client;
    let t = ctx.table.quoted();
    let names: Vec<&str> = ctx.plans.iter().map(|p| p.name.as_str()).collect();
    let has_all = |cols: &[String]| cols.iter().all(|c| names.contains(&c.as_str()));
    let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let keyed = opts.mode.is_keyed();
    let rej = quote_ident(&stage_name());
    let mut sql = vec![format!(
        "CREATE TEMP TABLE {rej} (_sqlarrow_ord int8 PRIMARY KEY, reason text NOT NULL) ON COMMIT DROP"
    )];
    let reject = |cond_from: String, reason: String| {
        format!(
            "INSERT INTO {rej} SELECT s._sqlarrow_ord, {} {cond_from} ON CONFLICT DO NOTHING",
            lit(&reason)
        )
    };
    if keyed {
        // A NULL key matches no row (see `write::refuse_null_keys`): set aside first.
        for k in &opts.key {
            sql.push(reject(
                format!("FROM {stage} s WHERE s.{} IS NULL", quote_ident(k)),
                format!("key column \"{k}\" is null: a NULL key matches no row"),
            ));
        }
        let same = opts
            .key
            .iter()
            .map(|k| format!("s.{k} = s2.{k}", k = quote_ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        sql.push(format!(
            "DELETE FROM {stage} s USING {stage} s2 WHERE {same} AND s._sqlarrow_ord < s2._sqlarrow_ord"
        ));
    }
    // NOT NULL
    for c in ctx.target {
        if c.not_null && names.contains(&c.name.as_str()) {
            sql.push(reject(
                format!("FROM {stage} s WHERE s.{} IS NULL", quote_ident(&c.name)),
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    c.name, ctx.table.name
                ),
            ));
        }
    }
    // Text too long for varchar(n)/char(n) (trailing spaces beyond n are cut by the
    // server, as it does for any insert)
    for c in ctx.target {
        if let Some((n, type_name)) = c.char_limit() {
            if names.contains(&c.name.as_str()) {
                sql.push(reject(
                    format!(
                        "FROM {stage} s WHERE char_length(rtrim(s.{}, ' ')) > {n}",
                        quote_ident(&c.name)
                    ),
                    format!(
                        "value too long for type {type_name}({n}) in column \"{}\"",
                        c.name
                    ),
                ));
            }
        }
    }
    // CHECK
    let checks = client
        .query(
            "select conname::text, pg_get_expr(conbin, conrelid),                     array(select a.attname::text from pg_attribute a                           where a.attrelid = c.conrelid and a.attnum = any(c.conkey))              from pg_constraint c where conrelid = to_regclass($1) and contype = 'c'",
            &[&t],
        )
        .await
        .map_err(map_err)?;
    for r in &checks {
        let (name, expr, cols): (String, String, Vec<String>) = (r.get(0), r.get(1), r.get(2));
        if has_all(&cols) {
            sql.push(reject(
                format!("FROM {stage} s WHERE ({expr}) IS FALSE"),
                format!(
                    "new row for relation \"{}\" violates check constraint \"{name}\"",
                    ctx.table.name
                ),
            ));
        }
    }
    // FOREIGN KEY
    let fks = client
        .query(
            "select conname::text, confrelid::regclass::text,                     array(select a.attname::text from unnest(c.conkey) with ordinality k(n, i)                           join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i),                     array(select a.attname::text from unnest(c.confkey) with ordinality k(n, i)                           join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i)              from pg_constraint c where conrelid = to_regclass($1) and contype = 'f'",
            &[&t],
        )
        .await
        .map_err(map_err)?;
    for r in &fks {
        let (name, reft, local, remote): (String, String, Vec<String>, Vec<String>) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        if !has_all(&local) {
            continue;
        }
        let not_null = local
            .iter()
            .map(|c| format!("s.{} IS NOT NULL", quote_ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let on = local
            .iter()
            .zip(&remote)
            .map(|(l, f)| format!("f.{} = s.{}", quote_ident(f), quote_ident(l)))
            .collect::<Vec<_>>()
            .join(" AND ");
        sql.push(reject(
            format!(
                "FROM {stage} s WHERE {not_null} AND NOT EXISTS (SELECT 1 FROM {reft} f WHERE {on})"
            ),
            format!(
                "insert or update on table \"{}\" violates foreign key constraint \"{name}\"",
                ctx.table.name
            ),
        ));
    }
    // UNIQUE / PRIMARY KEY
    let uniques = client
        .query(
            "select c.relname::text, array(select a.attname::text from unnest(i.indkey) k                     join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k)              from pg_index i join pg_class c on c.oid = i.indexrelid              where i.indrelid = to_regclass($1) and i.indisunique                and i.indpred is null and i.indexprs is null",
            &[&t],
        )
        .await
        .map_err(map_err)?;
    let mut sorted_key: Vec<&String> = opts.key.iter().collect();
    sorted_key.sort();
    for r in &uniques {
        let (name, cols): (String, Vec<String>) = (r.get(0), r.get(1));
        if !has_all(&cols) {
            continue;
        }
        let mut sc: Vec<&String> = cols.iter().collect();
        sc.sort();
        if keyed && sc == sorted_key {
            continue; // matching on the key is what upsert/update do
        }
        let reason = format!("duplicate key value violates unique constraint \"{name}\"");
        if opts.mode != WriteMode::Replace {
            let same = cols
                .iter()
                .map(|c| format!("e.{c} = s.{c}", c = quote_ident(c)))
                .collect::<Vec<_>>()
                .join(" AND ");
            let other_row = if keyed {
                format!(
                    " AND NOT ({})",
                    opts.key
                        .iter()
                        .map(|k| format!("e.{k} = s.{k}", k = quote_ident(k)))
                        .collect::<Vec<_>>()
                        .join(" AND ")
                )
            } else {
                String::new()
            };
            sql.push(reject(
                format!(
                    "FROM {stage} s WHERE EXISTS (SELECT 1 FROM {t} e WHERE {same}{other_row})"
                ),
                format!("{reason} (the key exists in the table)"),
            ));
        }
        let part = cols
            .iter()
            .map(|c| format!("s.{}", quote_ident(c)))
            .collect::<Vec<_>>();
        let not_null = part
            .iter()
            .map(|c| format!("{c} IS NOT NULL"))
            .collect::<Vec<_>>()
            .join(" AND ");
        sql.push(format!(
            "INSERT INTO {rej} SELECT o, {} FROM (SELECT s._sqlarrow_ord AS o, row_number() OVER              (PARTITION BY {} ORDER BY s._sqlarrow_ord) AS rn FROM {stage} s WHERE {not_null}              AND NOT EXISTS (SELECT 1 FROM {rej} r WHERE r._sqlarrow_ord = s._sqlarrow_ord)) x              WHERE rn > 1 ON CONFLICT DO NOTHING",
            lit(&format!("{reason} (repeated within the input)")),
            part.join(", ")
        ));
    }
    // The rejected rows leave the stage for a table of their own, with their reason.
    let failed = quote_ident(&stage_name());
    sql.push(format!(
        "CREATE TEMP TABLE {failed} ON COMMIT DROP AS \
         SELECT s.*, r.reason AS _sqlarrow_reason FROM {stage} s JOIN {rej} r USING (_sqlarrow_ord)"
    ));
    sql.push(format!(
        "DELETE FROM {stage} s USING {rej} r WHERE s._sqlarrow_ord = r._sqlarrow_ord"
    ));
    client
        .batch_execute(&sql.join(";\n"))
        .await
        .map_err(map_err)?;
    Ok(failed)
}

/// The rows set aside in `failed` (see [`set_aside`], [`apply_skipping`]), in input
/// order, typed like the input where possible, each with its reason.
async fn collect_failed(ctx: &MergeCtx<'_>, failed: &str) -> Result<FailedRows> {
    let cols = ctx
        .plans
        .iter()
        .map(|p| format!("s.{}", quote_ident(&p.name)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut sink = crate::stream::Sink::collect();
    ctx.owner
        .query_on(
            ctx.conn,
            &format!("SELECT {cols}, s._sqlarrow_reason FROM {failed} s ORDER BY s._sqlarrow_ord"),
            &crate::value::Params::default(),
            65_536,
            &mut sink,
        )
        .await?;
    let mut rows = FailedRows::empty(ctx.input);
    if let crate::stream::Sink::Collect { batches, .. } = sink {
        for b in batches {
            let n = b.num_columns();
            let reason = arrow_cast::cast(b.column(n - 1), &DataType::Utf8)?;
            let reasons: Vec<String> = reason
                .as_string::<i32>()
                .iter()
                .map(|s| s.unwrap_or_default().to_string())
                .collect();
            rows.push(b.columns()[..n - 1].to_vec(), reasons)?;
        }
    }
    Ok(rows)
}

fn plan(
    schema: &arrow_schema::Schema,
    names: &[String],
    target: &[TargetColumn],
    mode: WriteMode,
) -> Result<Vec<Plan>> {
    let mut plans = Vec::new();
    for (i, (f, n)) in schema.fields().iter().zip(names).enumerate() {
        let t = target.iter().find(|c| &c.name == n).ok_or_else(|| {
            // PostgreSQL names are case-sensitive (sqlarrow quotes them): say so when
            // only the case differs.
            let lower = n.to_lowercase();
            let hint = match target.iter().find(|c| c.name.to_lowercase() == lower) {
                Some(c) => format!(
                    " (PostgreSQL column names are case-sensitive: the table has {:?})",
                    c.name
                ),
                None => String::new(),
            };
            crate::write::unknown_input_column(
                n,
                &target.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
                mode,
                &hint,
            )
        })?;
        if t.generated {
            // COPY refuses it after the write started, which loses the connection.
            return Err(Error::config(format!(
                "column \"{n}\" is a generated column (the server computes it): leave it out \
                 of the input"
            ))
            .with_detail("column", n.clone()));
        }
        let cannot = |type_name: String| {
            Error::new(
                ErrorKind::UnsupportedType,
                format!(
                    "table column \"{n}\" has type {type_name}, which sqlarrow cannot write to yet"
                ),
            )
            .with_detail("column", n.clone())
            .with_detail("type_name", type_name)
        };
        let (enc, elem, shown) = match (t.base.as_str(), &t.elem) {
            ("array", Some((elem_base, oid))) => {
                let shown = format!("{}[]", shown_base(elem_base));
                let elem = encoder_for(elem_base).ok_or_else(|| cannot(shown.clone()))?;
                (Enc::Array, Some((elem, *oid)), shown)
            }
            _ => (
                encoder_for(&t.base).ok_or_else(|| cannot(shown_base(&t.base).to_string()))?,
                None,
                shown_base(&t.base).to_string(),
            ),
        };
        let input = f.data_type();
        let target_dt = match (elem, t.numeric_scale()) {
            (Some((e, _)), _) => array_target(input, e),
            // A list into a json/jsonb column: one JSON array per row (see `to_json`).
            (None, _) if is_list(input) && matches!(t.base.as_str(), "json" | "jsonb") => {
                Some(DataType::Utf8)
            }
            (None, _) if is_list(input) => None,
            // Floats and decimals into numeric(p,s): at the column's scale here, so that
            // digits it would drop are refused rather than rounded by the server
            // (1.234 into numeric(10,2) was stored as 1.23).
            (None, Some((s, wide))) if enc == Enc::Numeric => match input {
                DataType::Float16 | DataType::Float32 | DataType::Float64 => Some(wide),
                DataType::Decimal128(_, is) | DataType::Decimal256(_, is) if *is > s => Some(wide),
                _ => arrow_for(enc, input),
            },
            (None, _) => arrow_for(enc, input),
        }
        .ok_or_else(|| {
            let hint = if elem.is_some() {
                format!("not into a column of type {shown}; pass a list column of its element type")
            } else if is_list(input) {
                format!("not into a column of type {shown}, which is not an array")
            } else {
                format!("not into a column of type {shown}; cast it first")
            };
            Error::unsupported_write_type(n, &f.data_type().to_string(), "PostgreSQL", &hint)
        })?;
        if list_depth(&target_dt) > MAX_ARRAY_DIMS {
            return Err(Error::unsupported_write_type(
                n,
                &f.data_type().to_string(),
                "PostgreSQL",
                &format!("PostgreSQL arrays have at most {MAX_ARRAY_DIMS} dimensions"),
            ));
        }
        plans.push(Plan {
            input_index: i,
            enc,
            elem,
            text_scale: match (enc, t.numeric_scale(), input) {
                (
                    Enc::Numeric,
                    Some((s, _)),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View,
                ) => Some(s),
                _ => None,
            },
            to_json: is_list(input) && elem.is_none(),
            uuid_text: target_dt == DataType::Utf8 && crate::write::is_uuid_field(f),
            target: target_dt,
            name: n.clone(),
        });
    }
    for t in target {
        // update never inserts, so it may leave NOT NULL columns out.
        if mode != WriteMode::Update && t.not_null && !t.has_default && !names.contains(&t.name) {
            return Err(Error::config(format!(
                "the table's NOT NULL column {:?} (no default) is missing from the input",
                t.name
            ))
            .with_detail("column", t.name.clone()));
        }
    }
    Ok(plans)
}

fn prepare_batch(batch: &RecordBatch, plans: &[Plan]) -> Result<Vec<ArrayRef>> {
    plans
        .iter()
        .map(|p| {
            let a = batch.column(p.input_index);
            if p.to_json {
                return crate::write::json_column(a, &p.name);
            }
            if p.uuid_text {
                return Ok(crate::write::uuid_text_array(a));
            }
            let a = match (a.data_type(), &p.target) {
                (DataType::Dictionary(_, _), _) => arrow_cast::cast(a, &DataType::Utf8)
                    .map_err(|e| Error::data(format!("column \"{}\": {e}", p.name)))?,
                _ => a.clone(),
            };
            cast_strict(&a, &p.target, &p.name)
        })
        .collect()
}

#[inline]
fn put_field(buf: &mut BytesMut, bytes: &[u8]) {
    buf.put_i32(bytes.len() as i32);
    buf.put_slice(bytes);
}

/// Encode `n` rows of one batch. `first` is the input row number of the batch's first
/// row; with `ordinal` each row also carries it (a stage's `_sqlarrow_ord` column).
async fn encode_rows<S>(
    arrays: &[ArrayRef],
    plans: &[Plan],
    n: usize,
    (first, ordinal): (u64, bool),
    buf: &mut BytesMut,
    sink: &mut std::pin::Pin<&mut S>,
) -> Result<()>
where
    S: futures_util::Sink<Bytes, Error = tokio_postgres::Error>,
{
    let ncols = plans.len() as i16 + ordinal as i16;
    let cols: Vec<Col<'_>> = arrays
        .iter()
        .zip(plans)
        .map(|(a, p)| Col::for_plan(a.as_ref(), p))
        .collect::<Result<_>>()?;
    let mut scratch = Vec::with_capacity(64);
    for row in 0..n {
        buf.put_i16(ncols);
        for (c, p) in cols.iter().zip(plans) {
            c.put(row, buf, &mut scratch).map_err(|e| {
                let at = first + row as u64;
                let mut e = crate::write::at_input_row(e, first)
                    .context(format!("column \"{}\", input row {at}", p.name));
                if e.detail("column").is_none() {
                    e = e.with_detail("column", p.name.clone());
                }
                if e.detail("row_index").is_none() {
                    e = e.with_detail("row_index", at.to_string());
                }
                e
            })?;
        }
        if ordinal {
            buf.put_i32(8);
            buf.put_i64((first + row as u64) as i64);
        }
        if buf.len() >= FLUSH_BYTES {
            sink.send(buf.split().freeze()).await.map_err(map_err)?;
        }
    }
    Ok(())
}

/// A typed view of one prepared column.
enum Col<'a> {
    Bool(&'a arrow_array::BooleanArray),
    I16(&'a arrow_array::Int16Array),
    I32(&'a arrow_array::Int32Array),
    I64(&'a arrow_array::Int64Array),
    U32(&'a arrow_array::UInt32Array),
    U64(&'a arrow_array::UInt64Array),
    F32(&'a arrow_array::Float32Array),
    F64(&'a arrow_array::Float64Array),
    D128(&'a arrow_array::Decimal128Array, i8),
    D256(&'a arrow_array::Decimal256Array, i8),
    NumText(&'a arrow_array::StringArray, Option<i8>),
    Text(&'a arrow_array::StringArray, bool),
    Bin(&'a arrow_array::BinaryArray),
    Date(&'a arrow_array::Date32Array),
    Time(&'a arrow_array::Time64MicrosecondArray),
    Ts(&'a arrow_array::TimestampMicrosecondArray),
    UuidBin(&'a arrow_array::FixedSizeBinaryArray),
    UuidText(&'a arrow_array::StringArray),
    Iv(&'a arrow_array::IntervalMonthDayNanoArray),
    Special(&'a arrow_array::StringArray, Special),
    Array(Box<ArrayCol<'a>>),
}

/// A list column written as PostgreSQL arrays: one list level per dimension, the
/// elements in `leaf`.
struct ArrayCol<'a> {
    levels: Vec<&'a arrow_array::ListArray>,
    leaf: Col<'a>,
    elem_oid: u32,
}

impl<'a> Col<'a> {
    fn for_plan(a: &'a dyn Array, p: &Plan) -> Result<Self> {
        let Some((elem, elem_oid)) = p.elem else {
            return Ok(match Self::new(a, p.enc)? {
                Col::NumText(t, _) => Col::NumText(t, p.text_scale),
                c => c,
            });
        };
        let mut levels = Vec::new();
        let mut cur = a;
        while let DataType::List(_) = cur.data_type() {
            let l = cur.as_list::<i32>();
            levels.push(l);
            cur = l.values().as_ref();
        }
        Ok(Col::Array(Box::new(ArrayCol {
            levels,
            leaf: Self::new(cur, elem)?,
            elem_oid,
        })))
    }

    fn new(a: &'a dyn Array, enc: Enc) -> Result<Self> {
        Ok(match (enc, a.data_type()) {
            (Enc::Bool, _) => Col::Bool(a.as_boolean()),
            (Enc::Int2, _) => Col::I16(a.as_primitive::<Int16Type>()),
            (Enc::Int4, _) => Col::I32(a.as_primitive::<Int32Type>()),
            (Enc::Int8, _) => Col::I64(a.as_primitive::<Int64Type>()),
            (Enc::Oid, _) => Col::U32(a.as_primitive::<UInt32Type>()),
            (Enc::Xid8, _) => Col::U64(a.as_primitive::<UInt64Type>()),
            (Enc::Float4, _) => Col::F32(a.as_primitive::<Float32Type>()),
            (Enc::Float8, _) => Col::F64(a.as_primitive::<Float64Type>()),
            (Enc::Numeric, DataType::Decimal128(_, s)) => {
                Col::D128(a.as_primitive::<Decimal128Type>(), *s)
            }
            (Enc::Numeric, DataType::Decimal256(_, s)) => {
                Col::D256(a.as_primitive::<Decimal256Type>(), *s)
            }
            (Enc::Numeric, _) => Col::NumText(a.as_string::<i32>(), None),
            (Enc::Text, _) => Col::Text(a.as_string::<i32>(), false),
            (Enc::Jsonb, _) => Col::Text(a.as_string::<i32>(), true),
            (Enc::Bytea, _) => Col::Bin(a.as_binary::<i32>()),
            (Enc::Date, _) => Col::Date(a.as_primitive::<Date32Type>()),
            (Enc::Time, _) => Col::Time(a.as_primitive::<Time64MicrosecondType>()),
            (Enc::Timestamp | Enc::TimestampTz, _) => {
                Col::Ts(a.as_primitive::<TimestampMicrosecondType>())
            }
            (Enc::Uuid, DataType::FixedSizeBinary(16)) => Col::UuidBin(a.as_fixed_size_binary()),
            (Enc::Uuid, _) => Col::UuidText(a.as_string::<i32>()),
            (Enc::Interval, _) => Col::Iv(a.as_primitive::<IntervalMonthDayNanoType>()),
            (Enc::Special(k), _) => Col::Special(a.as_string::<i32>(), k),
            (Enc::Array, _) => return Err(Error::interface("an array column without its element")),
        })
    }

    fn is_null(&self, i: usize) -> bool {
        match self {
            Col::Bool(a) => a.is_null(i),
            Col::I16(a) => a.is_null(i),
            Col::I32(a) => a.is_null(i),
            Col::I64(a) => a.is_null(i),
            Col::U32(a) => a.is_null(i),
            Col::U64(a) => a.is_null(i),
            Col::F32(a) => a.is_null(i),
            Col::F64(a) => a.is_null(i),
            Col::D128(a, _) => a.is_null(i),
            Col::D256(a, _) => a.is_null(i),
            Col::NumText(a, _) | Col::Text(a, _) | Col::UuidText(a) | Col::Special(a, _) => {
                a.is_null(i)
            }
            Col::Bin(a) => a.is_null(i),
            Col::Date(a) => a.is_null(i),
            Col::Time(a) => a.is_null(i),
            Col::Ts(a) => a.is_null(i),
            Col::UuidBin(a) => a.is_null(i),
            Col::Iv(a) => a.is_null(i),
            Col::Array(a) => a.levels.first().is_none_or(|l| l.is_null(i)),
        }
    }

    #[inline]
    fn put(&self, i: usize, buf: &mut BytesMut, scratch: &mut Vec<u8>) -> Result<()> {
        if self.is_null(i) {
            buf.put_i32(-1);
            return Ok(());
        }
        match self {
            Col::Bool(a) => put_field(buf, &[a.value(i) as u8]),
            Col::I16(a) => put_field(buf, &a.value(i).to_be_bytes()),
            Col::I32(a) => put_field(buf, &a.value(i).to_be_bytes()),
            Col::I64(a) => put_field(buf, &a.value(i).to_be_bytes()),
            Col::U32(a) => put_field(buf, &a.value(i).to_be_bytes()),
            Col::U64(a) => put_field(buf, &a.value(i).to_be_bytes()),
            Col::F32(a) => put_field(buf, &a.value(i).to_be_bytes()),
            Col::F64(a) => put_field(buf, &a.value(i).to_be_bytes()),
            Col::D128(a, s) => {
                scratch.clear();
                encode_numeric_i128(a.value(i), *s, scratch);
                put_field(buf, scratch);
            }
            Col::D256(a, s) => {
                scratch.clear();
                encode_numeric_text(&scaled_text(&a.value(i).to_string(), *s), scratch)?;
                put_field(buf, scratch);
            }
            Col::NumText(a, scale) => {
                let v = a.value(i);
                if let Some(s) = scale {
                    if !numeric_text_fits(v, *s) {
                        return Err(Error::data(format!(
                            "the value {v:?} has more digits than the column's scale ({s}) \
                             keeps; sqlarrow does not round it silently: round the column first"
                        )));
                    }
                }
                scratch.clear();
                encode_numeric_text(v, scratch)?;
                put_field(buf, scratch);
            }
            Col::Text(a, jsonb) => {
                let v = a.value(i).as_bytes();
                if *jsonb {
                    buf.put_i32(v.len() as i32 + 1);
                    buf.put_u8(1);
                    buf.put_slice(v);
                } else {
                    if v.contains(&0) {
                        return Err(Error::data(
                            "text values cannot contain NUL bytes in PostgreSQL",
                        ));
                    }
                    put_field(buf, v);
                }
            }
            Col::Bin(a) => put_field(buf, a.value(i)),
            Col::Date(a) => put_field(buf, &(a.value(i) - PG_EPOCH_DAYS).to_be_bytes()),
            Col::Time(a) => put_field(buf, &a.value(i).to_be_bytes()),
            Col::Ts(a) => put_field(buf, &(a.value(i) - PG_EPOCH_US).to_be_bytes()),
            Col::UuidBin(a) => put_field(buf, a.value(i)),
            Col::UuidText(a) => {
                let u = parse_uuid(a.value(i))
                    .ok_or_else(|| Error::data(format!("invalid UUID text {:?}", a.value(i))))?;
                put_field(buf, &u);
            }
            Col::Iv(a) => {
                let v = a.value(i);
                if v.nanoseconds % 1000 != 0 {
                    return Err(Error::data(
                        "interval has sub-microsecond precision, which PostgreSQL cannot store",
                    ));
                }
                buf.put_i32(16);
                buf.put_i64(v.nanoseconds / 1000);
                buf.put_i32(v.days);
                buf.put_i32(v.months);
            }
            Col::Special(a, k) => {
                scratch.clear();
                encode_special(*k, a.value(i), scratch)?;
                put_field(buf, scratch);
            }
            Col::Array(a) => a.put(i, buf, scratch)?,
        }
        Ok(())
    }
}

/// The binary form of `text` for a [`Special`] type (the inverse of the reader's text
/// form), appended to `out`.
fn encode_special(kind: Special, text: &str, out: &mut Vec<u8>) -> Result<()> {
    let bad = |what: &str| Error::data(format!("invalid {what} text {text:?}"));
    match kind {
        Special::Bits => {
            let n = i32::try_from(text.len()).map_err(|_| bad("bit string"))?;
            out.extend_from_slice(&n.to_be_bytes());
            let mut byte = 0u8;
            for (i, c) in text.bytes().enumerate() {
                match c {
                    b'0' => {}
                    b'1' => byte |= 0x80 >> (i % 8),
                    _ => return Err(bad("bit string (only 0 and 1)")),
                }
                if i % 8 == 7 {
                    out.push(byte);
                    byte = 0;
                }
            }
            if text.len() % 8 != 0 {
                out.push(byte);
            }
        }
        Special::Lsn => {
            let hex = |s: &str| {
                (!s.is_empty() && s.len() <= 8)
                    .then(|| u32::from_str_radix(s, 16).ok())
                    .flatten()
            };
            let (hi, lo) = text
                .split_once('/')
                .and_then(|(h, l)| Some((hex(h)?, hex(l)?)))
                .ok_or_else(|| bad("pg_lsn (X/Y, hexadecimal)"))?;
            out.extend_from_slice(&((u64::from(hi) << 32) | u64::from(lo)).to_be_bytes());
        }
        Special::VersionedText => {
            if text.contains('\0') {
                return Err(bad("ltree"));
            }
            out.push(1);
            out.extend_from_slice(text.as_bytes());
        }
        Special::TimeTz => {
            let (us, west) = parse_timetz(text)
                .ok_or_else(|| bad("timetz (HH:MM:SS[.ffffff]+HH[:MM], with its offset)"))?;
            out.extend_from_slice(&us.to_be_bytes());
            out.extend_from_slice(&west.to_be_bytes());
        }
        Special::Hstore => {
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
                .map_err(|_| bad("hstore (a JSON object of text values and nulls)"))?;
            let put = |out: &mut Vec<u8>, s: &str| {
                out.extend_from_slice(&(s.len() as i32).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            };
            out.extend_from_slice(&(map.len() as i32).to_be_bytes());
            for (k, v) in &map {
                if k.contains('\0') {
                    return Err(bad("hstore"));
                }
                put(out, k);
                match v {
                    serde_json::Value::Null => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    serde_json::Value::String(s) if !s.contains('\0') => put(out, s),
                    serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
                        put(out, &v.to_string())
                    }
                    _ => {
                        return Err(Error::data(format!(
                            "hstore values are text: the value of key {k:?} in {text:?} is not"
                        )))
                    }
                }
            }
        }
        Special::Range(sub) => encode_range(sub, text, out)?,
        Special::Geometry(geo) => encode_geometry(geo, text, out)?,
        Special::Multirange(sub) => {
            let ranges = split_multirange(text).ok_or_else(|| {
                Error::data(format!(
                    "invalid multirange text {text:?} (expected ranges in braces, separated \
                     by commas: `{{[1,3),[5,7)}}`)"
                ))
            })?;
            out.extend_from_slice(&(ranges.len() as i32).to_be_bytes());
            for r in ranges {
                let at = out.len();
                out.extend_from_slice(&[0; 4]);
                encode_range(sub, r, out)?;
                let len = (out.len() - at - 4) as i32;
                out[at..at + 4].copy_from_slice(&len.to_be_bytes());
            }
        }
    }
    Ok(())
}

/// The binary form of a geometric value's text: its numbers in order (as `float8`
/// takes them, `NaN` and `Infinity` included), between brackets that must pair up.
/// A point takes 2 numbers, a circle 3 (`<(x,y),r>`), a line 3 in braces (`{A,B,C}`),
/// an lseg or box 4, a path or polygon pairs (a path is open in square brackets,
/// closed otherwise). The server checks the rest (a negative radius, a line with A
/// and B zero).
fn encode_geometry(geo: Geo, text: &str, out: &mut Vec<u8>) -> Result<()> {
    let (what, form) = match geo {
        Geo::Point => ("point", "(x,y)"),
        Geo::Line => ("line", "{A,B,C}"),
        Geo::Lseg => ("lseg", "[(x1,y1),(x2,y2)]"),
        Geo::Box => ("box", "(x1,y1),(x2,y2)"),
        Geo::Path => ("path", "[(x1,y1),...] open, ((x1,y1),...) closed"),
        Geo::Polygon => ("polygon", "((x1,y1),...)"),
        Geo::Circle => ("circle", "<(x,y),r>"),
    };
    let bad = || Error::data(format!("invalid {what} text {text:?} (expected {form})"));
    let mut stack = Vec::new();
    let mut numbers = Vec::new();
    for token in text.split_inclusive(|c: char| "()[]{}<>,".contains(c) || c.is_whitespace()) {
        let (word, delim) = match token.char_indices().last() {
            Some((i, c)) if "()[]{}<>,".contains(c) || c.is_whitespace() => (&token[..i], Some(c)),
            _ => (token, None),
        };
        if !word.is_empty() {
            numbers.push(word.parse::<f64>().map_err(|_| bad())?);
        }
        match delim {
            Some(c @ ('(' | '[' | '{' | '<')) => stack.push(c),
            Some(c @ (')' | ']' | '}' | '>')) => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    '}' => '{',
                    _ => '<',
                };
                if stack.pop() != Some(open) {
                    return Err(bad());
                }
            }
            _ => {}
        }
    }
    let first = text.trim_start().chars().next();
    let count_ok = match geo {
        Geo::Point => numbers.len() == 2,
        Geo::Circle => numbers.len() == 3,
        Geo::Line => numbers.len() == 3 && first == Some('{'),
        Geo::Lseg | Geo::Box => numbers.len() == 4,
        Geo::Path | Geo::Polygon => numbers.len() >= 2 && numbers.len() % 2 == 0,
    };
    if !stack.is_empty() || !count_ok {
        return Err(bad());
    }
    match geo {
        Geo::Path => {
            out.push(u8::from(first != Some('[')));
            out.extend_from_slice(&((numbers.len() / 2) as i32).to_be_bytes());
        }
        Geo::Polygon => out.extend_from_slice(&((numbers.len() / 2) as i32).to_be_bytes()),
        _ => {}
    }
    for n in numbers {
        out.extend_from_slice(&n.to_be_bytes());
    }
    Ok(())
}

/// C's `isspace`, which PostgreSQL's range parser skips.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0B' | '\x0C')
}

/// The binary form (`range_recv`'s input) of a range's text, parsed as PostgreSQL's
/// `range_in` does: `empty`, or `[` or `(`, the lower bound, a comma, the upper bound,
/// `]` or `)`; an omitted bound is unbounded; a bound may be double-quoted, with `""`
/// or a backslash for a quote. The server canonicalizes discrete ranges (`[1,5]` is
/// stored as `[1,6)`) and checks that lower <= upper.
fn encode_range(sub: RangeSub, text: &str, out: &mut Vec<u8>) -> Result<()> {
    let bad = || {
        Error::data(format!(
            "invalid range text {text:?} (expected `empty` or e.g. `[1,5)`, `(,2024-01-01]`)"
        ))
    };
    let t = text.trim_matches(is_c_space);
    if t.eq_ignore_ascii_case("empty") {
        out.push(0x01);
        return Ok(());
    }
    let mut chars = t.chars().peekable();
    let lower_inc = match chars.next() {
        Some('[') => true,
        Some('(') => false,
        _ => return Err(bad()),
    };
    // One bound: None when omitted (unbounded), else its unescaped text.
    let bound = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| -> Option<Option<String>> {
        if matches!(chars.peek(), Some(',' | ')' | ']')) {
            return Some(None);
        }
        let mut value = String::new();
        let mut quoted = false;
        loop {
            let c = *chars.peek()?;
            if !quoted && matches!(c, ',' | ')' | ']') {
                return Some(Some(value));
            }
            chars.next();
            match c {
                '\\' => value.push(chars.next()?),
                '"' if !quoted => quoted = true,
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    value.push('"');
                }
                '"' => quoted = false,
                c => value.push(c),
            }
        }
    };
    let lower = bound(&mut chars).ok_or_else(bad)?;
    if chars.next() != Some(',') {
        return Err(bad());
    }
    let upper = bound(&mut chars).ok_or_else(bad)?;
    let upper_inc = match chars.next() {
        Some(']') => true,
        Some(')') => false,
        _ => return Err(bad()),
    };
    if chars.next().is_some() {
        return Err(bad());
    }
    let mut flags = 0u8;
    if lower_inc && lower.is_some() {
        flags |= 0x02;
    }
    if upper_inc && upper.is_some() {
        flags |= 0x04;
    }
    if lower.is_none() {
        flags |= 0x08;
    }
    if upper.is_none() {
        flags |= 0x10;
    }
    out.push(flags);
    for b in [lower, upper].into_iter().flatten() {
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        encode_range_bound(sub, b.trim_matches(is_c_space), out)
            .map_err(|e| Error::data(format!("invalid range text {text:?}: {}", e.message)))?;
        let len = (out.len() - at - 4) as i32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// One range bound's text in its element type's binary form.
fn encode_range_bound(sub: RangeSub, v: &str, out: &mut Vec<u8>) -> Result<()> {
    let what = match sub {
        RangeSub::Int4 => "an int4",
        RangeSub::Int8 => "an int8",
        RangeSub::Numeric => "a numeric",
        RangeSub::Date => "a date (YYYY-MM-DD)",
        RangeSub::Timestamp => "a timestamp (YYYY-MM-DD HH:MM:SS, without an offset)",
        RangeSub::TimestampTz => "a timestamp (YYYY-MM-DD HH:MM:SS[+HH:MM])",
    };
    let bad = || Error::data(format!("bound {v:?} is not {what}"));
    let infinite = |v: &str| match v.to_ascii_lowercase().as_str() {
        "infinity" | "+infinity" => Some(true),
        "-infinity" => Some(false),
        _ => None,
    };
    match sub {
        RangeSub::Int4 => {
            out.extend_from_slice(&v.parse::<i32>().map_err(|_| bad())?.to_be_bytes())
        }
        RangeSub::Int8 => {
            out.extend_from_slice(&v.parse::<i64>().map_err(|_| bad())?.to_be_bytes())
        }
        RangeSub::Numeric => match v.to_ascii_lowercase().as_str() {
            "infinity" | "+infinity" | "inf" | "+inf" => {
                out.extend_from_slice(&[0, 0, 0, 0, 0xD0, 0, 0, 0]);
            }
            "-infinity" | "-inf" => out.extend_from_slice(&[0, 0, 0, 0, 0xF0, 0, 0, 0]),
            _ => encode_numeric_text(v, out)?,
        },
        RangeSub::Date => {
            let days = match infinite(v) {
                Some(true) => i32::MAX,
                Some(false) => i32::MIN,
                None => {
                    let d = crate::value::civil::parse_date(&astronomical_year(v).ok_or_else(bad)?)
                        .ok_or_else(bad)?;
                    d.checked_sub(PG_EPOCH_DAYS).ok_or_else(bad)?
                }
            };
            out.extend_from_slice(&days.to_be_bytes());
        }
        RangeSub::Timestamp | RangeSub::TimestampTz => {
            let us = match infinite(v) {
                Some(true) => i64::MAX,
                Some(false) => i64::MIN,
                None => {
                    let (us, had_offset) = crate::value::civil::parse_timestamp(
                        &astronomical_year(v).ok_or_else(bad)?,
                    )
                    .ok_or_else(bad)?;
                    // PostgreSQL would drop an offset given to a timestamp without time
                    // zone; refused here rather than lost.
                    if had_offset && sub == RangeSub::Timestamp {
                        return Err(bad());
                    }
                    us.checked_sub(PG_EPOCH_US).ok_or_else(bad)?
                }
            };
            out.extend_from_slice(&us.to_be_bytes());
        }
    }
    Ok(())
}

/// A date or timestamp text with PostgreSQL's era suffix (`0044-03-15 BC`,
/// `0001-01-01 00:00:00+00 BC`) rewritten with an astronomical year (`-0043-03-15`),
/// which the date parsers take; other texts unchanged. None for a malformed year.
fn astronomical_year(v: &str) -> Option<String> {
    let Some(body) = v
        .strip_suffix(" BC")
        .or_else(|| v.strip_suffix(" bc"))
        .map(|b| b.trim_end_matches(is_c_space))
    else {
        return Some(v.to_string());
    };
    let dash = body.find('-')?;
    let year: i64 = body[..dash].parse().ok().filter(|y| *y >= 1)?;
    let astro = 1 - year;
    Some(if astro < 0 {
        format!("-{:04}{}", -astro, &body[dash..])
    } else {
        format!("0000{}", &body[dash..])
    })
}

/// The ranges of a multirange's text (`{[1,3), [5,7)}`, `{}`), each as its own text;
/// None when the braces, commas or quotes do not match.
fn split_multirange(text: &str) -> Option<Vec<&str>> {
    let inner = text
        .trim_matches(is_c_space)
        .strip_prefix('{')?
        .strip_suffix('}')?;
    let mut ranges = Vec::new();
    let mut start: Option<usize> = None;
    let mut quoted = false;
    let mut need_comma = false;
    let mut it = inner.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if let Some(s) = start {
            match c {
                '\\' => {
                    it.next()?;
                }
                '"' if !quoted => quoted = true,
                '"' if matches!(it.peek(), Some((_, '"'))) => {
                    it.next();
                }
                '"' => quoted = false,
                ']' | ')' if !quoted => {
                    ranges.push(&inner[s..=i]);
                    start = None;
                    need_comma = true;
                }
                _ => {}
            }
            continue;
        }
        match c {
            c if is_c_space(c) => {}
            ',' if need_comma => need_comma = false,
            '[' | '(' if !need_comma => start = Some(i),
            'e' | 'E'
                if !need_comma
                    && inner
                        .get(i..i + 5)
                        .is_some_and(|w| w.eq_ignore_ascii_case("empty")) =>
            {
                ranges.push(&inner[i..i + 5]);
                for _ in 0..4 {
                    it.next();
                }
                need_comma = true;
            }
            _ => return None,
        }
    }
    // Unfinished range, or a comma with no range after it.
    (start.is_none() && (need_comma || ranges.is_empty())).then_some(ranges)
}

/// `HH:MM[:SS[.ffffff]]` then an offset `±HH[:MM[:SS]]` (or `Z`), one or two digits
/// per field, as PostgreSQL takes them: microseconds since
/// midnight and the offset in seconds west of UTC, as `timetz` stores them.
fn parse_timetz(text: &str) -> Option<(i64, i32)> {
    let at = text.find(['+', '-', 'Z', 'z'])?;
    let (time, zone) = text.split_at(at);
    let num = |s: &str, max: i64| -> Option<i64> {
        ((1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
            .filter(|v| *v <= max)
    };
    let mut parts = time.trim().splitn(3, ':');
    let h = num(parts.next()?, 24)?;
    let m = num(parts.next()?, 59)?;
    let (sec, frac) = match parts.next() {
        None => (0, 0),
        Some(s) => {
            let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
            if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let frac = if frac.is_empty() {
                0
            } else {
                format!("{frac:0<6}").parse::<i64>().ok()?
            };
            (num(whole, 60)?, frac)
        }
    };
    let us = ((h * 60 + m) * 60 + sec) * 1_000_000 + frac;
    if us > 86_400_000_000 {
        return None;
    }
    let east = if zone.eq_ignore_ascii_case("z") {
        0
    } else {
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let mut zp = zone[1..].split(':');
        let zh = num(zp.next()?, 15)?;
        let zm = zp.next().map_or(Some(0), |s| num(s, 59))?;
        let zs = zp.next().map_or(Some(0), |s| num(s, 59))?;
        if zp.next().is_some() {
            return None;
        }
        sign * (zh * 3600 + zm * 60 + zs)
    };
    Some((us, -east as i32))
}

impl ArrayCol<'_> {
    /// Row `i` in the binary array format: dimensions, a has-nulls flag, the element
    /// type, each dimension's length and lower bound (1), then the elements, each as a
    /// field of its own. Nested lists must be rectangular: PostgreSQL has no ragged
    /// arrays, nor NULL sub-arrays.
    fn put(&self, i: usize, buf: &mut BytesMut, scratch: &mut Vec<u8>) -> Result<()> {
        let offs = self.levels[0].value_offsets();
        let (mut lo, mut hi) = (offs[i] as usize, offs[i + 1] as usize);
        let mut dims = vec![hi - lo];
        for level in &self.levels[1..] {
            if lo == hi {
                break;
            }
            let offs = level.value_offsets();
            let len = |k: usize| (offs[k + 1] - offs[k]) as usize;
            let want = len(lo);
            for k in lo..hi {
                if level.is_null(k) {
                    return Err(Error::data(
                        "a PostgreSQL array cannot hold a NULL sub-array (only NULL elements)",
                    ));
                }
                if len(k) != want {
                    return Err(Error::data(format!(
                        "PostgreSQL arrays are rectangular: sub-arrays of lengths {want} and {} \
                         in one value",
                        len(k)
                    )));
                }
            }
            dims.push(want);
            (lo, hi) = (offs[lo] as usize, offs[hi] as usize);
        }
        let start = buf.len();
        buf.put_i32(0); // the field's length, filled in below
        if dims.contains(&0) {
            // PostgreSQL has one empty array, of no dimensions.
            buf.put_i32(0);
            buf.put_i32(0);
            buf.put_u32(self.elem_oid);
        } else {
            buf.put_i32(dims.len() as i32);
            buf.put_i32((lo..hi).any(|k| self.leaf.is_null(k)) as i32);
            buf.put_u32(self.elem_oid);
            for d in &dims {
                buf.put_i32(*d as i32);
                buf.put_i32(1);
            }
            for k in lo..hi {
                self.leaf
                    .put(k, buf, scratch)
                    .map_err(|e| e.context(format!("array element {}", k - lo + 1)))?;
            }
        }
        let len = buf.len() - start - 4;
        let len = i32::try_from(len)
            .ok()
            .filter(|&n| n < (1 << 30))
            .ok_or_else(|| {
                Error::data(format!(
                    "an array value of {len} bytes is over PostgreSQL's 1 GB limit for one field"
                ))
            })?;
        buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }
}

fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = s.bytes().filter(|b| *b != b'-').collect();
    let hex = hex.strip_prefix(b"{").unwrap_or(&hex);
    let hex = hex.strip_suffix(b"}").unwrap_or(hex);
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (k, pair) in hex.chunks(2).enumerate() {
        let h = (pair[0] as char).to_digit(16)?;
        let l = (pair[1] as char).to_digit(16)?;
        out[k] = (h * 16 + l) as u8;
    }
    Some(out)
}

/// Text of an unscaled integer with `scale` fractional digits.
fn scaled_text(digits: &str, scale: i8) -> String {
    if scale <= 0 {
        return format!("{digits}{}", "0".repeat((-scale) as usize));
    }
    let (neg, d) = match digits.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, digits),
    };
    let s = scale as usize;
    let padded = if d.len() <= s {
        format!("{}{d}", "0".repeat(s - d.len() + 1))
    } else {
        d.to_string()
    };
    let (a, b) = padded.split_at(padded.len() - s);
    format!("{}{a}.{b}", if neg { "-" } else { "" })
}

fn put_numeric(out: &mut Vec<u8>, digits: &[i16], weight: i16, neg: bool, dscale: u16) {
    out.extend_from_slice(&(digits.len() as i16).to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&(if neg { 0x4000u16 } else { 0 }).to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for d in digits {
        out.extend_from_slice(&d.to_be_bytes());
    }
}

/// Encode an unscaled i128 with `scale` as PostgreSQL binary numeric.
pub fn encode_numeric_i128(v: i128, scale: i8, out: &mut Vec<u8>) {
    if scale < 0 {
        let mut t = Vec::new();
        encode_numeric_text(&scaled_text(&v.to_string(), scale), &mut t).expect("valid digits");
        out.extend_from_slice(&t);
        return;
    }
    let neg = v < 0;
    let abs = v.unsigned_abs();
    let s = scale as u32;
    let p = 10u128.pow(s);
    let (mut int, frac) = (abs / p, abs % p);
    // Fraction groups: pad the fraction on the right to a multiple of 4 digits.
    let groups = s.div_ceil(4);
    let mut fracv = frac * 10u128.pow(groups * 4 - s);
    let mut fdigits = [0i16; 10];
    for k in (0..groups as usize).rev() {
        fdigits[k] = (fracv % 10_000) as i16;
        fracv /= 10_000;
    }
    let mut idigits = [0i16; 10];
    let mut ni = 0;
    while int > 0 {
        idigits[ni] = (int % 10_000) as i16;
        int /= 10_000;
        ni += 1;
    }
    let mut digits: Vec<i16> = Vec::with_capacity(ni + groups as usize);
    digits.extend(idigits[..ni].iter().rev());
    digits.extend(&fdigits[..groups as usize]);
    let mut weight = ni as i16 - 1;
    // Strip leading and trailing zero groups.
    let lead = digits.iter().take_while(|d| **d == 0).count();
    if lead == digits.len() {
        put_numeric(out, &[], 0, false, s as u16);
        return;
    }
    weight -= lead as i16;
    let trail = digits.iter().rev().take_while(|d| **d == 0).count();
    put_numeric(
        out,
        &digits[lead..digits.len() - trail],
        weight,
        neg,
        s as u16,
    );
}

/// Encode decimal text (`-12.340`, `1e5`, `NaN`) as PostgreSQL binary numeric.
/// Whether decimal text (`12.50`, `-1e2`, `5.`) has no non-zero digit beyond `scale`
/// fraction digits. Text that is not a plain decimal number answers `true`: the encoder
/// (or the server, for `NaN`) judges it.
fn numeric_text_fits(s: &str, scale: i8) -> bool {
    let t = s.trim().trim_start_matches(['+', '-']);
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(k) => match t[k + 1..].parse::<i64>() {
            Ok(e) => (&t[..k], e),
            Err(_) => return true,
        },
        None => (t, 0),
    };
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    if !ip.bytes().chain(fp.bytes()).all(|c| c.is_ascii_digit()) {
        return true;
    }
    // Digit k of `ip ++ fp` stands at 10^(len(ip) - 1 - k + exp); past the scale is an
    // exponent below -scale.
    ip.bytes()
        .chain(fp.bytes())
        .enumerate()
        .all(|(k, d)| d == b'0' || ip.len() as i64 - 1 - k as i64 + exp >= -i64::from(scale))
}

pub fn encode_numeric_text(s: &str, out: &mut Vec<u8>) -> Result<()> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("nan") {
        out.extend_from_slice(&0i16.to_be_bytes());
        out.extend_from_slice(&0i16.to_be_bytes());
        out.extend_from_slice(&0xC000u16.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        return Ok(());
    }
    let bad = || Error::data(format!("{s:?} is not a decimal number"));
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    // PostgreSQL's limits (checked before anything is sized from the exponent): at most
    // 16383 digits after the point and 131072 before it.
    let out_of_range = || {
        Error::data(format!(
            "{s:?} is out of PostgreSQL's numeric range (at most 131072 digits before the \
             decimal point and 16383 after it)"
        ))
    };
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(k) => {
            let e = &t[k + 1..];
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            // An exponent past i64 is out of range whichever way it points.
            (&t[..k], e.parse::<i64>().map_err(|_| out_of_range())?)
        }
        None => (t, 0),
    };
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    if (ip.is_empty() && fp.is_empty()) || !ip.bytes().chain(fp.bytes()).all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    if exp.unsigned_abs() >= (i32::MAX / 2) as u64
        && ip.bytes().chain(fp.bytes()).any(|c| c != b'0')
    {
        return Err(out_of_range());
    }
    let scale = (fp.len() as i64 - exp).max(0);
    if scale > NUMERIC_DSCALE_MAX {
        return Err(out_of_range());
    }
    let scale = scale as u16;
    let lead_zeros = ip
        .bytes()
        .chain(fp.bytes())
        .take_while(|c| *c == b'0')
        .count();
    if lead_zeros == ip.len() + fp.len() {
        put_numeric(out, &[], 0, false, scale);
        return Ok(());
    }
    if ip.len() as i64 + exp - lead_zeros as i64 > NUMERIC_MAX_INT_DIGITS {
        return Err(out_of_range());
    }
    // The significant digits, and the position of the decimal point after applying the
    // exponent (bounded by the checks above).
    let mut all: Vec<u8> = ip
        .bytes()
        .chain(fp.bytes())
        .skip(lead_zeros)
        .map(|c| c - b'0')
        .collect();
    let mut point = ip.len() as i64 + exp - lead_zeros as i64;
    // Normalize so that the point sits on a group boundary: pad left so (point) % 4 == 0.
    let pad_left = (4 - point.rem_euclid(4)) % 4;
    let mut v = vec![0u8; pad_left as usize];
    v.append(&mut all);
    point += pad_left;
    if point < 0 {
        let mut z = vec![0u8; (-point) as usize];
        z.append(&mut v);
        v = z;
        point = 0;
    }
    while (v.len() as i64) < point {
        v.push(0);
    }
    while v.len() % 4 != 0 {
        v.push(0);
    }
    let digits: Vec<i16> = v
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |a, d| a * 10 + *d as i16))
        .collect();
    let lead = digits.iter().take_while(|d| **d == 0).count();
    let weight = i16::try_from(point / 4 - 1 - lead as i64).map_err(|_| out_of_range())?;
    let trail = digits.iter().rev().take_while(|d| **d == 0).count();
    put_numeric(out, &digits[lead..digits.len() - trail], weight, neg, scale);
    Ok(())
}

/// PostgreSQL's largest display scale of a `numeric` (`NUMERIC_DSCALE_MAX`).
const NUMERIC_DSCALE_MAX: i64 = 0x3FFF;
/// The most digits a `numeric` holds before its decimal point (weight 32767, base 10000).
const NUMERIC_MAX_INT_DIGITS: i64 = 131_072;

pub type Shared = Arc<PgConnector>;

#[cfg(test)]
mod tests {
    use super::super::decode::decode_numeric_i128;
    use super::*;

    #[test]
    fn numeric_text_against_a_scale() {
        for ok in [
            "12.50", "12.5", "-0.01", "5.", ".5", "1e2", "1.5e1", "150E-2", " 3 ", "NaN",
        ] {
            assert!(numeric_text_fits(ok, 2), "{ok}");
        }
        for bad in ["1.234", "0.005", "1e-3", "-12.501", "1.2345e1"] {
            assert!(!numeric_text_fits(bad, 2), "{bad}");
        }
        assert!(numeric_text_fits("1.230000", 2));
        assert!(numeric_text_fits("7", 0));
        assert!(!numeric_text_fits("7.5", 0));
    }

    #[test]
    fn numeric_round_trips_through_the_decoder() {
        for (v, s) in [
            (1_234_500i128, 4i8),
            (-1, 4),
            (0, 2),
            (10_000, 0),
            (123_456_789_012_345_678, 4),
            (5, 10),
            (i128::MAX / 10, 0),
            (-99_999, 3),
        ] {
            let mut out = Vec::new();
            encode_numeric_i128(v, s, &mut out);
            assert_eq!(decode_numeric_i128(&out, s, 38), Ok(v), "{v} scale {s}");
            let mut t = Vec::new();
            encode_numeric_text(&scaled_text(&v.to_string(), s), &mut t).unwrap();
            assert_eq!(decode_numeric_i128(&t, s, 38), Ok(v), "text {v} scale {s}");
        }
        let mut t = Vec::new();
        encode_numeric_text("1.5e3", &mut t).unwrap();
        assert_eq!(decode_numeric_i128(&t, 0, 38), Ok(1500));
        assert!(encode_numeric_text("abc", &mut Vec::new()).is_err());
    }

    #[test]
    fn numeric_text_within_postgres_limits_or_refused() {
        // Before, an exponent past PostgreSQL's range wrapped the weight or the scale and
        // wrote a wrong value (`1e140000` stored 0), or sized a buffer from it.
        let text = |s: &str| {
            let mut out = Vec::new();
            encode_numeric_text(s, &mut out)
                .map(|()| super::super::decode::numeric_text(&out).expect("the decoder reads it"))
        };
        for (input, want) in [
            ("00012.50", "12.50"),
            ("-0.001", "-0.001"),
            ("0e200000", "0"),
            ("1.5e3", "1500"),
            ("1.25e-2", "0.0125"),
            ("0.000", "0.000"),
        ] {
            assert_eq!(text(input).ok().as_deref(), Some(want), "{input}");
        }
        assert_eq!(text("1e131071").ok().map(|t| t.len()), Some(131_072));
        assert_eq!(text("9.99999e131071").ok().map(|t| t.len()), Some(131_072));
        assert_eq!(text("1e-16383").ok().map(|t| t.len()), Some(16_385));
        for bad in [
            "1e131072",
            "1e140000",
            "1e-16384",
            "1e-70000",
            "1.5e-16383",
            "0e-20000",
            "1e2000000000",
            "1e-9999999999999",
            "1e99999999999999999999",
        ] {
            let err = text(bad).unwrap_err();
            assert_eq!(err.kind, crate::error::ErrorKind::Data, "{bad}");
            assert!(err.message.contains(bad), "{bad}: {}", err.message);
            assert!(
                err.message.contains("out of PostgreSQL's numeric range"),
                "{bad}"
            );
        }
        assert_eq!(text("0e2000000000").ok().as_deref(), Some("0"));
        for bad in ["1e", "1e+", "1e1.5", "e5", "1e 5"] {
            assert!(
                text(bad)
                    .unwrap_err()
                    .message
                    .contains("is not a decimal number"),
                "{bad}"
            );
        }
    }

    #[test]
    fn uuid_text() {
        assert_eq!(
            parse_uuid("12345678-1234-1234-1234-1234567890ab").unwrap()[15],
            0xab
        );
        assert!(parse_uuid("nope").is_none());
    }

    /// A refused text: a `DataError` whose message quotes it.
    fn assert_names_the_text<T: std::fmt::Debug>(res: Result<T>, bad: &str) {
        let err = res.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Data, "{bad}");
        assert!(
            err.message.contains(&format!("{bad:?}")),
            "{bad}: {}",
            err.message
        );
    }

    #[test]
    fn geometry_encodes_from_the_text_the_reader_gives() {
        use super::super::decode::{format_special, PgKind};
        let round = |geo: Geo, t: &str| {
            let mut out = Vec::new();
            encode_special(Special::Geometry(geo), t, &mut out)
                .map(|()| format_special(PgKind::Geometry(geo), &out))
        };
        for (geo, text, read) in [
            (Geo::Point, "(1,-2.5)", "(1,-2.5)"),
            (Geo::Point, " 1e15 , NaN ", "(1e+15,NaN)"),
            (Geo::Line, "{1,-1,0}", "{1,-1,0}"),
            (Geo::Lseg, "[(0,0),(1,1)]", "[(0,0),(1,1)]"),
            (Geo::Box, "(1,1),(0,0)", "(1,1),(0,0)"),
            (Geo::Path, "[(0,0),(1,1)]", "[(0,0),(1,1)]"),
            (Geo::Path, "((0,0),(1,1))", "((0,0),(1,1))"),
            (Geo::Path, "(0,0),(1,1)", "((0,0),(1,1))"),
            (Geo::Polygon, "((0.5,0.25))", "((0.5,0.25))"),
            (Geo::Circle, "<(1,2),3>", "<(1,2),3>"),
            (Geo::Circle, "<(-Infinity,0),0>", "<(-Infinity,0),0>"),
        ] {
            assert_eq!(round(geo, text).unwrap().as_deref(), Some(read), "{text}");
        }
        for (geo, bad) in [
            (Geo::Point, "(1,2"),
            (Geo::Point, "(1,2,3)"),
            (Geo::Point, "(1,x)"),
            (Geo::Point, "(1,2]"),
            (Geo::Line, "[(0,0),(1,1)]"),
            (Geo::Path, "[(0,0),(1)]"),
            (Geo::Circle, "<(1,2)>"),
            (Geo::Box, ""),
        ] {
            assert_names_the_text(round(geo, bad), bad);
        }
    }

    #[test]
    fn ranges_encode_from_the_text_the_reader_gives() {
        use super::super::decode::{format_special, PgKind};
        let round = |sub: RangeSub, multi: bool, t: &str| {
            let (special, kind) = if multi {
                (Special::Multirange(sub), PgKind::Multirange(sub))
            } else {
                (Special::Range(sub), PgKind::Range(sub))
            };
            let mut out = Vec::new();
            encode_special(special, t, &mut out).map(|()| format_special(kind, &out))
        };
        for (sub, text) in [
            (RangeSub::Int4, "[1,5)"),
            (RangeSub::Int4, "empty"),
            (RangeSub::Int4, "(,)"),
            (RangeSub::Int8, "[-9223372036854775808,9223372036854775807]"),
            (RangeSub::Numeric, "[-0.001,12345678901234567890.123456789]"),
            (RangeSub::Numeric, "[NaN,Infinity]"),
            (RangeSub::Date, "[-infinity,2024-02-29)"),
            (RangeSub::Date, "[\"0001-01-01 BC\",10000-01-01)"),
            (
                RangeSub::Timestamp,
                "[\"0044-03-15 12:00:00 BC\",\"2024-01-01 00:00:00.5\")",
            ),
            (
                RangeSub::TimestampTz,
                "(\"2023-12-31 23:00:00+00\",infinity]",
            ),
        ] {
            assert_eq!(
                round(sub, false, text).unwrap().as_deref(),
                Some(text),
                "{text}"
            );
        }
        // Other spellings PostgreSQL takes: spaces, an inclusive unbounded end, offsets,
        // quotes around plain bounds, "" for a quote.
        for (sub, text, read) in [
            (RangeSub::Int4, "  [ 1 , 5 ]  ", "[1,5]"),
            (RangeSub::Int4, "[,5]", "(,5]"),
            (RangeSub::Int4, "EMPTY", "empty"),
            (RangeSub::Int4, "[\"1\",\"2\")", "[1,2)"),
            (
                RangeSub::TimestampTz,
                "[2024-01-01 01:00+02,2024-01-01T00:00:00Z)",
                "[\"2023-12-31 23:00:00+00\",\"2024-01-01 00:00:00+00\")",
            ),
        ] {
            assert_eq!(
                round(sub, false, text).unwrap().as_deref(),
                Some(read),
                "{text}"
            );
        }
        assert_eq!(
            round(RangeSub::Int4, true, " { [1,3) , [5,7),empty } ")
                .unwrap()
                .as_deref(),
            Some("{[1,3),[5,7),empty}")
        );
        assert_eq!(
            round(RangeSub::Int4, true, "{}").unwrap().as_deref(),
            Some("{}")
        );
        for (sub, multi, bad) in [
            (RangeSub::Int4, false, "[1,5"),
            (RangeSub::Int4, false, "1,5)"),
            (RangeSub::Int4, false, "[a,5)"),
            (RangeSub::Int4, false, "[1,5)x"),
            (RangeSub::Int4, false, "[1,2,3)"),
            (RangeSub::Int4, false, "[\"1,5)"),
            (RangeSub::Int4, false, "[4294967296,)"),
            (RangeSub::Int4, false, ""),
            (RangeSub::Timestamp, false, "[2024-01-01 00:00:00+02,)"),
            (RangeSub::Date, false, "[0000-01-01 BC,)"),
            (RangeSub::Date, false, "[2024-02-30,)"),
            (RangeSub::Numeric, false, "[1e140000,)"),
            (RangeSub::Int4, true, "{[1,2),}"),
            (RangeSub::Int4, true, "{[1,2)[3,4)}"),
            (RangeSub::Int4, true, "{emptä}"),
            (RangeSub::Int4, true, "{,}"),
            (RangeSub::Int4, true, "[1,2)"),
            (RangeSub::Int4, true, "{[1,2)"),
        ] {
            assert_names_the_text(round(sub, multi, bad), bad);
        }
    }

    #[test]
    fn special_types_encode_from_their_text() {
        let enc = |k, t: &str| {
            let mut out = Vec::new();
            encode_special(k, t, &mut out).map(|_| out)
        };
        assert_eq!(
            enc(Special::Bits, "101").unwrap(),
            [0, 0, 0, 3, 0b1010_0000]
        );
        assert_eq!(
            enc(Special::Bits, "111111111").unwrap(),
            [0, 0, 0, 9, 0xff, 0x80]
        );
        assert_eq!(enc(Special::Bits, "").unwrap(), [0, 0, 0, 0]);
        assert!(enc(Special::Bits, "102").is_err());
        assert_eq!(
            enc(Special::Lsn, "16/B374D848").unwrap(),
            0x16_B374_D848u64.to_be_bytes()
        );
        for bad in ["16", "/1", "1/", "123456789/0", "g/0"] {
            assert!(enc(Special::Lsn, bad).is_err(), "{bad}");
        }
        assert_eq!(enc(Special::VersionedText, "a.b").unwrap(), b"\x01a.b");
        assert_eq!(
            enc(Special::Hstore, r#"{"a": "1", "b": null, "n": 2}"#).unwrap(),
            [
                &[0, 0, 0, 3][..],
                &[0, 0, 0, 1, b'a', 0, 0, 0, 1, b'1'],
                &[0, 0, 0, 1, b'b', 0xff, 0xff, 0xff, 0xff],
                &[0, 0, 0, 1, b'n', 0, 0, 0, 1, b'2'],
            ]
            .concat()
        );
        assert!(enc(Special::Hstore, r#"{"a": [1]}"#).is_err());
        assert!(enc(Special::Hstore, "a=>1").is_err());
    }

    #[test]
    fn timetz_text_parses_as_the_reader_prints_it() {
        assert_eq!(parse_timetz("12:00:00+02"), Some((43_200_000_000, -7200)));
        assert_eq!(
            parse_timetz("12:00:00.5-05:30"),
            Some((43_200_500_000, 5 * 3600 + 1800))
        );
        assert_eq!(parse_timetz("01:02:03-00:00:07"), Some((3_723_000_000, 7)));
        assert_eq!(parse_timetz("00:00:00.000001Z"), Some((1, 0)));
        assert_eq!(
            parse_timetz("24:00:00+14"),
            Some((86_400_000_000, -14 * 3600))
        );
        assert_eq!(parse_timetz("07:30+00"), Some((27_000_000_000, 0)));
        assert_eq!(parse_timetz("1:2:3-0:0:7"), Some((3_723_000_000, 7)));
        for bad in [
            "12:00:00",
            "25:00+00",
            "12:60+00",
            "123:00+00",
            "12:00:00.1234567+00",
            "12:00+16",
            "12:00+01:00:00:00",
        ] {
            assert_eq!(parse_timetz(bad), None, "{bad}");
        }
    }
}
