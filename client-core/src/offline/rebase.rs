//! Keeping local intent on top of the server's rows. When sync writes a row the server sent
//! (a pulled change, or the server's version after a conflict), the device's changes to that
//! row that are not pushed yet are replayed over it, in order, in the same local transaction:
//! the device keeps seeing its own writes until the push decides them.

use super::resolve::{Entry, Op};
use super::types::{image_get, RowImage};
use crate::replica::capture::Key;
use crate::replica::literal::ident;
use crate::replica::sync::TableInfo;
use crate::{Statement, Value};

/// `INSERT OR REPLACE` of a whole row image (with the rowid for rowid-keyed tables).
fn upsert(table: &str, info: &TableInfo, key: &[Value], image: &RowImage, verb: &str) -> Statement {
    let mut cols: Vec<String> = image.iter().map(|(c, _)| ident(c)).collect();
    let mut values: Vec<Value> = image.iter().map(|(_, v)| v.clone()).collect();
    if info.key == Key::Rowid {
        cols.insert(0, "rowid".into());
        values.insert(0, key.first().cloned().unwrap_or(Value::Null));
    }
    // Only columns the local table has: a column the server added arrives with its copy.
    let known: Vec<usize> = cols
        .iter()
        .enumerate()
        .filter(|(n, c)| {
            (info.key == Key::Rowid && *n == 0) || info.cols.iter().any(|k| &ident(k) == *c)
        })
        .map(|(n, _)| n)
        .collect();
    let cols: Vec<String> = known.iter().map(|&n| cols[n].clone()).collect();
    let values: Vec<Value> = known.iter().map(|&n| values[n].clone()).collect();
    Statement::new(
        &format!(
            "{verb} INTO {} ({}) VALUES ({})",
            ident(table),
            cols.join(", "),
            vec!["?"; cols.len()].join(", ")
        ),
        values,
    )
}

/// Sets the local row of `key` to `row` (deletes it for `None`).
pub(crate) fn set_row(
    table: &str,
    info: &TableInfo,
    key: &[Value],
    row: Option<&RowImage>,
) -> Vec<Statement> {
    match row {
        Some(image) => vec![upsert(table, info, key, image, "INSERT OR REPLACE")],
        None => vec![Statement::new(&info.delete_sql(table), key.to_vec())],
    }
}

/// Replays one not-yet-pushed change over the local row.
pub(crate) fn replay(info: &TableInfo, entry: &Entry) -> Vec<Statement> {
    let table = &entry.table;
    match (&entry.op, &entry.new) {
        (Op::Delete, _) | (_, None) => set_row(table, info, &entry.key, None),
        (Op::Insert, Some(new)) => set_row(table, info, &entry.key, Some(new)),
        (Op::Update, Some(new)) => {
            let old = entry.old.clone().unwrap_or_default();
            let changed: RowImage = new
                .iter()
                .filter(|(c, v)| image_get(&old, c) != Some(v) && info.cols.contains(c))
                .cloned()
                .collect();
            let mut out = Vec::new();
            if !changed.is_empty() {
                let set: Vec<String> = changed
                    .iter()
                    .map(|(c, _)| format!("{} = ?", ident(c)))
                    .collect();
                let values: Vec<Value> = changed
                    .iter()
                    .map(|(_, v)| v.clone())
                    .chain(entry.key.iter().cloned())
                    .collect();
                out.push(Statement::new(
                    &format!(
                        "UPDATE {} SET {} WHERE {}",
                        ident(table),
                        set.join(", "),
                        info.where_key()
                    ),
                    values,
                ));
            }
            // A row the server no longer has stays visible with the device's version.
            out.push(upsert(table, info, &entry.key, new, "INSERT OR IGNORE"));
            out
        }
    }
}
