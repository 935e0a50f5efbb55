//! The HTTP side of [`RemoteConn`]: one request per pipeline on the connection's baton, with
//! the transaction state read back in the same round trip, and the rules for a stream that is
//! lost (reopened outside a transaction, `TRANSACTION_LOST` inside).

use tidepool_protocol::http::{
    GetAutocommitStreamReq, PipelineReqBody, StreamRequest, StreamResponse, StreamResult,
};

use super::http::HttpClient;
use super::{baton_error, guess_autocommit, RemoteConn, Req, Stream};
use crate::error::{code, Error, Result};

impl RemoteConn {
    pub(super) async fn run_http(
        &mut self,
        client: &HttpClient,
        req: Req,
    ) -> Result<StreamResponse> {
        let version = client.version().await?;
        if matches!(req.request, StreamRequest::GetAutocommit(_)) && !version.has_v3() {
            return Err(Error::usage(
                code::UNSUPPORTED,
                "get_autocommit needs Hrana 3",
            ));
        }
        let (baton, base_url) = match &self.stream {
            // Left in place until the answer comes: a call cancelled before its request went
            // out leaves the stream usable, and one cancelled after finds its baton spent.
            Some(Stream::Http { baton, base_url }) => (Some(baton.clone()), base_url.clone()),
            _ => (None, None),
        };
        let resumed = baton.is_some();
        let in_txn = !self.autocommit;
        let mut requests = vec![req.request.clone()];
        if version.has_v3() && !matches!(req.request, StreamRequest::GetAutocommit(_)) {
            requests.push(StreamRequest::GetAutocommit(GetAutocommitStreamReq {}));
        }
        // A fresh stream can be retried wholesale by the transport; a resumed one cannot,
        // because a lost response may have consumed its baton.
        let body = PipelineReqBody { baton, requests };
        let result = client
            .pipeline(base_url.as_deref(), &body, req.idempotent && !resumed)
            .await;
        let response = match result {
            Ok(response) => response,
            Err(e)
                if !in_txn
                    && resumed
                    && (e.is_stream_expired() || e.is_network() || baton_error(&e)) =>
            {
                // The stream is gone (or may be) and held no transaction: start a new one.
                if !(req.idempotent
                    || e.is_stream_expired()
                    || baton_error(&e)
                    || e.code() == code::CONNECT_FAILED)
                {
                    return Err(e);
                }
                tracing::debug!(
                    code = e.code(),
                    "stream lost outside a transaction; reopening"
                );
                let body = PipelineReqBody {
                    baton: None,
                    requests: body.requests,
                };
                client.pipeline(None, &body, req.idempotent).await?
            }
            Err(e) => return Err(self.stream_failed(e)),
        };
        let base_url = response.base_url.or(base_url);
        self.stream = response.baton.map(|baton| Stream::Http { baton, base_url });
        let mut results = response.results.into_iter();
        let first = results
            .next()
            .ok_or_else(|| Error::protocol("empty pipeline response"))?;
        match results.next() {
            Some(StreamResult::Ok {
                response: StreamResponse::GetAutocommit(r),
            }) => {
                self.autocommit = r.is_autocommit;
            }
            _ if !version.has_v3() => {
                self.autocommit = guess_autocommit(&req.request, self.autocommit)
            }
            _ => {}
        }
        if self.stream.is_none() {
            self.autocommit = true;
        }
        match first {
            StreamResult::Ok { response } => {
                if let StreamResponse::GetAutocommit(r) = &response {
                    self.autocommit = r.is_autocommit;
                }
                Ok(response)
            }
            StreamResult::Error { error } => Err(Error::from_wire(error)),
        }
    }
}
