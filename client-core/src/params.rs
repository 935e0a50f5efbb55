//! Statement parameters: positional from tuples, arrays and vectors; named from pairs and maps;
//! either from any `serde::Serialize` value.
//!
//! ```
//! use tidepool::{params, Params, Value};
//!
//! let positional: Params = (1, "two", 3.0).into();
//! let named: Params = params::named([(":id", 7)]);
//! let from_serde = params::from_serde(&serde_json::json!({"id": 7, "name": "Ada"})).unwrap();
//! assert!(matches!(from_serde, Params::Named(ref pairs) if pairs.len() == 2));
//! # let _ = (positional, named, Value::Null);
//! ```

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::error::{code, Error, Result};
use crate::value::{IntoValue, Value};

/// The arguments of one statement.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Params {
    /// No arguments.
    #[default]
    None,
    /// Bound by position: `?`, `?NNN`, or named parameters in order.
    Positional(Vec<Value>),
    /// Bound by name; a name may omit its `:`, `@` or `$` prefix.
    Named(Vec<(String, Value)>),
}

impl Params {
    pub(crate) fn apply(self, stmt: &mut tidepool_protocol::Stmt) {
        match self {
            Params::None => {}
            Params::Positional(values) => stmt.args = values,
            Params::Named(pairs) => {
                stmt.named_args = pairs
                    .into_iter()
                    .map(|(name, value)| tidepool_protocol::NamedArg { name, value })
                    .collect();
            }
        }
    }
}

/// Named parameters from `(name, value)` pairs.
pub fn named<N: Into<String>, V: IntoValue>(pairs: impl IntoIterator<Item = (N, V)>) -> Params {
    Params::Named(
        pairs
            .into_iter()
            .map(|(n, v)| (n.into(), v.into_value()))
            .collect(),
    )
}

/// Positional parameters from any values.
pub fn positional<V: IntoValue>(values: impl IntoIterator<Item = V>) -> Params {
    Params::Positional(values.into_iter().map(IntoValue::into_value).collect())
}

/// Parameters from a serde value: a struct or map gives named parameters, a sequence or tuple
/// positional ones. Nested arrays and objects are bound as JSON text, booleans as 0/1.
pub fn from_serde<T: Serialize + ?Sized>(value: &T) -> Result<Params> {
    let json = serde_json::to_value(value).map_err(|e| {
        Error::usage(
            code::INVALID_ARGUMENT,
            format!("parameters do not serialize: {e}"),
        )
    })?;
    match json {
        serde_json::Value::Object(map) => Ok(Params::Named(
            map.into_iter()
                .map(|(k, v)| (k, json_to_value(v)))
                .collect(),
        )),
        serde_json::Value::Array(items) => Ok(Params::Positional(
            items.into_iter().map(json_to_value).collect(),
        )),
        serde_json::Value::Null => Ok(Params::None),
        _ => Err(Error::usage(
            code::INVALID_ARGUMENT,
            "parameters must serialize to a struct, map, sequence or tuple",
        )),
    }
}

fn json_to_value(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Integer(i64::from(b)),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Text(s),
        nested => Value::Text(nested.to_string()),
    }
}

impl From<()> for Params {
    fn from((): ()) -> Self {
        Params::None
    }
}

impl From<Vec<Value>> for Params {
    fn from(values: Vec<Value>) -> Self {
        Params::Positional(values)
    }
}

impl<V: IntoValue, const N: usize> From<[V; N]> for Params {
    fn from(values: [V; N]) -> Self {
        positional(values)
    }
}

impl<V: IntoValue> From<Vec<(String, V)>> for Params {
    fn from(pairs: Vec<(String, V)>) -> Self {
        named(pairs)
    }
}

impl<V: IntoValue> From<HashMap<String, V>> for Params {
    fn from(map: HashMap<String, V>) -> Self {
        named(map)
    }
}

impl<V: IntoValue> From<BTreeMap<String, V>> for Params {
    fn from(map: BTreeMap<String, V>) -> Self {
        named(map)
    }
}

macro_rules! tuple_params {
    ($($name:ident),+) => {
        impl<$($name: IntoValue),+> From<($($name,)+)> for Params {
            #[allow(non_snake_case)]
            fn from(($($name,)+): ($($name,)+)) -> Self {
                Params::Positional(vec![$($name.into_value()),+])
            }
        }
    };
}
tuple_params!(A);
tuple_params!(A, B);
tuple_params!(A, B, C);
tuple_params!(A, B, C, D);
tuple_params!(A, B, C, D, E);
tuple_params!(A, B, C, D, E, F);
tuple_params!(A, B, C, D, E, F, G);
tuple_params!(A, B, C, D, E, F, G, H);
tuple_params!(A, B, C, D, E, F, G, H, I);
tuple_params!(A, B, C, D, E, F, G, H, I, J);
tuple_params!(A, B, C, D, E, F, G, H, I, J, K);
tuple_params!(A, B, C, D, E, F, G, H, I, J, K, L);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_converts() {
        assert_eq!(Params::from(()), Params::None);
        assert_eq!(
            Params::from((1, "a", None::<i64>)),
            Params::Positional(vec![
                Value::Integer(1),
                Value::Text("a".into()),
                Value::Null
            ])
        );
        assert_eq!(
            Params::from([1.5, 2.5]),
            Params::Positional(vec![Value::Float(1.5), Value::Float(2.5)])
        );
        let mut map = BTreeMap::new();
        map.insert("a".to_owned(), 1);
        assert_eq!(
            Params::from(map),
            Params::Named(vec![("a".into(), Value::Integer(1))])
        );
    }

    #[test]
    fn serde_structs_give_named_parameters() {
        #[derive(Serialize)]
        struct Row<'a> {
            id: i64,
            name: &'a str,
            active: bool,
            tags: Vec<&'a str>,
        }
        let p = from_serde(&Row {
            id: 1,
            name: "x",
            active: true,
            tags: vec!["a"],
        })
        .expect("serde");
        let Params::Named(pairs) = p else {
            panic!("named expected")
        };
        assert!(pairs.contains(&("id".into(), Value::Integer(1))));
        assert!(pairs.contains(&("active".into(), Value::Integer(1))));
        assert!(pairs.contains(&("tags".into(), Value::Text("[\"a\"]".into()))));
        assert_eq!(
            from_serde(&(1, 2)).expect("tuple"),
            Params::Positional(vec![Value::Integer(1), Value::Integer(2)])
        );
        assert_eq!(
            from_serde(&5).expect_err("scalar").code(),
            code::INVALID_ARGUMENT
        );
    }
}
