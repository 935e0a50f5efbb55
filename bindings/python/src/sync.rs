//! Replica sync results as Python dicts (the Python side makes `SyncReport` and `SyncStatus`
//! of them): a sync's report and the replica's status.

use std::time::UNIX_EPOCH;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use tidepool::{SyncReport, SyncStatus};

use crate::error::Failure;

pub fn report_to_py(py: Python<'_>, r: SyncReport) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    d.set_item("rows_copied", r.rows_copied)?;
    d.set_item("tables_copied", r.tables_copied)?;
    d.set_item("copies_resumed", r.copies_resumed)?;
    d.set_item("tables_dropped", r.tables_dropped)?;
    d.set_item("changes_applied", r.changes_applied)?;
    d.set_item("position", r.position)?;
    d.set_item("server_position", r.server_position)?;
    d.set_item("changes_pushed", r.changes_pushed)?;
    d.set_item("conflicts", r.conflicts)?;
    d.set_item("tables_changed", r.tables_changed)?;
    Ok(d.into_any().unbind())
}

/// `last_synced_at` in seconds since the epoch, `last_duration` in seconds, `last_error` the
/// exception the last sync failed with.
pub fn status_to_py(py: Python<'_>, s: SyncStatus) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    d.set_item("bootstrapped", s.bootstrapped)?;
    d.set_item("position", s.position)?;
    d.set_item("server_position", s.server_position)?;
    let synced_at = s
        .last_synced_at
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64());
    d.set_item("last_synced_at", synced_at)?;
    d.set_item("last_duration", s.last_duration.map(|d| d.as_secs_f64()))?;
    let error = s
        .last_error
        .map(|e| Failure::from(e).into_pyerr(py).into_value(py));
    d.set_item("last_error", error)?;
    d.set_item("syncing", s.syncing)?;
    d.set_item("syncs", s.syncs)?;
    d.set_item("pending_changes", s.pending_changes)?;
    d.set_item("conflicts", s.conflicts)?;
    Ok(d.into_any().unbind())
}
