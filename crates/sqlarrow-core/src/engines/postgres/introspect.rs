//! PostgreSQL (and Redshift) catalog introspection into the canonical schema, and
//! transactional DDL.

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{map_err, PgConnector};
use crate::cancel::CancelSlot;
use crate::error::{Error, ErrorKind, Result};
use crate::schema::{
    parse_literal_list, pg_canonical, CanonicalSchema, Column, Index, LogicalType, PgTypeInfo,
    TableInfo, UniqueConstraint,
};

const SYSTEM_SCHEMAS: &str =
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'pg_internal', 'catalog_history') \
     AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'";

impl PgConnector {
    async fn catalog(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let cancel = CancelSlot::new();
        let mut conn = self.checkout(&cancel).await?;
        let res = conn.client.query(sql, params).await.map_err(map_err);
        conn.observe(&res);
        res
    }

    pub async fn list_schemas(&self) -> Result<Vec<String>> {
        let sql =
            format!("SELECT n.nspname::text FROM pg_namespace n WHERE {SYSTEM_SCHEMAS} ORDER BY 1");
        let rows = self.catalog(&sql, &[]).await?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    }

    pub async fn list_tables(&self, schema: Option<&str>) -> Result<Vec<TableInfo>> {
        let sql = format!(
            "SELECT n.nspname::text, c.relname::text, c.relkind::text \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p') AND {SYSTEM_SCHEMAS} \
             AND ($1::text IS NULL OR n.nspname = $1::text) \
             AND NOT (c.relkind = 'r' AND c.relispartition) \
             ORDER BY 1, 2"
        );
        let sql = if self.is_redshift() {
            sql.replace("AND NOT (c.relkind = 'r' AND c.relispartition)", "")
        } else {
            sql
        };
        let rows = self.catalog(&sql, &[&schema]).await?;
        Ok(rows
            .iter()
            .map(|r| TableInfo {
                schema: r.get(0),
                name: r.get(1),
                kind: match r.get::<_, String>(2).as_str() {
                    "v" => "view",
                    "m" => "materialized_view",
                    "f" => "foreign_table",
                    "p" => "partitioned_table",
                    _ => "table",
                }
                .to_string(),
            })
            .collect())
    }

    /// (oid, schema, reltuples) of a table or view; `None` when it does not exist.
    /// Without a schema the search path decides (like an unqualified name in SQL).
    async fn resolve(
        &self,
        table: &str,
        schema: Option<&str>,
    ) -> Result<Option<(u32, String, f64)>> {
        let rows = self
            .catalog(
                "SELECT c.oid, n.nspname::text, c.reltuples::float8 \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relname = $1::text AND c.relkind IN ('r', 'v', 'm', 'f', 'p') \
                 AND (($2::text IS NULL AND pg_table_is_visible(c.oid)) OR n.nspname = $2::text)",
                &[&table, &schema],
            )
            .await?;
        Ok(rows.first().map(|r| (r.get(0), r.get(1), r.get(2))))
    }

    pub async fn table_exists(&self, table: &str, schema: Option<&str>) -> Result<bool> {
        Ok(self.resolve(table, schema).await?.is_some())
    }

    pub async fn get_schema(&self, table: &str, schema: Option<&str>) -> Result<CanonicalSchema> {
        let Some((oid, _nsp, reltuples)) = self.resolve(table, schema).await? else {
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
        let redshift = self.is_redshift();
        let enum_labels = |col: &str| {
            if redshift {
                "NULL::text[]".to_string()
            } else {
                format!(
                    "(SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) \
                     FROM pg_enum e WHERE e.enumtypid = {col})"
                )
            }
        };
        let sql = format!(
            "SELECT a.attname::text, a.attnotnull, \
                    pg_get_expr(d.adbin, d.adrelid) AS def, \
                    col_description(a.attrelid, a.attnum) AS comment, \
                    format_type(a.atttypid, a.atttypmod) AS formatted, \
                    CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod, \
                    bt.typname::text AS base, bt.typtype::text AS base_kind, \
                    et.typname::text AS elem, {} AS base_labels, {} AS elem_labels \
             FROM pg_attribute a \
             JOIN pg_type t ON t.oid = a.atttypid \
             JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END \
             LEFT JOIN pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A' \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            enum_labels("bt.oid"),
            enum_labels("et.oid"),
        );
        let rows = self.catalog(&sql, &[&oid]).await?;
        let mut columns = Vec::with_capacity(rows.len());
        for r in &rows {
            let name: String = r.get(0);
            let not_null: bool = r.get(1);
            let formatted: String = r.get(4);
            let typmod: i32 = r.get(5);
            let base: String = r.get(6);
            let elem: Option<String> = r.get(8);
            let labels = |i: usize| r.get::<_, Option<Vec<String>>>(i);
            let (typname, enum_labels, array) = match &elem {
                Some(e) => (e.as_str(), labels(10), true),
                None => (base.as_str(), labels(9), false),
            };
            let data_type = pg_canonical(&PgTypeInfo {
                typname,
                typmod,
                enum_labels,
                array,
            })
            .ok_or_else(|| {
                Error::unsupported_type(
                    &name,
                    &formatted,
                    "it has no canonical type (cast it to text in a view to read it)",
                )
            })?;
            columns.push(Column {
                name,
                data_type,
                nullable: !not_null,
                default: r
                    .get::<_, Option<String>>(2)
                    .map(|d| crate::schema::defaults::canonical_default(&d)),
                comment: r.get(3),
            });
        }
        let mut out = CanonicalSchema::new(columns);
        out.estimated_rows = (reltuples >= 0.0).then(|| reltuples.round() as i64);
        if redshift {
            // Redshift's catalog lacks unnest/WITH ORDINALITY; constraints are informational there.
            return Ok(out);
        }
        let cons = self
            .catalog(
                "SELECT con.conname::text, con.contype::text, \
                        ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord) \
                              JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum \
                              ORDER BY k.ord) AS cols, \
                        pg_get_constraintdef(con.oid) \
                 FROM pg_constraint con WHERE con.conrelid = $1 AND con.contype IN ('p', 'u', 'c') \
                 ORDER BY con.conname",
                &[&oid],
            )
            .await?;
        for r in &cons {
            let name: String = r.get(0);
            let kind: String = r.get(1);
            let cols: Vec<String> = r.get(2);
            match kind.as_str() {
                "p" => {
                    out.primary_key = cols;
                    out.primary_key_name = Some(name);
                }
                "u" => out.unique.push(UniqueConstraint {
                    name: Some(name),
                    columns: cols,
                }),
                _ => {
                    // ENUMs rendered as `TEXT CHECK (col IN (...))` read back as ENUM.
                    let def: String = r.get(3);
                    if let ([col], Some(labels)) = (cols.as_slice(), parse_in_check(&def)) {
                        if let Some(c) = out.columns.iter_mut().find(|c| &c.name == col) {
                            if c.data_type == LogicalType::String(None) {
                                c.data_type = LogicalType::Enum(labels);
                            }
                        }
                    }
                }
            }
        }
        let idx = self
            .catalog(
                "SELECT i.relname::text, ix.indisunique, \
                        ARRAY(SELECT a.attname::text FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(attnum, ord) \
                              JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum \
                              ORDER BY k.ord) AS cols \
                 FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid \
                 WHERE ix.indrelid = $1 AND ix.indpred IS NULL AND ix.indexprs IS NULL \
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid \
                                   AND c.conrelid = ix.indrelid AND c.contype IN ('p', 'u', 'x')) \
                 ORDER BY 1",
                &[&oid],
            )
            .await?;
        for r in &idx {
            out.indexes.push(Index {
                name: r.get(0),
                unique: r.get(1),
                columns: r.get(2),
            });
        }
        Ok(out)
    }

    /// Run DDL statements in one transaction (all or nothing).
    pub async fn run_ddl(&self, statements: &[String]) -> Result<()> {
        let cancel = CancelSlot::new();
        let mut conn = self.checkout(&cancel).await?;
        let res = async {
            let tx = conn.client.transaction().await.map_err(map_err)?;
            for s in statements {
                if let Err(e) = tx.batch_execute(s).await {
                    let e = map_err(e).context(format!("while running {s:?}"));
                    let _ = tx.rollback().await;
                    return Err(e);
                }
            }
            tx.commit().await.map_err(map_err)
        }
        .await;
        if res.is_ok() {
            conn.catalog_changed();
        }
        conn.observe(&res);
        res
    }
}

/// `CHECK ((c = ANY (ARRAY['a'::text, 'b'::text])))` → `["a", "b"]`.
fn parse_in_check(def: &str) -> Option<Vec<String>> {
    let rest = def.strip_prefix("CHECK ((")?;
    let at = rest.find(" = ANY (ARRAY[")?;
    let after = &rest[at + " = ANY (ARRAY[".len()..];
    let (labels, used) = parse_literal_list(after, "]")?;
    (after[used..].trim() == ")))").then_some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_enum_checks() {
        assert_eq!(
            parse_in_check("CHECK ((c = ANY (ARRAY['a'::text, 'it''s'::text])))"),
            Some(vec!["a".to_string(), "it's".to_string()])
        );
        assert_eq!(
            parse_in_check("CHECK ((\"my col\" = ANY (ARRAY['x'::text])))"),
            Some(vec!["x".to_string()])
        );
        assert_eq!(parse_in_check("CHECK ((c > 0))"), None);
        assert_eq!(
            parse_in_check("CHECK (((c = ANY (ARRAY['a'::text])) AND (d > 0)))"),
            None
        );
    }
}
