//! Hrana over WebSocket: hello, then requests multiplexed over many streams by id.

use bytes::{Buf, BufMut};
use prost::encoding::{self, DecodeContext, WireType};
use prost::{DecodeError, Message};
use serde::{Deserialize, Serialize};

use crate::union::message_union;
use crate::{Batch, BatchResult, CursorEntry, DescribeResult, Error, Stmt, StmtResult};

/// A message from client to server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    Hello(HelloMsg),
    Request(RequestMsg),
    /// A message type this version does not know: a protocol error.
    #[serde(other, skip_serializing)]
    Unknown,
}

message_union!(ClientMsg, unknown = Unknown, {
    1 => Hello,
    2 => Request,
});

/// A message from server to client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    HelloOk(HelloOkMsg),
    HelloError(HelloErrorMsg),
    ResponseOk(ResponseOkMsg),
    ResponseError(ResponseErrorMsg),
    /// A message type this version does not know: a protocol error.
    #[serde(other, skip_serializing)]
    Unknown,
}

message_union!(ServerMsg, unknown = Unknown, {
    1 => HelloOk,
    2 => HelloError,
    3 => ResponseOk,
    4 => ResponseError,
});

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct HelloMsg {
    #[serde(default)]
    #[prost(string, optional, tag = "1")]
    pub jwt: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct HelloOkMsg {}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct HelloErrorMsg {
    #[prost(message, required, tag = "1")]
    pub error: Error,
}

/// `message RequestMsg { int32 request_id = 1; oneof request { ... = 2..13 } }`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestMsg {
    pub request_id: i32,
    pub request: Request,
}

/// `message ResponseOkMsg { int32 request_id = 1; oneof response { ... = 2..13 } }`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseOkMsg {
    pub request_id: i32,
    pub response: Response,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct ResponseErrorMsg {
    #[prost(int32, tag = "1")]
    pub request_id: i32,
    #[prost(message, required, tag = "2")]
    pub error: Error,
}

/// Implements `prost::Message` for a `{ int32 request_id = 1; <union> }` envelope.
macro_rules! envelope_message {
    ($name:ident, $field:ident) => {
        impl Message for $name {
            fn encode_raw(&self, buf: &mut impl BufMut) {
                if self.request_id != 0 {
                    encoding::int32::encode(1, &self.request_id, buf);
                }
                self.$field.encode_member(buf);
            }

            fn merge_field(
                &mut self,
                tag: u32,
                wire_type: WireType,
                buf: &mut impl Buf,
                ctx: DecodeContext,
            ) -> Result<(), DecodeError> {
                if tag == 1 {
                    return encoding::int32::merge(wire_type, &mut self.request_id, buf, ctx);
                }
                if !self.$field.merge_member(tag, wire_type, buf, ctx.clone())? {
                    encoding::skip_field(wire_type, tag, buf, ctx)?;
                }
                Ok(())
            }

            fn encoded_len(&self) -> usize {
                let id = if self.request_id != 0 {
                    encoding::int32::encoded_len(1, &self.request_id)
                } else {
                    0
                };
                id + self.$field.member_len()
            }

            fn clear(&mut self) {
                *self = Self::default();
            }
        }
    };
}

envelope_message!(RequestMsg, request);
envelope_message!(ResponseOkMsg, response);

/// A request over WebSocket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    OpenStream(OpenStreamReq),
    CloseStream(CloseStreamReq),
    Execute(ExecuteReq),
    Batch(BatchReq),
    OpenCursor(OpenCursorReq),
    CloseCursor(CloseCursorReq),
    FetchCursor(FetchCursorReq),
    Sequence(SequenceReq),
    Describe(DescribeReq),
    StoreSql(StoreSqlReq),
    CloseSql(CloseSqlReq),
    GetAutocommit(GetAutocommitReq),
    /// A request type this version does not know; answered with an error.
    #[serde(other, skip_serializing)]
    Unknown,
}

message_union!(Request, unknown = Unknown, {
    2 => OpenStream,
    3 => CloseStream,
    4 => Execute,
    5 => Batch,
    6 => OpenCursor,
    7 => CloseCursor,
    8 => FetchCursor,
    9 => Sequence,
    10 => Describe,
    11 => StoreSql,
    12 => CloseSql,
    13 => GetAutocommit,
});

/// A successful response over WebSocket; its variant matches the request's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    OpenStream(OpenStreamResp),
    CloseStream(CloseStreamResp),
    Execute(ExecuteResp),
    Batch(BatchResp),
    OpenCursor(OpenCursorResp),
    CloseCursor(CloseCursorResp),
    FetchCursor(FetchCursorResp),
    Sequence(SequenceResp),
    Describe(DescribeResp),
    StoreSql(StoreSqlResp),
    CloseSql(CloseSqlResp),
    GetAutocommit(GetAutocommitResp),
    /// A response type this version does not know.
    #[serde(other, skip_serializing)]
    Unknown,
}

message_union!(Response, unknown = Unknown, {
    2 => OpenStream,
    3 => CloseStream,
    4 => Execute,
    5 => Batch,
    6 => OpenCursor,
    7 => CloseCursor,
    8 => FetchCursor,
    9 => Sequence,
    10 => Describe,
    11 => StoreSql,
    12 => CloseSql,
    13 => GetAutocommit,
});

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct OpenStreamReq {
    #[prost(int32, tag = "1")]
    pub stream_id: i32,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct OpenStreamResp {}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct CloseStreamReq {
    #[prost(int32, tag = "1")]
    pub stream_id: i32,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct CloseStreamResp {}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct ExecuteReq {
    #[prost(int32, tag = "1")]
    pub stream_id: i32,
    #[prost(message, required, tag = "2")]
    pub stmt: Stmt,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct ExecuteResp {
    #[prost(message, required, tag = "1")]
    pub result: StmtResult,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct BatchReq {
    #[prost(int32, tag = "1")]
    pub stream_id: i32,
    #[prost(message, required, tag = "2")]
    pub batch: Batch,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct BatchResp {
    #[prost(message, required, tag = "1")]
    pub result: BatchResult,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct OpenCursorReq {
    #[prost(int32, tag = "1")]
    pub stream_id: i32,
    #[prost(int32, tag = "2")]
    pub cursor_id: i32,
    #[prost(message, required, tag = "3")]
    pub batch: Batch,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct OpenCursorResp {}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct CloseCursorReq {
    #[prost(int32, tag = "1")]
    pub cursor_id: i32,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct CloseCursorResp {}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct FetchCursorReq {
    #[prost(int32, tag = "1")]
    pub cursor_id: i32,
    #[prost(uint32, tag = "2")]
    pub max_count: u32,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct FetchCursorResp {
    #[prost(message, repeated, tag = "1")]
    pub entries: Vec<CursorEntry>,
    #[prost(bool, tag = "2")]
    pub done: bool,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct StoreSqlReq {
    #[prost(int32, tag = "1")]
    pub sql_id: i32,
    #[prost(string, tag = "2")]
    pub sql: String,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct StoreSqlResp {}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct CloseSqlReq {
    #[prost(int32, tag = "1")]
    pub sql_id: i32,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct CloseSqlResp {}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct SequenceReq {
    #[prost(int32, tag = "1")]
    pub stream_id: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[prost(string, optional, tag = "2")]
    pub sql: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[prost(int32, optional, tag = "3")]
    pub sql_id: Option<i32>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct SequenceResp {}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct DescribeReq {
    #[prost(int32, tag = "1")]
    pub stream_id: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[prost(string, optional, tag = "2")]
    pub sql: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[prost(int32, optional, tag = "3")]
    pub sql_id: Option<i32>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct DescribeResp {
    #[prost(message, required, tag = "1")]
    pub result: DescribeResult,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct GetAutocommitReq {
    #[prost(int32, tag = "1")]
    pub stream_id: i32,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct GetAutocommitResp {
    #[prost(bool, tag = "1")]
    pub is_autocommit: bool,
}
