//! Parallel scans of one large InnoDB table: primary-key ranges, each read by its own
//! fast-reader connection, all from one snapshot.
//!
//! MySQL and MariaDB cannot export a snapshot to another session. The readers get the
//! same one anyway: a helper session takes `LOCK TABLES <t> READ`, which waits for
//! every open transaction that wrote to the table and keeps new writers out; while it
//! is held, each reader starts `START TRANSACTION WITH CONSISTENT SNAPSHOT, READ
//! ONLY`, and the helper reads the key's bounds. No change to the table can commit in
//! that window, so every reader sees the same rows of it. The lock is released as soon
//! as the readers' snapshots exist (milliseconds), before any rows are read.
//!
//! Only a plain `SELECT <columns> FROM <table>` (no WHERE; see [`crate::scan`]) over an
//! InnoDB base table qualifies, with an estimated `scan_min_rows` rows or more and a
//! primary key that starts with an integer column (InnoDB stores rows in key order, so
//! each range is one contiguous stretch of the clustered index). Whenever a step
//! cannot be taken at once (no free connections, the fast reader unavailable, the
//! lock not granted within a second, not allowed to lock), the query runs on one
//! connection as usual.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use mysql_async::prelude::Queryable;

use super::{map_err, wire_run, MySqlConnector, WireManager};
use crate::cancel::{cancel_all, CancelSlot};
use crate::connector::partition::ranges;
use crate::error::{Error, Result};
use crate::pool::Pooled;
use crate::scan::{key_range_sql, ScanPlan};
use crate::stream::{gather_parts, join_collected, Sink};

/// Tables estimated to hold fewer rows than this are read on one connection (the
/// default of `scan_min_rows`).
pub const SCAN_MIN_ROWS: u64 = 1_000_000;

/// How long a table the catalog found unsplittable (small, no integer key, a view, not
/// InnoDB) is taken at its word before it is looked up again.
const SKIP_FOR: Duration = Duration::from_secs(60);

/// What the catalog says about the scanned table.
struct KeyInfo {
    /// The first primary-key column, quoted.
    key: String,
}

/// Integer column types a key range can be taken over.
fn is_integer_type(data_type: &str) -> bool {
    matches!(
        data_type.to_ascii_lowercase().as_str(),
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
    )
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A bound of a key range as a statement parameter.
fn bound_value(v: i128) -> mysql_async::Value {
    match i64::try_from(v) {
        Ok(i) => mysql_async::Value::Int(i),
        Err(_) => mysql_async::Value::UInt(v as u64),
    }
}

impl MySqlConnector {
    /// Read `plan` split into primary-key ranges when the table qualifies. `Ok(false)`:
    /// nothing was read or delivered; run the query on one connection.
    pub(super) async fn parallel_scan(
        &self,
        plan: &ScanPlan,
        batch_size: usize,
        sink: &mut Sink,
        cancel: &CancelSlot,
    ) -> Result<bool> {
        if self.wire_off.load(std::sync::atomic::Ordering::Relaxed) || cancel.is_cancelled() {
            return Ok(false);
        }
        if self.skip_known(&plan.table) {
            return Ok(false);
        }
        let (schema, table) = match plan.name_parts.as_slice() {
            [t] => (None, t.clone()),
            [s, t] => (Some(s.clone()), t.clone()),
            _ => return Ok(false),
        };
        let mut helper = self.checkout(cancel).await?;
        let info = match key_info(&mut helper, schema, table, self.scan_min_rows).await {
            Ok(Some(info)) => info,
            Ok(None) => {
                cancel.clear();
                self.remember_skip(&plan.table);
                return Ok(false);
            }
            Err(e) => {
                let res: Result<bool> = Err(e);
                self.finish(helper, &res, false, cancel).await;
                return res;
            }
        };
        // Reader connections that are free right now (a scan never waits for the pool).
        let mut readers: Vec<Pooled<WireManager>> = Vec::new();
        while readers.len() < self.scan_workers {
            match self.wire.try_get().await {
                Some(Ok(c)) => readers.push(c),
                _ => break,
            }
        }
        if readers.len() < 2 {
            cancel.clear();
            return Ok(false);
        }
        let (lo, hi) = match snapshot(&mut helper, &plan.table, &info, &mut readers).await {
            Ok(bounds) => bounds,
            Err(started) => {
                cancel.clear();
                if started {
                    // The readers may hold a started transaction: never pool them so.
                    for r in &mut readers {
                        r.mark_broken();
                    }
                }
                return Ok(false);
            }
        };
        drop(helper);
        cancel.clear();
        let parts = ranges(lo, hi, readers.len());
        // Fewer keys than readers (the catalog's row count is an estimate): the extra
        // readers hold a started transaction, so they are closed, not pooled.
        while readers.len() > parts.len().max(1) {
            if let Some(mut r) = readers.pop() {
                r.mark_broken();
            }
        }
        let jobs: Vec<(String, Vec<mysql_async::Value>)> = if parts.len() < 2 {
            vec![(key_range_sql(plan, &info.key, None, None), Vec::new())]
        } else {
            parts
                .iter()
                .enumerate()
                .map(|(k, (a, b))| {
                    let (first, last) = (k == 0, k + 1 == parts.len());
                    let mut args = Vec::new();
                    if !first {
                        args.push(bound_value(*a));
                    }
                    if !last {
                        args.push(bound_value(*b));
                    }
                    let sql = key_range_sql(
                        plan,
                        &info.key,
                        (!first).then_some("?"),
                        (!last).then_some("?"),
                    );
                    (sql, args)
                })
                .collect()
        };

        // One cancel slot per range, each able to KILL its reader's statement;
        // cancelling the query cancels them all.
        let slots: Vec<CancelSlot> = jobs.iter().map(|_| CancelSlot::new()).collect();
        for (slot, conn) in slots.iter().zip(&readers) {
            self.register_kill(slot, conn.id());
        }
        if cancel.register_parts(&slots).await {
            for r in &mut readers {
                r.mark_broken();
            }
            return Err(Error::cancelled("cancelled before it started"));
        }
        let settings = self.settings().clone();
        let decode = self.decode;
        let tasks: Vec<_> = jobs
            .into_iter()
            .zip(readers.into_iter().zip(slots.iter().cloned()))
            .map(|((sql, args), (conn, slot))| {
                let settings = settings.clone();
                tokio::spawn(async move {
                    let (res, part) = wire_run(
                        conn,
                        sql,
                        args,
                        decode,
                        batch_size,
                        Sink::collect(),
                        settings,
                        slot,
                        true,
                    )
                    .await;
                    res.map(|_| part)
                })
            })
            .collect();
        let parts = gather_parts(tasks, || cancel_all(&slots)).await;
        cancel.clear();
        let mut parts = parts?;
        let warnings: Vec<String> = parts.iter_mut().flat_map(Sink::take_warnings).collect();
        let (schema, batches) =
            join_collected(parts)?.ok_or_else(|| Error::interface("no scan ranges ran"))?;
        sink.schema(schema);
        sink.warn(warnings);
        for b in batches {
            if !sink.batch(b).await {
                return Err(Error::cancelled("the reader was closed"));
            }
        }
        Ok(true)
    }
}

impl MySqlConnector {
    /// Whether `table` was found unsplittable within [`SKIP_FOR`].
    fn skip_known(&self, table: &str) -> bool {
        let skip = self.scan_skip.lock().unwrap_or_else(|e| e.into_inner());
        skip.get(table).is_some_and(|until| *until > Instant::now())
    }

    fn remember_skip(&self, table: &str) {
        let mut skip = self.scan_skip.lock().unwrap_or_else(|e| e.into_inner());
        if skip.len() >= 4096 {
            skip.clear();
        }
        skip.insert(table.to_string(), Instant::now() + SKIP_FOR);
    }
}

/// The table's first primary-key column, when the table qualifies for a split. Three
/// small catalog lookups, each on constants (MariaDB answers a join of these catalog
/// tables by opening every table of every database: tens of milliseconds); the first
/// settles most queries (small tables, views, other engines).
async fn key_info(
    conn: &mut mysql_async::Conn,
    schema: Option<String>,
    table: String,
    min_rows: u64,
) -> Result<Option<KeyInfo>> {
    let schema_sql = if schema.is_some() { "?" } else { "DATABASE()" };
    let args = |extra: Vec<mysql_async::Value>| {
        let mut v: Vec<mysql_async::Value> = Vec::new();
        if let Some(s) = &schema {
            v.push(s.clone().into());
        }
        v.push(table.clone().into());
        v.extend(extra);
        mysql_async::Params::Positional(v)
    };
    let found: Option<(Option<String>, String, Option<u64>)> = conn
        .exec_first(
            format!(
                "SELECT ENGINE, TABLE_TYPE, TABLE_ROWS FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = {schema_sql} AND TABLE_NAME = ?"
            ),
            args(Vec::new()),
        )
        .await
        .map_err(map_err)?;
    let Some((engine, kind, rows)) = found else {
        return Ok(None);
    };
    if !(engine.is_some_and(|e| e.eq_ignore_ascii_case("innodb"))
        && kind.eq_ignore_ascii_case("base table")
        && rows.unwrap_or(0) >= min_rows)
    {
        return Ok(None);
    }
    let column: Option<String> = conn
        .exec_first(
            format!(
                "SELECT COLUMN_NAME FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = {schema_sql} AND TABLE_NAME = ? \
                 AND INDEX_NAME = 'PRIMARY' AND SEQ_IN_INDEX = 1"
            ),
            args(Vec::new()),
        )
        .await
        .map_err(map_err)?;
    let Some(column) = column else {
        return Ok(None);
    };
    let data_type: Option<String> = conn
        .exec_first(
            format!(
                "SELECT DATA_TYPE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = {schema_sql} AND TABLE_NAME = ? AND COLUMN_NAME = ?"
            ),
            args(vec![column.clone().into()]),
        )
        .await
        .map_err(map_err)?;
    Ok(data_type
        .is_some_and(|t| is_integer_type(&t))
        .then(|| KeyInfo {
            key: quote(&column),
        }))
}

/// Start a consistent-snapshot transaction on every reader while `helper` holds the
/// table's read lock, and read the key's bounds in that state. `Err(started)` when a
/// step failed (the lock was busy or not allowed, a reader could not start, the table
/// is empty): `started` says whether the readers were asked to start transactions.
/// The helper is left unlocked, or marked broken when even that is uncertain.
async fn snapshot(
    helper: &mut Pooled<super::MySqlManager>,
    table: &str,
    info: &KeyInfo,
    readers: &mut [Pooled<WireManager>],
) -> std::result::Result<(i128, i128), bool> {
    // Marked broken while it may hold the lock: a connection holding a table lock
    // must never go back to the pool, whatever happens below.
    helper.mark_broken();
    let locked = async {
        helper
            .query_drop("SET SESSION lock_wait_timeout = 1")
            .await?;
        helper.query_drop(format!("LOCK TABLES {table} READ")).await
    }
    .await;
    let mut started = false;
    let bounds = match locked {
        Ok(()) => {
            started = true;
            let key = &info.key;
            let begun = join_all(
                readers
                    .iter_mut()
                    .map(|r| r.simple("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")),
            )
            .await;
            if begun.iter().all(|r| r.is_ok()) {
                helper
                    .query_first::<(Option<String>, Option<String>), _>(format!(
                        "SELECT MIN({key}), MAX({key}) FROM {table}"
                    ))
                    .await
                    .ok()
                    .flatten()
            } else {
                None
            }
        }
        Err(_) => None,
    };
    let unlocked = async {
        helper.query_drop("UNLOCK TABLES").await?;
        helper
            .query_drop("SET SESSION lock_wait_timeout = DEFAULT")
            .await
    }
    .await;
    if unlocked.is_ok() {
        helper.clear_broken();
    }
    match bounds {
        Some((Some(lo), Some(hi))) => match (lo.parse(), hi.parse()) {
            (Ok(lo), Ok(hi)) => Ok((lo, hi)),
            _ => Err(started),
        },
        // An empty table (the catalog's row count is an estimate), or a failed step.
        _ => Err(started),
    }
}
