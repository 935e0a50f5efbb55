//! Interrupting what a connection is running: the SQLite connections its blocking tasks are
//! on at this moment, each registered for exactly as long as the task holds it, so an interrupt
//! never reaches a statement of whoever uses that SQLite connection next.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::InterruptHandle;

/// The SQLite connections some tasks are running on.
#[derive(Default)]
pub(crate) struct Interrupts {
    next_id: AtomicU64,
    running: Mutex<Vec<(u64, Arc<InterruptHandle>)>>,
}

impl std::fmt::Debug for Interrupts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupts")
            .field("running", &self.running.lock().len())
            .finish()
    }
}

impl Interrupts {
    /// Interrupts the statements running now; they fail with `SQLITE_INTERRUPT`. A statement
    /// that starts later is not affected (SQLite clears the flag when a statement starts on an
    /// idle connection).
    pub fn interrupt(&self) {
        // The lock is held while interrupting, so a task cannot leave (and hand its SQLite
        // connection to someone else) in between.
        for (_, handle) in self.running.lock().iter() {
            handle.interrupt();
        }
    }

    /// Registers a task's SQLite connection until the returned guard drops.
    pub fn enter(self: &Arc<Self>, handle: &Arc<InterruptHandle>) -> Entered {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.running.lock().push((id, Arc::clone(handle)));
        Entered {
            interrupts: Arc::clone(self),
            id,
        }
    }
}

/// A task's registration; dropping it unregisters.
pub(crate) struct Entered {
    interrupts: Arc<Interrupts>,
    id: u64,
}

impl Drop for Entered {
    fn drop(&mut self) {
        self.interrupts
            .running
            .lock()
            .retain(|(id, _)| *id != self.id);
    }
}
