//! A connection: statements, queries (whole, or page by page through a [`RowCursor`]), atomic
//! batches, scripts and transactions. One [`Shared`] state is behind a connection and every
//! transaction and cursor opened on it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use tidepool::error::code;
use tokio::sync::{Mutex, MutexGuard};

use crate::changes::{Notifier, Pending};
use crate::cursor::RowCursor;
use crate::error::TidepoolError;
use crate::runtime::{self, run};
use crate::transaction::Transaction;
use crate::value::{columns, row, Column, Params, Value};

/// The outcome of a statement that is not read for its rows.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ExecuteResult {
    /// Rows changed by an INSERT, UPDATE or DELETE.
    pub rows_affected: u64,
    /// The rowid of the last inserted row, when there is one.
    pub last_insert_rowid: Option<i64>,
}

/// A query's rows, read whole, and what the statement changed (an `INSERT ... RETURNING`).
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Rows {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
    pub rows_affected: u64,
    pub last_insert_rowid: Option<i64>,
}

/// One statement's whole result in a batch.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct ResultSet {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
    pub rows_affected: u64,
    pub last_insert_rowid: Option<i64>,
}

/// A statement with its parameters, for [`Connection::batch`].
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Statement {
    pub sql: String,
    pub params: Params,
}

/// How a transaction takes its locks (SQLite's `BEGIN DEFERRED|IMMEDIATE|EXCLUSIVE`, and
/// libSQL's read-only transaction).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum TransactionBehavior {
    Deferred,
    Immediate,
    Exclusive,
    ReadOnly,
}

impl TransactionBehavior {
    fn begin_sql(self) -> &'static str {
        match self {
            TransactionBehavior::Deferred => "BEGIN DEFERRED",
            TransactionBehavior::Immediate => "BEGIN IMMEDIATE",
            TransactionBehavior::Exclusive => "BEGIN EXCLUSIVE",
            TransactionBehavior::ReadOnly => "BEGIN TRANSACTION READONLY",
        }
    }
}

type CoreConn = Arc<tidepool::Connection>;

/// What a connection and its transactions and cursors share. Calls pass through `gate` one at a
/// time (the core runs one call per connection anyway); a dropped transaction asks for its
/// rollback through `rollback_requested`, which the next call through the gate runs first, so
/// it can never reach a transaction begun later.
pub(crate) struct Shared {
    gate: Mutex<Option<CoreConn>>,
    /// For `interrupt`, which must not wait for the gate.
    interrupt: Weak<tidepool::Connection>,
    rollback_requested: AtomicBool,
    /// Local and remote databases: what an open transaction wrote, and where commits go.
    pending: Pending,
    notifier: Arc<Notifier>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    /// The connection, once any rollback a dropped transaction asked for has run.
    pub(crate) async fn enter(&self) -> Result<MutexGuard<'_, Option<CoreConn>>, TidepoolError> {
        let guard = self.gate.lock().await;
        let Some(conn) = guard.as_ref() else {
            return Err(TidepoolError::closed("connection"));
        };
        if self.rollback_requested.swap(false, Ordering::SeqCst) {
            // Fails harmlessly when SQLite or the server already ended the transaction.
            let _ = conn.execute("ROLLBACK", ()).await;
            self.pending.discard();
        }
        Ok(guard)
    }

    pub(crate) fn request_rollback(self: &Arc<Self>) {
        self.rollback_requested.store(true, Ordering::SeqCst);
        let shared = Arc::clone(self);
        // Run it now if the connection is idle, so the transaction's locks go at once.
        runtime::spawn_detached(async move {
            let _ = shared.enter().await;
        });
    }

    pub(crate) async fn execute(
        &self,
        sql: &str,
        params: Params,
    ) -> Result<ExecuteResult, TidepoolError> {
        let guard = self.enter().await?;
        let conn = guard
            .as_ref()
            .ok_or_else(|| TidepoolError::closed("connection"))?;
        let result = conn.execute(sql, tidepool::Params::from(params)).await?;
        if self.notifier.enabled() {
            let autocommit = conn.is_autocommit().await;
            self.pending
                .after_statement(&self.notifier, sql, result.rows_affected, autocommit);
        }
        Ok(ExecuteResult {
            rows_affected: result.rows_affected,
            last_insert_rowid: result.last_insert_rowid,
        })
    }

    /// One request and one response: a result too large for the server's response limit
    /// needs [`Shared::query_cursor`].
    pub(crate) async fn query(&self, sql: &str, params: Params) -> Result<Rows, TidepoolError> {
        let guard = self.enter().await?;
        let conn = guard
            .as_ref()
            .ok_or_else(|| TidepoolError::closed("connection"))?;
        let result = conn
            .execute_full(sql, tidepool::Params::from(params))
            .await?;
        if self.notifier.enabled() {
            let autocommit = conn.is_autocommit().await;
            self.pending
                .after_statement(&self.notifier, sql, result.rows_affected, autocommit);
        }
        Ok(Rows {
            columns: columns(&result.columns),
            rows: result.rows.into_iter().map(row).collect(),
            rows_affected: result.rows_affected,
            last_insert_rowid: result.last_insert_rowid,
        })
    }

    pub(crate) async fn query_cursor(
        &self,
        sql: &str,
        params: Params,
    ) -> Result<tidepool::Rows, TidepoolError> {
        let guard = self.enter().await?;
        let conn = guard
            .as_ref()
            .ok_or_else(|| TidepoolError::closed("connection"))?;
        // The rows hold the core connection until read or dropped; the gate is free again.
        Ok(conn.query(sql, tidepool::Params::from(params)).await?)
    }

    pub(crate) async fn batch(
        &self,
        statements: Vec<Statement>,
    ) -> Result<Vec<ResultSet>, TidepoolError> {
        let guard = self.enter().await?;
        let conn = guard
            .as_ref()
            .ok_or_else(|| TidepoolError::closed("connection"))?;
        let statements: Vec<tidepool::Statement> = statements
            .into_iter()
            .map(|s| tidepool::Statement::new(&s.sql, tidepool::Params::from(s.params)))
            .collect();
        let results = conn.batch(statements).await?;
        if self.notifier.enabled() {
            let autocommit = conn.is_autocommit().await;
            let wrote = results.iter().any(|r| r.rows_affected > 0);
            self.pending.after(&self.notifier, wrote, autocommit);
        }
        Ok(results
            .into_iter()
            .map(|r| ResultSet {
                columns: columns(&r.columns),
                rows: r.rows.into_iter().map(row).collect(),
                rows_affected: r.rows_affected,
                last_insert_rowid: r.last_insert_rowid,
            })
            .collect())
    }

    pub(crate) async fn execute_batch(&self, sql: &str) -> Result<(), TidepoolError> {
        let guard = self.enter().await?;
        let conn = guard
            .as_ref()
            .ok_or_else(|| TidepoolError::closed("connection"))?;
        conn.execute_batch(sql).await?;
        if self.notifier.enabled() {
            let autocommit = conn.is_autocommit().await;
            self.pending.after(&self.notifier, true, autocommit);
        }
        Ok(())
    }

    pub(crate) async fn begin(&self, behavior: TransactionBehavior) -> Result<(), TidepoolError> {
        let guard = self.enter().await?;
        let conn = guard
            .as_ref()
            .ok_or_else(|| TidepoolError::closed("connection"))?;
        if !conn.is_autocommit().await {
            return Err(TidepoolError::usage(
                code::INVALID_ARGUMENT,
                "a transaction is already open on this connection",
            ));
        }
        conn.execute(behavior.begin_sql(), ()).await?;
        Ok(())
    }

    /// `COMMIT` or `ROLLBACK` of a transaction object.
    pub(crate) async fn finish(&self, commit: bool) -> Result<(), TidepoolError> {
        let guard = self.enter().await?;
        let conn = guard
            .as_ref()
            .ok_or_else(|| TidepoolError::closed("connection"))?;
        if commit {
            conn.execute("COMMIT", ()).await?;
            self.pending.commit(&self.notifier);
        } else {
            let result = conn.execute("ROLLBACK", ()).await;
            self.pending.discard();
            result?;
        }
        Ok(())
    }

    async fn is_autocommit(&self) -> Result<bool, TidepoolError> {
        let guard = self.enter().await?;
        let conn = guard
            .as_ref()
            .ok_or_else(|| TidepoolError::closed("connection"))?;
        Ok(conn.is_autocommit().await)
    }

    async fn close(&self) -> Result<(), TidepoolError> {
        let Some(conn) = self.gate.lock().await.take() else {
            return Ok(());
        };
        self.pending.discard();
        match Arc::try_unwrap(conn) {
            Ok(conn) => Ok(conn.close().await?),
            // An `interrupt` holds it this instant; dropping it closes it in the background.
            Err(_) => Ok(()),
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The core closes the stream (or gives back a local connection) on the runtime.
        let _runtime = runtime::enter();
        drop(self.gate.get_mut().take());
    }
}

/// A connection to the database. Calls on one connection run one at a time; open several
/// connections from the same [`crate::Database`] to run statements in parallel.
#[derive(Debug, uniffi::Object)]
pub struct Connection {
    shared: Arc<Shared>,
}

impl Connection {
    pub(crate) fn new(conn: tidepool::Connection, notifier: Arc<Notifier>) -> Self {
        let conn = Arc::new(conn);
        Connection {
            shared: Arc::new(Shared {
                interrupt: Arc::downgrade(&conn),
                gate: Mutex::new(Some(conn)),
                rollback_requested: AtomicBool::new(false),
                pending: Pending::default(),
                notifier,
            }),
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Connection {
    /// Runs a statement that is not read for its rows.
    pub async fn execute(
        &self,
        sql: String,
        params: Params,
    ) -> Result<ExecuteResult, TidepoolError> {
        let shared = Arc::clone(&self.shared);
        run(async move { shared.execute(&sql, params).await }).await
    }

    /// Runs a statement and returns all its rows in one response, with the rows it changed.
    /// Results larger than the server's response limit (16 MiB by default) need
    /// `query_cursor`.
    pub async fn query(&self, sql: String, params: Params) -> Result<Rows, TidepoolError> {
        let shared = Arc::clone(&self.shared);
        run(async move { shared.query(&sql, params).await }).await
    }

    /// Runs a query whose rows are read page by page ([`RowCursor::next_page`]). The connection
    /// is busy until the cursor is read to the end or closed.
    pub async fn query_cursor(
        &self,
        sql: String,
        params: Params,
    ) -> Result<Arc<RowCursor>, TidepoolError> {
        let shared = Arc::clone(&self.shared);
        let rows = run(async move { shared.query_cursor(&sql, params).await }).await?;
        Ok(Arc::new(RowCursor::new(rows)))
    }

    /// Runs statements atomically: all take effect or none does (inside a transaction, as a
    /// savepoint of it). Returns each statement's result, or the first failure.
    pub async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<ResultSet>, TidepoolError> {
        let shared = Arc::clone(&self.shared);
        run(async move { shared.batch(statements).await }).await
    }

    /// Runs a script of `;`-separated statements, ignoring rows; stops at the first error.
    pub async fn execute_batch(&self, sql: String) -> Result<(), TidepoolError> {
        let shared = Arc::clone(&self.shared);
        run(async move { shared.execute_batch(&sql).await }).await
    }

    /// Begins a transaction. Commit or roll it back; dropping it rolls it back before anything
    /// else runs on the connection.
    pub async fn transaction(
        &self,
        behavior: TransactionBehavior,
    ) -> Result<Arc<Transaction>, TidepoolError> {
        let shared = Arc::clone(&self.shared);
        run(async move { shared.begin(behavior).await }).await?;
        Ok(Arc::new(Transaction::new(Arc::clone(&self.shared))))
    }

    /// Whether no transaction is open.
    pub async fn is_autocommit(&self) -> Result<bool, TidepoolError> {
        let shared = Arc::clone(&self.shared);
        run(async move { shared.is_autocommit().await }).await
    }

    /// Interrupts the statement running on this connection (local databases; a remote one
    /// fails with `UNSUPPORTED`). Does not wait.
    pub fn interrupt(&self) -> Result<(), TidepoolError> {
        match self.shared.interrupt.upgrade() {
            Some(conn) => Ok(conn.interrupt()?),
            None => Err(TidepoolError::closed("connection")),
        }
    }

    /// Closes the server stream (or gives back a local connection), rolling back any open
    /// transaction. Later calls fail with `CLOSED`.
    pub async fn disconnect(&self) -> Result<(), TidepoolError> {
        let shared = Arc::clone(&self.shared);
        run(async move { shared.close().await }).await
    }
}
