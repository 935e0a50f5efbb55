//! Values, parameters and columns as they cross the boundary, and their conversions to and from
//! the core's types.

/// A SQLite value.
#[derive(Clone, Debug, PartialEq, uniffi::Enum)]
pub enum Value {
    Null,
    Integer { value: i64 },
    Real { value: f64 },
    Text { value: String },
    Blob { value: Vec<u8> },
}

impl From<tidepool::Value> for Value {
    fn from(v: tidepool::Value) -> Self {
        match v {
            tidepool::Value::Null => Value::Null,
            tidepool::Value::Integer(value) => Value::Integer { value },
            tidepool::Value::Float(value) => Value::Real { value },
            tidepool::Value::Text(value) => Value::Text { value },
            tidepool::Value::Blob(value) => Value::Blob { value },
        }
    }
}

impl From<Value> for tidepool::Value {
    fn from(v: Value) -> Self {
        match v {
            Value::Null => tidepool::Value::Null,
            Value::Integer { value } => tidepool::Value::Integer(value),
            // NaN has no SQLite form: it binds as NULL, as SQLite itself stores it.
            Value::Real { value } if value.is_nan() => tidepool::Value::Null,
            Value::Real { value } => tidepool::Value::Float(value),
            Value::Text { value } => tidepool::Value::Text(value),
            Value::Blob { value } => tidepool::Value::Blob(value),
        }
    }
}

/// One named parameter; the name may keep or omit its `:`, `@` or `$` prefix.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct NamedValue {
    pub name: String,
    pub value: Value,
}

/// The arguments of one statement.
#[derive(Clone, Debug, PartialEq, uniffi::Enum)]
pub enum Params {
    None,
    /// Bound by position: `?`, `?NNN`, or named parameters in order.
    Positional {
        values: Vec<Value>,
    },
    /// Bound by name.
    Named {
        values: Vec<NamedValue>,
    },
}

impl From<Params> for tidepool::Params {
    fn from(p: Params) -> Self {
        match p {
            Params::None => tidepool::Params::None,
            Params::Positional { values } => {
                tidepool::Params::Positional(values.into_iter().map(Into::into).collect())
            }
            Params::Named { values } => tidepool::Params::Named(
                values
                    .into_iter()
                    .map(|n| (n.name, n.value.into()))
                    .collect(),
            ),
        }
    }
}

/// A result column: its name and, for a table column, its declared type (`INTEGER`, `TEXT`,
/// ...).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Column {
    pub name: String,
    pub decltype: Option<String>,
}

pub(crate) fn columns(cols: &[tidepool::Column]) -> Vec<Column> {
    cols.iter()
        .map(|c| Column {
            name: c.name.clone(),
            decltype: c.decltype.clone(),
        })
        .collect()
}

pub(crate) fn row(row: tidepool::Row) -> Vec<Value> {
    row.into_values().into_iter().map(Into::into).collect()
}
