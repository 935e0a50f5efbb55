//! The client's one public error type.
//!
//! Every failure carries a stable machine-readable [`Error::code`] (the server's own code for
//! server errors, such as `SQLITE_CONSTRAINT`, or one of the client codes below), the extended
//! code when the server sent one, and predicates for the questions callers ask (`is_retryable`,
//! `is_busy`, `is_constraint`, ...). Bindings map codes to typed exceptions; nobody needs to
//! parse `Display` text.

use std::fmt;
use std::sync::Arc;

/// Client-side error codes. Server codes (SPEC.md, "Error codes") pass through unchanged.
pub mod code {
    /// The URL or a builder setting is invalid.
    pub const INVALID_CONFIG: &str = "INVALID_CONFIG";
    /// An argument is invalid (e.g. a parameter count mismatch found before sending).
    pub const INVALID_ARGUMENT: &str = "INVALID_ARGUMENT";
    /// The server could not be reached; the request was never sent.
    pub const CONNECT_FAILED: &str = "CONNECT_FAILED";
    /// The connection failed after the request may have been sent: a write may or may not have
    /// happened. Never retried automatically.
    pub const OUTCOME_UNKNOWN: &str = "OUTCOME_UNKNOWN";
    /// A read failed on the network after being sent (safe to retry; retried automatically).
    pub const NETWORK: &str = "NETWORK";
    /// A connect, request or total timeout elapsed.
    pub const TIMEOUT: &str = "TIMEOUT";
    /// The server broke the protocol (bad encoding, unexpected response).
    pub const PROTOCOL_VIOLATION: &str = "PROTOCOL_VIOLATION";
    /// An HTTP error status without a decodable error body.
    pub const HTTP_STATUS: &str = "HTTP_STATUS";
    /// The stream died inside a transaction (expired, timed out, or its socket dropped); the
    /// transaction is gone and was rolled back by the server.
    pub const TRANSACTION_LOST: &str = "TRANSACTION_LOST";
    /// The connection or transaction was already closed.
    pub const CLOSED: &str = "CLOSED";
    /// A column index or name does not exist in the row.
    pub const COLUMN_NOT_FOUND: &str = "COLUMN_NOT_FOUND";
    /// A value could not be converted to the requested Rust type.
    pub const TYPE_MISMATCH: &str = "TYPE_MISMATCH";
    /// The server does not support what was asked (e.g. cursors on Hrana 2).
    pub const UNSUPPORTED: &str = "UNSUPPORTED";
    /// A replica's server has no change capture (or an older one) and the token may not
    /// install it: sync once with a read-write token.
    pub const CAPTURE_FORBIDDEN: &str = "CAPTURE_FORBIDDEN";
    /// A change from the server's change stream does not parse.
    pub const CHANGE_MALFORMED: &str = "CHANGE_MALFORMED";
}

/// What sort of failure an [`Error`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// SQLite refused the statement (syntax, constraint, busy, ...).
    Sql,
    /// The server refused the request (auth, limits, expired streams, ...).
    Server,
    /// Network failure, connection refused or dropped.
    Network,
    /// A timeout elapsed.
    Timeout,
    /// The peer broke the protocol.
    Protocol,
    /// Misuse: bad configuration, arguments, closed handles.
    Usage,
    /// A value could not be decoded into the requested type.
    Decode,
}

/// A Tidepool client error.
#[derive(Clone)]
pub struct Error {
    inner: Arc<Inner>,
}

struct Inner {
    kind: ErrorKind,
    code: String,
    extended_code: Option<String>,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, code: &str, message: impl Into<String>) -> Self {
        Error {
            inner: Arc::new(Inner {
                kind,
                code: code.to_owned(),
                extended_code: None,
                message: message.into(),
                source: None,
            }),
        }
    }

    pub(crate) fn with_source(
        kind: ErrorKind,
        code: &str,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        let mut e = Error::new(kind, code, message);
        if let Some(inner) = Arc::get_mut(&mut e.inner) {
            inner.source = Some(Box::new(source));
        }
        e
    }

    /// An error the server reported.
    pub(crate) fn from_wire(error: tidepool_protocol::Error) -> Self {
        let code = error.code.unwrap_or_else(|| "UNKNOWN".to_owned());
        let kind = if code.starts_with("SQLITE_") {
            ErrorKind::Sql
        } else {
            ErrorKind::Server
        };
        Error {
            inner: Arc::new(Inner {
                kind,
                code,
                extended_code: error.extended_code,
                message: error.message,
                source: None,
            }),
        }
    }

    pub(crate) fn usage(code: &str, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Usage, code, message)
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Protocol, code::PROTOCOL_VIOLATION, message)
    }

    /// The stable machine-readable code: a server code (`SQLITE_CONSTRAINT`,
    /// `STREAM_EXPIRED`, ...) or a client code from [`code`].
    pub fn code(&self) -> &str {
        &self.inner.code
    }

    /// The extended SQLite code name (`SQLITE_CONSTRAINT_UNIQUE`), when the server sent one.
    pub fn extended_code(&self) -> Option<&str> {
        self.inner.extended_code.as_deref()
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// Whether repeating the same call may succeed and cannot duplicate a write: the request
    /// was never sent, or the server was busy.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.code(),
            code::CONNECT_FAILED | code::NETWORK | code::TIMEOUT
        ) || self.is_busy()
    }

    /// SQLite could not get a lock in time (`SQLITE_BUSY`, `SQLITE_LOCKED`).
    pub fn is_busy(&self) -> bool {
        matches!(self.code(), "SQLITE_BUSY" | "SQLITE_LOCKED")
    }

    /// A constraint failed (UNIQUE, NOT NULL, CHECK, FOREIGN KEY, ...).
    pub fn is_constraint(&self) -> bool {
        self.code() == "SQLITE_CONSTRAINT"
    }

    /// The request may have run on the server before the connection failed.
    pub fn is_outcome_unknown(&self) -> bool {
        self.code() == code::OUTCOME_UNKNOWN
    }

    /// Authentication failed or the token lacks permission.
    pub fn is_auth(&self) -> bool {
        self.code().starts_with("AUTH_") || self.code() == "FORBIDDEN"
    }

    /// The remote stream expired or was closed by the server.
    pub fn is_stream_expired(&self) -> bool {
        matches!(
            self.code(),
            "STREAM_EXPIRED" | "STREAM_CLOSED" | "TRANSACTION_TIMEOUT"
        )
    }

    /// Whether this is a network-level failure (connect, send or receive).
    pub fn is_network(&self) -> bool {
        self.kind() == ErrorKind::Network
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.extended_code {
            Some(ext) => write!(f, "{} ({ext}): {}", self.inner.code, self.inner.message),
            None => write!(f, "{}: {}", self.inner.code, self.inner.message),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("code", &self.inner.code)
            .field("extended_code", &self.inner.extended_code)
            .field("message", &self.inner.message)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// `Result` with the client's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_keep_their_codes() {
        let e = Error::from_wire(tidepool_protocol::Error {
            message: "UNIQUE constraint failed: t.v".into(),
            code: Some("SQLITE_CONSTRAINT".into()),
            extended_code: Some("SQLITE_CONSTRAINT_UNIQUE".into()),
        });
        assert_eq!(e.kind(), ErrorKind::Sql);
        assert!(e.is_constraint() && !e.is_retryable());
        assert_eq!(e.extended_code(), Some("SQLITE_CONSTRAINT_UNIQUE"));
        assert_eq!(
            e.to_string(),
            "SQLITE_CONSTRAINT (SQLITE_CONSTRAINT_UNIQUE): UNIQUE constraint failed: t.v"
        );
        let e = Error::from_wire(tidepool_protocol::Error {
            message: "x".into(),
            code: None,
            extended_code: None,
        });
        assert_eq!(e.code(), "UNKNOWN");
        assert_eq!(e.kind(), ErrorKind::Server);
    }

    #[test]
    fn only_safe_failures_are_retryable() {
        assert!(Error::new(ErrorKind::Network, code::CONNECT_FAILED, "refused").is_retryable());
        assert!(!Error::new(ErrorKind::Network, code::OUTCOME_UNKNOWN, "reset").is_retryable());
        let busy = Error::from_wire(tidepool_protocol::Error::new("SQLITE_BUSY", "locked"));
        assert!(busy.is_busy() && busy.is_retryable());
    }
}
