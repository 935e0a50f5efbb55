//! An offline device's sync killed for real — the `offline sync` example as a child process,
//! sent SIGKILL at random points of the push and of the pull, several times over. After each
//! kill the file passes `PRAGMA integrity_check`; at the end the server holds every change
//! exactly once (server-side audit triggers count each insert and update applied), the outbox
//! is empty, and the device holds the server's rows.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tidepool::{Builder, Connection, Database, Value};
use tidepool_server::{Config, RunningServer};

const INSERTS: i64 = 20_000;
const UPDATES: i64 = 5_000;

async fn server(dir: &tempfile::TempDir) -> RunningServer {
    let mut config = Config::new(dir.path().join("primary.db"));
    config.listen_addr = "127.0.0.1:0".parse().expect("addr");
    // A killed push leaves its server transaction (and the write lock) until the stream
    // expires: keep that short so the next child gets through.
    config.stream_expiry = Duration::from_millis(500);
    tidepool_server::serve(config).await.expect("server starts")
}

async fn int(conn: &Connection, sql: &str) -> i64 {
    let row = conn
        .query(sql, ())
        .await
        .expect("query")
        .next()
        .await
        .expect("row")
        .expect("a row");
    match row.values()[0] {
        Value::Integer(n) => n,
        ref other => panic!("{sql} gave {other:?}"),
    }
}

async fn dump(conn: &Connection) -> Vec<Vec<Value>> {
    conn.query("SELECT id, v FROM items ORDER BY id", ())
        .await
        .expect("query")
        .collect_all()
        .await
        .expect("rows")
        .into_iter()
        .map(|r| r.into_values())
        .collect()
}

/// A small deterministic generator for kill delays (seeded from the clock, printed).
struct Delays(u64);

impl Delays {
    fn next(&mut self, max_ms: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(20 + self.0 % max_ms)
    }
}

/// Runs `offline sync` children, killing each after a random delay, `kills` times (fewer if
/// a child finishes first). Returns how many were killed.
async fn kill_syncs(
    url: &str,
    file: &Path,
    kills: usize,
    delays: &mut Delays,
    max_ms: u64,
) -> usize {
    let mut killed = 0;
    for _ in 0..kills {
        let mut child = Command::new(env!("CARGO_BIN_EXE_offline"))
            .arg("sync")
            .env("TIDEPOOL_URL", url)
            .env("TIDEPOOL_OFFLINE", file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the child");
        tokio::time::sleep(delays.next(max_ms)).await;
        let finished = child.try_wait().expect("child status").is_some();
        if !finished {
            child.kill().expect("SIGKILL");
            killed += 1;
        }
        child.wait().expect("reaped");
        let db = Builder::local(file).build().expect("open the file");
        let conn = db.connect();
        let check = conn
            .query("PRAGMA integrity_check", ())
            .await
            .expect("integrity_check")
            .collect_all()
            .await
            .expect("rows");
        assert_eq!(
            check[0].values()[0],
            Value::Text("ok".into()),
            "a killed sync damaged the file"
        );
    }
    killed
}

async fn sync_until_ok(db: &Database) {
    for _ in 0..100 {
        match db.sync().await {
            Ok(_) => return,
            Err(e) => {
                eprintln!("final sync: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    panic!("the final sync never succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_killed_during_push_and_pull_lose_nothing_and_apply_nothing_twice() {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    eprintln!("kill delays seeded with {seed}");
    let mut delays = Delays(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir).await;
    let url = format!("http://{}", server.local_addr());
    let primary = Builder::new(&url).build().expect("db").connect();
    primary
        .execute_batch(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);
             CREATE TABLE audit (kind TEXT NOT NULL, id INTEGER NOT NULL);
             CREATE TRIGGER audit_insert AFTER INSERT ON items BEGIN
               INSERT INTO audit VALUES ('insert', NEW.id); END;
             CREATE TRIGGER audit_update AFTER UPDATE ON items BEGIN
               INSERT INTO audit VALUES ('update', NEW.id); END;",
        )
        .await
        .expect("schema");
    let file = dir.path().join("device.db");
    {
        let db = Builder::offline(&file, &url).build().expect("device");
        db.sync().await.expect("bootstrap");
        let conn = db.connect();
        for chunk in 0..INSERTS / 100 {
            conn.execute(
                "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
                 INSERT INTO items SELECT i, 0 FROM n",
                (chunk * 100 + 1, chunk * 100 + 100),
            )
            .await
            .expect("offline inserts");
        }
        conn.execute("UPDATE items SET v = 1 WHERE id <= ?", (UPDATES,))
            .await
            .expect("offline updates");
        assert_eq!(
            db.pending_changes().await.expect("pending") as i64,
            INSERTS + UPDATES
        );
    }

    // Push, killed at random points.
    let killed_push = kill_syncs(&url, &file, 6, &mut delays, 1500).await;
    let db = Builder::offline(&file, &url).build().expect("reopen");
    sync_until_ok(&db).await;
    assert_eq!(db.pending_changes().await.expect("pending"), 0);
    assert_eq!(int(&primary, "SELECT count(*) FROM items").await, INSERTS);
    assert_eq!(
        int(&primary, "SELECT count(*) FROM items WHERE v = 1").await,
        UPDATES
    );
    let inserts = int(&primary, "SELECT count(*) FROM audit WHERE kind = 'insert'").await;
    let updates = int(&primary, "SELECT count(*) FROM audit WHERE kind = 'update'").await;
    assert_eq!(
        (inserts, updates),
        (INSERTS, UPDATES),
        "every change applied exactly once"
    );
    assert!(db.conflicts().await.expect("conflicts").is_empty());
    assert_eq!(dump(&db.connect()).await, dump(&primary).await);

    // Pull, killed at random points, with a local change pending on top.
    primary
        .execute("UPDATE items SET v = v + 10", ())
        .await
        .expect("server changes every row");
    db.connect()
        .execute("UPDATE items SET v = -1 WHERE id = 7", ())
        .await
        .expect("local change");
    drop(db);
    let killed_pull = kill_syncs(&url, &file, 4, &mut delays, 2500).await;
    let db = Builder::offline(&file, &url).build().expect("reopen");
    sync_until_ok(&db).await;
    sync_until_ok(&db).await;
    assert_eq!(db.pending_changes().await.expect("pending"), 0);
    let rows = dump(&primary).await;
    assert_eq!(dump(&db.connect()).await, rows);
    assert_eq!(
        rows[6],
        vec![Value::Integer(7), Value::Integer(-1)],
        "the local change won"
    );
    assert_eq!(rows[7], vec![Value::Integer(8), Value::Integer(11)]);
    eprintln!("killed {killed_push} syncs during the push and {killed_pull} during the pull");
    assert!(
        killed_push > 0 && killed_pull > 0,
        "no sync was killed midway"
    );
}
