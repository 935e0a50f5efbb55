//! Criterion benchmarks of local reads and replicas, side by side in one run:
//!
//! - `point_read/{tidepool_local,rusqlite}`: one row by primary key from a 100,000-row table in a
//!   file, through the `tidepool` crate's local mode (`conn.query(..)` and its row) and through
//!   raw rusqlite (`prepare_cached` + `query_row`) on the same file;
//! - `replica_read/{replica,remote_http}`: the same read on a replica of a reference server and
//!   over loopback HTTP to that server.
//!
//! Then, measured once and printed (not criterion samples: each is one long operation):
//! the bootstrap of a 1,000,000-row table (time; bytes on the wire, counted by a TCP relay
//! between client and server, against the table's raw data size) and an incremental pull after
//! one changed row (bytes on the wire, HTTP and WebSocket). `BENCH_BOOTSTRAP_ROWS` changes the
//! table size. Then offline writes: the push of 100,000 changed rows and their pull on another
//! device, and the bytes to sync one updated column (`BENCH_OFFLINE_ROWS`). The server runs
//! in-process on loopback.
//!
//! `cargo bench -p tidepool --bench replica`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use tidepool::{Builder, Connection};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

const READ_ROWS: i64 = 100_000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

struct Primary {
    server: tidepool_server::RunningServer,
    _dir: tempfile::TempDir,
}

async fn primary(rows: i64) -> Primary {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = tidepool_server::Config::new(dir.path().join("primary.db"));
    config.listen_addr = "127.0.0.1:0".parse().expect("addr");
    let server = tidepool_server::serve(config).await.expect("server");
    let conn = Builder::new(format!("http://{}", server.local_addr()))
        .build()
        .expect("db")
        .connect();
    fill(&conn, rows).await;
    Primary { server, _dir: dir }
}

async fn fill(conn: &Connection, rows: i64) {
    conn.execute_batch(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL, qty INTEGER)",
    )
    .await
    .expect("schema");
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
         INSERT INTO items SELECT i, printf('item number %08d', i), i * 0.25, i % 97 FROM n",
        (rows,),
    )
    .await
    .expect("rows");
}

async fn read_one(conn: &Connection, id: i64) -> i64 {
    let row = conn
        .query("SELECT id, name, price FROM items WHERE id = ?", (id,))
        .await
        .expect("query")
        .next()
        .await
        .expect("row")
        .expect("a row");
    row.get(0).expect("id")
}

/// The `i`th key read: both sides read the same keys, spread over the table (a step through
/// neighbouring ids would find its page cached far more often).
fn key(i: u64) -> i64 {
    (i as i64 * 7919) % READ_ROWS + 1
}

/// `iters` point reads one after another inside the runtime, as an application's task makes
/// them (a `block_on` per read would measure entering the runtime as well).
async fn reads(conn: &Connection, iters: u64) -> Duration {
    let started = Instant::now();
    for i in 0..iters {
        std::hint::black_box(read_one(conn, key(i)).await);
    }
    started.elapsed()
}

fn point_reads(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("local.db");
    let db = Builder::local(&path).build().expect("local");
    let conn = db.connect();
    rt.block_on(fill(&conn, READ_ROWS));
    let raw = rusqlite::Connection::open(&path).expect("rusqlite");

    let mut group = c.benchmark_group("point_read");
    group.bench_function("tidepool_local", |b| {
        b.iter_custom(|iters| rt.block_on(reads(&conn, iters)))
    });
    let mut i = 0;
    group.bench_function("rusqlite", |b| {
        b.iter(|| {
            i += 1;
            let id = key(i);
            let mut stmt = raw
                .prepare_cached("SELECT id, name, price FROM items WHERE id = ?")
                .expect("prepare");
            stmt.query_row([id], |r| {
                let _: String = r.get(1)?;
                let _: f64 = r.get(2)?;
                r.get::<_, i64>(0)
            })
            .expect("row")
        })
    });
    group.finish();

    let primary = rt.block_on(primary(READ_ROWS));
    let url = format!("http://{}", primary.server.local_addr());
    let replica = Builder::replica(dir.path().join("replica.db"), &url)
        .build()
        .expect("replica");
    rt.block_on(replica.sync()).expect("bootstrap");
    let remote = Builder::new(&url).build().expect("remote");
    let mut group = c.benchmark_group("replica_read");
    for (name, db) in [("replica", &replica), ("remote_http", &remote)] {
        let conn = db.connect();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| rt.block_on(reads(&conn, iters)))
        });
    }
    group.finish();
}

/// The items table's raw data size: its values' bytes, 8 per number.
async fn raw_bytes(conn: &Connection) -> i64 {
    conn.query("SELECT sum(8 + length(name) + 8 + 8) FROM items", ())
        .await
        .expect("size")
        .next()
        .await
        .expect("row")
        .expect("a row")
        .get::<i64>(0)
        .expect("bytes")
}

/// A TCP relay that counts the bytes each way.
struct Relay {
    addr: std::net::SocketAddr,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
}

impl Relay {
    async fn start(target: std::net::SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (up, down) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (u, d) = (Arc::clone(&up), Arc::clone(&down));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (u, d) = (Arc::clone(&u), Arc::clone(&d));
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pump(cr, sw, u), pump(sr, cw, d));
                });
            }
        });
        Relay { addr, up, down }
    }

    fn take(&self) -> (u64, u64) {
        (
            self.up.swap(0, Ordering::SeqCst),
            self.down.swap(0, Ordering::SeqCst),
        )
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    count: Arc<AtomicU64>,
) {
    use tokio::io::AsyncReadExt as _;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                count.fetch_add(n as u64, Ordering::Relaxed);
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

async fn sync_figures() {
    let rows: i64 = std::env::var("BENCH_BOOTSTRAP_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let primary = primary(rows).await;
    let addr = primary.server.local_addr();
    let writer = Builder::new(format!("http://{addr}"))
        .build()
        .expect("db")
        .connect();
    let raw = raw_bytes(&writer).await;
    let relay = Relay::start(addr).await;
    let dir = tempfile::tempdir().expect("tempdir");
    println!("\nreplica figures (one run, loopback, in-process server)");
    for scheme in ["http", "ws"] {
        let db = Builder::replica(
            dir.path().join(format!("{scheme}.db")),
            format!("{scheme}://{}", relay.addr),
        )
        .build()
        .expect("replica");
        relay.take();
        let started = Instant::now();
        let report = db.sync().await.expect("bootstrap");
        let took = started.elapsed();
        let (up, down) = relay.take();
        println!(
            "  {scheme:>4} bootstrap of {} rows: {took:.2?} ({:.0} rows/s); {} bytes on the wire \
             ({up} up, {down} down) for {raw} bytes of raw data: {:.2}x",
            report.rows_copied,
            report.rows_copied as f64 / took.as_secs_f64(),
            up + down,
            (up + down) as f64 / raw as f64
        );
        // Warm: the connection is open and the schema known; then one row changes.
        db.sync().await.expect("sync");
        writer
            .execute(
                "UPDATE items SET qty = qty + 1 WHERE id = ?",
                (rows / 2 + 1,),
            )
            .await
            .expect("update");
        relay.take();
        let report = db.sync().await.expect("pull");
        let (up, down) = relay.take();
        assert_eq!(report.changes_applied, 1);
        println!(
            "  {scheme:>4} pull of one changed row: {} bytes on the wire ({up} up, {down} down)",
            up + down
        );
    }
}

/// Offline writes (issue 5): a push of `BENCH_OFFLINE_ROWS` (100,000) changed rows from one
/// device and the pull of them on another (time; bytes on the wire per row against the raw row
/// size), then the bytes to sync one updated column: its push, and its pull on the other device.
async fn offline_figures() {
    let rows: i64 = std::env::var("BENCH_OFFLINE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let primary = primary(rows).await;
    let addr = primary.server.local_addr();
    let relay = Relay::start(addr).await;
    let dir = tempfile::tempdir().expect("tempdir");
    println!("\noffline figures (one run, loopback, in-process server, {rows} rows)");
    for scheme in ["http", "ws"] {
        let device = |name: &str| {
            Builder::offline(
                dir.path().join(format!("{scheme}-{name}.db")),
                format!("{scheme}://{}", relay.addr),
            )
            .build()
            .expect("offline device")
        };
        let (a, b) = (device("a"), device("b"));
        a.sync().await.expect("bootstrap a");
        b.sync().await.expect("bootstrap b");
        let conn = a.connect();
        conn.execute("UPDATE items SET qty = qty + 1, name = name || '+'", ())
            .await
            .expect("local update of every row");
        let raw = raw_bytes(&conn).await;
        relay.take();
        let started = Instant::now();
        let report = a.push().await.expect("push");
        let took = started.elapsed();
        let (up, down) = relay.take();
        assert_eq!(report.changes_pushed as i64, rows);
        println!(
            "  {scheme:>4} push of {rows} changed rows: {took:.2?} ({:.0} rows/s); {} bytes on the \
             wire ({up} up, {down} down): {:.1} bytes/row for {:.1} raw bytes/row ({:.2}x)",
            rows as f64 / took.as_secs_f64(),
            up + down,
            (up + down) as f64 / rows as f64,
            raw as f64 / rows as f64,
            (up + down) as f64 / raw as f64
        );
        let started = Instant::now();
        let report = b.sync().await.expect("pull");
        let took = started.elapsed();
        let (up, down) = relay.take();
        assert!(report.changes_applied as i64 >= rows);
        println!(
            "  {scheme:>4} pull of them on another device: {took:.2?} ({:.0} rows/s); {} bytes \
             ({up} up, {down} down): {:.1} bytes/row ({:.2}x raw)",
            rows as f64 / took.as_secs_f64(),
            up + down,
            (up + down) as f64 / rows as f64,
            (up + down) as f64 / raw as f64
        );
        // Warm (streams open, schema known): one column of one row changes on a.
        a.sync().await.expect("a catches up");
        b.sync().await.expect("b catches up");
        conn.execute("UPDATE items SET qty = -1 WHERE id = ?", (rows / 2,))
            .await
            .expect("one column");
        relay.take();
        let report = a.push().await.expect("push one");
        let (push_up, push_down) = relay.take();
        assert_eq!(report.changes_pushed, 1);
        let report = b.sync().await.expect("pull one");
        let (pull_up, pull_down) = relay.take();
        assert_eq!(report.changes_applied, 1);
        println!(
            "  {scheme:>4} one updated column: push {} bytes ({push_up} up, {push_down} down), \
             pull {} bytes ({pull_up} up, {pull_down} down)",
            push_up + push_down,
            pull_up + pull_down
        );
    }
}

fn sync_once(_: &mut Criterion) {
    let runtime = runtime();
    runtime.block_on(sync_figures());
    runtime.block_on(offline_figures());
}

criterion_group!(benches, point_reads, sync_once);
criterion_main!(benches);
