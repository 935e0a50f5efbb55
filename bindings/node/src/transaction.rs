//! `Transaction`: an interactive transaction on a connection of its own, as @libsql/client's
//! `client.transaction(mode)` gives. Commit, rollback or close end it; after that every call
//! fails with `TRANSACTION_CLOSED`.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;
use tidepool::{Connection, Statement};
use tokio::runtime::Handle;

use crate::database::drop_in_runtime;
use crate::error::{coded, core, usage};
use crate::result::{JsResult, JsResults};
use crate::statement::{params, StmtIn};
use crate::value::{Arg, IntMode};

/// The `BEGIN` for a @libsql/client transaction mode.
pub fn begin_sql(mode: &str) -> napi::Result<&'static str> {
    match mode {
        "write" => Ok("BEGIN IMMEDIATE"),
        "read" => Ok("BEGIN TRANSACTION READONLY"),
        "deferred" => Ok("BEGIN DEFERRED"),
        other => Err(coded(
            "ARG_RANGE",
            None,
            &format!(
                "Unknown transaction mode {other:?}, supported values are \"write\", \"read\" and \"deferred\""
            ),
        )),
    }
}

fn closed() -> napi::Error {
    coded("TRANSACTION_CLOSED", None, "The transaction is closed")
}

/// An open transaction.
#[napi]
pub struct Transaction {
    conn: Arc<Mutex<Option<Arc<Connection>>>>,
    int_mode: IntMode,
    rt: Handle,
}

impl Transaction {
    pub(crate) fn new(conn: Connection, int_mode: IntMode, rt: Handle) -> Self {
        Transaction {
            conn: Arc::new(Mutex::new(Some(Arc::new(conn)))),
            int_mode,
            rt,
        }
    }

    fn conn(&self) -> napi::Result<Arc<Connection>> {
        let guard = self
            .conn
            .lock()
            .map_err(|_| usage("transaction state poisoned"))?;
        guard.as_ref().map(Arc::clone).ok_or_else(closed)
    }

    fn take(&self) -> Option<Arc<Connection>> {
        self.conn.lock().ok().and_then(|mut c| c.take())
    }
}

/// Ends the transaction's hold on its connection: the last holder closes it on the runtime
/// (rolling back whatever is still open).
fn release(rt: &Handle, conn: Arc<Connection>) {
    if let Ok(conn) = Arc::try_unwrap(conn) {
        drop_in_runtime(rt, conn);
    }
    // Otherwise a call still running holds it; its end drops the last reference on the
    // runtime, where the connection's drop closes the stream.
}

impl Drop for Transaction {
    /// A transaction collected while open is rolled back on the runtime.
    fn drop(&mut self) {
        if let Some(conn) = self.take() {
            release(&self.rt, conn);
        }
    }
}

#[napi]
impl Transaction {
    #[napi(catch_unwind, ts_return_type = "Promise<RawResult>")]
    pub fn execute<'env>(
        &self,
        env: &'env Env,
        sql: String,
        args: Option<Vec<Arg>>,
        names: Option<Vec<String>>,
    ) -> napi::Result<PromiseRaw<'env, JsResult>> {
        let params = params(args, names)?;
        let conn = self.conn()?;
        let int_mode = self.int_mode;
        env.spawn_future(async move {
            let result = conn.execute_full(&sql, params).await.map_err(core)?;
            Ok(JsResult(result, int_mode))
        })
    }

    /// The statements atomically, as a savepoint of the transaction.
    #[napi(catch_unwind, ts_return_type = "Promise<RawResult[]>")]
    pub fn batch<'env>(
        &self,
        env: &'env Env,
        stmts: Vec<StmtIn>,
    ) -> napi::Result<PromiseRaw<'env, JsResults>> {
        let stmts: Vec<Statement> = stmts.into_iter().map(StmtIn::statement).collect();
        let conn = self.conn()?;
        let int_mode = self.int_mode;
        env.spawn_future(async move {
            let results = conn.batch(stmts).await.map_err(core)?;
            Ok(JsResults(results, int_mode))
        })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn execute_multiple<'env>(
        &self,
        env: &'env Env,
        sql: String,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let conn = self.conn()?;
        env.spawn_future(async move { conn.execute_batch(&sql).await.map_err(core) })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn commit<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        self.finish(env, "COMMIT")
    }

    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn rollback<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        self.finish(env, "ROLLBACK")
    }

    /// Ends the transaction without waiting: it is rolled back unless committed.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        if let Some(conn) = self.take() {
            release(&self.rt, conn);
        }
    }

    /// Whether the transaction has ended (committed, rolled back or closed).
    #[napi(catch_unwind, getter)]
    pub fn closed(&self) -> bool {
        self.conn.lock().map(|c| c.is_none()).unwrap_or(true)
    }
}

impl Transaction {
    fn finish<'env>(
        &self,
        env: &'env Env,
        sql: &'static str,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let conn = self.take().ok_or_else(closed)?;
        let rt = self.rt.clone();
        env.spawn_future(async move {
            let result = conn.execute(sql, ()).await;
            release(&rt, conn);
            result.map(drop).map_err(core)
        })
    }
}
