//! Short reads run inline: a read outside a transaction, on a reader idle at that moment,
//! stepped right on the async worker and its rows handed back whole, under a time budget and a
//! cap on its rows. A point read costs a few microseconds in SQLite; handing it to a blocking
//! thread, or building protocol entries for it, cost more than the read. A read that outruns
//! the limits is stopped and runs again the usual way, which is safe because it only reads.
//!
//! Each SQLite connection keeps what these reads need between calls: a progress handler
//! installed once, which stops a statement whose [`Budget`] ran out, and the column lists of
//! recent reads ([`ColumnCache`]), so a read shares one instead of copying every name and
//! declared type again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::StatementStatus;
use tidepool_protocol::Stmt;

use super::{LocalConn, WireResult, INLINE_BUDGET, INLINE_ENTRIES};
use crate::error::{Error, Result};
use crate::rows::Column;
use crate::value::Value;

/// How many rows a read may return inline: [`INLINE_ENTRIES`] less the step's begin and end,
/// so that a read runs inline exactly when its cursor would have.
const INLINE_ROWS: usize = INLINE_ENTRIES - 2;

/// How many column lists one connection keeps (its statement cache holds 128 statements).
const COLUMN_LISTS: usize = 128;

/// A short read's whole result.
#[derive(Debug)]
pub(crate) struct ShortRead {
    pub columns: Arc<[Column]>,
    pub rows: Vec<Vec<Value>>,
    /// The error that stopped the statement after `rows` (as a cursor's step error would come
    /// after its rows), such as a function's failure or an interrupt.
    pub error: Option<Error>,
    pub rows_affected: u64,
    pub last_insert_rowid: Option<i64>,
}

impl LocalConn {
    /// Runs `stmt` right here when it is a short read: outside a transaction, with no earlier
    /// call still running, on a reader idle at this moment, finishing within [`INLINE_BUDGET`]
    /// and [`INLINE_ROWS`]. `None` when it cannot run inline or outran the limits, and when the
    /// reader refused it because it writes: the caller then runs it the usual way. The
    /// caller has seen from its text that it reads.
    pub fn read_inline(&self, stmt: &Stmt) -> Result<Option<ShortRead>> {
        if self.rollback_pending {
            return Ok(None);
        }
        // Not opened yet: the usual path opens the database.
        let Some(pools) = self.db.pools.get() else {
            return Ok(None);
        };
        let Ok(session) = self.session.try_lock() else {
            return Ok(None);
        };
        if session.is_some() {
            return Ok(None);
        }
        let text = stmt.sql.as_deref().unwrap_or_default();
        let mut rows = Vec::new();
        let ran = pools.with_idle_reader(|sql| {
            let _entered = self.interrupts.enter(&sql.interrupt);
            sql.within_budget(INLINE_BUDGET, || {
                sql.with_executor(tidepool_engine::Access::ReadOnly, |ex| -> WireResult<_> {
                    let mut prepared = ex.prepare_read(stmt)?;
                    let columns = sql.columns.begin(text, &prepared);
                    let end =
                        ex.read_rows(&mut prepared, stmt.wants_rows(), INLINE_ROWS, &mut rows);
                    let columns = sql.columns.end(text, &prepared, columns);
                    Ok((columns, end))
                })
            })
        });
        drop(session);
        let Some((result, overran)) = ran else {
            return Ok(None);
        };
        match result {
            _ if overran => Ok(None),
            Ok((columns, Ok(Some(end)))) => Ok(Some(ShortRead {
                columns,
                rows,
                error: None,
                rows_affected: end.affected_row_count,
                last_insert_rowid: end.last_insert_rowid,
            })),
            Ok((_, Ok(None))) => Ok(None),
            Ok((columns, Err(e))) => Ok(Some(ShortRead {
                columns,
                rows,
                error: Some(Error::from_wire(e)),
                rows_affected: 0,
                last_insert_rowid: None,
            })),
            // Refused before it ran: the usual path runs it on the writer or refuses it.
            Err(e) if e.code.as_deref() == Some(tidepool_engine::errors::code::FORBIDDEN) => {
                Ok(None)
            }
            Err(e) => Err(Error::from_wire(e)),
        }
    }
}

/// How long the statement running on one connection may run. SQLite's progress handler,
/// installed once per connection, checks it every 1,000 virtual machine instructions (a few
/// microseconds) and stops the statement, which fails as interrupted, once it has run out. The
/// clock starts at the first check, so a statement shorter than that never reads it.
#[derive(Debug)]
pub(crate) struct Budget {
    origin: Instant,
    /// The budget of the statements running now, in nanoseconds; 0 for none.
    budget: AtomicU64,
    /// When it runs out, in nanoseconds after `origin`; 0 until the first check.
    deadline: AtomicU64,
    overran: AtomicBool,
}

impl Budget {
    pub fn install(conn: &rusqlite::Connection) -> Arc<Budget> {
        let budget = Arc::new(Budget {
            origin: Instant::now(),
            budget: AtomicU64::new(0),
            deadline: AtomicU64::new(0),
            overran: AtomicBool::new(false),
        });
        let handler = Arc::clone(&budget);
        conn.progress_handler(1000, Some(move || handler.expired()));
        budget
    }

    fn expired(&self) -> bool {
        let budget = self.budget.load(Ordering::Relaxed);
        if budget == 0 {
            return false;
        }
        let now = nanos(self.origin.elapsed());
        let deadline = self.deadline.load(Ordering::Relaxed);
        if deadline == 0 {
            self.deadline
                .store(now.saturating_add(budget), Ordering::Relaxed);
            return false;
        }
        if now <= deadline {
            return false;
        }
        self.overran.store(true, Ordering::Relaxed);
        true
    }

    /// Statements from now on stop once `budget` has passed.
    pub fn start(&self, budget: Duration) {
        self.deadline.store(0, Ordering::Relaxed);
        self.overran.store(false, Ordering::Relaxed);
        self.budget.store(nanos(budget).max(1), Ordering::Relaxed);
    }

    /// Lifts the budget; whether it ran out.
    pub fn finish(&self) -> bool {
        self.budget.store(0, Ordering::Relaxed);
        self.overran.swap(false, Ordering::Relaxed)
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The column lists of recent reads on one connection, by SQL text, each kept with a mark on
/// the SQLite statement it was made from, so a read reuses the list without asking SQLite for
/// every name and declared type again.
///
/// The mark: after a read, the statement's `VM_STEP` counter is reset to zero. Any later run
/// of it adds to that counter, and a statement prepared anew starts with `RUN` at zero, so a
/// statement whose `VM_STEP` is zero while `RUN` is not is one that nothing ran since a read
/// marked it, and has the columns it had then (SQLite prepares a statement again only while
/// running it, and then counts it in `REPREPARE`, which un-marks it). At most one statement
/// per SQL text is cached on a connection, and reads on one connection never nest, so the
/// list kept for the text is the marked statement's.
#[derive(Debug, Default)]
pub(crate) struct ColumnCache(RefCell<HashMap<Box<str>, Arc<[Column]>>>);

/// A read's columns, from [`ColumnCache::begin`] to [`ColumnCache::end`].
pub(crate) struct Begun {
    list: Arc<[Column]>,
    kept: bool,
    reprepares: i32,
}

impl ColumnCache {
    /// The columns of `stmt`, prepared from `sql` and not yet stepped.
    pub fn begin(&self, sql: &str, stmt: &rusqlite::Statement<'_>) -> Begun {
        let reprepares = stmt.get_status(StatementStatus::RePrepare);
        let marked = stmt.get_status(StatementStatus::VmStep) == 0
            && stmt.get_status(StatementStatus::Run) > 0;
        if marked {
            if let Some(list) = self.0.borrow().get(sql.trim()) {
                if list.len() == stmt.column_count() {
                    return Begun {
                        list: Arc::clone(list),
                        kept: true,
                        reprepares,
                    };
                }
            }
        }
        let list = stmt
            .columns()
            .iter()
            .map(|c| Column {
                name: c.name().to_owned(),
                decltype: c.decl_type().map(str::to_owned),
            })
            .collect();
        Begun {
            list,
            kept: false,
            reprepares,
        }
    }

    /// After the read of `stmt` ran: marks the statement and keeps its list, unless SQLite
    /// prepared it again meanwhile (the list may then be the old statement's).
    pub fn end(&self, sql: &str, stmt: &rusqlite::Statement<'_>, begun: Begun) -> Arc<[Column]> {
        let mut lists = self.0.borrow_mut();
        if stmt.get_status(StatementStatus::RePrepare) != begun.reprepares {
            lists.remove(sql.trim());
            return begun.list;
        }
        stmt.reset_status(StatementStatus::VmStep);
        if !begun.kept {
            if lists.len() >= COLUMN_LISTS {
                lists.clear();
            }
            lists.insert(sql.trim().into(), Arc::clone(&begun.list));
        }
        begun.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `sql` as the inline path does: its columns, and how many rows it had.
    fn read(conn: &rusqlite::Connection, cache: &ColumnCache, sql: &str) -> (Arc<[Column]>, usize) {
        let mut stmt = conn.prepare_cached(sql).expect("prepare");
        let begun = cache.begin(sql, &stmt);
        let mut rows = stmt.raw_query();
        let mut n = 0;
        while rows.next().expect("step").is_some() {
            n += 1;
        }
        drop(rows);
        (cache.end(sql, &stmt, begun), n)
    }

    #[test]
    fn column_lists_are_kept_only_while_their_statement_is_unchanged() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x')")
            .expect("schema");
        let cache = ColumnCache::default();
        let star = "SELECT * FROM t";
        let (first, _) = read(&conn, &cache, star);
        assert_eq!(first[1].decltype.as_deref(), Some("TEXT"));
        assert!(Arc::ptr_eq(&first, &read(&conn, &cache, star).0), "kept");
        // Run by someone else (the usual path shares the statement cache): looked at again.
        conn.prepare_cached(star)
            .expect("prepare")
            .raw_query()
            .next()
            .expect("step");
        let (again, _) = read(&conn, &cache, star);
        assert!(!Arc::ptr_eq(&first, &again));
        assert_eq!(again, first);
        // A schema change: SQLite prepares the statement again while the next read runs it,
        // and the read after that has the new column.
        conn.execute_batch("ALTER TABLE t ADD COLUMN c REAL")
            .expect("alter");
        read(&conn, &cache, star);
        let (after, _) = read(&conn, &cache, star);
        assert_eq!(after.len(), 3);
        assert_eq!(after[2].decltype.as_deref(), Some("REAL"));
        // Dropped from the statement cache and prepared anew: looked at again.
        conn.flush_prepared_statement_cache();
        conn.execute_batch("DROP TABLE t; CREATE TABLE t (a BLOB, b INTEGER, c TEXT)")
            .expect("recreate");
        let (recreated, _) = read(&conn, &cache, star);
        assert_eq!(recreated[0].decltype.as_deref(), Some("BLOB"));
    }

    #[test]
    fn a_budget_stops_only_the_statements_it_covers() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        let budget = Budget::install(&conn);
        let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) \
                       SELECT count(*) FROM n";
        budget.start(Duration::from_millis(1));
        let e = conn.query_row(endless, [], |r| r.get::<_, i64>(0));
        assert!(budget.finish(), "it ran out");
        assert_eq!(
            e.expect_err("stopped").sqlite_error_code(),
            Some(rusqlite::ErrorCode::OperationInterrupted)
        );
        let bounded = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
                       WHERE i < 100000) SELECT count(*) FROM n";
        let n: i64 = conn
            .query_row(bounded, [], |r| r.get(0))
            .expect("no budget");
        assert_eq!(n, 100_000);
        assert!(!budget.finish());
    }
}
