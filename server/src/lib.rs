//! Tidepool's reference server: the Tidepool protocol (a profile of libSQL's Hrana 1/2/3, see
//! `protocol/SPEC.md`) over HTTP and WebSocket, on an embedded SQLite file.
//!
//! Layers, outside in: [`serve`] accepts TCP (and TLS) connections and hands them to hyper; the
//! axum router in [`http`] authenticates each request and routes it to the pipeline and cursor
//! endpoints or, on `/`, to a WebSocket session in [`ws`]; both drive [`session::Session`]s,
//! which run requests through [`exec::Executor`] on connections from [`db::Pool`].

pub mod auth;
mod blocking;
pub mod config;
pub mod http;
pub mod logging;
pub mod session;
pub mod state;
mod tls;
mod ws;

pub use tidepool_engine::{db, errors, exec};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::trace::TraceLayer;

pub use crate::auth::{Access, Auth};
pub use crate::config::Config;
use crate::state::AppState;
pub use crate::ws::WsHarness;

/// A running server. Dropping it does not stop it; call [`RunningServer::shutdown`].
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    state: Arc<AppState>,
    tls: bool,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// The address the server listens on (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr` or `https://addr`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// What the server holds right now: for tests and monitoring.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Waits until the server stops (it runs until shut down).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Counts of what a running server holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Open WebSocket connections.
    pub ws_connections: usize,
    /// Open streams across all WebSocket connections.
    pub ws_streams: usize,
    /// Open HTTP streams (held by batons).
    pub http_streams: usize,
}

/// Opens the database, binds the listener and starts serving in the background.
pub async fn serve(config: Config) -> anyhow::Result<RunningServer> {
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        (None, None) => None,
        _ => anyhow::bail!("TLS needs both a certificate (--tls-cert) and a key (--tls-key)"),
    };
    let listen_addr = config.listen_addr;
    let (state, router) = build(config)?;
    let listener = TcpListener::bind(listen_addr)
        .await
        .with_context(|| format!("binding {listen_addr}"))?;
    let addr = listener.local_addr()?;
    let service = TowerToHyperService::new(router);

    let (stop, mut stopped) = watch::channel(false);
    tokio::spawn(reap_streams(Arc::clone(&state), stop.subscribe()));
    let has_tls = tls.is_some();
    let task = tokio::spawn(async move {
        loop {
            let (tcp, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = stopped.changed() => break,
            };
            let _ = tcp.set_nodelay(true);
            let service = service.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let served = match tls {
                    Some(acceptor) => match acceptor.accept(tcp).await {
                        Ok(stream) => {
                            builder
                                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                                .await
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            return;
                        }
                    },
                    None => {
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                            .await
                    }
                };
                if let Err(e) = served {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
    });
    Ok(RunningServer {
        addr,
        state,
        tls: has_tls,
        stop,
        task,
    })
}

/// The HTTP service [`serve`] runs (every route, with the same tower layers), over the database
/// `config` names, without a listener: for driving the server in-process, as the fuzz targets
/// do with `tower::ServiceExt::oneshot`. TLS, the listen address and idle-stream expiry (the
/// reaper that [`serve`] runs) do not apply; dropping the router closes its streams.
pub fn app(config: Config) -> anyhow::Result<axum::Router> {
    Ok(build(config)?.1)
}

/// Opens the database and the key file and builds the layered router over the shared state.
fn build(config: Config) -> anyhow::Result<(Arc<AppState>, axum::Router)> {
    let auth = match &config.auth_key_file {
        Some(path) => Auth::from_key_file(path)?,
        None => Auth::disabled(),
    };
    let pool = db::Pool::open_with_cache(
        &config.db_path,
        config.busy_timeout,
        config.max_idle_connections,
        config.cache_size_kib,
    )
    .with_context(|| format!("opening database {}", config.db_path.display()))?;
    let state = Arc::new(AppState::new(config, pool, auth));
    let layers = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(axum::error_handling::HandleErrorLayer::new(http::timed_out))
        .layer(GlobalConcurrencyLimitLayer::new(
            state.config.max_concurrent_requests,
        ))
        .timeout(state.config.request_timeout);
    let router = http::router(Arc::clone(&state)).layer(layers);
    Ok((state, router))
}

/// The span of one HTTP request: method and path, never the query string, where a
/// misbehaving client may have put a token (see `logging`).
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
}

/// Closes idle HTTP streams and over-long transactions, once a second.
async fn reap_streams(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let ended = state.http_streams.reap();
        if !ended.is_empty() {
            tracing::debug!(count = ended.len(), "closed expired HTTP streams");
            // Dropping them rolls back and returns connections: blocking work.
            tokio::task::spawn_blocking(move || drop(ended));
        }
    }
}
