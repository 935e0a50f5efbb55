//! Hrana over WebSocket: many streams multiplexed over a small pool of sockets.
//!
//! WebSocket is the low-latency transport: one round trip per request, no batons, and
//! transactions that live as long as the socket. This module owns the pool
//! ([`WsClient`]), the streams ([`WsStream`]) and cursors ([`WsCursor`]); [`socket`] owns one
//! connection's request bookkeeping, [`handshake`] its setup and [`io`] its reader and writer.
//!
//! Pool policy: `open_stream` takes the live socket with the fewest open streams; when every
//! socket holds `max_streams_per_socket` streams and the pool has fewer than `max_sockets`
//! sockets, it connects a new one. When the pool is full, the per-socket cap is soft: the
//! least-loaded socket takes the stream anyway (the server allows 1024 per socket), so
//! `open_stream` never waits for another caller to close a stream. A dead socket leaves the
//! pool at the next `open_stream`, which connects a replacement.
//!
//! Failure rule (as for HTTP): a request that may have run is reported `OUTCOME_UNKNOWN` and
//! never replayed; a read-only one `NETWORK`; one that never reached the socket
//! `CONNECT_FAILED`.

mod handshake;
mod io;
mod socket;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tidepool_protocol::version::{Subprotocol, Version};
use tidepool_protocol::ws::{
    BatchReq, CloseCursorReq, CloseSqlReq, CloseStreamReq, DescribeReq, ExecuteReq, FetchCursorReq,
    GetAutocommitReq, OpenCursorReq, OpenStreamReq, Request, Response, SequenceReq, StoreSqlReq,
};
use tidepool_protocol::{Batch, BatchResult, CursorEntry, DescribeResult, Stmt, StmtResult};
use tokio::sync::Notify;

use self::socket::{ConnectParams, Socket};
use super::http::Timeouts;
use super::retry::is_read_only_sql;
use crate::error::{code, Error, Result};

/// Default for [`WsSettings::max_sockets`].
pub const DEFAULT_MAX_SOCKETS: usize = 4;
/// Default for [`WsSettings::max_streams_per_socket`].
pub const DEFAULT_MAX_STREAMS_PER_SOCKET: usize = 256;
/// Entries asked for by one `fetch_cursor`.
const CURSOR_FETCH: u32 = 256;

/// How to reach the server over WebSocket.
#[derive(Clone)]
pub struct WsSettings {
    /// `ws://` or `wss://`.
    pub url: url::Url,
    pub tls: Arc<rustls::ClientConfig>,
    /// Sent as `jwt` in every socket's `hello`.
    pub auth_token: Option<String>,
    /// `connect` bounds TCP + TLS + handshake; `request` bounds each request.
    pub timeouts: Timeouts,
    pub max_sockets: usize,
    /// A soft cap: see the module documentation.
    pub max_streams_per_socket: usize,
}

impl WsSettings {
    /// Settings with the default pool sizes.
    pub fn new(
        url: url::Url,
        tls: Arc<rustls::ClientConfig>,
        auth_token: Option<String>,
        timeouts: Timeouts,
    ) -> Self {
        WsSettings {
            url,
            tls,
            auth_token,
            timeouts,
            max_sockets: DEFAULT_MAX_SOCKETS,
            max_streams_per_socket: DEFAULT_MAX_STREAMS_PER_SOCKET,
        }
    }
}

impl std::fmt::Debug for WsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsSettings")
            .field("url", &self.url.as_str())
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("timeouts", &self.timeouts)
            .field("max_sockets", &self.max_sockets)
            .field("max_streams_per_socket", &self.max_streams_per_socket)
            .finish_non_exhaustive()
    }
}

/// The pool of sockets to one server.
pub struct WsClient {
    settings: WsSettings,
    /// Subprotocols offered in the handshake (all of them, except in tests).
    offered: Vec<Subprotocol>,
    pool: Mutex<Pool>,
    /// Signalled whenever a connection attempt ends.
    connected: Notify,
    next_socket_id: AtomicU64,
}

#[derive(Default)]
struct Pool {
    sockets: Vec<Arc<Socket>>,
    /// Connection attempts in progress; they count toward `max_sockets`.
    connecting: usize,
    subprotocol: Option<Subprotocol>,
}

/// What `open_stream` does after looking at the pool.
enum Pick {
    Use(Arc<Socket>),
    Connect,
    Wait,
}

impl std::fmt::Debug for WsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pool = self.lock_pool();
        f.debug_struct("WsClient")
            .field("url", &self.settings.url.as_str())
            .field("sockets", &pool.sockets)
            .field("connecting", &pool.connecting)
            .finish_non_exhaustive()
    }
}

impl WsClient {
    /// A client; no I/O happens until the first `open_stream`.
    pub fn new(settings: WsSettings) -> Self {
        WsClient::with_offered(settings, &Subprotocol::ALL)
    }

    /// A client offering only `offered` (empty: no subprotocol header, which means Hrana 1).
    pub(crate) fn with_offered(mut settings: WsSettings, offered: &[Subprotocol]) -> Self {
        settings.tls = http1_only(settings.tls);
        WsClient {
            settings,
            offered: offered.to_vec(),
            pool: Mutex::default(),
            connected: Notify::new(),
            next_socket_id: AtomicU64::new(1),
        }
    }

    /// The negotiated subprotocol, once a socket has connected.
    pub fn subprotocol(&self) -> Option<Subprotocol> {
        self.lock_pool().subprotocol
    }

    /// Opens a stream on the least-loaded socket, connecting one if needed (see the module
    /// documentation for the policy).
    pub async fn open_stream(&self) -> Result<WsStream> {
        let socket = self.reserve_socket().await?;
        let stream_id = socket.next_stream_id();
        // Built first, so that a failed or cancelled open still releases the socket and sends
        // `close_stream` (harmless when the stream never opened).
        let stream = WsStream {
            socket,
            stream_id,
            closed: false,
        };
        let response = stream
            .socket
            .request(Request::OpenStream(OpenStreamReq { stream_id }), true)
            .await?;
        match response {
            Response::OpenStream(_) => Ok(stream),
            other => Err(unexpected(&stream.socket, "open_stream", &other)),
        }
    }

    fn lock_pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A live socket with one stream reserved on it.
    async fn reserve_socket(&self) -> Result<Arc<Socket>> {
        loop {
            let attempt_ended = self.connected.notified();
            match self.pick() {
                Pick::Use(socket) => return Ok(socket),
                Pick::Connect => return self.connect_new().await,
                Pick::Wait => attempt_ended.await,
            }
        }
    }

    fn pick(&self) -> Pick {
        let mut pool = self.lock_pool();
        pool.sockets.retain(|s| !s.is_dead());
        let least = pool.sockets.iter().min_by_key(|s| s.load()).cloned();
        let max_streams = self.settings.max_streams_per_socket.max(1);
        let max_sockets = self.settings.max_sockets.max(1);
        match least {
            Some(socket) if socket.load() < max_streams => {
                socket.reserve();
                Pick::Use(socket)
            }
            _ if pool.sockets.len() + pool.connecting < max_sockets => {
                pool.connecting += 1;
                Pick::Connect
            }
            Some(socket) => {
                socket.reserve();
                Pick::Use(socket)
            }
            None => Pick::Wait,
        }
    }

    /// Connects a socket into a slot that [`WsClient::pick`] reserved.
    async fn connect_new(&self) -> Result<Arc<Socket>> {
        let slot = ConnectingSlot(self);
        let id = self.next_socket_id.fetch_add(1, Ordering::Relaxed);
        let params = ConnectParams {
            id,
            url: &self.settings.url,
            tls: &self.settings.tls,
            auth_token: self.settings.auth_token.as_deref(),
            offered: &self.offered,
            connect_timeout: self.settings.timeouts.connect,
            request_timeout: self.settings.timeouts.request,
        };
        let socket = Arc::new(Socket::connect(params).await?);
        socket.reserve();
        {
            let mut pool = self.lock_pool();
            pool.subprotocol = Some(socket.subprotocol());
            pool.sockets.push(Arc::clone(&socket));
        }
        drop(slot);
        Ok(socket)
    }

    /// The sockets in the pool (tests check the pool's shape).
    #[cfg(test)]
    fn sockets(&self) -> Vec<Arc<Socket>> {
        self.lock_pool().sockets.clone()
    }
}

/// Gives back a connection slot however the attempt ends (success, error, cancellation).
struct ConnectingSlot<'a>(&'a WsClient);

impl Drop for ConnectingSlot<'_> {
    fn drop(&mut self) {
        {
            let mut pool = self.0.lock_pool();
            pool.connecting = pool.connecting.saturating_sub(1);
        }
        self.0.connected.notify_waiters();
    }
}

/// WebSocket is HTTP/1.1 only: a config that offers `h2` by ALPN gets a copy without it.
fn http1_only(tls: Arc<rustls::ClientConfig>) -> Arc<rustls::ClientConfig> {
    if !tls.alpn_protocols.iter().any(|p| p.as_slice() == b"h2") {
        return tls;
    }
    let mut config = (*tls).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Kills the socket over a response of the wrong type.
fn unexpected(socket: &Socket, request: &str, response: &Response) -> Error {
    socket.violation(format!("the server answered {request} with {response:?}"))
}

/// Unwraps the expected response variant, or kills the socket.
macro_rules! expect_response {
    ($socket:expr, $response:expr, $variant:ident, $name:literal) => {
        match $response {
            Response::$variant(r) => r,
            other => return Err(unexpected(&$socket, $name, &other)),
        }
    };
}

/// One Hrana stream (a server-side SQLite connection) on one socket.
pub struct WsStream {
    socket: Arc<Socket>,
    stream_id: i32,
    closed: bool,
}

impl std::fmt::Debug for WsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsStream")
            .field("socket", &self.socket.id())
            .field("stream_id", &self.stream_id)
            .field("broken", &self.is_broken())
            .finish()
    }
}

impl WsStream {
    pub async fn execute(&mut self, stmt: Stmt) -> Result<StmtResult> {
        let read_only = self.stmt_is_read_only(&stmt);
        let request = Request::Execute(ExecuteReq {
            stream_id: self.stream_id,
            stmt,
        });
        let response = self.socket.request(request, read_only).await?;
        Ok(expect_response!(self.socket, response, Execute, "execute").result)
    }

    pub async fn batch(&mut self, batch: Batch) -> Result<BatchResult> {
        let read_only = batch
            .steps
            .iter()
            .all(|step| self.stmt_is_read_only(&step.stmt));
        let request = Request::Batch(BatchReq {
            stream_id: self.stream_id,
            batch,
        });
        let response = self.socket.request(request, read_only).await?;
        Ok(expect_response!(self.socket, response, Batch, "batch").result)
    }

    /// Runs several statements separated by semicolons, discarding their rows (Hrana 2+).
    pub async fn sequence(&mut self, sql: String) -> Result<()> {
        self.require(Version::Hrana2, "sequence")?;
        // Every statement must be read-only; a semicolon inside a literal only makes the
        // pieces look less like reads, which errs on the safe side.
        let read_only = sql
            .split(';')
            .filter(|s| !s.trim().is_empty())
            .all(is_read_only_sql);
        let request = Request::Sequence(SequenceReq {
            stream_id: self.stream_id,
            sql: Some(sql),
            sql_id: None,
        });
        let response = self.socket.request(request, read_only).await?;
        expect_response!(self.socket, response, Sequence, "sequence");
        Ok(())
    }

    /// Prepares one statement without running it (Hrana 2+).
    pub async fn describe(&mut self, sql: String) -> Result<DescribeResult> {
        self.require(Version::Hrana2, "describe")?;
        let request = Request::Describe(DescribeReq {
            stream_id: self.stream_id,
            sql: Some(sql),
            sql_id: None,
        });
        let response = self.socket.request(request, true).await?;
        Ok(expect_response!(self.socket, response, Describe, "describe").result)
    }

    /// Whether the stream is outside an explicit transaction (Hrana 3).
    pub async fn get_autocommit(&mut self) -> Result<bool> {
        self.require(Version::Hrana3, "get_autocommit")?;
        let request = Request::GetAutocommit(GetAutocommitReq {
            stream_id: self.stream_id,
        });
        let response = self.socket.request(request, true).await?;
        Ok(expect_response!(self.socket, response, GetAutocommit, "get_autocommit").is_autocommit)
    }

    /// Stores SQL text on the socket and returns its `sql_id` (Hrana 2+). The id is valid on
    /// every stream of the same socket, and only there.
    pub async fn store_sql(&mut self, sql: String) -> Result<i32> {
        self.require(Version::Hrana2, "store_sql")?;
        let sql_id = self.socket.next_sql_id();
        let read_only = is_read_only_sql(&sql);
        let response = self
            .socket
            .request(Request::StoreSql(StoreSqlReq { sql_id, sql }), true)
            .await?;
        expect_response!(self.socket, response, StoreSql, "store_sql");
        self.socket.remember_sql(sql_id, Some(read_only));
        Ok(sql_id)
    }

    /// Forgets stored SQL text (Hrana 2+).
    pub async fn close_sql(&mut self, sql_id: i32) -> Result<()> {
        self.require(Version::Hrana2, "close_sql")?;
        let response = self
            .socket
            .request(Request::CloseSql(CloseSqlReq { sql_id }), true)
            .await?;
        expect_response!(self.socket, response, CloseSql, "close_sql");
        self.socket.remember_sql(sql_id, None);
        Ok(())
    }

    /// Runs a batch whose results arrive as entries, fetched as they are read (Hrana 3). The
    /// stream accepts no other request until the cursor is dropped or exhausted.
    pub async fn open_cursor(&mut self, batch: Batch) -> Result<WsCursor> {
        self.require(Version::Hrana3, "cursors")?;
        let read_only = batch
            .steps
            .iter()
            .all(|step| self.stmt_is_read_only(&step.stmt));
        let cursor_id = self.socket.next_cursor_id();
        // Built first: a failed open still needs `close_cursor` to free the id (SPEC §10.2).
        let mut cursor = WsCursor {
            socket: Arc::clone(&self.socket),
            cursor_id,
            entries: VecDeque::new(),
            done: false,
            closed: false,
        };
        let open = Request::OpenCursor(OpenCursorReq {
            stream_id: self.stream_id,
            cursor_id,
            batch,
        });
        // The first fetch goes out right behind the open, so the first rows arrive in one
        // round trip (the server handles a stream's requests in order).
        let fetch = Request::FetchCursor(FetchCursorReq {
            cursor_id,
            max_count: CURSOR_FETCH,
        });
        let (opened, fetched) = tokio::join!(
            self.socket.request(open, read_only),
            self.socket.request(fetch, true)
        );
        let response = opened?;
        expect_response!(self.socket, response, OpenCursor, "open_cursor");
        let response = fetched?;
        let fetched = expect_response!(self.socket, response, FetchCursor, "fetch_cursor");
        cursor.entries.extend(fetched.entries);
        cursor.done = fetched.done;
        Ok(cursor)
    }

    /// Whether the stream's socket died: the stream, and any transaction on it, is gone.
    pub fn is_broken(&self) -> bool {
        self.socket.is_dead()
    }

    /// Closes the stream and waits for the server to confirm (rolling back any transaction).
    pub async fn close(mut self) -> Result<()> {
        self.closed = true;
        if self.socket.is_dead() {
            return Ok(());
        }
        let request = Request::CloseStream(CloseStreamReq {
            stream_id: self.stream_id,
        });
        let response = self.socket.request(request, true).await?;
        expect_response!(self.socket, response, CloseStream, "close_stream");
        Ok(())
    }

    fn require(&self, version: Version, what: &str) -> Result<()> {
        if self.socket.version() >= version {
            return Ok(());
        }
        Err(Error::usage(
            code::UNSUPPORTED,
            format!(
                "{what} needs {version:?}; the server speaks {}",
                self.socket.subprotocol().name()
            ),
        ))
    }

    fn stmt_is_read_only(&self, stmt: &Stmt) -> bool {
        match (&stmt.sql, stmt.sql_id) {
            (Some(sql), None) => is_read_only_sql(sql),
            (None, Some(sql_id)) => self.socket.stored_sql_is_read_only(sql_id),
            _ => false,
        }
    }
}

impl Drop for WsStream {
    fn drop(&mut self) {
        if !self.closed {
            let stream_id = self.stream_id;
            self.socket
                .send_detached(Request::CloseStream(CloseStreamReq { stream_id }));
        }
        self.socket.release();
    }
}

/// A WebSocket cursor: entries fetched in batches, closed when exhausted or dropped.
pub struct WsCursor {
    socket: Arc<Socket>,
    cursor_id: i32,
    entries: VecDeque<CursorEntry>,
    done: bool,
    closed: bool,
}

impl std::fmt::Debug for WsCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsCursor")
            .field("socket", &self.socket.id())
            .field("cursor_id", &self.cursor_id)
            .field("buffered", &self.entries.len())
            .field("done", &self.done)
            .finish()
    }
}

impl WsCursor {
    /// The next entry, or `None` after the last one. Entries of unknown type are skipped.
    pub async fn next(&mut self) -> Result<Option<CursorEntry>> {
        loop {
            if let Some(entry) = self.entries.pop_front() {
                if matches!(entry, CursorEntry::Unknown) {
                    continue;
                }
                return Ok(Some(entry));
            }
            if self.done {
                self.close();
                return Ok(None);
            }
            self.fetch().await?;
        }
    }

    async fn fetch(&mut self) -> Result<()> {
        let request = Request::FetchCursor(FetchCursorReq {
            cursor_id: self.cursor_id,
            max_count: CURSOR_FETCH,
        });
        let response = self.socket.request(request, true).await?;
        let fetched = expect_response!(self.socket, response, FetchCursor, "fetch_cursor");
        self.entries.extend(fetched.entries);
        self.done = fetched.done;
        Ok(())
    }

    /// Sends `close_cursor` once; requests queued after it on the stream follow it in order.
    fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            let cursor_id = self.cursor_id;
            self.socket
                .send_detached(Request::CloseCursor(CloseCursorReq { cursor_id }));
        }
    }
}

impl Drop for WsCursor {
    fn drop(&mut self) {
        self.close();
    }
}
