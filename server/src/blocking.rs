//! Where SQLite work runs: inline on the async worker, or on the blocking pool.
//!
//! A short read costs far less than the hand-off to a blocking thread and back (two thread
//! wake-ups, measured as most of a `SELECT ?`'s server time), so a request made only of reads
//! (`SELECT`/`VALUES` statements, descriptions, `get_autocommit`) first runs inline on the
//! worker that decoded it, under a time budget ([`crate::Config::inline_budget`]) and with no
//! busy waiting: a SQLite progress handler stops it when the budget is spent, and it then runs
//! again from the start on the blocking pool. Reads have no effects, so running one twice is
//! safe; anything that may write goes straight to the blocking pool, so a slow query or a
//! writer waiting on SQLite's busy timeout never stalls the sockets the async workers serve.
//!
//! On the blocking pool, [`run_interruptible`] interrupts the statement when the request that
//! awaits it goes away (the request timeout answered 408, or the client left).

use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::InterruptHandle;

/// Runs blocking `work` on the blocking pool and returns its result, or `None` if it panicked.
pub async fn run<R: Send + 'static>(work: impl FnOnce() -> R + Send + 'static) -> Option<R> {
    tokio::task::spawn_blocking(work).await.ok()
}

/// Where blocking work says which connection to interrupt if its request goes away.
#[derive(Clone, Default)]
pub struct Interrupt(Arc<Mutex<Option<InterruptHandle>>>);

impl Interrupt {
    /// From now until the work ends, dropping the request interrupts this connection.
    pub fn arm(&self, handle: InterruptHandle) {
        *self.0.lock() = Some(handle);
    }

    fn disarm(&self) {
        *self.0.lock() = None;
    }
}

/// Interrupts the armed connection when dropped before the work ended.
struct InterruptOnDrop(Interrupt);

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        // Under the lock, so the work cannot end (and its connection move on to another
        // statement) between the check and the interrupt.
        let armed = self.0 .0.lock();
        if let Some(handle) = armed.as_ref() {
            handle.interrupt();
        }
    }
}

/// As [`run`], and if the returned future is dropped while `work` runs, the statement running
/// on the connection `work` armed is interrupted (it fails with `SQLITE_INTERRUPT` and the
/// connection stays usable).
pub async fn run_interruptible<R: Send + 'static>(
    work: impl FnOnce(&Interrupt) -> R + Send + 'static,
) -> Option<R> {
    let interrupt = Interrupt::default();
    let guard = InterruptOnDrop(interrupt.clone());
    let result = tokio::task::spawn_blocking(move || {
        let result = work(&interrupt);
        interrupt.disarm();
        result
    })
    .await
    .ok();
    drop(guard);
    result
}

/// Whether `sql` is one statement SQLite runs read-only: it starts with `SELECT` or `VALUES`
/// (a `WITH` may lead to a write, so it does not count). A text that goes on to a second
/// statement is refused by the engine before anything runs.
pub fn inline_sql(sql: &str) -> bool {
    let word = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    word.eq_ignore_ascii_case("select") || word.eq_ignore_ascii_case("values")
}

#[cfg(test)]
mod tests {
    use super::inline_sql;

    #[test]
    fn only_selects_and_values_run_inline() {
        for sql in [
            "SELECT 1",
            "  select ?",
            "VALUES (1)",
            "select\n*from t",
            "SELECT(1)",
        ] {
            assert!(inline_sql(sql), "{sql}");
        }
        for sql in [
            "INSERT INTO t VALUES (1)",
            "WITH x AS (SELECT 1) DELETE FROM t",
            "-- c\nSELECT 1",
            "/* */ SELECT 1",
            "BEGIN",
            "selected",
            "",
            "PRAGMA x",
        ] {
            assert!(!inline_sql(sql), "{sql}");
        }
    }
}
