//! The server's WebSocket connection handling end to end, in-process: `ws/conn.rs` and the
//! stream workers behind it, through [`tidepool_server::WsHarness`] over a fresh database per
//! input (no socket; the same handler a real upgrade runs).
//!
//! Input: one byte choosing the subprotocol the upgrade agreed (none/Hrana 1, hrana2, hrana3,
//! hrana3-protobuf), then the client's messages, each a little-endian `u16` length and that
//! many bytes (a short tail is a last, shorter message). Messages go out as text frames under a
//! JSON subprotocol and binary frames under protobuf, except that a length with its top bit set
//! sends the other kind (which the server must refuse with a close).
//!
//! What must hold: every server message is a frame of the negotiated kind that decodes, or a
//! close; a response answers a request that was sent, never more often than it was sent; when
//! the server did not close the connection, every request was answered; no response is an
//! `INTERNAL` error; once the session ends the server holds no connection and no stream.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::Message;
use tidepool_protocol::codec;
use tidepool_protocol::ws::{ClientMsg, ServerMsg};
use tidepool_protocol::Encoding;
use tidepool_server::{Config, WsHarness};

use crate::server::{runtime, scratch_dir, skipped};

const SUBPROTOCOLS: [Option<&str>; 4] = [
    None,
    Some("hrana2"),
    Some("hrana3"),
    Some("hrana3-protobuf"),
];

/// The most messages one input sends.
const MAX_MESSAGES: usize = 64;

pub fn ws_session(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if skipped(rest) {
        return;
    }
    let subprotocol = SUBPROTOCOLS[usize::from(selector) % SUBPROTOCOLS.len()];
    let encoding = if subprotocol == Some("hrana3-protobuf") {
        Encoding::Protobuf
    } else {
        Encoding::Json
    };
    let messages = split(rest, encoding);

    // What the client asked, by request id, as the server will read it.
    let mut asked: HashMap<i32, usize> = HashMap::new();
    for message in &messages {
        let bytes = match (message, encoding) {
            (Message::Text(text), Encoding::Json) => text.as_bytes(),
            (Message::Binary(bytes), Encoding::Protobuf) => &bytes[..],
            _ => break,
        };
        match codec::decode::<ClientMsg>(encoding, bytes) {
            Ok(ClientMsg::Request(request)) => *asked.entry(request.request_id).or_default() += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }

    runtime().block_on(async {
        let dir = scratch_dir();
        let mut config = Config::new(dir.path().join("fuzz.db"));
        config.busy_timeout = Duration::from_millis(20);
        config.max_response_bytes = 64 << 10;
        config.max_ws_message_bytes = 1 << 20;
        let harness = WsHarness::new(config).unwrap_or_else(|e| panic!("server: {e:#}"));
        let sent = harness
            .session(subprotocol, messages)
            .await
            .unwrap_or_else(|| panic!("{subprotocol:?} is a subprotocol the server offers"));

        let mut answered: HashMap<i32, usize> = HashMap::new();
        let mut closed = false;
        for message in &sent {
            let bytes = match (message, encoding) {
                (Message::Close(_), _) => {
                    closed = true;
                    continue;
                }
                (Message::Text(text), Encoding::Json) => text.as_bytes(),
                (Message::Binary(bytes), Encoding::Protobuf) => &bytes[..],
                (other, _) => panic!("{encoding:?} session sent {other:?}"),
            };
            assert!(!closed, "a message after the close frame");
            let msg: ServerMsg = codec::decode(encoding, bytes)
                .unwrap_or_else(|e| panic!("server message does not decode: {e}"));
            let id = match msg {
                ServerMsg::ResponseOk(ok) => ok.request_id,
                ServerMsg::ResponseError(e) => {
                    assert_ne!(
                        e.error.code.as_deref(),
                        Some("INTERNAL"),
                        "internal error: {}",
                        e.error.message
                    );
                    e.request_id
                }
                ServerMsg::HelloOk(_) | ServerMsg::HelloError(_) => continue,
                ServerMsg::Unknown => panic!("the server sent a message of unknown type"),
            };
            let count = answered.entry(id).or_default();
            *count += 1;
            assert!(
                *count <= asked.get(&id).copied().unwrap_or(0),
                "request {id} answered more often than asked"
            );
        }
        if !closed {
            assert_eq!(answered, asked, "every request answered once");
        }
        let stats = harness.stats();
        assert_eq!(
            (stats.ws_connections, stats.ws_streams),
            (0, 0),
            "the session left {stats:?}"
        );
    });
}

/// The input's messages: `u16` little-endian length, then the bytes.
fn split(mut data: &[u8], encoding: Encoding) -> Vec<Message> {
    let mut messages = Vec::new();
    while data.len() >= 2 && messages.len() < MAX_MESSAGES {
        let header = u16::from_le_bytes([data[0], data[1]]);
        let swap = header & 0x8000 != 0;
        let len = usize::from(header & 0x7fff).min(data.len() - 2);
        let body = &data[2..2 + len];
        data = &data[2 + len..];
        let text = (encoding == Encoding::Json) != swap;
        messages.push(if text {
            Message::Text(String::from_utf8_lossy(body).into_owned().into())
        } else {
            Message::Binary(body.to_vec().into())
        });
    }
    messages
}

/// Inputs in this target's format: `selector`, then each message framed.
pub fn frame(selector: u8, messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![selector];
    for message in messages {
        let len = message.len().min(0x7fff);
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.extend_from_slice(&message[..len]);
    }
    out
}
