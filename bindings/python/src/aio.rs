//! asyncio bridge: a call spawns its future on the package's runtime and returns an asyncio
//! future of the running loop; the result (or exception) is set on the loop's thread through
//! `loop.call_soon_threadsafe`. Cancelling the asyncio future aborts the task, which drops the
//! client's future and so cancels its request.

use std::future::Future;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tokio::task::AbortHandle;

use crate::error::Failure;
use crate::runtime;

static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static RESOLVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Runs `future` on the runtime; its output is converted to Python by `convert` (with the
/// GIL, on a runtime thread) and set on the returned asyncio future.
pub fn spawn<'py, F, T, C>(py: Python<'py>, future: F, convert: C) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Result<T, Failure>> + Send + 'static,
    T: Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let get_loop = GET_RUNNING_LOOP.get_or_try_init(py, || {
        py.import("asyncio")?
            .getattr("get_running_loop")
            .map(Bound::unbind)
    })?;
    let resolve = RESOLVE
        .get_or_try_init(py, || {
            py.import("tidepool._bridge")?
                .getattr("resolve")
                .map(Bound::unbind)
        })?
        .clone_ref(py);
    let event_loop = get_loop.bind(py).call0()?;
    let py_future = event_loop.call_method0("create_future")?;
    let rt = runtime::get().map_err(|e| e.into_pyerr(py))?;
    let target = py_future.clone().unbind();
    let loop_ref = event_loop.unbind();
    let task = rt.spawn(async move {
        let result = future.await;
        Python::attach(|py| {
            let (ok, value) = match result
                .map_err(|e| e.into_pyerr(py))
                .and_then(|t| convert(py, t))
            {
                Ok(value) => (true, value),
                Err(e) => (false, e.into_value(py).into_any()),
            };
            // Fails only when the loop is closed, and then nobody is waiting.
            let _ = loop_ref.call_method1(py, "call_soon_threadsafe", (resolve, target, ok, value));
        });
    });
    let canceller = Canceller {
        task: task.abort_handle(),
    };
    py_future.call_method1("add_done_callback", (canceller,))?;
    Ok(py_future)
}

/// Aborts the task when its asyncio future is cancelled.
#[pyclass(frozen, module = "tidepool._native")]
pub struct Canceller {
    task: AbortHandle,
}

#[pymethods]
impl Canceller {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.task.abort();
        }
        Ok(())
    }
}
