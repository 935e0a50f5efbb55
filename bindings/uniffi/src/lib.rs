//! uniffi exports of the Tidepool client (`tidepool`, `client-core/`), from which the Swift
//! and Kotlin bindings are generated. Every export only converts arguments, calls the core and
//! maps the error; database semantics live in the core.
//!
//! Async methods run on a runtime this library owns ([`runtime`]), so they behave the same
//! whichever executor the foreign side polls them from, and cancelling the foreign call
//! (dropping the future) cancels the request. Nothing panics across the FFI boundary: a panic
//! inside a task arrives as [`TidepoolError::Internal`].

mod changes;
mod connection;
mod cursor;
mod database;
mod error;
mod offline;
mod runtime;
mod transaction;
mod value;

pub use changes::{ChangeListener, ChangeListenerHandle, ChangeOrigin, TableChange};
pub use connection::{Connection, ExecuteResult, ResultSet, Rows, Statement, TransactionBehavior};
pub use cursor::RowCursor;
pub use database::{Database, DatabaseOptions, SyncReport, SyncStatus};
pub use error::TidepoolError;
pub use offline::{
    Conflict, ConflictKind, ConflictOutcome, ConflictPolicy, ConflictResolver, ConflictRule,
    OfflineOptions, Resolution,
};
pub use transaction::Transaction;
pub use value::{Column, NamedValue, Params, Value};

uniffi::setup_scaffolding!();
