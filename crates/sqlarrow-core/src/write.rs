//! Bulk writes from Arrow: modes, options, results, and helpers shared by engines.

use std::collections::HashMap;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchReader};
use arrow_cast::{cast_with_options, CastOptions};
use arrow_schema::{DataType, SchemaRef, TimeUnit};

use crate::error::{Error, Result};

/// What `write` does with the target table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Insert rows into the table (created first when missing and `create_if_missing`).
    Append,
    /// Atomically replace the table's rows with the input.
    Replace,
    /// Create the table (an error if it exists), then insert.
    Create,
    /// Insert or update rows matching `key`.
    Upsert,
    /// Update rows matching `key`; input rows without a match are ignored.
    Update,
}

impl WriteMode {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "append" => WriteMode::Append,
            "replace" => WriteMode::Replace,
            "create" => WriteMode::Create,
            "upsert" => WriteMode::Upsert,
            "update" => WriteMode::Update,
            other => {
                return Err(Error::config(format!(
                "unknown write mode {other:?}; expected append, replace, create, upsert or update"
            )))
            }
        })
    }
}

impl WriteMode {
    /// Upsert and update match rows by `key`.
    pub fn is_keyed(self) -> bool {
        matches!(self, WriteMode::Upsert | WriteMode::Update)
    }
}

/// Validate `key` against the mode: required (and unique) for upsert/update.
pub fn check_key(opts: &WriteOptions) -> Result<()> {
    if opts.mode.is_keyed() {
        if opts.key.is_empty() {
            return Err(Error::config(format!(
                "mode=\"{}\" needs key=[...]: the column(s) that identify a row",
                if opts.mode == WriteMode::Upsert {
                    "upsert"
                } else {
                    "update"
                }
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for k in &opts.key {
            if k.is_empty() || k.contains('\0') {
                return Err(Error::config(format!("invalid key column name {k:?}")));
            }
            if !seen.insert(k) {
                return Err(Error::config(format!("key names column {k:?} twice")));
            }
        }
    }
    Ok(())
}

/// Options of one write.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub mode: WriteMode,
    pub key: Vec<String>,
    pub create_if_missing: bool,
    /// Input column name → table column name.
    pub column_map: HashMap<String, String>,
    pub batch_size: Option<usize>,
    /// `on_error="skip"`: rows violating a constraint are set aside (see
    /// [`WriteResult::failed`]) and the others land; `false`: all-or-nothing.
    pub skip_errors: bool,
    /// A per-call limit on the whole write; `None`: the connector's statement timeout.
    pub timeout: Option<std::time::Duration>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            mode: WriteMode::Append,
            key: Vec::new(),
            create_if_missing: true,
            column_map: HashMap::new(),
            batch_size: None,
            skip_errors: false,
            timeout: None,
        }
    }
}

/// The outcome of a write.
#[derive(Debug, Clone, Default)]
pub struct WriteResult {
    pub rows_written: u64,
    pub rows_updated: u64,
    pub rows_failed: u64,
    pub elapsed_ms: f64,
    /// Notes on how the write ran (e.g. a slower fallback path), also logged in Python.
    pub warnings: Vec<String>,
    /// With `skip_errors`: the rejected input rows plus an [`ERROR_COLUMN`] reason.
    pub failed: Option<FailedRows>,
}

/// The name of the reason column of [`WriteResult::failed`].
pub const ERROR_COLUMN: &str = "_sqlarrow_error";

/// Rejected rows (dead-letter output): the input's columns plus [`ERROR_COLUMN`].
#[derive(Debug, Clone)]
pub struct FailedRows {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl FailedRows {
    /// An empty result shaped like `input` (every column nullable) plus the reason.
    pub fn empty(input: &arrow_schema::Schema) -> Self {
        let mut fields: Vec<arrow_schema::Field> = input
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        fields.push(arrow_schema::Field::new(
            ERROR_COLUMN,
            DataType::Utf8,
            false,
        ));
        FailedRows {
            schema: std::sync::Arc::new(arrow_schema::Schema::new(fields)),
            batches: Vec::new(),
        }
    }

    /// Add `columns` (cast to the input's types where possible) with one reason per row.
    pub fn push(&mut self, columns: Vec<ArrayRef>, reasons: Vec<String>) -> Result<()> {
        let mut cols = Vec::with_capacity(columns.len() + 1);
        for (a, f) in columns.into_iter().zip(self.schema.fields().iter()) {
            let a = if a.data_type() == f.data_type() {
                a
            } else {
                arrow_cast::cast(&a, f.data_type())?
            };
            cols.push(a);
        }
        cols.push(std::sync::Arc::new(arrow_array::StringArray::from(reasons)) as ArrayRef);
        self.batches
            .push(RecordBatch::try_new(self.schema.clone(), cols)?);
        Ok(())
    }

    pub fn num_rows(&self) -> u64 {
        self.batches.iter().map(|b| b.num_rows() as u64).sum()
    }
}

/// Whether `e` is a per-row constraint violation (what `on_error="skip"` sets aside).
pub fn is_row_violation(e: &Error) -> bool {
    use crate::error::ErrorKind as K;
    matches!(
        e.kind,
        K::Constraint
            | K::UniqueViolation
            | K::ForeignKeyViolation
            | K::NotNullViolation
            | K::CheckViolation
    )
}

/// A table reference: optional schema (namespace) and name, unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    pub schema: Option<String>,
    pub name: String,
}

impl TableRef {
    /// Parse `name`, `schema.name`, or double-quoted parts (`"my schema"."t.1"`).
    pub fn parse(s: &str) -> Result<Self> {
        let mut parts = Vec::new();
        let mut cur = String::new();
        let mut chars = s.chars().peekable();
        let mut quoted_part = false;
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    quoted_part = true;
                    loop {
                        match chars.next() {
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                cur.push('"');
                            }
                            Some('"') => break,
                            Some(x) => cur.push(x),
                            None => {
                                return Err(Error::config(format!(
                                    "unterminated quote in table name {s:?}"
                                )))
                            }
                        }
                    }
                }
                '.' => {
                    parts.push(std::mem::take(&mut cur));
                    quoted_part = false;
                }
                '\0' => return Err(Error::config("table names cannot contain NUL characters")),
                c => {
                    let _ = quoted_part;
                    cur.push(c)
                }
            }
        }
        parts.push(cur);
        if parts.iter().any(|p| p.is_empty()) || parts.len() > 2 {
            return Err(Error::config(format!(
                "invalid table name {s:?}: expected \"table\" or \"schema.table\" (quote parts containing dots)"
            )));
        }
        let name = parts.pop().unwrap_or_default();
        Ok(TableRef {
            schema: parts.pop(),
            name,
        })
    }

    /// Quoted for PostgreSQL/SQLite (double quotes, doubled inside).
    pub fn quoted(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&self.name)),
            None => quote_ident(&self.name),
        }
    }
}

/// Double-quote an identifier (PostgreSQL, SQLite, standard SQL).
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Cast `array` to `to`, failing (never nulling) on values that do not fit, and on
/// times that a coarser unit would cut (nanoseconds into the microseconds a database
/// stores): Arrow's cast truncates those without a word.
pub fn cast_strict(array: &ArrayRef, to: &DataType, column: &str) -> Result<ArrayRef> {
    if array.data_type() == to {
        return Ok(array.clone());
    }
    check_no_sub_unit_loss(array, to, column)?;
    if is_temporal(array.data_type()) && to.is_numeric() {
        return Err(Error::data(format!(
            "column \"{column}\": a {} is not a number; convert it first",
            array.data_type()
        ))
        .with_detail("column", column.to_string()));
    }
    if array.data_type().is_numeric() && is_temporal(to) {
        // Arrow reads the number as days or units since the epoch: 5 into a date
        // column became 1970-01-06.
        return Err(Error::data(format!(
            "column \"{column}\": a number ({}) is not a {to}; convert it to a date or time \
             first",
            array.data_type()
        ))
        .with_detail("column", column.to_string()));
    }
    let opts = CastOptions {
        safe: false,
        ..Default::default()
    };
    let out = cast_with_options(array, to, &opts).map_err(|e| {
        if let Some(row) = first_unfit_row(array, to) {
            let shown =
                arrow_cast::display::ArrayFormatter::try_new(array.as_ref(), &Default::default())
                    .map(|f| f.value(row).to_string())
                    .unwrap_or_default();
            // (PostgreSQL's numeric(p,s) is cast to (38, s) here: name no precision.)
            let what = match to {
                DataType::Decimal128(..) | DataType::Decimal256(..) => {
                    "is too large for the column's decimal type".to_string()
                }
                _ => format!("does not fit {to}, the type the column takes"),
            };
            return Error::data(format!(
                "column \"{column}\": the value {shown} (input row {row}) {what}; sqlarrow \
                 does not change values silently: convert or filter it first"
            ))
            .with_detail("column", column.to_string())
            .with_detail(BATCH_ROW, row.to_string());
        }
        Error::data(format!(
            "column \"{column}\": cannot convert {} to {to}: {e}",
            array.data_type()
        ))
        .with_detail("column", column.to_string())
    })?;
    check_lossless(array, &out, column)?;
    Ok(out)
}

/// The first value of `array` that a cast to `to` cannot hold (a safe cast makes it
/// NULL), for the error that names it. `None` when the cast fails as a whole.
fn first_unfit_row(array: &ArrayRef, to: &DataType) -> Option<usize> {
    use arrow_array::Array;
    let safe = CastOptions {
        safe: true,
        ..Default::default()
    };
    let out = cast_with_options(array, to, &safe).ok()?;
    (0..array.len()).find(|&i| array.is_valid(i) && out.is_null(i))
}

fn is_temporal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32
            | DataType::Date64
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Timestamp(..)
            | DataType::Duration(_)
            | DataType::Interval(_)
    )
}

/// Refuse what Arrow's cast changes without an error: a float with a fraction into an
/// integer (1.5 became 1), a float or text into a decimal of too few places (1.234
/// became 1.23; float noise such as 0.30000000000000004 into two places is not a
/// change), a float beyond `float32` (1e300 became infinity), an integer beyond a
/// float's exact range, an integer other than 0 or 1 into a boolean, a timestamp with a
/// time of day into a date, and a decimal whose dropped digits (into a smaller scale, or
/// into an integer) are not all zero.
fn check_lossless(input: &ArrayRef, out: &ArrayRef, column: &str) -> Result<()> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    use arrow_array::Array;
    let (from, to) = (input.data_type(), out.data_type());
    let as_f64 = |a: &ArrayRef| arrow_cast::cast(a, &DataType::Float64).ok();
    let as_i64 = |a: &ArrayRef| arrow_cast::cast(a, &DataType::Int64).ok();
    let refuse = |row: usize, what: &str| -> Result<()> {
        let shown =
            arrow_cast::display::ArrayFormatter::try_new(input.as_ref(), &Default::default())
                .map(|f| f.value(row).to_string())
                .unwrap_or_default();
        Err(Error::data(format!(
            "column \"{column}\": the value {shown} (input row {row}) {what}; sqlarrow does not \
             change values silently: convert the column first"
        ))
        .with_detail("column", column.to_string())
        .with_detail(BATCH_ROW, row.to_string()))
    };
    let not_whole = format!("is not a whole number, and the column holds {to}");
    // Into a decimal, name the scale: PostgreSQL's numeric(p,s) is cast to (38, s) here
    // (its precision is the server's check), so "Decimal128(38, 2)" would mislead.
    let too_many_digits = match to {
        DataType::Decimal128(_, s) | DataType::Decimal256(_, s) => {
            format!("has more digits after the point than the column's scale ({s}) keeps")
        }
        _ => format!("has more digits than {to} holds"),
    };
    let is_decimal =
        |t: &DataType| matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..));
    let is_text = matches!(
        from,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    );
    // The first valid row where `bad(input as f64, output as f64)` holds.
    let first_f64 = |bad: &dyn Fn(f64, f64) -> bool| -> Option<usize> {
        let (a, b) = (as_f64(input)?, as_f64(out)?);
        let (a, b) = (
            a.as_primitive::<Float64Type>(),
            b.as_primitive::<Float64Type>(),
        );
        (0..a.len()).find(|&i| a.is_valid(i) && bad(a.value(i), b.value(i)))
    };
    // The first valid row where `bad(input as i64)` holds.
    let first_i64 = |bad: &dyn Fn(i64) -> bool| -> Option<usize> {
        let a = as_i64(input)?;
        let a = a.as_primitive::<Int64Type>();
        a.iter().position(|v| v.is_some_and(bad))
    };

    if from.is_floating() && to.is_integer() {
        if let Some(row) = first_f64(&|a, _| a.fract() != 0.0) {
            return refuse(row, &not_whole);
        }
    }
    if from.is_floating() && matches!(to, DataType::Float32 | DataType::Float16) {
        if let Some(row) = first_f64(&|a, b| a.is_finite() && !b.is_finite()) {
            return refuse(row, &format!("is beyond the range of {to}"));
        }
    }
    if (from.is_floating() || is_text) && is_decimal(to) {
        // The decimal read back as a float: the same float, or one a few ulps away (the
        // float's own noise), else digits were dropped.
        if let Some(row) = first_f64(&|a, b| (a - b).abs() > a.abs() * 8.0 * f64::EPSILON) {
            return refuse(row, &too_many_digits);
        }
    }
    if from.is_integer() && to == &DataType::Boolean {
        if let Some(row) = first_i64(&|v| v != 0 && v != 1) {
            return refuse(row, "is neither 0 nor 1, and the column is a boolean");
        }
    }
    if from.is_integer() && to.is_floating() {
        // Integers beyond 2^53 (2^24 for float32) round to the nearest float.
        let exact = |v: i64| match to {
            DataType::Float32 => v as f32 as i64 == v,
            DataType::Float16 => v.unsigned_abs() <= 2048,
            _ => v as f64 as i64 == v,
        };
        if let Some(row) = first_i64(&|v| !exact(v)) {
            return refuse(row, &too_many_digits);
        }
    }
    if matches!(from, DataType::Timestamp(..)) && matches!(to, DataType::Date32 | DataType::Date64)
    {
        let us = arrow_cast::cast(input, &DataType::Timestamp(TimeUnit::Microsecond, None))
            .ok()
            .and_then(|a| as_i64(&a));
        if let Some(row) = us.and_then(|us| {
            us.as_primitive::<Int64Type>()
                .iter()
                .position(|v| v.is_some_and(|v| v.rem_euclid(86_400_000_000) != 0))
        }) {
            return refuse(row, "has a time of day, and the column holds dates");
        }
    }
    // A decimal's digits that the cast drops (into a smaller scale, or into an integer)
    // must all be zero.
    if let DataType::Decimal128(_, s1) | DataType::Decimal256(_, s1) = from {
        let dropped = match to {
            DataType::Decimal128(_, s2) | DataType::Decimal256(_, s2) => {
                i16::from(*s1) - i16::from(*s2)
            }
            t if t.is_integer() => i16::from(*s1),
            _ => 0,
        };
        if dropped > 0 {
            if let Some(row) = first_decimal_with_nonzero_below(input, dropped as u32) {
                let what = if to.is_integer() {
                    &not_whole
                } else {
                    &too_many_digits
                };
                return refuse(row, what);
            }
        }
    }
    Ok(())
}

/// The first valid row of a decimal array whose lowest `digits` unscaled digits are not
/// all zero.
fn first_decimal_with_nonzero_below(a: &ArrayRef, digits: u32) -> Option<usize> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Decimal128Type, Decimal256Type};
    use arrow_array::Array;
    use arrow_buffer::i256;
    match a.data_type() {
        DataType::Decimal128(..) => {
            let a = a.as_primitive::<Decimal128Type>();
            let p = 10i128.checked_pow(digits)?;
            (0..a.len()).find(|&i| a.is_valid(i) && a.value(i) % p != 0)
        }
        DataType::Decimal256(..) => {
            let a = a.as_primitive::<Decimal256Type>();
            let p = i256::from_i128(10).checked_pow(digits)?;
            (0..a.len()).find(|&i| {
                a.is_valid(i) && a.value(i).checked_rem(p).is_some_and(|r| r != i256::ZERO)
            })
        }
        _ => None,
    }
}

/// The number of `from` units in one `to` unit, when `to` is the coarser of the two.
fn unit_ratio(from: &TimeUnit, to: &TimeUnit) -> Option<i64> {
    fn per_second(u: &TimeUnit) -> i64 {
        match u {
            TimeUnit::Second => 1,
            TimeUnit::Millisecond => 1_000,
            TimeUnit::Microsecond => 1_000_000,
            TimeUnit::Nanosecond => 1_000_000_000,
        }
    }
    let (f, t) = (per_second(from), per_second(to));
    (f > t).then(|| f / t)
}

/// Refuse a cast from a finer time unit to a coarser one (a `timestamp[ns]` into a
/// database's microseconds, say) when a value has a non-zero part below the coarser
/// unit. The error names the column and the first such value.
fn check_no_sub_unit_loss(array: &ArrayRef, to: &DataType, column: &str) -> Result<()> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use DataType::{Duration, Time32, Time64, Timestamp};
    // Lists (written as arrays): the same check on their elements.
    if let (
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..),
        DataType::List(f),
    ) = (array.data_type(), to)
    {
        let values = match array.data_type() {
            DataType::List(_) => array.as_list::<i32>().values().clone(),
            DataType::LargeList(_) => array.as_list::<i64>().values().clone(),
            _ => array.as_fixed_size_list().values().clone(),
        };
        return check_no_sub_unit_loss(&values, f.data_type(), column);
    }
    let ratio = match (array.data_type(), to) {
        (Timestamp(a, _), Timestamp(b, _))
        | (Duration(a), Duration(b))
        | (Time64(a) | Time32(a), Time64(b) | Time32(b)) => unit_ratio(a, b),
        _ => None,
    };
    let Some(ratio) = ratio else {
        return Ok(());
    };
    // Timestamps, durations and Time64 are 64-bit integers underneath, Time32 32-bit.
    let raw = match array.data_type() {
        Time32(_) => arrow_cast::cast(array, &DataType::Int32)
            .and_then(|a| arrow_cast::cast(&a, &DataType::Int64)),
        _ => arrow_cast::cast(array, &DataType::Int64),
    }
    .map_err(|e| Error::data(format!("column \"{column}\": {e}")))?;
    let ints = raw.as_primitive::<Int64Type>();
    let first = ints.iter().position(|v| v.is_some_and(|v| v % ratio != 0));
    if let Some(row) = first {
        let shown =
            arrow_cast::display::ArrayFormatter::try_new(array.as_ref(), &Default::default())
                .map(|f| f.value(row).to_string())
                .unwrap_or_else(|_| ints.value(row).to_string());
        return Err(Error::data(format!(
            "column \"{column}\": the value {shown} is finer than the database stores ({to}); \
             sqlarrow does not cut it silently: round or truncate the column first (pyarrow: \
             `col.cast({target}, safe=False)` truncates)",
            target = pyarrow_type_hint(to),
        ))
        .with_detail("column", column.to_string()));
    }
    Ok(())
}

/// How pyarrow spells `t`, for the hint in an error (`pa.timestamp('us')`, ...).
fn pyarrow_type_hint(t: &DataType) -> String {
    let unit = |u: &TimeUnit| match u {
        TimeUnit::Second => "s",
        TimeUnit::Millisecond => "ms",
        TimeUnit::Microsecond => "us",
        TimeUnit::Nanosecond => "ns",
    };
    match t {
        DataType::Timestamp(u, None) => format!("pa.timestamp('{}')", unit(u)),
        DataType::Timestamp(u, Some(tz)) => format!("pa.timestamp('{}', tz='{tz}')", unit(u)),
        DataType::Time64(u) => format!("pa.time64('{}')", unit(u)),
        DataType::Time32(u) => format!("pa.time32('{}')", unit(u)),
        DataType::Duration(u) => format!("pa.duration('{}')", unit(u)),
        other => other.to_string(),
    }
}

/// Whether `f` is a UUID (`FixedSizeBinary(16)` tagged `arrow.uuid`).
pub fn is_uuid_field(f: &arrow_schema::Field) -> bool {
    f.data_type() == &DataType::FixedSizeBinary(16)
        && f.metadata()
            .get(crate::types::EXTENSION_NAME_KEY)
            .map(String::as_str)
            == Some(crate::types::UUID_EXTENSION)
}

/// 16-byte UUIDs as their standard text (`12345678-1234-...`), for text columns.
pub fn uuid_text_array(a: &ArrayRef) -> ArrayRef {
    use arrow_array::cast::AsArray;
    use arrow_array::Array;
    let b = a.as_fixed_size_binary();
    let text: arrow_array::StringArray = (0..b.len())
        .map(|i| {
            b.is_valid(i).then(|| {
                let mut u = [0u8; 16];
                u.copy_from_slice(b.value(i));
                crate::value::civil::format_uuid(&u)
            })
        })
        .collect();
    std::sync::Arc::new(text)
}

/// Extension types a write understands: their storage values mean what they say.
const KNOWN_EXTENSIONS: [&str; 4] = [
    crate::types::JSON_EXTENSION,
    crate::types::UUID_EXTENSION,
    crate::types::WKB_EXTENSION,
    "geoarrow.wkt",
];

/// Refuse input columns of an Arrow extension type sqlarrow does not know (pandas'
/// `pandas.period`, `pandas.interval`, ...): their storage alone was written, e.g. a
/// monthly period as the integer 648 instead of 2024-01.
pub fn check_extension_types(schema: &arrow_schema::Schema) -> Result<()> {
    fn walk(field: &arrow_schema::Field, column: &str) -> Result<()> {
        if let Some(ext) = field.metadata().get(crate::types::EXTENSION_NAME_KEY) {
            if !KNOWN_EXTENSIONS.contains(&ext.as_str()) {
                return Err(Error::new(
                    crate::error::ErrorKind::UnsupportedType,
                    format!(
                        "column \"{column}\" has the Arrow extension type {ext} (stored as {}), \
                         which sqlarrow does not know how to write: writing its storage \
                         values would change their meaning; convert the column first (e.g. \
                         a pandas period column with .dt.to_timestamp(), an interval column \
                         with .astype(str))",
                        field.data_type()
                    ),
                )
                .with_detail("column", column.to_string())
                .with_detail("type_name", ext.clone()));
            }
        }
        match field.data_type() {
            DataType::List(f)
            | DataType::LargeList(f)
            | DataType::ListView(f)
            | DataType::LargeListView(f)
            | DataType::FixedSizeList(f, _)
            | DataType::Map(f, _) => walk(f, column),
            DataType::Struct(fs) => fs.iter().try_for_each(|f| walk(f, column)),
            _ => Ok(()),
        }
    }
    schema.fields().iter().try_for_each(|f| walk(f, f.name()))
}

/// The detail naming a row by its place in its batch (see [`at_input_row`]).
pub const BATCH_ROW: &str = "batch_row";

/// An error about a row of one batch, made about the input row: `first` is the input
/// row number of the batch's first row. The message's `(input row N)` and the
/// `row_index` detail then count from the start of the input, not of the batch.
pub fn at_input_row(mut e: Error, first: u64) -> Error {
    let Some(r) = e.detail(BATCH_ROW).and_then(|v| v.parse::<u64>().ok()) else {
        return e;
    };
    let at = first + r;
    e.message = e
        .message
        .replacen(&format!("(input row {r})"), &format!("(input row {at})"), 1);
    e.details.retain(|(k, _)| *k != BATCH_ROW);
    if e.detail("row_index").is_none() {
        e = e.with_detail("row_index", at.to_string());
    }
    e
}

/// Pull batches from a reader, mapping Arrow errors.
pub fn next_batch(reader: &mut dyn RecordBatchReader) -> Result<Option<RecordBatch>> {
    match reader.next() {
        None => Ok(None),
        Some(Ok(b)) => Ok(Some(b)),
        Some(Err(arrow_schema::ArrowError::ExternalError(e))) if e.is::<Error>() => {
            Err(*e.downcast::<Error>().expect("checked"))
        }
        Some(Err(e)) => Err(Error::data(format!("reading the input data failed: {e}"))),
    }
}

/// Whether engine `engine` (a connector's `engine_name`) has array columns, so that
/// lists are written as arrays rather than JSON: the PostgreSQL protocol's engines.
pub fn engine_has_arrays(engine: &str) -> bool {
    matches!(engine, "postgres" | "redshift")
}

/// Whether a column of type `t` is written as JSON text on an engine with arrays
/// (`arrays_native`: PostgreSQL keeps lists as arrays) or without them.
pub fn is_json_nested(t: &DataType, arrays_native: bool) -> bool {
    match t {
        DataType::Struct(_) | DataType::Map(..) => true,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => !arrays_native,
        _ => false,
    }
}

/// `reader` with its nested columns (see [`is_json_nested`]) turned into JSON text
/// columns (the `arrow.json` extension, so new columns are created as JSON), one
/// document per row; other columns pass through untouched. `reader` itself when it has
/// no such column.
pub fn nested_as_json(
    reader: Box<dyn RecordBatchReader + Send>,
    arrays_native: bool,
) -> Box<dyn RecordBatchReader + Send> {
    let schema = reader.schema();
    let nested: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| is_json_nested(f.data_type(), arrays_native))
        .collect();
    if !nested.contains(&true) {
        return reader;
    }
    let fields: Vec<arrow_schema::FieldRef> = schema
        .fields()
        .iter()
        .zip(&nested)
        .map(|(f, &n)| {
            if n {
                std::sync::Arc::new(
                    arrow_schema::Field::new(f.name(), DataType::Utf8, f.is_nullable())
                        .with_metadata(HashMap::from([(
                            crate::types::EXTENSION_NAME_KEY.to_string(),
                            crate::types::JSON_EXTENSION.to_string(),
                        )])),
                )
            } else {
                f.clone()
            }
        })
        .collect();
    let out_schema = std::sync::Arc::new(arrow_schema::Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    ));
    Box::new(JsonNestedReader {
        inner: reader,
        schema: out_schema,
        nested,
        rows: 0,
    })
}

struct JsonNestedReader {
    inner: Box<dyn RecordBatchReader + Send>,
    schema: SchemaRef,
    nested: Vec<bool>,
    /// Input rows before the current batch.
    rows: u64,
}

impl Iterator for JsonNestedReader {
    type Item = std::result::Result<RecordBatch, arrow_schema::ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        let batch = match self.inner.next()? {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        let mut cols = Vec::with_capacity(batch.num_columns());
        for ((a, &n), f) in batch
            .columns()
            .iter()
            .zip(&self.nested)
            .zip(self.schema.fields())
        {
            if n {
                match json_column(a, f.name()) {
                    Ok(j) => cols.push(j),
                    Err(e) => {
                        let e = at_input_row(e, self.rows);
                        return Some(Err(arrow_schema::ArrowError::ExternalError(Box::new(e))));
                    }
                }
            } else {
                cols.push(a.clone());
            }
        }
        self.rows += batch.num_rows() as u64;
        Some(RecordBatch::try_new(self.schema.clone(), cols))
    }
}

impl RecordBatchReader for JsonNestedReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// Keyed writes (upsert, update) match input rows to table rows by key, and a NULL
/// key matches no row: engines then differ (PostgreSQL and MySQL merged every
/// NULL-key row into one, dropping the others; SQLite gave a NULL `INTEGER PRIMARY
/// KEY` a new rowid that a later input row could overwrite). With `on_error="raise"`
/// such a row is a `DataError` naming the column and input row, before anything is
/// written; with `"skip"` the engines set it aside. `reader` itself otherwise.
pub fn refuse_null_keys(
    reader: Box<dyn RecordBatchReader + Send>,
    opts: &WriteOptions,
) -> Box<dyn RecordBatchReader + Send> {
    if !opts.mode.is_keyed() || opts.skip_errors || opts.key.is_empty() {
        return reader;
    }
    let schema = reader.schema();
    let Ok(names) = mapped_names(&schema, &opts.column_map) else {
        return reader;
    };
    // A key names a table column: the input column mapped to it exactly, else the one
    // equal ignoring case (MySQL and SQLite resolve names so). A key the input lacks is
    // left to the engine's own check.
    let keys: Vec<(usize, String)> = opts
        .key
        .iter()
        .filter_map(|k| Some((match_name(k, names.iter().map(String::as_str))?, k.clone())))
        .collect();
    if keys.is_empty() {
        return reader;
    }
    Box::new(NullKeyReader {
        inner: reader,
        keys,
        mode: opts.mode,
        rows: 0,
    })
}

struct NullKeyReader {
    inner: Box<dyn RecordBatchReader + Send>,
    keys: Vec<(usize, String)>,
    mode: WriteMode,
    rows: u64,
}

impl Iterator for NullKeyReader {
    type Item = std::result::Result<RecordBatch, arrow_schema::ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        use arrow_array::Array;
        let batch = match self.inner.next()? {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        let first_null = self
            .keys
            .iter()
            .filter_map(|(i, k)| {
                let a = batch.column(*i);
                if a.null_count() == 0 {
                    return None;
                }
                (0..a.len()).find(|&r| a.is_null(r)).map(|r| (r, k))
            })
            .min_by_key(|(r, _)| *r);
        if let Some((r, k)) = first_null {
            let row = self.rows + r as u64;
            let mode = match self.mode {
                WriteMode::Update => "update",
                _ => "upsert",
            };
            let e = Error::data(format!(
                "key column \"{k}\" is NULL in input row {row}: mode=\"{mode}\" matches rows \
                 by key, and NULL matches no row (fill the key in, write such rows with \
                 mode=\"append\", or pass on_error=\"skip\" to set them aside)"
            ))
            .with_detail("column", k.clone())
            .with_detail("row_index", row.to_string());
            return Some(Err(arrow_schema::ArrowError::ExternalError(Box::new(e))));
        }
        self.rows += batch.num_rows() as u64;
        Some(Ok(batch))
    }
}

impl RecordBatchReader for NullKeyReader {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
}

/// One JSON document per row of a nested column (NULL rows stay NULL).
pub(crate) fn json_column(a: &ArrayRef, column: &str) -> Result<ArrayRef> {
    use arrow_array::Array;
    let mut b = arrow_array::builder::StringBuilder::with_capacity(a.len(), a.len() * 16);
    let mut doc = String::new();
    for i in 0..a.len() {
        if a.is_null(i) {
            b.append_null();
            continue;
        }
        doc.clear();
        json_value(a.as_ref(), i, column, i, &mut doc)?;
        b.append_value(&doc);
    }
    Ok(std::sync::Arc::new(b.finish()))
}

/// Append `s` as a JSON string (quoted and escaped) to `out`.
pub(crate) fn json_string(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Append value `i` of `a` as JSON to `out`. `row`: the input row, for errors.
fn json_value(
    a: &dyn arrow_array::Array,
    i: usize,
    column: &str,
    row: usize,
    out: &mut String,
) -> Result<()> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    use arrow_array::Array;
    use std::fmt::Write;
    if a.is_null(i) {
        out.push_str("null");
        return Ok(());
    }
    let refuse = |what: &str| {
        Err(Error::data(format!(
            "column \"{column}\" (input row {row}): {what} has no JSON form; convert the column \
             first"
        ))
        .with_detail("column", column.to_string())
        .with_detail(BATCH_ROW, row.to_string()))
    };
    macro_rules! num {
        ($t:ty) => {{
            let _ = write!(out, "{}", a.as_primitive::<$t>().value(i));
        }};
    }
    macro_rules! float {
        ($t:ty) => {{
            let v = a.as_primitive::<$t>().value(i);
            if !v.is_finite() {
                return refuse(&format!("the float {v}"));
            }
            let _ = write!(out, "{v}");
        }};
    }
    match a.data_type() {
        DataType::Null => out.push_str("null"),
        DataType::Boolean => out.push_str(if a.as_boolean().value(i) {
            "true"
        } else {
            "false"
        }),
        DataType::Int8 => num!(Int8Type),
        DataType::Int16 => num!(Int16Type),
        DataType::Int32 => num!(Int32Type),
        DataType::Int64 => num!(Int64Type),
        DataType::UInt8 => num!(UInt8Type),
        DataType::UInt16 => num!(UInt16Type),
        DataType::UInt32 => num!(UInt32Type),
        DataType::UInt64 => num!(UInt64Type),
        DataType::Float16 => {
            let v = a.as_primitive::<Float16Type>().value(i).to_f64();
            if !v.is_finite() {
                return refuse(&format!("the float {v}"));
            }
            let _ = write!(out, "{v}");
        }
        DataType::Float32 => float!(Float32Type),
        DataType::Float64 => float!(Float64Type),
        DataType::Utf8 => json_string(a.as_string::<i32>().value(i), out),
        DataType::LargeUtf8 => json_string(a.as_string::<i64>().value(i), out),
        DataType::Utf8View => json_string(a.as_string_view().value(i), out),
        DataType::Decimal128(..)
        | DataType::Decimal256(..)
        | DataType::Date32
        | DataType::Date64
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Timestamp(..) => {
            let opts = arrow_cast::display::FormatOptions::default();
            let f = arrow_cast::display::ArrayFormatter::try_new(a, &opts)
                .map_err(|e| Error::data(format!("column \"{column}\": {e}")))?;
            let text = f.value(i).to_string();
            if matches!(
                a.data_type(),
                DataType::Decimal128(..) | DataType::Decimal256(..)
            ) {
                out.push_str(&text);
            } else {
                json_string(&text, out);
            }
        }
        DataType::Dictionary(..) => {
            let d = a.as_any_dictionary();
            let k = d.normalized_keys()[i];
            json_value(d.values().as_ref(), k, column, row, out)?;
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
            let items = match a.data_type() {
                DataType::List(_) => a.as_list::<i32>().value(i),
                DataType::LargeList(_) => a.as_list::<i64>().value(i),
                _ => a.as_fixed_size_list().value(i),
            };
            out.push('[');
            for k in 0..items.len() {
                if k > 0 {
                    out.push(',');
                }
                json_value(items.as_ref(), k, column, row, out)?;
            }
            out.push(']');
        }
        DataType::Struct(fields) => {
            let s = a.as_struct();
            out.push('{');
            for (k, f) in fields.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                json_string(f.name(), out);
                out.push(':');
                json_value(s.column(k).as_ref(), i, column, row, out)?;
            }
            out.push('}');
        }
        DataType::Map(..) => {
            let m = a.as_map();
            let entries = m.value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            out.push('{');
            for k in 0..entries.len() {
                if k > 0 {
                    out.push(',');
                }
                match keys.data_type() {
                    DataType::Utf8 => json_string(keys.as_string::<i32>().value(k), out),
                    DataType::LargeUtf8 => json_string(keys.as_string::<i64>().value(k), out),
                    _ => {
                        // A JSON object's keys are strings: other keys as their text.
                        let mut key = String::new();
                        json_value(keys.as_ref(), k, column, row, &mut key)?;
                        json_string(key.trim_matches('"'), out);
                    }
                }
                out.push(':');
                json_value(values.as_ref(), k, column, row, out)?;
            }
            out.push('}');
        }
        other => return refuse(&format!("a value of type {other}")),
    }
    Ok(())
}

/// For engines whose column names are case-insensitive (MySQL, SQLite): an input column
/// that matches no table column exactly, but exactly one ignoring case, is written to
/// that column, as the database itself resolves the name in SQL. Returns the options
/// with those renames added to `column_map` (and to `key`), or `None` when nothing
/// changes. Names matching no column, or several, are left for the caller's checks.
pub fn fold_name_case(
    schema: &SchemaRef,
    opts: &WriteOptions,
    table_columns: &[&str],
) -> Result<Option<WriteOptions>> {
    let names = mapped_names(schema, &opts.column_map)?;
    // Two input names that differ only in case would name one column: the server's
    // "Duplicate column name" on create, or both written to one column.
    let mut seen: HashMap<String, &str> = HashMap::new();
    for n in &names {
        if let Some(first) = seen.insert(n.to_lowercase(), n) {
            return Err(Error::config(format!(
                "input columns {first:?} and {n:?} differ only in case, and this database's \
                 column names ignore case: rename one (column_map={{{n:?}: ...}})"
            )));
        }
    }
    let mut out: Option<WriteOptions> = None;
    for (f, n) in schema.fields().iter().zip(&names) {
        let Some(hit) = match_name(n, table_columns.iter().copied()).map(|i| table_columns[i])
        else {
            continue;
        };
        if hit == n {
            continue;
        }
        let o = out.get_or_insert_with(|| opts.clone());
        o.column_map.insert(f.name().clone(), hit.to_string());
        for k in o.key.iter_mut().filter(|k| *k == n) {
            *k = hit.to_string();
        }
    }
    // Key names too: `key=["ID"]` names the column `id`.
    let keys = out.as_ref().map_or(&opts.key, |o| &o.key).clone();
    for (i, k) in keys.iter().enumerate() {
        match match_name(k, table_columns.iter().copied()).map(|j| table_columns[j]) {
            Some(hit) if hit != k => {
                out.get_or_insert_with(|| opts.clone()).key[i] = hit.to_string();
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The index of the one name in `names` equal to `name` exactly, else the one equal to
/// it ignoring case (as MySQL and SQLite resolve column names); `None` when there is
/// none, or several differing only in case.
fn match_name<'a>(name: &str, names: impl IntoIterator<Item = &'a str>) -> Option<usize> {
    let names: Vec<&str> = names.into_iter().collect();
    if let Some(i) = names.iter().position(|n| *n == name) {
        return Some(i);
    }
    let lower = name.to_lowercase();
    let mut hits = (0..names.len()).filter(|&i| names[i].to_lowercase() == lower);
    match (hits.next(), hits.next()) {
        (Some(i), None) => Some(i),
        _ => None,
    }
}

/// Refuse a table, schema or column name the engine would cut short: PostgreSQL
/// truncates identifiers beyond 63 bytes with nothing but a NOTICE, so a long column
/// name was created cut and then matched no input column, and a long table name wrote
/// to a table of another name.
pub fn check_name_lengths(
    dialect: crate::schema::Dialect,
    table: &TableRef,
    names: &[String],
) -> Result<()> {
    if let Some(s) = &table.schema {
        dialect.quote_ident(s)?;
    }
    dialect.quote_ident(&table.name)?;
    for n in names {
        dialect.quote_ident(n)?;
    }
    Ok(())
}

/// Input column names after `column_map`, in input order.
pub fn mapped_names(schema: &SchemaRef, map: &HashMap<String, String>) -> Result<Vec<String>> {
    if schema.fields().is_empty() {
        return Err(Error::config(
            "the input has no columns: there is nothing to write",
        ));
    }
    for k in map.keys() {
        if schema.field_with_name(k).is_err() {
            return Err(Error::config(format!(
                "column_map names input column {k:?}, which the data does not have"
            )));
        }
    }
    let names: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            map.get(f.name())
                .cloned()
                .unwrap_or_else(|| f.name().clone())
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for n in &names {
        if !seen.insert(n.as_str()) {
            return Err(Error::config(format!(
                "two input columns map to table column {n:?}"
            )));
        }
    }
    Ok(names)
}

/// The error for an input column the target table does not have. It lists the table's
/// columns, and in `replace` mode says that the table's definition is kept: pandas'
/// `if_exists="replace"` drops and recreates the table, so a user coming from it may
/// expect the data's new columns to appear.
pub fn unknown_input_column(
    name: &str,
    table_columns: &[&str],
    mode: WriteMode,
    hint: &str,
) -> Error {
    let replace = if mode == WriteMode::Replace {
        "; mode=\"replace\" replaces the rows and keeps the table's definition (its columns, \
         keys, grants and dependent views): drop the table first to create it from the data"
    } else {
        ""
    };
    Error::config(format!(
        "input column {name:?} has no matching column in the table (columns: {}){hint}; use \
         column_map to rename{replace}",
        table_columns.join(", ")
    ))
    .with_detail("column", name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_keys_are_refused_with_the_input_row_across_batches() {
        use arrow_array::{Int64Array, RecordBatchIterator, StringArray};
        use std::sync::Arc;
        let schema = Arc::new(arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("v", DataType::Utf8, true),
            arrow_schema::Field::new("ID", DataType::Int64, true),
        ]));
        let batch = |ids: Vec<Option<i64>>| {
            let n = ids.len();
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(vec![Some("x"); n])) as ArrayRef,
                    Arc::new(Int64Array::from(ids)) as ArrayRef,
                ],
            )
            .unwrap()
        };
        let reader = |batches: Vec<RecordBatch>| -> Box<dyn RecordBatchReader + Send> {
            Box::new(RecordBatchIterator::new(
                batches.into_iter().map(Ok),
                schema.clone(),
            ))
        };
        let opts = WriteOptions {
            mode: WriteMode::Upsert,
            key: vec!["id".into()],
            ..Default::default()
        };
        let mut r = refuse_null_keys(
            reader(vec![
                batch(vec![Some(1), Some(2)]),
                batch(vec![Some(3), None]),
            ]),
            &opts,
        );
        assert_eq!(next_batch(r.as_mut()).unwrap().unwrap().num_rows(), 2);
        let e = next_batch(r.as_mut()).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Data);
        assert!(e.message.contains("input row 3"), "{}", e.message);
        // Appends and on_error="skip" pass NULL keys through.
        for o in [
            WriteOptions {
                mode: WriteMode::Append,
                ..opts.clone()
            },
            WriteOptions {
                skip_errors: true,
                ..opts.clone()
            },
        ] {
            let mut r = refuse_null_keys(reader(vec![batch(vec![None])]), &o);
            assert_eq!(next_batch(r.as_mut()).unwrap().unwrap().num_rows(), 1);
        }
    }

    #[test]
    fn a_value_out_of_range_is_named_with_its_row() {
        let a: ArrayRef = std::sync::Arc::new(arrow_array::Int64Array::from(vec![
            Some(1),
            None,
            Some(-5),
            Some(7),
        ]));
        let e = cast_strict(&a, &DataType::UInt32, "o").unwrap_err();
        assert!(
            e.message
                .contains("the value -5 (input row 2) does not fit UInt32"),
            "{}",
            e.message
        );
        let e = at_input_row(e, 10);
        assert_eq!(e.detail("row_index"), Some("12"));
        assert!(e.message.contains("(input row 12)"), "{}", e.message);
        // A cast that fails as a whole keeps the general message.
        let b: ArrayRef = std::sync::Arc::new(arrow_array::BinaryArray::from(vec![&b"x"[..]]));
        let e = cast_strict(&b, &DataType::Int32, "b").unwrap_err();
        assert!(e.message.contains("cannot convert"), "{}", e.message);
    }

    #[test]
    fn batch_rows_become_input_rows() {
        let f: ArrayRef = std::sync::Arc::new(arrow_array::Float64Array::from(vec![1.0, 2.5]));
        let e = cast_strict(&f, &DataType::Int64, "c").unwrap_err();
        assert!(e.message.contains("(input row 1)"), "{}", e.message);
        let e = at_input_row(e, 1000);
        assert!(e.message.contains("(input row 1001)"), "{}", e.message);
        assert_eq!(e.detail("row_index"), Some("1001"));
        assert_eq!(e.detail("batch_row"), None);
        // An error about no particular row is left alone.
        let plain = at_input_row(Error::data("no row"), 5);
        assert_eq!(plain.message, "no row");
        assert_eq!(plain.detail("row_index"), None);
    }

    #[test]
    fn key_names_fold_to_the_column_ignoring_case() {
        let schema =
            std::sync::Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
                "Id",
                DataType::Int64,
                true,
            )]));
        let opts = WriteOptions {
            mode: WriteMode::Upsert,
            key: vec!["ID".into()],
            ..Default::default()
        };
        let o = fold_name_case(&schema, &opts, &["id"]).unwrap().unwrap();
        assert_eq!(o.key, vec!["id".to_string()]);
        assert_eq!(o.column_map.get("Id").map(String::as_str), Some("id"));
        // Two columns equal ignoring case: nothing is guessed.
        assert!(fold_name_case(&schema, &opts, &["Id", "id", "iD"])
            .unwrap()
            .is_none());
        // Two input columns equal ignoring case (after column_map): refused by name.
        let two = std::sync::Arc::new(arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("a", DataType::Int64, true),
            arrow_schema::Field::new("x", DataType::Int64, true),
        ]));
        let mapped = WriteOptions {
            column_map: [("x".to_string(), "A".to_string())].into_iter().collect(),
            ..Default::default()
        };
        let err = fold_name_case(&two, &mapped, &[]).unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::Config);
        assert!(
            err.message.contains(r#""a" and "A" differ only in case"#),
            "{}",
            err.message
        );
    }

    #[test]
    fn nested_values_as_json() {
        use arrow_array::builder::{ListBuilder, StringBuilder};
        let mut b = ListBuilder::new(StringBuilder::new());
        b.values().append_value("a\"b\\c\n\u{1}");
        b.values().append_null();
        b.append(true);
        b.append(false);
        let a: ArrayRef = std::sync::Arc::new(b.finish());
        let j = json_column(&a, "c").unwrap();
        let j = arrow_array::cast::AsArray::as_string::<i32>(&j);
        assert_eq!(j.value(0), r#"["a\"b\\c\n\u0001",null]"#);
        assert!(arrow_array::Array::is_null(j, 1));
        let f: ArrayRef = std::sync::Arc::new(arrow_array::Float64Array::from(vec![f64::INFINITY]));
        let mut out = String::new();
        let e = json_value(f.as_ref(), 0, "c", 7, &mut out).unwrap_err();
        assert!(e.message.contains("input row 7"), "{e}");
    }

    #[test]
    fn parses_table_refs() {
        assert_eq!(
            TableRef::parse("t").unwrap(),
            TableRef {
                schema: None,
                name: "t".into()
            }
        );
        assert_eq!(
            TableRef::parse("s.t").unwrap(),
            TableRef {
                schema: Some("s".into()),
                name: "t".into()
            }
        );
        assert_eq!(
            TableRef::parse("\"my s\".\"t.\"\"1\"").unwrap(),
            TableRef {
                schema: Some("my s".into()),
                name: "t.\"1".into()
            }
        );
        assert!(TableRef::parse("a.b.c").is_err());
        assert!(TableRef::parse("").is_err());
        assert!(TableRef::parse("\"x").is_err());
        assert!(TableRef::parse("we\"ird").is_err());
        assert_eq!(
            TableRef::parse("\"we\"\"ird\"").unwrap().quoted(),
            "\"we\"\"ird\""
        );
    }

    #[test]
    fn casts_refuse_what_arrow_would_change_silently() {
        use arrow_array::{Decimal128Array, Float64Array, Int32Array, Int64Array, StringArray};
        use std::sync::Arc;
        let f: ArrayRef = Arc::new(Float64Array::from(vec![Some(2.0), None, Some(-3.0)]));
        assert!(cast_strict(&f, &DataType::Int32, "c").is_ok());
        let f: ArrayRef = Arc::new(Float64Array::from(vec![Some(2.0), Some(1.5)]));
        let e = cast_strict(&f, &DataType::Int32, "c")
            .unwrap_err()
            .to_string();
        assert!(e.contains("1.5 (input row 1) is not a whole number"), "{e}");
        let f: ArrayRef = Arc::new(Float64Array::from(vec![0.5, 1e300]));
        let e = cast_strict(&f, &DataType::Float32, "c")
            .unwrap_err()
            .to_string();
        assert!(e.contains("beyond the range"), "{e}");
        let f: ArrayRef = Arc::new(Float64Array::from(vec![f64::INFINITY, f64::NAN]));
        assert!(cast_strict(&f, &DataType::Float32, "c").is_ok());
        // Float noise is not a change; dropped digits are.
        let f: ArrayRef = Arc::new(Float64Array::from(vec![0.1 + 0.2, 0.1, -12.5]));
        assert!(cast_strict(&f, &DataType::Decimal128(10, 2), "c").is_ok());
        let f: ArrayRef = Arc::new(Float64Array::from(vec![1.234]));
        assert!(cast_strict(&f, &DataType::Decimal128(10, 2), "c").is_err());
        let i: ArrayRef = Arc::new(Int64Array::from(vec![Some(0), None, Some(1)]));
        assert!(cast_strict(&i, &DataType::Boolean, "c").is_ok());
        let i: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
        assert!(cast_strict(&i, &DataType::Boolean, "c").is_err());
        let d: ArrayRef = Arc::new(
            Decimal128Array::from(vec![300, 250])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        );
        let e = cast_strict(&d, &DataType::Int64, "c")
            .unwrap_err()
            .to_string();
        assert!(e.contains("2.50 (input row 1)"), "{e}");
        // A number is not a date or a time.
        let i: ArrayRef = Arc::new(Int32Array::from(vec![5]));
        assert!(cast_strict(&i, &DataType::Date32, "c").is_err());
        assert!(cast_strict(&i, &DataType::Timestamp(TimeUnit::Microsecond, None), "c").is_err());
        // Text is parsed, and refused when it does not parse.
        let t: ArrayRef = Arc::new(StringArray::from(vec!["2024-02-29"]));
        assert!(cast_strict(&t, &DataType::Date32, "c").is_ok());
        let t: ArrayRef = Arc::new(StringArray::from(vec!["12", "x"]));
        assert!(cast_strict(&t, &DataType::Int64, "c").is_err());
    }

    #[test]
    fn casts_to_a_coarser_time_unit_refuse_to_cut() {
        use arrow_array::{Time64NanosecondArray, TimestampNanosecondArray};
        use std::sync::Arc;
        let us = DataType::Timestamp(TimeUnit::Microsecond, None);
        let whole: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![
            Some(1_000),
            None,
            Some(-2_000),
        ]));
        let cast = cast_strict(&whole, &us, "t").unwrap();
        assert_eq!(cast.data_type(), &us);
        let cut: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![
            Some(1_000),
            None,
            Some(1_600_000_000_123_456_789),
        ]));
        let e = cast_strict(&cut, &us, "t").unwrap_err();
        assert!(
            e.to_string()
                .contains("column \"t\": the value 2020-09-13T12:26:40.123456789"),
            "{e}"
        );
        assert!(e.to_string().contains("pa.timestamp('us')"), "{e}");
        let negative: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![-1]));
        assert!(cast_strict(&negative, &us, "t").is_err());
        let time: ArrayRef = Arc::new(Time64NanosecondArray::from(vec![3_723_000_000_001]));
        let e = cast_strict(&time, &DataType::Time64(TimeUnit::Microsecond), "c").unwrap_err();
        assert!(e.to_string().contains("01:02:03.000000001"), "{e}");
        // Finer targets never lose anything.
        let ms: ArrayRef = Arc::new(arrow_array::TimestampMillisecondArray::from(vec![7]));
        assert!(cast_strict(&ms, &us, "t").is_ok());
    }
}
