//! Offline mode against the reference server: local writes with the server away, exactly-once
//! push, conflicts recorded and resolved, refused changes, change notifications, schema
//! changes made while a device was offline.

use std::time::Duration;

use tidepool::{
    Builder, ChangeOrigin, ConflictKind, ConflictOutcome, ConflictPolicy, ConflictRule, Connection,
    Database, Resolution, Value,
};

use crate::proxy::Proxy;
use crate::support::TestServer;

fn device(url: &str, dir: &tempfile::TempDir, name: &str) -> Database {
    Builder::offline(dir.path().join(format!("{name}.db")), url)
        .build()
        .expect("build offline database")
}

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

const ITEMS: &str = "SELECT id, name, qty FROM items ORDER BY id";

async fn setup(primary: &Connection) {
    primary
        .execute_batch(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, \
               code TEXT UNIQUE);
             INSERT INTO items (id, name, qty) VALUES (1, 'apple', 1), (2, 'pear', 2)",
        )
        .await
        .expect("schema");
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

#[tokio::test]
async fn writes_commit_offline_and_sync_once_the_server_is_back() {
    let server = TestServer::start().await;
    let primary = server.db("http").connect();
    setup(&primary).await;
    let proxy = Proxy::start(server.addr()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = device(&proxy.url("http"), &dir, "a");
    db.sync().await.expect("bootstrap");
    assert!(db.is_offline());
    let conn = db.connect();

    proxy.set_unreachable(true);
    conn.execute(
        "INSERT INTO items (id, name, qty) VALUES (3, 'plum', 3)",
        (),
    )
    .await
    .expect("insert offline");
    let tx = conn.transaction().await.expect("begin");
    tx.execute("UPDATE items SET qty = qty + 10 WHERE id = 1", ())
        .await
        .expect("update");
    tx.execute("DELETE FROM items WHERE id = 2", ())
        .await
        .expect("delete");
    tx.commit().await.expect("commit offline");
    assert_eq!(db.pending_changes().await.expect("pending"), 3);
    let e = db.sync().await.expect_err("server unreachable");
    assert!(e.is_network() || e.is_retryable(), "{e:?}");
    let status = db.sync_status().expect("status");
    assert!(status.last_error.is_some());
    // The device keeps its writes.
    assert_eq!(
        dump(&conn, ITEMS).await,
        vec![
            vec![Value::Integer(1), text("apple"), Value::Integer(11)],
            vec![Value::Integer(3), text("plum"), Value::Integer(3)],
        ]
    );

    proxy.set_unreachable(false);
    let report = db.sync().await.expect("sync");
    assert_eq!(report.changes_pushed, 3);
    assert_eq!(report.conflicts, 0);
    assert_eq!(db.pending_changes().await.expect("pending"), 0);
    assert_eq!(dump(&primary, ITEMS).await, dump(&conn, ITEMS).await);
    let status = db.sync_status().expect("status");
    assert!(status.last_error.is_none());
    assert_eq!(status.pending_changes, 0);
}

#[tokio::test]
async fn two_devices_converge_and_the_later_write_wins_each_column() {
    let server = TestServer::start().await;
    let primary = server.db("http").connect();
    setup(&primary).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = device(&server.url("http"), &dir, "a");
    let b = device(&server.url("ws"), &dir, "b");
    a.sync().await.expect("bootstrap a");
    b.sync().await.expect("bootstrap b");
    let (ca, cb) = (a.connect(), b.connect());

    // Different columns of one row: both apply, no conflict.
    ca.execute("UPDATE items SET name = 'green apple' WHERE id = 1", ())
        .await
        .expect("a");
    cb.execute("UPDATE items SET qty = 5 WHERE id = 1", ())
        .await
        .expect("b");
    // The same column: b writes later, a pushes first.
    ca.execute("UPDATE items SET qty = 20 WHERE id = 2", ())
        .await
        .expect("a");
    tokio::time::sleep(Duration::from_millis(5)).await;
    cb.execute("UPDATE items SET qty = 30 WHERE id = 2", ())
        .await
        .expect("b");
    assert_eq!(a.sync().await.expect("a syncs").conflicts, 0);
    let report = b.sync().await.expect("b syncs");
    assert_eq!(report.conflicts, 1);
    a.sync().await.expect("a syncs again");
    let expected = vec![
        vec![Value::Integer(1), text("green apple"), Value::Integer(5)],
        vec![Value::Integer(2), text("pear"), Value::Integer(30)],
    ];
    assert_eq!(dump(&primary, ITEMS).await, expected);
    assert_eq!(dump(&ca, ITEMS).await, expected);
    assert_eq!(dump(&cb, ITEMS).await, expected);
    let conflicts = b.conflicts().await.expect("conflicts");
    assert_eq!(conflicts.len(), 1);
    let c = &conflicts[0];
    assert_eq!(c.table, "items");
    assert_eq!(c.key, vec![Value::Integer(2)]);
    assert_eq!(c.kind, ConflictKind::UpdateUpdate);
    assert_eq!(
        (c.rule, c.outcome),
        (ConflictRule::ColumnLww, ConflictOutcome::Local)
    );
    assert_eq!(c.columns, vec!["qty".to_owned()]);
    let remote = c.remote.as_ref().expect("remote version");
    assert!(remote.contains(&("qty".to_owned(), Value::Integer(20))));
    assert!(a.conflicts().await.expect("a").is_empty());
}

#[tokio::test]
async fn an_earlier_write_loses_is_recorded_and_can_be_resolved() {
    let server = TestServer::start().await;
    let primary = server.db("http").connect();
    setup(&primary).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = device(&server.url("http"), &dir, "a");
    let b = device(&server.url("http"), &dir, "b");
    a.sync().await.expect("bootstrap a");
    b.sync().await.expect("bootstrap b");
    let (ca, cb) = (a.connect(), b.connect());
    cb.execute("UPDATE items SET name = 'b-pear' WHERE id = 2", ())
        .await
        .expect("b writes first");
    tokio::time::sleep(Duration::from_millis(5)).await;
    ca.execute("UPDATE items SET name = 'a-pear' WHERE id = 2", ())
        .await
        .expect("a writes later");
    a.sync().await.expect("a");
    assert_eq!(b.sync().await.expect("b").conflicts, 1);
    // b lost: its device shows the server's row, and the conflict keeps its version.
    let name_of_2 = "SELECT name FROM items WHERE id = 2";
    assert_eq!(dump(&cb, name_of_2).await, vec![vec![text("a-pear")]]);
    let conflicts = b.conflicts().await.expect("conflicts");
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].outcome, ConflictOutcome::Remote);
    let local = conflicts[0].local.as_ref().expect("local version");
    assert!(local.contains(&("name".to_owned(), text("b-pear"))));
    assert_eq!(
        conflicts[0].base.as_ref().expect("base"),
        &vec![
            ("id".to_owned(), Value::Integer(2)),
            ("name".to_owned(), text("pear")),
            ("qty".to_owned(), Value::Integer(2)),
            ("code".to_owned(), Value::Null),
        ]
    );

    let e = b
        .resolve_conflict(9999, Resolution::KeepLocal)
        .await
        .expect_err("unknown id");
    assert_eq!(e.code(), "INVALID_ARGUMENT");
    b.resolve_conflict(conflicts[0].id, Resolution::KeepLocal)
        .await
        .expect("resolve");
    assert!(b.conflicts().await.expect("none left").is_empty());
    assert_eq!(dump(&cb, name_of_2).await, vec![vec![text("b-pear")]]);
    assert_eq!(b.sync().await.expect("push resolution").conflicts, 0);
    a.sync().await.expect("a pulls");
    assert_eq!(dump(&ca, name_of_2).await, vec![vec![text("b-pear")]]);
    assert_eq!(dump(&primary, name_of_2).await, vec![vec![text("b-pear")]]);
}

#[tokio::test]
async fn a_change_the_server_refuses_is_recorded_and_the_rest_goes_through() {
    let server = TestServer::start().await;
    let primary = server.db("http").connect();
    setup(&primary).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = device(&server.url("http"), &dir, "a");
    let b = device(&server.url("http"), &dir, "b");
    a.sync().await.expect("a");
    b.sync().await.expect("b");
    a.connect()
        .execute("INSERT INTO items VALUES (10, 'ten', 1, 'X')", ())
        .await
        .expect("a");
    let cb = b.connect();
    cb.execute("INSERT INTO items VALUES (20, 'twenty', 1, 'X')", ())
        .await
        .expect("b, same code");
    cb.execute("UPDATE items SET qty = 99 WHERE id = 1", ())
        .await
        .expect("b, fine");
    a.sync().await.expect("a pushes first");
    let report = b.sync().await.expect("b");
    assert_eq!(report.changes_pushed, 2);
    assert_eq!(report.conflicts, 1);
    let conflicts = b.conflicts().await.expect("conflicts");
    assert_eq!(conflicts.len(), 1);
    let c = &conflicts[0];
    assert_eq!(
        (c.kind, c.rule),
        (ConflictKind::Rejected, ConflictRule::Rejected)
    );
    let (code, message) = c.error.clone().expect("error");
    assert!(code.starts_with("SQLITE_CONSTRAINT"), "{code}: {message}");
    assert!(c
        .local
        .as_ref()
        .expect("kept")
        .contains(&("id".to_owned(), Value::Integer(20))));
    // The refused row is gone from the device (the server never had it); the other change
    // went through.
    let expected = dump(&primary, ITEMS).await;
    assert_eq!(dump(&cb, ITEMS).await, expected);
    assert!(expected.contains(&vec![Value::Integer(1), text("apple"), Value::Integer(99)]));
    assert!(!expected.iter().any(|r| r[0] == Value::Integer(20)));
}

#[tokio::test]
async fn a_push_whose_reply_is_lost_is_applied_once() {
    // A lost reply strands the push's server transaction (and its write lock) until the
    // stream expires: short here, so the retries soon get through.
    let server = TestServer::start_with(|c| {
        c.stream_expiry = Duration::from_millis(200);
        c.busy_timeout = Duration::from_millis(50);
    })
    .await;
    let primary = server.db("http").connect();
    setup(&primary).await;
    let proxy = Proxy::start(server.addr()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = device(&server.url("http"), &dir, "a");
    let b = Builder::offline(dir.path().join("b.db"), proxy.url("http"))
        .max_attempts(1)
        .build()
        .expect("b");
    a.sync().await.expect("a");
    b.sync().await.expect("b");
    let (ca, cb) = (a.connect(), b.connect());
    let mut failures = 0;
    for round in 0..24_i64 {
        // Each round: a conflict (b writes first, a later and pushes first) and an insert.
        cb.execute("UPDATE items SET qty = ? WHERE id = 1", (1000 + round,))
            .await
            .expect("b");
        cb.execute(
            "INSERT INTO items (id, name, qty) VALUES (?, 'n', 0)",
            (100 + round,),
        )
        .await
        .expect("b insert");
        tokio::time::sleep(Duration::from_millis(2)).await;
        ca.execute("UPDATE items SET qty = ? WHERE id = 1", (-round,))
            .await
            .expect("a");
        a.sync().await.expect("a");
        // Each of the sync's first replies in turn, the commit's included.
        proxy.lose_response_after((round % 6) as usize);
        if b.sync().await.is_err() {
            failures += 1;
        }
        proxy.lose_response_after(usize::MAX);
        let mut attempts = 0;
        while let Err(e) = b.sync().await {
            attempts += 1;
            assert!(e.is_busy() && attempts < 100, "round {round}: {e:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(b.pending_changes().await.expect("pending"), 0);
        let conflicts = b.conflicts().await.expect("conflicts");
        assert_eq!(
            conflicts.len() as i64,
            round + 1,
            "round {round}: one conflict each"
        );
        assert_eq!(
            dump(&primary, ITEMS).await,
            dump(&cb, ITEMS).await,
            "round {round}"
        );
    }
    assert!(
        failures > 5,
        "the lost replies made syncs fail ({failures})"
    );
    let qty = dump(&primary, "SELECT qty FROM items WHERE id = 1").await;
    assert_eq!(qty, vec![vec![Value::Integer(-23)]]);
    let inserted = dump(&primary, "SELECT count(*) FROM items WHERE id >= 100").await;
    assert_eq!(inserted, vec![vec![Value::Integer(24)]]);
}

#[tokio::test]
async fn policies_decide_per_table() {
    let server = TestServer::start().await;
    let primary = server.db("http").connect();
    setup(&primary).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = device(&server.url("http"), &dir, "a");
    let b = Builder::offline(dir.path().join("b.db"), server.url("http"))
        .conflict_policy("items", ConflictPolicy::ServerWins)
        .build()
        .expect("b");
    a.sync().await.expect("a");
    b.sync().await.expect("b");
    a.connect()
        .execute("UPDATE items SET qty = 7 WHERE id = 1", ())
        .await
        .expect("a first");
    tokio::time::sleep(Duration::from_millis(5)).await;
    b.connect()
        .execute("UPDATE items SET qty = 8 WHERE id = 1", ())
        .await
        .expect("b later");
    a.sync().await.expect("a");
    b.sync().await.expect("b");
    // b wrote later but its table keeps the server's version.
    let qty = dump(&primary, "SELECT qty FROM items WHERE id = 1").await;
    assert_eq!(qty, vec![vec![Value::Integer(7)]]);
    let c = b.conflicts().await.expect("conflicts");
    assert_eq!(
        (c[0].rule, c[0].outcome),
        (ConflictRule::ServerWins, ConflictOutcome::Remote)
    );
}

#[tokio::test]
async fn subscribers_hear_local_writes_and_synced_changes() {
    let server = TestServer::start().await;
    let primary = server.db("http").connect();
    setup(&primary).await;
    primary
        .execute_batch("CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)")
        .await
        .expect("notes");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = device(&server.url("http"), &dir, "a");
    db.sync().await.expect("bootstrap");
    let mut changes = db.subscribe().expect("subscribe");
    let conn = db.connect();
    conn.execute("INSERT INTO notes VALUES ('n1', 'hi')", ())
        .await
        .expect("write");
    let change = changes
        .try_recv()
        .expect("notified after the write returned");
    assert_eq!(change.origin, ChangeOrigin::Local);
    assert_eq!(change.tables, vec!["notes".to_owned()]);
    // A rolled-back transaction is not announced.
    let tx = conn.transaction().await.expect("begin");
    tx.execute("INSERT INTO items (id, name) VALUES (50, 'x')", ())
        .await
        .expect("write");
    tx.rollback().await.expect("rollback");
    assert!(changes.try_recv().is_none());
    primary
        .execute("UPDATE items SET qty = 3 WHERE id = 2", ())
        .await
        .expect("remote write");
    db.sync().await.expect("sync");
    let mut remote = None;
    while let Some(change) = changes.try_recv() {
        if change.origin == ChangeOrigin::Remote {
            remote = Some(change);
        }
    }
    let remote = remote.expect("the sync was announced");
    assert!(remote.tables.contains(&"items".to_owned()), "{remote:?}");
    // Dropping the receiver stops it: nothing breaks when nobody listens.
    drop(changes);
    conn.execute("INSERT INTO notes VALUES ('n2', 'x')", ())
        .await
        .expect("write with no subscriber");
}

#[tokio::test]
async fn a_schema_change_made_while_offline_does_not_wedge_sync() {
    let server = TestServer::start().await;
    let primary = server.db("http").connect();
    setup(&primary).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = device(&server.url("http"), &dir, "a");
    db.sync().await.expect("bootstrap");
    let conn = db.connect();
    conn.execute("UPDATE items SET qty = 42 WHERE id = 1", ())
        .await
        .expect("offline write");
    conn.execute("INSERT INTO items (id, name) VALUES (7, 'seven')", ())
        .await
        .expect("offline insert");
    primary
        .execute_batch(
            "ALTER TABLE items ADD COLUMN color TEXT DEFAULT 'red';
             CREATE TABLE extra (k TEXT PRIMARY KEY, v)",
        )
        .await
        .expect("server schema change");
    let report = db.sync().await.expect("sync after the change");
    assert_eq!(report.changes_pushed, 2);
    let sql = "SELECT id, qty, color FROM items ORDER BY id";
    assert_eq!(dump(&primary, sql).await, dump(&conn, sql).await);
    assert!(dump(&conn, sql).await.contains(&vec![
        Value::Integer(1),
        Value::Integer(42),
        text("red")
    ]));
    // The new column and table are captured too.
    conn.execute("UPDATE items SET color = 'blue' WHERE id = 7", ())
        .await
        .expect("new column");
    conn.execute("INSERT INTO extra VALUES ('a', 1)", ())
        .await
        .expect("new table");
    db.sync().await.expect("sync");
    assert_eq!(dump(&primary, sql).await, dump(&conn, sql).await);
    assert_eq!(
        dump(&primary, "SELECT * FROM extra").await,
        vec![vec![text("a"), Value::Integer(1)]]
    );
}

#[tokio::test]
async fn background_sync_pushes_soon_after_a_write() {
    let server = TestServer::start().await;
    let primary = server.db("http").connect();
    setup(&primary).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Builder::offline(dir.path().join("a.db"), server.url("http"))
        .sync_interval(Duration::from_secs(3600))
        .build()
        .expect("build");
    let status = db.wait_for_sync().await.expect("first background sync");
    assert!(status.bootstrapped && status.last_error.is_none());
    db.connect()
        .execute("UPDATE items SET qty = 77 WHERE id = 2", ())
        .await
        .expect("write");
    // Woken by the write, not by the hour-long interval.
    let status = tokio::time::timeout(Duration::from_secs(30), db.wait_for_sync())
        .await
        .expect("synced soon")
        .expect("status");
    assert_eq!(status.pending_changes, 0);
    assert_eq!(
        dump(&primary, "SELECT qty FROM items WHERE id = 2").await,
        vec![vec![Value::Integer(77)]]
    );
}

#[tokio::test]
async fn offline_calls_on_other_databases_are_typed_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = Builder::local(dir.path().join("l.db"))
        .build()
        .expect("local");
    assert_eq!(
        local.conflicts().await.expect_err("local").code(),
        "UNSUPPORTED"
    );
    assert_eq!(
        local
            .resolve_conflict(1, Resolution::KeepRemote)
            .await
            .expect_err("local")
            .code(),
        "UNSUPPORTED"
    );
    assert_eq!(local.subscribe().expect_err("local").code(), "UNSUPPORTED");
    let e = Builder::offline(":memory:", "http://127.0.0.1:1")
        .build()
        .expect_err("memory");
    assert_eq!(e.code(), "INVALID_CONFIG");
}

#[tokio::test]
async fn tombstones_are_collected_once_every_device_has_seen_them() {
    let server = TestServer::start().await;
    let primary = server.db("http").connect();
    setup(&primary).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = server.url("http");
    // A read-only replica and an offline device that stay behind.
    let behind = device(&url, &dir, "behind");
    behind.sync().await.expect("behind bootstraps");
    let a = device(&url, &dir, "a");
    let b = device(&url, &dir, "b");
    a.sync().await.expect("a");
    b.sync().await.expect("b");
    a.connect()
        .execute("DELETE FROM items WHERE id = 2", ())
        .await
        .expect("delete");
    a.sync().await.expect("a pushes the delete");
    let tombstones = "SELECT count(*) FROM _tidepool_changes WHERE row IS NULL";
    assert_eq!(
        dump(&primary, tombstones).await,
        vec![vec![Value::Integer(1)]]
    );
    // b reads past it and pushes (which records how far it has read) ...
    b.sync().await.expect("b pulls the delete");
    b.connect()
        .execute("UPDATE items SET qty = 5 WHERE id = 1", ())
        .await
        .expect("b");
    b.sync().await.expect("b pushes");
    // ... then a, in a new process, pushes again: both have seen the delete; it goes.
    drop(a);
    let a = device(&url, &dir, "a");
    a.connect()
        .execute("UPDATE items SET qty = 6 WHERE id = 1", ())
        .await
        .expect("a");
    a.sync().await.expect("a pushes and collects");
    assert_eq!(
        dump(&primary, tombstones).await,
        vec![vec![Value::Integer(0)]]
    );
    assert_eq!(
        dump(
            &primary,
            "SELECT count(*) FROM _tidepool_clocks WHERE deleted = 1"
        )
        .await,
        vec![vec![Value::Integer(0)]]
    );
    // The device that never pushed is behind the collected point: it copies again, so it
    // does not keep the deleted row.
    behind.sync().await.expect("behind catches up");
    assert_eq!(
        dump(&behind.connect(), ITEMS).await,
        dump(&primary, ITEMS).await
    );
}
