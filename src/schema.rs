//! Bindings for the canonical schema (`sqlarrow.schema`): JSON is the bridge, so the
//! Python classes stay plain dataclasses and every rule (type strings, DDL, diff)
//! lives once, in the core crate.

use std::sync::Arc;

use arrow_schema::Schema;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyList, PyString};
use pyo3_arrow::ffi::to_schema_pycapsule;
use pyo3_arrow::{PyRecordBatchReader, PySchema};
use sqlarrow_core::schema::{
    diff, CanonicalSchema, DdlOptions, Dialect, LogicalType, SchemaDiff, TableName,
};
use sqlarrow_core::{Error, ErrorKind};

use crate::errors::{err, to_pyerr};
use crate::runtime::wait_for;
use crate::RawConnector;

fn opts(widen_unsigned: bool, text_fallback: bool) -> DdlOptions {
    DdlOptions {
        widen_unsigned,
        text_fallback,
    }
}

fn parse_schema(json: &str) -> PyResult<CanonicalSchema> {
    CanonicalSchema::from_json(json).map_err(to_pyerr)
}

/// A table name: `"table"`, `"schema.table"` (double quotes keep dots literal) or a
/// sequence of parts.
pub fn table_name(obj: &Bound<'_, PyAny>) -> PyResult<TableName> {
    if obj.is_instance_of::<PyString>() {
        let s: String = obj.extract()?;
        return TableName::parse(&s).map_err(to_pyerr);
    }
    let parts: Vec<String> = obj.extract().map_err(|_| {
        err(
            ErrorKind::Config,
            "a table name must be a str or a sequence of str (schema, table)",
        )
    })?;
    TableName::new(parts).map_err(to_pyerr)
}

/// The table argument of introspection as the core takes it: a str as given (the core
/// splits `schema.table`), a sequence of parts (`["a.b"]`, `["s", "t"]`) quoted so that
/// each part is taken literally.
pub fn table_arg(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if obj.is_instance_of::<PyString>() {
        return obj.extract();
    }
    let name = table_name(obj)?;
    Ok(name
        .parts
        .iter()
        .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join("."))
}

/// Diff JSON for Python: the core form plus, per change, `destructive` and `description`.
fn diff_json(d: &SchemaDiff) -> PyResult<String> {
    let mut v = serde_json::to_value(d).map_err(|e| err(ErrorKind::Interface, e.to_string()))?;
    if let Some(changes) = v.get_mut("changes").and_then(|c| c.as_array_mut()) {
        for (c, change) in changes.iter_mut().zip(&d.changes) {
            if let Some(o) = c.as_object_mut() {
                o.insert("destructive".into(), change.destructive().into());
                o.insert("description".into(), change.describe().into());
            }
        }
    }
    v.as_object_mut()
        .unwrap()
        .insert("destructive".into(), d.destructive().into());
    Ok(v.to_string())
}

fn parse_diff(json: &str) -> PyResult<SchemaDiff> {
    let d: SchemaDiff = serde_json::from_str(json)
        .map_err(|e| err(ErrorKind::Config, format!("invalid schema diff: {e}")))?;
    d.old.validate().map_err(to_pyerr)?;
    d.new.validate().map_err(to_pyerr)?;
    Ok(d)
}

/// Normalize a type string (`"decimal(18, 4)"` → `"DECIMAL(18,4)"`); raises ConfigError.
#[pyfunction]
fn schema_parse_type(type_str: &str) -> PyResult<String> {
    type_str
        .parse::<LogicalType>()
        .map(|t| t.to_string())
        .map_err(to_pyerr)
}

/// Validate schema JSON and return it in normalized (compact) form.
#[pyfunction]
fn schema_normalize(json: &str) -> PyResult<String> {
    Ok(parse_schema(json)?.to_json())
}

#[pyfunction]
#[pyo3(signature = (json, dialect, table, if_not_exists=false, widen_unsigned=false, text_fallback=false))]
fn schema_to_ddl(
    json: &str,
    dialect: &str,
    table: &Bound<'_, PyAny>,
    if_not_exists: bool,
    widen_unsigned: bool,
    text_fallback: bool,
) -> PyResult<String> {
    let d = Dialect::parse(dialect).map_err(to_pyerr)?;
    parse_schema(json)?
        .to_ddl(
            d,
            &table_name(table)?,
            if_not_exists,
            opts(widen_unsigned, text_fallback),
        )
        .map_err(to_pyerr)
}

/// Infer a schema from any object exposing `__arrow_c_schema__` or `__arrow_c_stream__`.
#[pyfunction]
fn schema_from_arrow(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let schema = if obj.hasattr("__arrow_c_schema__")? {
        obj.extract::<PySchema>()?.into_inner()
    } else if obj.hasattr("__arrow_c_stream__")? {
        obj.extract::<PyRecordBatchReader>()?
            .into_reader()?
            .schema()
    } else {
        return Err(err(
            ErrorKind::Interface,
            "expected an Arrow-compatible object (with __arrow_c_schema__ or __arrow_c_stream__), \
             e.g. a pyarrow Schema/Table, a polars or pandas DataFrame",
        ));
    };
    CanonicalSchema::from_arrow(&schema)
        .map(|s| s.to_json())
        .map_err(to_pyerr)
}

/// An Arrow schema exported through the PyCapsule interface.
#[pyclass(frozen, name = "ArrowSchema", module = "sqlarrow._core")]
pub struct ArrowSchema {
    schema: Arc<Schema>,
}

#[pymethods]
impl ArrowSchema {
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        Ok(to_schema_pycapsule(py, self.schema.as_ref())?)
    }

    #[getter]
    fn names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("<ArrowSchema {}>", self.schema)
    }
}

#[pyfunction]
fn schema_to_arrow(json: &str) -> PyResult<ArrowSchema> {
    Ok(ArrowSchema {
        schema: Arc::new(parse_schema(json)?.to_arrow()),
    })
}

#[pyfunction]
fn schema_diff(old_json: &str, new_json: &str) -> PyResult<String> {
    diff_json(&diff(&parse_schema(old_json)?, &parse_schema(new_json)?))
}

#[pyfunction]
fn diff_accept_rename(diff: &str, old_name: &str, new_name: &str) -> PyResult<String> {
    let mut d = parse_diff(diff)?;
    d.accept_rename(old_name, new_name).map_err(to_pyerr)?;
    diff_json(&d)
}

#[pyfunction]
#[pyo3(signature = (diff, dialect, table, widen_unsigned=false, text_fallback=false))]
fn diff_to_sql(
    diff: &str,
    dialect: &str,
    table: &Bound<'_, PyAny>,
    widen_unsigned: bool,
    text_fallback: bool,
) -> PyResult<Vec<String>> {
    let d = Dialect::parse(dialect).map_err(to_pyerr)?;
    parse_diff(diff)?
        .to_sql(d, &table_name(table)?, opts(widen_unsigned, text_fallback))
        .map_err(to_pyerr)
}

// ---- connector methods (called from `RawConnector`'s #[pymethods] in lib.rs) ----

pub fn list_schemas(c: &RawConnector, py: Python<'_>) -> PyResult<Vec<String>> {
    wait_for(py, None, c.inner.list_schemas())
}

pub fn list_tables<'py>(
    c: &RawConnector,
    py: Python<'py>,
    schema: Option<&str>,
) -> PyResult<Bound<'py, PyList>> {
    let tables = wait_for(py, None, c.inner.list_tables(schema))?;
    let out = PyList::empty(py);
    for t in tables {
        let d = PyDict::new(py);
        d.set_item("schema", t.schema)?;
        d.set_item("name", t.name)?;
        d.set_item("kind", t.kind)?;
        out.append(d)?;
    }
    Ok(out)
}

pub fn table_exists(
    c: &RawConnector,
    py: Python<'_>,
    table: &str,
    schema: Option<&str>,
) -> PyResult<bool> {
    wait_for(py, None, c.inner.table_exists(table, schema))
}

pub fn get_schema(
    c: &RawConnector,
    py: Python<'_>,
    table: &str,
    schema: Option<&str>,
) -> PyResult<String> {
    Ok(wait_for(py, None, c.inner.get_schema(table, schema))?.to_json())
}

pub fn create_table(
    c: &RawConnector,
    py: Python<'_>,
    table: &Bound<'_, PyAny>,
    schema_json: &str,
    if_not_exists: bool,
    widen_unsigned: bool,
    text_fallback: bool,
) -> PyResult<Vec<String>> {
    let table = table_name(table)?;
    let schema = parse_schema(schema_json)?;
    let o = opts(widen_unsigned, text_fallback);
    wait_for(
        py,
        None,
        c.inner.create_table(&table, &schema, if_not_exists, o),
    )
}

#[allow(clippy::too_many_arguments)]
pub fn apply(
    c: &RawConnector,
    py: Python<'_>,
    diff_json: &str,
    table: &Bound<'_, PyAny>,
    allow_destructive: bool,
    dry_run: bool,
    widen_unsigned: bool,
    text_fallback: bool,
) -> PyResult<Vec<String>> {
    let table = table_name(table)?;
    let d = parse_diff(diff_json)?;
    let o = opts(widen_unsigned, text_fallback);
    if dry_run {
        let dialect = c.inner.dialect().map_err(to_pyerr)?;
        if d.destructive() && !allow_destructive {
            return Err(to_pyerr(Error::interface(
                "the diff has destructive changes; pass allow_destructive=True",
            )));
        }
        return d.to_sql(dialect, &table, o).map_err(to_pyerr);
    }
    wait_for(py, None, c.inner.apply(&d, &table, allow_destructive, o))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ArrowSchema>()?;
    m.add_function(wrap_pyfunction!(schema_parse_type, m)?)?;
    m.add_function(wrap_pyfunction!(schema_normalize, m)?)?;
    m.add_function(wrap_pyfunction!(schema_to_ddl, m)?)?;
    m.add_function(wrap_pyfunction!(schema_from_arrow, m)?)?;
    m.add_function(wrap_pyfunction!(schema_to_arrow, m)?)?;
    m.add_function(wrap_pyfunction!(schema_diff, m)?)?;
    m.add_function(wrap_pyfunction!(diff_accept_rename, m)?)?;
    m.add_function(wrap_pyfunction!(diff_to_sql, m)?)?;
    Ok(())
}
