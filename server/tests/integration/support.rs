//! Shared fixtures: a real server on a loopback port with a fresh SQLite file, and small HTTP,
//! cursor and WebSocket clients that speak the wire protocol in either encoding.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::{SinkExt as _, StreamExt as _};
use tidepool_protocol::http::{
    BatchStreamReq, CursorReqBody, CursorRespBody, ExecuteStreamReq, PipelineReqBody,
    PipelineRespBody, SequenceStreamReq, StreamRequest, StreamResponse, StreamResult,
};
use tidepool_protocol::ws::{ClientMsg, HelloMsg, Request, RequestMsg, Response, ServerMsg};
use tidepool_protocol::{
    codec, Batch, BatchCond, BatchResult, BatchStep, CursorEntry, Encoding, Error, NamedArg, Stmt,
    StmtResult, Value,
};
use tidepool_server::auth::SigningKey;
use tidepool_server::{Access, Config, RunningServer};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single wait for the server may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// Server

/// A server running in this process on `127.0.0.1:<random port>` with its own database file.
pub struct TestServer {
    server: Option<RunningServer>,
    pub url: String,
    pub db_path: PathBuf,
    /// The signing key whose public half the server trusts, when auth is on.
    pub key: Option<SigningKey>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// A server with the default settings (authentication off).
    pub async fn start() -> Self {
        Self::start_with(false, |_| {}).await
    }

    /// A server with authentication on.
    pub async fn start_auth() -> Self {
        Self::start_with(true, |_| {}).await
    }

    /// A server whose configuration `tweak` adjusts.
    pub async fn start_with(auth: bool, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db_path = dir.path().join("test.db");
        let mut config = Config::new(&db_path);
        config.listen_addr = "127.0.0.1:0".parse().expect("addr");
        let key = auth.then(|| {
            let key = SigningKey::generate();
            let key_file = dir.path().join("jwt.pem");
            std::fs::write(&key_file, key.public_key_pem()).expect("write key");
            config.auth_key_file = Some(key_file);
            key
        });
        tweak(&mut config);
        let server = tidepool_server::serve(config).await.expect("server starts");
        TestServer {
            url: server.url(),
            server: Some(server),
            db_path,
            key,
            _dir: dir,
        }
    }

    pub fn ws_url(&self) -> String {
        self.url.replacen("http://", "ws://", 1) + "/"
    }

    /// A token signed by the trusted key.
    pub fn token(&self, access: Access) -> String {
        self.key
            .as_ref()
            .expect("server has auth")
            .token(access, None)
    }

    /// An HTTP client in `encoding` without credentials.
    pub fn http(&self, encoding: Encoding) -> Http {
        Http {
            client: reqwest::Client::new(),
            base: self.url.clone(),
            encoding,
            token: None,
        }
    }

    /// An HTTP client in `encoding` presenting `token`.
    pub fn http_with(&self, encoding: Encoding, token: impl Into<String>) -> Http {
        Http {
            token: Some(token.into()),
            ..self.http(encoding)
        }
    }

    /// A WebSocket client offering `protocols`, after a successful hello.
    pub async fn ws(&self, protocol: &str) -> Ws {
        self.ws_hello(protocol, None).await
    }

    /// A WebSocket client offering `protocol`, after a successful hello with `jwt`.
    pub async fn ws_hello(&self, protocol: &str, jwt: Option<String>) -> Ws {
        let (mut ws, negotiated) = Ws::connect(&self.ws_url(), &[protocol])
            .await
            .expect("websocket connects");
        assert_eq!(negotiated.as_deref(), Some(protocol));
        match ws.hello(jwt).await {
            ServerMsg::HelloOk(_) => ws,
            other => panic!("hello failed: {other:?}"),
        }
    }

    /// What the server holds right now.
    pub fn stats(&self) -> tidepool_server::Stats {
        self.server.as_ref().expect("running").stats()
    }

    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

// ---------------------------------------------------------------------------------------------
// Building requests

pub fn stmt(sql: &str) -> Stmt {
    Stmt::new(sql)
}

pub fn stmt_args(sql: &str, args: Vec<Value>) -> Stmt {
    Stmt {
        args,
        ..Stmt::new(sql)
    }
}

pub fn stmt_named(sql: &str, named: &[(&str, Value)]) -> Stmt {
    Stmt {
        named_args: named
            .iter()
            .map(|(name, value)| NamedArg {
                name: (*name).to_owned(),
                value: value.clone(),
            })
            .collect(),
        ..Stmt::new(sql)
    }
}

pub fn execute(sql: &str) -> StreamRequest {
    StreamRequest::Execute(ExecuteStreamReq { stmt: stmt(sql) })
}

pub fn execute_stmt(stmt: Stmt) -> StreamRequest {
    StreamRequest::Execute(ExecuteStreamReq { stmt })
}

pub fn sequence(sql: &str) -> StreamRequest {
    StreamRequest::Sequence(SequenceStreamReq {
        sql: Some(sql.to_owned()),
        sql_id: None,
    })
}

pub fn batch_req(batch: Batch) -> StreamRequest {
    StreamRequest::Batch(BatchStreamReq { batch })
}

pub fn step(sql: &str, condition: Option<BatchCond>) -> BatchStep {
    BatchStep {
        condition,
        stmt: stmt(sql),
    }
}

pub fn batch(steps: Vec<BatchStep>) -> Batch {
    Batch {
        steps,
        replication_index: None,
    }
}

pub fn ok(step: u32) -> BatchCond {
    BatchCond::Ok { step }
}

pub fn not(cond: BatchCond) -> BatchCond {
    BatchCond::Not {
        cond: Box::new(cond),
    }
}

/// The transactional shape of SPEC.md §9.3 around `statements`.
pub fn transactional(statements: &[&str]) -> Batch {
    let n = statements.len() as u32;
    let mut steps = vec![step("BEGIN", None)];
    for (i, sql) in statements.iter().enumerate() {
        steps.push(step(sql, Some(ok(i as u32))));
    }
    steps.push(step("COMMIT", Some(ok(n))));
    steps.push(step("ROLLBACK", Some(not(ok(n + 1)))));
    batch(steps)
}

pub fn int(i: i64) -> Value {
    Value::Integer(i)
}

pub fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Reading results

/// The response of a successful stream result.
#[track_caller]
pub fn ok_response(result: &StreamResult) -> &StreamResponse {
    match result {
        StreamResult::Ok { response } => response,
        StreamResult::Error { error } => panic!("request failed: {error:?}"),
    }
}

/// The error of a failed stream result.
#[track_caller]
pub fn err_of(result: &StreamResult) -> &Error {
    match result {
        StreamResult::Error { error } => error,
        StreamResult::Ok { response } => panic!("request succeeded: {response:?}"),
    }
}

#[track_caller]
pub fn code_of(result: &StreamResult) -> &str {
    err_of(result).code.as_deref().unwrap_or("<none>")
}

#[track_caller]
pub fn exec_result(result: &StreamResult) -> &StmtResult {
    match ok_response(result) {
        StreamResponse::Execute(r) => &r.result,
        other => panic!("not an execute response: {other:?}"),
    }
}

#[track_caller]
pub fn batch_result(result: &StreamResult) -> &BatchResult {
    match ok_response(result) {
        StreamResponse::Batch(r) => &r.result,
        other => panic!("not a batch response: {other:?}"),
    }
}

/// Step `i`'s result (protobuf omits trailing empty slots, so index leniently).
pub fn step_result(r: &BatchResult, i: usize) -> Option<&StmtResult> {
    r.step_results.get(i).and_then(Option::as_ref)
}

pub fn step_error(r: &BatchResult, i: usize) -> Option<&Error> {
    r.step_errors.get(i).and_then(Option::as_ref)
}

/// The single value of a one-row, one-column result.
#[track_caller]
pub fn scalar(r: &StmtResult) -> &Value {
    assert_eq!(r.rows.len(), 1, "expected one row: {:?}", r.rows.len());
    assert_eq!(r.rows[0].values.len(), 1, "expected one column");
    &r.rows[0].values[0]
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// A client for the pipeline and cursor endpoints in one encoding.
#[derive(Clone)]
pub struct Http {
    pub client: reqwest::Client,
    pub base: String,
    pub encoding: Encoding,
    pub token: Option<String>,
}

impl Http {
    pub fn pipeline_path(&self) -> &'static str {
        match self.encoding {
            Encoding::Json => "/v3/pipeline",
            Encoding::Protobuf => "/v3-protobuf/pipeline",
        }
    }

    pub fn cursor_path(&self) -> &'static str {
        match self.encoding {
            Encoding::Json => "/v3/cursor",
            Encoding::Protobuf => "/v3-protobuf/cursor",
        }
    }

    fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        let req = self.client.get(format!("{}{path}", self.base));
        self.authorize(req).send().await.expect("GET")
    }

    /// POSTs raw bytes labelled with this client's content type.
    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> reqwest::Response {
        let req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", self.encoding.content_type())
            .body(body);
        self.authorize(req).send().await.expect("POST")
    }

    /// Sends a pipeline to `path`; the raw response.
    pub async fn pipeline_at(
        &self,
        path: &str,
        baton: Option<String>,
        requests: Vec<StreamRequest>,
    ) -> reqwest::Response {
        let body = codec::encode(self.encoding, &PipelineReqBody { baton, requests });
        self.post_raw(path, body).await
    }

    /// Sends a pipeline and decodes the 200 response.
    pub async fn pipeline(
        &self,
        baton: Option<String>,
        requests: Vec<StreamRequest>,
    ) -> PipelineRespBody {
        let resp = self
            .pipeline_at(self.pipeline_path(), baton, requests)
            .await;
        decode_pipeline(self.encoding, resp).await
    }

    /// Sends a pipeline that must be refused as a whole; its status and JSON error.
    pub async fn pipeline_refused(
        &self,
        baton: Option<String>,
        requests: Vec<StreamRequest>,
    ) -> (u16, Error) {
        let resp = self
            .pipeline_at(self.pipeline_path(), baton, requests)
            .await;
        http_error(resp).await
    }

    /// A fresh stream on this client.
    pub fn stream(&self) -> HttpStream {
        HttpStream {
            http: self.clone(),
            baton: None,
        }
    }

    /// Runs a cursor and reads the whole body.
    pub async fn cursor(
        &self,
        baton: Option<String>,
        batch: Batch,
    ) -> (CursorRespBody, Vec<CursorEntry>) {
        let body = codec::encode(self.encoding, &CursorReqBody { baton, batch });
        let resp = self.post_raw(self.cursor_path(), body).await;
        assert_eq!(resp.status().as_u16(), 200, "cursor status");
        let mut reader = CursorReader::new(self.encoding, resp);
        let head = reader.head().await;
        let mut entries = Vec::new();
        while let Some(entry) = reader.next().await {
            entries.push(entry);
        }
        (head, entries)
    }
}

pub async fn decode_pipeline(encoding: Encoding, resp: reqwest::Response) -> PipelineRespBody {
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let bytes = resp.bytes().await.expect("body");
    assert_eq!(
        status.as_u16(),
        200,
        "pipeline failed: {}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(content_type.as_deref(), Some(encoding.content_type()));
    codec::decode(encoding, &bytes).expect("pipeline response decodes")
}

/// The status and JSON `Error` of a refused request.
pub async fn http_error(resp: reqwest::Response) -> (u16, Error) {
    let status = resp.status().as_u16();
    assert_ne!(status, 200, "request was not refused");
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let bytes = resp.bytes().await.expect("body");
    let error: Error = serde_json::from_slice(&bytes).expect("JSON error body");
    (status, error)
}

/// An HTTP stream: remembers the baton between pipelines.
pub struct HttpStream {
    pub http: Http,
    pub baton: Option<String>,
}

impl HttpStream {
    /// Sends requests on the stream; the baton moves on.
    pub async fn send(&mut self, requests: Vec<StreamRequest>) -> Vec<StreamResult> {
        let resp = self.http.pipeline(self.baton.take(), requests).await;
        assert_eq!(resp.base_url, None);
        self.baton = resp.baton;
        resp.results
    }

    pub async fn send_one(&mut self, request: StreamRequest) -> StreamResult {
        let mut results = self.send(vec![request]).await;
        assert_eq!(results.len(), 1);
        results.remove(0)
    }

    /// Executes a statement that must succeed.
    pub async fn exec(&mut self, stmt: Stmt) -> StmtResult {
        exec_result(&self.send_one(execute_stmt(stmt)).await).clone()
    }

    pub async fn exec_sql(&mut self, sql: &str) -> StmtResult {
        self.exec(Stmt::new(sql)).await
    }

    /// Executes a statement that must fail; its error.
    pub async fn exec_err(&mut self, stmt: Stmt) -> Error {
        err_of(&self.send_one(execute_stmt(stmt)).await).clone()
    }

    pub async fn close(&mut self) {
        let result = self
            .send_one(StreamRequest::Close(Default::default()))
            .await;
        ok_response(&result);
        assert_eq!(self.baton, None);
    }
}

/// Reads a streamed cursor body item by item, as it arrives.
pub struct CursorReader {
    encoding: Encoding,
    resp: reqwest::Response,
    buf: BytesMut,
    ended: bool,
}

impl CursorReader {
    pub fn new(encoding: Encoding, resp: reqwest::Response) -> Self {
        CursorReader {
            encoding,
            resp,
            buf: BytesMut::new(),
            ended: false,
        }
    }

    async fn item<T: codec::Wire>(&mut self) -> Option<T> {
        loop {
            if let Some(item) =
                codec::decode_stream_item(self.encoding, &mut self.buf).expect("item decodes")
            {
                return Some(item);
            }
            if self.ended {
                assert!(self.buf.is_empty(), "cursor body ends mid-item");
                return None;
            }
            match tokio::time::timeout(WAIT, self.resp.chunk())
                .await
                .expect("cursor body stalled")
                .expect("cursor body")
            {
                Some(chunk) => self.buf.extend_from_slice(&chunk),
                None => self.ended = true,
            }
        }
    }

    pub async fn head(&mut self) -> CursorRespBody {
        self.item().await.expect("cursor head")
    }

    pub async fn next(&mut self) -> Option<CursorEntry> {
        self.item().await
    }
}

// ---------------------------------------------------------------------------------------------
// WebSocket

pub type WsSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A Hrana WebSocket client: sends `ClientMsg`s and matches responses by request id.
pub struct Ws {
    pub socket: WsSocket,
    pub encoding: Encoding,
    next_id: i32,
    /// Responses that arrived while waiting for another one.
    early: HashMap<i32, Result<Response, Error>>,
}

/// The encoding a subprotocol uses.
pub fn encoding_of(protocol: &str) -> Encoding {
    if protocol == "hrana3-protobuf" {
        Encoding::Protobuf
    } else {
        Encoding::Json
    }
}

impl Ws {
    /// Upgrades offering `protocols` (none: no header); returns the negotiated subprotocol.
    pub async fn connect(
        url: &str,
        protocols: &[&str],
    ) -> Result<(Ws, Option<String>), tokio_tungstenite::tungstenite::Error> {
        let mut request = url.into_client_request()?;
        if !protocols.is_empty() {
            request.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_str(&protocols.join(", ")).expect("header"),
            );
        }
        let (socket, resp) = tokio_tungstenite::connect_async(request).await?;
        let negotiated = resp
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let encoding = encoding_of(negotiated.as_deref().unwrap_or("hrana1"));
        Ok((
            Ws {
                socket,
                encoding,
                next_id: 1,
                early: HashMap::new(),
            },
            negotiated,
        ))
    }

    /// Sends a frame as is.
    pub async fn send_raw(&mut self, msg: Message) {
        self.socket.send(msg).await.expect("send");
    }

    pub async fn send(&mut self, msg: &ClientMsg) {
        let frame = match self.encoding {
            Encoding::Json => Message::text(serde_json::to_string(msg).expect("json")),
            Encoding::Protobuf => Message::binary(codec::encode(Encoding::Protobuf, msg)),
        };
        self.send_raw(frame).await;
    }

    /// The next frame, or `None` when the socket ended.
    pub async fn recv_frame(&mut self) -> Option<Message> {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("server answers in time");
            match frame {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(frame)) => return Some(frame),
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next server message.
    pub async fn recv(&mut self) -> ServerMsg {
        let frame = self.recv_frame().await.expect("a message, not the end");
        let bytes = match (frame, self.encoding) {
            (Message::Text(t), Encoding::Json) => t.as_bytes().to_vec(),
            (Message::Binary(b), Encoding::Protobuf) => b.to_vec(),
            (other, _) => panic!("unexpected frame: {other:?}"),
        };
        codec::decode(self.encoding, &bytes).expect("server message decodes")
    }

    pub async fn hello(&mut self, jwt: Option<String>) -> ServerMsg {
        self.send(&ClientMsg::Hello(HelloMsg { jwt })).await;
        self.recv().await
    }

    /// Sends a request without waiting; its id.
    pub async fn send_request(&mut self, request: Request) -> i32 {
        let request_id = self.next_id;
        self.next_id += 1;
        self.send(&ClientMsg::Request(RequestMsg {
            request_id,
            request,
        }))
        .await;
        request_id
    }

    /// Waits for the response to request `id`, keeping others for later.
    pub async fn response(&mut self, id: i32) -> Result<Response, Error> {
        loop {
            if let Some(result) = self.early.remove(&id) {
                return result;
            }
            let (got, result) = match self.recv().await {
                ServerMsg::ResponseOk(ok) => (ok.request_id, Ok(ok.response)),
                ServerMsg::ResponseError(e) => (e.request_id, Err(e.error)),
                other => panic!("unexpected message: {other:?}"),
            };
            assert!(
                self.early.insert(got, result).is_none(),
                "two responses to request {got}"
            );
        }
    }

    pub async fn request(&mut self, request: Request) -> Result<Response, Error> {
        let id = self.send_request(request).await;
        self.response(id).await
    }

    /// A request that must succeed.
    pub async fn ok(&mut self, request: Request) -> Response {
        match self.request(request).await {
            Ok(response) => response,
            Err(e) => panic!("request failed: {e:?}"),
        }
    }

    /// A request that must fail; its error code.
    pub async fn err_code(&mut self, request: Request) -> String {
        match self.request(request).await {
            Err(e) => e.code.unwrap_or_default(),
            Ok(response) => panic!("request succeeded: {response:?}"),
        }
    }

    /// Reads until the server closes; the close code (`None` if it just hung up).
    pub async fn close_code(&mut self) -> Option<u16> {
        while let Some(frame) = self.recv_frame().await {
            if let Message::Close(frame) = frame {
                return frame.map(|f| u16::from(f.code));
            }
        }
        None
    }
}

/// Requests on a WebSocket, by shorthand.
pub mod wsreq {
    use super::*;
    use tidepool_protocol::ws::*;

    pub fn open(stream_id: i32) -> Request {
        Request::OpenStream(OpenStreamReq { stream_id })
    }

    pub fn close(stream_id: i32) -> Request {
        Request::CloseStream(CloseStreamReq { stream_id })
    }

    pub fn execute(stream_id: i32, stmt: Stmt) -> Request {
        Request::Execute(ExecuteReq { stream_id, stmt })
    }

    pub fn exec_sql(stream_id: i32, sql: &str) -> Request {
        execute(stream_id, Stmt::new(sql))
    }

    pub fn batch(stream_id: i32, batch: Batch) -> Request {
        Request::Batch(BatchReq { stream_id, batch })
    }

    pub fn sequence(stream_id: i32, sql: &str) -> Request {
        Request::Sequence(SequenceReq {
            stream_id,
            sql: Some(sql.to_owned()),
            sql_id: None,
        })
    }

    pub fn describe(stream_id: i32, sql: &str) -> Request {
        Request::Describe(DescribeReq {
            stream_id,
            sql: Some(sql.to_owned()),
            sql_id: None,
        })
    }

    pub fn store_sql(sql_id: i32, sql: &str) -> Request {
        Request::StoreSql(StoreSqlReq {
            sql_id,
            sql: sql.to_owned(),
        })
    }

    pub fn close_sql(sql_id: i32) -> Request {
        Request::CloseSql(CloseSqlReq { sql_id })
    }

    pub fn autocommit(stream_id: i32) -> Request {
        Request::GetAutocommit(GetAutocommitReq { stream_id })
    }

    pub fn open_cursor(stream_id: i32, cursor_id: i32, batch: Batch) -> Request {
        Request::OpenCursor(OpenCursorReq {
            stream_id,
            cursor_id,
            batch,
        })
    }

    pub fn fetch(cursor_id: i32, max_count: u32) -> Request {
        Request::FetchCursor(FetchCursorReq {
            cursor_id,
            max_count,
        })
    }

    pub fn close_cursor(cursor_id: i32) -> Request {
        Request::CloseCursor(CloseCursorReq { cursor_id })
    }
}

/// The statement result of an execute response.
#[track_caller]
pub fn ws_exec(response: &Response) -> &StmtResult {
    match response {
        Response::Execute(r) => &r.result,
        other => panic!("not an execute response: {other:?}"),
    }
}

#[track_caller]
pub fn ws_batch(response: &Response) -> &BatchResult {
    match response {
        Response::Batch(r) => &r.result,
        other => panic!("not a batch response: {other:?}"),
    }
}

/// One test per HTTP encoding: `both_encodings!(name)` runs `async fn name(Encoding)`.
#[macro_export]
macro_rules! both_encodings {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn json() {
                    super::$name(tidepool_protocol::Encoding::Json).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn protobuf() {
                    super::$name(tidepool_protocol::Encoding::Protobuf).await
                }
            }
        )+
    };
}

/// One test per WebSocket subprotocol: runs `async fn name(&str)`.
#[macro_export]
macro_rules! all_subprotocols {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn hrana1() {
                    super::$name("hrana1").await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn hrana2() {
                    super::$name("hrana2").await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn hrana3() {
                    super::$name("hrana3").await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn hrana3_protobuf() {
                    super::$name("hrana3-protobuf").await
                }
            }
        )+
    };
}
