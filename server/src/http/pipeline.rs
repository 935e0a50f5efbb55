//! `POST /v*/pipeline` and `POST /v3*/cursor`: requests on a stream named by a baton.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream;
use tidepool_protocol::http::{
    BatchStreamResp, CloseSqlStreamResp, CloseStreamResp, CursorReqBody, CursorRespBody,
    DescribeStreamResp, ExecuteStreamResp, GetAutocommitStreamResp, PipelineReqBody,
    PipelineRespBody, SequenceStreamResp, StoreSqlStreamResp, StreamRequest, StreamResponse,
    StreamResult,
};
use tidepool_protocol::{codec, CursorEntry, Encoding, Error};

use super::streams::{Lease, StreamState};
use super::{authenticate, http_error, read_body, status_for};
use crate::errors::{code, err};
use crate::exec::{batch_size, result_size};
use crate::state::AppState;

/// Cursor output is sent in chunks of about this many bytes.
const CURSOR_CHUNK: usize = 16 * 1024;

fn encoded(encoding: Encoding, body: Vec<u8>) -> Response {
    let content_type = HeaderValue::from_static(encoding.content_type());
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// A request body that names its stream by baton.
trait OnStream: codec::Wire {
    fn baton(&self) -> Option<&str>;
}

impl OnStream for PipelineReqBody {
    fn baton(&self) -> Option<&str> {
        self.baton.as_deref()
    }
}

impl OnStream for CursorReqBody {
    fn baton(&self) -> Option<&str> {
        self.baton.as_deref()
    }
}

/// Authenticates, reads and decodes a request, and checks out the stream its baton names (or
/// a new one). A refusal is the finished error response.
async fn open<T: OnStream>(
    state: &AppState,
    encoding: Encoding,
    headers: &HeaderMap,
    body: Body,
) -> Result<(T, Lease), Response> {
    let access = authenticate(state, headers)?;
    let bytes = read_body(state, body).await?;
    let request: T = codec::decode(encoding, &bytes).map_err(|e| {
        http_error(
            StatusCode::BAD_REQUEST,
            err(code::PROTOCOL_ERROR, e.to_string()),
        )
    })?;
    let lease = state
        .http_streams
        .acquire(request.baton(), access, || state.new_session(access))
        .await
        .map_err(|e| http_error(status_for(&e), e))?;
    Ok((request, lease))
}

pub async fn pipeline(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    encoding: Encoding,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (request, mut lease) = match open::<PipelineReqBody>(&state, encoding, &headers, body).await
    {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let app = Arc::clone(&state);
    let work = crate::blocking::run(move || {
        let (results, close) = run_pipeline(&mut lease.state, request.requests, &app);
        let baton = (!close).then(|| app.http_streams.next_baton(&mut lease));
        // A closed stream's lease drops here, on this blocking thread, returning its connection.
        drop(app.http_streams.finish(lease, close));
        PipelineRespBody {
            baton,
            base_url: None,
            results,
        }
    });
    match work.await {
        Some(response) => encoded(encoding, codec::encode(encoding, &response)),
        None => http_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            err(code::INTERNAL, "request failed"),
        ),
    }
}

/// Runs a pipeline's requests in order; every request runs even if an earlier one failed.
/// Returns the results and whether the stream was closed.
fn run_pipeline(
    state: &mut StreamState,
    requests: Vec<StreamRequest>,
    app: &AppState,
) -> (Vec<StreamResult>, bool) {
    let mut closed = false;
    // The requests of one pipeline share one response budget.
    let mut budget = app.config.max_response_bytes;
    let results = requests
        .into_iter()
        .map(|request| {
            let outcome = if closed {
                Err(err(
                    code::STREAM_CLOSED,
                    "the stream was closed by an earlier request",
                ))
            } else {
                if matches!(request, StreamRequest::Close(_)) {
                    closed = true;
                }
                let outcome = handle(state, request, app, budget);
                budget = budget.saturating_sub(match &outcome {
                    Ok(StreamResponse::Execute(r)) => result_size(&r.result),
                    Ok(StreamResponse::Batch(r)) => batch_size(&r.result),
                    _ => 0,
                });
                outcome
            };
            match outcome {
                Ok(response) => StreamResult::Ok { response },
                Err(error) => StreamResult::Error { error },
            }
        })
        .collect();
    (results, closed)
}

fn handle(
    state: &mut StreamState,
    request: StreamRequest,
    app: &AppState,
    budget: usize,
) -> Result<StreamResponse, Error> {
    let StreamState { session, sqls, .. } = state;
    Ok(match request {
        StreamRequest::Close(_) => StreamResponse::Close(CloseStreamResp {}),
        StreamRequest::Execute(req) => {
            let result = session.with_executor_within(sqls, budget, |ex| ex.execute(&req.stmt))?;
            StreamResponse::Execute(ExecuteStreamResp { result })
        }
        StreamRequest::Batch(req) => {
            let result = session.with_executor_within(sqls, budget, |ex| ex.batch(&req.batch))?;
            StreamResponse::Batch(BatchStreamResp { result })
        }
        StreamRequest::Sequence(req) => {
            session.with_executor(sqls, |ex| {
                let sql = ex.sql_text(req.sql.as_deref(), req.sql_id)?;
                ex.sequence(&sql)
            })?;
            StreamResponse::Sequence(SequenceStreamResp {})
        }
        StreamRequest::Describe(req) => {
            let result = session.with_executor(sqls, |ex| {
                let sql = ex.sql_text(req.sql.as_deref(), req.sql_id)?;
                ex.describe(&sql)
            })?;
            StreamResponse::Describe(DescribeStreamResp { result })
        }
        StreamRequest::StoreSql(req) => {
            crate::state::store_sql(sqls, req.sql_id, req.sql, app.config.max_sql_texts)?;
            StreamResponse::StoreSql(StoreSqlStreamResp {})
        }
        StreamRequest::CloseSql(req) => {
            sqls.remove(&req.sql_id);
            StreamResponse::CloseSql(CloseSqlStreamResp {})
        }
        StreamRequest::GetAutocommit(_) => StreamResponse::GetAutocommit(GetAutocommitStreamResp {
            is_autocommit: session.is_autocommit(),
        }),
        StreamRequest::Unknown => {
            return Err(err(code::UNKNOWN_REQUEST, "unknown request type"));
        }
    })
}

pub async fn cursor(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    encoding: Encoding,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (request, mut lease) = match open::<CursorReqBody>(&state, encoding, &headers, body).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let baton = state.http_streams.next_baton(&mut lease);
    let mut head = Vec::new();
    codec::encode_stream_item(
        encoding,
        &CursorRespBody {
            baton: Some(baton),
            base_url: None,
        },
        &mut head,
    );

    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let app = Arc::clone(&state);
    tokio::task::spawn_blocking(move || {
        let StreamState { session, sqls, .. } = &mut *lease.state;
        let mut buf = Vec::with_capacity(CURSOR_CHUNK);
        let mut open = true;
        let outcome = session.with_executor(sqls, |ex| {
            ex.cursor(&request.batch, |entry| {
                codec::encode_stream_item(encoding, &entry, &mut buf);
                if buf.len() >= CURSOR_CHUNK {
                    open = tx
                        .blocking_send(Bytes::from(std::mem::take(&mut buf)))
                        .is_ok();
                }
                open
            });
            Ok(())
        });
        if let Err(error) = outcome {
            codec::encode_stream_item(encoding, &CursorEntry::Error { error }, &mut buf);
        }
        if open && !buf.is_empty() {
            let _ = tx.blocking_send(Bytes::from(buf));
        }
        drop(app.http_streams.finish(lease, false));
    });

    let chunks = stream::once(async move { Bytes::from(head) })
        .chain(stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        }));
    let body = Body::from_stream(chunks.map(Ok::<_, std::convert::Infallible>));
    let content_type = HeaderValue::from_static(encoding.content_type());
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

use futures_util::StreamExt as _;
