//! Opening a database: a URL (remote `http(s)://`, `ws(s)://`, `libsql://`, or local `file:`,
//! `:memory:`) or a local path, with options whose defaults are the core's.

use std::sync::Arc;
use std::time::Duration;

use std::time::SystemTime;

use crate::changes::{Change, ChangeKind, ChangeListener, ChangeListenerHandle, Notifier};
use crate::connection::Connection;
use crate::error::TidepoolError;
use crate::runtime::{self, run};

/// What one [`Database::sync`] did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Rows copied whole (the first sync, new or changed tables).
    pub rows_copied: u64,
    /// Tables copied whole.
    pub tables_copied: u64,
    /// Tables the server no longer has, dropped from the replica.
    pub tables_dropped: u64,
    /// Row changes pulled and applied.
    pub changes_applied: u64,
    /// The replica's position in the server's change stream after the sync.
    pub position: i64,
    /// The server's position when the sync began.
    pub server_position: i64,
}

/// A replica's sync state.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatus {
    /// Whether the first copy has completed (reads before it see an empty database).
    pub bootstrapped: bool,
    /// The position reached in the server's change stream.
    pub position: i64,
    /// The server's position seen by the last sync.
    pub server_position: i64,
    /// When the last successful sync ended.
    pub last_synced_at: Option<SystemTime>,
    /// The code and message of the last sync's error, if it failed.
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
    /// Whether a sync is running now.
    pub syncing: bool,
    /// Successful syncs since the database was opened.
    pub syncs: u64,
}

/// Settings for [`Database`]; every field left at its default keeps the core's default.
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct DatabaseOptions {
    /// The JWT sent with every request (remote).
    #[uniffi(default = None)]
    pub auth_token: Option<String>,
    /// Time to open a connection (remote; default 10 s).
    #[uniffi(default = None)]
    pub connect_timeout_ms: Option<u64>,
    /// Time for one attempt of one request (remote; default 30 s).
    #[uniffi(default = None)]
    pub request_timeout_ms: Option<u64>,
    /// Time for a request including its retries (remote; default 60 s).
    #[uniffi(default = None)]
    pub total_timeout_ms: Option<u64>,
    /// Most attempts for a request that is safe to retry (remote; default 4, 1 turns retries
    /// off).
    #[uniffi(default = None)]
    pub max_attempts: Option<u32>,
    /// Trust only these PEM CA certificates (remote; default: the bundled webpki roots).
    #[uniffi(default = None)]
    pub ca_pem: Option<String>,
    /// Speak JSON instead of protobuf (remote).
    #[uniffi(default = false)]
    pub force_json: bool,
    /// Reader connections beside the writer (local; default 4).
    #[uniffi(default = None)]
    pub read_connections: Option<u32>,
    /// How long a statement waits for another process's lock (local; default 5 s).
    #[uniffi(default = None)]
    pub busy_timeout_ms: Option<u64>,
    /// Replica: sync this often in the background (default: only when `sync` is called).
    #[uniffi(default = None)]
    pub sync_interval_ms: Option<u64>,
}

impl DatabaseOptions {
    fn apply(self, mut b: tidepool::Builder) -> tidepool::Builder {
        let ms = Duration::from_millis;
        if let Some(token) = self.auth_token {
            b = b.auth_token(token);
        }
        if let Some(t) = self.connect_timeout_ms {
            b = b.connect_timeout(ms(t));
        }
        if let Some(t) = self.request_timeout_ms {
            b = b.request_timeout(ms(t));
        }
        if let Some(t) = self.total_timeout_ms {
            b = b.total_timeout(ms(t));
        }
        if let Some(n) = self.max_attempts {
            b = b.max_attempts(n);
        }
        if let Some(pem) = self.ca_pem {
            b = b.custom_ca_pem(pem);
        }
        if self.force_json {
            b = b.force_json();
        }
        if let Some(n) = self.read_connections {
            b = b.read_connections(n as usize);
        }
        if let Some(t) = self.busy_timeout_ms {
            b = b.busy_timeout(ms(t));
        }
        if let Some(t) = self.sync_interval_ms {
            b = b.sync_interval(ms(t));
        }
        b
    }
}

/// A database, shared by all its connections.
#[derive(Debug, uniffi::Object)]
pub struct Database {
    db: tidepool::Database,
    notifier: Arc<Notifier>,
}

impl Database {
    fn build(builder: tidepool::Builder) -> Result<Arc<Self>, TidepoolError> {
        let _runtime = runtime::enter();
        Ok(Arc::new(Database {
            db: builder.build()?,
            notifier: Arc::new(Notifier::default()),
        }))
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Database {
    /// A database at `url`: `http://`, `https://`, `ws://`, `wss://`, `libsql://`, or a local
    /// `file:path`, `:memory:`. Validates the URL and options; does no I/O.
    #[uniffi::constructor]
    pub fn new(url: String, options: DatabaseOptions) -> Result<Arc<Self>, TidepoolError> {
        Self::build(options.apply(tidepool::Builder::new(url)))
    }

    /// A local database in the file at `path` (created on first use), taken as it is rather
    /// than parsed as a URL.
    #[uniffi::constructor]
    pub fn local(path: String, options: DatabaseOptions) -> Result<Arc<Self>, TidepoolError> {
        Self::build(options.apply(tidepool::Builder::local(path)))
    }

    /// A replica of the server database at `url` in the local file at `path`: reads run on the
    /// file, writes and transactions on the server (the replica catches up before a write
    /// returns); `sync` pulls what changed. Does no I/O.
    #[uniffi::constructor]
    pub fn replica(
        path: String,
        url: String,
        options: DatabaseOptions,
    ) -> Result<Arc<Self>, TidepoolError> {
        Self::build(options.apply(tidepool::Builder::replica(path, url)))
    }

    /// A new connection. Cheap: no I/O until its first statement.
    pub fn connect(&self) -> Arc<Connection> {
        let _runtime = runtime::enter();
        Arc::new(Connection::new(
            self.db.connect(),
            Arc::clone(&self.notifier),
        ))
    }

    /// The server URL without credentials, or the local `file:` URL (`:memory:`).
    pub fn url(&self) -> String {
        self.db.url().to_owned()
    }

    /// Whether the database is on this device.
    pub fn is_local(&self) -> bool {
        self.db.is_local()
    }

    /// Whether the database is a local replica of a server's.
    pub fn is_replica(&self) -> bool {
        self.db.is_replica()
    }

    /// Replica: pulls what changed on the server since the last sync (the first copies
    /// everything). Fails with `UNSUPPORTED` on a database that is not a replica. Listeners
    /// hear of a sync that changed rows as a `Sync` change.
    pub async fn sync(&self) -> Result<SyncReport, TidepoolError> {
        let db = self.db.clone();
        let report = run(async move { Ok(db.sync().await?) }).await?;
        let rows = report.rows_copied + report.changes_applied;
        if rows > 0 || report.tables_dropped > 0 {
            self.notifier.emit(Change {
                kind: ChangeKind::Sync,
                rows_affected: rows,
            });
        }
        Ok(SyncReport {
            rows_copied: report.rows_copied,
            tables_copied: report.tables_copied,
            tables_dropped: report.tables_dropped as u64,
            changes_applied: report.changes_applied,
            position: report.position,
            server_position: report.server_position,
        })
    }

    /// Replica: where the last sync got to, when, and its error if it failed; `None` for a
    /// database that is not a replica.
    pub fn sync_status(&self) -> Option<SyncStatus> {
        self.db.sync_status().map(|s| SyncStatus {
            bootstrapped: s.bootstrapped,
            position: s.position,
            server_position: s.server_position,
            last_synced_at: s.last_synced_at,
            last_error_code: s.last_error.as_ref().map(|e| e.code().to_owned()),
            last_error_message: s.last_error.as_ref().map(|e| e.message().to_owned()),
            syncing: s.syncing,
            syncs: s.syncs,
        })
    }

    /// Calls `listener` after every committed change made through this database's
    /// connections, on a thread of its own, until the handle is cancelled or dropped.
    pub fn add_change_listener(
        &self,
        listener: Box<dyn ChangeListener>,
    ) -> Arc<ChangeListenerHandle> {
        Arc::new(self.notifier.add(listener))
    }
}
