//! The Node.js binding of the Tidepool client, built with napi-rs. It is thin on purpose: each
//! method converts its arguments, calls the `tidepool` crate and maps the result or error; the
//! @libsql/client-compatible API (`createClient`, `ResultSet`, `LibsqlError`) is written in
//! TypeScript over it (`bindings/node/ts`). Nothing here panics across the boundary: every
//! failure is a JavaScript error with a stable code, every exported function runs under
//! `catch_unwind`, and napi-rs polls the futures behind promises under it too (a panic
//! rejects the promise).

mod database;
mod error;
mod offline;
mod result;
mod statement;
mod sync;
mod transaction;
mod value;

pub use database::Database;
pub use offline::Subscription;
pub use transaction::Transaction;
