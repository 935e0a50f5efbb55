//! A local cursor: entries produced by the engine on a blocking thread, received through a
//! bounded channel, so a large result is never held whole. Dropping the cursor interrupts its
//! statement and closes the channel, which stops the engine at once and frees the connection.

use std::sync::Arc;

use tidepool_protocol::CursorEntry;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::internal;
use super::interrupt::Interrupts;
use crate::error::Result;

#[derive(Debug)]
pub(crate) struct LocalCursor {
    peeked: Option<CursorEntry>,
    entries: mpsc::Receiver<CursorEntry>,
    task: Option<JoinHandle<Option<()>>>,
    /// The cursor's own task, interrupted on drop.
    own: Arc<Interrupts>,
}

impl LocalCursor {
    /// Waits for the first entry, so a refusal can be seen before rows are read.
    pub(super) async fn start(
        entries: mpsc::Receiver<CursorEntry>,
        task: JoinHandle<Option<()>>,
        own: Arc<Interrupts>,
    ) -> Result<Self> {
        let mut cursor = LocalCursor {
            peeked: None,
            entries,
            task: Some(task),
            own,
        };
        cursor.peeked = cursor.next().await?;
        Ok(cursor)
    }

    /// A cursor over entries produced already (a short read run inline).
    pub(super) fn buffered(entries: Vec<CursorEntry>) -> Self {
        let (sender, receiver) = mpsc::channel(entries.len().max(1));
        for entry in entries {
            // Cannot fail: the channel has room for every entry and its receiver is here.
            let _ = sender.try_send(entry);
        }
        LocalCursor {
            peeked: None,
            entries: receiver,
            task: None,
            own: Arc::new(Interrupts::default()),
        }
    }

    /// Whether the engine refused the first statement on a reader because it writes.
    pub(super) fn refused_as_write(&self) -> bool {
        let error = match &self.peeked {
            Some(CursorEntry::StepError(e)) => &e.error,
            Some(CursorEntry::Error { error }) => error,
            _ => return false,
        };
        error.code.as_deref() == Some(tidepool_engine::errors::code::FORBIDDEN)
    }

    pub async fn next(&mut self) -> Result<Option<CursorEntry>> {
        if let Some(entry) = self.peeked.take() {
            return Ok(Some(entry));
        }
        if let Some(entry) = self.entries.recv().await {
            return Ok(Some(entry));
        }
        // The channel closed: the task ended. Tell a normal end from a failure.
        match self.task.take() {
            Some(task) => match task.await {
                Ok(Some(())) => Ok(None),
                Ok(None) => Err(internal("the cursor's connection vanished")),
                Err(e) => Err(internal(format!("the cursor's thread panicked: {e}"))),
            },
            None => Ok(None),
        }
    }
}

impl Drop for LocalCursor {
    fn drop(&mut self) {
        // Only a task still running is registered, so this cannot reach anyone else.
        self.own.interrupt();
    }
}
