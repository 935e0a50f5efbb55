//! Hrana over HTTP: pipelines of stream requests tied together by batons, and cursor bodies.

use bytes::{Buf, BufMut};
use prost::encoding::{self, DecodeContext, WireType};
use prost::{DecodeError, Message};
use serde::{Deserialize, Serialize};

use crate::union::message_union;
use crate::{Batch, BatchResult, DescribeResult, Error, Stmt, StmtResult};

/// Body of `POST /v2/pipeline`, `/v3/pipeline` and `/v3-protobuf/pipeline`.
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct PipelineReqBody {
    #[serde(default)]
    #[prost(string, optional, tag = "1")]
    pub baton: Option<String>,
    #[prost(message, repeated, tag = "2")]
    pub requests: Vec<StreamRequest>,
}

/// Response to a pipeline: one result per request, in order.
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct PipelineRespBody {
    #[prost(string, optional, tag = "1")]
    pub baton: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub base_url: Option<String>,
    #[prost(message, repeated, tag = "3")]
    pub results: Vec<StreamResult>,
}

/// Body of `POST /v3/cursor` and `/v3-protobuf/cursor`.
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct CursorReqBody {
    #[serde(default)]
    #[prost(string, optional, tag = "1")]
    pub baton: Option<String>,
    #[prost(message, required, tag = "2")]
    pub batch: Batch,
}

/// First item of a cursor response; `CursorEntry` items follow.
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct CursorRespBody {
    #[prost(string, optional, tag = "1")]
    pub baton: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub base_url: Option<String>,
}

/// The outcome of one request in a pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamResult {
    Ok { response: StreamResponse },
    Error { error: Error },
}

impl Default for StreamResult {
    fn default() -> Self {
        StreamResult::Ok {
            response: StreamResponse::default(),
        }
    }
}

// Protobuf: `oneof result { StreamResponse ok = 1; Error error = 2; }`.
impl Message for StreamResult {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        match self {
            StreamResult::Ok { response } => encoding::message::encode(1, response, buf),
            StreamResult::Error { error } => encoding::message::encode(2, error, buf),
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => {
                let mut response = StreamResponse::default();
                encoding::message::merge(wire_type, &mut response, buf, ctx)?;
                *self = StreamResult::Ok { response };
            }
            2 => {
                let mut error = Error::default();
                encoding::message::merge(wire_type, &mut error, buf, ctx)?;
                *self = StreamResult::Error { error };
            }
            _ => encoding::skip_field(wire_type, tag, buf, ctx)?,
        }
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        match self {
            StreamResult::Ok { response } => encoding::message::encoded_len(1, response),
            StreamResult::Error { error } => encoding::message::encoded_len(2, error),
        }
    }

    fn clear(&mut self) {
        *self = StreamResult::default();
    }
}

/// A request on an HTTP stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamRequest {
    Close(CloseStreamReq),
    Execute(ExecuteStreamReq),
    Batch(BatchStreamReq),
    Sequence(SequenceStreamReq),
    Describe(DescribeStreamReq),
    StoreSql(StoreSqlStreamReq),
    CloseSql(CloseSqlStreamReq),
    GetAutocommit(GetAutocommitStreamReq),
    /// A request type this version does not know; answered with an error.
    #[serde(other, skip_serializing)]
    Unknown,
}

message_union!(StreamRequest, unknown = Unknown, {
    1 => Close,
    2 => Execute,
    3 => Batch,
    4 => Sequence,
    5 => Describe,
    6 => StoreSql,
    7 => CloseSql,
    8 => GetAutocommit,
});

/// The response to a successful stream request; its variant matches the request's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamResponse {
    Close(CloseStreamResp),
    Execute(ExecuteStreamResp),
    Batch(BatchStreamResp),
    Sequence(SequenceStreamResp),
    Describe(DescribeStreamResp),
    StoreSql(StoreSqlStreamResp),
    CloseSql(CloseSqlStreamResp),
    GetAutocommit(GetAutocommitStreamResp),
    /// A response type this version does not know.
    #[serde(other, skip_serializing)]
    Unknown,
}

message_union!(StreamResponse, unknown = Unknown, {
    1 => Close,
    2 => Execute,
    3 => Batch,
    4 => Sequence,
    5 => Describe,
    6 => StoreSql,
    7 => CloseSql,
    8 => GetAutocommit,
});

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct CloseStreamReq {}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct CloseStreamResp {}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct ExecuteStreamReq {
    #[prost(message, required, tag = "1")]
    pub stmt: Stmt,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct ExecuteStreamResp {
    #[prost(message, required, tag = "1")]
    pub result: StmtResult,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct BatchStreamReq {
    #[prost(message, required, tag = "1")]
    pub batch: Batch,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct BatchStreamResp {
    #[prost(message, required, tag = "1")]
    pub result: BatchResult,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct SequenceStreamReq {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[prost(string, optional, tag = "1")]
    pub sql: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[prost(int32, optional, tag = "2")]
    pub sql_id: Option<i32>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct SequenceStreamResp {}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct DescribeStreamReq {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[prost(string, optional, tag = "1")]
    pub sql: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[prost(int32, optional, tag = "2")]
    pub sql_id: Option<i32>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct DescribeStreamResp {
    #[prost(message, required, tag = "1")]
    pub result: DescribeResult,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct StoreSqlStreamReq {
    #[prost(int32, tag = "1")]
    pub sql_id: i32,
    #[prost(string, tag = "2")]
    pub sql: String,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct StoreSqlStreamResp {}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct CloseSqlStreamReq {
    #[prost(int32, tag = "1")]
    pub sql_id: i32,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct CloseSqlStreamResp {}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct GetAutocommitStreamReq {}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct GetAutocommitStreamResp {
    #[prost(bool, tag = "1")]
    pub is_autocommit: bool,
}
