//! A transaction object: its statements run on its connection; commit or roll it back, or drop
//! it to roll it back before anything else runs on the connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::connection::{ExecuteResult, ResultSet, Rows, Shared, Statement};
use crate::error::TidepoolError;
use crate::runtime::run;
use crate::value::Params;

/// An interactive transaction on one connection.
#[derive(Debug, uniffi::Object)]
pub struct Transaction {
    shared: Arc<Shared>,
    /// Committed, rolled back, or being either.
    done: AtomicBool,
}

impl Transaction {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Transaction {
            shared,
            done: AtomicBool::new(false),
        }
    }

    fn open(&self) -> Result<Arc<Shared>, TidepoolError> {
        if self.done.load(Ordering::SeqCst) {
            return Err(TidepoolError::closed("transaction"));
        }
        Ok(Arc::clone(&self.shared))
    }

    async fn finish(&self, commit: bool) -> Result<(), TidepoolError> {
        if self.done.swap(true, Ordering::SeqCst) {
            return Err(TidepoolError::closed("transaction"));
        }
        let shared = Arc::clone(&self.shared);
        let result = run(async move { shared.finish(commit).await }).await;
        if result.is_err() && commit {
            // A COMMIT that failed (SQLITE_BUSY, a lost stream) may leave the transaction
            // open, and this object can no longer end it: roll it back.
            self.shared.request_rollback();
        }
        result
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Transaction {
    pub async fn execute(
        &self,
        sql: String,
        params: Params,
    ) -> Result<ExecuteResult, TidepoolError> {
        let shared = self.open()?;
        run(async move { shared.execute(&sql, params).await }).await
    }

    pub async fn query(&self, sql: String, params: Params) -> Result<Rows, TidepoolError> {
        let shared = self.open()?;
        run(async move { shared.query(&sql, params).await }).await
    }

    /// Runs statements atomically, as a savepoint of this transaction.
    pub async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<ResultSet>, TidepoolError> {
        let shared = self.open()?;
        run(async move { shared.batch(statements).await }).await
    }

    pub async fn execute_batch(&self, sql: String) -> Result<(), TidepoolError> {
        let shared = self.open()?;
        run(async move { shared.execute_batch(&sql).await }).await
    }

    pub async fn commit(&self) -> Result<(), TidepoolError> {
        self.finish(true).await
    }

    pub async fn rollback(&self) -> Result<(), TidepoolError> {
        self.finish(false).await
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.done.load(Ordering::SeqCst) {
            self.shared.request_rollback();
        }
    }
}
