//! Offline mode's pieces that cross into Python: conflict policies by name, conflicts as
//! dicts, resolutions from Python values, a resolver written in Python, and change
//! subscriptions delivered to a Python callable on a thread of their own.
//!
//! The Python side (`tidepool/_offline.py`) wraps the user's resolver and callbacks: it builds
//! the `Conflict` and `TableChange` objects, catches and logs what they raise, and checks what
//! a resolver returns, so what reaches this module is already well-formed. What still fails
//! here (a merged value of an unsupported type) is logged and counts as "remote".

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use tidepool::error::code;
use tidepool::{
    ChangeOrigin, Changes, Conflict, ConflictPolicy, Resolution, Resolver, RowImage, TableChange,
};
use tokio::sync::Notify;

use crate::error::Failure;
use crate::value;

/// A policy by its stable name.
pub fn policy(name: &str) -> Result<ConflictPolicy, Failure> {
    match name {
        "column_lww" => Ok(ConflictPolicy::ColumnLww),
        "server_wins" => Ok(ConflictPolicy::ServerWins),
        "client_wins" => Ok(ConflictPolicy::ClientWins),
        other => Err(Failure::binding(
            "InterfaceError",
            code::INVALID_CONFIG,
            format!("unknown conflict policy {other:?} (column_lww, server_wins or client_wins)"),
        )),
    }
}

fn image_to_py(py: Python<'_>, image: Option<RowImage>) -> PyResult<Py<PyAny>> {
    match image {
        None => Ok(py.None()),
        Some(image) => {
            let d = PyDict::new(py);
            for (column, v) in image {
                d.set_item(column, value::to_py(py, v))?;
            }
            Ok(d.into_any().unbind())
        }
    }
}

/// A conflict as a dict of plain values (the Python side makes a `tidepool.Conflict` of it):
/// enums by their stable names, `written_at` in seconds since the epoch.
pub fn conflict_to_py(py: Python<'_>, c: Conflict) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    d.set_item("id", c.id)?;
    d.set_item("table", c.table)?;
    let key = PyTuple::new(py, c.key.into_iter().map(|v| value::to_py(py, v)))?;
    d.set_item("key", key)?;
    d.set_item("kind", c.kind.as_str())?;
    d.set_item("rule", c.rule.as_str())?;
    d.set_item("outcome", c.outcome.as_str())?;
    d.set_item("columns", PyTuple::new(py, c.columns)?)?;
    d.set_item("local", image_to_py(py, c.local)?)?;
    d.set_item("remote", image_to_py(py, c.remote)?)?;
    d.set_item("base", image_to_py(py, c.base)?)?;
    d.set_item("error", c.error)?;
    let written = c
        .written_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    d.set_item("written_at", written)?;
    Ok(d.into_any().unbind())
}

pub fn conflicts_to_py(py: Python<'_>, conflicts: Vec<Conflict>) -> PyResult<Py<PyAny>> {
    let list = PyList::empty(py);
    for c in conflicts {
        list.append(conflict_to_py(py, c)?)?;
    }
    Ok(list.into_any().unbind())
}

/// `"local"`, `"remote"`, or a mapping of column to value (a merged row).
pub fn resolution(obj: &Bound<'_, PyAny>) -> Result<Resolution, Failure> {
    if let Ok(s) = obj.cast::<PyString>() {
        return match s.to_cow().as_deref() {
            Ok("local") => Ok(Resolution::KeepLocal),
            Ok("remote") => Ok(Resolution::KeepRemote),
            _ => Err(bad_resolution(obj)),
        };
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut row = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            let column: String = k.extract().map_err(|_| {
                Failure::binding(
                    "ProgrammingError",
                    code::INVALID_ARGUMENT,
                    "a merged row's keys are column names (str)",
                )
            })?;
            row.push((column, value::to_value(&v)?));
        }
        return Ok(Resolution::Merge(row));
    }
    Err(bad_resolution(obj))
}

fn bad_resolution(obj: &Bound<'_, PyAny>) -> Failure {
    let shown = obj
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".to_owned());
    Failure::binding(
        "ProgrammingError",
        code::INVALID_ARGUMENT,
        format!("a resolution is \"local\", \"remote\" or a dict of column values, not {shown}"),
    )
}

/// Logs on the `tidepool` logger (best effort: nothing to do if logging itself fails).
fn log_error(py: Python<'_>, message: &str) {
    let _ = py
        .import("logging")
        .and_then(|logging| logging.call_method1("getLogger", ("tidepool",)))
        .and_then(|logger| logger.call_method1("error", ("%s", message)));
}

/// A resolver written in Python: `call(conflict_dict) -> "local" | "remote" | dict`, called
/// with the GIL on the sync's worker thread, which waits for the answer.
pub struct PyResolver {
    call: Py<PyAny>,
}

impl PyResolver {
    pub fn new(call: Py<PyAny>) -> Self {
        PyResolver { call }
    }
}

impl std::fmt::Debug for PyResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PyResolver")
    }
}

impl Resolver for PyResolver {
    fn resolve(&self, conflict: &Conflict) -> Resolution {
        let (table, id) = (conflict.table.clone(), conflict.id);
        // Not attached (the interpreter is shutting down): the server's version stays.
        Python::try_attach(|py| {
            let answer = conflict_to_py(py, conflict.clone())
                .and_then(|arg| self.call.call1(py, (arg,)))
                .map_err(|e| e.to_string())
                .and_then(|out| resolution(out.bind(py)).map_err(|e| e.to_string()));
            answer.unwrap_or_else(|e| {
                log_error(
                    py,
                    &format!(
                        "the resolver failed on conflict {id} in {table:?}; keeping the \
                         server's version: {e}"
                    ),
                );
                Resolution::KeepRemote
            })
        })
        .unwrap_or(Resolution::KeepRemote)
    }
}

fn origin(o: ChangeOrigin) -> &'static str {
    match o {
        ChangeOrigin::Local => "local",
        _ => "remote",
    }
}

/// A change subscription: a thread that waits for the database's notifications and calls
/// `call(tables, origin)` with the GIL for each, until closed or the database is gone (not when
/// the handle is dropped). Its own small runtime (no I/O) waits, so the callback runs outside
/// any runtime and may use the database (blocking calls included).
#[pyclass(frozen, module = "tidepool._native")]
pub struct Subscription {
    closed: Arc<AtomicBool>,
    wake: Arc<Notify>,
}

impl Subscription {
    pub fn start(mut changes: Changes, call: Py<PyAny>) -> Result<Self, Failure> {
        let closed = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(Notify::new());
        let waiter = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| Failure::internal(format!("cannot start a subscription: {e}")))?;
        let (stop, woken) = (Arc::clone(&closed), Arc::clone(&wake));
        std::thread::Builder::new()
            .name("tidepool-py-changes".to_owned())
            .spawn(move || loop {
                let next: Option<TableChange> = waiter.block_on(async {
                    tokio::select! {
                        change = changes.recv() => change,
                        () = woken.notified() => None,
                    }
                });
                let Some(change) = next else { break };
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let delivered = Python::try_attach(|py| {
                    let tables = PyList::new(py, &change.tables)?;
                    if let Err(e) = call.call1(py, (tables, origin(change.origin))) {
                        log_error(py, &format!("a change subscriber failed: {e}"));
                    }
                    PyResult::Ok(())
                });
                if delivered.is_none() {
                    break;
                }
            })
            .map_err(|e| Failure::internal(format!("cannot start a subscription: {e}")))?;
        Ok(Subscription { closed, wake })
    }
}

#[pymethods]
impl Subscription {
    /// Stops the deliveries: none starts after this returns (one running now finishes).
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}
