//! Python values ↔ core values: bound parameters in, rows out (for `to_pylist`).

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMapping, PyMemoryView,
    PyString, PyTuple,
};
use sqlarrow_core::value::civil;
use sqlarrow_core::{ErrorKind, Params, Value};

use crate::errors::err;

struct Classes {
    datetime: Py<PyAny>,
    date: Py<PyAny>,
    time: Py<PyAny>,
    timedelta: Py<PyAny>,
    utc: Py<PyAny>,
    decimal: Py<PyAny>,
    uuid: Py<PyAny>,
    json_dumps: Py<PyAny>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || {
        let dt = py.import("datetime")?;
        Ok(Classes {
            datetime: dt.getattr("datetime")?.unbind(),
            date: dt.getattr("date")?.unbind(),
            time: dt.getattr("time")?.unbind(),
            timedelta: dt.getattr("timedelta")?.unbind(),
            utc: dt.getattr("timezone")?.getattr("utc")?.unbind(),
            decimal: py.import("decimal")?.getattr("Decimal")?.unbind(),
            uuid: py.import("uuid")?.getattr("UUID")?.unbind(),
            json_dumps: py.import("json")?.getattr("dumps")?.unbind(),
        })
    })
}

fn int_attr(v: &Bound<'_, PyAny>, name: &str) -> PyResult<i64> {
    v.getattr(name)?.extract()
}

fn time_micros(v: &Bound<'_, PyAny>) -> PyResult<i64> {
    Ok(
        ((int_attr(v, "hour")? * 60 + int_attr(v, "minute")?) * 60 + int_attr(v, "second")?)
            * 1_000_000
            + int_attr(v, "microsecond")?,
    )
}

fn date_days(v: &Bound<'_, PyAny>) -> PyResult<i64> {
    Ok(civil::days_from_civil(
        int_attr(v, "year")?,
        int_attr(v, "month")? as u32,
        int_attr(v, "day")? as u32,
    ))
}

/// Convert one Python object to a bound value.
pub fn to_value(py: Python<'_>, v: &Bound<'_, PyAny>, position: &str) -> PyResult<Value> {
    if v.is_none() {
        return Ok(Value::Null);
    }
    if v.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(v.extract()?));
    }
    if v.is_instance_of::<PyInt>() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Value::Int(i));
        }
        if let Ok(i) = v.extract::<i128>() {
            return Ok(Value::BigInt(i));
        }
        return Err(err(
            ErrorKind::Parameter,
            format!("parameter {position}: integer too large to bind"),
        ));
    }
    if v.is_instance_of::<PyFloat>() {
        return Ok(Value::Float(v.extract()?));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Value::Str(s.extract::<String>()?));
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(b) = v.cast::<PyByteArray>() {
        return Ok(Value::Bytes(b.to_vec()));
    }
    if let Ok(m) = v.cast::<PyMemoryView>() {
        let b = m.call_method0("tobytes")?;
        return Ok(Value::Bytes(b.cast::<PyBytes>()?.as_bytes().to_vec()));
    }
    let c = classes(py)?;
    // datetime is a subclass of date: test it first.
    if v.is_instance(c.datetime.bind(py))? {
        // pandas' NaT is a datetime whose fields are NaN: a missing value.
        match type_name(v).as_str() {
            "NaTType" => return Ok(Value::Null),
            // pandas' Timestamp keeps nanoseconds past the datetime fields read below.
            "Timestamp" if int_attr(v, "nanosecond").unwrap_or(0) != 0 => {
                return Err(err(
                    ErrorKind::Parameter,
                    format!(
                        "parameter {position}: {} has nanoseconds, which the database cannot \
                         store; round it first (e.g. .floor('us'))",
                        v.str()?
                    ),
                ))
            }
            _ => {}
        }
        let tz = v.getattr("tzinfo")?;
        if tz.is_none() {
            return Ok(Value::Timestamp(
                date_days(v)? * 86_400_000_000 + time_micros(v)?,
            ));
        }
        let u = v.call_method1("astimezone", (c.utc.bind(py),))?;
        return Ok(Value::TimestampTz(
            date_days(&u)? * 86_400_000_000 + time_micros(&u)?,
        ));
    }
    if v.is_instance(c.date.bind(py))? {
        let d = date_days(v)?;
        return Ok(Value::Date(d as i32));
    }
    if v.is_instance(c.time.bind(py))? {
        return Ok(Value::Time(time_micros(v)?));
    }
    if v.is_instance(c.timedelta.bind(py))? {
        let (days, secs, micros) = (
            int_attr(v, "days")?,
            int_attr(v, "seconds")?,
            int_attr(v, "microseconds")?,
        );
        return days
            .checked_mul(86_400_000_000)
            .and_then(|d| d.checked_add(secs * 1_000_000 + micros))
            .map(Value::Duration)
            .ok_or_else(|| {
                err(
                    ErrorKind::Parameter,
                    format!("parameter {position}: timedelta too large to bind"),
                )
            });
    }
    if v.is_instance(c.decimal.bind(py))? {
        let s: String = v.str()?.extract()?;
        return Ok(Value::Decimal(s));
    }
    if v.is_instance(c.uuid.bind(py))? {
        let b: Vec<u8> = v.getattr("bytes")?.extract()?;
        let arr: [u8; 16] = b
            .try_into()
            .map_err(|_| err(ErrorKind::Parameter, "bad UUID"))?;
        return Ok(Value::Uuid(arr));
    }
    if let Ok(list) = v.cast::<PyList>() {
        let items = list
            .iter()
            .enumerate()
            .map(|(i, item)| to_value(py, &item, &format!("{position}[{i}]")))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(Value::List(items));
    }
    if v.is_instance_of::<PyDict>() {
        let s: String = c
            .json_dumps
            .bind(py)
            .call1((v,))
            .and_then(|s| s.extract())
            .map_err(|e| {
                err(
                    ErrorKind::Parameter,
                    format!("parameter {position}: a dict is sent as JSON, and {e}"),
                )
            })?;
        return Ok(Value::Json(s));
    }
    if let Some(value) = numpy_or_pandas_value(py, v, position)? {
        return Ok(value);
    }
    if !v.is_instance_of::<PyTuple>() {
        if let Some(list) = item_list(v)? {
            return to_value(py, &list, position);
        }
    }
    if let Ok(mv) = v.call_method0("__bytes__") {
        if let Ok(b) = mv.cast::<PyBytes>() {
            return Ok(Value::Bytes(b.as_bytes().to_vec()));
        }
    }
    Err(err(
        ErrorKind::Parameter,
        format!(
            "parameter {position}: cannot bind a value of type {}",
            type_name(v)
        ),
    ))
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The module of `v`'s type (`numpy`, `pandas.core.series`, ...), or "".
fn type_module(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .module()
        .and_then(|m| m.extract())
        .unwrap_or_default()
}

/// `v` as a Python list when it is a list of items: a list or tuple (itself), a
/// one-dimensional numpy array, a pandas Series or Index, or a range. `None` otherwise.
fn item_list<'py>(v: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        return Ok(Some(v.clone()));
    }
    if v.is_instance_of::<pyo3::types::PyRange>() {
        return Ok(Some(
            pyo3::types::PyList::new(v.py(), v.try_iter()?.collect::<PyResult<Vec<_>>>()?)?
                .into_any(),
        ));
    }
    let module = type_module(v);
    let tname = type_name(v);
    let listish =
        (module == "numpy" && tname == "ndarray" && v.getattr("ndim")?.extract::<i64>()? == 1)
            || (module.starts_with("pandas") && (tname == "Series" || tname.ends_with("Index")));
    if listish {
        return Ok(Some(v.call_method0("tolist")?));
    }
    Ok(None)
}

/// Values from DataFrames: numpy scalars (`np.int64`, `np.bool_`, `np.datetime64`, ...)
/// as the Python value they hold, numpy arrays as lists, pandas' `NA` and `NaT` as NULL.
/// `None`: not such a value.
fn numpy_or_pandas_value(
    py: Python<'_>,
    v: &Bound<'_, PyAny>,
    position: &str,
) -> PyResult<Option<Value>> {
    let tname = type_name(v);
    if tname == "NAType" || tname == "NaTType" {
        return Ok(Some(Value::Null));
    }
    let module = type_module(v);
    if module != "numpy" {
        return Ok(None);
    }
    if tname == "ndarray" {
        return to_value(py, &v.call_method0("tolist")?, position).map(Some);
    }
    if tname == "datetime64" {
        // A day (or coarser) unit is a calendar date, as pyarrow reads it (date32), not
        // midnight of a timestamp.
        let dtype: String = v.getattr("dtype")?.getattr("str")?.extract()?;
        if ["[D]", "[W]", "[M]", "[Y]"]
            .iter()
            .any(|u| dtype.ends_with(u))
        {
            let item = v
                .call_method1("astype", ("datetime64[D]",))?
                .call_method0("item")?;
            if item.is_none() {
                return Ok(Some(Value::Null)); // NaT
            }
            if !item.is_instance(classes(py)?.date.bind(py))? {
                return Err(err(
                    ErrorKind::Parameter,
                    format!(
                        "parameter {position}: numpy datetime64 {} is outside the years \
                         1 to 9999",
                        v.str()?
                    ),
                ));
            }
            return to_value(py, &item, position).map(Some);
        }
    }
    if tname == "datetime64" || tname == "timedelta64" {
        // In microseconds (what every engine stores): `.item()` of a nanosecond value
        // is a bare int, and the nanoseconds would be cut.
        let unit = if tname == "datetime64" {
            "datetime64[us]"
        } else {
            "timedelta64[us]"
        };
        let us = v.call_method1("astype", (unit,))?;
        let item = us.call_method0("item")?;
        if item.is_none() {
            return Ok(Some(Value::Null)); // NaT
        }
        let c = classes(py)?;
        let in_range =
            item.is_instance(c.datetime.bind(py))? || item.is_instance(c.timedelta.bind(py))?;
        if !in_range || !us.eq(v)? {
            return Err(err(
                ErrorKind::Parameter,
                format!(
                    "parameter {position}: numpy {tname} {} has a part below a microsecond or \
                     is out of range; the database stores microseconds",
                    v.str()?
                ),
            ));
        }
        return to_value(py, &item, position).map(Some);
    }
    if v.hasattr("item")? {
        return to_value(py, &v.call_method0("item")?, position).map(Some);
    }
    Ok(None)
}

/// Convert `params` (None, a sequence, or a mapping for `:name` markers) into values,
/// rewriting the SQL when names are used. A list or tuple given for a marker that is
/// the whole of an `IN (...)` list fills it, one marker per item
/// ([`sqlarrow_core::params::rewrite_named_lists`]).
pub fn to_params(
    py: Python<'_>,
    sql: &str,
    params: Option<&Bound<'_, PyAny>>,
    lexicon: sqlarrow_core::params::Lexicon,
) -> PyResult<(String, Params)> {
    use sqlarrow_core::params::{rewrite_named_lists, split_list_item};
    let Some(p) = params.filter(|p| !p.is_none()) else {
        return Ok((sql.to_string(), Params::default()));
    };
    if let Ok(map) = p.cast::<PyMapping>() {
        if !p.is_instance_of::<PyList>() && !p.is_instance_of::<PyTuple>() {
            // Values that are lists of items (a list, a tuple, a numpy array, a pandas
            // Series or Index, a range), each turned into a Python list once.
            let mut lists: std::collections::HashMap<String, Bound<'_, PyAny>> =
                std::collections::HashMap::new();
            for k in map.keys()?.iter() {
                let Ok(k) = k.extract::<String>() else {
                    continue;
                };
                if let Some(l) = item_list(&map.get_item(&k)?)? {
                    lists.insert(k, l);
                }
            }
            let list_len = |name: &str| -> Option<usize> { lists.get(name)?.len().ok() };
            let rw =
                rewrite_named_lists(sql, lexicon, &list_len).map_err(crate::errors::to_pyerr)?;
            let mut vals = Vec::with_capacity(rw.names.len());
            for name in &rw.names {
                let (base, item) = split_list_item(name);
                let v = map.get_item(base).map_err(|_| {
                    err(
                        ErrorKind::Parameter,
                        format!("no value given for named parameter :{base}"),
                    )
                })?;
                // A list-like value as the list it was turned into above.
                let v = lists.get(base).cloned().unwrap_or(v);
                let v = match item {
                    Some(k) => v.get_item(k)?,
                    None => v,
                };
                vals.push(to_value(py, &v, &format!(":{name}"))?);
            }
            let used: std::collections::HashSet<&str> = rw
                .names
                .iter()
                .map(|s| split_list_item(s).0)
                .chain(rw.empty_lists.iter().map(|s| s.as_str()))
                .collect();
            for k in map.keys()?.iter() {
                let k: String = k
                    .extract()
                    .map_err(|_| err(ErrorKind::Parameter, "parameter names must be strings"))?;
                if !used.contains(k.as_str()) {
                    let hint = if rw.positional > 0 && rw.names.is_empty() {
                        let marker = match lexicon.markers() {
                            sqlarrow_core::params::MarkerStyle::Dollar => "$1, $2, ...",
                            sqlarrow_core::params::MarkerStyle::AtP => "@P1, @P2, ...",
                            sqlarrow_core::params::MarkerStyle::Question => "?",
                        };
                        format!(
                            " (it has positional markers, {marker}: pass their values as a \
                             sequence, or write :{k} in the statement)"
                        )
                    } else {
                        String::new()
                    };
                    return Err(err(
                        ErrorKind::Parameter,
                        format!(
                            "named parameter :{k} was given but does not appear in the \
                             statement{hint}"
                        ),
                    ));
                }
            }
            return Ok((rw.sql, Params(vals)));
        }
    }
    if p.is_instance_of::<PyString>() || p.is_instance_of::<PyBytes>() {
        return Err(err(
            ErrorKind::Parameter,
            "params must be a sequence or a mapping, not a string (wrap a single value: [value])",
        ));
    }
    if p.is_instance_of::<pyo3::types::PySet>() || p.is_instance_of::<pyo3::types::PyFrozenSet>() {
        // A set's order is not the markers' order: values would bind to the wrong ones.
        return Err(err(
            ErrorKind::Parameter,
            "params must be a sequence or a mapping, not a set: a set has no order, so its \
             values could bind to the wrong markers (use a list or tuple)",
        ));
    }
    let mut vals = Vec::new();
    for (i, item) in p
        .try_iter()
        .map_err(|_| {
            err(
                ErrorKind::Parameter,
                "params must be a sequence or a mapping",
            )
        })?
        .enumerate()
    {
        vals.push(to_value(py, &item?, &format!("{}", i + 1))?);
    }
    Ok((sql.to_string(), Params(vals)))
}

/// Rows of `batches` as a list of dicts.
pub fn to_pylist<'py>(
    py: Python<'py>,
    batches: &[RecordBatch],
    names: &[String],
) -> PyResult<Bound<'py, PyList>> {
    // A dict keeps one value per key: a result with two columns of one name (`select *`
    // over a join) would lose one of them without a word.
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(err(
            ErrorKind::Interface,
            format!(
                "the result has more than one column named {dup:?}; rows as dicts would keep \
                 only the last: give the columns distinct names in SQL (e.g. `a.id AS a_id`), \
                 or use to_arrow() / to_pandas(), which keep them all"
            ),
        ));
    }
    let keys: Vec<Bound<'py, PyString>> = names.iter().map(|n| PyString::new(py, n)).collect();
    let out = PyList::empty(py);
    for batch in batches {
        let cols: Vec<Vec<Bound<'py, PyAny>>> = batch
            .columns()
            .iter()
            .map(|a| column_values(py, a.as_ref()))
            .collect::<PyResult<_>>()?;
        for r in 0..batch.num_rows() {
            let d = PyDict::new(py);
            for (k, col) in keys.iter().zip(&cols) {
                d.set_item(k, &col[r])?;
            }
            out.append(d)?;
        }
    }
    Ok(out)
}

fn column_values<'py>(py: Python<'py>, a: &dyn Array) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let c = classes(py)?;
    let n = a.len();
    let mut out = Vec::with_capacity(n);
    macro_rules! prim {
        ($t:ty) => {{
            let arr = a.as_primitive::<$t>();
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    py.None().into_bound(py)
                } else {
                    arr.value(i).into_pyobject(py)?.into_any()
                });
            }
        }};
    }
    match a.data_type() {
        DataType::Null => out.extend((0..n).map(|_| py.None().into_bound(py))),
        DataType::Boolean => {
            let arr = a.as_boolean();
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    py.None().into_bound(py)
                } else {
                    PyBool::new(py, arr.value(i)).to_owned().into_any()
                });
            }
        }
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Float32 => prim!(Float32Type),
        DataType::Float64 => prim!(Float64Type),
        DataType::Utf8 => {
            let arr = a.as_string::<i32>();
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    py.None().into_bound(py)
                } else {
                    PyString::new(py, arr.value(i)).into_any()
                });
            }
        }
        DataType::Binary => {
            let arr = a.as_binary::<i32>();
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    py.None().into_bound(py)
                } else {
                    PyBytes::new(py, arr.value(i)).into_any()
                });
            }
        }
        DataType::FixedSizeBinary(16) => {
            let arr = a.as_fixed_size_binary();
            let cls = c.uuid.bind(py);
            let kw = PyDict::new(py);
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    py.None().into_bound(py)
                } else {
                    kw.set_item("bytes", PyBytes::new(py, arr.value(i)))?;
                    cls.call((), Some(&kw))?
                });
            }
        }
        DataType::FixedSizeBinary(_) => {
            let arr = a.as_fixed_size_binary();
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    py.None().into_bound(py)
                } else {
                    PyBytes::new(py, arr.value(i)).into_any()
                });
            }
        }
        DataType::Decimal128(_, s) => {
            let arr = a.as_primitive::<Decimal128Type>();
            let cls = c.decimal.bind(py);
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    py.None().into_bound(py)
                } else {
                    cls.call1((format_decimal(&arr.value(i).to_string(), *s),))?
                });
            }
        }
        DataType::Decimal256(_, s) => {
            let arr = a.as_primitive::<Decimal256Type>();
            let cls = c.decimal.bind(py);
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    py.None().into_bound(py)
                } else {
                    cls.call1((format_decimal(&arr.value(i).to_string(), *s),))?
                });
            }
        }
        DataType::Date32 => {
            let arr = a.as_primitive::<Date32Type>();
            let cls = c.date.bind(py);
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    py.None().into_bound(py)
                } else {
                    let (y, m, d) = civil::civil_from_days(arr.value(i) as i64);
                    cls.call1((y, m, d)).map_err(|e| out_of_range(py, e))?
                });
            }
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            let arr = a.as_primitive::<Time64MicrosecondType>();
            let cls = c.time.bind(py);
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    py.None().into_bound(py)
                } else {
                    let us = arr.value(i);
                    let s = us / 1_000_000;
                    cls.call1(((s / 3600) % 24, (s / 60) % 60, s % 60, us % 1_000_000))?
                });
            }
        }
        DataType::Timestamp(TimeUnit::Microsecond, tz) => {
            let arr = a.as_primitive::<TimestampMicrosecondType>();
            let cls = c.datetime.bind(py);
            let utc = c.utc.bind(py);
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    py.None().into_bound(py)
                } else {
                    let us = arr.value(i);
                    let days = us.div_euclid(86_400_000_000);
                    let rem = us.rem_euclid(86_400_000_000);
                    let (y, m, d) = civil::civil_from_days(days);
                    let s = rem / 1_000_000;
                    let args = (y, m, d, s / 3600, (s / 60) % 60, s % 60, rem % 1_000_000);
                    let obj = cls.call1(args).map_err(|e| out_of_range(py, e))?;
                    if tz.is_some() {
                        obj.call_method("replace", (), Some(&[("tzinfo", utc)].into_py_dict(py)?))?
                    } else {
                        obj
                    }
                });
            }
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            let arr = a.as_primitive::<arrow_array::types::DurationMicrosecondType>();
            let td = c.timedelta.bind(py);
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    py.None().into_bound(py)
                } else {
                    let kw = [("microseconds", arr.value(i))].into_py_dict(py)?;
                    td.call((), Some(&kw))?
                });
            }
        }
        DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano) => {
            let arr = a.as_primitive::<IntervalMonthDayNanoType>();
            let td = c.timedelta.bind(py);
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    py.None().into_bound(py)
                } else {
                    let v = arr.value(i);
                    if v.months == 0 {
                        let kw = [
                            ("days", v.days as i64),
                            ("microseconds", v.nanoseconds / 1000),
                        ]
                        .into_py_dict(py)?;
                        td.call((), Some(&kw))?
                    } else {
                        (v.months, v.days, v.nanoseconds)
                            .into_pyobject(py)?
                            .into_any()
                    }
                });
            }
        }
        DataType::Dictionary(_, value_type) => {
            let plain =
                arrow_cast::cast(a, value_type).map_err(|e| err(ErrorKind::Data, e.to_string()))?;
            return column_values(py, plain.as_ref());
        }
        DataType::List(_) => {
            let arr = a.as_list::<i32>();
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    py.None().into_bound(py)
                } else {
                    let child = arr.value(i);
                    PyList::new(py, column_values(py, child.as_ref())?)?.into_any()
                });
            }
        }
        DataType::LargeList(_) => {
            let arr = a.as_list::<i64>();
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    py.None().into_bound(py)
                } else {
                    let child = arr.value(i);
                    PyList::new(py, column_values(py, child.as_ref())?)?.into_any()
                });
            }
        }
        other => {
            return Err(err(
                ErrorKind::UnsupportedType,
                format!("to_pylist does not convert {other} yet; use to_arrow().to_pylist()"),
            ))
        }
    }
    Ok(out)
}

use pyo3::types::IntoPyDict;

fn out_of_range(_py: Python<'_>, e: PyErr) -> PyErr {
    err(
        ErrorKind::Data,
        format!("value out of Python's datetime range: {e}"),
    )
}

/// Place the decimal point in an unscaled integer's text.
fn format_decimal(digits: &str, scale: i8) -> String {
    if scale <= 0 {
        return format!("{digits}{}", "0".repeat((-scale) as usize));
    }
    let (neg, d) = match digits.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, digits),
    };
    let s = scale as usize;
    let padded = if d.len() <= s {
        format!("{}{d}", "0".repeat(s - d.len() + 1))
    } else {
        d.to_string()
    };
    let (i, f) = padded.split_at(padded.len() - s);
    format!("{}{i}.{f}", if neg { "-" } else { "" })
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_text() {
        assert_eq!(super::format_decimal("12345", 2), "123.45");
        assert_eq!(super::format_decimal("-5", 3), "-0.005");
        assert_eq!(super::format_decimal("0", 2), "0.00");
    }
}
