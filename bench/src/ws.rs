//! Hrana 3 over WebSocket with tokio-tungstenite (TCP_NODELAY on).
//!
//! [`WsConn`] owns its socket and talks to it directly (no helper tasks), which is the floor for
//! one request at a time per socket. [`WsMux`] shares one socket between many tasks, each on its
//! own Hrana stream: a writer task batches outgoing frames and a reader task routes responses
//! to their requests by `request_id`, as a multiplexing client must.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context as _};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use tidepool_protocol::version::{Subprotocol, Version};
use tidepool_protocol::ws::{
    ClientMsg, ExecuteReq, HelloMsg, OpenStreamReq, Request, RequestMsg, Response, ServerMsg,
};
use tidepool_protocol::{codec, Encoding, Stmt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// `http://host:port` → `ws://host:port/`.
pub fn ws_url(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}/")
    } else if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}/")
    } else {
        format!("{base}/")
    }
}

fn frame(encoding: Encoding, msg: &ClientMsg) -> Message {
    let bytes = codec::encode(encoding, msg);
    match encoding {
        // serde_json only writes UTF-8.
        Encoding::Json => Message::text(String::from_utf8_lossy(&bytes).into_owned()),
        Encoding::Protobuf => Message::binary(bytes),
    }
}

/// Decodes a data frame; `None` for control frames.
fn unframe(encoding: Encoding, message: Message) -> anyhow::Result<Option<ServerMsg>> {
    let msg = match message {
        Message::Text(text) => codec::decode(encoding, text.as_bytes())?,
        Message::Binary(bytes) => codec::decode(encoding, &bytes)?,
        Message::Close(close) => bail!("server closed the socket: {close:?}"),
        _ => return Ok(None),
    };
    Ok(Some(msg))
}

/// The outcome of a response message for request `id`, if it is one.
fn outcome(msg: ServerMsg) -> anyhow::Result<(i32, anyhow::Result<Response>)> {
    match msg {
        ServerMsg::ResponseOk(ok) => Ok((ok.request_id, Ok(ok.response))),
        ServerMsg::ResponseError(e) => Ok((e.request_id, Err(anyhow!("{}", e.error.message)))),
        other => bail!("unexpected server message {other:?}"),
    }
}

pub fn execute(stream_id: i32, stmt: Stmt) -> Request {
    Request::Execute(ExecuteReq { stream_id, stmt })
}

/// One socket used by one task at a time.
#[derive(Debug)]
pub struct WsConn {
    socket: Socket,
    encoding: Encoding,
    next_id: i32,
}

impl WsConn {
    /// Connects with the `hrana3` or `hrana3-protobuf` subprotocol and completes the hello.
    pub async fn connect(
        base_url: &str,
        encoding: Encoding,
        token: Option<&str>,
    ) -> anyhow::Result<Self> {
        let protocol = Subprotocol {
            version: Version::Hrana3,
            encoding,
        };
        let mut request = ws_url(base_url).into_client_request()?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(protocol.name()),
        );
        let (socket, response) = tokio_tungstenite::connect_async_with_config(request, None, true)
            .await
            .context("WebSocket handshake")?;
        let agreed = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok());
        if agreed != Some(protocol.name()) {
            bail!(
                "server chose subprotocol {agreed:?}, not {}",
                protocol.name()
            );
        }
        let mut conn = WsConn {
            socket,
            encoding,
            next_id: 1,
        };
        let hello = ClientMsg::Hello(HelloMsg {
            jwt: token.map(str::to_owned),
        });
        conn.socket.send(frame(encoding, &hello)).await?;
        match conn.recv().await? {
            ServerMsg::HelloOk(_) => Ok(conn),
            ServerMsg::HelloError(e) => bail!("hello refused: {}", e.error.message),
            other => bail!("unexpected reply to hello: {other:?}"),
        }
    }

    async fn recv(&mut self) -> anyhow::Result<ServerMsg> {
        loop {
            let message = self
                .socket
                .next()
                .await
                .ok_or_else(|| anyhow!("socket closed"))??;
            if let Some(msg) = unframe(self.encoding, message)? {
                return Ok(msg);
            }
        }
    }

    fn request_frame(&mut self, request: Request) -> Message {
        let request_id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        frame(
            self.encoding,
            &ClientMsg::Request(RequestMsg {
                request_id,
                request,
            }),
        )
    }

    /// Sends one request and waits for its response.
    pub async fn request(&mut self, request: Request) -> anyhow::Result<Response> {
        let message = self.request_frame(request);
        self.socket.send(message).await?;
        let (_, result) = outcome(self.recv().await?)?;
        result
    }

    /// Writes every request, flushes once, then reads as many responses: one round trip.
    pub async fn pipeline(&mut self, requests: Vec<Request>) -> anyhow::Result<()> {
        let count = requests.len();
        for request in requests {
            let message = self.request_frame(request);
            self.socket.feed(message).await?;
        }
        self.socket.flush().await?;
        for _ in 0..count {
            outcome(self.recv().await?)?.1?;
        }
        Ok(())
    }

    pub async fn open_stream(&mut self, stream_id: i32) -> anyhow::Result<()> {
        self.request(Request::OpenStream(OpenStreamReq { stream_id }))
            .await
            .map(drop)
    }

    /// Turns the connection into a multiplexed one.
    pub fn into_mux(self) -> WsMux {
        WsMux::new(self.socket, self.encoding)
    }
}

type Pending = Arc<Mutex<HashMap<i32, oneshot::Sender<anyhow::Result<Response>>>>>;

/// One socket shared by many tasks.
#[derive(Debug)]
pub struct WsMux {
    outgoing: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_id: AtomicI32,
    encoding: Encoding,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for WsMux {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl WsMux {
    fn new(socket: Socket, encoding: Encoding) -> Self {
        let (sink, source) = socket.split();
        let (outgoing, queue) = mpsc::unbounded_channel();
        let pending: Pending = Arc::default();
        tokio::spawn(write_loop(sink, queue));
        let reader = tokio::spawn(read_loop(source, encoding, Arc::clone(&pending)));
        WsMux {
            outgoing,
            pending,
            next_id: AtomicI32::new(1_000_000),
            encoding,
            reader,
        }
    }

    pub async fn request(&self, request: Request) -> anyhow::Result<Response> {
        let request_id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .map_err(|_| anyhow!("poisoned"))?
            .insert(request_id, tx);
        let message = frame(
            self.encoding,
            &ClientMsg::Request(RequestMsg {
                request_id,
                request,
            }),
        );
        self.outgoing
            .send(message)
            .map_err(|_| anyhow!("socket writer ended"))?;
        rx.await.map_err(|_| anyhow!("socket reader ended"))?
    }
}

/// Writes queued frames, flushing once per burst rather than once per frame.
async fn write_loop(
    mut sink: SplitSink<Socket, Message>,
    mut queue: mpsc::UnboundedReceiver<Message>,
) {
    while let Some(message) = queue.recv().await {
        if sink.feed(message).await.is_err() {
            return;
        }
        while let Ok(message) = queue.try_recv() {
            if sink.feed(message).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
    let _ = sink.close().await;
}

async fn read_loop(mut source: SplitStream<Socket>, encoding: Encoding, pending: Pending) {
    let fail = |pending: &Pending, why: String| {
        if let Ok(mut map) = pending.lock() {
            for (_, tx) in map.drain() {
                let _ = tx.send(Err(anyhow!("{why}")));
            }
        }
    };
    while let Some(message) = source.next().await {
        let routed = message
            .map_err(anyhow::Error::from)
            .and_then(|m| unframe(encoding, m))
            .and_then(|m| m.map(outcome).transpose());
        match routed {
            Ok(Some((id, result))) => {
                let waiter = pending.lock().ok().and_then(|mut map| map.remove(&id));
                if let Some(tx) = waiter {
                    let _ = tx.send(result);
                }
            }
            Ok(None) => {}
            Err(e) => return fail(&pending, e.to_string()),
        }
    }
    fail(&pending, "socket closed".to_owned());
}
