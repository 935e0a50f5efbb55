//! Server-side errors and their wire form: every failure a peer can cause maps to an `Error`
//! with a stable code (SPEC.md, "Error codes").

use tidepool_protocol::Error;

/// Stable error codes the server emits besides SQLite's own.
pub mod code {
    pub const PROTOCOL_ERROR: &str = "PROTOCOL_ERROR";
    pub const UNKNOWN_REQUEST: &str = "UNKNOWN_REQUEST";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    pub const STREAM_NOT_FOUND: &str = "STREAM_NOT_FOUND";
    pub const STREAM_EXISTS: &str = "STREAM_EXISTS";
    pub const STREAM_LIMIT: &str = "STREAM_LIMIT";
    pub const STREAM_EXPIRED: &str = "STREAM_EXPIRED";
    pub const STREAM_BUSY: &str = "STREAM_BUSY";
    pub const STREAM_CLOSED: &str = "STREAM_CLOSED";
    pub const CURSOR_NOT_FOUND: &str = "CURSOR_NOT_FOUND";
    pub const CURSOR_EXISTS: &str = "CURSOR_EXISTS";
    pub const BATON_INVALID: &str = "BATON_INVALID";
    pub const BATON_REUSED: &str = "BATON_REUSED";
    pub const SQL_NOT_FOUND: &str = "SQL_NOT_FOUND";
    pub const SQL_EXISTS: &str = "SQL_EXISTS";
    pub const SQL_STORE_LIMIT: &str = "SQL_STORE_LIMIT";
    pub const SQL_NO_STATEMENT: &str = "SQL_NO_STATEMENT";
    pub const SQL_MANY_STATEMENTS: &str = "SQL_MANY_STATEMENTS";
    pub const ARGS_INVALID: &str = "ARGS_INVALID";
    pub const TRANSACTION_TIMEOUT: &str = "TRANSACTION_TIMEOUT";
    pub const RESPONSE_TOO_LARGE: &str = "RESPONSE_TOO_LARGE";
    pub const REQUEST_TOO_LARGE: &str = "REQUEST_TOO_LARGE";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const INTERNAL: &str = "INTERNAL";
}

/// An error with one of the codes above.
pub fn err(code: &'static str, message: impl Into<String>) -> Error {
    Error::new(code, message)
}

/// Maps a rusqlite error to the wire: SQLite failures keep their primary and extended codes.
pub fn sqlite_error(e: &rusqlite::Error) -> Error {
    match e {
        rusqlite::Error::SqliteFailure(ffi, msg) => {
            let message = msg.clone().unwrap_or_else(|| ffi.to_string());
            sqlite_code_error(ffi.extended_code, message)
        }
        rusqlite::Error::SqlInputError { error, msg, .. } => {
            sqlite_code_error(error.extended_code, msg.clone())
        }
        rusqlite::Error::MultipleStatement => err(
            code::SQL_MANY_STATEMENTS,
            "SQL text contains more than one statement",
        ),
        rusqlite::Error::InvalidParameterName(name) => err(
            code::ARGS_INVALID,
            format!("statement has no parameter named {name}"),
        ),
        rusqlite::Error::InvalidParameterCount(given, expected) => err(
            code::ARGS_INVALID,
            format!("statement takes {expected} arguments but {given} were given"),
        ),
        rusqlite::Error::Utf8Error(_) => err(code::INTERNAL, "text is not valid UTF-8"),
        rusqlite::Error::ToSqlConversionFailure(e) => err(code::ARGS_INVALID, e.to_string()),
        other => err(code::INTERNAL, other.to_string()),
    }
}

fn sqlite_code_error(extended: i32, message: String) -> Error {
    // The authorizer denies only ATTACH and DETACH, which no client may run (SPEC.md §12.4).
    if extended == rusqlite::ffi::SQLITE_AUTH {
        return err(
            code::FORBIDDEN,
            format!("ATTACH and DETACH are not allowed ({message})"),
        );
    }
    let primary = primary_name(extended & 0xff);
    Error {
        message: format!("{primary}: {message}"),
        code: Some(primary.to_owned()),
        extended_code: extended_name(extended).map(str::to_owned),
    }
}

/// The name of a primary SQLite result code.
pub fn primary_name(code: i32) -> &'static str {
    match code {
        1 => "SQLITE_ERROR",
        2 => "SQLITE_INTERNAL",
        3 => "SQLITE_PERM",
        4 => "SQLITE_ABORT",
        5 => "SQLITE_BUSY",
        6 => "SQLITE_LOCKED",
        7 => "SQLITE_NOMEM",
        8 => "SQLITE_READONLY",
        9 => "SQLITE_INTERRUPT",
        10 => "SQLITE_IOERR",
        11 => "SQLITE_CORRUPT",
        12 => "SQLITE_NOTFOUND",
        13 => "SQLITE_FULL",
        14 => "SQLITE_CANTOPEN",
        15 => "SQLITE_PROTOCOL",
        16 => "SQLITE_EMPTY",
        17 => "SQLITE_SCHEMA",
        18 => "SQLITE_TOOBIG",
        19 => "SQLITE_CONSTRAINT",
        20 => "SQLITE_MISMATCH",
        21 => "SQLITE_MISUSE",
        22 => "SQLITE_NOLFS",
        23 => "SQLITE_AUTH",
        24 => "SQLITE_FORMAT",
        25 => "SQLITE_RANGE",
        26 => "SQLITE_NOTADB",
        27 => "SQLITE_NOTICE",
        28 => "SQLITE_WARNING",
        _ => "SQLITE_UNKNOWN",
    }
}

/// The name of an extended SQLite result code, when it is one (not a bare primary code).
pub fn extended_name(code: i32) -> Option<&'static str> {
    use rusqlite::ffi::*;
    Some(match code {
        SQLITE_CONSTRAINT_CHECK => "SQLITE_CONSTRAINT_CHECK",
        SQLITE_CONSTRAINT_COMMITHOOK => "SQLITE_CONSTRAINT_COMMITHOOK",
        SQLITE_CONSTRAINT_FOREIGNKEY => "SQLITE_CONSTRAINT_FOREIGNKEY",
        SQLITE_CONSTRAINT_FUNCTION => "SQLITE_CONSTRAINT_FUNCTION",
        SQLITE_CONSTRAINT_NOTNULL => "SQLITE_CONSTRAINT_NOTNULL",
        SQLITE_CONSTRAINT_PRIMARYKEY => "SQLITE_CONSTRAINT_PRIMARYKEY",
        SQLITE_CONSTRAINT_TRIGGER => "SQLITE_CONSTRAINT_TRIGGER",
        SQLITE_CONSTRAINT_UNIQUE => "SQLITE_CONSTRAINT_UNIQUE",
        SQLITE_CONSTRAINT_VTAB => "SQLITE_CONSTRAINT_VTAB",
        SQLITE_CONSTRAINT_ROWID => "SQLITE_CONSTRAINT_ROWID",
        SQLITE_CONSTRAINT_PINNED => "SQLITE_CONSTRAINT_PINNED",
        SQLITE_CONSTRAINT_DATATYPE => "SQLITE_CONSTRAINT_DATATYPE",
        SQLITE_BUSY_RECOVERY => "SQLITE_BUSY_RECOVERY",
        SQLITE_BUSY_SNAPSHOT => "SQLITE_BUSY_SNAPSHOT",
        SQLITE_BUSY_TIMEOUT => "SQLITE_BUSY_TIMEOUT",
        SQLITE_LOCKED_SHAREDCACHE => "SQLITE_LOCKED_SHAREDCACHE",
        SQLITE_LOCKED_VTAB => "SQLITE_LOCKED_VTAB",
        SQLITE_READONLY_RECOVERY => "SQLITE_READONLY_RECOVERY",
        SQLITE_READONLY_CANTLOCK => "SQLITE_READONLY_CANTLOCK",
        SQLITE_READONLY_ROLLBACK => "SQLITE_READONLY_ROLLBACK",
        SQLITE_READONLY_DBMOVED => "SQLITE_READONLY_DBMOVED",
        SQLITE_READONLY_DIRECTORY => "SQLITE_READONLY_DIRECTORY",
        SQLITE_ERROR_MISSING_COLLSEQ => "SQLITE_ERROR_MISSING_COLLSEQ",
        SQLITE_ERROR_RETRY => "SQLITE_ERROR_RETRY",
        SQLITE_ERROR_SNAPSHOT => "SQLITE_ERROR_SNAPSHOT",
        SQLITE_ABORT_ROLLBACK => "SQLITE_ABORT_ROLLBACK",
        SQLITE_AUTH_USER => "SQLITE_AUTH_USER",
        SQLITE_CORRUPT_VTAB => "SQLITE_CORRUPT_VTAB",
        SQLITE_CANTOPEN_ISDIR => "SQLITE_CANTOPEN_ISDIR",
        SQLITE_CANTOPEN_FULLPATH => "SQLITE_CANTOPEN_FULLPATH",
        SQLITE_IOERR_READ => "SQLITE_IOERR_READ",
        SQLITE_IOERR_SHORT_READ => "SQLITE_IOERR_SHORT_READ",
        SQLITE_IOERR_WRITE => "SQLITE_IOERR_WRITE",
        SQLITE_IOERR_FSYNC => "SQLITE_IOERR_FSYNC",
        SQLITE_IOERR_NOMEM => "SQLITE_IOERR_NOMEM",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn constraint_errors_carry_both_codes() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE NOT NULL)")
            .expect("schema");
        conn.execute("INSERT INTO t VALUES (1, 'a')", [])
            .expect("insert");
        let e = conn
            .execute("INSERT INTO t VALUES (2, 'a')", [])
            .expect_err("unique");
        let wire = sqlite_error(&e);
        assert_eq!(wire.code.as_deref(), Some("SQLITE_CONSTRAINT"));
        assert_eq!(
            wire.extended_code.as_deref(),
            Some("SQLITE_CONSTRAINT_UNIQUE")
        );
        let e = conn
            .execute("INSERT INTO t VALUES (3, NULL)", [])
            .expect_err("not null");
        assert_eq!(
            sqlite_error(&e).extended_code.as_deref(),
            Some("SQLITE_CONSTRAINT_NOTNULL")
        );
    }

    #[test]
    fn syntax_errors_are_sqlite_error() {
        let conn = Connection::open_in_memory().expect("open");
        let e = conn.prepare("SELEC 1").expect_err("syntax");
        let wire = sqlite_error(&e);
        assert_eq!(wire.code.as_deref(), Some("SQLITE_ERROR"));
        assert!(wire.message.contains("syntax error"), "{}", wire.message);
    }
}
