//! `Database` and `Connection`: thin wrappers over the client's, each call converting its
//! arguments with the GIL held, running the client's future with the GIL released (blocking
//! on the package's runtime, or spawned on it for the `*_async` variants), and converting the
//! result or error back.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyAny;
use tidepool::{Builder, Params, Statement};

use crate::error::Failure;
use crate::rows::Output;
use crate::{aio, offline, runtime, sync, value};

/// A database: a server URL or a local file, shared by its connections.
#[pyclass(frozen, weakref, module = "tidepool._native")]
pub struct Database {
    db: Mutex<Option<tidepool::Database>>,
}

fn seconds(name: &str, secs: Option<f64>) -> Result<Option<Duration>, Failure> {
    match secs {
        None => Ok(None),
        Some(s) => Duration::try_from_secs_f64(s).map(Some).map_err(|_| {
            Failure::binding(
                "ProgrammingError",
                tidepool::error::code::INVALID_CONFIG,
                format!("{name} must be a non-negative number of seconds, not {s}"),
            )
        }),
    }
}

#[pymethods]
impl Database {
    /// `target` is a URL (`http(s)://`, `ws(s)://`, `libsql://`, `file:`, `:memory:`), or a
    /// filesystem path when `local` is true, or the replica's file when `sync_url` is given.
    #[new]
    /// With `offline`, the replica's file also takes writes: `default_policy` and `policies`
    /// (table to policy name) decide conflicts, or `resolver` (see `offline.rs`) does.
    #[pyo3(signature = (target, *, local=false, sync_url=None, offline=false,
        default_policy=None, policies=None, resolver=None, sync_interval=None,
        auth_token=None, read_connections=None, busy_timeout=None, connect_timeout=None,
        request_timeout=None, ca_pem=None, force_json=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        target: String,
        local: bool,
        sync_url: Option<String>,
        offline: bool,
        default_policy: Option<String>,
        policies: Option<HashMap<String, String>>,
        resolver: Option<Py<PyAny>>,
        sync_interval: Option<f64>,
        auth_token: Option<String>,
        read_connections: Option<usize>,
        busy_timeout: Option<f64>,
        connect_timeout: Option<f64>,
        request_timeout: Option<f64>,
        ca_pem: Option<Vec<u8>>,
        force_json: bool,
    ) -> PyResult<Self> {
        let build = || -> Result<tidepool::Database, Failure> {
            let mut builder = match (sync_url, local) {
                (Some(url), _) if offline => Builder::offline(&target, url),
                (Some(url), _) => Builder::replica(&target, url),
                (None, _) if offline => {
                    return Err(Failure::binding(
                        "InterfaceError",
                        tidepool::error::code::INVALID_CONFIG,
                        "offline needs sync_url (the server the device syncs with)",
                    ))
                }
                (None, true) => Builder::local(&target),
                (None, false) => Builder::new(target.clone()),
            };
            if let Some(name) = default_policy {
                builder = builder.default_conflict_policy(offline::policy(&name)?);
            }
            for (table, name) in policies.into_iter().flatten() {
                builder = builder.conflict_policy(table, offline::policy(&name)?);
            }
            if let Some(call) = resolver {
                builder = builder.resolver(Arc::new(offline::PyResolver::new(call)));
            }
            if let Some(t) = seconds("sync_interval", sync_interval)? {
                builder = builder.sync_interval(t);
            }
            if let Some(token) = auth_token {
                builder = builder.auth_token(token);
            }
            if let Some(n) = read_connections {
                builder = builder.read_connections(n);
            }
            if let Some(t) = seconds("busy_timeout", busy_timeout)? {
                builder = builder.busy_timeout(t);
            }
            if let Some(t) = seconds("connect_timeout", connect_timeout)? {
                builder = builder.connect_timeout(t);
            }
            if let Some(t) = seconds("request_timeout", request_timeout)? {
                builder = builder.request_timeout(t);
            }
            if let Some(pem) = ca_pem {
                builder = builder.custom_ca_pem(pem);
            }
            if force_json {
                builder = builder.force_json();
            }
            let rt = runtime::get()?;
            let _entered = rt.enter();
            Ok(builder.build()?)
        };
        let db = build().map_err(|e| e.into_pyerr(py))?;
        Ok(Database {
            db: Mutex::new(Some(db)),
        })
    }

    /// The server URL (without credentials), or the local `file:` URL.
    #[getter]
    fn url(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.database(py)?.url().to_owned())
    }

    /// Whether the database is a local file or in memory.
    #[getter]
    fn is_local(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.database(py)?.is_local())
    }

    /// Whether the database is a local replica of a server.
    #[getter]
    fn is_replica(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.database(py)?.is_replica())
    }

    /// Replica: pulls what changed on the server (the first sync copies everything); a dict
    /// of what it did. `NotSupportedError` on a database that is not a replica.
    fn sync(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let db = self.database(py)?;
        let report = py
            .detach(|| runtime::block_on(async move { db.sync().await }))
            .map_err(|e| e.into_pyerr(py))?
            .map_err(|e| Failure::from(e).into_pyerr(py))?;
        sync::report_to_py(py, report)
    }

    fn sync_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let db = self.database(py)?;
        aio::spawn(py, async move { Ok(db.sync().await?) }, sync::report_to_py)
    }

    /// Replica: where the last sync got to, as a dict; `None` when not a replica.
    fn sync_status(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.database(py)?.sync_status() {
            Some(status) => sync::status_to_py(py, status).map(Some),
            None => Ok(None),
        }
    }

    /// Whether the database takes writes on the device (offline mode).
    #[getter]
    fn is_offline(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.database(py)?.is_offline())
    }

    /// Offline: the recorded conflicts and refused changes, oldest first, as dicts.
    fn conflicts(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let conflicts = self.blocking(py, |db| async move { Ok(db.conflicts().await?) })?;
        offline::conflicts_to_py(py, conflicts)
    }

    fn conflicts_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let db = self.database(py)?;
        aio::spawn(
            py,
            async move { Ok(db.conflicts().await?) },
            offline::conflicts_to_py,
        )
    }

    /// Offline: settles conflict `id` with `"local"`, `"remote"` or a dict (a merged row).
    fn resolve_conflict(
        &self,
        py: Python<'_>,
        id: i64,
        resolution: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let r = offline::resolution(resolution).map_err(|e| e.into_pyerr(py))?;
        self.blocking(py, move |db| async move {
            Ok(db.resolve_conflict(id, r).await?)
        })
    }

    fn resolve_conflict_async<'py>(
        &self,
        py: Python<'py>,
        id: i64,
        resolution: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let r = offline::resolution(resolution).map_err(|e| e.into_pyerr(py))?;
        let db = self.database(py)?;
        aio::spawn(
            py,
            async move { Ok(db.resolve_conflict(id, r).await?) },
            none_to_py,
        )
    }

    /// Offline: how many local changes wait to be pushed.
    fn pending_changes(&self, py: Python<'_>) -> PyResult<u64> {
        self.blocking(py, |db| async move { Ok(db.pending_changes().await?) })
    }

    fn pending_changes_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let db = self.database(py)?;
        aio::spawn(
            py,
            async move { Ok(db.pending_changes().await?) },
            |py, n: u64| Ok(n.into_pyobject(py)?.into_any().unbind()),
        )
    }

    /// Replica or offline: waits for the next sync to finish (background or explicit) and
    /// returns the status; `OperationalError` (`TIMEOUT`) after `timeout` seconds.
    #[pyo3(signature = (timeout=None))]
    fn wait_for_sync(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        let limit = seconds("timeout", timeout).map_err(|e| e.into_pyerr(py))?;
        let status = self.blocking(py, move |db| wait_for_sync(db, limit))?;
        sync::status_to_py(py, status)
    }

    #[pyo3(signature = (timeout=None))]
    fn wait_for_sync_async<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let limit = seconds("timeout", timeout).map_err(|e| e.into_pyerr(py))?;
        let db = self.database(py)?;
        aio::spawn(py, wait_for_sync(db, limit), sync::status_to_py)
    }

    /// Replica or offline: calls `call(tables, origin)` on a thread of its own, with the GIL,
    /// after each local commit (`"local"`) and each sync that changed rows (`"remote"`).
    fn subscribe(&self, py: Python<'_>, call: Py<PyAny>) -> PyResult<offline::Subscription> {
        let changes = self
            .database(py)?
            .subscribe()
            .map_err(|e| Failure::from(e).into_pyerr(py))?;
        offline::Subscription::start(changes, call).map_err(|e| e.into_pyerr(py))
    }

    /// A new connection (no I/O until its first statement).
    fn connect(&self, py: Python<'_>) -> PyResult<Connection> {
        let db = self.database(py)?;
        let rt = runtime::get().map_err(|e| e.into_pyerr(py))?;
        let _entered = rt.enter();
        Ok(Connection {
            conn: Mutex::new(Some(Arc::new(db.connect()))),
        })
    }
}

async fn wait_for_sync(
    db: tidepool::Database,
    limit: Option<Duration>,
) -> Result<tidepool::SyncStatus, Failure> {
    let wait = db.wait_for_sync();
    match limit {
        None => Ok(wait.await?),
        Some(limit) => match tokio::time::timeout(limit, wait).await {
            Ok(status) => Ok(status?),
            Err(_) => Err(Failure::binding(
                "OperationalError",
                tidepool::error::code::TIMEOUT,
                format!("no sync finished within {} s", limit.as_secs_f64()),
            )),
        },
    }
}

impl Database {
    /// Runs `f(db)` to completion with the GIL released.
    fn blocking<T, F, Fut>(&self, py: Python<'_>, f: F) -> PyResult<T>
    where
        F: FnOnce(tidepool::Database) -> Fut + Send,
        Fut: Future<Output = Result<T, Failure>> + Send,
        T: Send,
    {
        let db = self.database(py)?;
        py.detach(|| runtime::block_on(f(db)).and_then(|r| r))
            .map_err(|e| e.into_pyerr(py))
    }

    fn database(&self, py: Python<'_>) -> PyResult<tidepool::Database> {
        self.db
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| Failure::closed("database").into_pyerr(py))
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some(db) = self.db.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            runtime::drop_in_context(db);
        }
    }
}

/// One connection: statements run on it one at a time, and a transaction begun on it lasts
/// until committed or rolled back.
#[pyclass(frozen, module = "tidepool._native")]
pub struct Connection {
    conn: Mutex<Option<Arc<tidepool::Connection>>>,
}

type Conn = Arc<tidepool::Connection>;

impl Connection {
    fn get(&self) -> Result<Conn, Failure> {
        self.conn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| Failure::closed("connection"))
    }

    /// Runs `f(conn)` to completion with the GIL released.
    fn blocking<T, F, Fut>(&self, py: Python<'_>, f: F) -> PyResult<T>
    where
        F: FnOnce(Conn) -> Fut + Send,
        Fut: Future<Output = Result<T, Failure>> + Send,
        T: Send,
    {
        let conn = self.get().map_err(|e| e.into_pyerr(py))?;
        py.detach(|| runtime::block_on(f(conn)).and_then(|r| r))
            .map_err(|e| e.into_pyerr(py))
    }

    /// Spawns `f(conn)` and returns an asyncio future of its converted output.
    fn spawned<'py, T, F, Fut, C>(
        &self,
        py: Python<'py>,
        f: F,
        convert: C,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
        T: Send + 'static,
        C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        let conn = self.get().map_err(|e| e.into_pyerr(py))?;
        aio::spawn(py, f(conn), convert)
    }
}

async fn query(
    conn: Conn,
    sql: String,
    params: Params,
    prefetch: usize,
) -> Result<Output, Failure> {
    let rows = conn.query(&sql, params).await?;
    Output::read(rows, prefetch).await
}

/// Runs one statement per parameter set, atomically: `(rows_affected, last_insert_rowid)`.
async fn many(conn: Conn, sql: String, sets: Vec<Params>) -> Result<(u64, Option<i64>), Failure> {
    if sets.is_empty() {
        return Ok((0, None));
    }
    let results = conn
        .batch(sets.into_iter().map(|p| Statement::new(&sql, p)))
        .await?;
    let affected = results.iter().map(|r| r.rows_affected).sum();
    let rowid = results.iter().rev().find_map(|r| r.last_insert_rowid);
    Ok((affected, rowid))
}

fn param_sets(seq: &Bound<'_, PyAny>) -> Result<Vec<Params>, Failure> {
    let iter = seq
        .try_iter()
        .map_err(|_| Failure::interface("executemany takes an iterable of parameter sets"))?;
    let mut sets = Vec::new();
    for item in iter {
        let item = item.map_err(|e| Failure::interface(format!("parameter sets: {e}")))?;
        sets.push(value::to_params(Some(&item))?);
    }
    Ok(sets)
}

fn output_to_py(py: Python<'_>, out: Output) -> PyResult<Py<PyAny>> {
    out.into_py(py)
}

fn pair_to_py(py: Python<'_>, out: (u64, Option<i64>)) -> PyResult<Py<PyAny>> {
    Ok(out.into_pyobject(py)?.into_any().unbind())
}

fn none_to_py(py: Python<'_>, (): ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

fn bool_to_py(py: Python<'_>, b: bool) -> PyResult<Py<PyAny>> {
    Ok(pyo3::types::PyBool::new(py, b)
        .to_owned()
        .into_any()
        .unbind())
}

#[pymethods]
impl Connection {
    /// Runs one statement: `(columns, rows, rows_affected, last_insert_rowid, stream)`, with
    /// up to `prefetch` rows read at once and the rest, if any, behind `stream`.
    #[pyo3(signature = (sql, params=None, prefetch=256))]
    fn execute(
        &self,
        py: Python<'_>,
        sql: String,
        params: Option<&Bound<'_, PyAny>>,
        prefetch: usize,
    ) -> PyResult<Py<PyAny>> {
        let params = value::to_params(params).map_err(|e| e.into_pyerr(py))?;
        let out = self.blocking(py, move |conn| query(conn, sql, params, prefetch))?;
        out.into_py(py)
    }

    #[pyo3(signature = (sql, params=None, prefetch=256))]
    fn execute_async<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        params: Option<&Bound<'_, PyAny>>,
        prefetch: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let params = value::to_params(params).map_err(|e| e.into_pyerr(py))?;
        self.spawned(
            py,
            move |conn| query(conn, sql, params, prefetch),
            output_to_py,
        )
    }

    /// Runs the statement once per parameter set, atomically (a savepoint inside a
    /// transaction): `(rows_affected, last_insert_rowid)`.
    fn execute_many(
        &self,
        py: Python<'_>,
        sql: String,
        seq: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let sets = param_sets(seq).map_err(|e| e.into_pyerr(py))?;
        let out = self.blocking(py, move |conn| many(conn, sql, sets))?;
        pair_to_py(py, out)
    }

    fn execute_many_async<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        seq: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let sets = param_sets(seq).map_err(|e| e.into_pyerr(py))?;
        self.spawned(py, move |conn| many(conn, sql, sets), pair_to_py)
    }

    /// Runs a script of `;`-separated statements, ignoring rows.
    fn execute_script(&self, py: Python<'_>, sql: String) -> PyResult<()> {
        self.blocking(py, move |conn| async move {
            Ok(conn.execute_batch(&sql).await?)
        })
    }

    fn execute_script_async<'py>(
        &self,
        py: Python<'py>,
        sql: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.spawned(
            py,
            move |conn| async move { Ok(conn.execute_batch(&sql).await?) },
            none_to_py,
        )
    }

    /// Whether a transaction is open.
    fn in_transaction(&self, py: Python<'_>) -> PyResult<bool> {
        self.blocking(py, |conn| async move { Ok(!conn.is_autocommit().await) })
    }

    fn in_transaction_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.spawned(
            py,
            |conn| async move { Ok(!conn.is_autocommit().await) },
            bool_to_py,
        )
    }

    /// Interrupts the statement running on a local connection (`NotSupportedError` remote).
    fn interrupt(&self, py: Python<'_>) -> PyResult<()> {
        let conn = self.get().map_err(|e| e.into_pyerr(py))?;
        conn.interrupt()
            .map_err(|e| Failure::from(e).into_pyerr(py))
    }

    /// Whether `close` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.conn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    /// Closes the connection, rolling back an open transaction. Closing twice is a no-op.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let Some(conn) = self.conn.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return Ok(());
        };
        py.detach(|| runtime::block_on(close(conn)).and_then(|r| r))
            .map_err(|e| e.into_pyerr(py))
    }

    fn close_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner()).take();
        aio::spawn(
            py,
            async move {
                match conn {
                    Some(conn) => close(conn).await,
                    None => Ok(()),
                }
            },
            none_to_py,
        )
    }
}

async fn close(conn: Conn) -> Result<(), Failure> {
    match Arc::try_unwrap(conn) {
        Ok(conn) => Ok(conn.close().await?),
        // A call still holds it (an abandoned async call): it is closed when that ends.
        Err(_) => Ok(()),
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(conn) = self
            .conn
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            runtime::drop_in_context(conn);
        }
    }
}
