//! A WebSocket session without a socket: the client's messages go in, the server's come out,
//! through the same connection handler (`conn.rs`) a real upgrade runs. For driving the
//! server in-process, as the `ws_session` fuzz target does.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::ws::Message;
use futures_util::{Sink, Stream};
use tidepool_protocol::version::{Subprotocol, Version};
use tidepool_protocol::Encoding;
use tokio::sync::mpsc;

use crate::state::AppState;
use crate::{Config, Stats};

/// The server's WebSocket handling over a database, without a listener.
#[derive(Debug)]
pub struct WsHarness {
    state: Arc<AppState>,
}

impl WsHarness {
    /// Opens the database `config` names (TLS, the listen address and the HTTP stream reaper do
    /// not apply).
    pub fn new(config: Config) -> anyhow::Result<Self> {
        Ok(WsHarness {
            state: crate::build(config)?.0,
        })
    }

    /// Runs one session to its end: the subprotocol the upgrade agreed (`None`: a client that
    /// offered none, so Hrana 1 over JSON), then the client's `messages` in order, then the
    /// client going away. Returns every message the server sent, in order, or `None` when the
    /// server would have refused the subprotocol at the upgrade.
    pub async fn session(
        &self,
        subprotocol: Option<&str>,
        messages: Vec<Message>,
    ) -> Option<Vec<Message>> {
        let protocol = match subprotocol {
            None => Subprotocol {
                version: Version::Hrana1,
                encoding: Encoding::Json,
            },
            Some(name) => Subprotocol::negotiate([name])?,
        };
        let (to_server, from_client) = mpsc::unbounded_channel();
        let (to_client, mut from_server) = mpsc::unbounded_channel();
        for message in messages {
            let _ = to_server.send(message);
        }
        drop(to_server);
        let socket = Pipe {
            incoming: from_client,
            outgoing: to_client,
        };
        super::conn::run(Arc::clone(&self.state), socket, protocol, None).await;
        let mut sent = Vec::new();
        while let Some(message) = from_server.recv().await {
            sent.push(message);
        }
        Some(sent)
    }

    /// What the server holds right now (see [`crate::RunningServer::stats`]).
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }
}

/// Both directions of a session as channels.
struct Pipe {
    incoming: mpsc::UnboundedReceiver<Message>,
    outgoing: mpsc::UnboundedSender<Message>,
}

impl Stream for Pipe {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.incoming.poll_recv(cx).map(|m| m.map(Ok))
    }
}

impl Sink<Message> for Pipe {
    type Error = axum::Error;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
        self.outgoing
            .send(message)
            .map_err(|_| axum::Error::new("the client is gone"))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}
