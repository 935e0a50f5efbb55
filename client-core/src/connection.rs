//! Connections, transactions and prepared statements: the calls application code makes, the
//! same for a remote and a local database (the [`Backend`] behind a connection).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tidepool_protocol::{Batch, BatchCond, BatchStep, DescribeResult, Stmt};
use tokio::sync::Mutex;

use crate::backend::{Backend, Interrupter};
use crate::error::{code, Error, Result};
use crate::local::ShortRead;
use crate::params::Params;
use crate::remote::retry::is_read_only_sql;
use crate::remote::StoredSql;
use crate::rows::{ExecuteResult, ResultSet, Rows};

/// A connection to the database: a sequence of statements with SQLite's semantics, where a
/// transaction begun on it continues until committed or rolled back.
///
/// Calls on one connection run one at a time; for parallelism, open several connections
/// from the same [`crate::Database`] (they share its HTTP pool or WebSocket sockets, or a local
/// database's writer and readers).
#[derive(Debug)]
pub struct Connection {
    inner: Arc<Mutex<Backend>>,
    interrupter: Interrupter,
    /// Set by a `Transaction` dropped while the connection was busy: its rollback runs before
    /// the next call, and never reaches a transaction begun later.
    rollback_requested: Arc<AtomicBool>,
}

/// How a transaction takes its locks (SQLite's `BEGIN DEFERRED|IMMEDIATE|EXCLUSIVE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TransactionBehavior {
    #[default]
    Deferred,
    Immediate,
    Exclusive,
    /// libSQL's read-only transaction: statements that write fail.
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

fn stmt(sql: &str, params: Params) -> Stmt {
    // Hrana 1 servers require `want_rows`.
    let mut stmt = Stmt {
        want_rows: Some(true),
        ..Stmt::new(sql)
    };
    params.apply(&mut stmt);
    stmt
}

impl Connection {
    pub(crate) fn new(backend: Backend, interrupter: Interrupter) -> Self {
        Connection {
            inner: Arc::new(Mutex::new(backend)),
            interrupter,
            rollback_requested: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The backend, with any rollback a dropped transaction asked for scheduled first.
    async fn backend(&self) -> tokio::sync::MutexGuard<'_, Backend> {
        let mut backend = self.inner.lock().await;
        self.apply_requests(&mut backend);
        backend
    }

    async fn backend_owned(&self) -> tokio::sync::OwnedMutexGuard<Backend> {
        let mut backend = Arc::clone(&self.inner).lock_owned().await;
        self.apply_requests(&mut backend);
        backend
    }

    fn apply_requests(&self, backend: &mut Backend) {
        if self.rollback_requested.swap(false, Ordering::SeqCst) {
            backend.schedule_rollback();
        }
    }

    /// Runs a statement that is not read for its rows.
    pub async fn execute(&self, sql: &str, params: impl Into<Params>) -> Result<ExecuteResult> {
        let result = self
            .backend()
            .await
            .execute(stmt(sql, params.into()))
            .await?;
        Ok(ExecuteResult {
            rows_affected: result.affected_row_count,
            last_insert_rowid: result.last_insert_rowid,
        })
    }

    /// Runs one statement and returns its whole result in one response: its rows (all of
    /// them), the rows it changed and the last inserted rowid. For APIs that hand results over
    /// whole, as the bindings' `execute` does; [`Connection::query`] streams instead.
    pub async fn execute_full(&self, sql: &str, params: impl Into<Params>) -> Result<ResultSet> {
        let stmt = stmt(sql, params.into());
        let mut conn = self.backend().await;
        if let Some(read) = read_inline(&conn, sql, &stmt)? {
            return ResultSet::from_short(read);
        }
        Ok(conn.execute(stmt).await?.into())
    }

    /// Runs a query; its rows stream through a cursor as they are read (servers without
    /// cursors, Hrana 1 and 2, send them whole). Statements that may write run as one
    /// request and return their rows (`RETURNING`) at once.
    pub async fn query(&self, sql: &str, params: impl Into<Params>) -> Result<Rows> {
        let stmt = stmt(sql, params.into());
        let mut conn = self.backend_owned().await;
        if let Some(read) = read_inline(&conn, sql, &stmt)? {
            return Ok(Rows::whole(read));
        }
        if is_read_only_sql(sql) {
            let batch = Batch {
                steps: vec![BatchStep {
                    condition: None,
                    stmt: stmt.clone(),
                }],
                replication_index: None,
            };
            match conn.cursor(batch).await {
                Ok(cursor) => return Rows::from_cursor(cursor, conn).await,
                Err(e) if e.code() == code::UNSUPPORTED => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Rows::buffered(conn.execute(stmt).await?))
    }

    /// Runs statements atomically: all of them take effect, or none does. Inside a
    /// transaction the batch is a savepoint of it. Returns each statement's result, or the
    /// first failure.
    pub async fn batch<I, S>(&self, statements: I) -> Result<Vec<ResultSet>>
    where
        I: IntoIterator<Item = S>,
        S: Into<Statement>,
    {
        let statements: Vec<Stmt> = statements.into_iter().map(|s| s.into().stmt).collect();
        let count = statements.len();
        let mut conn = self.backend().await;
        let (open, commit, rollback) = if conn.is_autocommit().await {
            ("BEGIN", "COMMIT", "ROLLBACK".to_owned())
        } else {
            (
                "SAVEPOINT tidepool_batch",
                "RELEASE tidepool_batch",
                "ROLLBACK TO tidepool_batch; RELEASE tidepool_batch".to_owned(),
            )
        };
        let batch = atomic_batch(open, statements, commit, &rollback);
        let result = conn.batch(batch).await?;
        if let Some(error) = result.step_errors.iter().flatten().next() {
            return Err(Error::from_wire(error.clone()));
        }
        if result
            .step_results
            .get(count + 1)
            .is_none_or(Option::is_none)
        {
            return Err(Error::protocol("the batch did not commit"));
        }
        Ok(result
            .step_results
            .into_iter()
            .skip(1)
            .take(count)
            .map(|r| r.unwrap_or_default().into())
            .collect())
    }

    /// Runs a script of `;`-separated statements, ignoring rows; stops at the first error.
    pub async fn execute_batch(&self, sql: &str) -> Result<()> {
        self.backend().await.sequence(sql.to_owned()).await
    }

    /// Begins a deferred transaction.
    pub async fn transaction(&self) -> Result<Transaction<'_>> {
        self.transaction_with(TransactionBehavior::Deferred).await
    }

    /// Begins a transaction with the given locking behaviour.
    pub async fn transaction_with(&self, behavior: TransactionBehavior) -> Result<Transaction<'_>> {
        let mut conn = self.backend().await;
        if !conn.is_autocommit().await {
            return Err(Error::usage(
                code::INVALID_ARGUMENT,
                "a transaction is already open on this connection",
            ));
        }
        conn.execute(Stmt::new(behavior.begin_sql())).await?;
        Ok(Transaction {
            conn: self,
            done: false,
        })
    }

    /// Parses a statement on the server and returns it ready to run many times on this
    /// connection. Over WebSocket its SQL is stored on the server, so each run sends only an
    /// id; elsewhere (or on another connection) the text is sent.
    pub async fn prepare(&self, sql: &str) -> Result<Statement> {
        let mut conn = self.backend().await;
        let description = conn.describe(sql.to_owned()).await?;
        let stored = conn.store_sql(sql).await?;
        Ok(Statement {
            stmt: stmt(sql, Params::None),
            description: Some(description),
            stored,
        })
    }

    /// Whether no transaction is open.
    pub async fn is_autocommit(&self) -> bool {
        self.backend().await.is_autocommit().await
    }

    /// Interrupts the statement this connection is running (from another task; the call
    /// running it fails with `SQLITE_INTERRUPT`, and an interrupted write inside a transaction
    /// rolls the transaction back, as SQLite does). Does not wait for the connection. A
    /// statement that starts after this call is not affected.
    ///
    /// Local databases only: on a remote one this returns [`code::UNSUPPORTED`] (drop the
    /// call's future, or set a request timeout, to stop waiting for the server).
    pub fn interrupt(&self) -> Result<()> {
        self.interrupter.interrupt()
    }

    /// Closes the server stream (or gives back a local connection), rolling back any open
    /// transaction.
    pub async fn close(self) -> Result<()> {
        self.backend().await.close().await
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Ok(mut conn) = self.inner.try_lock() {
            conn.close_in_background();
        }
    }
}

/// A short read on a local database, run inline and read whole (see `local/read.rs`); `None`
/// for anything else, which then runs the usual way.
fn read_inline(backend: &Backend, sql: &str, stmt: &Stmt) -> Result<Option<ShortRead>> {
    match backend {
        Backend::Local(local) if is_read_only_sql(sql) => local.read_inline(stmt),
        _ => Ok(None),
    }
}

/// `open; s0 if ok(open); s1 if ok(s0); ...; commit if ok(last); rollback if not ok(commit)`.
fn atomic_batch(open: &str, statements: Vec<Stmt>, commit: &str, rollback: &str) -> Batch {
    let count = statements.len() as u32;
    let mut steps = vec![BatchStep {
        condition: None,
        stmt: Stmt {
            want_rows: Some(false),
            ..Stmt::new(open)
        },
    }];
    for (i, stmt) in statements.into_iter().enumerate() {
        steps.push(BatchStep {
            condition: Some(BatchCond::Ok { step: i as u32 }),
            stmt,
        });
    }
    steps.push(BatchStep {
        condition: Some(BatchCond::Ok { step: count }),
        stmt: Stmt {
            want_rows: Some(false),
            ..Stmt::new(commit)
        },
    });
    for sql in rollback.split("; ") {
        steps.push(BatchStep {
            condition: Some(BatchCond::Not {
                cond: Box::new(BatchCond::Ok { step: count + 1 }),
            }),
            stmt: Stmt {
                want_rows: Some(false),
                ..Stmt::new(sql)
            },
        });
    }
    Batch {
        steps,
        replication_index: None,
    }
}

/// An interactive transaction. Commit or roll it back; dropping it rolls it back.
#[derive(Debug)]
pub struct Transaction<'a> {
    conn: &'a Connection,
    done: bool,
}

impl Transaction<'_> {
    pub async fn execute(&self, sql: &str, params: impl Into<Params>) -> Result<ExecuteResult> {
        self.conn.execute(sql, params).await
    }

    pub async fn query(&self, sql: &str, params: impl Into<Params>) -> Result<Rows> {
        self.conn.query(sql, params).await
    }

    /// Runs statements atomically as a savepoint of this transaction.
    pub async fn batch<I, S>(&self, statements: I) -> Result<Vec<ResultSet>>
    where
        I: IntoIterator<Item = S>,
        S: Into<Statement>,
    {
        self.conn.batch(statements).await
    }

    pub async fn execute_batch(&self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql).await
    }

    pub async fn commit(mut self) -> Result<()> {
        self.done = true;
        self.conn.execute("COMMIT", ()).await.map(drop)
    }

    pub async fn rollback(mut self) -> Result<()> {
        self.done = true;
        self.conn.execute("ROLLBACK", ()).await.map(drop)
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Marked now, so the rollback runs before any later call on the connection (and never
        // on a transaction begun after it); flushed eagerly when the connection is idle, so
        // the transaction's locks go as soon as possible.
        let Ok(mut backend) = self.conn.inner.try_lock() else {
            self.conn.rollback_requested.store(true, Ordering::SeqCst);
            return;
        };
        backend.schedule_rollback();
        drop(backend);
        let inner = Arc::clone(&self.conn.inner);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                // A no-op if a later call on the connection already ran the rollback.
                if let Err(e) = inner.lock().await.flush_rollback().await {
                    tracing::debug!(error = %e, "rollback of a dropped transaction failed");
                }
            });
        }
    }
}

/// A statement with its parameters, for batches, or a prepared statement to run many times.
#[derive(Clone, Debug)]
pub struct Statement {
    stmt: Stmt,
    description: Option<DescribeResult>,
    stored: Option<StoredSql>,
}

impl Statement {
    /// A statement with parameters, for [`Connection::batch`].
    pub fn new(sql: &str, params: impl Into<Params>) -> Self {
        Statement {
            stmt: stmt(sql, params.into()),
            description: None,
            stored: None,
        }
    }

    /// Roughly how many bytes the statement takes in a request: to split large batches.
    pub(crate) fn size_hint(&self) -> usize {
        let args: usize = self
            .stmt
            .args
            .iter()
            .map(|v| match v {
                crate::Value::Text(t) => t.len() + 4,
                crate::Value::Blob(b) => b.len() + 4,
                _ => 10,
            })
            .sum();
        self.stmt.sql.as_ref().map_or(0, String::len) + args
    }

    /// The number of parameters, when the statement was prepared.
    pub fn parameter_count(&self) -> Option<usize> {
        self.description.as_ref().map(|d| d.params.len())
    }

    /// The result column names, when the statement was prepared.
    pub fn column_names(&self) -> Option<Vec<&str>> {
        self.description
            .as_ref()
            .map(|d| d.cols.iter().map(|c| c.name.as_str()).collect())
    }

    /// Whether the statement cannot write, when it was prepared.
    pub fn is_readonly(&self) -> Option<bool> {
        self.description.as_ref().map(|d| d.is_readonly)
    }

    fn bound(&self, params: Params) -> Result<Stmt> {
        let mut stmt = self.stmt.clone();
        if let (Some(d), Params::Positional(values)) = (&self.description, &params) {
            if values.len() != d.params.len() {
                return Err(Error::usage(
                    code::INVALID_ARGUMENT,
                    format!(
                        "the statement takes {} parameters, {} given",
                        d.params.len(),
                        values.len()
                    ),
                ));
            }
        }
        params.apply(&mut stmt);
        Ok(stmt)
    }

    /// Runs the prepared statement on `conn`.
    pub async fn execute(
        &self,
        conn: &Connection,
        params: impl Into<Params>,
    ) -> Result<ExecuteResult> {
        let result = conn
            .backend()
            .await
            .execute_stored(self.bound(params.into())?, self.stored)
            .await?;
        Ok(ExecuteResult {
            rows_affected: result.affected_row_count,
            last_insert_rowid: result.last_insert_rowid,
        })
    }

    /// Queries with the prepared statement on `conn`.
    pub async fn query(&self, conn: &Connection, params: impl Into<Params>) -> Result<Rows> {
        let stmt = self.bound(params.into())?;
        let sql = stmt.sql.clone().unwrap_or_default();
        let params = Params::Positional(stmt.args);
        let named = stmt.named_args;
        if named.is_empty() {
            conn.query(&sql, params).await
        } else {
            conn.query(
                &sql,
                Params::Named(named.into_iter().map(|a| (a.name, a.value)).collect()),
            )
            .await
        }
    }
}

impl Statement {
    /// Runs the prepared statement on `conn` and returns its rows whole, in one request (by
    /// its stored SQL's id over WebSocket, so only the arguments travel).
    pub async fn query_all(
        &self,
        conn: &Connection,
        params: impl Into<Params>,
    ) -> Result<ResultSet> {
        let result = conn
            .backend()
            .await
            .execute_stored(self.bound(params.into())?, self.stored)
            .await?;
        Ok(result.into())
    }

    /// Releases the SQL text the server stored for this statement (over WebSocket).
    pub async fn finalize(self, conn: &Connection) -> Result<()> {
        match self.stored {
            Some(stored) => conn.backend().await.close_sql(stored).await,
            None => Ok(()),
        }
    }
}

impl From<&str> for Statement {
    fn from(sql: &str) -> Self {
        Statement::new(sql, ())
    }
}

impl From<String> for Statement {
    fn from(sql: String) -> Self {
        Statement::new(&sql, ())
    }
}

impl<P: Into<Params>> From<(&str, P)> for Statement {
    fn from((sql, params): (&str, P)) -> Self {
        Statement::new(sql, params)
    }
}
