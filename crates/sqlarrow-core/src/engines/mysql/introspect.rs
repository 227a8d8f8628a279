//! MySQL/MariaDB introspection (`information_schema`) into the canonical schema, and
//! DDL. A MySQL "schema" is a database; without one, the connection's current
//! database (`DATABASE()`) is used.
//!
//! MySQL DDL is not transactional (every statement commits implicitly), so
//! [`MySqlConnector::run_ddl`] runs the statements in order and stops at the first
//! failure, reporting which statements already ran.
//!
//! A UNIQUE constraint and a UNIQUE index are the same object in MySQL: every unique
//! index other than `PRIMARY` reads back as a [`UniqueConstraint`]; only non-unique
//! indexes are listed as [`Index`]es. Indexes on expressions are skipped.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

use super::{map_err, MySqlConnector};
use crate::cancel::CancelSlot;
use crate::error::{Error, ErrorKind, Result};
use crate::schema::{
    CanonicalSchema, Column, Dialect, Index, LogicalType, TableInfo, UniqueConstraint,
};

const SYSTEM_SCHEMAS: &str = "('information_schema', 'mysql', 'performance_schema', 'sys')";

/// A catalog row cell as text (`NULL` → `None`).
fn text(r: &Row, i: usize) -> Option<String> {
    match r.as_ref(i)? {
        mysql_async::Value::NULL => None,
        mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        mysql_async::Value::Int(v) => Some(v.to_string()),
        mysql_async::Value::UInt(v) => Some(v.to_string()),
        other => Some(other.as_sql(true)),
    }
}

fn int(r: &Row, i: usize) -> Option<i64> {
    text(r, i).and_then(|s| s.trim().parse().ok())
}

impl MySqlConnector {
    /// Run catalog queries on one checked-out connection.
    async fn with_conn<T, F>(&self, f: F) -> Result<T>
    where
        F: for<'c> FnOnce(
            &'c mut Conn,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T>> + Send + 'c>,
        >,
    {
        let cancel = CancelSlot::new();
        let mut conn = self.checkout(&cancel).await?;
        let res = f(&mut conn).await;
        self.finish(conn, &res, false, &cancel).await;
        res
    }

    pub async fn list_schemas(&self) -> Result<Vec<String>> {
        self.with_conn(|c| {
            Box::pin(async move {
                let rows: Vec<Row> = c
                    .query(format!(
                        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA \
                         WHERE SCHEMA_NAME NOT IN {SYSTEM_SCHEMAS} ORDER BY 1"
                    ))
                    .await
                    .map_err(map_err)?;
                Ok(rows.iter().filter_map(|r| text(r, 0)).collect())
            })
        })
        .await
    }

    /// Tables and views of `schema` (default: the current database; all user
    /// databases when the connection has none).
    pub async fn list_tables(&self, schema: Option<&str>) -> Result<Vec<TableInfo>> {
        let schema = schema.map(str::to_string);
        self.with_conn(|c| {
            Box::pin(async move {
                let sql = format!(
                    "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES \
                     WHERE TABLE_SCHEMA NOT IN {SYSTEM_SCHEMAS} \
                     AND (TABLE_SCHEMA = COALESCE(?, DATABASE()) \
                          OR (? IS NULL AND DATABASE() IS NULL)) \
                     ORDER BY 1, 2"
                );
                let rows: Vec<Row> = c
                    .exec(sql, (schema.clone(), schema))
                    .await
                    .map_err(map_err)?;
                Ok(rows
                    .iter()
                    .map(|r| TableInfo {
                        schema: text(r, 0).unwrap_or_default(),
                        name: text(r, 1).unwrap_or_default(),
                        kind: match text(r, 2).as_deref() {
                            Some("VIEW") | Some("SYSTEM VIEW") => "view",
                            _ => "table",
                        }
                        .to_string(),
                    })
                    .collect())
            })
        })
        .await
    }

    /// (database, TABLE_ROWS) of a table or view; `None` when it does not exist.
    async fn resolve(
        c: &mut Conn,
        table: &str,
        schema: Option<&str>,
    ) -> Result<Option<(String, Option<i64>)>> {
        let rows: Vec<Row> = c
            .exec(
                "SELECT TABLE_SCHEMA, CAST(TABLE_ROWS AS SIGNED), TABLE_TYPE \
                 FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?",
                (schema, table),
            )
            .await
            .map_err(map_err)?;
        Ok(rows.first().map(|r| {
            let is_view = text(r, 2).is_some_and(|k| k.contains("VIEW"));
            (
                text(r, 0).unwrap_or_default(),
                if is_view { None } else { int(r, 1) },
            )
        }))
    }

    pub async fn table_exists(&self, table: &str, schema: Option<&str>) -> Result<bool> {
        let (table, schema) = (table.to_string(), schema.map(str::to_string));
        self.with_conn(|c| {
            Box::pin(
                async move { Ok(Self::resolve(c, &table, schema.as_deref()).await?.is_some()) },
            )
        })
        .await
    }

    pub async fn get_schema(&self, table: &str, schema: Option<&str>) -> Result<CanonicalSchema> {
        let (table, schema) = (table.to_string(), schema.map(str::to_string));
        let mariadb_known = self.mariadb.get().copied();
        let out = self
            .with_conn(|c| {
                Box::pin(async move {
                    let mariadb = match mariadb_known {
                        Some(v) => v,
                        None => Self::version_on(c).await?.contains("MariaDB"),
                    };
                    let r = read_schema(c, &table, schema.as_deref(), mariadb).await;
                    r.map(|s| (s, mariadb))
                })
            })
            .await?;
        let _ = self.mariadb.set(out.1);
        Ok(out.0)
    }

    /// Run DDL statements in order on one connection. MySQL DDL is not transactional:
    /// each statement commits on its own, so a failure leaves the earlier statements
    /// applied; the error lists them.
    pub async fn run_ddl(&self, statements: &[String]) -> Result<()> {
        let statements = statements.to_vec();
        self.with_conn(|c| {
            Box::pin(async move {
                for (i, s) in statements.iter().enumerate() {
                    if let Err(e) = c.query_drop(s.as_str()).await {
                        let done = &statements[..i];
                        let ran = if done.is_empty() {
                            "no earlier statement ran".to_string()
                        } else {
                            format!(
                                "MySQL DDL is not transactional: these {} statement(s) already ran \
                                 and were NOT rolled back: {}",
                                done.len(),
                                done.iter()
                                    .map(|d| format!("{d:?}"))
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            )
                        };
                        return Err(map_err(e)
                            .context(format!("while running {s:?} ({ran})"))
                            .with_detail("statements_run", i.to_string()));
                    }
                }
                Ok(())
            })
        })
        .await
    }
}

async fn read_schema(
    c: &mut Conn,
    table: &str,
    schema: Option<&str>,
    mariadb: bool,
) -> Result<CanonicalSchema> {
    let Some((db, table_rows)) = MySqlConnector::resolve(c, table, schema).await? else {
        let name = match schema {
            Some(s) => format!("{s}.{table}"),
            None => table.to_string(),
        };
        return Err(Error::new(
            ErrorKind::UndefinedObject,
            format!("table {name:?} does not exist"),
        )
        .with_detail("table", name));
    };
    // MariaDB's JSON is LONGTEXT with a `json_valid(col)` CHECK constraint.
    let mut json_cols: Vec<String> = Vec::new();
    if mariadb {
        let rows: Vec<Row> = c
            .exec(
                "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
                 WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?",
                (&db, table),
            )
            .await
            .map_err(map_err)?;
        json_cols.extend(
            rows.iter()
                .filter_map(|r| text(r, 0))
                .filter_map(|s| json_valid_column(&s)),
        );
    }
    let rows: Vec<Row> = c
        .exec(
            "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, COLUMN_COMMENT \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             ORDER BY ORDINAL_POSITION",
            (&db, table),
        )
        .await
        .map_err(map_err)?;
    let mut columns = Vec::with_capacity(rows.len());
    for r in &rows {
        let name = text(r, 0).unwrap_or_default();
        let column_type = text(r, 1).unwrap_or_default();
        let mut data_type = mysql_canonical(&column_type).ok_or_else(|| {
            Error::unsupported_type(
                &name,
                &column_type,
                "it has no canonical type (cast it in a view to read it)",
            )
        })?;
        if matches!(data_type, LogicalType::String(None)) && json_cols.contains(&name) {
            data_type = LogicalType::Json;
        }
        let extra = text(r, 4).unwrap_or_default();
        let default = text(r, 3)
            .and_then(|d| mysql_default(&d, &data_type, &extra, mariadb))
            .map(|d| crate::schema::defaults::canonical_default(&d));
        columns.push(Column {
            name,
            data_type,
            nullable: text(r, 2).as_deref() == Some("YES"),
            default,
            comment: text(r, 5).filter(|s| !s.is_empty()),
        });
    }
    let mut out = CanonicalSchema::new(columns);
    out.estimated_rows = table_rows;
    let rows: Vec<Row> = c
        .exec(
            "SELECT INDEX_NAME, CAST(NON_UNIQUE AS SIGNED), COLUMN_NAME \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX",
            (&db, table),
        )
        .await
        .map_err(map_err)?;
    // (name, unique, columns, has an expression part)
    let mut indexes: Vec<(String, bool, Vec<String>, bool)> = Vec::new();
    for r in &rows {
        let name = text(r, 0).unwrap_or_default();
        let unique = int(r, 1) == Some(0);
        let col = text(r, 2);
        match indexes.last_mut() {
            Some(last) if last.0 == name => match col {
                Some(col) => last.2.push(col),
                None => last.3 = true,
            },
            _ => {
                let expr = col.is_none();
                indexes.push((name, unique, col.into_iter().collect(), expr));
            }
        }
    }
    for (name, unique, cols, expr) in indexes {
        if expr {
            continue;
        }
        if name == "PRIMARY" {
            out.primary_key = cols;
        } else if unique {
            out.unique.push(UniqueConstraint {
                name: Some(name),
                columns: cols,
            });
        } else {
            out.indexes.push(Index {
                name,
                columns: cols,
                unique: false,
            });
        }
    }
    Ok(out)
}

/// `json_valid(`col`)` → `col`.
fn json_valid_column(clause: &str) -> Option<String> {
    let c = clause.trim();
    let inner = c
        .get(..11)
        .filter(|p| p.eq_ignore_ascii_case("json_valid("))
        .and(c.get(11..))?
        .strip_suffix(')')?
        .trim();
    let q = inner.strip_prefix('`')?.strip_suffix('`')?;
    // Inside: doubled backticks only.
    let mut out = String::new();
    let mut chars = q.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '`' && chars.next() != Some('`') {
            return None;
        }
        out.push(ch);
    }
    Some(out)
}

/// The default as SQL expression text. MariaDB reports expressions (`'abc'`, `NULL`
/// for none); MySQL reports raw values (quoted here unless numeric or an expression).
fn mysql_default(raw: &str, t: &LogicalType, extra: &str, mariadb: bool) -> Option<String> {
    if mariadb {
        return (!raw.eq_ignore_ascii_case("NULL")).then(|| raw.to_string());
    }
    let upper_extra = extra.to_ascii_uppercase();
    if upper_extra.contains("DEFAULT_GENERATED") {
        let u = raw.to_ascii_uppercase();
        return Some(
            if u.starts_with("CURRENT_TIMESTAMP") || u.starts_with("NOW(") {
                raw.to_string()
            } else {
                format!("({raw})")
            },
        );
    }
    let numeric = t.is_integer()
        || matches!(
            t,
            LogicalType::Bool
                | LogicalType::Float32
                | LogicalType::Float64
                | LogicalType::Decimal { .. }
        );
    if (numeric && raw.parse::<f64>().is_ok()) || raw.starts_with("b'") {
        Some(raw.to_string())
    } else {
        Some(Dialect::Mysql.quote_literal(raw))
    }
}

/// `enum('a','it''s')` label list: `'...'` literals with `''` and backslash escapes.
fn parse_enum_labels(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next()? != '\'' {
            return None;
        }
        let mut label = String::new();
        loop {
            match chars.next()? {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    label.push('\'');
                }
                '\'' => break,
                '\\' => label.push(match chars.next()? {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    'Z' => '\x1a',
                    other => other,
                }),
                c => label.push(c),
            }
        }
        out.push(label);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            Some(',') => continue,
            None => return Some(out),
            Some(_) => return None,
        }
    }
}

/// MySQL/MariaDB: canonical type of an `information_schema.COLUMNS.COLUMN_TYPE`
/// (`int(10) unsigned`, `decimal(10,2)`, `enum('a','b')`, ...). `None` when there is
/// no mapping.
pub fn mysql_canonical(column_type: &str) -> Option<LogicalType> {
    use LogicalType as L;
    let ct = column_type.trim();
    let lower = ct.to_ascii_lowercase();
    let base_end = lower
        .find(|c: char| c == '(' || c.is_whitespace())
        .unwrap_or(lower.len());
    let base = &lower[..base_end];
    let (args, after) = match lower[base_end..].trim_start().strip_prefix('(') {
        Some(_) => {
            let open = ct.find('(')?;
            let close = ct.rfind(')')?;
            (Some(&ct[open + 1..close]), lower[close + 1..].to_string())
        }
        None => (None, lower[base_end..].to_string()),
    };
    let unsigned = after.split_whitespace().any(|w| w == "unsigned");
    let nums = || -> Option<Vec<u32>> {
        args?
            .split(',')
            .map(|x| x.trim().parse::<u32>().ok())
            .collect()
    };
    let first = || nums().and_then(|v| v.first().copied());
    let int = |s: L, u: L| if unsigned { u } else { s };
    Some(match base {
        "tinyint" if !unsigned && first() == Some(1) => L::Bool,
        "bool" | "boolean" => L::Bool,
        "tinyint" => int(L::Int8, L::UInt8),
        "smallint" => int(L::Int16, L::UInt16),
        "mediumint" | "int" | "integer" => int(L::Int32, L::UInt32),
        "bigint" => int(L::Int64, L::UInt64),
        "float" => match first() {
            Some(p) if args.is_some_and(|a| !a.contains(',')) && p > 24 => L::Float64,
            _ => L::Float32,
        },
        "double" | "real" => L::Float64,
        "decimal" | "numeric" | "dec" | "fixed" => {
            let v = nums().unwrap_or_default();
            let precision = v.first().copied().unwrap_or(10);
            let scale = v.get(1).copied().unwrap_or(0);
            if precision == 0 || precision > 76 || scale > precision {
                return None;
            }
            L::Decimal {
                precision: precision as u8,
                scale: scale as i8,
            }
        }
        "char" | "varchar" => L::String(first().filter(|n| *n > 0)),
        "tinytext" | "text" | "mediumtext" | "longtext" | "set" => L::String(None),
        "binary" | "varbinary" => L::Binary(first().filter(|n| *n > 0)),
        "tinyblob" | "blob" | "mediumblob" | "longblob" => L::Binary(None),
        "date" => L::Date,
        "time" => L::Time,
        "datetime" => L::Timestamp,
        "timestamp" => L::TimestampTz,
        "year" => L::Int16,
        "bit" => L::UInt64,
        "json" => L::Json,
        "uuid" => L::Uuid,
        "inet4" | "inet6" => L::String(None),
        "enum" => {
            let labels = parse_enum_labels(args?)?;
            if labels.is_empty() {
                return None;
            }
            L::Enum(labels)
        }
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => L::Geometry,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use LogicalType as L;

    #[test]
    fn maps_column_types() {
        let cases: &[(&str, LogicalType)] = &[
            ("tinyint(1)", L::Bool),
            ("tinyint(4)", L::Int8),
            ("tinyint", L::Int8),
            ("tinyint(3) unsigned", L::UInt8),
            ("smallint(5) unsigned", L::UInt16),
            ("mediumint(8) unsigned", L::UInt32),
            ("int(10) unsigned", L::UInt32),
            ("int unsigned zerofill", L::UInt32),
            ("int(11)", L::Int32),
            ("bigint(20) unsigned", L::UInt64),
            ("bigint", L::Int64),
            ("float", L::Float32),
            ("double", L::Float64),
            (
                "decimal(10,2)",
                L::Decimal {
                    precision: 10,
                    scale: 2,
                },
            ),
            ("varchar(20)", L::String(Some(20))),
            ("char(3)", L::String(Some(3))),
            ("longtext", L::String(None)),
            ("text", L::String(None)),
            ("varbinary(16)", L::Binary(Some(16))),
            ("longblob", L::Binary(None)),
            ("date", L::Date),
            ("time(6)", L::Time),
            ("datetime(6)", L::Timestamp),
            ("timestamp(6)", L::TimestampTz),
            ("json", L::Json),
            ("year(4)", L::Int16),
            ("bit(8)", L::UInt64),
            ("geometry", L::Geometry),
            (
                "enum('a','it''s','b\\\\c')",
                L::Enum(vec!["a".into(), "it's".into(), "b\\c".into()]),
            ),
        ];
        for (t, want) in cases {
            assert_eq!(mysql_canonical(t).as_ref(), Some(want), "{t}");
        }
        assert_eq!(mysql_canonical("vector(3)"), None);
        assert_eq!(mysql_canonical("enum('a',"), None);
    }

    #[test]
    fn parses_json_checks() {
        assert_eq!(json_valid_column("json_valid(`e`)"), Some("e".into()));
        assert_eq!(json_valid_column("json_valid(`a``b`)"), Some("a`b".into()));
        assert_eq!(json_valid_column("`e` > 0"), None);
        assert_eq!(json_valid_column("json_valid(`e`) and `f` > 0"), None);
    }

    #[test]
    fn renders_defaults() {
        assert_eq!(
            mysql_default("NULL", &L::Int32, "", true),
            None,
            "MariaDB NULL means none"
        );
        assert_eq!(
            mysql_default("'x''y'", &L::String(None), "", true).as_deref(),
            Some("'x''y'")
        );
        assert_eq!(
            mysql_default("x'y", &L::String(None), "", false).as_deref(),
            Some("'x\\'y'")
        );
        assert_eq!(
            mysql_default("7", &L::Int32, "", false).as_deref(),
            Some("7")
        );
        assert_eq!(
            mysql_default(
                "CURRENT_TIMESTAMP",
                &L::Timestamp,
                "DEFAULT_GENERATED",
                false
            )
            .as_deref(),
            Some("CURRENT_TIMESTAMP")
        );
    }
}
