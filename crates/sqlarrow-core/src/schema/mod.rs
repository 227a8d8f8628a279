//! The canonical schema: the hub every engine maps into and out of.
//!
//! Introspection ([`crate::connector::Connector::get_schema`]) reads it, DDL rendering
//! ([`ddl`]) writes it, [`diff`] compares two of them, and [`convert`] maps it to and
//! from an Arrow schema. Its JSON form (see [`CanonicalSchema::to_json`]) is lossless:
//!
//! ```json
//! {"columns": [{"name": "id", "type": "INT64", "nullable": false}],
//!  "primary_key": ["id"]}
//! ```
//!
//! Type strings: `BOOL`, `INT8`..`INT64`, `UINT8`..`UINT64`, `FLOAT32`, `FLOAT64`,
//! `DECIMAL(p,s)`, `STRING`, `STRING(n)`, `BINARY`, `BINARY(n)`, `DATE`, `TIME`,
//! `TIMESTAMP`, `TIMESTAMP_TZ`, `INTERVAL`, `UUID`, `JSON`, `ARRAY<T>`,
//! `ENUM('a','b')`, `GEOMETRY`.

pub mod convert;
pub mod ddl;
pub mod defaults;
pub mod diff;
pub mod mapping;

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

pub use ddl::{DdlOptions, Dialect, TableName};
pub use diff::{diff, Change, SchemaDiff};
pub use mapping::{pg_canonical, sqlite_canonical, PgTypeInfo};

/// Largest decimal precision sqlarrow represents (Arrow `Decimal256`).
pub const MAX_DECIMAL_PRECISION: u8 = 76;

/// An engine-neutral column type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LogicalType {
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
    /// Exact decimal; `precision` 1..=76, `scale` 0..=precision.
    Decimal {
        precision: u8,
        scale: i8,
    },
    /// Text, with an optional maximum length in characters.
    String(Option<u32>),
    /// Bytes, with an optional maximum length.
    Binary(Option<u32>),
    Date,
    /// Time of day, microseconds.
    Time,
    /// Date and time without a time zone, microseconds.
    Timestamp,
    /// An instant (stored/returned in UTC), microseconds.
    TimestampTz,
    /// Months, days and nanoseconds.
    Interval,
    Uuid,
    /// JSON text.
    Json,
    Array(Box<LogicalType>),
    /// A closed set of string labels, in declaration order.
    Enum(Vec<String>),
    /// A geometry (WKB on the Arrow side).
    Geometry,
}

impl LogicalType {
    /// The type-table key of this type: its name with parameters abstracted
    /// (`DECIMAL(p,s)`, `STRING(n)`, `ARRAY<T>`, ...).
    pub fn shape(&self) -> &'static str {
        use LogicalType::*;
        match self {
            Bool => "BOOL",
            Int8 => "INT8",
            Int16 => "INT16",
            Int32 => "INT32",
            Int64 => "INT64",
            UInt8 => "UINT8",
            UInt16 => "UINT16",
            UInt32 => "UINT32",
            UInt64 => "UINT64",
            Float32 => "FLOAT32",
            Float64 => "FLOAT64",
            Decimal { .. } => "DECIMAL(p,s)",
            String(None) => "STRING",
            String(Some(_)) => "STRING(n)",
            Binary(None) => "BINARY",
            Binary(Some(_)) => "BINARY(n)",
            Date => "DATE",
            Time => "TIME",
            Timestamp => "TIMESTAMP",
            TimestampTz => "TIMESTAMP_TZ",
            Interval => "INTERVAL",
            Uuid => "UUID",
            Json => "JSON",
            Array(_) => "ARRAY<T>",
            Enum(_) => "ENUM(...)",
            Geometry => "GEOMETRY",
        }
    }

    /// Check the parameters (decimal precision/scale, enum labels, nesting).
    pub fn validate(&self) -> Result<()> {
        match self {
            LogicalType::Decimal { precision, scale } => {
                if *precision == 0 || *precision > MAX_DECIMAL_PRECISION {
                    return Err(Error::config(format!(
                        "DECIMAL precision must be 1..={MAX_DECIMAL_PRECISION}, got {precision}"
                    )));
                }
                if *scale < 0 || *scale as u8 > *precision {
                    return Err(Error::config(format!(
                        "DECIMAL scale must be 0..=precision ({precision}), got {scale}"
                    )));
                }
                Ok(())
            }
            LogicalType::Enum(values) => {
                if values.is_empty() {
                    return Err(Error::config("ENUM needs at least one value"));
                }
                let mut seen = HashSet::new();
                for v in values {
                    if !seen.insert(v) {
                        return Err(Error::config(format!("ENUM value {v:?} appears twice")));
                    }
                    if v.contains('\0') {
                        return Err(Error::config("ENUM values cannot contain NUL"));
                    }
                }
                Ok(())
            }
            LogicalType::Array(inner) => inner.validate(),
            LogicalType::String(Some(0)) | LogicalType::Binary(Some(0)) => {
                Err(Error::config("a maximum length must be at least 1"))
            }
            _ => Ok(()),
        }
    }

    pub fn is_integer(&self) -> bool {
        self.int_bits().is_some()
    }

    /// (bits, signed) for integer types.
    pub fn int_bits(&self) -> Option<(u8, bool)> {
        use LogicalType::*;
        Some(match self {
            Int8 => (8, true),
            Int16 => (16, true),
            Int32 => (32, true),
            Int64 => (64, true),
            UInt8 => (8, false),
            UInt16 => (16, false),
            UInt32 => (32, false),
            UInt64 => (64, false),
            _ => return None,
        })
    }

    /// Decimal digits needed to hold every value of an integer type.
    pub fn int_digits(&self) -> Option<u8> {
        let (bits, signed) = self.int_bits()?;
        Some(match (bits, signed) {
            (8, _) => 3,
            (16, _) => 5,
            (32, _) => 10,
            (64, true) => 19,
            (64, false) => 20,
            _ => unreachable!(),
        })
    }
}

/// Quote an ENUM label as a type-string literal.
fn quote_label(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl fmt::Display for LogicalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LogicalType::*;
        match self {
            Decimal { precision, scale } => write!(f, "DECIMAL({precision},{scale})"),
            String(Some(n)) => write!(f, "STRING({n})"),
            Binary(Some(n)) => write!(f, "BINARY({n})"),
            Array(inner) => write!(f, "ARRAY<{inner}>"),
            Enum(values) => {
                let labels: Vec<std::string::String> =
                    values.iter().map(|v| quote_label(v)).collect();
                write!(f, "ENUM({})", labels.join(","))
            }
            other => f.write_str(other.shape()),
        }
    }
}

/// A tiny recursive-descent parser for type strings.
struct TypeParser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> TypeParser<'a> {
    fn err(&self, what: &str) -> Error {
        Error::config(format!(
            "invalid type {:?}: {what} at position {}",
            self.s, self.pos
        ))
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.s[self.pos..].chars().next() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.s[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.err(&format!("expected '{c}'")))
        }
    }

    fn ident(&mut self) -> Result<String> {
        self.skip_ws();
        let start = self.pos;
        while let Some(c) = self.s[self.pos..].chars().next() {
            if c.is_ascii_alphanumeric() || c == '_' {
                self.pos += 1;
            } else {
                break;
            }
        }
        if start == self.pos {
            return Err(self.err("expected a type name"));
        }
        Ok(self.s[start..self.pos].to_ascii_uppercase())
    }

    fn number(&mut self) -> Result<u32> {
        self.skip_ws();
        let start = self.pos;
        while self.s[self.pos..].starts_with(|c: char| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.s[start..self.pos]
            .parse::<u32>()
            .map_err(|_| self.err("expected a number"))
    }

    fn label(&mut self) -> Result<String> {
        self.skip_ws();
        if !self.s[self.pos..].starts_with('\'') {
            return Err(self.err("expected a quoted ENUM label"));
        }
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.s[self.pos..].chars().next() else {
                return Err(self.err("unterminated ENUM label"));
            };
            self.pos += c.len_utf8();
            if c == '\'' {
                if self.s[self.pos..].starts_with('\'') {
                    self.pos += 1;
                    out.push('\'');
                } else {
                    return Ok(out);
                }
            } else {
                out.push(c);
            }
        }
    }

    fn length(&mut self) -> Result<Option<u32>> {
        if self.eat('(') {
            let n = self.number()?;
            self.expect(')')?;
            Ok(Some(n))
        } else {
            Ok(None)
        }
    }

    fn parse_type(&mut self) -> Result<LogicalType> {
        use LogicalType::*;
        let name = self.ident()?;
        let t = match name.as_str() {
            "BOOL" | "BOOLEAN" => Bool,
            "INT8" => Int8,
            "INT16" => Int16,
            "INT32" => Int32,
            "INT64" => Int64,
            "UINT8" => UInt8,
            "UINT16" => UInt16,
            "UINT32" => UInt32,
            "UINT64" => UInt64,
            "FLOAT32" => Float32,
            "FLOAT64" => Float64,
            "DECIMAL" => {
                self.expect('(')?;
                let p = self.number()?;
                let s = if self.eat(',') { self.number()? } else { 0 };
                self.expect(')')?;
                if p > MAX_DECIMAL_PRECISION as u32 || s > p {
                    return Err(self.err("DECIMAL precision/scale out of range"));
                }
                Decimal {
                    precision: p as u8,
                    scale: s as i8,
                }
            }
            "STRING" => String(self.length()?),
            "BINARY" => Binary(self.length()?),
            "DATE" => Date,
            "TIME" => Time,
            "TIMESTAMP" => Timestamp,
            "TIMESTAMP_TZ" | "TIMESTAMPTZ" => TimestampTz,
            "INTERVAL" => Interval,
            "UUID" => Uuid,
            "JSON" => Json,
            "GEOMETRY" => Geometry,
            "ARRAY" => {
                self.expect('<')?;
                let inner = self.parse_type()?;
                self.expect('>')?;
                Array(Box::new(inner))
            }
            "ENUM" => {
                self.expect('(')?;
                let mut values = vec![self.label()?];
                while self.eat(',') {
                    values.push(self.label()?);
                }
                self.expect(')')?;
                Enum(values)
            }
            other => {
                return Err(Error::config(format!(
                    "unknown type {other:?} in {:?} (known: BOOL, INT8..INT64, UINT8..UINT64, \
                     FLOAT32, FLOAT64, DECIMAL(p,s), STRING[(n)], BINARY[(n)], DATE, TIME, \
                     TIMESTAMP, TIMESTAMP_TZ, INTERVAL, UUID, JSON, ARRAY<T>, ENUM('a',...), GEOMETRY)",
                    self.s
                )))
            }
        };
        Ok(t)
    }
}

impl FromStr for LogicalType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let mut p = TypeParser { s, pos: 0 };
        let t = p.parse_type()?;
        p.skip_ws();
        if p.pos != s.len() {
            return Err(p.err("unexpected trailing text"));
        }
        t.validate()?;
        Ok(t)
    }
}

impl Serialize for LogicalType {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for LogicalType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: Error| serde::de::Error::custom(e.message))
    }
}

fn yes() -> bool {
    true
}

/// One column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: LogicalType,
    #[serde(default = "yes")]
    pub nullable: bool,
    /// The default as SQL expression text (as the engine reports it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Column {
    pub fn new(name: impl Into<String>, data_type: LogicalType, nullable: bool) -> Self {
        Column {
            name: name.into(),
            data_type,
            nullable,
            default: None,
            comment: None,
        }
    }
}

/// A named UNIQUE constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniqueConstraint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub columns: Vec<String>,
}

/// An index (not backing a constraint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    pub name: String,
    pub columns: Vec<String>,
    #[serde(default)]
    pub unique: bool,
}

/// A table or view listed by `list_tables`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    pub schema: String,
    pub name: String,
    /// `table`, `view`, `materialized_view`, `foreign_table` or `partitioned_table`.
    pub kind: String,
}

/// Parse SQL string literals `'a', 'b''c'` up to the closing `)` of an `IN (...)`
/// list (used to read back ENUMs rendered as `CHECK (col IN (...))`). Each literal may
/// be followed by a `::type` cast. Returns the labels and the rest of the text.
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
pub(crate) fn parse_literal_list(mut s: &str, close: &str) -> Option<(Vec<String>, usize)> {
    let start_len = s.len();
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        let rest = s.strip_prefix('\'')?;
        let mut label = String::new();
        let mut chars = rest.char_indices();
        let end;
        loop {
            let (i, c) = chars.next()?;
            if c == '\'' {
                if rest[i + 1..].starts_with('\'') {
                    label.push('\'');
                    chars.next();
                } else {
                    end = i + 1;
                    break;
                }
            } else {
                label.push(c);
            }
        }
        out.push(label);
        s = &rest[end..];
        if let Some(r) = s.strip_prefix("::") {
            let n = r
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(r.len());
            s = &r[n..];
        }
        s = s.trim_start();
        if let Some(r) = s.strip_prefix(',') {
            s = r;
        } else if s.starts_with(close) {
            return Some((out, start_len - s.len() + close.len()));
        } else {
            return None;
        }
    }
}

/// A table's shape: columns plus keys, constraints, indexes and a row estimate.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanonicalSchema {
    pub columns: Vec<Column>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<String>,
    /// The primary-key constraint name when the engine reports one (used by ALTERs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique: Vec<UniqueConstraint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
    /// From catalog statistics (never a COUNT(*)); `None` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_rows: Option<i64>,
}

impl CanonicalSchema {
    pub fn new(columns: Vec<Column>) -> Self {
        CanonicalSchema {
            columns,
            ..Default::default()
        }
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Check names are unique and non-empty, keys name existing columns, types are valid.
    pub fn validate(&self) -> Result<()> {
        let mut seen = HashSet::new();
        for c in &self.columns {
            if c.name.is_empty() {
                return Err(Error::config("a column name cannot be empty"));
            }
            if !seen.insert(c.name.as_str()) {
                return Err(Error::config(format!(
                    "column name {:?} appears twice",
                    c.name
                )));
            }
            c.data_type
                .validate()
                .map_err(|e| e.context(format!("column {:?}", c.name)))?;
        }
        let check = |what: &str, cols: &[String]| -> Result<()> {
            for k in cols {
                if !seen.contains(k.as_str()) {
                    return Err(Error::config(format!(
                        "{what} names column {k:?}, which is not in the schema"
                    )));
                }
            }
            Ok(())
        };
        check("the primary key", &self.primary_key)?;
        for u in &self.unique {
            if u.columns.is_empty() {
                return Err(Error::config(
                    "a UNIQUE constraint needs at least one column",
                ));
            }
            check("a UNIQUE constraint", &u.columns)?;
        }
        for i in &self.indexes {
            if i.columns.is_empty() {
                return Err(Error::config(format!(
                    "index {:?} needs at least one column",
                    i.name
                )));
            }
            check(&format!("index {:?}", i.name), &i.columns)?;
        }
        Ok(())
    }

    /// Compact JSON (lossless; `from_json(to_json(s)) == s`).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("schema serializes")
    }

    /// Indented JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("schema serializes")
    }

    pub fn from_json(text: &str) -> Result<Self> {
        let s: CanonicalSchema = serde_json::from_str(text)
            .map_err(|e| Error::config(format!("invalid schema JSON: {e}")))?;
        s.validate()?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_types() -> Vec<LogicalType> {
        use LogicalType::*;
        vec![
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
                precision: 18,
                scale: 4,
            },
            Decimal {
                precision: 76,
                scale: 0,
            },
            String(None),
            String(Some(255)),
            Binary(None),
            Binary(Some(16)),
            Date,
            Time,
            Timestamp,
            TimestampTz,
            Interval,
            Uuid,
            Json,
            Array(Box::new(Int32)),
            Array(Box::new(Array(Box::new(String(None))))),
            Enum(vec!["a".into(), "it's".into(), "ñ, b".into()]),
            Geometry,
        ]
    }

    #[test]
    fn type_strings_round_trip() {
        for t in all_types() {
            let s = t.to_string();
            assert_eq!(s.parse::<LogicalType>().unwrap(), t, "{s}");
        }
        assert_eq!(
            "decimal( 10 , 2 )".parse::<LogicalType>().unwrap(),
            LogicalType::Decimal {
                precision: 10,
                scale: 2
            }
        );
        assert_eq!(
            "array<enum('x')>"
                .parse::<LogicalType>()
                .unwrap()
                .to_string(),
            "ARRAY<ENUM('x')>"
        );
        assert_eq!(
            LogicalType::Enum(vec!["it's".into()]).to_string(),
            "ENUM('it''s')"
        );
        for bad in [
            "INT",
            "DECIMAL(77,0)",
            "DECIMAL(5,6)",
            "ARRAY<INT32",
            "ENUM()",
            "ENUM('a','a')",
            "STRING(0)",
            "INT32 x",
            "ENUM('a)",
        ] {
            assert!(bad.parse::<LogicalType>().is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn json_round_trip() {
        let mut s = CanonicalSchema::new(
            all_types()
                .into_iter()
                .enumerate()
                .map(|(i, t)| Column::new(format!("c{i}"), t, i % 2 == 0))
                .collect(),
        );
        s.columns[0].default = Some("'x'::text".into());
        s.columns[1].comment = Some("a \"comment\"".into());
        s.primary_key = vec!["c0".into(), "c2".into()];
        s.primary_key_name = Some("pk".into());
        s.unique = vec![UniqueConstraint {
            name: Some("u".into()),
            columns: vec!["c3".into()],
        }];
        s.indexes = vec![Index {
            name: "i".into(),
            columns: vec!["c4".into(), "c5".into()],
            unique: false,
        }];
        s.estimated_rows = Some(42);
        let j = s.to_json();
        assert_eq!(CanonicalSchema::from_json(&j).unwrap(), s);
        assert_eq!(CanonicalSchema::from_json(&s.to_json_pretty()).unwrap(), s);

        let minimal = r#"{"columns": [{"name": "id", "type": "INT64", "nullable": false},
                                       {"name": "name", "type": "STRING(255)"}],
                          "primary_key": ["id"]}"#;
        let m = CanonicalSchema::from_json(minimal).unwrap();
        assert!(m.columns[1].nullable);
        assert_eq!(m.columns[1].data_type, LogicalType::String(Some(255)));
        assert_eq!(
            m.to_json(),
            r#"{"columns":[{"name":"id","type":"INT64","nullable":false},{"name":"name","type":"STRING(255)","nullable":true}],"primary_key":["id"]}"#
        );
        for bad in [
            r#"{"columns": [{"name": "a", "type": "NOPE"}]}"#,
            r#"{"columns": [{"name": "a", "type": "INT8", "typo": 1}]}"#,
            r#"{"columns": [{"name": "a", "type": "INT8"}, {"name": "a", "type": "INT8"}]}"#,
            r#"{"columns": [{"name": "a", "type": "INT8"}], "primary_key": ["b"]}"#,
            r#"{"columns": [{"name": "", "type": "INT8"}]}"#,
        ] {
            assert!(CanonicalSchema::from_json(bad).is_err(), "{bad}");
        }
    }
}
