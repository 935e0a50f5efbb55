//! What a `Connection` runs on: a remote server stream or a local SQLite database. Both take
//! the same protocol requests (statements, batches, cursors) and give the same results, so the
//! public API above is written once.

use std::sync::Arc;

use tidepool_protocol::{Batch, BatchResult, CursorEntry, DescribeResult, Stmt, StmtResult};

use crate::error::{code, Error, Result};
use crate::local::{Interrupts, LocalConn, LocalCursor};
use crate::offline::conn::OfflineConn;
use crate::remote::{RemoteConn, RemoteCursor, StoredSql};
use crate::replica::ReplicaConn;

/// One connection's backend.
#[derive(Debug)]
pub(crate) enum Backend {
    Remote(RemoteConn),
    Local(LocalConn),
    /// Reads on the local replica, the rest on its server.
    Replica(Box<ReplicaConn>),
    /// Everything on the device's file, with local writes captured for sync.
    Offline(Box<OfflineConn>),
}

impl Backend {
    // Remote requests are boxed: their futures (retries, timeouts, the transport) are large,
    // and every caller's future would carry their size, which deep call chains (sync) pay
    // for in stack in debug builds. One allocation per network request.
    pub async fn execute(&mut self, stmt: Stmt) -> Result<StmtResult> {
        match self {
            Backend::Remote(conn) => Box::pin(conn.execute(stmt)).await,
            Backend::Local(conn) => conn.execute(stmt).await,
            Backend::Replica(conn) => conn.execute(stmt, None).await,
            Backend::Offline(conn) => conn.execute(stmt).await,
        }
    }

    /// Executes a prepared statement, by its stored SQL id when it was stored on this stream.
    pub async fn execute_stored(
        &mut self,
        stmt: Stmt,
        stored: Option<StoredSql>,
    ) -> Result<StmtResult> {
        match self {
            Backend::Remote(conn) => Box::pin(conn.execute_stored(stmt, stored)).await,
            Backend::Local(conn) => conn.execute(stmt).await,
            Backend::Replica(conn) => conn.execute(stmt, stored).await,
            Backend::Offline(conn) => conn.execute(stmt).await,
        }
    }

    pub async fn batch(&mut self, batch: Batch) -> Result<BatchResult> {
        match self {
            Backend::Remote(conn) => Box::pin(conn.batch(batch)).await,
            Backend::Local(conn) => conn.batch(batch).await,
            Backend::Replica(conn) => conn.batch(batch).await,
            Backend::Offline(conn) => conn.batch(batch).await,
        }
    }

    pub async fn sequence(&mut self, sql: String) -> Result<()> {
        match self {
            Backend::Remote(conn) => Box::pin(conn.sequence(sql)).await,
            Backend::Local(conn) => conn.sequence(sql).await,
            Backend::Replica(conn) => conn.sequence(sql).await,
            Backend::Offline(conn) => conn.sequence(sql).await,
        }
    }

    pub async fn describe(&mut self, sql: String) -> Result<DescribeResult> {
        match self {
            Backend::Remote(conn) => Box::pin(conn.describe(sql)).await,
            Backend::Local(conn) => conn.describe(sql).await,
            Backend::Replica(conn) => conn.describe(sql).await,
            Backend::Offline(conn) => conn.describe(sql).await,
        }
    }

    pub async fn cursor(&mut self, batch: Batch) -> Result<Cursor> {
        match self {
            Backend::Remote(conn) => Box::pin(conn.cursor(batch)).await.map(Cursor::Remote),
            Backend::Local(conn) => conn.cursor(batch).await.map(Cursor::Local),
            Backend::Replica(conn) => Box::pin(conn.cursor(batch)).await,
            Backend::Offline(conn) => conn.cursor(batch).await.map(Cursor::Local),
        }
    }

    /// SQL stored on the server for a prepared statement; `None` where there is nothing to
    /// store (HTTP, local databases, whose statement cache keeps the parsed statement).
    pub async fn store_sql(&mut self, sql: &str) -> Result<Option<StoredSql>> {
        match self {
            Backend::Remote(conn) => conn.store_sql(sql).await,
            Backend::Local(_) => Ok(None),
            Backend::Replica(conn) => conn.store_sql(sql).await,
            Backend::Offline(_) => Ok(None),
        }
    }

    pub async fn close_sql(&mut self, stored: StoredSql) -> Result<()> {
        match self {
            Backend::Remote(conn) => conn.close_sql(stored).await,
            Backend::Local(_) => Ok(()),
            Backend::Replica(conn) => conn.close_sql(stored).await,
            Backend::Offline(_) => Ok(()),
        }
    }

    pub async fn is_autocommit(&self) -> bool {
        match self {
            Backend::Remote(conn) => conn.is_autocommit(),
            Backend::Local(conn) => conn.is_autocommit().await,
            Backend::Replica(conn) => conn.is_autocommit(),
            Backend::Offline(conn) => conn.local_ref().is_autocommit().await,
        }
    }

    pub async fn close(&mut self) -> Result<()> {
        match self {
            Backend::Remote(conn) => conn.close().await,
            Backend::Local(conn) => conn.close().await,
            Backend::Replica(conn) => conn.close().await,
            Backend::Offline(conn) => conn.local().close().await,
        }
    }

    /// On drop of the connection. A local connection needs nothing: its open transaction is
    /// rolled back when its lease drops.
    pub fn close_in_background(&mut self) {
        match self {
            Backend::Remote(conn) => conn.close_in_background(),
            Backend::Replica(conn) => conn.close_in_background(),
            Backend::Offline(_) => {}
            Backend::Local(_) => {}
        }
    }

    pub fn schedule_rollback(&mut self) {
        match self {
            Backend::Remote(conn) => conn.schedule_rollback(),
            Backend::Local(conn) => conn.schedule_rollback(),
            Backend::Replica(conn) => conn.schedule_rollback(),
            Backend::Offline(conn) => conn.local().schedule_rollback(),
        }
    }

    pub async fn flush_rollback(&mut self) -> Result<()> {
        match self {
            Backend::Remote(conn) => conn.flush_rollback().await,
            Backend::Local(conn) => conn.flush_rollback().await,
            Backend::Replica(conn) => conn.flush_rollback().await,
            Backend::Offline(conn) => conn.local().flush_rollback().await,
        }
    }
}

/// Reaches the statements a connection is running without waiting for the connection.
#[derive(Clone, Debug)]
pub(crate) enum Interrupter {
    Remote,
    Local(Arc<Interrupts>),
}

impl Interrupter {
    pub fn interrupt(&self) -> Result<()> {
        match self {
            Interrupter::Remote => Err(Error::usage(
                code::UNSUPPORTED,
                "interrupting a statement needs a local database; on a remote one, drop the \
                 call's future (or set a request timeout) instead",
            )),
            Interrupter::Local(interrupts) => {
                interrupts.interrupt();
                Ok(())
            }
        }
    }
}

/// The entries of a cursor, as they arrive.
#[derive(Debug)]
pub(crate) enum Cursor {
    Remote(RemoteCursor),
    Local(LocalCursor),
}

impl Cursor {
    pub async fn next(&mut self) -> Result<Option<CursorEntry>> {
        match self {
            Cursor::Remote(cursor) => cursor.next().await,
            Cursor::Local(cursor) => cursor.next().await,
        }
    }
}
