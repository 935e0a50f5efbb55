//! Faults between client and server: reads are retried and succeed, a write whose fate is
//! unknown is reported and never duplicated, a transaction whose stream died fails cleanly,
//! and a dropped WebSocket is reconnected for the next call.

use std::time::Duration;

use tidepool::error::code;

use crate::proxy::Proxy;
use crate::support::TestServer;

async fn setup(
    scheme: &str,
) -> (
    TestServer,
    Proxy,
    tidepool::Connection,
    tidepool::Connection,
) {
    let server = TestServer::start_with(|config| {
        config.stream_expiry = Duration::from_secs(1);
        config.txn_timeout = Duration::from_secs(2);
    })
    .await;
    let proxy = Proxy::start(server.addr()).await;
    let direct = server.db("http").connect();
    direct
        .execute("CREATE TABLE f (id INTEGER PRIMARY KEY, v TEXT)", ())
        .await
        .expect("create");
    let db = tidepool::Builder::new(proxy.url(scheme))
        .request_timeout(Duration::from_secs(2))
        .backoff(Duration::from_millis(5), Duration::from_millis(20))
        .build()
        .expect("build");
    let conn = db.connect();
    (server, proxy, conn, direct)
}

async fn count(direct: &tidepool::Connection) -> i64 {
    let row = direct
        .query("SELECT count(*) FROM f", ())
        .await
        .expect("q")
        .next()
        .await
        .expect("n")
        .expect("r");
    row.get(0).expect("count")
}

async fn read_is_retried(scheme: &str) {
    let (_server, proxy, conn, _direct) = setup(scheme).await;
    conn.query("SELECT 1", ()).await.expect("warm up");
    proxy.lose_next_responses(1);
    let row = conn
        .query("SELECT 41 + 1", ())
        .await
        .expect("retried")
        .next()
        .await
        .expect("n")
        .expect("r");
    assert_eq!(row.get::<i64>(0).expect("value"), 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_retried_over_http() {
    read_is_retried("http").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_retried_over_ws() {
    read_is_retried("ws").await;
}

async fn unknown_write_is_not_duplicated(scheme: &str) {
    let (_server, proxy, conn, direct) = setup(scheme).await;
    conn.execute("SELECT 1", ()).await.expect("warm up");
    proxy.lose_next_responses(1);
    let e = conn
        .execute("INSERT INTO f (v) VALUES ('once')", ())
        .await
        .expect_err("response lost");
    assert!(
        e.is_outcome_unknown() || e.code() == code::TRANSACTION_LOST,
        "{scheme}: {e:?}"
    );
    assert!(!e.is_retryable());
    assert_eq!(
        count(&direct).await,
        1,
        "{scheme}: the write ran exactly once"
    );
    // The connection recovers for the next call.
    conn.execute("INSERT INTO f (v) VALUES ('next')", ())
        .await
        .expect("next write");
    assert_eq!(count(&direct).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_writes_are_reported_not_replayed_over_http() {
    unknown_write_is_not_duplicated("http").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_writes_are_reported_not_replayed_over_ws() {
    unknown_write_is_not_duplicated("ws").await;
}

async fn dead_transaction_fails_cleanly(scheme: &str) {
    let (_server, proxy, conn, direct) = setup(scheme).await;
    let tx = conn.transaction().await.expect("begin");
    tx.execute("INSERT INTO f (v) VALUES ('in tx')", ())
        .await
        .expect("insert");
    proxy.lose_next_responses(1);
    let first = tx
        .execute("INSERT INTO f (v) VALUES ('lost')", ())
        .await
        .expect_err("lost");
    assert!(
        matches!(first.code(), code::TRANSACTION_LOST | code::OUTCOME_UNKNOWN),
        "{scheme}: {first:?}"
    );
    let e = tx.commit().await.expect_err("the transaction is gone");
    assert!(
        matches!(e.code(), code::TRANSACTION_LOST | "SQLITE_ERROR"),
        "{scheme}: {e:?}"
    );
    // The server rolls the abandoned transaction back (stream expiry / transaction timeout).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        count(&direct).await,
        0,
        "{scheme}: nothing of the transaction survived"
    );
    conn.execute("INSERT INTO f (v) VALUES ('after')", ())
        .await
        .expect("connection usable");
    assert_eq!(count(&direct).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_whose_stream_died_fails_cleanly_over_http() {
    dead_transaction_fails_cleanly("http").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_whose_stream_died_fails_cleanly_over_ws() {
    dead_transaction_fails_cleanly("ws").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_websocket_is_reconnected() {
    let (_server, proxy, conn, direct) = setup("ws").await;
    conn.execute("INSERT INTO f (v) VALUES ('before')", ())
        .await
        .expect("before");
    let sockets = proxy.accepted();
    proxy.cut_all();
    tokio::time::sleep(Duration::from_millis(100)).await;
    conn.execute("INSERT INTO f (v) VALUES ('after')", ())
        .await
        .expect("reconnected");
    assert!(proxy.accepted() > sockets, "a new socket was opened");
    assert_eq!(count(&direct).await, 2);
    let other = tidepool::Builder::new(proxy.url("ws"))
        .build()
        .expect("build")
        .connect();
    other
        .query("SELECT 1", ())
        .await
        .expect("a fresh database works too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_connect_failures() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    for scheme in ["http", "ws"] {
        let db = tidepool::Builder::new(format!("{scheme}://{addr}"))
            .max_attempts(2)
            .backoff(Duration::from_millis(1), Duration::from_millis(2))
            .build()
            .expect("build");
        let e = db
            .connect()
            .execute("INSERT INTO t VALUES (1)", ())
            .await
            .expect_err("refused");
        assert_eq!(e.code(), code::CONNECT_FAILED, "{scheme}: {e:?}");
        assert!(e.is_retryable() && e.is_network());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_responses_time_out() {
    let (_server, proxy, _conn, direct) = setup("http").await;
    let db = tidepool::Builder::new(proxy.url("http"))
        .request_timeout(Duration::from_millis(150))
        .max_attempts(2)
        .backoff(Duration::from_millis(1), Duration::from_millis(2))
        .build()
        .expect("build");
    let conn = db.connect();
    conn.query("SELECT 1", ()).await.expect("warm up");
    proxy.delay_responses(Duration::from_millis(400));
    let e = conn.query("SELECT 1", ()).await.expect_err("slow read");
    assert_eq!(e.code(), code::TIMEOUT, "{e:?}");
    let e = conn
        .execute("INSERT INTO f (v) VALUES ('slow')", ())
        .await
        .expect_err("slow write");
    assert_eq!(e.code(), code::OUTCOME_UNKNOWN, "{e:?}");
    proxy.delay_responses(Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count(&direct).await,
        1,
        "the slow write ran once and was not replayed"
    );
}

/// A hostile server that streams a cursor item without end: the client refuses it once it is
/// larger than any real row could be, instead of buffering forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_cursor_item_is_refused() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut request = vec![0u8; 64 * 1024];
        let _ = socket.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                    transfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b'a'; 1 << 20];
        let frame = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk,
            b"\r\n".to_vec(),
        ]
        .concat();
        // Bounded: at most 200 MiB, far past the client's limit.
        for _ in 0..200 {
            if socket.write_all(&frame).await.is_err() {
                return;
            }
        }
    });
    let db = tidepool::Builder::new(format!("http://{addr}"))
        .force_json()
        .max_attempts(1)
        .build()
        .expect("build");
    let e = db
        .connect()
        .query("SELECT 1", ())
        .await
        .expect_err("endless item");
    assert_eq!(e.code(), code::PROTOCOL_VIOLATION, "{e:?}");
}

/// The server ends a transaction that outlives its timeout: the next call fails with
/// `TRANSACTION_LOST` over either transport, and the connection works again after that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_the_server_timed_out_is_lost_then_the_connection_recovers() {
    let server = TestServer::start_with(|config| {
        config.txn_timeout = Duration::from_millis(500);
    })
    .await;
    for scheme in ["http", "ws"] {
        let db = server.db(scheme);
        let conn = db.connect();
        conn.execute("CREATE TABLE IF NOT EXISTS t_lost (x)", ())
            .await
            .expect("create");
        let tx = conn.transaction().await.expect("begin");
        tx.execute("INSERT INTO t_lost VALUES (1)", ())
            .await
            .expect("insert");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let e = tx
            .execute("INSERT INTO t_lost VALUES (2)", ())
            .await
            .expect_err("the server ended the transaction");
        assert_eq!(e.code(), code::TRANSACTION_LOST, "{scheme}: {e:?}");
        drop(tx);
        let count = conn
            .query("SELECT count(*) FROM t_lost", ())
            .await
            .unwrap_or_else(|e| panic!("{scheme}: the connection stays usable: {e:?}"))
            .next()
            .await
            .expect("row")
            .expect("a row")
            .get::<i64>(0)
            .expect("count");
        assert_eq!(count, 0, "{scheme}: the transaction was rolled back");
    }
}

/// A query dropped while its rows still stream leaves the server's stream busy writing them;
/// the connection's next call must not fail for it (it opens a new stream outside a
/// transaction).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_query_does_not_block_the_next_call() {
    let server = crate::support::TestServer::start().await;
    for scheme in ["http", "ws"] {
        let db = server.db(scheme);
        let conn = db.connect();
        for round in 0..3 {
            let mut rows = conn
                .query(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000) \
                     SELECT i, printf('%0100d', i) FROM n",
                    (),
                )
                .await
                .expect("query");
            let first = rows.next().await.expect("row").expect("a row");
            assert_eq!(first.get::<i64>(0).expect("i"), 1);
            drop(rows);
            let row = conn
                .query("SELECT 41 + ?", (round,))
                .await
                .expect("the next call works")
                .next()
                .await
                .expect("row")
                .expect("a row");
            assert_eq!(row.get::<i64>(0).expect("value"), 41 + round, "{scheme}");
        }
    }
}
