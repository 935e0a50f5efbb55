//! JWT authentication (HTTP 401 with `AUTH_*`, WebSocket `hello_error`) and read-only tokens.

use tidepool_protocol::http::{StreamRequest, StreamResponse};
use tidepool_protocol::ws::{Response, ServerMsg};
use tidepool_protocol::{CursorEntry, Encoding, Stmt};
use tidepool_server::auth::SigningKey;
use tidepool_server::Access;

use crate::both_encodings;
use crate::support::*;

both_encodings!(
    bad_tokens_get_401,
    valid_tokens_work,
    read_only_token_reads_but_cannot_write,
    permissions_follow_each_requests_token,
);

/// (token, expected code) pairs that must all be refused.
fn bad_tokens(server: &TestServer) -> Vec<(Option<String>, &'static str)> {
    let key = server.key.as_ref().expect("auth");
    let good = key.token(Access::ReadWrite, None);
    let mut tampered = good.clone().into_bytes();
    let i = good.find('.').expect("dot") + 3;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    vec![
        (None, "AUTH_MISSING"),
        (Some("not-a-jwt".into()), "AUTH_MALFORMED"),
        (Some("a.b".into()), "AUTH_MALFORMED"),
        (
            Some(SigningKey::generate().token(Access::ReadWrite, None)),
            "AUTH_INVALID",
        ),
        (
            Some(String::from_utf8(tampered).expect("ascii")),
            "AUTH_INVALID",
        ),
        (
            Some(key.token(Access::ReadWrite, Some(now_unix() - 3600))),
            "AUTH_EXPIRED",
        ),
    ]
}

async fn bad_tokens_get_401(enc: Encoding) {
    let server = TestServer::start_auth().await;
    for (token, code) in bad_tokens(&server) {
        let http = match &token {
            Some(t) => server.http_with(enc, t.clone()),
            None => server.http(enc),
        };
        let resp = http
            .pipeline_at(http.pipeline_path(), None, vec![execute("SELECT 1")])
            .await;
        assert_eq!(
            resp.headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        let (status, error) = http_error(resp).await;
        assert_eq!(
            (status, error.code.as_deref()),
            (401, Some(code)),
            "{token:?}"
        );

        let body = tidepool_protocol::codec::encode(
            enc,
            &tidepool_protocol::http::CursorReqBody {
                baton: None,
                batch: batch(vec![step("SELECT 1", None)]),
            },
        );
        let (status, error) = http_error(http.post_raw(http.cursor_path(), body).await).await;
        assert_eq!((status, error.code.as_deref()), (401, Some(code)));
        for path in ["/health", "/version"] {
            let (status, error) = http_error(http.get(path).await).await;
            assert_eq!((status, error.code.as_deref()), (401, Some(code)), "{path}");
        }
    }
    // A header that is not a bearer token.
    let resp = server
        .http(enc)
        .client
        .post(format!(
            "{}{}",
            server.url,
            server.http(enc).pipeline_path()
        ))
        .header(
            "authorization",
            format!("Basic {}", server.token(Access::ReadWrite)),
        )
        .body(Vec::new())
        .send()
        .await
        .expect("post");
    let (status, error) = http_error(resp).await;
    assert_eq!(
        (status, error.code.as_deref()),
        (401, Some("AUTH_MALFORMED"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn probe_routes_need_no_credentials() {
    let server = TestServer::start_auth().await;
    let http = server.http(Encoding::Json);
    for path in ["/v2", "/v3", "/v3-protobuf"] {
        assert_eq!(http.get(path).await.status().as_u16(), 200, "{path}");
    }
}

async fn valid_tokens_work(enc: Encoding) {
    let server = TestServer::start_auth().await;
    let http = server.http_with(enc, server.token(Access::ReadWrite));
    let mut s = http.stream();
    s.exec_sql("CREATE TABLE t (x)").await;
    s.exec_sql("INSERT INTO t VALUES (1)").await;
    let (_, entries) = http
        .cursor(s.baton.take(), batch(vec![step("SELECT x FROM t", None)]))
        .await;
    assert!(entries
        .iter()
        .any(|e| matches!(e, CursorEntry::Row { row } if row.values == vec![int(1)])));
    assert_eq!(http.get("/health").await.status().as_u16(), 200);
    assert_eq!(http.get("/version").await.status().as_u16(), 200);
    // A token without an expiry claim and one expiring later both work.
    let later = server
        .key
        .as_ref()
        .expect("key")
        .token(Access::ReadWrite, Some(now_unix() + 3600));
    let mut s = server.http_with(enc, later).stream();
    assert_eq!(scalar(&s.exec_sql("SELECT count(*) FROM t").await), &int(1));
}

async fn read_only_token_reads_but_cannot_write(enc: Encoding) {
    let server = TestServer::start_auth().await;
    let rw = server.http_with(enc, server.token(Access::ReadWrite));
    rw.stream()
        .send(vec![
            execute("CREATE TABLE t (x)"),
            execute("INSERT INTO t VALUES (1)"),
        ])
        .await;
    let ro = server.http_with(enc, server.token(Access::ReadOnly));
    let mut s = ro.stream();
    assert_eq!(scalar(&s.exec_sql("SELECT count(*) FROM t").await), &int(1));

    let results = s
        .send(vec![
            execute("INSERT INTO t VALUES (2)"),
            execute("CREATE TABLE u (y)"),
            sequence("SELECT 1; DELETE FROM t"),
            batch_req(batch(vec![
                step("SELECT 1", None),
                step("UPDATE t SET x = 5", None),
            ])),
            StreamRequest::Describe(tidepool_protocol::http::DescribeStreamReq {
                sql: Some("DELETE FROM t".into()),
                sql_id: None,
            }),
        ])
        .await;
    assert_eq!(code_of(&results[0]), "FORBIDDEN");
    assert_eq!(code_of(&results[1]), "FORBIDDEN");
    assert_eq!(code_of(&results[2]), "FORBIDDEN");
    let b = batch_result(&results[3]);
    assert!(step_result(b, 0).is_some());
    assert_eq!(
        step_error(b, 1).and_then(|e| e.code.as_deref()),
        Some("FORBIDDEN")
    );
    // A read-only token may describe anything.
    assert!(matches!(
        ok_response(&results[4]),
        StreamResponse::Describe(_)
    ));

    // Cursor.
    let (_, entries) = ro
        .cursor(
            None,
            batch(vec![
                step("SELECT x FROM t", None),
                step("DELETE FROM t", None),
            ]),
        )
        .await;
    assert!(entries.iter().any(
        |e| matches!(e, CursorEntry::StepError(se) if se.step == 1 && se.error.code.as_deref() == Some("FORBIDDEN"))
    ));

    // Interactive transaction: transaction control is allowed, writes are not.
    s.exec_sql("BEGIN").await;
    let e = s.exec_err(Stmt::new("INSERT INTO t VALUES (3)")).await;
    assert_eq!(e.code.as_deref(), Some("FORBIDDEN"));
    assert_eq!(scalar(&s.exec_sql("SELECT count(*) FROM t").await), &int(1));
    s.exec_sql("COMMIT").await;

    // Nothing was written.
    let mut check = rw.stream();
    let r = check.exec_sql("SELECT group_concat(x) FROM t").await;
    assert_eq!(scalar(&r), &text("1"));
    let e = check.exec_err(Stmt::new("SELECT * FROM u")).await;
    assert_eq!(e.code.as_deref(), Some("SQLITE_ERROR"));
}

async fn permissions_follow_each_requests_token(enc: Encoding) {
    let server = TestServer::start_auth().await;
    let rw = server.http_with(enc, server.token(Access::ReadWrite));
    let ro = server.http_with(enc, server.token(Access::ReadOnly));
    let body = rw.pipeline(None, vec![execute("CREATE TABLE t (x)")]).await;
    // The same stream, continued with a read-only token, cannot write.
    let body = ro
        .pipeline(body.baton, vec![execute("INSERT INTO t VALUES (1)")])
        .await;
    assert_eq!(code_of(&body.results[0]), "FORBIDDEN");
    // And a missing token on a continued stream is refused.
    let (status, error) = server
        .http(enc)
        .pipeline_refused(body.baton.clone(), vec![execute("SELECT 1")])
        .await;
    assert_eq!((status, error.code.as_deref()), (401, Some("AUTH_MISSING")));
    let body = rw
        .pipeline(body.baton, vec![execute("INSERT INTO t VALUES (1)")])
        .await;
    assert_eq!(exec_result(&body.results[0]).affected_row_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ws_hello_with_bad_tokens_fails() {
    let server = TestServer::start_auth().await;
    for proto in ["hrana2", "hrana3", "hrana3-protobuf"] {
        for (token, code) in bad_tokens(&server) {
            let (mut ws, _) = Ws::connect(&server.ws_url(), &[proto])
                .await
                .expect("connect");
            match ws.hello(token.clone()).await {
                ServerMsg::HelloError(e) => {
                    assert_eq!(e.error.code.as_deref(), Some(code), "{proto} {token:?}")
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(ws.close_code().await, Some(1008));
        }
    }
    // Requests sent right after a failed hello are not processed.
    let (mut ws, _) = Ws::connect(&server.ws_url(), &["hrana3"])
        .await
        .expect("connect");
    ws.send(&tidepool_protocol::ws::ClientMsg::Hello(Default::default()))
        .await;
    ws.send_request(wsreq::open(1)).await;
    assert!(matches!(ws.recv().await, ServerMsg::HelloError(_)));
    assert_eq!(ws.close_code().await, Some(1008));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ws_read_only_token() {
    let server = TestServer::start_auth().await;
    for proto in ["hrana1", "hrana3", "hrana3-protobuf"] {
        let mut rw = server
            .ws_hello(proto, Some(server.token(Access::ReadWrite)))
            .await;
        rw.ok(wsreq::open(1)).await;
        rw.ok(wsreq::exec_sql(1, "CREATE TABLE IF NOT EXISTS t (x)"))
            .await;
        rw.ok(wsreq::exec_sql(1, "DELETE FROM t")).await;
        rw.ok(wsreq::exec_sql(1, "INSERT INTO t VALUES (1)")).await;

        let mut ro = server
            .ws_hello(proto, Some(server.token(Access::ReadOnly)))
            .await;
        ro.ok(wsreq::open(1)).await;
        let r = ro.ok(wsreq::exec_sql(1, "SELECT count(*) FROM t")).await;
        assert_eq!(scalar(ws_exec(&r)), &int(1));
        assert_eq!(
            ro.err_code(wsreq::exec_sql(1, "INSERT INTO t VALUES (2)"))
                .await,
            "FORBIDDEN"
        );
        assert_eq!(
            ro.err_code(wsreq::sequence(1, "DELETE FROM t")).await,
            "FORBIDDEN"
        );
        let r = ro
            .ok(wsreq::batch(
                1,
                transactional(&["INSERT INTO t VALUES (3)"]),
            ))
            .await;
        let b = ws_batch(&r);
        assert_eq!(
            step_error(b, 1).and_then(|e| e.code.as_deref()),
            Some("FORBIDDEN")
        );
        assert!(step_result(b, 3).is_some(), "ROLLBACK ran");
        ro.ok(wsreq::open_cursor(
            1,
            1,
            batch(vec![step("DELETE FROM t", None)]),
        ))
        .await;
        match ro.ok(wsreq::fetch(1, 10)).await {
            Response::FetchCursor(f) => assert!(f.entries.iter().any(
                |e| matches!(e, CursorEntry::StepError(se) if se.error.code.as_deref() == Some("FORBIDDEN"))
            )),
            other => panic!("{other:?}"),
        }
        ro.ok(wsreq::close_cursor(1)).await;
        ro.ok(wsreq::exec_sql(1, "BEGIN")).await;
        assert_eq!(
            ro.err_code(wsreq::exec_sql(1, "DELETE FROM t")).await,
            "FORBIDDEN"
        );
        ro.ok(wsreq::exec_sql(1, "COMMIT")).await;

        // A re-hello with a read-write token upgrades later requests.
        assert!(matches!(
            ro.hello(Some(server.token(Access::ReadWrite))).await,
            ServerMsg::HelloOk(_)
        ));
        ro.ok(wsreq::exec_sql(1, "INSERT INTO t VALUES (4)")).await;
        let r = rw
            .ok(wsreq::exec_sql(1, "SELECT group_concat(x) FROM t"))
            .await;
        assert_eq!(scalar(ws_exec(&r)), &text("1,4"), "{proto}");
    }
}

/// Hrana-over-HTTP v1 answers a whole refused request with an HTTP status: 403 for a write
/// with a read-only token, 401 without a token, 400 for a SQL error.
#[tokio::test]
async fn v1_routes_answer_with_statuses() {
    let server = TestServer::start_auth().await;
    let client = reqwest::Client::new();
    let post = |path: &str, token: Option<String>, body: serde_json::Value| {
        let mut request = client.post(format!("{}/{path}", server.url)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let write = serde_json::json!({"stmt": {"sql": "CREATE TABLE v1 (x)"}});
    let ro = Some(server.token(Access::ReadOnly));
    let rw = Some(server.token(Access::ReadWrite));

    let resp = post("v1/execute", ro.clone(), write.clone())
        .await
        .expect("send");
    assert_eq!(resp.status(), 403);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["code"], "FORBIDDEN");
    assert_eq!(
        post("v1/execute", None, write.clone())
            .await
            .expect("send")
            .status(),
        401
    );

    let resp = post("v1/execute", rw.clone(), write).await.expect("send");
    assert_eq!(resp.status(), 200);
    let read = serde_json::json!({"stmt": {"sql": "SELECT count(*) FROM v1"}});
    let body: serde_json::Value = post("v1/execute", ro, read)
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(body["result"]["rows"][0][0]["value"], "0");

    let bad = serde_json::json!({"batch": {"steps": [{"stmt": {"sql": "SELEC"}}]}});
    let body: serde_json::Value = post("v1/batch", rw, bad)
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(body["result"]["step_errors"][0]["code"], "SQLITE_ERROR");
}
