//! Bad input, one test each: the error code, and a server that still answers afterwards.

use std::time::Duration;

use tidepool_protocol::ws::ServerMsg;
use tidepool_protocol::{Encoding, Stmt};
use tokio_tungstenite::tungstenite::Message;

use crate::both_encodings;
use crate::support::*;

both_encodings!(
    malformed_body_is_a_protocol_error,
    unknown_request_type_is_answered_in_band,
    invalid_baton,
    reused_baton,
    expired_stream,
    transaction_timeout_releases_the_write_lock,
    sql_errors_carry_their_codes,
    args_invalid,
    no_statement_and_many_statements,
    attach_is_refused,
);

/// The server still answers a plain query.
async fn still_serving(server: &TestServer) {
    let r = server
        .http(Encoding::Json)
        .stream()
        .exec_sql("SELECT 'alive'")
        .await;
    assert_eq!(scalar(&r), &text("alive"));
}

async fn malformed_body_is_a_protocol_error(enc: Encoding) {
    let server = TestServer::start().await;
    let http = server.http(enc);
    let bodies: Vec<Vec<u8>> = match enc {
        Encoding::Json => vec![
            b"{not json".to_vec(),
            b"".to_vec(),
            br#"{"baton":null,"requests":[{"type":"execute"}]}"#.to_vec(),
            br#"{"baton":null,"requests":[{"type":"execute","stmt":{"sql":"SELECT ?","args":[{"type":"integer","value":"x"}]}}]}"#.to_vec(),
            br#"[1,2,3]"#.to_vec(),
        ],
        Encoding::Protobuf => vec![
            vec![0x0a, 0x7f, 0x01],       // a string longer than the body
            vec![0xff, 0xff, 0xff],       // truncated varint key
            vec![0x12, 0x05, 0x12, 0x03], // truncated nested message
        ],
    };
    for body in bodies {
        for path in [http.pipeline_path(), http.cursor_path()] {
            let (status, error) = http_error(http.post_raw(path, body.clone()).await).await;
            assert_eq!(status, 400, "{path} {body:?}");
            assert_eq!(error.code.as_deref(), Some("PROTOCOL_ERROR"), "{body:?}");
        }
    }
    still_serving(&server).await;
}

async fn unknown_request_type_is_answered_in_band(enc: Encoding) {
    let server = TestServer::start().await;
    let http = server.http(enc);
    let body = match enc {
        Encoding::Json => br#"{"baton":null,"requests":[{"type":"frobnicate","x":1},{"type":"execute","stmt":{"sql":"SELECT 1"}}]}"#.to_vec(),
        // requests[0] has only field 99, requests[1] is execute { stmt { sql: "SELECT 1" } }.
        Encoding::Protobuf => {
            let mut b = vec![0x12, 0x03, 0x9a, 0x06, 0x00];
            let sql = b"SELECT 1";
            let stmt_len = 2 + sql.len();
            let exec_len = 2 + stmt_len;
            b.extend([0x12, (2 + exec_len) as u8, 0x12, exec_len as u8, 0x0a, stmt_len as u8, 0x0a, sql.len() as u8]);
            b.extend_from_slice(sql);
            b
        }
    };
    let resp = http.post_raw(http.pipeline_path(), body).await;
    let body = decode_pipeline(enc, resp).await;
    assert_eq!(body.results.len(), 2);
    assert_eq!(code_of(&body.results[0]), "UNKNOWN_REQUEST");
    assert_eq!(scalar(exec_result(&body.results[1])), &int(1));
    // The stream lives on.
    let body = http.pipeline(body.baton, vec![execute("SELECT 2")]).await;
    assert_eq!(scalar(exec_result(&body.results[0])), &int(2));
}

async fn invalid_baton(enc: Encoding) {
    let server = TestServer::start().await;
    let http = server.http(enc);
    let mut s = http.stream();
    s.exec_sql("SELECT 1").await;
    let good = s.baton.clone().expect("baton");
    let mut forged = good.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    // A baton from another server instance (another key) is invalid here too.
    let other_server = TestServer::start().await;
    let mut elsewhere = other_server.http(enc).stream();
    elsewhere.exec_sql("SELECT 1").await;
    for baton in [
        "not a baton".to_owned(),
        String::new(),
        "A".repeat(43),
        "A".repeat(10_000),
        forged,
        elsewhere.baton.clone().expect("baton"),
    ] {
        let (status, error) = http
            .pipeline_refused(Some(baton.clone()), vec![execute("SELECT 1")])
            .await;
        assert_eq!(status, 400, "{baton:?}");
        assert_eq!(error.code.as_deref(), Some("BATON_INVALID"), "{baton:?}");
    }
    // The genuine baton still works.
    let r = s.exec_sql("SELECT 2").await;
    assert_eq!(scalar(&r), &int(2));
}

async fn reused_baton(enc: Encoding) {
    let server = TestServer::start().await;
    let http = server.http(enc);
    let mut s = http.stream();
    s.exec_sql("CREATE TABLE r (x)").await;
    let old = s.baton.clone();
    s.exec_sql("INSERT INTO r VALUES (1)").await;
    let (status, error) = http
        .pipeline_refused(old, vec![execute("INSERT INTO r VALUES (2)")])
        .await;
    assert_eq!(status, 400);
    assert_eq!(error.code.as_deref(), Some("BATON_REUSED"));
    // Nothing ran and the stream goes on with its current baton.
    let r = s.exec_sql("SELECT count(*) FROM r").await;
    assert_eq!(scalar(&r), &int(1));
}

async fn expired_stream(enc: Encoding) {
    let server =
        TestServer::start_with(false, |c| c.stream_expiry = Duration::from_millis(600)).await;
    let http = server.http(enc);
    let mut s = http.stream();
    s.exec_sql("SELECT 1").await;
    // Used within the expiry, the stream stays.
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.exec_sql("SELECT 1").await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (status, error) = http
        .pipeline_refused(s.baton.take(), vec![execute("SELECT 1")])
        .await;
    assert_eq!(status, 400);
    assert_eq!(error.code.as_deref(), Some("STREAM_EXPIRED"));
    still_serving(&server).await;
}

async fn transaction_timeout_releases_the_write_lock(enc: Encoding) {
    let server = TestServer::start_with(false, |c| {
        c.txn_timeout = Duration::from_millis(700);
        c.busy_timeout = Duration::from_millis(300);
    })
    .await;
    let http = server.http(enc);
    let mut a = http.stream();
    a.exec_sql("CREATE TABLE w (x)").await;
    a.exec_sql("BEGIN IMMEDIATE").await;
    a.exec_sql("INSERT INTO w VALUES ('from a')").await;
    // While a holds the write lock, another writer is refused.
    let mut b = http.stream();
    let e = b
        .exec_err(Stmt::new("INSERT INTO w VALUES ('from b')"))
        .await;
    assert_eq!(e.code.as_deref(), Some("SQLITE_BUSY"));

    tokio::time::sleep(Duration::from_millis(1700)).await;
    let (status, error) = http
        .pipeline_refused(a.baton.take(), vec![execute("COMMIT")])
        .await;
    assert_eq!(status, 400);
    assert_eq!(error.code.as_deref(), Some("TRANSACTION_TIMEOUT"));
    // The lock is gone and a's insert was rolled back.
    b.exec_sql("INSERT INTO w VALUES ('from b')").await;
    let r = b.exec_sql("SELECT group_concat(x) FROM w").await;
    assert_eq!(scalar(&r), &text("from b"));
}

async fn sql_errors_carry_their_codes(enc: Encoding) {
    let server = TestServer::start().await;
    let mut s = server.http(enc).stream();
    s.exec_sql("CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT UNIQUE, name TEXT NOT NULL, n INTEGER CHECK (n > 0))")
        .await;
    s.exec_sql("INSERT INTO u (id, email, name, n) VALUES (1, 'a@x', 'A', 1)")
        .await;
    let cases = [
        ("SELEC 1", "SQLITE_ERROR", None),
        ("SELECT * FROM missing_table", "SQLITE_ERROR", None),
        (
            "INSERT INTO u (email, name, n) VALUES ('a@x', 'B', 1)",
            "SQLITE_CONSTRAINT",
            Some("SQLITE_CONSTRAINT_UNIQUE"),
        ),
        (
            "INSERT INTO u (email, name, n) VALUES ('b@x', NULL, 1)",
            "SQLITE_CONSTRAINT",
            Some("SQLITE_CONSTRAINT_NOTNULL"),
        ),
        (
            "INSERT INTO u (id, email, name, n) VALUES (1, 'c@x', 'C', 1)",
            "SQLITE_CONSTRAINT",
            Some("SQLITE_CONSTRAINT_PRIMARYKEY"),
        ),
        (
            "INSERT INTO u (email, name, n) VALUES ('d@x', 'D', 0)",
            "SQLITE_CONSTRAINT",
            Some("SQLITE_CONSTRAINT_CHECK"),
        ),
    ];
    for (sql, code, extended) in cases {
        let e = s.exec_err(Stmt::new(sql)).await;
        assert_eq!(e.code.as_deref(), Some(code), "{sql}");
        assert_eq!(e.extended_code.as_deref(), extended, "{sql}");
        assert!(!e.message.is_empty());
    }
    // The stream is fine after errors.
    let r = s.exec_sql("SELECT count(*) FROM u").await;
    assert_eq!(scalar(&r), &int(1));
}

async fn args_invalid(enc: Encoding) {
    let server = TestServer::start().await;
    let mut s = server.http(enc).stream();
    let cases = [
        stmt_args("SELECT ?", vec![int(1), int(2)]),
        stmt_args("SELECT ?, ?", vec![int(1)]),
        stmt_args("SELECT 1", vec![int(1)]),
        stmt_named("SELECT :a", &[("b", int(1))]),
        stmt_named("SELECT :a", &[("a", int(1)), ("zz", int(2))]),
        stmt_named("SELECT :a", &[("a", int(1)), (":a", int(2))]),
        stmt_named("SELECT :a, :b", &[("a", int(1))]),
    ];
    for stmt in cases {
        let e = s.exec_err(stmt.clone()).await;
        assert_eq!(e.code.as_deref(), Some("ARGS_INVALID"), "{:?}", stmt.sql);
    }
    // In a batch, it is a step error.
    let mut b = batch(vec![step("SELECT ?", None)]);
    b.steps[0].stmt.args = vec![int(1), int(2)];
    let result = s.send_one(batch_req(b)).await;
    assert_eq!(
        step_error(batch_result(&result), 0).and_then(|e| e.code.as_deref()),
        Some("ARGS_INVALID")
    );
}

async fn no_statement_and_many_statements(enc: Encoding) {
    let server = TestServer::start().await;
    let mut s = server.http(enc).stream();
    for blank in ["", "   ", " ; ;", "-- just a comment", "/* c */"] {
        let e = s.exec_err(Stmt::new(blank)).await;
        assert_eq!(e.code.as_deref(), Some("SQL_NO_STATEMENT"), "{blank:?}");
    }
    for many in [
        "SELECT 1; SELECT 2",
        "SELECT 1;SELECT 2;",
        "CREATE TABLE m (x); DROP TABLE m",
    ] {
        let e = s.exec_err(Stmt::new(many)).await;
        assert_eq!(e.code.as_deref(), Some("SQL_MANY_STATEMENTS"), "{many:?}");
    }
    // Trailing semicolons and comments are one statement.
    let r = s.exec_sql("SELECT 1; -- done\n ;").await;
    assert_eq!(scalar(&r), &int(1));
    // Nothing of a refused multi-statement text ran.
    let e = s.exec_err(Stmt::new("SELECT * FROM m")).await;
    assert_eq!(e.code.as_deref(), Some("SQLITE_ERROR"));
}

async fn attach_is_refused(enc: Encoding) {
    for auth in [false, true] {
        let server = TestServer::start_with(auth, |_| {}).await;
        let http = if auth {
            server.http_with(enc, server.token(tidepool_server::Access::ReadWrite))
        } else {
            server.http(enc)
        };
        let mut s = http.stream();
        let other = server.db_path.with_file_name("other.db");
        let attach = format!("ATTACH DATABASE '{}' AS other", other.display());
        let e = s.exec_err(Stmt::new(&attach)).await;
        assert_eq!(e.code.as_deref(), Some("FORBIDDEN"), "auth {auth}: {e:?}");
        let results = s
            .send(vec![
                sequence(&attach),
                batch_req(batch(vec![step(&attach, None)])),
                execute("DETACH DATABASE main"),
            ])
            .await;
        assert_eq!(code_of(&results[0]), "FORBIDDEN");
        assert_eq!(
            step_error(batch_result(&results[1]), 0).and_then(|e| e.code.as_deref()),
            Some("FORBIDDEN")
        );
        assert_eq!(code_of(&results[2]), "FORBIDDEN");
        assert!(!other.exists(), "no file was created");
    }
}

// --- WebSocket protocol violations --------------------------------------------------------

async fn ws_violation(proto: &str, frame: Message, hello_first: bool) -> Option<u16> {
    let server = TestServer::start().await;
    let (mut ws, _) = Ws::connect(&server.ws_url(), &[proto])
        .await
        .expect("connect");
    if hello_first {
        assert!(matches!(ws.hello(None).await, ServerMsg::HelloOk(_)));
    }
    ws.send_raw(frame).await;
    let code = ws.close_code().await;
    // The server still serves new connections.
    let mut again = server.ws(proto).await;
    again.ok(wsreq::open(1)).await;
    again.ok(wsreq::exec_sql(1, "SELECT 1")).await;
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ws_malformed_message_closes_with_1002() {
    for (proto, frame) in [
        ("hrana3", Message::text("{not json")),
        ("hrana2", Message::text(r#"{"type":"hello","jwt":5}"#)),
        ("hrana3", Message::text(r#"{"type":"warp"}"#)),
        ("hrana1", Message::text(r#"{"request_id":1}"#)),
        ("hrana3-protobuf", Message::binary(vec![0x0a, 0x7f, 0x01])),
    ] {
        assert_eq!(
            ws_violation(proto, frame.clone(), true).await,
            Some(1002),
            "{proto} {frame:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ws_wrong_frame_type_closes_with_1003() {
    let hello_json = r#"{"type":"hello","jwt":null}"#;
    for (proto, frame) in [
        ("hrana3", Message::binary(hello_json.as_bytes().to_vec())),
        ("hrana1", Message::binary(vec![0x0a, 0x00])),
        ("hrana3-protobuf", Message::text(hello_json)),
    ] {
        assert_eq!(
            ws_violation(proto, frame, false).await,
            Some(1003),
            "{proto}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ws_request_before_hello_closes_with_1002() {
    for proto in ["hrana1", "hrana3", "hrana3-protobuf"] {
        let server = TestServer::start().await;
        let (mut ws, _) = Ws::connect(&server.ws_url(), &[proto])
            .await
            .expect("connect");
        ws.send_request(wsreq::open(1)).await;
        assert_eq!(ws.close_code().await, Some(1002), "{proto}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ws_unknown_request_type_is_answered_in_band() {
    for proto in ["hrana2", "hrana3", "hrana3-protobuf"] {
        let server = TestServer::start().await;
        let mut ws = server.ws(proto).await;
        let frame = if proto == "hrana3-protobuf" {
            // ClientMsg.request { request_id: 77, <field 99: empty> }
            Message::binary(vec![0x12, 0x05, 0x08, 77, 0x9a, 0x06, 0x00])
        } else {
            Message::text(
                r#"{"type":"request","request_id":77,"request":{"type":"frobnicate","stream_id":1}}"#,
            )
        };
        ws.send_raw(frame).await;
        let e = ws.response(77).await.expect_err("unknown request");
        assert_eq!(e.code.as_deref(), Some("UNKNOWN_REQUEST"), "{proto}");
        ws.ok(wsreq::open(1)).await;
        ws.ok(wsreq::exec_sql(1, "SELECT 1")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ws_stream_and_cursor_errors() {
    for proto in ["hrana3", "hrana3-protobuf"] {
        let server = TestServer::start().await;
        let mut ws = server.ws(proto).await;
        assert_eq!(
            ws.err_code(wsreq::exec_sql(4, "SELECT 1")).await,
            "STREAM_NOT_FOUND"
        );
        assert_eq!(ws.err_code(wsreq::autocommit(4)).await, "STREAM_NOT_FOUND");
        assert_eq!(
            ws.err_code(wsreq::open_cursor(4, 1, batch(vec![]))).await,
            "STREAM_NOT_FOUND"
        );
        ws.ok(wsreq::open(4)).await;
        ws.ok(wsreq::exec_sql(4, "CREATE TABLE keep (x)")).await;
        ws.ok(wsreq::exec_sql(4, "BEGIN")).await;
        assert_eq!(ws.err_code(wsreq::open(4)).await, "STREAM_EXISTS");
        // The existing stream is untouched: still in its transaction.
        match ws.ok(wsreq::autocommit(4)).await {
            tidepool_protocol::ws::Response::GetAutocommit(a) => assert!(!a.is_autocommit),
            other => panic!("{other:?}"),
        }
        assert_eq!(ws.err_code(wsreq::fetch(42, 10)).await, "CURSOR_NOT_FOUND");
        assert_eq!(
            ws.err_code(wsreq::close_cursor(42)).await,
            "CURSOR_NOT_FOUND"
        );
        // Both sql and sql_id, or neither.
        let both = Stmt {
            sql: Some("SELECT 1".into()),
            sql_id: Some(1),
            ..Default::default()
        };
        assert_eq!(ws.err_code(wsreq::execute(4, both)).await, "PROTOCOL_ERROR");
        assert_eq!(
            ws.err_code(wsreq::execute(4, Stmt::default())).await,
            "PROTOCOL_ERROR"
        );
        ws.ok(wsreq::exec_sql(4, "SELECT 1")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ws_transaction_timeout_releases_the_write_lock() {
    let server = TestServer::start_with(false, |c| {
        c.txn_timeout = Duration::from_millis(700);
        c.busy_timeout = Duration::from_millis(300);
    })
    .await;
    let mut ws = server.ws("hrana3").await;
    ws.ok(wsreq::open(1)).await;
    ws.ok(wsreq::open(2)).await;
    ws.ok(wsreq::exec_sql(1, "CREATE TABLE w (x)")).await;
    ws.ok(wsreq::exec_sql(1, "BEGIN IMMEDIATE")).await;
    ws.ok(wsreq::exec_sql(1, "INSERT INTO w VALUES (1)")).await;
    assert_eq!(
        ws.err_code(wsreq::exec_sql(2, "INSERT INTO w VALUES (2)"))
            .await,
        "SQLITE_BUSY"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Stream 2 can write without stream 1 doing anything.
    ws.ok(wsreq::exec_sql(2, "INSERT INTO w VALUES (2)")).await;
    assert_eq!(
        ws.err_code(wsreq::exec_sql(1, "COMMIT")).await,
        "TRANSACTION_TIMEOUT"
    );
    // The stream was closed (SPEC §7): later requests get STREAM_CLOSED until close_stream.
    assert_eq!(
        ws.err_code(wsreq::exec_sql(1, "SELECT 1")).await,
        "STREAM_CLOSED"
    );
    assert_eq!(ws.err_code(wsreq::open(1)).await, "STREAM_EXISTS");
    ws.ok(wsreq::close(1)).await;
    ws.ok(wsreq::open(1)).await;
    let r = ws
        .ok(wsreq::exec_sql(1, "SELECT group_concat(x) FROM w"))
        .await;
    assert_eq!(scalar(ws_exec(&r)), &text("2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_unknown_route_and_method() {
    let server = TestServer::start().await;
    let http = server.http(Encoding::Json);
    let (status, error) = http_error(http.get("/v3/nothing").await).await;
    assert_eq!((status, error.code.as_deref()), (404, Some("NOT_FOUND")));
    let (status, error) = http_error(http.get("/v3/pipeline").await).await;
    assert_eq!(
        (status, error.code.as_deref()),
        (405, Some("METHOD_NOT_ALLOWED"))
    );
    still_serving(&server).await;
}

both_encodings!(invalid_batch_runs_nothing);

async fn invalid_batch_runs_nothing(enc: Encoding) {
    let server = TestServer::start().await;
    let mut s = server.http(enc).stream();
    s.exec_sql("CREATE TABLE iv (x)").await;
    let mut by_missing_id = step("unused", None);
    by_missing_id.stmt = Stmt {
        sql: None,
        sql_id: Some(404),
        ..Default::default()
    };
    let cases = [
        // A condition on a later step, and on the step itself.
        (
            batch(vec![
                step("INSERT INTO iv VALUES (1)", None),
                step("SELECT 1", Some(ok(2))),
                step("SELECT 2", None),
            ]),
            "PROTOCOL_ERROR",
        ),
        (
            batch(vec![
                step("INSERT INTO iv VALUES (1)", None),
                step("SELECT 1", Some(ok(1))),
            ]),
            "PROTOCOL_ERROR",
        ),
        (
            batch(vec![step("INSERT INTO iv VALUES (1)", None), by_missing_id]),
            "SQL_NOT_FOUND",
        ),
    ];
    for (b, code) in cases {
        let result = s.send_one(batch_req(b)).await;
        assert_eq!(code_of(&result), code);
    }
    let r = s.exec_sql("SELECT count(*) FROM iv").await;
    assert_eq!(scalar(&r), &int(0), "no step of an invalid batch runs");
}
