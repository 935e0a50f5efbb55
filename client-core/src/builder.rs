//! Configuring a database: a builder whose setters chain and never fail, and whose `build()`
//! validates everything at once. One builder for both modes: a remote URL gives a remote
//! database, a `file:` URL (or [`Builder::local`]) a local one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tidepool_protocol::version::Subprotocol;
use url::Url;

use crate::backend::{Backend, Interrupter};
use crate::connection::Connection;
use crate::error::{code, Error, Result};
use crate::local::{target, LocalConn, LocalDb, OpenSettings, Target, UserFunction};
use crate::offline::capture::LocalCapture;
use crate::offline::conn::OfflineConn;
use crate::offline::{
    Changes, Conflict, ConflictPolicy, Offline, OfflineConfig, Resolution, Resolver,
};
use crate::remote::http::{HttpClient, HttpVersion, Timeouts};
use crate::remote::retry::RetrySettings;
use crate::remote::tls::{client_config, RootCerts};
use crate::remote::ws::{WsClient, WsSettings};
use crate::remote::RemoteConn;
use crate::remote::Transport;
use crate::replica::{Replica, ReplicaConn, SyncReport, SyncStatus};
use crate::value::Value;

/// Builds a [`Database`].
///
/// Remote defaults: connect timeout 10 s, request timeout 30 s, total timeout (with retries)
/// 60 s, up to 4 attempts for requests that are safe to retry, TLS verified against the bundled
/// webpki roots, up to 4 WebSocket sockets per database.
///
/// Local defaults: 4 reader connections besides the one writer, a busy timeout of 5 s. The
/// network settings do not apply to a local database; user-defined functions apply only to one.
///
/// ```no_run
/// # async fn run() -> tidepool::Result<()> {
/// let db = tidepool::Builder::new("http://127.0.0.1:8080")
///     .auth_token("eyJhbGciOiJFZERTQSJ9...")
///     .request_timeout(std::time::Duration::from_secs(5))
///     .build()?;
/// let conn = db.connect();
/// conn.execute("CREATE TABLE IF NOT EXISTS t (x)", ()).await?;
/// # Ok(()) }
/// ```
///
/// A local database, in a file (created if missing) or in memory:
///
/// ```
/// # async fn run() -> tidepool::Result<()> {
/// # let dir = std::env::temp_dir().join(format!("tidepool-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let db = tidepool::Builder::local(dir.join("app.db"))
///     .read_connections(8)
///     .scalar_function("twice", 1, true, |args| match args[0] {
///         tidepool::Value::Integer(i) => Ok(tidepool::Value::Integer(i * 2)),
///         _ => Err("twice takes an integer".into()),
///     })
///     .build()?;
/// let conn = db.connect();
/// let row = conn.query("SELECT twice(21)", ()).await?.next().await?.unwrap();
/// assert_eq!(row.get::<i64>(0)?, 42);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    url: String,
    /// Set by [`Builder::local`]: a path taken as it is, not parsed from a URL.
    local_path: Option<PathBuf>,
    /// Set by [`Builder::replica`]: the replica's file.
    replica_path: Option<PathBuf>,
    sync_interval: Option<Duration>,
    readers: usize,
    busy_timeout: Duration,
    functions: Vec<UserFunction>,
    auth_token: Option<String>,
    timeouts: Timeouts,
    retry: RetrySettings,
    roots: RootCerts,
    max_sockets: usize,
    http_version: Option<HttpVersion>,
    json_only: bool,
    /// Set by [`Builder::offline`]: local writes, and how their conflicts are decided.
    offline: Option<OfflineConfig>,
}

impl Builder {
    /// A database at `url`: `http://`, `https://`, `ws://`, `wss://`, or `libsql://` (HTTPS;
    /// `?tls=0` for plain HTTP), where an `authToken` query parameter is taken as the auth
    /// token; or a local database: `file:path/to/db.sqlite` (relative or absolute, also
    /// `file:///absolute/path`), `:memory:` or `file::memory:`.
    pub fn new(url: impl Into<String>) -> Self {
        Builder {
            url: url.into(),
            local_path: None,
            replica_path: None,
            sync_interval: None,
            readers: 4,
            busy_timeout: Duration::from_secs(5),
            functions: Vec::new(),
            auth_token: None,
            timeouts: Timeouts {
                connect: Duration::from_secs(10),
                request: Duration::from_secs(30),
                total: Duration::from_secs(60),
            },
            retry: RetrySettings::default(),
            roots: RootCerts::default(),
            max_sockets: crate::remote::ws::DEFAULT_MAX_SOCKETS,
            http_version: None,
            json_only: false,
            offline: None,
        }
    }

    /// A local database in the file at `path` (created on first use if missing; `:memory:`
    /// for an in-memory database).
    pub fn local(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        Builder {
            local_path: Some(path.to_owned()),
            ..Builder::new(format!("file:{}", path.display()))
        }
    }

    /// A replica of the remote database at `url` in the local file at `path` (created if
    /// missing): reads run on the file, writes and transactions on the server, and the
    /// replica catches up after each write so that reads see it. [`Database::sync`] pulls what
    /// changed; [`Builder::sync_interval`] does so in the background. The first sync copies
    /// the database (resuming an interrupted copy); reads before it see an empty database.
    ///
    /// The server needs Tidepool's change capture (a change table and triggers, in plain SQL,
    /// so a stock libSQL server works too): the first sync installs it, which takes a token
    /// that may write; after that a read-only token can sync.
    pub fn replica(path: impl AsRef<Path>, url: impl Into<String>) -> Self {
        Builder {
            replica_path: Some(path.as_ref().to_owned()),
            ..Builder::new(url)
        }
    }

    /// An offline-first database: a replica of the remote database at `url` in the file at
    /// `path` that the application also writes to. Every statement runs on the file, so
    /// writes commit whether or not the server is reachable; each transaction's changes are
    /// captured with it into a durable outbox. [`Database::sync`] pushes the outbox exactly
    /// once, records conflicts and refused changes as data ([`Database::conflicts`]), then
    /// pulls the server's changes, keeping the device's unpushed changes on top. With
    /// [`Builder::sync_interval`], sync also runs in the background, soon after local writes
    /// and soon after the server is reachable again. The first sync (online) copies the
    /// server's tables; the schema is the server's (docs/adr/0003-offline-writes.md).
    pub fn offline(path: impl AsRef<Path>, url: impl Into<String>) -> Self {
        Builder {
            offline: Some(OfflineConfig::default()),
            ..Builder::replica(path, url)
        }
    }

    /// Offline: how conflicts in `table` are decided (default: the
    /// [`Builder::default_conflict_policy`]). Ignored when a resolver is set.
    pub fn conflict_policy(mut self, table: impl Into<String>, policy: ConflictPolicy) -> Self {
        if let Some(offline) = &mut self.offline {
            offline.policies.insert(table.into(), policy);
        }
        self
    }

    /// Offline: how conflicts are decided in tables without a policy of their own (default:
    /// [`ConflictPolicy::ColumnLww`]).
    pub fn default_conflict_policy(mut self, policy: ConflictPolicy) -> Self {
        if let Some(offline) = &mut self.offline {
            offline.default_policy = policy;
        }
        self
    }

    /// Offline: devices not seen by the server for this long stop holding back the collection
    /// of deleted rows' tombstones (default 30 days). A device away longer copies its tables
    /// again when it returns (its unpushed changes kept); its updates to rows deleted meanwhile
    /// revive them, recorded as conflicts.
    pub fn tombstone_horizon(mut self, horizon: Duration) -> Self {
        if let Some(offline) = &mut self.offline {
            offline.tombstone_horizon = horizon;
        }
        self
    }

    /// Offline: the application decides every conflict (rejected changes excepted) during
    /// sync.
    pub fn resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        if let Some(offline) = &mut self.offline {
            offline.resolver = Some(resolver);
        }
        self
    }

    /// Replica: sync every `interval` in the background, from the first connection (or from
    /// `build()` inside a tokio runtime) until the database is dropped. Failures are kept in
    /// [`Database::sync_status`].
    pub fn sync_interval(mut self, interval: Duration) -> Self {
        self.sync_interval = Some(interval);
        self
    }

    /// Local: how many reader connections run reads in parallel with each other and with
    /// the writer (default 4; 0 runs everything on the writer). In-memory databases always
    /// have a single connection.
    pub fn read_connections(mut self, readers: usize) -> Self {
        self.readers = readers;
        self
    }

    /// Local: how long a statement waits for a lock another process holds before failing with
    /// `SQLITE_BUSY` (default 5 s).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Local: a scalar SQL function, registered on every connection of the database.
    /// `n_args` is the number of arguments (-1 for any number); a deterministic function may be
    /// used in indexes and is evaluated once per constant input. An `Err` fails the statement
    /// with `SQLITE_ERROR` and the message.
    pub fn scalar_function<F>(
        mut self,
        name: impl Into<String>,
        n_args: i32,
        deterministic: bool,
        function: F,
    ) -> Self
    where
        F: Fn(&[Value]) -> std::result::Result<Value, String> + Send + Sync + 'static,
    {
        let function = UserFunction::scalar(name.into(), n_args, deterministic, function);
        self.functions.push(function);
        self
    }

    /// Local: an aggregate SQL function, registered on every connection of the database.
    /// Each group starts from `init()`, feeds every row's arguments to `step`, and ends with
    /// `finalize` (an empty group finalizes a fresh `init()`). An `Err` from `step` or
    /// `finalize` fails the statement with `SQLITE_ERROR` and the message.
    ///
    /// ```
    /// # fn run() -> tidepool::Result<()> {
    /// use tidepool::{FromValue, Value};
    ///
    /// let db = tidepool::Builder::new(":memory:")
    ///     .aggregate_function(
    ///         "product",
    ///         1,
    ///         true,
    ///         || 1i64,
    ///         |acc, args| {
    ///             *acc *= i64::from_value(&args[0]).map_err(|e| e.to_string())?;
    ///             Ok(())
    ///         },
    ///         |acc| Ok(Value::Integer(acc)),
    ///     )
    ///     .build()?;
    /// # let _ = db; Ok(()) }
    /// ```
    pub fn aggregate_function<S, I, St, Fi>(
        mut self,
        name: impl Into<String>,
        n_args: i32,
        deterministic: bool,
        init: I,
        step: St,
        finalize: Fi,
    ) -> Self
    where
        S: 'static,
        I: Fn() -> S + Send + Sync + 'static,
        St: Fn(&mut S, &[Value]) -> std::result::Result<(), String> + Send + Sync + 'static,
        Fi: Fn(S) -> std::result::Result<Value, String> + Send + Sync + 'static,
    {
        let function =
            UserFunction::aggregate(name.into(), n_args, deterministic, init, step, finalize);
        self.functions.push(function);
        self
    }

    /// The JWT sent with every request.
    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.auth_token = Some(token.into());
        self
    }

    /// Time allowed to open a connection (TCP, TLS, WebSocket handshake).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = timeout;
        self
    }

    /// Time allowed for one attempt of one request.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.request = timeout;
        self
    }

    /// Time allowed for a request including its retries.
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.total = timeout;
        self
    }

    /// Most attempts for a request that is safe to retry (1 turns retries off).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.retry.max_attempts = attempts;
        self
    }

    /// First retry delay; later ones double, with full jitter, up to `max`.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry.initial_backoff = initial;
        self.retry.max_backoff = max;
        self
    }

    /// Trust the operating system's certificate store instead of the bundled roots.
    pub fn native_roots(mut self) -> Self {
        self.roots = RootCerts::Native;
        self
    }

    /// Trust only these PEM CA certificates (a private CA, a self-signed server).
    pub fn custom_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots = RootCerts::CustomPem(pem.into());
        self
    }

    /// Trust only the PEM CA certificates in this file.
    pub fn custom_ca_pem_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.roots = RootCerts::CustomPemFile(path.into());
        self
    }

    /// Most WebSocket sockets a database opens; streams are multiplexed over them.
    pub fn max_sockets(mut self, sockets: usize) -> Self {
        self.max_sockets = sockets;
        self
    }

    /// Speaks JSON instead of protobuf: Hrana 3 JSON over HTTP (`/v3/*`, without probing),
    /// and `hrana3`, `hrana2` or `hrana1` over WebSocket. For servers (or proxies) that only
    /// pass JSON, and for debugging.
    pub fn force_json(mut self) -> Self {
        self.json_only = true;
        if self.http_version.is_none() {
            self.http_version = Some(HttpVersion::V3(tidepool_protocol::Encoding::Json));
        }
        self
    }

    /// Skips version probing over HTTP and speaks Hrana 2 (JSON `/v2/pipeline`), as a server
    /// without Hrana 3 requires.
    pub fn force_hrana2(mut self) -> Self {
        self.http_version = Some(HttpVersion::V2);
        self
    }

    /// Validates the settings and creates the database. Does no I/O: a local database is
    /// opened (and created) by its first statement, which fails with SQLite's code when it
    /// cannot be (`SQLITE_CANTOPEN` for a missing directory, `SQLITE_NOTADB` for a file that
    /// is not a database); the next statement tries again.
    pub fn build(mut self) -> Result<Database> {
        let invalid = |m: String| Error::usage(code::INVALID_CONFIG, m);
        if let Some(path) = self.replica_path.take() {
            return self.build_replica(path);
        }
        let local = match &self.local_path {
            Some(path) => Some(target::file(path).map_err(invalid)?),
            None => target::parse(&self.url).map_err(invalid)?,
        };
        if let Some(target) = local {
            return self.build_local(target);
        }
        if let Some(f) = self.functions.first() {
            return Err(invalid(format!(
                "user-defined functions ({f:?}) need a local database; a server has its own"
            )));
        }
        let mut url = Url::parse(&self.url)
            .map_err(|e| invalid(format!("invalid URL {:?}: {e}", self.url)))?;
        let mut auth_token = self.auth_token;
        let mut tls_off = false;
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (key, value) in &pairs {
            match key.as_str() {
                "authToken" => auth_token = auth_token.or_else(|| Some(value.clone())),
                "tls" => match value.as_str() {
                    "0" => tls_off = true,
                    "1" => {}
                    other => return Err(invalid(format!("tls must be 0 or 1, not {other:?}"))),
                },
                other => return Err(invalid(format!("unknown URL parameter {other:?}"))),
            }
        }
        url.set_query(None);
        let scheme = match url.scheme() {
            "libsql" if tls_off => "http",
            "libsql" => "https",
            "http" | "https" | "ws" | "wss" if tls_off && url.scheme().ends_with('s') => {
                return Err(invalid("?tls=0 contradicts a TLS scheme".into()));
            }
            s @ ("http" | "https" | "ws" | "wss") => s,
            other => return Err(invalid(format!("unsupported URL scheme {other:?}"))),
        }
        .to_owned();
        if url.scheme() != scheme {
            let rest = url
                .as_str()
                .split_once(':')
                .map(|(_, r)| r.to_owned())
                .unwrap_or_default();
            url = Url::parse(&format!("{scheme}:{rest}"))
                .map_err(|e| invalid(format!("invalid URL: {e}")))?;
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("the URL has no host".into()));
        }
        if self.timeouts.connect.is_zero()
            || self.timeouts.request.is_zero()
            || self.timeouts.total.is_zero()
        {
            return Err(invalid("timeouts must be greater than zero".into()));
        }
        if self.retry.max_attempts == 0 {
            return Err(invalid("max_attempts must be at least 1".into()));
        }
        if self.max_sockets == 0 {
            return Err(invalid("max_sockets must be at least 1".into()));
        }
        let websocket = matches!(scheme.as_str(), "ws" | "wss");
        let tls = client_config(&self.roots)?;
        let transport = if websocket {
            let mut settings = WsSettings::new(url.clone(), tls, auth_token, self.timeouts);
            settings.max_sockets = self.max_sockets;
            let client = if self.json_only {
                let json: Vec<Subprotocol> = Subprotocol::ALL
                    .into_iter()
                    .filter(|p| p.encoding == tidepool_protocol::Encoding::Json)
                    .collect();
                WsClient::with_offered(settings, &json)
            } else {
                WsClient::new(settings)
            };
            Transport::Ws(Arc::new(client))
        } else {
            let client = HttpClient::new(
                url.clone(),
                tls,
                auth_token.as_deref(),
                self.timeouts,
                self.retry,
                self.http_version,
            )?;
            Transport::Http(Arc::new(client))
        };
        Ok(Database {
            url: url.to_string(),
            kind: Kind::Remote(transport),
        })
    }

    fn build_replica(self, path: PathBuf) -> Result<Database> {
        let invalid = |m: &str| Error::usage(code::INVALID_CONFIG, m);
        if self.sync_interval.is_some_and(|i| i.is_zero()) {
            return Err(invalid("sync_interval must be greater than zero"));
        }
        if path.as_os_str() == ":memory:" {
            return Err(invalid(
                "a replica needs a file; :memory: would be copied at every start",
            ));
        }
        let offline_config = self.offline.clone();
        let local = Builder {
            local_path: Some(path.clone()),
            url: format!("file:{}", path.display()),
            offline: None,
            ..self.clone()
        }
        .build()?;
        let interval = self.sync_interval;
        let remote = Builder {
            functions: Vec::new(),
            offline: None,
            ..self
        }
        .build()?;
        let (Kind::Local(db), Kind::Remote(transport)) = (&local.kind, &remote.kind) else {
            return Err(invalid(
                "a replica's URL must be a server's (http, https, ws, wss, libsql)",
            ));
        };
        let (mut db, transport) = (Arc::clone(db), transport.clone());
        let url = remote.url.clone();
        let mut local = local;
        let offline = offline_config.map(|config| {
            // Two databases on the one file: the application's, whose writer captures, and
            // sync's, whose writer does not (what arrives from the server is not sent back).
            let capture = Arc::new(LocalCapture::default());
            let app = db.with_capture(Arc::clone(&capture), true, None);
            let sync = db.with_capture(Arc::clone(&capture), false, Some(0));
            db = Arc::new(app);
            local = Database {
                url: local.url.clone(),
                kind: Kind::Local(Arc::new(sync)),
            };
            Offline::new(capture, config)
        });
        let replica = Arc::new(Replica::new(
            remote, local, db, transport, interval, offline,
        ));
        replica.start_background();
        Ok(Database {
            url,
            kind: Kind::Replica(replica),
        })
    }

    fn build_local(self, target: Target) -> Result<Database> {
        if let Some(why) = self.functions.iter().find_map(UserFunction::invalid) {
            return Err(Error::usage(code::INVALID_CONFIG, why));
        }
        let url = match &target {
            Target::Memory => ":memory:".to_owned(),
            Target::File(_) => self.url,
        };
        let db = LocalDb::new(OpenSettings {
            target,
            readers: self.readers,
            busy_timeout: self.busy_timeout,
            functions: self.functions,
            capture: None,
        });
        Ok(Database {
            url,
            kind: Kind::Local(Arc::new(db)),
        })
    }
}

/// A database: cheap to clone, shared by all its connections. Remote: one HTTP client with
/// its connection pool, or one pool of WebSocket sockets. Local: one writer connection and a
/// pool of readers.
#[derive(Clone, Debug)]
pub struct Database {
    url: String,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Remote(Transport),
    Local(Arc<LocalDb>),
    Replica(Arc<Replica>),
}

impl Database {
    /// A new connection. Cheap: no I/O until its first statement.
    pub fn connect(&self) -> Connection {
        match &self.kind {
            Kind::Remote(transport) => Connection::new(
                Backend::Remote(RemoteConn::new(transport.clone())),
                Interrupter::Remote,
            ),
            Kind::Local(db) => {
                let conn = LocalConn::new(Arc::clone(db));
                let interrupter = Interrupter::Local(conn.interrupts());
                Connection::new(Backend::Local(conn), interrupter)
            }
            Kind::Replica(replica) if replica.offline.is_some() => {
                replica.start_background();
                let local = LocalConn::new(Arc::clone(&replica.db));
                let interrupter = Interrupter::Local(local.interrupts());
                let conn = OfflineConn::new(local, Arc::clone(replica));
                Connection::new(Backend::Offline(Box::new(conn)), interrupter)
            }
            Kind::Replica(replica) => {
                replica.start_background();
                let local = LocalConn::reads_only(Arc::clone(&replica.db));
                let interrupter = Interrupter::Local(local.interrupts());
                let conn = ReplicaConn::new(
                    local,
                    RemoteConn::new(replica.transport.clone()),
                    Arc::clone(replica),
                );
                Connection::new(Backend::Replica(Box::new(conn)), interrupter)
            }
        }
    }

    /// Replica: pulls what changed on the server since the last sync (the first sync copies
    /// everything) and applies it to the local file while reads go on. Concurrent calls run
    /// one after another. Fails with `UNSUPPORTED` on a database that is not a replica.
    pub async fn sync(&self) -> Result<SyncReport> {
        match &self.kind {
            Kind::Replica(replica) => replica.sync().await,
            _ => Err(Error::usage(
                code::UNSUPPORTED,
                "sync() needs a replica (Builder::replica)",
            )),
        }
    }

    /// Replica: where the last sync got to, when, and its error if it failed; `None` for a
    /// database that is not a replica.
    pub fn sync_status(&self) -> Option<SyncStatus> {
        match &self.kind {
            Kind::Replica(replica) => Some(replica.status()),
            _ => None,
        }
    }

    /// Whether the database is a local replica of a remote one (offline databases are).
    pub fn is_replica(&self) -> bool {
        matches!(self.kind, Kind::Replica(_))
    }

    /// Whether the database takes writes on the device ([`Builder::offline`]).
    pub fn is_offline(&self) -> bool {
        matches!(&self.kind, Kind::Replica(r) if r.offline.is_some())
    }

    fn offline_replica(&self, what: &str) -> Result<&Arc<Replica>> {
        match &self.kind {
            Kind::Replica(replica) if replica.offline.is_some() => Ok(replica),
            _ => Err(Error::usage(
                code::UNSUPPORTED,
                format!("{what} needs an offline database (Builder::offline)"),
            )),
        }
    }

    /// Offline: the conflicts and refused changes sync recorded, oldest first, until they
    /// are resolved.
    pub async fn conflicts(&self) -> Result<Vec<Conflict>> {
        self.offline_replica("conflicts()")?;
        crate::offline::conflicts(&self.connect()).await
    }

    /// Offline: settles a recorded conflict. [`Resolution::KeepRemote`] accepts the row as it
    /// is; [`Resolution::KeepLocal`] and [`Resolution::Merge`] write that version as a new
    /// local change (pushed by the next sync, where it wins: it is the latest write). The
    /// conflict is removed in the same local transaction. `INVALID_ARGUMENT` for an unknown id.
    pub async fn resolve_conflict(&self, id: i64, resolution: Resolution) -> Result<()> {
        self.offline_replica("resolve_conflict()")?;
        crate::offline::resolve_conflict(&self.connect(), id, resolution).await
    }

    /// Offline: pushes the local changes without pulling (on a metered connection, say); the
    /// report's `changes_pushed` and `conflicts` say what it did.
    pub async fn push(&self) -> Result<SyncReport> {
        self.offline_replica("push()")?.push().await
    }

    /// Offline: how many local changes wait to be pushed.
    pub async fn pending_changes(&self) -> Result<u64> {
        let replica = self.offline_replica("pending_changes()")?;
        Ok(crate::offline::counts(&replica.local.connect()).await?.0)
    }

    /// Replica or offline: notifications of the tables changed by local writes (offline) and
    /// by syncs. `UNSUPPORTED` for other databases.
    pub fn subscribe(&self) -> Result<Changes> {
        match &self.kind {
            Kind::Replica(replica) => Ok(replica.notifier.subscribe()),
            _ => Err(Error::usage(
                code::UNSUPPORTED,
                "subscribe() needs a replica or an offline database",
            )),
        }
    }

    /// Replica or offline: waits until the next sync (background or not) has finished,
    /// then returns the status (its `last_error` says whether it succeeded).
    pub async fn wait_for_sync(&self) -> Result<SyncStatus> {
        let Kind::Replica(replica) = &self.kind else {
            return Err(Error::usage(
                code::UNSUPPORTED,
                "wait_for_sync() needs a replica or an offline database",
            ));
        };
        let mut watch = replica.notifier.sync_watch();
        watch.borrow_and_update();
        watch
            .changed()
            .await
            .map_err(|_| Error::usage(code::CLOSED, "the database was dropped"))?;
        Ok(replica.status())
    }

    /// The server URL (without credentials or parameters), or the local `file:` URL
    /// (`:memory:` for an in-memory database).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the database is on this device.
    pub fn is_local(&self) -> bool {
        matches!(self.kind, Kind::Local(_))
    }

    /// The protocol negotiated with the server so far (`hrana3-protobuf` on a WebSocket,
    /// `v3-protobuf` over HTTP, ...), or `None` before the first request and for a local
    /// database.
    pub fn negotiated_protocol(&self) -> Option<String> {
        match &self.kind {
            Kind::Remote(Transport::Ws(client)) => {
                client.subprotocol().map(|p| p.name().to_owned())
            }
            Kind::Remote(Transport::Http(client)) => {
                client.negotiated().map(|v| v.prefix().to_owned())
            }
            Kind::Local(_) => None,
            Kind::Replica(replica) => replica.remote.negotiated_protocol(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_validated_at_build() {
        for bad in [
            "",
            "not a url",
            "ftp://x",
            "http://",
            "libsql://h?tls=2",
            "https://h?tls=0",
            "http://h?foo=1",
        ] {
            let e = Builder::new(bad).build().expect_err(bad);
            assert_eq!(e.code(), code::INVALID_CONFIG, "{bad}");
        }
        let db = Builder::new("libsql://db.example.com?authToken=abc")
            .build()
            .expect("libsql");
        assert_eq!(db.url(), "https://db.example.com/");
        let db = Builder::new("libsql://127.0.0.1:8080?tls=0")
            .build()
            .expect("plain");
        assert_eq!(db.url(), "http://127.0.0.1:8080/");
        assert!(Builder::new("ws://127.0.0.1:1").build().is_ok());
    }

    #[test]
    fn settings_are_validated_at_build() {
        let e = Builder::new("http://h")
            .max_attempts(0)
            .build()
            .expect_err("attempts");
        assert_eq!(e.code(), code::INVALID_CONFIG);
        let e = Builder::new("http://h")
            .request_timeout(Duration::ZERO)
            .build()
            .expect_err("timeout");
        assert_eq!(e.code(), code::INVALID_CONFIG);
        let e = Builder::new("https://h")
            .custom_ca_pem("junk")
            .build()
            .expect_err("ca");
        assert_eq!(e.code(), code::INVALID_CONFIG);
    }
}
