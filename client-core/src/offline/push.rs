//! Pushing the outbox exactly once. Each round takes the oldest whole local transactions (up
//! to [`PUSH_PAGE`] changes), and in one `BEGIN IMMEDIATE` transaction on the server: reads the
//! device's watermark, the rows and stamps the changes touch, decides every change
//! ([`super::resolve`]), writes what won, the new stamps, any conflict records, and the new
//! watermark; then commits. A push whose reply was lost is found by its watermark next time and
//! not applied again; the conflict records it left on the server are fetched instead. A
//! transaction the server refuses (a constraint, a permission) is rolled back alone, recorded
//! as rejected, and the rest goes on.

use std::collections::{BTreeMap, BTreeSet};

use super::clock::Clocks;
use super::rebase;
use super::resolve::{self, decide, Entry, Op, Rules, Write};
use super::types::{
    image_format, image_parse, Conflict, ConflictKind, ConflictOutcome, ConflictRule, RowImage,
};
use super::writes::Writes;
use super::Offline;
use crate::error::{code, Error, ErrorKind, Result};
use crate::replica::literal::{format_list, format_names, ident, parse_list};
use crate::replica::sync::{rows, TableInfo};
use crate::replica::SyncReport;
use crate::{Connection, Statement, Transaction, TransactionBehavior, Value};

/// Changes per push round (whole local transactions: a larger one goes alone).
pub(crate) const PUSH_PAGE: i64 = 1000;

/// The server's objects for offline writes, beside the change stream's.
pub(crate) const INSTALL_BASE: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS _tidepool_clocks (tbl TEXT NOT NULL, pk TEXT NOT NULL, \
        deleted INTEGER NOT NULL, clocks TEXT NOT NULL, PRIMARY KEY (tbl, pk)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS _tidepool_clients (site INTEGER PRIMARY KEY, \
        pushed INTEGER NOT NULL, seen INTEGER NOT NULL, at INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _tidepool_conflicts_out (site INTEGER NOT NULL, \
        outbox_id INTEGER NOT NULL, record TEXT NOT NULL)",
];

pub(crate) const BASE_INSTALLED: &str = "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
    AND name IN ('_tidepool_clocks', '_tidepool_clients', '_tidepool_conflicts_out')";

/// Collects tombstones every client active within the horizon (`?`, seconds) has read past
/// (SPEC §17.7, §18.6): records the point in `_tidepool_meta`, then deletes the change
/// entries of deleted rows up to it and the stamps of rows no longer in the stream.
const COLLECT: &[&str] = &[
    "INSERT OR REPLACE INTO _tidepool_meta (key, value) SELECT 'pruned', m FROM \
       (SELECT min(seen) AS m FROM _tidepool_clients WHERE at > unixepoch() - ?) \
     WHERE m IS NOT NULL AND m > coalesce((SELECT value FROM _tidepool_meta WHERE key = 'pruned'), 0)",
    "DELETE FROM _tidepool_changes WHERE row IS NULL \
       AND seq <= coalesce((SELECT value FROM _tidepool_meta WHERE key = 'pruned'), 0)",
    "DELETE FROM _tidepool_clocks WHERE deleted = 1 AND NOT EXISTS \
       (SELECT 1 FROM _tidepool_changes AS c WHERE c.tbl = _tidepool_clocks.tbl AND c.pk = _tidepool_clocks.pk)",
];

/// How often one process collects tombstones (at its first push, then at most this often).
const COLLECT_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

const OUTBOX_COLS: &str = "id, hlc, tbl, pk, op, old, new";

/// The outbox's rows as entries.
pub(crate) fn entries(rows: Vec<crate::Row>) -> Result<Vec<Entry>> {
    rows.iter()
        .map(|r| {
            let pk: String = r.get(3)?;
            let image = |i: usize| -> Result<Option<RowImage>> {
                r.get::<Option<String>>(i)?
                    .map(|t| {
                        image_parse(&t).ok_or_else(|| malformed(format!("outbox row image {t:?}")))
                    })
                    .transpose()
            };
            Ok(Entry {
                id: r.get(0)?,
                hlc: r.get(1)?,
                table: r.get(2)?,
                key: parse_list(&pk).map_err(|e| malformed(format!("outbox key {pk:?}: {e}")))?,
                pk,
                op: match r.get::<String>(4)?.as_str() {
                    "I" => Op::Insert,
                    "U" => Op::Update,
                    _ => Op::Delete,
                },
                old: image(5)?,
                new: image(6)?,
            })
        })
        .collect()
}

fn malformed(message: String) -> Error {
    Error::new(ErrorKind::Protocol, code::CHANGE_MALFORMED, message)
}

/// Whether the server refused a change for good (so it is recorded and skipped) rather than
/// failed to answer (so the push stops and the change stays queued).
fn is_rejection(e: &Error) -> bool {
    let code = e.code();
    (e.kind() == ErrorKind::Sql
        && !e.is_busy()
        && !code.starts_with("SQLITE_IOERR")
        && !code.starts_with("SQLITE_INTERRUPT")
        && !code.starts_with("SQLITE_FULL"))
        || code == "FORBIDDEN"
}

async fn meta(local: &Connection, key: &str) -> Result<Option<i64>> {
    let found = rows(
        local,
        "SELECT value FROM _tidepool_replica WHERE key = ?",
        vec![Value::Text(key.into())],
    )
    .await?;
    found.first().map(|r| r.get::<i64>(0)).transpose()
}

fn set_meta(key: &str, value: i64) -> Statement {
    Statement::new(
        "INSERT OR REPLACE INTO _tidepool_replica (key, value) VALUES (?, ?)",
        (key, value),
    )
}

/// The server's rows and stamps for a set of keys: `(table, pk literal) -> (row, stamps)`.
type ServerState = BTreeMap<(String, String), (Option<RowImage>, Option<Clocks>)>;

async fn read_state(
    tx: &Transaction<'_>,
    tables: &BTreeMap<String, TableInfo>,
    keys: &BTreeMap<String, BTreeMap<String, Vec<Value>>>,
    watermark_of: Option<i64>,
) -> Result<(ServerState, i64)> {
    let mut state = ServerState::new();
    // Every read in one request: the watermark, then per table and chunk of keys the rows
    // (key literal, then the columns) and their stamps.
    let mut queries = Vec::new();
    let mut shapes: Vec<(String, bool)> = Vec::new(); // (table, is the stamps query)
    if let Some(site) = watermark_of {
        queries.push(Statement::new(
            "SELECT pushed FROM _tidepool_clients WHERE site = ?",
            (site,),
        ));
    }
    for (table, keyed) in keys {
        for pk in keyed.keys() {
            state.insert((table.clone(), pk.clone()), (None, None));
        }
        let Some(info) = tables.get(table) else {
            continue;
        };
        let key_cols = info.key.columns_sql();
        let entries: Vec<(&String, &Vec<Value>)> = keyed.iter().collect();
        for chunk in entries.chunks(500) {
            let tuple = format!("({})", vec!["?"; key_cols.len()].join(","));
            let cols: Vec<String> = info.cols.iter().map(|c| ident(c)).collect();
            let sql = format!(
                "SELECT {},{} FROM {} WHERE ({}) IN (VALUES {})",
                super::capture::key_expr("", &info.key),
                cols.join(","),
                ident(table),
                key_cols.join(","),
                vec![tuple; chunk.len()].join(",")
            );
            let params: Vec<Value> = chunk.iter().flat_map(|(_, k)| k.iter().cloned()).collect();
            queries.push(Statement::new(&sql, params));
            shapes.push((table.clone(), false));
            let sql = format!(
                "SELECT pk,deleted,clocks FROM _tidepool_clocks WHERE tbl=? AND pk IN ({})",
                vec!["?"; chunk.len()].join(",")
            );
            let params: Vec<Value> = std::iter::once(Value::Text(table.clone()))
                .chain(chunk.iter().map(|(pk, _)| Value::Text((*pk).clone())))
                .collect();
            queries.push(Statement::new(&sql, params));
            shapes.push((table.clone(), true));
        }
    }
    if queries.is_empty() {
        return Ok((state, 0));
    }
    // Replies are limited in size too: a few chunks of keys per request.
    let mut results = Vec::with_capacity(queries.len());
    let mut queries = queries.into_iter().peekable();
    while queries.peek().is_some() {
        let part: Vec<Statement> = queries.by_ref().take(READS_PER_REQUEST).collect();
        results.extend(tx.batch(part).await?);
    }
    let mut results = results.into_iter();
    let mut pushed = 0;
    if watermark_of.is_some() {
        if let Some(row) = results.next().and_then(|r| r.rows.into_iter().next()) {
            pushed = row.get(0)?;
        }
    }
    for ((table, stamps), result) in shapes.into_iter().zip(results) {
        for row in result.rows {
            let pk: String = row.get(0)?;
            if stamps {
                let text: String = row.get(2)?;
                let clocks = Clocks::parse(&text, row.get::<i64>(1)? != 0)
                    .ok_or_else(|| malformed(format!("stamps {text:?}")))?;
                state.entry((table.clone(), pk)).or_default().1 = Some(clocks);
            } else {
                let Some(info) = tables.get(&table) else {
                    continue;
                };
                let image: RowImage = info
                    .cols
                    .iter()
                    .cloned()
                    .zip(row.into_values().into_iter().skip(1))
                    .collect();
                state.entry((table.clone(), pk)).or_default().0 = Some(image);
            }
        }
    }
    Ok((state, pushed))
}

fn keys_of<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
) -> BTreeMap<String, BTreeMap<String, Vec<Value>>> {
    let mut keys: BTreeMap<String, BTreeMap<String, Vec<Value>>> = BTreeMap::new();
    for e in entries {
        keys.entry(e.table.clone())
            .or_default()
            .insert(e.pk.clone(), e.key.clone());
    }
    keys
}

/// A conflict as one literal list, for the server's `_tidepool_conflicts_out` and back.
fn record_format(c: &Conflict, hlc: i64) -> String {
    let text = |s: &str| Value::Text(s.to_owned());
    let image = |i: &Option<RowImage>| {
        i.as_ref()
            .map_or(Value::Null, |i| Value::Text(image_format(i)))
    };
    let (err_code, err_message) = match &c.error {
        Some((code, message)) => (text(code), text(message)),
        None => (Value::Null, Value::Null),
    };
    format_list(&[
        text(&c.table),
        text(&format_list(&c.key)),
        text(c.kind.as_str()),
        text(c.rule.as_str()),
        text(c.outcome.as_str()),
        text(&format_names(&c.columns)),
        image(&c.local),
        image(&c.remote),
        image(&c.base),
        err_code,
        err_message,
        Value::Integer(hlc),
    ])
}

/// The local `_tidepool_conflicts` insert for a record made by [`record_format`].
fn store_record(record: &str) -> Result<Statement> {
    let values = parse_list(record).map_err(|e| malformed(format!("conflict record: {e}")))?;
    if values.len() != 12 {
        return Err(malformed(format!(
            "conflict record with {} fields",
            values.len()
        )));
    }
    Ok(Statement::new(
        "INSERT INTO _tidepool_conflicts (tbl, key, kind, rule, outcome, columns, local, remote, \
         base, error_code, error_message, hlc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        values,
    ))
}

/// The row a write leaves on the server, for deciding the next change of the same key.
fn after(row: Option<RowImage>, write: &Write) -> Option<RowImage> {
    match write {
        Write::Nothing => row,
        Write::Insert(image) => Some(image.clone()),
        Write::Update(image) => row.map(|mut row| {
            for (c, v) in image {
                match row.iter_mut().find(|(rc, _)| rc == c) {
                    Some((_, rv)) => *rv = v.clone(),
                    None => row.push((c.clone(), v.clone())),
                }
            }
            row
        }),
        Write::Delete => None,
    }
}

/// What deciding a group of changes produced.
#[derive(Default)]
struct Decided {
    statements: Vec<Statement>,
    /// (outbox id, conflict record).
    records: Vec<(i64, String)>,
    conflicts: u64,
    /// Keys whose local row must be set to the server's after the push.
    reset: BTreeSet<(String, String)>,
    max_stamp: i64,
}

fn decide_all(
    offline: &Offline,
    site: i64,
    entries: &[Entry],
    state: &mut ServerState,
    tables: &BTreeMap<String, TableInfo>,
) -> Decided {
    let mut out = Decided::default();
    let mut writes = Writes::default();
    for entry in entries {
        let slot = state
            .entry((entry.table.clone(), entry.pk.clone()))
            .or_default();
        let Some(info) = tables.get(&entry.table) else {
            let mut c = resolve::conflict_of(entry, ConflictKind::Rejected, Vec::new(), None);
            c.error = Some((
                "NO_SUCH_TABLE".into(),
                format!("the server has no table {:?}", entry.table),
            ));
            out.records.push((entry.id, record_format(&c, entry.hlc)));
            out.conflicts += 1;
            continue;
        };
        if let Some(clocks) = &slot.1 {
            out.max_stamp = out.max_stamp.max(clocks.latest().0);
        }
        let rules = Rules {
            policy: offline.policy(&entry.table),
            resolver: offline.resolver.as_deref(),
        };
        let decision = decide(entry, slot.0.as_ref(), slot.1.as_ref(), site, rules);
        writes.push(entry, info, &decision.write, decision.clocks.as_ref());
        if let Some(conflict) = &decision.conflict {
            out.records
                .push((entry.id, record_format(conflict, entry.hlc)));
            out.conflicts += 1;
            if conflict.outcome != ConflictOutcome::Local {
                out.reset.insert((entry.table.clone(), entry.pk.clone()));
            }
        }
        slot.0 = after(slot.0.take(), &decision.write);
        if let Some(clocks) = decision.clocks {
            slot.1 = Some(clocks);
        }
    }
    out.statements = writes.finish();
    out
}

fn record_statements(site: i64, records: &[(i64, String)]) -> Vec<Statement> {
    records
        .iter()
        .map(|(id, record)| {
            Statement::new(
                "INSERT INTO _tidepool_conflicts_out (site, outbox_id, record) VALUES (?, ?, ?)",
                vec![
                    Value::Integer(site),
                    Value::Integer(*id),
                    Value::Text(record.clone()),
                ],
            )
        })
        .collect()
}

/// Queries per read request: each reads up to 500 rows or their stamps.
const READS_PER_REQUEST: usize = 8;

/// How much one request carries (roughly, in bytes): a large local transaction goes in
/// several requests of one server transaction, as requests and replies have size limits.
const REQUEST_BYTES: usize = 2 << 20;

/// Splits statements into requests of about [`REQUEST_BYTES`].
fn requests(statements: Vec<Statement>) -> Vec<Vec<Statement>> {
    let mut out: Vec<Vec<Statement>> = Vec::new();
    let mut size = usize::MAX;
    for s in statements {
        let n = s.size_hint();
        if size.saturating_add(n) > REQUEST_BYTES {
            out.push(Vec::new());
            size = 0;
        }
        size += n;
        if let Some(last) = out.last_mut() {
            last.push(s);
        }
    }
    out
}

/// Writes a page's statements, all or none: one atomic batch, or for a large page several
/// inside a savepoint of their own, rolled back whole if one fails.
async fn write_all(tx: &Transaction<'_>, statements: Vec<Statement>) -> Result<()> {
    let mut parts = requests(statements);
    if parts.len() <= 1 {
        return match parts.pop() {
            Some(part) => tx.batch(part).await.map(drop),
            None => Ok(()),
        };
    }
    tx.execute("SAVEPOINT tidepool_push", ()).await?;
    for part in parts {
        if let Err(e) = tx.batch(part).await {
            tx.execute("ROLLBACK TO tidepool_push", ()).await?;
            tx.execute("RELEASE tidepool_push", ()).await?;
            return Err(e);
        }
    }
    tx.execute("RELEASE tidepool_push", ()).await.map(drop)
}

/// Splits entries into local transactions (consecutive entries with the same clock value).
fn groups(entries: &[Entry]) -> Vec<&[Entry]> {
    entries.chunk_by(|a, b| a.hlc == b.hlc).collect()
}

/// Pushes every pending change. Returns how many were pushed.
pub(crate) async fn push(
    local: &Connection,
    remote: &Connection,
    offline: &Offline,
    tables: &BTreeMap<String, TableInfo>,
    position: i64,
    report: &mut SyncReport,
) -> Result<()> {
    let site = meta(local, "site")
        .await?
        .ok_or_else(|| malformed("the device has no site id".into()))?;
    loop {
        let acked = meta(local, "acked").await?.unwrap_or(0);
        let mut batch = entries(
            rows(
                local,
                &format!(
                    "SELECT {OUTBOX_COLS} FROM _tidepool_outbox WHERE id > ? ORDER BY id LIMIT ?"
                ),
                vec![Value::Integer(acked), Value::Integer(PUSH_PAGE)],
            )
            .await?,
        )?;
        if batch.is_empty() {
            // Nothing queued, so nothing can be half-pushed either (a push's changes leave the
            // outbox only once its outcome is stored).
            return Ok(());
        }
        if batch.len() as i64 == PUSH_PAGE {
            let whole = groups(&batch);
            if whole.len() > 1 {
                let keep = batch.len() - whole.last().map_or(0, |g| g.len());
                batch.truncate(keep);
            } else {
                // One transaction larger than a page: it goes whole.
                batch = entries(
                    rows(
                        local,
                        &format!("SELECT {OUTBOX_COLS} FROM _tidepool_outbox WHERE id > ? AND hlc = ? ORDER BY id"),
                        vec![Value::Integer(acked), Value::Integer(batch[0].hlc)],
                    )
                    .await?,
                )?;
            }
        }
        let tx = remote
            .transaction_with(TransactionBehavior::Immediate)
            .await?;
        let (mut state, pushed) = read_state(&tx, tables, &keys_of(&batch), Some(site)).await?;
        if pushed > acked {
            // An earlier push committed but its reply never came back: take its outcome.
            recover(local, &tx, site, acked, pushed, tables).await?;
            tx.commit().await?;
            continue;
        }
        let last = batch.last().map_or(acked, |e| e.id);
        let mut decided = decide_all(offline, site, &batch, &mut state, tables);
        let watermark = [
            Statement::new(
                "INSERT INTO _tidepool_clients (site, pushed, seen, at) VALUES (?, ?, ?, unixepoch()) \
                 ON CONFLICT (site) DO UPDATE SET pushed = excluded.pushed, seen = excluded.seen, at = excluded.at",
                (site, last, position),
            ),
            Statement::new(
                "DELETE FROM _tidepool_conflicts_out WHERE site = ? AND outbox_id <= ?",
                (site, acked),
            ),
        ];
        let mut statements = std::mem::take(&mut decided.statements);
        statements.extend(record_statements(site, &decided.records));
        statements.extend(watermark.iter().cloned());
        let mut slow = false;
        match write_all(&tx, statements).await {
            Ok(()) => {}
            Err(e) if is_rejection(&e) => {
                // Some local transaction is refused: decide and write them one at a time, each
                // in a savepoint of its own, against the rows as the earlier ones left them.
                slow = true;
                decided = Decided::default();
                for group in groups(&batch) {
                    let (mut state, _) = read_state(&tx, tables, &keys_of(group), None).await?;
                    let mut one = decide_all(offline, site, group, &mut state, tables);
                    let mut statements = std::mem::take(&mut one.statements);
                    statements.extend(record_statements(site, &one.records));
                    match write_all(&tx, statements).await {
                        Ok(()) => {}
                        Err(e) if is_rejection(&e) => {
                            one = Decided::default();
                            for entry in group {
                                let mut c = resolve::conflict_of(
                                    entry,
                                    ConflictKind::Rejected,
                                    Vec::new(),
                                    None,
                                );
                                c.error = Some((e.code().to_owned(), e.message().to_owned()));
                                c.rule = ConflictRule::Rejected;
                                one.records.push((entry.id, record_format(&c, entry.hlc)));
                                one.conflicts += 1;
                                one.reset.insert((entry.table.clone(), entry.pk.clone()));
                            }
                            tx.batch(record_statements(site, &one.records)).await?;
                        }
                        Err(e) => return Err(e),
                    }
                    decided.records.extend(one.records);
                    decided.conflicts += one.conflicts;
                    decided.reset.extend(one.reset);
                    decided.max_stamp = decided.max_stamp.max(one.max_stamp);
                }
            }
            Err(e) => return Err(e),
        }
        if slow {
            tx.batch(watermark).await?;
        }
        let reset = read_reset(&tx, tables, &batch, &decided.reset).await?;
        // After the watermark: this device's `seen` counts too.
        if offline.collect_due(COLLECT_EVERY) {
            let horizon = offline.config.tombstone_horizon.as_secs() as i64;
            let collect = COLLECT.iter().enumerate().map(|(n, sql)| {
                if n == 0 {
                    Statement::new(sql, (horizon,))
                } else {
                    Statement::new(sql, ())
                }
            });
            tx.batch(collect.collect::<Vec<_>>()).await?;
        }
        tx.commit().await?;
        offline.capture.hlc.observe(decided.max_stamp);
        let records: Vec<&str> = decided.records.iter().map(|(_, r)| r.as_str()).collect();
        finish(local, &records, last, &reset, tables, decided.max_stamp).await?;
        report.changes_pushed += batch.len() as u64;
        report.conflicts += decided.conflicts;
    }
}

/// The server's rows for keys whose local row must be reset.
async fn read_reset(
    tx: &Transaction<'_>,
    tables: &BTreeMap<String, TableInfo>,
    entries: &[Entry],
    reset: &BTreeSet<(String, String)>,
) -> Result<ServerState> {
    if reset.is_empty() {
        return Ok(ServerState::new());
    }
    let chosen = entries
        .iter()
        .filter(|e| reset.contains(&(e.table.clone(), e.pk.clone())));
    Ok(read_state(tx, tables, &keys_of(chosen), None).await?.0)
}

/// After a push committed: stores its conflicts, drops the pushed changes from the outbox,
/// and sets the rows the server decided otherwise to the server's version, with any change
/// made since replayed on top. One local transaction.
async fn finish(
    local: &Connection,
    records: &[&str],
    last: i64,
    reset: &ServerState,
    tables: &BTreeMap<String, TableInfo>,
    max_stamp: i64,
) -> Result<()> {
    let tx = local
        .transaction_with(TransactionBehavior::Immediate)
        .await?;
    let mut statements = records
        .iter()
        .map(|r| store_record(r))
        .collect::<Result<Vec<_>>>()?;
    statements.push(Statement::new(
        "DELETE FROM _tidepool_outbox WHERE id <= ?",
        (last,),
    ));
    statements.push(set_meta("acked", last));
    // The latest stamp seen on the server, so the clock passes it after a restart too.
    statements.push(Statement::new(
        "INSERT OR REPLACE INTO _tidepool_replica (key, value) VALUES ('hlc', \
           max(?, coalesce((SELECT value FROM _tidepool_replica WHERE key = 'hlc'), 0)))",
        (max_stamp,),
    ));
    if !reset.is_empty() {
        let pending = entries(
            tx.query(
                &format!("SELECT {OUTBOX_COLS} FROM _tidepool_outbox WHERE id > ? ORDER BY id"),
                (last,),
            )
            .await?
            .collect_all()
            .await?,
        )?;
        for ((table, pk), (row, _)) in reset {
            let Some(info) = tables.get(table) else {
                continue;
            };
            let key = parse_list(pk).map_err(|e| malformed(format!("key {pk:?}: {e}")))?;
            statements.extend(rebase::set_row(table, info, &key, row.as_ref()));
            let mine = pending.iter().filter(|e| &e.table == table && &e.pk == pk);
            statements.extend(mine.flat_map(|e| rebase::replay(info, e)));
        }
    }
    tx.batch(statements).await?;
    tx.commit().await
}

/// Takes the outcome of a push that committed on the server without the device hearing back.
async fn recover(
    local: &Connection,
    tx: &Transaction<'_>,
    site: i64,
    acked: i64,
    pushed: i64,
    tables: &BTreeMap<String, TableInfo>,
) -> Result<()> {
    let records: Vec<String> = tx
        .query(
            "SELECT record FROM _tidepool_conflicts_out WHERE site = ? AND outbox_id > ? AND outbox_id <= ? ORDER BY rowid",
            (site, acked, pushed),
        )
        .await?
        .collect_all()
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect::<Result<_>>()?;
    let done = entries(
        rows(
            local,
            &format!(
                "SELECT {OUTBOX_COLS} FROM _tidepool_outbox WHERE id > ? AND id <= ? ORDER BY id"
            ),
            vec![Value::Integer(acked), Value::Integer(pushed)],
        )
        .await?,
    )?;
    // Every key the push touched is set to the server's row: the push's decisions are not
    // known here, and the server's rows are what they led to.
    let all: BTreeSet<(String, String)> = done
        .iter()
        .map(|e| (e.table.clone(), e.pk.clone()))
        .collect();
    let reset = read_reset(tx, tables, &done, &all).await?;
    let records: Vec<&str> = records.iter().map(String::as_str).collect();
    finish(local, &records, pushed, &reset, tables, 0).await
}

/// A conflict row of the local table, as the public type.
pub(crate) fn conflict_from_row(r: &crate::Row) -> Result<Conflict> {
    let text = |i: usize| r.get::<String>(i);
    let image = |i: usize| -> Result<Option<RowImage>> {
        Ok(r.get::<Option<String>>(i)?.and_then(|t| image_parse(&t)))
    };
    let key = text(2)?;
    let error = match (r.get::<Option<String>>(10)?, r.get::<Option<String>>(11)?) {
        (Some(c), m) => Some((c, m.unwrap_or_default())),
        _ => None,
    };
    Ok(Conflict {
        id: r.get(0)?,
        table: text(1)?,
        key: parse_list(&key).map_err(|e| malformed(format!("conflict key: {e}")))?,
        kind: ConflictKind::parse(&text(3)?).unwrap_or(ConflictKind::Rejected),
        rule: ConflictRule::parse(&text(4)?).unwrap_or(ConflictRule::Rejected),
        outcome: ConflictOutcome::parse(&text(5)?).unwrap_or(ConflictOutcome::Remote),
        columns: crate::replica::literal::parse_names(&text(6)?).unwrap_or_default(),
        local: image(7)?,
        remote: image(8)?,
        base: image(9)?,
        error,
        written_at: resolve::written_at(r.get(12)?),
    })
}

pub(crate) const CONFLICT_COLS: &str =
    "id, tbl, key, kind, rule, outcome, columns, local, remote, \
    base, error_code, error_message, hlc";
