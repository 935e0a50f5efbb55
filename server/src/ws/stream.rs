//! One WebSocket stream: a task that runs the stream's requests strictly in order, each on a
//! blocking thread, and owns the stream's cursor while one is open.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tidepool_protocol::ws::{
    BatchResp, CloseCursorResp, CloseStreamResp, DescribeResp, ExecuteResp, FetchCursorResp,
    GetAutocommitResp, OpenCursorResp, Response, SequenceResp,
};
use tidepool_protocol::{Batch, CursorEntry, Error, Stmt};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};

use super::conn::{reply_msg, Outbox, Outgoing};
use crate::auth::Access;
use crate::errors::{code, err};
use crate::session::Session;
use crate::state::AppState;

type Sqls = Arc<HashMap<i32, Arc<str>>>;

/// Most entries one `fetch_cursor` returns, whatever the client asks for.
const MAX_FETCH: usize = 1024;
/// Most pipelined requests of one stream run together on one blocking thread.
const MAX_RUN: usize = 64;
/// Entries a cursor may run ahead of the client.
const CURSOR_BUFFER: usize = 256;

/// A request for a stream. Stored SQL is a snapshot taken when the request arrived, so a later
/// `close_sql` does not reach back into requests already queued.
pub enum Op {
    Execute(Stmt, Sqls),
    Batch(Batch, Sqls),
    Sequence(Option<String>, Option<i32>, Sqls),
    Describe(Option<String>, Option<i32>, Sqls),
    GetAutocommit,
    OpenCursor(i32, Batch, Sqls),
    FetchCursor(i32, u32),
    CloseCursor(i32),
    Close,
}

impl Op {
    /// Requests that run on the session without touching cursors or the stream's life.
    fn is_plain(&self) -> bool {
        matches!(
            self,
            Op::Execute(..)
                | Op::Batch(..)
                | Op::Sequence(..)
                | Op::Describe(..)
                | Op::GetAutocommit
        )
    }

    /// Requests made only of reads, which may run inline (see `crate::blocking`).
    fn is_read(&self) -> bool {
        match self {
            Op::Execute(stmt, sqls) => stmt_is_read(stmt, sqls),
            Op::Batch(batch, sqls) => op_is_read(batch, sqls),
            Op::Describe(..) | Op::GetAutocommit => true,
            _ => false,
        }
    }
}

fn stmt_is_read(stmt: &Stmt, sqls: &Sqls) -> bool {
    match (&stmt.sql, stmt.sql_id) {
        (Some(sql), None) => crate::blocking::inline_sql(sql),
        (None, Some(id)) => sqls
            .get(&id)
            .is_some_and(|sql| crate::blocking::inline_sql(sql)),
        _ => false,
    }
}

pub struct StreamOp {
    pub request_id: i32,
    pub op: Op,
    pub access: Access,
    pub permit: OwnedSemaphorePermit,
}

pub fn closed_response() -> Response {
    Response::CloseStream(CloseStreamResp {})
}

/// An open cursor.
struct Cursor {
    id: i32,
    source: Source,
}

enum Source {
    /// Running on a blocking thread, which holds the session until it ends.
    Running {
        entries: mpsc::Receiver<CursorEntry>,
        session_back: oneshot::Receiver<Session>,
    },
    /// Ran to the end inline: every entry is here and the session never left.
    Done(std::collections::VecDeque<CursorEntry>),
}

struct Worker {
    app: Arc<AppState>,
    outbox: Outbox,
    /// `None` while a cursor holds it.
    session: Option<Session>,
    cursor: Option<Cursor>,
    /// Counts this stream among the server's live streams while the worker runs.
    _live: crate::state::GaugeGuard,
    /// Set when the transaction timeout rolled back the transaction and closed the stream;
    /// `Some(false)` until a request has been told.
    timed_out: Option<bool>,
}

/// Starts a stream's worker; it ends when its sender is dropped or it is closed.
pub fn spawn(app: Arc<AppState>, outbox: Outbox) -> mpsc::UnboundedSender<StreamOp> {
    let (tx, rx) = mpsc::unbounded_channel();
    let session = app.new_session(Access::ReadOnly);
    let worker = Worker {
        _live: app.ws_streams.enter(),
        app,
        outbox,
        session: Some(session),
        cursor: None,
        timed_out: None,
    };
    tokio::spawn(worker.run(rx));
    tx
}

impl Worker {
    async fn run(mut self, mut ops: mpsc::UnboundedReceiver<StreamOp>) {
        // A request taken from the queue while gathering a run, to be handled next.
        let mut pending: Option<StreamOp> = None;
        loop {
            let next = match pending.take() {
                Some(op) => Some(op),
                None => match self.txn_deadline() {
                    Some(deadline) => tokio::select! {
                        op = ops.recv() => op,
                        () = tokio::time::sleep_until(deadline.into()) => {
                            self.expire_transaction().await;
                            continue;
                        }
                    },
                    None => ops.recv().await,
                },
            };
            let Some(first) = next else { break };
            if first.op.is_plain() && self.ready_for_plain() {
                // Requests the client pipelined run together on one blocking thread.
                let mut run = vec![first];
                while run.len() < MAX_RUN {
                    match ops.try_recv() {
                        Ok(op) if op.op.is_plain() => run.push(op),
                        Ok(op) => {
                            pending = Some(op);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                self.handle_run(run).await;
                continue;
            }
            let StreamOp {
                request_id,
                op,
                access,
                permit,
            } = first;
            let closing = matches!(op, Op::Close);
            let result = self.handle(op, access).await;
            let _ = self.outbox.send(Outgoing {
                msg: reply_msg(request_id, result),
                permit: Some(permit),
            });
            if closing {
                break;
            }
        }
        self.end().await;
    }

    /// Whether plain requests can run right now (no cursor, no timed-out transaction).
    fn ready_for_plain(&self) -> bool {
        self.cursor.is_none() && self.timed_out.is_none() && self.session.is_some()
    }

    /// Runs consecutive plain requests in order: reads inline while they last (and fit the
    /// budget), the rest on one blocking thread.
    async fn handle_run(&mut self, run: Vec<StreamOp>) {
        let budget = self.app.config.inline_budget;
        let mut ops = run.into_iter();
        let mut run = Vec::new();
        for op in ops.by_ref() {
            let session = match self.session.as_mut() {
                Some(session) if !budget.is_zero() && op.op.is_read() => session,
                _ => {
                    run.push(op);
                    break;
                }
            };
            session.access = op.access;
            match session.inline(budget, |session| run_op(session, &op.op)) {
                Some(result) => {
                    let _ = self.outbox.send(Outgoing {
                        msg: reply_msg(op.request_id, result),
                        permit: Some(op.permit),
                    });
                }
                None => {
                    run.push(op);
                    break;
                }
            }
        }
        run.extend(ops);
        if run.is_empty() {
            return;
        }
        let Some(mut session) = self.session.take() else {
            return;
        };
        let ids: Vec<i32> = run.iter().map(|op| op.request_id).collect();
        let work = crate::blocking::run(move || {
            let replies: Vec<_> = run
                .into_iter()
                .map(
                    |StreamOp {
                         request_id,
                         op,
                         access,
                         permit,
                     }| {
                        session.access = access;
                        (reply_msg(request_id, run_op(&mut session, &op)), permit)
                    },
                )
                .collect();
            (session, replies)
        });
        match work.await {
            Some((session, replies)) => {
                self.session = Some(session);
                for (msg, permit) in replies {
                    let _ = self.outbox.send(Outgoing {
                        msg,
                        permit: Some(permit),
                    });
                }
            }
            None => {
                tracing::error!("a stream's requests failed inside the server");
                for request_id in ids {
                    let error = err(code::INTERNAL, "the request failed inside the server");
                    let _ = self.outbox.send(Outgoing {
                        msg: reply_msg(request_id, Err(error)),
                        permit: None,
                    });
                }
            }
        }
    }

    fn txn_deadline(&self) -> Option<Instant> {
        let since = self.session.as_ref()?.txn_since()?;
        Some(since + self.app.config.txn_timeout)
    }

    /// Rolls back the transaction and closes the stream; its id stays taken until the client
    /// closes it (SPEC.md, "Transaction timeout").
    async fn expire_transaction(&mut self) {
        if let Some(session) = self.session.take() {
            // Dropping the session rolls back and returns its connection: blocking work.
            let _ = tokio::task::spawn_blocking(move || drop(session)).await;
            self.timed_out = Some(false);
        }
    }

    async fn handle(&mut self, op: Op, access: Access) -> Result<Response, Error> {
        match op {
            Op::FetchCursor(id, max) => return self.fetch(id, max).await,
            Op::CloseCursor(id) => {
                if self.cursor.as_ref().is_some_and(|c| c.id == id) {
                    self.stop_cursor().await;
                }
                return Ok(Response::CloseCursor(CloseCursorResp {}));
            }
            Op::Close => return Ok(closed_response()),
            _ => {}
        }
        if self.cursor.is_some() {
            return Err(err(
                code::STREAM_BUSY,
                "a cursor is open on this stream; close it first",
            ));
        }
        match self.timed_out.replace(true) {
            Some(false) => {
                return Err(err(
                    code::TRANSACTION_TIMEOUT,
                    "the stream's transaction ran past the server's timeout and was rolled back",
                ))
            }
            Some(true) => {
                return Err(err(
                    code::STREAM_CLOSED,
                    "the stream was closed by the transaction timeout",
                ))
            }
            None => self.timed_out = None,
        }
        let Some(mut session) = self.session.take() else {
            return Err(err(code::INTERNAL, "the stream lost its session"));
        };
        session.access = access;
        if let Op::OpenCursor(id, batch, sqls) = op {
            let budget = self.app.config.inline_budget;
            let inline = (!budget.is_zero() && op_is_read(&batch, &sqls))
                .then(|| session.inline(budget, |session| cursor_inline(session, &batch, &sqls)))
                .flatten()
                .flatten();
            match inline {
                Some(entries) => {
                    self.session = Some(session);
                    self.cursor = Some(Cursor {
                        id,
                        source: Source::Done(entries),
                    });
                }
                None => self.start_cursor(id, batch, sqls, session),
            }
            return Ok(Response::OpenCursor(OpenCursorResp {}));
        }
        let work = crate::blocking::run(move || {
            let result = run_op(&mut session, &op);
            (session, result)
        });
        match work.await {
            Some((session, result)) => {
                self.session = Some(session);
                result
            }
            None => Err(err(code::INTERNAL, "the request failed inside the server")),
        }
    }

    fn start_cursor(&mut self, id: i32, batch: Batch, sqls: Sqls, mut session: Session) {
        let (tx, entries) = mpsc::channel(CURSOR_BUFFER);
        let (back, session_back) = oneshot::channel();
        tokio::task::spawn_blocking(move || {
            let outcome = session.with_executor(&sqls, |ex| {
                ex.cursor(&batch, |entry| tx.blocking_send(entry).is_ok());
                Ok(())
            });
            if let Err(error) = outcome {
                let _ = tx.blocking_send(CursorEntry::Error { error });
            }
            let _ = back.send(session);
        });
        self.cursor = Some(Cursor {
            id,
            source: Source::Running {
                entries,
                session_back,
            },
        });
    }

    async fn fetch(&mut self, id: i32, max: u32) -> Result<Response, Error> {
        let Some(cursor) = self.cursor.as_mut().filter(|c| c.id == id) else {
            return Err(err(code::CURSOR_NOT_FOUND, format!("no open cursor {id}")));
        };
        let max = (max as usize).min(MAX_FETCH);
        let entries = match &mut cursor.source {
            Source::Done(buffered) => {
                let take = max.min(buffered.len());
                let entries = buffered.drain(..take).collect();
                let done = buffered.is_empty();
                return Ok(Response::FetchCursor(FetchCursorResp { entries, done }));
            }
            Source::Running { entries, .. } => entries,
        };
        let mut fetched = Vec::new();
        let mut done = false;
        if max > 0 {
            match entries.recv().await {
                Some(entry) => fetched.push(entry),
                None => done = true,
            }
        }
        while !done && fetched.len() < max {
            match entries.try_recv() {
                Ok(entry) => fetched.push(entry),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => done = true,
            }
        }
        Ok(Response::FetchCursor(FetchCursorResp {
            entries: fetched,
            done,
        }))
    }

    /// Stops the cursor (its thread sees the closed channel) and takes the session back.
    async fn stop_cursor(&mut self) {
        if let Some(Cursor {
            source:
                Source::Running {
                    entries,
                    session_back,
                },
            ..
        }) = self.cursor.take()
        {
            drop(entries);
            self.session = session_back.await.ok();
        }
    }

    async fn end(mut self) {
        self.stop_cursor().await;
        if let Some(session) = self.session.take() {
            // Dropping a session rolls back and returns its connection: blocking work.
            let _ = tokio::task::spawn_blocking(move || drop(session)).await;
        }
    }
}

fn op_is_read(batch: &Batch, sqls: &Sqls) -> bool {
    batch
        .steps
        .iter()
        .all(|step| stmt_is_read(&step.stmt, sqls))
}

/// Runs a cursor to its end, keeping every entry, unless it has more than `CURSOR_BUFFER`
/// (then `None`: it runs again as a streaming cursor).
fn cursor_inline(
    session: &mut Session,
    batch: &Batch,
    sqls: &Sqls,
) -> Option<std::collections::VecDeque<CursorEntry>> {
    let mut entries = std::collections::VecDeque::new();
    let mut fits = true;
    let outcome = session.with_executor(sqls, |ex| {
        ex.cursor(batch, |entry| {
            fits = entries.len() < CURSOR_BUFFER;
            if fits {
                entries.push_back(entry);
            }
            fits
        });
        Ok(())
    });
    if let Err(error) = outcome {
        entries.push_back(CursorEntry::Error { error });
    }
    fits.then_some(entries)
}

fn run_op(session: &mut Session, op: &Op) -> Result<Response, Error> {
    match op {
        Op::Execute(stmt, sqls) => {
            let result = session.with_executor(sqls, |ex| ex.execute(stmt))?;
            Ok(Response::Execute(ExecuteResp { result }))
        }
        Op::Batch(batch, sqls) => {
            let result = session.with_executor(sqls, |ex| ex.batch(batch))?;
            Ok(Response::Batch(BatchResp { result }))
        }
        Op::Sequence(sql, sql_id, sqls) => {
            session.with_executor(sqls, |ex| {
                ex.sequence(&ex.sql_text(sql.as_deref(), *sql_id)?)
            })?;
            Ok(Response::Sequence(SequenceResp {}))
        }
        Op::Describe(sql, sql_id, sqls) => {
            let result = session.with_executor(sqls, |ex| {
                ex.describe(&ex.sql_text(sql.as_deref(), *sql_id)?)
            })?;
            Ok(Response::Describe(DescribeResp { result }))
        }
        Op::GetAutocommit => Ok(Response::GetAutocommit(GetAutocommitResp {
            is_autocommit: session.is_autocommit(),
        })),
        Op::OpenCursor(..) | Op::FetchCursor(..) | Op::CloseCursor(_) | Op::Close => Err(err(
            code::INTERNAL,
            "cursor and close requests are handled by the worker",
        )),
    }
}
