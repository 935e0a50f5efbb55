//! The tokio runtime the package owns: created on first use, and created anew in a child
//! process after `fork()` (a forked child has none of the parent's threads, so the parent's
//! runtime is left alone there, never used or dropped).
//!
//! Forking while the runtime's threads run is not safe: a thread caught in the middle of
//! parking leaves `parking_lot`'s global table half-updated, and the child's first new thread
//! then crashes on it. So `before_fork` (registered with `os.register_at_fork`) shuts the
//! runtime down first; the parent starts a new one on its next call. Its remote connections
//! reconnect (a transaction open on one is lost), and an asyncio call in flight across a fork
//! is abandoned.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Runtime;

use crate::error::Failure;

static RUNTIME: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

/// The runtime of this process.
pub fn get() -> Result<Arc<Runtime>, Failure> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((owner, rt)) = slot.as_ref() {
        if *owner == pid {
            return Ok(Arc::clone(rt));
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("tidepool-py")
        .enable_all()
        .build()
        .map_err(|e| Failure::internal(format!("cannot start the tokio runtime: {e}")))?;
    let rt = Arc::new(rt);
    if let Some(old) = slot.replace((pid, Arc::clone(&rt))) {
        // The parent's runtime: its threads do not exist here, so dropping it could wait on
        // them forever.
        std::mem::forget(old);
    }
    Ok(rt)
}

/// Stops this process's runtime before `fork()`, waiting a little for its threads to finish.
/// A runtime still in use by a blocking call on another thread is left to end with that call.
pub fn before_fork() {
    let pid = std::process::id();
    let taken = {
        let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some((owner, _)) if *owner == pid => slot.take().map(|(_, rt)| rt),
            _ => None,
        }
    };
    if let Some(rt) = taken {
        if let Ok(rt) = Arc::try_unwrap(rt) {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

/// Runs `future` to completion on the package's runtime, from a thread outside it (the GIL
/// is released by the caller).
pub fn block_on<F: Future>(future: F) -> Result<F::Output, Failure> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Failure::interface(
            "a blocking tidepool call was made from the package's own runtime thread",
        ));
    }
    Ok(get()?.block_on(future))
}

/// Drops `value` inside the runtime's context, where the client's destructors may spawn
/// clean-up tasks (closing a server stream, giving back a connection).
pub fn drop_in_context<T>(value: T) {
    match get() {
        Ok(rt) => {
            let _entered = rt.enter();
            drop(value);
        }
        Err(_) => std::mem::forget(value),
    }
}
