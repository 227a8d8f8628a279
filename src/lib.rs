//! `sqlarrow._core`: the PyO3 bindings over `sqlarrow-core`.
//!
//! Only conversions live here: Python arguments → core calls (with the GIL released
//! and Ctrl-C turned into server-side cancellation, see [`runtime::wait_for`]), core
//! errors → `sqlarrow.exceptions`, and Arrow results → PyCapsules.

mod convert;
mod errors;
mod runtime;
mod schema;
mod transaction;

use std::sync::Arc;

use std::time::Duration;
use tokio::sync::Mutex;

use arrow_array::{ArrayRef, RecordBatch, StructArray};
use arrow_schema::{ArrowError, Field, SchemaRef};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyList};
use pyo3_arrow::ffi::{to_schema_pycapsule, to_stream_pycapsule, ArrayIterator};
use sqlarrow_core::cancel::CancelSlot;
use sqlarrow_core::pool::PoolConfig;
use sqlarrow_core::stream::BatchStream;
use sqlarrow_core::{Connector, ErrorKind, Params, QueryOptions};

use crate::errors::{err, to_pyerr};
use crate::runtime::{execute_direct, query_direct, wait_for};

fn pool_config(pool_size: usize, pool_timeout: f64) -> PyResult<PoolConfig> {
    if pool_size == 0 {
        return Err(err(ErrorKind::Config, "pool_size must be at least 1"));
    }
    if !(pool_timeout.is_finite() && pool_timeout > 0.0) {
        return Err(err(
            ErrorKind::Config,
            "pool_timeout must be a positive number of seconds",
        ));
    }
    Ok(PoolConfig {
        max_size: pool_size,
        acquire_timeout: Duration::from_secs_f64(pool_timeout),
        ..PoolConfig::default()
    })
}

/// A connector's `settings=`: (name, value) pairs, values str, int, float or bool.
fn settings_arg(
    dialect: sqlarrow_core::settings::SettingsDialect,
    settings: Option<Vec<(String, Bound<'_, PyAny>)>>,
) -> PyResult<sqlarrow_core::settings::Settings> {
    use pyo3::types::{PyBool, PyFloat, PyInt, PyString};
    use sqlarrow_core::settings::{SettingValue, Settings};
    let mut pairs = Vec::new();
    for (name, value) in settings.unwrap_or_default() {
        let v = if let Ok(b) = value.cast::<PyBool>() {
            SettingValue::Bool(b.is_true())
        } else if value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>() {
            SettingValue::Number(value.str()?.to_string())
        } else if value.is_instance_of::<PyString>() {
            SettingValue::Text(value.extract::<String>().map_err(|_| {
                err(
                    ErrorKind::Config,
                    format!("settings: the value of {name:?} is not valid UTF-8 text"),
                )
            })?)
        } else {
            return Err(err(
                ErrorKind::Config,
                format!(
                    "settings: the value of {name:?} must be a str, int, float or bool, not {}",
                    value.get_type().name()?
                ),
            ));
        };
        pairs.push((name, v));
    }
    Settings::new(dialect, pairs).map_err(to_pyerr)
}

/// A stream's or query's `batch_size` (rows per batch): at least 1.
fn check_batch_size(batch_size: usize) -> PyResult<()> {
    if batch_size == 0 {
        return Err(err(ErrorKind::Config, "batch_size must be at least 1"));
    }
    Ok(())
}

/// A timeout in seconds from Python (None: no timeout).
fn timeout_arg(name: &str, seconds: Option<f64>) -> PyResult<Option<Duration>> {
    match seconds {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(_) => Err(err(
            ErrorKind::Config,
            format!("{name} must be a positive number of seconds"),
        )),
    }
}

/// Raise `ReadOnlyViolation` unless `sql` is one read statement for `engine`'s dialect.
#[pyfunction]
fn check_read_only(sql: &str, engine: &str) -> PyResult<()> {
    sqlarrow_core::readonly::check_read_only(
        sql,
        sqlarrow_core::readonly::SqlDialect::for_engine(engine),
    )
    .map_err(to_pyerr)
}

fn struct_field(schema: &SchemaRef) -> Arc<Field> {
    Arc::new(
        Field::new_struct("", schema.fields().clone(), false)
            .with_metadata(schema.metadata().clone()),
    )
}

/// A pooled connection to one database. Thread-safe.
#[pyclass(frozen, name = "RawConnector", module = "sqlarrow._core")]
struct RawConnector {
    inner: Connector,
}

impl RawConnector {
    fn prepare_call(
        &self,
        py: Python<'_>,
        sql: &str,
        params: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(String, Params)> {
        convert::to_params(py, sql, params, self.inner.lexicon())
    }
}

#[pymethods]
impl RawConnector {
    #[staticmethod]
    #[pyo3(signature = (*, host, port, database, user, password, pool_size, pool_timeout, sslmode, connect_timeout, application_name, sslrootcert=None, sslcert=None, sslkey=None, redshift=false, read_only=false, statement_timeout=None, uuid_as="arrow", scan_workers=1, scan_min_bytes=67108864, settings=None))]
    #[allow(clippy::too_many_arguments)]
    fn postgres(
        host: String,
        port: u16,
        database: Option<String>,
        user: Option<String>,
        password: Option<String>,
        pool_size: usize,
        pool_timeout: f64,
        sslmode: String,
        connect_timeout: f64,
        application_name: Option<String>,
        sslrootcert: Option<String>,
        sslcert: Option<String>,
        sslkey: Option<String>,
        redshift: bool,
        read_only: bool,
        statement_timeout: Option<f64>,
        uuid_as: &str,
        scan_workers: usize,
        scan_min_bytes: u64,
        settings: Option<Vec<(String, Bound<'_, PyAny>)>>,
    ) -> PyResult<Self> {
        #[cfg(feature = "postgres")]
        {
            let uuid_as_string = match uuid_as {
                "arrow" => false,
                "string" => true,
                other => {
                    return Err(err(
                        ErrorKind::Config,
                        format!("uuid_as must be \"arrow\" or \"string\", not {other:?}"),
                    ))
                }
            };
            if !(connect_timeout.is_finite() && connect_timeout > 0.0) {
                return Err(err(
                    ErrorKind::Config,
                    "connect_timeout must be a positive number of seconds",
                ));
            }
            let cfg = sqlarrow_core::engines::postgres::PgConfig {
                host,
                port,
                database,
                user,
                password,
                sslmode,
                sslrootcert,
                sslcert,
                sslkey,
                connect_timeout: Duration::from_secs_f64(connect_timeout),
                application_name,
                redshift,
                uuid_as_string,
                read_only,
                scan_workers: if redshift {
                    1
                } else {
                    scan_workers.clamp(1, 64)
                },
                scan_min_bytes,
                settings: settings_arg(
                    if redshift {
                        sqlarrow_core::settings::SettingsDialect::Redshift
                    } else {
                        sqlarrow_core::settings::SettingsDialect::Postgres
                    },
                    settings,
                )?,
                pool: pool_config(pool_size, pool_timeout)?,
            };
            let timeout = timeout_arg("statement_timeout", statement_timeout)?;
            Ok(RawConnector {
                inner: Connector::postgres(cfg)
                    .map_err(to_pyerr)?
                    .with_read_only(read_only)
                    .with_statement_timeout(timeout),
            })
        }
        #[cfg(not(feature = "postgres"))]
        {
            let _ = (
                host,
                port,
                database,
                user,
                password,
                pool_size,
                pool_timeout,
                sslmode,
                connect_timeout,
                application_name,
                sslrootcert,
                sslcert,
                sslkey,
                redshift,
                read_only,
                statement_timeout,
                uuid_as,
                scan_workers,
                scan_min_bytes,
                settings,
            );
            Err(err(
                ErrorKind::Config,
                "this build of sqlarrow was compiled without the postgres engine",
            ))
        }
    }

    #[staticmethod]
    #[pyo3(signature = (*, host, port, database, user, password, pool_size, pool_timeout, ssl_mode, connect_timeout, ssl_ca=None, tinyint1_as_bool=true, zero_date_as_null=true, read_only=false, statement_timeout=None, ssl_cert=None, ssl_key=None, scan_workers=1, scan_min_rows=1000000, time_as_duration=false, settings=None))]
    #[allow(clippy::too_many_arguments)]
    fn mysql(
        host: String,
        port: u16,
        database: Option<String>,
        user: Option<String>,
        password: Option<String>,
        pool_size: usize,
        pool_timeout: f64,
        ssl_mode: String,
        connect_timeout: f64,
        ssl_ca: Option<String>,
        tinyint1_as_bool: bool,
        zero_date_as_null: bool,
        read_only: bool,
        statement_timeout: Option<f64>,
        ssl_cert: Option<String>,
        ssl_key: Option<String>,
        scan_workers: usize,
        scan_min_rows: u64,
        time_as_duration: bool,
        settings: Option<Vec<(String, Bound<'_, PyAny>)>>,
    ) -> PyResult<Self> {
        #[cfg(feature = "mysql")]
        {
            use sqlarrow_core::engines::mysql::{decode::DecodeOptions, MySqlConfig};
            if !(connect_timeout.is_finite() && connect_timeout > 0.0) {
                return Err(err(
                    ErrorKind::Config,
                    "connect_timeout must be a positive number of seconds",
                ));
            }
            let cfg = MySqlConfig {
                host,
                port,
                database,
                user,
                password,
                ssl_mode,
                ssl_ca,
                ssl_cert,
                ssl_key,
                connect_timeout: Duration::from_secs_f64(connect_timeout),
                decode: DecodeOptions {
                    tinyint1_as_bool,
                    zero_date_as_null,
                    time_as_duration,
                },
                read_only,
                scan_workers: scan_workers.clamp(1, 64),
                scan_min_rows,
                settings: settings_arg(sqlarrow_core::settings::SettingsDialect::MySql, settings)?,
                pool: pool_config(pool_size, pool_timeout)?,
            };
            let timeout = timeout_arg("statement_timeout", statement_timeout)?;
            Ok(RawConnector {
                inner: Connector::mysql(cfg)
                    .map_err(to_pyerr)?
                    .with_read_only(read_only)
                    .with_statement_timeout(timeout),
            })
        }
        #[cfg(not(feature = "mysql"))]
        {
            let _ = (
                host,
                port,
                database,
                user,
                password,
                pool_size,
                pool_timeout,
                ssl_mode,
                connect_timeout,
                ssl_ca,
                tinyint1_as_bool,
                zero_date_as_null,
                read_only,
                statement_timeout,
                ssl_cert,
                ssl_key,
                scan_workers,
                scan_min_rows,
                time_as_duration,
                settings,
            );
            Err(err(
                ErrorKind::Config,
                "this build of sqlarrow was compiled without the mysql engine",
            ))
        }
    }

    #[staticmethod]
    #[pyo3(signature = (*, path, pool_size, pool_timeout, read_only, statement_timeout=None, settings=None))]
    fn sqlite(
        path: String,
        pool_size: usize,
        pool_timeout: f64,
        read_only: bool,
        statement_timeout: Option<f64>,
        settings: Option<Vec<(String, Bound<'_, PyAny>)>>,
    ) -> PyResult<Self> {
        #[cfg(feature = "sqlite")]
        {
            let cfg = sqlarrow_core::engines::sqlite::SqliteConfig {
                path,
                read_only,
                settings: settings_arg(sqlarrow_core::settings::SettingsDialect::Sqlite, settings)?,
                pool: pool_config(pool_size, pool_timeout)?,
            };
            let timeout = timeout_arg("statement_timeout", statement_timeout)?;
            Ok(RawConnector {
                inner: Connector::sqlite(cfg)
                    .map_err(to_pyerr)?
                    .with_read_only(read_only)
                    .with_statement_timeout(timeout),
            })
        }
        #[cfg(not(feature = "sqlite"))]
        {
            let _ = (
                path,
                pool_size,
                pool_timeout,
                read_only,
                statement_timeout,
                settings,
            );
            Err(err(
                ErrorKind::Config,
                "this build of sqlarrow was compiled without the sqlite engine",
            ))
        }
    }

    #[getter]
    fn engine(&self) -> &'static str {
        self.inner.engine_name()
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    #[pyo3(signature = (sql, params=None, batch_size=65536, timeout=None, partition_on=None, partitions=4))]
    #[allow(clippy::too_many_arguments)]
    fn query(
        &self,
        py: Python<'_>,
        sql: &str,
        params: Option<&Bound<'_, PyAny>>,
        batch_size: usize,
        timeout: Option<f64>,
        partition_on: Option<&str>,
        partitions: usize,
    ) -> PyResult<RawResult> {
        crate::check_batch_size(batch_size)?;
        let (sql, params) = self.prepare_call(py, sql, params)?;
        let cancel = CancelSlot::new();
        let opts = QueryOptions {
            batch_size,
            timeout: timeout_arg("timeout", timeout)?,
        };
        let out = match partition_on {
            None => match query_direct(py, &self.inner, &sql, &params, opts)? {
                Some(out) => out,
                None => wait_for(
                    py,
                    Some(&cancel),
                    self.inner.query(&sql, &params, opts, &cancel),
                )?,
            },
            Some(column) => wait_for(
                py,
                Some(&cancel),
                self.inner
                    .query_partitioned(&sql, &params, column, partitions, opts, &cancel),
            )?,
        };
        Ok(out.into())
    }

    #[pyo3(signature = (sql, params=None, batch_size=65536, timeout=None))]
    fn stream(
        &self,
        py: Python<'_>,
        sql: &str,
        params: Option<&Bound<'_, PyAny>>,
        batch_size: usize,
        timeout: Option<f64>,
    ) -> PyResult<RawStream> {
        crate::check_batch_size(batch_size)?;
        let (sql, params) = self.prepare_call(py, sql, params)?;
        let cancel = CancelSlot::new();
        let opts = QueryOptions {
            batch_size,
            timeout: timeout_arg("timeout", timeout)?,
        };
        let inner = self.inner.clone();
        let stream = wait_for(py, Some(&cancel), {
            let cancel = cancel.clone();
            async move { inner.stream(&sql, &params, opts, &cancel).await }
        })?;
        Ok(RawStream::new(stream))
    }

    #[pyo3(signature = (sql, params=None, timeout=None))]
    fn execute(
        &self,
        py: Python<'_>,
        sql: &str,
        params: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<u64> {
        let timeout = timeout_arg("timeout", timeout)?;
        let (sql, params) = self.prepare_call(py, sql, params)?;
        if let Some(n) = execute_direct(py, &self.inner, &sql, &params, timeout)? {
            return Ok(n);
        }
        let cancel = CancelSlot::new();
        wait_for(
            py,
            Some(&cancel),
            self.inner.execute_timeout(&sql, &params, &cancel, timeout),
        )
    }

    #[getter]
    fn read_only(&self) -> bool {
        self.inner.is_read_only()
    }

    fn executemany(
        &self,
        py: Python<'_>,
        sql: &str,
        seq_of_params: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let mut rewritten: Option<String> = None;
        let mut sets = Vec::new();
        for (i, item) in seq_of_params.try_iter()?.enumerate() {
            let item = item?;
            let (s, p) = self.prepare_call(py, sql, Some(&item))?;
            // One statement runs for every set: a set whose lists fill `IN (:name)` with
            // other lengths than the first set's would be bound to the wrong markers.
            if rewritten.as_ref().is_some_and(|first| *first != s) {
                return Err(err(
                    ErrorKind::Parameter,
                    format!(
                        "parameter set {i} fills the statement's IN lists with other lengths \
                         than the first set; executemany runs one statement for every set: \
                         group the sets by list lengths, or call execute() for each"
                    ),
                ));
            }
            rewritten.get_or_insert(s);
            sets.push(p);
        }
        let sql = rewritten.unwrap_or_else(|| sql.to_string());
        let cancel = CancelSlot::new();
        wait_for(
            py,
            Some(&cancel),
            self.inner.executemany(&sql, &sets, &cancel),
        )
    }

    fn test_connection<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let status = wait_for(py, None, async { Ok(self.inner.test_connection().await) })?;
        let d = PyDict::new(py);
        d.set_item("ok", status.ok)?;
        d.set_item("latency_ms", status.latency_ms)?;
        d.set_item("server_version", status.server_version)?;
        d.set_item(
            "error",
            status
                .error
                .as_ref()
                .map(|e| format!("{}: {}", e.kind.class_name(), e.message)),
        )?;
        Ok(d)
    }

    /// Begin a transaction on a pinned connection.
    #[pyo3(signature = (isolation=None, read_only=false))]
    fn begin(
        &self,
        py: Python<'_>,
        isolation: Option<String>,
        read_only: bool,
    ) -> PyResult<transaction::RawTransaction> {
        let opts = sqlarrow_core::transaction::TxOptions {
            isolation,
            read_only,
        };
        let cancel = CancelSlot::new();
        let tx = wait_for(py, Some(&cancel), self.inner.begin(&opts, &cancel))?;
        Ok(transaction::RawTransaction {
            conn: self.inner.clone(),
            inner: Arc::new(tx),
        })
    }

    #[pyo3(signature = (table, data, mode="append", key=None, create_if_missing=true, column_map=None, batch_size=None, on_error="raise", timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn write<'py>(
        &self,
        py: Python<'py>,
        table: &str,
        data: &Bound<'py, PyAny>,
        mode: &str,
        key: Option<Vec<String>>,
        create_if_missing: bool,
        column_map: Option<std::collections::HashMap<String, String>>,
        batch_size: Option<usize>,
        on_error: &str,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let timeout = timeout_arg("timeout", timeout)?;
        let (reader, mut opts) = transaction::write_args(
            data,
            mode,
            key,
            create_if_missing,
            column_map,
            batch_size,
            on_error,
        )?;
        opts.timeout = timeout;
        let cancel = CancelSlot::new();
        let res = wait_for(
            py,
            Some(&cancel),
            self.inner.write(table, reader, &opts, &cancel),
        )?;
        transaction::write_dict(py, res)
    }

    fn pool_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.pool_stats();
        let d = PyDict::new(py);
        d.set_item("max_size", s.max_size)?;
        d.set_item("size", s.size)?;
        d.set_item("idle", s.idle)?;
        d.set_item("in_use", s.in_use)?;
        d.set_item("waiting", s.waiting)?;
        d.set_item("created", s.created)?;
        d.set_item("closed", s.closed)?;
        Ok(d)
    }

    fn close(&self) {
        self.inner.close();
    }

    // ---- introspection and DDL (see src/schema.rs) ----

    fn list_schemas(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        schema::list_schemas(self, py)
    }

    #[pyo3(signature = (schema=None))]
    fn list_tables<'py>(
        &self,
        py: Python<'py>,
        schema: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        schema::list_tables(self, py, schema)
    }

    #[pyo3(signature = (table, schema=None))]
    fn table_exists(
        &self,
        py: Python<'_>,
        table: &Bound<'_, PyAny>,
        schema: Option<&str>,
    ) -> PyResult<bool> {
        schema::table_exists(self, py, &schema::table_arg(table)?, schema)
    }

    /// The canonical schema of a table, as JSON.
    #[pyo3(signature = (table, schema=None))]
    fn get_schema(
        &self,
        py: Python<'_>,
        table: &Bound<'_, PyAny>,
        schema: Option<&str>,
    ) -> PyResult<String> {
        schema::get_schema(self, py, &schema::table_arg(table)?, schema)
    }

    #[pyo3(signature = (table, schema_json, if_not_exists=false, widen_unsigned=false, text_fallback=false))]
    fn create_table(
        &self,
        py: Python<'_>,
        table: &Bound<'_, PyAny>,
        schema_json: &str,
        if_not_exists: bool,
        widen_unsigned: bool,
        text_fallback: bool,
    ) -> PyResult<Vec<String>> {
        schema::create_table(
            self,
            py,
            table,
            schema_json,
            if_not_exists,
            widen_unsigned,
            text_fallback,
        )
    }

    #[pyo3(signature = (diff_json, table, allow_destructive=false, dry_run=false, widen_unsigned=false, text_fallback=false))]
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        py: Python<'_>,
        diff_json: &str,
        table: &Bound<'_, PyAny>,
        allow_destructive: bool,
        dry_run: bool,
        widen_unsigned: bool,
        text_fallback: bool,
    ) -> PyResult<Vec<String>> {
        schema::apply(
            self,
            py,
            diff_json,
            table,
            allow_destructive,
            dry_run,
            widen_unsigned,
            text_fallback,
        )
    }

    fn __repr__(&self) -> String {
        format!("<RawConnector engine={}>", self.inner.engine_name())
    }
}

/// A fully materialized result.
#[pyclass(frozen, name = "RawResult", module = "sqlarrow._core")]
struct RawResult {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    elapsed_ms: f64,
    /// The server's warnings about the statement (MySQL's `SHOW WARNINGS`).
    warnings: Vec<String>,
}

fn export_batches<'py>(
    py: Python<'py>,
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    requested_schema: Option<Bound<'py, PyCapsule>>,
) -> PyResult<Bound<'py, PyCapsule>> {
    let field = struct_field(schema);
    let iter = batches
        .into_iter()
        .map(|b| Ok(Arc::new(StructArray::from(b)) as ArrayRef));
    let reader = Box::new(ArrayIterator::new(iter, field));
    Ok(to_stream_pycapsule(py, reader, requested_schema)?)
}

impl From<sqlarrow_core::QueryOutput> for RawResult {
    fn from(out: sqlarrow_core::QueryOutput) -> Self {
        RawResult {
            schema: out.schema,
            batches: out.batches,
            elapsed_ms: out.elapsed_ms,
            warnings: out.warnings,
        }
    }
}

#[pymethods]
impl RawResult {
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyCapsule>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        export_batches(py, &self.schema, self.batches.clone(), requested_schema)
    }

    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        Ok(to_schema_pycapsule(py, self.schema.as_ref())?)
    }

    /// The result in types polars can import: intervals without months as durations;
    /// what polars cannot take (month intervals, decimal256) is an error naming the
    /// column, where polars itself would panic.
    fn for_polars(&self) -> PyResult<RawResult> {
        let (schema, batches) =
            sqlarrow_core::polars::for_polars(&self.schema, &self.batches).map_err(to_pyerr)?;
        Ok(RawResult {
            schema,
            batches,
            elapsed_ms: self.elapsed_ms,
            warnings: self.warnings.clone(),
        })
    }

    #[getter]
    fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    #[getter]
    fn num_batches(&self) -> usize {
        self.batches.len()
    }

    #[getter]
    fn nbytes(&self) -> usize {
        self.batches.iter().map(|b| b.get_array_memory_size()).sum()
    }

    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    #[getter]
    fn execution_time_ms(&self) -> f64 {
        self.elapsed_ms
    }

    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    fn to_pylist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        convert::to_pylist(py, &self.batches, &self.column_names())
    }

    fn __len__(&self) -> usize {
        self.num_rows()
    }

    fn __repr__(&self) -> String {
        format!(
            "<RawResult rows={} columns={}>",
            self.num_rows(),
            self.schema.fields().len()
        )
    }
}

/// A reader of batches decoded in the background.
#[pyclass(frozen, name = "RawStream", module = "sqlarrow._core")]
struct RawStream {
    schema: SchemaRef,
    inner: Arc<Mutex<Option<BatchStream>>>,
    /// The server's warnings, complete once the stream is exhausted.
    warnings: sqlarrow_core::stream::Warnings,
}

impl RawStream {
    pub(crate) fn new(stream: BatchStream) -> Self {
        RawStream {
            schema: stream.schema(),
            warnings: stream.warnings_handle(),
            inner: Arc::new(Mutex::new(Some(stream))),
        }
    }
}

/// Blocking iterator over a stream for the C stream interface (pulled by the consumer).
struct BlockingBatches(BatchStream);

impl Iterator for BlockingBatches {
    type Item = Result<ArrayRef, ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.0.blocking_next()? {
            Ok(b) => Some(Ok(Arc::new(StructArray::from(b)) as ArrayRef)),
            Err(e) => Some(Err(ArrowError::ExternalError(Box::new(e)))),
        }
    }
}

#[pymethods]
impl RawStream {
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyCapsule>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let stream = self.inner.blocking_lock().take().ok_or_else(|| {
            err(
                ErrorKind::Interface,
                "this stream was already consumed or closed",
            )
        })?;
        let reader = Box::new(ArrayIterator::new(
            BlockingBatches(stream),
            struct_field(&self.schema),
        ));
        Ok(to_stream_pycapsule(py, reader, requested_schema)?)
    }

    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        Ok(to_schema_pycapsule(py, self.schema.as_ref())?)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<RawResult>> {
        let inner = self.inner.clone();
        let cancel = {
            let guard = py.detach(|| inner.blocking_lock());
            match guard.as_ref() {
                Some(s) => s.cancel_slot(),
                None => return Ok(None),
            }
        };
        let schema = self.schema.clone();
        let next = wait_for(py, Some(&cancel), async move {
            let mut guard = inner.lock().await;
            let Some(s) = guard.as_mut() else {
                return Ok(None);
            };
            match s.next_batch().await {
                None => {
                    *guard = None;
                    Ok(None)
                }
                Some(Ok(b)) => Ok(Some(b)),
                Some(Err(e)) => {
                    *guard = None;
                    Err(e)
                }
            }
        })?;
        Ok(next.map(|b| RawResult {
            schema,
            batches: vec![b],
            elapsed_ms: 0.0,
            warnings: Vec::new(),
        }))
    }

    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// The server's warnings about the statement, complete once every batch was read.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// Stop the stream; returns once its connection is back in the pool (or after a
    /// few seconds if the server is slow to stop the statement).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let taken = py.detach(|| self.inner.blocking_lock().take());
        if let Some(mut s) = taken {
            wait_for(py, None, async move {
                s.close_and_wait(Duration::from_secs(5)).await;
                Ok(())
            })?;
        }
        Ok(())
    }
}

#[pyfunction]
fn rewrite_named_params(sql: &str, engine: &str) -> PyResult<(String, Vec<String>)> {
    use sqlarrow_core::params::{rewrite_named, Lexicon};
    let lexicon = Lexicon::for_engine(engine)
        .ok_or_else(|| err(ErrorKind::Config, format!("unknown engine {engine:?}")))?;
    let r = rewrite_named(sql, lexicon).map_err(to_pyerr)?;
    Ok((r.sql, r.names))
}

/// Split a URL into (url with the password masked, password).
#[pyfunction]
fn split_url_password(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = url.find("://") else {
        return (url.to_string(), None);
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    let Some(at) = authority.rfind('@') else {
        return (url.to_string(), None);
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return (url.to_string(), None);
    };
    let password = userinfo[colon + 1..].to_string();
    let masked = format!(
        "{}{}:***{}",
        &url[..rest_start],
        &userinfo[..colon],
        &url[rest_start + at..]
    );
    (masked, Some(password))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEBUG_BUILD", cfg!(debug_assertions))?;
    m.add("ENGINES", sqlarrow_core::engines::compiled_engines())?;
    m.add_class::<RawConnector>()?;
    m.add_class::<RawResult>()?;
    m.add_class::<transaction::RawTransaction>()?;
    m.add_class::<RawStream>()?;
    m.add_function(wrap_pyfunction!(rewrite_named_params, m)?)?;
    m.add_function(wrap_pyfunction!(split_url_password, m)?)?;
    m.add_function(wrap_pyfunction!(check_read_only, m)?)?;
    schema::register(m)?;
    Ok(())
}
