//! What every connection and request shares: settings, the database pool, the token verifier
//! and the open HTTP streams.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tidepool_protocol::Error;

use crate::auth::{Access, Auth};
use crate::config::Config;
use crate::db::Pool;
use crate::errors::{code, err};
use crate::exec::ExecLimits;
use crate::http::streams::HttpStreams;
use crate::session::Session;

/// Shared server state.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub pool: Arc<Pool>,
    pub auth: Auth,
    pub http_streams: HttpStreams,
    /// Live WebSocket connections and streams, for [`crate::RunningServer::stats`].
    pub ws_connections: Gauge,
    pub ws_streams: Gauge,
}

/// A count of live things, kept by the guards [`Gauge::enter`] hands out.
#[derive(Debug, Default)]
pub struct Gauge(Arc<AtomicUsize>);

/// Counts one live thing until dropped.
#[derive(Debug)]
pub struct GaugeGuard(Arc<AtomicUsize>);

impl Gauge {
    pub fn enter(&self) -> GaugeGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        GaugeGuard(Arc::clone(&self.0))
    }

    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AppState {
    pub fn new(config: Config, pool: Pool, auth: Auth) -> Self {
        let http_streams = HttpStreams::new(
            config.max_http_streams,
            config.stream_expiry,
            config.txn_timeout,
        );
        AppState {
            config,
            pool: Arc::new(pool),
            auth,
            http_streams,
            ws_connections: Gauge::default(),
            ws_streams: Gauge::default(),
        }
    }

    pub fn limits(&self) -> ExecLimits {
        ExecLimits {
            max_response_bytes: self.config.max_response_bytes,
        }
    }

    /// What the server holds right now.
    pub fn stats(&self) -> crate::Stats {
        crate::Stats {
            ws_connections: self.ws_connections.get(),
            ws_streams: self.ws_streams.get(),
            http_streams: self.http_streams.len(),
        }
    }

    /// A fresh stream session for a client with `access`.
    pub fn new_session(&self, access: Access) -> Session {
        Session::new(Arc::clone(&self.pool), access, self.limits())
    }
}

/// Seconds since the Unix epoch, for token expiry.
pub fn now_unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Stores an SQL text under a client-chosen id, within the per-scope limit.
pub fn store_sql(
    sqls: &mut HashMap<i32, Arc<str>>,
    id: i32,
    sql: String,
    limit: usize,
) -> Result<(), Error> {
    if sqls.contains_key(&id) {
        return Err(err(
            code::SQL_EXISTS,
            format!("an SQL text is already stored under id {id}"),
        ));
    }
    if sqls.len() >= limit {
        return Err(err(
            code::SQL_STORE_LIMIT,
            format!("at most {limit} SQL texts may be stored"),
        ));
    }
    sqls.insert(id, Arc::from(sql));
    Ok(())
}
