//! One API over every engine: query, stream, execute, executemany, test, stats, close.

pub mod partition;
mod schema_ops;

pub use partition::MAX_PARTITIONS;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::cancel::CancelSlot;
use crate::error::{Error, Result};
use crate::params::Lexicon;
use crate::pool::PoolStats;
use crate::readonly::{check_statement_text, SqlDialect};
use crate::stream::{BatchStream, Sink};
use crate::value::Params;

#[cfg(feature = "mysql")]
use crate::engines::mysql::{MySqlConfig, MySqlConnector};
#[cfg(feature = "postgres")]
use crate::engines::postgres::{PgConfig, PgConnector};
#[cfg(feature = "sqlite")]
use crate::engines::sqlite::{SqliteConfig, SqliteConnector};

/// Per-call options for reads.
#[derive(Debug, Clone, Copy)]
pub struct QueryOptions {
    pub batch_size: usize,
    /// Per-call statement timeout (overrides the connector's `statement_timeout`).
    pub timeout: Option<Duration>,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            batch_size: 65_536,
            timeout: None,
        }
    }
}

/// A collected result.
pub struct QueryOutput {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub elapsed_ms: f64,
    /// The server's warnings about the statement (MySQL's `SHOW WARNINGS`), e.g. a
    /// result cut short or values truncated in a cast.
    pub warnings: Vec<String>,
}

/// The outcome of `test_connection`: never an error.
#[derive(Debug, Clone)]
pub struct ConnectionStatus {
    pub ok: bool,
    pub latency_ms: Option<f64>,
    pub server_version: Option<String>,
    pub error: Option<Error>,
}

#[derive(Clone)]
enum Engine {
    #[cfg(feature = "postgres")]
    Postgres(Arc<PgConnector>),
    #[cfg(feature = "sqlite")]
    Sqlite(Arc<SqliteConnector>),
    #[cfg(feature = "mysql")]
    Mysql(Arc<MySqlConnector>),
}

/// A pooled connector to one database, cheap to clone and safe to share.
#[derive(Clone)]
pub struct Connector {
    engine: Engine,
    /// Read-only mode: every statement is validated ([`crate::readonly`]), writes refused.
    read_only: bool,
    /// Default statement timeout of every call (cancelled on the server when it fires).
    statement_timeout: Option<Duration>,
}

/// Run `fut` under `limit` (none: no limit); when it fires, cancel the statement on the
/// server (through `cancel`), let it wind down, and return a `Timeout` error.
pub(crate) async fn run_timed<T>(
    limit: Option<Duration>,
    cancel: &CancelSlot,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    let Some(limit) = limit else {
        return fut.await;
    };
    tokio::pin!(fut);
    match tokio::time::timeout(limit, &mut fut).await {
        Ok(r) => r,
        Err(_) => {
            const GRACE: Duration = Duration::from_secs(5);
            if let Some(c) = cancel.cancel() {
                let _ = tokio::time::timeout(GRACE, c).await;
            }
            // Let the cancelled statement wind down so its connection stays usable.
            let _ = tokio::time::timeout(GRACE, &mut fut).await;
            // The statement is over: a later cancel (a stream closed by its reader)
            // must not reach the next statement run on that connection.
            cancel.clear();
            Err(timeout_error(limit, "cancelled on the server"))
        }
    }
}

/// The error of a statement stopped by its time limit; `how` says how it was stopped.
fn timeout_error(limit: Duration, how: &str) -> Error {
    Error::new(
        crate::error::ErrorKind::Timeout,
        format!(
            "the statement ran longer than its timeout ({:.3} s) and was {how}",
            limit.as_secs_f64()
        ),
    )
    .with_detail("timeout", format!("{}", limit.as_secs_f64()))
}

/// `e`, with a timeout error (from a calling-thread path, which stopped at the
/// deadline of `limit`) restated by [`timeout_error`].
fn name_limit(e: Error, limit: Option<Duration>, how: &str) -> Error {
    match (e.kind, limit) {
        (crate::error::ErrorKind::Timeout, Some(t)) => timeout_error(t, how),
        _ => e,
    }
}

impl Connector {
    #[cfg(feature = "postgres")]
    pub fn postgres(cfg: PgConfig) -> Result<Self> {
        Ok(Connector {
            engine: Engine::Postgres(Arc::new(PgConnector::new(cfg)?)),
            read_only: false,
            statement_timeout: None,
        })
    }

    #[cfg(feature = "sqlite")]
    pub fn sqlite(cfg: SqliteConfig) -> Result<Self> {
        Ok(Connector {
            engine: Engine::Sqlite(Arc::new(SqliteConnector::new(cfg)?)),
            read_only: false,
            statement_timeout: None,
        })
    }

    #[cfg(feature = "mysql")]
    pub fn mysql(cfg: MySqlConfig) -> Result<Self> {
        Ok(Connector {
            engine: Engine::Mysql(Arc::new(MySqlConnector::new(cfg)?)),
            read_only: false,
            statement_timeout: None,
        })
    }

    /// Turn read-only mode on or off (layer 2: SQL validation; the engines' session
    /// settings are layer 1 and come from their configs).
    pub fn with_read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Set the default statement timeout of every call.
    pub fn with_statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.statement_timeout = timeout;
        self
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout
    }

    /// The parser dialect of this engine.
    pub fn sql_dialect(&self) -> SqlDialect {
        SqlDialect::for_engine(self.engine_name())
    }

    /// See [`check_statement_text`].
    fn check_read(&self, sql: &str) -> Result<()> {
        check_statement_text(sql, self.engine_name(), self.read_only, false)
    }

    /// In read-only mode, refuse an API-level write (`write`, DDL from a schema diff).
    pub(crate) fn refuse_if_read_only(&self, what: &str) -> Result<()> {
        if self.read_only {
            Err(Error::new(
                crate::error::ErrorKind::ReadOnly,
                format!("read-only mode refused {what}: the connector is read-only"),
            )
            .transient(false)
            .with_detail("reason", "read_only"))
        } else {
            Ok(())
        }
    }

    /// Run `fut` under the call's (or the connector's) statement timeout; when it fires,
    /// cancel the statement on the server and return a `Timeout` error.
    async fn timed<T>(
        &self,
        per_call: Option<Duration>,
        cancel: &CancelSlot,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        run_timed(per_call.or(self.statement_timeout), cancel, fut).await
    }

    /// `"postgres"`, `"sqlite"`, ...
    pub fn engine_name(&self) -> &'static str {
        match &self.engine {
            #[cfg(feature = "postgres")]
            Engine::Postgres(c) if c.is_redshift() => "redshift",
            #[cfg(feature = "postgres")]
            Engine::Postgres(_) => "postgres",
            #[cfg(feature = "sqlite")]
            Engine::Sqlite(_) => "sqlite",
            #[cfg(feature = "mysql")]
            Engine::Mysql(_) => "mysql",
        }
    }

    pub fn lexicon(&self) -> Lexicon {
        match &self.engine {
            #[cfg(feature = "postgres")]
            Engine::Postgres(_) => crate::engines::postgres::LEXICON,
            #[cfg(feature = "sqlite")]
            Engine::Sqlite(_) => crate::engines::sqlite::LEXICON,
            #[cfg(feature = "mysql")]
            Engine::Mysql(_) => crate::engines::mysql::LEXICON,
        }
    }

    fn check_open(&self) -> Result<()> {
        let closed = match &self.engine {
            #[cfg(feature = "postgres")]
            Engine::Postgres(c) => c.pool().is_closed(),
            #[cfg(feature = "sqlite")]
            Engine::Sqlite(c) => c.pool().is_closed(),
            #[cfg(feature = "mysql")]
            Engine::Mysql(c) => c.pool().is_closed(),
        };
        if closed {
            Err(Error::interface("the connector is closed"))
        } else {
            Ok(())
        }
    }

    async fn run_query(
        &self,
        sql: &str,
        params: &Params,
        opts: QueryOptions,
        sink: &mut Sink,
        cancel: &CancelSlot,
    ) -> Result<()> {
        self.check_open()?;
        match &self.engine {
            #[cfg(feature = "postgres")]
            Engine::Postgres(c) => c.query(sql, params, opts.batch_size, sink, cancel).await,
            #[cfg(feature = "sqlite")]
            Engine::Sqlite(c) => c.query(sql, params, opts.batch_size, sink, cancel).await,
            #[cfg(feature = "mysql")]
            Engine::Mysql(c) => c.query(sql, params, opts.batch_size, sink, cancel).await,
        }
    }

    /// Run a query and collect every batch on the calling thread, where the engine can:
    /// SQLite in-process (see `SqliteConnector::query_direct`), PostgreSQL and MySQL
    /// through an idle pooled connection whose socket this thread then drives itself
    /// (see [`crate::direct`]). `None`: use [`Connector::query`]. `interrupted` is asked
    /// every 50 ms whether to stop (Ctrl-C); `rt` is the runtime the connections belong
    /// to (for cancelling a statement on the server).
    pub fn query_direct(
        &self,
        sql: &str,
        params: &Params,
        opts: QueryOptions,
        interrupted: std::sync::Arc<dyn Fn() -> bool + Send + Sync>,
        rt: &tokio::runtime::Handle,
    ) -> Option<Result<QueryOutput>> {
        if let Err(e) = self.check_open().and_then(|()| self.check_read(sql)) {
            return Some(Err(e));
        }
        let start = Instant::now();
        let limit = opts.timeout.or(self.statement_timeout);
        let deadline = limit.map(|t| start + t);
        let out: Result<(SchemaRef, Vec<RecordBatch>, Vec<String>)> = match &self.engine {
            #[cfg(feature = "sqlite")]
            Engine::Sqlite(c) => c
                .query_direct(sql, params, opts.batch_size, deadline, interrupted)?
                .map(|(schema, batches)| (schema, batches, Vec::new())),
            #[cfg(all(feature = "mysql", unix))]
            Engine::Mysql(c) => c
                .query_direct(sql, params, opts.batch_size, deadline, &*interrupted, rt)?
                .and_then(Sink::into_collected),
            #[cfg(all(feature = "postgres", unix))]
            Engine::Postgres(c) => c
                .query_direct(sql, params, opts.batch_size, deadline, &*interrupted, rt)?
                .and_then(Sink::into_collected),
            #[allow(unreachable_patterns)]
            _ => {
                let _ = (params, interrupted, deadline, rt);
                return None;
            }
        };
        Some(
            out.map_err(|e| self.named(name_limit(e, limit, "interrupted"), sql))
                .map(|(schema, batches, warnings)| QueryOutput {
                    schema,
                    batches,
                    elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
                    warnings,
                }),
        )
    }

    /// Run one statement on the calling thread, where the engine can (PostgreSQL,
    /// through an idle pooled TCP connection: see [`crate::direct`]). `None`: use
    /// [`Connector::execute_timeout`]. Arguments as for [`Connector::query_direct`].
    pub fn execute_direct(
        &self,
        sql: &str,
        params: &Params,
        timeout: Option<Duration>,
        interrupted: std::sync::Arc<dyn Fn() -> bool + Send + Sync>,
        rt: &tokio::runtime::Handle,
    ) -> Option<Result<u64>> {
        if let Err(e) = self.check_open().and_then(|()| self.check_read(sql)) {
            return Some(Err(e));
        }
        let limit = timeout.or(self.statement_timeout);
        let deadline = limit.map(|t| Instant::now() + t);
        #[cfg(all(feature = "postgres", unix))]
        #[allow(irrefutable_let_patterns)]
        if let Engine::Postgres(c) = &self.engine {
            let out = c.execute_direct(sql, params, deadline, &*interrupted, rt)?;
            return Some(
                out.map_err(|e| self.named(name_limit(e, limit, "cancelled on the server"), sql)),
            );
        }
        let _ = (params, interrupted, deadline, rt);
        None
    }

    /// Run a query and collect every batch.
    pub async fn query(
        &self,
        sql: &str,
        params: &Params,
        opts: QueryOptions,
        cancel: &CancelSlot,
    ) -> Result<QueryOutput> {
        self.check_read(sql)?;
        let sql_text = sql;
        let start = Instant::now();
        // Decode on a runtime worker, next to the connection task: waking a thread
        // outside the runtime for every network message costs more than the decoding.
        let this = self.clone();
        let (sql, params, task_cancel) = (sql.to_string(), params.clone(), cancel.clone());
        let task = tokio::spawn(crate::pool::carry_caller(async move {
            let mut sink = Sink::collect();
            this.run_query(&sql, &params, opts, &mut sink, &task_cancel)
                .await
                .map(|_| sink)
        }));
        let sink = self
            .timed(opts.timeout, cancel, async {
                task.await
                    .map_err(|e| Error::interface(format!("the query task failed: {e}")))?
            })
            .await
            .map_err(|e| self.named(e, sql_text))?;
        let (schema, batches, warnings) = sink.into_collected()?;
        Ok(QueryOutput {
            schema,
            batches,
            elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
            warnings,
        })
    }

    /// Start a query in the background and return a reader of its batches. Errors that
    /// happen before the first row (syntax, parameters, unsupported types) are returned here.
    pub async fn stream(
        &self,
        sql: &str,
        params: &Params,
        opts: QueryOptions,
        cancel: &CancelSlot,
    ) -> Result<BatchStream> {
        self.check_open()?;
        self.check_read(sql)?;
        let this = self.clone();
        let sql = sql.to_string();
        let params = params.clone();
        let task_cancel = cancel.clone();
        let producer = crate::stream::Producer::default();
        crate::stream::spawn_stream(producer, cancel.clone(), move |sink| {
            Box::pin(async move {
                // The timeout covers the whole statement, like a server-side one.
                let limit = opts.timeout.or(this.statement_timeout);
                this.timed(
                    limit,
                    &task_cancel,
                    this.run_query(&sql, &params, opts, sink, &task_cancel),
                )
                .await
                .map_err(|e| this.named(e, &sql))
            })
        })
        .await
    }

    pub async fn execute(&self, sql: &str, params: &Params, cancel: &CancelSlot) -> Result<u64> {
        self.execute_timeout(sql, params, cancel, None).await
    }

    /// [`Connector::execute`] with a per-call statement timeout.
    pub async fn execute_timeout(
        &self,
        sql: &str,
        params: &Params,
        cancel: &CancelSlot,
        timeout: Option<Duration>,
    ) -> Result<u64> {
        self.check_open()?;
        self.check_read(sql)?;
        self.timed(timeout, cancel, async {
            match &self.engine {
                #[cfg(feature = "postgres")]
                Engine::Postgres(c) => c.execute(sql, params, cancel).await,
                #[cfg(feature = "sqlite")]
                Engine::Sqlite(c) => c.execute(sql, params, cancel).await,
                #[cfg(feature = "mysql")]
                Engine::Mysql(c) => c.execute(sql, params, cancel).await,
            }
        })
        .await
        .map_err(|e| self.named(e, sql))
    }

    pub async fn executemany(
        &self,
        sql: &str,
        sets: &[Params],
        cancel: &CancelSlot,
    ) -> Result<u64> {
        self.check_open()?;
        self.check_read(sql)?;
        self.timed(None, cancel, async {
            match &self.engine {
                #[cfg(feature = "postgres")]
                Engine::Postgres(c) => c.executemany(sql, sets, cancel).await,
                #[cfg(feature = "sqlite")]
                Engine::Sqlite(c) => c.executemany(sql, sets, cancel).await,
                #[cfg(feature = "mysql")]
                Engine::Mysql(c) => c.executemany(sql, sets, cancel).await,
            }
        })
        .await
        .map_err(|e| self.named(e, sql))
    }

    /// A server's error for several statements given where one runs, named as such
    /// (see [`crate::params::name_several_statements`]).
    fn named(&self, e: Error, sql: &str) -> Error {
        crate::params::name_several_statements(e, sql, self.lexicon())
    }

    /// Check the server answers; never fails.
    pub async fn test_connection(&self) -> ConnectionStatus {
        let start = Instant::now();
        let res: Result<String> = async {
            self.check_open()?;
            match &self.engine {
                #[cfg(feature = "postgres")]
                Engine::Postgres(c) => c.server_version().await,
                #[cfg(feature = "sqlite")]
                Engine::Sqlite(c) => {
                    c.ping().await?;
                    c.server_version().await
                }
                #[cfg(feature = "mysql")]
                Engine::Mysql(c) => c.server_version().await,
            }
        }
        .await;
        match res {
            Ok(v) => ConnectionStatus {
                ok: true,
                latency_ms: Some(start.elapsed().as_secs_f64() * 1000.0),
                server_version: Some(v),
                error: None,
            },
            Err(e) => ConnectionStatus {
                ok: false,
                latency_ms: None,
                server_version: None,
                error: Some(e),
            },
        }
    }

    /// Begin a transaction on a connection pinned until commit/rollback (see
    /// [`crate::transaction`]).
    pub async fn begin(
        &self,
        opts: &crate::transaction::TxOptions,
        cancel: &CancelSlot,
    ) -> Result<crate::transaction::Transaction> {
        use crate::transaction::{parse_isolation, Transaction, TxInner};
        let _ = cancel; // SQLite transactions begin locally: nothing to cancel
        self.check_open()?;
        let iso = opts.isolation.as_deref().map(parse_isolation).transpose()?;
        let inner = match &self.engine {
            #[cfg(feature = "postgres")]
            Engine::Postgres(c) => TxInner::Postgres(Box::new(
                crate::engines::postgres::tx::PgTx::begin(c.clone(), iso, opts.read_only, cancel)
                    .await?,
            )),
            #[cfg(feature = "sqlite")]
            Engine::Sqlite(c) => {
                if !matches!(iso, None | Some("SERIALIZABLE")) {
                    return Err(Error::config(
                        "SQLite transactions are always serializable; isolation must be None or \"serializable\"",
                    ));
                }
                TxInner::Sqlite(
                    crate::engines::sqlite::tx::SqliteTx::begin(c.clone(), opts.read_only).await?,
                )
            }
            #[cfg(feature = "mysql")]
            Engine::Mysql(c) => TxInner::Mysql(
                crate::engines::mysql::tx::MySqlTx::begin(c.clone(), iso, opts.read_only, cancel)
                    .await?,
            ),
        };
        Ok(Transaction::new(
            inner,
            self.engine_name(),
            self.read_only,
            self.statement_timeout,
        ))
    }

    /// Bulk-write the batches of `reader` into `table`.
    #[cfg_attr(
        not(any(feature = "postgres", feature = "sqlite")),
        allow(unused_variables)
    )]
    pub async fn write(
        &self,
        table: &str,
        reader: Box<dyn arrow_array::RecordBatchReader + Send>,
        opts: &crate::write::WriteOptions,
        cancel: &CancelSlot,
    ) -> Result<crate::write::WriteResult> {
        self.check_open()?;
        self.refuse_if_read_only("write")?;
        let table = crate::write::TableRef::parse(table)?;
        crate::write::check_extension_types(&reader.schema())?;
        // Structs and maps (and lists, where the engine has no arrays) go in as JSON.
        let reader = crate::write::nested_as_json(
            reader,
            crate::write::engine_has_arrays(self.engine_name()),
        );
        let reader = crate::write::refuse_null_keys(reader, opts);
        // The connector's statement timeout bounds the whole write (a lock wait, the
        // load, the merge), as it bounds a query: on expiry the server is asked to
        // cancel, and the write's transaction rolls back.
        self.timed(opts.timeout, cancel, async {
            match &self.engine {
                #[cfg(feature = "postgres")]
                Engine::Postgres(c) => c.write(&table, reader, opts, cancel).await,
                #[cfg(feature = "sqlite")]
                Engine::Sqlite(c) => c.write(&table, reader, opts, cancel).await,
                #[cfg(feature = "mysql")]
                Engine::Mysql(c) => c.write(&table, reader, opts, cancel).await,
                #[allow(unreachable_patterns)]
                _ => Err(Error::interface(format!(
                    "write is not supported for {} yet",
                    self.engine_name()
                ))),
            }
        })
        .await
    }

    pub fn pool_stats(&self) -> PoolStats {
        match &self.engine {
            #[cfg(feature = "postgres")]
            Engine::Postgres(c) => c.pool().stats(),
            #[cfg(feature = "sqlite")]
            Engine::Sqlite(c) => c.pool().stats(),
            #[cfg(feature = "mysql")]
            Engine::Mysql(c) => c.stats(),
        }
    }

    pub fn close(&self) {
        match &self.engine {
            #[cfg(feature = "postgres")]
            Engine::Postgres(c) => c.pool().close(),
            #[cfg(feature = "sqlite")]
            Engine::Sqlite(c) => c.pool().close(),
            #[cfg(feature = "mysql")]
            Engine::Mysql(c) => c.close(),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.check_open().is_err()
    }
}
