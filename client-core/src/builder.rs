//! Configuring a database: a builder whose setters chain and never fail, and whose `build()`
//! validates everything at once.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::connection::Connection;
use crate::error::{code, Error, Result};
use crate::remote::http::{HttpClient, HttpVersion, Timeouts};
use crate::remote::retry::RetrySettings;
use crate::remote::tls::{client_config, RootCerts};
use crate::remote::ws::{WsClient, WsSettings};
use crate::remote::Transport;

/// Builds a [`Database`].
///
/// Defaults: connect timeout 10 s, request timeout 30 s, total timeout (with retries) 60 s,
/// up to 4 attempts for requests that are safe to retry, TLS verified against the bundled
/// webpki roots, up to 4 WebSocket sockets per database.
///
/// ```no_run
/// # async fn run() -> tidepool::Result<()> {
/// let db = tidepool::Builder::new("http://127.0.0.1:8080")
///     .auth_token("eyJhbGciOiJFZERTQSJ9...")
///     .request_timeout(std::time::Duration::from_secs(5))
///     .build()?;
/// let conn = db.connect();
/// conn.execute("CREATE TABLE IF NOT EXISTS t (x)", ()).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    url: String,
    auth_token: Option<String>,
    timeouts: Timeouts,
    retry: RetrySettings,
    roots: RootCerts,
    max_sockets: usize,
    http_version: Option<HttpVersion>,
}

impl Builder {
    /// A database at `url`: `http://`, `https://`, `ws://`, `wss://`, or `libsql://` (HTTPS;
    /// `?tls=0` for plain HTTP). An `authToken` query parameter is taken as the auth token.
    pub fn new(url: impl Into<String>) -> Self {
        Builder {
            url: url.into(),
            auth_token: None,
            timeouts: Timeouts {
                connect: Duration::from_secs(10),
                request: Duration::from_secs(30),
                total: Duration::from_secs(60),
            },
            retry: RetrySettings::default(),
            roots: RootCerts::default(),
            max_sockets: crate::remote::ws::DEFAULT_MAX_SOCKETS,
            http_version: None,
        }
    }

    /// The JWT sent with every request.
    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.auth_token = Some(token.into());
        self
    }

    /// Time allowed to open a connection (TCP, TLS, WebSocket handshake).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = timeout;
        self
    }

    /// Time allowed for one attempt of one request.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.request = timeout;
        self
    }

    /// Time allowed for a request including its retries.
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.total = timeout;
        self
    }

    /// Most attempts for a request that is safe to retry (1 turns retries off).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.retry.max_attempts = attempts;
        self
    }

    /// First retry delay; later ones double, with full jitter, up to `max`.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry.initial_backoff = initial;
        self.retry.max_backoff = max;
        self
    }

    /// Trust the operating system's certificate store instead of the bundled roots.
    pub fn native_roots(mut self) -> Self {
        self.roots = RootCerts::Native;
        self
    }

    /// Trust only these PEM CA certificates (a private CA, a self-signed server).
    pub fn custom_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots = RootCerts::CustomPem(pem.into());
        self
    }

    /// Trust only the PEM CA certificates in this file.
    pub fn custom_ca_pem_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.roots = RootCerts::CustomPemFile(path.into());
        self
    }

    /// Most WebSocket sockets a database opens; streams are multiplexed over them.
    pub fn max_sockets(mut self, sockets: usize) -> Self {
        self.max_sockets = sockets;
        self
    }

    /// Skips version probing over HTTP and speaks Hrana 2 (JSON `/v2/pipeline`), as a server
    /// without Hrana 3 requires.
    pub fn force_hrana2(mut self) -> Self {
        self.http_version = Some(HttpVersion::V2);
        self
    }

    /// Validates the settings and creates the database. Does no I/O.
    pub fn build(self) -> Result<Database> {
        let invalid = |m: String| Error::usage(code::INVALID_CONFIG, m);
        let mut url = Url::parse(&self.url)
            .map_err(|e| invalid(format!("invalid URL {:?}: {e}", self.url)))?;
        let mut auth_token = self.auth_token;
        let mut tls_off = false;
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (key, value) in &pairs {
            match key.as_str() {
                "authToken" => auth_token = auth_token.or_else(|| Some(value.clone())),
                "tls" => match value.as_str() {
                    "0" => tls_off = true,
                    "1" => {}
                    other => return Err(invalid(format!("tls must be 0 or 1, not {other:?}"))),
                },
                other => return Err(invalid(format!("unknown URL parameter {other:?}"))),
            }
        }
        url.set_query(None);
        let scheme = match url.scheme() {
            "libsql" if tls_off => "http",
            "libsql" => "https",
            "http" | "https" | "ws" | "wss" if tls_off && url.scheme().ends_with('s') => {
                return Err(invalid("?tls=0 contradicts a TLS scheme".into()));
            }
            s @ ("http" | "https" | "ws" | "wss") => s,
            other => return Err(invalid(format!("unsupported URL scheme {other:?}"))),
        }
        .to_owned();
        if url.scheme() != scheme {
            let rest = url
                .as_str()
                .split_once(':')
                .map(|(_, r)| r.to_owned())
                .unwrap_or_default();
            url = Url::parse(&format!("{scheme}:{rest}"))
                .map_err(|e| invalid(format!("invalid URL: {e}")))?;
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("the URL has no host".into()));
        }
        if self.timeouts.connect.is_zero()
            || self.timeouts.request.is_zero()
            || self.timeouts.total.is_zero()
        {
            return Err(invalid("timeouts must be greater than zero".into()));
        }
        if self.retry.max_attempts == 0 {
            return Err(invalid("max_attempts must be at least 1".into()));
        }
        if self.max_sockets == 0 {
            return Err(invalid("max_sockets must be at least 1".into()));
        }
        let websocket = matches!(scheme.as_str(), "ws" | "wss");
        let tls = client_config(&self.roots)?;
        let transport = if websocket {
            let mut settings = WsSettings::new(url.clone(), tls, auth_token, self.timeouts);
            settings.max_sockets = self.max_sockets;
            Transport::Ws(Arc::new(WsClient::new(settings)))
        } else {
            let client = HttpClient::new(
                url.clone(),
                tls,
                auth_token.as_deref(),
                self.timeouts,
                self.retry,
                self.http_version,
            )?;
            Transport::Http(Arc::new(client))
        };
        Ok(Database { url, transport })
    }
}

/// A remote database: cheap to clone, shared by all its connections (one HTTP client with its
/// connection pool, or one pool of WebSocket sockets).
#[derive(Clone, Debug)]
pub struct Database {
    url: Url,
    transport: Transport,
}

impl Database {
    /// A new connection. Cheap: no I/O until its first statement.
    pub fn connect(&self) -> Connection {
        Connection::new(self.transport.clone())
    }

    /// The server URL (without credentials or parameters).
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The protocol negotiated with the server so far (`hrana3-protobuf` on a WebSocket,
    /// `v3-protobuf` over HTTP, ...), or `None` before the first request.
    pub fn negotiated_protocol(&self) -> Option<String> {
        match &self.transport {
            Transport::Ws(client) => client.subprotocol().map(|p| p.name().to_owned()),
            Transport::Http(client) => client.negotiated().map(|v| v.prefix().to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_validated_at_build() {
        for bad in [
            "",
            "not a url",
            "ftp://x",
            "http://",
            "libsql://h?tls=2",
            "https://h?tls=0",
            "http://h?foo=1",
        ] {
            let e = Builder::new(bad).build().expect_err(bad);
            assert_eq!(e.code(), code::INVALID_CONFIG, "{bad}");
        }
        let db = Builder::new("libsql://db.example.com?authToken=abc")
            .build()
            .expect("libsql");
        assert_eq!(db.url(), "https://db.example.com/");
        let db = Builder::new("libsql://127.0.0.1:8080?tls=0")
            .build()
            .expect("plain");
        assert_eq!(db.url(), "http://127.0.0.1:8080/");
        assert!(Builder::new("ws://127.0.0.1:1").build().is_ok());
    }

    #[test]
    fn settings_are_validated_at_build() {
        let e = Builder::new("http://h")
            .max_attempts(0)
            .build()
            .expect_err("attempts");
        assert_eq!(e.code(), code::INVALID_CONFIG);
        let e = Builder::new("http://h")
            .request_timeout(Duration::ZERO)
            .build()
            .expect_err("timeout");
        assert_eq!(e.code(), code::INVALID_CONFIG);
        let e = Builder::new("https://h")
            .custom_ca_pem("junk")
            .build()
            .expect_err("ca");
        assert_eq!(e.code(), code::INVALID_CONFIG);
    }
}
