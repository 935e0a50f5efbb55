//! Values across the boundary: JavaScript arguments into [`Value`]s as @libsql/client binds
//! them, and results back into JavaScript values for the package's `intMode`.
//!
//! Arguments: `null`; a finite number (bound as a float, as @libsql/client does over the
//! network); a bigint within 64 bits; a boolean (0 or 1); a string; an `ArrayBuffer` or any
//! typed array (a blob); a `Date` (its milliseconds, as a float); any other object by its
//! `toString()`. `undefined`, symbols and functions are refused with a `TypeError`, and
//! non-finite numbers or too-large bigints with a `RangeError`, before anything is sent.
//!
//! Results: integers as numbers, bigints or strings by `intMode` (an integer beyond 2^53 in
//! number mode is reported, and the package throws `RangeError`); floats as numbers; text as
//! strings; blobs as `ArrayBuffer`s; NULL as `null`.

use std::ptr;

use napi::bindgen_prelude::{FromNapiValue, TypeName, ValidateNapiValue};
use napi::{sys, ValueType};
use tidepool::Value;

use crate::error::{arg_error, check, ArgErrorKind};

/// One statement argument, converted on the JavaScript thread.
pub struct Arg(pub Value);

impl TypeName for Arg {
    fn type_name() -> &'static str {
        "InValue"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ValidateNapiValue for Arg {}

impl FromNapiValue for Arg {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let mut kind = 0;
        check(unsafe { sys::napi_typeof(env, value, &mut kind) })?;
        let value = match kind {
            sys::ValueType::napi_null => Value::Null,
            sys::ValueType::napi_number => {
                let mut f = 0.0;
                check(unsafe { sys::napi_get_value_double(env, value, &mut f) })?;
                if !f.is_finite() {
                    return Err(arg_error(
                        ArgErrorKind::Range,
                        "Only finite numbers (not Infinity or NaN) can be passed as arguments",
                    ));
                }
                Value::Float(f)
            }
            sys::ValueType::napi_bigint => {
                let (mut i, mut lossless) = (0i64, false);
                check(unsafe {
                    sys::napi_get_value_bigint_int64(env, value, &mut i, &mut lossless)
                })?;
                if !lossless {
                    return Err(arg_error(
                        ArgErrorKind::Range,
                        "This bigint value is too large to be represented as a 64-bit integer and passed as argument",
                    ));
                }
                Value::Integer(i)
            }
            sys::ValueType::napi_boolean => {
                let mut b = false;
                check(unsafe { sys::napi_get_value_bool(env, value, &mut b) })?;
                Value::Integer(i64::from(b))
            }
            sys::ValueType::napi_string => Value::Text(unsafe { string(env, value) }?),
            sys::ValueType::napi_object => unsafe { object(env, value) }?,
            sys::ValueType::napi_undefined => {
                return Err(arg_error(
                    ArgErrorKind::Type,
                    "undefined cannot be passed as argument to the database",
                ))
            }
            _ => {
                return Err(arg_error(
                    ArgErrorKind::Type,
                    "Unsupported type of value (symbols and functions cannot be bound)",
                ))
            }
        };
        Ok(Arg(value))
    }
}

/// A string's UTF-8 text.
unsafe fn string(env: sys::napi_env, value: sys::napi_value) -> napi::Result<String> {
    let mut len = 0usize;
    check(unsafe { sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len) })?;
    let mut buf = vec![0u8; len + 1];
    let mut written = 0usize;
    check(unsafe {
        sys::napi_get_value_string_utf8(env, value, buf.as_mut_ptr().cast(), len + 1, &mut written)
    })?;
    buf.truncate(written);
    // napi writes UTF-8 (lone surrogates become U+FFFD), so this cannot fail; be safe anyway.
    Ok(String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Blobs from array buffers and typed arrays, dates as milliseconds, other objects as text.
unsafe fn object(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Value> {
    let mut yes = false;
    check(unsafe { sys::napi_is_arraybuffer(env, value, &mut yes) })?;
    if yes {
        let (mut data, mut len) = (ptr::null_mut(), 0usize);
        check(unsafe { sys::napi_get_arraybuffer_info(env, value, &mut data, &mut len) })?;
        return Ok(Value::Blob(unsafe { bytes(data.cast_const().cast(), len) }));
    }
    check(unsafe { sys::napi_is_typedarray(env, value, &mut yes) })?;
    if yes {
        let (mut kind, mut length, mut data) = (0, 0usize, ptr::null_mut());
        let (mut buffer, mut offset) = (ptr::null_mut(), 0usize);
        check(unsafe {
            sys::napi_get_typedarray_info(
                env,
                value,
                &mut kind,
                &mut length,
                &mut data,
                &mut buffer,
                &mut offset,
            )
        })?;
        let width = typed_array_width(kind);
        return Ok(Value::Blob(unsafe {
            bytes(data.cast_const().cast(), length * width)
        }));
    }
    check(unsafe { sys::napi_is_dataview(env, value, &mut yes) })?;
    if yes {
        let (mut len, mut data) = (0usize, ptr::null_mut());
        let (mut buffer, mut offset) = (ptr::null_mut(), 0usize);
        check(unsafe {
            sys::napi_get_dataview_info(env, value, &mut len, &mut data, &mut buffer, &mut offset)
        })?;
        return Ok(Value::Blob(unsafe { bytes(data.cast_const().cast(), len) }));
    }
    check(unsafe { sys::napi_is_date(env, value, &mut yes) })?;
    if yes {
        let mut ms = 0.0;
        check(unsafe { sys::napi_get_date_value(env, value, &mut ms) })?;
        if !ms.is_finite() {
            return Err(arg_error(
                ArgErrorKind::Range,
                "an invalid Date cannot be passed as argument",
            ));
        }
        return Ok(Value::Float(ms));
    }
    let mut text = ptr::null_mut();
    check(unsafe { sys::napi_coerce_to_string(env, value, &mut text) })?;
    Ok(Value::Text(unsafe { string(env, text) }?))
}

unsafe fn bytes(data: *const u8, len: usize) -> Vec<u8> {
    if len == 0 || data.is_null() {
        return Vec::new();
    }
    unsafe { std::slice::from_raw_parts(data, len) }.to_vec()
}

fn typed_array_width(kind: sys::napi_typedarray_type) -> usize {
    use sys::TypedarrayType as T;
    match kind {
        T::int16_array | T::uint16_array => 2,
        T::int32_array | T::uint32_array | T::float32_array => 4,
        T::float64_array | T::bigint64_array | T::biguint64_array => 8,
        _ => 1,
    }
}

/// How integers come back (@libsql/client's `intMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntMode {
    Number,
    BigInt,
    String,
}

impl IntMode {
    pub fn parse(mode: &str) -> Option<Self> {
        match mode {
            "number" => Some(IntMode::Number),
            "bigint" => Some(IntMode::BigInt),
            "string" => Some(IntMode::String),
            _ => None,
        }
    }
}

const MAX_SAFE: i64 = (1 << 53) - 1;

/// Converts result values to JavaScript, remembering whether an integer did not fit a number.
pub struct Out {
    pub env: sys::napi_env,
    pub int_mode: IntMode,
    pub unsafe_int: bool,
}

impl Out {
    pub unsafe fn value(&mut self, value: &Value) -> napi::Result<sys::napi_value> {
        let env = self.env;
        let mut out = ptr::null_mut();
        match value {
            Value::Null => check(unsafe { sys::napi_get_null(env, &mut out) })?,
            Value::Integer(i) => match self.int_mode {
                IntMode::Number => {
                    if !(-MAX_SAFE..=MAX_SAFE).contains(i) {
                        self.unsafe_int = true;
                    }
                    check(unsafe { sys::napi_create_double(env, *i as f64, &mut out) })?
                }
                IntMode::BigInt => {
                    check(unsafe { sys::napi_create_bigint_int64(env, *i, &mut out) })?
                }
                IntMode::String => return unsafe { str_value(env, &i.to_string()) },
            },
            Value::Float(f) => check(unsafe { sys::napi_create_double(env, *f, &mut out) })?,
            Value::Text(s) => return unsafe { str_value(env, s) },
            Value::Blob(b) => {
                let mut data = ptr::null_mut();
                check(unsafe { sys::napi_create_arraybuffer(env, b.len(), &mut data, &mut out) })?;
                if !b.is_empty() {
                    // SAFETY: napi allocated `b.len()` writable bytes at `data`.
                    unsafe { ptr::copy_nonoverlapping(b.as_ptr(), data.cast::<u8>(), b.len()) };
                }
            }
        }
        Ok(out)
    }
}

pub unsafe fn str_value(env: sys::napi_env, s: &str) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    check(unsafe {
        sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out)
    })?;
    Ok(out)
}
