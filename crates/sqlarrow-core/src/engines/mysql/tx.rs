//! A transaction on one pinned MySQL/MariaDB connection.

use std::sync::Arc;

use arrow_array::RecordBatchReader;
use mysql_async::prelude::Queryable;

use super::{map_err, MySqlConnector, MySqlManager};
use crate::cancel::CancelSlot;
use crate::error::{Error, Result};
use crate::pool::Pooled;
use crate::stream::Sink;
use crate::value::Params;
use crate::write::{TableRef, WriteOptions, WriteResult};

pub struct MySqlTx {
    owner: Arc<MySqlConnector>,
    conn: Option<Pooled<MySqlManager>>,
    rt: tokio::runtime::Handle,
}

impl MySqlTx {
    /// Check out a connection, set the isolation level, `START TRANSACTION`.
    pub async fn begin(
        owner: Arc<MySqlConnector>,
        isolation: Option<&str>,
        read_only: bool,
        cancel: &CancelSlot,
    ) -> Result<MySqlTx> {
        // A pooled connection the server closed less than a ping interval ago (a
        // restart, KILL) fails only when used. Nothing has happened yet at this point,
        // so such a failure is retried on another connection, up to a fresh one.
        let mut attempts = owner.pool.stats().max_size.max(1) + 1;
        loop {
            let mut conn = owner.checkout(cancel).await?;
            cancel.clear();
            let res = Self::start(&mut conn, isolation, read_only).await;
            conn.observe(&res);
            match res {
                Ok(()) => {
                    return Ok(MySqlTx {
                        owner,
                        conn: Some(conn),
                        rt: tokio::runtime::Handle::current(),
                    })
                }
                Err(e) if e.kind == crate::error::ErrorKind::Connection && attempts > 1 => {
                    attempts -= 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn start(
        conn: &mut Pooled<MySqlManager>,
        isolation: Option<&str>,
        read_only: bool,
    ) -> Result<()> {
        if let Some(i) = isolation {
            conn.query_drop(format!("SET TRANSACTION ISOLATION LEVEL {i}"))
                .await
                .map_err(map_err)?;
        }
        conn.query_drop(if read_only {
            "START TRANSACTION READ ONLY"
        } else {
            "START TRANSACTION"
        })
        .await
        .map_err(map_err)
    }

    fn conn(&mut self, cancel: &CancelSlot) -> Result<&mut Pooled<MySqlManager>> {
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| Error::interface("the transaction is already finished"))?;
        if self.owner.register_kill(cancel, conn.id()) {
            return Err(Error::cancelled("cancelled before it started"));
        }
        Ok(conn)
    }

    pub async fn query(
        &mut self,
        sql: &str,
        params: &Params,
        batch_size: usize,
        sink: &mut Sink,
        cancel: &CancelSlot,
    ) -> Result<()> {
        let owner = self.owner.clone();
        let conn = self.conn(cancel)?;
        let mut pending = false;
        let res = owner
            .query_on(conn, sql, params, batch_size.max(1), sink, &mut pending)
            .await;
        if pending {
            // A result left unread: the connection is unusable for the transaction.
            conn.mark_broken();
        }
        conn.observe(&res);
        cancel.clear();
        res
    }

    pub async fn execute(
        &mut self,
        sql: &str,
        params: &Params,
        cancel: &CancelSlot,
    ) -> Result<u64> {
        let owner = self.owner.clone();
        let conn = self.conn(cancel)?;
        let res = super::execute_on(conn, sql, params, &owner.packet_limit).await;
        conn.observe(&res);
        cancel.clear();
        res
    }

    pub async fn write(
        &mut self,
        table: &TableRef,
        reader: Box<dyn RecordBatchReader + Send>,
        opts: &WriteOptions,
        cancel: &CancelSlot,
    ) -> Result<WriteResult> {
        let owner = self.owner.clone();
        let conn = self.conn(cancel)?;
        let res = owner.write_in_tx(conn, table, reader, opts).await;
        conn.observe(&res);
        cancel.clear();
        res
    }

    /// Close the connection when the transaction ends instead of handing it back: a
    /// statement left session state on it (see [`crate::params::changes_session`]).
    pub fn discard_connection(&mut self) {
        if let Some(c) = self.conn.as_mut() {
            c.mark_broken();
        }
    }

    /// `COMMIT` (or `ROLLBACK`) and hand the connection back to the pool.
    pub async fn finish(&mut self, commit: bool) -> Result<()> {
        let mut conn = self
            .conn
            .take()
            .ok_or_else(|| Error::interface("the transaction is already finished"))?;
        let res = conn
            .query_drop(if commit { "COMMIT" } else { "ROLLBACK" })
            .await
            .map_err(map_err);
        if res.is_err() {
            conn.mark_broken();
        }
        res
    }
}

impl Drop for MySqlTx {
    /// Dropped while open: roll back on the runtime, then return the connection
    /// (discarded if the rollback fails).
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            self.rt.spawn(async move {
                if conn.query_drop("ROLLBACK").await.is_err() {
                    conn.mark_broken();
                }
            });
        }
    }
}
