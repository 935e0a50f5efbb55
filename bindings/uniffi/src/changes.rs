//! Change notifications, from the core's `Database::subscribe` (replica and offline databases):
//! the tables changed by each local commit (origin `Local`) and by each sync that changed rows
//! (origin `Remote`). Each listener has a thread of its own that waits for the next change and
//! calls it, so a slow listener delays nobody else and never runs inside a database call.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::error::TidepoolError;
use crate::runtime;

/// Where a change came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ChangeOrigin {
    /// A write committed on this device.
    Local,
    /// Changes a sync brought from the server.
    Remote,
}

/// Tables changed by a committed local write or by a sync: refresh what shows them.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct TableChange {
    pub tables: Vec<String>,
    pub origin: ChangeOrigin,
}

impl From<tidepool::TableChange> for TableChange {
    fn from(c: tidepool::TableChange) -> Self {
        TableChange {
            tables: c.tables,
            origin: match c.origin {
                tidepool::ChangeOrigin::Local => ChangeOrigin::Local,
                // `Remote`, and any origin a newer core adds: it did not happen here.
                _ => ChangeOrigin::Remote,
            },
        }
    }
}

/// Told about every change of the database it is registered on.
#[uniffi::export(callback_interface)]
pub trait ChangeListener: Send + Sync {
    fn on_change(&self, change: TableChange);
}

/// Keeps a listener registered; `cancel` (or dropping the handle) stops it.
#[derive(uniffi::Object)]
pub struct ChangeListenerHandle {
    active: Arc<AtomicBool>,
    stop: Arc<Notify>,
}

impl std::fmt::Debug for ChangeListenerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeListenerHandle")
            .field("active", &self.active.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

/// Starts `listener` on a thread of its own, fed by `changes`.
pub(crate) fn listen(
    mut changes: tidepool::Changes,
    listener: Box<dyn ChangeListener>,
) -> Result<ChangeListenerHandle, TidepoolError> {
    let runtime = runtime::handle()?;
    let active = Arc::new(AtomicBool::new(true));
    let stop = Arc::new(Notify::new());
    let (thread_active, thread_stop) = (Arc::clone(&active), Arc::clone(&stop));
    std::thread::Builder::new()
        .name("tidepool-changes".into())
        .spawn(move || loop {
            let next = runtime.block_on(async {
                tokio::select! {
                    change = changes.recv() => change,
                    () = thread_stop.notified() => None,
                }
            });
            // `None`: stopped, or the database is gone.
            let Some(change) = next else { break };
            if !thread_active.load(Ordering::SeqCst) {
                break;
            }
            // A listener that throws must not take the thread (or the process) down with it.
            let _ = catch_unwind(AssertUnwindSafe(|| listener.on_change(change.into())));
        })
        .map_err(|e| {
            TidepoolError::internal(format!("cannot start the change listener thread: {e}"))
        })?;
    Ok(ChangeListenerHandle { active, stop })
}

#[uniffi::export]
impl ChangeListenerHandle {
    /// Stops the listener: changes after this are not delivered to it. Idempotent.
    pub fn cancel(&self) {
        if self.active.swap(false, Ordering::SeqCst) {
            // A stored permit: the thread sees it even if it is inside the listener now.
            self.stop.notify_one();
        }
    }

    /// Whether the listener is still registered.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }
}

impl Drop for ChangeListenerHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}
