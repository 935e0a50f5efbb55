//! One sync: make sure the server captures changes, mirror its schema (copying tables that are
//! new or changed, resumably), then pull the changes after the replica's position, page by page.
//! Every page is applied in one local transaction together with the new position, so a sync
//! killed at any point resumes where it stopped and nothing is applied twice in effect.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

use super::capture::{self, Key};
use super::literal::{self, ident};
use super::SyncReport;
use crate::error::{code, Error, ErrorKind, Result};
use crate::offline::{self, push, Offline};
use crate::{Connection, Row, Statement, TransactionBehavior, Value};

/// The pull query prepared on the sync's server connection (over WebSocket, where its SQL is
/// stored on the stream), kept with that connection between syncs.
#[derive(Debug, Default)]
pub(crate) struct PullStatement {
    /// Whether to prepare it (WebSocket); over HTTP the text is sent each time.
    pub wanted: bool,
    pub stmt: Option<crate::Statement>,
}

/// Rows per bootstrap page and changes per pull page.
pub(crate) const PAGE: i64 = 1000;

/// The replica's own bookkeeping, in its file.
const LOCAL_SETUP: &str = "PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = ON; \
    CREATE TABLE IF NOT EXISTS _tidepool_replica (key TEXT PRIMARY KEY, value); \
    CREATE TABLE IF NOT EXISTS _tidepool_replica_tables (\
        tbl TEXT PRIMARY KEY, sql TEXT NOT NULL, cols TEXT NOT NULL, key TEXT NOT NULL, \
        install INTEGER NOT NULL); \
    CREATE TABLE IF NOT EXISTS _tidepool_replica_copies (\
        tbl TEXT PRIMARY KEY, stage TEXT NOT NULL, sql TEXT NOT NULL, cols TEXT NOT NULL, \
        key TEXT NOT NULL, install INTEGER NOT NULL, last_key TEXT, start_seq INTEGER NOT NULL, \
        rows INTEGER NOT NULL)";

const LOCAL_TABLES: &str = "SELECT tbl, sql, cols, key, install FROM _tidepool_replica_tables";

/// The tables the replica mirrors, as its registry has them.
pub(crate) async fn local_tables(local: &Connection) -> Result<BTreeMap<String, TableInfo>> {
    let mut tables = BTreeMap::new();
    for row in rows(local, LOCAL_TABLES, vec![]).await? {
        tables.insert(row.get(0)?, TableInfo::from_row(&row)?);
    }
    Ok(tables)
}

/// What the replica knows about one mirrored table: the server's `CREATE TABLE` text, its
/// stored columns and its key, as the capture registry has them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TableInfo {
    pub sql: String,
    pub cols: Vec<String>,
    pub key: Key,
    pub install: i64,
}

impl TableInfo {
    /// From a registry row: `tbl, sql, cols, key, install` from column 1 on.
    fn from_row(row: &Row) -> Result<TableInfo> {
        Self::from_registry(
            row.get(1)?,
            &row.get::<String>(2)?,
            &row.get::<String>(3)?,
            row.get(4)?,
        )
    }

    fn from_registry(sql: String, cols: &str, key: &str, install: i64) -> Result<TableInfo> {
        let cols = literal::parse_names(cols)
            .ok_or_else(|| malformed(format!("the column list {cols:?} does not parse")))?;
        let key = Key::from_registry(key)
            .ok_or_else(|| malformed(format!("the key {key:?} does not parse")))?;
        Ok(TableInfo {
            sql,
            cols,
            key,
            install,
        })
    }

    fn cols_registry(&self) -> String {
        literal::format_names(&self.cols)
    }

    /// The positions of the key's columns among the selected columns of a copy page (whose
    /// first column is the rowid for rowid-keyed tables).
    fn key_positions(&self) -> Vec<usize> {
        match &self.key {
            Key::Rowid => vec![0],
            Key::Columns(key) => key
                .iter()
                .filter_map(|k| self.cols.iter().position(|c| c == k))
                .collect(),
        }
    }

    fn select_cols(&self) -> String {
        let cols = self.cols.iter().map(|c| ident(c)).collect::<Vec<_>>();
        match self.key {
            Key::Rowid => std::iter::once("rowid".to_owned())
                .chain(cols)
                .collect::<Vec<_>>()
                .join(", "),
            Key::Columns(_) => cols.join(", "),
        }
    }

    fn upsert_sql(&self, table: &str) -> String {
        let mut cols = self.cols.iter().map(|c| ident(c)).collect::<Vec<_>>();
        if self.key == Key::Rowid {
            cols.insert(0, "rowid".to_owned());
        }
        let marks = vec!["?"; cols.len()].join(", ");
        format!(
            "INSERT OR REPLACE INTO {} ({}) VALUES ({marks})",
            ident(table),
            cols.join(", ")
        )
    }

    /// `(k1, k2) = (?, ?)`: the condition that picks one row by its key.
    pub(crate) fn where_key(&self) -> String {
        let key = self.key.columns_sql();
        let marks = vec!["?"; key.len()].join(", ");
        format!("({}) = ({marks})", key.join(", "))
    }

    pub(crate) fn delete_sql(&self, table: &str) -> String {
        format!("DELETE FROM {} WHERE {}", ident(table), self.where_key())
    }
}

fn malformed(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Protocol, code::CHANGE_MALFORMED, message)
}

/// Turns a refusal to install capture into an error that says what to do.
fn capture_refused(e: Error) -> Error {
    if e.is_auth()
        || e.code() == "FORBIDDEN"
        || e.code().starts_with("AUTH_")
        || e.code() == "SQLITE_AUTH"
    {
        Error::new(
            ErrorKind::Server,
            code::CAPTURE_FORBIDDEN,
            format!(
                "the server's change capture is missing or out of date and this token may not \
                 install it ({}: {}); sync once with a read-write token",
                e.code(),
                e.message()
            ),
        )
    } else {
        e
    }
}

pub(crate) async fn rows(conn: &Connection, sql: &str, params: Vec<Value>) -> Result<Vec<Row>> {
    conn.query(sql, params).await?.collect_all().await
}

pub(crate) async fn one_row(conn: &Connection, sql: &str, params: Vec<Value>) -> Result<Row> {
    rows(conn, sql, params)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Error::protocol(format!("no row from {sql:?}")))
}

/// The replica's position and state, from its file.
#[derive(Debug, Default)]
struct LocalState {
    position: i64,
    schema_version: Option<i64>,
    bootstrapped: bool,
}

async fn local_state(local: &Connection) -> Result<LocalState> {
    let mut state = LocalState::default();
    for row in rows(local, "SELECT key, value FROM _tidepool_replica", vec![]).await? {
        let key: String = row.get(0)?;
        let value: Option<i64> = row.get(1)?;
        match (key.as_str(), value) {
            ("position", Some(v)) => state.position = v,
            ("schema_version", v) => state.schema_version = v,
            ("bootstrapped", Some(v)) => state.bootstrapped = v != 0,
            _ => {}
        }
    }
    Ok(state)
}

fn set_state(key: &str, value: i64) -> Statement {
    Statement::new(
        "INSERT OR REPLACE INTO _tidepool_replica (key, value) VALUES (?, ?)",
        (key, value),
    )
}

/// The server's position in the change stream and its schema version.
async fn server_position(remote: &Connection) -> Result<(i64, i64)> {
    let row = one_row(remote, capture::POSITION, vec![]).await?;
    Ok((row.get(0)?, row.get(1)?))
}

/// What a pull stopped at.
enum Pulled {
    /// Everything up to the server's position is applied.
    Done,
    /// The server's schema changed since the replica mirrored it: mirror it first.
    SchemaChanged,
    /// Changes of these tables did not match their columns: copy them again.
    Stale(BTreeSet<String>),
}

/// Runs one sync. The caller holds the database's sync lock. `base_known` is set once the
/// server's change table is known to exist, so later syncs need not ask.
pub(crate) async fn run(
    local: &Connection,
    remote: &Connection,
    base_known: &AtomicBool,
    offline: Option<&Offline>,
    push_only: bool,
    pull_stmt: &mut PullStatement,
    report: &mut SyncReport,
) -> Result<()> {
    local.execute_batch(LOCAL_SETUP).await?;
    if offline.is_some() {
        local.execute_batch(offline::capture::LOCAL_SETUP).await?;
    }
    if !base_known.load(Ordering::SeqCst) {
        ensure_base(remote).await?;
        base_known.store(true, Ordering::SeqCst);
    }
    let mut state = local_state(local).await?;
    if let Some(offline) = offline {
        if !offline.base_known.load(Ordering::SeqCst) {
            let row = one_row(remote, push::BASE_INSTALLED, vec![]).await?;
            if row.get::<i64>(0)? != push::INSTALL_BASE.len() as i64 {
                let base = push::INSTALL_BASE.iter().map(|sql| Statement::new(sql, ()));
                install(remote, base.collect()).await?;
            }
            offline.base_known.store(true, Ordering::SeqCst);
        }
        if state.bootstrapped {
            let tables = local_tables(local).await?;
            // Boxed: the push's future is large, and sync runs on callers' stacks.
            Box::pin(push::push(
                local,
                remote,
                offline,
                &tables,
                state.position,
                report,
            ))
            .await?;
        }
        if push_only {
            report.position = state.position;
            return Ok(());
        }
    }
    let pending_copies = !rows(local, "SELECT 1 FROM _tidepool_replica_copies", vec![])
        .await?
        .is_empty();
    let mut mirror = !state.bootstrapped || pending_copies;
    // Mirroring can itself change the schema version (installing triggers), and a change that
    // does not match its table's columns sends the table back to be copied; a few rounds
    // settle both. Whatever is left, the next sync continues.
    for _ in 0..4 {
        if mirror {
            let (_, schema_version) = server_position(remote).await?;
            Box::pin(mirror_schema(
                local,
                remote,
                &mut state,
                schema_version,
                offline,
                report,
            ))
            .await?;
        }
        match Box::pin(pull(local, remote, &mut state, offline, pull_stmt, report)).await? {
            Pulled::Done => break,
            Pulled::SchemaChanged => mirror = true,
            Pulled::Stale(tables) => {
                let forget: Vec<Statement> = tables
                    .iter()
                    .map(|t| {
                        Statement::new(
                            "DELETE FROM _tidepool_replica_tables WHERE tbl = ?",
                            (t.as_str(),),
                        )
                    })
                    .collect();
                local.batch(forget).await?;
                mirror = true;
            }
        }
    }
    if offline.is_some() {
        let tables = local_tables(local).await?;
        let statements = offline::capture_statements(local, &tables).await?;
        if !statements.is_empty() {
            local.batch(statements).await?;
        }
    }
    report.position = state.position;
    report.tables_changed.sort();
    report.tables_changed.dedup();
    Ok(())
}

/// Creates the change table and registry on the server unless they exist.
async fn ensure_base(remote: &Connection) -> Result<()> {
    let row = one_row(remote, capture::BASE_INSTALLED, vec![]).await?;
    if row.get::<i64>(0)? == 3 {
        return Ok(());
    }
    install(
        remote,
        capture::INSTALL_BASE
            .iter()
            .map(|sql| Statement::new(sql, ()))
            .collect(),
    )
    .await
}

/// Runs capture statements on the server in one `BEGIN IMMEDIATE` transaction, so that two
/// replicas installing at once wait for each other (SQLite's busy timeout) instead of failing
/// on a stale snapshot.
async fn install(remote: &Connection, statements: Vec<Statement>) -> Result<()> {
    let tx = remote
        .transaction_with(TransactionBehavior::Immediate)
        .await
        .map_err(capture_refused)?;
    tx.batch(statements).await.map_err(capture_refused)?;
    tx.commit().await
}

/// Brings the replica's tables, indexes and views in line with the server's: installs or
/// upgrades capture where the registry is behind, copies tables that are new or changed
/// (resuming a copy a killed sync left), drops tables the server no longer has.
async fn mirror_schema(
    local: &Connection,
    remote: &Connection,
    state: &mut LocalState,
    schema_version: i64,
    offline: Option<&Offline>,
    report: &mut SyncReport,
) -> Result<()> {
    let mut server: BTreeMap<String, TableInfo> = BTreeMap::new();
    let mut installs = Vec::new();
    for row in rows(remote, capture::LIST_TABLES, vec![]).await? {
        let name: String = row.get(0)?;
        let sql: String = row.get(1)?;
        let registry_sql: Option<String> = row.get(2)?;
        let capture: Option<i64> = row.get(5)?;
        let triggers: i64 = row.get(7)?;
        if registry_sql.as_deref() == Some(sql.as_str())
            && capture == Some(capture::CAPTURE_VERSION)
            && triggers == capture::TRIGGERS_PER_TABLE
        {
            let info = TableInfo::from_registry(
                sql,
                &row.get::<String>(3)?,
                &row.get::<String>(4)?,
                row.get(6)?,
            )?;
            server.insert(name, info);
            continue;
        }
        let columns: Vec<(String, i64)> = rows(
            remote,
            capture::TABLE_COLUMNS,
            vec![Value::Text(name.clone())],
        )
        .await?
        .iter()
        .map(|r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)))
        .collect::<Result<_>>()?;
        let info = TableInfo {
            key: Key::from_columns(&columns),
            cols: columns.into_iter().map(|(name, _)| name).collect(),
            sql,
            install: rand::random::<i64>() & i64::MAX,
        };
        installs.extend(capture::install_table(
            &name,
            &info.sql,
            &info.cols,
            &info.key,
            info.install,
        ));
        server.insert(name, info);
    }
    if !installs.is_empty() {
        install(
            remote,
            installs.iter().map(|sql| Statement::new(sql, ())).collect(),
        )
        .await?;
    }

    let mut mirrored: BTreeMap<String, TableInfo> = BTreeMap::new();
    for row in rows(local, LOCAL_TABLES, vec![]).await? {
        mirrored.insert(row.get(0)?, TableInfo::from_row(&row)?);
    }

    let mut copy_starts = Vec::new();
    for (name, info) in &server {
        if mirrored.get(name) == Some(info) {
            continue;
        }
        copy_starts.push(copy_table(local, remote, name, info, offline, report).await?);
    }
    let mut drops = Vec::new();
    for name in mirrored.keys().filter(|name| !server.contains_key(*name)) {
        drops.push(Statement::new(
            &format!("DROP TABLE IF EXISTS {}", ident(name)),
            (),
        ));
        drops.push(Statement::new(
            "DELETE FROM _tidepool_replica_tables WHERE tbl = ?",
            (name.as_str(),),
        ));
    }
    drops.extend(
        rows(
            local,
            "SELECT tbl, stage FROM _tidepool_replica_copies",
            vec![],
        )
        .await?
        .iter()
        .filter(|r| r.get::<String>(0).is_ok_and(|t| !server.contains_key(&t)))
        .flat_map(|r| {
            let stage: String = r.get(1).unwrap_or_default();
            let table: String = r.get(0).unwrap_or_default();
            [
                Statement::new(&format!("DROP TABLE IF EXISTS {}", ident(&stage)), ()),
                Statement::new(
                    "DELETE FROM _tidepool_replica_copies WHERE tbl = ?",
                    (table,),
                ),
            ]
        }),
    );
    report.tables_dropped += drops.len() / 2;
    let mut finish = drops;
    finish.extend(mirror_indexes_and_views(local, remote).await?);
    // A fresh replica starts pulling where its oldest copy began; an existing one goes back to
    // the oldest copy it just made, so that nothing a copy missed is lost (re-applying a change
    // is harmless: each carries its row's latest state).
    let position = match copy_starts.iter().min() {
        Some(&start) if state.bootstrapped => state.position.min(start),
        Some(&start) => start,
        None if state.bootstrapped => state.position,
        None => server_position(remote).await?.0,
    };
    state.position = position;
    state.schema_version = Some(schema_version);
    state.bootstrapped = true;
    finish.push(set_state("position", position));
    finish.push(set_state("schema_version", schema_version));
    finish.push(set_state("bootstrapped", 1));
    local.batch(finish).await?;
    Ok(())
}

/// Indexes and views by name: (type, SQL).
async fn schema_objects(conn: &Connection) -> Result<BTreeMap<String, (String, String)>> {
    rows(conn, capture::LIST_OTHER_SCHEMA, vec![])
        .await?
        .iter()
        .map(|r| Ok((r.get(1)?, (r.get(0)?, r.get(3)?))))
        .collect()
}

/// Mirrors the server's indexes and views: drops what changed or went, creates what is new.
async fn mirror_indexes_and_views(
    local: &Connection,
    remote: &Connection,
) -> Result<Vec<Statement>> {
    let server = schema_objects(remote).await?;
    let here = schema_objects(local).await?;
    let mut out = Vec::new();
    for (name, (kind, sql)) in &here {
        if server.get(name).is_none_or(|(_, s)| s != sql) {
            out.push(Statement::new(
                &format!("DROP {} IF EXISTS {}", kind.to_uppercase(), ident(name)),
                (),
            ));
        }
    }
    // Indexes before views (the listing orders them so), each only if missing or changed.
    for (name, (_, sql)) in &server {
        if here.get(name).is_none_or(|(_, s)| s != sql) {
            out.push(Statement::new(sql, ()));
        }
    }
    Ok(out)
}

/// Copies one table from the server into a staging table, page by page (each page committed
/// with the copy's progress, so a killed copy resumes), then swaps it in atomically: readers
/// see the old table or the whole new one. Returns the change-stream position the copy began
/// at.
async fn copy_table(
    local: &Connection,
    remote: &Connection,
    name: &str,
    info: &TableInfo,
    offline: Option<&Offline>,
    report: &mut SyncReport,
) -> Result<i64> {
    let stage = format!("_tidepool_stage_{name}");
    let resumed = rows(
        local,
        "SELECT last_key, start_seq FROM _tidepool_replica_copies \
         WHERE tbl = ? AND sql = ? AND cols = ? AND key = ? AND install = ?",
        vec![
            Value::Text(name.to_owned()),
            Value::Text(info.sql.clone()),
            Value::Text(info.cols_registry()),
            Value::Text(info.key.to_registry()),
            Value::Integer(info.install),
        ],
    )
    .await?;
    let (mut last_key, start_seq) = match resumed.first() {
        Some(row) => {
            let key: Option<String> = row.get(0)?;
            let key = key
                .map(|k| literal::parse_list(&k).map_err(|e| malformed(format!("copy key: {e}"))))
                .transpose()?;
            report.copies_resumed += 1;
            (key, row.get::<i64>(1)?)
        }
        None => {
            let (start_seq, _) = server_position(remote).await?;
            let create = rename_create(&info.sql, &stage).ok_or_else(|| {
                Error::new(
                    ErrorKind::Usage,
                    code::UNSUPPORTED,
                    format!(
                        "cannot mirror table {name:?}: its SQL is not a CREATE TABLE statement"
                    ),
                )
            })?;
            local
                .batch([
                    Statement::new(&format!("DROP TABLE IF EXISTS {}", ident(&stage)), ()),
                    Statement::new(&create, ()),
                    Statement::new(
                        "INSERT OR REPLACE INTO _tidepool_replica_copies \
                         (tbl, stage, sql, cols, key, install, last_key, start_seq, rows) \
                         VALUES (?, ?, ?, ?, ?, ?, NULL, ?, 0)",
                        vec![
                            Value::Text(name.to_owned()),
                            Value::Text(stage.clone()),
                            Value::Text(info.sql.clone()),
                            Value::Text(info.cols_registry()),
                            Value::Text(info.key.to_registry()),
                            Value::Integer(info.install),
                            Value::Integer(start_seq),
                        ],
                    ),
                ])
                .await?;
            (None, start_seq)
        }
    };

    let key_cols = info.key.columns_sql();
    let select = format!("SELECT {} FROM {}", info.select_cols(), ident(name));
    let order = format!("ORDER BY {} LIMIT ?", key_cols.join(", "));
    let after = format!(
        "WHERE ({}) > ({})",
        key_cols.join(", "),
        vec!["?"; key_cols.len()].join(", ")
    );
    let insert = info.upsert_sql(&stage);
    let positions = info.key_positions();
    loop {
        let page = match &last_key {
            None => {
                rows(
                    remote,
                    &format!("{select} {order}"),
                    vec![Value::Integer(PAGE)],
                )
                .await?
            }
            Some(key) => {
                let mut params = key.clone();
                params.push(Value::Integer(PAGE));
                rows(remote, &format!("{select} {after} {order}"), params).await?
            }
        };
        let Some(last) = page.last() else { break };
        let key: Vec<Value> = positions
            .iter()
            .map(|&i| last.value(i).cloned())
            .collect::<Result<_>>()?;
        let count = page.len();
        let mut statements: Vec<Statement> = page
            .into_iter()
            .map(|row| Statement::new(&insert, row.into_values()))
            .collect();
        statements.push(Statement::new(
            "UPDATE _tidepool_replica_copies SET last_key = ?, rows = rows + ? WHERE tbl = ?",
            vec![
                Value::Text(literal::format_list(&key)),
                Value::Integer(count as i64),
                Value::Text(name.to_owned()),
            ],
        ));
        local.batch(statements).await?;
        report.rows_copied += count as u64;
        last_key = Some(key);
        if (count as i64) < PAGE {
            break;
        }
    }

    let mut swap = vec![
        Statement::new(&format!("DROP TABLE IF EXISTS {}", ident(name)), ()),
        Statement::new(
            &format!("ALTER TABLE {} RENAME TO {}", ident(&stage), ident(name)),
            (),
        ),
        Statement::new(
            "INSERT OR REPLACE INTO _tidepool_replica_tables (tbl, sql, cols, key, install) \
             VALUES (?, ?, ?, ?, ?)",
            vec![
                Value::Text(name.to_owned()),
                Value::Text(info.sql.clone()),
                Value::Text(info.cols_registry()),
                Value::Text(info.key.to_registry()),
                Value::Integer(info.install),
            ],
        ),
        Statement::new(
            "DELETE FROM _tidepool_replica_copies WHERE tbl = ?",
            (name,),
        ),
    ];
    match offline {
        None => {
            local.batch(swap).await?;
        }
        Some(_) => {
            // The new table captures local writes from the moment it is swapped in, and shows
            // the device's changes not pushed yet.
            swap.extend(
                offline::capture::install_table(name, &info.cols, &info.key)
                    .iter()
                    .map(|sql| Statement::new(sql, ())),
            );
            let tables = BTreeMap::from([(name.to_owned(), info.clone())]);
            offline::apply_with_replay(local, swap, &|e| e.table == name, &tables).await?;
        }
    }
    report.tables_changed.push(name.to_owned());
    report.tables_copied += 1;
    Ok(start_seq)
}

/// Pulls and applies every change after the replica's position, unless the server's schema
/// changed since the replica mirrored it.
async fn pull(
    local: &Connection,
    remote: &Connection,
    state: &mut LocalState,
    offline: Option<&Offline>,
    pull_stmt: &mut PullStatement,
    report: &mut SyncReport,
) -> Result<Pulled> {
    if pull_stmt.wanted && pull_stmt.stmt.is_none() {
        // Stored on the server once per stream: each pull then sends an id and two integers.
        pull_stmt.stmt = Some(remote.prepare(capture::PULL).await?);
    }
    let infos = local_tables(local).await?;
    let tables: BTreeMap<String, (TableInfo, String, String)> = infos
        .iter()
        .map(|(name, info)| {
            let (upsert, delete) = (info.upsert_sql(name), info.delete_sql(name));
            (name.clone(), (info.clone(), upsert, delete))
        })
        .collect();
    let mut stale = BTreeSet::new();
    loop {
        let params = vec![Value::Integer(state.position), Value::Integer(PAGE)];
        let page = match &pull_stmt.stmt {
            Some(stmt) => stmt.query_all(remote, params).await?.rows,
            None => rows(remote, capture::PULL, params).await?,
        };
        let (header, changes) = match page.split_first() {
            Some((header, changes)) if header.get::<i64>(0)? == -1 => (header, changes),
            _ => return Err(malformed("the pull's header row is missing")),
        };
        report.server_position = report.server_position.max(header.get(2)?);
        if state.schema_version != Some(header.get(3)?) {
            return Ok(Pulled::SchemaChanged);
        }
        let pruned: Option<i64> = header.get(1)?;
        if state.bootstrapped && pruned.is_some_and(|p| p > state.position) {
            // Tombstones this replica has not seen were collected: copy everything again.
            state.bootstrapped = false;
            return Ok(Pulled::Stale(tables.keys().cloned().collect()));
        }
        let Some(last) = changes.last() else { break };
        let last_seq: i64 = last.get(0)?;
        let count = changes.len();
        let mut statements = Vec::with_capacity(count + 1);
        let mut touched = std::collections::HashSet::new();
        for change in changes {
            let table: String = change.get(1)?;
            let Some((info, upsert, delete)) = tables.get(&table) else {
                continue;
            };
            let pk: String = change.get(2)?;
            report.tables_changed.push(table.clone());
            let key = literal::parse_list(&pk)
                .map_err(|e| malformed(format!("change key of {table:?}: {e}")))?;
            touched.insert((table.clone(), pk));
            match change.get::<Option<String>>(3)? {
                None => statements.push(Statement::new(delete, key)),
                Some(row) => {
                    let values = literal::parse_list(&row)
                        .map_err(|e| malformed(format!("change row of {table:?}: {e}")))?;
                    if values.len() != info.cols.len() {
                        stale.insert(table);
                        continue;
                    }
                    let args = match info.key {
                        Key::Rowid => key.into_iter().chain(values).collect(),
                        Key::Columns(_) => values,
                    };
                    statements.push(Statement::new(upsert, args));
                }
            }
        }
        statements.push(set_state("position", last_seq));
        if offline.is_some() {
            let replay =
                |e: &offline::resolve::Entry| touched.contains(&(e.table.clone(), e.pk.clone()));
            offline::apply_with_replay(local, statements, &replay, &infos).await?;
        } else {
            local.batch(statements).await?;
        }
        state.position = last_seq;
        report.changes_applied += count as u64;
        if (count as i64) < PAGE {
            break;
        }
    }
    Ok(if stale.is_empty() {
        Pulled::Done
    } else {
        Pulled::Stale(stale)
    })
}

/// `CREATE TABLE name ...` with another name (for the staging copy). `None` if the text does
/// not start the way SQLite stores a table's SQL.
fn rename_create(sql: &str, new_name: &str) -> Option<String> {
    let rest = strip_keyword(sql.trim_start(), "CREATE")?;
    let rest = strip_keyword(rest, "TABLE")?;
    let (_, mut rest) = split_ident(rest)?;
    if let Some(after_dot) = rest.trim_start().strip_prefix('.') {
        rest = split_ident(after_dot)?.1;
    }
    Some(format!("CREATE TABLE {}{rest}", ident(new_name)))
}

fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let head = text.get(..keyword.len())?;
    head.eq_ignore_ascii_case(keyword)
        .then(|| text[keyword.len()..].trim_start())
}

/// Splits a leading identifier (bare, `"quoted"`, `[bracketed]` or `` `backticked` ``) off.
fn split_ident(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    let close = match text.chars().next()? {
        '"' => '"',
        '[' => ']',
        '`' => '`',
        '\'' => '\'',
        _ => {
            let end = text
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()))
                .unwrap_or(text.len());
            return (end > 0).then(|| text.split_at(end));
        }
    };
    let mut i = 1;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        if bytes[i] == close as u8 {
            if close != ']' && bytes.get(i + 1) == Some(&(close as u8)) {
                i += 2;
                continue;
            }
            return Some(text.split_at(i + 1));
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_tables_take_the_definition_under_a_new_name() {
        for (sql, rest) in [
            ("CREATE TABLE t(a)", "(a)"),
            (
                "CREATE TABLE \"my \"\"t\"\"\" (a INTEGER PRIMARY KEY)",
                " (a INTEGER PRIMARY KEY)",
            ),
            ("create table [x y](a)", "(a)"),
            (
                "CREATE TABLE main.t (a) WITHOUT ROWID",
                " (a) WITHOUT ROWID",
            ),
            ("CREATE TABLE `t`(a)", "(a)"),
        ] {
            assert_eq!(
                rename_create(sql, "_stage").as_deref(),
                Some(format!("CREATE TABLE \"_stage\"{rest}").as_str()),
                "{sql}"
            );
        }
        assert_eq!(rename_create("CREATE VIEW v AS SELECT 1", "s"), None);
        assert_eq!(rename_create("CREATE TABLE \"open", "s"), None);
    }
}
