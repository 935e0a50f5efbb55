//! Results: what one `execute` hands back (columns, the first rows, counts) and, when more
//! rows remain, a `Stream` that reads them from the client's cursor on demand. Reading the
//! first rows in the same call as the statement keeps a point read to one trip into Rust.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use tidepool::{Column, Rows, Value};

use crate::error::Failure;
use crate::{aio, runtime, value};

/// A statement's result as far as it has been read.
pub struct Output {
    columns: Vec<Column>,
    rows: Vec<Vec<Value>>,
    rows_affected: u64,
    last_insert_rowid: Option<i64>,
    rest: Option<Rows>,
}

/// Reads up to `n` rows; `done` when the result ended.
async fn read_rows(rows: &mut Rows, n: usize) -> Result<(Vec<Vec<Value>>, bool), Failure> {
    let mut out = Vec::new();
    while out.len() < n {
        match rows.next().await? {
            Some(row) => out.push(row.into_values()),
            None => return Ok((out, true)),
        }
    }
    Ok((out, false))
}

impl Output {
    /// Reads the columns and up to `prefetch` rows (at least one, to see the end of a result
    /// that has none).
    pub async fn read(mut rows: Rows, prefetch: usize) -> Result<Self, Failure> {
        let columns = rows.columns().to_vec();
        let (first, done) = read_rows(&mut rows, prefetch.max(1)).await?;
        Ok(Output {
            columns,
            rows: first,
            rows_affected: rows.rows_affected(),
            last_insert_rowid: rows.last_insert_rowid(),
            rest: if done { None } else { Some(rows) },
        })
    }

    /// `(columns, rows, rows_affected, last_insert_rowid, stream or None)`, where `columns`
    /// is a tuple of `(name, decltype)`.
    pub fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let columns = PyTuple::new(
            py,
            self.columns
                .iter()
                .map(|c| (c.name.as_str(), c.decltype.as_deref())),
        )?;
        let rows = value::rows_to_py(py, self.rows)?;
        let stream = match self.rest {
            Some(rows) => Some(Py::new(
                py,
                Stream {
                    rows: Arc::new(Mutex::new(Some(rows))),
                },
            )?),
            None => None,
        };
        let out = (
            columns,
            rows,
            self.rows_affected,
            self.last_insert_rowid,
            stream,
        );
        Ok(out.into_pyobject(py)?.into_any().unbind())
    }
}

/// The rows of a result that were not read with it. The connection stays busy until they are
/// read to the end or the stream is closed.
#[pyclass(frozen, module = "tidepool._native")]
pub struct Stream {
    rows: Arc<Mutex<Option<Rows>>>,
}

type Chunk = (Vec<Vec<Value>>, bool, u64, Option<i64>);

fn take(slot: &Mutex<Option<Rows>>) -> Result<Rows, Failure> {
    slot.lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .ok_or_else(|| Failure::closed("result stream (read to its end, closed, or in use)"))
}

/// Reads up to `n` rows from the stream in `slot`, putting it back unless it ended.
async fn next_chunk(slot: Arc<Mutex<Option<Rows>>>, n: usize) -> Result<Chunk, Failure> {
    let mut rows = take(&slot)?;
    let (chunk, done) = read_rows(&mut rows, n).await?;
    let out = (chunk, done, rows.rows_affected(), rows.last_insert_rowid());
    if done {
        drop(rows);
    } else {
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(rows);
    }
    Ok(out)
}

fn chunk_to_py(py: Python<'_>, chunk: Chunk) -> PyResult<Py<PyAny>> {
    let (rows, done, affected, rowid) = chunk;
    let rows: Py<PyList> = value::rows_to_py(py, rows)?;
    Ok((rows, done, affected, rowid)
        .into_pyobject(py)?
        .into_any()
        .unbind())
}

#[pymethods]
impl Stream {
    /// Reads up to `n` more rows: `(rows, done, rows_affected, last_insert_rowid)`.
    fn fetch(&self, py: Python<'_>, n: usize) -> PyResult<Py<PyAny>> {
        let slot = Arc::clone(&self.rows);
        let chunk = py
            .detach(|| runtime::block_on(next_chunk(slot, n)).and_then(|r| r))
            .map_err(|e| e.into_pyerr(py))?;
        chunk_to_py(py, chunk)
    }

    /// `fetch` as an awaitable.
    fn fetch_async<'py>(&self, py: Python<'py>, n: usize) -> PyResult<Bound<'py, PyAny>> {
        aio::spawn(py, next_chunk(Arc::clone(&self.rows), n), chunk_to_py)
    }

    /// Stops reading: the rest of the result is discarded and the connection freed.
    fn close(&self) {
        let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(rows) = rows {
            runtime::drop_in_context(rows);
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.close();
    }
}
