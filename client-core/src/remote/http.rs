//! Hrana over HTTP: a pooled hyper client (HTTP/1.1 keep-alive, HTTP/2 by ALPN over rustls),
//! version and encoding negotiated once per database, pipelines sent through the tower stack
//! (retry policy, timeouts, tracing spans), and cursor bodies read as they arrive.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::future::BoxFuture;
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tidepool_protocol::http::{PipelineReqBody, PipelineRespBody};
use tidepool_protocol::{codec, Encoding};
use tokio::sync::OnceCell;
use tower::{Service, ServiceExt as _};
use tracing::Instrument as _;

use super::retry::{Policy, Replayable, RetrySettings};
use crate::error::{code, Error, ErrorKind, Result};

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
type Hyper = Client<Connector, Full<Bytes>>;

/// The HTTP flavour a server speaks, found once per database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpVersion {
    /// `/v3-protobuf/*` or `/v3/*`, with cursors and `get_autocommit`.
    V3(Encoding),
    /// `/v2/pipeline`, JSON.
    V2,
}

impl HttpVersion {
    pub fn encoding(self) -> Encoding {
        match self {
            HttpVersion::V3(encoding) => encoding,
            HttpVersion::V2 => Encoding::Json,
        }
    }

    /// The path prefix of this version's endpoints (`v3-protobuf`, `v3`, `v2`).
    pub fn prefix(self) -> &'static str {
        match self {
            HttpVersion::V3(Encoding::Protobuf) => "v3-protobuf",
            HttpVersion::V3(Encoding::Json) => "v3",
            HttpVersion::V2 => "v2",
        }
    }

    pub fn has_v3(self) -> bool {
        matches!(self, HttpVersion::V3(_))
    }
}

/// Timeouts for HTTP requests.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
    pub total: Duration,
}

/// One HTTP request, as the tower stack sees it.
#[derive(Clone, Debug)]
pub struct Call {
    pub url: Arc<str>,
    pub body: Bytes,
    pub encoding: Encoding,
    /// Whether sending it twice cannot change the database.
    pub idempotent: bool,
}

impl Replayable for Call {
    fn is_idempotent(&self) -> bool {
        self.idempotent
    }
}

/// The innermost service: sends one request and reads the whole response.
#[derive(Clone, Debug)]
struct Sender {
    hyper: Hyper,
    auth: Option<HeaderValue>,
    request_timeout: Duration,
}

impl Service<Call> for Sender {
    type Response = Bytes;
    type Error = Error;
    type Future = BoxFuture<'static, Result<Bytes>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: Call) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let response = this.send(&call, Method::POST, Some(call.body.clone()));
            let response = tokio::time::timeout(this.request_timeout, response)
                .await
                .map_err(|_| timeout_error(call.idempotent))??;
            let status = response.status();
            let body = tokio::time::timeout(this.request_timeout, response.into_body().collect())
                .await
                .map_err(|_| timeout_error(call.idempotent))?
                .map_err(|e| sent_error(e, call.idempotent))?
                .to_bytes();
            if status.is_success() {
                Ok(body)
            } else {
                Err(status_error(status, &body))
            }
        })
    }
}

impl Sender {
    async fn send(
        &self,
        call: &Call,
        method: Method,
        body: Option<Bytes>,
    ) -> Result<http::Response<hyper::body::Incoming>> {
        let mut builder = Request::builder().method(method).uri(&*call.url);
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, call.encoding.content_type());
        }
        if let Some(auth) = &self.auth {
            builder = builder.header(header::AUTHORIZATION, auth.clone());
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| Error::usage(code::INVALID_CONFIG, format!("invalid request: {e}")))?;
        self.hyper.request(request).await.map_err(|e| {
            if e.is_connect() {
                Error::with_source(
                    ErrorKind::Network,
                    code::CONNECT_FAILED,
                    "could not connect to the server",
                    e,
                )
            } else {
                sent_error(e, call.idempotent)
            }
        })
    }
}

/// A failure after the request may have reached the server.
fn sent_error(e: impl std::error::Error + Send + Sync + 'static, idempotent: bool) -> Error {
    if idempotent {
        Error::with_source(
            ErrorKind::Network,
            code::NETWORK,
            "the connection failed",
            e,
        )
    } else {
        Error::with_source(
            ErrorKind::Network,
            code::OUTCOME_UNKNOWN,
            "the connection failed after the request was sent; it may or may not have run",
            e,
        )
    }
}

fn timeout_error(idempotent: bool) -> Error {
    if idempotent {
        Error::new(ErrorKind::Timeout, code::TIMEOUT, "the request timed out")
    } else {
        Error::new(
            ErrorKind::Timeout,
            code::OUTCOME_UNKNOWN,
            "the request timed out after it was sent; it may or may not have run",
        )
    }
}

/// An HTTP error status: the server's `Error` body when it has one (SPEC.md, "HTTP errors").
fn status_error(status: StatusCode, body: &[u8]) -> Error {
    if let Ok(error) = serde_json::from_slice::<tidepool_protocol::Error>(body) {
        let mut error = Error::from_wire(error);
        // Turso answers 404 for an expired stream, sometimes without a body code.
        if status == StatusCode::NOT_FOUND && error.code() == "UNKNOWN" {
            error = Error::new(
                ErrorKind::Server,
                "STREAM_EXPIRED",
                error.message().to_owned(),
            );
        }
        return error;
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
    let code = match status {
        StatusCode::UNAUTHORIZED => "AUTH_INVALID",
        StatusCode::FORBIDDEN => "FORBIDDEN",
        StatusCode::NOT_FOUND => "STREAM_EXPIRED",
        _ => code::HTTP_STATUS,
    };
    Error::new(ErrorKind::Server, code, format!("HTTP {status}: {text}"))
}

/// The HTTP side of a database: the client, its settings and the negotiated version.
#[derive(Debug)]
pub struct HttpClient {
    base: url::Url,
    send: Sender,
    policy: Policy,
    timeouts: Timeouts,
    version: OnceCell<HttpVersion>,
    forced: Option<HttpVersion>,
}

impl HttpClient {
    pub fn new(
        base: url::Url,
        tls: Arc<rustls::ClientConfig>,
        auth_token: Option<&str>,
        timeouts: Timeouts,
        retry: RetrySettings,
        forced: Option<HttpVersion>,
    ) -> Result<Self> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeouts.connect));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let hyper = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let auth = match auth_token {
            Some(token) => {
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                        Error::usage(
                            code::INVALID_CONFIG,
                            "the auth token contains invalid characters",
                        )
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(HttpClient {
            base,
            send: Sender {
                hyper,
                auth,
                request_timeout: timeouts.request,
            },
            policy: Policy::new(retry),
            timeouts,
            version: OnceCell::new(),
            forced,
        })
    }

    fn url(&self, base_url: Option<&str>, path: &str) -> Arc<str> {
        let base = base_url.unwrap_or(self.base.as_str()).trim_end_matches('/');
        Arc::from(format!("{base}/{path}"))
    }

    /// The version found so far, without probing.
    pub fn negotiated(&self) -> Option<HttpVersion> {
        self.forced.or_else(|| self.version.get().copied())
    }

    /// The server's version, probed once (`GET /v3-protobuf`, then `/v3`) and cached.
    pub async fn version(&self) -> Result<HttpVersion> {
        if let Some(forced) = self.forced {
            return Ok(forced);
        }
        self.version
            .get_or_try_init(|| async {
                for candidate in [
                    HttpVersion::V3(Encoding::Protobuf),
                    HttpVersion::V3(Encoding::Json),
                ] {
                    if self.probe(candidate.prefix()).await? {
                        return Ok(candidate);
                    }
                }
                Ok(HttpVersion::V2)
            })
            .await
            .copied()
    }

    async fn probe(&self, path: &str) -> Result<bool> {
        let call = Call {
            url: self.url(None, path),
            body: Bytes::new(),
            encoding: Encoding::Json,
            idempotent: true,
        };
        let response = tokio::time::timeout(
            self.timeouts.request,
            self.send.send(&call, Method::GET, None),
        )
        .await
        .map_err(|_| timeout_error(true))??;
        Ok(response.status().is_success())
    }

    /// Sends one pipeline through the retry and timeout stack.
    pub async fn pipeline(
        &self,
        base_url: Option<&str>,
        body: &PipelineReqBody,
        idempotent: bool,
    ) -> Result<PipelineRespBody> {
        let version = self.version().await?;
        let encoding = version.encoding();
        let call = Call {
            url: self.url(base_url, &format!("{}/pipeline", version.prefix())),
            body: Bytes::from(codec::encode(encoding, body)),
            encoding,
            idempotent,
        };
        let span = tracing::debug_span!(
            "tidepool.http.pipeline",
            requests = body.requests.len(),
            idempotent
        );
        let service = tower::retry::Retry::new(self.policy.clone(), self.send.clone());
        let bytes = tokio::time::timeout(self.timeouts.total, service.oneshot(call))
            .instrument(span)
            .await
            .map_err(|_| timeout_error(idempotent))??;
        codec::decode(encoding, &bytes)
            .map_err(|e| Error::protocol(format!("bad pipeline response: {e}")))
    }

    /// Opens a cursor: returns the response head and the body, read item by item.
    pub async fn cursor(
        &self,
        base_url: Option<&str>,
        body: &tidepool_protocol::http::CursorReqBody,
        idempotent: bool,
    ) -> Result<(tidepool_protocol::http::CursorRespBody, CursorBody)> {
        let version = self.version().await?;
        let HttpVersion::V3(encoding) = version else {
            return Err(Error::usage(
                code::UNSUPPORTED,
                "the server does not support cursors (Hrana 2)",
            ));
        };
        let call = Call {
            url: self.url(base_url, &format!("{}/cursor", version.prefix())),
            body: Bytes::from(codec::encode(encoding, body)),
            encoding,
            idempotent,
        };
        let response = tokio::time::timeout(
            self.timeouts.request,
            self.send.send(&call, Method::POST, Some(call.body.clone())),
        )
        .await
        .map_err(|_| timeout_error(idempotent))??;
        let status = response.status();
        let mut body = CursorBody {
            body: response.into_body(),
            buf: BytesMut::new(),
            encoding,
            timeout: self.timeouts.request,
            idempotent,
            scanned: 0,
        };
        if !status.is_success() {
            let bytes = body
                .body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            return Err(status_error(status, &bytes));
        }
        let head = body
            .next_item()
            .await?
            .ok_or_else(|| Error::protocol("the cursor response ended before its head"))?;
        Ok((head, body))
    }
}

/// The largest single cursor entry accepted (a row), as the server's own message limit.
const MAX_CURSOR_ITEM: usize = 64 << 20;

/// A streamed cursor response body.
#[derive(Debug)]
pub struct CursorBody {
    body: hyper::body::Incoming,
    buf: BytesMut,
    encoding: Encoding,
    timeout: Duration,
    /// Whether the cursor's batch only reads (its failures are then safe to retry).
    idempotent: bool,
    /// How much of `buf` is known to hold no line end (JSON), so a long item is scanned once.
    scanned: usize,
}

impl CursorBody {
    /// Whether `buf` may hold a whole item: for JSON, a line end past what was scanned.
    fn may_hold_item(&mut self) -> bool {
        if self.encoding == Encoding::Protobuf {
            return true;
        }
        let found = self.buf[self.scanned..].contains(&b'\n');
        self.scanned = if found { 0 } else { self.buf.len() };
        found
    }

    /// The next item of the body, or `None` at its end.
    pub async fn next_item<T: codec::Wire>(&mut self) -> Result<Option<T>> {
        loop {
            if self.may_hold_item() {
                match codec::decode_stream_item(self.encoding, &mut self.buf) {
                    Ok(Some(item)) => return Ok(Some(item)),
                    Ok(None) => {}
                    Err(e) => return Err(Error::protocol(format!("bad cursor item: {e}"))),
                }
            }
            let frame = tokio::time::timeout(self.timeout, self.body.frame())
                .await
                .map_err(|_| timeout_error(self.idempotent))?;
            match frame {
                None if self.buf.is_empty() => return Ok(None),
                None => return Err(Error::protocol("the cursor response ended inside an item")),
                Some(Err(e)) => return Err(sent_error(e, self.idempotent)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                    // A server that never finishes an item must not make us buffer forever.
                    if self.buf.len() > MAX_CURSOR_ITEM {
                        return Err(Error::protocol(format!(
                            "a cursor item is larger than {MAX_CURSOR_ITEM} bytes"
                        )));
                    }
                }
            }
        }
    }
}
