//! `RawTransaction`: a transaction on a pinned connection (see
//! `sqlarrow_core::transaction`). Dropping it while open rolls back.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use sqlarrow_core::cancel::CancelSlot;
use sqlarrow_core::transaction::Transaction;
use sqlarrow_core::{Connector, ErrorKind};

use crate::errors::err;
use crate::runtime::wait_for;
use crate::RawResult;

#[pyclass(frozen, name = "RawTransaction", module = "sqlarrow._core")]
pub struct RawTransaction {
    pub(crate) conn: Connector,
    pub(crate) inner: Arc<Transaction>,
}

pub(crate) fn write_dict<'py>(
    py: Python<'py>,
    res: sqlarrow_core::write::WriteResult,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("rows_written", res.rows_written)?;
    d.set_item("rows_updated", res.rows_updated)?;
    d.set_item("rows_failed", res.rows_failed)?;
    d.set_item("execution_time_ms", res.elapsed_ms)?;
    d.set_item("warnings", res.warnings)?;
    if let Some(f) = res.failed {
        let failed = RawResult {
            schema: f.schema,
            batches: f.batches,
            elapsed_ms: 0.0,
            warnings: Vec::new(),
        };
        d.set_item("failed", Bound::new(py, failed)?)?;
    }
    Ok(d)
}

#[pymethods]
impl RawTransaction {
    #[pyo3(signature = (sql, params=None, batch_size=65536, timeout=None))]
    fn query(
        &self,
        py: Python<'_>,
        sql: &str,
        params: Option<&Bound<'_, PyAny>>,
        batch_size: usize,
        timeout: Option<f64>,
    ) -> PyResult<RawResult> {
        let timeout = crate::timeout_arg("timeout", timeout)?;
        crate::check_batch_size(batch_size)?;
        let (sql, params) = crate::convert::to_params(py, sql, params, self.conn.lexicon())?;
        let cancel = CancelSlot::new();
        let out = wait_for(
            py,
            Some(&cancel),
            self.inner
                .query(&sql, &params, batch_size, timeout, &cancel),
        )?;
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
    ) -> PyResult<crate::RawStream> {
        crate::check_batch_size(batch_size)?;
        let timeout = crate::timeout_arg("timeout", timeout)?;
        let (sql, params) = crate::convert::to_params(py, sql, params, self.conn.lexicon())?;
        let inner = self.inner.clone();
        let stream = wait_for(py, None, async move {
            inner.stream(&sql, &params, batch_size, timeout).await
        })?;
        Ok(crate::RawStream::new(stream))
    }

    #[pyo3(signature = (sql, params=None, timeout=None))]
    fn execute(
        &self,
        py: Python<'_>,
        sql: &str,
        params: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<u64> {
        let timeout = crate::timeout_arg("timeout", timeout)?;
        let (sql, params) = crate::convert::to_params(py, sql, params, self.conn.lexicon())?;
        let cancel = CancelSlot::new();
        wait_for(
            py,
            Some(&cancel),
            self.inner.execute(&sql, &params, timeout, &cancel),
        )
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
        let (reader, mut opts) = write_args(
            data,
            mode,
            key,
            create_if_missing,
            column_map,
            batch_size,
            on_error,
        )?;
        opts.timeout = crate::timeout_arg("timeout", timeout)?;
        let cancel = CancelSlot::new();
        let res = wait_for(
            py,
            Some(&cancel),
            self.inner.write(table, reader, &opts, &cancel),
        )?;
        write_dict(py, res)
    }

    fn savepoint(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        wait_for(py, None, self.inner.savepoint(name))
    }

    fn release_savepoint(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        wait_for(py, None, self.inner.release_savepoint(name))
    }

    fn rollback_to_savepoint(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        wait_for(py, None, self.inner.rollback_to_savepoint(name))
    }

    fn commit(&self, py: Python<'_>) -> PyResult<()> {
        wait_for(py, None, self.inner.commit())
    }

    fn rollback(&self, py: Python<'_>) -> PyResult<()> {
        wait_for(py, None, self.inner.rollback())
    }

    #[getter]
    fn active(&self, py: Python<'_>) -> PyResult<bool> {
        wait_for(py, None, async { Ok(self.inner.is_active().await) })
    }

    #[getter]
    fn engine(&self) -> &'static str {
        self.inner.engine_name()
    }
}

/// The reader and options of a `write` call (shared by connectors and transactions).
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_args(
    data: &Bound<'_, PyAny>,
    mode: &str,
    key: Option<Vec<String>>,
    create_if_missing: bool,
    column_map: Option<std::collections::HashMap<String, String>>,
    batch_size: Option<usize>,
    on_error: &str,
) -> PyResult<(
    Box<dyn arrow_array::RecordBatchReader + Send>,
    sqlarrow_core::write::WriteOptions,
)> {
    use sqlarrow_core::write::{WriteMode, WriteOptions};
    let mode = WriteMode::parse(mode).map_err(crate::errors::to_pyerr)?;
    let input: pyo3_arrow::input::AnyRecordBatch = data.extract().map_err(|e| {
        // An Arrow-capable object whose export failed (a pandas object column of mixed
        // types, say) has bad data, not the wrong type.
        let exports = ["__arrow_c_stream__", "__arrow_c_array__"]
            .iter()
            .any(|a| data.hasattr(*a).unwrap_or(false));
        if exports {
            err(
                ErrorKind::Data,
                format!("the data could not be exported to Arrow: {e}"),
            )
        } else {
            err(
                ErrorKind::Config,
                format!("data must be an Arrow table, record batch or stream (an object with __arrow_c_stream__ or __arrow_c_array__): {e}"),
            )
        }
    })?;
    let reader = input.into_reader()?;
    let skip_errors = match on_error {
        "raise" => false,
        "skip" => true,
        other => {
            return Err(err(
                ErrorKind::Config,
                format!("on_error must be \"raise\" or \"skip\", not {other:?}"),
            ))
        }
    };
    let opts = WriteOptions {
        mode,
        key: key.unwrap_or_default(),
        create_if_missing,
        column_map: column_map.unwrap_or_default(),
        batch_size,
        skip_errors,
        timeout: None,
    };
    Ok((reader, opts))
}
