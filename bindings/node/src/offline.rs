//! Offline databases: conflicts to JavaScript, resolutions from it, a conflict resolver written
//! in JavaScript, and change subscriptions.
//!
//! A conflict crosses as a raw array the package shapes: `[id, table, key, kind, rule,
//! outcome, columns, local, remote, base, error, writtenAtMs, unsafeInt]`, where a row image is
//! `null` or `[names, values]` and `error` is `null` or `[code, message]`; values follow the
//! client's `intMode`. A resolution crosses as `{ keep: "local" | "remote" | "merge", names?,
//! values? }`, normalised by the package.

use std::ptr;
use std::sync::mpsc;
use std::time::{Duration, UNIX_EPOCH};

use napi::bindgen_prelude::{ToNapiValue, TypeName};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Status, ValueType};
use napi_derive::napi;
use tidepool::{ChangeOrigin, Conflict, ConflictPolicy, Resolution, RowImage, TableChange, Value};

use crate::error::{check, coded};
use crate::value::{str_value, Arg, IntMode, Out};

/// A conflict policy by its name.
pub fn policy(name: &str) -> napi::Result<ConflictPolicy> {
    match name {
        "column_lww" => Ok(ConflictPolicy::ColumnLww),
        "server_wins" => Ok(ConflictPolicy::ServerWins),
        "client_wins" => Ok(ConflictPolicy::ClientWins),
        other => Err(coded(
            "INVALID_CONFIG",
            None,
            &format!(
                "unknown conflict policy {other:?}: expected \"column_lww\", \"server_wins\" or \"client_wins\""
            ),
        )),
    }
}

/// A resolution as the package passes it.
#[napi(object, object_to_js = false)]
pub struct ResolutionIn {
    /// `"local"`, `"remote"` or `"merge"`.
    pub keep: String,
    /// For a merge: the columns set, and their values.
    pub names: Option<Vec<String>>,
    pub values: Option<Vec<Arg>>,
}

impl ResolutionIn {
    pub fn resolution(self) -> napi::Result<Resolution> {
        match self.keep.as_str() {
            "local" => Ok(Resolution::KeepLocal),
            "remote" => Ok(Resolution::KeepRemote),
            "merge" => {
                let names = self.names.unwrap_or_default();
                let values = self.values.unwrap_or_default();
                if names.len() != values.len() {
                    return Err(coded(
                        "INVALID_ARGUMENT",
                        None,
                        &format!("{} merge columns for {} values", names.len(), values.len()),
                    ));
                }
                Ok(Resolution::Merge(
                    names
                        .into_iter()
                        .zip(values.into_iter().map(|a| a.0))
                        .collect(),
                ))
            }
            other => Err(coded(
                "INVALID_ARGUMENT",
                None,
                &format!(
                    "a resolution is \"local\", \"remote\" or {{ merge: {{...}} }}, not {other:?}"
                ),
            )),
        }
    }
}

/// Conflicts, converted on the JavaScript thread.
pub struct JsConflicts(pub Vec<Conflict>, pub IntMode);

/// One conflict, as the resolver's argument.
pub struct ConflictArg(pub Conflict, pub IntMode);

impl TypeName for JsConflicts {
    fn type_name() -> &'static str {
        "RawConflict[]"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl TypeName for ConflictArg {
    fn type_name() -> &'static str {
        "RawConflict"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for JsConflicts {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let out = unsafe { array(env, val.0.len()) }?;
        for (i, c) in val.0.iter().enumerate() {
            unsafe { set(env, out, i, conflict(env, c, val.1)?) }?;
        }
        Ok(out)
    }
}

impl ToNapiValue for ConflictArg {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        unsafe { conflict(env, &val.0, val.1) }
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

unsafe fn null(env: sys::napi_env) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    check(unsafe { sys::napi_get_null(env, &mut out) })?;
    Ok(out)
}

unsafe fn number(env: sys::napi_env, n: f64) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    check(unsafe { sys::napi_create_double(env, n, &mut out) })?;
    Ok(out)
}

unsafe fn strings(env: sys::napi_env, items: &[String]) -> napi::Result<sys::napi_value> {
    let out = unsafe { array(env, items.len()) }?;
    for (i, s) in items.iter().enumerate() {
        unsafe { set(env, out, i, str_value(env, s)?) }?;
    }
    Ok(out)
}

unsafe fn values(out: &mut Out, items: &[Value]) -> napi::Result<sys::napi_value> {
    let arr = unsafe { array(out.env, items.len()) }?;
    for (i, v) in items.iter().enumerate() {
        unsafe { set(out.env, arr, i, out.value(v)?) }?;
    }
    Ok(arr)
}

/// `null` or `[names, values]`.
unsafe fn image(out: &mut Out, image: Option<&RowImage>) -> napi::Result<sys::napi_value> {
    let Some(image) = image else {
        return unsafe { null(out.env) };
    };
    let names: Vec<String> = image.iter().map(|(c, _)| c.clone()).collect();
    let vals: Vec<Value> = image.iter().map(|(_, v)| v.clone()).collect();
    let pair = unsafe { array(out.env, 2) }?;
    unsafe { set(out.env, pair, 0, strings(out.env, &names)?) }?;
    unsafe { set(out.env, pair, 1, values(out, &vals)?) }?;
    Ok(pair)
}

unsafe fn conflict(
    env: sys::napi_env,
    c: &Conflict,
    int_mode: IntMode,
) -> napi::Result<sys::napi_value> {
    let mut out = Out {
        env,
        int_mode,
        unsafe_int: false,
    };
    let error = match &c.error {
        Some((code, message)) => {
            let pair = unsafe { array(env, 2) }?;
            unsafe { set(env, pair, 0, str_value(env, code)?) }?;
            unsafe { set(env, pair, 1, str_value(env, message)?) }?;
            pair
        }
        None => unsafe { null(env) }?,
    };
    let written_at = c
        .written_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0);
    let fields = [
        unsafe { number(env, c.id as f64) }?,
        unsafe { str_value(env, &c.table) }?,
        unsafe { values(&mut out, &c.key) }?,
        unsafe { str_value(env, c.kind.as_str()) }?,
        unsafe { str_value(env, c.rule.as_str()) }?,
        unsafe { str_value(env, c.outcome.as_str()) }?,
        unsafe { strings(env, &c.columns) }?,
        unsafe { image(&mut out, c.local.as_ref()) }?,
        unsafe { image(&mut out, c.remote.as_ref()) }?,
        unsafe { image(&mut out, c.base.as_ref()) }?,
        error,
        unsafe { number(env, written_at) }?,
    ];
    let raw = unsafe { array(env, fields.len() + 1) }?;
    for (i, v) in fields.into_iter().enumerate() {
        unsafe { set(env, raw, i, v) }?;
    }
    let mut unsafe_int = ptr::null_mut();
    check(unsafe { sys::napi_get_boolean(env, out.unsafe_int, &mut unsafe_int) })?;
    unsafe { set(env, raw, 12, unsafe_int) }?;
    Ok(raw)
}

/// The package's resolver: a JavaScript function from a raw conflict to a resolution. Weak,
/// so it never keeps the process alive by itself.
pub type ResolverFn =
    ThreadsafeFunction<ConflictArg, ResolutionIn, ConflictArg, Status, false, true>;

/// How long a sync waits for the JavaScript resolver before keeping the server's version.
const RESOLVER_WAIT: Duration = Duration::from_secs(60);

/// A [`tidepool::Resolver`] that asks JavaScript. The core calls it on a runtime worker, never
/// on the JavaScript thread; it queues the call there and blocks this worker until the answer
/// comes back (the JavaScript thread is free: it awaits the sync, or is idle during a
/// background sync). The package's wrapper never throws and normalises what the
/// application's function returns; anything else (the environment shutting down, no answer in
/// time) keeps the server's version and says so on stderr.
pub struct JsResolver {
    pub func: ResolverFn,
    pub int_mode: IntMode,
}

impl std::fmt::Debug for JsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JsResolver")
    }
}

impl tidepool::Resolver for JsResolver {
    fn resolve(&self, conflict: &Conflict) -> Resolution {
        let (tx, rx) = mpsc::sync_channel::<napi::Result<Resolution>>(1);
        let status = self.func.call_with_return_value(
            ConflictArg(conflict.clone(), self.int_mode),
            ThreadsafeFunctionCallMode::NonBlocking,
            move |answer: napi::Result<ResolutionIn>, _env| {
                let _ = tx.send(answer.and_then(ResolutionIn::resolution));
                Ok(())
            },
        );
        if status != Status::Ok {
            eprintln!(
                "tidepool: the conflict resolver could not be called ({status}); keeping the server's version"
            );
            return Resolution::KeepRemote;
        }
        match rx.recv_timeout(RESOLVER_WAIT) {
            Ok(Ok(resolution)) => resolution,
            Ok(Err(e)) => {
                eprintln!(
                    "tidepool: the conflict resolver failed ({e}); keeping the server's version"
                );
                Resolution::KeepRemote
            }
            Err(_) => {
                eprintln!(
                    "tidepool: the conflict resolver did not answer; keeping the server's version"
                );
                Resolution::KeepRemote
            }
        }
    }
}

/// A change as the listener gets it: `[tables, origin]`.
pub struct ChangeArg(pub TableChange);

impl TypeName for ChangeArg {
    fn type_name() -> &'static str {
        "[string[], \"local\" | \"remote\"]"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for ChangeArg {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let origin = match val.0.origin {
            ChangeOrigin::Local => "local",
            _ => "remote",
        };
        let pair = unsafe { array(env, 2) }?;
        unsafe { set(env, pair, 0, strings(env, &val.0.tables)?) }?;
        unsafe { set(env, pair, 1, str_value(env, origin)?) }?;
        Ok(pair)
    }
}

/// The package's change listener. Weak: a subscription does not keep the process alive.
pub type ListenerFn = ThreadsafeFunction<ChangeArg, (), ChangeArg, Status, false, true>;

/// A subscription to an offline database's or a replica's changes; `close()` ends it.
#[napi]
pub struct Subscription {
    pub(crate) task: Option<tokio::task::AbortHandle>,
}

#[napi]
impl Subscription {
    /// Stops the notifications (idempotent).
    #[napi(catch_unwind)]
    pub fn close(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.close();
    }
}
