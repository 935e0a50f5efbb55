//! Local mode: the whole API on a real SQLite file (and in memory), the writer and reader
//! pool, interrupts, user-defined functions, reopening, and bad input.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tidepool::error::code;
use tidepool::{params, Builder, Database, FromValue, Statement, TransactionBehavior, Value};
use tokio::sync::oneshot;

/// Defines one test per local mode: `name::file` (a file in a temporary directory) and
/// `name::memory`.
macro_rules! local_modes {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn file() {
                let dir = tempfile::tempdir().expect("tempdir");
                let $db = Builder::local(dir.path().join("test.db"))
                    .build()
                    .expect("build");
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                let $db = Builder::new(":memory:").build().expect("build");
                $body
            }
        }
    };
}

async fn one(conn: &tidepool::Connection, sql: &str) -> Value {
    let row = conn
        .query(sql, ())
        .await
        .expect("query")
        .next()
        .await
        .expect("next")
        .expect("a row");
    row.value(0).expect("value").clone()
}

async fn count(conn: &tidepool::Connection, table: &str) -> i64 {
    i64::from_value(&one(conn, &format!("SELECT count(*) FROM {table}")).await).expect("count")
}

local_modes!(values_and_parameters, |db| {
    assert!(db.is_local());
    let conn = db.connect();
    conn.execute("CREATE TABLE v (i INTEGER, r REAL, t TEXT, b BLOB, n)", ())
        .await
        .expect("create");
    let rows = [
        (i64::MIN, -2.5, String::new(), Vec::new()),
        (
            i64::MAX,
            f64::INFINITY,
            "nul\0 and 🌊".to_owned(),
            vec![0, 255],
        ),
        (0, 1.5, "plain".to_owned(), vec![7; 100_000]),
    ];
    for (i, r, t, b) in &rows {
        let done = conn
            .execute(
                "INSERT INTO v VALUES (?, ?, ?, ?, NULL)",
                (*i, *r, t.as_str(), b.clone()),
            )
            .await
            .expect("insert");
        assert_eq!(done.rows_affected, 1);
        assert!(done.last_insert_rowid.is_some());
    }
    let mut read = conn
        .query("SELECT i, r, t, b, n FROM v ORDER BY rowid", ())
        .await
        .expect("query");
    assert_eq!(read.columns()[0].decltype.as_deref(), Some("INTEGER"));
    for (i, r, t, b) in &rows {
        let row = read.next().await.expect("next").expect("row");
        assert_eq!(row.get::<i64>(0).expect("i"), *i);
        assert_eq!(row.get::<f64>("r").expect("r").to_bits(), r.to_bits());
        assert_eq!(&row.get::<String>(2).expect("t"), t);
        assert_eq!(&row.get::<Vec<u8>>(3).expect("b"), b);
        assert_eq!(row.get::<Option<i64>>(4).expect("n"), None);
    }
    assert!(read.next().await.expect("end").is_none());
    let named = params::named([(":a", 1), ("b", 2)]);
    let row = conn
        .query("SELECT :a + :b AS s", named)
        .await
        .expect("named");
    assert_eq!(
        row.collect_all().await.expect("rows")[0]
            .get::<i64>("s")
            .expect("s"),
        3
    );
    let e = conn
        .query("SELECT ?, ?", (1,))
        .await
        .expect_err("missing argument");
    assert_eq!(e.code(), "ARGS_INVALID");
});

local_modes!(rows_stream_and_stop_when_dropped, |db| {
    let conn = db.connect();
    let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000) SELECT i FROM n";
    let mut rows = conn.query(sql, ()).await.expect("query");
    let (mut count, mut sum) = (0i64, 0i64);
    while let Some(row) = rows.next().await.expect("next") {
        count += 1;
        sum += row.get::<i64>(0).expect("i");
    }
    assert_eq!((count, sum), (50_000, 50_000 * 50_001 / 2));
    // An endless query: only streaming can return its first row, and dropping the rows must
    // stop it, or the next statement would wait forever.
    let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n";
    let mut rows = conn.query(endless, ()).await.expect("endless");
    assert_eq!(
        rows.next()
            .await
            .expect("first")
            .expect("row")
            .get::<i64>(0)
            .expect("i"),
        1
    );
    drop(rows);
    conn.execute("CREATE TABLE after_cursor (x)", ())
        .await
        .expect("the connection is free");
    assert_eq!(one(&conn, "SELECT 7").await, Value::Integer(7));
});

local_modes!(batches_are_atomic_and_savepoints_in_transactions, |db| {
    let conn = db.connect();
    conn.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT UNIQUE)", ())
        .await
        .expect("create");
    let results = conn
        .batch([
            Statement::new("INSERT INTO b (v) VALUES (?)", ("one",)),
            Statement::new("INSERT INTO b (v) VALUES (?)", ("two",)),
            Statement::from("SELECT count(*) FROM b"),
        ])
        .await
        .expect("batch");
    assert_eq!(results[1].last_insert_rowid, Some(2));
    assert_eq!(results[2].rows[0].get::<i64>(0).expect("count"), 2);
    let e = conn
        .batch([
            ("INSERT INTO b (v) VALUES (?)", ("three",)),
            ("INSERT INTO b (v) VALUES (?)", ("one",)),
        ])
        .await
        .expect_err("duplicate");
    assert!(e.is_constraint(), "{e}");
    assert_eq!(e.extended_code(), Some("SQLITE_CONSTRAINT_UNIQUE"));
    assert_eq!(count(&conn, "b").await, 2, "the failed batch left nothing");
    assert!(conn.is_autocommit().await);

    let tx = conn.transaction().await.expect("begin");
    tx.execute("INSERT INTO b (v) VALUES ('kept')", ())
        .await
        .expect("insert");
    let e = tx
        .batch([
            ("INSERT INTO b (v) VALUES (?)", ("x",)),
            ("INSERT INTO b (v) VALUES (?)", ("kept",)),
        ])
        .await;
    assert!(e.expect_err("dup").is_constraint());
    tx.commit().await.expect("commit");
    assert_eq!(
        count(&conn, "b").await,
        3,
        "the savepoint undid only the batch"
    );

    conn.execute_batch("CREATE TABLE s (x); INSERT INTO s VALUES (1); INSERT INTO s VALUES (2);")
        .await
        .expect("script");
    assert_eq!(one(&conn, "SELECT sum(x) FROM s").await, Value::Integer(3));
    let e = conn
        .execute_batch("INSERT INTO s VALUES (3); SELEC 1")
        .await
        .expect_err("syntax");
    assert_eq!(e.code(), "SQLITE_ERROR");
});

local_modes!(transactions_commit_roll_back_and_isolate, |db| {
    let conn = db.connect();
    let other = db.connect();
    conn.execute("CREATE TABLE t (x)", ())
        .await
        .expect("create");
    let tx = conn.transaction().await.expect("begin");
    tx.execute("INSERT INTO t VALUES (1)", ())
        .await
        .expect("insert");
    assert!(!conn.is_autocommit().await);
    assert_eq!(
        count(&conn, "t").await,
        1,
        "a transaction reads its own writes"
    );
    if db.url() != ":memory:" {
        // In memory there is one connection, which the transaction holds.
        assert_eq!(
            count(&other, "t").await,
            0,
            "uncommitted rows are invisible"
        );
    }
    tx.commit().await.expect("commit");
    assert_eq!(count(&other, "t").await, 1);

    let tx = conn.transaction().await.expect("begin");
    tx.execute("INSERT INTO t VALUES (2)", ())
        .await
        .expect("insert");
    tx.rollback().await.expect("rollback");
    {
        let tx = conn.transaction().await.expect("begin");
        tx.execute("INSERT INTO t VALUES (3)", ())
            .await
            .expect("insert");
        // Dropped: rolled back before anything else runs on `conn`.
    }
    conn.execute("INSERT INTO t VALUES (4)", ())
        .await
        .expect("after the dropped transaction");
    conn.execute("BEGIN", ()).await.expect("raw begin");
    conn.execute("INSERT INTO t VALUES (5)", ())
        .await
        .expect("insert");
    assert!(!conn.is_autocommit().await);
    conn.execute("ROLLBACK", ()).await.expect("rollback");
    assert!(conn.is_autocommit().await);
    let xs: Vec<i64> = conn
        .query("SELECT x FROM t ORDER BY x", ())
        .await
        .expect("q")
        .collect_all()
        .await
        .expect("rows")
        .iter()
        .map(|r| r.get(0).expect("x"))
        .collect();
    assert_eq!(xs, [1, 4]);
    // A dropped connection rolls its transaction back and frees the writer.
    let doomed = db.connect();
    doomed.execute("BEGIN IMMEDIATE", ()).await.expect("begin");
    doomed
        .execute("INSERT INTO t VALUES (6)", ())
        .await
        .expect("insert");
    drop(doomed);
    other
        .execute("INSERT INTO t VALUES (7)", ())
        .await
        .expect("the writer is free again");
    assert_eq!(count(&other, "t").await, 3);
});

#[derive(Debug, Deserialize, PartialEq)]
struct Pool {
    name: String,
    depth: f64,
}

local_modes!(prepared_statements_serde_and_error_codes, |db| {
    let conn = db.connect();
    conn.execute(
        "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        (),
    )
    .await
    .expect("create");
    let insert = conn
        .prepare("INSERT INTO p (name) VALUES (?)")
        .await
        .expect("prepare");
    assert_eq!(insert.parameter_count(), Some(1));
    assert_eq!(insert.is_readonly(), Some(false));
    for name in ["a", "b", "c"] {
        insert.execute(&conn, (name,)).await.expect("execute");
    }
    let e = insert.execute(&conn, ("x", "y")).await.expect_err("two");
    assert_eq!(e.code(), code::INVALID_ARGUMENT);
    let select = conn
        .prepare("SELECT name FROM p WHERE id = ?")
        .await
        .expect("prepare");
    assert_eq!(select.column_names(), Some(vec!["name"]));
    let rows = select.query(&conn, (2,)).await.expect("q");
    let rows = rows.collect_all().await.expect("rows");
    assert_eq!(rows[0].get::<String>("name").expect("name"), "b");
    insert.finalize(&conn).await.expect("finalize");

    let rows = conn
        .query("SELECT 'Rockpool' AS name, 0.5 AS depth", ())
        .await
        .expect("q")
        .collect_all()
        .await
        .expect("rows");
    let pool: Pool = rows[0].deserialize().expect("decode");
    assert_eq!(pool.name, "Rockpool");

    let e = conn.execute("SELEC 1", ()).await.expect_err("syntax");
    assert_eq!(
        (e.code(), e.kind()),
        ("SQLITE_ERROR", tidepool::ErrorKind::Sql)
    );
    let e = conn
        .execute("INSERT INTO p (name) VALUES (NULL)", ())
        .await
        .expect_err("not null");
    assert_eq!(e.extended_code(), Some("SQLITE_CONSTRAINT_NOTNULL"));
    let e = conn
        .query("SELECT missing FROM p", ())
        .await
        .expect_err("no column");
    assert!(e.message().contains("no such column"), "{e}");
    let e = conn
        .execute("SELECT 1; SELECT 2", ())
        .await
        .expect_err("two statements");
    assert_eq!(e.code(), "SQL_MANY_STATEMENTS");
    let e = conn
        .execute("ATTACH 'x.db' AS x", ())
        .await
        .expect_err("attach");
    assert_eq!(e.code(), "FORBIDDEN");
    // A query that writes (RETURNING) goes to the writer and returns its rows.
    let rows = conn
        .query("INSERT INTO p (name) VALUES ('d') RETURNING id", ())
        .await
        .expect("returning")
        .collect_all()
        .await
        .expect("rows");
    assert_eq!(rows[0].get::<i64>(0).expect("id"), 4);
    assert_eq!(db.negotiated_protocol(), None);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_run_beside_a_writer_transaction_and_see_only_committed_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Builder::local(dir.path().join("w.db"))
        .build()
        .expect("build");
    let writer = db.connect();
    let reader = db.connect();
    writer
        .execute("CREATE TABLE t (x)", ())
        .await
        .expect("create");
    let tx = writer
        .transaction_with(TransactionBehavior::Immediate)
        .await
        .expect("begin");
    tx.execute("INSERT INTO t VALUES (1)", ())
        .await
        .expect("insert");
    // The writer is held by the open transaction: this read returns only because it runs on a
    // reader, and it sees the last committed state.
    assert_eq!(count(&reader, "t").await, 0);
    // A read-only transaction holds a reader, not the writer, and keeps its snapshot.
    let snapshot = reader
        .transaction_with(TransactionBehavior::ReadOnly)
        .await
        .expect("read-only");
    assert_eq!(
        i64::from_value(&one(&reader, "SELECT count(*) FROM t").await).expect("n"),
        0
    );
    tx.commit().await.expect("commit");
    writer
        .execute("INSERT INTO t VALUES (2)", ())
        .await
        .expect("write beside a read-only transaction");
    assert_eq!(count(&reader, "t").await, 0, "the snapshot holds");
    let e = snapshot
        .execute("INSERT INTO t VALUES (3)", ())
        .await
        .expect_err("read-only");
    assert_eq!(e.code(), "SQLITE_READONLY");
    snapshot.commit().await.expect("end");
    assert_eq!(count(&reader, "t").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_read_blocks_neither_other_reads_nor_the_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Builder::local(dir.path().join("r.db"))
        .read_connections(2)
        .build()
        .expect("build");
    let setup = db.connect();
    setup
        .execute("CREATE TABLE t (x)", ())
        .await
        .expect("create");
    // An endless read, stopped mid-statement after its first row: it holds a reader (and
    // SQLite's read lock) until its rows are dropped.
    let long = db.connect();
    let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n";
    let mut rows = long.query(endless, ()).await.expect("long read");
    rows.next().await.expect("next").expect("first row");
    // While it is open, another connection reads (on the other reader) and writes.
    let other = db.connect();
    assert_eq!(count(&other, "t").await, 0);
    other
        .execute("INSERT INTO t VALUES (1)", ())
        .await
        .expect("write");
    assert_eq!(count(&other, "t").await, 1);
    // The long read was never finished: it is still producing rows.
    assert!(rows.next().await.expect("next").is_some());
    drop(rows);

    // Two long reads at once: each reaches its midpoint only if the other is running too.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let conn = db.connect();
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                let mut rows = conn.query(endless, ()).await.expect("read");
                rows.next().await.expect("next").expect("row");
                barrier.wait().await;
                rows.next()
                    .await
                    .expect("next")
                    .expect("row after the barrier");
            })
        })
        .collect();
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("both reads ran at once")
            .expect("task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interrupt_stops_a_running_statement() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Builder::local(dir.path().join("i.db"))
        .build()
        .expect("build");
    let conn = Arc::new(db.connect());
    let count_to_a_billion = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c";
    let (started, is_started) = oneshot::channel();
    let running = {
        let conn = Arc::clone(&conn);
        tokio::spawn(async move {
            let mut rows = conn.query(count_to_a_billion, ()).await.expect("query");
            let _ = started.send(());
            rows.next().await
        })
    };
    is_started.await.expect("started");
    // The statement may not have begun stepping yet; an interrupt only reaches a running
    // statement, so repeat it until the query ends.
    let outcome = loop {
        conn.interrupt().expect("interrupt");
        if running.is_finished() {
            break running.await.expect("task");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let e = outcome.expect_err("interrupted");
    assert_eq!(e.code(), "SQLITE_INTERRUPT", "{e}");
    assert_eq!(
        one(&conn, "SELECT 1").await,
        Value::Integer(1),
        "usable after"
    );
    // A write on the writer is interrupted the same way.
    conn.execute("CREATE TABLE big (x)", ())
        .await
        .expect("create");
    let write = {
        let conn = Arc::clone(&conn);
        tokio::spawn(async move {
            conn.execute(
                "INSERT INTO big WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT x FROM c",
                (),
            )
            .await
        })
    };
    let outcome = loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        conn.interrupt().expect("interrupt");
        if write.is_finished() {
            break write.await.expect("task");
        }
    };
    assert_eq!(outcome.expect_err("interrupted").code(), "SQLITE_INTERRUPT");
    assert_eq!(
        count(&conn, "big").await,
        0,
        "the interrupted insert left nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_future_does_not_strand_the_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Builder::local(dir.path().join("c.db"))
        .build()
        .expect("build");
    let conn = db.connect();
    conn.execute("CREATE TABLE t (x)", ())
        .await
        .expect("create");
    let slow = "INSERT INTO t WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) SELECT x FROM c";
    // Dropped while its blocking task runs: the task finishes and gives the writer back.
    let _ = tokio::time::timeout(Duration::from_millis(1), conn.execute(slow, ())).await;
    let other = db.connect();
    other
        .execute("INSERT INTO t VALUES (-1)", ())
        .await
        .expect("the writer comes back");
    // Inside a transaction the cancelled statement's effects stay with the transaction, which
    // continues; the transaction's end frees the writer.
    let tx = conn.transaction().await.expect("begin");
    let _ = tokio::time::timeout(Duration::from_millis(1), tx.execute(slow, ())).await;
    tx.execute("INSERT INTO t VALUES (-2)", ())
        .await
        .expect("the transaction continues");
    tx.rollback().await.expect("rollback");
    other
        .execute("INSERT INTO t VALUES (-3)", ())
        .await
        .expect("free again");
    let n = count(&other, "t").await;
    assert!(n == 300_002 || n == 2, "{n}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_defined_functions_run_on_every_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Builder::local(dir.path().join("f.db"))
        .scalar_function("twice", 1, true, |args| match args[0] {
            Value::Integer(i) => Ok(Value::Integer(i * 2)),
            ref other => Err(format!("twice takes an integer, not {other:?}")),
        })
        .scalar_function("joined", -1, false, |args| {
            let parts: Vec<String> = args
                .iter()
                .map(|v| match v {
                    Value::Integer(i) => i.to_string(),
                    other => String::from_value(other).unwrap_or_default(),
                })
                .collect();
            Ok(Value::Text(parts.join("-")))
        })
        .aggregate_function(
            "product",
            1,
            true,
            || 1i64,
            |acc, args| {
                *acc *= i64::from_value(&args[0]).map_err(|e| e.to_string())?;
                Ok(())
            },
            |acc| Ok(Value::Integer(acc)),
        )
        .aggregate_function(
            "longest",
            1,
            true,
            String::new,
            |acc: &mut String, args| {
                let s = String::from_value(&args[0]).map_err(|e| e.to_string())?;
                if s.len() > acc.len() {
                    *acc = s;
                }
                Ok(())
            },
            |acc| {
                if acc.is_empty() {
                    Err("longest of nothing".to_owned())
                } else {
                    Ok(Value::Text(acc))
                }
            },
        )
        .build()
        .expect("build");
    let conn = db.connect();
    // On the writer: a table whose default and index use a deterministic function.
    conn.execute_batch(
        "CREATE TABLE n (x INTEGER, name TEXT); CREATE INDEX n_twice ON n (twice(x));
         INSERT INTO n VALUES (2, 'a'), (3, 'bbb'), (7, 'cc');",
    )
    .await
    .expect("schema");
    conn.execute("INSERT INTO n VALUES (twice(?), 'dd')", (5,))
        .await
        .expect("insert with a function");
    // On readers, from several connections.
    for _ in 0..3 {
        let c = db.connect();
        assert_eq!(
            one(&c, "SELECT product(x) FROM n WHERE x < 10").await,
            Value::Integer(42)
        );
        assert_eq!(
            one(&c, "SELECT longest(name) FROM n").await,
            Value::Text("bbb".into())
        );
        assert_eq!(
            one(&c, "SELECT joined('a', 1, 'c')").await,
            Value::Text("a-1-c".into())
        );
        assert_eq!(one(&c, "SELECT twice(21)").await, Value::Integer(42));
    }
    assert_eq!(
        one(&conn, "SELECT product(x) FROM n WHERE 0").await,
        Value::Integer(1),
        "an empty group finalizes a fresh state"
    );
    let e = conn
        .query("SELECT twice('x')", ())
        .await
        .expect("query")
        .next()
        .await
        .expect_err("a function error");
    assert_eq!(e.code(), "SQLITE_ERROR");
    assert!(e.message().contains("twice takes an integer"), "{e}");
    let e = conn
        .execute("SELECT longest(name) FROM n WHERE 0", ())
        .await
        .expect_err("finalize error");
    assert!(e.message().contains("longest of nothing"), "{e}");
    let e = conn
        .execute("SELECT twice(1, 2)", ())
        .await
        .expect_err("arity");
    assert_eq!(e.code(), "SQLITE_ERROR");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_persists_across_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("persist.db");
    let open = |url: String| Builder::new(url).build().expect("build");
    {
        let db = open(format!("file:{}", path.display()));
        let conn = db.connect();
        conn.execute("CREATE TABLE kept (v TEXT)", ())
            .await
            .expect("create");
        conn.execute("INSERT INTO kept VALUES ('across reopen')", ())
            .await
            .expect("insert");
        let journal = one(&conn, "PRAGMA journal_mode").await;
        assert_eq!(journal, Value::Text("wal".into()));
    }
    let db = open(format!("file://{}", path.display()));
    assert_eq!(
        one(&db.connect(), "SELECT v FROM kept").await,
        Value::Text("across reopen".into())
    );
    // Relative paths are relative to the working directory.
    let relative = format!(
        "file:{}",
        pathdiff(&path, &std::env::current_dir().expect("cwd"))
    );
    let db = open(relative);
    assert_eq!(count(&db.connect(), "kept").await, 1);
}

/// `path` relative to `base` (both absolute), with `..` as needed.
fn pathdiff(path: &std::path::Path, base: &std::path::Path) -> String {
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); base.len() - common];
    parts.extend(
        path[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

#[tokio::test]
async fn bad_input_gives_typed_errors() {
    let invalid = |b: Builder| b.build().expect_err("invalid").code().to_owned();
    for url in [
        "file:",
        "file:dir/",
        "file:a.db?mode=ro",
        "file://elsewhere/a.db",
    ] {
        assert_eq!(invalid(Builder::new(url)), code::INVALID_CONFIG, "{url}");
    }
    assert_eq!(invalid(Builder::local("")), code::INVALID_CONFIG);
    let udf = |b: Builder| b.scalar_function("f", 1, true, |_| Ok(Value::Null));
    assert_eq!(
        invalid(udf(Builder::new("http://127.0.0.1:1"))),
        code::INVALID_CONFIG,
        "functions need a local database"
    );
    assert_eq!(
        invalid(Builder::new(":memory:").scalar_function("f", 1000, true, |_| Ok(Value::Null))),
        code::INVALID_CONFIG
    );
    let remote = Builder::new("http://127.0.0.1:1").build().expect("remote");
    assert_eq!(
        remote.connect().interrupt().expect_err("remote").code(),
        code::UNSUPPORTED
    );

    let dir = tempfile::tempdir().expect("tempdir");
    // Opening fails on first use, with SQLite's code, and is tried again on the next call.
    let missing_dir = dir.path().join("no/such/dir/x.db");
    let db = Builder::local(&missing_dir).build().expect("builds");
    let e = db
        .connect()
        .execute("SELECT 1", ())
        .await
        .expect_err("missing dir");
    assert_eq!(
        (e.code(), e.kind()),
        ("SQLITE_CANTOPEN", tidepool::ErrorKind::Sql)
    );
    std::fs::create_dir_all(missing_dir.parent().expect("parent")).expect("mkdir");
    db.connect()
        .execute("SELECT 1", ())
        .await
        .expect("opens once the directory exists");

    let not_a_db = dir.path().join("junk.db");
    std::fs::write(&not_a_db, vec![b'x'; 8192]).expect("junk");
    let e = Builder::local(&not_a_db)
        .build()
        .expect("builds")
        .connect()
        .execute("SELECT 1", ())
        .await
        .expect_err("not a database");
    assert_eq!(e.code(), "SQLITE_NOTADB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_database_is_shared_by_its_connections() {
    let db = Builder::new("file::memory:").build().expect("build");
    assert_eq!(db.url(), ":memory:");
    let a = db.connect();
    a.execute("CREATE TABLE m (x)", ()).await.expect("create");
    a.execute("INSERT INTO m VALUES (1)", ())
        .await
        .expect("insert");
    assert_eq!(count(&db.connect(), "m").await, 1);
    let other = Builder::new(":memory:").build().expect("build");
    let e = other
        .connect()
        .execute("SELECT * FROM m", ())
        .await
        .expect_err("another database");
    assert!(e.message().contains("no such table"), "{e}");
}

#[allow(dead_code)]
fn assert_send(db: &Database) -> impl Send + '_ {
    async move { db.connect().execute("SELECT 1", ()).await }
}

local_modes!(query_reports_write_counts, |db| {
    let conn = db.connect();
    conn.execute("CREATE TABLE q (id INTEGER PRIMARY KEY, v TEXT)", ())
        .await
        .expect("create");
    let mut rows = conn
        .query("INSERT INTO q (v) VALUES ('a'), ('b') RETURNING id", ())
        .await
        .expect("insert returning");
    let mut ids = Vec::new();
    while let Some(row) = rows.next().await.expect("next") {
        ids.push(row.get::<i64>(0).expect("id"));
    }
    assert_eq!(ids, [1, 2]);
    assert_eq!(rows.rows_affected(), 2);
    assert_eq!(rows.last_insert_rowid(), Some(2));
});

/// A write that waits for another connection's transaction gives up after the busy timeout
/// with SQLITE_BUSY, as SQLite does, instead of waiting forever (two connections driven from
/// one thread would deadlock).
#[tokio::test]
async fn a_write_waits_for_another_transaction_only_the_busy_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = tidepool::Builder::local(dir.path().join("busy.db"))
        .busy_timeout(std::time::Duration::from_millis(200))
        .build()
        .expect("build");
    let a = db.connect();
    let b = db.connect();
    a.execute("CREATE TABLE t (x)", ()).await.expect("create");
    let tx = a.transaction().await.expect("begin");
    tx.execute("INSERT INTO t VALUES (1)", ())
        .await
        .expect("insert");
    let e = b
        .execute("INSERT INTO t VALUES (2)", ())
        .await
        .expect_err("the writer is held");
    assert!(e.is_busy(), "{e:?}");
    tx.commit().await.expect("commit");
    b.execute("INSERT INTO t VALUES (2)", ())
        .await
        .expect("free again");
}
