//! Load and soak: many WebSocket connections and HTTP clients at once, for a bounded time;
//! no stream or connection is leaked, and clients that vanish mid-transaction release their
//! locks. Short by default (CI); `TIDEPOOL_SOAK_SECS` and `TIDEPOOL_SOAK_SOCKETS` make it a
//! longer run, whose figures it prints.

use std::time::{Duration, Instant};

use tidepool_protocol::http::StreamRequest;
use tidepool_protocol::Encoding;

use crate::support::*;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The process's resident memory, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `TIDEPOOL_SOAK_CACHE_KIB`: the page cache per connection (0: SQLite's default), for
/// measuring what the cap saves.
fn cache_kib(default: Option<u32>) -> Option<u32> {
    let set = std::env::var("TIDEPOOL_SOAK_CACHE_KIB").ok();
    match set.and_then(|v| v.parse::<u32>().ok()) {
        None => default,
        Some(0) => None,
        Some(kib) => Some(kib),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Polls until `done` holds, for at most `limit`.
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
async fn many_websockets_and_vanishing_clients() {
    let sockets = env_or("TIDEPOOL_SOAK_SOCKETS", 1000) as usize;
    let active = sockets.min(200);
    let secs = env_or("TIDEPOOL_SOAK_SECS", 3);
    let server = TestServer::start_with(false, |c| {
        c.txn_timeout = Duration::from_secs(60);
        c.cache_size_kib = cache_kib(c.cache_size_kib);
    })
    .await;
    let rss_start = rss_kib();

    let mut setup = server.ws("hrana3-protobuf").await;
    setup.ok(wsreq::open(1)).await;
    setup
        .ok(wsreq::exec_sql(
            1,
            "CREATE TABLE soak (id INTEGER PRIMARY KEY, v INTEGER)",
        ))
        .await;

    let mut clients = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        let mut ws = server.ws("hrana3-protobuf").await;
        ws.ok(wsreq::open(1)).await;
        clients.push(ws);
    }
    let stats = server.stats();
    assert_eq!(stats.ws_connections, sockets + 1);
    assert_eq!(stats.ws_streams, sockets + 1);
    let rss_open = rss_kib();

    // The first `active` clients run requests; the rest stay open and idle.
    let idle = clients.split_off(active);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for (n, mut ws) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0i64;
            while Instant::now() < deadline {
                i += 1;
                let sql = if i % 10 == 0 {
                    "INSERT INTO soak (v) VALUES (?)"
                } else {
                    "SELECT ?"
                };
                let started = Instant::now();
                let stmt = stmt_args(sql, vec![int(n as i64 * 1_000_000 + i)]);
                ws.ok(wsreq::execute(1, stmt)).await;
                latencies.push(started.elapsed());
            }
            (ws, latencies)
        }));
    }
    let mut latencies = Vec::new();
    let mut survivors = Vec::new();
    for task in tasks {
        let (ws, l) = task.await.expect("client task");
        latencies.extend(l);
        survivors.push(ws);
    }
    latencies.sort();
    let rss_peak = rss_kib();

    // TIDEPOOL_SOAK_SCAN_KIB: every active stream then reads a table of that size once, so its
    // connection's page cache fills up to its cap (for measuring the cap; off in CI).
    let scan_kib = env_or("TIDEPOOL_SOAK_SCAN_KIB", 0);
    let rss_scanned = if scan_kib > 0 {
        let fill = format!(
            "INSERT INTO wide (b) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
             WHERE x < {}) SELECT zeroblob(1000) FROM c",
            scan_kib
        );
        setup
            .ok(wsreq::exec_sql(1, "CREATE TABLE wide (b BLOB)"))
            .await;
        setup.ok(wsreq::exec_sql(1, &fill)).await;
        let scan = stmt("SELECT count(*) FROM wide WHERE length(b) > 0");
        let scans = survivors.iter_mut().map(|ws| {
            let scan = scan.clone();
            async move { exec_count(ws, scan).await }
        });
        for count in futures_util::future::join_all(scans).await {
            assert_eq!(count, scan_kib as i64);
        }
        Some(rss_kib())
    } else {
        None
    };

    // A client that vanishes inside a write transaction must not keep the lock.
    let mut vanishing = server.ws("hrana3-protobuf").await;
    vanishing.ok(wsreq::open(1)).await;
    vanishing.ok(wsreq::exec_sql(1, "BEGIN IMMEDIATE")).await;
    vanishing
        .ok(wsreq::exec_sql(1, "INSERT INTO soak (v) VALUES (-1)"))
        .await;
    drop(vanishing);
    let mut writer = server.ws("hrana3-protobuf").await;
    writer.ok(wsreq::open(1)).await;
    writer.ok(wsreq::exec_sql(1, "BEGIN IMMEDIATE")).await;
    writer.ok(wsreq::exec_sql(1, "COMMIT")).await;
    let lost = stmt("SELECT count(*) FROM soak WHERE v = -1");
    let count = exec_count(&mut writer, lost).await;
    assert_eq!(
        count, 0,
        "the vanished client's transaction was rolled back"
    );

    drop(survivors);
    drop(idle);
    drop(setup);
    drop(writer);
    let server_ref = &server;
    let drained = eventually(Duration::from_secs(20), || {
        let s = server_ref.stats();
        s.ws_connections == 0 && s.ws_streams == 0
    })
    .await;
    assert!(
        drained,
        "streams or connections leaked: {:?}",
        server.stats()
    );
    let rss_end = rss_kib();
    println!(
        "soak ws: {sockets} sockets, {active} active for {secs}s: {} requests, p50 {:?}, p99 {:?}, max {:?}; RSS (KiB, test process incl. server) start {rss_start}, sockets open {rss_open}, after load {rss_peak}, after {scan_kib} KiB scans {rss_scanned:?}, after close {rss_end}",
        latencies.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or_default(),
    );
    assert!(!latencies.is_empty());
}

async fn exec_count(ws: &mut Ws, stmt: tidepool_protocol::Stmt) -> i64 {
    match ws.ok(wsreq::execute(1, stmt)).await {
        tidepool_protocol::ws::Response::Execute(r) => match &r.result.rows[0].values[0] {
            tidepool_protocol::Value::Integer(n) => *n,
            other => panic!("count is {other:?}"),
        },
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_http_clients_and_abandoned_streams() {
    let clients = env_or("TIDEPOOL_SOAK_HTTP_CLIENTS", 200) as usize;
    let secs = env_or("TIDEPOOL_SOAK_SECS", 3);
    let server = TestServer::start_with(false, |c| {
        c.stream_expiry = Duration::from_secs(1);
        c.txn_timeout = Duration::from_secs(60);
    })
    .await;
    let http = server.http(Encoding::Protobuf);
    http.stream()
        .exec_sql("CREATE TABLE soak (v INTEGER)")
        .await;

    // Abandoned streams, one inside a write transaction, are reaped and release the lock.
    let mut abandoned = Vec::new();
    for _ in 0..50 {
        let mut s = http.stream();
        s.exec_sql("SELECT 1").await;
        abandoned.push(s);
    }
    let mut locker = http.stream();
    locker.exec_sql("BEGIN IMMEDIATE").await;
    locker.exec_sql("INSERT INTO soak VALUES (-1)").await;
    assert!(server.stats().http_streams >= 51);

    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for n in 0..clients {
        let http = http.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0i64;
            while Instant::now() < deadline {
                i += 1;
                let started = Instant::now();
                // One-shot requests close their stream, as stock clients do: streams left to
                // expire would pile up past the server's stream limit at full speed.
                let body = vec![
                    execute_stmt(stmt_args("SELECT ?", vec![int(n as i64 + i)])),
                    StreamRequest::Close(Default::default()),
                ];
                let resp = http.pipeline_at(http.pipeline_path(), None, body).await;
                assert!(resp.status().is_success(), "status {}", resp.status());
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("client task"));
    }
    latencies.sort();
    drop(abandoned);
    drop(locker);

    let server_ref = &server;
    let reaped = eventually(Duration::from_secs(10), || {
        server_ref.stats().http_streams == 0
    })
    .await;
    assert!(reaped, "HTTP streams leaked: {:?}", server.stats());
    let mut writer = http.stream();
    writer.exec_sql("BEGIN IMMEDIATE").await;
    writer.exec_sql("COMMIT").await;
    let left = writer.exec_sql("SELECT count(*) FROM soak").await;
    assert_eq!(
        left.rows[0].values[0],
        int(0),
        "the abandoned transaction was rolled back"
    );
    println!(
        "soak http: {clients} concurrent clients for {secs}s: {} requests, p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or_default(),
    );
}
