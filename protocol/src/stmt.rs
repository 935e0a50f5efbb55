//! Statements, their results, errors and descriptions: the structures shared by every request.

use serde::{Deserialize, Serialize};

use crate::serde_util::{opt_i64_str, opt_u64_str};
use crate::Value;

/// An error reported by the server.
///
/// `code` is a stable machine-readable code (SPEC.md, "Error codes"): the primary SQLite result
/// code name for SQL errors (`SQLITE_CONSTRAINT`), or a protocol code (`STREAM_EXPIRED`).
/// `extended_code` is a Tidepool addition carrying the extended SQLite code name
/// (`SQLITE_CONSTRAINT_UNIQUE`); peers that do not know it ignore it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct Error {
    #[prost(string, tag = "1")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[prost(string, optional, tag = "2")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[prost(string, optional, tag = "3")]
    pub extended_code: Option<String>,
}

impl Error {
    /// An error with a code and no extended code.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            code: Some(code.into()),
            extended_code: None,
        }
    }
}

/// A statement: SQL text (inline or stored) with its arguments.
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct Stmt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[prost(string, optional, tag = "1")]
    pub sql: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[prost(int32, optional, tag = "2")]
    pub sql_id: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[prost(message, repeated, tag = "3")]
    pub args: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[prost(message, repeated, tag = "4")]
    pub named_args: Vec<NamedArg>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[prost(bool, optional, tag = "5")]
    pub want_rows: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_u64_str")]
    #[prost(uint64, optional, tag = "6")]
    pub replication_index: Option<u64>,
}

impl Stmt {
    /// A statement with inline SQL and no arguments.
    pub fn new(sql: impl Into<String>) -> Self {
        Stmt {
            sql: Some(sql.into()),
            ..Default::default()
        }
    }

    /// Whether rows were asked for (`want_rows` defaults to true).
    pub fn wants_rows(&self) -> bool {
        self.want_rows.unwrap_or(true)
    }
}

/// An argument bound by name.
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct NamedArg {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, required, tag = "2")]
    pub value: Value,
}

/// The result of one statement.
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct StmtResult {
    #[prost(message, repeated, tag = "1")]
    pub cols: Vec<Col>,
    #[prost(message, repeated, tag = "2")]
    pub rows: Vec<Row>,
    #[serde(default)]
    #[prost(uint64, tag = "3")]
    pub affected_row_count: u64,
    #[serde(default, with = "opt_i64_str")]
    #[prost(sint64, optional, tag = "4")]
    pub last_insert_rowid: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_u64_str")]
    #[prost(uint64, optional, tag = "5")]
    pub replication_index: Option<u64>,
    #[serde(default)]
    #[prost(uint64, tag = "6")]
    pub rows_read: u64,
    #[serde(default)]
    #[prost(uint64, tag = "7")]
    pub rows_written: u64,
    #[serde(default)]
    #[prost(double, tag = "8")]
    pub query_duration_ms: f64,
}

/// A result column.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct Col {
    #[serde(default)]
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[serde(default)]
    #[prost(string, optional, tag = "2")]
    pub decltype: Option<String>,
}

/// A result row: in JSON a bare array of values.
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
#[serde(transparent)]
pub struct Row {
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<Value>,
}

/// The result of describing a statement.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct DescribeResult {
    #[prost(message, repeated, tag = "1")]
    pub params: Vec<DescribeParam>,
    #[prost(message, repeated, tag = "2")]
    pub cols: Vec<DescribeCol>,
    #[prost(bool, tag = "3")]
    pub is_explain: bool,
    #[prost(bool, tag = "4")]
    pub is_readonly: bool,
}

/// One parameter of a described statement (1-based on the SQLite side).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct DescribeParam {
    #[serde(default)]
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
}

/// One column of a described statement.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, prost::Message)]
pub struct DescribeCol {
    #[prost(string, tag = "1")]
    pub name: String,
    #[serde(default)]
    #[prost(string, optional, tag = "2")]
    pub decltype: Option<String>,
}
