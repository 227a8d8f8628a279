//! Bulk writes from Arrow: modes, options, results, and helpers shared by engines.

use std::collections::HashMap;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchReader};
use arrow_cast::{cast_with_options, CastOptions};
use arrow_schema::{DataType, SchemaRef};

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

/// Cast `array` to `to`, failing (never nulling) on values that do not fit.
pub fn cast_strict(array: &ArrayRef, to: &DataType, column: &str) -> Result<ArrayRef> {
    if array.data_type() == to {
        return Ok(array.clone());
    }
    let opts = CastOptions {
        safe: false,
        ..Default::default()
    };
    cast_with_options(array, to, &opts).map_err(|e| {
        Error::data(format!(
            "column \"{column}\": cannot convert {} to {to}: {e}",
            array.data_type()
        ))
        .with_detail("column", column.to_string())
    })
}

/// Pull batches from a reader, mapping Arrow errors.
pub fn next_batch(reader: &mut dyn RecordBatchReader) -> Result<Option<RecordBatch>> {
    match reader.next() {
        None => Ok(None),
        Some(Ok(b)) => Ok(Some(b)),
        Some(Err(e)) => Err(Error::data(format!("reading the input data failed: {e}"))),
    }
}

/// Input column names after `column_map`, in input order.
pub fn mapped_names(schema: &SchemaRef, map: &HashMap<String, String>) -> Result<Vec<String>> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
