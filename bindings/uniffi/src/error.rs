//! The error every export returns: one variant per kind of failure (the core's `ErrorKind`),
//! each carrying the core's stable `code`, the extended code when there is one, and the
//! message as `reason` (a field named `message` would clash with the message property of
//! Kotlin's `Throwable`). Swift sees an `Error` enum, Kotlin a sealed exception class; neither needs to parse
//! text.

/// A Tidepool failure. `code` is stable and machine-readable: a server or SQLite code such as
/// `SQLITE_CONSTRAINT`, or a client code such as `CONNECT_FAILED` or `CLOSED`.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum TidepoolError {
    /// SQLite refused the statement (syntax, constraint, busy, ...).
    #[error("{code}: {reason}")]
    Sql {
        code: String,
        extended_code: Option<String>,
        reason: String,
    },
    /// The server refused the request (auth, limits, expired streams, ...).
    #[error("{code}: {reason}")]
    Server {
        code: String,
        extended_code: Option<String>,
        reason: String,
    },
    /// The network failed: connection refused or dropped.
    #[error("{code}: {reason}")]
    Network {
        code: String,
        extended_code: Option<String>,
        reason: String,
    },
    /// A connect, request or total timeout elapsed.
    #[error("{code}: {reason}")]
    Timeout {
        code: String,
        extended_code: Option<String>,
        reason: String,
    },
    /// The peer broke the protocol.
    #[error("{code}: {reason}")]
    Protocol {
        code: String,
        extended_code: Option<String>,
        reason: String,
    },
    /// Misuse: bad configuration or arguments, a closed connection or transaction.
    #[error("{code}: {reason}")]
    Usage {
        code: String,
        extended_code: Option<String>,
        reason: String,
    },
    /// A value could not be decoded into the requested type.
    #[error("{code}: {reason}")]
    Decode {
        code: String,
        extended_code: Option<String>,
        reason: String,
    },
    /// A bug in this library (a panic it caught) or a runtime that could not start; code
    /// `INTERNAL`.
    #[error("{code}: {reason}")]
    Internal {
        code: String,
        extended_code: Option<String>,
        reason: String,
    },
}

impl TidepoolError {
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        TidepoolError::Internal {
            code: "INTERNAL".to_owned(),
            extended_code: None,
            reason: message.into(),
        }
    }

    pub(crate) fn usage(code: &str, message: impl Into<String>) -> Self {
        TidepoolError::Usage {
            code: code.to_owned(),
            extended_code: None,
            reason: message.into(),
        }
    }

    /// A call on a connection, transaction or cursor that is already finished.
    pub(crate) fn closed(what: &str) -> Self {
        Self::usage(
            tidepool::error::code::CLOSED,
            format!("the {what} is already closed"),
        )
    }
}

/// A callback (the conflict resolver) that threw something other than a `TidepoolError`.
impl From<uniffi::UnexpectedUniFFICallbackError> for TidepoolError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        TidepoolError::internal(format!("a callback failed: {}", e.reason))
    }
}

impl From<tidepool::Error> for TidepoolError {
    fn from(e: tidepool::Error) -> Self {
        use tidepool::ErrorKind;
        let code = e.code().to_owned();
        let extended_code = e.extended_code().map(str::to_owned);
        let reason = e.message().to_owned();
        match e.kind() {
            ErrorKind::Sql => TidepoolError::Sql {
                code,
                extended_code,
                reason,
            },
            ErrorKind::Network => TidepoolError::Network {
                code,
                extended_code,
                reason,
            },
            ErrorKind::Timeout => TidepoolError::Timeout {
                code,
                extended_code,
                reason,
            },
            ErrorKind::Protocol => TidepoolError::Protocol {
                code,
                extended_code,
                reason,
            },
            ErrorKind::Usage => TidepoolError::Usage {
                code,
                extended_code,
                reason,
            },
            ErrorKind::Decode => TidepoolError::Decode {
                code,
                extended_code,
                reason,
            },
            // `Server`, and any kind a newer core adds: the code still says what it is.
            _ => TidepoolError::Server {
                code,
                extended_code,
                reason,
            },
        }
    }
}
