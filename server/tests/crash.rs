//! Crash safety: the real `tidepool-server` binary, killed with SIGKILL while clients write,
//! restarts on the same database file with every acknowledged write present and the file
//! intact.
//!
//! Each cycle starts the server as a child process, runs concurrent writers over HTTP pipelines
//! and kills the process mid-way. A write counts as acknowledged when its response arrived and
//! said it succeeded; after the restart every acknowledged row must be there, every transaction
//! must be whole or absent, and `PRAGMA integrity_check` must answer `ok`. Three kinds of writer
//! run side by side: autocommit inserts, three-row transactions in one batch, and interactive
//! transactions whose `COMMIT` travels in a second pipeline on the stream's baton.
//!
//! The server runs WAL with `synchronous=NORMAL`: a commit reaches the WAL file (the OS page
//! cache) before the response is sent, so a process kill, unlike a power cut, loses nothing.
//!
//! This is a test binary of its own rather than a module of `tests/integration/` because it
//! drives a child process, not the in-process server the integration fixtures start.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tidepool_protocol::http::{
    BatchStreamReq, CloseStreamReq, ExecuteStreamReq, PipelineReqBody, PipelineRespBody,
    StreamRequest, StreamResponse, StreamResult,
};
use tidepool_protocol::{Batch, BatchCond, BatchStep, Stmt, StmtResult, Value};

const CYCLES: u64 = 5;
/// Writers of each kind per cycle.
const WRITERS: u64 = 3;
/// Rows in one transaction.
const TXN_ROWS: u64 = 3;

/// A server child process on a loopback port.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    async fn start(db: &Path, log: &Path) -> Server {
        // A free port: bound, read and released. Another process taking it in between would make
        // the start fail loudly, not pass wrongly.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_tidepool-server"))
            .arg("--http-listen-addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--db-path")
            .arg(db)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn tidepool-server");
        let server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let health = client.get(format!("{}/health", server.url)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            assert!(Instant::now() < deadline, "server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no flush, no destructor runs.
    fn kill(mut self) {
        self.child.kill().expect("kill the server");
        self.child.wait().expect("reap the server");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn execute(sql: &str, args: Vec<Value>) -> StreamRequest {
    let mut stmt = Stmt::new(sql);
    stmt.args = args;
    StreamRequest::Execute(ExecuteStreamReq { stmt })
}

fn insert(id: u64, txn: u64) -> Stmt {
    let mut stmt = Stmt::new("INSERT INTO t (id, txn, pad) VALUES (?, ?, randomblob(200))");
    stmt.args = vec![int(id), int(txn)];
    stmt
}

fn int(n: u64) -> Value {
    Value::Integer(i64::try_from(n).expect("small"))
}

/// Posts a pipeline; `None` when the server is gone (or answered anything but 200).
async fn pipeline(
    client: &reqwest::Client,
    url: &str,
    baton: Option<String>,
    requests: Vec<StreamRequest>,
) -> Option<PipelineRespBody> {
    let body = PipelineReqBody { baton, requests };
    let response = client
        .post(format!("{url}/v3/pipeline"))
        .json(&body)
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

fn ok(result: &StreamResult) -> Option<&StreamResponse> {
    match result {
        StreamResult::Ok { response } => Some(response),
        StreamResult::Error { .. } => None,
    }
}

/// What the writers were told was committed: row ids, and the rows of each transaction.
#[derive(Default)]
struct Acked {
    rows: BTreeSet<u64>,
    /// Every transaction that was attempted (acknowledged or not): its row ids.
    txns: Vec<Vec<u64>>,
}

/// Inserts rows one per pipeline (autocommit) until the server is gone.
async fn autocommit_writer(
    url: String,
    first: u64,
    acked: Arc<Mutex<Acked>>,
    stop: Arc<AtomicBool>,
) {
    let client = reqwest::Client::new();
    for id in first.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let requests = vec![
            StreamRequest::Execute(ExecuteStreamReq {
                stmt: insert(id, 0),
            }),
            StreamRequest::Close(CloseStreamReq {}),
        ];
        let Some(resp) = pipeline(&client, &url, None, requests).await else {
            return;
        };
        if resp.results.first().and_then(ok).is_some() {
            acked.lock().expect("lock").rows.insert(id);
        }
    }
}

/// Inserts `TXN_ROWS` rows per transaction in one batch: BEGIN, inserts, COMMIT (each step on
/// the previous one's success), ROLLBACK otherwise. Acknowledged when the COMMIT step succeeded.
async fn batch_writer(url: String, first: u64, acked: Arc<Mutex<Acked>>, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::new();
    for txn in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let ids: Vec<u64> = (0..TXN_ROWS).map(|i| first + txn * TXN_ROWS + i).collect();
        let mut steps = vec![BatchStep {
            condition: None,
            stmt: Stmt::new("BEGIN"),
        }];
        for &id in &ids {
            steps.push(BatchStep {
                condition: Some(BatchCond::Ok {
                    step: u32::try_from(steps.len() - 1).expect("small"),
                }),
                stmt: insert(id, ids[0]),
            });
        }
        let commit = steps.len();
        steps.push(BatchStep {
            condition: Some(BatchCond::Ok {
                step: u32::try_from(commit - 1).expect("small"),
            }),
            stmt: Stmt::new("COMMIT"),
        });
        steps.push(BatchStep {
            condition: Some(BatchCond::Not {
                cond: Box::new(BatchCond::Ok {
                    step: u32::try_from(commit).expect("small"),
                }),
            }),
            stmt: Stmt::new("ROLLBACK"),
        });
        acked.lock().expect("lock").txns.push(ids.clone());
        let requests = vec![
            StreamRequest::Batch(BatchStreamReq {
                batch: Batch {
                    steps,
                    replication_index: None,
                },
            }),
            StreamRequest::Close(CloseStreamReq {}),
        ];
        let Some(resp) = pipeline(&client, &url, None, requests).await else {
            return;
        };
        let committed = match resp.results.first().and_then(ok) {
            Some(StreamResponse::Batch(b)) => b
                .result
                .step_results
                .get(commit)
                .is_some_and(Option::is_some),
            _ => false,
        };
        if committed {
            acked.lock().expect("lock").rows.extend(ids);
        }
    }
}

/// Interactive transactions: BEGIN and the inserts in one pipeline, COMMIT in a second one on
/// the stream's baton. Acknowledged when the COMMIT's response arrived and succeeded.
async fn interactive_writer(
    url: String,
    first: u64,
    acked: Arc<Mutex<Acked>>,
    stop: Arc<AtomicBool>,
) {
    let client = reqwest::Client::new();
    for txn in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let ids: Vec<u64> = (0..TXN_ROWS).map(|i| first + txn * TXN_ROWS + i).collect();
        let mut requests = vec![execute("BEGIN", vec![])];
        requests.extend(ids.iter().map(|&id| {
            StreamRequest::Execute(ExecuteStreamReq {
                stmt: insert(id, ids[0]),
            })
        }));
        acked.lock().expect("lock").txns.push(ids.clone());
        let Some(resp) = pipeline(&client, &url, None, requests).await else {
            return;
        };
        if !resp.results.iter().all(|r| ok(r).is_some()) {
            // Busy, most likely: the stream closes with its transaction rolled back.
            let _ = pipeline(
                &client,
                &url,
                resp.baton,
                vec![StreamRequest::Close(CloseStreamReq {})],
            )
            .await;
            continue;
        }
        let requests = vec![
            execute("COMMIT", vec![]),
            StreamRequest::Close(CloseStreamReq {}),
        ];
        let Some(resp) = pipeline(&client, &url, resp.baton, requests).await else {
            return;
        };
        if resp.results.first().and_then(ok).is_some() {
            acked.lock().expect("lock").rows.extend(ids);
        }
    }
}

fn rows_of(result: &StmtResult) -> Vec<Vec<Value>> {
    result.rows.iter().map(|r| r.values.clone()).collect()
}

async fn query(client: &reqwest::Client, url: &str, sql: &str) -> Vec<Vec<Value>> {
    let resp = pipeline(client, url, None, vec![execute(sql, vec![])])
        .await
        .expect("query after restart");
    match resp.results.first() {
        Some(StreamResult::Ok {
            response: StreamResponse::Execute(e),
        }) => rows_of(&e.result),
        other => panic!("{sql}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("crash.db");
    let log = dir.path().join("server.log");
    let client = reqwest::Client::new();
    let acked = Arc::new(Mutex::new(Acked::default()));

    let server = Server::start(&db, &log).await;
    let created = pipeline(
        &client,
        &server.url,
        None,
        vec![execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, txn INTEGER NOT NULL, pad BLOB)",
            vec![],
        )],
    )
    .await
    .expect("create table");
    assert!(
        created.results.first().and_then(ok).is_some(),
        "{created:?}"
    );

    let mut server = Some(server);
    let mut totals = Vec::new();
    for cycle in 0..CYCLES {
        let running = match server.take() {
            Some(s) => s,
            None => Server::start(&db, &log).await,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            // Disjoint id ranges per cycle, kind and writer.
            let base = |kind: u64| ((cycle * 3 + kind) * WRITERS + w + 1) * 10_000_000;
            let (url, a, s) = (running.url.clone(), Arc::clone(&acked), Arc::clone(&stop));
            writers.push(tokio::spawn(autocommit_writer(url, base(0), a, s)));
            let (url, a, s) = (running.url.clone(), Arc::clone(&acked), Arc::clone(&stop));
            writers.push(tokio::spawn(batch_writer(url, base(1), a, s)));
            let (url, a, s) = (running.url.clone(), Arc::clone(&acked), Arc::clone(&stop));
            writers.push(tokio::spawn(interactive_writer(url, base(2), a, s)));
        }
        // Let the writers get going, then pull the plug mid-stream, later in each cycle.
        let before = acked.lock().expect("lock").rows.len();
        let target = 150 + 100 * usize::try_from(cycle).expect("small");
        let deadline = Instant::now() + Duration::from_secs(20);
        while acked.lock().expect("lock").rows.len() < before + target {
            assert!(Instant::now() < deadline, "writers made no progress");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        running.kill();
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            writer.await.expect("writer");
        }

        let restarted = Server::start(&db, &log).await;
        let check = query(&client, &restarted.url, "PRAGMA integrity_check").await;
        assert_eq!(check, vec![vec![Value::Text("ok".into())]], "cycle {cycle}");
        let present: BTreeSet<u64> = query(&client, &restarted.url, "SELECT id FROM t")
            .await
            .iter()
            .map(|row| match row.as_slice() {
                [Value::Integer(id)] => u64::try_from(*id).expect("positive id"),
                other => panic!("row {other:?}"),
            })
            .collect();
        let acked = acked.lock().expect("lock");
        let lost: Vec<u64> = acked.rows.difference(&present).copied().collect();
        assert!(
            lost.is_empty(),
            "cycle {cycle}: {} acknowledged rows lost after SIGKILL, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(10)]
        );
        for txn in &acked.txns {
            let here = txn.iter().filter(|id| present.contains(id)).count();
            assert!(
                here == 0 || here == txn.len(),
                "cycle {cycle}: transaction {txn:?} is partly present ({here} rows)"
            );
        }
        totals.push((acked.rows.len(), present.len()));
        server = Some(restarted);
    }
    // Visible with --nocapture: acknowledged vs present rows after each cycle.
    println!("acknowledged/present after each SIGKILL: {totals:?}");
}
