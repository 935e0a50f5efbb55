//! Serde adapters for the number shapes JSON peers disagree on.
//!
//! 64-bit integers travel as decimal strings (Hrana's rule), but Turso's hosted service sends some
//! of them (`last_insert_rowid`, replication indexes) as JSON numbers, so decoders take both.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// `Option<i64>` written as a string or `null`; read from a string, a number or `null`.
pub mod opt_i64_str {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        d.deserialize_any(IntVisitor::<i64>::default())
    }
}

/// `Option<u64>` written as a string or `null`; read from a string, a number or `null`.
pub mod opt_u64_str {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_any(IntVisitor::<u64>::default())
    }
}

struct IntVisitor<T>(std::marker::PhantomData<T>);

impl<T> Default for IntVisitor<T> {
    fn default() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<'de, T> Visitor<'de> for IntVisitor<T>
where
    T: TryFrom<i64> + TryFrom<u64> + std::str::FromStr,
{
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a 64-bit integer as a decimal string or number, or null")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        v.parse::<T>()
            .map(Some)
            .map_err(|_| E::custom(format_args!("{v:?} is not a valid integer")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        T::try_from(v)
            .map(Some)
            .map_err(|_| E::custom("integer out of range"))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        T::try_from(v)
            .map(Some)
            .map_err(|_| E::custom("integer out of range"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}
