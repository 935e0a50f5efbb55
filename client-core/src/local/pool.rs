//! The SQLite connections of one local database: one writer and a pool of readers, opened
//! through the engine's [`tidepool_engine::db::Pool`] (WAL, busy timeout, statement cache, the
//! authorizer), with the user's functions registered on each.
//!
//! A [`Lease`] is one connection lent to one call (or, inside a transaction, to one
//! `Connection` until the transaction ends). It goes back when dropped, wherever that happens:
//! a connection left inside a transaction is rolled back first, on a blocking thread, so a
//! cancelled call can never hand a half-done transaction to the next user of the writer.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::InterruptHandle;
use tidepool_engine::db::{Pool, SqlConn};
use tidepool_engine::exec::{ExecLimits, Executor};
use tidepool_engine::Access;
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

use super::functions::UserFunction;
use super::read::{Budget, ColumnCache};
use crate::offline::capture::LocalCapture;

/// Where a local database lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    File(PathBuf),
    Memory,
}

/// What opening a local database needs.
#[derive(Clone, Debug)]
pub(crate) struct OpenSettings {
    pub target: Target,
    pub readers: usize,
    pub busy_timeout: Duration,
    pub functions: Vec<UserFunction>,
    /// Offline mode: the capture functions, and whether this database's writer is the
    /// application's (whose writes are captured) or sync's (whose writes are not).
    pub capture: Option<(Arc<LocalCapture>, bool)>,
}

/// One SQLite connection and its per-connection state.
pub(crate) struct LocalSql {
    pub conn: rusqlite::Connection,
    /// Set while a `BEGIN TRANSACTION READONLY` transaction is open on it (the engine's flag).
    read_only_txn: Cell<bool>,
    pub interrupt: Arc<InterruptHandle>,
    budget: Arc<Budget>,
    /// The column lists of recent inline reads.
    pub columns: ColumnCache,
}

impl std::fmt::Debug for LocalSql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSql")
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

impl LocalSql {
    fn new(sql: SqlConn, functions: &[UserFunction]) -> rusqlite::Result<Self> {
        let SqlConn { conn, .. } = sql;
        for function in functions {
            function.register(&conn)?;
        }
        let interrupt = Arc::new(conn.get_interrupt_handle());
        let budget = Budget::install(&conn);
        Ok(LocalSql {
            conn,
            read_only_txn: Cell::new(false),
            interrupt,
            budget,
            columns: ColumnCache::default(),
        })
    }

    /// Runs `f` with the engine's executor, as the server would for a stream.
    pub fn with_executor<R>(&self, access: Access, f: impl FnOnce(&Executor<'_>) -> R) -> R {
        let sqls = HashMap::new();
        let executor = Executor {
            conn: &self.conn,
            access,
            sqls: &sqls,
            limits: ExecLimits {
                max_response_bytes: usize::MAX,
            },
            read_only_txn: &self.read_only_txn,
        };
        let result = f(&executor);
        if self.conn.is_autocommit() {
            self.read_only_txn.set(false);
        }
        result
    }

    /// Runs `f` with SQLite's progress handler stopping its statements once `budget` has
    /// passed (they fail as interrupted). Returns `f`'s result and whether the budget ran out.
    pub fn within_budget<R>(&self, budget: Duration, f: impl FnOnce() -> R) -> (R, bool) {
        self.budget.start(budget);
        let out = f();
        (out, self.budget.finish())
    }

    /// Rolls back whatever transaction is open. Blocking.
    fn rollback(&self) {
        if !self.conn.is_autocommit() {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::warn!(error = %e, "rolling back a local transaction failed");
            }
        }
        self.read_only_txn.set(false);
    }
}

/// The open connections of a local database.
#[derive(Debug)]
pub(crate) struct Pools {
    writer: Arc<tokio::sync::Mutex<LocalSql>>,
    /// `None` when every statement runs on the writer (in-memory databases, zero readers).
    readers: Option<Arc<Readers>>,
}

#[derive(Debug)]
struct Readers {
    idle: Mutex<Vec<LocalSql>>,
    /// One permit per idle connection.
    permits: Arc<Semaphore>,
}

impl Pools {
    /// Opens (creating if needed) the database, switching it to WAL. Blocking.
    pub fn open(settings: &OpenSettings) -> rusqlite::Result<Self> {
        let (path, readers) = match &settings.target {
            Target::File(path) => (path.clone(), settings.readers),
            // Each connection to `:memory:` is a database of its own: one connection only.
            Target::Memory => (PathBuf::from(":memory:"), 0),
        };
        let pool = Pool::open(&path, settings.busy_timeout, 1)?;
        let open = |writer: bool| {
            let sql = LocalSql::new(pool.get()?, &settings.functions)?;
            if let Some((capture, capturing)) = &settings.capture {
                capture.install(&sql.conn, writer && *capturing)?;
            }
            Ok::<_, rusqlite::Error>(sql)
        };
        let writer = open(true)?;
        let readers = if readers == 0 {
            None
        } else {
            let idle = (0..readers)
                .map(|_| open(false))
                .collect::<Result<Vec<_>, _>>()?;
            Some(Arc::new(Readers {
                idle: Mutex::new(idle),
                permits: Arc::new(Semaphore::new(readers)),
            }))
        };
        Ok(Pools {
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            readers,
        })
    }

    /// The writer, once no other call or transaction holds it.
    pub async fn writer(&self) -> Lease {
        let guard = Arc::clone(&self.writer).lock_owned().await;
        Lease {
            held: Some(Held::Writer(guard)),
        }
    }

    /// A reader that is idle right now, without waiting; `None` when all are busy or the
    /// database has no readers.
    pub fn try_reader(&self) -> Option<Lease> {
        let readers = self.readers.as_ref()?;
        let permit = Arc::clone(&readers.permits).try_acquire_owned().ok()?;
        let sql = readers.idle.lock().pop()?;
        Some(Lease {
            held: Some(Held::Reader(Box::new(ReaderHeld {
                sql: Some(sql),
                readers: Arc::clone(readers),
                _permit: permit,
            }))),
        })
    }

    /// Runs `f` on a reader that is idle right now, without waiting and without a [`Lease`]
    /// (an inline read, which never outlives the call); `None` when all are busy or the
    /// database has no readers.
    pub fn with_idle_reader<R>(&self, f: impl FnOnce(&LocalSql) -> R) -> Option<R> {
        let readers = self.readers.as_ref()?;
        let _permit = readers.permits.try_acquire().ok()?;
        // Dropped before the permit, panic or not, so the permit never goes back without it.
        let held = PutBack {
            idle: &readers.idle,
            sql: Some(readers.idle.lock().pop()?),
        };
        held.sql.as_ref().map(f)
    }

    /// An idle reader, or the writer when the database has no readers.
    pub async fn reader(&self) -> Lease {
        let Some(readers) = &self.readers else {
            return self.writer().await;
        };
        loop {
            let Ok(permit) = Arc::clone(&readers.permits).acquire_owned().await else {
                return self.writer().await;
            };
            // A permit always has an idle connection behind it: a connection goes back to
            // `idle` before its permit is released.
            if let Some(sql) = readers.idle.lock().pop() {
                return Lease {
                    held: Some(Held::Reader(Box::new(ReaderHeld {
                        sql: Some(sql),
                        readers: Arc::clone(readers),
                        _permit: permit,
                    }))),
                };
            }
        }
    }
}

/// A connection lent out; see the module documentation.
#[derive(Debug)]
pub(crate) struct Lease {
    held: Option<Held>,
}

#[derive(Debug)]
enum Held {
    Writer(OwnedMutexGuard<LocalSql>),
    Reader(Box<ReaderHeld>),
}

#[derive(Debug)]
struct ReaderHeld {
    sql: Option<LocalSql>,
    readers: Arc<Readers>,
    // Released after `drop` put the connection back.
    _permit: OwnedSemaphorePermit,
}

impl Drop for ReaderHeld {
    fn drop(&mut self) {
        if let Some(sql) = self.sql.take() {
            self.readers.idle.lock().push(sql);
        }
    }
}

/// A reader borrowed by [`Pools::with_idle_reader`], put back when dropped.
struct PutBack<'a> {
    idle: &'a Mutex<Vec<LocalSql>>,
    sql: Option<LocalSql>,
}

impl Drop for PutBack<'_> {
    fn drop(&mut self) {
        if let Some(sql) = self.sql.take() {
            // A read cannot leave a transaction open; should one be, it ends here.
            sql.rollback();
            self.idle.lock().push(sql);
        }
    }
}

impl Held {
    fn sql(&self) -> Option<&LocalSql> {
        match self {
            Held::Writer(guard) => Some(guard),
            Held::Reader(reader) => reader.sql.as_ref(),
        }
    }
}

impl Lease {
    pub fn sql(&self) -> Option<&LocalSql> {
        self.held.as_ref().and_then(Held::sql)
    }

    pub fn is_writer(&self) -> bool {
        matches!(self.held, Some(Held::Writer(_)))
    }

    /// Whether a transaction is open on the connection.
    pub fn in_transaction(&self) -> bool {
        self.sql().is_some_and(|sql| !sql.conn.is_autocommit())
    }

    /// Rolls back a transaction a previous holder left open (one whose rollback could not be
    /// scheduled, as when the runtime was shutting down). Blocking.
    pub fn clear_stale_transaction(&self) {
        if let Some(sql) = self.sql() {
            sql.rollback();
        }
    }

    /// Rolls back any open transaction and gives the connection back. Blocking.
    pub fn release_blocking(mut self) {
        if let Some(held) = self.held.take() {
            if let Some(sql) = held.sql() {
                sql.rollback();
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        if held.sql().is_none_or(|sql| sql.conn.is_autocommit()) {
            return;
        }
        // Inside a transaction: roll back before anyone else gets the connection, on a
        // blocking thread. Without a runtime there is no async worker to protect.
        let rollback = move || {
            if let Some(sql) = held.sql() {
                sql.rollback();
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(rollback)),
            Err(_) => rollback(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &tempfile::TempDir, readers: usize) -> OpenSettings {
        OpenSettings {
            target: Target::File(dir.path().join("p.db")),
            readers,
            busy_timeout: Duration::from_secs(1),
            functions: Vec::new(),
            capture: None,
        }
    }

    #[tokio::test]
    async fn readers_are_lent_and_returned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pools = Pools::open(&settings(&dir, 2)).expect("open");
        let a = pools.reader().await;
        let b = pools.reader().await;
        assert!(!a.is_writer() && !b.is_writer());
        let third = tokio::time::timeout(Duration::from_millis(50), pools.reader()).await;
        assert!(third.is_err(), "both readers are out");
        drop(a);
        let c = pools.reader().await;
        assert!(c.sql().is_some());
    }

    #[tokio::test]
    async fn a_writer_dropped_inside_a_transaction_is_rolled_back_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pools = Pools::open(&settings(&dir, 0)).expect("open");
        let lease = pools.writer().await;
        let sql = lease.sql().expect("sql");
        sql.conn
            .execute_batch("CREATE TABLE t (x); BEGIN; INSERT INTO t VALUES (1)")
            .expect("write");
        assert!(lease.in_transaction());
        drop(lease);
        let lease = pools.writer().await;
        assert!(!lease.in_transaction());
        let n: i64 = lease
            .sql()
            .expect("sql")
            .conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 0);
        drop(lease);
        assert!(
            pools.reader().await.is_writer(),
            "no readers: reads use the writer"
        );
    }
}
