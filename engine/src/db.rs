//! The SQLite side: opening connections on the database file, and a pool of idle ones so a
//! stateless HTTP request does not pay for opening a connection.
//!
//! Every connection runs in WAL mode with a busy timeout, so readers run in parallel with the one
//! writer. An authorizer refuses `ATTACH`/`DETACH` (they would reach files outside the database)
//! and marks a connection whose session state a client changed (a `PRAGMA` assignment, a
//! temporary object); such a connection is closed instead of being handed to another stream.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::{Connection, OpenFlags};

/// One SQLite connection and what the authorizer learned about it.
#[derive(Debug)]
pub struct SqlConn {
    pub conn: Connection,
    /// Set when the session state was changed and the connection must not be reused.
    dirty: Arc<AtomicBool>,
}

impl SqlConn {
    fn reusable(&self) -> bool {
        !self.dirty.load(Ordering::Relaxed) && self.conn.is_autocommit()
    }
}

/// Opens connections to one database file and keeps idle ones for reuse.
#[derive(Debug)]
pub struct Pool {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<SqlConn>>,
    max_idle: usize,
    /// Page cache per connection in KiB (`PRAGMA cache_size = -N`); `None` keeps SQLite's
    /// default (2,000 KiB).
    cache_kib: Option<u32>,
}

impl Pool {
    /// Opens (creating if needed) the database and switches it to WAL.
    pub fn open(path: &Path, busy_timeout: Duration, max_idle: usize) -> rusqlite::Result<Self> {
        Self::open_with_cache(path, busy_timeout, max_idle, None)
    }

    /// As [`Pool::open`], with each connection's page cache capped at `cache_kib` KiB. A
    /// server with many streams holds one connection per stream, so the cap bounds memory;
    /// SQLite still reads through the operating system's file cache.
    pub fn open_with_cache(
        path: &Path,
        busy_timeout: Duration,
        max_idle: usize,
        cache_kib: Option<u32>,
    ) -> rusqlite::Result<Self> {
        let pool = Pool {
            path: path.to_owned(),
            busy_timeout,
            idle: Mutex::new(Vec::new()),
            max_idle,
            cache_kib,
        };
        let first = pool.connect()?;
        first.conn.pragma_update(None, "journal_mode", "wal")?;
        pool.put(first);
        Ok(pool)
    }

    /// Takes an idle connection or opens a new one. Blocking: call from a blocking context.
    pub fn get(&self) -> rusqlite::Result<SqlConn> {
        if let Some(conn) = self.idle.lock().pop() {
            return Ok(conn);
        }
        self.connect()
    }

    /// Returns a connection. One inside a transaction is rolled back first; one whose session
    /// state changed is closed.
    pub fn put(&self, conn: SqlConn) {
        if !conn.conn.is_autocommit() {
            // A failed rollback leaves the connection unusable for others: drop it.
            if conn.conn.execute_batch("ROLLBACK").is_err() {
                return;
            }
        }
        if !conn.reusable() {
            return;
        }
        let mut idle = self.idle.lock();
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    /// How long a statement waits for a lock before `SQLITE_BUSY`.
    pub fn busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    fn connect(&self) -> rusqlite::Result<SqlConn> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(128);
        conn.pragma_update(None, "synchronous", "normal")?;
        if let Some(kib) = self.cache_kib {
            conn.pragma_update(None, "cache_size", -i64::from(kib))?;
        }
        let dirty = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&dirty);
        conn.authorizer(Some(move |ctx: AuthContext<'_>| authorize(&ctx, &flag)));
        Ok(SqlConn { conn, dirty })
    }
}

fn authorize(ctx: &AuthContext<'_>, dirty: &AtomicBool) -> Authorization {
    match ctx.action {
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => Authorization::Deny,
        AuthAction::Pragma {
            pragma_value: Some(_),
            ..
        }
        | AuthAction::CreateTempTable { .. }
        | AuthAction::CreateTempIndex { .. }
        | AuthAction::CreateTempTrigger { .. }
        | AuthAction::CreateTempView { .. } => {
            dirty.store(true, Ordering::Relaxed);
            Authorization::Allow
        }
        _ => Authorization::Allow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(dir: &tempfile::TempDir) -> Pool {
        Pool::open(&dir.path().join("t.db"), Duration::from_secs(1), 4).expect("open")
    }

    #[test]
    fn page_cache_is_capped_when_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let cache = |pool: &Pool| -> i64 {
            let conn = pool.get().expect("conn");
            let size = conn
                .conn
                .query_row("PRAGMA cache_size", [], |r| r.get(0))
                .expect("read");
            pool.put(conn);
            size
        };
        let capped = Pool::open_with_cache(&path, Duration::from_secs(1), 4, Some(256));
        assert_eq!(cache(&capped.expect("open")), -256);
        let default = Pool::open(&path, Duration::from_secs(1), 4).expect("open");
        assert_eq!(cache(&default), -2000);
    }

    #[test]
    fn attach_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pool = pool(&dir);
        let conn = pool.get().expect("conn");
        let e = conn
            .conn
            .execute_batch("ATTACH 'other.db' AS o")
            .expect_err("attach");
        assert!(e.to_string().contains("not authorized"), "{e}");
    }

    #[test]
    fn connections_with_changed_session_state_are_not_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pool = pool(&dir);
        let fk = |conn: &SqlConn| -> i64 {
            conn.conn
                .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
                .expect("read")
        };
        let conn = pool.get().expect("conn");
        let default = fk(&conn);
        let flipped = if default == 0 { "ON" } else { "OFF" };
        conn.conn
            .execute_batch(&format!("PRAGMA foreign_keys = {flipped}"))
            .expect("pragma");
        assert_ne!(fk(&conn), default);
        pool.put(conn);
        let conn = pool.get().expect("conn");
        assert_eq!(
            fk(&conn),
            default,
            "a fresh connection has default settings"
        );
    }

    #[test]
    fn open_transactions_are_rolled_back_on_return() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pool = pool(&dir);
        let conn = pool.get().expect("conn");
        conn.conn
            .execute_batch("CREATE TABLE t(x); BEGIN; INSERT INTO t VALUES (1)")
            .expect("w");
        pool.put(conn);
        let conn = pool.get().expect("conn");
        assert!(conn.conn.is_autocommit());
        let n: i64 = conn
            .conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("n");
        assert_eq!(n, 0);
    }
}
