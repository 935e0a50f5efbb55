//! `POST /v*/pipeline` and `POST /v3*/cursor`: requests on a stream named by a baton.

use std::collections::HashMap;
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
use tidepool_protocol::{codec, CursorEntry, Encoding, Error, Stmt};

use super::streams::{Lease, StreamState};
use super::{authenticate, http_error, read_body, status_for};
use crate::errors::{code, err};
use crate::exec::{batch_size, result_size};
use crate::session::Session;
use crate::state::AppState;

/// Cursor output is sent in chunks of about this many bytes.
const CURSOR_CHUNK: usize = 16 * 1024;
/// Largest cursor body built inline and sent in one piece.
const INLINE_CURSOR_BYTES: usize = 64 * 1024;

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
    let budget = state.config.inline_budget;
    let mut run = Run::new(state.config.max_response_bytes, request.requests.len());
    let mut requests = request.requests.into_iter();
    let mut rest = Vec::new();
    if !budget.is_zero() {
        // Reads run inline; the first request that is not a read, or that outruns the budget,
        // and everything after it go to the blocking pool.
        for request in requests.by_ref() {
            let StreamState { session, sqls, .. } = &mut *lease.state;
            let ran = if run.closed || matches!(request, StreamRequest::Close(_)) {
                Some(run.without_sql())
            } else if is_read(&request, sqls) {
                let budget_left = run.budget;
                session.inline(budget, |session| {
                    run_read(session, sqls, &request, budget_left)
                })
            } else {
                None
            };
            match ran {
                Some(outcome) => run.record(&request, outcome),
                None => {
                    rest.push(request);
                    break;
                }
            }
        }
    }
    rest.extend(requests);
    if rest.is_empty() {
        let baton = (!run.closed).then(|| state.http_streams.next_baton(&mut lease));
        if let Some(closed) = state.http_streams.finish(lease, run.closed) {
            // Returning a connection inside a transaction rolls it back: blocking work.
            if !closed.state.session.is_autocommit() {
                tokio::task::spawn_blocking(move || drop(closed));
            }
        }
        let response = PipelineRespBody {
            baton,
            base_url: None,
            results: run.results,
        };
        return encoded(encoding, codec::encode(encoding, &response));
    }
    let app = Arc::clone(&state);
    let work = crate::blocking::run_interruptible(move |interrupt| {
        if let Ok(handle) = lease.state.session.interrupt_handle() {
            interrupt.arm(handle);
        }
        for request in rest {
            let outcome = run.attempt_any(&mut lease.state, &request, &app);
            run.record(&request, outcome);
        }
        let baton = (!run.closed).then(|| app.http_streams.next_baton(&mut lease));
        // A closed stream's lease drops here, on this blocking thread, returning its connection.
        drop(app.http_streams.finish(lease, run.closed));
        PipelineRespBody {
            baton,
            base_url: None,
            results: run.results,
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

/// Requests that only read (see `crate::blocking`): they may run inline, and again on the
/// blocking pool if they outrun the budget.
fn is_read(request: &StreamRequest, sqls: &HashMap<i32, Arc<str>>) -> bool {
    match request {
        StreamRequest::Execute(req) => stmt_is_read(&req.stmt, sqls),
        StreamRequest::Batch(req) => (req.batch.steps.iter()).all(|s| stmt_is_read(&s.stmt, sqls)),
        StreamRequest::Describe(_) | StreamRequest::GetAutocommit(_) => true,
        _ => false,
    }
}

fn stmt_is_read(stmt: &Stmt, sqls: &HashMap<i32, Arc<str>>) -> bool {
    match (&stmt.sql, stmt.sql_id) {
        (Some(sql), None) => crate::blocking::inline_sql(sql),
        (None, Some(id)) => (sqls.get(&id)).is_some_and(|sql| crate::blocking::inline_sql(sql)),
        _ => false,
    }
}

/// A pipeline's progress: its requests run in order and every one runs, even after an earlier
/// one failed; they share one response budget.
struct Run {
    results: Vec<StreamResult>,
    closed: bool,
    budget: usize,
}

impl Run {
    fn new(budget: usize, requests: usize) -> Self {
        Run {
            results: Vec::with_capacity(requests),
            closed: false,
            budget,
        }
    }

    /// The outcome of a close, or of any request after one.
    fn without_sql(&self) -> Result<StreamResponse, Error> {
        if self.closed {
            return Err(err(
                code::STREAM_CLOSED,
                "the stream was closed by an earlier request",
            ));
        }
        Ok(StreamResponse::Close(CloseStreamResp {}))
    }

    /// Runs any request.
    fn attempt_any(
        &self,
        state: &mut StreamState,
        request: &StreamRequest,
        app: &AppState,
    ) -> Result<StreamResponse, Error> {
        if self.closed || matches!(request, StreamRequest::Close(_)) {
            return self.without_sql();
        }
        handle(state, request, app, self.budget)
    }

    fn record(&mut self, request: &StreamRequest, outcome: Result<StreamResponse, Error>) {
        if matches!(request, StreamRequest::Close(_)) && !self.closed {
            self.closed = true;
        }
        self.budget = self.budget.saturating_sub(match &outcome {
            Ok(StreamResponse::Execute(r)) => result_size(&r.result),
            Ok(StreamResponse::Batch(r)) => batch_size(&r.result),
            _ => 0,
        });
        self.results.push(match outcome {
            Ok(response) => StreamResult::Ok { response },
            Err(error) => StreamResult::Error { error },
        });
    }
}

/// The read-only requests: execute, batch, describe and get_autocommit.
fn run_read(
    session: &mut Session,
    sqls: &HashMap<i32, Arc<str>>,
    request: &StreamRequest,
    budget: usize,
) -> Result<StreamResponse, Error> {
    Ok(match request {
        StreamRequest::Execute(req) => {
            let result = session.with_executor_within(sqls, budget, |ex| ex.execute(&req.stmt))?;
            StreamResponse::Execute(ExecuteStreamResp { result })
        }
        StreamRequest::Batch(req) => {
            let result = session.with_executor_within(sqls, budget, |ex| ex.batch(&req.batch))?;
            StreamResponse::Batch(BatchStreamResp { result })
        }
        StreamRequest::Describe(req) => {
            let result = session.with_executor(sqls, |ex| {
                let sql = ex.sql_text(req.sql.as_deref(), req.sql_id)?;
                ex.describe(&sql)
            })?;
            StreamResponse::Describe(DescribeStreamResp { result })
        }
        StreamRequest::GetAutocommit(_) => StreamResponse::GetAutocommit(GetAutocommitStreamResp {
            is_autocommit: session.is_autocommit(),
        }),
        _ => return Err(err(code::INTERNAL, "not a read-only request")),
    })
}

fn handle(
    state: &mut StreamState,
    request: &StreamRequest,
    app: &AppState,
    budget: usize,
) -> Result<StreamResponse, Error> {
    let StreamState { session, sqls, .. } = state;
    Ok(match request {
        StreamRequest::Close(_) => StreamResponse::Close(CloseStreamResp {}),
        StreamRequest::Execute(_)
        | StreamRequest::Batch(_)
        | StreamRequest::Describe(_)
        | StreamRequest::GetAutocommit(_) => return run_read(session, sqls, request, budget),
        StreamRequest::Sequence(req) => {
            session.with_executor(sqls, |ex| {
                let sql = ex.sql_text(req.sql.as_deref(), req.sql_id)?;
                ex.sequence(&sql)
            })?;
            StreamResponse::Sequence(SequenceStreamResp {})
        }
        StreamRequest::StoreSql(req) => {
            let sql = req.sql.clone();
            crate::state::store_sql(sqls, req.sql_id, sql, app.config.max_sql_texts)?;
            StreamResponse::StoreSql(StoreSqlStreamResp {})
        }
        StreamRequest::CloseSql(req) => {
            sqls.remove(&req.sql_id);
            StreamResponse::CloseSql(CloseSqlStreamResp {})
        }
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

    let content_type = HeaderValue::from_static(encoding.content_type());
    let budget = state.config.inline_budget;
    let sqls = &lease.state.sqls;
    let reads = (request.batch.steps.iter()).all(|step| stmt_is_read(&step.stmt, sqls));
    if reads && !budget.is_zero() {
        // A short read's whole body is built inline and sent in one piece; a long or large
        // one starts again below as a streaming cursor.
        let StreamState { session, sqls, .. } = &mut *lease.state;
        let mut body = head.clone();
        let ran = session.inline(budget, |session| {
            let mut fits = true;
            let outcome = session.with_executor(sqls, |ex| {
                ex.cursor(&request.batch, |entry| {
                    codec::encode_stream_item(encoding, &entry, &mut body);
                    fits = body.len() <= INLINE_CURSOR_BYTES;
                    fits
                });
                Ok(())
            });
            if let Err(error) = outcome {
                codec::encode_stream_item(encoding, &CursorEntry::Error { error }, &mut body);
            }
            fits
        });
        if ran == Some(true) {
            drop(state.http_streams.finish(lease, false));
            return ([(header::CONTENT_TYPE, content_type)], body).into_response();
        }
    }

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
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

use futures_util::StreamExt as _;
