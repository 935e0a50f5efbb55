//! One WebSocket connection: the handle that streams send requests through (request ids,
//! the table of pending requests, timeouts, cancellation), and the bookkeeping that decides
//! what each request is told when the socket dies: was it written, could it have changed the
//! database? The handshake is in [`super::handshake`], the reader and writer in [`super::io`].

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::StreamExt as _;
use tidepool_protocol::version::{Subprotocol, Version};
use tidepool_protocol::ws::{ClientMsg, HelloMsg, Request, RequestMsg, Response};
use tidepool_protocol::{codec, Encoding};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::Instrument as _;

use super::handshake::handshake;
use super::io::{read_loop, write_loop};
use crate::error::{code, Error, ErrorKind, Result};

pub(super) type WsError = tokio_tungstenite::tungstenite::Error;
pub(super) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a socket needs to connect.
pub(super) struct ConnectParams<'a> {
    pub id: u64,
    pub url: &'a url::Url,
    pub tls: &'a Arc<rustls::ClientConfig>,
    pub auth_token: Option<&'a str>,
    pub offered: &'a [Subprotocol],
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

/// Why a socket died, which decides what its pending requests are told.
#[derive(Clone, Debug)]
pub(super) enum Death {
    /// The server refused the hello: every request gets its error (`AUTH_*`).
    Hello(Error),
    /// The connection failed, closed, or the server broke the protocol.
    Lost(Error),
}

impl Death {
    /// The error for a request that was pending (or attempted) when the socket died.
    fn error_for(&self, written: bool, read_only: bool) -> Error {
        let cause = match self {
            Death::Hello(error) => return error.clone(),
            Death::Lost(cause) => cause.clone(),
        };
        if !written {
            let message =
                format!("the WebSocket connection is gone; the request was not sent: {cause}");
            Error::with_source(ErrorKind::Network, code::CONNECT_FAILED, message, cause)
        } else if read_only {
            let message = format!("the WebSocket connection was lost: {cause}");
            Error::with_source(ErrorKind::Network, code::NETWORK, message, cause)
        } else {
            let message = format!(
                "the WebSocket connection was lost after the request was sent; \
                 it may or may not have run: {cause}"
            );
            Error::with_source(ErrorKind::Network, code::OUTCOME_UNKNOWN, message, cause)
        }
    }
}

/// A request waiting for its response.
struct Pending {
    /// `None` for fire-and-forget requests (closing a stream or cursor on drop).
    reply: Option<oneshot::Sender<Result<Response>>>,
    written: bool,
    read_only: bool,
}

#[derive(Default)]
struct State {
    pending: HashMap<i32, Pending>,
    /// Written requests whose caller gave up: their late responses are dropped quietly.
    discard: HashSet<i32>,
    /// Whether each stored SQL text (by `sql_id`) is read-only.
    stored_sql: HashMap<i32, bool>,
    death: Option<Death>,
    next_request_id: i32,
}

/// The part of a socket its tasks share with the handles.
pub(super) struct Shared {
    pub(super) id: u64,
    state: Mutex<State>,
    dead: watch::Sender<bool>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a request and returns its id, or the error for a socket that is already dead.
    fn register(
        &self,
        reply: Option<oneshot::Sender<Result<Response>>>,
        read_only: bool,
    ) -> Result<i32> {
        let mut state = self.lock();
        if let Some(death) = &state.death {
            return Err(death.error_for(false, read_only));
        }
        let mut id = state.next_request_id;
        while state.pending.contains_key(&id) || state.discard.contains(&id) {
            id = id.wrapping_add(1);
        }
        state.next_request_id = id.wrapping_add(1);
        state.pending.insert(
            id,
            Pending {
                reply,
                written: false,
                read_only,
            },
        );
        Ok(id)
    }

    /// Marks a request as handed to the socket; false when its caller gave up before that.
    pub(super) fn mark_written(&self, id: i32) -> bool {
        match self.lock().pending.get_mut(&id) {
            Some(pending) => {
                pending.written = true;
                true
            }
            None => false,
        }
    }

    /// The caller stopped waiting (timeout or drop). Returns whether the request was written.
    fn abandon(&self, id: i32) -> bool {
        let mut state = self.lock();
        match state.pending.remove(&id) {
            Some(pending) if pending.written && state.death.is_none() => {
                state.discard.insert(id);
                true
            }
            Some(pending) => pending.written,
            None => true,
        }
    }

    /// Delivers a response. False when no request has that id: a protocol violation.
    pub(super) fn complete(&self, id: i32, response: Result<Response>) -> bool {
        let mut state = self.lock();
        match state.pending.remove(&id) {
            Some(pending) => {
                drop(state);
                if let Some(reply) = pending.reply {
                    // The caller may have given up in the meantime; that is fine.
                    let _ = reply.send(response);
                }
                true
            }
            None => state.discard.remove(&id),
        }
    }

    /// Marks the socket dead (the first cause wins) and fails every pending request.
    pub(super) fn kill(&self, death: Death) {
        let pending = {
            let mut state = self.lock();
            if state.death.is_some() {
                return;
            }
            state.death = Some(death.clone());
            state.discard.clear();
            std::mem::take(&mut state.pending)
        };
        tracing::debug!(socket = self.id, cause = ?death, "WebSocket connection died");
        self.dead.send_replace(true);
        for (_, p) in pending {
            if let Some(reply) = p.reply {
                let _ = reply.send(Err(death.error_for(p.written, p.read_only)));
            }
        }
    }

    fn is_dead(&self) -> bool {
        self.lock().death.is_some()
    }

    /// Whether the socket died because the server broke the protocol.
    pub(super) fn died_of_violation(&self) -> bool {
        matches!(&self.lock().death, Some(Death::Lost(e)) if e.code() == code::PROTOCOL_VIOLATION)
    }
}

/// A live WebSocket connection to the server. Dropping the last handle closes it.
pub(super) struct Socket {
    shared: Arc<Shared>,
    outbox: mpsc::UnboundedSender<(i32, Message)>,
    subprotocol: Subprotocol,
    request_timeout: Duration,
    /// Open streams (the pool's measure of load).
    streams: AtomicUsize,
    next_stream_id: AtomicI32,
    next_cursor_id: AtomicI32,
    next_sql_id: AtomicI32,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.shared.id)
            .field("subprotocol", &self.subprotocol.name())
            .field("streams", &self.load())
            .field("dead", &self.is_dead())
            .finish()
    }
}

impl Socket {
    /// Connects (TCP, TLS, WebSocket handshake) under the connect timeout and starts the tasks.
    pub(super) async fn connect(params: ConnectParams<'_>) -> Result<Socket> {
        let span = tracing::debug_span!("tidepool.ws.connect", socket = params.id);
        let handshake = handshake(params.url, params.tls, params.offered).instrument(span);
        let (ws, subprotocol) = tokio::time::timeout(params.connect_timeout, handshake)
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::Timeout,
                    code::CONNECT_FAILED,
                    format!(
                        "connecting the WebSocket timed out after {:?}",
                        params.connect_timeout
                    ),
                )
            })??;
        let (dead, dead_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            id: params.id,
            state: Mutex::default(),
            dead,
        });
        let (outbox, inbox) = mpsc::unbounded_channel();
        let (sink, stream) = ws.split();
        let encoding = subprotocol.encoding;
        let hello = ClientMsg::Hello(HelloMsg {
            jwt: params.auth_token.map(str::to_owned),
        });
        let hello = frame(encoding, &hello);
        tokio::spawn(write_loop(
            Arc::clone(&shared),
            sink,
            hello,
            inbox,
            dead_rx.clone(),
        ));
        tokio::spawn(read_loop(Arc::clone(&shared), stream, encoding, dead_rx));
        tracing::debug!(
            socket = params.id,
            subprotocol = subprotocol.name(),
            "WebSocket connected"
        );
        Ok(Socket {
            shared,
            outbox,
            subprotocol,
            request_timeout: params.request_timeout,
            streams: AtomicUsize::new(0),
            next_stream_id: AtomicI32::new(1),
            next_cursor_id: AtomicI32::new(1),
            next_sql_id: AtomicI32::new(1),
        })
    }

    pub(super) fn id(&self) -> u64 {
        self.shared.id
    }

    pub(super) fn subprotocol(&self) -> Subprotocol {
        self.subprotocol
    }

    pub(super) fn version(&self) -> Version {
        self.subprotocol.version
    }

    pub(super) fn is_dead(&self) -> bool {
        self.shared.is_dead()
    }

    pub(super) fn load(&self) -> usize {
        self.streams.load(Ordering::Relaxed)
    }

    /// Counts a stream against this socket; [`Socket::release`] undoes it.
    pub(super) fn reserve(&self) {
        self.streams.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn release(&self) {
        let _ = self
            .streams
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    pub(super) fn next_stream_id(&self) -> i32 {
        self.next_stream_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(super) fn next_cursor_id(&self) -> i32 {
        self.next_cursor_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(super) fn next_sql_id(&self) -> i32 {
        self.next_sql_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Remembers whether a stored SQL text is read-only, for classifying failures.
    pub(super) fn remember_sql(&self, sql_id: i32, read_only: Option<bool>) {
        let mut state = self.shared.lock();
        match read_only {
            Some(read_only) => state.stored_sql.insert(sql_id, read_only),
            None => state.stored_sql.remove(&sql_id),
        };
    }

    /// Whether a stored SQL text is known to be read-only (unknown ids count as writes).
    pub(super) fn stored_sql_is_read_only(&self, sql_id: i32) -> bool {
        self.shared
            .lock()
            .stored_sql
            .get(&sql_id)
            .copied()
            .unwrap_or(false)
    }

    /// Sends a request and waits for its response, under the request timeout. Dropping the
    /// future abandons the request: an unsent request is never sent, a late response is
    /// discarded.
    pub(super) async fn request(&self, request: Request, read_only: bool) -> Result<Response> {
        let name = request_name(&request);
        let (reply, response) = oneshot::channel();
        let id = self.shared.register(Some(reply), read_only)?;
        let span = tracing::debug_span!(
            "tidepool.ws.request",
            socket = self.shared.id,
            request = name,
            request_id = id,
            read_only,
        );
        let guard = Abandon {
            shared: &self.shared,
            id,
            armed: true,
        };
        self.enqueue(id, request);
        let outcome = tokio::time::timeout(self.request_timeout, response)
            .instrument(span)
            .await;
        match outcome {
            Ok(Ok(result)) => {
                guard.disarm();
                result
            }
            // The reply was dropped unsent: only when the socket's tasks ended abnormally.
            Ok(Err(_)) => Err(self.death_error(guard.give_up(), read_only)),
            Err(_) => {
                let written = guard.give_up();
                tracing::debug!(
                    socket = self.shared.id,
                    request_id = id,
                    written,
                    "request timed out"
                );
                Err(timeout_error(written && !read_only, self.request_timeout))
            }
        }
    }

    /// Sends a request whose response nobody waits for (closing a stream or cursor on drop).
    pub(super) fn send_detached(&self, request: Request) {
        if let Ok(id) = self.shared.register(None, true) {
            self.enqueue(id, request);
        }
    }

    /// Kills the socket because the server broke the protocol, and returns that error.
    pub(super) fn violation(&self, message: impl Into<String>) -> Error {
        let error = Error::protocol(message);
        self.shared.kill(Death::Lost(error.clone()));
        error
    }

    fn enqueue(&self, id: i32, request: Request) {
        let message = frame(
            self.subprotocol.encoding,
            &ClientMsg::Request(RequestMsg {
                request_id: id,
                request,
            }),
        );
        if self.outbox.send((id, message)).is_err() {
            // The writer is gone, so the socket is already dead and the request failed with it.
            self.shared
                .kill(Death::Lost(lost("the WebSocket writer stopped")));
        }
    }

    fn death_error(&self, written: bool, read_only: bool) -> Error {
        let state = self.shared.lock();
        match &state.death {
            Some(death) => death.error_for(written, read_only),
            None => Death::Lost(lost("the request was dropped")).error_for(written, read_only),
        }
    }
}

/// Abandons a request when its future is dropped before the response arrives.
struct Abandon<'a> {
    shared: &'a Shared,
    id: i32,
    armed: bool,
}

impl Abandon<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }

    /// Abandons the request now; returns whether it was written.
    fn give_up(mut self) -> bool {
        self.armed = false;
        self.shared.abandon(self.id)
    }
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.abandon(self.id);
        }
    }
}

pub(super) fn lost(message: &str) -> Error {
    Error::new(ErrorKind::Network, code::NETWORK, message)
}

fn timeout_error(may_have_run: bool, after: Duration) -> Error {
    if may_have_run {
        let message = format!("the request timed out after {after:?}; it may or may not have run");
        Error::new(ErrorKind::Timeout, code::OUTCOME_UNKNOWN, message)
    } else {
        Error::new(
            ErrorKind::Timeout,
            code::TIMEOUT,
            format!("the request timed out after {after:?}"),
        )
    }
}

/// The wire name of a request, for spans.
fn request_name(request: &Request) -> &'static str {
    match request {
        Request::OpenStream(_) => "open_stream",
        Request::CloseStream(_) => "close_stream",
        Request::Execute(_) => "execute",
        Request::Batch(_) => "batch",
        Request::OpenCursor(_) => "open_cursor",
        Request::CloseCursor(_) => "close_cursor",
        Request::FetchCursor(_) => "fetch_cursor",
        Request::Sequence(_) => "sequence",
        Request::Describe(_) => "describe",
        Request::StoreSql(_) => "store_sql",
        Request::CloseSql(_) => "close_sql",
        Request::GetAutocommit(_) => "get_autocommit",
        Request::Unknown => "unknown",
    }
}

/// One message as a frame: text for JSON, binary for protobuf.
fn frame(encoding: Encoding, msg: &ClientMsg) -> Message {
    let bytes = codec::encode(encoding, msg);
    match encoding {
        // JSON encoding produces UTF-8; a failure here would be a serde_json bug.
        Encoding::Json => match String::from_utf8(bytes) {
            Ok(text) => Message::text(text),
            Err(e) => Message::binary(e.into_bytes()),
        },
        Encoding::Protobuf => Message::binary(bytes),
    }
}
