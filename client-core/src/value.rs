//! Values in and out: conversions from Rust types into [`Value`] for parameters, and from
//! [`Value`] into Rust types for reading rows.

pub use tidepool_protocol::Value;

use crate::error::{code, Error, Result};

/// A Rust value that can be bound as a statement parameter.
pub trait IntoValue {
    fn into_value(self) -> Value;
}

impl IntoValue for Value {
    fn into_value(self) -> Value {
        self
    }
}

macro_rules! int_into_value {
    ($($t:ty),*) => {$(
        impl IntoValue for $t {
            fn into_value(self) -> Value {
                Value::Integer(i64::from(self))
            }
        }
    )*};
}
int_into_value!(i8, i16, i32, i64, u8, u16, u32, bool);

impl IntoValue for f64 {
    fn into_value(self) -> Value {
        Value::Float(self)
    }
}

impl IntoValue for f32 {
    fn into_value(self) -> Value {
        Value::Float(f64::from(self))
    }
}

impl IntoValue for String {
    fn into_value(self) -> Value {
        Value::Text(self)
    }
}

impl IntoValue for &str {
    fn into_value(self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl IntoValue for Vec<u8> {
    fn into_value(self) -> Value {
        Value::Blob(self)
    }
}

impl IntoValue for &[u8] {
    fn into_value(self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl<T: IntoValue> IntoValue for Option<T> {
    fn into_value(self) -> Value {
        self.map_or(Value::Null, IntoValue::into_value)
    }
}

/// A Rust type a column value can be read as.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Result<Self>;
}

fn mismatch(value: &Value, wanted: &str) -> Error {
    let got = match value {
        Value::Null => "NULL",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a real",
        Value::Text(_) => "text",
        Value::Blob(_) => "a blob",
    };
    Error::new(
        crate::ErrorKind::Decode,
        code::TYPE_MISMATCH,
        format!("cannot read {got} as {wanted}"),
    )
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self> {
        Ok(value.clone())
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Integer(i) => Ok(*i),
            other => Err(mismatch(other, "i64")),
        }
    }
}

macro_rules! narrow_int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: &Value) -> Result<Self> {
                let wide = i64::from_value(value)?;
                <$t>::try_from(wide).map_err(|_| {
                    Error::new(
                        crate::ErrorKind::Decode,
                        code::TYPE_MISMATCH,
                        format!("{wide} does not fit in {}", stringify!($t)),
                    )
                })
            }
        }
    )*};
}
narrow_int_from_value!(i8, i16, i32, u8, u16, u32, u64, usize);

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self> {
        Ok(i64::from_value(value)? != 0)
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Float(f) => Ok(*f),
            // SQLite hands back integral REAL values as integers in some expressions.
            Value::Integer(i) => Ok(*i as f64),
            other => Err(mismatch(other, "f64")),
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            other => Err(mismatch(other, "String")),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Blob(b) => Ok(b.clone()),
            other => Err(mismatch(other, "Vec<u8>")),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip_and_refuse_mismatches() {
        assert_eq!(i32::from_value(&7i32.into_value()).expect("i32"), 7);
        assert_eq!(
            Option::<String>::from_value(&Value::Null).expect("none"),
            None
        );
        assert_eq!(f64::from_value(&Value::Integer(2)).expect("widen"), 2.0);
        let e = i8::from_value(&Value::Integer(300)).expect_err("overflow");
        assert_eq!(e.code(), code::TYPE_MISMATCH);
        let e = String::from_value(&Value::Integer(1)).expect_err("type");
        assert_eq!(e.code(), code::TYPE_MISMATCH);
        assert_eq!(Some(1u8).into_value(), Value::Integer(1));
        assert_eq!(None::<i64>.into_value(), Value::Null);
    }
}
