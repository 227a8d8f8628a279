//! Parallel scans of one large SQLite table: rowid ranges, one connection (and one
//! blocking thread) each, all reading the same snapshot.
//!
//! SQLite has no exported snapshots, so the readers' transactions are started while
//! no writer can commit:
//! - rollback-journal modes: the first reader's shared lock (taken by its first read
//!   and held until it ends its transaction) keeps every writer from committing while
//!   the others start theirs;
//! - WAL mode (readers never block writers): a helper connection holds the write lock
//!   (`BEGIN IMMEDIATE`) while the readers start, then lets go. A read-only connector
//!   cannot take it, so it reads WAL databases on one connection.
//!
//! Only rowid tables qualify (not views, not `WITHOUT ROWID`, not tables that declare a
//! column named `rowid`, `oid` or `_rowid_`), and only columns with declared types (an
//! undeclared column is typed from its first rows, which could differ between ranges).
//! Whenever a step cannot be done at once (a lock is busy, the pool has no free
//! connection), the query runs on one connection as usual.

use futures_util::future::join_all;
use rusqlite::Connection;

use super::{
    forward, kind_from_decl, map_err, read_rows, wait_for_locks, Kind, Msg, SqliteConnector,
    BUSY_MS,
};
use crate::cancel::CancelSlot;
use crate::connector::partition::ranges;
use crate::error::{Error, Result};
use crate::pool::Pooled;
use crate::scan::{rowid_range_sql, ScanPlan};
use crate::stream::{join_collected, Sink};
use crate::value::Params;

/// Tables whose rowids span fewer values than this are read on one connection.
pub const SCAN_MIN_ROWS: i64 = 1_000_000;
/// How long a scan waits for a lock before giving up on splitting, in milliseconds.
const LOCK_WAIT_MS: u64 = 100;
/// The rowid bounds of `table`. Two subqueries: SQLite reads MIN or MAX of the rowid
/// from the end of the b-tree only when it is the query's single aggregate; together in
/// one SELECT they scan the whole table.
fn rowid_bounds_sql(table: &str) -> String {
    format!("SELECT (SELECT min(rowid) FROM {table}), (SELECT max(rowid) FROM {table})")
}

/// Run `f` on a blocking thread with the connection of `guard` (taken out and put back).
async fn on<T: Send + 'static>(
    guard: &mut Pooled<super::SqliteManager>,
    f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
) -> Result<T> {
    let mut conn = guard.take();
    match tokio::task::spawn_blocking(move || {
        let r = f(&mut conn);
        (conn, r)
    })
    .await
    {
        Ok((conn, r)) => {
            guard.restore(conn);
            r
        }
        Err(e) => {
            guard.mark_broken();
            Err(Error::interface(format!("SQLite worker failed: {e}")))
        }
    }
}

/// Start a read transaction and take its snapshot, waiting at most [`LOCK_WAIT`].
fn begin_read(conn: &mut Connection, table: &str) -> Result<()> {
    wait_for_locks::<LOCK_WAIT_MS>(conn)?;
    let r = conn
        .execute_batch("BEGIN")
        .and_then(|_| {
            conn.query_row(&format!("SELECT 1 FROM {table} LIMIT 1"), [], |_| Ok(()))
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(()),
                    e => Err(e),
                })
        })
        .map_err(map_err);
    wait_for_locks::<BUSY_MS>(conn)?;
    if r.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    r
}

fn end(conn: &mut Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// [`end`] on a pooled connection (on a blocking thread).
async fn end_on(guard: &mut Pooled<super::SqliteManager>) {
    let _ = on(guard, |c| {
        end(c);
        Ok(())
    })
    .await;
}

impl SqliteConnector {
    /// Read a large single table over several connections. `Ok(false)`: not split (the
    /// caller runs the query on one connection); nothing was delivered to `sink`.
    pub(super) async fn parallel_scan(
        &self,
        plan: &ScanPlan,
        batch_size: usize,
        sink: &mut Sink,
        cancel: &CancelSlot,
    ) -> Result<bool> {
        let res = self.parallel_scan_on(plan, batch_size, sink, cancel).await;
        cancel.clear();
        res
    }

    async fn parallel_scan_on(
        &self,
        plan: &ScanPlan,
        batch_size: usize,
        sink: &mut Sink,
        cancel: &CancelSlot,
    ) -> Result<bool> {
        let workers = self.scan_workers;
        let (Some(bare), true) = (plan.bare_table.clone(), workers > 1) else {
            return Ok(false);
        };
        if self.pool.manager().memory || self.pool.stats().max_size < 2 || cancel.is_cancelled() {
            return Ok(false);
        }
        let mut first = self.pool.get().await?;
        // One blocking step: is it a plain rowid table with declared column types, big
        // enough, and which journal mode is the database in?
        let (table, head) = (plan.table.clone(), plan.clone());
        let probe = on(&mut first, move |c| {
            let kind: Option<(String, Option<String>)> = c
                .query_row(
                    "SELECT type, sql FROM sqlite_master WHERE name = ?1 COLLATE NOCASE \
                     AND type IN ('table', 'view')",
                    [&bare],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .ok();
            let Some((ty, ddl)) = kind else {
                return Ok(None);
            };
            let ddl = ddl.unwrap_or_default().to_ascii_uppercase();
            if ty != "table" || ddl.contains("WITHOUT ROWID") || ddl.contains("VIRTUAL TABLE") {
                return Ok(None);
            }
            let shadowed: i64 = c
                .query_row(
                    "SELECT count(*) FROM pragma_table_info(?1) \
                     WHERE lower(name) IN ('rowid', 'oid', '_rowid_')",
                    [&bare],
                    |r| r.get(0),
                )
                .map_err(map_err)?;
            if shadowed > 0 {
                return Ok(None);
            }
            let sql = rowid_range_sql(&head, 0, 0);
            let stmt = c.prepare(&sql).map_err(map_err)?;
            if stmt
                .columns()
                .iter()
                .any(|col| kind_from_decl(col.decl_type()) == Kind::Undeclared)
            {
                return Ok(None);
            }
            drop(stmt);
            let (lo, hi): (Option<i64>, Option<i64>) = c
                .query_row(&rowid_bounds_sql(&table), [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(map_err)?;
            let big =
                matches!((lo, hi), (Some(lo), Some(hi)) if hi.saturating_sub(lo) >= SCAN_MIN_ROWS);
            if !big {
                return Ok(None);
            }
            let mode: String = c
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .map_err(map_err)?;
            Ok(Some(mode.eq_ignore_ascii_case("wal")))
        })
        .await;
        let wal = match probe {
            Ok(Some(wal)) => wal,
            _ => return Ok(false),
        };
        if wal && self.pool.manager().read_only {
            return Ok(false);
        }
        let mut readers = vec![first];
        while readers.len() < workers {
            match self.pool.try_get().await {
                Some(Ok(c)) => readers.push(c),
                _ => break,
            }
        }
        let mut locker = None;
        if wal {
            // (No free connection for the lock: one connection reads it all.)
            let Some(Ok(c)) = self.pool.try_get().await else {
                return Ok(false);
            };
            let l = locker.insert(c);
            let locked = on(l, |c| {
                wait_for_locks::<LOCK_WAIT_MS>(c)?;
                let r = c.execute_batch("BEGIN IMMEDIATE").map_err(map_err);
                wait_for_locks::<BUSY_MS>(c)?;
                r
            })
            .await;
            if locked.is_err() {
                return Ok(false);
            }
        }
        if readers.len() < 2 {
            if let Some(l) = locker.as_mut() {
                end_on(l).await;
            }
            return Ok(false);
        }
        // Start every reader's snapshot while no writer can commit.
        let mut started = 0;
        for r in readers.iter_mut() {
            let t = plan.table.clone();
            if on(r, move |c| begin_read(c, &t)).await.is_err() {
                break;
            }
            started += 1;
        }
        if let Some(l) = locker.as_mut() {
            end_on(l).await;
        }
        drop(locker);
        let rollback_all = |readers: &mut Vec<Pooled<super::SqliteManager>>| {
            let readers = std::mem::take(readers);
            async move {
                for mut r in readers {
                    end_on(&mut r).await;
                }
            }
        };
        if started < readers.len() {
            rollback_all(&mut readers).await;
            return Ok(false);
        }
        // The bounds, in the shared snapshot.
        let t = plan.table.clone();
        let bounds = on(&mut readers[0], move |c| {
            c.query_row(&rowid_bounds_sql(&t), [], |r| {
                Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?))
            })
            .map_err(map_err)
        })
        .await;
        let (lo, hi) = match bounds {
            Ok((Some(lo), Some(hi))) => (lo, hi),
            _ => {
                rollback_all(&mut readers).await;
                return Ok(false);
            }
        };
        let parts = ranges(lo as i128, hi as i128, readers.len());
        readers.truncate(parts.len());
        // Cancelling the query interrupts every reader.
        let mut handles = Vec::new();
        let mut conns = Vec::new();
        for r in readers.iter_mut() {
            let c = r.take();
            handles.push(c.get_interrupt_handle());
            conns.push(c);
        }
        if let Some(fut) = cancel.register(move || -> crate::cancel::CancelFuture {
            for h in &handles {
                h.interrupt();
            }
            Box::pin(async {})
        }) {
            fut.await;
        }
        let runs = conns.into_iter().zip(parts).map(|(mut conn, (a, b))| {
            let sql = rowid_range_sql(plan, a as i64, b as i64);
            async move {
                let (tx, rx) = tokio::sync::mpsc::channel::<Result<Msg>>(4);
                let work = tokio::task::spawn_blocking(move || {
                    let r = read_rows(&mut conn, &sql, &Params::default(), batch_size, &mut |m| {
                        tx.blocking_send(Ok(m)).is_ok()
                    });
                    if let Err(e) = &r {
                        let _ = tx.blocking_send(Err(e.clone()));
                    }
                    drop(tx);
                    end(&mut conn);
                    (conn, r)
                });
                let mut part = Sink::collect();
                let (joined, forwarded) = tokio::join!(work, forward(rx, &mut part));
                (joined, forwarded, part)
            }
        });
        let results = join_all(runs).await;
        let mut failure: Option<Error> = None;
        let mut parts_out = Vec::new();
        for (r, (joined, forwarded, part)) in readers.iter_mut().zip(results) {
            match joined {
                Ok((conn, res)) => {
                    r.restore(conn);
                    if let Err(e) = res.and(forwarded) {
                        failure.get_or_insert(e);
                    }
                }
                Err(e) => {
                    r.mark_broken();
                    failure.get_or_insert(Error::interface(format!("SQLite worker failed: {e}")));
                }
            }
            parts_out.push(part);
        }
        drop(readers);
        if let Some(e) = failure {
            if cancel.is_cancelled() {
                return Err(Error::cancelled("the query was cancelled"));
            }
            return Err(e);
        }
        let Some((schema, batches)) = join_collected(parts_out)? else {
            return Ok(false);
        };
        sink.schema(schema);
        for b in batches {
            if !sink.batch(b).await {
                return Err(Error::cancelled("the reader was closed"));
            }
        }
        Ok(true)
    }
}
