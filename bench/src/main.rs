//! `tidepool-loadgen`: how fast Tidepool's reference server answers the smallest requests over
//! each transport (HTTP JSON, HTTP protobuf, WebSocket hrana3, WebSocket hrana3-protobuf).
//!
//! The client side is kept to the floor: hyper's pooled legacy client with keep-alive for HTTP,
//! tokio-tungstenite for WebSocket, TCP_NODELAY everywhere, no client library in between. By
//! default the server is started as a child process on 127.0.0.1:0 with a temporary database
//! (see `server.rs` for why); `--url` aims at a running server instead (e.g. stock sqld).
//! Everything runs over loopback, and every loop is bounded by a request count or a deadline.

mod http;
mod runner;
mod ws;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use serde::Serialize;
use tidepool_bench::{server, stats};
use tidepool_protocol::{Encoding, Stmt};

use crate::runner::{Plan, Scenario};
use crate::stats::Report;

#[derive(Parser, Debug)]
#[command(
    name = "tidepool-loadgen",
    about = "Benchmarks tidepool-server (or any Hrana 3 server) over HTTP and WebSocket"
)]
struct Cli {
    /// Timed requests per scenario (after the warm-up). Ignored with --duration-secs.
    #[arg(long, default_value_t = 5000)]
    requests: u64,
    /// Untimed warm-up requests per scenario.
    #[arg(long, default_value_t = 200)]
    warmup: u64,
    /// Tasks in the concurrent scenarios (and streams/sockets in the WebSocket ones).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Run each scenario for this many seconds instead of a fixed number of requests.
    #[arg(long)]
    duration_secs: Option<f64>,
    /// Only scenarios whose name contains one of these (comma-separated), e.g. `ws-proto,select/seq`.
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Statements in the pipelined-insert scenario's single request.
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Timed rounds of the pipelined-insert scenario.
    #[arg(long, default_value_t = 20)]
    batch_rounds: u64,
    /// A running server to measure (`http://host:port`) instead of starting one.
    #[arg(long)]
    url: Option<String>,
    /// Bearer token (HTTP) / hello JWT (WebSocket) for a server with auth on.
    #[arg(long, env = "TIDEPOOL_AUTH_TOKEN")]
    auth_token: Option<String>,
    /// How to start the server when --url is not given.
    #[arg(long, value_enum, default_value_t = ServerMode::Child)]
    server: ServerMode,
    /// The server binary for `--server child` (default: tidepool-server next to this binary).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Worker threads of the server's runtime for `--server in-process`.
    #[arg(long, default_value_t = 2)]
    server_threads: usize,
    /// Worker threads of the load generator's runtime (default: one per core).
    #[arg(long)]
    client_threads: Option<usize>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Print the scenario names and exit.
    #[arg(long)]
    list: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ServerMode {
    /// A `tidepool-server` child process (its own runtime; how it is deployed).
    Child,
    /// The server library on a separate runtime inside this process.
    InProcess,
}

#[derive(Serialize, Debug)]
struct Output<'a> {
    url: &'a str,
    server: String,
    cores: usize,
    client_threads: usize,
    requests: u64,
    warmup: u64,
    duration_secs: Option<f64>,
    concurrency: usize,
    results: &'a [Report],
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let plan = Plan {
        requests: cli.requests.max(1),
        warmup: cli.warmup,
        duration: cli.duration_secs.map(Duration::from_secs_f64),
        concurrency: cli.concurrency.max(1),
        batch_size: cli.batch_size.max(1),
        batch_rounds: cli.batch_rounds.max(1),
    };
    let scenarios: Vec<Scenario> = runner::all_scenarios(&plan)
        .into_iter()
        .filter(|s| cli.scenarios.is_empty() || cli.scenarios.iter().any(|f| s.name.contains(f)))
        .collect();
    if cli.list {
        for s in &scenarios {
            println!("{}", s.name);
        }
        return Ok(());
    }
    anyhow::ensure!(!scenarios.is_empty(), "no scenario matches --scenarios");

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let client_threads = cli.client_threads.unwrap_or(cores).max(1);

    // The server first (a child, or its own runtime), then the client's runtime.
    let (started, url, server_desc) = match (&cli.url, cli.server) {
        (Some(url), _) => (
            None,
            url.trim_end_matches('/').to_owned(),
            "external".to_owned(),
        ),
        (None, ServerMode::Child) => {
            let bin = cli
                .server_bin
                .clone()
                .unwrap_or_else(server::default_server_bin);
            let s = server::Server::child(&bin)?;
            let url = s.url().to_owned();
            (Some(s), url, format!("child process {}", bin.display()))
        }
        (None, ServerMode::InProcess) => {
            let s = server::Server::in_process(cli.server_threads)?;
            let url = s.url().to_owned();
            let desc = format!("in-process, {} worker threads", cli.server_threads);
            (Some(s), url, desc)
        }
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads)
        .thread_name("loadgen")
        .enable_all()
        .build()?;
    let token = cli.auth_token.as_deref();
    let reports = runtime.block_on(async {
        let setup = http::HttpTarget::new(&url, Encoding::Json, token)?;
        setup
            .execute_and_close(vec![Stmt::new(runner::CREATE_SQL)])
            .await
            .context("creating the bench table")?;
        let mut reports = Vec::new();
        for scenario in &scenarios {
            eprint!("{:<36}", scenario.name);
            let report = match runner::run(scenario, &url, token, &plan).await {
                Ok(report) => report,
                Err(e) => Report::failed(&scenario.name, plan.concurrency, format!("{e:#}")),
            };
            match &report.error {
                None => eprintln!(
                    "{:>9.0} req/s  p50 {:>8.1} µs  p99 {:>8.1} µs",
                    report.requests_per_sec, report.p50_us, report.p99_us
                ),
                Some(e) => eprintln!("FAILED: {e}"),
            }
            reports.push(report);
        }
        anyhow::Ok(reports)
    })?;
    drop(runtime);
    drop(started);

    let amount = match plan.duration {
        Some(d) => format!("{:.1} s per scenario", d.as_secs_f64()),
        None => format!("{} requests per scenario", plan.requests),
    };
    let title = format!(
        "tidepool-loadgen: {url} (server: {server_desc}); {amount} after {} warm-up; \
         {cores} cores shared by client ({client_threads} threads) and server",
        plan.warmup
    );
    print!("{}", stats::table(&title, &reports));

    if let Some(path) = &cli.json {
        let output = Output {
            url: &url,
            server: server_desc,
            cores,
            client_threads,
            requests: plan.requests,
            warmup: plan.warmup,
            duration_secs: cli.duration_secs,
            concurrency: plan.concurrency,
            results: &reports,
        };
        std::fs::write(path, serde_json::to_vec_pretty(&output)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if reports.iter().any(|r| r.error.is_some()) {
        std::process::exit(1);
    }
    Ok(())
}
