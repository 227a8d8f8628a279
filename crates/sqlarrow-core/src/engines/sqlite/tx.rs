//! A transaction on one pinned SQLite connection (run on blocking threads).

use std::sync::Arc;

use arrow_array::RecordBatchReader;

use super::{map_err, read_rows, Msg, SqliteConnector, SqliteManager};
use crate::cancel::CancelSlot;
use crate::error::{Error, ErrorKind, Result};
use crate::pool::Pooled;
use crate::stream::Sink;
use crate::value::Params;
use crate::write::{TableRef, WriteOptions, WriteResult};

pub struct SqliteTx {
    guard: Option<Pooled<SqliteManager>>,
    read_only: bool,
    /// An in-memory database lives in its one connection: never discarded.
    memory: bool,
}

type Conn = rusqlite::Connection;

impl SqliteTx {
    /// Check out a connection and `BEGIN` on it. SQLite transactions are serializable;
    /// `read_only` sets `PRAGMA query_only` for the transaction's duration.
    pub async fn begin(owner: Arc<SqliteConnector>, read_only: bool) -> Result<SqliteTx> {
        let guard = owner.pool.get().await?;
        let mut tx = SqliteTx {
            guard: Some(guard),
            read_only: false,
            memory: owner.pool.manager().memory,
        };
        let sql = if read_only {
            "PRAGMA query_only = 1; BEGIN"
        } else {
            "BEGIN"
        };
        tx.run(&CancelSlot::new(), move |c| {
            c.execute_batch(sql).map_err(map_err)
        })
        .await?;
        tx.read_only = read_only;
        Ok(tx)
    }

    /// Run `f` on the pinned connection on a blocking thread, interruptible via `cancel`.
    async fn run<T: Send + 'static>(
        &mut self,
        cancel: &CancelSlot,
        f: impl FnOnce(&mut Conn) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let guard = self
            .guard
            .as_mut()
            .ok_or_else(|| Error::interface("the transaction is already finished"))?;
        let mut conn = guard.take();
        let handle = conn.get_interrupt_handle();
        if let Some(f) = cancel.register(move || {
            handle.interrupt();
            Box::pin(async {})
        }) {
            f.await;
        }
        let res = tokio::task::spawn_blocking(move || {
            let r = f(&mut conn);
            (conn, r)
        })
        .await;
        cancel.clear();
        match res {
            Ok((conn, r)) => {
                guard.restore(conn);
                r
            }
            Err(e) => {
                // The connection is gone with the worker: drop the guard (discarded).
                if let Some(mut g) = self.guard.take() {
                    g.mark_broken();
                }
                Err(Error::new(
                    ErrorKind::Query,
                    format!("SQLite worker failed: {e}"),
                ))
            }
        }
    }

    pub async fn query(
        &mut self,
        sql: &str,
        params: &Params,
        batch_size: usize,
        sink: &mut Sink,
        cancel: &CancelSlot,
    ) -> Result<()> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Msg>>(2);
        let sql = sql.to_string();
        let params = params.clone();
        let batch_size = batch_size.max(1);
        let work = self.run(cancel, move |conn| {
            if let Err(e) = read_rows(conn, &sql, &params, batch_size, &mut |m| {
                tx.blocking_send(Ok(m)).is_ok()
            }) {
                let _ = tx.blocking_send(Err(e));
            }
            Ok(())
        });
        let (w, f) = tokio::join!(work, super::forward(rx, sink));
        w?;
        f
    }

    pub async fn execute(
        &mut self,
        sql: &str,
        params: &Params,
        cancel: &CancelSlot,
    ) -> Result<u64> {
        let sql = sql.to_string();
        let params = params.clone();
        self.run(cancel, move |conn| super::execute_on(conn, &sql, &params))
            .await
    }

    pub async fn write(
        &mut self,
        table: &TableRef,
        reader: Box<dyn RecordBatchReader + Send>,
        opts: &WriteOptions,
        cancel: &CancelSlot,
    ) -> Result<WriteResult> {
        let start = std::time::Instant::now();
        let table = table.clone();
        let opts = opts.clone();
        let mut res = self
            .run(cancel, move |conn| {
                super::write::write_sync(conn, &table, reader, &opts)
            })
            .await?;
        res.elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
        Ok(res)
    }

    /// Close the connection when the transaction ends instead of handing it back: a
    /// statement left session state on it (see [`crate::params::changes_session`]).
    pub fn discard_connection(&mut self) {
        if self.memory {
            return;
        }
        if let Some(c) = self.guard.as_mut() {
            c.mark_broken();
        }
    }

    /// `COMMIT` (or `ROLLBACK`) and hand the connection back to the pool.
    pub async fn finish(&mut self, commit: bool) -> Result<()> {
        let ro = self.read_only;
        let res = self
            .run(&CancelSlot::new(), move |c| {
                let r = c
                    .execute_batch(if commit { "COMMIT" } else { "ROLLBACK" })
                    .map_err(map_err);
                if r.is_err() && !c.is_autocommit() {
                    let _ = c.execute_batch("ROLLBACK");
                }
                if ro {
                    let _ = c.execute_batch("PRAGMA query_only = 0");
                }
                r
            })
            .await;
        self.guard = None;
        res
    }
}

impl Drop for SqliteTx {
    /// Dropped while open: roll back right here (a local call), then return the
    /// connection to the pool.
    fn drop(&mut self) {
        if let Some(mut g) = self.guard.take() {
            let ok = g.execute_batch("ROLLBACK").is_ok() || g.is_autocommit();
            let _ = g.execute_batch("PRAGMA query_only = 0");
            if !ok {
                g.mark_broken();
            }
        }
    }
}
