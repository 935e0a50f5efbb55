//! Hrana over HTTP: the routes, authentication of each request, and the pipeline and cursor
//! endpoints in both encodings.

pub mod baton;
mod pipeline;
pub mod streams;
mod v1;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tidepool_protocol::version::TIDEPOOL_PROTOCOL_VERSION;
use tidepool_protocol::{Encoding, Error};

use crate::auth::Access;
use crate::errors::{code, err};
use crate::state::AppState;
use crate::ws;

/// Every route the server answers.
pub fn router(state: Arc<AppState>) -> Router {
    use Encoding::{Json, Protobuf};
    Router::new()
        .route("/", get(ws::upgrade))
        .route("/v1/execute", post(v1::execute))
        .route("/v1/batch", post(v1::batch))
        .route("/v1", get(supported))
        .route("/v2", get(supported))
        .route("/v3", get(supported))
        .route("/v3-protobuf", get(supported))
        .route(
            "/v2/pipeline",
            post(|s, h, b| pipeline::pipeline(s, Json, h, b)),
        )
        .route(
            "/v3/pipeline",
            post(|s, h, b| pipeline::pipeline(s, Json, h, b)),
        )
        .route(
            "/v3-protobuf/pipeline",
            post(|s, h, b| pipeline::pipeline(s, Protobuf, h, b)),
        )
        .route(
            "/v3/cursor",
            post(|s, h, b| pipeline::cursor(s, Json, h, b)),
        )
        .route(
            "/v3-protobuf/cursor",
            post(|s, h, b| pipeline::cursor(s, Protobuf, h, b)),
        )
        .route("/health", get(health))
        .route("/version", get(version))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// An HTTP error response with a JSON `Error` body (SPEC.md, "HTTP errors").
pub fn http_error(status: StatusCode, error: Error) -> Response {
    let body = serde_json::to_vec(&error).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// The status an error that ends a request before any statement runs is sent with.
pub fn status_for(error: &Error) -> StatusCode {
    match error.code.as_deref() {
        Some(code::REQUEST_TOO_LARGE) => StatusCode::PAYLOAD_TOO_LARGE,
        Some(code::STREAM_LIMIT) => StatusCode::SERVICE_UNAVAILABLE,
        Some(c) if c.starts_with("AUTH_") => StatusCode::UNAUTHORIZED,
        Some(code::FORBIDDEN) => StatusCode::FORBIDDEN,
        Some(code::INTERNAL) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Checks the request's bearer token; a refusal is the finished 401 response.
#[allow(clippy::result_large_err)]
pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Access, Response> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    state
        .auth
        .authenticate_header(header, crate::state::now_unix_secs())
        .map_err(|e| {
            let mut response = http_error(StatusCode::UNAUTHORIZED, err(e.code(), e.to_string()));
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        })
}

/// Reads a request body up to the configured limit.
#[allow(clippy::result_large_err)]
pub async fn read_body(state: &AppState, body: Body) -> Result<bytes::Bytes, Response> {
    axum::body::to_bytes(body, state.config.max_request_bytes)
        .await
        .map_err(|_| {
            let limit = state.config.max_request_bytes;
            http_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                err(
                    code::REQUEST_TOO_LARGE,
                    format!("request body is over the {limit}-byte limit"),
                ),
            )
        })
}

/// `GET /v2`, `/v3`, `/v3-protobuf`: version probes. They answer without a token because stock
/// clients probe before sending credentials and fall back to an older version when refused; a
/// probe reveals nothing but the version (SPEC.md, "Authentication").
async fn supported() -> StatusCode {
    StatusCode::OK
}

async fn health(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match authenticate(&state, &headers) {
        Ok(_) => "ok".into_response(),
        Err(response) => response,
    }
}

async fn version(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(response) = authenticate(&state, &headers) {
        return response;
    }
    let body = serde_json::json!({
        "server": "tidepool-server",
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": TIDEPOOL_PROTOCOL_VERSION,
        "hrana": [1, 2, 3],
        "extensions": [],
    });
    axum::Json(body).into_response()
}

/// The answer to a request that ran past `Config::request_timeout`.
pub async fn timed_out(_: tower::BoxError) -> Response {
    let error = err(
        code::INTERNAL,
        "the request took longer than the server allows",
    );
    http_error(StatusCode::REQUEST_TIMEOUT, error)
}

async fn method_not_allowed() -> Response {
    let error = err(
        code::METHOD_NOT_ALLOWED,
        "method not allowed on this endpoint",
    );
    http_error(StatusCode::METHOD_NOT_ALLOWED, error)
}

async fn not_found() -> Response {
    http_error(
        StatusCode::NOT_FOUND,
        err(code::NOT_FOUND, "no such endpoint"),
    )
}
