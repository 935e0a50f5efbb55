//! Errors into Python exceptions. The class comes from the error's stable code (the client's
//! codes, the server's, or SQLite's primary code, mapped the way the standard library's
//! `sqlite3` maps SQLite's), and every exception carries `code` and `extended_code`. The
//! classes themselves are defined in Python (`tidepool/exceptions.py`), so they are ordinary,
//! documented, picklable exception types.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

use tidepool::error::code;

/// A failure on its way to Python: from the client, or found by the binding itself.
#[derive(Debug)]
pub enum Failure {
    Core(tidepool::Error),
    Binding {
        class: &'static str,
        code: &'static str,
        message: String,
    },
}

impl From<tidepool::Error> for Failure {
    fn from(e: tidepool::Error) -> Self {
        Failure::Core(e)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Core(e) => write!(f, "{}: {}", e.code(), e.message()),
            Failure::Binding { code, message, .. } => write!(f, "{code}: {message}"),
        }
    }
}

pub const INTERNAL: &str = "INTERNAL";

impl Failure {
    pub fn binding(class: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Failure::Binding {
            class,
            code,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Failure::binding("InternalError", INTERNAL, message)
    }

    pub fn interface(message: impl Into<String>) -> Self {
        Failure::binding("InterfaceError", code::INVALID_ARGUMENT, message)
    }

    pub fn closed(what: &str) -> Self {
        Failure::binding(
            "ProgrammingError",
            code::CLOSED,
            format!("cannot operate on a closed {what}"),
        )
    }

    pub fn into_pyerr(self, py: Python<'_>) -> PyErr {
        let (class, code, extended, message) = match self {
            Failure::Core(e) => (
                class_for(e.code()),
                e.code().to_owned(),
                e.extended_code().map(str::to_owned),
                e.message().to_owned(),
            ),
            Failure::Binding {
                class,
                code,
                message,
            } => (class, code.to_owned(), None, message),
        };
        match exception(py, class, &message, &code, extended.as_deref()) {
            Ok(e) => e,
            Err(e) => e,
        }
    }
}

static EXCEPTIONS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn exception(
    py: Python<'_>,
    class: &str,
    message: &str,
    code: &str,
    extended: Option<&str>,
) -> PyResult<PyErr> {
    let module = EXCEPTIONS.get_or_try_init(py, || {
        PyModule::import(py, "tidepool.exceptions").map(Bound::unbind)
    })?;
    let class = module.bind(py).getattr(class)?;
    let value = class.call1((message, code, extended))?;
    if value.is_instance_of::<pyo3::exceptions::PyBaseException>() {
        Ok(PyErr::from_value(value))
    } else {
        Err(PyRuntimeError::new_err(format!(
            "tidepool.exceptions.{class} is not an exception"
        )))
    }
}

/// The PEP 249 class for a stable code.
pub fn class_for(code: &str) -> &'static str {
    if let Some(sqlite) = code.strip_prefix("SQLITE_") {
        // The primary code decides, as in CPython's sqlite3 module.
        let primary = sqlite.split('_').next().unwrap_or(sqlite);
        return match primary {
            "INTERNAL" | "NOTFOUND" => "InternalError",
            "ERROR" | "PERM" | "ABORT" | "BUSY" | "LOCKED" | "READONLY" | "INTERRUPT" | "IOERR"
            | "FULL" | "CANTOPEN" | "PROTOCOL" | "EMPTY" | "SCHEMA" | "NOMEM" | "AUTH"
            | "NOLFS" => "OperationalError",
            "TOOBIG" => "DataError",
            "CONSTRAINT" | "MISMATCH" => "IntegrityError",
            "MISUSE" | "RANGE" => "InterfaceError",
            _ => "DatabaseError",
        };
    }
    match code {
        code::INVALID_CONFIG | code::PROTOCOL_VIOLATION => "InterfaceError",
        code::INVALID_ARGUMENT | code::CLOSED | code::COLUMN_NOT_FOUND => "ProgrammingError",
        code::CONNECT_FAILED
        | code::OUTCOME_UNKNOWN
        | code::NETWORK
        | code::TIMEOUT
        | code::HTTP_STATUS
        | code::TRANSACTION_LOST => "OperationalError",
        code::TYPE_MISMATCH => "DataError",
        code::UNSUPPORTED => "NotSupportedError",
        // Server codes (SPEC.md §11.2).
        "PROTOCOL_ERROR" | "UNKNOWN_REQUEST" | "STREAM_NOT_FOUND" | "STREAM_EXISTS"
        | "CURSOR_NOT_FOUND" | "CURSOR_EXISTS" | "BATON_INVALID" | "BATON_REUSED"
        | "SQL_NOT_FOUND" | "SQL_EXISTS" => "InterfaceError",
        "SQL_NO_STATEMENT" | "SQL_MANY_STATEMENTS" | "ARGS_INVALID" => "ProgrammingError",
        "STREAM_LIMIT"
        | "STREAM_EXPIRED"
        | "STREAM_BUSY"
        | "STREAM_CLOSED"
        | "TRANSACTION_TIMEOUT"
        | "SQL_STORE_LIMIT"
        | "UNAUTHORIZED"
        | "FORBIDDEN" => "OperationalError",
        c if c.starts_with("AUTH_") => "OperationalError",
        "RESPONSE_TOO_LARGE" | "REQUEST_TOO_LARGE" => "DataError",
        INTERNAL => "InternalError",
        _ => "DatabaseError",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_choose_the_pep_249_class() {
        assert_eq!(class_for("SQLITE_CONSTRAINT"), "IntegrityError");
        assert_eq!(class_for("SQLITE_CONSTRAINT_UNIQUE"), "IntegrityError");
        assert_eq!(class_for("SQLITE_ERROR"), "OperationalError");
        assert_eq!(class_for("SQLITE_BUSY_SNAPSHOT"), "OperationalError");
        assert_eq!(class_for("SQLITE_TOOBIG"), "DataError");
        assert_eq!(class_for("SQLITE_RANGE"), "InterfaceError");
        assert_eq!(class_for("SQLITE_CORRUPT"), "DatabaseError");
        assert_eq!(class_for(code::INVALID_ARGUMENT), "ProgrammingError");
        assert_eq!(class_for(code::CONNECT_FAILED), "OperationalError");
        assert_eq!(class_for(code::UNSUPPORTED), "NotSupportedError");
        assert_eq!(class_for("ARGS_INVALID"), "ProgrammingError");
        assert_eq!(class_for("AUTH_EXPIRED"), "OperationalError");
        assert_eq!(class_for("SOMETHING_NEW"), "DatabaseError");
    }
}
