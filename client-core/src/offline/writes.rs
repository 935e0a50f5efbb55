//! The server statements a push writes, merged: consecutive writes of the same shape (inserts
//! of the same columns into one table, updates of the same columns, deletes) to distinct keys
//! become one multi-row statement, and the rows' stamps go in multi-row inserts at the end. A
//! page of a thousand changed rows is a few statements, not two thousand, which is most of a
//! push's bytes on the wire. Order is kept: only adjacent writes merge, and a key seen twice
//! starts a new statement.

use std::collections::HashSet;

use super::clock::Clocks;
use super::resolve::{Entry, Write};
use crate::replica::capture::Key;
use crate::replica::literal::ident;
use crate::replica::sync::TableInfo;
use crate::{Statement, Value};

/// SQLite's default bound on parameters per statement is 32,766; stay well under it.
const MAX_PARAMS: usize = 30_000;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Shape {
    /// `INSERT INTO t (cols) VALUES ...`: the head, and values per row.
    Insert(String, usize),
    /// `UPDATE t SET cols FROM (VALUES (key..., cols...)) WHERE key`.
    Update {
        table: String,
        key: Vec<String>,
        set: Vec<String>,
    },
    /// `DELETE FROM t WHERE key IN (VALUES ...)`.
    Delete { table: String, key: Vec<String> },
}

#[derive(Default)]
pub(crate) struct Writes {
    out: Vec<Statement>,
    run: Option<(Shape, Vec<Value>, usize)>,
    keys: HashSet<(String, String)>,
    clocks: Vec<Value>,
}

impl Writes {
    /// Adds the statements for one decided change.
    pub fn push(
        &mut self,
        entry: &Entry,
        info: &TableInfo,
        write: &Write,
        clocks: Option<&Clocks>,
    ) {
        let key_cols = info.key.columns_sql();
        let t = ident(&entry.table);
        let (shape, params) = match write {
            Write::Nothing => (None, Vec::new()),
            Write::Insert(image) => {
                let mut cols: Vec<String> = image.iter().map(|(c, _)| ident(c)).collect();
                let mut values: Vec<Value> = image.iter().map(|(_, v)| v.clone()).collect();
                if info.key == Key::Rowid {
                    cols.insert(0, "rowid".into());
                    values.insert(0, entry.key[0].clone());
                }
                let head = format!("INSERT INTO {t} ({}) VALUES ", cols.join(","));
                (Some(Shape::Insert(head, cols.len())), values)
            }
            Write::Update(image) => {
                let set = image.iter().map(|(c, _)| ident(c)).collect();
                let values = entry
                    .key
                    .iter()
                    .cloned()
                    .chain(image.iter().map(|(_, v)| v.clone()))
                    .collect();
                let shape = Shape::Update {
                    table: t,
                    key: key_cols,
                    set,
                };
                (Some(shape), values)
            }
            Write::Delete => {
                let shape = Shape::Delete {
                    table: t,
                    key: key_cols,
                };
                (Some(shape), entry.key.clone())
            }
        };
        if let Some(shape) = shape {
            let key = (entry.table.clone(), entry.pk.clone());
            let fits = self.run.as_ref().is_some_and(|(s, p, _)| {
                *s == shape && p.len() + params.len() <= MAX_PARAMS && !self.keys.contains(&key)
            });
            if !fits {
                self.flush();
                self.run = Some((shape, Vec::new(), 0));
            }
            if let Some((_, p, rows)) = &mut self.run {
                p.extend(params);
                *rows += 1;
            }
            self.keys.insert(key);
        }
        if let Some(clocks) = clocks {
            self.clocks.extend([
                Value::Text(entry.table.clone()),
                Value::Text(entry.pk.clone()),
                Value::Integer(i64::from(clocks.deleted)),
                Value::Text(clocks.format()),
            ]);
            if self.clocks.len() + 4 > MAX_PARAMS {
                self.flush_clocks();
            }
        }
    }

    fn flush(&mut self) {
        self.keys.clear();
        let Some((shape, params, rows)) = self.run.take() else {
            return;
        };
        let tuple = |n: usize| format!("({})", vec!["?"; n].join(","));
        let tuples = |n: usize| vec![tuple(n); rows].join(",");
        let sql = match &shape {
            Shape::Insert(head, width) => format!("{head}{}", tuples(*width)),
            Shape::Update { table, key, set } => {
                let assign: Vec<String> = set
                    .iter()
                    .enumerate()
                    .map(|(n, c)| format!("{c}=v.column{}", key.len() + n + 1))
                    .collect();
                let on: Vec<String> = (1..=key.len()).map(|n| format!("v.column{n}")).collect();
                format!(
                    "UPDATE {table} SET {} FROM (VALUES {}) AS v WHERE ({})=({})",
                    assign.join(","),
                    tuples(key.len() + set.len()),
                    key.iter()
                        .map(|k| format!("{table}.{k}"))
                        .collect::<Vec<_>>()
                        .join(","),
                    on.join(",")
                )
            }
            Shape::Delete { table, key } => format!(
                "DELETE FROM {table} WHERE ({}) IN (VALUES {})",
                key.join(","),
                tuples(key.len())
            ),
        };
        self.out.push(Statement::new(&sql, params));
    }

    fn flush_clocks(&mut self) {
        if self.clocks.is_empty() {
            return;
        }
        let rows = self.clocks.len() / 4;
        let sql = format!(
            "INSERT OR REPLACE INTO _tidepool_clocks (tbl,pk,deleted,clocks) VALUES {}",
            vec!["(?,?,?,?)"; rows].join(",")
        );
        self.out
            .push(Statement::new(&sql, std::mem::take(&mut self.clocks)));
    }

    /// The statements, in order: the data writes, then the stamps.
    pub fn finish(mut self) -> Vec<Statement> {
        self.flush();
        self.flush_clocks();
        self.out
    }
}
