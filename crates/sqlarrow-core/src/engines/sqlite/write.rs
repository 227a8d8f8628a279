//! Bulk writes to SQLite: one prepared INSERT, bound straight from Arrow arrays, in
//! one transaction (on a blocking thread).

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchReader};
use arrow_schema::{DataType, TimeUnit};

use super::{map_err, SqliteConnector};
use crate::cancel::CancelSlot;
use crate::error::{Error, Result};
use crate::schema::mapping::SQLITE_REAL_DECIMAL_DIGITS;
use crate::value::civil;
use crate::write::{
    cast_strict, is_row_violation, mapped_names, next_batch, quote_ident, FailedRows, TableRef,
    WriteMode, WriteOptions, WriteResult,
};

/// The declared SQLite type for a new column, chosen so sqlarrow reads it back as the
/// same Arrow type.
pub fn sqlite_type_for(dt: &DataType, is_json: bool) -> Option<String> {
    Some(match dt {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => "INTEGER".into(),
        DataType::UInt64 => "DECIMAL TEXT(20,0)".into(),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => "REAL".into(),
        // NUMERIC affinity up to 15 digits (exact as REAL, compared as numbers in SQL);
        // TEXT affinity above, where SQLite would round them to doubles.
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) if *p <= 38 => {
            match u32::try_from(*s) {
                Ok(s) => crate::schema::mapping::sqlite_decimal_decl(*p as u32, s),
                Err(_) => format!("DECIMAL TEXT({p},{s})"),
            }
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if is_json => "JSON".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "TEXT".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "BLOB".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ".into(),
        DataType::Null => "TEXT".into(),
        DataType::Dictionary(_, v) => return sqlite_type_for(v, false),
        _ => return None,
    })
}

/// The Arrow type a column is normalized to before binding.
fn bind_type(dt: &DataType) -> DataType {
    match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => DataType::Int64,
        DataType::Float16 | DataType::Float32 => DataType::Float64,
        DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..) => DataType::Utf8,
        DataType::LargeBinary | DataType::BinaryView => DataType::Binary,
        DataType::Date64 => DataType::Date32,
        DataType::Time32(_) | DataType::Time64(_) => DataType::Time64(TimeUnit::Microsecond),
        DataType::Timestamp(_, None) => DataType::Timestamp(TimeUnit::Microsecond, None),
        DataType::Timestamp(_, Some(_)) => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        DataType::UInt64 => DataType::Decimal128(20, 0),
        other => other.clone(),
    }
}

/// The Arrow type an input column is cast to (strictly) before binding, from its
/// target column's declared type: the type the reader returns for that column. SQLite
/// itself stores whatever it is given, so without this a write could store what
/// sqlarrow then refuses to read ('abc' in an INTEGER column, 1.5 in an INTEGER, a
/// date in a BOOLEAN). `None`: bind the input as its own type (no declared type, or a
/// column that reads anything back).
fn target_type(decl: &str, input: &DataType) -> Option<DataType> {
    use super::Kind;
    Some(match super::kind_from_decl(Some(decl)) {
        Kind::Int => DataType::Int64,
        Kind::Bool => DataType::Boolean,
        Kind::Real => DataType::Float64,
        Kind::Text | Kind::Json => match input {
            // Bytes that are not UTF-8 would read back as an error.
            DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_) => DataType::Utf8,
            _ => return None,
        },
        Kind::Date => DataType::Date32,
        Kind::Time => DataType::Time64(TimeUnit::Microsecond),
        Kind::Timestamp => match input {
            DataType::Timestamp(_, Some(_)) => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            _ => DataType::Timestamp(TimeUnit::Microsecond, None),
        },
        Kind::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Kind::Decimal(p, s) if p <= 38 => DataType::Decimal128(p, s),
        Kind::Decimal(p, s) => DataType::Decimal256(p, s),
        Kind::Blob | Kind::Undeclared | Kind::Null => return None,
    })
}

/// How an input column is converted before binding (decided once per write, from the
/// input's type and its target column's declared type).
enum Conversion {
    /// A UUID into a UUID or text column: its standard text.
    UuidText,
    /// A strict cast to this type.
    Cast(DataType),
}

impl Conversion {
    fn new(f: &arrow_schema::Field, decl: &str) -> Conversion {
        let input = f.data_type();
        if decl.trim().eq_ignore_ascii_case("UUID") && input == &DataType::FixedSizeBinary(16) {
            return Conversion::UuidText;
        }
        let target = target_type(decl, input);
        // A UUID into a text column: its text (a cast of the 16 bytes to text fails).
        if target == Some(DataType::Utf8) && crate::write::is_uuid_field(f) {
            return Conversion::UuidText;
        }
        Conversion::Cast(target.unwrap_or_else(|| bind_type(input)))
    }

    fn apply(&self, a: &ArrayRef, column: &str) -> Result<ArrayRef> {
        match self {
            Conversion::Cast(t) => cast_strict(a, t, column),
            Conversion::UuidText => Ok(crate::write::uuid_text_array(a)),
        }
    }
}

fn decimal_text(v: String, scale: i8) -> String {
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

/// One input column, resolved to its concrete array type once per batch.
enum Col<'a> {
    Bool(&'a arrow_array::BooleanArray),
    I64(&'a arrow_array::Int64Array),
    F64(&'a arrow_array::Float64Array),
    Utf8(&'a arrow_array::StringArray),
    Bin(&'a arrow_array::BinaryArray),
    FixedBin(&'a arrow_array::FixedSizeBinaryArray),
    D128(&'a arrow_array::Decimal128Array, i8),
    /// A decimal of at most 15 digits bound as a REAL (unscaled / 10^scale, the double
    /// SQLite's own text conversion would store) into a column with numeric affinity.
    D128Real(&'a arrow_array::Decimal128Array, f64),
    D256(&'a arrow_array::Decimal256Array, i8),
    Date(&'a arrow_array::Date32Array),
    Time(&'a arrow_array::Time64MicrosecondArray),
    Ts(&'a arrow_array::TimestampMicrosecondArray, bool),
    Null,
}

impl<'a> Col<'a> {
    fn of(a: &'a ArrayRef, column: &str, numeric_target: bool) -> Result<Col<'a>> {
        Ok(match a.data_type() {
            DataType::Decimal128(p, s)
                if numeric_target && u32::from(*p) <= SQLITE_REAL_DECIMAL_DIGITS && *s >= 0 =>
            {
                Col::D128Real(
                    a.as_primitive::<Decimal128Type>(),
                    10f64.powi(i32::from(*s)),
                )
            }
            DataType::Boolean => Col::Bool(a.as_boolean()),
            DataType::Int64 => Col::I64(a.as_primitive::<Int64Type>()),
            DataType::Float64 => {
                let f = a.as_primitive::<Float64Type>();
                refuse_nan(f, column)?;
                Col::F64(f)
            }
            DataType::Utf8 => Col::Utf8(a.as_string::<i32>()),
            DataType::Binary => Col::Bin(a.as_binary::<i32>()),
            DataType::FixedSizeBinary(_) => Col::FixedBin(a.as_fixed_size_binary()),
            DataType::Decimal128(_, s) => Col::D128(a.as_primitive::<Decimal128Type>(), *s),
            DataType::Decimal256(_, s) => Col::D256(a.as_primitive::<Decimal256Type>(), *s),
            DataType::Date32 => Col::Date(a.as_primitive::<Date32Type>()),
            DataType::Time64(TimeUnit::Microsecond) => {
                Col::Time(a.as_primitive::<Time64MicrosecondType>())
            }
            DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                Col::Ts(a.as_primitive::<TimestampMicrosecondType>(), tz.is_some())
            }
            DataType::Null => Col::Null,
            other => {
                return Err(Error::unsupported_write_type(
                    column,
                    &other.to_string(),
                    "SQLite",
                    "cast it first",
                ))
            }
        })
    }

    fn is_null(&self, i: usize) -> bool {
        match self {
            Col::Bool(a) => a.is_null(i),
            Col::I64(a) => a.is_null(i),
            Col::F64(a) => a.is_null(i),
            Col::Utf8(a) => a.is_null(i),
            Col::Bin(a) => a.is_null(i),
            Col::FixedBin(a) => a.is_null(i),
            Col::D128(a, _) => a.is_null(i),
            Col::D128Real(a, _) => a.is_null(i),
            Col::D256(a, _) => a.is_null(i),
            Col::Date(a) => a.is_null(i),
            Col::Time(a) => a.is_null(i),
            Col::Ts(a, _) => a.is_null(i),
            Col::Null => true,
        }
    }

    /// Bind row `i` to parameter `slot`. Text forms are written into `scratch` (SQLite
    /// copies bound text), so no cell allocates.
    fn bind(
        &self,
        stmt: &mut rusqlite::Statement<'_>,
        slot: usize,
        i: usize,
        scratch: &mut String,
    ) -> rusqlite::Result<()> {
        if self.is_null(i) {
            return stmt.raw_bind_parameter(slot, rusqlite::types::Null);
        }
        scratch.clear();
        match self {
            Col::Bool(a) => return stmt.raw_bind_parameter(slot, a.value(i) as i64),
            Col::I64(a) => return stmt.raw_bind_parameter(slot, a.value(i)),
            Col::F64(a) => return stmt.raw_bind_parameter(slot, a.value(i)),
            Col::Utf8(a) => return stmt.raw_bind_parameter(slot, a.value(i)),
            Col::Bin(a) => return stmt.raw_bind_parameter(slot, a.value(i)),
            Col::FixedBin(a) => return stmt.raw_bind_parameter(slot, a.value(i)),
            Col::D128(a, s) => scratch.push_str(&decimal_text(a.value(i).to_string(), *s)),
            // Exact: the unscaled value (< 10^15) and 10^scale are exact doubles, and the
            // division rounds once, to the double nearest the decimal.
            Col::D128Real(a, div) => {
                return stmt.raw_bind_parameter(slot, a.value(i) as f64 / div);
            }
            Col::D256(a, s) => scratch.push_str(&decimal_text(a.value(i).to_string(), *s)),
            Col::Date(a) => write_date(scratch, a.value(i) as i64),
            Col::Time(a) => {
                write_ts(scratch, a.value(i));
                scratch.drain(..11);
            }
            Col::Ts(a, tz) => {
                write_ts(scratch, a.value(i));
                if *tz {
                    scratch.push_str("+00:00");
                }
            }
            Col::Null => unreachable!("NULL handled above"),
        }
        stmt.raw_bind_parameter(slot, scratch.as_str())
    }
}

/// SQLite stores a bound NaN as NULL: a value would change without a word, so a NaN
/// (not a null) in a float column is refused, naming its row in the batch.
fn refuse_nan(a: &arrow_array::Float64Array, column: &str) -> Result<()> {
    // (A plain pass over the values first: it vectorizes, and almost always finds none.)
    if !a.values().iter().fold(false, |n, v| n | v.is_nan()) {
        return Ok(());
    }
    let nan = a
        .values()
        .iter()
        .enumerate()
        .position(|(i, v)| v.is_nan() && a.is_valid(i));
    match nan {
        None => Ok(()),
        Some(row) => Err(Error::data(format!(
            "column \"{column}\" (input row {row}): SQLite cannot store NaN (it would store \
             NULL instead); replace NaN with null first if a missing value is meant \
             (pyarrow: `pc.if_else(pc.is_nan(col), None, col)`; polars: `fill_nan(None)`)"
        ))
        .with_detail("column", column.to_string())
        .with_detail(crate::write::BATCH_ROW, row.to_string())),
    }
}

fn write_date(out: &mut String, days: i64) {
    use std::fmt::Write;
    let (y, m, d) = civil::civil_from_days(days);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}");
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` of microseconds since the epoch.
fn write_ts(out: &mut String, us: i64) {
    use std::fmt::Write;
    let days = us.div_euclid(86_400_000_000);
    let rem = us.rem_euclid(86_400_000_000);
    let (s, f) = (rem / 1_000_000, rem % 1_000_000);
    write_date(out, days);
    let _ = write!(out, " {:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
    if f != 0 {
        let _ = write!(out, ".{f:06}");
    }
}

/// Whether SQLite keeps a REAL bound into a column of declared type `decl` as a number
/// (INTEGER, REAL or NUMERIC affinity, by SQLite's rules), not as text or a blob.
fn numeric_affinity(decl: &str) -> bool {
    let u = decl.to_ascii_uppercase();
    if u.contains("INT") {
        return true;
    }
    !(u.contains("CHAR")
        || u.contains("CLOB")
        || u.contains("TEXT")
        || u.contains("BLOB")
        || u.trim().is_empty())
}

/// The table's generated columns (`PRAGMA table_xinfo` lists them with `hidden` 2 or 3;
/// `table_info` leaves them out).
fn generated_columns(conn: &rusqlite::Connection, table: &TableRef) -> Result<Vec<String>> {
    let schema = table.schema.as_deref().unwrap_or("main");
    let sql = format!(
        "SELECT name FROM pragma_table_xinfo({}, {}) WHERE hidden IN (2, 3)",
        quote_literal(&table.name),
        quote_literal(schema)
    );
    let mut stmt = conn.prepare(&sql).map_err(map_err)?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(map_err)?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(map_err)?;
    Ok(names)
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// (name, NOT NULL, has a default or is part of the key, declared type) per column.
type TableColumn = (String, bool, bool, String);

fn table_columns(
    conn: &rusqlite::Connection,
    table: &TableRef,
) -> Result<Option<Vec<TableColumn>>> {
    let schema = table.schema.as_deref().unwrap_or("main");
    let sql = format!(
        "PRAGMA {}.table_info({})",
        quote_ident(schema),
        quote_ident(&table.name)
    );
    let mut stmt = conn.prepare(&sql).map_err(map_err)?;
    let cols: Vec<TableColumn> = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(1)?,
                r.get::<_, i64>(3)? != 0,
                r.get::<_, Option<String>>(4)?.is_some() || r.get::<_, i64>(5)? > 0,
                r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            ))
        })
        .map_err(map_err)?
        .collect::<std::result::Result<_, _>>()
        .map_err(map_err)?;
    Ok(if cols.is_empty() { None } else { Some(cols) })
}

impl SqliteConnector {
    /// Write every batch of `reader` into `table`.
    pub async fn write(
        &self,
        table: &TableRef,
        reader: Box<dyn RecordBatchReader + Send>,
        opts: &WriteOptions,
        cancel: &CancelSlot,
    ) -> Result<WriteResult> {
        crate::write::check_key(opts)?;
        let start = std::time::Instant::now();
        let table = table.clone();
        let opts = opts.clone();
        let mut res = self
            .with_conn(cancel, move |conn| write_sync(conn, &table, reader, &opts))
            .await?;
        res.elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
        Ok(res)
    }
}

/// The write on one connection: in a transaction of its own that takes the write lock
/// first (`BEGIN IMMEDIATE`), or, inside the caller's open transaction, in a savepoint.
///
/// A deferred transaction that reads first (the table's columns) and then writes cannot
/// wait for another writer: SQLite answers "database is locked" at once rather than
/// risk a deadlock, whatever the busy timeout. `BEGIN IMMEDIATE` waits for the lock
/// (the busy timeout) before anything is read, so concurrent writes queue up.
pub(crate) fn write_sync(
    conn: &mut rusqlite::Connection,
    table: &TableRef,
    reader: Box<dyn RecordBatchReader + Send>,
    opts: &WriteOptions,
) -> Result<WriteResult> {
    if !conn.is_autocommit() {
        return write_in_savepoint(conn, table, reader, opts);
    }
    conn.execute_batch("BEGIN IMMEDIATE").map_err(map_err)?;
    let res = write_in_savepoint(conn, table, reader, opts)
        .and_then(|res| conn.execute_batch("COMMIT").map(|()| res).map_err(map_err));
    if res.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    res
}

/// The write in a savepoint of `conn` (see [`write_sync`]). Returns (written, updated).
fn write_in_savepoint(
    conn: &mut rusqlite::Connection,
    table: &TableRef,
    reader: Box<dyn RecordBatchReader + Send>,
    opts: &WriteOptions,
) -> Result<WriteResult> {
    crate::write::check_key(opts)?;
    let mut reader = reader;
    let table = table.clone();
    let schema = reader.schema();
    let tx = conn.savepoint().map_err(map_err)?;
    let existing = table_columns(&tx, &table)?;
    // SQLite column names are case-insensitive: `id` writes to a column `ID`.
    let folded = match &existing {
        Some(cols) => {
            let cols: Vec<&str> = cols.iter().map(|c| c.0.as_str()).collect();
            crate::write::fold_name_case(&schema, opts, &cols)?
        }
        // A table to create: `key` names input columns, ignoring case too.
        None => {
            let names = mapped_names(&schema, &opts.column_map)?;
            let cols: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
            crate::write::fold_name_case(&schema, opts, &cols)?
        }
    };
    let opts = folded.as_ref().unwrap_or(opts);
    let names = mapped_names(&schema, &opts.column_map)?;
    match (&existing, opts.mode) {
        (Some(_), WriteMode::Create) => {
            return Err(Error::new(
                crate::error::ErrorKind::Query,
                format!("table {} already exists (mode=\"create\")", table.quoted()),
            ))
        }
        (None, m) if m == WriteMode::Create || opts.create_if_missing => {
            let mut cols = Vec::new();
            for (f, n) in schema.fields().iter().zip(&names) {
                let is_json = f
                    .metadata()
                    .get(crate::types::EXTENSION_NAME_KEY)
                    .map(|s| s.as_str())
                    == Some(crate::types::JSON_EXTENSION);
                // A UUID: its text in a `UUID` column, which reads back as the same
                // text on every path (it was a 16-byte BLOB, read back as bytes).
                let uuid = crate::write::is_uuid_field(f).then(|| "UUID".to_string());
                let ty = uuid
                    .or_else(|| sqlite_type_for(f.data_type(), is_json))
                    .ok_or_else(|| {
                        Error::unsupported_write_type(
                            n,
                            &f.data_type().to_string(),
                            "SQLite",
                            "no SQLite column type for it; cast it first",
                        )
                    })?;
                cols.push(format!(
                    "{} {ty}{}",
                    quote_ident(n),
                    if f.is_nullable() { "" } else { " NOT NULL" }
                ));
            }
            if opts.mode.is_keyed() {
                let k: Vec<String> = opts.key.iter().map(|k| quote_ident(k)).collect();
                cols.push(format!("PRIMARY KEY ({})", k.join(", ")));
            }
            tx.execute_batch(&format!(
                "CREATE TABLE {} ({})",
                table.quoted(),
                cols.join(", ")
            ))
            .map_err(map_err)?;
        }
        (None, _) => {
            return Err(Error::new(
                crate::error::ErrorKind::UndefinedObject,
                format!(
                    "table {} does not exist (create_if_missing=False)",
                    table.quoted()
                ),
            ))
        }
        (Some(cols), _) => {
            for n in &names {
                if !cols.iter().any(|c| &c.0 == n) {
                    if generated_columns(&tx, &table)?.contains(n) {
                        return Err(Error::config(format!(
                            "input column {n:?} is a generated column of the table: SQLite \
                             computes it, so leave it out of the input"
                        ))
                        .with_detail("column", n.clone()));
                    }
                    return Err(crate::write::unknown_input_column(
                        n,
                        &cols.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
                        opts.mode,
                        "",
                    ));
                }
            }
            for (c, notnull, hasdef, _) in cols {
                if opts.mode != WriteMode::Update && *notnull && !*hasdef && !names.contains(c) {
                    return Err(Error::config(format!(
                        "the table's NOT NULL column {c:?} (no default) is missing from the input"
                    ))
                    .with_detail("column", c.clone()));
                }
            }
        }
    }
    if opts.mode == WriteMode::Replace && existing.is_some() {
        tx.execute_batch(&format!("DELETE FROM {}", table.quoted()))
            .map_err(map_err)?;
    }
    // Which input columns land in columns of numeric affinity (decimals bind as REAL);
    // a table created above is read back once for its declared types.
    let decls = match existing {
        Some(cols) => cols,
        None => table_columns(&tx, &table)?.unwrap_or_default(),
    };
    // Each input column's declared type ("" for none).
    let declared: Vec<String> = names
        .iter()
        .map(|n| {
            decls
                .iter()
                .find(|c| &c.0 == n)
                .map(|c| c.3.clone())
                .unwrap_or_default()
        })
        .collect();
    let numeric_target: Vec<bool> = declared.iter().map(|d| numeric_affinity(d)).collect();
    let conversions: Vec<Conversion> = schema
        .fields()
        .iter()
        .zip(&declared)
        .map(|(f, d)| Conversion::new(f, d))
        .collect();
    let stmt_sql = statement(&table, &names, opts)?;
    let count_sql = format!("SELECT count(*) FROM {}", table.quoted());
    let before: i64 = if opts.mode == WriteMode::Upsert {
        tx.query_row(&count_sql, [], |r| r.get(0))
            .map_err(map_err)?
    } else {
        0
    };
    let mut total = 0u64;
    let mut changed = 0u64;
    let mut failed = opts.skip_errors.then(|| FailedRows::empty(&schema));
    let mut scratch = String::with_capacity(64);
    // `on_error="skip"` in keyed modes: a row with a NULL key is set aside (a NULL
    // matches no row, and a NULL `INTEGER PRIMARY KEY` would take a new rowid that a
    // later input row could overwrite). Without skip, `write::refuse_null_keys` raised.
    let null_key_cols: Vec<usize> = if opts.mode.is_keyed() && failed.is_some() {
        opts.key
            .iter()
            .filter_map(|k| names.iter().position(|n| n == k))
            .collect()
    } else {
        Vec::new()
    };
    {
        let mut stmt = tx.prepare(&stmt_sql.sql).map_err(|e| {
                        let e = map_err(e);
                        if opts.mode == WriteMode::Upsert && e.message.contains("ON CONFLICT clause does not match") {
                            Error::config(format!(
                                "upsert into {} needs a PRIMARY KEY or UNIQUE constraint on exactly ({}): SQLite's ON CONFLICT can only match one ({})",
                                table.quoted(), opts.key.join(", "), e.message
                            ))
                        } else {
                            e
                        }
                    })?;
        while let Some(batch) = next_batch(reader.as_mut())? {
            let arrays = normalize(&batch, &names, &conversions)
                .map_err(|e| crate::write::at_input_row(e, total))?;
            let cols = arrays
                .iter()
                .zip(&names)
                .zip(&numeric_target)
                .map(|((a, n), numeric)| Col::of(a, n, *numeric))
                .collect::<Result<Vec<_>>>()
                .map_err(|e| crate::write::at_input_row(e, total))?;
            for row in 0..batch.num_rows() {
                if let (Some(f), Some(&ki)) = (
                    failed.as_mut(),
                    null_key_cols
                        .iter()
                        .find(|&&ki| arrow_array::Array::is_null(batch.column(ki), row)),
                ) {
                    let cols = batch.columns().iter().map(|c| c.slice(row, 1)).collect();
                    f.push(
                        cols,
                        vec![format!(
                            "key column \"{}\" is null: a NULL key matches no row",
                            names[ki]
                        )],
                    )?;
                    continue;
                }
                for (k, c) in cols.iter().enumerate() {
                    c.bind(&mut stmt, stmt_sql.slot[k], row, &mut scratch)
                        .map_err(map_err)?;
                }
                match stmt.raw_execute() {
                    Ok(n) => changed += n as u64,
                    Err(e) => {
                        let e =
                            map_err(e).with_detail("row_index", (total + row as u64).to_string());
                        match failed.as_mut() {
                            // The failed statement alone is undone (SQLite's
                            // statement-level ABORT): the write goes on.
                            Some(f) if is_row_violation(&e) => {
                                let cols =
                                    batch.columns().iter().map(|c| c.slice(row, 1)).collect();
                                f.push(cols, vec![e.message])?;
                            }
                            _ => return Err(e),
                        }
                    }
                }
            }
            total += batch.num_rows() as u64;
        }
    }
    let nfailed = failed.as_ref().map(|f| f.num_rows()).unwrap_or(0);
    let ok = total - nfailed;
    let res = match opts.mode {
        WriteMode::Upsert => {
            let after: i64 = tx
                .query_row(&count_sql, [], |r| r.get(0))
                .map_err(map_err)?;
            let inserted = (after - before).max(0) as u64;
            (inserted, ok.saturating_sub(inserted))
        }
        WriteMode::Update => (0, changed),
        _ => (ok, 0),
    };
    tx.commit().map_err(map_err)?;
    Ok(WriteResult {
        rows_written: res.0,
        rows_updated: res.1,
        rows_failed: nfailed,
        failed,
        ..Default::default()
    })
}

/// The per-row statement and, per input column, its 1-based parameter slot.
struct RowStatement {
    sql: String,
    slot: Vec<usize>,
}

/// INSERT (append/replace/create), INSERT ... ON CONFLICT DO UPDATE (upsert; a later
/// input row with the same key overwrites an earlier one: last row wins), or
/// UPDATE ... WHERE key (update).
fn statement(table: &TableRef, names: &[String], opts: &WriteOptions) -> Result<RowStatement> {
    let cols: Vec<String> = names.iter().map(|n| quote_ident(n)).collect();
    for k in &opts.key {
        if opts.mode.is_keyed() && !names.contains(k) {
            return Err(Error::config(format!(
                "key column {k:?} is not in the input (after column_map)"
            ))
            .with_detail("column", k.clone()));
        }
    }
    let non_key: Vec<usize> = (0..names.len())
        .filter(|i| !opts.key.contains(&names[*i]))
        .collect();
    let marks = vec!["?"; cols.len()].join(", ");
    let insert = format!(
        "INSERT INTO {} ({}) VALUES ({marks})",
        table.quoted(),
        cols.join(", ")
    );
    Ok(match opts.mode {
        WriteMode::Upsert => {
            let keys: Vec<String> = opts.key.iter().map(|k| quote_ident(k)).collect();
            let action = if non_key.is_empty() {
                "DO NOTHING".to_string()
            } else {
                let set: Vec<String> = non_key
                    .iter()
                    .map(|i| format!("{c} = excluded.{c}", c = cols[*i]))
                    .collect();
                format!("DO UPDATE SET {}", set.join(", "))
            };
            RowStatement {
                sql: format!("{insert} ON CONFLICT ({}) {action}", keys.join(", ")),
                slot: (1..=names.len()).collect(),
            }
        }
        WriteMode::Update => {
            if non_key.is_empty() {
                return Err(Error::config(
                    "mode=\"update\" needs at least one input column besides the key",
                ));
            }
            let mut slot = vec![0; names.len()];
            let mut set = Vec::new();
            for (n, i) in non_key.iter().enumerate() {
                slot[*i] = n + 1;
                set.push(format!("{} = ?", cols[*i]));
            }
            let mut conds = Vec::new();
            for (n, k) in opts.key.iter().enumerate() {
                let i = names.iter().position(|x| x == k).unwrap_or_default();
                slot[i] = non_key.len() + n + 1;
                conds.push(format!("{} = ?", cols[i]));
            }
            RowStatement {
                sql: format!(
                    "UPDATE {} SET {} WHERE {}",
                    table.quoted(),
                    set.join(", "),
                    conds.join(" AND ")
                ),
                slot,
            }
        }
        _ => RowStatement {
            sql: insert,
            slot: (1..=names.len()).collect(),
        },
    })
}

fn normalize(
    batch: &RecordBatch,
    names: &[String],
    conversions: &[Conversion],
) -> Result<Vec<ArrayRef>> {
    batch
        .columns()
        .iter()
        .zip(names)
        .zip(conversions)
        .map(|((a, n), c)| c.apply(a, n))
        .collect()
}
