//! Batches: steps run in order, each guarded by an optional condition on earlier steps.

use bytes::{Buf, BufMut};
use prost::encoding::{self, DecodeContext, WireType};
use prost::{DecodeError, Message};
use serde::{Deserialize, Serialize};

use crate::serde_util::opt_u64_str;
use crate::{Error, Stmt, StmtResult};

/// A batch of steps.
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct Batch {
    #[prost(message, repeated, tag = "1")]
    pub steps: Vec<BatchStep>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_u64_str")]
    #[prost(uint64, optional, tag = "2")]
    pub replication_index: Option<u64>,
}

/// One step: a statement and the condition under which it runs.
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct BatchStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[prost(message, optional, tag = "1")]
    pub condition: Option<BatchCond>,
    #[prost(message, required, tag = "2")]
    pub stmt: Stmt,
}

/// A condition on earlier steps of the same batch.
///
/// `Ok`/`Error` refer to a step by 0-based index; a skipped step is neither ok nor an error, so
/// `not(ok(i))` is true when step `i` was skipped (SPEC.md, "Batch conditions").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BatchCond {
    Ok { step: u32 },
    Error { step: u32 },
    Not { cond: Box<BatchCond> },
    And { conds: Vec<BatchCond> },
    Or { conds: Vec<BatchCond> },
    IsAutocommit {},
}

impl Default for BatchCond {
    fn default() -> Self {
        BatchCond::And { conds: Vec::new() }
    }
}

/// `message CondList { repeated BatchCond conds = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
struct CondList {
    #[prost(message, repeated, tag = "1")]
    conds: Vec<BatchCond>,
}

/// Encodes `conds` as a `CondList` message in field `tag`, without building one.
fn encode_cond_list(tag: u32, conds: &[BatchCond], buf: &mut impl BufMut) {
    encoding::encode_key(tag, WireType::LengthDelimited, buf);
    encoding::encode_varint(cond_list_body_len(conds) as u64, buf);
    for cond in conds {
        encoding::message::encode(1, cond, buf);
    }
}

fn cond_list_body_len(conds: &[BatchCond]) -> usize {
    conds
        .iter()
        .map(|c| encoding::message::encoded_len(1, c))
        .sum()
}

fn cond_list_len(tag: u32, conds: &[BatchCond]) -> usize {
    let body = cond_list_body_len(conds);
    encoding::key_len(tag) + encoding::encoded_len_varint(body as u64) + body
}

// Protobuf: `oneof cond { uint32 step_ok = 1; uint32 step_error = 2; BatchCond not = 3;
// CondList and = 4; CondList or = 5; IsAutocommit is_autocommit = 6; }`.
impl Message for BatchCond {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        match self {
            BatchCond::Ok { step } => encoding::uint32::encode(1, step, buf),
            BatchCond::Error { step } => encoding::uint32::encode(2, step, buf),
            BatchCond::Not { cond } => encoding::message::encode(3, cond.as_ref(), buf),
            BatchCond::And { conds } => encode_cond_list(4, conds, buf),
            BatchCond::Or { conds } => encode_cond_list(5, conds, buf),
            BatchCond::IsAutocommit {} => encoding::message::encode(6, &(), buf),
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
            1 | 2 => {
                let mut step = 0u32;
                encoding::uint32::merge(wire_type, &mut step, buf, ctx)?;
                *self = if tag == 1 {
                    BatchCond::Ok { step }
                } else {
                    BatchCond::Error { step }
                };
            }
            3 => {
                let mut cond = BatchCond::default();
                encoding::message::merge(wire_type, &mut cond, buf, ctx)?;
                *self = BatchCond::Not {
                    cond: Box::new(cond),
                };
            }
            4 | 5 => {
                let mut list = CondList::default();
                encoding::message::merge(wire_type, &mut list, buf, ctx)?;
                let conds = list.conds;
                *self = if tag == 4 {
                    BatchCond::And { conds }
                } else {
                    BatchCond::Or { conds }
                };
            }
            6 => {
                encoding::message::merge(wire_type, &mut (), buf, ctx)?;
                *self = BatchCond::IsAutocommit {};
            }
            // Every field of `BatchCond` is a member of its oneof, so an unknown field is a
            // condition this version does not know. It must not run or skip a step on a guess
            // (SPEC.md §2.3), and JSON rejects an unknown `type` too.
            _ => return Err(decode_error("unknown batch condition type")),
        }
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        match self {
            BatchCond::Ok { step } => encoding::uint32::encoded_len(1, step),
            BatchCond::Error { step } => encoding::uint32::encoded_len(2, step),
            BatchCond::Not { cond } => encoding::message::encoded_len(3, cond.as_ref()),
            BatchCond::And { conds } => cond_list_len(4, conds),
            BatchCond::Or { conds } => cond_list_len(5, conds),
            BatchCond::IsAutocommit {} => encoding::message::encoded_len(6, &()),
        }
    }

    fn clear(&mut self) {
        *self = BatchCond::default();
    }
}

/// The results of a batch: for step `i`, exactly one of `step_results[i]` and `step_errors[i]`
/// is set if the step ran; both are `None` if it was skipped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    pub step_results: Vec<Option<StmtResult>>,
    pub step_errors: Vec<Option<Error>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_u64_str")]
    pub replication_index: Option<u64>,
}

/// A protobuf map entry `{ uint32 key = 1; V value = 2; }`.
#[derive(Clone, PartialEq, prost::Message)]
struct ResultEntry {
    #[prost(uint32, tag = "1")]
    key: u32,
    #[prost(message, optional, tag = "2")]
    value: Option<StmtResult>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ErrorEntry {
    #[prost(uint32, tag = "1")]
    key: u32,
    #[prost(message, optional, tag = "2")]
    value: Option<Error>,
}

fn entry_len<M: Message>(index: usize, value: &M) -> usize {
    encoding::uint32::encoded_len(1, &(index as u32)) + encoding::message::encoded_len(2, value)
}

fn encode_entries<M: Message>(tag: u32, items: &[Option<M>], buf: &mut impl BufMut) {
    for (index, value) in items.iter().enumerate() {
        if let Some(value) = value {
            encoding::encode_key(tag, WireType::LengthDelimited, buf);
            encoding::encode_varint(entry_len(index, value) as u64, buf);
            encoding::uint32::encode(1, &(index as u32), buf);
            encoding::message::encode(2, value, buf);
        }
    }
}

fn entries_len<M: Message>(tag: u32, items: &[Option<M>]) -> usize {
    items
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.as_ref().map(|v| entry_len(i, v)))
        .map(|len| encoding::key_len(tag) + encoding::encoded_len_varint(len as u64) + len)
        .sum()
}

// prost offers no other way to name a semantic decode error; the constructor is stable in 0.14.
#[allow(deprecated)]
fn decode_error(description: &'static str) -> DecodeError {
    DecodeError::new(description)
}

/// Largest step index a decoder accepts in a protobuf batch result map.
const MAX_STEP_INDEX: u32 = 1 << 20;

fn place<T>(items: &mut Vec<Option<T>>, key: u32, value: T) -> Result<(), DecodeError> {
    if key > MAX_STEP_INDEX {
        return Err(decode_error("batch step index out of range"));
    }
    let key = key as usize;
    if items.len() <= key {
        items.resize_with(key + 1, || None);
    }
    items[key] = Some(value);
    Ok(())
}

// Protobuf: `map<uint32, StmtResult> step_results = 1; map<uint32, Error> step_errors = 2;
// optional uint64 replication_index = 3;`.
impl Message for BatchResult {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        encode_entries(1, &self.step_results, buf);
        encode_entries(2, &self.step_errors, buf);
        if let Some(index) = &self.replication_index {
            encoding::uint64::encode(3, index, buf);
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
                let mut entry = ResultEntry::default();
                encoding::message::merge(wire_type, &mut entry, buf, ctx)?;
                place(
                    &mut self.step_results,
                    entry.key,
                    entry.value.unwrap_or_default(),
                )?;
            }
            2 => {
                let mut entry = ErrorEntry::default();
                encoding::message::merge(wire_type, &mut entry, buf, ctx)?;
                place(
                    &mut self.step_errors,
                    entry.key,
                    entry.value.unwrap_or_default(),
                )?;
            }
            3 => {
                let index = self.replication_index.get_or_insert(0);
                encoding::uint64::merge(wire_type, index, buf, ctx)?;
            }
            _ => encoding::skip_field(wire_type, tag, buf, ctx)?,
        }
        // Both arrays describe the same steps, so they have the same length.
        let steps = self.step_results.len().max(self.step_errors.len());
        self.step_results.resize_with(steps, || None);
        self.step_errors.resize_with(steps, || None);
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        entries_len(1, &self.step_results)
            + entries_len(2, &self.step_errors)
            + self
                .replication_index
                .as_ref()
                .map_or(0, |i| encoding::uint64::encoded_len(3, i))
    }

    fn clear(&mut self) {
        *self = BatchResult::default();
    }
}
