//! Criterion benchmarks of the remote client against a release `tidepool-server` child process,
//! with the `libsql` crate's remote client (Hrana over HTTP only) on the same server:
//!
//! - `select_seq/{tidepool_http,tidepool_ws,libsql_http}`: one `SELECT ?` at a time on one
//!   connection, its row read;
//! - `select_c64/...`: `SELECT ?` from 64 connections of one database at once on a
//!   multi-thread runtime (criterion's time per element is the inverse of the throughput);
//! - `batch1000/...`: 1,000 INSERTs in one atomic request (`conn.batch`; for the libsql crate,
//!   which has no batch with bound parameters, `execute_transactional_batch` over the same
//!   INSERTs with literal values).
//!
//! Build the server first (`cargo build --release -p tidepool-server`); its path is taken from
//! `TIDEPOOL_SERVER_BIN`, else `$CARGO_TARGET_DIR/release/tidepool-server`, else
//! `target/release/tidepool-server`. Run with `cargo bench -p tidepool --bench remote`.
//! Criterion reports means; `cargo run --release -p tidepool-bench --bin client-compare`
//! gives percentiles of the same scenarios. The child-process helper mirrors
//! `bench/src/server.rs` (this crate cannot depend on tidepool-bench, which depends on it).

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tokio::runtime::Runtime;

const CONCURRENCY: usize = 64;
const BATCH: usize = 1000;

/// The server under test; killed when dropped.
struct Server {
    url: String,
    child: Child,
    _stdout: BufReader<ChildStdout>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(bin: &PathBuf) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut child = Command::new(bin)
            .arg("--http-listen-addr")
            .arg("127.0.0.1:0")
            .arg("--db-path")
            .arg(dir.path().join("bench.db"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let mut stdout = BufReader::new(child.stdout.take().expect("child stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("server output");
        let Some(url) = line.trim().strip_prefix("tidepool-server listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("unexpected first line from the server: {line:?}");
        };
        Server {
            url: url.to_owned(),
            child,
            _stdout: stdout,
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("TIDEPOOL_SERVER_BIN") {
        return bin.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("release").join("tidepool-server")
}

/// A connection of either client.
enum Conn {
    Tidepool(tidepool::Connection),
    Libsql(libsql::Connection),
}

#[derive(Clone)]
enum Db {
    Tidepool(tidepool::Database),
    Libsql(Arc<libsql::Database>),
}

impl Db {
    fn connect(&self) -> Conn {
        match self {
            Db::Tidepool(db) => Conn::Tidepool(db.connect()),
            Db::Libsql(db) => Conn::Libsql(db.connect().expect("libsql connect")),
        }
    }
}

impl Conn {
    async fn select(&self, i: i64) {
        let got: i64 = match self {
            Conn::Tidepool(conn) => {
                let mut rows = conn.query("SELECT ?", (i,)).await.expect("query");
                let row = rows.next().await.expect("row").expect("one row");
                let value = row.get(0).expect("integer");
                assert!(rows.next().await.expect("end").is_none());
                value
            }
            Conn::Libsql(conn) => {
                let mut rows = conn
                    .query("SELECT ?", libsql::params![i])
                    .await
                    .expect("query");
                let row = rows.next().await.expect("row").expect("one row");
                let value = row.get(0).expect("integer");
                assert!(rows.next().await.expect("end").is_none());
                value
            }
        };
        assert_eq!(got, i);
    }

    async fn batch(&self, first: i64) {
        let ids = first..first + BATCH as i64;
        match self {
            Conn::Tidepool(conn) => {
                let statements: Vec<tidepool::Statement> = ids
                    .map(|id| {
                        tidepool::Statement::new(
                            "INSERT INTO criterion_bench (id, v) VALUES (?, ?)",
                            (id, "tidepool batch row"),
                        )
                    })
                    .collect();
                let results = conn.batch(statements).await.expect("batch");
                assert_eq!(results.len(), BATCH);
            }
            Conn::Libsql(conn) => {
                let sql: String = ids
                    .map(|id| {
                        format!(
                            "INSERT INTO criterion_bench (id, v) VALUES ({id}, 'libsql batch row');"
                        )
                    })
                    .collect();
                conn.execute_transactional_batch(&sql).await.expect("batch");
            }
        }
    }
}

fn clients(rt: &Runtime, url: &str) -> Vec<(&'static str, Db)> {
    let ws = url.replacen("http", "ws", 1);
    let libsql = rt.block_on(async {
        let mut http = hyper014::client::HttpConnector::new();
        http.set_nodelay(true);
        libsql::Builder::new_remote(url.to_owned(), String::new())
            .connector(http)
            .build()
            .await
            .expect("libsql database")
    });
    vec![
        (
            "tidepool_http",
            Db::Tidepool(tidepool::Builder::new(url).build().expect("http")),
        ),
        (
            "tidepool_ws",
            Db::Tidepool(tidepool::Builder::new(ws).build().expect("ws")),
        ),
        ("libsql_http", Db::Libsql(Arc::new(libsql))),
    ]
}

fn benches(c: &mut Criterion) {
    let bin = server_bin();
    if !bin.exists() {
        // `cargo test --benches` runs this once in test mode; without a release server there
        // is nothing to measure.
        let bench_mode = std::env::args().any(|a| a == "--bench");
        assert!(
            !bench_mode,
            "no server binary at {} (cargo build --release -p tidepool-server, or set \
             TIDEPOOL_SERVER_BIN)",
            bin.display()
        );
        eprintln!("skipping: no server binary at {}", bin.display());
        return;
    }
    let server = Server::start(&bin);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dbs = clients(&rt, &server.url);

    let mut group = c.benchmark_group("select_seq");
    group.throughput(Throughput::Elements(1));
    for (name, db) in &dbs {
        let conn = db.connect();
        rt.block_on(conn.select(0));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for i in 0..iters {
                        conn.select(i as i64).await;
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group(format!("select_c{CONCURRENCY}"));
    group.throughput(Throughput::Elements(1));
    for (name, db) in &dbs {
        let conns: Vec<Arc<Conn>> = (0..CONCURRENCY).map(|_| Arc::new(db.connect())).collect();
        rt.block_on(concurrent(&conns, CONCURRENCY as u64 * 4));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| rt.block_on(concurrent(&conns, iters)));
        });
    }
    group.finish();

    let mut group = c.benchmark_group(format!("batch{BATCH}"));
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    let next_id = AtomicU64::new(0);
    for (name, db) in &dbs {
        let conn = db.connect();
        rt.block_on(async {
            if let Conn::Tidepool(c) = &conn {
                c.execute(
                    "CREATE TABLE IF NOT EXISTS criterion_bench (id INTEGER, v TEXT)",
                    (),
                )
                .await
                .expect("create");
            }
            let first = next_id.fetch_add(BATCH as u64, Ordering::Relaxed);
            conn.batch(first as i64).await;
        });
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let first = next_id.fetch_add(BATCH as u64, Ordering::Relaxed);
                        let start = Instant::now();
                        conn.batch(first as i64).await;
                        total += start.elapsed();
                    }
                    total
                })
            });
        });
    }
    group.finish();
    drop(dbs);
    drop(rt);
    drop(server);
}

/// `total` `SELECT ?` requests from one task per connection; returns the wall time.
async fn concurrent(conns: &[Arc<Conn>], total: u64) -> Duration {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .iter()
        .map(|conn| {
            let conn = Arc::clone(conn);
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    conn.select(i as i64).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    start.elapsed()
}

criterion_group! {
    name = remote;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = benches
}
criterion_main!(remote);
