//! Offline mode as it crosses the boundary: the options of an offline database, conflicts and
//! their resolutions, and the application's resolver (a callback interface the core calls
//! during sync). Names and meanings are the core's (`tidepool::Conflict` and friends).

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::TidepoolError;
use crate::value::{NamedValue, Value};

/// How a table's conflicts are decided when no resolver is set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, uniffi::Enum)]
pub enum ConflictPolicy {
    /// Per column, the later write wins (hybrid logical clocks; a delete wins over the writes
    /// before it and loses to the writes after it).
    #[default]
    ColumnLww,
    /// The server's version stays; the device's conflicting write is recorded and dropped.
    ServerWins,
    /// The device's write is applied over the server's version.
    ClientWins,
}

impl From<ConflictPolicy> for tidepool::ConflictPolicy {
    fn from(p: ConflictPolicy) -> Self {
        match p {
            ConflictPolicy::ColumnLww => tidepool::ConflictPolicy::ColumnLww,
            ConflictPolicy::ServerWins => tidepool::ConflictPolicy::ServerWins,
            ConflictPolicy::ClientWins => tidepool::ConflictPolicy::ClientWins,
        }
    }
}

/// Settings of an offline database (`Database::offline`) beyond [`crate::DatabaseOptions`].
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct OfflineOptions {
    /// How conflicts are decided in tables without a policy of their own (default
    /// `ColumnLww`).
    #[uniffi(default = None)]
    pub default_policy: Option<ConflictPolicy>,
    /// Per-table policies (table name → policy).
    pub table_policies: HashMap<String, ConflictPolicy>,
}

/// What a conflict was between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ConflictKind {
    /// Both sides changed the same columns of a row.
    UpdateUpdate,
    /// Both sides created a row with the same key, with different values.
    InsertInsert,
    /// The device updated (or created) a row the server had deleted.
    UpdateDeleted,
    /// The device deleted a row the server had changed.
    DeleteUpdated,
    /// The server refused the device's change (a constraint, a permission, a missing column);
    /// `error_code` says why. The local transaction was not applied.
    Rejected,
}

/// Which rule decided a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ConflictRule {
    ColumnLww,
    ServerWins,
    ClientWins,
    /// The application's resolver.
    Resolver,
    /// Nothing decided it: the server refused the change.
    Rejected,
}

/// Whose version the row has after the conflict was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ConflictOutcome {
    /// The device's write took effect.
    Local,
    /// The server's version stayed.
    Remote,
    /// Some columns from each side, or the resolver's merged row.
    Merged,
}

/// A conflict or a rejected change, kept on the device until the application resolves it.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Conflict {
    /// Its id, for `resolve_conflict` (0 while a resolver is deciding it: not stored yet).
    pub id: i64,
    pub table: String,
    /// The row's key values (the primary key's columns, or the rowid).
    pub key: Vec<Value>,
    pub kind: ConflictKind,
    pub rule: ConflictRule,
    pub outcome: ConflictOutcome,
    /// The columns both sides wrote (all of the row's for inserts and deletes).
    pub columns: Vec<String>,
    /// The device's version of the row; `None` for a delete.
    pub local: Option<Vec<NamedValue>>,
    /// The server's version when the change arrived; `None` if it had no such row.
    pub remote: Option<Vec<NamedValue>>,
    /// The row as the device had it before its write; `None` for an insert.
    pub base: Option<Vec<NamedValue>>,
    /// A rejected change: the server's error code (`SQLITE_CONSTRAINT_UNIQUE`, ...) and message.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// When the device made its write.
    pub written_at: SystemTime,
}

/// How the application settles a conflict.
#[derive(Clone, Debug, PartialEq, uniffi::Enum)]
pub enum Resolution {
    /// The device's version (written again as a new change, pushed by the next sync).
    KeepLocal,
    /// The server's version (nothing to write).
    KeepRemote,
    /// This row: named values; columns left out keep their current value.
    Merge { row: Vec<NamedValue> },
}

/// Decides conflicts during sync, in place of the policies: called once per conflict (never for
/// a rejected change), on a thread of the library's, while `sync` (or the background sync)
/// waits for the answer. An error counts as `KeepRemote`.
#[uniffi::export(callback_interface)]
pub trait ConflictResolver: Send + Sync {
    fn resolve(&self, conflict: Conflict) -> Result<Resolution, TidepoolError>;
}

fn image(row: tidepool::RowImage) -> Vec<NamedValue> {
    row.into_iter()
        .map(|(name, value)| NamedValue {
            name,
            value: value.into(),
        })
        .collect()
}

impl From<tidepool::Conflict> for Conflict {
    fn from(c: tidepool::Conflict) -> Self {
        use tidepool::{ConflictKind as K, ConflictOutcome as O, ConflictRule as R};
        let (error_code, error_message) = c.error.unzip();
        Conflict {
            id: c.id,
            table: c.table,
            key: c.key.into_iter().map(Into::into).collect(),
            kind: match c.kind {
                K::UpdateUpdate => ConflictKind::UpdateUpdate,
                K::InsertInsert => ConflictKind::InsertInsert,
                K::UpdateDeleted => ConflictKind::UpdateDeleted,
                K::DeleteUpdated => ConflictKind::DeleteUpdated,
                _ => ConflictKind::Rejected,
            },
            rule: match c.rule {
                R::ColumnLww => ConflictRule::ColumnLww,
                R::ServerWins => ConflictRule::ServerWins,
                R::ClientWins => ConflictRule::ClientWins,
                R::Resolver => ConflictRule::Resolver,
                _ => ConflictRule::Rejected,
            },
            outcome: match c.outcome {
                O::Local => ConflictOutcome::Local,
                O::Remote => ConflictOutcome::Remote,
                _ => ConflictOutcome::Merged,
            },
            columns: c.columns,
            local: c.local.map(image),
            remote: c.remote.map(image),
            base: c.base.map(image),
            error_code,
            error_message,
            written_at: c.written_at,
        }
    }
}

impl From<Resolution> for tidepool::Resolution {
    fn from(r: Resolution) -> Self {
        match r {
            Resolution::KeepLocal => tidepool::Resolution::KeepLocal,
            Resolution::KeepRemote => tidepool::Resolution::KeepRemote,
            Resolution::Merge { row } => tidepool::Resolution::Merge(
                row.into_iter().map(|n| (n.name, n.value.into())).collect(),
            ),
        }
    }
}

/// The application's resolver as the core's.
pub(crate) struct Bridge(pub(crate) Box<dyn ConflictResolver>);

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConflictResolver").finish_non_exhaustive()
    }
}

impl tidepool::Resolver for Bridge {
    fn resolve(&self, conflict: &tidepool::Conflict) -> tidepool::Resolution {
        let (table, id) = (conflict.table.clone(), conflict.id);
        let answer = catch_unwind(AssertUnwindSafe(|| self.0.resolve(conflict.clone().into())));
        match answer {
            Ok(Ok(resolution)) => resolution.into(),
            Ok(Err(e)) => {
                eprintln!("tidepool: the conflict resolver failed on {table} ({id}), keeping the server's row: {e}");
                tidepool::Resolution::KeepRemote
            }
            Err(_) => {
                eprintln!("tidepool: the conflict resolver panicked on {table} ({id}), keeping the server's row");
                tidepool::Resolution::KeepRemote
            }
        }
    }
}

/// Applies the offline settings and the resolver to a builder made by `Builder::offline`.
pub(crate) fn configure(
    mut b: tidepool::Builder,
    options: OfflineOptions,
    resolver: Option<Box<dyn ConflictResolver>>,
) -> tidepool::Builder {
    if let Some(policy) = options.default_policy {
        b = b.default_conflict_policy(policy.into());
    }
    for (table, policy) in options.table_policies {
        b = b.conflict_policy(table, policy.into());
    }
    if let Some(resolver) = resolver {
        b = b.resolver(Arc::new(Bridge(resolver)));
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_and_policies_convert_to_the_core_s() {
        assert_eq!(
            tidepool::Resolution::from(Resolution::Merge {
                row: vec![NamedValue {
                    name: "a".into(),
                    value: Value::Integer { value: 1 },
                }],
            }),
            tidepool::Resolution::Merge(vec![("a".into(), tidepool::Value::Integer(1))])
        );
        assert_eq!(
            tidepool::Resolution::from(Resolution::KeepLocal),
            tidepool::Resolution::KeepLocal
        );
        assert_eq!(
            tidepool::ConflictPolicy::from(ConflictPolicy::ServerWins),
            tidepool::ConflictPolicy::ServerWins
        );
    }
}
