//! `Database`: one client's database (the package's `Client` wraps it). Calls borrow a
//! connection from a small idle pool, as @libsql/client borrows a stream, so independent calls
//! run in parallel (up to `concurrency` at once) and a transaction holds one of its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::PromiseRaw;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::Env;
use napi_derive::napi;
use tidepool::{Connection, Statement};
use tokio::runtime::Handle;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{coded, core, usage};
use crate::offline::{
    policy, ChangeArg, JsConflicts, JsResolver, ListenerFn, ResolutionIn, ResolverFn, Subscription,
};
use crate::result::{JsResult, JsResults};
use crate::statement::{params, StmtIn};
use crate::sync::{JsSyncReport, JsSyncStatus};
use crate::transaction::{begin_sql, Transaction};
use crate::value::{Arg, IntMode};

pub(crate) struct Shared {
    /// `None` once closed: dropping the database stops a replica's background sync.
    db: std::sync::RwLock<Option<tidepool::Database>>,
    /// What the database is, kept past `close()`.
    kind: &'static str,
    protocol: &'static str,
    idle: std::sync::Mutex<Vec<Connection>>,
    max_idle: usize,
    permits: Semaphore,
    closed: AtomicBool,
    /// Set by `close()`, for calls that wait on the database (`waitForSync`).
    closing: tokio::sync::watch::Sender<bool>,
    pub int_mode: IntMode,
    /// napi's runtime, where connections are closed.
    pub rt: Handle,
}

impl Shared {
    /// The database (a cheap clone); `CLIENT_CLOSED` once closed.
    fn db(&self) -> napi::Result<tidepool::Database> {
        self.db
            .read()
            .ok()
            .and_then(|db| db.clone())
            .ok_or_else(closed)
    }

    /// A permit and a connection; fails once the database is closed.
    async fn borrow(&self) -> napi::Result<(SemaphorePermit<'_>, Connection)> {
        let permit = self.permits.acquire().await.map_err(|_| closed())?;
        if self.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
        let conn = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match conn {
            Some(conn) => conn,
            None => self.db()?.connect(),
        };
        Ok((permit, conn))
    }

    /// Puts a connection back for the next call, unless a transaction is left open on it (the
    /// connection is then dropped, which rolls the transaction back) or enough are idle.
    async fn give_back(&self, conn: Connection) {
        if self.closed.load(Ordering::Acquire) || !conn.is_autocommit().await {
            drop_in_runtime(&self.rt, conn);
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < self.max_idle {
                idle.push(conn);
            }
        }
    }
}

/// Closes a connection on the runtime, where its rollback and stream close can run. At
/// process exit, when finalizers run after the runtime has shut down, the task is cancelled
/// and the connection dropped (a local one still rolls back; the server expires a remote
/// stream): a runtime handle, unlike napi's `spawn`, never panics for that.
pub(crate) fn drop_in_runtime(rt: &Handle, conn: Connection) {
    drop(rt.spawn(async move {
        let _ = conn.close().await;
    }));
}

fn closed() -> napi::Error {
    coded("CLIENT_CLOSED", None, "The client is closed")
}

/// How an offline database decides conflicts: policies by table and a default (names as
/// `policy` takes them).
#[napi(object, object_to_js = false)]
pub struct OfflineOptions {
    pub policies: Option<std::collections::HashMap<String, String>>,
    pub default_policy: Option<String>,
}

/// A database, remote or local.
#[napi]
pub struct Database {
    shared: Arc<Shared>,
}

#[napi]
impl Database {
    /// `url` as the core takes it (http(s), ws(s), libsql, file:, :memory:); `concurrency`
    /// is the most calls in flight at once; `intMode` one of number, bigint, string.
    /// With `replicaPath`, a replica of the server at `url` in that file, synced every
    /// `syncIntervalSecs` when given; with `offline` too, an offline database (writes commit
    /// on the device), whose conflicts `resolver` decides when given.
    #[napi(catch_unwind, constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        url: String,
        auth_token: Option<String>,
        concurrency: u32,
        int_mode: String,
        replica_path: Option<String>,
        sync_interval_secs: Option<f64>,
        offline: Option<OfflineOptions>,
        resolver: Option<ResolverFn>,
    ) -> napi::Result<Self> {
        let int_mode = IntMode::parse(&int_mode)
            .ok_or_else(|| usage(format!("invalid intMode {int_mode:?}")))?;
        let mut builder = match (replica_path, &offline) {
            (Some(path), Some(_)) => tidepool::Builder::offline(path, url),
            (Some(path), None) => tidepool::Builder::replica(path, url),
            (None, None) => tidepool::Builder::new(url),
            (None, Some(_)) => return Err(usage("an offline database needs a replica path")),
        };
        if let Some(options) = offline {
            if let Some(name) = options.default_policy {
                builder = builder.default_conflict_policy(policy(&name)?);
            }
            for (table, name) in options.policies.unwrap_or_default() {
                builder = builder.conflict_policy(table, policy(&name)?);
            }
            if let Some(func) = resolver {
                builder = builder.resolver(Arc::new(JsResolver { func, int_mode }));
            }
        } else if resolver.is_some() {
            return Err(usage("a resolver needs an offline database"));
        }
        if let Some(secs) = sync_interval_secs {
            let interval = Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    coded(
                        "ARG_RANGE",
                        None,
                        &format!("syncInterval must be a positive number of seconds, not {secs}"),
                    )
                })?;
            builder = builder.sync_interval(interval);
        }
        if let Some(token) = auth_token {
            builder = builder.auth_token(token);
        }
        // Building may set up connection pools that expect a runtime around them.
        let (db, rt) =
            napi::bindgen_prelude::block_on(async move { (builder.build(), Handle::current()) });
        let db = db.map_err(core)?;
        let kind = if db.is_local() {
            "local"
        } else if db.is_offline() {
            "offline"
        } else if db.is_replica() {
            "replica"
        } else {
            "remote"
        };
        // As @libsql/client reports them: a local database or a replica is "file".
        let protocol = if kind != "remote" {
            "file"
        } else if db.url().starts_with("ws") {
            "ws"
        } else {
            "http"
        };
        let concurrency = concurrency.clamp(1, 1 << 16) as usize;
        Ok(Database {
            shared: Arc::new(Shared {
                db: std::sync::RwLock::new(Some(db)),
                kind,
                protocol,
                idle: std::sync::Mutex::new(Vec::new()),
                max_idle: concurrency,
                permits: Semaphore::new(concurrency),
                closed: AtomicBool::new(false),
                closing: tokio::sync::watch::Sender::new(false),
                int_mode,
                rt,
            }),
        })
    }

    /// `"local"`, `"offline"`, `"replica"` or `"remote"`.
    #[napi(catch_unwind)]
    pub fn kind(&self) -> String {
        self.shared.kind.to_owned()
    }

    /// Replica: pulls what changed on the server (the first sync copies everything).
    /// Fails with `UNSUPPORTED` on a database that is not a replica.
    #[napi(catch_unwind, ts_return_type = "Promise<JsSyncReport>")]
    pub fn sync<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, JsSyncReport>> {
        let db = self.shared.db()?;
        env.spawn_future(async move {
            let report = db.sync().await.map_err(core)?;
            Ok(JsSyncReport::from(report))
        })
    }

    /// Replica: where syncing stands; `null` for a database that is not a replica (or closed).
    #[napi(catch_unwind)]
    pub fn sync_status(&self) -> Option<JsSyncStatus> {
        let db = self.shared.db().ok()?;
        db.sync_status().map(JsSyncStatus::from)
    }

    /// Offline: the conflicts and refused changes sync recorded, oldest first, until resolved.
    #[napi(catch_unwind, ts_return_type = "Promise<RawConflict[]>")]
    pub fn conflicts<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, JsConflicts>> {
        let db = self.shared.db()?;
        let int_mode = self.shared.int_mode;
        env.spawn_future(async move {
            let conflicts = db.conflicts().await.map_err(core)?;
            Ok(JsConflicts(conflicts, int_mode))
        })
    }

    /// Offline: settles a recorded conflict (`INVALID_ARGUMENT` for an unknown id).
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn resolve_conflict<'env>(
        &self,
        env: &'env Env,
        id: i64,
        resolution: ResolutionIn,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let resolution = resolution.resolution()?;
        let db = self.shared.db()?;
        env.spawn_future(async move { db.resolve_conflict(id, resolution).await.map_err(core) })
    }

    /// Offline: how many local changes wait to be pushed.
    #[napi(catch_unwind, ts_return_type = "Promise<number>")]
    pub fn pending_changes<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, f64>> {
        let db = self.shared.db()?;
        env.spawn_future(async move { Ok(db.pending_changes().await.map_err(core)? as f64) })
    }

    /// Replica or offline: waits for the next sync (background or explicit) to finish.
    #[napi(catch_unwind, ts_return_type = "Promise<JsSyncStatus>")]
    pub fn wait_for_sync<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, JsSyncStatus>> {
        let db = self.shared.db()?;
        let mut closing = self.shared.closing.subscribe();
        env.spawn_future(async move {
            tokio::select! {
                status = db.wait_for_sync() => Ok(JsSyncStatus::from(status.map_err(core)?)),
                _ = closing.wait_for(|closed| *closed) => Err(closed()),
            }
        })
    }

    /// Replica or offline: calls `listener` with `[tables, origin]` for each local commit
    /// and each sync that changed rows, until the subscription is closed or the database
    /// dropped. `UNSUPPORTED` for other databases.
    #[napi(catch_unwind)]
    pub fn subscribe(&self, listener: ListenerFn) -> napi::Result<Subscription> {
        let mut changes = self.shared.db()?.subscribe().map_err(core)?;
        let task = self.shared.rt.spawn(async move {
            while let Some(change) = changes.recv().await {
                let status =
                    listener.call(ChangeArg(change), ThreadsafeFunctionCallMode::NonBlocking);
                if status != napi::Status::Ok {
                    break;
                }
            }
        });
        Ok(Subscription {
            task: Some(task.abort_handle()),
        })
    }

    /// `"file"` for a local database or a replica (as @libsql/client reports embedded
    /// replicas), else `"http"` or `"ws"` by the URL's scheme.
    #[napi(catch_unwind)]
    pub fn protocol(&self) -> String {
        self.shared.protocol.to_owned()
    }

    /// Runs one statement and returns its whole result.
    #[napi(catch_unwind, ts_return_type = "Promise<RawResult>")]
    pub fn execute<'env>(
        &self,
        env: &'env Env,
        sql: String,
        args: Option<Vec<Arg>>,
        names: Option<Vec<String>>,
    ) -> napi::Result<PromiseRaw<'env, JsResult>> {
        let params = params(args, names)?;
        let shared = Arc::clone(&self.shared);
        env.spawn_future(async move {
            let (_permit, conn) = shared.borrow().await?;
            let result = conn.execute_full(&sql, params).await;
            shared.give_back(conn).await;
            Ok(JsResult(result.map_err(core)?, shared.int_mode))
        })
    }

    /// `execute` on the calling thread, for a local database with no transaction open on
    /// this client (the package decides): nothing it waits for needs the JavaScript thread, so
    /// blocking it is safe, and a point read costs no hop through the runtime's workers and
    /// back, as @libsql/client and better-sqlite3 also run local statements.
    #[napi(catch_unwind, ts_return_type = "RawResult")]
    pub fn execute_sync(
        &self,
        sql: String,
        args: Option<Vec<Arg>>,
        names: Option<Vec<String>>,
    ) -> napi::Result<JsResult> {
        let params = params(args, names)?;
        let shared = Arc::clone(&self.shared);
        let int_mode = shared.int_mode;
        let result = napi::bindgen_prelude::block_on(async move {
            let (_permit, conn) = shared.borrow().await?;
            let result = conn.execute_full(&sql, params).await;
            shared.give_back(conn).await;
            result.map_err(core)
        })?;
        Ok(JsResult(result, int_mode))
    }

    /// Runs statements atomically in a transaction of the given mode (write, read, deferred).
    #[napi(catch_unwind, ts_return_type = "Promise<RawResult[]>")]
    pub fn batch<'env>(
        &self,
        env: &'env Env,
        stmts: Vec<StmtIn>,
        mode: String,
    ) -> napi::Result<PromiseRaw<'env, JsResults>> {
        let begin = begin_sql(&mode)?;
        let stmts: Vec<Statement> = stmts.into_iter().map(StmtIn::statement).collect();
        let shared = Arc::clone(&self.shared);
        env.spawn_future(async move {
            let (_permit, conn) = shared.borrow().await?;
            let result = batch(&conn, begin, stmts).await;
            shared.give_back(conn).await;
            Ok(JsResults(result.map_err(core)?, shared.int_mode))
        })
    }

    /// @libsql/client's `migrate`: the statements as one deferred batch with foreign keys off.
    #[napi(catch_unwind, ts_return_type = "Promise<RawResult[]>")]
    pub fn migrate<'env>(
        &self,
        env: &'env Env,
        stmts: Vec<StmtIn>,
    ) -> napi::Result<PromiseRaw<'env, JsResults>> {
        let stmts: Vec<Statement> = stmts.into_iter().map(StmtIn::statement).collect();
        let shared = Arc::clone(&self.shared);
        env.spawn_future(async move {
            let (_permit, conn) = shared.borrow().await?;
            let result = migrate(&conn, stmts).await;
            shared.give_back(conn).await;
            Ok(JsResults(result.map_err(core)?, shared.int_mode))
        })
    }

    /// Runs a script of `;`-separated statements.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn execute_multiple<'env>(
        &self,
        env: &'env Env,
        sql: String,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let shared = Arc::clone(&self.shared);
        env.spawn_future(async move {
            let (_permit, conn) = shared.borrow().await?;
            let result = conn.execute_batch(&sql).await;
            shared.give_back(conn).await;
            result.map_err(core)
        })
    }

    /// Begins an interactive transaction on a connection of its own.
    #[napi(catch_unwind, ts_return_type = "Promise<Transaction>")]
    pub fn transaction<'env>(
        &self,
        env: &'env Env,
        mode: String,
    ) -> napi::Result<PromiseRaw<'env, Transaction>> {
        let begin = begin_sql(&mode)?;
        let shared = Arc::clone(&self.shared);
        env.spawn_future(async move {
            if shared.closed.load(Ordering::Acquire) {
                return Err(closed());
            }
            let conn = shared.db()?.connect();
            if let Err(e) = conn.execute(begin, ()).await {
                drop_in_runtime(&shared.rt, conn);
                return Err(core(e));
            }
            Ok(Transaction::new(conn, shared.int_mode, shared.rt.clone()))
        })
    }

    /// Closes the database: calls after this fail with `CLIENT_CLOSED`, idle connections
    /// close, a replica's background sync stops (open transactions keep their connections
    /// until they end).
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.closing.send_replace(true);
        self.shared.permits.close();
        let db = self.shared.db.write().ok().and_then(|mut db| db.take());
        if let Some(db) = db {
            // Dropped on the runtime, where its pools may close their sockets.
            drop(self.shared.rt.spawn(async move { drop(db) }));
        }
        if let Ok(mut idle) = self.shared.idle.lock() {
            for conn in idle.drain(..) {
                drop_in_runtime(&self.shared.rt, conn);
            }
        }
    }
}

impl Drop for Database {
    /// A client collected without `close()` gives its idle connections back.
    fn drop(&mut self) {
        if let Ok(mut idle) = self.shared.idle.lock() {
            for conn in idle.drain(..) {
                drop_in_runtime(&self.shared.rt, conn);
            }
        }
    }
}

/// A batch in a transaction of the given mode. A deferred batch is one request; the other
/// modes begin the transaction first and run the batch as a savepoint of it.
async fn batch(
    conn: &Connection,
    begin: &'static str,
    stmts: Vec<Statement>,
) -> tidepool::Result<Vec<tidepool::ResultSet>> {
    if begin == "BEGIN DEFERRED" {
        return conn.batch(stmts).await;
    }
    conn.execute(begin, ()).await?;
    let result = match conn.batch(stmts).await {
        Ok(results) => conn.execute("COMMIT", ()).await.map(|_| results),
        Err(e) => Err(e),
    };
    if result.is_err() && !conn.is_autocommit().await {
        let _ = conn.execute("ROLLBACK", ()).await;
    }
    result
}

async fn migrate(
    conn: &Connection,
    stmts: Vec<Statement>,
) -> tidepool::Result<Vec<tidepool::ResultSet>> {
    conn.execute("PRAGMA foreign_keys=off", ()).await?;
    let result = conn.batch(stmts).await;
    let restored = conn.execute("PRAGMA foreign_keys=on", ()).await;
    let results = result?;
    restored?;
    Ok(results)
}
