//! The server's HTTP request handling end to end, in-process: the router `serve` runs
//! (`tidepool_server::app`) over a fresh database per input, driven with
//! `tower::ServiceExt::oneshot`.
//!
//! Each input is sent as the body of the route's JSON and protobuf endpoints; when a response
//! hands back a baton, the decoded request is sent again on that stream. Every response must be
//! well formed: a 2xx carries a body in the request's encoding (for a pipeline, one result per
//! request; for a cursor, items that frame and decode), anything else a JSON `Error` body with a
//! status the spec names, and never 500 (an internal error is a bug).
//!
//! SQL is the client's to choose and SQLite runs what it is given, so statements that can
//! compute without bound (recursive CTEs, giant blobs and strings) are not the request handling
//! under test: inputs naming them are skipped, so a run does not stall on legitimate work.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http::{header, Request, StatusCode};
use http_body_util::{BodyExt as _, Limited};
use tidepool_protocol::codec::{self, Wire};
use tidepool_protocol::http::{CursorReqBody, CursorRespBody, PipelineReqBody, PipelineRespBody};
use tidepool_protocol::{CursorEntry, Encoding, Error};
use tidepool_server::Config;
use tower::ServiceExt as _;

/// SQL that may run without bound; an input containing any of these (any case) is skipped.
const UNBOUNDED_SQL: &[&str] = &[
    "with",
    "recursive",
    "zeroblob",
    "randomblob",
    "printf",
    "format",
    "replace",
    "hex",
];

/// The most of a cursor body read; the rest is dropped, as a client going away would.
const MAX_CURSOR_BODY: usize = 1 << 20;

pub fn http_pipeline(data: &[u8]) {
    run(data, Route::Pipeline);
}

pub fn http_cursor(data: &[u8]) {
    run(data, Route::Cursor);
}

#[derive(Clone, Copy, Debug)]
enum Route {
    Pipeline,
    Cursor,
}

fn run(data: &[u8], route: Route) {
    if skipped(data) {
        return;
    }
    runtime().block_on(async {
        let dir = scratch_dir();
        let mut config = Config::new(dir.path().join("fuzz.db"));
        config.busy_timeout = Duration::from_millis(20);
        config.max_response_bytes = 64 << 10;
        config.max_request_bytes = 1 << 20;
        config.request_timeout = Duration::from_secs(10);
        let app = tidepool_server::app(config).unwrap_or_else(|e| panic!("server app: {e:#}"));
        for encoding in [Encoding::Json, Encoding::Protobuf] {
            let baton = send(&app, route, encoding, Bytes::copy_from_slice(data)).await;
            if let Some(baton) = baton {
                if let Some(body) = with_baton(route, encoding, data, baton) {
                    send(&app, route, encoding, body).await;
                }
            }
        }
    });
}

pub(crate) fn skipped(data: &[u8]) -> bool {
    let lower = data.to_ascii_lowercase();
    UNBOUNDED_SQL
        .iter()
        .any(|word| lower.windows(word.len()).any(|w| w == word.as_bytes()))
}

/// The input re-encoded with `baton`, when it decodes.
fn with_baton(route: Route, encoding: Encoding, data: &[u8], baton: String) -> Option<Bytes> {
    Some(Bytes::from(match route {
        Route::Pipeline => {
            let mut req: PipelineReqBody = codec::decode(encoding, data).ok()?;
            req.baton = Some(baton);
            codec::encode(encoding, &req)
        }
        Route::Cursor => {
            let mut req: CursorReqBody = codec::decode(encoding, data).ok()?;
            req.baton = Some(baton);
            codec::encode(encoding, &req)
        }
    }))
}

/// Sends one request, checks the response and returns the baton it carries.
async fn send(app: &axum::Router, route: Route, encoding: Encoding, body: Bytes) -> Option<String> {
    let path = match (route, encoding) {
        (Route::Pipeline, Encoding::Json) => "/v3/pipeline",
        (Route::Pipeline, Encoding::Protobuf) => "/v3-protobuf/pipeline",
        (Route::Cursor, Encoding::Json) => "/v3/cursor",
        (Route::Cursor, Encoding::Protobuf) => "/v3-protobuf/cursor",
    };
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, encoding.content_type())
        .body(Body::from(body.clone()))
        .unwrap_or_else(|e| panic!("request: {e}"));
    let response = app
        .clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|e| match e {});
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let limited = Limited::new(response.into_body(), MAX_CURSOR_BODY);
    let Ok(collected) = limited.collect().await else {
        // Over the cap (a long cursor): dropping the body stops it, as a vanished client does.
        return None;
    };
    let bytes = collected.to_bytes();
    if !status.is_success() {
        check_error(path, status, &content_type, &bytes);
        return None;
    }
    assert_eq!(
        content_type,
        encoding.content_type(),
        "{path}: content type"
    );
    match route {
        Route::Pipeline => {
            let response: PipelineRespBody = decode(path, encoding, &bytes);
            let request: PipelineReqBody = decode(path, encoding, &body);
            assert_eq!(
                response.results.len(),
                request.requests.len(),
                "{path}: one result per request"
            );
            response.baton
        }
        Route::Cursor => check_cursor(path, encoding, bytes),
    }
}

fn check_error(path: &str, status: StatusCode, content_type: &str, bytes: &[u8]) {
    let known = [
        StatusCode::BAD_REQUEST,
        StatusCode::UNAUTHORIZED,
        StatusCode::FORBIDDEN,
        StatusCode::NOT_FOUND,
        StatusCode::PAYLOAD_TOO_LARGE,
        StatusCode::SERVICE_UNAVAILABLE,
    ];
    assert!(known.contains(&status), "{path}: status {status}");
    assert_eq!(
        content_type, "application/json",
        "{path}: error content type"
    );
    let error: Error = serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!("{path}: {status} body is not a JSON Error ({e}): {bytes:?}");
    });
    assert!(error.code.is_some(), "{path}: error without a code");
}

/// A cursor body frames into a head and entries; returns the head's baton.
fn check_cursor(path: &str, encoding: Encoding, bytes: Bytes) -> Option<String> {
    let mut buf = BytesMut::from(&bytes[..]);
    let head: CursorRespBody = codec::decode_stream_item(encoding, &mut buf)
        .unwrap_or_else(|e| panic!("{path}: cursor head: {e}"))
        .unwrap_or_else(|| panic!("{path}: no cursor head"));
    while !buf.is_empty() {
        codec::decode_stream_item::<CursorEntry>(encoding, &mut buf)
            .unwrap_or_else(|e| panic!("{path}: cursor entry: {e}"))
            .unwrap_or_else(|| panic!("{path}: cursor body ends mid-item"));
    }
    head.baton
}

fn decode<T: Wire>(path: &str, encoding: Encoding, bytes: &[u8]) -> T {
    codec::decode(encoding, bytes).unwrap_or_else(|e| panic!("{path}: body does not decode: {e}"))
}

/// One runtime for every input; the blocking pool runs the SQLite work.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    })
}

/// A fresh directory for one input's database, in memory-backed `/dev/shm` when there is one.
pub(crate) fn scratch_dir() -> tempfile::TempDir {
    static SHM: Mutex<Option<bool>> = Mutex::new(None);
    let shm = *SHM
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(|| std::path::Path::new("/dev/shm").is_dir());
    let dir = if shm {
        tempfile::tempdir_in("/dev/shm")
    } else {
        tempfile::tempdir()
    };
    dir.unwrap_or_else(|e| panic!("temp dir: {e}"))
}
