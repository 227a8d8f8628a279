//! Core errors → the Python exception tree in `sqlarrow.exceptions`.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Build the `sqlarrow.exceptions` instance for a core error.
pub fn to_pyerr(e: sqlarrow_core::Error) -> PyErr {
    Python::attach(|py| match build(py, &e) {
        Ok(err) => err,
        Err(_) => PyRuntimeError::new_err(e.message.clone()),
    })
}

fn build(py: Python<'_>, e: &sqlarrow_core::Error) -> PyResult<PyErr> {
    let module = py.import("sqlarrow.exceptions")?;
    let cls = module.getattr(e.kind.class_name())?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("sqlstate", e.sqlstate.as_deref())?;
    kwargs.set_item("transient", e.transient)?;
    for (k, v) in &e.details {
        match (*k, v.parse::<i64>()) {
            ("row_index", Ok(n)) => kwargs.set_item(*k, n)?,
            ("commit_in_doubt", _) => kwargs.set_item(*k, v == "true")?,
            _ => kwargs.set_item(*k, v)?,
        }
    }
    let inst = cls.call((e.message.as_str(),), Some(&kwargs))?;
    Ok(PyErr::from_value(inst))
}

/// Shorthand for errors raised from the bindings themselves.
pub fn err(kind: sqlarrow_core::ErrorKind, msg: impl Into<String>) -> PyErr {
    to_pyerr(sqlarrow_core::Error::new(kind, msg))
}
