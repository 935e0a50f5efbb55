//! The WebSocket transport against the real server (in-process), a cuttable TCP proxy, and
//! fake servers that misbehave.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tidepool_protocol::{BatchStep, Encoding, Value};
use tidepool_server::auth::SigningKey;
use tidepool_server::{Access, Config, RunningServer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::*;
use crate::error::ErrorKind;

struct Server {
    server: RunningServer,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(key: Option<&SigningKey>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("db"));
        config.listen_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        config.busy_timeout = Duration::from_secs(20);
        if let Some(key) = key {
            let path = dir.path().join("key.pem");
            std::fs::write(&path, key.public_key_pem()).unwrap();
            config.auth_key_file = Some(path);
        }
        let server = tidepool_server::serve(config).await.unwrap();
        Server { server, _dir: dir }
    }

    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

fn tls() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Arc::new(config)
}

fn settings(addr: SocketAddr) -> WsSettings {
    let url = url::Url::parse(&format!("ws://{addr}/")).unwrap();
    let timeouts = Timeouts {
        connect: Duration::from_secs(5),
        request: Duration::from_secs(30),
        total: Duration::from_secs(60),
    };
    WsSettings::new(url, tls(), None, timeouts)
}

fn client(addr: SocketAddr) -> WsClient {
    WsClient::new(settings(addr))
}

fn integer(result: &StmtResult) -> i64 {
    match result.rows.first().and_then(|r| r.values.first()) {
        Some(Value::Integer(i)) => *i,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn step(sql: &str) -> BatchStep {
    BatchStep {
        condition: None,
        stmt: Stmt::new(sql),
    }
}

fn batch(sqls: &[&str]) -> Batch {
    Batch {
        steps: sqls.iter().map(|s| step(s)).collect(),
        replication_index: None,
    }
}

/// Counting to `n` in SQL: a statement that takes time proportional to `n`.
fn count_to(n: u64) -> String {
    format!(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) \
         SELECT count(*) FROM c"
    )
}

#[tokio::test]
async fn every_subprotocol_executes_statements() {
    let server = Server::start(None).await;
    let cases: [(&[Subprotocol], &str); 5] = [
        (&Subprotocol::ALL, "hrana3-protobuf"),
        (&Subprotocol::ALL[1..], "hrana3"),
        (&Subprotocol::ALL[2..], "hrana2"),
        (&Subprotocol::ALL[3..], "hrana1"),
        (&[], "hrana1"),
    ];
    for (i, (offered, expected)) in cases.into_iter().enumerate() {
        let client = WsClient::with_offered(settings(server.addr()), offered);
        assert_eq!(client.subprotocol(), None);
        let mut stream = client.open_stream().await.unwrap();
        assert_eq!(client.subprotocol().map(|p| p.name()), Some(expected));
        let table = format!("t{i}");
        stream
            .execute(Stmt::new(format!("CREATE TABLE {table} (v)")))
            .await
            .unwrap();
        let mut insert = Stmt::new(format!("INSERT INTO {table} VALUES (?)"));
        insert.args = vec![Value::Text("héllo".into())];
        let inserted = stream.execute(insert).await.unwrap();
        assert_eq!(inserted.affected_row_count, 1);
        let rows = stream
            .execute(Stmt::new(format!("SELECT v FROM {table}")))
            .await
            .unwrap();
        assert_eq!(rows.rows[0].values, vec![Value::Text("héllo".into())]);
        let error = stream.execute(Stmt::new("SELEC 1")).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Sql);
        stream.close().await.unwrap();
    }
}

#[tokio::test]
async fn batch_sequence_describe_and_autocommit() {
    let server = Server::start(None).await;
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let offered: &[Subprotocol] = if encoding == Encoding::Protobuf {
            &Subprotocol::ALL
        } else {
            &Subprotocol::ALL[1..]
        };
        let client = WsClient::with_offered(settings(server.addr()), offered);
        let mut stream = client.open_stream().await.unwrap();
        stream
            .sequence("DROP TABLE IF EXISTS t; CREATE TABLE t (a, b);".into())
            .await
            .unwrap();
        assert!(stream.get_autocommit().await.unwrap());
        stream.sequence("BEGIN".into()).await.unwrap();
        assert!(!stream.get_autocommit().await.unwrap());
        let result = stream
            .batch(batch(&[
                "INSERT INTO t VALUES (1, 2)",
                "SELECT nope",
                "SELECT count(*) FROM t",
            ]))
            .await
            .unwrap();
        assert_eq!(result.step_results.len(), 3);
        assert!(result.step_errors[1].is_some());
        assert_eq!(integer(result.step_results[2].as_ref().unwrap()), 1);
        stream.sequence("COMMIT".into()).await.unwrap();
        assert!(stream.get_autocommit().await.unwrap());
        let described = stream
            .describe("SELECT a, b FROM t WHERE a = ?".into())
            .await
            .unwrap();
        assert_eq!(described.params.len(), 1);
        assert_eq!(described.cols.len(), 2);
        assert!(described.is_readonly);
        let error = stream
            .sequence("SELECT 1; SELEC 2".into())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Sql);
    }
}

#[tokio::test]
async fn older_versions_refuse_newer_requests_locally() {
    let server = Server::start(None).await;
    let hrana2 = WsClient::with_offered(settings(server.addr()), &Subprotocol::ALL[2..]);
    let mut stream = hrana2.open_stream().await.unwrap();
    assert_eq!(
        stream.get_autocommit().await.unwrap_err().code(),
        code::UNSUPPORTED
    );
    assert_eq!(
        stream
            .open_cursor(batch(&["SELECT 1"]))
            .await
            .unwrap_err()
            .code(),
        code::UNSUPPORTED
    );
    stream.sequence("SELECT 1".into()).await.unwrap();
    let hrana1 = WsClient::with_offered(settings(server.addr()), &Subprotocol::ALL[3..]);
    let mut stream = hrana1.open_stream().await.unwrap();
    for error in [
        stream.sequence("SELECT 1".into()).await.unwrap_err(),
        stream.describe("SELECT 1".into()).await.unwrap_err(),
        stream.store_sql("SELECT 1".into()).await.unwrap_err(),
    ] {
        assert_eq!(error.code(), code::UNSUPPORTED);
        assert_eq!(error.kind(), ErrorKind::Usage);
    }
    assert!(!stream.is_broken());
}

#[tokio::test]
async fn stored_sql_is_shared_by_the_streams_of_a_socket() {
    let server = Server::start(None).await;
    let client = client(server.addr());
    let mut a = client.open_stream().await.unwrap();
    let mut b = client.open_stream().await.unwrap();
    assert_eq!(a.socket.id(), b.socket.id());
    let sql_id = a.store_sql("SELECT ? + 1".into()).await.unwrap();
    let stmt = Stmt {
        sql: None,
        sql_id: Some(sql_id),
        args: vec![Value::Integer(41)],
        ..Stmt::default()
    };
    assert_eq!(integer(&b.execute(stmt.clone()).await.unwrap()), 42);
    let other = a.store_sql("SELECT 2".into()).await.unwrap();
    assert_ne!(other, sql_id);
    a.close_sql(sql_id).await.unwrap();
    assert_eq!(b.execute(stmt).await.unwrap_err().code(), "SQL_NOT_FOUND");
}

#[tokio::test]
async fn cursors_deliver_many_rows_and_free_the_stream() {
    let server = Server::start(None).await;
    let client = client(server.addr());
    let mut stream = client.open_stream().await.unwrap();
    let rows = 5000;
    let sql = format!(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows}) \
         SELECT x FROM c"
    );
    let mut cursor = stream
        .open_cursor(batch(&[&sql, "SELECT nope"]))
        .await
        .unwrap();
    let (mut begins, mut ends, mut errors, mut seen) = (0, 0, 0, Vec::new());
    while let Some(entry) = cursor.next().await.unwrap() {
        match entry {
            CursorEntry::StepBegin(_) => begins += 1,
            CursorEntry::StepEnd(_) => ends += 1,
            CursorEntry::StepError(_) => errors += 1,
            CursorEntry::Row { row } => seen.push(row.values[0].clone()),
            other => panic!("unexpected entry {other:?}"),
        }
    }
    assert_eq!((begins, ends, errors), (1, 1, 1));
    assert_eq!(seen.len(), rows);
    assert_eq!(seen.last(), Some(&Value::Integer(rows as i64)));
    assert!(cursor.next().await.unwrap().is_none());
    // `close_cursor` went out when the cursor finished: the stream is usable again.
    assert_eq!(
        integer(&stream.execute(Stmt::new("SELECT 7")).await.unwrap()),
        7
    );
    // A cursor dropped half-read is closed too.
    let mut cursor = stream.open_cursor(batch(&[&sql])).await.unwrap();
    assert!(cursor.next().await.unwrap().is_some());
    drop(cursor);
    assert_eq!(
        integer(&stream.execute(Stmt::new("SELECT 8")).await.unwrap()),
        8
    );
}

#[tokio::test]
async fn a_hundred_streams_share_two_sockets() {
    let server = Server::start(None).await;
    let mut settings = settings(server.addr());
    settings.max_sockets = 2;
    settings.max_streams_per_socket = 50;
    let client = Arc::new(WsClient::new(settings));
    let opened = Arc::new(tokio::sync::Barrier::new(101));
    let finished = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..100u64 {
        let (client, opened, finished) = (client.clone(), opened.clone(), finished.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = client.open_stream().await.unwrap();
            opened.wait().await;
            // The first task counts far: its response comes after the others.
            let n = if i == 0 { 300_000 } else { 1_000 + i };
            let result = stream.execute(Stmt::new(count_to(n))).await.unwrap();
            assert_eq!(integer(&result), n as i64);
            finished.lock().unwrap().push(i);
            stream.close().await.unwrap();
        }));
    }
    opened.wait().await;
    let loads: Vec<usize> = client.sockets().iter().map(|s| s.load()).collect();
    assert_eq!(loads, vec![50, 50]);
    for task in tasks {
        task.await.unwrap();
    }
    let order = finished.lock().unwrap().clone();
    assert_eq!(order.len(), 100);
    assert_ne!(order[0], 0, "responses should complete out of order");
    assert!(client.sockets().iter().all(|s| s.load() == 0));
}

#[tokio::test]
async fn auth_tokens_are_sent_in_hello() {
    let key = SigningKey::generate();
    let server = Server::start(Some(&key)).await;

    let mut good = settings(server.addr());
    good.auth_token = Some(key.token(Access::ReadWrite, None));
    let mut stream = WsClient::new(good).open_stream().await.unwrap();
    stream
        .execute(Stmt::new("CREATE TABLE t (v)"))
        .await
        .unwrap();

    let mut read_only = settings(server.addr());
    read_only.auth_token = Some(key.token(Access::ReadOnly, None));
    let mut stream = WsClient::new(read_only).open_stream().await.unwrap();
    let error = stream
        .execute(Stmt::new("INSERT INTO t VALUES (1)"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "FORBIDDEN");

    let mut forged = settings(server.addr());
    forged.auth_token = Some(SigningKey::generate().token(Access::ReadWrite, None));
    let client = WsClient::new(forged);
    let error = client.open_stream().await.unwrap_err();
    assert_eq!(error.code(), "AUTH_INVALID");
    assert!(error.is_auth());
    // The refused socket left the pool; the next attempt connects again (and fails again).
    assert!(client.sockets().iter().all(|s| s.is_dead()));
    assert_eq!(
        client.open_stream().await.unwrap_err().code(),
        "AUTH_INVALID"
    );

    let error = client_without_token(server.addr())
        .open_stream()
        .await
        .unwrap_err();
    assert_eq!(error.code(), "AUTH_MISSING");
}

fn client_without_token(addr: SocketAddr) -> WsClient {
    client(addr)
}

/// A TCP proxy that can cut every connection and refuse new ones.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let links = Arc::new(Mutex::new(Vec::new()));
        let (up2, links2) = (up.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection close at once
                }
                let link = tokio::spawn(async move {
                    let mut outbound = TcpStream::connect(target).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                links2.lock().unwrap().push(link);
            }
        });
        Proxy {
            addr,
            up,
            links,
            accept,
        }
    }

    fn cut(&self, stay_down: bool) {
        self.up.store(!stay_down, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut(true);
        self.accept.abort();
    }
}

/// Starts a write that blocks on the database lock `blocker` holds, and returns its task.
async fn blocked_write(
    blocker: &mut WsStream,
    stream: WsStream,
) -> (JoinHandle<(WsStream, Result<StmtResult>)>, Arc<Socket>) {
    blocker.sequence("BEGIN IMMEDIATE".into()).await.unwrap();
    let socket = stream.socket.clone();
    let mut stream = stream;
    let task = tokio::spawn(async move {
        let result = stream.execute(Stmt::new("INSERT INTO t VALUES (1)")).await;
        (stream, result)
    });
    (task, socket)
}

#[tokio::test]
async fn a_dropped_socket_fails_in_flight_requests_and_reconnects() {
    let server = Server::start(None).await;
    let direct = client(server.addr());
    let mut blocker = direct.open_stream().await.unwrap();
    blocker
        .execute(Stmt::new("CREATE TABLE t (v)"))
        .await
        .unwrap();

    let proxy = Proxy::start(server.addr()).await;
    let proxied = client(proxy.addr);
    let stream = proxied.open_stream().await.unwrap();
    let (write, socket) = blocked_write(&mut blocker, stream).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A read queued behind the write on the same stream: sent, not yet run.
    let stream_id = 1;
    let read = Request::Execute(ExecuteReq {
        stream_id,
        stmt: Stmt::new("SELECT 1"),
    });
    let read = tokio::spawn({
        let socket = socket.clone();
        async move { socket.request(read, true).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    proxy.cut(true);
    let (mut stream, written) = write.await.unwrap();
    let error = written.unwrap_err();
    assert_eq!(error.code(), code::OUTCOME_UNKNOWN, "{error}");
    assert!(error.is_network() && error.is_outcome_unknown() && !error.is_retryable());
    let error = read.await.unwrap().unwrap_err();
    assert_eq!(error.code(), code::NETWORK, "{error}");
    assert!(stream.is_broken());
    let error = stream.execute(Stmt::new("SELECT 1")).await.unwrap_err();
    assert_eq!(error.code(), code::CONNECT_FAILED);

    let error = proxied.open_stream().await.unwrap_err();
    assert_eq!(error.code(), code::CONNECT_FAILED, "{error}");
    proxy.restore();
    let mut fresh = proxied.open_stream().await.unwrap();
    assert_ne!(fresh.socket.id(), socket.id());
    blocker.sequence("ROLLBACK".into()).await.unwrap();
    assert_eq!(
        integer(&fresh.execute(Stmt::new("SELECT 5")).await.unwrap()),
        5
    );
    assert_eq!(proxied.sockets().len(), 1);
}

#[tokio::test]
async fn request_timeouts_and_cancellation_leave_the_socket_usable() {
    let server = Server::start(None).await;
    let direct = client(server.addr());
    let mut blocker = direct.open_stream().await.unwrap();
    blocker
        .execute(Stmt::new("CREATE TABLE t (v)"))
        .await
        .unwrap();

    let mut settings = settings(server.addr());
    settings.timeouts.request = Duration::from_millis(300);
    let client = WsClient::new(settings);
    let mut stream = client.open_stream().await.unwrap();
    let mut other = client.open_stream().await.unwrap();
    blocker.sequence("BEGIN IMMEDIATE".into()).await.unwrap();

    let error = stream
        .execute(Stmt::new("INSERT INTO t VALUES (1)"))
        .await
        .unwrap_err();
    assert_eq!(
        (error.code(), error.kind()),
        (code::OUTCOME_UNKNOWN, ErrorKind::Timeout)
    );
    // Queued behind the blocked write on the same stream: a read that times out.
    let error = stream.execute(Stmt::new("SELECT 1")).await.unwrap_err();
    assert_eq!(
        (error.code(), error.kind()),
        (code::TIMEOUT, ErrorKind::Timeout)
    );
    // A cancelled request: its late response is dropped, not a protocol violation.
    let cancelled = tokio::time::timeout(
        Duration::from_millis(50),
        other.execute(Stmt::new("INSERT INTO t VALUES (2)")),
    );
    assert!(cancelled.await.is_err());

    blocker.sequence("ROLLBACK".into()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        integer(&stream.execute(Stmt::new("SELECT 3")).await.unwrap()),
        3
    );
    assert_eq!(
        integer(
            &other
                .execute(Stmt::new("SELECT count(*) FROM t"))
                .await
                .unwrap()
        ),
        2
    );
    assert!(!stream.is_broken() && !other.is_broken());
}

#[tokio::test]
async fn connect_failures_and_timeouts() {
    // Nothing listens: refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let error = client(addr).open_stream().await.unwrap_err();
    assert_eq!(
        (error.code(), error.kind()),
        (code::CONNECT_FAILED, ErrorKind::Network)
    );
    assert!(error.is_retryable());

    // Something listens and never answers the handshake.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut settings = settings(listener.local_addr().unwrap());
    settings.timeouts.connect = Duration::from_millis(200);
    let error = WsClient::new(settings).open_stream().await.unwrap_err();
    assert_eq!(
        (error.code(), error.kind()),
        (code::CONNECT_FAILED, ErrorKind::Timeout)
    );
    drop(listener);
}

/// A WebSocket server that answers with subprotocol `header` (none: no header), then
/// answers the first request of each connection with `reply(request_id)` and waits.
#[allow(clippy::result_large_err)]
async fn fake_server_with(header: Option<&'static str>, reply: fn(i64) -> Message) -> SocketAddr {
    use tokio_tungstenite::tungstenite::handshake::server::{Request as Req, Response as Resp};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let callback = move |_: &Req, mut response: Resp| {
                if let Some(header) = header {
                    let value = header.parse().unwrap();
                    response
                        .headers_mut()
                        .insert("sec-websocket-protocol", value);
                }
                Ok(response)
            };
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
                    return;
                };
                let _hello = ws.next().await;
                let Some(Ok(Message::Text(request))) = ws.next().await else {
                    return;
                };
                let request: serde_json::Value = serde_json::from_str(&request).unwrap();
                let id = request["request_id"].as_i64().unwrap();
                let _ = ws.send(reply(id)).await;
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    addr
}

async fn fake_server(reply: fn(i64) -> Message) -> SocketAddr {
    fake_server_with(Some("hrana3"), reply).await
}

fn open_stream_ok(id: i64) -> Message {
    Message::text(format!(
        r#"{{"type":"response_ok","request_id":{id},"response":{{"type":"open_stream"}}}}"#
    ))
}

#[tokio::test]
async fn a_server_that_picks_no_subprotocol_speaks_hrana1() {
    let addr = fake_server_with(None, open_stream_ok).await;
    let client = client(addr);
    let stream = client.open_stream().await.unwrap();
    assert_eq!(client.subprotocol().map(|p| p.name()), Some("hrana1"));
    assert!(!stream.is_broken());
    // A server that picks something it was not offered is refused.
    let addr = fake_server_with(Some("hrana2"), open_stream_ok).await;
    let client = WsClient::with_offered(settings(addr), &Subprotocol::ALL[..2]);
    let error = client.open_stream().await.unwrap_err();
    assert_eq!(error.code(), code::CONNECT_FAILED, "{error}");
}

#[tokio::test]
async fn bad_server_input_kills_the_socket_without_panicking() {
    let replies: [fn(i64) -> Message; 4] = [
        |_| Message::text("not json"),
        |_| Message::binary(vec![0xff, 0x00, 0x13]),
        |_| {
            Message::text(
                r#"{"type":"response_ok","request_id":999,"response":{"type":"open_stream"}}"#,
            )
        },
        |_| Message::text(r#"{"type":"from_the_future"}"#),
    ];
    for reply in replies {
        let addr = fake_server(reply).await;
        let client = client(addr);
        let error = client.open_stream().await.unwrap_err();
        // open_stream is read-only: NETWORK, caused by the violation.
        assert_eq!(error.code(), code::NETWORK, "{error}");
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert!(cause.starts_with(code::PROTOCOL_VIOLATION), "{cause}");
        assert!(client.sockets().iter().all(|s| s.is_dead()));
    }
    // A response of the wrong type for the request.
    let addr = fake_server(|id| {
        Message::text(format!(
            r#"{{"type":"response_ok","request_id":{id},"response":{{"type":"close_stream"}}}}"#
        ))
    })
    .await;
    let client = client(addr);
    let error = client.open_stream().await.unwrap_err();
    assert_eq!(
        (error.code(), error.kind()),
        (code::PROTOCOL_VIOLATION, ErrorKind::Protocol)
    );
    assert!(client.sockets().iter().all(|s| s.is_dead()));
}

#[tokio::test]
async fn dropped_streams_are_closed_and_released() {
    let server = Server::start(None).await;
    let client = client(server.addr());
    let mut stream = client.open_stream().await.unwrap();
    stream
        .sequence("CREATE TABLE t (v); BEGIN; INSERT INTO t VALUES (1);".into())
        .await
        .unwrap();
    let socket = stream.socket.clone();
    assert_eq!(socket.load(), 1);
    drop(stream);
    assert_eq!(socket.load(), 0);
    // The dropped stream's transaction was rolled back by close_stream.
    let mut stream = client.open_stream().await.unwrap();
    let mut count = None;
    for _ in 0..50 {
        let result = stream
            .execute(Stmt::new("SELECT count(*) FROM t"))
            .await
            .unwrap();
        count = Some(integer(&result));
        if count == Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count, Some(0));
    assert!(format!("{client:?}").contains("WsClient"));
    assert!(!format!("{stream:?}").is_empty());
}
