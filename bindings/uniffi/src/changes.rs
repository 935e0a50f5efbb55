//! Change notifications. Neither SQLite files nor the server push changes to a client, so this
//! reports what it can see honestly: committed writes made through this `Database` object's
//! connections (and, for a replica, what a sync brought in). A write inside a transaction is
//! reported when the transaction commits, and never if it rolls back. Listeners run on a thread
//! of their own, never inside a database call.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, Weak};

/// What kind of write a [`Change`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ChangeKind {
    /// One statement outside a transaction.
    Statement,
    /// An atomic batch outside a transaction.
    Batch,
    /// A script (`execute_batch`) outside a transaction: its rows are not counted.
    Script,
    /// A transaction committed.
    Commit,
    /// A sync brought changes from the server.
    Sync,
}

/// A committed change.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Change {
    pub kind: ChangeKind,
    /// Rows inserted, updated or deleted, as SQLite counts them (0 when unknown: scripts).
    pub rows_affected: u64,
}

/// Told about every committed change made through the database it is registered on.
#[uniffi::export(callback_interface)]
pub trait ChangeListener: Send + Sync {
    fn on_change(&self, change: Change);
}

struct Entry {
    id: u64,
    active: Arc<AtomicBool>,
    listener: Arc<dyn ChangeListener>,
}

type Listeners = Arc<Mutex<Vec<Entry>>>;

/// One database's listeners and the thread that calls them.
#[derive(Default)]
pub(crate) struct Notifier {
    listeners: Listeners,
    next_id: AtomicU64,
    /// Started with the first listener; ends when the notifier is dropped.
    queue: Mutex<Option<Sender<Change>>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

impl Notifier {
    pub(crate) fn add(&self, listener: Box<dyn ChangeListener>) -> ChangeListenerHandle {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let active = Arc::new(AtomicBool::new(true));
        if let Ok(mut listeners) = self.listeners.lock() {
            listeners.push(Entry {
                id,
                active: Arc::clone(&active),
                listener: Arc::from(listener),
            });
        }
        if let Ok(mut queue) = self.queue.lock() {
            if queue.is_none() {
                *queue = Some(start_dispatcher(Arc::clone(&self.listeners)));
            }
        }
        ChangeListenerHandle {
            listeners: Arc::downgrade(&self.listeners),
            id,
            active,
        }
    }

    pub(crate) fn emit(&self, change: Change) {
        if let Ok(queue) = self.queue.lock() {
            if let Some(queue) = queue.as_ref() {
                let _ = queue.send(change);
            }
        }
    }
}

fn start_dispatcher(listeners: Listeners) -> Sender<Change> {
    let (tx, rx) = channel::<Change>();
    let spawned = std::thread::Builder::new()
        .name("tidepool-changes".into())
        .spawn(move || {
            while let Ok(change) = rx.recv() {
                let targets: Vec<(Arc<AtomicBool>, Arc<dyn ChangeListener>)> =
                    match listeners.lock() {
                        Ok(l) => l
                            .iter()
                            .map(|e| (Arc::clone(&e.active), Arc::clone(&e.listener)))
                            .collect(),
                        Err(_) => return,
                    };
                for (active, listener) in targets {
                    if active.load(Ordering::SeqCst) {
                        // A listener that throws must not take the thread (or the process)
                        // down with it.
                        let change = change.clone();
                        let _ = catch_unwind(AssertUnwindSafe(|| listener.on_change(change)));
                    }
                }
            }
        });
    if let Err(e) = spawned {
        // Without the thread, changes are dropped: the sender's channel has no receiver.
        eprintln!("tidepool: cannot start the change listener thread: {e}");
    }
    tx
}

/// Keeps a listener registered; `cancel` (or dropping the handle) stops it.
#[derive(uniffi::Object)]
pub struct ChangeListenerHandle {
    listeners: Weak<Mutex<Vec<Entry>>>,
    id: u64,
    active: Arc<AtomicBool>,
}

impl std::fmt::Debug for ChangeListenerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeListenerHandle")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[uniffi::export]
impl ChangeListenerHandle {
    /// Stops the listener: no call to it starts after this returns. Idempotent.
    pub fn cancel(&self) {
        self.active.store(false, Ordering::SeqCst);
        if let Some(listeners) = self.listeners.upgrade() {
            if let Ok(mut listeners) = listeners.lock() {
                listeners.retain(|e| e.id != self.id);
            }
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

/// Writes made inside an open transaction, reported when it commits.
#[derive(Debug, Default)]
pub(crate) struct Pending(Mutex<PendingState>);

#[derive(Debug, Default)]
struct PendingState {
    rows: u64,
    dirty: bool,
}

impl Pending {
    fn take(&self) -> PendingState {
        self.0
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }

    fn add(&self, rows: u64) {
        if let Ok(mut p) = self.0.lock() {
            p.rows += rows;
            p.dirty = true;
        }
    }

    /// After a write of `rows` rows; `autocommit` is the connection's state after it.
    fn after(&self, notifier: &Notifier, kind: ChangeKind, rows: u64, autocommit: bool) {
        if !autocommit {
            if rows > 0 || kind == ChangeKind::Script {
                self.add(rows);
            }
            return;
        }
        let before = self.take();
        if before.dirty {
            notifier.emit(Change {
                kind: ChangeKind::Commit,
                rows_affected: before.rows + rows,
            });
        } else if rows > 0 || kind == ChangeKind::Script {
            notifier.emit(Change {
                kind,
                rows_affected: rows,
            });
        }
    }

    pub(crate) fn after_write(&self, notifier: &Notifier, sql: &str, rows: u64, autocommit: bool) {
        let rollback = sql
            .trim_start()
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("ROLLBACK"));
        if rollback && autocommit {
            self.discard();
            return;
        }
        self.after(notifier, ChangeKind::Statement, rows, autocommit);
    }

    pub(crate) fn after_batch(
        &self,
        notifier: &Notifier,
        kind: ChangeKind,
        rows: u64,
        autocommit: bool,
    ) {
        self.after(notifier, kind, rows, autocommit);
    }

    pub(crate) fn after_script(&self, notifier: &Notifier, autocommit: bool) {
        self.after(notifier, ChangeKind::Script, 0, autocommit);
    }

    /// A transaction object committed.
    pub(crate) fn commit(&self, notifier: &Notifier) {
        let before = self.take();
        if before.dirty {
            notifier.emit(Change {
                kind: ChangeKind::Commit,
                rows_affected: before.rows,
            });
        }
    }

    pub(crate) fn discard(&self) {
        self.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{self, Receiver};
    use std::time::Duration;

    struct Collect(Mutex<mpsc::Sender<Change>>);

    impl ChangeListener for Collect {
        fn on_change(&self, change: Change) {
            if let Ok(tx) = self.0.lock() {
                let _ = tx.send(change);
            }
        }
    }

    struct Panics;

    impl ChangeListener for Panics {
        fn on_change(&self, _: Change) {
            panic!("a listener that fails");
        }
    }

    fn listen(notifier: &Notifier) -> (ChangeListenerHandle, Receiver<Change>) {
        let (tx, rx) = mpsc::channel();
        (notifier.add(Box::new(Collect(Mutex::new(tx)))), rx)
    }

    fn next(rx: &Receiver<Change>) -> Change {
        rx.recv_timeout(Duration::from_secs(10)).expect("a change")
    }

    fn change(kind: ChangeKind, rows_affected: u64) -> Change {
        Change {
            kind,
            rows_affected,
        }
    }

    #[test]
    fn writes_in_a_transaction_arrive_at_commit_and_never_after_rollback() {
        let notifier = Notifier::default();
        let _panics = notifier.add(Box::new(Panics));
        let (_handle, rx) = listen(&notifier);
        let pending = Pending::default();
        pending.after_write(&notifier, "INSERT", 2, true);
        pending.after_write(&notifier, "UPDATE", 0, true);
        pending.after_write(&notifier, "INSERT", 1, false);
        pending.after_batch(&notifier, ChangeKind::Batch, 3, false);
        pending.commit(&notifier);
        pending.after_write(&notifier, "DELETE", 5, false);
        pending.after_write(&notifier, "  rollback", 0, true);
        pending.after_script(&notifier, false);
        pending.after_write(&notifier, "COMMIT", 0, true);
        pending.after_script(&notifier, true);
        assert_eq!(next(&rx), change(ChangeKind::Statement, 2));
        assert_eq!(next(&rx), change(ChangeKind::Commit, 4));
        // The script inside the manual transaction made it dirty: its COMMIT is a change.
        assert_eq!(next(&rx), change(ChangeKind::Commit, 0));
        assert_eq!(next(&rx), change(ChangeKind::Script, 0));
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
    }

    #[test]
    fn a_cancelled_or_dropped_handle_stops_its_listener() {
        let notifier = Notifier::default();
        let (first, first_rx) = listen(&notifier);
        let (second, second_rx) = listen(&notifier);
        notifier.emit(change(ChangeKind::Statement, 1));
        assert_eq!(next(&first_rx), change(ChangeKind::Statement, 1));
        assert_eq!(next(&second_rx), change(ChangeKind::Statement, 1));
        first.cancel();
        assert!(!first.is_active());
        drop(second);
        let (_third, third_rx) = listen(&notifier);
        notifier.emit(change(ChangeKind::Sync, 7));
        assert_eq!(next(&third_rx), change(ChangeKind::Sync, 7));
        assert!(first_rx.try_recv().is_err());
        assert!(second_rx.try_recv().is_err());
    }
}
