//! DDL rendering per SQL dialect: identifier and literal quoting, qualified table
//! names, canonical → DDL types (from [`super::mapping::DDL_TABLE`]), `CREATE TABLE`.

use std::fmt;

use super::mapping::{ddl_rule, decimal_limits, Ddl};
use super::{CanonicalSchema, Column, LogicalType};
use crate::error::{Error, ErrorKind, Result};

/// A SQL dialect DDL can be rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Postgres,
    Redshift,
    Mysql,
    Sqlite,
    Snowflake,
    Bigquery,
    Mssql,
}

impl Dialect {
    pub const ALL: [Dialect; 7] = [
        Dialect::Postgres,
        Dialect::Redshift,
        Dialect::Mysql,
        Dialect::Sqlite,
        Dialect::Snowflake,
        Dialect::Bigquery,
        Dialect::Mssql,
    ];

    pub fn index(self) -> usize {
        Dialect::ALL.iter().position(|d| *d == self).unwrap()
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Redshift => "redshift",
            Dialect::Mysql => "mysql",
            Dialect::Sqlite => "sqlite",
            Dialect::Snowflake => "snowflake",
            Dialect::Bigquery => "bigquery",
            Dialect::Mssql => "mssql",
        }
    }

    pub fn parse(s: &str) -> Result<Dialect> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Dialect::Postgres,
            "redshift" => Dialect::Redshift,
            "mysql" | "mariadb" => Dialect::Mysql,
            "sqlite" | "sqlite3" => Dialect::Sqlite,
            "snowflake" => Dialect::Snowflake,
            "bigquery" => Dialect::Bigquery,
            "mssql" | "sqlserver" | "tsql" => Dialect::Mssql,
            other => {
                return Err(Error::config(format!(
                    "unknown SQL dialect {other:?} (expected one of postgres, redshift, mysql, \
                     sqlite, snowflake, bigquery, mssql)"
                )))
            }
        })
    }

    /// Whether DDL runs inside a transaction (all-or-nothing `apply`).
    pub fn transactional_ddl(self) -> bool {
        matches!(
            self,
            Dialect::Postgres | Dialect::Redshift | Dialect::Sqlite | Dialect::Mssql
        )
    }

    /// Longest identifier (bytes for postgres/redshift, characters otherwise).
    fn max_ident(self) -> Option<(usize, bool)> {
        match self {
            Dialect::Postgres => Some((63, true)),
            Dialect::Redshift => Some((127, true)),
            Dialect::Mysql => Some((64, false)),
            Dialect::Mssql => Some((128, false)),
            Dialect::Snowflake => Some((255, false)),
            Dialect::Bigquery => Some((300, false)),
            Dialect::Sqlite => None,
        }
    }

    /// Quote one identifier for this dialect. Fails on NUL, empty and over-long names.
    pub fn quote_ident(self, name: &str) -> Result<String> {
        if name.is_empty() {
            return Err(Error::config("an identifier cannot be empty"));
        }
        if name.contains('\0') {
            return Err(Error::config(format!(
                "identifier {name:?} contains a NUL character"
            )));
        }
        if let Some((max, bytes)) = self.max_ident() {
            let len = if bytes {
                name.len()
            } else {
                name.chars().count()
            };
            if len > max {
                return Err(Error::config(format!(
                    "identifier {name:?} is longer than {} allows ({max} {}); it would be truncated",
                    self.name(),
                    if bytes { "bytes" } else { "characters" }
                )));
            }
        }
        Ok(match self {
            Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
            Dialect::Bigquery => format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`")),
            Dialect::Mssql => format!("[{}]", name.replace(']', "]]")),
            _ => format!("\"{}\"", name.replace('"', "\"\"")),
        })
    }

    /// A string literal.
    pub fn quote_literal(self, s: &str) -> String {
        match self {
            Dialect::Mysql | Dialect::Bigquery | Dialect::Snowflake => {
                format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
            }
            Dialect::Mssql => format!("N'{}'", s.replace('\'', "''")),
            _ => format!("'{}'", s.replace('\'', "''")),
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A possibly qualified table name (`table`, `schema.table`, `db.schema.table`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    pub parts: Vec<String>,
}

impl TableName {
    pub fn new(parts: Vec<String>) -> Result<TableName> {
        if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(Error::config(format!(
                "invalid table name {parts:?}: expected 1 to 3 non-empty parts"
            )));
        }
        Ok(TableName { parts })
    }

    /// Split `schema.table` on dots outside double quotes; a part wrapped in double
    /// quotes is taken literally (`"my.schema"."t"`, `""` for a quote inside).
    pub fn parse(s: &str) -> Result<TableName> {
        let mut parts = Vec::new();
        let mut cur = String::new();
        let mut chars = s.chars().peekable();
        let mut quoted_part = false;
        while let Some(c) = chars.next() {
            if c == '"' && cur.is_empty() && !quoted_part {
                quoted_part = true;
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            cur.push('"');
                        }
                        Some('"') => break,
                        Some(x) => cur.push(x),
                        None => return Err(Error::config(format!("unterminated quote in {s:?}"))),
                    }
                }
            } else if c == '.' {
                parts.push(std::mem::take(&mut cur));
                quoted_part = false;
            } else if quoted_part {
                return Err(Error::config(format!(
                    "unexpected text after a quoted name in {s:?}"
                )));
            } else {
                cur.push(c);
            }
        }
        parts.push(cur);
        TableName::new(parts)
    }

    pub fn name(&self) -> &str {
        self.parts.last().unwrap()
    }

    /// The schema (dataset) part, when qualified.
    pub fn schema(&self) -> Option<&str> {
        (self.parts.len() >= 2).then(|| self.parts[self.parts.len() - 2].as_str())
    }

    pub fn quoted(&self, d: Dialect) -> Result<String> {
        let q = self
            .parts
            .iter()
            .map(|p| d.quote_ident(p))
            .collect::<Result<Vec<_>>>()?;
        Ok(q.join("."))
    }

    /// The same qualification with another last part (e.g. an index or temp table name).
    pub fn sibling(&self, name: &str) -> TableName {
        let mut parts = self.parts.clone();
        *parts.last_mut().unwrap() = name.to_string();
        TableName { parts }
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.parts.join("."))
    }
}

/// Options for DDL rendering. Both are off by default: a type without an equivalent
/// is an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DdlOptions {
    /// Write UINT64 as `NUMERIC(20,0)` where the dialect has no unsigned 64-bit type.
    pub widen_unsigned: bool,
    /// Write types the dialect lacks (UUID, ENUM, ARRAY, JSON, GEOMETRY) as its
    /// text/JSON/bytes type instead of failing.
    pub text_fallback: bool,
}

fn no_equivalent(d: Dialect, col: Option<&str>, t: &LogicalType, hint: &str) -> Error {
    let who = col.map(|c| format!("column \"{c}\": ")).unwrap_or_default();
    let mut msg = format!("{who}type {t} has no equivalent in {d}");
    if !hint.is_empty() {
        msg.push_str("; ");
        msg.push_str(hint);
    }
    let mut e = Error::new(ErrorKind::UnsupportedType, msg).with_detail("type_name", t.to_string());
    if let Some(c) = col {
        e = e.with_detail("column", c);
    }
    e
}

/// The DDL type of `t` in dialect `d`. `col` is the unquoted column name (for CHECK
/// constraints and messages); `None` inside an array.
pub fn render_type(
    d: Dialect,
    t: &LogicalType,
    col: Option<&str>,
    opts: DdlOptions,
) -> Result<String> {
    let tpl = match ddl_rule(t.shape(), d) {
        Ddl::Native(s) => s,
        Ddl::Widen(s) if opts.widen_unsigned => s,
        Ddl::Widen(s) => {
            return Err(no_equivalent(
                d,
                col,
                t,
                &format!("pass widen_unsigned=True to write it as {s}"),
            ))
        }
        Ddl::Fallback(s) if opts.text_fallback => s,
        Ddl::Fallback(s) => {
            return Err(no_equivalent(
                d,
                col,
                t,
                &format!("pass text_fallback=True to write it as {s}"),
            ))
        }
        Ddl::No => return Err(no_equivalent(d, col, t, "")),
    };
    let mut out = tpl.to_string();
    match t {
        LogicalType::Decimal { precision, scale } => {
            let (p, s) = (*precision as u32, *scale as u32);
            let (max_p, max_s) = decimal_limits(d);
            if p > max_p || s > max_s {
                return Err(no_equivalent(
                    d,
                    col,
                    t,
                    &format!("{d} allows precision <= {max_p} and scale <= {max_s}"),
                ));
            }
            if d == Dialect::Bigquery && (p - s > 29 || s > 9) {
                out = "BIGNUMERIC({p},{s})".into();
            }
            if d == Dialect::Sqlite {
                out = super::mapping::sqlite_decimal_decl(p, s);
            }
            out = out
                .replace("{p}", &p.to_string())
                .replace("{s}", &s.to_string());
        }
        LogicalType::String(Some(n)) | LogicalType::Binary(Some(n)) => {
            let limit = match (d, t) {
                (Dialect::Mssql, LogicalType::String(_)) => Some(4000),
                (Dialect::Mssql, LogicalType::Binary(_)) => Some(8000),
                (Dialect::Redshift, _) => Some(65535),
                _ => None,
            };
            if let Some(l) = limit {
                if *n > l {
                    return Err(no_equivalent(
                        d,
                        col,
                        t,
                        &format!("{d} allows lengths up to {l}; use an unbounded type"),
                    ));
                }
            }
            out = out.replace("{n}", &n.to_string());
        }
        LogicalType::Array(inner) if out.contains("{t}") => {
            if matches!(**inner, LogicalType::Array(_)) {
                return Err(no_equivalent(
                    d,
                    col,
                    t,
                    "nested (multi-dimensional) arrays are not supported",
                ));
            }
            let it = render_type(d, inner, None, opts).map_err(|e| {
                e.context(format!(
                    "{}element type of {t}",
                    col.map(|c| format!("column \"{c}\": ")).unwrap_or_default()
                ))
            })?;
            out = out.replace("{t}", &it);
        }
        LogicalType::Enum(values) => {
            if out.contains("{col}") {
                let Some(c) = col else {
                    return Err(no_equivalent(
                        d,
                        col,
                        t,
                        "an ENUM inside an ARRAY needs a native enum type",
                    ));
                };
                out = out.replace("{col}", &d.quote_ident(c)?);
            }
            let labels: Vec<String> = values.iter().map(|v| d.quote_literal(v)).collect();
            let maxlen = values
                .iter()
                .map(|v| v.chars().count())
                .max()
                .unwrap_or(1)
                .max(1);
            out = out
                .replace("{values}", &labels.join(", "))
                .replace("{maxlen}", &maxlen.to_string());
        }
        _ => {}
    }
    Ok(out)
}

/// One column definition (`"name" TYPE [NOT NULL] [DEFAULT expr] [COMMENT ...]`).
pub fn column_def(d: Dialect, c: &Column, opts: DdlOptions) -> Result<String> {
    let mut s = format!(
        "{} {}",
        d.quote_ident(&c.name)?,
        render_type(d, &c.data_type, Some(&c.name), opts)?
    );
    if !c.nullable {
        s.push_str(" NOT NULL");
    }
    if let Some(clause) = super::defaults::render_default(d, c)? {
        s.push(' ');
        s.push_str(&clause);
    }
    if let Some(comment) = &c.comment {
        match d {
            Dialect::Mysql | Dialect::Snowflake => {
                s.push_str(" COMMENT ");
                s.push_str(&d.quote_literal(comment));
            }
            Dialect::Bigquery => {
                s.push_str(&format!(
                    " OPTIONS(description={})",
                    d.quote_literal(comment)
                ));
            }
            _ => {}
        }
    }
    Ok(s)
}

pub fn quote_list(d: Dialect, cols: &[String]) -> Result<String> {
    Ok(cols
        .iter()
        .map(|c| d.quote_ident(c))
        .collect::<Result<Vec<_>>>()?
        .join(", "))
}

/// `CREATE INDEX` for one index (None where the dialect has no indexes).
pub fn index_statement(
    d: Dialect,
    table: &TableName,
    idx: &super::Index,
    if_not_exists: bool,
) -> Result<Option<String>> {
    let unique = if idx.unique { "UNIQUE " } else { "" };
    let cols = quote_list(d, &idx.columns)?;
    let qt = table.quoted(d)?;
    Ok(Some(match d {
        Dialect::Redshift | Dialect::Snowflake | Dialect::Bigquery => return Ok(None),
        Dialect::Postgres => format!(
            "CREATE {unique}INDEX {}{} ON {qt} ({cols})",
            if if_not_exists { "IF NOT EXISTS " } else { "" },
            d.quote_ident(&idx.name)?
        ),
        Dialect::Sqlite => format!(
            "CREATE {unique}INDEX {}{} ON {} ({cols})",
            if if_not_exists { "IF NOT EXISTS " } else { "" },
            table.sibling(&idx.name).quoted(d)?,
            d.quote_ident(table.name())?
        ),
        Dialect::Mysql => format!(
            "CREATE {unique}INDEX {} ON {qt} ({cols})",
            d.quote_ident(&idx.name)?
        ),
        Dialect::Mssql => {
            let stmt = format!(
                "CREATE {unique}INDEX {} ON {qt} ({cols})",
                d.quote_ident(&idx.name)?
            );
            if if_not_exists {
                format!(
                    "IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = {} AND object_id = OBJECT_ID({})) {stmt}",
                    d.quote_literal(&idx.name),
                    d.quote_literal(&qt)
                )
            } else {
                stmt
            }
        }
    }))
}

/// Whether `name` is the one PostgreSQL generates for a constraint of `columns` on
/// some table (`orders_code_key`): it names the source table, so a table created from
/// the schema lets its own engine name the constraint instead of reusing one that
/// would collide in the same schema.
fn is_generated_name(name: &str, columns: &[String], suffix: &str) -> bool {
    let tail = format!("_{}_{suffix}", columns.join("_"));
    name.len() > tail.len() && name.ends_with(&tail)
}

impl CanonicalSchema {
    /// The statements creating this table (CREATE TABLE, then indexes and comments).
    pub fn to_ddl_statements(
        &self,
        d: Dialect,
        table: &TableName,
        if_not_exists: bool,
        opts: DdlOptions,
    ) -> Result<Vec<String>> {
        self.validate()?;
        if self.columns.is_empty() {
            return Err(Error::config("a table needs at least one column"));
        }
        let qt = table.quoted(d)?;
        let mut items = Vec::new();
        for c in &self.columns {
            items.push(column_def(d, c, opts)?);
        }
        if !self.primary_key.is_empty() {
            let pk = format!("PRIMARY KEY ({})", quote_list(d, &self.primary_key)?);
            items.push(if d == Dialect::Bigquery {
                format!("{pk} NOT ENFORCED")
            } else {
                pk
            });
        }
        if d != Dialect::Bigquery {
            for u in &self.unique {
                let cols = quote_list(d, &u.columns)?;
                items.push(match &u.name {
                    Some(n) if !is_generated_name(n, &u.columns, "key") => {
                        format!("CONSTRAINT {} UNIQUE ({cols})", d.quote_ident(n)?)
                    }
                    _ => format!("UNIQUE ({cols})"),
                });
            }
        }
        if d == Dialect::Mysql {
            for i in &self.indexes {
                items.push(format!(
                    "{}INDEX {} ({})",
                    if i.unique { "UNIQUE " } else { "" },
                    d.quote_ident(&i.name)?,
                    quote_list(d, &i.columns)?
                ));
            }
        }
        let body = items
            .iter()
            .map(|i| format!("    {i}"))
            .collect::<Vec<_>>()
            .join(",\n");
        let create = match (d, if_not_exists) {
            (Dialect::Mssql, true) => format!(
                "IF OBJECT_ID({}, N'U') IS NULL CREATE TABLE {qt} (\n{body}\n)",
                d.quote_literal(&qt)
            ),
            (_, true) => format!("CREATE TABLE IF NOT EXISTS {qt} (\n{body}\n)"),
            (_, false) => format!("CREATE TABLE {qt} (\n{body}\n)"),
        };
        let mut out = vec![create];
        if d != Dialect::Mysql {
            for i in &self.indexes {
                if let Some(s) = index_statement(d, table, i, if_not_exists)? {
                    out.push(s);
                }
            }
        }
        if matches!(d, Dialect::Postgres | Dialect::Redshift) {
            for c in &self.columns {
                if let Some(comment) = &c.comment {
                    out.push(format!(
                        "COMMENT ON COLUMN {qt}.{} IS {}",
                        d.quote_ident(&c.name)?,
                        d.quote_literal(comment)
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The DDL as one script (statements separated by `;` and newlines).
    pub fn to_ddl(
        &self,
        d: Dialect,
        table: &TableName,
        if_not_exists: bool,
        opts: DdlOptions,
    ) -> Result<String> {
        Ok(join_statements(&self.to_ddl_statements(
            d,
            table,
            if_not_exists,
            opts,
        )?))
    }
}

pub fn join_statements(stmts: &[String]) -> String {
    let mut s = stmts.join(";\n");
    if !s.is_empty() {
        s.push(';');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Index, UniqueConstraint};

    fn t(s: &str) -> LogicalType {
        s.parse().unwrap()
    }

    #[test]
    fn quoting() {
        let n = "we\"ird `na]me";
        assert_eq!(
            Dialect::Postgres.quote_ident(n).unwrap(),
            "\"we\"\"ird `na]me\""
        );
        assert_eq!(Dialect::Mysql.quote_ident(n).unwrap(), "`we\"ird ``na]me`");
        assert_eq!(Dialect::Mssql.quote_ident(n).unwrap(), "[we\"ird `na]]me]");
        assert_eq!(
            Dialect::Bigquery.quote_ident("a`b\\c").unwrap(),
            "`a\\`b\\\\c`"
        );
        assert_eq!(Dialect::Sqlite.quote_ident("select").unwrap(), "\"select\"");
        assert_eq!(Dialect::Postgres.quote_ident("ñandú").unwrap(), "\"ñandú\"");
        for d in Dialect::ALL {
            assert!(d.quote_ident("a\0b").is_err());
            assert!(d.quote_ident("").is_err());
        }
        assert!(Dialect::Postgres.quote_ident(&"x".repeat(64)).is_err());
        assert!(Dialect::Postgres.quote_ident(&"x".repeat(63)).is_ok());
        assert!(Dialect::Postgres.quote_ident(&"é".repeat(32)).is_err());
        assert!(Dialect::Mysql.quote_ident(&"é".repeat(64)).is_ok());
        assert_eq!(Dialect::Postgres.quote_literal("it's"), "'it''s'");
        assert_eq!(Dialect::Mysql.quote_literal("it's \\"), "'it\\'s \\\\'");
        assert_eq!(Dialect::Mssql.quote_literal("ñ'"), "N'ñ'''");
    }

    #[test]
    fn table_names() {
        assert_eq!(TableName::parse("t").unwrap().parts, vec!["t"]);
        assert_eq!(TableName::parse("s.t").unwrap().parts, vec!["s", "t"]);
        assert_eq!(
            TableName::parse("\"my.schema\".\"a\"\"b\"").unwrap().parts,
            vec!["my.schema", "a\"b"]
        );
        assert_eq!(TableName::parse("we\"ird").unwrap().parts, vec!["we\"ird"]);
        assert!(TableName::parse("a..b").is_err());
        assert!(TableName::parse("a.b.c.d").is_err());
        assert!(TableName::parse("\"a").is_err());
        let tn = TableName::parse("s.t").unwrap();
        assert_eq!(tn.quoted(Dialect::Mssql).unwrap(), "[s].[t]");
        assert_eq!(tn.quoted(Dialect::Bigquery).unwrap(), "`s`.`t`");
        assert_eq!(tn.schema(), Some("s"));
    }

    #[test]
    fn types_per_dialect() {
        let o = DdlOptions::default();
        let r = |d, s: &str| render_type(d, &t(s), Some("c"), o);
        assert_eq!(
            r(Dialect::Postgres, "DECIMAL(18,4)").unwrap(),
            "NUMERIC(18,4)"
        );
        assert_eq!(
            r(Dialect::Postgres, "ARRAY<STRING(3)>").unwrap(),
            "VARCHAR(3)[]"
        );
        assert!(r(Dialect::Postgres, "ARRAY<ARRAY<INT32>>").is_err());
        assert!(r(Dialect::Postgres, "ARRAY<ENUM('a')>").is_err());
        assert_eq!(
            r(Dialect::Postgres, "ENUM('a','b''c')").unwrap(),
            "TEXT CHECK (\"c\" IN ('a', 'b''c'))"
        );
        assert_eq!(
            r(Dialect::Mysql, "ENUM('a','b')").unwrap(),
            "ENUM('a', 'b')"
        );
        assert_eq!(
            r(Dialect::Mssql, "ENUM('a','bcd')").unwrap(),
            "NVARCHAR(3) CHECK ([c] IN (N'a', N'bcd'))"
        );
        let e = r(Dialect::Postgres, "UINT64").unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedType);
        assert!(e.message.contains("widen_unsigned"), "{}", e.message);
        assert_eq!(
            render_type(
                Dialect::Postgres,
                &t("UINT64"),
                None,
                DdlOptions {
                    widen_unsigned: true,
                    ..o
                }
            )
            .unwrap(),
            "NUMERIC(20,0)"
        );
        assert!(r(Dialect::Sqlite, "UINT64").is_err());
        assert!(render_type(
            Dialect::Sqlite,
            &t("UINT64"),
            None,
            DdlOptions {
                widen_unsigned: true,
                text_fallback: true
            }
        )
        .is_err());
        assert_eq!(r(Dialect::Mysql, "UINT64").unwrap(), "BIGINT UNSIGNED");
        let e = r(Dialect::Mysql, "INTERVAL").unwrap_err();
        assert!(
            e.message.contains("no equivalent in mysql"),
            "{}",
            e.message
        );
        assert!(r(Dialect::Mysql, "UUID").is_err());
        assert_eq!(
            render_type(
                Dialect::Mysql,
                &t("UUID"),
                None,
                DdlOptions {
                    text_fallback: true,
                    ..o
                }
            )
            .unwrap(),
            "CHAR(36)"
        );
        assert_eq!(
            r(Dialect::Bigquery, "DECIMAL(20,5)").unwrap(),
            "NUMERIC(20,5)"
        );
        assert_eq!(
            r(Dialect::Bigquery, "DECIMAL(40,5)").unwrap(),
            "BIGNUMERIC(40,5)"
        );
        assert_eq!(
            r(Dialect::Bigquery, "ARRAY<INT32>").unwrap(),
            "ARRAY<INT64>"
        );
        assert!(r(Dialect::Redshift, "DECIMAL(40,5)").is_err());
        assert!(r(Dialect::Mssql, "STRING(5000)").is_err());
        assert_eq!(r(Dialect::Snowflake, "TIMESTAMP").unwrap(), "TIMESTAMP_NTZ");
        assert_eq!(r(Dialect::Mssql, "UUID").unwrap(), "UNIQUEIDENTIFIER");
        // Every shape renders or fails cleanly in every dialect.
        for d in Dialect::ALL {
            for row in super::super::mapping::DDL_TABLE {
                let ex = match row.shape {
                    "DECIMAL(p,s)" => "DECIMAL(10,2)",
                    "STRING(n)" => "STRING(10)",
                    "BINARY(n)" => "BINARY(10)",
                    "ARRAY<T>" => "ARRAY<INT32>",
                    "ENUM(...)" => "ENUM('a')",
                    s => s,
                };
                let full = DdlOptions {
                    widen_unsigned: true,
                    text_fallback: true,
                };
                let res = render_type(d, &t(ex), Some("c"), full);
                if !(d == Dialect::Sqlite && ex == "UINT64") && ex != "INTERVAL" {
                    assert!(res.is_ok(), "{d} {ex}: {res:?}");
                }
            }
        }
    }

    fn sample() -> CanonicalSchema {
        let mut s = CanonicalSchema::new(vec![
            Column::new("id", t("INT64"), false),
            Column::new("my col", t("STRING(20)"), true),
            Column::new("select", t("DECIMAL(10,2)"), true),
        ]);
        s.columns[1].comment = Some("it's".into());
        s.columns[2].default = Some("0".into());
        s.primary_key = vec!["id".into()];
        s.unique = vec![UniqueConstraint {
            name: Some("u_name".into()),
            columns: vec!["my col".into()],
        }];
        s.indexes = vec![Index {
            name: "ix".into(),
            columns: vec!["select".into()],
            unique: false,
        }];
        s
    }

    #[test]
    fn create_table_per_dialect() {
        let s = sample();
        let o = DdlOptions::default();
        let tn = TableName::parse("sch.t").unwrap();
        assert_eq!(
            s.to_ddl(Dialect::Postgres, &tn, true, o).unwrap(),
            "CREATE TABLE IF NOT EXISTS \"sch\".\"t\" (\n    \"id\" BIGINT NOT NULL,\n    \"my col\" VARCHAR(20),\n    \"select\" NUMERIC(10,2) DEFAULT 0,\n    PRIMARY KEY (\"id\"),\n    CONSTRAINT \"u_name\" UNIQUE (\"my col\")\n);\n\
             CREATE INDEX IF NOT EXISTS \"ix\" ON \"sch\".\"t\" (\"select\");\n\
             COMMENT ON COLUMN \"sch\".\"t\".\"my col\" IS 'it''s';"
        );
        assert_eq!(
            s.to_ddl(Dialect::Mysql, &tn, false, o).unwrap(),
            "CREATE TABLE `sch`.`t` (\n    `id` BIGINT NOT NULL,\n    `my col` VARCHAR(20) COMMENT 'it\\'s',\n    `select` DECIMAL(10,2) DEFAULT 0,\n    PRIMARY KEY (`id`),\n    CONSTRAINT `u_name` UNIQUE (`my col`),\n    INDEX `ix` (`select`)\n);"
        );
        let sq = s.to_ddl(Dialect::Sqlite, &tn, true, o).unwrap();
        assert!(
            sq.contains("CREATE INDEX IF NOT EXISTS \"sch\".\"ix\" ON \"t\""),
            "{sq}"
        );
        let ms = s.to_ddl(Dialect::Mssql, &tn, true, o).unwrap();
        assert!(
            ms.starts_with("IF OBJECT_ID(N'[sch].[t]', N'U') IS NULL CREATE TABLE [sch].[t]"),
            "{ms}"
        );
        let bq = s.to_ddl(Dialect::Bigquery, &tn, false, o).unwrap();
        assert!(bq.contains("PRIMARY KEY (`id`) NOT ENFORCED"), "{bq}");
        assert!(bq.contains("OPTIONS(description='it\\'s')"), "{bq}");
        assert!(!bq.contains("UNIQUE") && !bq.contains("INDEX"), "{bq}");
        let sf = s.to_ddl(Dialect::Snowflake, &tn, false, o).unwrap();
        assert!(!sf.contains("INDEX"), "{sf}");
        for d in Dialect::ALL {
            s.to_ddl(d, &tn, true, o).unwrap();
        }
        let mut bad = s.clone();
        bad.columns.push(Column::new("u", t("UINT64"), true));
        let e = bad.to_ddl(Dialect::Postgres, &tn, false, o).unwrap_err();
        assert!(e.message.contains("column \"u\""), "{}", e.message);
        assert!(CanonicalSchema::default()
            .to_ddl(Dialect::Postgres, &tn, false, o)
            .is_err());
    }
}
