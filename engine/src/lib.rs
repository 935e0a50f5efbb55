//! Tidepool's SQL engine: the meaning of Tidepool statements, batches, conditions and cursors,
//! executed on SQLite.
//!
//! The reference server runs every request through it, and so does the client's local mode,
//! so a statement behaves the same on a server, on a device, and in a test: the same argument
//! binding, the same error codes, the same batch semantics. It is synchronous (rusqlite);
//! callers run it on blocking threads.

pub mod db;
pub mod errors;
pub mod exec;

/// What a client may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads only.
    ReadOnly,
    /// Reads and writes.
    ReadWrite,
}

impl Access {
    /// Whether this access level allows statements that modify the database.
    pub fn can_write(self) -> bool {
        matches!(self, Access::ReadWrite)
    }
}
