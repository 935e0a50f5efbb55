//! Capturing local writes: triggers on every mirrored table append each change to the
//! `_tidepool_outbox` table, in the writer's transaction, so a change is in the outbox exactly
//! when it is committed (docs/adr/0003-offline-writes.md).
//!
//! Two SQL functions tie the triggers to this process. `tidepool_capturing()` is 1 only on the
//! application's writer connection: sync applies server changes through a connection of its
//! own, where it is 0, so what arrives from the server is never sent back. `tidepool_hlc(tbl)`
//! gives every change of one transaction the same hybrid-logical-clock value, taken at the
//! transaction's first change, and notes the table for change notifications; commit and
//! rollback hooks end the transaction's value.

use std::collections::BTreeSet;
use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::functions::FunctionFlags;

use super::clock::Hlc;
use crate::replica::capture::Key;
use crate::replica::literal::{ident, string};

/// The device's own tables for offline writes (in its file, beside the replica's).
pub(crate) const LOCAL_SETUP: &str = "\
    CREATE TABLE IF NOT EXISTS _tidepool_outbox (\
        id INTEGER PRIMARY KEY AUTOINCREMENT, hlc INTEGER NOT NULL, tbl TEXT NOT NULL, \
        pk TEXT NOT NULL, op TEXT NOT NULL, old TEXT, new TEXT); \
    CREATE TABLE IF NOT EXISTS _tidepool_conflicts (\
        id INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, key TEXT NOT NULL, \
        kind TEXT NOT NULL, rule TEXT NOT NULL, outcome TEXT NOT NULL, columns TEXT NOT NULL, \
        local TEXT, remote TEXT, base TEXT, error_code TEXT, error_message TEXT, \
        hlc INTEGER NOT NULL); \
    INSERT OR IGNORE INTO _tidepool_replica (key, value) \
        VALUES ('site', random() & 9223372036854775807)";

/// What a device's writer knows about the transaction it is in.
#[derive(Debug, Default)]
struct Txn {
    hlc: Option<i64>,
    tables: BTreeSet<String>,
}

/// The capture state shared by a device's connections.
#[derive(Debug, Default)]
pub(crate) struct LocalCapture {
    pub hlc: Hlc,
    txn: Mutex<Txn>,
    /// Tables of transactions committed since the last notification.
    committed: Mutex<BTreeSet<String>>,
}

impl LocalCapture {
    /// Registers the capture functions on one connection; on the application's writer
    /// (`capturing`), also the hooks that end a transaction's clock value.
    pub fn install(
        self: &Arc<Self>,
        conn: &rusqlite::Connection,
        capturing: bool,
    ) -> rusqlite::Result<()> {
        conn.create_scalar_function(
            "tidepool_capturing",
            0,
            FunctionFlags::SQLITE_UTF8,
            move |_| Ok(i64::from(capturing)),
        )?;
        let me = Arc::clone(self);
        conn.create_scalar_function("tidepool_hlc", 1, FunctionFlags::SQLITE_UTF8, move |ctx| {
            if !capturing {
                return Err(rusqlite::Error::UserFunctionError(
                    "changes are captured on the application's connection only".into(),
                ));
            }
            let table: String = ctx.get(0)?;
            let mut txn = me.txn.lock();
            let hlc = *txn.hlc.get_or_insert_with(|| me.hlc.tick());
            txn.tables.insert(table);
            Ok(hlc)
        })?;
        if capturing {
            // The clock goes on from where this device's stamps got to, whatever the wall
            // clock says after a restart (the tables do not exist before the first sync).
            let seen: rusqlite::Result<Option<i64>> = conn.query_row(
                "SELECT max(v) FROM (SELECT max(hlc) AS v FROM _tidepool_outbox \
                 UNION ALL SELECT value FROM _tidepool_replica WHERE key = 'hlc')",
                [],
                |r| r.get(0),
            );
            if let Ok(Some(seen)) = seen {
                self.hlc.observe(seen);
            }
            let me = Arc::clone(self);
            conn.commit_hook(Some(move || {
                let tables = std::mem::take(&mut *me.txn.lock()).tables;
                me.committed.lock().extend(tables);
                false
            }));
            let me = Arc::clone(self);
            conn.rollback_hook(Some(move || {
                *me.txn.lock() = Txn::default();
            }));
        }
        Ok(())
    }

    /// The tables written by transactions committed since the last call.
    pub fn take_committed(&self) -> Vec<String> {
        std::mem::take(&mut *self.committed.lock())
            .into_iter()
            .collect()
    }
}

/// `'a',`quote(R."a")`,'b',...`: a row image of `cols` of trigger row `row` (`NEW`/`OLD`), or
/// of the table's own columns when `row` is empty.
pub(crate) fn image_expr(row: &str, cols: &[String]) -> String {
    if cols.is_empty() {
        return "''".to_owned();
    }
    let prefix = if row.is_empty() {
        String::new()
    } else {
        format!("{row}.")
    };
    cols.iter()
        .enumerate()
        .map(|(n, c)| {
            let sep = if n == 0 { "" } else { "," };
            format!(
                "{}||quote({prefix}{})",
                string(&format!("{sep}{},", string(c))),
                ident(c)
            )
        })
        .collect::<Vec<_>>()
        .join("||")
}

/// `quote(R."k1")||','||quote(R."k2")`: the key as a literal list.
pub(crate) fn key_expr(row: &str, key: &Key) -> String {
    let prefix = if row.is_empty() {
        String::new()
    } else {
        format!("{row}.")
    };
    key.columns_sql()
        .iter()
        .map(|c| format!("quote({prefix}{c})"))
        .collect::<Vec<_>>()
        .join("||','||")
}

fn trigger_name(table: &str, what: &str) -> String {
    ident(&format!("_tidepool_outbox_{table}_{what}"))
}

/// The statements that (re)install capture on a mirrored table of the device.
pub(crate) fn install_table(table: &str, cols: &[String], key: &Key) -> Vec<String> {
    let t = ident(table);
    let name = string(table);
    let (key_new, key_old) = (key_expr("NEW", key), key_expr("OLD", key));
    let (new, old) = (image_expr("NEW", cols), image_expr("OLD", cols));
    let insert = "INSERT INTO _tidepool_outbox (hlc, tbl, pk, op, old, new)";
    let moved = format!("({key_old}) IS NOT ({key_new})");
    let mut out: Vec<String> = ["insert", "update", "delete"]
        .iter()
        .map(|w| format!("DROP TRIGGER IF EXISTS {}", trigger_name(table, w)))
        .collect();
    out.push(format!(
        "CREATE TRIGGER {} AFTER INSERT ON {t} WHEN tidepool_capturing() BEGIN \
         {insert} VALUES (tidepool_hlc({name}), {name}, {key_new}, 'I', NULL, {new}); END",
        trigger_name(table, "insert")
    ));
    // A key change is the old row's delete and the new row's insert.
    out.push(format!(
        "CREATE TRIGGER {} AFTER UPDATE ON {t} WHEN tidepool_capturing() BEGIN \
         {insert} SELECT tidepool_hlc({name}), {name}, {key_old}, 'D', {old}, NULL WHERE {moved}; \
         {insert} SELECT tidepool_hlc({name}), {name}, {key_new}, \
           CASE WHEN {moved} THEN 'I' ELSE 'U' END, CASE WHEN {moved} THEN NULL ELSE {old} END, \
           {new} WHERE {moved} OR ({old}) IS NOT ({new}); END",
        trigger_name(table, "update")
    ));
    out.push(format!(
        "CREATE TRIGGER {} AFTER DELETE ON {t} WHEN tidepool_capturing() BEGIN \
         {insert} VALUES (tidepool_hlc({name}), {name}, {key_old}, 'D', {old}, NULL); END",
        trigger_name(table, "delete")
    ));
    out
}
