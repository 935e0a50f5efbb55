//! Configured limits: request and response sizes, stored SQL, stream counts.

use tidepool_protocol::http::{StoreSqlStreamReq, StreamRequest};
use tidepool_protocol::{Encoding, Stmt};

use crate::both_encodings;
use crate::support::*;

both_encodings!(
    request_body_over_the_limit,
    response_over_the_limit,
    stored_sql_limit,
    http_stream_limit,
);

async fn request_body_over_the_limit(enc: Encoding) {
    let server = TestServer::start_with(false, |c| c.max_request_bytes = 4096).await;
    let http = server.http(enc);
    let big = format!("SELECT '{}'", "x".repeat(8192));
    let (status, error) = http.pipeline_refused(None, vec![execute(&big)]).await;
    assert_eq!(
        (status, error.code.as_deref()),
        (413, Some("REQUEST_TOO_LARGE"))
    );
    let mut s = http.stream();
    s.exec_sql("SELECT 1").await;
    // Over the limit on a continued stream: refused, and the stream goes on.
    let baton = s.baton.clone();
    let (status, _) = http.pipeline_refused(baton, vec![execute(&big)]).await;
    assert_eq!(status, 413);
    let small = format!("SELECT '{}'", "x".repeat(1000));
    assert_eq!(s.exec_sql(&small).await.rows.len(), 1);
}

async fn response_over_the_limit(enc: Encoding) {
    let server = TestServer::start_with(false, |c| c.max_response_bytes = 64 * 1024).await;
    let mut s = server.http(enc).stream();
    s.exec_sql("CREATE TABLE big (b)").await;
    let e = s.exec_err(Stmt::new("SELECT zeroblob(100000)")).await;
    assert_eq!(e.code.as_deref(), Some("RESPONSE_TOO_LARGE"));
    let e = s
        .exec_err(Stmt::new(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000) SELECT x, 'abcdefgh' FROM c",
        ))
        .await;
    assert_eq!(e.code.as_deref(), Some("RESPONSE_TOO_LARGE"));
    // Under the limit is fine.
    let r = s.exec_sql("SELECT zeroblob(10000)").await;
    assert_eq!(r.rows.len(), 1);
    // In a batch, the step that goes over fails and the transactional shape rolls back.
    let result = s
        .send_one(batch_req(transactional(&[
            "INSERT INTO big VALUES (1)",
            "SELECT zeroblob(100000)",
        ])))
        .await;
    let b = batch_result(&result);
    assert_eq!(
        step_error(b, 2).and_then(|e| e.code.as_deref()),
        Some("RESPONSE_TOO_LARGE")
    );
    assert!(step_result(b, 4).is_some(), "ROLLBACK ran");
    let r = s.exec_sql("SELECT count(*) FROM big").await;
    assert_eq!(scalar(&r), &int(0));
    // Several steps share one budget.
    let result = s
        .send_one(batch_req(batch(vec![
            step("SELECT zeroblob(20000)", None),
            step("SELECT zeroblob(20000)", None),
            step("SELECT zeroblob(20000)", None),
            step("SELECT 1", None),
        ])))
        .await;
    let b = batch_result(&result);
    assert!(step_result(b, 0).is_some() && step_result(b, 1).is_some());
    assert_eq!(
        step_error(b, 2).and_then(|e| e.code.as_deref()),
        Some("RESPONSE_TOO_LARGE")
    );
    assert!(step_result(b, 3).is_some());
    // A cursor has no total limit.
    let (_, entries) = server
        .http(enc)
        .cursor(
            None,
            batch(vec![step(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10) SELECT zeroblob(30000) FROM c",
                None,
            )]),
        )
        .await;
    assert_eq!(entries.len(), 12);
}

async fn stored_sql_limit(enc: Encoding) {
    let server = TestServer::start_with(false, |c| c.max_sql_texts = 3).await;
    let mut s = server.http(enc).stream();
    let store = |sql_id| {
        StreamRequest::StoreSql(StoreSqlStreamReq {
            sql_id,
            sql: "SELECT 1".into(),
        })
    };
    let results = s.send(vec![store(1), store(2), store(3), store(4)]).await;
    for r in &results[..3] {
        ok_response(r);
    }
    assert_eq!(code_of(&results[3]), "SQL_STORE_LIMIT");
    // Closing one makes room.
    let results = s
        .send(vec![
            StreamRequest::CloseSql(tidepool_protocol::http::CloseSqlStreamReq { sql_id: 2 }),
            store(4),
            store(5),
        ])
        .await;
    ok_response(&results[1]);
    assert_eq!(code_of(&results[2]), "SQL_STORE_LIMIT");

    // The same over WebSocket, per connection.
    let proto = if enc == Encoding::Json {
        "hrana3"
    } else {
        "hrana3-protobuf"
    };
    let mut ws = server.ws(proto).await;
    for id in 0..3 {
        ws.ok(wsreq::store_sql(id, "SELECT 1")).await;
    }
    assert_eq!(
        ws.err_code(wsreq::store_sql(3, "SELECT 1")).await,
        "SQL_STORE_LIMIT"
    );
}

async fn http_stream_limit(enc: Encoding) {
    let server = TestServer::start_with(false, |c| c.max_http_streams = 2).await;
    let http = server.http(enc);
    let mut a = http.stream();
    let mut b = http.stream();
    a.exec_sql("SELECT 1").await;
    b.exec_sql("SELECT 1").await;
    let (status, error) = http.pipeline_refused(None, vec![execute("SELECT 1")]).await;
    assert_eq!((status, error.code.as_deref()), (503, Some("STREAM_LIMIT")));
    // Closing a stream makes room.
    a.close().await;
    http.stream().exec_sql("SELECT 1").await;
    b.exec_sql("SELECT 2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ws_stream_limit() {
    let server = TestServer::start_with(false, |c| c.max_ws_streams = 3).await;
    let mut ws = server.ws("hrana3").await;
    for id in 0..3 {
        ws.ok(wsreq::open(id)).await;
    }
    assert_eq!(ws.err_code(wsreq::open(3)).await, "STREAM_LIMIT");
    ws.ok(wsreq::close(0)).await;
    ws.ok(wsreq::open(3)).await;
    ws.ok(wsreq::exec_sql(3, "SELECT 1")).await;
    // The limit is per connection.
    let mut other = server.ws("hrana3").await;
    other.ok(wsreq::open(0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ws_message_over_the_limit_closes_with_1009() {
    let server = TestServer::start_with(false, |c| c.max_ws_message_bytes = 4096).await;
    let mut ws = server.ws("hrana3").await;
    ws.ok(wsreq::open(1)).await;
    ws.send_request(wsreq::exec_sql(
        1,
        &format!("SELECT '{}'", "x".repeat(10_000)),
    ))
    .await;
    assert_eq!(ws.close_code().await, Some(1009));
    server.ws("hrana3").await;
}
