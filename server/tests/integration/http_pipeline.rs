//! `POST /v*/pipeline`: every stream request type, in JSON and protobuf.

use tidepool_protocol::http::{
    CloseSqlStreamReq, CloseStreamReq, DescribeStreamReq, GetAutocommitStreamReq,
    SequenceStreamReq, StoreSqlStreamReq, StreamRequest, StreamResponse,
};
use tidepool_protocol::{BatchCond, Encoding, Stmt, Value};

use crate::both_encodings;
use crate::support::*;

both_encodings!(
    execute_round_trips_every_value_type,
    execute_stores_every_value_type,
    execute_positional_and_named_args,
    execute_reports_counts_and_columns,
    batch_evaluates_every_condition_kind,
    transactional_batch_commits_or_rolls_back,
    sequence_runs_statements_in_order,
    describe_reports_params_and_columns,
    stored_sql_by_id,
    get_autocommit_inside_and_outside_a_transaction,
    close_ends_the_stream,
    interactive_transaction_across_pipelines,
    every_request_type_in_one_pipeline,
);

fn edge_values() -> Vec<Value> {
    vec![
        Value::Null,
        int(0),
        int(i64::MIN),
        int(i64::MAX),
        int(-1),
        Value::Float(-0.0),
        Value::Float(1.5),
        Value::Float(-1e300),
        Value::Float(f64::INFINITY),
        Value::Float(f64::NEG_INFINITY),
        text(""),
        text("a\0b 🌊 ü"),
        Value::Blob(vec![]),
        Value::Blob((0..=255u8).collect()),
        Value::Blob((0..(1 << 20)).map(|i| (i * 7 % 251) as u8).collect()),
    ]
}

async fn execute_round_trips_every_value_type(enc: Encoding) {
    let server = TestServer::start().await;
    let mut s = server.http(enc).stream();
    for value in edge_values() {
        let r = s
            .exec(stmt_args("SELECT ?, typeof(?1)", vec![value.clone()]))
            .await;
        assert_eq!(r.rows.len(), 1);
        let got = &r.rows[0].values[0];
        assert!(
            got.same_as(&value),
            "sent {:?}, got {:?}",
            short(&value),
            short(got)
        );
        let expected_type = match value {
            Value::Null => "null",
            Value::Integer(_) => "integer",
            Value::Float(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
        };
        assert_eq!(r.rows[0].values[1], text(expected_type));
    }
    // The length of the text with a NUL is its full length, as SQLite sees it.
    let r = s
        .exec(stmt_args(
            "SELECT length(CAST(? AS BLOB))",
            vec![text("a\0b")],
        ))
        .await;
    assert_eq!(scalar(&r), &int(3));
}

fn short(v: &Value) -> String {
    match v {
        Value::Blob(b) => format!("Blob(len {})", b.len()),
        other => format!("{other:?}"),
    }
}

async fn execute_stores_every_value_type(enc: Encoding) {
    let server = TestServer::start().await;
    let mut s = server.http(enc).stream();
    s.exec_sql("CREATE TABLE v (x)").await;
    let values = edge_values();
    for value in &values {
        let r = s
            .exec(stmt_args(
                "INSERT INTO v (x) VALUES (?)",
                vec![value.clone()],
            ))
            .await;
        assert_eq!(r.affected_row_count, 1);
    }
    // Another stream reads them back from the file.
    let mut reader = server.http(enc).stream();
    let r = reader.exec_sql("SELECT x FROM v ORDER BY rowid").await;
    assert_eq!(r.rows.len(), values.len());
    for (row, value) in r.rows.iter().zip(&values) {
        assert!(row.values[0].same_as(value), "stored {:?}", short(value));
    }
}

async fn execute_positional_and_named_args(enc: Encoding) {
    let server = TestServer::start().await;
    let mut s = server.http(enc).stream();
    let r = s
        .exec(stmt_args(
            "SELECT ?, ?3, ?2",
            vec![int(1), text("two"), int(3)],
        ))
        .await;
    assert_eq!(r.rows[0].values, vec![int(1), int(3), text("two")]);

    // Names with and without their prefix.
    let r = s
        .exec(stmt_named(
            "SELECT :a, @b, $c, :d",
            &[
                ("a", int(1)),
                ("@b", int(2)),
                ("c", text("three")),
                (":d", Value::Null),
            ],
        ))
        .await;
    assert_eq!(
        r.rows[0].values,
        vec![int(1), int(2), text("three"), Value::Null]
    );

    // A named argument overrides the positional one for the same parameter.
    let mut mixed = stmt_named("SELECT :x, ?", &[("x", int(10))]);
    mixed.args = vec![int(1), int(2)];
    let r = s.exec(mixed).await;
    assert_eq!(r.rows[0].values, vec![int(10), int(2)]);

    // Named arguments in a table.
    s.exec_sql("CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT)")
        .await;
    s.exec(stmt_named(
        "INSERT INTO p (id, name) VALUES (:id, :name)",
        &[("id", int(7)), ("name", text("Ada"))],
    ))
    .await;
    let r = s
        .exec(stmt_named(
            "SELECT name FROM p WHERE id = :id",
            &[("id", int(7))],
        ))
        .await;
    assert_eq!(scalar(&r), &text("Ada"));
}

async fn execute_reports_counts_and_columns(enc: Encoding) {
    let server = TestServer::start().await;
    let mut s = server.http(enc).stream();
    s.exec_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        .await;
    let r = s
        .exec_sql("INSERT INTO t (v) VALUES ('a'), ('b'), ('c')")
        .await;
    assert_eq!(r.affected_row_count, 3);
    assert_eq!(r.last_insert_rowid, Some(3));
    assert!(r.cols.is_empty() && r.rows.is_empty());

    let r = s
        .exec_sql("SELECT id, v AS value, 1 + 1 FROM t ORDER BY id")
        .await;
    assert_eq!(r.affected_row_count, 0);
    let names: Vec<_> = r.cols.iter().map(|c| c.name.clone()).collect();
    assert_eq!(
        names,
        vec![
            Some("id".into()),
            Some("value".into()),
            Some("1 + 1".into())
        ]
    );
    assert_eq!(r.cols[0].decltype.as_deref(), Some("INTEGER"));
    assert_eq!(r.cols[1].decltype.as_deref(), Some("TEXT"));
    assert_eq!(r.cols[2].decltype, None);
    assert_eq!(r.rows.len(), 3);
    assert_eq!(r.rows[2].values, vec![int(3), text("c"), int(2)]);

    // want_rows = false runs the statement but drops the rows.
    let r = s
        .exec(Stmt {
            want_rows: Some(false),
            ..Stmt::new("UPDATE t SET v = upper(v) RETURNING id")
        })
        .await;
    assert!(r.rows.is_empty());
    assert_eq!(r.cols.len(), 1);
    assert_eq!(r.affected_row_count, 3);
    let r = s.exec_sql("SELECT group_concat(v, '') FROM t").await;
    assert_eq!(scalar(&r), &text("ABC"));
}

async fn batch_evaluates_every_condition_kind(enc: Encoding) {
    use BatchCond::{And, Error as Failed, IsAutocommit, Or};
    let server = TestServer::start().await;
    let mut s = server.http(enc).stream();
    let steps = vec![
        step("SELECT 0", None),                     // 0 ok
        step("SELEC 1", None),                      // 1 fails
        step("SELECT 2", Some(ok(0))),              // 2 runs
        step("SELECT 3", Some(ok(1))),              // 3 skipped
        step("SELECT 4", Some(Failed { step: 1 })), // 4 runs
        step("SELECT 5", Some(Failed { step: 0 })), // 5 skipped
        step("SELECT 6", Some(not(ok(1)))),         // 6 runs
        step(
            "SELECT 7",
            Some(And {
                conds: vec![ok(0), Failed { step: 1 }],
            }),
        ), // 7 runs
        step(
            "SELECT 8",
            Some(And {
                conds: vec![ok(0), ok(1)],
            }),
        ), // 8 skipped
        step(
            "SELECT 9",
            Some(Or {
                conds: vec![ok(1), ok(0)],
            }),
        ), // 9 runs
        step("SELECT 10", Some(Or { conds: vec![] })), // 10 skipped
        step("SELECT 11", Some(And { conds: vec![] })), // 11 runs
        step("SELECT 12", Some(IsAutocommit {})),   // 12 runs
        step("BEGIN", None),                        // 13 runs
        step("SELECT 14", Some(IsAutocommit {})),   // 14 skipped
        step("ROLLBACK", None),                     // 15 runs
        step("SELECT 16", Some(Failed { step: 3 })), // 16 skipped: 3 did not run
        step("SELECT 17", Some(not(ok(3)))),        // 17 runs
        step("SELECT 18", Some(not(not(IsAutocommit {})))), // 18 runs
    ];
    let result = s.send_one(batch_req(batch(steps))).await;
    let r = batch_result(&result);
    let ran = [0, 2, 4, 6, 7, 9, 11, 12, 13, 15, 17, 18];
    let skipped = [3, 5, 8, 10, 14, 16];
    for i in ran {
        let res = step_result(r, i).unwrap_or_else(|| panic!("step {i} should have run"));
        assert!(step_error(r, i).is_none(), "step {i}");
        if i != 13 && i != 15 {
            assert_eq!(scalar(res), &int(i as i64), "step {i}");
        }
    }
    for i in skipped {
        assert!(step_result(r, i).is_none(), "step {i} should be skipped");
        assert!(step_error(r, i).is_none(), "step {i} should be skipped");
    }
    assert!(step_result(r, 1).is_none());
    assert_eq!(
        step_error(r, 1).and_then(|e| e.code.as_deref()),
        Some("SQLITE_ERROR")
    );
    // Steps run in order and see what earlier steps did.
    let result = s
        .send_one(batch_req(batch(vec![
            step("CREATE TABLE b (x)", None),
            step("INSERT INTO b VALUES (1), (2)", Some(ok(0))),
            step("SELECT count(*) FROM b", Some(ok(1))),
        ])))
        .await;
    let r = batch_result(&result);
    assert_eq!(step_result(r, 1).map(|r| r.affected_row_count), Some(2));
    assert_eq!(step_result(r, 2).map(scalar), Some(&int(2)));
}

async fn transactional_batch_commits_or_rolls_back(enc: Encoding) {
    let server = TestServer::start().await;
    let mut s = server.http(enc).stream();
    s.exec_sql("CREATE TABLE t (x INTEGER UNIQUE)").await;

    let result = s
        .send_one(batch_req(transactional(&[
            "INSERT INTO t VALUES (1)",
            "INSERT INTO t VALUES (2)",
        ])))
        .await;
    let r = batch_result(&result);
    assert!(step_result(r, 3).is_some(), "COMMIT ran");
    assert!(
        step_result(r, 4).is_none() && step_error(r, 4).is_none(),
        "ROLLBACK skipped"
    );

    // The second insert fails: the rest is skipped and ROLLBACK undoes the first.
    let result = s
        .send_one(batch_req(transactional(&[
            "INSERT INTO t VALUES (3)",
            "INSERT INTO t VALUES (1)",
            "INSERT INTO t VALUES (4)",
        ])))
        .await;
    let r = batch_result(&result);
    assert!(step_result(r, 1).is_some());
    assert_eq!(
        step_error(r, 2).and_then(|e| e.code.as_deref()),
        Some("SQLITE_CONSTRAINT")
    );
    assert!(
        step_result(r, 3).is_none() && step_error(r, 3).is_none(),
        "skipped"
    );
    assert!(
        step_result(r, 4).is_none() && step_error(r, 4).is_none(),
        "COMMIT skipped"
    );
    assert!(step_result(r, 5).is_some(), "ROLLBACK ran");

    let mut other = server.http(enc).stream();
    let rows = other.exec_sql("SELECT x FROM t ORDER BY x").await.rows;
    let xs: Vec<_> = rows.iter().map(|r| r.values[0].clone()).collect();
    assert_eq!(xs, vec![int(1), int(2)]);
    let result = s
        .send_one(StreamRequest::GetAutocommit(GetAutocommitStreamReq {}))
        .await;
    assert!(matches!(
        ok_response(&result),
        StreamResponse::GetAutocommit(r) if r.is_autocommit
    ));
}

async fn sequence_runs_statements_in_order(enc: Encoding) {
    let server = TestServer::start().await;
    let mut s = server.http(enc).stream();
    let results = s
        .send(vec![
            sequence("CREATE TABLE q (x); INSERT INTO q VALUES (1);\nINSERT INTO q VALUES (2); SELECT * FROM q;"),
            sequence(""),
            sequence("  ;; -- nothing\n"),
            sequence("INSERT INTO q VALUES (3); SELEC oops; INSERT INTO q VALUES (4)"),
            execute("SELECT group_concat(x) FROM q"),
        ])
        .await;
    for r in &results[..3] {
        assert!(matches!(ok_response(r), StreamResponse::Sequence(_)));
    }
    assert_eq!(code_of(&results[3]), "SQLITE_ERROR");
    // Statements before the failure stay done; the ones after it never ran.
    assert_eq!(scalar(exec_result(&results[4])), &text("1,2,3"));
}

async fn describe_reports_params_and_columns(enc: Encoding) {
    let server = TestServer::start().await;
    let mut s = server.http(enc).stream();
    s.exec_sql("CREATE TABLE d (id INTEGER PRIMARY KEY, name TEXT, at)")
        .await;
    let describe = |sql: &str| {
        StreamRequest::Describe(DescribeStreamReq {
            sql: Some(sql.to_owned()),
            sql_id: None,
        })
    };
    let results = s
        .send(vec![
            describe("SELECT id, name, at FROM d WHERE id = :id AND name = ? AND at > @at"),
            describe("INSERT INTO d (name) VALUES ($name)"),
            describe("EXPLAIN SELECT 1"),
            describe("DELETE FROM d"),
            describe("SELEC"),
        ])
        .await;
    let get = |i: usize| match ok_response(&results[i]) {
        StreamResponse::Describe(r) => r.result.clone(),
        other => panic!("{other:?}"),
    };
    let r = get(0);
    let params: Vec<_> = r.params.iter().map(|p| p.name.clone()).collect();
    assert_eq!(params, vec![Some(":id".into()), None, Some("@at".into())]);
    let cols: Vec<_> = r
        .cols
        .iter()
        .map(|c| (c.name.as_str(), c.decltype.as_deref()))
        .collect();
    assert_eq!(
        cols,
        vec![
            ("id", Some("INTEGER")),
            ("name", Some("TEXT")),
            ("at", None)
        ]
    );
    assert!(!r.is_explain);
    assert!(r.is_readonly);

    let r = get(1);
    assert_eq!(r.params.len(), 1);
    assert_eq!(r.params[0].name.as_deref(), Some("$name"));
    assert!(r.cols.is_empty());
    assert!(!r.is_readonly);
    assert!(get(2).is_explain);
    assert!(!get(3).is_readonly);
    assert_eq!(code_of(&results[4]), "SQLITE_ERROR");

    // Describing runs nothing.
    s.exec_sql("INSERT INTO d (name) VALUES ('x')").await;
    s.send(vec![describe("DELETE FROM d")]).await;
    let r = s.exec_sql("SELECT count(*) FROM d").await;
    assert_eq!(scalar(&r), &int(1));
}

async fn stored_sql_by_id(enc: Encoding) {
    let server = TestServer::start().await;
    let mut s = server.http(enc).stream();
    let store = |sql_id, sql: &str| {
        StreamRequest::StoreSql(StoreSqlStreamReq {
            sql_id,
            sql: sql.to_owned(),
        })
    };
    let by_id = |sql_id, args| {
        execute_stmt(Stmt {
            sql: None,
            sql_id: Some(sql_id),
            args,
            ..Default::default()
        })
    };
    let results = s
        .send(vec![
            store(1, "SELECT ? + 1"),
            store(-5, "CREATE TABLE st (x); INSERT INTO st VALUES (9)"),
            by_id(1, vec![int(41)]),
            StreamRequest::Sequence(SequenceStreamReq {
                sql: None,
                sql_id: Some(-5),
            }),
            StreamRequest::Describe(DescribeStreamReq {
                sql: None,
                sql_id: Some(1),
            }),
            store(1, "SELECT 'other'"),
        ])
        .await;
    assert!(matches!(
        ok_response(&results[0]),
        StreamResponse::StoreSql(_)
    ));
    assert_eq!(scalar(exec_result(&results[2])), &int(42));
    assert!(matches!(
        ok_response(&results[3]),
        StreamResponse::Sequence(_)
    ));
    assert!(
        matches!(ok_response(&results[4]), StreamResponse::Describe(r) if r.result.params.len() == 1)
    );
    assert_eq!(code_of(&results[5]), "SQL_EXISTS");

    // In a later pipeline of the same stream, and inside a batch.
    let mut by_id_step = step("unused", None);
    by_id_step.stmt = Stmt {
        sql: None,
        sql_id: Some(1),
        args: vec![int(1)],
        ..Default::default()
    };
    let results = s
        .send(vec![
            batch_req(batch(vec![by_id_step])),
            StreamRequest::CloseSql(CloseSqlStreamReq { sql_id: 1 }),
            by_id(1, vec![int(1)]),
            StreamRequest::CloseSql(CloseSqlStreamReq { sql_id: 12345 }),
            store(1, "SELECT 'again'"),
            by_id(1, vec![]),
        ])
        .await;
    assert_eq!(
        step_result(batch_result(&results[0]), 0).map(scalar),
        Some(&int(2))
    );
    assert!(matches!(
        ok_response(&results[1]),
        StreamResponse::CloseSql(_)
    ));
    assert_eq!(code_of(&results[2]), "SQL_NOT_FOUND");
    ok_response(&results[3]);
    assert_eq!(scalar(exec_result(&results[5])), &text("again"));

    // Stored SQL belongs to its stream.
    let mut other = server.http(enc).stream();
    let result = other.send_one(by_id(-5, vec![])).await;
    assert_eq!(code_of(&result), "SQL_NOT_FOUND");
}

async fn get_autocommit_inside_and_outside_a_transaction(enc: Encoding) {
    let server = TestServer::start().await;
    let mut s = server.http(enc).stream();
    let autocommit = || StreamRequest::GetAutocommit(GetAutocommitStreamReq {});
    let flag = |r: &tidepool_protocol::http::StreamResult| match ok_response(r) {
        StreamResponse::GetAutocommit(a) => a.is_autocommit,
        other => panic!("{other:?}"),
    };
    let results = s
        .send(vec![autocommit(), execute("BEGIN"), autocommit()])
        .await;
    assert!(flag(&results[0]));
    assert!(!flag(&results[2]));
    // Still inside the transaction in the next pipeline.
    let results = s
        .send(vec![autocommit(), execute("COMMIT"), autocommit()])
        .await;
    assert!(!flag(&results[0]));
    assert!(flag(&results[2]));
}

async fn close_ends_the_stream(enc: Encoding) {
    let server = TestServer::start().await;
    let http = server.http(enc);
    let resp = http
        .pipeline(
            None,
            vec![
                execute("SELECT 1"),
                StreamRequest::Close(CloseStreamReq {}),
                execute("SELECT 2"),
            ],
        )
        .await;
    assert_eq!(resp.baton, None);
    assert_eq!(scalar(exec_result(&resp.results[0])), &int(1));
    assert!(matches!(
        ok_response(&resp.results[1]),
        StreamResponse::Close(_)
    ));
    assert_eq!(code_of(&resp.results[2]), "STREAM_CLOSED");

    // Closing rolls back an open transaction.
    let mut s = http.stream();
    s.send(vec![
        execute("CREATE TABLE c (x)"),
        execute("BEGIN"),
        execute("INSERT INTO c VALUES (1)"),
    ])
    .await;
    let baton = s.baton.clone();
    s.close().await;
    let (status, error) = http
        .pipeline_refused(baton, vec![execute("SELECT 1")])
        .await;
    assert_eq!(status, 400);
    assert_eq!(error.code.as_deref(), Some("STREAM_EXPIRED"));
    let r = http.stream().exec_sql("SELECT count(*) FROM c").await;
    assert_eq!(scalar(&r), &int(0));
}

async fn interactive_transaction_across_pipelines(enc: Encoding) {
    let server = TestServer::start().await;
    let http = server.http(enc);
    let mut a = http.stream();
    let mut b = http.stream();
    a.exec_sql("CREATE TABLE t (x)").await;
    a.exec_sql("BEGIN").await;
    a.exec_sql("INSERT INTO t VALUES (1)").await;
    a.exec_sql("INSERT INTO t VALUES (2)").await;
    assert_eq!(scalar(&a.exec_sql("SELECT count(*) FROM t").await), &int(2));
    assert_eq!(scalar(&b.exec_sql("SELECT count(*) FROM t").await), &int(0));
    a.exec_sql("COMMIT").await;
    assert_eq!(scalar(&b.exec_sql("SELECT count(*) FROM t").await), &int(2));

    a.exec_sql("BEGIN").await;
    a.exec_sql("DELETE FROM t").await;
    assert_eq!(scalar(&b.exec_sql("SELECT count(*) FROM t").await), &int(2));
    a.exec_sql("ROLLBACK").await;
    assert_eq!(scalar(&a.exec_sql("SELECT count(*) FROM t").await), &int(2));
}

async fn every_request_type_in_one_pipeline(enc: Encoding) {
    let server = TestServer::start().await;
    let http = server.http(enc);
    let resp = http
        .pipeline(
            None,
            vec![
                execute("CREATE TABLE e (x)"),
                batch_req(batch(vec![step("INSERT INTO e VALUES (1)", None)])),
                sequence("INSERT INTO e VALUES (2)"),
                StreamRequest::Describe(DescribeStreamReq {
                    sql: Some("SELECT x FROM e".into()),
                    sql_id: None,
                }),
                StreamRequest::StoreSql(StoreSqlStreamReq {
                    sql_id: 3,
                    sql: "SELECT count(*) FROM e".into(),
                }),
                execute_stmt(Stmt {
                    sql: None,
                    sql_id: Some(3),
                    ..Default::default()
                }),
                StreamRequest::CloseSql(CloseSqlStreamReq { sql_id: 3 }),
                StreamRequest::GetAutocommit(GetAutocommitStreamReq {}),
            ],
        )
        .await;
    assert!(resp.baton.is_some());
    let kinds: Vec<&str> = resp
        .results
        .iter()
        .map(|r| match ok_response(r) {
            StreamResponse::Execute(_) => "execute",
            StreamResponse::Batch(_) => "batch",
            StreamResponse::Sequence(_) => "sequence",
            StreamResponse::Describe(_) => "describe",
            StreamResponse::StoreSql(_) => "store_sql",
            StreamResponse::CloseSql(_) => "close_sql",
            StreamResponse::GetAutocommit(_) => "get_autocommit",
            StreamResponse::Close(_) => "close",
            StreamResponse::Unknown => "unknown",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "execute",
            "batch",
            "sequence",
            "describe",
            "store_sql",
            "execute",
            "close_sql",
            "get_autocommit"
        ]
    );
    assert_eq!(scalar(exec_result(&resp.results[5])), &int(2));
    // The baton continues the stream; an empty pipeline just renews it.
    let resp = http.pipeline(resp.baton, vec![]).await;
    assert!(resp.results.is_empty());
    let resp = http
        .pipeline(resp.baton, vec![execute("SELECT count(*) FROM e")])
        .await;
    assert_eq!(scalar(exec_result(&resp.results[0])), &int(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v2_pipeline_speaks_json() {
    let server = TestServer::start().await;
    let http = server.http(Encoding::Json);
    let resp = http
        .pipeline_at("/v2/pipeline", None, vec![execute("SELECT 'v2'")])
        .await;
    let body = decode_pipeline(Encoding::Json, resp).await;
    assert_eq!(scalar(exec_result(&body.results[0])), &text("v2"));
    // The baton from /v2 continues on /v2, and the stream is the same on /v3.
    let resp = http
        .pipeline_at("/v2/pipeline", body.baton, vec![execute("BEGIN")])
        .await;
    let body = decode_pipeline(Encoding::Json, resp).await;
    let resp = http
        .pipeline_at(
            "/v2/pipeline",
            body.baton,
            vec![StreamRequest::GetAutocommit(GetAutocommitStreamReq {})],
        )
        .await;
    let body = decode_pipeline(Encoding::Json, resp).await;
    assert!(matches!(
        ok_response(&body.results[0]),
        StreamResponse::GetAutocommit(a) if !a.is_autocommit
    ));
    // The raw JSON has the documented shape.
    let raw = http
        .client
        .post(format!("{}/v2/pipeline", server.url))
        .body(r#"{"baton":null,"requests":[{"type":"execute","stmt":{"sql":"SELECT 1 AS one"}}]}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(raw.status().as_u16(), 200);
    let json: serde_json::Value = raw.json().await.expect("json");
    assert_eq!(json["results"][0]["type"], "ok");
    assert_eq!(json["results"][0]["response"]["type"], "execute");
    assert_eq!(
        json["results"][0]["response"]["result"]["rows"][0][0],
        serde_json::json!({"type": "integer", "value": "1"})
    );
    assert_eq!(
        json["results"][0]["response"]["result"]["cols"][0]["name"],
        "one"
    );
    assert!(json["baton"].is_string());
    assert!(json["base_url"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn probe_health_and_version_routes() {
    let server = TestServer::start().await;
    let http = server.http(Encoding::Json);
    for path in ["/v2", "/v3", "/v3-protobuf"] {
        assert_eq!(http.get(path).await.status().as_u16(), 200, "{path}");
    }
    let health = http.get("/health").await;
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(health.text().await.expect("body"), "ok");
    let version = http.get("/version").await;
    assert_eq!(version.status().as_u16(), 200);
    let json: serde_json::Value = version.json().await.expect("version JSON");
    assert_eq!(json["server"], "tidepool-server");
    assert_eq!(json["protocol"], 1);
    assert_eq!(json["hrana"], serde_json::json!([1, 2, 3]));
    assert!(json["version"].is_string());
    // Query strings are ignored.
    assert_eq!(http.get("/v3?authToken=x").await.status().as_u16(), 200);
    let resp = http
        .pipeline_at("/v3/pipeline?tls=0", None, vec![execute("SELECT 1")])
        .await;
    decode_pipeline(Encoding::Json, resp).await;
    // Unknown routes answer with a JSON error.
    let (status, _) = http_error(http.get("/v4").await).await;
    assert_eq!(status, 404);
}
