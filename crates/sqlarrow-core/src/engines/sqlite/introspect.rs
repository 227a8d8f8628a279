//! SQLite introspection (`pragma_table_info`, `pragma_index_list`, `sqlite_stat1`) into
//! the canonical schema, and transactional DDL.

use rusqlite::OptionalExtension;

use super::{map_err, SqliteConnector};
use crate::cancel::CancelSlot;
use crate::error::{Error, ErrorKind, Result};
use crate::schema::{
    parse_literal_list, sqlite_canonical, CanonicalSchema, Column, Dialect, Index, LogicalType,
    TableInfo, UniqueConstraint,
};

fn schemas(conn: &rusqlite::Connection) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_database_list WHERE name <> 'temp' ORDER BY seq")
        .map_err(map_err)?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(map_err)?;
    rows.collect::<std::result::Result<Vec<_>, _>>()
        .map_err(map_err)
}

fn tables_in(conn: &rusqlite::Connection, schema: &str) -> Result<Vec<TableInfo>> {
    let sql = format!(
        "SELECT name, type FROM {}.sqlite_master WHERE type IN ('table', 'view') \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        Dialect::Sqlite.quote_ident(schema)?
    );
    let mut stmt = conn.prepare(&sql).map_err(map_err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(TableInfo {
                schema: schema.to_string(),
                name: r.get(0)?,
                kind: r.get(1)?,
            })
        })
        .map_err(map_err)?;
    rows.collect::<std::result::Result<Vec<_>, _>>()
        .map_err(map_err)
}

/// The schema holding `table` (the first one in search order when not given).
fn locate(
    conn: &rusqlite::Connection,
    table: &str,
    schema: Option<&str>,
) -> Result<Option<String>> {
    let known = schemas(conn)?;
    let candidates = match schema {
        Some(s) if s == "temp" || known.iter().any(|k| k == s) => vec![s.to_string()],
        Some(_) => return Ok(None),
        None => {
            let mut v = vec!["temp".to_string()];
            v.extend(known);
            v
        }
    };
    for s in candidates {
        let sql = format!(
            "SELECT 1 FROM {}.sqlite_master WHERE type IN ('table', 'view') AND name = ?1",
            Dialect::Sqlite.quote_ident(&s)?
        );
        let found = conn
            .query_row(&sql, [table], |_| Ok(()))
            .optional()
            .map_err(map_err)?;
        if found.is_some() {
            return Ok(Some(s));
        }
    }
    Ok(None)
}

fn read_schema(conn: &rusqlite::Connection, table: &str, schema: &str) -> Result<CanonicalSchema> {
    let qs = Dialect::Sqlite.quote_ident(schema)?;
    let create_sql: Option<String> = conn
        .query_row(
            &format!(
                "SELECT sql FROM {qs}.sqlite_master WHERE type IN ('table', 'view') AND name = ?1"
            ),
            [table],
            |r| r.get(0),
        )
        .optional()
        .map_err(map_err)?
        .flatten();
    let mut columns = Vec::new();
    let mut pk: Vec<(i64, String)> = Vec::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT name, type, \"notnull\", dflt_value, pk, hidden \
                 FROM pragma_table_xinfo(?1, ?2) ORDER BY cid",
            )
            .map_err(map_err)?;
        let mut rows = stmt.query([table, schema]).map_err(map_err)?;
        while let Some(r) = rows.next().map_err(map_err)? {
            let name: String = r.get(0).map_err(map_err)?;
            let decl: String = r
                .get::<_, Option<String>>(1)
                .map_err(map_err)?
                .unwrap_or_default();
            let notnull: i64 = r.get(2).map_err(map_err)?;
            let default: Option<String> = r
                .get::<_, Option<String>>(3)
                .map_err(map_err)?
                .map(|d| crate::schema::defaults::canonical_default(&d));
            let pk_pos: i64 = r.get(4).map_err(map_err)?;
            let hidden: i64 = r.get(5).map_err(map_err)?;
            if hidden == 1 {
                // Hidden columns of virtual tables.
                continue;
            }
            let mut data_type = sqlite_canonical(&decl);
            if data_type == LogicalType::String(None) {
                if let Some(labels) = create_sql.as_deref().and_then(|s| enum_check(s, &name)) {
                    data_type = LogicalType::Enum(labels);
                }
            }
            if pk_pos > 0 {
                pk.push((pk_pos, name.clone()));
            }
            columns.push(Column {
                name,
                data_type,
                nullable: notnull == 0,
                default,
                comment: None,
            });
        }
    }
    pk.sort();
    let mut out = CanonicalSchema::new(columns);
    out.primary_key = pk.into_iter().map(|(_, n)| n).collect();
    let indexes: Vec<(String, bool, String, bool)> = {
        let mut stmt = conn
            .prepare("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1, ?2) ORDER BY seq DESC")
            .map_err(map_err)?;
        let rows = stmt
            .query_map([table, schema], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)? != 0,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)? != 0,
                ))
            })
            .map_err(map_err)?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(map_err)?
    };
    for (name, unique, origin, partial) in indexes {
        if partial || origin == "pk" {
            continue;
        }
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_index_info(?1, ?2) ORDER BY seqno")
            .map_err(map_err)?;
        let cols: Vec<Option<String>> = stmt
            .query_map([name.as_str(), schema], |r| r.get(0))
            .map_err(map_err)?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(map_err)?;
        let Some(cols) = cols.into_iter().collect::<Option<Vec<String>>>() else {
            continue; // an expression index
        };
        if origin == "u" {
            out.unique.push(UniqueConstraint {
                name: (!name.starts_with("sqlite_autoindex_")).then_some(name),
                columns: cols,
            });
        } else {
            out.indexes.push(Index {
                name,
                columns: cols,
                unique,
            });
        }
    }
    out.estimated_rows = estimated_rows(conn, &qs, table)?;
    Ok(out)
}

/// Rows from `sqlite_stat1` (written by ANALYZE); `None` when there are no statistics.
fn estimated_rows(conn: &rusqlite::Connection, qs: &str, table: &str) -> Result<Option<i64>> {
    let has_stat: bool = conn
        .query_row(
            &format!(
                "SELECT 1 FROM {qs}.sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
            ),
            [],
            |_| Ok(()),
        )
        .optional()
        .map_err(map_err)?
        .is_some();
    if !has_stat {
        return Ok(None);
    }
    let stat: Option<String> = conn
        .query_row(
            &format!("SELECT stat FROM {qs}.sqlite_stat1 WHERE tbl = ?1 ORDER BY idx IS NOT NULL LIMIT 1"),
            [table],
            |r| r.get(0),
        )
        .optional()
        .map_err(map_err)?;
    Ok(stat.and_then(|s| s.split_whitespace().next()?.parse().ok()))
}

/// `"col" TEXT CHECK ("col" IN ('a', 'b'))` in a CREATE TABLE → `["a", "b"]`.
fn enum_check(create_sql: &str, column: &str) -> Option<Vec<String>> {
    let needle = format!("CHECK ({} IN (", Dialect::Sqlite.quote_ident(column).ok()?);
    let at = create_sql.find(&needle)?;
    let (labels, _) = parse_literal_list(&create_sql[at + needle.len()..], "))")?;
    Some(labels)
}

impl SqliteConnector {
    async fn catalog<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.with_conn(&CancelSlot::new(), move |conn| f(conn))
            .await
    }

    pub async fn list_schemas(&self) -> Result<Vec<String>> {
        self.catalog(schemas).await
    }

    pub async fn list_tables(&self, schema: Option<&str>) -> Result<Vec<TableInfo>> {
        let schema = schema.map(str::to_string);
        self.catalog(move |conn| match schema {
            Some(s) => tables_in(conn, &s),
            None => {
                let mut out = Vec::new();
                for s in schemas(conn)? {
                    out.extend(tables_in(conn, &s)?);
                }
                Ok(out)
            }
        })
        .await
    }

    pub async fn table_exists(&self, table: &str, schema: Option<&str>) -> Result<bool> {
        let (table, schema) = (table.to_string(), schema.map(str::to_string));
        self.catalog(move |conn| Ok(locate(conn, &table, schema.as_deref())?.is_some()))
            .await
    }

    pub async fn get_schema(&self, table: &str, schema: Option<&str>) -> Result<CanonicalSchema> {
        let (table, schema) = (table.to_string(), schema.map(str::to_string));
        self.catalog(move |conn| {
            let Some(s) = locate(conn, &table, schema.as_deref())? else {
                let name = match &schema {
                    Some(s) => format!("{s}.{table}"),
                    None => table.clone(),
                };
                return Err(Error::new(
                    ErrorKind::UndefinedObject,
                    format!("table {name:?} does not exist"),
                )
                .with_detail("table", name));
            };
            read_schema(conn, &table, &s)
        })
        .await
    }

    /// Run DDL statements in one transaction (all or nothing).
    pub async fn run_ddl(&self, statements: &[String]) -> Result<()> {
        let statements = statements.to_vec();
        self.with_conn(&CancelSlot::new(), move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            for s in &statements {
                tx.execute_batch(s)
                    .map_err(|e| map_err(e).context(format!("while running {s:?}")))?;
            }
            tx.commit().map_err(map_err)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::PoolConfig;
    use crate::schema::{diff, DdlOptions, TableName};
    use crate::value::Params;

    fn connector(path: &str) -> SqliteConnector {
        SqliteConnector::new(super::super::SqliteConfig {
            path: path.into(),
            read_only: false,
            settings: Default::default(),
            pool: PoolConfig::default(),
        })
        .unwrap()
    }

    #[test]
    fn finds_enum_checks() {
        let sql = "CREATE TABLE \"t\" (\n    \"my col\" TEXT CHECK (\"my col\" IN ('a', 'it''s')) NOT NULL\n)";
        assert_eq!(
            enum_check(sql, "my col"),
            Some(vec!["a".to_string(), "it's".to_string()])
        );
        assert_eq!(enum_check(sql, "other"), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn create_introspect_diff_apply() {
        let c = connector(":memory:");
        let want = CanonicalSchema::from_json(
            r#"{"columns": [
                {"name": "id", "type": "INT64", "nullable": false},
                {"name": "select", "type": "STRING(20)", "default": "'x'"},
                {"name": "amount", "type": "DECIMAL(12,2)"},
                {"name": "e", "type": "ENUM('a','b''c')"},
                {"name": "ts", "type": "TIMESTAMP"},
                {"name": "ñ \"q\"", "type": "JSON"}
            ], "primary_key": ["id"],
               "unique": [{"name": "u_sel", "columns": ["select"]}],
               "indexes": [{"name": "ix amount", "columns": ["amount", "ts"], "unique": false}]}"#,
        )
        .unwrap();
        let tn = TableName::parse("main.my table").unwrap();
        let stmts = want
            .to_ddl_statements(Dialect::Sqlite, &tn, false, DdlOptions::default())
            .unwrap();
        c.run_ddl(&stmts).await.unwrap();
        assert!(c.table_exists("my table", None).await.unwrap());
        assert!(c.table_exists("my table", Some("main")).await.unwrap());
        assert!(!c.table_exists("nope", None).await.unwrap());
        assert!(!c.table_exists("my table", Some("nodb")).await.unwrap());
        let tables = c.list_tables(None).await.unwrap();
        assert_eq!(tables.len(), 1);
        assert_eq!(tables[0].kind, "table");
        assert_eq!(c.list_schemas().await.unwrap(), vec!["main"]);
        let got = c.get_schema("my table", None).await.unwrap();
        assert_eq!(got.columns, want.columns);
        assert_eq!(got.primary_key, want.primary_key);
        // SQLite does not keep UNIQUE constraint names (its index is sqlite_autoindex_...).
        assert_eq!(
            got.unique,
            vec![UniqueConstraint {
                name: None,
                columns: vec!["select".into()]
            }]
        );
        assert_eq!(got.indexes, want.indexes);
        assert_eq!(got.estimated_rows, None);
        let e = c.get_schema("nope", None).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::UndefinedObject);

        // Narrow, rename, drop, add, change PK: rebuilt in one transaction.
        let mut target = want.clone();
        target.columns[2].data_type = "DECIMAL(14,2)".parse().unwrap();
        target.columns[1].nullable = false;
        target.columns[4].name = "when".into();
        target.columns.remove(3);
        target
            .columns
            .push(Column::new("extra", "BOOL".parse().unwrap(), true));
        target.primary_key = vec!["id".into(), "select".into()];
        let cancel = CancelSlot::new();
        c.execute(
            "INSERT INTO \"my table\" VALUES (1, 'a', 1.5, 'a', '2024-01-01 00:00:00', '{}')",
            &Params::default(),
            &cancel,
        )
        .await
        .unwrap();
        let mut d = diff(&got, &target);
        d.accept_rename("ts", "when").unwrap();
        let sql = d
            .to_sql(Dialect::Sqlite, &tn, DdlOptions::default())
            .unwrap();
        c.run_ddl(&sql).await.unwrap();
        let after = c.get_schema("my table", None).await.unwrap();
        assert_eq!(after.columns, target.columns);
        assert_eq!(after.primary_key, target.primary_key);
        assert_eq!(after.indexes.len(), 1);
        assert_eq!(after.indexes[0].columns, vec!["amount", "when"]);
        // A failing script leaves nothing behind.
        let bad = vec![
            "CREATE TABLE x (a INT)".to_string(),
            "CREATE TABLE x (a INT)".to_string(),
        ];
        assert!(c.run_ddl(&bad).await.is_err());
        assert!(!c.table_exists("x", None).await.unwrap());
        c.execute("ANALYZE", &Params::default(), &cancel)
            .await
            .unwrap();
        let s = c.get_schema("my table", None).await.unwrap();
        assert_eq!(s.estimated_rows, Some(1));
    }
}
