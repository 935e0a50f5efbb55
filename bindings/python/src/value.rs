//! Python values to SQLite values and back. In: `None`, `int` (64-bit; `bool` as 0/1),
//! `float`, `str`, and `bytes`, `bytearray` or `memoryview` as blobs. Out: `None`, `int`,
//! `float`, `str`, `bytes`. Parameters are a sequence (positional, `?`) or a mapping (named,
//! `:name`, `@name` or `$name`; the key may omit the prefix).

use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple,
};
use tidepool::error::code;
use tidepool::{Params, Value};

use crate::error::Failure;

/// One parameter value.
pub fn to_value(obj: &Bound<'_, PyAny>) -> Result<Value, Failure> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Integer(i64::from(b.is_true())));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        return i.extract::<i64>().map(Value::Integer).map_err(|_| {
            Failure::binding(
                "DataError",
                code::INVALID_ARGUMENT,
                format!("integer {i} does not fit in 64 bits"),
            )
        });
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return s
            .to_cow()
            .map(|s| Value::Text(s.into_owned()))
            .map_err(|e| {
                Failure::binding(
                    "DataError",
                    code::INVALID_ARGUMENT,
                    format!("text is not valid Unicode: {e}"),
                )
            });
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Blob(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Value::Blob(b.to_vec()));
    }
    if obj.cast::<PyMemoryView>().is_ok() {
        let bytes = obj
            .call_method0("tobytes")
            .map_err(|e| Failure::interface(format!("memoryview: {e}")))?;
        if let Ok(b) = bytes.cast::<PyBytes>() {
            return Ok(Value::Blob(b.as_bytes().to_vec()));
        }
    }
    let type_name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned());
    Err(Failure::binding(
        "ProgrammingError",
        code::INVALID_ARGUMENT,
        format!(
            "type {type_name:?} is not supported as a parameter (None, int, float, str, bytes)"
        ),
    ))
}

/// A statement's parameters: none, a sequence, or a mapping.
pub fn to_params(obj: Option<&Bound<'_, PyAny>>) -> Result<Params, Failure> {
    let Some(obj) = obj else {
        return Ok(Params::None);
    };
    if obj.is_none() {
        return Ok(Params::None);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .map(|v| to_value(&v))
            .collect::<Result<_, _>>()
            .map(Params::Positional);
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .map(|v| to_value(&v))
            .collect::<Result<_, _>>()
            .map(Params::Positional);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return named(d.iter());
    }
    if obj.cast::<PyString>().is_ok() || obj.cast::<PyBytes>().is_ok() {
        return Err(Failure::binding(
            "ProgrammingError",
            code::INVALID_ARGUMENT,
            "parameters must be a sequence or a mapping, not a string",
        ));
    }
    if obj.hasattr("keys").unwrap_or(false) {
        let items = obj
            .call_method0("items")
            .and_then(|items| items.try_iter())
            .map_err(|e| Failure::interface(format!("parameters: {e}")))?;
        let mut pairs = Vec::new();
        for item in items {
            let item = item.map_err(|e| Failure::interface(format!("parameters: {e}")))?;
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item
                .extract()
                .map_err(|e| Failure::interface(format!("parameters: {e}")))?;
            pairs.push((k, v));
        }
        return named(pairs.into_iter());
    }
    match obj.try_iter() {
        Ok(items) => {
            let mut values = Vec::new();
            for item in items {
                let item = item.map_err(|e| Failure::interface(format!("parameters: {e}")))?;
                values.push(to_value(&item)?);
            }
            Ok(Params::Positional(values))
        }
        Err(_) => Err(Failure::binding(
            "ProgrammingError",
            code::INVALID_ARGUMENT,
            "parameters must be a sequence or a mapping",
        )),
    }
}

fn named<'py>(
    pairs: impl Iterator<Item = (Bound<'py, PyAny>, Bound<'py, PyAny>)>,
) -> Result<Params, Failure> {
    let mut out = Vec::new();
    for (k, v) in pairs {
        let name: String = k.extract().map_err(|_| {
            Failure::binding(
                "ProgrammingError",
                code::INVALID_ARGUMENT,
                "named parameters need str keys",
            )
        })?;
        out.push((name, to_value(&v)?));
    }
    Ok(Params::Named(out))
}

/// One column value.
pub fn to_py(py: Python<'_>, value: Value) -> Py<PyAny> {
    match value {
        Value::Null => py.None(),
        Value::Integer(i) => i
            .into_pyobject(py)
            .map(|o| o.into_any().unbind())
            .unwrap_or_else(|_| py.None()),
        Value::Float(f) => PyFloat::new(py, f).into_any().unbind(),
        Value::Text(s) => PyString::new(py, &s).into_any().unbind(),
        Value::Blob(b) => PyBytes::new(py, &b).into_any().unbind(),
    }
}

/// Rows as a list of tuples.
pub fn rows_to_py(py: Python<'_>, rows: Vec<Vec<Value>>) -> PyResult<Py<PyList>> {
    let list = PyList::empty(py);
    for row in rows {
        let tuple = PyTuple::new(py, row.into_iter().map(|v| to_py(py, v)))?;
        list.append(tuple)?;
    }
    Ok(list.unbind())
}
