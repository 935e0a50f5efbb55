//! Remote databases: one [`RemoteConn`] per `Connection`, holding at most one server stream,
//! over either transport.
//!
//! A connection keeps its stream between calls (a baton over HTTP, a stream id over
//! WebSocket), so a transaction begun with `BEGIN` continues on the next call. What happens
//! when the stream is lost depends on whether a transaction was open: outside one, the stream
//! is reopened transparently and a read-only request is sent again; inside one, the caller gets
//! `TRANSACTION_LOST`, because the server rolled the transaction back.

pub mod http;
mod over_http;
mod over_ws;
pub mod retry;
pub mod tls;
pub mod ws;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tidepool_protocol::http::{
    BatchStreamReq, CloseStreamReq, CursorReqBody, DescribeStreamReq, ExecuteStreamReq,
    PipelineReqBody, SequenceStreamReq, StreamRequest, StreamResponse,
};
use tidepool_protocol::{Batch, BatchResult, CursorEntry, DescribeResult, Stmt, StmtResult};

use self::http::{CursorBody, HttpClient};
use self::retry::is_read_only_sql;
use self::ws::{WsClient, WsCursor, WsStream};
use crate::error::{code, Error, ErrorKind, Result};

/// How a database reaches its server.
#[derive(Clone, Debug)]
pub enum Transport {
    Http(Arc<HttpClient>),
    Ws(Arc<WsClient>),
}

/// A stream kept between calls.
#[derive(Debug)]
enum Stream {
    Http {
        baton: String,
        base_url: Option<String>,
    },
    /// A WebSocket stream and its process-unique id, which SQL stored through it is tied to.
    Ws(WsStream, u64),
}

/// Ids for WebSocket streams, unique in the process, so stored SQL is never sent on a
/// stream (or socket) other than the one it was stored through.
static STREAM_UIDS: AtomicU64 = AtomicU64::new(1);

/// SQL text stored on the server for one stream (a prepared statement over WebSocket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredSql {
    stream_uid: u64,
    sql_id: i32,
}

/// The remote side of one connection.
#[derive(Debug)]
pub struct RemoteConn {
    transport: Transport,
    stream: Option<Stream>,
    /// Whether the stream is outside a transaction, as the server last said.
    autocommit: bool,
    /// A dropped `Transaction` asked for a rollback that has not run yet; it runs before
    /// anything else on this connection.
    rollback_pending: bool,
}

/// One request, described for the stream logic.
struct Req {
    request: StreamRequest,
    /// Sending it twice cannot change the database.
    idempotent: bool,
    /// The statement's SQL stored on a WebSocket stream, used instead of the text when the
    /// request goes out on that same stream.
    stored: Option<StoredSql>,
}

impl RemoteConn {
    pub fn new(transport: Transport) -> Self {
        RemoteConn {
            transport,
            stream: None,
            autocommit: true,
            rollback_pending: false,
        }
    }

    /// Whether no transaction is open on this connection.
    pub fn is_autocommit(&self) -> bool {
        self.autocommit
    }

    pub async fn execute(&mut self, stmt: Stmt) -> Result<StmtResult> {
        self.execute_stored(stmt, None).await
    }

    /// Executes a statement whose SQL may be stored on the server (see [`Self::store_sql`]).
    pub async fn execute_stored(
        &mut self,
        stmt: Stmt,
        stored: Option<StoredSql>,
    ) -> Result<StmtResult> {
        let idempotent = stmt.sql.as_deref().is_some_and(is_read_only_sql);
        let req = Req {
            request: StreamRequest::Execute(ExecuteStreamReq { stmt }),
            idempotent,
            stored,
        };
        match self.run(req).await? {
            StreamResponse::Execute(r) => Ok(r.result),
            other => Err(unexpected(&other)),
        }
    }

    pub async fn batch(&mut self, batch: Batch) -> Result<BatchResult> {
        let idempotent = batch
            .steps
            .iter()
            .all(|s| s.stmt.sql.as_deref().is_some_and(is_read_only_sql));
        let req = Req {
            request: StreamRequest::Batch(BatchStreamReq { batch }),
            idempotent,
            stored: None,
        };
        match self.run(req).await? {
            StreamResponse::Batch(r) => Ok(r.result),
            other => Err(unexpected(&other)),
        }
    }

    pub async fn sequence(&mut self, sql: String) -> Result<()> {
        let req = Req {
            request: StreamRequest::Sequence(SequenceStreamReq {
                sql: Some(sql),
                sql_id: None,
            }),
            idempotent: false,
            stored: None,
        };
        match self.run(req).await? {
            StreamResponse::Sequence(_) => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    pub async fn describe(&mut self, sql: String) -> Result<DescribeResult> {
        let req = Req {
            request: StreamRequest::Describe(DescribeStreamReq {
                sql: Some(sql),
                sql_id: None,
            }),
            idempotent: true,
            stored: None,
        };
        match self.run(req).await? {
            StreamResponse::Describe(r) => Ok(r.result),
            other => Err(unexpected(&other)),
        }
    }

    /// Runs a batch through a cursor, so its rows arrive as they are produced.
    pub async fn cursor(&mut self, batch: Batch) -> Result<RemoteCursor> {
        self.flush_rollback().await?;
        let idempotent = batch
            .steps
            .iter()
            .all(|s| s.stmt.sql.as_deref().is_some_and(is_read_only_sql));
        let mut attempt = 0u64;
        loop {
            attempt += 1;
            let was_autocommit = self.autocommit;
            let resumed = self.stream.is_some();
            match self.cursor_once(batch.clone(), idempotent).await {
                // Outside a transaction a lost stream is reopened, and a read is sent again.
                Err(e)
                    if attempt < 3
                        && was_autocommit
                        && (retry::may_retry(&e, idempotent)
                            || (resumed && (e.is_stream_expired() || baton_error(&e)))) =>
                {
                    tracing::debug!(
                        code = e.code(),
                        attempt,
                        "reopening the stream for a cursor"
                    );
                    self.stream = None;
                    tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn cursor_once(&mut self, batch: Batch, idempotent: bool) -> Result<RemoteCursor> {
        match self.transport.clone() {
            Transport::Http(client) => {
                let (baton, base_url) = match &self.stream {
                    Some(Stream::Http { baton, base_url }) => {
                        (Some(baton.clone()), base_url.clone())
                    }
                    _ => (None, None),
                };
                let body = CursorReqBody { baton, batch };
                let opened = client.cursor(base_url.as_deref(), &body, idempotent).await;
                let (head, body) = opened.map_err(|e| self.stream_failed(e))?;
                let base_url = head.base_url.or(base_url);
                self.stream = head.baton.map(|baton| Stream::Http { baton, base_url });
                Ok(RemoteCursor::Http(body))
            }
            Transport::Ws(_) => {
                let stream = self.ws_stream().await?;
                match stream.open_cursor(batch).await {
                    Ok(cursor) => Ok(RemoteCursor::Ws(cursor)),
                    Err(e) => Err(self.ws_failed(e)),
                }
            }
        }
    }

    /// Stores SQL text on this connection's WebSocket stream, for a prepared statement. `None`
    /// over HTTP, on servers without stored SQL, or when the server's store is full: the
    /// statement then sends its text.
    pub async fn store_sql(&mut self, sql: &str) -> Result<Option<StoredSql>> {
        if !matches!(self.transport, Transport::Ws(_)) {
            return Ok(None);
        }
        self.flush_rollback().await?;
        let stream = self.ws_stream().await?;
        match stream.store_sql(sql.to_owned()).await {
            Ok(sql_id) => {
                let Some(Stream::Ws(_, stream_uid)) = &self.stream else {
                    return Ok(None);
                };
                Ok(Some(StoredSql {
                    stream_uid: *stream_uid,
                    sql_id,
                }))
            }
            Err(e) if matches!(e.code(), code::UNSUPPORTED | "SQL_STORE_LIMIT") => Ok(None),
            Err(e) => Err(self.ws_failed(e)),
        }
    }

    /// Forgets stored SQL, if its stream is still this connection's.
    pub async fn close_sql(&mut self, stored: StoredSql) -> Result<()> {
        match &mut self.stream {
            Some(Stream::Ws(stream, uid)) if *uid == stored.stream_uid && !stream.is_broken() => {
                stream.close_sql(stored.sql_id).await
            }
            _ => Ok(()),
        }
    }

    /// Closes the server stream, rolling back any open transaction.
    pub async fn close(&mut self) -> Result<()> {
        self.autocommit = true;
        match (self.stream.take(), &self.transport) {
            (Some(Stream::Http { baton, base_url }), Transport::Http(client)) => {
                let body = PipelineReqBody {
                    baton: Some(baton),
                    requests: vec![StreamRequest::Close(CloseStreamReq {})],
                };
                client
                    .pipeline(base_url.as_deref(), &body, true)
                    .await
                    .map(drop)
            }
            (Some(Stream::Ws(stream, _)), _) => stream.close().await,
            _ => Ok(()),
        }
    }

    /// Closes the stream in the background (on drop).
    pub fn close_in_background(&mut self) {
        if self.stream.is_none() {
            return;
        }
        let mut this = RemoteConn {
            transport: self.transport.clone(),
            stream: self.stream.take(),
            autocommit: self.autocommit,
            rollback_pending: false,
        };
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = this.close().await;
            });
        }
    }

    /// Marks the open transaction for rollback before the next request.
    pub fn schedule_rollback(&mut self) {
        self.rollback_pending = true;
    }

    /// Runs a rollback a dropped transaction left pending.
    pub async fn flush_rollback(&mut self) -> Result<()> {
        if std::mem::take(&mut self.rollback_pending) && !self.autocommit {
            let req = Req {
                request: StreamRequest::Execute(ExecuteStreamReq {
                    stmt: Stmt::new("ROLLBACK"),
                }),
                idempotent: false,
                stored: None,
            };
            self.dispatch(req).await?;
        }
        Ok(())
    }

    async fn run(&mut self, req: Req) -> Result<StreamResponse> {
        self.flush_rollback().await?;
        self.dispatch(req).await
    }

    async fn dispatch(&mut self, req: Req) -> Result<StreamResponse> {
        match self.transport.clone() {
            Transport::Http(client) => self.run_http(&client, req).await,
            Transport::Ws(_) => self.run_ws(req).await,
        }
    }

    /// A failure that ends the stream: inside a transaction it becomes `TRANSACTION_LOST`
    /// (unless it is a plain SQL error, which leaves the stream usable).
    fn stream_failed(&mut self, e: Error) -> Error {
        let fatal = e.is_stream_expired()
            || e.is_network()
            || e.kind() == ErrorKind::Timeout
            || baton_error(&e);
        if !fatal {
            return e;
        }
        self.stream = None;
        let was_txn = !std::mem::replace(&mut self.autocommit, true);
        if was_txn {
            Error::with_source(
                ErrorKind::Server,
                code::TRANSACTION_LOST,
                format!(
                    "the transaction was lost and rolled back by the server ({})",
                    e.code()
                ),
                e,
            )
        } else {
            e
        }
    }
}

/// Errors that say the stream cannot take this request, which therefore did not run: a baton
/// the server does not accept, or a stream still busy with a cursor body the client stopped
/// reading (a dropped query). Outside a transaction a new stream is opened instead.
fn baton_error(e: &Error) -> bool {
    matches!(e.code(), "BATON_INVALID" | "BATON_REUSED" | "STREAM_BUSY")
}

fn unexpected(response: &StreamResponse) -> Error {
    Error::protocol(format!(
        "the server answered with an unexpected response: {response:?}"
    ))
}

/// The transaction state after a request, from its SQL, for servers that cannot say
/// (Hrana 2). Looks at the leading keyword only.
fn guess_autocommit(request: &StreamRequest, before: bool) -> bool {
    let sqls: Vec<&str> = match request {
        StreamRequest::Execute(r) => r.stmt.sql.as_deref().into_iter().collect(),
        StreamRequest::Batch(r) => r
            .batch
            .steps
            .iter()
            .filter_map(|s| s.stmt.sql.as_deref())
            .collect(),
        StreamRequest::Sequence(r) => r
            .sql
            .as_deref()
            .map(|s| s.split(';').collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    sqls.iter().fold(before, |autocommit, sql| {
        let word = sql
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match word.as_str() {
            "BEGIN" | "SAVEPOINT" => false,
            "COMMIT" | "END" => true,
            "ROLLBACK" if !sql.to_ascii_uppercase().contains(" TO ") => true,
            _ => autocommit,
        }
    })
}

/// The rows of a cursor, as they arrive.
#[derive(Debug)]
pub enum RemoteCursor {
    Http(CursorBody),
    Ws(WsCursor),
}

impl RemoteCursor {
    pub async fn next(&mut self) -> Result<Option<CursorEntry>> {
        match self {
            RemoteCursor::Http(body) => body.next_item::<CursorEntry>().await,
            RemoteCursor::Ws(cursor) => cursor.next().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execute(sql: &str) -> StreamRequest {
        StreamRequest::Execute(ExecuteStreamReq {
            stmt: Stmt::new(sql),
        })
    }

    #[test]
    fn autocommit_guess_follows_transaction_keywords() {
        assert!(!guess_autocommit(&execute("begin immediate"), true));
        assert!(guess_autocommit(&execute("COMMIT"), false));
        assert!(!guess_autocommit(&execute("ROLLBACK TO sp"), false));
        assert!(guess_autocommit(&execute("rollback"), false));
        assert!(!guess_autocommit(&execute("SELECT 1"), false));
    }
}
