//! A local cursor: entries produced by the engine on a blocking thread, received through a bounded
//! channel, so a large result is never held whole (or, for a short read run inline, entries
//! produced already). Dropping the cursor interrupts its statement and closes the channel, which
//! stops the engine at once and frees the connection.

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
    entries: Entries,
    task: Option<JoinHandle<Option<()>>>,
    /// The cursor's own task, interrupted on drop.
    own: Arc<Interrupts>,
}

#[derive(Debug)]
enum Entries {
    /// From the blocking thread.
    Channel(mpsc::Receiver<CursorEntry>),
    /// Produced already (a short read run inline).
    Buffered(std::vec::IntoIter<CursorEntry>),
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
            entries: Entries::Channel(entries),
            task: Some(task),
            own,
        };
        cursor.peeked = cursor.next().await?;
        Ok(cursor)
    }

    /// A cursor over entries produced already (a short read run inline).
    pub(super) fn buffered(entries: Vec<CursorEntry>) -> Self {
        let mut entries = entries.into_iter();
        LocalCursor {
            // Peeked, so that a refusal shows before rows are read.
            peeked: entries.next(),
            entries: Entries::Buffered(entries),
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
        let entry = match &mut self.entries {
            Entries::Channel(entries) => entries.recv().await,
            Entries::Buffered(entries) => entries.next(),
        };
        if entry.is_some() {
            return Ok(entry);
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
