//! Replica mode: a local file that mirrors a remote database. Reads run on the file's reader
//! connections (microseconds, no network); writes and transactions run on the server, and the
//! replica catches up before the write returns, so a read after a write sees it. Changes arrive
//! through the change stream (docs/adr/0002-change-stream.md): logical, row-level, pulled from a
//! durable position, applied on the local writer while readers keep reading.

pub(crate) mod capture;
pub(crate) mod literal;
pub(crate) mod sync;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::BoxFuture;
use tidepool_protocol::{Batch, BatchResult, DescribeResult, Stmt, StmtResult};

use crate::backend::Cursor;
use crate::error::{code, Error, Result};
use crate::local::{LocalConn, LocalDb};
use crate::offline::{ChangeOrigin, Notifier, Offline};
use crate::remote::retry::is_read_only_sql;
use crate::remote::{RemoteConn, StoredSql, Transport};
use crate::Database;

/// What one [`Database::sync`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncReport {
    /// Rows copied whole (bootstrap, new or changed tables).
    pub rows_copied: u64,
    /// Tables copied whole.
    pub tables_copied: u64,
    /// Copies an earlier, interrupted sync had begun, continued where they stopped.
    pub copies_resumed: u64,
    /// Tables the server no longer has, dropped from the replica.
    pub tables_dropped: usize,
    /// Changes pulled and applied.
    pub changes_applied: u64,
    /// The replica's position in the change stream after the sync.
    pub position: i64,
    /// The server's position when the sync began.
    pub server_position: i64,
    /// Offline mode: local changes pushed to the server.
    pub changes_pushed: u64,
    /// Offline mode: conflicts and rejected changes recorded by this sync.
    pub conflicts: u64,
    /// Tables whose rows this sync changed on the device, sorted.
    pub tables_changed: Vec<String>,
}

/// A replica's sync state, from [`Database::sync_status`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SyncStatus {
    /// Whether the initial copy has completed (reads before it see an empty database).
    pub bootstrapped: bool,
    /// The position reached in the server's change stream.
    pub position: i64,
    /// The server's position seen by the last sync; `server_position - position` is how many
    /// changes the replica was behind when it last looked.
    pub server_position: i64,
    /// When the last successful sync ended.
    pub last_synced_at: Option<SystemTime>,
    /// How long the last successful sync took.
    pub last_duration: Option<Duration>,
    /// The error of the last sync, if it failed.
    pub last_error: Option<Error>,
    /// Whether a sync is running now.
    pub syncing: bool,
    /// Successful syncs since the database was opened.
    pub syncs: u64,
    /// Offline mode: local changes waiting to be pushed, as of the last sync.
    pub pending_changes: u64,
    /// Offline mode: unresolved conflicts, as of the last sync.
    pub conflicts: u64,
}

impl SyncStatus {
    /// Time since the last successful sync: how stale local reads may be.
    pub fn lag(&self) -> Option<Duration> {
        self.last_synced_at
            .and_then(|at| SystemTime::now().duration_since(at).ok())
    }
}

/// The shared state of a replica database.
#[derive(Debug)]
pub(crate) struct Replica {
    pub remote: Database,
    pub local: Database,
    /// The same databases' insides, for user connections.
    pub db: Arc<LocalDb>,
    pub transport: Transport,
    interval: Option<Duration>,
    background: AtomicBool,
    /// The server's change table is known to exist (checked by the first sync, and again
    /// after a failed one).
    base_known: AtomicBool,
    sync_lock: tokio::sync::Mutex<()>,
    /// The server connection syncs use, kept between successful syncs.
    remote_conn: parking_lot::Mutex<Option<(crate::Connection, sync::PullStatement)>>,
    status: parking_lot::Mutex<SyncStatus>,
    /// Offline mode: local writes and their sync.
    pub offline: Option<Offline>,
    pub notifier: Notifier,
}

impl Replica {
    pub fn new(
        remote: Database,
        local: Database,
        db: Arc<LocalDb>,
        transport: Transport,
        interval: Option<Duration>,
        offline: Option<Offline>,
    ) -> Self {
        Replica {
            offline,
            notifier: Notifier::default(),
            remote,
            local,
            db,
            transport,
            interval,
            background: AtomicBool::new(false),
            base_known: AtomicBool::new(false),
            sync_lock: tokio::sync::Mutex::new(()),
            remote_conn: parking_lot::Mutex::new(None),
            status: parking_lot::Mutex::new(SyncStatus::default()),
        }
    }

    pub fn status(&self) -> SyncStatus {
        self.status.lock().clone()
    }

    /// Runs a sync, after any sync already running.
    pub async fn sync(&self) -> Result<SyncReport> {
        self.sync_with(false).await
    }

    /// Offline: pushes the outbox without pulling.
    pub async fn push(&self) -> Result<SyncReport> {
        self.sync_with(true).await
    }

    async fn sync_with(&self, push_only: bool) -> Result<SyncReport> {
        let _running = self.sync_lock.lock().await;
        self.status.lock().syncing = true;
        let started = Instant::now();
        let mut report = SyncReport::default();
        let local = self.local.connect();
        // One server stream for every sync while they succeed: no stream to open per sync.
        let (remote, mut pull_stmt) = self.remote_conn.lock().take().unwrap_or_else(|| {
            let wanted = matches!(self.transport, Transport::Ws(_));
            let pull = sync::PullStatement { wanted, stmt: None };
            (self.remote.connect(), pull)
        });
        let mut result = Box::pin(sync::run(
            &local,
            &remote,
            &self.base_known,
            self.offline.as_ref(),
            push_only,
            &mut pull_stmt,
            &mut report,
        ))
        .await;
        if result.is_ok() {
            *self.remote_conn.lock() = Some((remote, pull_stmt));
        }
        if result.is_err() {
            self.base_known.store(false, Ordering::SeqCst);
            if let Some(offline) = &self.offline {
                offline.base_known.store(false, Ordering::SeqCst);
            }
        }
        let counts = match (&result, &self.offline) {
            (Ok(()), Some(_)) => match crate::offline::counts(&local).await {
                Ok(counts) => Some(counts),
                Err(e) => {
                    result = Err(e);
                    None
                }
            },
            _ => None,
        };
        let mut status = self.status.lock();
        status.syncing = false;
        match &result {
            Ok(()) => {
                status.bootstrapped = true;
                status.position = report.position;
                status.server_position = report.server_position.max(report.position);
                status.last_synced_at = Some(SystemTime::now());
                status.last_duration = Some(started.elapsed());
                status.last_error = None;
                status.syncs += 1;
                if let Some((pending, conflicts)) = counts {
                    status.pending_changes = pending;
                    status.conflicts = conflicts;
                }
            }
            Err(e) => status.last_error = Some(e.clone()),
        }
        drop(status);
        if result.is_ok() {
            self.notifier
                .notify(report.tables_changed.clone(), ChangeOrigin::Remote);
        }
        self.notifier.synced();
        result.map(|()| report)
    }

    /// Syncs every interval (if one is set) until the database is dropped, from the first call
    /// made inside a tokio runtime. Failures are kept in the status.
    pub fn start_background(self: &Arc<Self>) {
        let Some(interval) = self.interval else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.background.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak: Weak<Replica> = Arc::downgrade(self);
        runtime.spawn(async move {
            // After a failure (the server unreachable), retry sooner, backing off up to the
            // interval, so that sync resumes soon after the connection comes back.
            let mut retry = RETRY_MIN;
            let mut wait = Duration::ZERO;
            loop {
                let woken = {
                    let Some(replica) = weak.upgrade() else {
                        return;
                    };
                    let woken = async {
                        match &replica.offline {
                            Some(offline) => offline.wake.notified().await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        () = tokio::time::sleep(wait) => false,
                        () = woken => true,
                    }
                };
                if woken {
                    // Let a burst of writes finish before pushing them together.
                    tokio::time::sleep(WRITE_DEBOUNCE).await;
                }
                let Some(replica) = weak.upgrade() else {
                    return;
                };
                match replica.sync().await {
                    Ok(_) => {
                        retry = RETRY_MIN;
                        wait = interval;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "background sync failed");
                        wait = retry.min(interval);
                        retry = (retry * 2).min(interval);
                    }
                }
            }
        });
    }
}

/// The first retry after a failed background sync.
const RETRY_MIN: Duration = Duration::from_millis(500);

/// How long a background sync woken by a local write waits for more writes.
const WRITE_DEBOUNCE: Duration = Duration::from_millis(50);

/// One connection to a replica: reads on the local file, everything else on the server.
#[derive(Debug)]
pub(crate) struct ReplicaConn {
    local: LocalConn,
    remote: RemoteConn,
    replica: Arc<Replica>,
}

impl ReplicaConn {
    pub fn new(local: LocalConn, remote: RemoteConn, replica: Arc<Replica>) -> Self {
        ReplicaConn {
            local,
            remote,
            replica,
        }
    }

    /// Whether `sql` runs on the local file: a read, outside a transaction on the server.
    fn reads_locally(&self, sql: Option<&str>) -> bool {
        self.remote.is_autocommit() && sql.is_some_and(is_read_only_sql)
    }

    /// After a call on the server: once its transaction (if any) has ended, the replica
    /// catches up so the next read sees what was written. A failed catch-up does not fail the
    /// write (it happened); it is kept in the sync status and the next sync retries.
    async fn after_remote(&self) {
        if self.remote.is_autocommit() {
            // A task of its own, so that a caller that stops waiting does not stop the catch-up.
            let replica = Arc::clone(&self.replica);
            let sync = tokio::spawn(async move { replica.sync().await });
            if let Err(e) = sync.await.unwrap_or_else(|e| {
                Err(Error::usage(
                    code::CLOSED,
                    format!("the catch-up task ended: {e}"),
                ))
            }) {
                tracing::warn!(error = %e, "catching up after a write failed");
            }
        }
    }

    // The calls that may catch up return boxed futures: a sync runs statements through
    // connections, so without the box the future types would contain themselves.
    pub fn execute(
        &mut self,
        stmt: Stmt,
        stored: Option<StoredSql>,
    ) -> BoxFuture<'_, Result<StmtResult>> {
        Box::pin(async move {
            if self.reads_locally(stmt.sql.as_deref()) {
                match self.local.execute(stmt.clone()).await {
                    Err(e) if e.code() == tidepool_engine::errors::code::FORBIDDEN => {}
                    other => return other,
                }
            }
            let result = self.remote.execute_stored(stmt, stored).await;
            self.after_remote().await;
            result
        })
    }

    pub fn batch(&mut self, batch: Batch) -> BoxFuture<'_, Result<BatchResult>> {
        Box::pin(async move {
            let result = self.remote.batch(batch).await;
            self.after_remote().await;
            result
        })
    }

    pub fn sequence(&mut self, sql: String) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let result = self.remote.sequence(sql).await;
            self.after_remote().await;
            result
        })
    }

    pub async fn describe(&mut self, sql: String) -> Result<DescribeResult> {
        self.remote.describe(sql).await
    }

    pub async fn cursor(&mut self, batch: Batch) -> Result<Cursor> {
        if !self.remote.is_autocommit() {
            return self.remote.cursor(batch).await.map(Cursor::Remote);
        }
        let local =
            batch.steps.len() == 1 && self.reads_locally(batch.steps[0].stmt.sql.as_deref());
        if local {
            match self.local.cursor(batch.clone()).await {
                Err(e) if e.code() == tidepool_engine::errors::code::FORBIDDEN => {}
                other => return other.map(Cursor::Local),
            }
        }
        // Statements that write come back as one result (Connection::query asks for it when
        // the cursor is refused), so that the catch-up runs before the rows are returned.
        Err(Error::usage(
            code::UNSUPPORTED,
            "writes on a replica run as one request",
        ))
    }

    pub async fn store_sql(&mut self, sql: &str) -> Result<Option<StoredSql>> {
        self.remote.store_sql(sql).await
    }

    pub async fn close_sql(&mut self, stored: StoredSql) -> Result<()> {
        self.remote.close_sql(stored).await
    }

    pub fn is_autocommit(&self) -> bool {
        self.remote.is_autocommit()
    }

    pub async fn close(&mut self) -> Result<()> {
        self.local.close().await?;
        self.remote.close().await
    }

    pub fn close_in_background(&mut self) {
        self.remote.close_in_background();
    }

    pub fn schedule_rollback(&mut self) {
        self.remote.schedule_rollback();
    }

    pub async fn flush_rollback(&mut self) -> Result<()> {
        self.remote.flush_rollback().await
    }
}
