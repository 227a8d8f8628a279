//! Parallel scans of one large table: which queries may be split, and the statements
//! that read one range.
//!
//! A query of the shape `SELECT <columns> FROM <table>` (no WHERE clause) over a
//! large ordinary table is split into contiguous ranges of its physical order: block
//! ranges (`ctid`, read with TID range scans) on PostgreSQL 14+, rowid ranges on
//! SQLite, primary-key ranges on MySQL/MariaDB (InnoDB stores rows in primary-key
//! order). Each range is read by its own pooled connection, all in one snapshot (see
//! the engines), and the ranges are concatenated in order, which is the order a
//! sequential scan returns. Anything else (joins, aggregates, ORDER BY, LIMIT,
//! DISTINCT, functions in the select list, views, ...) runs on one connection as usual.

use sqlparser::ast::{
    visit_expressions, Expr, SelectItem, SetExpr, Statement, TableFactor, TableWithJoins,
};
use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use std::ops::ControlFlow;

/// A query that may be split into block ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPlan {
    /// The table as written (for `to_regclass`).
    pub table: String,
    /// The table's name when it is a single identifier (unqualified), unquoted.
    pub bare_table: Option<String>,
    /// The parts of the table's name (`schema`, `table`), unquoted.
    pub name_parts: Vec<String>,
    /// What qualifies `ctid` (the alias, else the table name).
    qualifier: String,
    /// `<projection> FROM <table> [AS alias]`
    head: String,
    /// The WHERE condition, if any.
    selection: Option<String>,
}

/// Decide from the text alone whether `sql` (PostgreSQL) is a candidate. Returns `None`
/// for anything that is not a plain projection of one table (optionally filtered).
pub fn plan(sql: &str) -> Option<ScanPlan> {
    plan_in(&PostgreSqlDialect {}, sql)
}

/// [`plan`] for SQLite's dialect.
pub fn plan_sqlite(sql: &str) -> Option<ScanPlan> {
    plan_in(&SQLiteDialect {}, sql)
}

/// [`plan`] for MySQL's and MariaDB's dialect (backquoted names).
pub fn plan_mysql(sql: &str) -> Option<ScanPlan> {
    plan_in(&MySqlDialect {}, sql)
}

/// The SQL dialect a query is planned in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Postgres,
    Sqlite,
    MySql,
}

/// [`plan`], [`plan_sqlite`] or [`plan_mysql`] for queries without a WHERE clause,
/// which are the only ones the connectors split. Checks the words first, so that the
/// common small query (`SELECT 1`, a filtered lookup) costs no parse: this runs on
/// every query.
pub fn plan_unfiltered(sql: &str, flavor: Flavor) -> Option<ScanPlan> {
    let lower = sql.to_ascii_lowercase();
    if !has_word(&lower, "from") || has_word(&lower, "where") {
        return None;
    }
    let plan = match flavor {
        Flavor::Postgres => plan(sql),
        Flavor::Sqlite => plan_sqlite(sql),
        Flavor::MySql => plan_mysql(sql),
    };
    plan.filter(|p| !p.has_filter())
}

/// Whether `word` occurs in `text` as a whole word (not inside an identifier).
fn has_word(text: &str, word: &str) -> bool {
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$';
    let b = text.as_bytes();
    text.match_indices(word).any(|(i, _)| {
        let before = i == 0 || !is_ident(b[i - 1]);
        let after = b.get(i + word.len()).is_none_or(|c| !is_ident(*c));
        before && after
    })
}

fn plan_in(dialect: &dyn Dialect, sql: &str) -> Option<ScanPlan> {
    // Cheap pre-check: most statements never get parsed.
    let lower = sql.trim_start().get(..6)?.to_ascii_lowercase();
    if lower != "select" {
        return None;
    }
    let mut stmts = Parser::parse_sql(dialect, sql).ok()?;
    if stmts.len() != 1 {
        return None;
    }
    let Statement::Query(query) = stmts.pop()? else {
        return None;
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let [TableWithJoins { relation, joins }] = select.from.as_slice() else {
        return None;
    };
    if !joins.is_empty() {
        return None;
    }
    let TableFactor::Table { name, alias, .. } = relation else {
        return None;
    };
    // The relation must be just a name with an optional alias (no function call,
    // sample, hints, ONLY, ...): its rendering must be exactly that.
    let expected_relation = match alias {
        Some(a) => format!("{name} {a}"),
        None => name.to_string(),
    };
    if relation.to_string() != expected_relation {
        return None;
    }
    // No function calls or subqueries in the select list: an aggregate, a window or a
    // set-returning function cannot be told apart from a scalar one without the
    // catalog, and none of them may be split.
    let mut plain = true;
    let _ = visit_expressions(&select.projection, |e: &Expr| {
        if matches!(
            e,
            Expr::Function(_) | Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. }
        ) {
            plain = false;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    if !plain || select.projection.is_empty() {
        return None;
    }
    if select
        .projection
        .iter()
        .any(|i| matches!(i, SelectItem::Wildcard(o) | SelectItem::QualifiedWildcard(_, o) if o.to_string() != ""))
    {
        return None;
    }
    let projection = select
        .projection
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let head = format!("{projection} FROM {expected_relation}");
    let selection = select.selection.as_ref().map(|e| e.to_string());
    // Every other clause (DISTINCT, GROUP BY, HAVING, WINDOW, ORDER BY, LIMIT, OFFSET,
    // FETCH, FOR UPDATE, WITH, INTO, ...) shows up in the rendering: the statement must
    // render as exactly the pieces accepted above.
    let canonical = match &selection {
        Some(w) => format!("SELECT {head} WHERE {w}"),
        None => format!("SELECT {head}"),
    };
    if query.to_string() != canonical {
        return None;
    }
    let qualifier = match alias {
        Some(a) => a.name.to_string(),
        None => name.to_string(),
    };
    let bare_table = match name.0.as_slice() {
        [part] => part.as_ident().map(|i| i.value.clone()),
        _ => None,
    };
    let name_parts = name
        .0
        .iter()
        .map(|p| p.as_ident().map(|i| i.value.clone()))
        .collect::<Option<Vec<_>>>()?;
    Some(ScanPlan {
        table: name.to_string(),
        bare_table,
        name_parts,
        qualifier,
        head,
        selection,
    })
}

impl ScanPlan {
    /// Whether the query has a WHERE clause (the connector splits only unfiltered scans).
    pub fn has_filter(&self) -> bool {
        self.selection.is_some()
    }

    /// The statement reading blocks `[lo, hi)` (`None`: unbounded on that side).
    pub fn range_sql(&self, lo: Option<u64>, hi: Option<u64>) -> String {
        let q = &self.qualifier;
        let mut conds: Vec<String> = Vec::new();
        if let Some(w) = &self.selection {
            conds.push(format!("({w})"));
        }
        if let Some(lo) = lo {
            conds.push(format!("{q}.ctid >= '({lo},0)'::tid"));
        }
        if let Some(hi) = hi {
            conds.push(format!("{q}.ctid < '({hi},0)'::tid"));
        }
        if conds.is_empty() {
            format!("SELECT {}", self.head)
        } else {
            format!("SELECT {} WHERE {}", self.head, conds.join(" AND "))
        }
    }
}

/// The statement reading the rows whose `key` (a quoted column of the table) lies in
/// `[lo, hi]`, inclusive. The bounds are SQL: literals or parameter markers; `None`
/// leaves that side open.
pub fn key_range_sql(plan: &ScanPlan, key: &str, lo: Option<&str>, hi: Option<&str>) -> String {
    let q = &plan.qualifier;
    let mut conds: Vec<String> = Vec::new();
    if let Some(w) = &plan.selection {
        conds.push(format!("({w})"));
    }
    if let Some(lo) = lo {
        conds.push(format!("{q}.{key} >= {lo}"));
    }
    if let Some(hi) = hi {
        conds.push(format!("{q}.{key} <= {hi}"));
    }
    if conds.is_empty() {
        format!("SELECT {}", plan.head)
    } else {
        format!("SELECT {} WHERE {}", plan.head, conds.join(" AND "))
    }
}

/// The SQLite statement reading rowids `[lo, hi]` (inclusive).
pub fn rowid_range_sql(plan: &ScanPlan, lo: i64, hi: i64) -> String {
    let q = &plan.qualifier;
    let range = format!("{q}.rowid BETWEEN {lo} AND {hi}");
    match &plan.selection {
        Some(w) => format!("SELECT {} WHERE ({w}) AND {range}", plan.head),
        None => format!("SELECT {} WHERE {range}", plan.head),
    }
}

/// Block boundaries of `parts` contiguous ranges over `blocks` blocks: range `i` is
/// `[b[i], b[i+1])`, the first is open below and the last open above (rows of blocks
/// added after the size was read are still covered).
pub fn ranges(blocks: u64, parts: usize) -> Vec<(Option<u64>, Option<u64>)> {
    let parts = parts.max(1) as u64;
    (0..parts)
        .map(|i| {
            let lo = (i > 0).then(|| blocks * i / parts);
            let hi = (i + 1 < parts).then(|| blocks * (i + 1) / parts);
            (lo, hi)
        })
        .collect()
}

/// A string literal for `sql` (standard-conforming strings).
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfiltered_gate() {
        assert!(plan_unfiltered("SELECT a, b FROM t", Flavor::Postgres).is_some());
        assert!(plan_unfiltered("select a from t", Flavor::Sqlite).is_some());
        assert!(plan_unfiltered("SELECT 1", Flavor::Postgres).is_none());
        assert!(plan_unfiltered("SELECT a FROM t WHERE a > 1", Flavor::Postgres).is_none());
        assert!(plan_unfiltered("SELECT a FROM t\nwhere a > 1", Flavor::Sqlite).is_none());
        // Words inside identifiers do not count.
        assert!(plan_unfiltered("SELECT somewhere_col FROM t", Flavor::Postgres).is_some());
        assert!(plan_unfiltered("SELECT a FROM fromage", Flavor::Postgres).is_some());
        assert!(plan_unfiltered("SELECT a AS fromx FROM t", Flavor::Postgres).is_some());
    }

    #[test]
    fn accepts_plain_projections() {
        let p = plan("SELECT * FROM t").unwrap();
        assert_eq!(p.table, "t");
        assert_eq!(
            p.range_sql(None, Some(10)),
            "SELECT * FROM t WHERE t.ctid < '(10,0)'::tid"
        );
        let p = plan(
            "select a, b::text AS bt, c + 1 from public.\"T\" x where a > 3 and b is not null",
        )
        .unwrap();
        assert_eq!(p.table, "public.\"T\"");
        assert_eq!(
            p.range_sql(Some(5), Some(9)),
            "SELECT a, b::TEXT AS bt, c + 1 FROM public.\"T\" x WHERE (a > 3 AND b IS NOT NULL) \
             AND x.ctid >= '(5,0)'::tid AND x.ctid < '(9,0)'::tid"
        );
        assert_eq!(
            p.range_sql(None, None),
            "SELECT a, b::TEXT AS bt, c + 1 FROM public.\"T\" x WHERE (a > 3 AND b IS NOT NULL)"
        );
        // Functions in WHERE are fine (aggregates cannot appear there).
        assert!(plan("SELECT id FROM t WHERE lower(name) = 'x'").is_some());
        assert_eq!(
            plan("SELECT s.id FROM t AS s")
                .unwrap()
                .range_sql(Some(1), None),
            "SELECT s.id FROM t AS s WHERE s.ctid >= '(1,0)'::tid"
        );
    }

    #[test]
    fn refuses_everything_else() {
        for sql in [
            "SELECT count(*) FROM t",
            "SELECT sum(a) FROM t WHERE a > 1",
            "SELECT a, row_number() OVER () FROM t",
            "SELECT generate_series(1, a) FROM t",
            "SELECT lower(a) FROM t",
            "SELECT (SELECT max(a) FROM t) FROM t",
            "SELECT DISTINCT a FROM t",
            "SELECT a FROM t ORDER BY a",
            "SELECT a FROM t LIMIT 10",
            "SELECT a FROM t OFFSET 10",
            "SELECT a FROM t GROUP BY a",
            "SELECT a FROM t FOR UPDATE",
            "SELECT a FROM t, u",
            "SELECT a FROM t JOIN u ON t.id = u.id",
            "SELECT a FROM (SELECT a FROM t) s",
            "SELECT a FROM generate_series(1, 10) a",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "SELECT a FROM t UNION ALL SELECT a FROM u",
            "SELECT 1",
            "SELECT a INTO t2 FROM t",
            "SELECT a FROM t; SELECT b FROM u",
            "VALUES (1)",
            "TABLE t",
            "SELECT a FROM t TABLESAMPLE SYSTEM (10)",
            "SELECT * EXCLUDE (a) FROM t",
            "not sql at all",
        ] {
            assert!(plan(sql).is_none(), "{sql} must not be split");
        }
    }

    #[test]
    fn mysql_plans_and_key_ranges() {
        let p = plan_unfiltered("SELECT `id`, b AS bb FROM `db`.`T` x", Flavor::MySql).unwrap();
        assert_eq!(p.name_parts, vec!["db".to_string(), "T".to_string()]);
        assert_eq!(p.bare_table, None);
        assert_eq!(
            key_range_sql(&p, "`id`", None, Some("10")),
            "SELECT `id`, b AS bb FROM `db`.`T` x WHERE x.`id` <= 10"
        );
        assert_eq!(
            key_range_sql(&p, "`id`", Some("?"), Some("?")),
            "SELECT `id`, b AS bb FROM `db`.`T` x WHERE x.`id` >= ? AND x.`id` <= ?"
        );
        let p = plan_unfiltered("select * from t", Flavor::MySql).unwrap();
        assert_eq!(p.name_parts, vec!["t".to_string()]);
        assert_eq!(
            key_range_sql(&p, "`k`", Some("-5"), None),
            "SELECT * FROM t WHERE t.`k` >= -5"
        );
        for sql in [
            "SELECT a FROM t LOCK IN SHARE MODE",
            "SELECT a FROM t FOR UPDATE",
            "SELECT a FROM t LIMIT 5",
            "SELECT a FROM t FORCE INDEX (PRIMARY)",
            "SELECT a FROM t PARTITION (p0)",
            "SELECT SQL_CALC_FOUND_ROWS a FROM t",
            "SELECT a FROM t WHERE a > 1",
            "SELECT count(*) FROM t",
            "SELECT a FROM t INTO OUTFILE '/tmp/x'",
        ] {
            assert!(
                plan_unfiltered(sql, Flavor::MySql).is_none(),
                "{sql} must not be split"
            );
        }
    }

    #[test]
    fn ranges_cover_everything_once() {
        assert_eq!(ranges(100, 1), vec![(None, None)]);
        assert_eq!(
            ranges(100, 3),
            vec![(None, Some(33)), (Some(33), Some(66)), (Some(66), None)]
        );
        assert_eq!(quote_literal("a'b"), "'a''b'");
    }
}
