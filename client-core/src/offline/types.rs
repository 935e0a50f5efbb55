//! The public face of offline sync: conflicts as data, the policies and resolver that decide
//! them, and change notifications.

use std::time::SystemTime;

use crate::replica::literal::{format_list, parse_list};
use crate::value::Value;

/// A row as named values, in the table's column order.
pub type RowImage = Vec<(String, Value)>;

/// The value of `column` in a row image.
pub(crate) fn image_get<'a>(image: &'a RowImage, column: &str) -> Option<&'a Value> {
    image.iter().find(|(c, _)| c == column).map(|(_, v)| v)
}

/// A row image as one literal list: `'col',value,'col',value,...`.
pub(crate) fn image_format(image: &RowImage) -> String {
    let values: Vec<Value> = image
        .iter()
        .flat_map(|(c, v)| [Value::Text(c.clone()), v.clone()])
        .collect();
    format_list(&values)
}

pub(crate) fn image_parse(text: &str) -> Option<RowImage> {
    let mut values = parse_list(text).ok()?.into_iter();
    let mut image = Vec::new();
    while let Some(name) = values.next() {
        let Value::Text(name) = name else {
            return None;
        };
        image.push((name, values.next()?));
    }
    Some(image)
}

/// How a table's conflicts are decided when no resolver is set. The default is
/// [`ConflictPolicy::ColumnLww`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictPolicy {
    /// Per column, the write with the later hybrid-logical-clock stamp wins (site id breaks
    /// ties); a delete wins over the writes before it and loses to the writes after it.
    #[default]
    ColumnLww,
    /// The server's version stays; the device's conflicting write is recorded and dropped.
    ServerWins,
    /// The device's write is applied over the server's version.
    ClientWins,
}

/// What a conflict was between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConflictKind {
    /// Both sides changed the same columns of a row.
    UpdateUpdate,
    /// Both sides created a row with the same key, with different values.
    InsertInsert,
    /// The device updated (or created) a row the server had deleted.
    UpdateDeleted,
    /// The device deleted a row the server had changed.
    DeleteUpdated,
    /// The server refused the device's change (a UNIQUE, foreign key or CHECK violation, a
    /// permission error, a column it no longer has). The local transaction was not applied.
    Rejected,
}

/// Which rule decided a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConflictRule {
    ColumnLww,
    ServerWins,
    ClientWins,
    /// The application's [`Resolver`].
    Resolver,
    /// Nothing decided it: the server refused the change.
    Rejected,
}

/// Whose version the row has after the conflict was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConflictOutcome {
    /// The device's write took effect.
    Local,
    /// The server's version stayed.
    Remote,
    /// Some columns from each side, or the resolver's merged row.
    Merged,
}

macro_rules! names {
    ($t:ty { $($v:ident = $s:literal),* $(,)? }) => {
        impl $t {
            /// The stable name stored in the conflicts table and shown to bindings.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
            pub(crate) fn parse(text: &str) -> Option<Self> {
                match text { $($s => Some(Self::$v),)* _ => None }
            }
        }
    };
}
names!(ConflictKind {
    UpdateUpdate = "update_update",
    InsertInsert = "insert_insert",
    UpdateDeleted = "update_deleted",
    DeleteUpdated = "delete_updated",
    Rejected = "rejected",
});
names!(ConflictRule {
    ColumnLww = "column_lww",
    ServerWins = "server_wins",
    ClientWins = "client_wins",
    Resolver = "resolver",
    Rejected = "rejected",
});
names!(ConflictOutcome {
    Local = "local",
    Remote = "remote",
    Merged = "merged",
});

/// A conflict or a rejected change, kept in the device's `_tidepool_conflicts` table until the
/// application resolves it ([`crate::Database::resolve_conflict`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Conflict {
    /// Its id in the conflicts table (0 before it is stored).
    pub id: i64,
    pub table: String,
    /// The row's key values (the primary key's columns, or the rowid).
    pub key: Vec<Value>,
    pub kind: ConflictKind,
    pub rule: ConflictRule,
    pub outcome: ConflictOutcome,
    /// The columns both sides wrote (all of the row's for inserts and deletes).
    pub columns: Vec<String>,
    /// The device's version: the row it wrote, `None` for a delete.
    pub local: Option<RowImage>,
    /// The server's version when the change arrived, `None` if it had no such row.
    pub remote: Option<RowImage>,
    /// The row as the device had it before its write, `None` for an insert.
    pub base: Option<RowImage>,
    /// For a rejected change: the server's error code and message.
    pub error: Option<(String, String)>,
    /// When the device made its write.
    pub written_at: SystemTime,
}

/// How the application settles a conflict, from a [`Resolver`] during sync or later through
/// [`crate::Database::resolve_conflict`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Resolution {
    /// The device's version (its write is applied again, as a new change).
    KeepLocal,
    /// The server's version (nothing to write).
    KeepRemote,
    /// This row (named values; columns left out keep their current value).
    Merge(RowImage),
}

/// Decides conflicts for the application during sync. Called on a sync task, once per
/// conflict, never for rejected changes (they have nothing to choose between). The conflict it
/// sees is not stored yet (`id` 0) nor decided (`rule` is `Resolver`, `outcome` means nothing
/// yet). It may be asked again about the same change when a push is redone (the server refused
/// another change of the page, or the push failed before it committed), so it should decide
/// from the conflict alone. Must not block for long; a panic is caught and counts as
/// [`Resolution::KeepRemote`].
pub trait Resolver: Send + Sync + std::fmt::Debug {
    fn resolve(&self, conflict: &Conflict) -> Resolution;
}

/// Where a change came from, in a [`TableChange`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeOrigin {
    /// A write committed on this device.
    Local,
    /// Changes that arrived from the server in a sync.
    Remote,
}

/// Tables changed by a committed local write or by a sync: refresh views that show them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableChange {
    pub tables: Vec<String>,
    pub origin: ChangeOrigin,
}
