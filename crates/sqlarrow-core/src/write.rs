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

/// Options of one write.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub mode: WriteMode,
    pub key: Vec<String>,
    pub create_if_missing: bool,
    /// Input column name → table column name.
    pub column_map: HashMap<String, String>,
    pub batch_size: Option<usize>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            mode: WriteMode::Append,
            key: Vec::new(),
            create_if_missing: true,
            column_map: HashMap::new(),
            batch_size: None,
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
