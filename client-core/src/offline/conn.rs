//! One application connection to an offline database: every statement runs on the device's
//! file (reads on the readers, writes and transactions on the writer, where triggers capture
//! them). After each call, the tables that committed transactions wrote are announced to
//! subscribers, and the background sync (if any) is woken to push them.

use std::sync::Arc;

use tidepool_protocol::{Batch, BatchResult, DescribeResult, Stmt, StmtResult};

use crate::error::Result;
use crate::local::{LocalConn, LocalCursor};
use crate::offline::ChangeOrigin;
use crate::replica::Replica;

#[derive(Debug)]
pub(crate) struct OfflineConn {
    local: LocalConn,
    replica: Arc<Replica>,
}

impl OfflineConn {
    pub fn new(local: LocalConn, replica: Arc<Replica>) -> Self {
        OfflineConn { local, replica }
    }

    pub fn local(&mut self) -> &mut LocalConn {
        &mut self.local
    }

    pub fn local_ref(&self) -> &LocalConn {
        &self.local
    }

    /// Announces what committed since the last call.
    fn after<T>(&self, result: Result<T>) -> Result<T> {
        if let Some(offline) = &self.replica.offline {
            let tables = offline.capture.take_committed();
            if !tables.is_empty() {
                self.replica.notifier.notify(tables, ChangeOrigin::Local);
                offline.wake.notify_one();
            }
        }
        result
    }

    pub async fn execute(&mut self, stmt: Stmt) -> Result<StmtResult> {
        let result = self.local.execute(stmt).await;
        self.after(result)
    }

    pub async fn batch(&mut self, batch: Batch) -> Result<BatchResult> {
        let result = self.local.batch(batch).await;
        self.after(result)
    }

    pub async fn sequence(&mut self, sql: String) -> Result<()> {
        let result = self.local.sequence(sql).await;
        self.after(result)
    }

    pub async fn describe(&mut self, sql: String) -> Result<DescribeResult> {
        self.local.describe(sql).await
    }

    pub async fn cursor(&mut self, batch: Batch) -> Result<LocalCursor> {
        let result = self.local.cursor(batch).await;
        self.after(result)
    }
}
