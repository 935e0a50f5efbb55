//! The tokio runtime the package owns: created on first use, and created anew in a child
//! process after `fork()` (a forked child has none of the parent's threads, so the parent's
//! runtime is left alone there, never used or dropped).

use std::future::Future;
use std::sync::{Arc, Mutex};

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
