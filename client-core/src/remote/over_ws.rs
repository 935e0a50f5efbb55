//! The WebSocket side of [`RemoteConn`]: the connection's stream on a pooled socket, reopened
//! after a drop outside a transaction, with read-only requests retried on the new stream.

use std::sync::atomic::Ordering;

use tidepool_protocol::http::{StreamRequest, StreamResponse};

use super::retry;
use super::ws::WsStream;
use super::{guess_autocommit, RemoteConn, Req, StoredSql, Stream, Transport, STREAM_UIDS};
use crate::error::{code, Error, ErrorKind, Result};

impl RemoteConn {
    pub(super) async fn ws_stream(&mut self) -> Result<&mut WsStream> {
        let broken = matches!(&self.stream, Some(Stream::Ws(s, _)) if s.is_broken());
        if broken {
            self.stream = None;
            if !std::mem::replace(&mut self.autocommit, true) {
                return Err(Error::new(
                    ErrorKind::Network,
                    code::TRANSACTION_LOST,
                    "the connection dropped during a transaction, which the server rolled back",
                ));
            }
        }
        if !matches!(self.stream, Some(Stream::Ws(..))) {
            let Transport::Ws(client) = &self.transport else {
                return Err(Error::protocol("not a WebSocket connection"));
            };
            let uid = STREAM_UIDS.fetch_add(1, Ordering::Relaxed);
            self.stream = Some(Stream::Ws(client.open_stream().await?, uid));
        }
        match &mut self.stream {
            Some(Stream::Ws(stream, _)) => Ok(stream),
            _ => Err(Error::protocol("stream vanished")),
        }
    }

    /// A failure on the stream: a dropped socket, or the server closing the stream (expired, or
    /// its transaction timed out) ends it, as over HTTP; other errors leave it usable.
    pub(super) fn ws_failed(&mut self, e: Error) -> Error {
        let broken = matches!(&self.stream, Some(Stream::Ws(s, _)) if s.is_broken());
        if broken || e.is_stream_expired() {
            return self.stream_failed(e);
        }
        e
    }

    pub(super) async fn run_ws(&mut self, req: Req) -> Result<StreamResponse> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.run_ws_once(req.request.clone(), req.stored).await;
            match outcome {
                Err(e)
                    if attempt < 3 && self.autocommit && retry::may_retry(&e, req.idempotent) =>
                {
                    tracing::debug!(
                        code = e.code(),
                        attempt,
                        "retrying on a new WebSocket stream"
                    );
                    self.stream = None;
                    tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn run_ws_once(
        &mut self,
        mut request: StreamRequest,
        stored: Option<StoredSql>,
    ) -> Result<StreamResponse> {
        let guess = guess_autocommit(&request, self.autocommit);
        self.ws_stream().await?;
        if let (Some(stored), Some(Stream::Ws(_, uid)), StreamRequest::Execute(r)) =
            (stored, &self.stream, &mut request)
        {
            if stored.stream_uid == *uid {
                r.stmt.sql = None;
                r.stmt.sql_id = Some(stored.sql_id);
            }
        }
        let stream = self.ws_stream().await?;
        let outcome = match request {
            StreamRequest::Execute(r) => stream.execute(r.stmt).await.map(|result| {
                StreamResponse::Execute(tidepool_protocol::http::ExecuteStreamResp { result })
            }),
            StreamRequest::Batch(r) => stream.batch(r.batch).await.map(|result| {
                StreamResponse::Batch(tidepool_protocol::http::BatchStreamResp { result })
            }),
            StreamRequest::Sequence(r) => stream
                .sequence(r.sql.unwrap_or_default())
                .await
                .map(|()| StreamResponse::Sequence(Default::default())),
            StreamRequest::Describe(r) => {
                stream
                    .describe(r.sql.unwrap_or_default())
                    .await
                    .map(|result| {
                        StreamResponse::Describe(tidepool_protocol::http::DescribeStreamResp {
                            result,
                        })
                    })
            }
            StreamRequest::GetAutocommit(_) => stream.get_autocommit().await.map(|is_autocommit| {
                StreamResponse::GetAutocommit(tidepool_protocol::http::GetAutocommitStreamResp {
                    is_autocommit,
                })
            }),
            other => {
                return Err(Error::protocol(format!(
                    "request {other:?} is not sent this way"
                )))
            }
        };
        let response = outcome.map_err(|e| self.ws_failed(e));
        if let Ok(StreamResponse::GetAutocommit(r)) = &response {
            self.autocommit = r.is_autocommit;
            return response;
        }
        // Ask the server for the transaction state only when it may have changed: inside a
        // transaction, or after transaction control. Plain statements in autocommit cost one
        // round trip. A server without get_autocommit (Hrana 1/2) leaves a guess from the SQL.
        if !self.autocommit || !guess {
            if let Some(Stream::Ws(stream, _)) = &mut self.stream {
                match stream.get_autocommit().await {
                    Ok(autocommit) => self.autocommit = autocommit,
                    Err(e) if e.code() == code::UNSUPPORTED => self.autocommit = guess,
                    Err(e) => return Err(self.ws_failed(e)),
                }
            }
        }
        response
    }
}
