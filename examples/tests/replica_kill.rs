//! A replica's sync killed for real — the `replica sync` example as a child process, sent
//! SIGKILL — during the bootstrap and during a pull: the file passes `PRAGMA integrity_check`,
//! and the next sync continues where the killed one stopped instead of starting over.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tidepool::{Builder, Connection, Value};
use tidepool_server::{Config, RunningServer};

const ROWS: i64 = 100_000;

async fn server(dir: &tempfile::TempDir) -> RunningServer {
    let mut config = Config::new(dir.path().join("primary.db"));
    config.listen_addr = "127.0.0.1:0".parse().expect("addr");
    tidepool_server::serve(config).await.expect("server starts")
}

fn url(server: &RunningServer) -> String {
    format!("http://{}", server.local_addr())
}

fn sync_child(url: &str, replica: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_replica"))
        .arg("sync")
        .env("TIDEPOOL_URL", url)
        .env("TIDEPOOL_REPLICA", replica)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child")
}

async fn scalar(conn: &Connection, sql: &str) -> Option<Value> {
    let mut rows = conn.query(sql, ()).await.ok()?;
    rows.next().await.ok()?.map(|r| r.values()[0].clone())
}

async fn int(conn: &Connection, sql: &str) -> Option<i64> {
    match scalar(conn, sql).await? {
        Value::Integer(n) => Some(n),
        _ => None,
    }
}

/// Waits until `progress` (read from the replica's file by another connection) reaches
/// `threshold`, then kills the child. Returns the progress read right after the kill.
async fn kill_when(child: &mut Child, replica: &std::path::Path, sql: &str, threshold: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "the child made no progress");
        if let Some(status) = child.try_wait().expect("child status") {
            panic!("the child finished ({status}) before it could be killed; raise ROWS");
        }
        let db = Builder::local(replica).build().expect("open replica file");
        let progress = int(&db.connect(), sql).await.unwrap_or(0);
        if progress >= threshold {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let db = Builder::local(replica).build().expect("open replica file");
    let conn = db.connect();
    assert_eq!(
        scalar(&conn, "PRAGMA integrity_check").await,
        Some(Value::Text("ok".into())),
        "the killed sync left a damaged file"
    );
    int(&conn, sql).await.unwrap_or(0)
}

async fn checksum(conn: &Connection) -> Vec<Value> {
    let row = conn
        .query(
            "SELECT count(*), sum(id), sum(length(name)), total(price) FROM items",
            (),
        )
        .await
        .expect("checksum")
        .next()
        .await
        .expect("row")
        .expect("a row");
    row.into_values()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_killed_midway_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir).await;
    let primary = Builder::new(url(&server)).build().expect("db").connect();
    primary
        .execute_batch("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
        .await
        .expect("schema");
    primary
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
             INSERT INTO items SELECT i, printf('item %08d of the bootstrap', i), i / 7.0 FROM n",
            (ROWS,),
        )
        .await
        .expect("rows");
    let replica = dir.path().join("replica.db");

    let mut child = sync_child(&url(&server), &replica);
    let copied = kill_when(
        &mut child,
        &replica,
        "SELECT rows FROM _tidepool_replica_copies WHERE tbl = 'items'",
        ROWS / 5,
    )
    .await;
    assert!(copied > 0 && copied < ROWS, "killed after {copied} rows");

    let db = Builder::replica(&replica, url(&server))
        .build()
        .expect("replica");
    let report = db.sync().await.expect("resumed sync");
    assert_eq!(report.copies_resumed, 1, "{report:?}");
    assert_eq!(
        report.rows_copied as i64,
        ROWS - copied,
        "the resumed copy fetched only the rest"
    );
    assert_eq!(checksum(&db.connect()).await, checksum(&primary).await);
    eprintln!(
        "bootstrap killed after {copied} of {ROWS} rows; resumed with the other {}",
        report.rows_copied
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_killed_midway_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir).await;
    let primary = Builder::new(url(&server)).build().expect("db").connect();
    primary
        .execute_batch(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL);
             INSERT INTO items VALUES (1, 'first', 1.0)",
        )
        .await
        .expect("schema");
    let replica = dir.path().join("replica.db");
    let db = Builder::replica(&replica, url(&server))
        .build()
        .expect("replica");
    db.sync().await.expect("bootstrap");
    let start = db.sync_status().expect("status").position;
    primary
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i <= ?) \
             INSERT INTO items SELECT i, printf('pulled %08d', i), i / 3.0 FROM n",
            (ROWS,),
        )
        .await
        .expect("changes");
    drop(db);

    let mut child = sync_child(&url(&server), &replica);
    let position = kill_when(
        &mut child,
        &replica,
        "SELECT value FROM _tidepool_replica WHERE key = 'position'",
        start + ROWS / 5,
    )
    .await;
    let applied_before = position - start;
    assert!(
        applied_before > 0 && applied_before < ROWS,
        "killed after {applied_before} changes"
    );

    let db = Builder::replica(&replica, url(&server))
        .build()
        .expect("replica");
    let report = db.sync().await.expect("resumed sync");
    assert_eq!(report.rows_copied, 0, "a resumed pull copies nothing whole");
    assert_eq!(
        report.changes_applied as i64,
        ROWS - applied_before,
        "the resumed pull fetched only the rest"
    );
    assert_eq!(checksum(&db.connect()).await, checksum(&primary).await);
    eprintln!(
        "pull killed after {applied_before} of {ROWS} changes; resumed with the other {}",
        report.changes_applied
    );
}
