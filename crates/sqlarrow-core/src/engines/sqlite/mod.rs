//! SQLite (embedded): rows read with borrowed `sqlite3_column_*` values straight into
//! Arrow buffers on a blocking thread, typed by each column's declared type.

pub mod introspect;
mod scan;
pub mod tx;
pub mod write;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::types::{
    Date32Type, Decimal128Type, Float64Type, Int64Type, Time64MicrosecondType,
    TimestampMicrosecondType,
};
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use rusqlite::types::ValueRef;
use rusqlite::{ffi, OpenFlags};

use crate::builders::{BoolBuf, PrimBuf, VarBuf};
use crate::cancel::CancelSlot;
use crate::error::{Error, ErrorKind, Result};
use crate::params::Lexicon;
use crate::pool::{Manager, Pool, PoolConfig};
use crate::stream::Sink;
use crate::types::{json_field, timestamp_us};
use crate::value::{civil, Params, Value};

pub const LEXICON: Lexicon = Lexicon::Sqlite;

#[derive(Debug, Clone)]
pub struct SqliteConfig {
    pub path: String,
    pub read_only: bool,
    /// PRAGMAs run on every connection as it opens.
    pub settings: crate::settings::Settings,
    pub pool: PoolConfig,
}

pub struct SqliteManager {
    path: PathBuf,
    memory: bool,
    read_only: bool,
    pragmas: Vec<crate::settings::SqlitePragma>,
}

/// Map a rusqlite error to a sqlarrow error.
/// The bundled SQLite's `SQLITE_MAX_VARIABLE_NUMBER` (its default since 3.32).
const SQLITE_MAX_VARIABLES: usize = 32_766;

/// SQLite's "too many SQL variables" (more markers than a statement may have) as a
/// `ParameterError` that says what to do instead.
fn too_many_variables(text: &str) -> Option<Error> {
    text.starts_with("too many SQL variables").then(|| {
        Error::parameter(format!(
            "{text}: SQLite takes at most {SQLITE_MAX_VARIABLES} parameters per statement; \
             pass a long list as one parameter instead: `id IN (SELECT value FROM \
             json_each(:ids))` (a list binds as JSON there)"
        ))
    })
}

pub fn map_err(e: rusqlite::Error) -> Error {
    use rusqlite::Error as E;
    match &e {
        E::SqliteFailure(f, msg) => {
            let text = msg.clone().unwrap_or_else(|| f.to_string());
            if let Some(e) = too_many_variables(&text) {
                return e;
            }
            let kind = match f.code {
                rusqlite::ErrorCode::ConstraintViolation => match f.extended_code {
                    ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                        ErrorKind::UniqueViolation
                    }
                    ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
                    ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
                    ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
                    _ => ErrorKind::Constraint,
                },
                rusqlite::ErrorCode::OperationInterrupted => ErrorKind::Cancelled,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                    return Error::new(ErrorKind::Query, text).transient(true)
                }
                rusqlite::ErrorCode::ReadOnly => ErrorKind::ReadOnly,
                rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::NotADatabase => {
                    ErrorKind::Connection
                }
                _ if text.contains("syntax error") || text.contains("incomplete input") => {
                    ErrorKind::Syntax
                }
                // Arithmetic on the values (sum(), abs(), +): a data error, as
                // PostgreSQL's and MySQL's out-of-range errors are.
                _ if text == "integer overflow" => ErrorKind::Data,
                _ if text.starts_with("no such table")
                    || text.starts_with("no such column")
                    || text.starts_with("no such function")
                    || text.starts_with("unknown database") =>
                {
                    ErrorKind::UndefinedObject
                }
                _ => ErrorKind::Query,
            };
            Error::new(kind, text).transient(false)
        }
        E::InvalidParameterCount(got, want) => Error::parameter(format!(
            "the statement has {want} parameter marker(s) but {got} value(s) were given"
        )),
        E::InvalidParameterName(n) => Error::parameter(format!("unknown parameter name {n}")),
        E::MultipleStatement => Error::new(ErrorKind::Query, crate::params::SEVERAL_STATEMENTS),
        E::SqlInputError { msg, .. } => {
            if let Some(e) = too_many_variables(msg) {
                return e;
            }
            let kind = if msg.starts_with("no such") || msg.starts_with("unknown database") {
                ErrorKind::UndefinedObject
            } else {
                ErrorKind::Syntax
            };
            Error::new(kind, msg.clone())
        }
        _ => Error::new(ErrorKind::Query, e.to_string()),
    }
}

/// How long a statement on a pooled connection waits for another connection's lock
/// before SQLite reports "database is locked", in milliseconds.
pub(crate) const BUSY_MS: u64 = 5_000;

/// Make `conn` wait up to `MS` milliseconds for other connections' locks, in steps of at
/// most 10 ms, and stop waiting as soon as the connection is interrupted.
///
/// SQLite's own busy timeout sleeps through `sqlite3_interrupt`: a write waiting for a
/// lock went on waiting for the whole 5 s whatever its timeout or a Ctrl-C said, and only
/// then failed. This handler asks `sqlite3_is_interrupted` before each step, so the
/// interruption that timeouts and cancellation send ends the wait within 10 ms.
pub(crate) fn wait_for_locks<const MS: u64>(conn: &rusqlite::Connection) -> Result<()> {
    /// Milliseconds slept before the `count`-th call: steps of 1, 2, 5, then 10 ms.
    fn slept_before(count: u64) -> u64 {
        match count {
            0 => 0,
            1 => 1,
            2 => 3,
            3 => 8,
            n => 18 + 10 * (n - 4),
        }
    }
    unsafe extern "C" fn on_busy<const MS: u64>(
        db: *mut std::os::raw::c_void,
        count: std::os::raw::c_int,
    ) -> std::os::raw::c_int {
        // SAFETY: `db` is the connection this handler was installed on; SQLite calls the
        // handler only from a statement running on that (open) connection.
        if unsafe { ffi::sqlite3_is_interrupted(db.cast()) } != 0 {
            return 0;
        }
        let count = count.max(0) as u64;
        let done = slept_before(count);
        if done >= MS {
            return 0;
        }
        let step = (slept_before(count + 1) - done).min(MS - done);
        std::thread::sleep(Duration::from_millis(step));
        1
    }
    // SAFETY: the handle is live for as long as `conn`, and so is the handler, which
    // SQLite drops with the connection.
    let rc = unsafe {
        let db = conn.handle();
        ffi::sqlite3_busy_handler(db, Some(on_busy::<MS>), db.cast())
    };
    if rc != ffi::SQLITE_OK {
        return Err(Error::connection(format!(
            "SQLite refused the busy handler (code {rc})"
        )));
    }
    Ok(())
}

/// For a relative database path: where it was looked for, and, when the same path
/// taken from the root names an existing directory (`sqlite:///tmp/x.db` meant as
/// `/tmp/x.db`), that a URL takes four slashes for an absolute path.
fn relative_path_hint(path: &std::path::Path) -> String {
    if !path.is_relative() || path.as_os_str().is_empty() {
        return String::new();
    }
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| "?".into());
    let mut hint = format!(" (a relative path, looked for under the working directory {cwd}");
    let absolute = std::path::Path::new("/").join(path);
    if !path
        .parent()
        .is_some_and(|p| p.as_os_str().is_empty() || p.is_dir())
        && absolute.parent().is_some_and(|p| p.is_dir())
    {
        hint.push_str(&format!(
            "; in a URL, an absolute path takes four slashes: sqlite:///{}",
            absolute.display()
        ));
    }
    hint.push(')');
    hint
}

/// Run a connector's PRAGMAs on a new connection. SQLite ignores a PRAGMA it does not
/// know, and a journal or locking mode it cannot use (WAL for `:memory:`), without an
/// error: both are refused here by name.
fn apply_pragmas(
    conn: &rusqlite::Connection,
    pragmas: &[crate::settings::SqlitePragma],
) -> Result<()> {
    if pragmas.is_empty() {
        return Ok(());
    }
    let refused = |e: Error| e.context("the connector's settings were refused");
    let known: std::collections::HashSet<String> = conn
        .prepare("SELECT name FROM pragma_pragma_list")
        .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect())
        .map_err(|e| refused(map_err(e)))?;
    for p in pragmas {
        if !known.contains(&p.pragma) {
            return Err(Error::config(format!(
                "the connector's settings were refused: SQLite has no PRAGMA {:?}",
                p.pragma
            ))
            .with_detail("setting", p.pragma.clone()));
        }
        // The PRAGMA without its value reads it back.
        let read = p.statement.split(" = ").next().unwrap_or(&p.statement);
        if !matches!(p.pragma.as_str(), "journal_mode" | "locking_mode") {
            // SQLite takes a word it does not know for these as their default.
            let want = pragma_readback(&p.pragma, &p.value).map_err(|why| {
                Error::config(format!(
                    "the connector's settings were refused: {} ({why})",
                    p.statement
                ))
                .with_detail("setting", p.pragma.clone())
            })?;
            first_text(conn, &p.statement).map_err(|e| refused(map_err(e)))?;
            if let Some(want) = want {
                let now = first_text(conn, read).map_err(|e| refused(map_err(e)))?;
                if now.as_deref() != Some(want.as_str()) {
                    return Err(Error::config(format!(
                        "the connector's settings were refused: SQLite did not take {} \
                         (it reads back {})",
                        p.statement,
                        now.as_deref().unwrap_or("nothing")
                    ))
                    .with_detail("setting", p.pragma.clone()));
                }
            }
            continue;
        }
        // The mode a PRAGMA leaves is its answer. WAL persists in the file: when it is
        // already on, nothing is changed. Changing it needs the file to itself, so
        // connections opening at once wait for each other (up to 2 s).
        let mut attempts = 0;
        let now = loop {
            let current = first_text(conn, read).map_err(|e| refused(map_err(e)))?;
            if current
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(&p.value))
            {
                break current;
            }
            match first_text(conn, &p.statement) {
                Ok(now) => break now,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && attempts < 100 =>
                {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(refused(map_err(e))),
            }
        };
        if let Some(now) = now {
            if !now.eq_ignore_ascii_case(&p.value) {
                return Err(Error::config(format!(
                    "the connector's settings were refused: {} left {} at {now:?}: \
                     SQLite cannot use {:?} for this database",
                    p.statement, p.pragma, p.value
                ))
                .with_detail("setting", p.pragma.clone()));
            }
        }
    }
    Ok(())
}

/// What `PRAGMA name` reads back after `PRAGMA name = value`, for the PRAGMAs that take
/// a word or a boolean (SQLite sets an unknown word to the default, silently); `None`
/// for the others. An `Err` says why the value cannot be right.
fn pragma_readback(pragma: &str, value: &str) -> std::result::Result<Option<String>, String> {
    let v = value.trim().to_ascii_lowercase();
    let words: &[&str] = match pragma {
        "synchronous" => &["off", "normal", "full", "extra"],
        "temp_store" => &["default", "file", "memory"],
        "foreign_keys"
        | "recursive_triggers"
        | "reverse_unordered_selects"
        | "defer_foreign_keys"
        | "ignore_check_constraints"
        | "automatic_index"
        | "cell_size_check"
        | "trusted_schema"
        | "legacy_alter_table"
        | "fullfsync"
        | "checkpoint_fullfsync" => {
            return match v.as_str() {
                "on" | "true" | "yes" | "1" => Ok(Some("1".into())),
                "off" | "false" | "no" | "0" => Ok(Some("0".into())),
                _ => Err(format!("{pragma} takes on or off, not {value:?}")),
            };
        }
        _ => return Ok(None),
    };
    match words.iter().position(|w| *w == v) {
        Some(i) => Ok(Some(i.to_string())),
        None if v.parse::<usize>().is_ok_and(|n| n < words.len()) => Ok(Some(v)),
        None => Err(format!(
            "{pragma} takes one of {}, not {value:?}",
            words.join(", ")
        )),
    }
}

/// Run `sql` and return its first row's first column as text (`None`: no row).
fn first_text(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<Option<String>> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    Ok(match rows.next()? {
        Some(row) => Some(match row.get::<_, rusqlite::types::Value>(0)? {
            rusqlite::types::Value::Text(t) => t,
            rusqlite::types::Value::Integer(i) => i.to_string(),
            other => format!("{other:?}"),
        }),
        None => None,
    })
}

impl Manager for SqliteManager {
    type Conn = rusqlite::Connection;

    async fn connect(&self) -> Result<rusqlite::Connection> {
        let path = self.path.clone();
        let memory = self.memory;
        let read_only = self.read_only;
        let pragmas = self.pragmas.clone();
        tokio::task::spawn_blocking(move || {
            let mut flags = OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            flags |= if read_only {
                OpenFlags::SQLITE_OPEN_READ_ONLY
            } else {
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
            };
            let conn = if memory {
                rusqlite::Connection::open_in_memory_with_flags(flags)
            } else {
                rusqlite::Connection::open_with_flags(&path, flags)
            }
            .map_err(|e| {
                let mut err = map_err(e);
                // rusqlite's message already names the path; say it once, with where a
                // relative path was looked for.
                let shown = path.display().to_string();
                if let Some(rest) = err.message.strip_suffix(&format!(": {shown}")) {
                    err.message = rest.to_string();
                }
                err.context(format!(
                    "cannot open SQLite database {shown}{}",
                    relative_path_hint(&path)
                ))
            })?;
            wait_for_locks::<BUSY_MS>(&conn)?;
            apply_pragmas(&conn, &pragmas)?;
            Ok(conn)
        })
        .await
        .map_err(|e| Error::connection(format!("SQLite open task failed: {e}")))?
    }

    fn is_valid(&self, _conn: &rusqlite::Connection) -> bool {
        true
    }

    async fn ping(&self, _conn: &mut rusqlite::Connection) -> Result<()> {
        Ok(())
    }
}

/// A SQLite connector (a pool of connections to one database file).
pub struct SqliteConnector {
    pool: Pool<SqliteManager>,
    scan_workers: usize,
}

fn bind(stmt: &mut rusqlite::Statement<'_>, params: &Params) -> Result<()> {
    let want = stmt.parameter_count();
    if want != params.len() {
        return Err(Error::parameter(format!(
            "the statement has {want} parameter marker(s) but {} value(s) were given",
            params.len()
        )));
    }
    for (i, v) in params.0.iter().enumerate() {
        let idx = i + 1;
        let r = match v {
            Value::Null => stmt.raw_bind_parameter(idx, rusqlite::types::Null),
            Value::Bool(b) => stmt.raw_bind_parameter(idx, *b as i64),
            Value::Int(x) => stmt.raw_bind_parameter(idx, *x),
            Value::BigInt(x) => stmt.raw_bind_parameter(idx, x.to_string()),
            Value::Float(x) if x.is_nan() => {
                return Err(Error::parameter(format!(
                    "parameter {idx}: SQLite cannot store NaN (it would bind NULL instead); \
                     pass None if a missing value is meant"
                )))
            }
            Value::Float(x) => stmt.raw_bind_parameter(idx, *x),
            Value::Decimal(s) | Value::Str(s) | Value::Json(s) => {
                stmt.raw_bind_parameter(idx, s.as_str())
            }
            Value::Duration(_) => {
                return Err(Error::parameter(format!(
                    "parameter {idx}: SQLite has no interval type; bind a number instead \
                     (e.g. timedelta.total_seconds())"
                )))
            }
            Value::List(_) => {
                let json = v.to_json().map_err(|e| {
                    Error::parameter(format!("parameter {idx}: a list is sent as JSON: {e}"))
                })?;
                stmt.raw_bind_parameter(idx, json)
            }
            Value::Bytes(b) => stmt.raw_bind_parameter(idx, b.as_slice()),
            Value::Date(d) => stmt.raw_bind_parameter(idx, civil::format_date(*d as i64)),
            Value::Time(t) => stmt.raw_bind_parameter(idx, fmt_time(*t)),
            Value::Timestamp(t) | Value::TimestampTz(t) => stmt.raw_bind_parameter(idx, fmt_ts(*t)),
            Value::Uuid(u) => stmt.raw_bind_parameter(idx, civil::format_uuid(u)),
        };
        r.map_err(map_err)?;
    }
    Ok(())
}

/// Whether `t`, which did not parse, parses once the digits of its fraction past the
/// sixth are dropped: a time finer than a microsecond (see `sub_microsecond`).
fn finer_than_us(t: &[u8], parses: impl Fn(&[u8]) -> bool) -> bool {
    let Some(dot) = t.iter().position(|&c| c == b'.') else {
        return false;
    };
    let digits = t[dot + 1..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits <= 6 {
        return false;
    }
    let cut = [&t[..dot + 7], &t[dot + 1 + digits..]].concat();
    parses(&cut)
}

fn fmt_time(us: i64) -> String {
    let (s, f) = (us.div_euclid(1_000_000), us.rem_euclid(1_000_000));
    let base = format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
    if f == 0 {
        base
    } else {
        format!("{base}.{f:06}")
    }
}

fn fmt_ts(us: i64) -> String {
    let days = us.div_euclid(86_400_000_000);
    format!(
        "{} {}",
        civil::format_date(days),
        fmt_time(us.rem_euclid(86_400_000_000))
    )
}

/// How a result column is typed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Int,
    Bool,
    Real,
    Text,
    Json,
    Blob,
    Date,
    Time,
    Timestamp,
    /// `TIMESTAMPTZ` / `TIMESTAMP WITH TIME ZONE`: text with an offset, returned in UTC.
    TimestampTz,
    Decimal(u8, i8),
    /// No declared type (an expression): typed from the first non-NULL value.
    Undeclared,
    Null,
}

fn kind_from_decl(decl: Option<&str>) -> Kind {
    let Some(d) = decl else {
        return Kind::Undeclared;
    };
    let u = d.to_ascii_uppercase();
    let base = u.split('(').next().unwrap_or("").trim();
    if base.contains("BOOL") {
        Kind::Bool
    } else if base == "DATE" {
        Kind::Date
    } else if base == "TIMESTAMPTZ" || base.contains("WITH TIME ZONE") {
        Kind::TimestampTz
    } else if base.contains("DATETIME") || base.contains("TIMESTAMP") {
        Kind::Timestamp
    } else if base == "TIME" {
        Kind::Time
    } else if base.contains("INT") {
        Kind::Int
    } else if (base.contains("DECIMAL") || base.contains("NUMERIC"))
        && crate::schema::mapping::decimal_precision_scale(&u).is_some()
    {
        // Includes `DECIMAL TEXT(p,s)`, which sqlarrow creates: TEXT affinity keeps
        // every digit (plain DECIMAL has NUMERIC affinity and rounds to a double).
        let (p, s) = crate::schema::mapping::decimal_precision_scale(&u).unwrap_or((38, 0));
        Kind::Decimal(p, s)
    } else if base == "JSON" || base == "JSONB" {
        Kind::Json
    } else if base.contains("CHAR")
        || base.contains("CLOB")
        || base.contains("TEXT")
        || base == "UUID"
    {
        Kind::Text
    } else if base.contains("BLOB") || base.contains("BINARY") || base == "BYTEA" {
        Kind::Blob
    } else if base.contains("REAL") || base.contains("FLOA") || base.contains("DOUB") {
        Kind::Real
    } else if base.contains("DECIMAL") || base.contains("NUMERIC") {
        match crate::schema::mapping::decimal_precision_scale(&u) {
            Some((p, s)) => Kind::Decimal(p, s),
            None => Kind::Real,
        }
    } else if base.is_empty() || base == "ANY" {
        // `ANY` (a STRICT table's column of any type): typed from its values too.
        Kind::Undeclared
    } else {
        // SQLite's rule: anything else has NUMERIC affinity.
        Kind::Real
    }
}

fn field_for(name: &str, kind: Kind) -> Field {
    let dt = match kind {
        Kind::Int => DataType::Int64,
        Kind::Bool => DataType::Boolean,
        Kind::Real => DataType::Float64,
        Kind::Text => DataType::Utf8,
        Kind::Json => return json_field(name, true),
        Kind::Blob => DataType::Binary,
        Kind::Date => DataType::Date32,
        Kind::Time => DataType::Time64(TimeUnit::Microsecond),
        Kind::Timestamp => timestamp_us(false),
        Kind::TimestampTz => timestamp_us(true),
        Kind::Decimal(p, s) => DataType::Decimal128(p, s),
        Kind::Undeclared | Kind::Null => DataType::Null,
    };
    Field::new(name, dt, true)
}

enum Col {
    I32(PrimBuf<i32>),
    I64(PrimBuf<i64>),
    F64(PrimBuf<f64>),
    Bool(BoolBuf),
    Var(VarBuf),
    D128(PrimBuf<i128>),
    Null(usize),
}

struct Column {
    name: String,
    /// The declared type as written (`NUMERIC`, `varchar(20)`), for messages; `None`
    /// for an expression, typed from its first values.
    decl: Option<String>,
    kind: Kind,
    dt: DataType,
    col: Col,
}

fn storage_name(v: &ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "INTEGER",
        ValueRef::Real(_) => "REAL",
        ValueRef::Text(_) => "TEXT",
        ValueRef::Blob(_) => "BLOB",
    }
}

/// Microseconds in a day.
const US_PER_DAY: i64 = 86_400_000_000;

impl Column {
    fn new(name: String, decl: Option<String>, kind: Kind, cap: usize) -> Self {
        let col = match kind {
            Kind::Int | Kind::Time | Kind::Timestamp | Kind::TimestampTz => {
                Col::I64(PrimBuf::with_capacity(cap))
            }
            Kind::Date => Col::I32(PrimBuf::with_capacity(cap)),
            Kind::Real => Col::F64(PrimBuf::with_capacity(cap)),
            Kind::Bool => Col::Bool(BoolBuf::with_capacity(cap)),
            Kind::Text | Kind::Json | Kind::Blob => Col::Var(VarBuf::with_capacity(cap, cap * 16)),
            Kind::Decimal(..) => Col::D128(PrimBuf::with_capacity(cap)),
            Kind::Undeclared | Kind::Null => Col::Null(0),
        };
        let dt = field_for(&name, kind).data_type().clone();
        Column {
            name,
            decl,
            kind,
            dt,
            col,
        }
    }

    fn mismatch(&self, v: &ValueRef<'_>, row: usize) -> Error {
        let storage = storage_name(v);
        let article = if storage.starts_with('I') { "an" } else { "a" };
        let message = match (self.kind, v) {
            // A number the declared DECIMAL(p,s) cannot hold without losing digits.
            (Kind::Decimal(p, s), ValueRef::Integer(_) | ValueRef::Real(_) | ValueRef::Text(_)) => {
                let shown = match v {
                    ValueRef::Integer(i) => i.to_string(),
                    ValueRef::Real(f) => f.to_string(),
                    ValueRef::Text(t) => String::from_utf8_lossy(t).chars().take(40).collect(),
                    _ => String::new(),
                };
                format!(
                    "column \"{}\" (declared DECIMAL({p},{s})) holds {article} {storage} value at row \
                     {row}, {shown}, that decimal({p}, {s}) cannot hold without losing digits; \
                     CAST it in SQL (e.g. to TEXT, or round(col, {s}))",
                    self.name
                )
            }
            _ => format!(
                "column \"{}\" ({}) holds {article} {storage} value at row {row} that cannot \
                 be converted; CAST it in SQL",
                self.name,
                self.typed()
            ),
        };
        Error::data(message).with_detail("column", self.name.clone())
    }

    /// How the column got its type, for messages: its declared type as written, or
    /// the kind its first values gave it.
    fn typed(&self) -> String {
        match &self.decl {
            Some(d) => format!("declared {d}"),
            None => format!("typed {:?} from its first values", self.kind),
        }
    }

    /// An integer of a column read as float64 that no float64 holds exactly.
    fn inexact_integer(&self, i: i64, row: usize) -> Error {
        Error::data(format!(
            "column \"{}\" ({}) holds the integer {i} at row {row}, which a float64 cannot \
             hold exactly (it would read as {}); CAST it in SQL (to INTEGER, or TEXT)",
            self.name,
            self.typed(),
            i as f64
        ))
        .with_detail("column", self.name.clone())
    }

    /// A value of a DATE column that is a moment with a time of day.
    fn time_of_day(&self, v: &ValueRef<'_>, row: usize) -> Error {
        let shown = match v {
            ValueRef::Integer(i) => format!("{i} (Unix seconds)"),
            ValueRef::Real(f) => format!("{f} (a Julian day number)"),
            ValueRef::Text(t) => String::from_utf8_lossy(t).chars().take(40).collect(),
            _ => String::new(),
        };
        Error::data(format!(
            "column \"{}\" (declared DATE) holds a time of day at row {row}, {shown}, which a \
             date would drop; CAST it in SQL (date(col) for the date, datetime(col) for both)",
            self.name
        ))
        .with_detail("column", self.name.clone())
    }

    fn sub_microsecond(&self, t: &[u8], row: usize) -> Error {
        let shown: String = String::from_utf8_lossy(t).chars().take(40).collect();
        Error::data(format!(
            "column \"{}\" holds a time finer than a microsecond at row {row}, {shown}: Arrow's \
             times here are in microseconds, and sqlarrow does not cut it without a word; cut \
             it in SQL (e.g. substr(col, 1, 26) for a timestamp, substr(col, 1, 15) for a time)",
            self.name
        ))
        .with_detail("column", self.name.clone())
    }

    #[inline]
    fn push(&mut self, v: ValueRef<'_>, row: usize) -> Result<()> {
        if let ValueRef::Null = v {
            match &mut self.col {
                Col::I32(b) => b.push_null(),
                Col::I64(b) => b.push_null(),
                Col::F64(b) => b.push_null(),
                Col::Bool(b) => b.push_null(),
                Col::Var(b) => b.push_null(),
                Col::D128(b) => b.push_null(),
                Col::Null(n) => *n += 1,
            }
            return Ok(());
        }
        let kind = self.kind;
        let bad = |s: &Self| s.mismatch(&v, row);
        match (&mut self.col, kind, v) {
            (Col::I64(b), Kind::Int, ValueRef::Integer(i)) => b.push(i),
            (Col::I64(b), Kind::Int, ValueRef::Real(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
                b.push(f as i64)
            }
            (Col::I64(b), Kind::Int, ValueRef::Text(t)) => {
                let i = std::str::from_utf8(t)
                    .ok()
                    .and_then(|s| s.trim().parse::<i64>().ok());
                match i {
                    Some(i) => b.push(i),
                    None => return Err(bad(self)),
                }
            }
            (Col::I32(b), Kind::Date, ValueRef::Text(t)) => {
                if let Some(d) = civil::parse_date_bytes(t) {
                    b.push(d)
                } else {
                    // A timestamp in a DATE column reads as its date only at midnight:
                    // anything else would drop the time of day without a word.
                    match civil::parse_timestamp_bytes(t) {
                        Some((us, _)) if us.rem_euclid(US_PER_DAY) == 0 => {
                            b.push(us.div_euclid(US_PER_DAY) as i32)
                        }
                        Some(_) => return Err(self.time_of_day(&v, row)),
                        None => return Err(bad(self)),
                    }
                }
            }
            (Col::I32(b), Kind::Date, ValueRef::Integer(secs)) => {
                if secs.rem_euclid(86_400) != 0 {
                    return Err(self.time_of_day(&v, row));
                }
                match i32::try_from(secs.div_euclid(86_400)) {
                    Ok(d) => b.push(d),
                    Err(_) => return Err(bad(self)),
                }
            }
            (Col::I32(b), Kind::Date, ValueRef::Real(jd)) => {
                // Julian day numbers: midnight is at .5.
                let days = jd - 2_440_587.5;
                if !days.is_finite() || days.abs() > i32::MAX as f64 {
                    return Err(bad(self));
                }
                if days.fract() != 0.0 {
                    return Err(self.time_of_day(&v, row));
                }
                b.push(days as i32)
            }
            (Col::I64(b), Kind::Timestamp | Kind::TimestampTz, ValueRef::Text(t)) => {
                match civil::parse_timestamp_bytes(t) {
                    Some((us, _)) => b.push(us),
                    None if finer_than_us(t, |c| civil::parse_timestamp_bytes(c).is_some()) => {
                        return Err(self.sub_microsecond(t, row))
                    }
                    None => return Err(bad(self)),
                }
            }
            (Col::I64(b), Kind::Timestamp | Kind::TimestampTz, ValueRef::Integer(secs)) => {
                match secs.checked_mul(1_000_000) {
                    Some(us) => b.push(us),
                    None => return Err(bad(self)),
                }
            }
            (Col::I64(b), Kind::Timestamp | Kind::TimestampTz, ValueRef::Real(jd)) => {
                b.push(((jd - 2_440_587.5) * 86_400_000_000.0).round() as i64)
            }
            (Col::I64(b), Kind::Time, ValueRef::Text(t)) => {
                let time = |c: &[u8]| std::str::from_utf8(c).ok().and_then(civil::parse_time);
                match time(t) {
                    Some(us) => b.push(us),
                    None if finer_than_us(t, |c| time(c).is_some()) => {
                        return Err(self.sub_microsecond(t, row))
                    }
                    None => return Err(bad(self)),
                }
            }
            (Col::F64(b), _, ValueRef::Real(f)) => b.push(f),
            (Col::F64(b), _, ValueRef::Integer(i)) => {
                // Past 2^53 not every integer is a double: refused, not rounded (a
                // NUMERIC column keeps such integers exactly).
                let f = i as f64;
                if f as i128 != i128::from(i) {
                    return Err(self.inexact_integer(i, row));
                }
                b.push(f)
            }
            (Col::F64(b), _, ValueRef::Text(t)) => {
                match std::str::from_utf8(t)
                    .ok()
                    .and_then(|s| s.trim().parse::<f64>().ok())
                {
                    Some(f) => b.push(f),
                    None => return Err(bad(self)),
                }
            }
            // Only 0 and 1 (2 read as true would be lost): anything else is the
            // mismatch error, which says to CAST it.
            (Col::Bool(b), _, ValueRef::Integer(i @ (0 | 1))) => b.push(i == 1),
            (Col::Bool(b), _, ValueRef::Real(f)) if f == 0.0 || f == 1.0 => b.push(f == 1.0),
            (Col::Bool(b), _, ValueRef::Text(t)) => match t.to_ascii_lowercase().as_slice() {
                b"true" | b"t" | b"1" | b"yes" => b.push(true),
                b"false" | b"f" | b"0" | b"no" => b.push(false),
                _ => return Err(bad(self)),
            },
            (Col::Var(b), Kind::Blob, ValueRef::Blob(x) | ValueRef::Text(x)) => b.push(x)?,
            (Col::Var(b), _, ValueRef::Text(x)) => b.push(x)?,
            (Col::Var(b), _, ValueRef::Integer(i)) => b.push(i.to_string().as_bytes())?,
            (Col::Var(b), _, ValueRef::Real(f)) => b.push(format!("{f:?}").as_bytes())?,
            (Col::Var(b), _, ValueRef::Blob(x)) if std::str::from_utf8(x).is_ok() => b.push(x)?,
            (Col::D128(b), Kind::Decimal(p, s), v) => match decimal_from(v, p, s) {
                Some(x) => b.push(x),
                None => return Err(bad(self)),
            },
            _ => return Err(bad(self)),
        }
        Ok(())
    }

    fn finish(&mut self, rows: usize) -> Result<ArrayRef> {
        let dt = &self.dt;
        match &mut self.col {
            Col::I32(b) => b.finish::<Date32Type>(dt),
            Col::I64(b) => match self.kind {
                Kind::Time => b.finish::<Time64MicrosecondType>(dt),
                Kind::Timestamp | Kind::TimestampTz => b.finish::<TimestampMicrosecondType>(dt),
                _ => b.finish::<Int64Type>(dt),
            },
            Col::F64(b) => b.finish::<Float64Type>(dt),
            Col::Bool(b) => b.finish(),
            Col::Var(b) if self.kind == Kind::Blob => b.finish_binary(),
            Col::Var(b) => b
                .finish_utf8(&DataType::Utf8)
                .map_err(|e| e.context(format!("column \"{}\"", self.name))),
            Col::D128(b) => b.finish::<Decimal128Type>(dt),
            Col::Null(n) => {
                *n = 0;
                Ok(Arc::new(arrow_array::NullArray::new(rows)))
            }
        }
    }
}

fn decimal_from(v: ValueRef<'_>, p: u8, s: i8) -> Option<i128> {
    let scale = 10i128.pow(s as u32);
    let x = match v {
        ValueRef::Integer(i) => (i as i128).checked_mul(scale)?,
        // Rounded to the scale only when what is dropped is the float's own noise
        // (0.1 + 0.2 stored as 0.30000000000000004 reads as 0.30); a value with more
        // digits than declared (1.234, or 1.005, in a DECIMAL(10,2)) is refused, not
        // rounded.
        ValueRef::Real(f) if f.is_finite() => {
            let scaled = f * scale as f64;
            let y = scaled.round();
            let noise = 1e-7 + scaled.abs() * 4.0 * f64::EPSILON;
            if y.abs() >= 1e38 || (scaled - y).abs() > noise {
                return None;
            }
            y as i128
        }
        ValueRef::Text(t) => parse_decimal(std::str::from_utf8(t).ok()?, s)?,
        _ => return None,
    };
    (x.abs() < 10i128.pow(p as u32)).then_some(x)
}

/// Parse decimal text exactly into an unscaled integer at `scale` (None if digits would be lost).
pub fn parse_decimal(s: &str, scale: i8) -> Option<i128> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > scale as usize || !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut acc: i128 = 0;
    for c in int.bytes().chain(frac.bytes()) {
        acc = acc.checked_mul(10)?.checked_add((c - b'0') as i128)?;
    }
    acc = acc.checked_mul(10i128.checked_pow((scale as usize - frac.len()) as u32)?)?;
    Some(if neg { -acc } else { acc })
}

/// Infer the kind of an undeclared column from a value.
fn kind_from_value(v: &ValueRef<'_>) -> Kind {
    match v {
        ValueRef::Null => Kind::Null,
        ValueRef::Integer(_) => Kind::Int,
        ValueRef::Real(_) => Kind::Real,
        ValueRef::Text(_) => Kind::Text,
        ValueRef::Blob(_) => Kind::Blob,
    }
}

impl SqliteConnector {
    pub fn new(cfg: SqliteConfig) -> Result<Self> {
        let memory = cfg.path == ":memory:" || cfg.path.is_empty();
        let mut pool = cfg.pool;
        if memory {
            // Each in-memory connection is its own database: share exactly one.
            pool.max_size = 1;
        } else if cfg.read_only && !std::path::Path::new(&cfg.path).exists() {
            return Err(Error::connection(format!(
                "SQLite database {} does not exist (read_only=True does not create it)",
                cfg.path
            ))
            .transient(false));
        }
        Ok(SqliteConnector {
            // Large plain table reads split over this many connections (see `scan`).
            scan_workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(4),
            pool: Pool::new(
                SqliteManager {
                    path: PathBuf::from(&cfg.path),
                    memory,
                    read_only: cfg.read_only,
                    pragmas: cfg.settings.sqlite_pragmas(),
                },
                pool,
            ),
        })
    }

    pub fn pool(&self) -> &Pool<SqliteManager> {
        &self.pool
    }

    /// Run `f` with a pooled connection on a blocking thread, interruptible through `cancel`.
    pub(crate) async fn with_conn<T: Send + 'static>(
        &self,
        cancel: &CancelSlot,
        f: impl FnOnce(&mut rusqlite::Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        if cancel.is_cancelled() {
            return Err(Error::cancelled("cancelled before it started"));
        }
        let mut guard = self.pool.get().await?;
        let mut conn = guard.take();
        let handle = conn.get_interrupt_handle();
        let already = cancel.register(move || {
            handle.interrupt();
            Box::pin(async {})
        });
        if let Some(f) = already {
            f.await;
        }
        let res = tokio::task::spawn_blocking(move || {
            let r = f(&mut conn);
            (conn, r)
        })
        .await;
        cancel.clear();
        match res {
            Ok((conn, r)) => {
                guard.restore(conn);
                r
            }
            Err(e) => {
                guard.mark_broken();
                Err(Error::new(
                    ErrorKind::Query,
                    format!("SQLite worker failed: {e}"),
                ))
            }
        }
    }

    /// The plan of a read that may be split into a parallel scan (see [`scan`]): an
    /// unfiltered single-table SELECT without parameters, when splitting is on.
    fn scan_candidate(&self, sql: &str, params: &Params) -> Option<crate::scan::ScanPlan> {
        if !params.is_empty() || self.scan_workers < 2 {
            return None;
        }
        let trimmed = sql.trim_end().trim_end_matches(';').trim_end();
        crate::scan::plan_unfiltered(trimmed, crate::scan::Flavor::Sqlite)
    }

    /// Run a query to completion on the calling thread, with no hand-off to the async
    /// runtime or a blocking thread: for callers already outside the runtime (the
    /// Python bindings, with the GIL released), where each hand-off costs a thread
    /// wake-up, tens of microseconds on a busy machine, against a few for a small
    /// query. `None`: this path does not apply (no idle connection right now, or a
    /// query that may be split into a parallel scan); use [`SqliteConnector::query`].
    ///
    /// Timeouts and cancellation come from SQLite's progress handler: it stops the
    /// statement once `deadline` has passed, and asks `interrupted` every 50 ms.
    pub fn query_direct(
        &self,
        sql: &str,
        params: &Params,
        batch_size: usize,
        deadline: Option<std::time::Instant>,
        interrupted: Arc<dyn Fn() -> bool + Send + Sync>,
    ) -> Option<Result<(SchemaRef, Vec<RecordBatch>)>> {
        if self.scan_candidate(sql, params).is_some() {
            return None;
        }
        let mut guard = self.pool.try_idle()?;
        let conn: &mut rusqlite::Connection = &mut guard;
        let stop = Arc::new(std::sync::atomic::AtomicU8::new(0)); // 1 timed out, 2 interrupted
        let flag = stop.clone();
        let mut last_check = std::time::Instant::now();
        conn.progress_handler(
            1000,
            Some(move || {
                let now = std::time::Instant::now();
                if deadline.is_some_and(|d| now >= d) {
                    flag.store(1, std::sync::atomic::Ordering::Relaxed);
                    return true;
                }
                if now.duration_since(last_check) >= Duration::from_millis(50) {
                    last_check = now;
                    if interrupted() {
                        flag.store(2, std::sync::atomic::Ordering::Relaxed);
                        return true;
                    }
                }
                false
            }),
        );
        let mut schema: Option<SchemaRef> = None;
        let mut batches: Vec<RecordBatch> = Vec::new();
        let res = read_rows(conn, sql, params, batch_size.max(1), &mut |m| {
            match m {
                Msg::Schema(s) => schema = Some(s),
                Msg::Batch(b) => batches.push(b),
            }
            true
        });
        conn.progress_handler(0, None::<fn() -> bool>);
        let res = match (res, stop.load(std::sync::atomic::Ordering::Relaxed)) {
            (Err(_), 1) => Err(Error::new(
                ErrorKind::Timeout,
                "the statement ran longer than its timeout and was interrupted",
            )),
            (Err(_), 2) => Err(Error::cancelled("interrupted")),
            (r, _) => r,
        };
        Some(res.and_then(|()| {
            let schema =
                schema.ok_or_else(|| Error::interface("the statement produced no schema"))?;
            Ok((schema, batches))
        }))
    }

    /// Run a query, sending batches to `sink`. The rows are read on a blocking thread;
    /// batches cross to the async side through a small channel.
    pub async fn query(
        &self,
        sql: &str,
        params: &Params,
        batch_size: usize,
        sink: &mut Sink,
        cancel: &CancelSlot,
    ) -> Result<()> {
        if sink.is_collect() {
            if let Some(plan) = self.scan_candidate(sql, params) {
                if self
                    .parallel_scan(&plan, batch_size.max(1), sink, cancel)
                    .await?
                {
                    return Ok(());
                }
            }
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Msg>>(2);
        let sql = sql.to_string();
        let params = params.clone();
        let batch_size = batch_size.max(1);
        let work = self.with_conn(cancel, move |conn| {
            let r = read_rows(conn, &sql, &params, batch_size, &mut |m| {
                tx.blocking_send(Ok(m)).is_ok()
            });
            if let Err(e) = r {
                let _ = tx.blocking_send(Err(e));
            }
            Ok(())
        });
        let (w, f) = tokio::join!(work, forward(rx, sink));
        w?;
        f
    }

    pub async fn execute(&self, sql: &str, params: &Params, cancel: &CancelSlot) -> Result<u64> {
        let sql = sql.to_string();
        let params = params.clone();
        self.with_conn(cancel, move |conn| execute_on(conn, &sql, &params))
            .await
    }

    pub async fn executemany(
        &self,
        sql: &str,
        sets: &[Params],
        cancel: &CancelSlot,
    ) -> Result<u64> {
        let sql = sql.to_string();
        let sets = sets.to_vec();
        self.with_conn(cancel, move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            let mut total = 0u64;
            {
                let mut stmt = tx.prepare(&sql).map_err(map_err)?;
                for (i, p) in sets.iter().enumerate() {
                    bind(&mut stmt, p).map_err(|e| e.context(format!("parameter set {i}")))?;
                    total += stmt
                        .raw_execute()
                        .map_err(|e| map_err(e).context(format!("parameter set {i}")))?
                        as u64;
                }
            }
            tx.commit().map_err(map_err)?;
            Ok(total)
        })
        .await
    }

    pub async fn server_version(&self) -> Result<String> {
        Ok(rusqlite::version().to_string())
    }

    /// Check the database opens and answers.
    pub async fn ping(&self) -> Result<()> {
        self.with_conn(&CancelSlot::new(), |conn| {
            conn.query_row("select 1", [], |_| Ok(())).map_err(map_err)
        })
        .await
    }
}

/// Run `sql` on `conn` (blocking); returns the rows it changed, or for a statement that
/// returns rows the rows it returned, as on PostgreSQL and MySQL (`sqlite3_changes`
/// would give 0). Without parameters a script of several statements is allowed.
pub(super) fn execute_on(conn: &rusqlite::Connection, sql: &str, params: &Params) -> Result<u64> {
    fn count_rows(stmt: &mut rusqlite::Statement<'_>) -> Result<u64> {
        let mut rows = stmt.raw_query();
        let mut n = 0u64;
        while rows.next().map_err(map_err)?.is_some() {
            n += 1;
        }
        Ok(n)
    }
    if params.is_empty() {
        if let Ok(mut stmt) = conn.prepare(sql) {
            if stmt.column_count() > 0 {
                return count_rows(&mut stmt);
            }
        }
        let before = conn.total_changes();
        conn.execute_batch(sql).map_err(map_err)?;
        return Ok(conn.total_changes().saturating_sub(before));
    }
    let mut stmt = conn.prepare(sql).map_err(map_err)?;
    bind(&mut stmt, params)?;
    if stmt.column_count() > 0 {
        return count_rows(&mut stmt);
    }
    Ok(stmt.raw_execute().map_err(map_err)? as u64)
}

/// Deliver what a blocking reader thread sends to `sink`. Owns the receiver: when
/// this ends early (the reader is gone), dropping it stops the reader thread, which
/// then returns its connection.
pub(crate) async fn forward(
    mut rx: tokio::sync::mpsc::Receiver<Result<Msg>>,
    sink: &mut Sink,
) -> Result<()> {
    while let Some(m) = rx.recv().await {
        match m? {
            Msg::Schema(s) => sink.schema(s),
            Msg::Batch(b) => {
                if !sink.batch(b).await {
                    return Err(Error::cancelled("the reader was closed"));
                }
            }
        }
    }
    Ok(())
}

pub(crate) enum Msg {
    Schema(SchemaRef),
    Batch(RecordBatch),
}

fn read_rows(
    conn: &mut rusqlite::Connection,
    sql: &str,
    params: &Params,
    batch_size: usize,
    out: &mut dyn FnMut(Msg) -> bool,
) -> Result<()> {
    use rusqlite::fallible_streaming_iterator::FallibleStreamingIterator;
    fn columns(stmt: &rusqlite::Statement<'_>) -> (Vec<String>, Vec<Option<String>>) {
        let names = (0..stmt.column_count())
            .map(|i| {
                stmt.column_name(i)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            })
            .collect();
        let decls = stmt
            .columns()
            .iter()
            .map(|c| c.decl_type().map(str::to_string))
            .collect();
        (names, decls)
    }
    let mut stmt = conn.prepare(sql).map_err(map_err)?;
    bind(&mut stmt, params)?;
    // The columns are read after the first step. SQLite checks the schema there and
    // re-prepares a statement compiled against an older one (another connection's
    // ALTER TABLE since this connection last read the schema), whose columns may then
    // differ: read before it, a `SELECT *` silently lost an added column, kept a
    // renamed column's old name, or failed with "Invalid column index".
    let mut rows = stmt.raw_query();
    // Whether `rows` holds a row not yet taken (the first one).
    let mut pending = rows.next().map_err(map_err)?.is_some();
    let (names, decls) = match rows.as_ref() {
        Some(current) => columns(current),
        None => {
            // No row: the statement is reset, and it is the current one.
            drop(rows);
            let (names, decls) = columns(&stmt);
            let fields: Vec<Field> = names
                .iter()
                .zip(&decls)
                .map(|(n, d)| match kind_from_decl(d.as_deref()) {
                    Kind::Undeclared => field_for(n, Kind::Null),
                    k => field_for(n, k),
                })
                .collect();
            out(Msg::Schema(Arc::new(Schema::new(fields))));
            return Ok(());
        }
    };
    let ncols = names.len();
    // The next row: the pending first one, then each step's.
    macro_rules! next_row {
        () => {
            if pending {
                pending = false;
                rows.get()
            } else {
                rows.next().map_err(map_err)?
            }
        };
    }
    let mut kinds: Vec<Kind> = decls.iter().map(|d| kind_from_decl(d.as_deref())).collect();
    // Undeclared columns are typed from the first batch: buffer it before announcing the schema.
    let mut first: Vec<Vec<rusqlite::types::Value>> = Vec::new();
    let mut exhausted = false;
    if kinds.contains(&Kind::Undeclared) {
        while first.len() < batch_size {
            match next_row!() {
                Some(r) => {
                    let vals: Vec<rusqlite::types::Value> = (0..ncols)
                        .map(|i| {
                            r.get_ref(i)
                                .map(|v| v.into())
                                .unwrap_or(rusqlite::types::Value::Null)
                        })
                        .collect();
                    first.push(vals);
                }
                None => {
                    exhausted = true;
                    break;
                }
            }
        }
        for (i, k) in kinds.iter_mut().enumerate() {
            if *k != Kind::Undeclared {
                continue;
            }
            let mut inferred = Kind::Null;
            for r in &first {
                let vk = kind_from_value(&ValueRef::from(&r[i]));
                inferred = match (inferred, vk) {
                    (a, Kind::Null) => a,
                    (Kind::Null, b) => b,
                    (Kind::Int, Kind::Real) | (Kind::Real, Kind::Int) => Kind::Real,
                    (a, b) if a == b => a,
                    (_, _) => Kind::Text,
                };
            }
            *k = inferred;
        }
    }
    let fields: Vec<Field> = names
        .iter()
        .zip(&kinds)
        .map(|(n, k)| field_for(n, *k))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    if !out(Msg::Schema(schema.clone())) {
        return Ok(());
    }
    let mut cols: Vec<Column> = names
        .iter()
        .zip(&kinds)
        .zip(&decls)
        .map(|((n, k), d)| Column::new(n.clone(), d.clone(), *k, batch_size))
        .collect();
    let mut n = 0usize;
    let mut row_index = 0usize;
    let mut emit = |cols: &mut Vec<Column>, n: &mut usize| -> Result<bool> {
        let arrays = cols
            .iter_mut()
            .map(|c| c.finish(*n))
            .collect::<Result<Vec<_>>>()?;
        let opts = RecordBatchOptions::new().with_row_count(Some(*n));
        let b = RecordBatch::try_new_with_options(schema.clone(), arrays, &opts)?;
        *n = 0;
        Ok(out(Msg::Batch(b)))
    };
    for r in &first {
        for (c, v) in cols.iter_mut().zip(r) {
            c.push(ValueRef::from(v), row_index)?;
        }
        n += 1;
        row_index += 1;
    }
    if n >= batch_size && !emit(&mut cols, &mut n)? {
        return Ok(());
    }
    if !exhausted {
        while let Some(r) = next_row!() {
            for (i, c) in cols.iter_mut().enumerate() {
                let v = r.get_ref(i).map_err(map_err)?;
                if c.kind == Kind::Null && !matches!(v, ValueRef::Null) {
                    return Err(Error::data(format!(
                        "column \"{}\" has no declared type and was NULL in the first {batch_size} rows, \
                         then held a {} value; CAST it in SQL to fix its type",
                        c.name,
                        storage_name(&v)
                    )));
                }
                c.push(v, row_index)?;
            }
            n += 1;
            row_index += 1;
            if n >= batch_size && !emit(&mut cols, &mut n)? {
                return Ok(());
            }
        }
    }
    if n > 0 {
        emit(&mut cols, &mut n)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn pragma_words_sqlite_would_take_as_the_default_are_refused() {
        let ok = |p: &str, v: &str| pragma_readback(p, v).unwrap();
        assert_eq!(ok("synchronous", "NORMAL").as_deref(), Some("1"));
        assert_eq!(ok("synchronous", "3").as_deref(), Some("3"));
        assert_eq!(ok("temp_store", "memory").as_deref(), Some("2"));
        assert_eq!(ok("foreign_keys", "on").as_deref(), Some("1"));
        assert_eq!(ok("foreign_keys", "No").as_deref(), Some("0"));
        assert_eq!(ok("cache_size", "-2000"), None);
        // cache_spill reads back its page threshold, not 0/1: not checked.
        assert_eq!(ok("cache_spill", "on"), None);
        for (p, v) in [
            ("synchronous", "normall"),
            ("synchronous", "9"),
            ("temp_store", "ram"),
            ("foreign_keys", "2"),
        ] {
            let e = pragma_readback(p, v).unwrap_err();
            assert!(e.contains(p) && e.contains(v), "{e}");
        }
    }

    use super::*;

    #[test]
    fn relative_paths_say_where_they_were_looked_for() {
        use std::path::Path;
        assert_eq!(relative_path_hint(Path::new("/abs/x.db")), "");
        assert_eq!(relative_path_hint(Path::new("")), "");
        let cwd = std::env::current_dir().unwrap().display().to_string();
        let h = relative_path_hint(Path::new("x.db"));
        assert!(h.contains(&cwd) && !h.contains("four slashes"), "{h}");
        // `tmp/…` does not exist here but `/tmp` does: the URL probably lost a slash.
        let h = relative_path_hint(Path::new("tmp/x-sqlarrow.db"));
        assert!(
            h.contains("four slashes: sqlite:////tmp/x-sqlarrow.db"),
            "{h}"
        );
        // Neither exists: no guess.
        let h = relative_path_hint(Path::new("no-such-dir-sqlarrow/x.db"));
        assert!(!h.contains("four slashes"), "{h}");
    }

    #[test]
    fn decimals_from_reals_are_exact_or_refused() {
        assert_eq!(decimal_from(ValueRef::Real(1.1), 10, 2), Some(110));
        assert_eq!(decimal_from(ValueRef::Real(0.1 + 0.2), 10, 2), Some(30));
        assert_eq!(
            decimal_from(ValueRef::Real(1234567890.12), 18, 2),
            Some(123456789012)
        );
        assert_eq!(decimal_from(ValueRef::Real(-0.5), 10, 2), Some(-50));
        assert_eq!(decimal_from(ValueRef::Real(1e-5), 10, 5), Some(1));
        assert_eq!(decimal_from(ValueRef::Real(1.234), 10, 2), None);
        assert_eq!(decimal_from(ValueRef::Real(1.005), 10, 2), None);
        assert_eq!(decimal_from(ValueRef::Real(f64::NAN), 10, 2), None);
        assert_eq!(decimal_from(ValueRef::Real(1e20), 10, 2), None);
        assert_eq!(decimal_from(ValueRef::Integer(12), 4, 2), Some(1200));
        assert_eq!(decimal_from(ValueRef::Integer(123), 4, 2), None);
    }

    #[test]
    fn decl_types() {
        assert_eq!(kind_from_decl(Some("INTEGER")), Kind::Int);
        assert_eq!(kind_from_decl(Some("boolean")), Kind::Bool);
        assert_eq!(kind_from_decl(Some("DECIMAL(12, 2)")), Kind::Decimal(12, 2));
        assert_eq!(
            kind_from_decl(Some("DECIMAL TEXT(18,4)")),
            Kind::Decimal(18, 4)
        );
        assert_eq!(kind_from_decl(Some("VARCHAR(20)")), Kind::Text);
        assert_eq!(kind_from_decl(Some("TIMESTAMP")), Kind::Timestamp);
        assert_eq!(kind_from_decl(Some("DATE")), Kind::Date);
        assert_eq!(kind_from_decl(None), Kind::Undeclared);
        assert_eq!(kind_from_decl(Some("any")), Kind::Undeclared);
        assert_eq!(kind_from_decl(Some("DOUBLE PRECISION")), Kind::Real);
    }

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_decimal("12.50", 2), Some(1250));
        assert_eq!(parse_decimal("-0.01", 2), Some(-1));
        assert_eq!(parse_decimal("1.234", 2), None);
        assert_eq!(parse_decimal("abc", 2), None);
        assert_eq!(parse_decimal("7", 3), Some(7000));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_declared_types_and_empty_tables() {
        let c = SqliteConnector::new(SqliteConfig {
            path: ":memory:".into(),
            read_only: false,
            settings: Default::default(),
            pool: PoolConfig::default(),
        })
        .unwrap();
        let cancel = CancelSlot::new();
        c.execute(
            "create table t (id integer, amount decimal(10,2), d date, ts timestamp, ok boolean, name text)",
            &Params::default(),
            &cancel,
        )
        .await
        .unwrap();
        let mut sink = Sink::collect();
        c.query(
            "select * from t",
            &Params::default(),
            10,
            &mut sink,
            &cancel,
        )
        .await
        .unwrap();
        let Sink::Collect {
            schema, batches, ..
        } = sink
        else {
            unreachable!()
        };
        let schema = schema.unwrap();
        assert!(batches.is_empty());
        assert_eq!(schema.field(1).data_type(), &DataType::Decimal128(10, 2));
        assert_eq!(schema.field(2).data_type(), &DataType::Date32);
        c.execute(
            "insert into t values (1, 12.5, '2024-02-29', '2024-01-01 10:00:00.5', 1, 'ñ'), (2, null, null, null, null, null)",
            &Params::default(),
            &cancel,
        )
        .await
        .unwrap();
        let mut sink = Sink::collect();
        c.query(
            "select *, id * 2 as twice from t where id >= ?",
            &Params(vec![Value::Int(1)]),
            1,
            &mut sink,
            &cancel,
        )
        .await
        .unwrap();
        let Sink::Collect { batches, .. } = sink else {
            unreachable!()
        };
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].schema().field(6).data_type(), &DataType::Int64);
    }
}
