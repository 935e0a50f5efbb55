//! Tidepool wire protocol, version 1: the message types of `protocol/SPEC.md` with their JSON and
//! protobuf encodings.
//!
//! The protocol is a profile of libSQL's Hrana 1, 2 and 3, so stock libSQL clients and servers
//! interoperate with Tidepool's. This crate does no I/O: the server and the client crates move
//! bytes, and this crate says what the bytes mean.
//!
//! ```
//! use tidepool_protocol::{codec, http::{PipelineReqBody, StreamRequest, ExecuteStreamReq}, Encoding, Stmt};
//!
//! let body = PipelineReqBody {
//!     baton: None,
//!     requests: vec![StreamRequest::Execute(ExecuteStreamReq { stmt: Stmt::new("SELECT 1") })],
//! };
//! for encoding in [Encoding::Json, Encoding::Protobuf] {
//!     let bytes = codec::encode(encoding, &body);
//!     let back: PipelineReqBody = codec::decode(encoding, &bytes).unwrap();
//!     assert_eq!(back, body);
//! }
//! ```

mod batch;
pub mod codec;
mod cursor;
pub mod http;
mod serde_util;
mod stmt;
mod union;
mod value;
pub mod version;
pub mod ws;

pub use batch::{Batch, BatchCond, BatchResult, BatchStep};
pub use codec::Encoding;
pub use cursor::{CursorEntry, StepBeginEntry, StepEndEntry, StepErrorEntry};
pub use stmt::{
    Col, DescribeCol, DescribeParam, DescribeResult, Error, NamedArg, Row, Stmt, StmtResult,
};
pub use value::{decode_base64, encode_base64, Value};
