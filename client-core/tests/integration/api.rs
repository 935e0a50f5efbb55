//! The whole public API, over both transports.

use serde::Deserialize;
use tidepool::{params, Params, Statement, Value};

use crate::both_transports;

both_transports!(execute_and_query_every_value_type, |db, _server| {
    let conn = db.connect();
    conn.execute("CREATE TABLE v (i INTEGER, r REAL, t TEXT, b BLOB, n)", ())
        .await
        .expect("create");
    let blob = vec![0u8, 1, 2, 255];
    let values = [
        (i64::MIN, -2.5, String::new(), Vec::new()),
        (
            i64::MAX,
            f64::INFINITY,
            "nul\0 and 🌊".to_owned(),
            blob.clone(),
        ),
        (0, 1.5, "plain".to_owned(), vec![7; 100_000]),
    ];
    for (i, r, t, b) in &values {
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
    let mut rows = conn
        .query("SELECT i, r, t, b, n FROM v ORDER BY rowid", ())
        .await
        .expect("query");
    let names: Vec<&str> = rows.columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["i", "r", "t", "b", "n"]);
    assert_eq!(rows.columns()[0].decltype.as_deref(), Some("INTEGER"));
    for (i, r, t, b) in &values {
        let row = rows.next().await.expect("next").expect("a row");
        assert_eq!(row.get::<i64>(0).expect("i"), *i);
        assert_eq!(row.get::<f64>("r").expect("r").to_bits(), r.to_bits());
        assert_eq!(&row.get::<String>(2).expect("t"), t);
        assert_eq!(&row.get::<Vec<u8>>(3).expect("b"), b);
        assert_eq!(row.get::<Option<i64>>(4).expect("n"), None);
    }
    assert!(rows.next().await.expect("end").is_none());
});

both_transports!(named_and_positional_parameters, |db, _server| {
    let conn = db.connect();
    let named = params::named([(":a", 1), ("b", 2)]);
    let mut rows = conn
        .query("SELECT :a + :b AS s, ?3 AS third", Params::None)
        .await;
    assert!(rows.is_err(), "missing arguments are refused");
    rows = conn.query("SELECT :a + :b AS s", named).await;
    let row = rows
        .expect("query")
        .next()
        .await
        .expect("next")
        .expect("row");
    assert_eq!(row.get::<i64>("s").expect("s"), 3);
    let from_serde = params::from_serde(&serde_json::json!({"x": 40, "y": 2})).expect("serde");
    let row = conn
        .query("SELECT $x + @y", from_serde)
        .await
        .expect("q")
        .next()
        .await
        .expect("n")
        .expect("row");
    assert_eq!(row.get::<i64>(0).expect("sum"), 42);
    let row = conn
        .query("SELECT ? || ?", ["a", "b"])
        .await
        .expect("q")
        .next()
        .await
        .expect("n")
        .expect("row");
    assert_eq!(row.get::<String>(0).expect("concat"), "ab");
});

both_transports!(rows_stream_through_a_cursor, |db, _server| {
    let conn = db.connect();
    let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000) SELECT i FROM n";
    let mut rows = conn.query(sql, ()).await.expect("query");
    let mut count = 0i64;
    let mut sum = 0i64;
    while let Some(row) = rows.next().await.expect("next") {
        count += 1;
        sum += row.get::<i64>(0).expect("i");
    }
    assert_eq!(count, 50_000);
    assert_eq!(sum, 50_000 * 50_001 / 2);
    // The connection is usable after the cursor.
    conn.execute("CREATE TABLE after_cursor (x)", ())
        .await
        .expect("next statement");
});

both_transports!(dropping_rows_early_frees_the_connection, |db, _server| {
    let conn = db.connect();
    let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) SELECT i FROM n";
    let mut rows = conn.query(sql, ()).await.expect("query");
    rows.next().await.expect("first").expect("row");
    drop(rows);
    let row = conn
        .query("SELECT 7", ())
        .await
        .expect("q")
        .next()
        .await
        .expect("n")
        .expect("row");
    assert_eq!(row.get::<i64>(0).expect("7"), 7);
});

both_transports!(batches_are_atomic, |db, _server| {
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
    assert_eq!(results.len(), 3);
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
    let count = conn
        .query("SELECT count(*) FROM b", ())
        .await
        .expect("q")
        .next()
        .await
        .expect("n")
        .expect("r");
    assert_eq!(
        count.get::<i64>(0).expect("count"),
        2,
        "the failed batch left nothing behind"
    );
    assert!(conn.is_autocommit().await);
});

both_transports!(scripts_run_with_execute_batch, |db, _server| {
    let conn = db.connect();
    conn.execute_batch("CREATE TABLE s (x); INSERT INTO s VALUES (1); INSERT INTO s VALUES (2);")
        .await
        .expect("script");
    let row = conn
        .query("SELECT sum(x) FROM s", ())
        .await
        .expect("q")
        .next()
        .await
        .expect("n")
        .expect("r");
    assert_eq!(row.get::<i64>(0).expect("sum"), 3);
    let e = conn
        .execute_batch("INSERT INTO s VALUES (3); SELEC 1")
        .await
        .expect_err("syntax");
    assert_eq!(e.code(), "SQLITE_ERROR");
});

both_transports!(transactions_commit_roll_back_and_isolate, |db, _server| {
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
    let seen = other
        .query("SELECT count(*) FROM t", ())
        .await
        .expect("q")
        .next()
        .await
        .expect("n")
        .expect("r");
    assert_eq!(
        seen.get::<i64>(0).expect("count"),
        0,
        "uncommitted rows are invisible"
    );
    tx.commit().await.expect("commit");
    assert!(conn.is_autocommit().await);
    let seen = other
        .query("SELECT count(*) FROM t", ())
        .await
        .expect("q")
        .next()
        .await
        .expect("n")
        .expect("r");
    assert_eq!(seen.get::<i64>(0).expect("count"), 1);

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
        // Dropped without commit: rolled back before anything else runs on `conn`.
    }
    conn.execute("INSERT INTO t VALUES (4)", ())
        .await
        .expect("after the dropped transaction");
    let rows = conn
        .query("SELECT x FROM t ORDER BY x", ())
        .await
        .expect("q")
        .collect_all()
        .await
        .expect("rows");
    let xs: Vec<i64> = rows.iter().map(|r| r.get(0).expect("x")).collect();
    assert_eq!(xs, [1, 4]);
});

both_transports!(raw_begin_keeps_the_stream, |db, _server| {
    let conn = db.connect();
    conn.execute("CREATE TABLE r (x)", ())
        .await
        .expect("create");
    conn.execute("BEGIN", ()).await.expect("begin");
    conn.execute("INSERT INTO r VALUES (1)", ())
        .await
        .expect("insert");
    assert!(!conn.is_autocommit().await);
    conn.execute("ROLLBACK", ()).await.expect("rollback");
    assert!(conn.is_autocommit().await);
    let row = conn
        .query("SELECT count(*) FROM r", ())
        .await
        .expect("q")
        .next()
        .await
        .expect("n")
        .expect("r");
    assert_eq!(row.get::<i64>(0).expect("count"), 0);
});

both_transports!(batch_inside_a_transaction_is_a_savepoint, |db, _server| {
    let conn = db.connect();
    conn.execute("CREATE TABLE sp (v TEXT UNIQUE)", ())
        .await
        .expect("create");
    let tx = conn.transaction().await.expect("begin");
    tx.execute("INSERT INTO sp VALUES ('kept')", ())
        .await
        .expect("insert");
    let e = tx
        .batch([
            ("INSERT INTO sp VALUES (?)", ("x",)),
            ("INSERT INTO sp VALUES (?)", ("kept",)),
        ])
        .await;
    assert!(e.expect_err("dup").is_constraint());
    tx.commit().await.expect("commit");
    let rows = conn
        .query("SELECT v FROM sp", ())
        .await
        .expect("q")
        .collect_all()
        .await
        .expect("rows");
    let vs: Vec<String> = rows.iter().map(|r| r.get(0).expect("v")).collect();
    assert_eq!(vs, ["kept"], "the savepoint rolled back only the batch");
});

both_transports!(prepared_statements_run_many_times, |db, _server| {
    let conn = db.connect();
    conn.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT)", ())
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
    let e = insert
        .execute(&conn, ("x", "y"))
        .await
        .expect_err("too many");
    assert_eq!(e.code(), tidepool::error::code::INVALID_ARGUMENT);
    let select = conn
        .prepare("SELECT name FROM p WHERE id = ?")
        .await
        .expect("prepare");
    assert_eq!(select.column_names(), Some(vec!["name"]));
    let row = select
        .query(&conn, (2,))
        .await
        .expect("q")
        .next()
        .await
        .expect("n")
        .expect("row");
    assert_eq!(row.get::<String>("name").expect("name"), "b");
    insert.finalize(&conn).await.expect("finalize");
    let e = conn.prepare("SELEC").await.expect_err("syntax");
    assert_eq!(e.code(), "SQLITE_ERROR");
});

#[derive(Debug, Deserialize, PartialEq)]
struct Pool {
    name: String,
    depth: f64,
    tags: Option<String>,
}

both_transports!(rows_decode_into_serde_types, |db, _server| {
    let conn = db.connect();
    let rows = conn
        .query("SELECT 'Rockpool' AS name, 0.5 AS depth, NULL AS tags", ())
        .await
        .expect("q")
        .collect_all()
        .await
        .expect("rows");
    let pool: Pool = rows[0].deserialize().expect("decode");
    assert_eq!(
        pool,
        Pool {
            name: "Rockpool".into(),
            depth: 0.5,
            tags: None
        }
    );
    let e = rows[0].deserialize::<(i64,)>().expect_err("shape");
    assert_eq!(e.code(), tidepool::error::code::TYPE_MISMATCH);
});

both_transports!(sql_errors_keep_their_codes, |db, _server| {
    let conn = db.connect();
    let e = conn.execute("SELEC 1", ()).await.expect_err("syntax");
    assert_eq!(
        (e.code(), e.kind()),
        ("SQLITE_ERROR", tidepool::ErrorKind::Sql)
    );
    conn.execute("CREATE TABLE e (x NOT NULL)", ())
        .await
        .expect("create");
    let e = conn
        .execute("INSERT INTO e VALUES (NULL)", ())
        .await
        .expect_err("not null");
    assert!(e.is_constraint());
    assert_eq!(e.extended_code(), Some("SQLITE_CONSTRAINT_NOTNULL"));
    let e = conn
        .query("SELECT missing FROM e", ())
        .await
        .expect_err("no column");
    assert!(e.message().contains("no such column"), "{e}");
    let row = conn
        .query("SELECT 1", ())
        .await
        .expect("q")
        .next()
        .await
        .expect("n")
        .expect("r");
    assert_eq!(
        row.get::<i64>(5).expect_err("index").code(),
        tidepool::error::code::COLUMN_NOT_FOUND
    );
    assert_eq!(
        row.get::<String>(0).expect_err("type").code(),
        tidepool::error::code::TYPE_MISMATCH
    );
});

both_transports!(negotiates_the_newest_protocol, |db, _server| {
    // Nothing is known before the first request, unless JSON was forced over HTTP.
    let before = db.negotiated_protocol();
    assert!(
        before.is_none() || before.as_deref() == Some("v3"),
        "{before:?}"
    );
    db.connect()
        .execute("SELECT 1", ())
        .await
        .expect("first request");
    let negotiated = db.negotiated_protocol().expect("negotiated");
    let expected = ["v3-protobuf", "hrana3-protobuf", "v3", "hrana3"];
    assert!(expected.contains(&negotiated.as_str()), "{negotiated}");
});

#[tokio::test]
async fn hrana2_over_http_still_works() {
    let server = crate::support::TestServer::start().await;
    let db = tidepool::Builder::new(server.url("http"))
        .force_hrana2()
        .build()
        .expect("build");
    let conn = db.connect();
    conn.execute("CREATE TABLE h (x)", ())
        .await
        .expect("create");
    let tx = conn.transaction().await.expect("begin");
    tx.execute("INSERT INTO h VALUES (1)", ())
        .await
        .expect("insert");
    tx.commit().await.expect("commit");
    let rows = conn
        .query("SELECT x FROM h", ())
        .await
        .expect("buffered query")
        .collect_all()
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(db.negotiated_protocol().as_deref(), Some("v2"));
}

#[tokio::test]
async fn tokens_are_sent_and_checked() {
    let key = tidepool_server::auth::SigningKey::generate();
    let server = crate::support::TestServer::start_with(|config| {
        let path =
            std::env::temp_dir().join(format!("tidepool-client-key-{}.pem", std::process::id()));
        std::fs::write(&path, key.public_key_pem()).expect("key file");
        config.auth_key_file = Some(path);
    })
    .await;
    for scheme in ["http", "ws"] {
        let db = tidepool::Builder::new(server.url(scheme))
            .build()
            .expect("build");
        let e = db
            .connect()
            .execute("SELECT 1", ())
            .await
            .expect_err("no token");
        assert!(e.is_auth(), "{scheme}: {e}");
        let token = key.token(tidepool_server::auth::Access::ReadOnly, None);
        let db = tidepool::Builder::new(server.url(scheme))
            .auth_token(token)
            .build()
            .expect("build");
        let conn = db.connect();
        conn.query("SELECT 1", ()).await.expect("read");
        let e = conn
            .execute("CREATE TABLE nope (x)", ())
            .await
            .expect_err("read-only");
        assert_eq!(e.code(), "FORBIDDEN", "{scheme}");
        assert!(e.is_auth());
    }
}

#[tokio::test]
async fn values_from_the_vectors_round_trip() {
    let server = crate::support::TestServer::start().await;
    let conn = server.db("http").connect();
    let edge = [
        Value::Integer(i64::MIN),
        Value::Float(-0.0),
        Value::Text("\u{10FFFF}".into()),
        Value::Blob(vec![]),
    ];
    for v in edge {
        let row = conn
            .query("SELECT ?", vec![v.clone()])
            .await
            .expect("q")
            .next()
            .await
            .expect("n")
            .expect("r");
        assert!(row.value(0).expect("value").same_as(&v), "{v:?}");
    }
}

// Every value of the protocol's vector corpus that a statement can carry comes back from
// `SELECT ?` as it went in (as the wire defines it: NaN arrives as NULL).
both_transports!(protocol_value_vectors_round_trip, |db, _server| {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../protocol/vectors/values.json"
    );
    let corpus: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("json");
    let conn = db.connect();
    let mut checked = 0;
    for case in corpus["cases"].as_array().expect("cases") {
        // Round-trip cases only; generator-expanded ones ($repeat) are covered by the corpus
        // runner itself.
        let Some(json) = case.get("json") else {
            continue;
        };
        if json.to_string().contains("\"$") {
            continue;
        }
        let value: Value = serde_json::from_value(json.clone()).expect("a wire value");
        let row = conn
            .query("SELECT ?", vec![value.clone()])
            .await
            .expect("query")
            .next()
            .await
            .expect("next")
            .expect("row");
        let back = row.value(0).expect("value");
        assert!(
            back.same_as(&value.clone().normalized()),
            "{}: {back:?}",
            case["name"]
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} vector values checked");
});

// Dropping a request's future cancels it on the client; the connection stays usable.
both_transports!(
    dropped_futures_leave_the_connection_usable,
    |db, _server| {
        let conn = db.connect();
        conn.execute("CREATE TABLE c (x)", ())
            .await
            .expect("create");
        let slow =
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) \
                SELECT count(*) FROM n";
        let cancelled =
            tokio::time::timeout(std::time::Duration::from_millis(20), conn.execute(slow, ()))
                .await;
        assert!(
            cancelled.is_err(),
            "the slow statement was still running when dropped"
        );
        conn.execute("INSERT INTO c VALUES (1)", ())
            .await
            .expect("next call works");
        let row = conn
            .query("SELECT count(*) FROM c", ())
            .await
            .expect("q")
            .next()
            .await;
        assert_eq!(row.expect("n").expect("r").get::<i64>(0).expect("count"), 1);
        // Inside a transaction too: the transaction continues after a cancelled call.
        let tx = conn.transaction().await.expect("begin");
        tx.execute("INSERT INTO c VALUES (2)", ())
            .await
            .expect("insert");
        let cancelled =
            tokio::time::timeout(std::time::Duration::from_millis(20), tx.execute(slow, ())).await;
        assert!(cancelled.is_err());
        let outcome = tx.commit().await;
        let rows = conn
            .query("SELECT count(*) FROM c", ())
            .await
            .expect("q")
            .next()
            .await;
        let count: i64 = rows.expect("n").expect("r").get(0).expect("count");
        match outcome {
            Ok(()) => assert_eq!(count, 2, "committed"),
            // A cancelled request may leave the transaction's stream unusable: then it is lost,
            // rolled back, and says so.
            Err(e) => {
                assert_eq!(e.code(), tidepool::error::code::TRANSACTION_LOST, "{e:?}");
                assert_eq!(count, 1, "rolled back");
            }
        }
    }
);

both_transports!(query_reports_write_counts, |db, _server| {
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
    let mut rows = conn.query("SELECT v FROM q", ()).await.expect("select");
    while rows.next().await.expect("next").is_some() {}
    assert_eq!(rows.rows_affected(), 0);
});
