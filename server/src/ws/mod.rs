//! Hrana over WebSocket: subprotocol negotiation on `/`, then one session per socket.

mod conn;
mod harness;
mod stream;

pub use harness::WsHarness;

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tidepool_protocol::version::{Subprotocol, Version};
use tidepool_protocol::Encoding;

use crate::errors::{code, err};
use crate::http::{authenticate, http_error};
use crate::state::AppState;

/// Initial read and write buffer of each WebSocket.
const WS_BUFFER: usize = 8 * 1024;

/// `GET /`: a WebSocket upgrade, or a short banner for a plain request.
pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return match authenticate(&state, &headers) {
            Ok(_) => "tidepool-server: Hrana over HTTP and WebSocket\n".into_response(),
            Err(response) => response,
        };
    };
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    // A client that names no subprotocol speaks Hrana 1, which predates negotiation.
    let protocol = if offered.is_empty() {
        Subprotocol {
            version: Version::Hrana1,
            encoding: Encoding::Json,
        }
    } else if let Some(protocol) = Subprotocol::negotiate(offered.iter().copied()) {
        protocol
    } else {
        let message = format!(
            "none of the offered subprotocols is supported: {}",
            offered.join(", ")
        );
        return http_error(StatusCode::BAD_REQUEST, err(code::PROTOCOL_ERROR, message));
    };
    // A token in the upgrade request counts until the first hello replaces it.
    let header_access = headers
        .get(header::AUTHORIZATION)
        .and_then(|_| authenticate(&state, &headers).ok());
    let max = state.config.max_ws_message_bytes;
    // Buffers start small (tungstenite's default is 128 KiB each way per socket) and grow
    // with the messages: with a thousand mostly idle sockets they were most of the memory.
    ws.protocols([protocol.name()])
        .max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(WS_BUFFER)
        .write_buffer_size(WS_BUFFER)
        .on_upgrade(move |socket| conn::run(state, socket, protocol, header_access))
}
