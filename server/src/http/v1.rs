//! Hrana over HTTP version 1 (`POST /v1/execute`, `POST /v1/batch`): one statement or batch per
//! request, no streams. Older clients such as Python's `libsql-client` 0.3 speak only this.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tidepool_protocol::{Batch, BatchResult, Error, Stmt, StmtResult};

use super::{authenticate, http_error, read_body};
use crate::errors::{code, err};
use crate::session::Session;
use crate::state::AppState;

#[derive(Deserialize)]
struct ExecuteReq {
    stmt: Stmt,
}

#[derive(Serialize)]
struct ExecuteResp {
    result: StmtResult,
}

#[derive(Deserialize)]
struct BatchReq {
    batch: Batch,
}

#[derive(Serialize)]
struct BatchResp {
    result: BatchResult,
}

/// Decodes a JSON body, runs `work` on a fresh stream, and answers `{"result": ...}`; a
/// failure is a 400 with the JSON `Error`.
async fn run<Req, Resp>(
    state: Arc<AppState>,
    headers: HeaderMap,
    body: Body,
    work: fn(&mut Session, Req) -> Result<Resp, Error>,
) -> Response
where
    Req: for<'de> Deserialize<'de> + Send + 'static,
    Resp: Serialize + Send + 'static,
{
    let access = match authenticate(&state, &headers) {
        Ok(access) => access,
        Err(response) => return response,
    };
    let bytes = match read_body(&state, body).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let request: Req = match serde_json::from_slice(&bytes) {
        Ok(request) => request,
        Err(e) => {
            let error = err(code::PROTOCOL_ERROR, format!("malformed JSON message: {e}"));
            return http_error(StatusCode::BAD_REQUEST, error);
        }
    };
    let mut session = state.new_session(access);
    let outcome = crate::blocking::run(move || work(&mut session, request)).await;
    match outcome {
        Some(Ok(response)) => axum::Json(response).into_response(),
        // A whole request refused for the token's access is a 403; other failures are 400.
        Some(Err(error)) => http_error(super::status_for(&error), error),
        None => http_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            err(code::INTERNAL, "request failed"),
        ),
    }
}

pub async fn execute(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run(state, headers, body, |session, req: ExecuteReq| {
        let result = session.with_executor(&HashMap::new(), |ex| ex.execute(&req.stmt))?;
        Ok(ExecuteResp { result })
    })
    .await
}

pub async fn batch(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    run(state, headers, body, |session, req: BatchReq| {
        let result = session.with_executor(&HashMap::new(), |ex| ex.batch(&req.batch))?;
        Ok(BatchResp { result })
    })
    .await
}
