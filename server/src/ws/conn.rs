//! One WebSocket connection: reads client messages in order, keeps the connection-level state
//! (authentication, stored SQL, which stream owns which cursor) and hands stream requests to
//! per-stream workers, which answer in any order.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message};
use futures_util::{Sink, SinkExt as _, Stream, StreamExt as _};
use tidepool_protocol::version::Subprotocol;
use tidepool_protocol::ws::{
    ClientMsg, CloseSqlResp, HelloErrorMsg, HelloOkMsg, OpenStreamResp, Request, RequestMsg,
    Response, ResponseErrorMsg, ResponseOkMsg, ServerMsg, StoreSqlResp,
};
use tidepool_protocol::{codec, Encoding, Error};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::stream::{self, Op, StreamOp};
use crate::auth::Access;
use crate::errors::{code, err};
use crate::state::{now_unix_secs, store_sql, AppState};

/// A message on its way to the socket, holding the in-flight slot of its request.
pub struct Outgoing {
    pub msg: ServerMsg,
    pub permit: Option<OwnedSemaphorePermit>,
}

/// Sends server messages to the writer task.
pub type Outbox = mpsc::UnboundedSender<Outgoing>;

/// Most messages written before a flush.
const MAX_UNFLUSHED: usize = 64;

/// Close codes (RFC 6455).
const CLOSE_PROTOCOL: u16 = 1002;
const CLOSE_UNSUPPORTED: u16 = 1003;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;

struct Conn {
    app: Arc<AppState>,
    /// `None` until a hello succeeds (or a token came with the upgrade).
    access: Option<Access>,
    streams: HashMap<i32, mpsc::UnboundedSender<StreamOp>>,
    /// Which stream each open cursor belongs to.
    cursors: HashMap<i32, i32>,
    sqls: Arc<HashMap<i32, Arc<str>>>,
    outbox: Outbox,
}

/// Runs a connection until the client leaves or breaks the protocol. `socket` is the
/// upgraded WebSocket, or any other carrier of its messages (the in-process harness,
/// [`crate::WsHarness`]).
pub async fn run<S>(
    app: Arc<AppState>,
    socket: S,
    protocol: Subprotocol,
    header_access: Option<Access>,
) where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error>,
    S: Send + 'static,
{
    let _live = app.ws_connections.enter();
    let (mut sink, mut source) = socket.split();
    let (outbox, mut outgoing) = mpsc::unbounded_channel::<Outgoing>();
    let encoding = protocol.encoding;
    let writer = tokio::spawn(async move {
        // Everything already queued goes out in one write (say, the answers to an
        // `open_cursor` and the `fetch_cursor` pipelined behind it), so the client wakes once.
        let mut permits = Vec::new();
        while let Some(first) = outgoing.recv().await {
            let mut next = Some(first);
            let mut sent = Ok(());
            while let Some(Outgoing { msg, permit }) = next {
                sent = sink.feed(encode(encoding, &msg)).await;
                permits.extend(permit);
                if sent.is_err() || permits.len() >= MAX_UNFLUSHED {
                    break;
                }
                next = outgoing.try_recv().ok();
            }
            if sent.is_err() || sink.flush().await.is_err() {
                break;
            }
            permits.clear();
        }
        sink
    });

    let inflight = Arc::new(Semaphore::new(app.config.max_ws_inflight));
    let mut conn = Conn {
        app,
        access: header_access,
        streams: HashMap::new(),
        cursors: HashMap::new(),
        sqls: Arc::new(HashMap::new()),
        outbox,
    };
    let mut hello_seen = false;
    let close = loop {
        let frame = match source.next().await {
            Some(Ok(frame)) => frame,
            // tungstenite reports a message over the size limit as a capacity error.
            Some(Err(e)) if e.to_string().contains("Space limit exceeded") => {
                break Some((CLOSE_TOO_BIG, "message is over the size limit"));
            }
            Some(Err(_)) | None => break None,
        };
        let bytes = match (frame, encoding) {
            (Message::Text(text), Encoding::Json) => bytes::Bytes::from(text),
            (Message::Binary(bytes), Encoding::Protobuf) => bytes,
            (Message::Text(_) | Message::Binary(_), _) => {
                break Some((
                    CLOSE_UNSUPPORTED,
                    "frame type does not match the negotiated encoding",
                ));
            }
            (Message::Close(_), _) => break None,
            _ => continue,
        };
        let msg: ClientMsg = match codec::decode(encoding, &bytes) {
            Ok(msg) => msg,
            Err(_) => break Some((CLOSE_PROTOCOL, "malformed message")),
        };
        match msg {
            ClientMsg::Hello(hello) => {
                hello_seen = true;
                let now = now_unix_secs();
                match conn.app.auth.authenticate(hello.jwt.as_deref(), now) {
                    Ok(access) => {
                        conn.access = Some(access);
                        conn.send(ServerMsg::HelloOk(HelloOkMsg {}), None);
                    }
                    Err(e) => {
                        let error = err(e.code(), e.to_string());
                        conn.send(ServerMsg::HelloError(HelloErrorMsg { error }), None);
                        break Some((CLOSE_POLICY, "authentication failed"));
                    }
                }
            }
            ClientMsg::Request(request) => {
                if !hello_seen {
                    break Some((CLOSE_PROTOCOL, "a request arrived before hello"));
                }
                let Some(access) = conn.access else {
                    break Some((CLOSE_POLICY, "not authenticated"));
                };
                // Holding back here stops reading the socket: TCP back-pressure on the client.
                let Ok(permit) = Arc::clone(&inflight).acquire_owned().await else {
                    break None;
                };
                conn.dispatch(request, access, permit);
            }
            ClientMsg::Unknown => break Some((CLOSE_PROTOCOL, "unknown message type")),
        }
    };
    // Ending the workers rolls back their transactions and returns their connections.
    let Conn {
        outbox, streams, ..
    } = conn;
    drop(streams);
    drop(outbox);
    if let Ok(mut sink) = writer.await {
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = sink.send(Message::Close(Some(frame))).await;
        }
        let _ = sink.close().await;
    }
}

fn encode(encoding: Encoding, msg: &ServerMsg) -> Message {
    match encoding {
        Encoding::Json => Message::Text(serde_json::to_string(msg).unwrap_or_default().into()),
        Encoding::Protobuf => Message::Binary(codec::encode(encoding, msg).into()),
    }
}

impl Conn {
    fn send(&self, msg: ServerMsg, permit: Option<OwnedSemaphorePermit>) {
        // The writer only stops when the socket is gone; then there is no one to tell.
        let _ = self.outbox.send(Outgoing { msg, permit });
    }

    fn reply(
        &self,
        request_id: i32,
        result: Result<Response, Error>,
        permit: OwnedSemaphorePermit,
    ) {
        self.send(reply_msg(request_id, result), Some(permit));
    }

    fn dispatch(&mut self, msg: RequestMsg, access: Access, permit: OwnedSemaphorePermit) {
        let RequestMsg {
            request_id,
            request,
        } = msg;
        let to_stream = |conn: &Self, stream_id: i32, op: Op, permit| {
            conn.to_stream(
                stream_id,
                StreamOp {
                    request_id,
                    op,
                    access,
                    permit,
                },
            )
        };
        match request {
            Request::OpenStream(req) => {
                let result = self.open_stream(req.stream_id);
                self.reply(
                    request_id,
                    result.map(|()| Response::OpenStream(OpenStreamResp {})),
                    permit,
                );
            }
            Request::CloseStream(req) => {
                self.cursors.retain(|_, stream| *stream != req.stream_id);
                match self.streams.remove(&req.stream_id) {
                    Some(worker) => {
                        let op = StreamOp {
                            request_id,
                            op: Op::Close,
                            access,
                            permit,
                        };
                        if let Err(mpsc::error::SendError(op)) = worker.send(op) {
                            self.reply(request_id, Ok(stream::closed_response()), op.permit);
                        }
                    }
                    // Closing a stream that failed to open (or is gone) succeeds.
                    None => self.reply(request_id, Ok(stream::closed_response()), permit),
                }
            }
            Request::Execute(req) => {
                let op = Op::Execute(req.stmt, Arc::clone(&self.sqls));
                to_stream(self, req.stream_id, op, permit);
            }
            Request::Batch(req) => {
                let op = Op::Batch(req.batch, Arc::clone(&self.sqls));
                to_stream(self, req.stream_id, op, permit);
            }
            Request::Sequence(req) => {
                let op = Op::Sequence(req.sql, req.sql_id, Arc::clone(&self.sqls));
                to_stream(self, req.stream_id, op, permit);
            }
            Request::Describe(req) => {
                let op = Op::Describe(req.sql, req.sql_id, Arc::clone(&self.sqls));
                to_stream(self, req.stream_id, op, permit);
            }
            Request::GetAutocommit(req) => {
                to_stream(self, req.stream_id, Op::GetAutocommit, permit)
            }
            Request::OpenCursor(req) => {
                if self.cursors.contains_key(&req.cursor_id) {
                    let e = err(
                        code::CURSOR_EXISTS,
                        format!("cursor {} is already open", req.cursor_id),
                    );
                    return self.reply(request_id, Err(e), permit);
                }
                if !self.streams.contains_key(&req.stream_id) {
                    return self.reply(request_id, Err(stream_not_found(req.stream_id)), permit);
                }
                self.cursors.insert(req.cursor_id, req.stream_id);
                let op = Op::OpenCursor(req.cursor_id, req.batch, Arc::clone(&self.sqls));
                to_stream(self, req.stream_id, op, permit);
            }
            Request::FetchCursor(req) => match self.cursors.get(&req.cursor_id) {
                Some(&stream_id) => to_stream(
                    self,
                    stream_id,
                    Op::FetchCursor(req.cursor_id, req.max_count),
                    permit,
                ),
                None => {
                    let e = err(
                        code::CURSOR_NOT_FOUND,
                        format!("no open cursor {}", req.cursor_id),
                    );
                    self.reply(request_id, Err(e), permit);
                }
            },
            Request::CloseCursor(req) => match self.cursors.remove(&req.cursor_id) {
                Some(stream_id) => {
                    to_stream(self, stream_id, Op::CloseCursor(req.cursor_id), permit)
                }
                None => {
                    let e = err(
                        code::CURSOR_NOT_FOUND,
                        format!("no open cursor {}", req.cursor_id),
                    );
                    self.reply(request_id, Err(e), permit);
                }
            },
            Request::StoreSql(req) => {
                let limit = self.app.config.max_sql_texts;
                let result = store_sql(Arc::make_mut(&mut self.sqls), req.sql_id, req.sql, limit);
                self.reply(
                    request_id,
                    result.map(|()| Response::StoreSql(StoreSqlResp {})),
                    permit,
                );
            }
            Request::CloseSql(req) => {
                Arc::make_mut(&mut self.sqls).remove(&req.sql_id);
                self.reply(request_id, Ok(Response::CloseSql(CloseSqlResp {})), permit);
            }
            Request::Unknown => {
                let e = err(code::UNKNOWN_REQUEST, "unknown request type");
                self.reply(request_id, Err(e), permit);
            }
        }
    }

    fn open_stream(&mut self, stream_id: i32) -> Result<(), Error> {
        if self.streams.contains_key(&stream_id) {
            return Err(err(
                code::STREAM_EXISTS,
                format!("stream {stream_id} is already open"),
            ));
        }
        if self.streams.len() >= self.app.config.max_ws_streams {
            let limit = self.app.config.max_ws_streams;
            return Err(err(
                code::STREAM_LIMIT,
                format!("at most {limit} streams per connection"),
            ));
        }
        let worker = stream::spawn(Arc::clone(&self.app), self.outbox.clone());
        self.streams.insert(stream_id, worker);
        Ok(())
    }

    fn to_stream(&self, stream_id: i32, op: StreamOp) {
        let Some(worker) = self.streams.get(&stream_id) else {
            return self.reply(op.request_id, Err(stream_not_found(stream_id)), op.permit);
        };
        if let Err(mpsc::error::SendError(op)) = worker.send(op) {
            let e = err(code::INTERNAL, "the stream's worker has stopped");
            self.reply(op.request_id, Err(e), op.permit);
        }
    }
}

fn stream_not_found(stream_id: i32) -> Error {
    err(
        code::STREAM_NOT_FOUND,
        format!("stream {stream_id} is not open"),
    )
}

/// The message answering request `request_id`.
pub fn reply_msg(request_id: i32, result: Result<Response, Error>) -> ServerMsg {
    match result {
        Ok(response) => ServerMsg::ResponseOk(ResponseOkMsg {
            request_id,
            response,
        }),
        Err(error) => ServerMsg::ResponseError(ResponseErrorMsg { request_id, error }),
    }
}
