//! A transaction on one pinned PostgreSQL connection.

use std::sync::Arc;

use arrow_array::RecordBatchReader;

use super::{map_err, PgConnector, PgManager};
use crate::cancel::CancelSlot;
use crate::error::{Error, Result};
use crate::pool::Pooled;
use crate::stream::Sink;
use crate::value::Params;
use crate::write::{TableRef, WriteOptions, WriteResult};

pub struct PgTx {
    owner: Arc<PgConnector>,
    conn: Option<Pooled<PgManager>>,
    rt: tokio::runtime::Handle,
}

impl PgTx {
    /// Check out a connection and `BEGIN` on it.
    pub async fn begin(
        owner: Arc<PgConnector>,
        isolation: Option<&str>,
        read_only: bool,
        cancel: &CancelSlot,
    ) -> Result<PgTx> {
        let conn = owner.checkout(cancel).await?;
        cancel.clear();
        let mut sql = String::from("BEGIN");
        if let Some(i) = isolation {
            sql.push_str(" ISOLATION LEVEL ");
            sql.push_str(i);
        }
        if read_only {
            sql.push_str(" READ ONLY");
        }
        conn.client.batch_execute(&sql).await.map_err(map_err)?;
        Ok(PgTx {
            owner,
            conn: Some(conn),
            rt: tokio::runtime::Handle::current(),
        })
    }

    fn conn(&mut self, cancel: &CancelSlot) -> Result<&mut Pooled<PgManager>> {
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| Error::interface("the transaction is already finished"))?;
        if self.owner.register_cancel(conn, cancel) {
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
        let res = owner
            .query_on(conn, sql, params, batch_size.max(1), sink)
            .await;
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
        let conn = self.conn(cancel)?;
        let res = PgConnector::execute_on(conn, sql, params).await;
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
        let res = super::write::write_in_tx(&owner, conn, table, reader, opts).await;
        conn.observe(&res);
        cancel.clear();
        res
    }

    /// `COMMIT` (or `ROLLBACK`) and hand the connection back to the pool.
    pub async fn finish(&mut self, commit: bool) -> Result<()> {
        let mut conn = self
            .conn
            .take()
            .ok_or_else(|| Error::interface("the transaction is already finished"))?;
        let res = conn
            .client
            .batch_execute(if commit { "COMMIT" } else { "ROLLBACK" })
            .await
            .map_err(map_err);
        if res.is_err() {
            // Unknown state: never hand this connection to someone else.
            conn.mark_broken();
        }
        res
    }
}

impl Drop for PgTx {
    /// Dropped while open: roll back on the runtime, then return the connection
    /// (discarded if the rollback fails).
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            self.rt.spawn(async move {
                if conn.client.batch_execute("ROLLBACK").await.is_err() {
                    conn.mark_broken();
                }
            });
        }
    }
}
