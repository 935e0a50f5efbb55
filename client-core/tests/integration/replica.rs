//! Replica mode against the reference server: bootstrap, incremental pulls, read-your-writes,
//! schema changes, resumption, and reads that go on while a sync applies.

use std::time::Duration;

use tidepool::{Builder, Connection, Database, Value};

use crate::support::TestServer;

fn replica(server: &TestServer, scheme: &str, dir: &tempfile::TempDir) -> Database {
    Builder::replica(dir.path().join("replica.db"), server.url(scheme))
        .build()
        .expect("build replica")
}

async fn scalar(conn: &Connection, sql: &str) -> Value {
    let row = conn
        .query(sql, ())
        .await
        .expect("query")
        .next()
        .await
        .expect("row");
    row.expect("a row").values()[0].clone()
}

async fn count(conn: &Connection, table: &str) -> i64 {
    match scalar(conn, &format!("SELECT count(*) FROM {table}")).await {
        Value::Integer(n) => n,
        other => panic!("count is {other:?}"),
    }
}

/// Every row of a table, ordered, as values: to compare the replica with the server.
async fn dump(conn: &Connection, sql: &str) -> Vec<Vec<Value>> {
    conn.query(sql, ())
        .await
        .expect("query")
        .collect_all()
        .await
        .expect("rows")
        .into_iter()
        .map(|r| r.into_values())
        .collect()
}

async fn seed(primary: &Connection, rows: i64) {
    primary
        .execute_batch(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL, data BLOB);
             CREATE INDEX items_name ON items (name);
             CREATE TABLE tags (item INTEGER, tag TEXT, PRIMARY KEY (item, tag)) WITHOUT ROWID;
             CREATE TABLE log (msg TEXT)",
        )
        .await
        .expect("schema");
    primary
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
             INSERT INTO items SELECT i, 'item ' || i, i * 0.1, randomblob(8) FROM n",
            (rows,),
        )
        .await
        .expect("rows");
    primary
        .execute_batch(
            "INSERT INTO tags VALUES (1, 'a'), (1, 'b'), (2, 'it''s');
             INSERT INTO log VALUES ('one'), ('two'), (NULL)",
        )
        .await
        .expect("tags");
}

async fn assert_same(primary: &Connection, replica: &Connection) {
    for sql in [
        "SELECT * FROM items ORDER BY id",
        "SELECT * FROM tags ORDER BY item, tag",
        "SELECT rowid, * FROM log ORDER BY rowid",
    ] {
        assert_eq!(dump(primary, sql).await, dump(replica, sql).await, "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_then_incremental_pulls() {
    let server = TestServer::start().await;
    let primary = server.db("http").connect();
    seed(&primary, 2500).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = replica(&server, "http", &dir);
    let status = db.sync_status().expect("a replica has a status");
    assert!(!status.bootstrapped && status.last_synced_at.is_none());

    let report = db.sync().await.expect("bootstrap");
    assert_eq!(report.tables_copied, 3);
    assert_eq!(report.rows_copied, 2500 + 3 + 3);
    let conn = db.connect();
    assert_same(&primary, &conn).await;
    // The index came along.
    assert_eq!(
        scalar(
            &conn,
            "SELECT count(*) FROM sqlite_master WHERE name = 'items_name'"
        )
        .await,
        Value::Integer(1)
    );

    primary
        .execute_batch(
            "INSERT INTO items VALUES (5000, 'new', NULL, X'00');
             UPDATE items SET price = -1.5, name = 'renamed' WHERE id = 7;
             DELETE FROM items WHERE id BETWEEN 10 AND 19;
             UPDATE items SET id = 6000 WHERE id = 8;
             DELETE FROM tags WHERE tag = 'a';
             UPDATE log SET msg = 'changed' WHERE msg = 'two';
             DELETE FROM log WHERE msg IS NULL",
        )
        .await
        .expect("changes");
    let report = db.sync().await.expect("pull");
    assert_eq!(report.rows_copied, 0, "a pull copies nothing whole");
    // One change per changed row: insert, update, ten deletes, a key change (delete + insert),
    // a tag delete, a log update, a log delete.
    assert_eq!(report.changes_applied, 17);
    assert_same(&primary, &conn).await;
    let status = db.sync_status().expect("status");
    assert!(status.bootstrapped && status.last_error.is_none());
    assert_eq!(status.position, status.server_position);

    let report = db.sync().await.expect("nothing new");
    assert_eq!(report.changes_applied, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_go_to_the_server_and_are_read_back_at_once() {
    for scheme in ["http", "ws"] {
        let server = TestServer::start().await;
        let primary = server.db("http").connect();
        seed(&primary, 10).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let db = replica(&server, scheme, &dir);
        db.sync().await.expect("bootstrap");
        let conn = db.connect();

        let done = conn
            .execute("INSERT INTO items (name) VALUES (?)", ("written",))
            .await
            .expect("insert");
        assert_eq!(done.rows_affected, 1);
        let id = done.last_insert_rowid.expect("rowid");
        assert_eq!(
            scalar(&conn, &format!("SELECT name FROM items WHERE id = {id}")).await,
            Value::Text("written".into()),
            "{scheme}: a read after the write sees it"
        );

        // A transaction runs on the server; its reads see its own writes there, and after
        // commit the replica has them.
        let tx = conn.transaction().await.expect("begin");
        tx.execute("UPDATE items SET name = 'in tx' WHERE id = 1", ())
            .await
            .expect("update");
        let inside = tx
            .query("SELECT name FROM items WHERE id = 1", ())
            .await
            .expect("query")
            .next()
            .await
            .expect("row")
            .expect("a row");
        assert_eq!(inside.get::<String>(0).expect("name"), "in tx");
        tx.commit().await.expect("commit");
        assert_eq!(
            scalar(&conn, "SELECT name FROM items WHERE id = 1").await,
            Value::Text("in tx".into())
        );

        // A batch and a script, each read back at once.
        conn.batch([
            tidepool::Statement::new("DELETE FROM items WHERE id = 2", ()),
            tidepool::Statement::new("INSERT INTO log VALUES ('batch')", ()),
        ])
        .await
        .expect("batch");
        assert_eq!(count(&conn, "items WHERE id = 2").await, 0);
        conn.execute_batch(
            "CREATE TABLE fresh (k TEXT PRIMARY KEY, v); INSERT INTO fresh VALUES ('a', 1)",
        )
        .await
        .expect("script");
        assert_eq!(
            scalar(&conn, "SELECT v FROM fresh WHERE k = 'a'").await,
            Value::Integer(1),
            "{scheme}: a table made through the replica arrives"
        );
        assert_same(&primary, &conn).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_changes_on_the_server_reach_the_replica() {
    let server = TestServer::start().await;
    let primary = server.db("http").connect();
    seed(&primary, 50).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = replica(&server, "http", &dir);
    db.sync().await.expect("bootstrap");
    let conn = db.connect();

    primary
        .execute_batch(
            "ALTER TABLE items ADD COLUMN stock INTEGER NOT NULL DEFAULT 3;
             UPDATE items SET stock = 9 WHERE id = 4;
             CREATE TABLE later (id INTEGER PRIMARY KEY, v TEXT);
             INSERT INTO later VALUES (1, 'x');
             CREATE VIEW cheap AS SELECT id FROM items WHERE price < 1;
             DROP TABLE log;
             DROP INDEX items_name",
        )
        .await
        .expect("schema changes");
    db.sync().await.expect("sync");
    assert_eq!(
        dump(
            &conn,
            "SELECT id, stock FROM items WHERE id IN (3, 4) ORDER BY id"
        )
        .await,
        vec![
            vec![Value::Integer(3), Value::Integer(3)],
            vec![Value::Integer(4), Value::Integer(9)]
        ]
    );
    assert_eq!(
        scalar(&conn, "SELECT v FROM later").await,
        Value::Text("x".into())
    );
    assert_eq!(count(&conn, "cheap").await, count(&primary, "cheap").await);
    assert_eq!(
        scalar(
            &conn,
            "SELECT count(*) FROM sqlite_master WHERE name IN ('log', 'items_name')"
        )
        .await,
        Value::Integer(0)
    );

    // Writes after the change, through the new triggers.
    primary
        .execute("UPDATE items SET stock = 0 WHERE id = 5", ())
        .await
        .expect("update");
    db.sync().await.expect("sync");
    assert_eq!(
        scalar(&conn, "SELECT stock FROM items WHERE id = 5").await,
        Value::Integer(0)
    );

    // A table dropped and made anew with the same definition is copied again.
    primary
        .execute_batch("DROP TABLE later; CREATE TABLE later (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO later VALUES (2, 'y')")
        .await
        .expect("recreate");
    db.sync().await.expect("sync");
    assert_eq!(
        dump(&conn, "SELECT * FROM later").await,
        vec![vec![Value::Integer(2), Value::Text("y".into())]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_on_while_a_sync_applies() {
    let server = TestServer::start().await;
    let primary = server.db("http").connect();
    seed(&primary, 10).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = replica(&server, "http", &dir);
    db.sync().await.expect("bootstrap");
    primary
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 100 UNION ALL SELECT i + 1 FROM n WHERE i < 30099) \
             INSERT INTO items SELECT i, 'bulk', 1.0, NULL FROM n",
            (),
        )
        .await
        .expect("bulk");

    let syncing = {
        let db = db.clone();
        tokio::spawn(async move { db.sync().await })
    };
    let conn = db.connect();
    let mut reads_during_sync = 0;
    let mut slowest = Duration::ZERO;
    let mut last = 0;
    while !syncing.is_finished() {
        let started = std::time::Instant::now();
        let n = count(&conn, "items").await;
        slowest = slowest.max(started.elapsed());
        assert!(n >= last, "a read went back in time: {n} after {last}");
        last = n;
        if db.sync_status().expect("status").syncing {
            reads_during_sync += 1;
        }
    }
    let report = syncing.await.expect("task").expect("sync");
    assert_eq!(report.changes_applied, 30000);
    assert!(
        reads_during_sync >= 3,
        "only {reads_during_sync} reads ran during the sync"
    );
    eprintln!(
        "reads during a 30,000-change sync: {reads_during_sync}, slowest {slowest:?}, sync took {:?}",
        db.sync_status().expect("status").last_duration
    );
    assert_eq!(count(&conn, "items").await, 30010);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misuse_is_a_typed_error() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let local = Builder::local(dir.path().join("plain.db"))
        .build()
        .expect("local");
    let e = local.sync().await.expect_err("not a replica");
    assert_eq!(e.code(), "UNSUPPORTED");
    assert!(local.sync_status().is_none());
    let e = Builder::replica(dir.path().join("r.db"), "file:x.db")
        .build()
        .expect_err("a replica of a file");
    assert_eq!(e.code(), "INVALID_CONFIG");
    let e = Builder::replica(":memory:", server.url("http"))
        .build()
        .expect_err("in memory");
    assert_eq!(e.code(), "INVALID_CONFIG");
    let e = Builder::replica(dir.path().join("r.db"), server.url("http"))
        .sync_interval(Duration::ZERO)
        .build()
        .expect_err("zero interval");
    assert_eq!(e.code(), "INVALID_CONFIG");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_token_syncs_once_capture_is_installed() {
    use tidepool_server::auth::{Access, SigningKey};
    let key = SigningKey::generate();
    let dir = tempfile::tempdir().expect("tempdir");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&key_path, key.public_key_pem()).expect("key file");
    let server = TestServer::start_with(|config| config.auth_key_file = Some(key_path)).await;
    let (ro, rw) = (
        key.token(Access::ReadOnly, None),
        key.token(Access::ReadWrite, None),
    );
    let primary = Builder::new(server.url("http"))
        .auth_token(rw.clone())
        .build()
        .expect("db")
        .connect();
    seed(&primary, 20).await;

    let read_only = Builder::replica(dir.path().join("ro.db"), server.url("http"))
        .auth_token(ro.clone())
        .build()
        .expect("replica");
    let e = read_only.sync().await.expect_err("cannot install capture");
    assert_eq!(e.code(), "CAPTURE_FORBIDDEN", "{e}");
    assert!(e.message().contains("read-write token"), "{e}");
    let status = read_only.sync_status().expect("status");
    assert_eq!(
        status
            .last_error
            .as_ref()
            .map(|e| e.code().to_owned())
            .as_deref(),
        Some("CAPTURE_FORBIDDEN")
    );

    // Once a read-write replica has installed it, the read-only one syncs.
    Builder::replica(dir.path().join("rw.db"), server.url("http"))
        .auth_token(rw)
        .build()
        .expect("replica")
        .sync()
        .await
        .expect("installs capture");
    read_only.sync().await.expect("read-only sync");
    let conn = read_only.connect();
    assert_same(&primary, &conn).await;
    // Its writes are refused by the server, as for any read-only token.
    let e = conn
        .execute("INSERT INTO log VALUES ('no')", ())
        .await
        .expect_err("read-only write");
    assert_eq!(e.code(), "FORBIDDEN", "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_installing_capture_at_once_both_succeed() {
    let server = TestServer::start().await;
    let primary = server.db("http").connect();
    seed(&primary, 100).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dbs: Vec<Database> = (0..4)
        .map(|n| {
            Builder::replica(dir.path().join(format!("r{n}.db")), server.url("http"))
                .build()
                .expect("replica")
        })
        .collect();
    let results = futures_util::future::join_all(dbs.iter().map(Database::sync)).await;
    for (n, result) in results.into_iter().enumerate() {
        result.unwrap_or_else(|e| panic!("replica {n}: {e}"));
    }
    for db in &dbs {
        assert_same(&primary, &db.connect()).await;
    }
}
