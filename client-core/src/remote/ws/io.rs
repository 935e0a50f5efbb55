//! A socket's two tasks: the writer sends `hello` and then queued requests in order; the
//! reader delivers responses by `request_id` and kills the socket on anything it cannot
//! accept.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use tidepool_protocol::ws::ServerMsg;
use tidepool_protocol::{codec, Encoding};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use super::socket::{lost, Death, Shared, Ws, WsError};
use crate::error::{code, Error, ErrorKind, Result};

/// How long a dying socket spends telling the server why (a close frame) before it lets go.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Sends `hello`, then each queued request in order, marking it written first. Ends when the
/// socket dies or every handle is dropped (then it closes the connection politely).
pub(super) async fn write_loop(
    shared: Arc<Shared>,
    mut sink: SplitSink<Ws, Message>,
    hello: Message,
    mut inbox: mpsc::UnboundedReceiver<(i32, Message)>,
    mut dead: watch::Receiver<bool>,
) {
    if let Err(e) = sink.send(hello).await {
        shared.kill(Death::Lost(network_error("sending hello failed", e)));
        return;
    }
    loop {
        let next = tokio::select! {
            next = inbox.recv() => next,
            _ = dead.wait_for(|dead| *dead) => break,
        };
        let Some(first) = next else {
            // Every handle is gone: nothing more to send.
            let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
            shared.kill(Death::Lost(lost("the client closed the connection")));
            return;
        };
        if let Err(e) = send_queued(&shared, &mut sink, first, &mut inbox).await {
            shared.kill(Death::Lost(network_error(
                "sending to the server failed",
                e,
            )));
            return;
        }
    }
    say_goodbye(&shared, &mut sink).await;
}

/// Feeds `first` and everything else already queued, then flushes once.
async fn send_queued(
    shared: &Shared,
    sink: &mut SplitSink<Ws, Message>,
    first: (i32, Message),
    inbox: &mut mpsc::UnboundedReceiver<(i32, Message)>,
) -> std::result::Result<(), WsError> {
    let mut next = Some(first);
    while let Some((id, message)) = next {
        if shared.mark_written(id) {
            sink.feed(message).await?;
        }
        next = inbox.try_recv().ok();
    }
    sink.flush().await
}

/// Closes a dead connection, with 1002 when the server broke the protocol.
async fn say_goodbye(shared: &Shared, sink: &mut SplitSink<Ws, Message>) {
    let violation = shared.died_of_violation();
    if violation {
        let frame = CloseFrame {
            code: CloseCode::Protocol,
            reason: "protocol violation".into(),
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(Message::Close(Some(frame)))).await;
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
}

/// Reads server messages until the socket dies, delivering responses by `request_id`.
pub(super) async fn read_loop(
    shared: Arc<Shared>,
    mut stream: SplitStream<Ws>,
    encoding: Encoding,
    mut dead: watch::Receiver<bool>,
) {
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = dead.wait_for(|dead| *dead) => return,
        };
        let bytes = match next {
            Some(Ok(Message::Text(text))) => bytes::Bytes::from(text),
            Some(Ok(Message::Binary(bytes))) => bytes,
            Some(Ok(Message::Close(frame))) => {
                let reason = match frame {
                    Some(f) => {
                        format!("the server closed the connection ({} {})", f.code, f.reason)
                    }
                    None => "the server closed the connection".to_owned(),
                };
                shared.kill(Death::Lost(lost(&reason)));
                return;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                shared.kill(Death::Lost(network_error(
                    "reading from the server failed",
                    e,
                )));
                return;
            }
            None => {
                shared.kill(Death::Lost(lost("the server closed the connection")));
                return;
            }
        };
        if let Err(error) = dispatch(&shared, encoding, &bytes) {
            tracing::warn!(socket = shared.id, %error, "closing a WebSocket that broke the protocol");
            shared.kill(Death::Lost(error));
            return;
        }
    }
}

/// Handles one server message; an error is a protocol violation that kills the socket.
fn dispatch(shared: &Shared, encoding: Encoding, bytes: &[u8]) -> Result<()> {
    let msg: ServerMsg = codec::decode(encoding, bytes)
        .map_err(|e| Error::protocol(format!("undecodable server message: {e}")))?;
    let (id, response) = match msg {
        ServerMsg::HelloOk(_) => return Ok(()),
        ServerMsg::HelloError(m) => {
            shared.kill(Death::Hello(Error::from_wire(m.error)));
            return Ok(());
        }
        ServerMsg::ResponseOk(m) => (m.request_id, Ok(m.response)),
        ServerMsg::ResponseError(m) => (m.request_id, Err(Error::from_wire(m.error))),
        ServerMsg::Unknown => return Err(Error::protocol("a server message of unknown type")),
    };
    if shared.complete(id, response) {
        Ok(())
    } else {
        Err(Error::protocol(format!(
            "a response to unknown request_id {id}"
        )))
    }
}

fn network_error(what: &str, e: WsError) -> Error {
    Error::with_source(ErrorKind::Network, code::NETWORK, format!("{what}: {e}"), e)
}
