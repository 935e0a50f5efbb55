//! Statements as the package passes them: SQL text and either positional arguments or named
//! ones (names and values in two arrays of the same length).

use napi::bindgen_prelude::{FromNapiValue, TypeName, ValidateNapiValue};
use napi::{sys, ValueType};
use tidepool::{Params, Statement, Value};

use crate::error::usage;
use crate::value::Arg;

/// Arguments of one statement.
pub fn params(args: Option<Vec<Arg>>, names: Option<Vec<String>>) -> napi::Result<Params> {
    let values: Vec<Value> = args.unwrap_or_default().into_iter().map(|a| a.0).collect();
    match names {
        None => Ok(if values.is_empty() {
            Params::None
        } else {
            Params::Positional(values)
        }),
        Some(names) if names.len() == values.len() => {
            Ok(Params::Named(names.into_iter().zip(values).collect()))
        }
        Some(names) => Err(usage(format!(
            "{} argument names for {} values",
            names.len(),
            values.len()
        ))),
    }
}

/// `[sql, args, names]`: one statement of a batch.
pub struct StmtIn {
    pub sql: String,
    pub params: Params,
}

impl StmtIn {
    pub fn statement(self) -> Statement {
        Statement::new(&self.sql, self.params)
    }
}

impl TypeName for StmtIn {
    fn type_name() -> &'static str {
        "[string, InValue[] | null, string[] | null]"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ValidateNapiValue for StmtIn {}

impl FromNapiValue for StmtIn {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let (sql, args, names) = unsafe {
            <(String, Option<Vec<Arg>>, Option<Vec<String>>)>::from_napi_value(env, value)
        }?;
        Ok(StmtIn {
            sql,
            params: params(args, names)?,
        })
    }
}
