//! No secret reaches the server's logs, even at TRACE: tokens in headers, hellos or query
//! strings, and key material. A binary of its own because it installs the process-wide
//! tracing subscriber that captures the logs.

use std::io::Write;
use std::sync::Mutex;

use futures_util::{SinkExt as _, StreamExt as _};
use tidepool_server::auth::SigningKey;
use tidepool_server::{Access, Config};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_keys_never_reach_the_logs() {
    // An operator turning everything up: the server's own filter still guards secrets.
    tracing_subscriber::fmt()
        .with_env_filter(tidepool_server::logging::filter(Some("trace")))
        .with_writer(|| Capture)
        .with_ansi(false)
        .init();

    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::generate();
    let key_file = dir.path().join("jwt.pem");
    std::fs::write(&key_file, key.public_key_pem()).expect("key");
    let mut config = Config::new(dir.path().join("logs.db"));
    config.listen_addr = "127.0.0.1:0".parse().expect("addr");
    config.auth_key_file = Some(key_file);
    let server = tidepool_server::serve(config).await.expect("serve");
    let url = server.url();
    let token = key.token(Access::ReadWrite, None);
    let forged = SigningKey::generate().token(Access::ReadWrite, None);

    let http = reqwest::Client::new();
    let body = r#"{"baton":null,"requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}}]}"#;
    for presented in [&token, &forged] {
        let resp = http
            .post(format!("{url}/v2/pipeline"))
            .bearer_auth(presented)
            .body(body)
            .send()
            .await
            .expect("send");
        assert!(resp.status().is_success() || resp.status() == 401);
    }
    // A token in the query string is not how to authenticate, but must not be logged either.
    let resp = http
        .post(format!("{url}/v2/pipeline?authToken={token}"))
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);

    let ws_url = url.replacen("http://", "ws://", 1) + "/";
    let mut request = ws_url.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "hrana3".parse().expect("header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("ws");
    let hello = format!(r#"{{"type":"hello","jwt":"{token}"}}"#);
    socket
        .send(Message::Text(hello.into()))
        .await
        .expect("hello");
    let reply = socket.next().await.expect("reply").expect("frame");
    assert!(reply.to_text().expect("text").contains("hello_ok"));
    drop(socket);
    server.shutdown().await;

    let logs = String::from_utf8_lossy(&CAPTURED.lock().expect("lock")).into_owned();
    assert!(
        logs.contains("v2/pipeline"),
        "the requests were logged at all: {logs:.400}"
    );
    for secret in [&token, &forged] {
        let signature = secret.rsplit('.').next().expect("signature");
        let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(signature)).collect();
        assert!(
            leaks.is_empty(),
            "a token's signature reached the logs: {leaks:#?}"
        );
        let payload = secret.split('.').nth(1).expect("payload");
        assert!(!logs.contains(payload), "a token reached the logs");
    }
    let private = key.to_pem();
    let private_body = private.lines().nth(1).expect("pem body");
    assert!(
        !logs.contains(private_body),
        "key material reached the logs"
    );
}
