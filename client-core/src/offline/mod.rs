//! Offline mode: a replica the application also writes to. Writes commit on the device's file
//! whether or not the server is reachable; triggers capture each transaction's changes into a
//! durable outbox in the same transaction ([`capture`]). A sync pushes the outbox exactly once
//! ([`push`]), deciding conflicts by per-column last-writer-wins on hybrid logical clocks, a
//! table's policy or the application's resolver ([`resolve`]); every conflict and every change
//! the server refuses is kept as a row of `_tidepool_conflicts`. Then it pulls the server's
//! changes like any replica, replaying the changes not pushed yet on top ([`rebase`]).
//! docs/adr/0003-offline-writes.md records the design.

pub(crate) mod capture;
mod clock;
pub(crate) mod conn;
pub(crate) mod push;
mod rebase;
pub(crate) mod resolve;
mod types;
mod writes;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::sync::{broadcast, watch, Notify};

pub use self::types::{
    ChangeOrigin, Conflict, ConflictKind, ConflictOutcome, ConflictPolicy, ConflictRule,
    Resolution, Resolver, RowImage, TableChange,
};

use self::capture::LocalCapture;
use self::types::image_get;
use crate::error::{code, Error, Result};
use crate::replica::literal::ident;
use crate::replica::sync::{local_tables, TableInfo};
use crate::{Connection, Statement, TransactionBehavior, Value};

/// How an offline database decides conflicts, from the builder.
#[derive(Clone, Debug)]
pub(crate) struct OfflineConfig {
    pub default_policy: ConflictPolicy,
    pub policies: HashMap<String, ConflictPolicy>,
    pub resolver: Option<Arc<dyn Resolver>>,
    /// Clients not seen for this long do not hold back tombstone collection.
    pub tombstone_horizon: std::time::Duration,
}

/// The default tombstone horizon: 30 days.
pub(crate) const TOMBSTONE_HORIZON: std::time::Duration =
    std::time::Duration::from_secs(30 * 24 * 3600);

impl Default for OfflineConfig {
    fn default() -> Self {
        OfflineConfig {
            default_policy: ConflictPolicy::default(),
            policies: HashMap::new(),
            resolver: None,
            tombstone_horizon: TOMBSTONE_HORIZON,
        }
    }
}

/// The offline state of a replica database.
#[derive(Debug)]
pub(crate) struct Offline {
    pub capture: Arc<LocalCapture>,
    pub config: OfflineConfig,
    pub resolver: Option<Arc<dyn Resolver>>,
    /// The server's offline objects are known to exist.
    pub base_known: AtomicBool,
    /// Local writes wake the background sync.
    pub wake: Notify,
    /// When this process last collected tombstones.
    last_collect: parking_lot::Mutex<Option<std::time::Instant>>,
}

impl Offline {
    pub fn new(capture: Arc<LocalCapture>, config: OfflineConfig) -> Self {
        Offline {
            capture,
            resolver: config.resolver.clone(),
            config,
            base_known: AtomicBool::new(false),
            wake: Notify::new(),
            last_collect: parking_lot::Mutex::new(None),
        }
    }

    /// Whether this push should collect tombstones (the first push, then every `every`).
    pub fn collect_due(&self, every: std::time::Duration) -> bool {
        let mut last = self.last_collect.lock();
        if last.is_some_and(|at| at.elapsed() < every) {
            return false;
        }
        *last = Some(std::time::Instant::now());
        true
    }

    pub fn policy(&self, table: &str) -> ConflictPolicy {
        self.config
            .policies
            .get(table)
            .copied()
            .unwrap_or(self.config.default_policy)
    }
}

/// Change notifications of a replica or offline database, and completed syncs.
#[derive(Debug)]
pub(crate) struct Notifier {
    changes: broadcast::Sender<TableChange>,
    synced: watch::Sender<u64>,
}

impl Default for Notifier {
    fn default() -> Self {
        Notifier {
            changes: broadcast::channel(256).0,
            synced: watch::channel(0).0,
        }
    }
}

impl Notifier {
    pub fn notify(&self, tables: Vec<String>, origin: ChangeOrigin) {
        if !tables.is_empty() {
            // No receiver is not an error: nobody is listening.
            let _ = self.changes.send(TableChange { tables, origin });
        }
    }

    pub fn synced(&self) {
        self.synced.send_modify(|n| *n += 1);
    }

    pub fn subscribe(&self) -> Changes {
        Changes {
            inner: self.changes.subscribe(),
        }
    }

    pub fn sync_watch(&self) -> watch::Receiver<u64> {
        self.synced.subscribe()
    }
}

/// Notifications of changed tables, from [`crate::Database::subscribe`]. Dropping it
/// unsubscribes.
#[derive(Debug)]
pub struct Changes {
    inner: broadcast::Receiver<TableChange>,
}

impl Changes {
    /// The next change; `None` once the database is gone. A subscriber that falls more than
    /// 256 notifications behind skips the oldest (refreshing on the next one shows all).
    pub async fn recv(&mut self) -> Option<TableChange> {
        loop {
            match self.inner.recv().await {
                Ok(change) => return Some(change),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// A change already waiting, without waiting for one.
    pub fn try_recv(&mut self) -> Option<TableChange> {
        loop {
            match self.inner.try_recv() {
                Ok(change) => return Some(change),
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        }
    }
}

/// The unresolved conflicts, oldest first.
pub(crate) async fn conflicts(conn: &Connection) -> Result<Vec<Conflict>> {
    let rows = conn
        .query(
            &format!(
                "SELECT {} FROM _tidepool_conflicts ORDER BY id",
                push::CONFLICT_COLS
            ),
            (),
        )
        .await?
        .collect_all()
        .await?;
    rows.iter().map(push::conflict_from_row).collect()
}

/// Settles a conflict: writes the chosen version as a new local change (captured, so the next
/// sync pushes it) and removes the conflict, in one local transaction on `conn` (an application
/// connection).
pub(crate) async fn resolve_conflict(
    conn: &Connection,
    id: i64,
    resolution: Resolution,
) -> Result<()> {
    let found = conn
        .query(
            &format!(
                "SELECT {} FROM _tidepool_conflicts WHERE id = ?",
                push::CONFLICT_COLS
            ),
            (id,),
        )
        .await?
        .collect_all()
        .await?;
    let Some(row) = found.first() else {
        return Err(Error::usage(
            code::INVALID_ARGUMENT,
            format!("no conflict with id {id}"),
        ));
    };
    let conflict = push::conflict_from_row(row)?;
    let tables = local_tables(conn).await?;
    let tx = conn
        .transaction_with(TransactionBehavior::Immediate)
        .await?;
    let target = match resolution {
        Resolution::KeepRemote => None,
        Resolution::KeepLocal => Some(conflict.local.clone()),
        Resolution::Merge(image) => Some(Some(image)),
    };
    if let Some(target) = target {
        let info = tables.get(&conflict.table).ok_or_else(|| {
            Error::usage(
                code::INVALID_ARGUMENT,
                format!("the table {:?} is no longer synced", conflict.table),
            )
        })?;
        for statement in write_version(&conflict, info, target.as_ref()) {
            let (sql, params) = statement;
            let done = tx.execute(&sql, params).await?;
            if done.rows_affected > 0 {
                break;
            }
        }
    }
    tx.execute("DELETE FROM _tidepool_conflicts WHERE id = ?", (id,))
        .await?;
    tx.commit().await
}

/// Statements that make the local row `image` (or delete it), tried in order until one
/// changes a row: an update of the columns, else an insert.
fn write_version(
    conflict: &Conflict,
    info: &TableInfo,
    image: Option<&RowImage>,
) -> Vec<(String, Vec<Value>)> {
    let t = ident(&conflict.table);
    let where_key = info.where_key();
    let Some(image) = image else {
        return vec![(
            format!("DELETE FROM {t} WHERE {where_key}"),
            conflict.key.clone(),
        )];
    };
    let image: RowImage = image
        .iter()
        .filter(|(c, _)| info.cols.contains(c))
        .cloned()
        .collect();
    let set: Vec<String> = image
        .iter()
        .map(|(c, _)| format!("{} = ?", ident(c)))
        .collect();
    let mut out = Vec::new();
    if !set.is_empty() {
        out.push((
            format!("UPDATE {t} SET {} WHERE {where_key}", set.join(", ")),
            image
                .iter()
                .map(|(_, v)| v.clone())
                .chain(conflict.key.iter().cloned())
                .collect(),
        ));
    }
    let mut cols: Vec<String> = image.iter().map(|(c, _)| ident(c)).collect();
    let mut values: Vec<Value> = image.iter().map(|(_, v)| v.clone()).collect();
    match &info.key {
        crate::replica::capture::Key::Rowid => {
            cols.insert(0, "rowid".into());
            values.insert(0, conflict.key[0].clone());
        }
        crate::replica::capture::Key::Columns(key) => {
            for (k, v) in key.iter().zip(&conflict.key) {
                if image_get(&image, k).is_none() {
                    cols.push(ident(k));
                    values.push(v.clone());
                }
            }
        }
    }
    out.push((
        format!(
            "INSERT INTO {t} ({}) VALUES ({})",
            cols.join(", "),
            vec!["?"; cols.len()].join(", ")
        ),
        values,
    ));
    out
}

/// Runs `statements` on the sync connection in one local transaction, with the device's
/// not-yet-pushed changes to `keys` replayed after them, so that what sync writes never hides
/// a local write. Returns nothing; the caller records progress in `statements`.
pub(crate) async fn apply_with_replay(
    local: &Connection,
    mut statements: Vec<Statement>,
    keys: &(dyn Fn(&resolve::Entry) -> bool + Sync),
    tables: &BTreeMap<String, TableInfo>,
) -> Result<()> {
    let tx = local
        .transaction_with(TransactionBehavior::Immediate)
        .await?;
    // Usually nothing is pending (a sync pushes before it pulls): one cheap look first.
    let queued = tx
        .query("SELECT EXISTS (SELECT 1 FROM _tidepool_outbox)", ())
        .await?
        .collect_all()
        .await?
        .first()
        .map(|r| r.get::<i64>(0))
        .transpose()?
        .unwrap_or(0);
    let pending = if queued == 0 {
        Vec::new()
    } else {
        push::entries(
            tx.query(
                "SELECT id, hlc, tbl, pk, op, old, new FROM _tidepool_outbox ORDER BY id",
                (),
            )
            .await?
            .collect_all()
            .await?,
        )?
    };
    for entry in pending.iter().filter(|e| keys(e)) {
        if let Some(info) = tables.get(&entry.table) {
            statements.extend(rebase::replay(info, entry));
        }
    }
    tx.batch(statements).await?;
    tx.commit().await
}

/// The statements that make sure every mirrored table captures local writes.
pub(crate) async fn capture_statements(
    local: &Connection,
    tables: &BTreeMap<String, TableInfo>,
) -> Result<Vec<Statement>> {
    let counts: HashMap<String, i64> = local
        .query(
            "SELECT tbl_name, count(*) FROM sqlite_master WHERE type = 'trigger' \
             AND name LIKE '\\_tidepool\\_outbox\\_%' ESCAPE '\\' GROUP BY tbl_name",
            (),
        )
        .await?
        .collect_all()
        .await?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .collect::<Result<_>>()?;
    Ok(tables
        .iter()
        .filter(|(name, _)| counts.get(*name).copied() != Some(3))
        .flat_map(|(name, info)| capture::install_table(name, &info.cols, &info.key))
        .map(|sql| Statement::new(&sql, ()))
        .collect())
}

/// Pending changes and unresolved conflicts on the device.
pub(crate) async fn counts(local: &Connection) -> Result<(u64, u64)> {
    let row = crate::replica::sync::one_row(
        local,
        "SELECT (SELECT count(*) FROM _tidepool_outbox), (SELECT count(*) FROM _tidepool_conflicts)",
        vec![],
    )
    .await?;
    Ok((row.get::<i64>(0)? as u64, row.get::<i64>(1)? as u64))
}
