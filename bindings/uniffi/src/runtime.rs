//! The tokio runtime every call runs on. The library owns it (two worker threads, created on
//! first use) rather than borrowing the caller's, so the core's background work (a dropped
//! transaction's rollback, WebSocket readers) always has a runtime, and a task's panic comes
//! back as an error instead of unwinding into the foreign caller.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::error::TidepoolError;

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

fn runtime() -> Result<&'static Runtime, TidepoolError> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("tidepool")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| TidepoolError::internal(format!("cannot start the runtime: {e}")))
}

/// Aborts the task when the foreign caller stops waiting for it.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `future` on the library's runtime and waits for it.
pub(crate) async fn run<F, T>(future: F) -> Result<T, TidepoolError>
where
    F: Future<Output = Result<T, TidepoolError>> + Send + 'static,
    T: Send + 'static,
{
    let mut task = AbortOnDrop(runtime()?.spawn(future));
    match (&mut task.0).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(TidepoolError::internal(panic_message(e.into_panic()))),
        Err(e) => Err(TidepoolError::internal(format!(
            "the call was cancelled: {e}"
        ))),
    }
}

/// Enters the runtime's context for the current scope, so that the core's drop handlers (which
/// schedule a rollback or a stream close on the current runtime) find one even when the
/// foreign side's garbage collector drops an object on a thread of its own.
pub(crate) fn enter() -> Option<tokio::runtime::EnterGuard<'static>> {
    runtime().ok().map(Runtime::enter)
}

/// A handle to the runtime, for threads of the library's own that wait on it.
pub(crate) fn handle() -> Result<tokio::runtime::Handle, TidepoolError> {
    Ok(runtime()?.handle().clone())
}

/// Starts `future` in the background (a dropped transaction's rollback).
pub(crate) fn spawn_detached<F>(future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    if let Ok(rt) = runtime() {
        rt.spawn(future);
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    format!("a panic in the Tidepool library: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_a_call_comes_back_as_an_internal_error() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let result: Result<(), TidepoolError> = rt.block_on(run(async { panic!("boom") }));
        match result {
            Err(TidepoolError::Internal { code, reason, .. }) => {
                assert_eq!(code, "INTERNAL");
                assert!(reason.contains("boom"), "{reason}");
            }
            other => panic!("expected Internal, got {other:?}"),
        }
        let ok = rt.block_on(run(async { Ok(42) }));
        assert_eq!(ok.ok(), Some(42));
    }
}
