//! Scenarios and the loop that drives them: a fixed number of requests (or a time budget) spread
//! over N tasks, each request timed on its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;
use tidepool_protocol::{Encoding, Stmt, Value};
use tokio::sync::Mutex;

use crate::http::HttpTarget;
use crate::stats::Report;
use crate::ws::{self, WsConn};

pub const SELECT_SQL: &str = "SELECT ?";
pub const INSERT_SQL: &str = "INSERT INTO bench(v) VALUES (?)";
pub const CREATE_SQL: &str = "CREATE TABLE IF NOT EXISTS bench(v INTEGER)";

/// No run does more requests than this, whatever the time budget.
const MAX_REQUESTS: u64 = 50_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Http(Encoding),
    Ws(Encoding),
}

impl Transport {
    pub const ALL: [Transport; 4] = [
        Transport::Http(Encoding::Json),
        Transport::Http(Encoding::Protobuf),
        Transport::Ws(Encoding::Json),
        Transport::Ws(Encoding::Protobuf),
    ];

    fn name(self) -> &'static str {
        match self {
            Transport::Http(Encoding::Json) => "http-json",
            Transport::Http(Encoding::Protobuf) => "http-proto",
            Transport::Ws(Encoding::Json) => "ws-json",
            Transport::Ws(Encoding::Protobuf) => "ws-proto",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// `SELECT ?`, one argument.
    Select,
    /// One-row `INSERT INTO bench(v) VALUES (?)`.
    Insert,
    /// `batch_size` inserts in one request (one round trip).
    InsertPipeline,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One request at a time.
    Sequential,
    /// N tasks; over HTTP they share one pooled client.
    Concurrent,
    /// WebSocket: N tasks, each on its own stream, all on one socket.
    Multiplexed,
    /// WebSocket: N tasks, each with its own socket.
    Sockets,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub transport: Transport,
    pub workload: Workload,
    pub mode: Mode,
}

/// How much each scenario runs.
#[derive(Clone, Debug)]
pub struct Plan {
    pub requests: u64,
    pub warmup: u64,
    pub duration: Option<Duration>,
    pub concurrency: usize,
    pub batch_size: usize,
    pub batch_rounds: u64,
}

/// Every scenario, in report order.
pub fn all_scenarios(plan: &Plan) -> Vec<Scenario> {
    let c = plan.concurrency;
    let mut out = Vec::new();
    for transport in Transport::ALL {
        let modes: &[(Mode, String)] = &match transport {
            Transport::Http(_) => vec![
                (Mode::Sequential, "seq".to_owned()),
                (Mode::Concurrent, format!("c{c}")),
            ],
            Transport::Ws(_) => vec![
                (Mode::Sequential, "seq".to_owned()),
                (Mode::Multiplexed, format!("c{c}-mux")),
                (Mode::Sockets, format!("c{c}-sockets")),
            ],
        };
        for (workload, wname) in [(Workload::Select, "select"), (Workload::Insert, "insert")] {
            for (mode, mname) in modes {
                out.push(Scenario {
                    name: format!("{}/{wname}/{mname}", transport.name()),
                    transport,
                    workload,
                    mode: *mode,
                });
            }
        }
        out.push(Scenario {
            name: format!("{}/insert-x{}/pipelined", transport.name(), plan.batch_size),
            transport,
            workload: Workload::InsertPipeline,
            mode: Mode::Sequential,
        });
    }
    out
}

fn stmt(sql: &str, i: u64) -> Stmt {
    Stmt {
        args: vec![Value::Integer(i as i64)],
        ..Stmt::new(sql)
    }
}

/// One timed request: `(task index, request number)`.
type Op = Arc<dyn Fn(usize, u64) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// Runs one scenario against `url`.
pub async fn run(
    scenario: &Scenario,
    url: &str,
    token: Option<&str>,
    plan: &Plan,
) -> anyhow::Result<Report> {
    let concurrency = match scenario.mode {
        Mode::Sequential => 1,
        _ => plan.concurrency.max(1),
    };
    let (ops_per_request, requests, warmup, duration) = match scenario.workload {
        Workload::InsertPipeline => (plan.batch_size as u64, plan.batch_rounds, 2, None),
        _ => (1, plan.requests, plan.warmup, plan.duration),
    };
    let sql = match scenario.workload {
        Workload::Select => SELECT_SQL,
        Workload::Insert | Workload::InsertPipeline => INSERT_SQL,
    };
    let batch = plan.batch_size;
    let op: Op = match (scenario.transport, scenario.mode) {
        (Transport::Http(encoding), _) => {
            let target = HttpTarget::new(url, encoding, token)?;
            if scenario.workload == Workload::InsertPipeline {
                Arc::new(move |_, i| {
                    let target = target.clone();
                    async move {
                        let base = i * batch as u64;
                        let stmts = (0..batch as u64).map(|k| stmt(sql, base + k)).collect();
                        target.execute_and_close(stmts).await
                    }
                    .boxed()
                })
            } else {
                Arc::new(move |_, i| {
                    let target = target.clone();
                    async move { target.execute_and_close(vec![stmt(sql, i)]).await }.boxed()
                })
            }
        }
        (Transport::Ws(encoding), Mode::Multiplexed) => {
            let mut conn = WsConn::connect(url, encoding, token).await?;
            for stream in 1..=concurrency as i32 {
                conn.open_stream(stream).await?;
            }
            let mux = Arc::new(conn.into_mux());
            Arc::new(move |task, i| {
                let mux = Arc::clone(&mux);
                async move {
                    mux.request(ws::execute(task as i32 + 1, stmt(sql, i)))
                        .await
                        .map(drop)
                }
                .boxed()
            })
        }
        (Transport::Ws(encoding), _) => {
            let mut conns = Vec::with_capacity(concurrency);
            for _ in 0..concurrency {
                let mut conn = WsConn::connect(url, encoding, token).await?;
                conn.open_stream(1).await?;
                conns.push(Mutex::new(conn));
            }
            let conns = Arc::new(conns);
            let pipelined = scenario.workload == Workload::InsertPipeline;
            Arc::new(move |task, i| {
                let conns = Arc::clone(&conns);
                async move {
                    let mut conn = conns[task].lock().await;
                    if pipelined {
                        let base = i * batch as u64;
                        let requests = (0..batch as u64)
                            .map(|k| ws::execute(1, stmt(sql, base + k)))
                            .collect();
                        conn.pipeline(requests).await
                    } else {
                        conn.request(ws::execute(1, stmt(sql, i))).await.map(drop)
                    }
                }
                .boxed()
            })
        }
    };
    // Warm-up: connections, pooled SQLite connections and statement caches, page cache.
    drive(&op, concurrency, warmup, None, 0)
        .await
        .context("warm-up")?;
    let (latencies, elapsed) = drive(&op, concurrency, requests, duration, warmup).await?;
    Ok(Report::new(
        &scenario.name,
        concurrency,
        ops_per_request,
        latencies,
        elapsed,
    ))
}

/// Issues `requests` requests (or as many as fit in `duration`) from `concurrency` tasks.
/// Returns every request's latency in nanoseconds and the wall-clock time of the whole run.
async fn drive(
    op: &Op,
    concurrency: usize,
    requests: u64,
    duration: Option<Duration>,
    first: u64,
) -> anyhow::Result<(Vec<u64>, Duration)> {
    let limit = if duration.is_some() {
        MAX_REQUESTS
    } else {
        requests
    };
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = duration.map(|d| start + d);
    let mut tasks = Vec::with_capacity(concurrency);
    for task in 0..concurrency {
        let op = Arc::clone(op);
        let next = Arc::clone(&next);
        let per_task = usize::try_from(limit.min(1 << 20) / concurrency as u64 + 1).unwrap_or(0);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_task);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= limit || deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let t = Instant::now();
                op(task, first + i).await?;
                latencies.push(t.elapsed().as_nanos() as u64);
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok((all, start.elapsed()))
}
