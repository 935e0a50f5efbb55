//! Errors across the boundary. Every failure reaches JavaScript as an `Error` whose message
//! carries the core's stable code, the extended code and the message, separated by U+0001;
//! the package's `errors` module turns it into a `LibsqlError` (or a `TypeError`/`RangeError`
//! for bad arguments), so no caller ever parses a message.

use napi::{sys, Status};

/// Separates the fields of an encoded error.
const SEP: char = '\u{1}';

/// What kind of JavaScript error a bad argument becomes.
#[derive(Clone, Copy, Debug)]
pub enum ArgErrorKind {
    Type,
    Range,
}

/// An error with a code, as the package decodes it.
pub fn coded(code: &str, extended: Option<&str>, message: &str) -> napi::Error {
    napi::Error::new(
        Status::GenericFailure,
        format!("{SEP}{code}{SEP}{}{SEP}{message}", extended.unwrap_or("")),
    )
}

/// The core's error, with its stable code and extended code.
pub fn core(e: tidepool::Error) -> napi::Error {
    coded(e.code(), e.extended_code(), e.message())
}

/// A bad argument: the package throws `TypeError` or `RangeError`, as @libsql/client does.
pub fn arg_error(kind: ArgErrorKind, message: &str) -> napi::Error {
    let code = match kind {
        ArgErrorKind::Type => "ARG_TYPE",
        ArgErrorKind::Range => "ARG_RANGE",
    };
    coded(code, None, message)
}

/// A misuse of the native module itself (the package never does this).
pub fn usage(message: impl AsRef<str>) -> napi::Error {
    coded("INVALID_ARGUMENT", None, message.as_ref())
}

/// A failed N-API call (a pending exception, or a value of the wrong type).
pub fn check(status: sys::napi_status) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(coded(
            "INTERNAL",
            None,
            &format!("N-API call failed with status {status}"),
        ))
    }
}
