//! The convergence simulator: five devices make random inserts, updates and deletes offline
//! and sync in random orders through a fault proxy that loses replies and cuts the server off,
//! while devices "crash" mid-sync (the sync is dropped at a random point and the database
//! reopened from its file). After final syncs every device and the server hold the same rows,
//! and every write a device acknowledged is in the final data, was seen and overwritten by a
//! later write, or is recorded in a conflict.
//!
//! Seeds are deterministic in what they do (operations, orders, fault points), not in thread
//! timing. `TIDEPOOL_SIM_SEEDS` sets how many run (default 1,000) and `TIDEPOOL_SIM_FIRST`
//! the first seed; a failure names its seed.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tidepool::{Builder, Connection, Database, Value};

use crate::proxy::Proxy;
use crate::support::TestServer;

const DEVICES: usize = 5;
const KEYS: i64 = 8;
const STEPS: usize = 40;
const TABLE: &str = "SELECT id, a, b, code FROM t ORDER BY id";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_converge_under_faults_and_crashes() {
    let seeds = env_u64("TIDEPOOL_SIM_SEEDS", 1000);
    let first = env_u64("TIDEPOOL_SIM_FIRST", 1);
    let outcomes: Vec<Result<Tally, String>> = stream::iter(first..first + seeds)
        .map(|seed| async move {
            run_seed(seed)
                .await
                .map_err(|e| format!("seed {seed}: {e}"))
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut total = Tally::default();
    let mut failures = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(t) => total.add(&t),
            Err(e) => failures.push(e),
        }
    }
    eprintln!("{seeds} seeds: {total:?}");
    assert!(
        failures.is_empty(),
        "{} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The faults were exercised, not just configured.
    assert!(
        total.conflicts > 0 && total.rejected > 0 || seeds < 50,
        "{total:?}"
    );
    assert!(
        total.failed_syncs > 0 && total.crashes > 0 || seeds < 10,
        "{total:?}"
    );
}

/// What the seeds did, summed.
#[derive(Debug, Default)]
struct Tally {
    writes: usize,
    syncs: usize,
    failed_syncs: usize,
    crashes: usize,
    conflicts: usize,
    rejected: usize,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.writes += o.writes;
        self.syncs += o.syncs;
        self.failed_syncs += o.failed_syncs;
        self.crashes += o.crashes;
        self.conflicts += o.conflicts;
        self.rejected += o.rejected;
    }
}

/// What the simulation knows about one device.
struct Device {
    path: PathBuf,
    url: String,
    db: Database,
}

impl Device {
    fn open(path: PathBuf, url: String) -> Device {
        let db = Builder::offline(&path, &url)
            .max_attempts(2)
            .build()
            .expect("build");
        Device { path, url, db }
    }

    /// A crash: everything in memory is gone; the file is what survives.
    fn crash(&mut self) {
        self.db = Builder::offline(&self.path, &self.url)
            .max_attempts(2)
            .build()
            .expect("reopen");
    }
}

async fn dump(conn: &Connection) -> Result<Vec<Vec<Value>>, String> {
    Ok(conn
        .query(TABLE, ())
        .await
        .map_err(|e| e.to_string())?
        .collect_all()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|r| r.into_values())
        .collect())
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Text(t) => Some(t.clone()),
        _ => None,
    }
}

/// Syncs until it succeeds (the server may still hold a dropped push's lock until its stream
/// expires).
async fn sync_until_ok(db: &Database) -> Result<tidepool::SyncReport, String> {
    let mut last = String::new();
    for _ in 0..200 {
        match db.sync().await {
            Ok(report) => return Ok(report),
            Err(e) => last = format!("{e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!("sync never succeeded: {last}"))
}

async fn run_seed(seed: u64) -> Result<Tally, String> {
    let mut tally = Tally::default();
    let mut rng = StdRng::seed_from_u64(seed);
    let server = TestServer::start_with(|c| {
        c.stream_expiry = Duration::from_millis(150);
        c.busy_timeout = Duration::from_millis(100);
    })
    .await;
    let primary = server.db("http").connect();
    primary
        .execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, code TEXT UNIQUE);
             INSERT INTO t VALUES (1, 's1a', 's1b', NULL), (2, 's2a', 's2b', NULL), \
               (3, 's3a', 's3b', 'x')",
        )
        .await
        .map_err(|e| e.to_string())?;
    let proxy = Proxy::start(server.addr()).await;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut devices: Vec<Device> = (0..DEVICES)
        .map(|d| {
            let scheme = if d % 2 == 0 { "http" } else { "ws" };
            Device::open(dir.path().join(format!("d{d}.db")), proxy.url(scheme))
        })
        .collect();
    for device in &devices {
        sync_until_ok(&device.db).await?;
    }

    // (key, column, value) of every acknowledged write, and of every value a device saw
    // and overwrote or deleted.
    let mut writes: Vec<(i64, &str, String)> = Vec::new();
    let mut seen: HashSet<(i64, String)> = HashSet::new();
    let mut n = 0;
    for _ in 0..STEPS {
        let d = rng.gen_range(0..DEVICES);
        let roll = rng.gen_range(0..100);
        let device = &mut devices[d];
        if roll < 60 {
            let conn = device.db.connect();
            let key = rng.gen_range(1..=KEYS);
            let row = conn
                .query("SELECT a, b FROM t WHERE id = ?", (key,))
                .await
                .map_err(|e| e.to_string())?
                .collect_all()
                .await
                .map_err(|e| e.to_string())?;
            n += 1;
            let value = format!("{seed}-{d}-{n}");
            match row.first() {
                Some(row) if rng.gen_bool(0.75) => {
                    let col = if rng.gen_bool(0.5) { "a" } else { "b" };
                    let old = row.value(col).map_err(|e| e.to_string())?.clone();
                    conn.execute(
                        &format!("UPDATE t SET {col} = ? WHERE id = ?"),
                        (value.as_str(), key),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                    if let Some(old) = text(&old) {
                        seen.insert((key, old));
                    }
                    writes.push((key, col, value));
                }
                Some(row) => {
                    conn.execute("DELETE FROM t WHERE id = ?", (key,))
                        .await
                        .map_err(|e| e.to_string())?;
                    for v in row.values() {
                        if let Some(v) = text(v) {
                            seen.insert((key, v));
                        }
                    }
                }
                None => {
                    let code = match rng.gen_range(0..10) {
                        0 => Value::Text("x".into()),
                        1 => Value::Text("y".into()),
                        _ => Value::Null,
                    };
                    let (a, b) = (format!("{value}a"), format!("{value}b"));
                    let inserted = conn
                        .execute(
                            "INSERT INTO t VALUES (?, ?, ?, ?)",
                            vec![
                                Value::Integer(key),
                                Value::Text(a.clone()),
                                Value::Text(b.clone()),
                                code,
                            ],
                        )
                        .await;
                    // A local UNIQUE failure is not acknowledged: nothing to account for.
                    if inserted.is_ok() {
                        writes.push((key, "a", a));
                        writes.push((key, "b", b));
                    }
                }
            }
        } else if roll < 85 {
            match rng.gen_range(0..10) {
                0..=2 => proxy.lose_response_after(rng.gen_range(0..12)),
                3 => proxy.set_unreachable(true),
                _ => {}
            }
            tally.syncs += 1;
            if device.db.sync().await.is_err() {
                tally.failed_syncs += 1;
            }
            proxy.lose_response_after(usize::MAX);
            proxy.set_unreachable(false);
        } else if roll < 95 {
            let cut = Duration::from_micros(rng.gen_range(0..30_000));
            let _ = tokio::time::timeout(cut, device.db.sync()).await;
            device.crash();
            tally.crashes += 1;
        } else {
            device.crash();
            tally.crashes += 1;
        }
    }

    // Final syncs: everyone pushes everything, then everyone pulls everything.
    for _ in 0..2 {
        for device in &devices {
            sync_until_ok(&device.db).await?;
        }
    }
    let want = dump(&primary).await?;
    for (d, device) in devices.iter().enumerate() {
        let pending = device
            .db
            .pending_changes()
            .await
            .map_err(|e| e.to_string())?;
        if pending != 0 {
            return Err(format!("device {d} still has {pending} changes to push"));
        }
        let got = dump(&device.db.connect()).await?;
        if got != want {
            return Err(format!(
                "device {d} differs from the server:\n  device {got:?}\n  server {want:?}"
            ));
        }
    }

    // Every acknowledged write is accounted for.
    let mut final_cells: BTreeMap<(i64, String), String> = BTreeMap::new();
    for row in &want {
        let Value::Integer(key) = row[0] else {
            continue;
        };
        for (i, col) in [(1, "a"), (2, "b")] {
            if let Some(v) = text(&row[i]) {
                final_cells.insert((key, col.to_owned()), v);
            }
        }
    }
    let mut recorded: HashSet<(i64, String)> = HashSet::new();
    for device in &devices {
        for c in device.db.conflicts().await.map_err(|e| e.to_string())? {
            tally.conflicts += 1;
            if c.kind == tidepool::ConflictKind::Rejected {
                tally.rejected += 1;
            }
            let Some(Value::Integer(key)) = c.key.first() else {
                continue;
            };
            for image in [&c.local, &c.remote].into_iter().flatten() {
                for (_, v) in image {
                    if let Some(v) = text(v) {
                        recorded.insert((*key, v));
                    }
                }
            }
        }
    }
    for (key, col, value) in &writes {
        let present = final_cells.get(&(*key, (*col).to_owned())) == Some(value);
        let cell = (*key, value.clone());
        if !(present || seen.contains(&cell) || recorded.contains(&cell)) {
            return Err(format!("the write {col} = {value:?} of row {key} was lost"));
        }
    }
    tally.writes = writes.len();
    Ok(tally)
}
