//! Change notifications. Replica and offline databases: the core's `Database::subscribe`, the
//! tables changed by each local commit (origin `Local`) and by each sync that changed rows
//! (origin `Remote`). Local and remote databases, which the core does not watch: the committed
//! writes made through this `Database` object's connections ([`Notifier`], [`Pending`]), with
//! `tables` empty (not known here). Each listener has a thread of its own that waits for the
//! next change and calls it, so a slow listener delays nobody else and never runs inside a
//! database call.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, Notify};

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

/// Where a listener's changes come from.
pub(crate) enum Source {
    Core(tidepool::Changes),
    Own(broadcast::Receiver<TableChange>),
}

impl Source {
    /// The next change; `None` once the database is gone.
    async fn recv(&mut self) -> Option<TableChange> {
        match self {
            Source::Core(changes) => changes.recv().await.map(Into::into),
            Source::Own(rx) => loop {
                match rx.recv().await {
                    Ok(change) => return Some(change),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            },
        }
    }
}

/// Starts `listener` on a thread of its own, fed by `changes`.
pub(crate) fn listen(
    mut changes: Source,
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
            let _ = catch_unwind(AssertUnwindSafe(|| listener.on_change(change)));
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

/// The changes of a local or remote database, made through its connections. Disabled (no
/// channel) for replica and offline databases, whose changes come from the core.
#[derive(Debug)]
pub(crate) struct Notifier(Option<broadcast::Sender<TableChange>>);

impl Notifier {
    pub(crate) fn new(enabled: bool) -> Self {
        Notifier(enabled.then(|| broadcast::channel(256).0))
    }

    pub(crate) fn enabled(&self) -> bool {
        self.0.is_some()
    }

    pub(crate) fn subscribe(&self) -> Option<Source> {
        self.0.as_ref().map(|tx| Source::Own(tx.subscribe()))
    }

    fn emit(&self) {
        if let Some(tx) = &self.0 {
            // No receiver is not an error: nobody is listening.
            let _ = tx.send(TableChange {
                tables: Vec::new(),
                origin: ChangeOrigin::Local,
            });
        }
    }
}

/// Whether the open transaction of a connection wrote anything: reported when it commits,
/// never if it rolls back.
#[derive(Debug, Default)]
pub(crate) struct Pending(Mutex<bool>);

impl Pending {
    fn take(&self) -> bool {
        self.0
            .lock()
            .map(|mut d| std::mem::take(&mut *d))
            .unwrap_or(false)
    }

    /// After a statement, batch or script that `wrote` (changed rows, or a script, which may
    /// have); `autocommit` is the connection's state after it.
    pub(crate) fn after(&self, notifier: &Notifier, wrote: bool, autocommit: bool) {
        if !autocommit {
            if wrote {
                if let Ok(mut d) = self.0.lock() {
                    *d = true;
                }
            }
            return;
        }
        if self.take() || wrote {
            notifier.emit();
        }
    }

    /// After a statement: a `ROLLBACK` that ended a transaction drops what it wrote.
    pub(crate) fn after_statement(
        &self,
        notifier: &Notifier,
        sql: &str,
        rows: u64,
        autocommit: bool,
    ) {
        let rollback = sql
            .trim_start()
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("ROLLBACK"));
        if rollback && autocommit {
            self.discard();
            return;
        }
        self.after(notifier, rows > 0, autocommit);
    }

    /// A transaction object committed.
    pub(crate) fn commit(&self, notifier: &Notifier) {
        if self.take() {
            notifier.emit();
        }
    }

    pub(crate) fn discard(&self) {
        self.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(rx: &mut broadcast::Receiver<TableChange>) -> usize {
        std::iter::from_fn(|| rx.try_recv().ok()).count()
    }

    #[test]
    fn writes_in_a_transaction_arrive_at_commit_and_never_after_rollback() {
        let notifier = Notifier::new(true);
        let Some(Source::Own(mut rx)) = notifier.subscribe() else {
            panic!("an enabled notifier has a channel");
        };
        let pending = Pending::default();
        pending.after_statement(&notifier, "INSERT", 2, true);
        pending.after_statement(&notifier, "UPDATE", 0, true);
        assert_eq!(count(&mut rx), 1);
        pending.after_statement(&notifier, "INSERT", 1, false);
        pending.after(&notifier, true, false);
        pending.commit(&notifier);
        assert_eq!(count(&mut rx), 1);
        pending.after_statement(&notifier, "DELETE", 5, false);
        pending.after_statement(&notifier, "  rollback", 0, true);
        assert_eq!(count(&mut rx), 0);
        // A script inside a manual transaction makes it dirty: its COMMIT is a change.
        pending.after(&notifier, true, false);
        pending.after_statement(&notifier, "COMMIT", 0, true);
        assert_eq!(count(&mut rx), 1);
        assert!(!Notifier::new(false).enabled());
    }
}
