//! The WebSocket handshake: TCP (no Nagle), TLS for `wss`, the upgrade offering Hrana
//! subprotocols, and what the server chose.

use std::sync::Arc;

use tidepool_protocol::version::Subprotocol;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::{header, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::Connector;

use super::socket::{Ws, WsError};
use crate::error::{code, Error, ErrorKind, Result};

/// Initial read buffer of a socket; it grows to hold a larger message.
const READ_BUFFER: usize = 16 * 1024;

/// Connects, falling back to no subprotocol header (Hrana 1) when a server answers an offer
/// without choosing one, which tungstenite otherwise refuses.
pub(super) async fn handshake(
    url: &url::Url,
    tls: &Arc<rustls::ClientConfig>,
    offered: &[Subprotocol],
) -> Result<(Ws, Subprotocol)> {
    use tokio_tungstenite::tungstenite::error::{ProtocolError, SubProtocolError};
    let attempt = match try_handshake(url, tls, offered).await {
        Err(WsError::Protocol(ProtocolError::SecWebSocketSubProtocolError(
            SubProtocolError::NoSubProtocol,
        ))) if !offered.is_empty() => try_handshake(url, tls, &[]).await,
        attempt => attempt,
    };
    let (ws, response) = attempt.map_err(|e| connect_error(url, e))?;
    let subprotocol = match response.headers().get(header::SEC_WEBSOCKET_PROTOCOL) {
        None => Subprotocol::ALL[3],
        Some(value) => value
            .to_str()
            .ok()
            .and_then(Subprotocol::from_name)
            .filter(|p| offered.contains(p))
            .ok_or_else(|| Error::protocol(format!("the server chose subprotocol {value:?}")))?,
    };
    Ok((ws, subprotocol))
}

async fn try_handshake(
    url: &url::Url,
    tls: &Arc<rustls::ClientConfig>,
    offered: &[Subprotocol],
) -> std::result::Result<
    (
        Ws,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    WsError,
> {
    let mut request = url.as_str().into_client_request()?;
    if !offered.is_empty() {
        let names: Vec<&str> = offered.iter().map(|p| p.name()).collect();
        let value =
            HeaderValue::from_str(&names.join(", ")).map_err(|e| WsError::HttpFormat(e.into()))?;
        request
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    let connector = match url.scheme() {
        "wss" => Connector::Rustls(Arc::clone(tls)),
        _ => Connector::Plain,
    };
    // tungstenite zero-fills its whole read buffer before every read (128 KiB by default): a
    // small one that grows with large messages costs a fraction per response.
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, Some(connector))
        .await
}

/// A failed connection attempt: the server's error when it refused the upgrade with one.
fn connect_error(url: &url::Url, e: WsError) -> Error {
    let target = format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    );
    match e {
        WsError::Http(response) => {
            let body = response.body().as_deref().unwrap_or_default();
            match serde_json::from_slice::<tidepool_protocol::Error>(body) {
                Ok(error) => Error::from_wire(error),
                Err(_) => Error::new(
                    ErrorKind::Network,
                    code::HTTP_STATUS,
                    format!(
                        "{target} refused the WebSocket upgrade with HTTP {}",
                        response.status()
                    ),
                ),
            }
        }
        WsError::Url(e) => {
            Error::usage(code::INVALID_CONFIG, format!("invalid WebSocket URL: {e}"))
        }
        e => Error::with_source(
            ErrorKind::Network,
            code::CONNECT_FAILED,
            format!("could not connect the WebSocket to {target}: {e}"),
            e,
        ),
    }
}
