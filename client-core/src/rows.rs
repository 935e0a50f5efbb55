//! Results: rows read one at a time from a cursor ([`Rows`]), a single [`Row`] with typed and
//! serde access, and whole results of executes and batches.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use tidepool_protocol::{CursorEntry, StmtResult};
use tokio::sync::OwnedMutexGuard;

use crate::backend::{Backend, Cursor};
use crate::error::{code, Error, ErrorKind, Result};
use crate::local::ShortRead;
use crate::value::{FromValue, Value};

/// A result column: its name and declared type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The declared type of a table column (`INTEGER`, `TEXT`, ...); `None` for expressions.
    pub decltype: Option<String>,
}

pub(crate) fn columns(cols: Vec<tidepool_protocol::Col>) -> Arc<[Column]> {
    cols.into_iter()
        .map(|c| Column {
            name: c.name.unwrap_or_default(),
            decltype: c.decltype,
        })
        .collect()
}

/// One row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    columns: Arc<[Column]>,
    values: Vec<Value>,
}

/// A column index: a position (`usize`) or a name (`&str`).
pub trait ColumnIndex {
    fn index(&self, columns: &[Column]) -> Result<usize>;
}

impl ColumnIndex for usize {
    fn index(&self, columns: &[Column]) -> Result<usize> {
        if *self < columns.len() {
            Ok(*self)
        } else {
            Err(Error::usage(
                code::COLUMN_NOT_FOUND,
                format!("no column {self} (the row has {})", columns.len()),
            ))
        }
    }
}

impl ColumnIndex for &str {
    fn index(&self, columns: &[Column]) -> Result<usize> {
        columns.iter().position(|c| c.name == *self).ok_or_else(|| {
            Error::usage(code::COLUMN_NOT_FOUND, format!("no column named {self:?}"))
        })
    }
}

impl Row {
    pub(crate) fn new(columns: Arc<[Column]>, values: Vec<Value>) -> Self {
        Row { columns, values }
    }

    /// The value of a column, converted.
    pub fn get<T: FromValue>(&self, index: impl ColumnIndex) -> Result<T> {
        let i = index.index(&self.columns)?;
        T::from_value(&self.values[i])
    }

    /// The raw value of a column.
    pub fn value(&self, index: impl ColumnIndex) -> Result<&Value> {
        Ok(&self.values[index.index(&self.columns)?])
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn values(&self) -> &[Value] {
        &self.values
    }

    pub fn into_values(self) -> Vec<Value> {
        self.values
    }

    /// The row as a serde type, fields matched to columns by name. Blobs read as byte
    /// sequences, integers and reals as numbers.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        let map: serde_json::Map<String, serde_json::Value> = self
            .columns
            .iter()
            .zip(&self.values)
            .map(|(c, v)| (c.name.clone(), to_json(v)))
            .collect();
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| {
            Error::new(
                ErrorKind::Decode,
                code::TYPE_MISMATCH,
                format!("row does not fit the type: {e}"),
            )
        })
    }
}

fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => (*i).into(),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        Value::Text(s) => s.clone().into(),
        Value::Blob(b) => b
            .iter()
            .map(|&byte| serde_json::Value::from(byte))
            .collect(),
    }
}

/// The outcome of a statement that is not read for its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecuteResult {
    /// Rows changed by an INSERT, UPDATE or DELETE.
    pub rows_affected: u64,
    /// The rowid of the last inserted row, when the server reports one.
    pub last_insert_rowid: Option<i64>,
}

/// A whole statement result (from a batch).
#[derive(Clone, Debug, PartialEq)]
pub struct ResultSet {
    pub columns: Arc<[Column]>,
    pub rows: Vec<Row>,
    pub rows_affected: u64,
    pub last_insert_rowid: Option<i64>,
}

impl From<StmtResult> for ResultSet {
    fn from(r: StmtResult) -> Self {
        let columns = columns(r.cols);
        let rows = r
            .rows
            .into_iter()
            .map(|row| Row::new(Arc::clone(&columns), row.values))
            .collect();
        ResultSet {
            columns,
            rows,
            rows_affected: r.affected_row_count,
            last_insert_rowid: r.last_insert_rowid,
        }
    }
}

impl ResultSet {
    /// A short local read's result, or the error that stopped it.
    pub(crate) fn from_short(read: ShortRead) -> Result<Self> {
        if let Some(error) = read.error {
            return Err(error);
        }
        let rows = read
            .rows
            .into_iter()
            .map(|values| Row::new(Arc::clone(&read.columns), values))
            .collect();
        Ok(ResultSet {
            columns: read.columns,
            rows,
            rows_affected: read.rows_affected,
            last_insert_rowid: read.last_insert_rowid,
        })
    }
}

/// Rows read as they arrive. The connection is busy until the rows are read to the end or
/// dropped; dropping them stops the statement (on a local database, at once).
#[derive(Debug)]
pub struct Rows {
    columns: Arc<[Column]>,
    source: Source,
    rows_affected: u64,
    last_insert_rowid: Option<i64>,
}

#[derive(Debug)]
enum Source {
    /// Rows read already, and the error that stopped the statement after them, if any.
    Buffered(VecDeque<Vec<Value>>, Option<Error>),
    Cursor {
        cursor: Cursor,
        // Held so no other request uses the connection while the cursor reads it.
        _conn: OwnedMutexGuard<Backend>,
    },
    Done,
}

impl Rows {
    pub(crate) fn buffered(result: StmtResult) -> Self {
        Rows {
            columns: columns(result.cols),
            source: Source::Buffered(result.rows.into_iter().map(|r| r.values).collect(), None),
            rows_affected: result.affected_row_count,
            last_insert_rowid: result.last_insert_rowid,
        }
    }

    /// A short local read's rows, all read already.
    pub(crate) fn whole(read: ShortRead) -> Self {
        Rows {
            columns: read.columns,
            source: Source::Buffered(read.rows.into(), read.error),
            rows_affected: read.rows_affected,
            last_insert_rowid: read.last_insert_rowid,
        }
    }

    /// Reads the cursor up to its first step's columns.
    pub(crate) async fn from_cursor(
        mut cursor: Cursor,
        conn: OwnedMutexGuard<Backend>,
    ) -> Result<Self> {
        loop {
            match cursor.next().await? {
                Some(CursorEntry::StepBegin(begin)) => {
                    return Ok(Rows {
                        columns: columns(begin.cols),
                        source: Source::Cursor {
                            cursor,
                            _conn: conn,
                        },
                        rows_affected: 0,
                        last_insert_rowid: None,
                    });
                }
                Some(CursorEntry::StepError(e)) => return Err(Error::from_wire(e.error)),
                Some(CursorEntry::Error { error }) => return Err(Error::from_wire(error)),
                Some(CursorEntry::StepEnd(_) | CursorEntry::Row { .. }) => {
                    return Err(Error::protocol("cursor entries before step_begin"));
                }
                Some(_) => continue,
                None => return Err(Error::protocol("the cursor ended without a result")),
            }
        }
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Rows changed by the statement (an INSERT, UPDATE or DELETE, with or without
    /// `RETURNING`); for rows read from a cursor, known once the last row has been read.
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }

    /// The rowid of the last inserted row, when the server reports one; for rows read from a
    /// cursor, known once the last row has been read.
    pub fn last_insert_rowid(&self) -> Option<i64> {
        self.last_insert_rowid
    }

    /// The next row, or `None` after the last.
    pub async fn next(&mut self) -> Result<Option<Row>> {
        let values = match &mut self.source {
            Source::Buffered(rows, error) => match (rows.pop_front(), error.take()) {
                (None, Some(e)) => {
                    self.source = Source::Done;
                    return Err(e);
                }
                (row, error_after) => {
                    *error = error_after;
                    row
                }
            },
            Source::Done => None,
            Source::Cursor { cursor, .. } => loop {
                match cursor.next().await {
                    Ok(Some(CursorEntry::Row { row })) => break Some(row.values),
                    Ok(Some(CursorEntry::StepEnd(end))) => {
                        self.rows_affected = end.affected_row_count;
                        self.last_insert_rowid = end.last_insert_rowid;
                        break None;
                    }
                    Ok(None) => break None,
                    Ok(Some(CursorEntry::StepError(e))) => {
                        self.source = Source::Done;
                        return Err(Error::from_wire(e.error));
                    }
                    Ok(Some(CursorEntry::Error { error })) => {
                        self.source = Source::Done;
                        return Err(Error::from_wire(error));
                    }
                    Ok(Some(_)) => continue,
                    Err(e) => {
                        self.source = Source::Done;
                        return Err(e);
                    }
                }
            },
        };
        match values {
            Some(values) => Ok(Some(Row::new(Arc::clone(&self.columns), values))),
            None => {
                // Release the connection as soon as the rows are done.
                self.source = Source::Done;
                Ok(None)
            }
        }
    }

    /// Reads all remaining rows.
    pub async fn collect_all(mut self) -> Result<Vec<Row>> {
        let mut rows = Vec::new();
        while let Some(row) = self.next().await? {
            rows.push(row);
        }
        Ok(rows)
    }
}
