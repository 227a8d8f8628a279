//! The type mapping tables, as data: engine type → canonical → Arrow (reads and
//! introspection) and canonical → DDL type per dialect (writes). `docs/types.md` is
//! generated from these tables ([`render_types_md`]); a unit test fails when the file
//! is out of date (regenerate with `SQLARROW_UPDATE_DOCS=1 cargo test -p sqlarrow-core
//! types_md`).

use super::ddl::Dialect;
use super::LogicalType;

/// How one canonical type is written in one dialect's DDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ddl {
    /// The dialect's own equivalent.
    Native(&'static str),
    /// Only with `DdlOptions::widen_unsigned` (a wider exact type).
    Widen(&'static str),
    /// Only with `DdlOptions::text_fallback` (no equivalent; stored as text/JSON/bytes).
    Fallback(&'static str),
    /// No equivalent: rendering fails with an `UnsupportedTypeError`.
    No,
}

use Ddl::{Fallback as F, Native as N, No, Widen as W};

/// One row of the DDL table. Templates use `{p}`/`{s}` (decimal precision/scale), `{n}`
/// (maximum length), `{t}` (the element type), `{values}` (quoted ENUM labels), `{col}`
/// (the quoted column name) and `{maxlen}` (the longest ENUM label, at least 1).
pub struct DdlRow {
    pub shape: &'static str,
    /// Indexed like [`Dialect::ALL`].
    pub ddl: [Ddl; 7],
}

/// Canonical → DDL type, per dialect (order of [`Dialect::ALL`]: postgres, redshift,
/// mysql, sqlite, snowflake, bigquery, mssql).
#[rustfmt::skip]
pub static DDL_TABLE: &[DdlRow] = &[
    DdlRow { shape: "BOOL", ddl: [N("BOOLEAN"), N("BOOLEAN"), N("BOOLEAN"), N("BOOLEAN"), N("BOOLEAN"), N("BOOL"), N("BIT")] },
    DdlRow { shape: "INT8", ddl: [N("SMALLINT"), N("SMALLINT"), N("TINYINT"), N("TINYINT"), N("TINYINT"), N("INT64"), N("SMALLINT")] },
    DdlRow { shape: "INT16", ddl: [N("SMALLINT"), N("SMALLINT"), N("SMALLINT"), N("SMALLINT"), N("SMALLINT"), N("INT64"), N("SMALLINT")] },
    DdlRow { shape: "INT32", ddl: [N("INTEGER"), N("INTEGER"), N("INT"), N("INT"), N("INTEGER"), N("INT64"), N("INT")] },
    DdlRow { shape: "INT64", ddl: [N("BIGINT"), N("BIGINT"), N("BIGINT"), N("INTEGER"), N("BIGINT"), N("INT64"), N("BIGINT")] },
    DdlRow { shape: "UINT8", ddl: [N("SMALLINT"), N("SMALLINT"), N("TINYINT UNSIGNED"), N("UINT8"), N("NUMBER(3,0)"), N("INT64"), N("TINYINT")] },
    DdlRow { shape: "UINT16", ddl: [N("INTEGER"), N("INTEGER"), N("SMALLINT UNSIGNED"), N("UINT16"), N("NUMBER(5,0)"), N("INT64"), N("INT")] },
    DdlRow { shape: "UINT32", ddl: [N("BIGINT"), N("BIGINT"), N("INT UNSIGNED"), N("UINT32"), N("NUMBER(10,0)"), N("INT64"), N("BIGINT")] },
    DdlRow { shape: "UINT64", ddl: [W("NUMERIC(20,0)"), W("DECIMAL(20,0)"), N("BIGINT UNSIGNED"), No, N("NUMBER(20,0)"), W("NUMERIC(20,0)"), W("DECIMAL(20,0)")] },
    DdlRow { shape: "FLOAT32", ddl: [N("REAL"), N("REAL"), N("FLOAT"), N("FLOAT"), N("FLOAT"), N("FLOAT64"), N("REAL")] },
    DdlRow { shape: "FLOAT64", ddl: [N("DOUBLE PRECISION"), N("DOUBLE PRECISION"), N("DOUBLE"), N("REAL"), N("FLOAT"), N("FLOAT64"), N("FLOAT")] },
    DdlRow { shape: "DECIMAL(p,s)", ddl: [N("NUMERIC({p},{s})"), N("DECIMAL({p},{s})"), N("DECIMAL({p},{s})"), N("DECIMAL({p},{s})"), N("NUMBER({p},{s})"), N("NUMERIC({p},{s})"), N("DECIMAL({p},{s})")] },
    DdlRow { shape: "STRING", ddl: [N("TEXT"), N("VARCHAR(MAX)"), N("LONGTEXT"), N("TEXT"), N("VARCHAR"), N("STRING"), N("NVARCHAR(MAX)")] },
    DdlRow { shape: "STRING(n)", ddl: [N("VARCHAR({n})"), N("VARCHAR({n})"), N("VARCHAR({n})"), N("VARCHAR({n})"), N("VARCHAR({n})"), N("STRING({n})"), N("NVARCHAR({n})")] },
    DdlRow { shape: "BINARY", ddl: [N("BYTEA"), N("VARBYTE(1024000)"), N("LONGBLOB"), N("BLOB"), N("BINARY"), N("BYTES"), N("VARBINARY(MAX)")] },
    DdlRow { shape: "BINARY(n)", ddl: [N("BYTEA"), N("VARBYTE({n})"), N("VARBINARY({n})"), N("VARBINARY({n})"), N("BINARY({n})"), N("BYTES({n})"), N("VARBINARY({n})")] },
    DdlRow { shape: "DATE", ddl: [N("DATE"), N("DATE"), N("DATE"), N("DATE"), N("DATE"), N("DATE"), N("DATE")] },
    DdlRow { shape: "TIME", ddl: [N("TIME"), N("TIME"), N("TIME(6)"), N("TIME"), N("TIME"), N("TIME"), N("TIME(6)")] },
    DdlRow { shape: "TIMESTAMP", ddl: [N("TIMESTAMP"), N("TIMESTAMP"), N("DATETIME(6)"), N("TIMESTAMP"), N("TIMESTAMP_NTZ"), N("DATETIME"), N("DATETIME2(6)")] },
    DdlRow { shape: "TIMESTAMP_TZ", ddl: [N("TIMESTAMPTZ"), N("TIMESTAMPTZ"), N("TIMESTAMP(6)"), N("TIMESTAMPTZ"), N("TIMESTAMP_TZ"), N("TIMESTAMP"), N("DATETIMEOFFSET(6)")] },
    DdlRow { shape: "INTERVAL", ddl: [N("INTERVAL"), No, No, No, No, N("INTERVAL"), No] },
    DdlRow { shape: "UUID", ddl: [N("UUID"), F("CHAR(36)"), F("CHAR(36)"), N("UUID"), F("VARCHAR(36)"), F("STRING"), N("UNIQUEIDENTIFIER")] },
    DdlRow { shape: "JSON", ddl: [N("JSONB"), N("SUPER"), N("JSON"), N("JSON"), N("VARIANT"), N("JSON"), F("NVARCHAR(MAX)")] },
    DdlRow { shape: "ARRAY<T>", ddl: [N("{t}[]"), F("SUPER"), F("JSON"), F("JSON"), N("ARRAY"), N("ARRAY<{t}>"), F("NVARCHAR(MAX)")] },
    DdlRow { shape: "ENUM(...)", ddl: [N("TEXT CHECK ({col} IN ({values}))"), F("VARCHAR({maxlen})"), N("ENUM({values})"), N("TEXT CHECK ({col} IN ({values}))"), F("VARCHAR({maxlen})"), F("STRING"), N("NVARCHAR({maxlen}) CHECK ({col} IN ({values}))")] },
    DdlRow { shape: "GEOMETRY", ddl: [N("GEOMETRY"), N("GEOMETRY"), N("GEOMETRY"), F("BLOB"), N("GEOMETRY"), N("GEOGRAPHY"), N("GEOMETRY")] },
];

/// Notes shown under the DDL table (dialect, canonical shape, note).
pub static DDL_NOTES: &[(&str, &str, &str)] = &[
    ("all", "UINT64", "no exact 64-bit unsigned type: rendering fails unless `widen_unsigned=True` (then `NUMERIC(20,0)`). SQLite cannot store values above 2^63-1 exactly and always fails."),
    ("all", "INT8/UINT8..UINT32", "widened to the next signed type where the dialect has no exact one (lossless; reads back as the wider type)."),
    ("postgres", "ENUM(...)", "created as `TEXT` with a `CHECK (col IN (...))` constraint (no `CREATE TYPE` needed); introspection reads real PostgreSQL enum types as ENUM and this CHECK form back as ENUM too."),
    ("postgres", "BINARY(n)", "`bytea` has no maximum length; introspection reads it back as `BINARY`."),
    ("postgres", "GEOMETRY", "needs the PostGIS extension on the server."),
    ("postgres", "ARRAY<T>", "nested arrays (multi-dimensional) are rejected."),
    ("redshift", "STRING", "Redshift lengths are bytes; `TEXT` would mean `VARCHAR(256)`, so `VARCHAR(MAX)` (65535 bytes) is used."),
    ("redshift", "all", "quoted identifiers are case-insensitive unless `enable_case_sensitive_identifier` is on; constraints are informational; no indexes are created."),
    ("mysql", "TIMESTAMP_TZ", "`TIMESTAMP(6)` stores UTC but only covers 1970-01-01..2038-01-19."),
    ("mysql", "STRING", "`LONGTEXT`; columns used in keys or indexes should have a length (`STRING(n)`)."),
    ("sqlite", "all", "SQLite keeps the declared type text; sqlarrow reads it back from there (type affinity decides storage)."),
    ("sqlite", "TIMESTAMP_TZ", "stored as text (`TIMESTAMPTZ` declared type); offsets are converted to UTC on read."),
    ("sqlite", "DECIMAL(p,s)", "`DECIMAL(p,s)` up to precision 15 (NUMERIC affinity: stored as REAL, which holds 15 significant digits exactly, and SQL compares and sums them as numbers); above 15, `DECIMAL TEXT(p,s)` (TEXT affinity: stored exactly as text, but SQL compares them as text: cast in SQL to compare numerically); above precision 38 rendering fails. `write()` creates the same columns."),
    ("sqlite", "UUID", "stored as text (`UUID` declared type); read back as `utf8`."),
    ("snowflake", "ARRAY<T>", "Snowflake `ARRAY` is untyped: the element type is lost."),
    ("snowflake/bigquery", "indexes", "no indexes are created (these warehouses have none); constraints are not enforced."),
    ("bigquery", "GEOMETRY", "`GEOGRAPHY` (spherical) is the only spatial type."),
    ("bigquery", "DECIMAL(p,s)", "`NUMERIC(p,s)` when p-s <= 29 and s <= 9, else `BIGNUMERIC(p,s)`."),
    ("mssql", "STRING(n)", "`NVARCHAR(n)` for n <= 4000, else rendering fails (use `STRING`)."),
    ("mssql", "comments", "column comments are not rendered (extended properties need a separate procedure call)."),
];

/// Decimal limits per dialect: (max precision, max scale).
pub fn decimal_limits(d: Dialect) -> (u32, u32) {
    match d {
        Dialect::Postgres => (1000, 1000),
        Dialect::Redshift => (38, 37),
        Dialect::Mysql => (65, 30),
        Dialect::Sqlite => (38, 38),
        Dialect::Snowflake => (38, 37),
        Dialect::Bigquery => (76, 38),
        Dialect::Mssql => (38, 38),
    }
}

pub fn ddl_rule(shape: &str, d: Dialect) -> Ddl {
    DDL_TABLE
        .iter()
        .find(|r| r.shape == shape)
        .map(|r| r.ddl[d.index()])
        .unwrap_or(No)
}

/// One row of an engine's read table: engine type → canonical (introspection), and
/// how the current decoder returns it when that differs from the canonical Arrow type.
pub struct EngineTypeRow {
    pub engine_type: &'static str,
    pub canonical: &'static str,
    pub read_note: &'static str,
}

const fn r(
    engine_type: &'static str,
    canonical: &'static str,
    read_note: &'static str,
) -> EngineTypeRow {
    EngineTypeRow {
        engine_type,
        canonical,
        read_note,
    }
}

/// PostgreSQL types (`pg_type.typname` with the declared modifier) → canonical.
pub static POSTGRES_TYPES: &[EngineTypeRow] = &[
    r("bool", "BOOL", ""),
    r("int2", "INT16", ""),
    r("int4", "INT32", ""),
    r("int8", "INT64", ""),
    r("oid", "UINT32", "also xid, cid and the reg* types (regclass, ...): the number; the reg* types are not written"),
    r("float4", "FLOAT32", ""),
    r("float8", "FLOAT64", ""),
    r("numeric(18,4)", "DECIMAL(18,4)", ""),
    r(
        "numeric",
        "DECIMAL(38,18)",
        "unconstrained numeric: decimal128(38,18); values with more fraction digits are an error",
    ),
    r(
        "money",
        "DECIMAL(19,2)",
        "read as utf8, the server's text (cast to numeric for decimals)",
    ),
    r("text", "STRING", ""),
    r("varchar(255)", "STRING(255)", ""),
    r("varchar", "STRING", ""),
    r("bpchar(10)", "STRING(10)", "blank-padded"),
    r("name", "STRING(63)", ""),
    r("citext", "STRING", ""),
    r("xml", "STRING", ""),
    r("inet", "STRING", ""),
    r("cidr", "STRING", ""),
    r("macaddr", "STRING", ""),
    r("tsvector", "STRING", ""),
    r("bit(8)", "STRING", "read as '0'/'1' text, and written from it"),
    r("varbit", "STRING", "as bit"),
    r(
        "timetz",
        "STRING",
        "read as its text (`12:00:00+02`; Arrow has no time of day with an offset), and written from it",
    ),
    r("pg_lsn", "STRING", "read as its text (`16/B374D848`), and written from it"),
    r("jsonpath", "STRING", "read as its text (`$.a[*] ? (@ > 1)`), and written from it"),
    r("tsquery", "STRING", "read as its text (`'a' & !'b'`); not written"),
    r("xid8", "UINT64", "a 64-bit transaction id (`pg_current_xact_id()`)"),
    r("tid", "STRING", "a row's ctid, read as its text (`(0,1)`); not written"),
    r(
        "pg_snapshot",
        "STRING",
        "also txid_snapshot; read as its text (`10:20:10,14`); not written",
    ),
    r("ltree (extension)", "STRING", "also lquery and ltxtquery; read as text, and written from it"),
    r(
        "hstore (extension)",
        "JSON",
        "read as a JSON object of text values and nulls (arrow.json); written from such an object",
    ),
    r(
        "tstzrange",
        "STRING",
        "also int4range, int8range, numrange, daterange, tsrange and their multiranges; read as text (`[1,5)`, `empty`, `{[1,3),[5,7)}`), and written from it",
    ),
    r(
        "point",
        "STRING",
        "also line, lseg, box, path, polygon and circle; read as text (`(1,2)`, `<(0,0),1.5>`), and written from it",
    ),
    r("bytea", "BINARY", ""),
    r("date", "DATE", ""),
    r("time", "TIME", ""),
    r("timestamp", "TIMESTAMP", ""),
    r("timestamptz", "TIMESTAMP_TZ", ""),
    r("interval", "INTERVAL", ""),
    r("uuid", "UUID", ""),
    r("json", "JSON", ""),
    r("jsonb", "JSON", ""),
    r(
        "int4[]",
        "ARRAY<INT32>",
        "one-dimensional on read (more dimensions are an error; a lower bound other than 1, as in `[0:2]={…}`, is not kept); written from lists, nested lists for more dimensions",
    ),
    r("text[]", "ARRAY<STRING>", "as int4[]"),
    r("enum type", "ENUM(...)", "currently read as utf8"),
    r("text + CHECK (col IN (...))", "ENUM(...)", "read as utf8"),
    r("geometry (PostGIS)", "GEOMETRY", "read as binary (EWKB)"),
    r("super (Redshift)", "JSON", ""),
    r("varbyte (Redshift)", "BINARY", ""),
    r("domain over T", "T", ""),
];

/// SQLite declared types → canonical (SQLite keeps the declared type text).
/// MySQL/MariaDB types (`information_schema.COLUMNS.COLUMN_TYPE`) → canonical; the
/// Arrow type read is the canonical type's (column 3), with the notes given here.
pub static MYSQL_TYPES: &[EngineTypeRow] = &[
    r(
        "tinyint(1)",
        "BOOL",
        "a value other than 0/1 is a DataError; `tinyint1_as_bool=False` reads int8",
    ),
    r("tinyint", "INT8", ""),
    r("smallint", "INT16", ""),
    r("mediumint", "INT32", ""),
    r("int", "INT32", ""),
    r("bigint", "INT64", ""),
    r("tinyint unsigned", "UINT8", ""),
    r("smallint unsigned", "UINT16", ""),
    r("int unsigned", "UINT32", ""),
    r("bigint unsigned", "UINT64", ""),
    r("float", "FLOAT32", ""),
    r("double", "FLOAT64", ""),
    r(
        "decimal(18,4)",
        "DECIMAL(18,4)",
        "decimal256 above precision 38 (up to decimal(65,30))",
    ),
    r("varchar(255)", "STRING(255)", "utf8mb4 on the wire"),
    r("text", "STRING", ""),
    r("varbinary(16)", "BINARY(16)", ""),
    r("blob", "BINARY", ""),
    r(
        "date",
        "DATE",
        "zero dates are NULL (`zero_date_as_null=False`: an error)",
    ),
    r(
        "time",
        "TIME",
        "values outside 00:00:00-23:59:59.999999 are a DataError; `time_as_duration=True` reads TIME as duration[us] (its whole ±838:59:59 range)",
    ),
    r("datetime(6)", "TIMESTAMP", ""),
    r(
        "timestamp(6)",
        "TIMESTAMP_TZ",
        "the session time zone is UTC",
    ),
    r("year", "INT16", ""),
    r(
        "json",
        "JSON",
        "MariaDB's JSON is LONGTEXT with a json_valid check: read as utf8",
    ),
    r(
        "enum('a','b')",
        "ENUM('a','b')",
        "read as dictionary<int32, utf8>; `set(...)` reads as utf8",
    ),
    r("bit(8)", "UINT64", ""),
    r(
        "geometry",
        "GEOMETRY",
        "WKB; EWKB carrying the SRID when it is not 0. Writes take WKB or EWKB (its SRID kept)",
    ),
];

pub static SQLITE_TYPES: &[EngineTypeRow] = &[
    r("INTEGER", "INT64", ""),
    r("BIGINT", "INT64", ""),
    r("INT", "INT32", "read as int64"),
    r("MEDIUMINT", "INT32", "read as int64"),
    r("SMALLINT", "INT16", "read as int64"),
    r("TINYINT", "INT8", "read as int64"),
    r("UINT8", "UINT8", "read as int64"),
    r("UINT16", "UINT16", "read as int64"),
    r("UINT32", "UINT32", "read as int64"),
    r(
        "BOOLEAN",
        "BOOL",
        "0/1 and true/false/yes/no text; any other value is a DataError",
    ),
    r("REAL", "FLOAT64", ""),
    r("DOUBLE", "FLOAT64", ""),
    r("FLOAT", "FLOAT32", "read as float64"),
    r(
        "DECIMAL(10,2)",
        "DECIMAL(10,2)",
        "precision above 38 reads as float64; a value with more digits than declared is a DataError, not rounded",
    ),
    r(
        "DECIMAL TEXT(20,4)",
        "DECIMAL(20,4)",
        "TEXT affinity keeps every digit; created by sqlarrow above precision 15",
    ),
    r("NUMERIC", "FLOAT64", "NUMERIC affinity without precision"),
    r("TEXT", "STRING", ""),
    r("CLOB", "STRING", ""),
    r("VARCHAR(255)", "STRING(255)", ""),
    r("CHAR(3)", "STRING(3)", ""),
    r("BLOB", "BINARY", ""),
    r("VARBINARY(16)", "BINARY(16)", ""),
    r(
        "DATE",
        "DATE",
        "ISO text, Unix seconds (INTEGER) or Julian day numbers (REAL); a value with a time of day other than midnight is a DataError",
    ),
    r("TIME", "TIME", ""),
    r(
        "TIMESTAMP",
        "TIMESTAMP",
        "ISO text, Unix seconds (INTEGER) or Julian day numbers (REAL)",
    ),
    r("DATETIME", "TIMESTAMP", "as TIMESTAMP"),
    r(
        "TIMESTAMPTZ",
        "TIMESTAMP_TZ",
        "read as timestamp[us] (UTC values)",
    ),
    r("JSON", "JSON", ""),
    r("UUID", "UUID", "read as utf8 (stored as text)"),
    r("TEXT CHECK (col IN (...))", "ENUM(...)", "read as utf8"),
    r(
        "(none)",
        "BINARY",
        "no declared type: typed from the values when read",
    ),
    r(
        "anything else",
        "FLOAT64",
        "NUMERIC affinity, read as float64",
    ),
];

/// `(p, s)` of a declared type's `(p[, s])` (`DECIMAL(10,2)`, `DECIMAL TEXT(20,4)`),
/// when 1 <= p <= 38 and 0 <= s <= p.
pub fn decimal_precision_scale(decl: &str) -> Option<(u8, i8)> {
    let inner = decl.split_once('(')?.1.split_once(')')?.0;
    let mut it = inner.split(',').map(|x| x.trim().parse::<i64>());
    let p = it.next()?.ok()?;
    let s = match it.next() {
        Some(r) => r.ok()?,
        None => 0,
    };
    ((1..=38).contains(&p) && (0..=p).contains(&s)).then_some((p as u8, s as i8))
}

/// SQLite: canonical type of a declared column type (affinity rules of the decoder).
pub fn sqlite_canonical(decl: &str) -> LogicalType {
    use LogicalType as L;
    let u = decl.trim().to_ascii_uppercase();
    let base = u.split('(').next().unwrap_or("").trim().to_string();
    let len = || -> Option<u32> {
        let inner = u.split_once('(')?.1.split_once(')')?.0;
        inner.split(',').next()?.trim().parse().ok()
    };
    let decimal_ps = || decimal_precision_scale(&u);
    match base.as_str() {
        "" | "ANY" => return L::Binary(None),
        "INTEGER" | "BIGINT" | "INT8" | "UNSIGNED BIG INT" => return L::Int64,
        "INT" | "MEDIUMINT" | "INT4" => return L::Int32,
        "SMALLINT" | "INT2" => return L::Int16,
        "TINYINT" => return L::Int8,
        "UINT8" => return L::UInt8,
        "UINT16" => return L::UInt16,
        "UINT32" => return L::UInt32,
        "FLOAT" => return L::Float32,
        "DATE" => return L::Date,
        "TIME" => return L::Time,
        "TIMESTAMPTZ" => return L::TimestampTz,
        "JSON" | "JSONB" => return L::Json,
        "UUID" => return L::Uuid,
        "GEOMETRY" => return L::Geometry,
        _ => {}
    }
    if base.contains("BOOL") {
        L::Bool
    } else if base.contains("WITH TIME ZONE") {
        L::TimestampTz
    } else if base.contains("DATETIME") || base.contains("TIMESTAMP") {
        L::Timestamp
    } else if base.contains("INT") {
        L::Int64
    } else if base.contains("DECIMAL") && base.contains("TEXT") && decimal_ps().is_some() {
        // `DECIMAL TEXT(p,s)`: a decimal kept as exact text (see `sqlite_decimal_decl`).
        let (precision, scale) = decimal_ps().unwrap_or((38, 0));
        L::Decimal { precision, scale }
    } else if base.contains("CHAR") || base.contains("CLOB") || base.contains("TEXT") {
        if base.contains("CHAR") {
            L::String(len().filter(|n| *n > 0))
        } else {
            L::String(None)
        }
    } else if base.contains("BINARY") {
        L::Binary(len().filter(|n| *n > 0))
    } else if base.contains("BLOB") || base == "BYTEA" {
        L::Binary(None)
    } else if base.contains("REAL") || base.contains("FLOA") || base.contains("DOUB") {
        L::Float64
    } else if base.contains("DECIMAL") || base.contains("NUMERIC") {
        match decimal_ps() {
            Some((precision, scale)) => L::Decimal { precision, scale },
            None => L::Float64,
        }
    } else {
        L::Float64
    }
}

/// What introspection knows about one PostgreSQL column type.
pub struct PgTypeInfo<'a> {
    /// `pg_type.typname` of the (domain-resolved) type; for arrays, of the element type.
    pub typname: &'a str,
    pub typmod: i32,
    /// Labels when the type is an enum.
    pub enum_labels: Option<Vec<String>>,
    /// Array dimensions (0 for a scalar).
    pub array: bool,
}

/// The declared precision and scale of a PostgreSQL `numeric(p,s)` typmod as the server
/// holds them (a scale may be negative, or above the precision), or `None` for no typmod.
pub fn pg_numeric_typmod_raw(typmod: i32) -> Option<(i32, i32)> {
    let t = typmod.checked_sub(4).filter(|t| *t >= 0)?;
    Some(((t >> 16) & 0xffff, ((t & 0x7ff) ^ 1024) - 1024))
}

/// The Arrow decimal precision and scale of a PostgreSQL `numeric(p,s)` typmod (at least
/// 4), or `None` when no Arrow decimal holds it.
///
/// PostgreSQL 15 takes a negative scale (`numeric(5,-2)`: up to 7 digits, rounded to
/// hundreds) and one above the precision (`numeric(3,5)`: |x| < 0.001 to five places).
/// Arrow allows a negative scale, but DuckDB fails on one with an internal error and
/// polars refuses it, so such a column reads as the integers it holds (`decimal(7,0)`);
/// `numeric(3,5)` reads as `decimal(5,5)`.
pub fn pg_numeric_typmod(typmod: i32) -> Option<(u8, i8)> {
    let (precision, scale) = pg_numeric_typmod_raw(typmod)?;
    let (precision, scale) = if scale < 0 {
        (precision - scale, 0)
    } else {
        (precision.max(scale), scale)
    };
    let max = super::MAX_DECIMAL_PRECISION as i32;
    ((1..=max).contains(&precision) && (0..=max).contains(&scale))
        .then_some((precision as u8, scale as i8))
}

/// PostgreSQL: canonical type of a column type. `None` when there is no mapping.
pub fn pg_canonical(info: &PgTypeInfo<'_>) -> Option<LogicalType> {
    use LogicalType as L;
    let scalar = if let Some(labels) = &info.enum_labels {
        L::Enum(labels.clone())
    } else {
        let len = (info.typmod >= 4).then(|| (info.typmod - 4) as u32);
        match info.typname {
            "bool" => L::Bool,
            "int2" => L::Int16,
            "int4" => L::Int32,
            "int8" => L::Int64,
            "oid" | "xid" | "cid" | "regclass" | "regproc" | "regtype" | "regprocedure"
            | "regoper" | "regoperator" | "regconfig" | "regdictionary" | "regnamespace"
            | "regrole" | "regcollation" => L::UInt32,
            "xid8" => L::UInt64,
            "float4" => L::Float32,
            "float8" => L::Float64,
            "numeric" => {
                if info.typmod >= 4 {
                    let (precision, scale) = pg_numeric_typmod(info.typmod)?;
                    L::Decimal { precision, scale }
                } else {
                    L::Decimal {
                        precision: 38,
                        scale: 18,
                    }
                }
            }
            "money" => L::Decimal {
                precision: 19,
                scale: 2,
            },
            "varchar" | "bpchar" => L::String(len),
            "name" => L::String(Some(63)),
            "text" | "citext" | "xml" | "inet" | "cidr" | "macaddr" | "macaddr8" | "tsvector"
            | "tsquery" | "char" | "bit" | "varbit" | "timetz" | "pg_lsn" | "ltree" | "lquery"
            | "ltxtquery" | "jsonpath" | "int4range" | "int8range" | "numrange" | "daterange"
            | "tsrange" | "tstzrange" | "int4multirange" | "int8multirange" | "nummultirange"
            | "datemultirange" | "tsmultirange" | "tstzmultirange" | "point" | "line" | "lseg"
            | "box" | "path" | "polygon" | "circle" | "tid" | "pg_snapshot" | "txid_snapshot" => {
                L::String(None)
            }
            "bytea" | "varbyte" => L::Binary(None),
            "date" => L::Date,
            "time" => L::Time,
            "timestamp" => L::Timestamp,
            "timestamptz" => L::TimestampTz,
            "interval" => L::Interval,
            "uuid" => L::Uuid,
            "json" | "jsonb" | "super" | "hstore" => L::Json,
            "geometry" | "geography" => L::Geometry,
            _ => return None,
        }
    };
    Some(if info.array {
        L::Array(Box::new(scalar))
    } else {
        scalar
    })
}

fn ddl_cell(d: Ddl) -> String {
    match d {
        N(t) => format!("`{t}`"),
        W(t) => format!("`{t}` (widen_unsigned)"),
        F(t) => format!("`{t}` (text_fallback)"),
        No => "error".to_string(),
    }
}

fn arrow_of(canonical: &str) -> String {
    match canonical.parse::<LogicalType>() {
        Ok(t) => {
            let f = t.to_field("c", true);
            let mut s = f.data_type().to_string();
            if let Some(e) = f.metadata().get(crate::types::EXTENSION_NAME_KEY) {
                s.push_str(&format!(" ({e})"));
            }
            s
        }
        Err(_) => match canonical {
            "ENUM(...)" => "Dictionary(Int32, Utf8)".into(),
            _ => "as T".into(),
        },
    }
}

fn engine_table(out: &mut String, title: &str, rows: &[EngineTypeRow]) {
    out.push_str(&format!(
        "\n## {title}: engine type → canonical → Arrow\n\n\
         | Engine type | Canonical | Arrow (canonical) | Read today |\n|---|---|---|---|\n"
    ));
    for row in rows {
        out.push_str(&format!(
            "| `{}` | `{}` | `{}` | {} |\n",
            row.engine_type,
            row.canonical,
            arrow_of(row.canonical),
            if row.read_note.is_empty() {
                "same"
            } else {
                row.read_note
            }
        ));
    }
}

/// The whole of `docs/types.md`.
/// The widest SQLite `DECIMAL(p,s)` kept with NUMERIC affinity (stored as REAL, which
/// holds 15 significant decimal digits exactly); wider ones are declared
/// `DECIMAL TEXT(p,s)` so that SQLite keeps them as exact text.
pub const SQLITE_REAL_DECIMAL_DIGITS: u32 = 15;

/// The SQLite declared type of `DECIMAL(p,s)` (see [`SQLITE_REAL_DECIMAL_DIGITS`]).
pub fn sqlite_decimal_decl(p: u32, s: u32) -> String {
    if p <= SQLITE_REAL_DECIMAL_DIGITS {
        format!("DECIMAL({p},{s})")
    } else {
        format!("DECIMAL TEXT({p},{s})")
    }
}

pub fn render_types_md() -> String {
    let mut out = String::new();
    out.push_str(
        "<!-- Generated from crates/sqlarrow-core/src/schema/mapping.rs; do not edit by hand.\n\
         Regenerate: SQLARROW_UPDATE_DOCS=1 cargo test -p sqlarrow-core types_md -->\n\n\
         # Type mapping\n\n\
         Every engine maps its types into sqlarrow's canonical types (`sqlarrow.schema`), which map to \
         Arrow on reads and to each dialect's DDL on writes (`CanonicalSchema.to_ddl`, \
         `Connector.create_table`, `apply`). A type with no equivalent in a dialect is an error \
         (`UnsupportedTypeError`), never a silent change, unless an option allows the nearest type.\n\n\
         ## Canonical types → Arrow\n\n| Canonical | Arrow |\n|---|---|\n",
    );
    for row in DDL_TABLE {
        let example = match row.shape {
            "DECIMAL(p,s)" => "DECIMAL(18,4)",
            "STRING(n)" => "STRING(255)",
            "BINARY(n)" => "BINARY(16)",
            "ARRAY<T>" => "ARRAY<INT32>",
            "ENUM(...)" => "ENUM('a','b')",
            s => s,
        };
        let note = match row.shape {
            "DECIMAL(p,s)" => "; Decimal256 when p > 38",
            "STRING(n)" | "BINARY(n)" | "ENUM(...)" => {
                "; the exact type is kept in field metadata `sqlarrow.type`"
            }
            _ => "",
        };
        out.push_str(&format!(
            "| `{example}` | `{}`{note} |\n",
            arrow_of(example)
        ));
    }
    out.push_str(
        "\nFrom Arrow: every integer, float (float16 widens to FLOAT32), decimal, string, binary, \
         date, time, timestamp (any unit; with a time zone → TIMESTAMP_TZ), interval and duration \
         (→ INTERVAL), list (any kind) and dictionary type maps to a canonical type; \
         `FixedSizeBinary(16)` tagged `arrow.uuid` → UUID, utf8 tagged `arrow.json` → JSON, binary \
         tagged `geoarrow.wkb` → GEOMETRY. Null, struct, map and union columns are an \
         `UnsupportedTypeError`.\n",
    );
    engine_table(&mut out, "PostgreSQL (and Redshift)", POSTGRES_TYPES);
    engine_table(&mut out, "SQLite", SQLITE_TYPES);
    engine_table(&mut out, "MySQL and MariaDB", MYSQL_TYPES);
    out.push_str("\n## Canonical → DDL type per dialect\n\n| Canonical |");
    for d in Dialect::ALL {
        out.push_str(&format!(" {} |", d.name()));
    }
    out.push_str("\n|---|");
    for _ in Dialect::ALL {
        out.push_str("---|");
    }
    out.push('\n');
    for row in DDL_TABLE {
        out.push_str(&format!("| `{}` |", row.shape));
        for d in row.ddl {
            out.push_str(&format!(" {} |", ddl_cell(d)));
        }
        out.push('\n');
    }
    out.push_str(
        "\n`(widen_unsigned)`: only with `DdlOptions.widen_unsigned` / `to_ddl(..., widen_unsigned=True)`. \
         `(text_fallback)`: only with `text_fallback=True` (the dialect has no such type; the value is \
         stored as text/JSON/bytes and reads back as that). `error`: no equivalent, rendering fails.\n\n\
         Identifiers are always quoted: `\"x\"` with `\"\"` doubling (postgres, redshift, sqlite, \
         snowflake), `` `x` `` with doubled backticks (mysql), `` `x` `` with backslash escapes \
         (bigquery), `[x]` with `]]` doubling (mssql). NUL is rejected everywhere; names longer \
         than the dialect allows (63 bytes in PostgreSQL, 64 characters in MySQL, 127 bytes in \
         Redshift, 128 characters in SQL Server) are an error instead of being truncated.\n\n\
         ### Notes\n\n",
    );
    for (d, shape, note) in DDL_NOTES {
        out.push_str(&format!("- **{d}**, `{shape}`: {note}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_has_a_row() {
        use LogicalType::*;
        for t in [
            Bool,
            Int8,
            Int16,
            Int32,
            Int64,
            UInt8,
            UInt16,
            UInt32,
            UInt64,
            Float32,
            Float64,
            Decimal {
                precision: 1,
                scale: 0,
            },
            String(None),
            String(Some(1)),
            Binary(None),
            Binary(Some(1)),
            Date,
            Time,
            Timestamp,
            TimestampTz,
            Interval,
            Uuid,
            Json,
            Array(Box::new(Int32)),
            Enum(vec!["a".into()]),
            Geometry,
        ] {
            assert!(
                DDL_TABLE.iter().any(|r| r.shape == t.shape()),
                "{}",
                t.shape()
            );
        }
        assert_eq!(DDL_TABLE.len(), 26);
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn mysql_table_matches_code() {
        for row in MYSQL_TYPES {
            let want: LogicalType = row.canonical.parse().expect("canonical type");
            let got = crate::engines::mysql::introspect::mysql_canonical(row.engine_type);
            assert_eq!(got, Some(want), "{}", row.engine_type);
        }
    }

    #[test]
    fn sqlite_table_matches_code() {
        for row in SQLITE_TYPES {
            let Ok(want) = row.canonical.parse::<LogicalType>() else {
                continue;
            };
            let decl = match row.engine_type {
                "(none)" => "",
                "anything else" => "MONEY",
                s => s,
            };
            assert_eq!(sqlite_canonical(decl), want, "{}", row.engine_type);
        }
    }

    #[test]
    fn postgres_table_matches_code() {
        for row in POSTGRES_TYPES {
            let Ok(want) = row.canonical.parse::<LogicalType>() else {
                continue;
            };
            let et = row.engine_type.split(' ').next().unwrap();
            let (name, array) = match et.strip_suffix("[]") {
                Some(n) => (n, true),
                None => (et, false),
            };
            let (typname, typmod) = match name.split_once('(') {
                Some((n, args)) => {
                    let args: Vec<i32> = args
                        .trim_end_matches(')')
                        .split(',')
                        .map(|x| x.parse().unwrap())
                        .collect();
                    let typmod = if n == "numeric" {
                        ((args[0] << 16) | args[1]) + 4
                    } else {
                        args[0] + 4
                    };
                    (n, typmod)
                }
                None => (name, -1),
            };
            let got = pg_canonical(&PgTypeInfo {
                typname,
                typmod,
                enum_labels: None,
                array,
            });
            assert_eq!(got, Some(want), "{}", row.engine_type);
        }
    }

    #[test]
    fn types_md_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/types.md");
        let want = render_types_md();
        if std::env::var_os("SQLARROW_UPDATE_DOCS").is_some() {
            std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs")).unwrap();
            std::fs::write(path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/types.md is out of date: run `SQLARROW_UPDATE_DOCS=1 cargo test -p sqlarrow-core types_md`"
        );
    }
}
