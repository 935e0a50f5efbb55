//! Hrana over HTTP with hyper's pooled legacy client: keep-alive, TCP_NODELAY, no extras, so the
//! figures are the transport's floor rather than a client library's.

use anyhow::{bail, Context as _};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tidepool_protocol::http::{
    CloseStreamReq, ExecuteStreamReq, PipelineReqBody, PipelineRespBody, StreamRequest,
    StreamResult,
};
use tidepool_protocol::{codec, Encoding, Stmt};

/// One pooled client aimed at one pipeline endpoint. Cheap to clone; clones share the pool.
#[derive(Clone, Debug)]
pub struct HttpTarget {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
    encoding: Encoding,
    auth: Option<String>,
}

impl HttpTarget {
    pub fn new(base_url: &str, encoding: Encoding, token: Option<&str>) -> anyhow::Result<Self> {
        let path = match encoding {
            Encoding::Json => "/v3/pipeline",
            Encoding::Protobuf => "/v3-protobuf/pipeline",
        };
        let uri: Uri = format!("{}{path}", base_url.trim_end_matches('/'))
            .parse()
            .context("parsing the server URL")?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(usize::MAX)
            .build(connector);
        Ok(HttpTarget {
            client,
            uri,
            encoding,
            auth: token.map(|t| format!("Bearer {t}")),
        })
    }

    /// Sends one pipeline and returns its results, failing on any HTTP or per-request error.
    pub async fn pipeline(&self, body: &PipelineReqBody) -> anyhow::Result<Vec<StreamResult>> {
        let bytes = Bytes::from(codec::encode(self.encoding, body));
        let mut request =
            Request::post(self.uri.clone()).header(CONTENT_TYPE, self.encoding.content_type());
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.as_str());
        }
        let request = request.body(Full::new(bytes))?;
        let response = self.client.request(request).await?;
        let status = response.status();
        let raw = response.into_body().collect().await?.to_bytes();
        if status != StatusCode::OK {
            bail!("HTTP {status}: {}", String::from_utf8_lossy(&raw));
        }
        let decoded: PipelineRespBody = codec::decode(self.encoding, &raw)?;
        for result in &decoded.results {
            if let StreamResult::Error { error } = result {
                bail!("request failed: {}", error.message);
            }
        }
        if decoded.results.len() != body.requests.len() {
            bail!("expected one result per request");
        }
        Ok(decoded.results)
    }

    /// A stateless pipeline: the statements, then `close`.
    pub async fn execute_and_close(&self, stmts: Vec<Stmt>) -> anyhow::Result<()> {
        let mut requests: Vec<StreamRequest> = stmts
            .into_iter()
            .map(|stmt| StreamRequest::Execute(ExecuteStreamReq { stmt }))
            .collect();
        requests.push(StreamRequest::Close(CloseStreamReq {}));
        let body = PipelineReqBody {
            baton: None,
            requests,
        };
        self.pipeline(&body).await.map(drop)
    }
}
