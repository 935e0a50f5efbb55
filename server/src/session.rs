//! A stream's hold on the database: one connection (taken from the pool on first use and given
//! back when the stream ends), the client's access, and when its open transaction began.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::InterruptHandle;

use tidepool_protocol::Error;

use crate::auth::Access;
use crate::db::{Pool, SqlConn};
use crate::errors::sqlite_error;
use crate::exec::{ExecLimits, Executor};

/// SQLite virtual-machine steps between two looks at the clock while a read runs inline.
const PROGRESS_EVERY: i32 = 1000;

thread_local! {
    /// Set when an inline run was stopped (budget spent, or a lock was busy).
    static GAVE_UP: Cell<bool> = const { Cell::new(false) };
}

/// The busy handler of an inline run: no waiting on the async worker.
fn give_up_when_busy(_: i32) -> bool {
    GAVE_UP.set(true);
    false
}

/// The SQL side of one stream. Blocking methods: call them on a blocking thread.
#[derive(Debug)]
pub struct Session {
    pool: Arc<Pool>,
    conn: Option<SqlConn>,
    pub access: Access,
    limits: ExecLimits,
    txn_since: Option<Instant>,
    /// Whether the open transaction was begun read-only (`BEGIN TRANSACTION READONLY`).
    read_only_txn: Cell<bool>,
}

impl Session {
    pub fn new(pool: Arc<Pool>, access: Access, limits: ExecLimits) -> Self {
        Session {
            pool,
            conn: None,
            access,
            limits,
            txn_since: None,
            read_only_txn: Cell::new(false),
        }
    }

    /// Runs `f` with an executor on this stream's connection, then notes whether a
    /// transaction is open.
    pub fn with_executor<R>(
        &mut self,
        sqls: &HashMap<i32, Arc<str>>,
        f: impl FnOnce(&Executor<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.with_executor_within(sqls, self.limits.max_response_bytes, f)
    }

    /// As [`Session::with_executor`], with results limited to `max_response_bytes` (what is
    /// left of a pipeline's budget).
    pub fn with_executor_within<R>(
        &mut self,
        sqls: &HashMap<i32, Arc<str>>,
        max_response_bytes: usize,
        f: impl FnOnce(&Executor<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let conn = connection(&mut self.conn, &self.pool)?;
        let executor = Executor {
            conn: &conn.conn,
            access: self.access,
            sqls,
            limits: ExecLimits { max_response_bytes },
            read_only_txn: &self.read_only_txn,
        };
        let result = f(&executor);
        let in_txn = !conn.conn.is_autocommit();
        match (in_txn, self.txn_since) {
            (true, None) => self.txn_since = Some(Instant::now()),
            (false, _) => {
                self.txn_since = None;
                self.read_only_txn.set(false);
            }
            _ => {}
        }
        result
    }

    /// A handle that interrupts whatever statement this stream's connection is running, from
    /// any thread (`sqlite3_interrupt`).
    pub fn interrupt_handle(&mut self) -> Result<InterruptHandle, Error> {
        Ok(connection(&mut self.conn, &self.pool)?
            .conn
            .get_interrupt_handle())
    }

    /// Runs `work` (read-only statements only: see [`crate::blocking::inline_sql`]) right here
    /// on the calling thread for at most `budget`, without waiting on a lock. `None` when the
    /// budget ran out or the database was busy: the reads were abandoned and the caller runs
    /// them again on the blocking pool.
    pub fn inline<R>(&mut self, budget: Duration, work: impl FnOnce(&mut Self) -> R) -> Option<R> {
        let busy_timeout = self.pool.busy_timeout();
        let conn = &connection(&mut self.conn, &self.pool).ok()?.conn;
        let deadline = Instant::now() + budget;
        GAVE_UP.set(false);
        conn.progress_handler(
            PROGRESS_EVERY,
            Some(move || {
                let over = Instant::now() >= deadline;
                if over {
                    GAVE_UP.set(true);
                }
                over
            }),
        );
        let _ = conn.busy_handler(Some(give_up_when_busy as fn(i32) -> bool));
        let result = work(self);
        if let Some(conn) = &self.conn {
            conn.conn.progress_handler(0, None::<fn() -> bool>);
            let _ = conn.conn.busy_timeout(busy_timeout);
        }
        (!GAVE_UP.replace(false)).then_some(result)
    }

    /// Whether the stream is outside any transaction.
    pub fn is_autocommit(&self) -> bool {
        self.conn.as_ref().is_none_or(|c| c.conn.is_autocommit())
    }

    /// When the open transaction began, if one is open.
    pub fn txn_since(&self) -> Option<Instant> {
        self.txn_since
    }
}

/// A stream's connection, taken from the pool on first use.
fn connection<'c>(conn: &'c mut Option<SqlConn>, pool: &Pool) -> Result<&'c mut SqlConn, Error> {
    match conn {
        Some(conn) => Ok(conn),
        None => Ok(conn.insert(pool.get().map_err(|e| sqlite_error(&e))?)),
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put(conn);
        }
    }
}
