#![cfg_attr(
    not(all(feature = "postgres", feature = "sqlite", feature = "mysql")),
    allow(unused_imports, unused_variables)
)]
//! Introspection and DDL on every [`Connector`]: list schemas and tables, read a
//! table's canonical schema, create tables, apply schema diffs.

use super::{Connector, Engine};
use crate::error::{Error, Result};
use crate::schema::{CanonicalSchema, DdlOptions, Dialect, SchemaDiff, TableInfo, TableName};

fn not_supported(engine: &str, what: &str) -> Error {
    Error::interface(format!(
        "{what} is not supported for this engine ({engine}) yet"
    ))
}

/// `(table, schema)` for introspection: without `schema`, a `schema.table` name is
/// split as `write()` splits it (dots outside double quotes; `"a.b"` is one name), so
/// `get_schema("public.orders")` finds what `write("public.orders", ...)` wrote. With
/// `schema`, `table` is taken as it is.
fn qualified(table: &str, schema: Option<&str>) -> Result<(String, Option<String>)> {
    if let Some(s) = schema {
        return Ok((table.to_string(), Some(s.to_string())));
    }
    let mut name = TableName::parse(table)?;
    match name.parts.len() {
        1 => Ok((name.parts.remove(0), None)),
        2 => {
            let t = name.parts.remove(1);
            Ok((t, Some(name.parts.remove(0))))
        }
        _ => Err(Error::config(format!(
            "table {table:?} has a database part; connect to that database and name the \
             table as schema.table"
        ))),
    }
}

impl Connector {
    /// The SQL dialect DDL is rendered in for this connector.
    pub fn dialect(&self) -> Result<Dialect> {
        Dialect::parse(self.engine_name())
    }

    pub async fn list_schemas(&self) -> Result<Vec<String>> {
        self.check_open()?;
        #[allow(unreachable_patterns)]
        match &self.engine {
            #[cfg(feature = "postgres")]
            Engine::Postgres(c) => c.list_schemas().await,
            #[cfg(feature = "sqlite")]
            Engine::Sqlite(c) => c.list_schemas().await,
            #[cfg(feature = "mysql")]
            Engine::Mysql(c) => c.list_schemas().await,
            _ => Err(not_supported(self.engine_name(), "list_schemas")),
        }
    }

    /// Tables and views (with their kind), of one schema or of all user schemas.
    pub async fn list_tables(&self, schema: Option<&str>) -> Result<Vec<TableInfo>> {
        self.check_open()?;
        #[allow(unreachable_patterns)]
        match &self.engine {
            #[cfg(feature = "postgres")]
            Engine::Postgres(c) => c.list_tables(schema).await,
            #[cfg(feature = "sqlite")]
            Engine::Sqlite(c) => c.list_tables(schema).await,
            #[cfg(feature = "mysql")]
            Engine::Mysql(c) => c.list_tables(schema).await,
            _ => Err(not_supported(self.engine_name(), "list_tables")),
        }
    }

    /// Whether a table or view exists (without a schema: as an unqualified name resolves).
    pub async fn table_exists(&self, table: &str, schema: Option<&str>) -> Result<bool> {
        self.check_open()?;
        let (table, schema) = qualified(table, schema)?;
        let (table, schema) = (table.as_str(), schema.as_deref());
        #[allow(unreachable_patterns)]
        match &self.engine {
            #[cfg(feature = "postgres")]
            Engine::Postgres(c) => c.table_exists(table, schema).await,
            #[cfg(feature = "sqlite")]
            Engine::Sqlite(c) => c.table_exists(table, schema).await,
            #[cfg(feature = "mysql")]
            Engine::Mysql(c) => c.table_exists(table, schema).await,
            _ => Err(not_supported(self.engine_name(), "table_exists")),
        }
    }

    /// The canonical schema of a table or view, with keys, indexes and the row estimate
    /// from catalog statistics.
    pub async fn get_schema(&self, table: &str, schema: Option<&str>) -> Result<CanonicalSchema> {
        self.check_open()?;
        let (table, schema) = qualified(table, schema)?;
        let (table, schema) = (table.as_str(), schema.as_deref());
        #[allow(unreachable_patterns)]
        match &self.engine {
            #[cfg(feature = "postgres")]
            Engine::Postgres(c) => c.get_schema(table, schema).await,
            #[cfg(feature = "sqlite")]
            Engine::Sqlite(c) => c.get_schema(table, schema).await,
            #[cfg(feature = "mysql")]
            Engine::Mysql(c) => c.get_schema(table, schema).await,
            _ => Err(not_supported(self.engine_name(), "get_schema")),
        }
    }

    /// Run DDL statements, in one transaction where the engine has transactional DDL.
    /// On MySQL/MariaDB DDL is not transactional: the statements run in order, each
    /// committing on its own, and the first failure stops the run (the error lists
    /// the statements that already ran; they are not rolled back).
    pub async fn run_ddl(&self, statements: &[String]) -> Result<()> {
        self.check_open()?;
        self.refuse_if_read_only("DDL")?;
        if statements.is_empty() {
            return Ok(());
        }
        #[allow(unreachable_patterns)]
        match &self.engine {
            #[cfg(feature = "postgres")]
            Engine::Postgres(c) => c.run_ddl(statements).await,
            #[cfg(feature = "sqlite")]
            Engine::Sqlite(c) => c.run_ddl(statements).await,
            #[cfg(feature = "mysql")]
            Engine::Mysql(c) => c.run_ddl(statements).await,
            _ => Err(not_supported(self.engine_name(), "DDL")),
        }
    }

    /// Create a table from a canonical schema; returns the statements run.
    pub async fn create_table(
        &self,
        table: &TableName,
        schema: &CanonicalSchema,
        if_not_exists: bool,
        opts: DdlOptions,
    ) -> Result<Vec<String>> {
        let stmts = schema.to_ddl_statements(self.dialect()?, table, if_not_exists, opts)?;
        self.run_ddl(&stmts).await?;
        Ok(stmts)
    }

    /// Apply a diff to `table` (transactionally on PostgreSQL and SQLite); refuses
    /// destructive changes unless `allow_destructive`. Returns the statements run.
    ///
    /// MySQL/MariaDB DDL is NOT transactional: the ALTERs run one by one in order and
    /// each commits implicitly. The first failing statement stops the run with an error
    /// naming it and listing the statements that already ran (those stay applied).
    pub async fn apply(
        &self,
        diff: &SchemaDiff,
        table: &TableName,
        allow_destructive: bool,
        opts: DdlOptions,
    ) -> Result<Vec<String>> {
        if diff.destructive() && !allow_destructive {
            let list: Vec<String> = diff
                .changes
                .iter()
                .filter(|c| c.destructive())
                .map(|c| c.describe())
                .collect();
            return Err(Error::interface(format!(
                "the diff has destructive changes ({}); pass allow_destructive=True to apply it",
                list.join("; ")
            )));
        }
        let stmts = diff.to_sql(self.dialect()?, table, opts)?;
        self.run_ddl(&stmts).await?;
        Ok(stmts)
    }
}

#[cfg(test)]
mod tests {
    use super::qualified;

    #[test]
    fn introspection_splits_qualified_names_like_writes() {
        let q = |t, s| qualified(t, s).unwrap();
        assert_eq!(q("orders", None), ("orders".into(), None));
        assert_eq!(
            q("public.orders", None),
            ("orders".into(), Some("public".into()))
        );
        assert_eq!(q("\"a.b\"", None), ("a.b".into(), None));
        assert_eq!(
            q("\"My Schema\".\"T\"", None),
            ("T".into(), Some("My Schema".into()))
        );
        // With a schema given, the table name is taken as it is.
        assert_eq!(q("a.b", Some("s")), ("a.b".into(), Some("s".into())));
        assert!(qualified("db.s.t", None).is_err());
        assert!(qualified("s.", None).is_err());
    }
}
