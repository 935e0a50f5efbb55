//! Cursor entries: a batch result sent incrementally, one step boundary or row at a time.

use bytes::{Buf, BufMut};
use prost::encoding::{self, DecodeContext, WireType};
use prost::{DecodeError, Message};
use serde::{Deserialize, Serialize};

use crate::serde_util::opt_i64_str;
use crate::{Col, Error, Row};

/// One entry of a cursor. A step produces `StepBegin`, any number of `Row`s and `StepEnd`, or a
/// `StepError` (before or after `StepBegin`); `Error` ends the whole cursor.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CursorEntry {
    StepBegin(StepBeginEntry),
    StepEnd(StepEndEntry),
    StepError(StepErrorEntry),
    Row {
        row: Row,
    },
    Error {
        error: Error,
    },
    /// An entry type this version does not know, or (protobuf) an entry with no member set:
    /// sqld ends cursors with such a `replication_index` entry. Clients skip it (SPEC.md §2.3).
    #[serde(other, skip_serializing)]
    #[default]
    Unknown,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct StepBeginEntry {
    #[prost(uint32, tag = "1")]
    pub step: u32,
    #[prost(message, repeated, tag = "2")]
    pub cols: Vec<Col>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct StepEndEntry {
    #[prost(uint64, tag = "1")]
    pub affected_row_count: u64,
    #[serde(default, with = "opt_i64_str")]
    #[prost(sint64, optional, tag = "2")]
    pub last_insert_rowid: Option<i64>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct StepErrorEntry {
    #[prost(uint32, tag = "1")]
    pub step: u32,
    #[prost(message, required, tag = "2")]
    pub error: Error,
}

// Protobuf: `oneof entry { StepBeginEntry step_begin = 1; StepEndEntry step_end = 2;
// StepErrorEntry step_error = 3; Row row = 4; Error error = 5; }`.
impl Message for CursorEntry {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        match self {
            CursorEntry::StepBegin(e) => encoding::message::encode(1, e, buf),
            CursorEntry::StepEnd(e) => encoding::message::encode(2, e, buf),
            CursorEntry::StepError(e) => encoding::message::encode(3, e, buf),
            CursorEntry::Row { row } => encoding::message::encode(4, row, buf),
            CursorEntry::Error { error } => encoding::message::encode(5, error, buf),
            CursorEntry::Unknown => {}
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        fn merged<M: Message + Default>(
            wire_type: WireType,
            buf: &mut impl Buf,
            ctx: DecodeContext,
        ) -> Result<M, DecodeError> {
            let mut m = M::default();
            encoding::message::merge(wire_type, &mut m, buf, ctx)?;
            Ok(m)
        }
        *self = match tag {
            1 => CursorEntry::StepBegin(merged(wire_type, buf, ctx)?),
            2 => CursorEntry::StepEnd(merged(wire_type, buf, ctx)?),
            3 => CursorEntry::StepError(merged(wire_type, buf, ctx)?),
            4 => CursorEntry::Row {
                row: merged(wire_type, buf, ctx)?,
            },
            5 => CursorEntry::Error {
                error: merged(wire_type, buf, ctx)?,
            },
            _ => return encoding::skip_field(wire_type, tag, buf, ctx),
        };
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        match self {
            CursorEntry::StepBegin(e) => encoding::message::encoded_len(1, e),
            CursorEntry::StepEnd(e) => encoding::message::encoded_len(2, e),
            CursorEntry::StepError(e) => encoding::message::encoded_len(3, e),
            CursorEntry::Row { row } => encoding::message::encoded_len(4, row),
            CursorEntry::Error { error } => encoding::message::encoded_len(5, error),
            CursorEntry::Unknown => 0,
        }
    }

    fn clear(&mut self) {
        *self = CursorEntry::default();
    }
}
