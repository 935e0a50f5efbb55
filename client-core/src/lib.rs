//! Tidepool: SQLite semantics over the network and on the device. This crate is the client
//! every Tidepool binding wraps: remote databases over HTTP (pooled, HTTP/1.1 and HTTP/2,
//! rustls) and WebSocket (many streams multiplexed per socket), speaking the Tidepool protocol,
//! a profile of libSQL's Hrana, so it also works against stock libSQL servers; and local
//! databases (`file:path`, `:memory:`) through the same API and the same SQL engine as the
//! server, with one writer and parallel readers.
//!
//! ```no_run
//! # async fn run() -> tidepool::Result<()> {
//! let db = tidepool::Builder::new("http://127.0.0.1:8080").build()?;
//! let conn = db.connect();
//! conn.execute("CREATE TABLE IF NOT EXISTS pools (name TEXT, depth REAL)", ()).await?;
//! conn.execute("INSERT INTO pools VALUES (?, ?)", ("Rockpool", 0.4)).await?;
//! let mut rows = conn.query("SELECT name, depth FROM pools WHERE depth > ?", (0.1,)).await?;
//! while let Some(row) = rows.next().await? {
//!     let name: String = row.get("name")?;
//!     let depth: f64 = row.get(1)?;
//!     println!("{name}: {depth}");
//! }
//! let tx = conn.transaction().await?;
//! tx.execute("UPDATE pools SET depth = depth + 1", ()).await?;
//! tx.commit().await?;
//! # Ok(()) }
//! ```
//!
//! Failed requests are retried with backoff only when that cannot duplicate a write (the
//! request never left, or it only reads outside a transaction); a write whose fate is unknown
//! fails with [`error::code::OUTCOME_UNKNOWN`]. Dropping a future cancels its request.

mod backend;
mod builder;
mod connection;
pub mod error;
mod local;
mod offline;
pub mod params;
mod remote;
mod replica;
mod rows;
mod value;

pub use builder::{Builder, Database};
pub use connection::{Connection, Statement, Transaction, TransactionBehavior};
pub use error::{Error, ErrorKind, Result};
pub use offline::{
    ChangeOrigin, Changes, Conflict, ConflictKind, ConflictOutcome, ConflictPolicy, ConflictRule,
    Resolution, Resolver, RowImage, TableChange,
};
pub use params::Params;
pub use replica::{SyncReport, SyncStatus};
pub use rows::{Column, ColumnIndex, ExecuteResult, ResultSet, Row, Rows};
pub use value::{FromValue, IntoValue, Value};
