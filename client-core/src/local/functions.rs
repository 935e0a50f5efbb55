//! User-defined SQL functions written in Rust: scalar functions (`Fn(&[Value]) -> Value`) and
//! aggregates (an init/step/finalize over a state of the caller's type). The builder keeps them
//! type-erased as registrars, applied to every SQLite connection a local database opens.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use rusqlite::functions::{Aggregate, Context, FunctionFlags};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::ToSql;

use crate::value::Value;

type Registrar = dyn Fn(&rusqlite::Connection) -> rusqlite::Result<()> + Send + Sync;

/// A function to register on every connection of a local database.
#[derive(Clone)]
pub(crate) struct UserFunction {
    name: String,
    n_args: i32,
    register: Arc<Registrar>,
}

impl std::fmt::Debug for UserFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserFunction")
            .field("name", &self.name)
            .field("n_args", &self.n_args)
            .finish_non_exhaustive()
    }
}

/// Most arguments SQLite lets a function declare (`SQLITE_MAX_FUNCTION_ARG`'s floor).
const MAX_ARGS: i32 = 127;

impl UserFunction {
    pub(crate) fn scalar<F>(name: String, n_args: i32, deterministic: bool, f: F) -> Self
    where
        F: Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let fn_name = name.clone();
        let register = move |conn: &rusqlite::Connection| {
            let f = Arc::clone(&f);
            conn.create_scalar_function(
                fn_name.as_str(),
                n_args,
                flags(deterministic),
                move |ctx| f(&args(ctx)).map(Out).map_err(user_error),
            )
        };
        UserFunction {
            name,
            n_args,
            register: Arc::new(register),
        }
    }

    pub(crate) fn aggregate<S, I, St, Fi>(
        name: String,
        n_args: i32,
        deterministic: bool,
        init: I,
        step: St,
        finalize: Fi,
    ) -> Self
    where
        S: 'static,
        I: Fn() -> S + Send + Sync + 'static,
        St: Fn(&mut S, &[Value]) -> Result<(), String> + Send + Sync + 'static,
        Fi: Fn(S) -> Result<Value, String> + Send + Sync + 'static,
    {
        let parts = Arc::new(Parts {
            init,
            step,
            finalize,
        });
        let fn_name = name.clone();
        let register = move |conn: &rusqlite::Connection| {
            conn.create_aggregate_function(
                fn_name.as_str(),
                n_args,
                flags(deterministic),
                Agg(Arc::clone(&parts)),
            )
        };
        UserFunction {
            name,
            n_args,
            register: Arc::new(register),
        }
    }

    /// Why SQLite would refuse the declaration, if it would.
    pub(crate) fn invalid(&self) -> Option<String> {
        if self.name.is_empty() || self.name.len() > 255 || self.name.contains('\0') {
            return Some(format!(
                "invalid function name {:?} (1 to 255 bytes, no NUL)",
                self.name
            ));
        }
        if !(-1..=MAX_ARGS).contains(&self.n_args) {
            return Some(format!(
                "function {} declares {} arguments (-1 for any number, or 0 to {MAX_ARGS})",
                self.name, self.n_args
            ));
        }
        None
    }

    pub(crate) fn register(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        (self.register)(conn)
    }
}

fn flags(deterministic: bool) -> FunctionFlags {
    if deterministic {
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC
    } else {
        FunctionFlags::SQLITE_UTF8
    }
}

fn user_error(message: String) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(message.into())
}

fn args(ctx: &Context<'_>) -> Vec<Value> {
    (0..ctx.len())
        .map(|i| match ctx.get_raw(i) {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(f) => Value::Float(f),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        })
        .collect()
}

/// A function's result, handed to SQLite.
struct Out(Value);

impl ToSql for Out {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match &self.0 {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Float(f) if f.is_nan() => ValueRef::Null,
            Value::Float(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

struct Parts<I, St, Fi> {
    init: I,
    step: St,
    finalize: Fi,
}

struct Agg<I, St, Fi>(Arc<Parts<I, St, Fi>>);

// The state is the caller's; a panic in a step is caught by rusqlite and reported as an SQL
// error, after which SQLite discards the state, so unwind safety is not at stake.
impl<S, I, St, Fi> Aggregate<AssertUnwindSafe<S>, Out> for Agg<I, St, Fi>
where
    I: Fn() -> S,
    St: Fn(&mut S, &[Value]) -> Result<(), String>,
    Fi: Fn(S) -> Result<Value, String>,
{
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<AssertUnwindSafe<S>> {
        Ok(AssertUnwindSafe((self.0.init)()))
    }

    fn step(&self, ctx: &mut Context<'_>, state: &mut AssertUnwindSafe<S>) -> rusqlite::Result<()> {
        (self.0.step)(&mut state.0, &args(ctx)).map_err(user_error)
    }

    fn finalize(
        &self,
        _: &mut Context<'_>,
        state: Option<AssertUnwindSafe<S>>,
    ) -> rusqlite::Result<Out> {
        // No rows: finalize a fresh state, so `SUM`-like aggregates answer for an empty set.
        let state = state.map_or_else(|| (self.0.init)(), |s| s.0);
        (self.0.finalize)(state).map(Out).map_err(user_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::FromValue;

    #[test]
    fn scalar_and_aggregate_functions_run_and_fail_as_sql_errors() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        UserFunction::scalar("twice".into(), 1, true, |args| match &args[0] {
            Value::Integer(i) => Ok(Value::Integer(i * 2)),
            other => Err(format!("twice wants an integer, not {other:?}")),
        })
        .register(&conn)
        .expect("scalar");
        UserFunction::aggregate(
            "product".into(),
            1,
            true,
            || 1i64,
            |acc: &mut i64, args| {
                *acc *= i64::from_value(&args[0]).map_err(|e| e.to_string())?;
                Ok(())
            },
            |acc| Ok(Value::Integer(acc)),
        )
        .register(&conn)
        .expect("aggregate");
        let v: i64 = conn
            .query_row("SELECT twice(21)", [], |r| r.get(0))
            .expect("twice");
        assert_eq!(v, 42);
        let e = conn
            .query_row("SELECT twice('x')", [], |r| r.get::<_, i64>(0))
            .expect_err("text");
        assert!(e.to_string().contains("wants an integer"), "{e}");
        let v: i64 = conn
            .query_row(
                "SELECT product(x) FROM (SELECT 2 AS x UNION ALL SELECT 3 UNION ALL SELECT 7)",
                [],
                |r| r.get(0),
            )
            .expect("product");
        assert_eq!(v, 42);
        let v: i64 = conn
            .query_row("SELECT product(x) FROM (SELECT 1 AS x) WHERE 0", [], |r| {
                r.get(0)
            })
            .expect("empty");
        assert_eq!(v, 1, "an empty set finalizes a fresh state");
    }

    #[test]
    fn declarations_sqlite_would_refuse_are_found() {
        let ok = |_: &[Value]| Ok(Value::Null);
        assert!(UserFunction::scalar("f".into(), 2, false, ok)
            .invalid()
            .is_none());
        assert!(UserFunction::scalar(String::new(), 0, false, ok)
            .invalid()
            .is_some());
        assert!(UserFunction::scalar("f".into(), -2, false, ok)
            .invalid()
            .is_some());
        assert!(UserFunction::scalar("f".into(), 1000, false, ok)
            .invalid()
            .is_some());
    }
}
