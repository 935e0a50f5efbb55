//! A stream's hold on the database: one connection (taken from the pool on first use and given
//! back when the stream ends), the client's access, and when its open transaction began.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tidepool_protocol::Error;

use crate::auth::Access;
use crate::db::{Pool, SqlConn};
use crate::errors::sqlite_error;
use crate::exec::{ExecLimits, Executor};

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
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.pool.get().map_err(|e| sqlite_error(&e))?,
        };
        let conn = self.conn.insert(conn);
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

    /// Whether the stream is outside any transaction.
    pub fn is_autocommit(&self) -> bool {
        self.conn.as_ref().is_none_or(|c| c.conn.is_autocommit())
    }

    /// When the open transaction began, if one is open.
    pub fn txn_since(&self) -> Option<Instant> {
        self.txn_since
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put(conn);
        }
    }
}
