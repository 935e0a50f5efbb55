//! Replicas and offline databases: `sync()`'s report and `syncStatus()`, as plain JavaScript objects.

use std::time::UNIX_EPOCH;

use napi_derive::napi;
use tidepool::{SyncReport, SyncStatus};

/// What one `sync()` did.
#[napi(object)]
pub struct JsSyncReport {
    /// Rows copied whole (the first sync, new or changed tables).
    pub rows_copied: f64,
    pub tables_copied: f64,
    /// Copies an interrupted sync had begun, continued.
    pub copies_resumed: f64,
    pub tables_dropped: f64,
    /// Changes pulled and applied.
    pub changes_applied: f64,
    /// The replica's position in the server's change stream after the sync.
    pub position: f64,
    /// The server's position when the sync began.
    pub server_position: f64,
    /// Offline: local changes pushed to the server.
    pub changes_pushed: f64,
    /// Offline: conflicts and refused changes this sync recorded.
    pub conflicts: f64,
    /// Tables whose rows this sync changed on the device, sorted.
    pub tables_changed: Vec<String>,
}

impl From<SyncReport> for JsSyncReport {
    fn from(r: SyncReport) -> Self {
        JsSyncReport {
            rows_copied: r.rows_copied as f64,
            tables_copied: r.tables_copied as f64,
            copies_resumed: r.copies_resumed as f64,
            tables_dropped: r.tables_dropped as f64,
            changes_applied: r.changes_applied as f64,
            position: r.position as f64,
            server_position: r.server_position as f64,
            changes_pushed: r.changes_pushed as f64,
            conflicts: r.conflicts as f64,
            tables_changed: r.tables_changed,
        }
    }
}

/// The last sync's error, as the package's `LibsqlError` takes it.
#[napi(object)]
pub struct JsSyncError {
    pub code: String,
    pub extended_code: Option<String>,
    pub message: String,
}

/// Where a replica's syncing stands.
#[napi(object)]
pub struct JsSyncStatus {
    /// Whether the first copy has completed (reads before it see an empty database).
    pub bootstrapped: bool,
    pub position: f64,
    pub server_position: f64,
    /// When the last successful sync ended, in milliseconds since the epoch.
    pub last_synced_at: Option<f64>,
    /// How long the last successful sync took, in milliseconds.
    pub last_duration_ms: Option<f64>,
    pub last_error: Option<JsSyncError>,
    /// Whether a sync is running now.
    pub syncing: bool,
    /// Successful syncs since the client was created.
    pub syncs: f64,
    /// Offline: local changes waiting to be pushed, as of the last sync.
    pub pending_changes: f64,
    /// Offline: unresolved conflicts, as of the last sync.
    pub conflicts: f64,
}

impl From<SyncStatus> for JsSyncStatus {
    fn from(s: SyncStatus) -> Self {
        JsSyncStatus {
            bootstrapped: s.bootstrapped,
            position: s.position as f64,
            server_position: s.server_position as f64,
            last_synced_at: s
                .last_synced_at
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs_f64() * 1000.0),
            last_duration_ms: s.last_duration.map(|d| d.as_secs_f64() * 1000.0),
            last_error: s.last_error.map(|e| JsSyncError {
                code: e.code().to_owned(),
                extended_code: e.extended_code().map(str::to_owned),
                message: e.message().to_owned(),
            }),
            syncing: s.syncing,
            syncs: s.syncs as f64,
            pending_changes: s.pending_changes as f64,
            conflicts: s.conflicts as f64,
        }
    }
}
