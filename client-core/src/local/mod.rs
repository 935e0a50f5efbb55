//! Local mode: a database in a file on this device or in memory, behind the same
//! `Connection` API as a remote one. Statements run through the engine's
//! [`Executor`](tidepool_engine::exec::Executor), the code the server runs, so binding, batch
//! conditions and error codes are the same in both modes.
//!
//! Concurrency: WAL, one writer connection and a pool of readers. In autocommit a statement the
//! SQL text shows to be a read runs on any idle reader (with read-only access, so a statement
//! that turns out to write is refused before it runs, then sent to the writer); anything else
//! runs on the writer. A transaction (`BEGIN` of any kind, `transaction()`) keeps the writer for
//! its connection until it ends, so it sees its own writes and two local connections never
//! deadlock upgrading read locks; a read-only transaction keeps a reader instead. In-memory
//! databases have a single connection (each SQLite connection to `:memory:` is a database of its
//! own), so their statements run one at a time.
//!
//! A short read outside a transaction runs inline on the async worker, on a reader idle at that
//! moment, under a 1 ms budget and a cap on its rows; one that outruns them is stopped and runs
//! again on a blocking thread. `Connection::query` and `execute_full` take such a read's rows
//! whole, straight from SQLite (`read.rs`); other cursors get the engine's entries. All other
//! SQLite work runs on tokio's blocking threads. A call's blocking task owns the connection it runs
//! on, so dropping the call's future never strands the writer: the task finishes, then gives the
//! connection back (or keeps it for the transaction it is in).

mod cursor;
pub(crate) mod functions;
mod interrupt;
mod pool;
mod read;
pub(crate) mod target;

use std::sync::Arc;

use tidepool_engine::exec::{is_begin_read_only, Executor};
use tidepool_protocol::{Batch, BatchResult, DescribeResult, Stmt, StmtResult};
use tokio::sync::{mpsc, Mutex, OnceCell};
use tokio::task::JoinHandle;

pub(crate) use self::cursor::LocalCursor;
pub(crate) use self::functions::UserFunction;
pub(crate) use self::interrupt::Interrupts;
pub(crate) use self::pool::{OpenSettings, Target};
pub(crate) use self::read::ShortRead;

use self::pool::{Lease, Pools};
use crate::error::{Error, ErrorKind, Result};
use crate::remote::retry::is_read_only_sql;

/// Cursor entries buffered between the blocking thread and the reader of the rows.
const CURSOR_CAPACITY: usize = 64;

/// How long a read may run inline on the async worker before it is sent to a blocking thread.
const INLINE_BUDGET: std::time::Duration = std::time::Duration::from_millis(1);

/// How many cursor entries (rows, and a few per statement) a read may produce inline.
const INLINE_ENTRIES: usize = 256;

/// A local database, opened on first use.
#[derive(Debug)]
pub(crate) struct LocalDb {
    settings: OpenSettings,
    pools: OnceCell<Arc<Pools>>,
}

impl LocalDb {
    pub fn new(settings: OpenSettings) -> Self {
        LocalDb {
            settings,
            pools: OnceCell::new(),
        }
    }

    /// The same database opened with offline capture (see [`OpenSettings::capture`]), and
    /// `readers` readers if given.
    pub fn with_capture(
        &self,
        capture: Arc<crate::offline::capture::LocalCapture>,
        capturing: bool,
        readers: Option<usize>,
    ) -> LocalDb {
        let mut settings = self.settings.clone();
        settings.capture = Some((capture, capturing));
        settings.readers = readers.unwrap_or(settings.readers);
        LocalDb::new(settings)
    }

    /// The open connections, opening the database on the first call. A failure is returned
    /// (with its SQLite code, such as `SQLITE_CANTOPEN` or `SQLITE_NOTADB`) and not kept: the
    /// next call tries again.
    async fn pools(&self) -> Result<Arc<Pools>> {
        let pools = self
            .pools
            .get_or_try_init(|| async {
                let settings = self.settings.clone();
                let opened = tokio::task::spawn_blocking(move || Pools::open(&settings))
                    .await
                    .map_err(|e| internal(format!("opening the database panicked: {e}")))?;
                opened
                    .map(Arc::new)
                    .map_err(|e| Error::from_wire(tidepool_engine::errors::sqlite_error(&e)))
            })
            .await?;
        Ok(Arc::clone(pools))
    }
}

/// Which connection an autocommit statement needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Read,
    Write,
}

fn route(sql: Option<&str>) -> Route {
    match sql {
        // libSQL's `BEGIN [TRANSACTION] READONLY` takes a reader rather than the writer.
        Some(sql) if is_read_only_sql(sql) || is_begin_read_only(sql) => Route::Read,
        _ => Route::Write,
    }
}

fn batch_route(batch: &Batch) -> Route {
    if batch
        .steps
        .iter()
        .all(|s| route(s.stmt.sql.as_deref()) == Route::Read)
    {
        Route::Read
    } else {
        Route::Write
    }
}

fn refused_write() -> Error {
    Error::new(
        ErrorKind::Sql,
        tidepool_engine::errors::code::FORBIDDEN,
        "this connection only reads",
    )
}

fn internal(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Server, "INTERNAL", message)
}

/// The local side of one `Connection`.
#[derive(Debug)]
pub(crate) struct LocalConn {
    db: Arc<LocalDb>,
    /// The connection held between calls while a transaction is open. A running call's
    /// blocking task holds this lock, so the next call waits for it even if the earlier
    /// call's future was dropped.
    session: Arc<Mutex<Option<Lease>>>,
    interrupts: Arc<Interrupts>,
    /// A dropped `Transaction` asked for a rollback that has not run yet.
    rollback_pending: bool,
    /// Replica mode: only reads run here (on read-only access); a statement that turns out to
    /// write is refused with `FORBIDDEN` instead of going to the writer, which belongs to sync.
    reads_only: bool,
}

type WireResult<R> = std::result::Result<R, tidepool_protocol::Error>;

impl LocalConn {
    pub fn new(db: Arc<LocalDb>) -> Self {
        LocalConn {
            db,
            session: Arc::new(Mutex::new(None)),
            interrupts: Arc::new(Interrupts::default()),
            rollback_pending: false,
            reads_only: false,
        }
    }

    /// A connection that only reads (a replica's local side).
    pub fn reads_only(db: Arc<LocalDb>) -> Self {
        LocalConn {
            reads_only: true,
            ..LocalConn::new(db)
        }
    }

    /// What `Connection::interrupt` reaches: the statements running for this connection.
    pub fn interrupts(&self) -> Arc<Interrupts> {
        Arc::clone(&self.interrupts)
    }

    pub async fn execute(&mut self, stmt: Stmt) -> Result<StmtResult> {
        let route = route(stmt.sql.as_deref());
        self.run_routed(route, move |ex| ex.execute(&stmt)).await
    }

    pub async fn batch(&mut self, batch: Batch) -> Result<BatchResult> {
        let route = batch_route(&batch);
        self.run_routed(route, move |ex| ex.batch(&batch)).await
    }

    pub async fn sequence(&mut self, sql: String) -> Result<()> {
        self.run_routed(Route::Write, move |ex| ex.sequence(&sql))
            .await
    }

    pub async fn describe(&mut self, sql: String) -> Result<DescribeResult> {
        self.run_routed(Route::Read, move |ex| ex.describe(&sql))
            .await
    }

    /// Runs a batch whose entries stream from the blocking thread through a bounded channel;
    /// a short read outside a transaction runs inline instead (see [`LocalConn::try_inline`]).
    pub async fn cursor(&mut self, batch: Batch) -> Result<LocalCursor> {
        self.flush_rollback().await?;
        let route = batch_route(&batch);
        if route == Route::Read {
            if let Some(cursor) = self.try_inline(&batch).await? {
                return Ok(cursor);
            }
        }
        let cursor = self.open_cursor(route, batch.clone()).await?;
        if route == Route::Read && cursor.refused_as_write() {
            drop(cursor);
            if self.reads_only {
                return Err(refused_write());
            }
            return self.open_cursor(Route::Write, batch).await;
        }
        Ok(cursor)
    }

    /// Runs a read right here, on the async worker, when it is short: outside a transaction,
    /// on a reader idle at this moment, finishing within [`INLINE_BUDGET`] and
    /// [`INLINE_ENTRIES`]. Handing a point read to a blocking thread and its rows back through
    /// a channel costs several times the read itself. A read that outruns the limits is stopped
    /// and runs again the usual way (`None`), which is safe because it only reads; so is one the
    /// reader refuses because it writes.
    async fn try_inline(&self, batch: &Batch) -> Result<Option<LocalCursor>> {
        let pools = self.db.pools().await?;
        let Ok(session) = self.session.try_lock() else {
            return Ok(None);
        };
        if session.is_some() {
            return Ok(None);
        }
        let Some(lease) = pools.try_reader() else {
            return Ok(None);
        };
        let Some(sql) = lease.sql() else {
            return Ok(None);
        };
        let mut entries = Vec::new();
        let mut too_many = false;
        let (_, overran) = {
            let _entered = self.interrupts.enter(&sql.interrupt);
            sql.within_budget(INLINE_BUDGET, || {
                sql.with_executor(tidepool_engine::Access::ReadOnly, |ex| {
                    ex.cursor(batch, |entry| {
                        too_many = entries.len() >= INLINE_ENTRIES;
                        entries.push(entry);
                        !too_many
                    })
                })
            })
        };
        drop(lease);
        let cursor = LocalCursor::buffered(entries);
        if overran || too_many || cursor.refused_as_write() {
            return Ok(None);
        }
        Ok(Some(cursor))
    }

    async fn open_cursor(&self, route: Route, batch: Batch) -> Result<LocalCursor> {
        let (sender, receiver) = mpsc::channel(CURSOR_CAPACITY);
        let own = Arc::new(Interrupts::default());
        let task_own = Arc::clone(&own);
        let task = self
            .start(route, Some(task_own), move |ex| {
                ex.cursor(&batch, |entry| sender.blocking_send(entry).is_ok());
            })
            .await?;
        LocalCursor::start(receiver, task, own).await
    }

    /// Whether no transaction is open (waits for a call still running).
    pub async fn is_autocommit(&self) -> bool {
        self.session.lock().await.is_none()
    }

    pub fn schedule_rollback(&mut self) {
        self.rollback_pending = true;
    }

    /// Runs a rollback a dropped transaction left pending.
    pub async fn flush_rollback(&mut self) -> Result<()> {
        if std::mem::take(&mut self.rollback_pending) && !self.is_autocommit().await {
            self.run_now(Route::Write, |ex| ex.execute(&Stmt::new("ROLLBACK")))
                .await?;
        }
        Ok(())
    }

    /// Rolls back an open transaction and gives its connection back.
    pub async fn close(&mut self) -> Result<()> {
        self.rollback_pending = false;
        let lease = self.session.lock().await.take();
        if let Some(lease) = lease {
            tokio::task::spawn_blocking(move || lease.release_blocking())
                .await
                .map_err(|e| internal(format!("rollback panicked: {e}")))?;
        }
        Ok(())
    }

    /// Runs `f` where `route` says (or in the open transaction), after any pending rollback.
    /// A read that the engine refuses on a reader because it writes runs again on the writer;
    /// the refusal comes at prepare time, before anything ran.
    async fn run_routed<R, F>(&mut self, route: Route, f: F) -> Result<R>
    where
        F: FnOnce(&Executor<'_>) -> WireResult<R> + Clone + Send + 'static,
        R: Send + 'static,
    {
        self.flush_rollback().await?;
        if self.reads_only && route == Route::Write {
            return Err(refused_write());
        }
        match self.run_now(route, f.clone()).await {
            Err(e)
                if route == Route::Read
                    && !self.reads_only
                    && e.code() == tidepool_engine::errors::code::FORBIDDEN =>
            {
                self.run_now(Route::Write, f).await
            }
            other => other,
        }
    }

    async fn run_now<R, F>(&self, route: Route, f: F) -> Result<R>
    where
        F: FnOnce(&Executor<'_>) -> WireResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let task = self.start(route, None, f).await?;
        match task.await {
            Ok(Some(Ok(r))) => Ok(r),
            Ok(Some(Err(e))) => Err(Error::from_wire(e)),
            Ok(None) => Err(internal("the connection's lease vanished")),
            Err(e) => Err(internal(format!("the statement's thread panicked: {e}"))),
        }
    }

    /// The writer, waiting at most the busy timeout for another connection's transaction to
    /// end, as SQLite itself would: then `SQLITE_BUSY`, rather than waiting forever (two
    /// connections used from one thread would otherwise deadlock).
    async fn writer_within_busy_timeout(&self, pools: &Pools) -> Result<Lease> {
        let wait = self.db.settings.busy_timeout;
        tokio::time::timeout(wait, pools.writer())
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::Sql,
                    "SQLITE_BUSY",
                    format!(
                        "database is locked: another connection's transaction held the writer for \
                     the busy timeout ({wait:?})"
                    ),
                )
            })
    }

    /// Takes the transaction's connection, or one for `route`, and starts `f` on a blocking
    /// thread with it. The task owns the connection: when it ends it keeps the connection for
    /// an open transaction or gives it back, whether or not anyone awaits it.
    async fn start<T, F>(
        &self,
        route: Route,
        own: Option<Arc<Interrupts>>,
        f: F,
    ) -> Result<JoinHandle<Option<T>>>
    where
        F: FnOnce(&Executor<'_>) -> T + Send + 'static,
        T: Send + 'static,
    {
        let pools = self.db.pools().await?;
        let mut session = Arc::clone(&self.session).lock_owned().await;
        let fresh = match (session.is_some(), route) {
            (true, _) => None,
            (false, Route::Read) => Some(pools.reader().await),
            (false, Route::Write) => Some(self.writer_within_busy_timeout(&pools).await?),
        };
        let interrupts = Arc::clone(&self.interrupts);
        let reads_only = self.reads_only;
        Ok(tokio::task::spawn_blocking(move || {
            let lease = match fresh {
                Some(lease) => {
                    lease.clear_stale_transaction();
                    lease
                }
                None => session.take()?,
            };
            let out = {
                let sql = lease.sql()?;
                let _entered = interrupts.enter(&sql.interrupt);
                let _own = own.as_ref().map(|own| own.enter(&sql.interrupt));
                let access = if lease.is_writer() && !reads_only {
                    tidepool_engine::Access::ReadWrite
                } else {
                    tidepool_engine::Access::ReadOnly
                };
                sql.with_executor(access, f)
            };
            if lease.in_transaction() {
                *session = Some(lease);
            } else {
                lease.release_blocking();
            }
            Some(out)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_go_to_readers_and_everything_else_to_the_writer() {
        assert_eq!(route(Some("SELECT 1")), Route::Read);
        assert_eq!(route(Some("begin transaction readonly")), Route::Read);
        assert_eq!(route(Some("BEGIN")), Route::Write);
        assert_eq!(route(Some("BEGIN DEFERRED")), Route::Write);
        assert_eq!(route(Some("PRAGMA user_version = 1")), Route::Write);
        assert_eq!(route(None), Route::Write);
    }
}
