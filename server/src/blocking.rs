//! Running SQLite work off the async workers.
//!
//! Every statement runs on tokio's blocking pool, so a slow query or a writer waiting on
//! SQLite's busy timeout never stalls the sockets the async workers serve. This hand-off is
//! most of the server's per-request cost on a short statement (measured with perf); it is kept
//! in this one place so the strategy can change without touching the handlers. A panic in the
//! work becomes `None`, never a dead connection task.

/// Runs blocking `work` on the blocking pool and returns its result, or `None` if it panicked.
pub async fn run<R: Send + 'static>(work: impl FnOnce() -> R + Send + 'static) -> Option<R> {
    tokio::task::spawn_blocking(work).await.ok()
}
