//! Deciding one pushed change against the server's row: whether it conflicts, which rule
//! settles it, what to write and how the row's stamps change. Pure: the push reads the rows
//! and stamps, calls [`decide`] for each change in order, and writes what it returns.
//!
//! A column write conflicts when the server's value is neither the value the device saw
//! before writing (its base) nor the value it wrote: someone else changed it since. Writes
//! that do not conflict apply as they are; conflicting ones go to the table's resolver or
//! policy. Under column last-writer-wins, the later [`Stamp`] wins each column; a delete beats
//! the writes stamped before it, and a write stamped after a delete brings the row back (with
//! the device's whole row), so a later update never loses to an earlier delete.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, UNIX_EPOCH};

use super::clock::{Clocks, Stamp};
use super::types::{
    image_get, Conflict, ConflictKind, ConflictOutcome, ConflictPolicy, ConflictRule, Resolution,
    Resolver, RowImage,
};
use crate::value::Value;

/// What a local write did, from the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Insert,
    Update,
    Delete,
}

/// One captured change.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub id: i64,
    pub hlc: i64,
    pub table: String,
    /// The key as the literal list the triggers wrote.
    pub pk: String,
    pub key: Vec<Value>,
    pub op: Op,
    /// The row after the write (inserts and updates).
    pub new: Option<RowImage>,
    /// The row before the write (updates and deletes).
    pub old: Option<RowImage>,
}

/// What to do on the server for one change.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Write {
    Nothing,
    /// Create the row with these values.
    Insert(RowImage),
    /// Set these columns of the existing row.
    Update(RowImage),
    Delete,
}

#[derive(Debug)]
pub(crate) struct Decision {
    pub write: Write,
    /// The row's stamps after the write (`None`: unchanged).
    pub clocks: Option<Clocks>,
    pub conflict: Option<Conflict>,
}

/// How conflicts in one table are settled.
#[derive(Clone, Copy)]
pub(crate) struct Rules<'a> {
    pub policy: ConflictPolicy,
    pub resolver: Option<&'a dyn Resolver>,
}

fn value_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::Float(x)), Some(Value::Float(y))) => x.to_bits() == y.to_bits() || x == y,
        _ => a == b,
    }
}

/// Decides `entry` against the server's row (`None` if it has none) and its stamps.
pub(crate) fn decide(
    entry: &Entry,
    server: Option<&RowImage>,
    clocks: Option<&Clocks>,
    site: i64,
    rules: Rules<'_>,
) -> Decision {
    let stamp: Stamp = (entry.hlc, site);
    let stamps = clocks.cloned().unwrap_or_default();
    let nothing = Decision {
        write: Write::Nothing,
        clocks: None,
        conflict: None,
    };
    let new = entry.new.as_ref();
    match (&entry.op, server, new) {
        // Creating (or reviving) a row the server does not have.
        (Op::Insert | Op::Update, None, Some(new)) => {
            let revive = Write::Insert(new.clone());
            let tombstone = if stamps.deleted {
                Some(stamps.row)
            } else {
                None
            };
            if entry.op == Op::Insert && tombstone.is_none_or(|d| stamp > d) {
                return created(revive, new, stamp);
            }
            // An update of a row that is gone, or an insert under a later delete.
            let cols = new.iter().map(|(c, _)| c.clone()).collect();
            let lww_local = stamp > tombstone.unwrap_or_default();
            settle(
                entry,
                ConflictKind::UpdateDeleted,
                cols,
                server,
                stamp,
                rules,
                lww_local,
                |keep_local| {
                    if keep_local {
                        (revive.clone(), Some(Clocks::created(&names(new), stamp)))
                    } else {
                        (Write::Nothing, None)
                    }
                },
            )
        }
        (Op::Insert, Some(row), Some(new)) => {
            let differing: Vec<String> = new
                .iter()
                .filter(|(c, v)| !value_eq(image_get(row, c), Some(v)))
                .map(|(c, _)| c.clone())
                .collect();
            if differing.is_empty() {
                return nothing;
            }
            column_conflict(
                entry,
                ConflictKind::InsertInsert,
                Vec::new(),
                differing,
                new,
                row,
                stamps,
                stamp,
                rules,
            )
        }
        (Op::Update, Some(row), Some(new)) => {
            let old = entry.old.clone().unwrap_or_default();
            let mut clean = Vec::new();
            let mut conflicting = Vec::new();
            for (c, v) in new {
                let before = image_get(&old, c);
                if value_eq(before, Some(v)) {
                    continue; // not changed by this write
                }
                let server_value = image_get(row, c);
                if value_eq(server_value, Some(v)) {
                    continue; // already so
                }
                if server_value.is_none() || value_eq(server_value, before) {
                    clean.push(c.clone());
                } else {
                    conflicting.push(c.clone());
                }
            }
            if conflicting.is_empty() {
                if clean.is_empty() {
                    return nothing;
                }
                let mut clocks = stamps;
                for c in &clean {
                    clocks.set_col(c, stamp);
                }
                return Decision {
                    write: Write::Update(pick(new, &clean)),
                    clocks: Some(clocks),
                    conflict: None,
                };
            }
            column_conflict(
                entry,
                ConflictKind::UpdateUpdate,
                clean,
                conflicting,
                new,
                row,
                stamps,
                stamp,
                rules,
            )
        }
        (Op::Delete, Some(row), _) => {
            let old = entry.old.clone().unwrap_or_default();
            let changed: Vec<String> = row
                .iter()
                .filter(|(c, v)| image_get(&old, c).is_some_and(|b| !value_eq(Some(b), Some(v))))
                .map(|(c, _)| c.clone())
                .collect();
            let deleted = Clocks {
                row: stamp,
                deleted: true,
                cols: Vec::new(),
            };
            if changed.is_empty() {
                return Decision {
                    write: Write::Delete,
                    clocks: Some(deleted),
                    conflict: None,
                };
            }
            let lww_local = stamp > stamps.latest();
            settle(
                entry,
                ConflictKind::DeleteUpdated,
                changed,
                server,
                stamp,
                rules,
                lww_local,
                |keep_local| {
                    if keep_local {
                        (Write::Delete, Some(deleted.clone()))
                    } else {
                        (Write::Nothing, None)
                    }
                },
            )
        }
        // A delete of a row already gone, or an entry without its row (never written so).
        _ => nothing,
    }
}

fn names(image: &RowImage) -> Vec<String> {
    image.iter().map(|(c, _)| c.clone()).collect()
}

fn pick(image: &RowImage, cols: &[String]) -> RowImage {
    image
        .iter()
        .filter(|(c, _)| cols.contains(c))
        .cloned()
        .collect()
}

fn created(write: Write, new: &RowImage, stamp: Stamp) -> Decision {
    Decision {
        write,
        clocks: Some(Clocks::created(&names(new), stamp)),
        conflict: None,
    }
}

/// A conflict over some columns of a row both sides have: `clean` columns apply anyway,
/// `conflicting` ones are settled.
#[allow(clippy::too_many_arguments)]
fn column_conflict(
    entry: &Entry,
    kind: ConflictKind,
    clean: Vec<String>,
    conflicting: Vec<String>,
    new: &RowImage,
    row: &RowImage,
    stamps: Clocks,
    stamp: Stamp,
    rules: Rules<'_>,
) -> Decision {
    let apply = |cols: &[String], stamps: &Clocks| {
        let mut clocks = stamps.clone();
        for c in cols {
            clocks.set_col(c, stamp);
        }
        let write = if cols.is_empty() {
            Write::Nothing
        } else {
            Write::Update(pick(new, cols))
        };
        (write, (!cols.is_empty()).then_some(clocks))
    };
    let all: Vec<String> = clean.iter().chain(&conflicting).cloned().collect();
    let mut conflict = conflict_of(entry, kind, conflicting.clone(), Some(row));
    let (write, clocks, rule, outcome) = match (rules.resolver, rules.policy) {
        (Some(resolver), _) => {
            let (write, clocks, outcome) = match ask(resolver, &conflict) {
                Resolution::KeepLocal => {
                    let (w, c) = apply(&all, &stamps);
                    (w, c, ConflictOutcome::Local)
                }
                Resolution::KeepRemote => {
                    let (w, c) = apply(&clean, &stamps);
                    (w, c, ConflictOutcome::Remote)
                }
                Resolution::Merge(image) => {
                    let cols = names(&image);
                    let (_, c) = apply(&cols, &stamps);
                    (Write::Update(image), c, ConflictOutcome::Merged)
                }
            };
            (write, clocks, ConflictRule::Resolver, outcome)
        }
        (None, ConflictPolicy::ClientWins) => {
            let (w, c) = apply(&all, &stamps);
            (w, c, ConflictRule::ClientWins, ConflictOutcome::Local)
        }
        (None, ConflictPolicy::ServerWins) => {
            let (w, c) = apply(&clean, &stamps);
            (w, c, ConflictRule::ServerWins, ConflictOutcome::Remote)
        }
        (None, _) => {
            let won: Vec<String> = conflicting
                .iter()
                .filter(|c| stamp > stamps.col(c))
                .cloned()
                .collect();
            let outcome = if won.len() == conflicting.len() {
                ConflictOutcome::Local
            } else if won.is_empty() {
                ConflictOutcome::Remote
            } else {
                ConflictOutcome::Merged
            };
            let cols: Vec<String> = clean.iter().chain(&won).cloned().collect();
            let (w, c) = apply(&cols, &stamps);
            (w, c, ConflictRule::ColumnLww, outcome)
        }
    };
    conflict.rule = rule;
    conflict.outcome = outcome;
    Decision {
        write,
        clocks,
        conflict: Some(conflict),
    }
}

#[allow(clippy::too_many_arguments)]
/// A conflict over the row as a whole (delete against update): `apply(true)` is the device's
/// write, `apply(false)` keeps the server's row.
fn settle(
    entry: &Entry,
    kind: ConflictKind,
    columns: Vec<String>,
    server: Option<&RowImage>,
    stamp: Stamp,
    rules: Rules<'_>,
    lww_local: bool,
    apply: impl Fn(bool) -> (Write, Option<Clocks>),
) -> Decision {
    let mut conflict = conflict_of(entry, kind, columns, server);
    let (write, clocks, rule, outcome) = match (rules.resolver, rules.policy) {
        (Some(resolver), _) => {
            let (w, c, o) = match ask(resolver, &conflict) {
                Resolution::KeepLocal => {
                    let (w, c) = apply(true);
                    (w, c, ConflictOutcome::Local)
                }
                Resolution::KeepRemote => {
                    let (w, c) = apply(false);
                    (w, c, ConflictOutcome::Remote)
                }
                Resolution::Merge(image) => {
                    let clocks = Clocks::created(&names(&image), stamp);
                    let write = if server.is_some() {
                        Write::Update(image)
                    } else {
                        Write::Insert(image)
                    };
                    (write, Some(clocks), ConflictOutcome::Merged)
                }
            };
            (w, c, ConflictRule::Resolver, o)
        }
        (None, ConflictPolicy::ClientWins) => {
            let (w, c) = apply(true);
            (w, c, ConflictRule::ClientWins, ConflictOutcome::Local)
        }
        (None, ConflictPolicy::ServerWins) => {
            let (w, c) = apply(false);
            (w, c, ConflictRule::ServerWins, ConflictOutcome::Remote)
        }
        (None, _) => {
            let (w, c) = apply(lww_local);
            let outcome = if lww_local {
                ConflictOutcome::Local
            } else {
                ConflictOutcome::Remote
            };
            (w, c, ConflictRule::ColumnLww, outcome)
        }
    };
    conflict.rule = rule;
    conflict.outcome = outcome;
    Decision {
        write,
        clocks,
        conflict: Some(conflict),
    }
}

/// Asks the application's resolver; a panic keeps the server's version.
fn ask(resolver: &dyn Resolver, conflict: &Conflict) -> Resolution {
    let mut shown = conflict.clone();
    shown.rule = ConflictRule::Resolver;
    catch_unwind(AssertUnwindSafe(|| resolver.resolve(&shown))).unwrap_or_else(|_| {
        tracing::error!(table = %conflict.table, "the conflict resolver panicked; keeping the server's row");
        Resolution::KeepRemote
    })
}

pub(crate) fn written_at(hlc: i64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_millis((hlc >> 16).max(0) as u64)
}

pub(crate) fn conflict_of(
    entry: &Entry,
    kind: ConflictKind,
    columns: Vec<String>,
    remote: Option<&RowImage>,
) -> Conflict {
    Conflict {
        id: 0,
        table: entry.table.clone(),
        key: entry.key.clone(),
        kind,
        rule: ConflictRule::Rejected,
        outcome: ConflictOutcome::Remote,
        columns,
        local: entry.new.clone(),
        remote: remote.cloned(),
        base: entry.old.clone(),
        error: None,
        written_at: written_at(entry.hlc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: i64 = 7;

    fn img(pairs: &[(&str, i64)]) -> RowImage {
        pairs
            .iter()
            .map(|(c, v)| (c.to_string(), Value::Integer(*v)))
            .collect()
    }

    fn entry(op: Op, hlc: i64, old: Option<RowImage>, new: Option<RowImage>) -> Entry {
        Entry {
            id: 1,
            hlc,
            table: "t".into(),
            pk: "1".into(),
            key: vec![Value::Integer(1)],
            op,
            new,
            old,
        }
    }

    fn lww() -> Rules<'static> {
        Rules {
            policy: ConflictPolicy::ColumnLww,
            resolver: None,
        }
    }

    fn stamped(row: &RowImage, at: i64) -> Clocks {
        Clocks::created(&names(row), (at, 1))
    }

    #[test]
    fn a_write_on_the_value_it_saw_applies_without_a_conflict() {
        let server = img(&[("id", 1), ("a", 1), ("b", 1)]);
        let e = entry(
            Op::Update,
            5,
            Some(img(&[("id", 1), ("a", 1), ("b", 1)])),
            Some(img(&[("id", 1), ("a", 2), ("b", 1)])),
        );
        let d = decide(&e, Some(&server), Some(&stamped(&server, 100)), SITE, lww());
        // Even with an older stamp: nobody else wrote `a` since the device saw it.
        assert_eq!(d.write, Write::Update(img(&[("a", 2)])));
        assert!(d.conflict.is_none());
        assert_eq!(d.clocks.expect("stamped").col("a"), (5, SITE));
    }

    #[test]
    fn concurrent_writes_to_one_column_go_to_the_later_stamp() {
        let server = img(&[("id", 1), ("a", 9), ("b", 1)]);
        let clocks = stamped(&server, 10);
        let base = Some(img(&[("id", 1), ("a", 1), ("b", 1)]));
        let later = entry(
            Op::Update,
            20,
            base.clone(),
            Some(img(&[("id", 1), ("a", 2), ("b", 3)])),
        );
        let d = decide(&later, Some(&server), Some(&clocks), SITE, lww());
        assert_eq!(d.write, Write::Update(img(&[("a", 2), ("b", 3)])));
        let c = d.conflict.expect("recorded");
        assert_eq!(
            (c.kind, c.rule, c.outcome),
            (
                ConflictKind::UpdateUpdate,
                ConflictRule::ColumnLww,
                ConflictOutcome::Local
            )
        );
        assert_eq!(c.columns, vec!["a".to_owned()]);

        let earlier = entry(
            Op::Update,
            5,
            base,
            Some(img(&[("id", 1), ("a", 2), ("b", 3)])),
        );
        let d = decide(&earlier, Some(&server), Some(&clocks), SITE, lww());
        // `b` did not conflict and applies; `a` keeps the server's later write.
        assert_eq!(d.write, Write::Update(img(&[("b", 3)])));
        assert_eq!(
            d.conflict.expect("recorded").outcome,
            ConflictOutcome::Remote
        );
    }

    #[test]
    fn a_later_update_revives_a_row_an_earlier_delete_removed() {
        let tomb = Clocks {
            row: (10, 1),
            deleted: true,
            cols: vec![],
        };
        let new = img(&[("id", 1), ("a", 2)]);
        let e = entry(
            Op::Update,
            20,
            Some(img(&[("id", 1), ("a", 1)])),
            Some(new.clone()),
        );
        let d = decide(&e, None, Some(&tomb), SITE, lww());
        assert_eq!(d.write, Write::Insert(new.clone()));
        assert_eq!(
            d.conflict.expect("recorded").kind,
            ConflictKind::UpdateDeleted
        );
        let e = entry(Op::Update, 5, Some(img(&[("id", 1), ("a", 1)])), Some(new));
        let d = decide(&e, None, Some(&tomb), SITE, lww());
        assert_eq!(d.write, Write::Nothing);
        assert_eq!(
            d.conflict.expect("recorded").outcome,
            ConflictOutcome::Remote
        );
    }

    #[test]
    fn a_delete_wins_only_over_earlier_writes() {
        let server = img(&[("id", 1), ("a", 9)]);
        let clocks = stamped(&server, 10);
        let old = Some(img(&[("id", 1), ("a", 1)]));
        let d = decide(
            &entry(Op::Delete, 20, old.clone(), None),
            Some(&server),
            Some(&clocks),
            SITE,
            lww(),
        );
        assert_eq!(d.write, Write::Delete);
        assert!(d.clocks.expect("tombstone").deleted);
        let d = decide(
            &entry(Op::Delete, 5, old, None),
            Some(&server),
            Some(&clocks),
            SITE,
            lww(),
        );
        assert_eq!(d.write, Write::Nothing);
        assert_eq!(
            d.conflict.expect("recorded").kind,
            ConflictKind::DeleteUpdated
        );
        // Deleting what the device saw is no conflict at all.
        let d = decide(
            &entry(Op::Delete, 1, Some(server.clone()), None),
            Some(&server),
            Some(&clocks),
            SITE,
            lww(),
        );
        assert_eq!((d.write, d.conflict.is_none()), (Write::Delete, true));
    }

    #[test]
    fn policies_and_resolvers_override_the_clock() {
        #[derive(Debug)]
        struct Merge;
        impl Resolver for Merge {
            fn resolve(&self, c: &Conflict) -> Resolution {
                assert_eq!(c.kind, ConflictKind::UpdateUpdate);
                Resolution::Merge(img(&[("a", 42)]))
            }
        }
        #[derive(Debug)]
        struct Panics;
        impl Resolver for Panics {
            fn resolve(&self, _: &Conflict) -> Resolution {
                panic!("resolver bug")
            }
        }
        let server = img(&[("id", 1), ("a", 9)]);
        let clocks = stamped(&server, 10);
        let e = entry(
            Op::Update,
            20,
            Some(img(&[("id", 1), ("a", 1)])),
            Some(img(&[("id", 1), ("a", 2)])),
        );
        let server_wins = Rules {
            policy: ConflictPolicy::ServerWins,
            resolver: None,
        };
        assert_eq!(
            decide(&e, Some(&server), Some(&clocks), SITE, server_wins).write,
            Write::Nothing
        );
        let e5 = Entry {
            hlc: 5,
            ..e.clone()
        };
        let client_wins = Rules {
            policy: ConflictPolicy::ClientWins,
            resolver: None,
        };
        assert_eq!(
            decide(&e5, Some(&server), Some(&clocks), SITE, client_wins).write,
            Write::Update(img(&[("a", 2)]))
        );
        let merge = Rules {
            policy: ConflictPolicy::ColumnLww,
            resolver: Some(&Merge),
        };
        let d = decide(&e, Some(&server), Some(&clocks), SITE, merge);
        assert_eq!(d.write, Write::Update(img(&[("a", 42)])));
        assert_eq!(d.conflict.expect("recorded").rule, ConflictRule::Resolver);
        let panics = Rules {
            policy: ConflictPolicy::ColumnLww,
            resolver: Some(&Panics),
        };
        assert_eq!(
            decide(&e, Some(&server), Some(&clocks), SITE, panics).write,
            Write::Nothing
        );
    }

    #[test]
    fn inserts_of_the_same_key_merge_by_column() {
        let server = img(&[("id", 1), ("a", 1), ("b", 1)]);
        let clocks = stamped(&server, 10);
        let e = entry(
            Op::Insert,
            20,
            None,
            Some(img(&[("id", 1), ("a", 1), ("b", 2)])),
        );
        let d = decide(&e, Some(&server), Some(&clocks), SITE, lww());
        assert_eq!(d.write, Write::Update(img(&[("b", 2)])));
        assert_eq!(
            d.conflict.expect("recorded").kind,
            ConflictKind::InsertInsert
        );
        let same = entry(Op::Insert, 20, None, Some(server.clone()));
        assert!(decide(&same, Some(&server), Some(&clocks), SITE, lww())
            .conflict
            .is_none());
    }
}
