//! Transactions on a pinned connection: `Connector::begin` checks one connection out of
//! the pool and keeps it until `commit`/`rollback`. Every `query`/`execute`/`write` of
//! the transaction runs on that connection; writes are atomic inside it through a
//! savepoint. Dropping an open [`Transaction`] rolls it back and returns the connection
//! to the pool (or discards it when the rollback fails), so a forgotten transaction
//! never leaks its locks or its uncommitted state into the next user of the connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatchReader;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::cancel::CancelSlot;
use crate::connector::QueryOutput;
use crate::error::{Error, ErrorKind, Result};
use crate::readonly::check_statement_text;
use crate::stream::{BatchStream, Sink};
use crate::value::Params;
use crate::write::{TableRef, WriteOptions, WriteResult};

#[cfg(feature = "mysql")]
use crate::engines::mysql::tx::MySqlTx;
#[cfg(feature = "postgres")]
use crate::engines::postgres::tx::PgTx;
#[cfg(feature = "sqlite")]
use crate::engines::sqlite::tx::SqliteTx;

/// How a transaction starts.
#[derive(Debug, Clone, Default)]
pub struct TxOptions {
    /// `read uncommitted`, `read committed`, `repeatable read` or `serializable`
    /// (spaces or underscores, any case); `None`: the server's default.
    pub isolation: Option<String>,
    pub read_only: bool,
}

/// Normalize an isolation level to its SQL spelling.
pub fn parse_isolation(s: &str) -> Result<&'static str> {
    let n = s.trim().to_ascii_lowercase().replace(['_', '-'], " ");
    Ok(match n.as_str() {
        "read uncommitted" => "READ UNCOMMITTED",
        "read committed" => "READ COMMITTED",
        "repeatable read" => "REPEATABLE READ",
        "serializable" => "SERIALIZABLE",
        _ => {
            return Err(Error::config(format!(
                "unknown isolation level {s:?}; expected read committed, repeatable read, \
                 serializable or read uncommitted"
            )))
        }
    })
}

pub(crate) enum TxInner {
    #[cfg(feature = "postgres")]
    Postgres(Box<PgTx>),
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteTx),
    #[cfg(feature = "mysql")]
    Mysql(MySqlTx),
}

/// A server's error for several statements given where one runs, named as such (see
/// [`crate::params::name_several_statements`]).
fn named(e: Error, sql: &str, lexicon: crate::params::Lexicon) -> Error {
    crate::params::name_several_statements(e, sql, lexicon)
}

/// An open transaction. Methods take `&self` (calls are serialized internally).
pub struct Transaction {
    /// The open transaction (`None` once finished), shared with a stream's producer.
    inner: Arc<Mutex<Option<TxInner>>>,
    engine: &'static str,
    /// The connector is read-only: statements are validated, writes refused.
    read_only_connector: bool,
    /// The connector's statement timeout: it bounds each statement here as it does
    /// outside a transaction.
    statement_timeout: Option<Duration>,
    /// A stream of the transaction holds the connection and waits for its reader to
    /// take a batch: another call now would wait for itself.
    stream_waiting: Arc<AtomicBool>,
}

macro_rules! dispatch {
    ($inner:expr, $tx:ident => $body:expr) => {
        match $inner {
            #[cfg(feature = "postgres")]
            TxInner::Postgres($tx) => $body,
            #[cfg(feature = "sqlite")]
            TxInner::Sqlite($tx) => $body,
            #[cfg(feature = "mysql")]
            TxInner::Mysql($tx) => $body,
        }
    };
}

/// A statement that leaves session state on the connection (a `SET`, a temporary
/// table, MySQL's `USE`) has it closed when the transaction ends: handed back to the
/// pool, its state reached whichever later call got that connection.
fn keep_session_off_the_pool(inner: &mut TxInner, sql: &str, lexicon: crate::params::Lexicon) {
    if crate::params::changes_session(sql, lexicon) {
        dispatch!(inner, tx => tx.discard_connection());
    }
}

impl Transaction {
    pub(crate) fn new(
        inner: TxInner,
        engine: &'static str,
        read_only_connector: bool,
        statement_timeout: Option<Duration>,
    ) -> Self {
        Transaction {
            inner: Arc::new(Mutex::new(Some(inner))),
            engine,
            read_only_connector,
            statement_timeout,
            stream_waiting: Arc::default(),
        }
    }

    /// The transaction's connection, once no other call or stream holds it. A stream
    /// whose reader has not taken its next batch holds it until read to the end or
    /// closed: waiting for it from the reader's own thread would never end.
    async fn lock(&self) -> Result<OwnedMutexGuard<Option<TxInner>>> {
        loop {
            if let Ok(g) = self.inner.clone().try_lock_owned() {
                return Ok(g);
            }
            if self.stream_waiting.load(Ordering::Acquire) {
                return Err(Error::interface(
                    "a stream of this transaction is still open: read it to the end or \
                     close it before the transaction's next statement",
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Stream a query's batches from the transaction's connection. The stream holds the
    /// connection until it is read to the end or closed; closing it early reads the
    /// rest of the result and drops it (stopping the statement would abort a
    /// PostgreSQL transaction), so the transaction goes on. Errors before the first row
    /// are returned here.
    pub async fn stream(
        &self,
        sql: &str,
        params: &Params,
        batch_size: usize,
        timeout: Option<Duration>,
    ) -> Result<BatchStream> {
        self.check_read(sql)?;
        let mut guard = self.lock().await?;
        let producer = crate::stream::Producer {
            drain: self.engine != "sqlite",
            waiting: Some(self.stream_waiting.clone()),
        };
        let limit = timeout.or(self.statement_timeout);
        let (sql, params, lexicon) = (sql.to_string(), params.clone(), self.lexicon());
        // Closing the stream cancels nothing (see above): its slot is its own.
        crate::stream::spawn_stream(producer, CancelSlot::new(), move |sink| {
            Box::pin(async move {
                let inner = guard.as_mut().ok_or_else(Self::finished)?;
                keep_session_off_the_pool(inner, &sql, lexicon);
                // The statement's own cancel handle: the timeout stops it on the server.
                let cancel = CancelSlot::new();
                crate::connector::run_timed(limit, &cancel, async {
                    dispatch!(inner, t => t.query(&sql, &params, batch_size.max(1), sink, &cancel).await)
                })
                .await
                .map_err(|e| named(e, &sql, lexicon))
            })
        })
        .await
    }

    pub fn engine_name(&self) -> &'static str {
        self.engine
    }

    fn finished() -> Error {
        Error::interface("the transaction is already finished (committed or rolled back)")
    }

    fn lexicon(&self) -> crate::params::Lexicon {
        crate::params::Lexicon::for_engine_or_postgres(self.engine)
    }

    fn check_read(&self, sql: &str) -> Result<()> {
        check_statement_text(sql, self.engine, self.read_only_connector, true)
    }

    /// Whether the transaction is still open.
    pub async fn is_active(&self) -> bool {
        match self.inner.try_lock() {
            Ok(g) => g.is_some(),
            // A stream holds the connection: the transaction is open.
            Err(_) => true,
        }
    }

    /// Run a query on the transaction's connection and collect every batch, under
    /// `timeout` (else the connector's statement timeout). A statement stopped by it is
    /// cancelled on the server; on PostgreSQL that aborts the transaction.
    pub async fn query(
        &self,
        sql: &str,
        params: &Params,
        batch_size: usize,
        timeout: Option<Duration>,
        cancel: &CancelSlot,
    ) -> Result<QueryOutput> {
        self.check_read(sql)?;
        let start = Instant::now();
        let mut guard = self.lock().await?;
        let inner = guard.as_mut().ok_or_else(Self::finished)?;
        let mut sink = Sink::collect();
        let limit = timeout.or(self.statement_timeout);
        keep_session_off_the_pool(inner, sql, self.lexicon());
        crate::connector::run_timed(limit, cancel, async {
            dispatch!(inner, tx => tx.query(sql, params, batch_size, &mut sink, cancel).await)
        })
        .await
        .map_err(|e| named(e, sql, self.lexicon()))?;
        let (schema, batches, warnings) = sink.into_collected()?;
        Ok(QueryOutput {
            schema,
            batches,
            elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
            warnings,
        })
    }

    /// Run one statement on the transaction's connection, under `timeout` (else the
    /// connector's statement timeout); returns rows affected.
    pub async fn execute(
        &self,
        sql: &str,
        params: &Params,
        timeout: Option<Duration>,
        cancel: &CancelSlot,
    ) -> Result<u64> {
        self.check_read(sql)?;
        let mut guard = self.lock().await?;
        let inner = guard.as_mut().ok_or_else(Self::finished)?;
        let limit = timeout.or(self.statement_timeout);
        keep_session_off_the_pool(inner, sql, self.lexicon());
        crate::connector::run_timed(limit, cancel, async {
            dispatch!(inner, tx => tx.execute(sql, params, cancel).await)
        })
        .await
        .map_err(|e| named(e, sql, self.lexicon()))
    }

    /// Bulk-write inside the transaction (atomic through a savepoint).
    pub async fn write(
        &self,
        table: &str,
        reader: Box<dyn RecordBatchReader + Send>,
        opts: &WriteOptions,
        cancel: &CancelSlot,
    ) -> Result<WriteResult> {
        if self.read_only_connector {
            return Err(Error::new(
                ErrorKind::ReadOnly,
                "read-only mode refused a write: the connector is read-only",
            )
            .transient(false)
            .with_detail("reason", "read_only"));
        }
        let table = TableRef::parse(table)?;
        crate::write::check_extension_types(&reader.schema())?;
        let reader = crate::write::nested_as_json(
            reader,
            crate::write::engine_has_arrays(self.engine_name()),
        );
        let reader = crate::write::refuse_null_keys(reader, opts);
        let mut guard = self.lock().await?;
        let inner = guard.as_mut().ok_or_else(Self::finished)?;
        let limit = opts.timeout.or(self.statement_timeout);
        crate::connector::run_timed(limit, cancel, async {
            dispatch!(inner, tx => tx.write(&table, reader, opts, cancel).await)
        })
        .await
    }

    fn quote(&self, name: &str) -> Result<String> {
        if name.is_empty() || name.contains('\0') {
            return Err(Error::config(format!("invalid savepoint name {name:?}")));
        }
        Ok(if self.engine == "mysql" {
            format!("`{}`", name.replace('`', "``"))
        } else {
            format!("\"{}\"", name.replace('"', "\"\""))
        })
    }

    async fn control(&self, sql: String) -> Result<()> {
        let mut guard = self.lock().await?;
        let inner = guard.as_mut().ok_or_else(Self::finished)?;
        let cancel = CancelSlot::new();
        dispatch!(inner, tx => tx.execute(&sql, &Params::default(), &cancel).await).map(|_| ())
    }

    /// `SAVEPOINT name`.
    pub async fn savepoint(&self, name: &str) -> Result<()> {
        let q = self.quote(name)?;
        self.control(format!("SAVEPOINT {q}")).await
    }

    /// `RELEASE SAVEPOINT name` (keep its changes).
    pub async fn release_savepoint(&self, name: &str) -> Result<()> {
        let q = self.quote(name)?;
        self.control(format!("RELEASE SAVEPOINT {q}")).await
    }

    /// `ROLLBACK TO SAVEPOINT name` (undo its changes; the transaction stays open).
    pub async fn rollback_to_savepoint(&self, name: &str) -> Result<()> {
        let q = self.quote(name)?;
        self.control(format!("ROLLBACK TO SAVEPOINT {q}")).await
    }

    async fn finish(&self, commit: bool) -> Result<()> {
        let mut guard = self.lock().await?;
        let mut inner = guard.take().ok_or_else(Self::finished)?;
        dispatch!(&mut inner, tx => tx.finish(commit).await)
    }

    /// Commit and return the connection to the pool.
    pub async fn commit(&self) -> Result<()> {
        self.finish(true).await
    }

    /// Roll back and return the connection to the pool.
    pub async fn rollback(&self) -> Result<()> {
        self.finish(false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_levels() {
        assert_eq!(parse_isolation("read_committed").unwrap(), "READ COMMITTED");
        assert_eq!(parse_isolation(" Serializable ").unwrap(), "SERIALIZABLE");
        assert_eq!(
            parse_isolation("bogus").unwrap_err().kind,
            ErrorKind::Config
        );
    }
}
