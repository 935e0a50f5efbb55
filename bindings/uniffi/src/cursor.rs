//! Rows read page by page, so a large result never crosses the boundary whole.

use std::sync::Arc;

use tokio::sync::Mutex;

use crate::error::TidepoolError;
use crate::runtime::{self, run};
use crate::value::{columns, row, Column, Value};

/// A query's rows as they arrive. The connection is busy until they are read to the end or the
/// cursor is closed (`finish`) or dropped.
#[derive(Debug, uniffi::Object)]
pub struct RowCursor {
    columns: Vec<Column>,
    /// `None` once the rows are read or the cursor is finished.
    rows: Arc<Mutex<Option<tidepool::Rows>>>,
}

impl RowCursor {
    pub(crate) fn new(rows: tidepool::Rows) -> Self {
        RowCursor {
            columns: columns(rows.columns()),
            rows: Arc::new(Mutex::new(Some(rows))),
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl RowCursor {
    pub fn columns(&self) -> Vec<Column> {
        self.columns.clone()
    }

    /// Up to `max_rows` more rows (at least one); an empty page means the rows are done.
    pub async fn next_page(&self, max_rows: u32) -> Result<Vec<Vec<Value>>, TidepoolError> {
        let rows = Arc::clone(&self.rows);
        let max = max_rows.max(1) as usize;
        run(async move {
            let mut guard = rows.lock().await;
            let mut page = Vec::new();
            while page.len() < max {
                let Some(source) = guard.as_mut() else { break };
                match source.next().await {
                    Ok(Some(r)) => page.push(row(r)),
                    Ok(None) => *guard = None,
                    Err(e) => {
                        *guard = None;
                        return Err(e.into());
                    }
                }
            }
            Ok(page)
        })
        .await
    }

    /// Stops reading and frees the connection.
    pub async fn finish(&self) {
        let rows = Arc::clone(&self.rows);
        let _ = run(async move {
            rows.lock().await.take();
            Ok(())
        })
        .await;
    }
}

impl Drop for RowCursor {
    fn drop(&mut self) {
        let _runtime = runtime::enter();
        if let Ok(mut rows) = self.rows.try_lock() {
            rows.take();
        }
    }
}
