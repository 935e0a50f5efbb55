//! The message decoders: each top-level message of either transport, in both encodings, and the
//! framing of cursor response bodies.
//!
//! Invariants checked: decoding never panics; a decoded message re-encodes, the encoding decodes
//! again to the same message (compared through `Debug`, so a NaN equals itself), and encoding
//! that gives the same bytes. A message holding an `Unknown` union member has no JSON encoding
//! (it is what a newer peer's request decodes to), so its JSON round trip is skipped.

use std::fmt::Debug;

use bytes::BytesMut;
use tidepool_protocol::codec::{self, Wire};
use tidepool_protocol::http::{CursorReqBody, CursorRespBody, PipelineReqBody, PipelineRespBody};
use tidepool_protocol::ws::{ClientMsg, ServerMsg};
use tidepool_protocol::{CursorEntry, Encoding};

const ENCODINGS: [Encoding; 2] = [Encoding::Json, Encoding::Protobuf];

pub fn ws_client_msg(data: &[u8]) {
    decode_both::<ClientMsg>(data);
}

pub fn ws_server_msg(data: &[u8]) {
    decode_both::<ServerMsg>(data);
}

pub fn pipeline_req(data: &[u8]) {
    decode_both::<PipelineReqBody>(data);
}

pub fn pipeline_resp(data: &[u8]) {
    decode_both::<PipelineRespBody>(data);
}

pub fn cursor_req(data: &[u8]) {
    decode_both::<CursorReqBody>(data);
}

/// Decodes `data` as a `T` in both encodings and checks the round trip of what decodes.
fn decode_both<T: Wire + Debug>(data: &[u8]) {
    for encoding in ENCODINGS {
        if let Ok(msg) = codec::decode::<T>(encoding, data) {
            round_trip(encoding, &msg);
        }
    }
}

/// decode(encode(msg)) == msg, and encode is then a fixed point.
pub(crate) fn round_trip<T: Wire + Debug>(encoding: Encoding, msg: &T) {
    let bytes = codec::encode(encoding, msg);
    if encoding == Encoding::Json && bytes.is_empty() {
        return;
    }
    let back: T = codec::decode(encoding, &bytes).unwrap_or_else(|e| {
        panic!("{encoding:?} encoding of {msg:?} does not decode: {e}");
    });
    assert_eq!(
        format!("{msg:?}"),
        format!("{back:?}"),
        "{encoding:?} round trip changed the message"
    );
    assert_eq!(
        bytes,
        codec::encode(encoding, &back),
        "{encoding:?} re-encoding differs"
    );
}

/// A cursor response body: a `CursorRespBody` then `CursorEntry` items, split by
/// `decode_stream_item`. The first input byte picks how the rest arrives in chunks, and the
/// items must come out the same however the body is chunked.
pub fn cursor_stream(data: &[u8]) {
    let Some((&chunking, body)) = data.split_first() else {
        return;
    };
    for encoding in ENCODINGS {
        let whole = split_items(encoding, &[body]);
        let chunk = usize::from(chunking % 16) + 1;
        let pieces: Vec<&[u8]> = body.chunks(chunk).collect();
        let chunked = split_items(encoding, &pieces);
        assert_eq!(whole, chunked, "{encoding:?} items depend on chunking");
    }
}

/// Feeds `pieces` to a buffer and takes items off as they complete. Returns the items (as
/// `Debug` text), ending with the error that stopped decoding, if any.
fn split_items(encoding: Encoding, pieces: &[&[u8]]) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = BytesMut::new();
    let mut head_seen = false;
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            let before = buf.len();
            let item = if head_seen {
                codec::decode_stream_item::<CursorEntry>(encoding, &mut buf).map(|item| {
                    item.map(|entry| {
                        round_trip(encoding, &entry);
                        format!("{entry:?}")
                    })
                })
            } else {
                codec::decode_stream_item::<CursorRespBody>(encoding, &mut buf).map(|item| {
                    item.map(|head| {
                        round_trip(encoding, &head);
                        format!("{head:?}")
                    })
                })
            };
            match item {
                Ok(Some(item)) => {
                    assert!(buf.len() < before, "an item was decoded from no bytes");
                    head_seen = true;
                    out.push(item);
                }
                Ok(None) => break,
                Err(e) => {
                    // An error is final: the reader gives up on the body.
                    out.push(format!("error: {e}"));
                    return out;
                }
            }
        }
    }
    out
}
