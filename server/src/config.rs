//! Server settings, with every default documented here and in `tidepool-server --help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the server can be told. `Config::new` gives the documented defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen. Default `127.0.0.1:8080`: loopback only unless told otherwise.
    pub listen_addr: SocketAddr,
    /// The SQLite database file, created if missing.
    pub db_path: PathBuf,
    /// Ed25519 public keys that sign accepted JWTs; `None` turns authentication off.
    pub auth_key_file: Option<PathBuf>,
    /// PEM certificate chain and private key; when both are set the server speaks TLS only.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// An HTTP stream unused for this long is closed. Default 10 s.
    pub stream_expiry: Duration,
    /// A transaction open for longer than this is rolled back. Default 30 s.
    pub txn_timeout: Duration,
    /// How long a statement waits for the write lock before `SQLITE_BUSY`. Default 5 s.
    pub busy_timeout: Duration,
    /// Largest HTTP request body. Default 16 MiB.
    pub max_request_bytes: usize,
    /// Largest result of one execute or batch. Default 16 MiB.
    pub max_response_bytes: usize,
    /// Stored SQL texts per WebSocket connection or HTTP stream. Default 150.
    pub max_sql_texts: usize,
    /// Streams per WebSocket connection. Default 1024.
    pub max_ws_streams: usize,
    /// Open HTTP streams per server. Default 4096.
    pub max_http_streams: usize,
    /// Largest WebSocket message. Default 16 MiB.
    pub max_ws_message_bytes: usize,
    /// Requests in flight per WebSocket connection before the server stops reading. Default 1024.
    pub max_ws_inflight: usize,
    /// HTTP requests handled at once before new ones wait. Default 1024.
    pub max_concurrent_requests: usize,
    /// Time limit on one HTTP request (not a cursor body's streaming). Default 60 s.
    pub request_timeout: Duration,
    /// Idle SQLite connections kept for reuse. Default 64.
    pub max_idle_connections: usize,
    /// Page cache of each SQLite connection, in KiB (`PRAGMA cache_size`). Every open stream
    /// holds a connection, so this bounds what many streams cost; reads still go through the
    /// operating system's file cache. `None` keeps SQLite's default (2,000 KiB). Default 512.
    pub cache_size_kib: Option<u32>,
    /// Short reads (a `SELECT` or `VALUES` statement) run on the async worker that received
    /// them for at most this long, then move to the blocking pool and start again; zero sends
    /// everything to the blocking pool. Default 2 ms.
    pub inline_budget: Duration,
}

impl Config {
    /// The defaults, on the given database file.
    pub fn new(db_path: impl Into<PathBuf>) -> Self {
        Config {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db_path: db_path.into(),
            auth_key_file: None,
            tls_cert: None,
            tls_key: None,
            stream_expiry: Duration::from_secs(10),
            txn_timeout: Duration::from_secs(30),
            busy_timeout: Duration::from_secs(5),
            max_request_bytes: 16 << 20,
            max_response_bytes: 16 << 20,
            max_sql_texts: 150,
            max_ws_streams: 1024,
            max_http_streams: 4096,
            max_ws_message_bytes: 16 << 20,
            max_ws_inflight: 1024,
            max_concurrent_requests: 1024,
            request_timeout: Duration::from_secs(60),
            max_idle_connections: 64,
            cache_size_kib: Some(512),
            inline_budget: Duration::from_millis(2),
        }
    }
}
