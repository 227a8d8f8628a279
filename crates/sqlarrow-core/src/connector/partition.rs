//! Partitioned reads: one query split on an integer column into ranges, each range read
//! on its own pooled connection at the same time, the parts joined in range order.
//!
//! ```text
//! SELECT MIN(_p.c), MAX(_p.c) FROM (<query>) AS _p                       -- the bounds
//! SELECT * FROM (<query>) AS _p WHERE _p.c BETWEEN lo_k AND hi_k [OR _p.c IS NULL]
//! ```
//!
//! The same idea as ConnectorX's `partition_on`. Each range is its own statement, so
//! on a database with concurrent writers the ranges may see different moments (the
//! automatic PostgreSQL table scan, which shares one snapshot, does not have that
//! caveat). Rows whose partition value is NULL are read with the first range.

use std::time::{Duration, Instant};

use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;

use super::{Connector, QueryOptions, QueryOutput};
use crate::cancel::{cancel_all, CancelSlot};
use crate::error::{Error, Result};
use crate::stream::{gather_parts, join_collected, Sink};
use crate::value::Params;

/// Most partitions one query may ask for.
pub const MAX_PARTITIONS: usize = 1024;

/// The inclusive ranges `[lo, hi]` is cut into: at most `n`, contiguous, none empty.
pub fn ranges(lo: i128, hi: i128, n: usize) -> Vec<(i128, i128)> {
    if hi < lo || n == 0 {
        return Vec::new();
    }
    let span = hi - lo + 1;
    let n = (n as i128).min(span);
    let (step, extra) = (span / n, span % n);
    let mut out = Vec::with_capacity(n as usize);
    let mut a = lo;
    for k in 0..n {
        let len = step + i128::from(k < extra);
        out.push((a, a + len - 1));
        a += len;
    }
    out
}

/// The one value of an integer column of a one-row result, or `None` for NULL.
fn int_value(col: &ArrayRef, what: &str, column: &str) -> Result<Option<i128>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    if col.is_empty() || col.data_type() == &DataType::Null || col.is_null(0) {
        return Ok(None);
    }
    Ok(Some(match col.data_type() {
        DataType::Int8 => col.as_primitive::<Int8Type>().value(0) as i128,
        DataType::Int16 => col.as_primitive::<Int16Type>().value(0) as i128,
        DataType::Int32 => col.as_primitive::<Int32Type>().value(0) as i128,
        DataType::Int64 => col.as_primitive::<Int64Type>().value(0) as i128,
        DataType::UInt8 => col.as_primitive::<UInt8Type>().value(0) as i128,
        DataType::UInt16 => col.as_primitive::<UInt16Type>().value(0) as i128,
        DataType::UInt32 => col.as_primitive::<UInt32Type>().value(0) as i128,
        DataType::UInt64 => col.as_primitive::<UInt64Type>().value(0) as i128,
        // NUMERIC/DECIMAL MIN/MAX of an integer column (e.g. PostgreSQL numeric with scale 0).
        DataType::Decimal128(_, 0) => col.as_primitive::<Decimal128Type>().value(0),
        other => {
            return Err(Error::config(format!(
                "partition_on column {column:?} must be an integer column; its {what} is {other}"
            ))
            .with_detail("column", column.to_string()))
        }
    }))
}

/// Whether `sql` is one query with an `ORDER BY` of its own (not one inside a subquery
/// or a window). `false` when the text does not parse: the server is the judge then.
fn has_top_level_order_by(sql: &str, dialect: crate::readonly::SqlDialect) -> bool {
    use sqlparser::ast::Statement;
    let d = dialect.parser_dialect();
    match sqlparser::parser::Parser::parse_sql(d.as_ref(), sql).as_deref() {
        Ok([Statement::Query(q)]) => q.order_by.is_some(),
        _ => false,
    }
}

impl Connector {
    /// Run `sql` split on `column` into up to `partitions` ranges, read concurrently.
    pub async fn query_partitioned(
        &self,
        sql: &str,
        params: &Params,
        column: &str,
        partitions: usize,
        opts: QueryOptions,
        cancel: &CancelSlot,
    ) -> Result<QueryOutput> {
        self.check_open()?;
        self.check_read(sql)?;
        if partitions == 0 || partitions > MAX_PARTITIONS {
            return Err(Error::config(format!(
                "partitions must be between 1 and {MAX_PARTITIONS}; got {partitions}"
            )));
        }
        let start = Instant::now();
        let q = self.dialect()?.quote_ident(column)?;
        let inner = sql.trim_end().trim_end_matches(';').trim_end();
        // The parts are joined in range order, each sorted on its own: the query's order
        // would hold within a range and be lost across them, NULLs included.
        if has_top_level_order_by(inner, self.sql_dialect()) {
            return Err(Error::config(format!(
                "a partitioned read cannot keep the query's ORDER BY: its ranges of \
                 {column:?} are read apart and joined in range order; drop partition_on, \
                 or sort the result afterwards (pyarrow: table.sort_by(...))"
            )));
        }
        // Newlines keep a trailing `-- comment` in the query from swallowing the wrapper.
        let bounds_sql =
            format!("SELECT MIN(_p.{q}) AS lo, MAX(_p.{q}) AS hi FROM (\n{inner}\n) AS _p");
        let bounds = self.query(&bounds_sql, params, opts, cancel).await?;
        // One time limit for the whole call: the parts get what the bounds left.
        let mut opts = opts;
        opts.timeout = opts.timeout.or(self.statement_timeout).map(|t| {
            t.saturating_sub(start.elapsed())
                .max(Duration::from_millis(1))
        });
        let (lo, hi) = match bounds.batches.iter().find(|b| b.num_rows() > 0) {
            Some(b) => (
                int_value(b.column(0), "minimum", column)?,
                int_value(b.column(1), "maximum", column)?,
            ),
            None => (None, None),
        };
        let (Some(lo), Some(hi)) = (lo, hi) else {
            // No rows, or only NULLs in the column: one statement gives the same answer.
            return self.query(sql, params, opts, cancel).await;
        };
        let parts: Vec<String> = ranges(lo, hi, partitions)
            .into_iter()
            .enumerate()
            .map(|(k, (a, b))| {
                let nulls = if k == 0 {
                    format!(" OR _p.{q} IS NULL")
                } else {
                    String::new()
                };
                format!("SELECT * FROM (\n{inner}\n) AS _p WHERE _p.{q} BETWEEN {a} AND {b}{nulls}")
            })
            .collect();

        // One cancel slot per part; cancelling the query cancels them all.
        let slots: Vec<CancelSlot> = parts.iter().map(|_| CancelSlot::new()).collect();
        if cancel.register_parts(&slots).await {
            return Err(Error::cancelled("cancelled before it started"));
        }
        let tasks: Vec<_> = parts
            .into_iter()
            .zip(slots.iter().cloned())
            .map(|(part_sql, slot)| {
                let this = self.clone();
                let params = params.clone();
                tokio::spawn(async move {
                    let mut sink = Sink::collect();
                    this.run_query(&part_sql, &params, opts, &mut sink, &slot)
                        .await
                        .map(|_| sink)
                })
            })
            .collect();
        let run = gather_parts(tasks, || cancel_all(&slots));
        let sinks = self.timed(opts.timeout, cancel, run).await;
        cancel.clear();
        let mut sinks = sinks?;
        let warnings: Vec<String> = sinks.iter_mut().flat_map(Sink::take_warnings).collect();
        let (schema, batches) =
            join_collected(sinks)?.ok_or_else(|| Error::interface("no partitions ran"))?;
        Ok(QueryOutput {
            schema,
            batches,
            elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_by_of_the_query_itself_is_found() {
        use crate::readonly::SqlDialect::{MySql, Postgres, Sqlite};
        for d in [Postgres, MySql, Sqlite] {
            assert!(has_top_level_order_by("select * from t order by id", d));
            assert!(has_top_level_order_by(
                "select * from t order by id desc limit 5",
                d
            ));
            assert!(has_top_level_order_by(
                "select a from t union select a from u order by a",
                d
            ));
            assert!(!has_top_level_order_by("select * from t", d));
            assert!(!has_top_level_order_by(
                "select * from (select * from t order by id) x",
                d
            ));
            assert!(!has_top_level_order_by(
                "select row_number() over (order by id) as n from t",
                d
            ));
        }
    }

    #[test]
    fn ranges_cover_without_gaps_or_empties() {
        assert_eq!(ranges(1, 10, 3), vec![(1, 4), (5, 7), (8, 10)]);
        assert_eq!(ranges(5, 5, 4), vec![(5, 5)]);
        assert_eq!(ranges(0, 2, 8), vec![(0, 0), (1, 1), (2, 2)]);
        assert_eq!(ranges(3, 2, 2), vec![]);
        let big = ranges(i64::MIN as i128, i64::MAX as i128, 7);
        assert_eq!(big.len(), 7);
        assert_eq!(big[0].0, i64::MIN as i128);
        assert_eq!(big[6].1, i64::MAX as i128);
        for w in big.windows(2) {
            assert_eq!(w[0].1 + 1, w[1].0);
        }
    }
}
