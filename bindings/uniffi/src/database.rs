//! Opening a database: a URL (remote `http(s)://`, `ws(s)://`, `libsql://`, or local `file:`,
//! `:memory:`) or a local path, with options whose defaults are the core's.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::changes::{self, ChangeListener, ChangeListenerHandle, Notifier, Source};
use crate::connection::Connection;
use crate::error::TidepoolError;
use crate::offline::{self, Conflict, ConflictResolver, OfflineOptions, Resolution};
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
    /// Offline: local changes pushed to the server.
    pub changes_pushed: u64,
    /// Offline: conflicts and rejected changes this sync recorded.
    pub conflicts: u64,
    /// Tables whose rows this sync changed on the device, sorted.
    pub tables_changed: Vec<String>,
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
    /// Offline: local changes waiting to be pushed, as of the last sync.
    pub pending_changes: u64,
    /// Offline: unresolved conflicts, as of the last sync.
    pub conflicts: u64,
}

impl From<tidepool::SyncStatus> for SyncStatus {
    fn from(s: tidepool::SyncStatus) -> Self {
        SyncStatus {
            bootstrapped: s.bootstrapped,
            position: s.position,
            server_position: s.server_position,
            last_synced_at: s.last_synced_at,
            last_error_code: s.last_error.as_ref().map(|e| e.code().to_owned()),
            last_error_message: s.last_error.as_ref().map(|e| e.message().to_owned()),
            syncing: s.syncing,
            syncs: s.syncs,
            pending_changes: s.pending_changes,
            conflicts: s.conflicts,
        }
    }
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
    /// Replica and offline: sync this often in the background (default: only when `sync` is
    /// called; an offline database also syncs soon after each local write once it has an
    /// interval).
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
    /// Local and remote databases' own change notifications.
    notifier: Arc<Notifier>,
}

impl Database {
    fn build(builder: tidepool::Builder) -> Result<Arc<Self>, TidepoolError> {
        let _runtime = runtime::enter();
        let db = builder.build()?;
        Ok(Arc::new(Database {
            notifier: Arc::new(Notifier::new(!db.is_replica())),
            db,
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

    /// An offline-first database: a replica of the server database at `url` in the local file
    /// at `path` that the application also writes to. Every statement runs on the file, so
    /// writes commit whether or not the server is reachable; `sync` pushes them (exactly once),
    /// records conflicts and refused changes (`conflicts`), then pulls the server's changes.
    /// The first `sync` must reach the server: it copies the server's tables (the schema is
    /// the server's). `resolver`, when given, decides every conflict in place of the policies.
    /// Does no I/O; `INVALID_CONFIG` for `:memory:` or a URL that is not a server's.
    #[uniffi::constructor(default(offline = None, resolver = None))]
    pub fn offline(
        path: String,
        url: String,
        options: DatabaseOptions,
        offline: Option<OfflineOptions>,
        resolver: Option<Box<dyn ConflictResolver>>,
    ) -> Result<Arc<Self>, TidepoolError> {
        let builder = options.apply(tidepool::Builder::offline(path, url));
        Self::build(offline::configure(
            builder,
            offline.unwrap_or_default(),
            resolver,
        ))
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

    /// Whether the database takes writes on the device (`Database::offline`).
    pub fn is_offline(&self) -> bool {
        self.db.is_offline()
    }

    /// Replica: pulls what changed on the server since the last sync (the first copies
    /// everything). Offline: first pushes the local changes, deciding conflicts. Fails with
    /// `UNSUPPORTED` on a database that is not a replica.
    pub async fn sync(&self) -> Result<SyncReport, TidepoolError> {
        let db = self.db.clone();
        let report = run(async move { Ok(db.sync().await?) }).await?;
        Ok(SyncReport {
            rows_copied: report.rows_copied,
            tables_copied: report.tables_copied,
            tables_dropped: report.tables_dropped as u64,
            changes_applied: report.changes_applied,
            position: report.position,
            server_position: report.server_position,
            changes_pushed: report.changes_pushed,
            conflicts: report.conflicts,
            tables_changed: report.tables_changed,
        })
    }

    /// Replica: where the last sync got to, when, and its error if it failed; offline, also
    /// the pending changes and conflicts as of the last sync. `None` for a database that is
    /// not a replica.
    pub fn sync_status(&self) -> Option<SyncStatus> {
        self.db.sync_status().map(Into::into)
    }

    /// Replica or offline: waits until the next sync (background or explicit) has finished and
    /// returns the status (its error fields say whether it succeeded). `UNSUPPORTED` for
    /// other databases.
    pub async fn wait_for_sync(&self) -> Result<SyncStatus, TidepoolError> {
        let db = self.db.clone();
        Ok(run(async move { Ok(db.wait_for_sync().await?) })
            .await?
            .into())
    }

    /// Offline: how many local changes wait to be pushed. `UNSUPPORTED` for other databases.
    pub async fn pending_changes(&self) -> Result<u64, TidepoolError> {
        let db = self.db.clone();
        run(async move { Ok(db.pending_changes().await?) }).await
    }

    /// Offline: the conflicts and refused changes syncs recorded, oldest first, until they
    /// are resolved. `UNSUPPORTED` for other databases.
    pub async fn conflicts(&self) -> Result<Vec<Conflict>, TidepoolError> {
        let db = self.db.clone();
        let conflicts = run(async move { Ok(db.conflicts().await?) }).await?;
        Ok(conflicts.into_iter().map(Into::into).collect())
    }

    /// Offline: settles a recorded conflict. `KeepRemote` accepts the row as it is;
    /// `KeepLocal` and `Merge` write that version as a new local change, which the next sync
    /// pushes. `INVALID_ARGUMENT` for an unknown id.
    pub async fn resolve_conflict(
        &self,
        id: i64,
        resolution: Resolution,
    ) -> Result<(), TidepoolError> {
        let db = self.db.clone();
        run(async move { Ok(db.resolve_conflict(id, resolution.into()).await?) }).await
    }

    /// Calls `listener` after each change, on a thread of its own, until the handle is
    /// cancelled or dropped. Replica or offline: the tables changed by each local commit on
    /// the database (origin `Local`) and by each sync that changed rows (origin `Remote`).
    /// Local or remote: each committed write made through this database's connections (a
    /// statement, batch or script outside a transaction, or a transaction's commit; never a
    /// rollback), origin `Local`, with `tables` empty (not known here).
    pub fn add_change_listener(
        &self,
        listener: Box<dyn ChangeListener>,
    ) -> Result<Arc<ChangeListenerHandle>, TidepoolError> {
        let source = match self.notifier.subscribe() {
            Some(own) => own,
            None => Source::Core(self.db.subscribe()?),
        };
        Ok(Arc::new(changes::listen(source, listener)?))
    }
}
