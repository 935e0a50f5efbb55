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

/// Makes a deferred `BEGIN` immediate: sync writes the same file through its own connection,
/// and a deferred transaction that read before sync wrote could not write afterwards
/// (`SQLITE_BUSY`); an immediate one waits for the write lock up front instead. The app's
/// connections share one writer, so nothing else changes.
fn immediate(stmt: &mut Stmt) {
    let Some(sql) = stmt.sql.as_deref() else {
        return;
    };
    let words: Vec<String> = sql
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect();
    let deferred = match words.as_slice() {
        [b] | [b, _] if b == "BEGIN" => words
            .get(1)
            .is_none_or(|w| w == "TRANSACTION" || w == "DEFERRED"),
        [b, t, d] => b == "BEGIN" && t == "TRANSACTION" && d == "DEFERRED",
        _ => false,
    };
    if deferred {
        stmt.sql = Some("BEGIN IMMEDIATE".to_owned());
    }
}

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

    pub async fn execute(&mut self, mut stmt: Stmt) -> Result<StmtResult> {
        immediate(&mut stmt);
        let result = self.local.execute(stmt).await;
        self.after(result)
    }

    pub async fn batch(&mut self, mut batch: Batch) -> Result<BatchResult> {
        for step in &mut batch.steps {
            immediate(&mut step.stmt);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferred_begins_become_immediate_and_nothing_else_changes() {
        for (sql, want) in [
            ("BEGIN", "BEGIN IMMEDIATE"),
            ("begin deferred;", "BEGIN IMMEDIATE"),
            ("BEGIN TRANSACTION", "BEGIN IMMEDIATE"),
            ("Begin Transaction Deferred", "BEGIN IMMEDIATE"),
            ("BEGIN EXCLUSIVE", "BEGIN EXCLUSIVE"),
            ("BEGIN TRANSACTION READONLY", "BEGIN TRANSACTION READONLY"),
            ("SELECT 1", "SELECT 1"),
        ] {
            let mut stmt = Stmt::new(sql);
            immediate(&mut stmt);
            assert_eq!(stmt.sql.as_deref(), Some(want), "{sql}");
        }
    }
}
