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

/// A statement prepared before a table it reads was altered, refused by the server
/// inside a transaction: PostgreSQL aborted the transaction, so it cannot be prepared
/// again here. Every connection of the connector prepares afresh from now on
/// ([`super::PgConn::note_outcome`]), so running the transaction again works.
fn aborted_by_stale_statement(mut e: Error) -> Error {
    if super::stale_statement(&e) {
        e.message.push_str(
            "\n(a table this statement reads changed since the connection prepared it; \
             PostgreSQL aborted the transaction: run the transaction again, and the \
             statement is prepared afresh)",
        );
    }
    e
}

pub struct PgTx {
    owner: Arc<PgConnector>,
    conn: Option<Pooled<PgManager>>,
    rt: tokio::runtime::Handle,
    /// The connector's catalog generation when the transaction began: a rollback after
    /// it moved undoes DDL that statements were prepared against since (see
    /// [`super::PgConn::catalog_changed`]).
    catalog_at_begin: u64,
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
            catalog_at_begin: conn.catalog_generation(),
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
            .await
            .map_err(aborted_by_stale_statement);
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
        let res = PgConnector::execute_on(conn, sql, params)
            .await
            .map_err(aborted_by_stale_statement);
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
        if !commit {
            conn.rolled_back_since(self.catalog_at_begin);
        }
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
            conn.rolled_back_since(self.catalog_at_begin);
            self.rt.spawn(async move {
                if conn.client.batch_execute("ROLLBACK").await.is_err() {
                    conn.mark_broken();
                }
            });
        }
    }
}
