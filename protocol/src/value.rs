//! SQLite values on the wire.
//!
//! JSON carries integers as decimal strings (so 64-bit values survive peers whose numbers are
//! doubles) and blobs as base64. Neither encoding has a NaN: SQLite turns a NaN into NULL, so an
//! encoder writes NaN as `null`. Protobuf carries infinities as IEEE doubles; JSON numbers cannot,
//! so JSON writes them as the strings `"Infinity"` and `"-Infinity"` (SPEC.md, "Values").

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use bytes::{Buf, BufMut};
use prost::encoding::{self, DecodeContext, WireType};
use prost::DecodeError;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One SQLite value: the five storage classes.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    #[default]
    Null,
    /// A 64-bit signed integer.
    Integer(i64),
    /// A 64-bit IEEE float. Never NaN once decoded.
    Float(f64),
    /// UTF-8 text (may contain NUL).
    Text(String),
    /// Arbitrary bytes.
    Blob(Vec<u8>),
}

impl Value {
    /// The value as it travels: a NaN float becomes `Null`, as SQLite itself stores it.
    pub fn normalized(self) -> Self {
        match self {
            Value::Float(f) if f.is_nan() => Value::Null,
            other => other,
        }
    }

    /// Bitwise equality (floats compared by bits, so `-0.0 != 0.0`), for tests and vectors.
    pub fn same_as(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (a, b) => a == b,
        }
    }
}

/// Decodes base64 with or without padding; encoders always pad.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes bytes as padded standard base64.
pub fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard base64, padded or not.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    BASE64_LENIENT.decode(text)
}

const INFINITY: &str = "Infinity";
const NEG_INFINITY: &str = "-Infinity";

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        match self {
            Value::Null => map.serialize_entry("type", "null")?,
            Value::Float(f) if f.is_nan() => map.serialize_entry("type", "null")?,
            Value::Integer(i) => {
                map.serialize_entry("type", "integer")?;
                map.serialize_entry("value", &i.to_string())?;
            }
            Value::Float(f) => {
                map.serialize_entry("type", "float")?;
                if *f == f64::INFINITY {
                    map.serialize_entry("value", INFINITY)?;
                } else if *f == f64::NEG_INFINITY {
                    map.serialize_entry("value", NEG_INFINITY)?;
                } else {
                    map.serialize_entry("value", f)?;
                }
            }
            Value::Text(s) => {
                map.serialize_entry("type", "text")?;
                map.serialize_entry("value", s)?;
            }
            Value::Blob(b) => {
                map.serialize_entry("type", "blob")?;
                map.serialize_entry("base64", &encode_base64(b))?;
            }
        }
        map.end()
    }
}

/// A JSON scalar seen in a value's `value` field, before its `type` is known.
enum Scalar {
    Str(String),
    Int(i64),
    Uint(u64),
    Float(f64),
    Null,
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Str(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Uint(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
        }
        d.deserialize_any(ScalarVisitor)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Hrana value object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut ty: Option<String> = None;
        let mut value: Option<Scalar> = None;
        let mut base64: Option<String> = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "type" => ty = Some(map.next_value()?),
                "value" => value = Some(map.next_value()?),
                "base64" => base64 = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let ty = ty.ok_or_else(|| de::Error::missing_field("type"))?;
        match ty.as_str() {
            "null" => Ok(Value::Null),
            "integer" => match value {
                Some(Scalar::Str(s)) => s.parse::<i64>().map(Value::Integer).map_err(|_| {
                    de::Error::custom(format_args!("integer value {s:?} is not a 64-bit integer"))
                }),
                Some(Scalar::Int(i)) => Ok(Value::Integer(i)),
                Some(Scalar::Uint(u)) => i64::try_from(u)
                    .map(Value::Integer)
                    .map_err(|_| de::Error::custom("integer value out of the 64-bit range")),
                _ => Err(de::Error::custom("integer value must be a decimal string")),
            },
            "float" => match value {
                Some(Scalar::Float(f)) => Ok(Value::Float(f)),
                Some(Scalar::Int(i)) => Ok(Value::Float(i as f64)),
                Some(Scalar::Uint(u)) => Ok(Value::Float(u as f64)),
                Some(Scalar::Str(s)) if s == INFINITY => Ok(Value::Float(f64::INFINITY)),
                Some(Scalar::Str(s)) if s == NEG_INFINITY => Ok(Value::Float(f64::NEG_INFINITY)),
                _ => Err(de::Error::custom(
                    "float value must be a number, \"Infinity\" or \"-Infinity\"",
                )),
            },
            "text" => match value {
                Some(Scalar::Str(s)) => Ok(Value::Text(s)),
                _ => Err(de::Error::custom("text value must be a string")),
            },
            "blob" => {
                let text = base64.ok_or_else(|| de::Error::missing_field("base64"))?;
                decode_base64(&text)
                    .map(Value::Blob)
                    .map_err(|e| de::Error::custom(format_args!("invalid base64 in blob: {e}")))
            }
            other => Err(de::Error::custom(format_args!(
                "unknown value type {other:?}"
            ))),
        }
    }
}

// Protobuf: `message Value { oneof value { Null null = 1; sint64 integer = 2; double float = 3;
// string text = 4; bytes blob = 5; } message Null {} }`.
impl prost::Message for Value {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        match self {
            Value::Null => encoding::message::encode(1, &(), buf),
            Value::Float(f) if f.is_nan() => encoding::message::encode(1, &(), buf),
            Value::Integer(i) => encoding::sint64::encode(2, i, buf),
            Value::Float(f) => encoding::double::encode(3, f, buf),
            Value::Text(s) => encoding::string::encode(4, s, buf),
            Value::Blob(b) => encoding::bytes::encode(5, b, buf),
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
                let mut empty = ();
                encoding::message::merge(wire_type, &mut empty, buf, ctx)?;
                *self = Value::Null;
            }
            2 => {
                let mut v = 0i64;
                encoding::sint64::merge(wire_type, &mut v, buf, ctx)?;
                *self = Value::Integer(v);
            }
            3 => {
                let mut v = 0f64;
                encoding::double::merge(wire_type, &mut v, buf, ctx)?;
                *self = Value::Float(v).normalized();
            }
            4 => {
                let mut v = String::new();
                encoding::string::merge(wire_type, &mut v, buf, ctx)?;
                *self = Value::Text(v);
            }
            5 => {
                let mut v = Vec::new();
                encoding::bytes::merge(wire_type, &mut v, buf, ctx)?;
                *self = Value::Blob(v);
            }
            _ => encoding::skip_field(wire_type, tag, buf, ctx)?,
        }
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        match self {
            Value::Null => encoding::message::encoded_len(1, &()),
            Value::Float(f) if f.is_nan() => encoding::message::encoded_len(1, &()),
            Value::Integer(i) => encoding::sint64::encoded_len(2, i),
            Value::Float(f) => encoding::double::encoded_len(3, f),
            Value::Text(s) => encoding::string::encoded_len(4, s),
            Value::Blob(b) => encoding::bytes::encoded_len(5, b),
        }
    }

    fn clear(&mut self) {
        *self = Value::Null;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    fn json_roundtrip(v: &Value) -> Value {
        let text = serde_json::to_string(v).expect("encode");
        serde_json::from_str(&text).expect("decode")
    }

    fn proto_roundtrip(v: &Value) -> Value {
        Value::decode(v.encode_to_vec().as_slice()).expect("decode")
    }

    #[test]
    fn edge_values_roundtrip_in_both_encodings() {
        let cases = [
            Value::Null,
            Value::Integer(i64::MIN),
            Value::Integer(i64::MAX),
            Value::Float(-0.0),
            Value::Float(f64::INFINITY),
            Value::Float(f64::NEG_INFINITY),
            Value::Text(String::new()),
            Value::Text("a\0b 🌊".into()),
            Value::Blob(vec![]),
            Value::Blob(vec![0, 255, 1]),
        ];
        for v in &cases {
            assert!(json_roundtrip(v).same_as(v), "json {v:?}");
            assert!(proto_roundtrip(v).same_as(v), "proto {v:?}");
        }
    }

    #[test]
    fn nan_travels_as_null() {
        assert_eq!(json_roundtrip(&Value::Float(f64::NAN)), Value::Null);
        assert_eq!(proto_roundtrip(&Value::Float(f64::NAN)), Value::Null);
    }

    #[test]
    fn lenient_decoding() {
        let v: Value = serde_json::from_str(r#"{"type":"integer","value":5}"#).expect("number");
        assert_eq!(v, Value::Integer(5));
        let v: Value = serde_json::from_str(r#"{"type":"blob","base64":"AAE"}"#).expect("unpadded");
        assert_eq!(v, Value::Blob(vec![0, 1]));
        let v: Value =
            serde_json::from_str(r#"{"value":"x","extra":[1],"type":"text"}"#).expect("unknown");
        assert_eq!(v, Value::Text("x".into()));
    }

    #[test]
    fn invalid_values_are_rejected() {
        for bad in [
            r#"{"type":"integer","value":"9223372036854775808"}"#,
            r#"{"type":"integer","value":"12a"}"#,
            r#"{"type":"float","value":"1.5"}"#,
            r#"{"type":"text","value":1}"#,
            r#"{"type":"blob","base64":"!!"}"#,
            r#"{"type":"decimal","value":"1"}"#,
            r#"{"value":"1"}"#,
        ] {
            assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad}");
        }
    }
}
