//! `client-compare`: the `tidepool` client crate against the `libsql` crate's remote client and
//! the stock `@libsql/client` (Node), all against ONE `tidepool-server` in one run.
//!
//! Scenarios, each with every client that can run it:
//! - `select/seq`: `SELECT ?` with one argument, one connection, one request at a time, rows
//!   read to the end (`--requests` after `--warmup`), over HTTP and over WebSocket;
//! - `select/c64`: the same from `--concurrency` connections of one database at once
//!   (`--concurrent-requests` in all), on a multi-thread tokio runtime;
//! - `batch1000`: `--batch-size` INSERTs in one atomic request (`--batch-rounds` times).
//!
//! The `libsql` crate speaks Hrana over HTTP only, so it has no WebSocket rows; it also has no
//! batch with bound parameters, so its batch is `execute_transactional_batch` over the same
//! INSERTs with the values written into the SQL text (one request, as tidepool's). The Node
//! client is run as a child (`bench/node/libsql-client-bench.mjs`) after the Rust clients.
//!
//! Ratios are "times better than": for latency `other p50 / tidepool p50`, for throughput
//! `tidepool ops/s / other ops/s`; above 1.0 tidepool is faster.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use serde::Serialize;
use tidepool_bench::server::{default_server_bin, Server};
use tidepool_bench::stats::{self, Report};

#[derive(Parser, Debug)]
#[command(
    name = "client-compare",
    about = "tidepool vs the libsql crate vs @libsql/client against one tidepool-server"
)]
struct Cli {
    /// A running server (`http://host:port`) instead of starting one.
    #[arg(long)]
    url: Option<String>,
    /// The server binary to start when --url is not given.
    #[arg(long, env = "TIDEPOOL_SERVER_BIN")]
    server_bin: Option<PathBuf>,
    /// Timed requests of each sequential scenario.
    #[arg(long, default_value_t = 5000)]
    requests: u64,
    /// Untimed warm-up requests before each scenario.
    #[arg(long, default_value_t = 200)]
    warmup: u64,
    /// Connections (and tasks) of the concurrent scenarios.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Timed requests of each concurrent scenario, spread over the connections.
    #[arg(long, default_value_t = 20_000)]
    concurrent_requests: u64,
    /// INSERTs in the batch scenario's single request.
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Timed batches (after two untimed ones).
    #[arg(long, default_value_t = 20)]
    batch_rounds: u64,
    /// The @libsql/client script (its node_modules must be installed: `npm ci` in its folder).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/node/libsql-client-bench.mjs"))]
    node_script: PathBuf,
    /// The node executable.
    #[arg(long, default_value = "node")]
    node: String,
    /// Skip @libsql/client.
    #[arg(long)]
    no_node: bool,
    /// Worker threads of the client runtime (default: one per core).
    #[arg(long)]
    client_threads: Option<usize>,
    /// Also write every report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

const TABLE_SQL: &str = "CREATE TABLE IF NOT EXISTS client_bench (id INTEGER, v TEXT)";
const INSERT_SQL: &str = "INSERT INTO client_bench (id, v) VALUES (?, ?)";

/// A database handle of one of the Rust clients.
enum Db {
    Tidepool(tidepool::Database),
    Libsql(Arc<libsql::Database>),
}

/// A connection of one of the Rust clients.
enum Conn {
    Tidepool(tidepool::Connection),
    Libsql(libsql::Connection),
}

impl Db {
    async fn open(client: Client, http_url: &str) -> anyhow::Result<Db> {
        Ok(match client {
            Client::TidepoolHttp => Db::Tidepool(tidepool::Builder::new(http_url).build()?),
            Client::TidepoolWs => {
                let ws = http_url.replacen("http", "ws", 1);
                Db::Tidepool(tidepool::Builder::new(ws).build()?)
            }
            Client::Libsql => {
                let mut http = hyper014::client::HttpConnector::new();
                http.set_nodelay(true);
                let db = libsql::Builder::new_remote(http_url.to_owned(), String::new())
                    .connector(http)
                    .build()
                    .await?;
                Db::Libsql(Arc::new(db))
            }
        })
    }

    fn connect(&self) -> anyhow::Result<Conn> {
        Ok(match self {
            Db::Tidepool(db) => Conn::Tidepool(db.connect()),
            Db::Libsql(db) => Conn::Libsql(db.connect()?),
        })
    }
}

impl Conn {
    /// `SELECT ?` with `i`, reading the rows to the end and checking the value.
    async fn select(&self, i: i64) -> anyhow::Result<()> {
        let got: i64 = match self {
            Conn::Tidepool(conn) => {
                let mut rows = conn.query("SELECT ?", (i,)).await?;
                let row = rows.next().await?.context("no row")?;
                let value = row.get(0)?;
                anyhow::ensure!(rows.next().await?.is_none(), "more than one row");
                value
            }
            Conn::Libsql(conn) => {
                let mut rows = conn.query("SELECT ?", libsql::params![i]).await?;
                let row = rows.next().await?.context("no row")?;
                let value = row.get(0)?;
                anyhow::ensure!(rows.next().await?.is_none(), "more than one row");
                value
            }
        };
        anyhow::ensure!(got == i, "SELECT ? returned {got}, not {i}");
        Ok(())
    }

    async fn execute(&self, sql: &str) -> anyhow::Result<()> {
        match self {
            Conn::Tidepool(conn) => drop(conn.execute(sql, ()).await?),
            Conn::Libsql(conn) => drop(conn.execute(sql, ()).await?),
        }
        Ok(())
    }
}

/// One batch, built before the clock starts.
enum PreparedBatch {
    Tidepool(Vec<tidepool::Statement>),
    Libsql(String),
}

impl PreparedBatch {
    fn new(conn: &Conn, first: i64, size: usize) -> Self {
        let ids = first..first + size as i64;
        match conn {
            Conn::Tidepool(_) => PreparedBatch::Tidepool(
                ids.map(|id| tidepool::Statement::new(INSERT_SQL, (id, "tidepool batch row")))
                    .collect(),
            ),
            Conn::Libsql(_) => PreparedBatch::Libsql(
                ids.map(|id| {
                    format!("INSERT INTO client_bench (id, v) VALUES ({id}, 'libsql batch row');")
                })
                .collect(),
            ),
        }
    }

    async fn run(self, conn: &Conn, size: usize) -> anyhow::Result<()> {
        match (self, conn) {
            (PreparedBatch::Tidepool(statements), Conn::Tidepool(conn)) => {
                let results = conn.batch(statements).await?;
                anyhow::ensure!(results.len() == size, "{} results", results.len());
            }
            (PreparedBatch::Libsql(sql), Conn::Libsql(conn)) => {
                conn.execute_transactional_batch(&sql).await?;
            }
            _ => bail!("a batch for another client"),
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    TidepoolHttp,
    TidepoolWs,
    Libsql,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::TidepoolHttp => "tidepool/http",
            Client::TidepoolWs => "tidepool/ws",
            Client::Libsql => "libsql-crate/http",
        }
    }
}

async fn sequential(db: &Db, cli: &Cli, name: &str) -> anyhow::Result<Report> {
    let conn = db.connect()?;
    for i in 0..cli.warmup {
        conn.select(i as i64).await?;
    }
    let mut latencies = Vec::with_capacity(cli.requests as usize);
    let start = Instant::now();
    for i in 0..cli.requests {
        let t = Instant::now();
        conn.select(i as i64).await?;
        latencies.push(t.elapsed().as_nanos() as u64);
    }
    Ok(Report::new(name, 1, 1, latencies, start.elapsed()))
}

/// `total` requests from `conns.len()` tasks, each on its own connection.
async fn drive(conns: &[Arc<Conn>], total: u64) -> anyhow::Result<(Vec<u64>, Duration)> {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .iter()
        .map(|conn| {
            let conn = Arc::clone(conn);
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return anyhow::Ok(latencies);
                    }
                    let t = Instant::now();
                    conn.select(i as i64).await?;
                    latencies.push(t.elapsed().as_nanos() as u64);
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(total as usize);
    for task in tasks {
        all.extend(task.await??);
    }
    Ok((all, start.elapsed()))
}

async fn concurrent(db: &Db, cli: &Cli, name: &str) -> anyhow::Result<Report> {
    let conns = (0..cli.concurrency)
        .map(|_| db.connect().map(Arc::new))
        .collect::<anyhow::Result<Vec<_>>>()?;
    drive(&conns, cli.warmup.max(4 * cli.concurrency as u64)).await?;
    let (latencies, elapsed) = drive(&conns, cli.concurrent_requests).await?;
    Ok(Report::new(name, cli.concurrency, 1, latencies, elapsed))
}

async fn batches(db: &Db, cli: &Cli, name: &str, first_id: &mut i64) -> anyhow::Result<Report> {
    let conn = db.connect()?;
    conn.execute(TABLE_SQL).await?;
    let size = cli.batch_size;
    let mut latencies = Vec::new();
    let mut timed = Duration::ZERO;
    for round in 0..cli.batch_rounds + 2 {
        let batch = PreparedBatch::new(&conn, *first_id, size);
        *first_id += size as i64;
        let t = Instant::now();
        batch.run(&conn, size).await?;
        let took = t.elapsed();
        if round >= 2 {
            latencies.push(took.as_nanos() as u64);
            timed += took;
        }
    }
    Ok(Report::new(name, 1, size as u64, latencies, timed))
}

/// The @libsql/client figures, from the Node script's JSON, with scenario names like ours.
fn run_node(cli: &Cli, url: &str) -> anyhow::Result<Vec<Report>> {
    let dir = tempfile::tempdir()?;
    let json = dir.path().join("libsql-client.json");
    let script_dir = cli
        .node_script
        .parent()
        .context("the node script has no folder")?;
    eprintln!("== @libsql/client ({})", cli.node_script.display());
    let status = Command::new(&cli.node)
        .current_dir(script_dir)
        .arg(&cli.node_script)
        .args(["--url", url])
        .args(["--requests", &cli.requests.to_string()])
        .args([
            "--concurrent-requests",
            &cli.concurrent_requests.to_string(),
        ])
        .args(["--warmup", &cli.warmup.to_string()])
        .args(["--concurrency", &cli.concurrency.to_string()])
        .arg("--json")
        .arg(&json)
        .stdout(std::process::Stdio::null())
        .status()
        .with_context(|| format!("running {}", cli.node))?;
    let text = std::fs::read_to_string(&json)
        .with_context(|| format!("the node script ({status}) wrote no results"))?;
    let parsed: serde_json::Value = serde_json::from_str(&text)?;
    let results = parsed["results"].as_array().context("no results")?;
    let mut reports = Vec::new();
    for r in results {
        let scenario = r["scenario"].as_str().unwrap_or("?");
        // libsql-client/http/select/c64 -> libsql-client/http + select/c64
        let name = scenario.replacen("libsql-client/", "@libsql/client/", 1);
        let concurrency = r["concurrency"].as_u64().unwrap_or(1) as usize;
        if let Some(error) = r["error"].as_str() {
            reports.push(Report::failed(&name, concurrency, error.to_owned()));
            continue;
        }
        let f = |key: &str| r[key].as_f64().unwrap_or(0.0);
        reports.push(Report {
            scenario: name,
            requests: r["requests"].as_u64().unwrap_or(0),
            concurrency,
            ops_per_request: 1,
            elapsed_secs: f("elapsed_secs"),
            requests_per_sec: f("requests_per_sec"),
            ops_per_sec: f("ops_per_sec"),
            p50_us: f("p50_us"),
            p90_us: f("p90_us"),
            p99_us: f("p99_us"),
            max_us: f("max_us"),
            error: None,
        });
    }
    Ok(reports)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

#[derive(Serialize)]
struct Output<'a> {
    url: &'a str,
    cores: usize,
    load_before: String,
    load_after: String,
    results: &'a [Report],
}

fn find<'a>(reports: &'a [Report], client: &str, scenario: &str) -> Option<&'a Report> {
    let name = format!("{client}/{scenario}");
    reports
        .iter()
        .find(|r| r.scenario == name && r.error.is_none())
}

/// The side-by-side table: p50 (µs) and ops/s per client, and tidepool's ratios.
fn comparison(reports: &[Report], scenarios: &[String]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<11} {:<4} | {:>20} | {:>20} | {:>20} | {:>16} | {:>16}",
        "scenario",
        "via",
        "tidepool p50/ops",
        "libsql crate p50/ops",
        "@libsql/client",
        "x libsql crate",
        "x @libsql/client"
    );
    let cell = |r: Option<&Report>| match r {
        Some(r) => format!("{:>8.1}µs {:>8.0}/s", r.p50_us, r.ops_per_sec),
        None => "n/a".to_owned(),
    };
    // Latency ratio (p50) and throughput ratio (ops/s): above 1.0, tidepool is faster.
    let ratio = |tp: Option<&Report>, other: Option<&Report>| match (tp, other) {
        (Some(t), Some(o)) if t.p50_us > 0.0 && o.ops_per_sec > 0.0 => format!(
            "{:>5.2}x / {:>5.2}x",
            o.p50_us / t.p50_us,
            t.ops_per_sec / o.ops_per_sec
        ),
        _ => "n/a".to_owned(),
    };
    let rows = scenarios
        .iter()
        .flat_map(|s| [(s.as_str(), "http"), (s.as_str(), "ws")]);
    for (scenario, via) in rows {
        let tp = find(reports, &format!("tidepool/{via}"), scenario);
        let crate_ = find(reports, &format!("libsql-crate/{via}"), scenario);
        let node = find(reports, &format!("@libsql/client/{via}"), scenario);
        let _ = writeln!(
            out,
            "{:<11} {:<4} | {:>20} | {:>20} | {:>20} | {:>16} | {:>16}",
            scenario,
            via,
            cell(tp),
            cell(crate_),
            cell(node),
            ratio(tp, crate_),
            ratio(tp, node)
        );
    }
    let _ = writeln!(
        out,
        "ratios: other p50 / tidepool p50 (latency) and tidepool ops/s / other ops/s \
         (throughput); above 1.0x tidepool is faster. A batch's ops are its rows inserted."
    );
    // The targets.
    let mut targets = Vec::new();
    for via in ["http", "ws"] {
        let tp = find(reports, &format!("tidepool/{via}"), "select/seq");
        if let Some(tp) = tp {
            let ok = tp.p50_us < 100.0;
            targets.push(format!(
                "{} select/seq p50 {:.1} µs over {via} < 100 µs",
                if ok { "MET   " } else { "MISSED" },
                tp.p50_us
            ));
            if let Some(c) = find(reports, &format!("libsql-crate/{via}"), "select/seq") {
                let x = c.p50_us / tp.p50_us;
                targets.push(format!(
                    "{} select/seq over {via}: {x:.2}x the libsql crate (target >= 1.0x)",
                    if x >= 1.0 { "MET   " } else { "MISSED" }
                ));
            }
            if let Some(n) = find(reports, &format!("@libsql/client/{via}"), "select/seq") {
                let x = n.p50_us / tp.p50_us;
                targets.push(format!(
                    "{} select/seq over {via}: {x:.2}x @libsql/client (target >= 5x)",
                    if x >= 5.0 { "MET   " } else { "MISSED" }
                ));
            }
        }
    }
    for t in targets {
        let _ = writeln!(out, "{t}");
    }
    out
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let load_before = loadavg();
    let (server, url) = match &cli.url {
        Some(url) => (None, url.trim_end_matches('/').to_owned()),
        None => {
            let bin = cli.server_bin.clone().unwrap_or_else(default_server_bin);
            let server = Server::child(&bin)?;
            let url = server.url().to_owned();
            (Some(server), url)
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.client_threads.unwrap_or(cores).max(1))
        .enable_all()
        .build()?;
    let scenarios = [
        "select/seq".to_owned(),
        format!("select/c{}", cli.concurrency),
        format!("batch{}", cli.batch_size),
    ];
    let mut reports = runtime.block_on(async {
        let mut reports = Vec::new();
        let mut first_id = 0i64;
        let clients = [Client::TidepoolHttp, Client::TidepoolWs, Client::Libsql];
        let mut dbs = Vec::new();
        for client in clients {
            dbs.push((client, Db::open(client, &url).await?));
        }
        // Scenario by scenario, every client back to back, so they see the same load.
        for (kind, scenario) in scenarios.iter().enumerate() {
            for (client, db) in &dbs {
                let name = format!("{}/{scenario}", client.name());
                eprint!("{name:<36}");
                let result = match kind {
                    0 => sequential(db, &cli, &name).await,
                    1 => concurrent(db, &cli, &name).await,
                    _ => batches(db, &cli, &name, &mut first_id).await,
                };
                let report = result
                    .unwrap_or_else(|e| Report::failed(&name, cli.concurrency, format!("{e:#}")));
                match &report.error {
                    None => eprintln!(
                        "{:>9.0} ops/s  p50 {:>8.1} µs  p99 {:>8.1} µs",
                        report.ops_per_sec, report.p50_us, report.p99_us
                    ),
                    Some(e) => eprintln!("FAILED: {e}"),
                }
                reports.push(report);
            }
        }
        anyhow::Ok(reports)
    })?;
    drop(runtime);
    if !cli.no_node {
        match run_node(&cli, &url) {
            Ok(node) => reports.extend(node),
            Err(e) => eprintln!("@libsql/client not measured: {e:#}"),
        }
    }
    drop(server);
    let load_after = loadavg();

    let title = format!(
        "client-compare: {url}; select/seq {} requests, select/c{} {} requests, {} batches of {} \
         after warm-up; {cores} cores shared by clients and server; load average before {} \
         after {}",
        cli.requests,
        cli.concurrency,
        cli.concurrent_requests,
        cli.batch_rounds,
        cli.batch_size,
        load_before,
        load_after
    );
    print!("{}", stats::table(&title, &reports));
    println!();
    print!("{}", comparison(&reports, &scenarios));
    if let Some(path) = &cli.json {
        let output = Output {
            url: &url,
            cores,
            load_before,
            load_after,
            results: &reports,
        };
        std::fs::write(path, serde_json::to_vec_pretty(&output)?)?;
    }
    if reports.iter().any(|r| r.error.is_some()) {
        std::process::exit(1);
    }
    Ok(())
}
