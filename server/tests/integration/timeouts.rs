//! Long statements: reads that outrun the inline budget move to the blocking pool and still
//! answer correctly without holding up other streams, and the request timeout interrupts the
//! statement it cut short (the write lock is released, nothing of it is kept).

use std::time::{Duration, Instant};

use tidepool_protocol::ws::{Response, ServerMsg};
use tidepool_protocol::{Encoding, Value};

use crate::support::*;

/// Counts to `n` through a recursive CTE: a read that starts with SELECT (so it starts inline)
/// and runs far past a 2 ms budget.
fn long_count(n: u64) -> String {
    format!(
        "SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
         WHERE x < {n}) SELECT x FROM c)"
    )
}

/// An INSERT of `n` rows from a recursive CTE: a write that holds the write lock throughout.
fn long_insert(n: u64) -> String {
    format!(
        "INSERT INTO t WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
         WHERE x < {n}) SELECT x FROM c"
    )
}

async fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_past_the_inline_budget_answer_on_every_path() {
    let server = TestServer::start().await;
    let n = 300_000;
    let sql = long_count(n);
    for enc in [Encoding::Json, Encoding::Protobuf] {
        let http = server.http(enc);
        let mut stream = http.stream();
        let result = stream.exec_sql(&sql).await;
        assert_eq!(
            scalar(&result),
            &Value::Integer(n as i64),
            "{enc:?} pipeline"
        );
        // The stream is still usable after the hand-off.
        assert_eq!(
            scalar(&stream.exec_sql("SELECT 7").await),
            &Value::Integer(7)
        );
        let (_, entries) = http.cursor(None, batch(vec![step(&sql, None)])).await;
        let row = entries.iter().find_map(|e| match e {
            tidepool_protocol::CursorEntry::Row { row } => Some(row.values.clone()),
            _ => None,
        });
        assert_eq!(row, Some(vec![Value::Integer(n as i64)]), "{enc:?} cursor");
    }
    for protocol in ["hrana3", "hrana3-protobuf"] {
        let mut ws = server.ws(protocol).await;
        ws.ok(wsreq::open(1)).await;
        match ws.ok(wsreq::exec_sql(1, &sql)).await {
            Response::Execute(r) => assert_eq!(scalar(&r.result), &Value::Integer(n as i64)),
            other => panic!("{other:?}"),
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_read_does_not_hold_up_other_streams() {
    let server = TestServer::start().await;
    let mut ws = server.ws("hrana3-protobuf").await;
    ws.ok(wsreq::open(1)).await;
    ws.ok(wsreq::open(2)).await;
    let slow = ws
        .send_request(wsreq::exec_sql(1, &long_count(1_000_000)))
        .await;
    let quick = ws.send_request(wsreq::exec_sql(2, "SELECT 1")).await;
    // Both streams live on one socket, served by the same async worker; the quick read is
    // answered while the slow one runs on the blocking pool.
    let first = match ws.recv().await {
        ServerMsg::ResponseOk(ok) => ok.request_id,
        other => panic!("unexpected message: {other:?}"),
    };
    assert_eq!(first, quick, "the quick read was answered first");
    let second = match ws.recv().await {
        ServerMsg::ResponseOk(ok) => ok.request_id,
        other => panic!("unexpected message: {other:?}"),
    };
    assert_eq!(second, slow);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_timeout_interrupts_the_running_statement() {
    let server = TestServer::start_with(false, |c| {
        c.request_timeout = Duration::from_millis(300);
        c.busy_timeout = Duration::from_secs(2);
        c.stream_expiry = Duration::from_secs(1);
    })
    .await;
    let http = server.http(Encoding::Json);
    http.stream().exec_sql("CREATE TABLE t(x)").await;

    // Far more rows than could be written before the timeout (minutes of work).
    let resp = http
        .pipeline_at(
            http.pipeline_path(),
            None,
            vec![execute(&long_insert(1_000_000_000))],
        )
        .await;
    let (status, _) = http_error(resp).await;
    assert_eq!(status, 408);

    // Had the INSERT kept running it would hold the write lock, and this write would fail
    // with SQLITE_BUSY after the 2 s busy timeout.
    let mut writer = http.stream();
    writer.exec_sql("INSERT INTO t VALUES (-1)").await;
    let count = writer.exec_sql("SELECT count(*) FROM t").await;
    assert_eq!(
        scalar(&count),
        &Value::Integer(1),
        "the interrupted INSERT left nothing behind"
    );
    writer.close().await;

    // A read that starts inline and moves to the blocking pool is interrupted the same way.
    let resp = http
        .pipeline_at(
            http.pipeline_path(),
            None,
            vec![execute(&long_count(10_000_000_000))],
        )
        .await;
    assert_eq!(http_error(resp).await.0, 408);

    // The server keeps serving, and the cut-short streams expire: nothing leaks.
    let mut stream = http.stream();
    assert_eq!(
        scalar(&stream.exec_sql("SELECT 1").await),
        &Value::Integer(1)
    );
    stream.close().await;
    assert!(
        eventually(Duration::from_secs(10), || server.stats().http_streams == 0).await,
        "streams left open: {:?}",
        server.stats()
    );
    server.shutdown().await;
}
