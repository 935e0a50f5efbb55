//! Result sets to JavaScript: `[columns, columnTypes, rows, rowsAffected, lastInsertRowid,
//! unsafeInt]`, where each row is an array of values. The package wraps them in
//! @libsql/client's `ResultSet` and row shapes.

use std::ptr;

use napi::bindgen_prelude::{ToNapiValue, TypeName};
use napi::{sys, ValueType};
use tidepool::ResultSet;

use crate::error::check;
use crate::value::{str_value, IntMode, Out};

/// One statement's result, converted on the JavaScript thread.
pub struct JsResult(pub ResultSet, pub IntMode);

/// Several results (a batch).
pub struct JsResults(pub Vec<ResultSet>, pub IntMode);

impl TypeName for JsResult {
    fn type_name() -> &'static str {
        "RawResult"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl TypeName for JsResults {
    fn type_name() -> &'static str {
        "RawResult[]"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

unsafe fn array(env: sys::napi_env, len: usize) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    check(unsafe { sys::napi_create_array_with_length(env, len, &mut out) })?;
    Ok(out)
}

unsafe fn set(
    env: sys::napi_env,
    array: sys::napi_value,
    i: usize,
    v: sys::napi_value,
) -> napi::Result<()> {
    check(unsafe { sys::napi_set_element(env, array, i as u32, v) })
}

unsafe fn result(
    env: sys::napi_env,
    rs: &ResultSet,
    int_mode: IntMode,
) -> napi::Result<sys::napi_value> {
    let out = unsafe { array(env, 6) }?;
    let names = unsafe { array(env, rs.columns.len()) }?;
    let types = unsafe { array(env, rs.columns.len()) }?;
    for (i, c) in rs.columns.iter().enumerate() {
        unsafe { set(env, names, i, str_value(env, &c.name)?) }?;
        let decltype = c.decltype.as_deref().unwrap_or("");
        unsafe { set(env, types, i, str_value(env, decltype)?) }?;
    }
    let mut values = Out {
        env,
        int_mode,
        unsafe_int: false,
    };
    let rows = unsafe { array(env, rs.rows.len()) }?;
    for (r, row) in rs.rows.iter().enumerate() {
        let cells = row.values();
        let js_row = unsafe { array(env, cells.len()) }?;
        for (i, v) in cells.iter().enumerate() {
            unsafe { set(env, js_row, i, values.value(v)?) }?;
        }
        unsafe { set(env, rows, r, js_row) }?;
    }
    let mut affected = ptr::null_mut();
    check(unsafe { sys::napi_create_double(env, rs.rows_affected as f64, &mut affected) })?;
    let mut rowid = ptr::null_mut();
    match rs.last_insert_rowid {
        Some(id) => check(unsafe { sys::napi_create_bigint_int64(env, id, &mut rowid) })?,
        None => check(unsafe { sys::napi_get_undefined(env, &mut rowid) })?,
    }
    let mut unsafe_int = ptr::null_mut();
    check(unsafe { sys::napi_get_boolean(env, values.unsafe_int, &mut unsafe_int) })?;
    for (i, v) in [names, types, rows, affected, rowid, unsafe_int]
        .into_iter()
        .enumerate()
    {
        unsafe { set(env, out, i, v) }?;
    }
    Ok(out)
}

impl ToNapiValue for JsResult {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        unsafe { result(env, &val.0, val.1) }
    }
}

impl ToNapiValue for JsResults {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let out = unsafe { array(env, val.0.len()) }?;
        for (i, rs) in val.0.iter().enumerate() {
            unsafe { set(env, out, i, result(env, rs, val.1)?) }?;
        }
        Ok(out)
    }
}
