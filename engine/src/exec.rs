//! Runs statements, batches, sequences and descriptions on one SQLite connection and builds their
//! wire results. Blocking: callers run it on a blocking thread.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use rusqlite::fallible_iterator::FallibleIterator as _;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, Statement, ToSql};
use tidepool_protocol::{
    Batch, BatchCond, BatchResult, Col, CursorEntry, DescribeCol, DescribeParam, DescribeResult,
    Error, Row, StepBeginEntry, StepEndEntry, StepErrorEntry, Stmt, StmtResult, Value,
};

use crate::errors::{code, err, sqlite_error};
use crate::Access;

/// Stored SQL texts, by client-chosen id. Shared copy-on-write so a request can take a snapshot.
pub type SqlTexts = Arc<HashMap<i32, Arc<str>>>;

/// What one executor may do.
#[derive(Clone, Copy, Debug)]
pub struct ExecLimits {
    /// Largest result (approximate encoded bytes) one statement or batch may return.
    pub max_response_bytes: usize,
}

/// Executes requests on one connection on behalf of one client.
#[derive(Debug)]
pub struct Executor<'a> {
    pub conn: &'a Connection,
    pub access: Access,
    pub sqls: &'a HashMap<i32, Arc<str>>,
    pub limits: ExecLimits,
    /// Set while a `BEGIN TRANSACTION READONLY` transaction is open (libSQL's syntax, which
    /// @libsql/client sends for its "read" mode): statements that write are refused.
    pub read_only_txn: &'a Cell<bool>,
}

/// The outcome of a step, for batch conditions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Skipped,
    Ok,
    Failed,
}

impl Executor<'_> {
    /// The SQL text of a statement given inline or by stored id.
    pub fn sql_text(&self, sql: Option<&str>, sql_id: Option<i32>) -> Result<Arc<str>, Error> {
        match (sql, sql_id) {
            (None, Some(id)) => self.stored_sql(id).cloned(),
            _ => self.sql_str(sql, sql_id).map(Arc::from),
        }
    }

    /// [`Executor::sql_text`] borrowed rather than copied.
    fn sql_str<'s>(&'s self, sql: Option<&'s str>, sql_id: Option<i32>) -> Result<&'s str, Error> {
        match (sql, sql_id) {
            (Some(sql), None) => Ok(sql),
            (None, Some(id)) => self.stored_sql(id).map(|sql| &**sql),
            (Some(_), Some(_)) => Err(err(
                code::PROTOCOL_ERROR,
                "a statement must not give both sql and sql_id",
            )),
            (None, None) => Err(err(
                code::PROTOCOL_ERROR,
                "a statement must give sql or sql_id",
            )),
        }
    }

    fn stored_sql(&self, id: i32) -> Result<&Arc<str>, Error> {
        self.sqls.get(&id).ok_or_else(|| {
            err(
                code::SQL_NOT_FOUND,
                format!("no SQL text stored under id {id}"),
            )
        })
    }

    /// The error for SQL text that failed to prepare. SQLite prepares the text after the first
    /// statement too, so a later statement's error (say, a table the first one would create)
    /// must not hide that the text holds several statements (SPEC.md §8.10).
    fn prepare_error(&self, sql: &str, e: &rusqlite::Error) -> Error {
        let mut statements = rusqlite::Batch::new(self.conn, sql);
        if matches!(statements.next(), Ok(Some(_))) && !matches!(statements.next(), Ok(None)) {
            return err(
                code::SQL_MANY_STATEMENTS,
                "SQL text contains more than one statement",
            );
        }
        sqlite_error(e)
    }

    /// Parses one statement (through the statement cache), refusing empty text and several
    /// statements.
    fn parse(&self, sql: &str) -> Result<rusqlite::CachedStatement<'_>, Error> {
        if is_blank_sql(sql) {
            return Err(err(
                code::SQL_NO_STATEMENT,
                "SQL text contains no statement",
            ));
        }
        self.conn
            .prepare_cached(sql)
            .map_err(|e| self.prepare_error(sql, &e))
    }

    /// Prepares one statement, refusing empty text, several statements and, for a read-only
    /// client, anything that writes.
    fn prepare(&self, sql: &str) -> Result<rusqlite::CachedStatement<'_>, Error> {
        let stmt = self.parse(sql)?;
        if self.read_only_txn.get() && !stmt.readonly() {
            return Err(err(
                "SQLITE_READONLY",
                "SQLITE_READONLY: the transaction is read-only and the statement writes",
            ));
        }
        if !self.access.can_write() && !stmt.readonly() {
            return Err(err(
                code::FORBIDDEN,
                "this token is read-only and the statement writes",
            ));
        }
        Ok(stmt)
    }

    /// Prepares a request's statement and binds its arguments. libSQL's
    /// `BEGIN [TRANSACTION] READONLY` (which SQLite would read as a transaction name) runs as
    /// `BEGIN DEFERRED` and makes the transaction refuse writes.
    fn prepare_stmt(&self, stmt: &Stmt) -> Result<rusqlite::CachedStatement<'_>, Error> {
        let sql = self.sql_str(stmt.sql.as_deref(), stmt.sql_id)?;
        let mut prepared = if is_begin_read_only(sql) {
            let prepared = self.prepare("BEGIN DEFERRED")?;
            if self.conn.is_autocommit() {
                self.read_only_txn.set(true);
            }
            prepared
        } else {
            self.prepare(sql)?
        };
        bind_args(&mut prepared, stmt)?;
        Ok(prepared)
    }

    /// Executes one statement.
    pub fn execute(&self, stmt: &Stmt) -> Result<StmtResult, Error> {
        self.execute_within(stmt, self.limits.max_response_bytes)
    }

    /// Executes one statement whose rows may take at most `budget` bytes.
    fn execute_within(&self, stmt: &Stmt, budget: usize) -> Result<StmtResult, Error> {
        let started = Instant::now();
        let mut prepared = self.prepare_stmt(stmt)?;
        let cols = columns(&prepared);
        let total_before = self.conn.total_changes();
        let mut rows = Vec::new();
        let mut size = 0usize;
        let mut read = 0u64;
        {
            let width = prepared.column_count();
            let mut cursor = prepared.raw_query();
            while let Some(row) = cursor.next().map_err(|e| sqlite_error(&e))? {
                read += 1;
                if !stmt.wants_rows() {
                    continue;
                }
                let values = row_values(row, width)?;
                size += values.iter().map(value_size).sum::<usize>();
                if size > budget {
                    return Err(too_large(self.limits.max_response_bytes));
                }
                rows.push(Row { values });
            }
        }
        let affected = self.affected_since(total_before);
        Ok(StmtResult {
            cols,
            rows,
            affected_row_count: affected,
            last_insert_rowid: Some(self.conn.last_insert_rowid()),
            replication_index: None,
            rows_read: read,
            rows_written: affected,
            query_duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    fn affected_since(&self, total_before: u64) -> u64 {
        if self.conn.total_changes() == total_before {
            0
        } else {
            self.conn.changes()
        }
    }

    /// Executes a batch. Step failures are results, including a step whose rows would take the
    /// batch over the response limit (`RESPONSE_TOO_LARGE`); later steps share what is left.
    pub fn batch(&self, batch: &Batch) -> Result<BatchResult, Error> {
        self.validate(batch)?;
        let mut result = BatchResult::default();
        let mut outcomes = Vec::with_capacity(batch.steps.len());
        let mut budget = self.limits.max_response_bytes;
        for step in &batch.steps {
            let run = step
                .condition
                .as_ref()
                .is_none_or(|c| self.eval(c, &outcomes));
            if !run {
                outcomes.push(Outcome::Skipped);
                result.step_results.push(None);
                result.step_errors.push(None);
                continue;
            }
            match self.execute_within(&step.stmt, budget) {
                Ok(r) => {
                    budget = budget.saturating_sub(result_size(&r));
                    outcomes.push(Outcome::Ok);
                    result.step_results.push(Some(r));
                    result.step_errors.push(None);
                }
                Err(e) => {
                    outcomes.push(Outcome::Failed);
                    result.step_results.push(None);
                    result.step_errors.push(Some(e));
                }
            }
        }
        Ok(result)
    }

    /// Checks a batch before any step runs: each statement names its SQL exactly once and
    /// stored texts exist, conditions refer only to earlier steps, and the step count is
    /// within the limit (SPEC.md, "Batches").
    fn validate(&self, batch: &Batch) -> Result<(), Error> {
        if batch.steps.len() > MAX_BATCH_STEPS {
            let message = format!("a batch may have at most {MAX_BATCH_STEPS} steps");
            return Err(err(code::PROTOCOL_ERROR, message));
        }
        for (index, step) in batch.steps.iter().enumerate() {
            self.sql_str(step.stmt.sql.as_deref(), step.stmt.sql_id)?;
            if let Some(cond) = &step.condition {
                if !refers_to_earlier_steps(cond, index as u32) {
                    let message =
                        format!("the condition of step {index} refers to a step that has not run");
                    return Err(err(code::PROTOCOL_ERROR, message));
                }
            }
        }
        Ok(())
    }

    /// Evaluates a condition against the steps run so far. A step that did not run (skipped,
    /// or not yet reached) is neither ok nor failed: Tidepool follows the written Hrana spec
    /// here, not sqld (SPEC.md, "Batch conditions").
    fn eval(&self, cond: &BatchCond, outcomes: &[Outcome]) -> bool {
        let outcome = |step: u32| {
            outcomes
                .get(step as usize)
                .copied()
                .unwrap_or(Outcome::Skipped)
        };
        match cond {
            BatchCond::Ok { step } => outcome(*step) == Outcome::Ok,
            BatchCond::Error { step } => outcome(*step) == Outcome::Failed,
            BatchCond::Not { cond } => !self.eval(cond, outcomes),
            BatchCond::And { conds } => conds.iter().all(|c| self.eval(c, outcomes)),
            BatchCond::Or { conds } => conds.iter().any(|c| self.eval(c, outcomes)),
            BatchCond::IsAutocommit {} => self.conn.is_autocommit(),
        }
    }

    /// Runs a batch, handing each cursor entry to `sink` as it is produced. Stops early when
    /// `sink` returns false (the cursor was closed).
    pub fn cursor(&self, batch: &Batch, mut sink: impl FnMut(CursorEntry) -> bool) {
        if let Err(error) = self.validate(batch) {
            sink(CursorEntry::Error { error });
            return;
        }
        let mut outcomes = Vec::with_capacity(batch.steps.len());
        for (index, step) in batch.steps.iter().enumerate() {
            let step_no = index as u32;
            let run = step
                .condition
                .as_ref()
                .is_none_or(|c| self.eval(c, &outcomes));
            if !run {
                outcomes.push(Outcome::Skipped);
                continue;
            }
            let step_error = |error: Error| {
                CursorEntry::StepError(StepErrorEntry {
                    step: step_no,
                    error,
                })
            };
            let prepared = self.prepare_stmt(&step.stmt);
            let mut prepared = match prepared {
                Ok(p) => p,
                Err(e) => {
                    outcomes.push(Outcome::Failed);
                    if !sink(step_error(e)) {
                        return;
                    }
                    continue;
                }
            };
            let begin = StepBeginEntry {
                step: step_no,
                cols: columns(&prepared),
            };
            if !sink(CursorEntry::StepBegin(begin)) {
                return;
            }
            let total_before = self.conn.total_changes();
            let width = prepared.column_count();
            let mut rows = prepared.raw_query();
            let failure = loop {
                match rows.next() {
                    Ok(Some(row)) => match row_values(row, width) {
                        Ok(values) if step.stmt.wants_rows() => {
                            if !sink(CursorEntry::Row {
                                row: Row { values },
                            }) {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => break Some(e),
                    },
                    Ok(None) => break None,
                    Err(e) => break Some(sqlite_error(&e)),
                }
            };
            drop(rows);
            let entry = match failure {
                Some(e) => {
                    outcomes.push(Outcome::Failed);
                    step_error(e)
                }
                None => {
                    outcomes.push(Outcome::Ok);
                    CursorEntry::StepEnd(StepEndEntry {
                        affected_row_count: self.affected_since(total_before),
                        last_insert_rowid: Some(self.conn.last_insert_rowid()),
                    })
                }
            };
            if !sink(entry) {
                return;
            }
        }
    }

    /// Prepares a statement and binds its arguments, as a cursor's step would, for a caller
    /// that steps it with [`Executor::read_rows`] (the client's reads run inline, which take a
    /// short result whole and keep what they learn about the statement between runs).
    pub fn prepare_read(&self, stmt: &Stmt) -> Result<rusqlite::CachedStatement<'_>, Error> {
        self.prepare_stmt(stmt)
    }

    /// Steps a statement from [`Executor::prepare_read`] to its end, pushing the values of at
    /// most `max_rows` rows to `rows` (none when `wants_rows` is false). `Ok(None)` when it
    /// has more rows than that: it stopped there, which is only harmless for a read. No
    /// protocol entries are built; the errors are those a cursor's step would carry.
    pub fn read_rows(
        &self,
        prepared: &mut Statement<'_>,
        wants_rows: bool,
        max_rows: usize,
        rows: &mut Vec<Vec<Value>>,
    ) -> Result<Option<StepEndEntry>, Error> {
        let total_before = self.conn.total_changes();
        let width = prepared.column_count();
        let mut stepped = prepared.raw_query();
        while let Some(row) = stepped.next().map_err(|e| sqlite_error(&e))? {
            if !wants_rows {
                continue;
            }
            if rows.len() == max_rows {
                return Ok(None);
            }
            rows.push(row_values(row, width)?);
        }
        drop(stepped);
        Ok(Some(StepEndEntry {
            affected_row_count: self.affected_since(total_before),
            last_insert_rowid: Some(self.conn.last_insert_rowid()),
        }))
    }

    /// Executes every statement of `sql` in order, ignoring rows; stops at the first error.
    pub fn sequence(&self, sql: &str) -> Result<(), Error> {
        let mut statements = rusqlite::Batch::new(self.conn, sql);
        while let Some(mut stmt) = statements.next().map_err(|e| sqlite_error(&e))? {
            if !self.access.can_write() && !stmt.readonly() {
                return Err(err(
                    code::FORBIDDEN,
                    "this token is read-only and the statement writes",
                ));
            }
            let mut rows = stmt.raw_query();
            while rows.next().map_err(|e| sqlite_error(&e))?.is_some() {}
        }
        Ok(())
    }

    /// Parses and describes one statement without running it.
    pub fn describe(&self, sql: &str) -> Result<DescribeResult, Error> {
        let stmt = self.parse(sql)?;
        let params = (1..=stmt.parameter_count())
            .map(|i| DescribeParam {
                name: stmt.parameter_name(i).map(str::to_owned),
            })
            .collect();
        let cols = stmt
            .columns()
            .iter()
            .map(|c| DescribeCol {
                name: c.name().to_owned(),
                decltype: c.decl_type().map(str::to_owned),
            })
            .collect();
        Ok(DescribeResult {
            params,
            cols,
            is_explain: stmt.is_explain() != 0,
            is_readonly: stmt.readonly(),
        })
    }
}

/// Most steps one batch may have.
const MAX_BATCH_STEPS: usize = 1 << 20;

fn refers_to_earlier_steps(cond: &BatchCond, step: u32) -> bool {
    match cond {
        BatchCond::Ok { step: s } | BatchCond::Error { step: s } => *s < step,
        BatchCond::Not { cond } => refers_to_earlier_steps(cond, step),
        BatchCond::And { conds } | BatchCond::Or { conds } => {
            conds.iter().all(|c| refers_to_earlier_steps(c, step))
        }
        BatchCond::IsAutocommit {} => true,
    }
}

fn too_large(limit: usize) -> Error {
    err(
        code::RESPONSE_TOO_LARGE,
        format!("the result exceeds the server's limit of {limit} bytes"),
    )
}

/// Approximate encoded size of a statement's rows, for response limits.
pub fn result_size(result: &StmtResult) -> usize {
    result
        .rows
        .iter()
        .flat_map(|r| &r.values)
        .map(value_size)
        .sum()
}

/// Approximate encoded size of a batch's rows.
pub fn batch_size(result: &BatchResult) -> usize {
    result.step_results.iter().flatten().map(result_size).sum()
}

/// Approximate encoded size of a value, for response limits.
fn value_size(v: &Value) -> usize {
    match v {
        Value::Null => 16,
        Value::Integer(_) | Value::Float(_) => 32,
        Value::Text(s) => 24 + s.len(),
        Value::Blob(b) => 24 + b.len() * 4 / 3,
    }
}

fn columns(stmt: &Statement<'_>) -> Vec<Col> {
    stmt.columns()
        .iter()
        .map(|c| Col {
            name: Some(c.name().to_owned()),
            decltype: c.decl_type().map(str::to_owned),
        })
        .collect()
}

fn row_values(row: &rusqlite::Row<'_>, width: usize) -> Result<Vec<Value>, Error> {
    // A plain loop: collecting `Result`s through an iterator adapter cost a point read more
    // than the values themselves.
    let mut values = Vec::with_capacity(width);
    for i in 0..width {
        values.push(match row.get_ref(i).map_err(|e| sqlite_error(&e))? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(f) => Value::Float(f),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        });
    }
    Ok(values)
}

/// A wire value bound as a SQLite parameter.
struct Arg<'a>(&'a Value);

impl ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Float(f) if f.is_nan() => ValueRef::Null,
            Value::Float(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// Binds positional and named arguments. Named arguments win over positional ones for the same
/// parameter; a name may omit its `:`, `@` or `$` prefix. Every parameter must get a value and
/// every argument must name or reach a parameter.
fn bind_args(stmt: &mut Statement<'_>, request: &Stmt) -> Result<(), Error> {
    let count = stmt.parameter_count();
    if request.args.len() > count {
        return Err(err(
            code::ARGS_INVALID,
            format!(
                "{} positional arguments given, the statement has {count} parameters",
                request.args.len()
            ),
        ));
    }
    let mut named_used = vec![false; request.named_args.len()];
    for index in 1..=count {
        let name = stmt.parameter_name(index).map(str::to_owned);
        let named = name.as_deref().and_then(|name| {
            request
                .named_args
                .iter()
                .position(|a| names_match(&a.name, name))
        });
        let value = match named {
            Some(pos) => {
                named_used[pos] = true;
                &request.named_args[pos].value
            }
            None => match request.args.get(index - 1) {
                Some(v) => v,
                None => {
                    let which = name.unwrap_or_else(|| format!("?{index}"));
                    return Err(err(
                        code::ARGS_INVALID,
                        format!("no argument given for parameter {which}"),
                    ));
                }
            },
        };
        stmt.raw_bind_parameter(index, Arg(value))
            .map_err(|e| sqlite_error(&e))?;
    }
    if let Some(pos) = named_used.iter().position(|used| !used) {
        return Err(err(
            code::ARGS_INVALID,
            format!(
                "the statement has no parameter named {}",
                request.named_args[pos].name
            ),
        ));
    }
    Ok(())
}

/// Whether a client's argument name refers to a statement parameter (`:a`, `@a`, `$a`).
fn names_match(given: &str, param: &str) -> bool {
    if given == param {
        return true;
    }
    let bare = |s: &str| s.strip_prefix([':', '@', '$']).map(str::to_owned);
    match (bare(given), bare(param)) {
        (None, Some(p)) => p == given,
        _ => false,
    }
}

/// Whether SQL text is libSQL's `BEGIN [TRANSACTION] READONLY`.
pub fn is_begin_read_only(sql: &str) -> bool {
    // Runs for every statement: compares words in place rather than upper-casing copies.
    let mut words = sql.trim().trim_end_matches(';').split_whitespace();
    let is =
        |word: Option<&str>, keyword: &str| word.is_some_and(|w| w.eq_ignore_ascii_case(keyword));
    if !is(words.next(), "BEGIN") {
        return false;
    }
    let mut next = words.next();
    if is(next, "TRANSACTION") {
        next = words.next();
    }
    is(next, "READONLY") && words.next().is_none()
}

/// Whether SQL text holds only whitespace, comments and semicolons.
fn is_blank_sql(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, tail)| tail);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, tail)| tail);
        } else {
            return rest.is_empty();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidepool_protocol::{BatchStep, NamedArg};

    #[test]
    fn begin_read_only_is_recognised_in_any_case_and_spacing() {
        for yes in [
            "BEGIN READONLY",
            "begin transaction readonly;",
            "  Begin\tReadOnly ; ",
        ] {
            assert!(is_begin_read_only(yes), "{yes:?}");
        }
        for no in [
            "BEGIN",
            "BEGIN TRANSACTION",
            "BEGIN READONLY x",
            "BEGIN IMMEDIATE READONLY",
            "SELECT 'BEGIN READONLY'",
            "",
        ] {
            assert!(!is_begin_read_only(no), "{no:?}");
        }
    }

    #[test]
    fn read_only_transactions_refuse_writes() {
        exec_with(Access::ReadWrite, |ex| {
            ex.execute(&Stmt::new("BEGIN TRANSACTION READONLY"))
                .expect("begin");
            assert!(ex.read_only_txn.get());
            assert!(ex.execute(&Stmt::new("SELECT * FROM t")).is_ok());
            let e = ex
                .execute(&Stmt::new("INSERT INTO t (v) VALUES ('x')"))
                .expect_err("write");
            assert_eq!(e.code.as_deref(), Some("SQLITE_READONLY"));
            ex.execute(&Stmt::new("ROLLBACK")).expect("rollback");
        });
    }

    fn exec_with<R>(access: Access, f: impl FnOnce(&Executor<'_>) -> R) -> R {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
            .expect("schema");
        let sqls = HashMap::new();
        let read_only_txn = Cell::new(false);
        let ex = Executor {
            conn: &conn,
            access,
            sqls: &sqls,
            limits: ExecLimits {
                max_response_bytes: 1 << 20,
            },
            read_only_txn: &read_only_txn,
        };
        f(&ex)
    }

    fn stmt(sql: &str, args: Vec<Value>) -> Stmt {
        Stmt {
            args,
            ..Stmt::new(sql)
        }
    }

    #[test]
    fn named_arguments_match_with_or_without_prefix() {
        exec_with(Access::ReadWrite, |ex| {
            let mut s = Stmt::new("SELECT :a, @b, $c");
            for (name, v) in [("a", 1), (":b", 2), ("c", 3)] {
                let name = if name == ":b" {
                    "@b".to_owned()
                } else {
                    name.to_owned()
                };
                s.named_args.push(NamedArg {
                    name,
                    value: Value::Integer(v),
                });
            }
            let r = ex.execute(&s).expect("execute");
            assert_eq!(
                r.rows[0].values,
                vec![Value::Integer(1), Value::Integer(2), Value::Integer(3)]
            );
        });
    }

    #[test]
    fn argument_mismatches_are_args_invalid() {
        exec_with(Access::ReadWrite, |ex| {
            let too_many = ex.execute(&stmt("SELECT ?", vec![Value::Null, Value::Null]));
            assert_eq!(
                too_many.expect_err("too many").code.as_deref(),
                Some(code::ARGS_INVALID)
            );
            let missing = ex.execute(&stmt("SELECT ?, ?", vec![Value::Null]));
            assert_eq!(
                missing.expect_err("missing").code.as_deref(),
                Some(code::ARGS_INVALID)
            );
            let mut unknown = Stmt::new("SELECT :a");
            unknown.named_args.push(NamedArg {
                name: "a".into(),
                value: Value::Null,
            });
            unknown.named_args.push(NamedArg {
                name: "zz".into(),
                value: Value::Null,
            });
            assert_eq!(
                ex.execute(&unknown).expect_err("unknown").code.as_deref(),
                Some(code::ARGS_INVALID)
            );
        });
    }

    #[test]
    fn empty_and_multiple_statements_are_refused() {
        exec_with(Access::ReadWrite, |ex| {
            for blank in ["", "  ;", "-- only a comment", "/* c */ ;"] {
                let e = ex.execute(&Stmt::new(blank)).expect_err("blank");
                assert_eq!(e.code.as_deref(), Some(code::SQL_NO_STATEMENT), "{blank:?}");
            }
            let e = ex
                .execute(&Stmt::new("SELECT 1; SELECT 2"))
                .expect_err("many");
            assert_eq!(e.code.as_deref(), Some(code::SQL_MANY_STATEMENTS));
        });
    }

    #[test]
    fn read_only_access_cannot_write_through_any_path() {
        exec_with(Access::ReadOnly, |ex| {
            assert!(ex.execute(&Stmt::new("SELECT 1")).is_ok());
            let e = ex
                .execute(&Stmt::new("INSERT INTO t (v) VALUES ('x')"))
                .expect_err("write");
            assert_eq!(e.code.as_deref(), Some(code::FORBIDDEN));
            let e = ex
                .sequence("SELECT 1; DELETE FROM t")
                .expect_err("sequence");
            assert_eq!(e.code.as_deref(), Some(code::FORBIDDEN));
        });
    }

    #[test]
    fn batch_conditions_follow_the_written_spec() {
        exec_with(Access::ReadWrite, |ex| {
            let step = |sql: &str, condition| BatchStep {
                condition,
                stmt: Stmt::new(sql),
            };
            let batch = Batch {
                steps: vec![
                    step("SELEC 1", None),
                    step("SELECT 2", Some(BatchCond::Ok { step: 0 })),
                    step("SELECT 3", Some(BatchCond::Error { step: 1 })),
                    step(
                        "SELECT 4",
                        Some(BatchCond::Not {
                            cond: Box::new(BatchCond::Ok { step: 1 }),
                        }),
                    ),
                    step("SELECT 5", Some(BatchCond::IsAutocommit {})),
                ],
                replication_index: None,
            };
            let r = ex.batch(&batch).expect("batch");
            assert!(r.step_errors[0].is_some());
            assert!(
                r.step_results[1].is_none() && r.step_errors[1].is_none(),
                "skipped"
            );
            assert!(
                r.step_results[2].is_none(),
                "error() on a skipped step is false"
            );
            assert!(
                r.step_results[3].is_some(),
                "not(ok()) on a skipped step is true"
            );
            assert!(r.step_results[4].is_some());
        });
    }

    #[test]
    fn invalid_batches_run_no_step() {
        exec_with(Access::ReadWrite, |ex| {
            let insert = BatchStep {
                condition: None,
                stmt: Stmt::new("INSERT INTO t (v) VALUES ('a')"),
            };
            let forward = BatchStep {
                condition: Some(BatchCond::Ok { step: 1 }),
                stmt: Stmt::new("SELECT 1"),
            };
            let batch = Batch {
                steps: vec![insert.clone(), forward],
                replication_index: None,
            };
            let e = ex.batch(&batch).expect_err("forward reference");
            assert_eq!(e.code.as_deref(), Some(code::PROTOCOL_ERROR));
            let stored = BatchStep {
                condition: None,
                stmt: Stmt {
                    sql: None,
                    sql_id: Some(9),
                    ..Stmt::default()
                },
            };
            let batch = Batch {
                steps: vec![insert, stored],
                replication_index: None,
            };
            let e = ex.batch(&batch).expect_err("unknown sql_id");
            assert_eq!(e.code.as_deref(), Some(code::SQL_NOT_FOUND));
            let n = ex
                .execute(&Stmt::new("SELECT count(*) FROM t"))
                .expect("count");
            assert_eq!(n.rows[0].values[0], Value::Integer(0), "no step ran");
        });
    }

    #[test]
    fn affected_rows_are_not_stale_after_a_select() {
        exec_with(Access::ReadWrite, |ex| {
            let r = ex
                .execute(&Stmt::new("INSERT INTO t (v) VALUES ('a'), ('b')"))
                .expect("insert");
            assert_eq!(r.affected_row_count, 2);
            assert_eq!(r.last_insert_rowid, Some(2));
            let r = ex.execute(&Stmt::new("SELECT * FROM t")).expect("select");
            assert_eq!(r.affected_row_count, 0);
            assert_eq!(r.cols[1].decltype.as_deref(), Some("TEXT"));
        });
    }

    #[test]
    fn response_limit_is_enforced() {
        let conn = Connection::open_in_memory().expect("open");
        let sqls = HashMap::new();
        let read_only_txn = Cell::new(false);
        let ex = Executor {
            conn: &conn,
            access: Access::ReadWrite,
            sqls: &sqls,
            limits: ExecLimits {
                max_response_bytes: 1000,
            },
            read_only_txn: &read_only_txn,
        };
        let e = ex
            .execute(&Stmt::new("SELECT zeroblob(2000)"))
            .expect_err("too large");
        assert_eq!(e.code.as_deref(), Some(code::RESPONSE_TOO_LARGE));
    }
}
