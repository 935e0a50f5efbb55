//! `stream-memory`: a client's memory while it reads a large result row by row.
//!
//! Streams `--rows` rows (default 1,000,000) of `WITH RECURSIVE` output, each an integer and a
//! 100-byte text, through `conn.query` and `rows.next()`, and reports the resident set size
//! (`VmRSS`, sampled every 10,000 rows) and its peak (`VmHWM`) at 10k, 100k, 500k and 1M rows.
//! Each client runs in a fresh child process of this binary, so one client's peak never hides
//! another's; all of them read from ONE `tidepool-server` started by the parent.
//!
//! Variants: the tidepool client over HTTP and over WebSocket; the `libsql` crate's remote
//! client (HTTP); and, as the buffered contrast, the tidepool client keeping every row
//! (`Rows::collect_all`).

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context as _};
use clap::Parser;
use serde::{Deserialize, Serialize};
use tidepool_bench::memory::rss;
use tidepool_bench::server::{default_server_bin, Server};

#[derive(Parser, Debug)]
#[command(
    name = "stream-memory",
    about = "Peak RSS of clients streaming a large result"
)]
struct Cli {
    /// Rows in the result.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// A running server (`http://host:port`) instead of starting one.
    #[arg(long)]
    url: Option<String>,
    /// The server binary to start when --url is not given.
    #[arg(long, env = "TIDEPOOL_SERVER_BIN")]
    server_bin: Option<PathBuf>,
    /// Only these variants (comma-separated): tidepool-http, tidepool-ws, libsql-http,
    /// tidepool-http-collect.
    #[arg(long, value_delimiter = ',')]
    variants: Vec<String>,
    /// Internal: run one variant in this process and print its figures as JSON lines.
    #[arg(long, hide = true)]
    child: Option<String>,
}

const VARIANTS: [&str; 4] = [
    "tidepool-http",
    "tidepool-ws",
    "libsql-http",
    "tidepool-http-collect",
];
const CHECKPOINTS: [u64; 4] = [10_000, 100_000, 500_000, 1_000_000];
const SAMPLE_EVERY: u64 = 10_000;

fn query_sql() -> &'static str {
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < ?) \
     SELECT i, printf('%0100d', i) AS pad FROM r"
}

/// The figures at one checkpoint.
#[derive(Debug, Serialize, Deserialize)]
struct Point {
    rows: u64,
    secs: f64,
    rss_kib: u64,
    max_sampled_rss_kib: u64,
    peak_kib: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct ChildReport {
    variant: String,
    baseline_rss_kib: u64,
    baseline_peak_kib: u64,
    points: Vec<Point>,
    total_rows: u64,
    secs: f64,
}

/// Counts rows, samples RSS, and records the checkpoints.
struct Meter {
    start: Instant,
    rows: u64,
    max_rss: u64,
    points: Vec<Point>,
}

impl Meter {
    fn new() -> Self {
        Meter {
            start: Instant::now(),
            rows: 0,
            max_rss: 0,
            points: Vec::new(),
        }
    }

    fn row(&mut self, id: i64, pad: &str) -> anyhow::Result<()> {
        self.rows += 1;
        if id != self.rows as i64 || pad.len() != 100 {
            bail!(
                "row {} is id {id} with {} bytes of text",
                self.rows,
                pad.len()
            );
        }
        let checkpoint = CHECKPOINTS.contains(&self.rows);
        if self.rows % SAMPLE_EVERY == 0 || checkpoint {
            let now = rss().context("/proc/self/status")?;
            self.max_rss = self.max_rss.max(now.current_kib);
            if checkpoint {
                self.points.push(Point {
                    rows: self.rows,
                    secs: self.start.elapsed().as_secs_f64(),
                    rss_kib: now.current_kib,
                    max_sampled_rss_kib: self.max_rss,
                    peak_kib: now.peak_kib,
                });
            }
        }
        Ok(())
    }
}

async fn run_variant(variant: &str, url: &str, rows: u64) -> anyhow::Result<ChildReport> {
    let ws_url = url.replacen("http", "ws", 1);
    let mut meter = Meter::new();
    let (baseline, start) = match variant {
        "tidepool-http" | "tidepool-ws" | "tidepool-http-collect" => {
            let url = if variant == "tidepool-ws" {
                &ws_url
            } else {
                url
            };
            let db = tidepool::Builder::new(url).build()?;
            let conn = db.connect();
            conn.query("SELECT 1", ()).await?.collect_all().await?;
            let baseline = rss().context("/proc/self/status")?;
            let start = Instant::now();
            meter.start = start;
            let mut result = conn.query(query_sql(), (rows as i64,)).await?;
            if variant == "tidepool-http-collect" {
                // The buffered contrast: every row kept until the end.
                let mut kept = Vec::new();
                while let Some(row) = result.next().await? {
                    meter.row(row.get(0)?, &row.get::<String>(1)?)?;
                    kept.push(row);
                }
                drop(kept);
            } else {
                while let Some(row) = result.next().await? {
                    meter.row(row.get(0)?, &row.get::<String>(1)?)?;
                }
            }
            (baseline, start)
        }
        "libsql-http" => {
            let mut http = hyper014::client::HttpConnector::new();
            http.set_nodelay(true);
            let db = libsql::Builder::new_remote(url.to_owned(), String::new())
                .connector(http)
                .build()
                .await?;
            let conn = db.connect()?;
            let mut warm = conn.query("SELECT 1", ()).await?;
            while warm.next().await?.is_some() {}
            let baseline = rss().context("/proc/self/status")?;
            let start = Instant::now();
            meter.start = start;
            let mut result = conn
                .query(query_sql(), libsql::params![rows as i64])
                .await?;
            while let Some(row) = result.next().await? {
                meter.row(row.get(0)?, &row.get::<String>(1)?)?;
            }
            (baseline, start)
        }
        other => bail!("unknown variant {other:?}; one of {VARIANTS:?}"),
    };
    anyhow::ensure!(meter.rows == rows, "read {} rows of {rows}", meter.rows);
    Ok(ChildReport {
        variant: variant.to_owned(),
        baseline_rss_kib: baseline.current_kib,
        baseline_peak_kib: baseline.peak_kib,
        points: meter.points,
        total_rows: meter.rows,
        secs: start.elapsed().as_secs_f64(),
    })
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(variant) = &cli.child {
        let url = cli.url.as_deref().context("--child needs --url")?;
        let runtime = tokio::runtime::Runtime::new()?;
        let report = runtime.block_on(run_variant(variant, url, cli.rows))?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }

    let (server, url) = match &cli.url {
        Some(url) => (None, url.trim_end_matches('/').to_owned()),
        None => {
            let bin = cli.server_bin.clone().unwrap_or_else(default_server_bin);
            let server = Server::child(&bin)?;
            let url = server.url().to_owned();
            (Some(server), url)
        }
    };
    let variants: Vec<&str> = VARIANTS
        .iter()
        .copied()
        .filter(|v| cli.variants.is_empty() || cli.variants.iter().any(|f| f == v))
        .collect();
    let exe = std::env::current_exe()?;
    let mut reports = Vec::new();
    for variant in variants {
        eprintln!("== {variant}: {} rows from {url}", cli.rows);
        let child = Command::new(&exe)
            .args([
                "--child",
                variant,
                "--url",
                &url,
                "--rows",
                &cli.rows.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let output = child.wait_with_output()?;
        let line = BufReader::new(output.stdout.as_slice())
            .lines()
            .map_while(Result::ok)
            .last()
            .unwrap_or_default();
        match serde_json::from_str::<ChildReport>(&line) {
            Ok(report) if output.status.success() => reports.push(report),
            _ => {
                eprintln!("{variant} failed ({})", output.status);
                reports.push(ChildReport {
                    variant: format!("{variant} (FAILED)"),
                    baseline_rss_kib: 0,
                    baseline_peak_kib: 0,
                    points: Vec::new(),
                    total_rows: 0,
                    secs: 0.0,
                });
            }
        }
    }
    drop(server);

    println!(
        "stream-memory: {} rows of (integer, 100-byte text) through conn.query + rows.next(), \
         one process per client; MiB",
        cli.rows
    );
    println!(
        "{:<24} {:>9} {:>10} | {:>24} | {:>24} | {:>24} | {:>24} | {:>9}",
        "variant",
        "base RSS",
        "base peak",
        "10k rows: RSS/max/peak",
        "100k rows",
        "500k rows",
        "1M rows",
        "rows/s"
    );
    for r in &reports {
        let mut cells = Vec::new();
        for checkpoint in CHECKPOINTS {
            let cell = r.points.iter().find(|p| p.rows == checkpoint).map_or_else(
                || "-".to_owned(),
                |p| {
                    format!(
                        "{}/{}/{}",
                        mib(p.rss_kib),
                        mib(p.max_sampled_rss_kib),
                        mib(p.peak_kib)
                    )
                },
            );
            cells.push(cell);
        }
        let rate = if r.secs > 0.0 {
            r.total_rows as f64 / r.secs
        } else {
            0.0
        };
        println!(
            "{:<24} {:>9} {:>10} | {:>24} | {:>24} | {:>24} | {:>24} | {:>9.0}",
            r.variant,
            mib(r.baseline_rss_kib),
            mib(r.baseline_peak_kib),
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            rate
        );
    }
    println!(
        "RSS = VmRSS at the checkpoint; max = largest VmRSS sampled every {SAMPLE_EVERY} rows so \
         far; peak = VmHWM (process peak so far). base = after connecting and one SELECT 1."
    );
    if reports.iter().any(|r| r.total_rows != cli.rows) {
        std::process::exit(1);
    }
    Ok(())
}
