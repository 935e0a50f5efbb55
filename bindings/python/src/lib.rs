//! `tidepool._native`: the private native module under the `tidepool` Python package. It only
//! converts arguments, calls the Rust client (`tidepool`, client-core) and maps its errors; the
//! DB-API 2.0, asyncio and SQLAlchemy shapes are written in Python on top of it.
//!
//! Every call that does I/O or SQLite work releases the GIL. Sync calls block on a tokio
//! runtime the module owns (`runtime.rs`, recreated in a child after `fork()`); async calls
//! spawn on it and resolve an asyncio future through `loop.call_soon_threadsafe` (`aio.rs`).

mod aio;
mod connection;
mod error;
mod offline;
mod rows;
mod runtime;
mod sync;
mod value;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<connection::Database>()?;
    m.add_class::<connection::Connection>()?;
    m.add_class::<rows::Stream>()?;
    m.add_class::<aio::Canceller>()?;
    m.add_class::<offline::Subscription>()?;
    m.add("sqlite_version", rusqlite::version())?;
    m.add_function(wrap_pyfunction!(before_fork, m)?)?;
    Ok(())
}

/// Shuts the package's runtime down before `fork()` (see `runtime.rs`); registered with
/// `os.register_at_fork` by the package.
#[pyfunction]
fn before_fork(py: Python<'_>) {
    py.detach(runtime::before_fork);
}
