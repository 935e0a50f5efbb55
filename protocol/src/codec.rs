//! The two encodings, behind one pair of functions so callers never branch on the format.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A wire encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// JSON (Hrana 1, 2 and 3): text WebSocket frames, `application/json` bodies.
    Json,
    /// Protobuf (Hrana 3): binary WebSocket frames, `application/x-protobuf` bodies.
    Protobuf,
}

impl Encoding {
    /// The HTTP `Content-Type` of bodies in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => "application/json",
            Encoding::Protobuf => "application/x-protobuf",
        }
    }
}

/// A message that does not decode. The text says where and why, for the peer's error message.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("malformed JSON message: {0}")]
    Json(#[from] serde_json::Error),
    #[error("malformed protobuf message: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("malformed stream framing: {0}")]
    Framing(&'static str),
}

/// A type that travels in both encodings.
pub trait Wire: Serialize + DeserializeOwned + prost::Message + Default + Sized {}

impl<T: Serialize + DeserializeOwned + prost::Message + Default> Wire for T {}

/// Encodes `msg` in `encoding`.
pub fn encode<T: Wire>(encoding: Encoding, msg: &T) -> Vec<u8> {
    match encoding {
        // Serializing these types to JSON cannot fail: every map key is a string.
        Encoding::Json => serde_json::to_vec(msg).unwrap_or_default(),
        Encoding::Protobuf => msg.encode_to_vec(),
    }
}

/// Decodes a `T` from `bytes` in `encoding`.
pub fn decode<T: Wire>(encoding: Encoding, bytes: &[u8]) -> Result<T, DecodeError> {
    match encoding {
        Encoding::Json => Ok(serde_json::from_slice(bytes)?),
        Encoding::Protobuf => Ok(T::decode(bytes)?),
    }
}

/// Appends one item of a cursor response body: a JSON line, or a length-delimited protobuf.
pub fn encode_stream_item<T: Wire>(encoding: Encoding, msg: &T, out: &mut Vec<u8>) {
    match encoding {
        Encoding::Json => {
            if serde_json::to_writer(&mut *out, msg).is_ok() {
                out.push(b'\n');
            }
        }
        Encoding::Protobuf => {
            // Writing to a Vec only fails when out of capacity, which a Vec grows past.
            let _ = msg.encode_length_delimited(out);
        }
    }
}

/// Splits the next item off a cursor response body. `Ok(None)` when `buf` holds no whole item
/// yet (more bytes are needed); on success the item's bytes are removed from `buf`.
pub fn decode_stream_item<T: Wire>(
    encoding: Encoding,
    buf: &mut bytes::BytesMut,
) -> Result<Option<T>, DecodeError> {
    match encoding {
        Encoding::Json => {
            let Some(end) = buf.iter().position(|&b| b == b'\n') else {
                return Ok(None);
            };
            let line = buf.split_to(end + 1);
            Ok(Some(serde_json::from_slice(&line[..end])?))
        }
        Encoding::Protobuf => {
            let mut peek = &buf[..];
            let Ok(len) = prost::encoding::decode_varint(&mut peek) else {
                // A varint is at most 10 bytes; fewer than that may just be incomplete.
                if buf.len() >= 10 {
                    return Err(DecodeError::Framing("invalid length prefix"));
                }
                return Ok(None);
            };
            let header = buf.len() - peek.len();
            let Some(total) = usize::try_from(len)
                .ok()
                .and_then(|l| l.checked_add(header))
            else {
                return Err(DecodeError::Framing("length prefix too large"));
            };
            if buf.len() < total {
                return Ok(None);
            }
            let item = buf.split_to(total);
            Ok(Some(T::decode(&item[header..])?))
        }
    }
}
