//! The change capture a replica installs on the server, in plain SQL so that any server that
//! runs SQL (a stock libSQL server as well as Tidepool's) keeps it: a change table with one
//! entry per changed row, triggers on every table that write it, and a registry of the tables
//! captured. See docs/adr/0002-change-stream.md and SPEC.md §12.

use super::literal::{format_names, ident, parse_names, string};

/// The version of the capture format (trigger bodies, tables). Kept in `_tidepool_meta`.
pub(crate) const CAPTURE_VERSION: i64 = 1;

/// Creates the change table, its key index, the registry and the meta table. Idempotent.
pub(crate) const INSTALL_BASE: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS _tidepool_changes (\
        seq INTEGER PRIMARY KEY AUTOINCREMENT, \
        tbl TEXT NOT NULL, \
        pk TEXT NOT NULL, \
        row TEXT)",
    "CREATE UNIQUE INDEX IF NOT EXISTS _tidepool_changes_key ON _tidepool_changes (tbl, pk)",
    "CREATE TABLE IF NOT EXISTS _tidepool_tables (\
        tbl TEXT PRIMARY KEY, \
        sql TEXT NOT NULL, \
        cols TEXT NOT NULL, \
        key TEXT NOT NULL, \
        capture INTEGER NOT NULL, \
        install INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _tidepool_meta (key TEXT PRIMARY KEY, value)",
];

/// Whether the base objects exist (a read, so a read-only token can sync once they do).
pub(crate) const BASE_INSTALLED: &str = "SELECT count(*) FROM sqlite_master \
    WHERE type = 'table' AND name IN ('_tidepool_changes', '_tidepool_tables', '_tidepool_meta')";

/// The tables a replica mirrors: ordinary tables of the main schema (not virtual or shadow
/// tables, not SQLite's or Tidepool's own), with their SQL and what the registry says about
/// their capture.
pub(crate) const LIST_TABLES: &str = "SELECT m.name, m.sql, r.sql, r.cols, r.key, r.capture, \
      r.install, \
      (SELECT count(*) FROM sqlite_master AS g WHERE g.type = 'trigger' AND g.tbl_name = m.name \
        AND g.name LIKE '\\_tidepool\\_capture\\_%' ESCAPE '\\') \
    FROM pragma_table_list AS l \
    JOIN sqlite_master AS m ON m.type = 'table' AND m.name = l.name \
    LEFT JOIN _tidepool_tables AS r ON r.tbl = m.name \
    WHERE l.schema = 'main' AND l.type = 'table' \
      AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
      AND m.name NOT LIKE '\\_tidepool\\_%' ESCAPE '\\' \
    ORDER BY m.name";

/// Indexes and views, mirrored on the replica (triggers are not: their effects arrive as
/// changes).
pub(crate) const LIST_OTHER_SCHEMA: &str = "SELECT type, name, tbl_name, sql FROM sqlite_master \
    WHERE type IN ('index', 'view') AND sql IS NOT NULL \
      AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
      AND name NOT LIKE '\\_tidepool\\_%' ESCAPE '\\' \
    ORDER BY type = 'view', name";

/// A table's columns: name, primary-key position and whether it is stored (generated and
/// hidden columns are computed, not copied).
pub(crate) const TABLE_COLUMNS: &str =
    "SELECT name, pk FROM pragma_table_xinfo(?) WHERE hidden = 0 ORDER BY cid";

/// The position the change stream has reached, and the schema's version.
pub(crate) const POSITION: &str = "SELECT \
    (SELECT coalesce(max(seq), 0) FROM _tidepool_changes), \
    (SELECT schema_version FROM pragma_schema_version)";

/// One page of changes after a position, after a header row (`seq` -1) with the server's
/// position and schema version: a sync that finds nothing new is one request.
/// Short column names: they travel with every pull's reply.
pub(crate) const PULL: &str = "SELECT -1 AS s, \
      (SELECT value FROM _tidepool_meta WHERE key = 'pruned') AS t, \
      (SELECT coalesce(max(seq), 0) FROM _tidepool_changes) AS k, \
      (SELECT schema_version FROM pragma_schema_version) AS r \
    UNION ALL SELECT * FROM (SELECT seq, tbl, pk, row FROM _tidepool_changes \
      WHERE seq > ? ORDER BY seq LIMIT ?)";

/// How a table's rows are identified in the change table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// The declared primary key's columns, in key order.
    Columns(Vec<String>),
    /// No primary key: the rowid (see the ADR for what `VACUUM` does to it).
    Rowid,
}

impl Key {
    /// From `pragma_table_xinfo` rows (name, pk position).
    pub fn from_columns(cols: &[(String, i64)]) -> Key {
        let mut pk: Vec<&(String, i64)> = cols.iter().filter(|(_, pk)| *pk > 0).collect();
        if pk.is_empty() {
            return Key::Rowid;
        }
        pk.sort_by_key(|(_, n)| *n);
        Key::Columns(pk.into_iter().map(|(name, _)| name.clone()).collect())
    }

    /// The registry's text form: a literal list of column names, or `rowid`.
    pub fn to_registry(&self) -> String {
        match self {
            Key::Rowid => "rowid".to_owned(),
            Key::Columns(cols) => format_names(cols),
        }
    }

    pub fn from_registry(text: &str) -> Option<Key> {
        if text == "rowid" {
            return Some(Key::Rowid);
        }
        parse_names(text)
            .filter(|cols| !cols.is_empty())
            .map(Key::Columns)
    }

    /// The key's columns as SQL (`rowid` for the rowid).
    pub fn columns_sql(&self) -> Vec<String> {
        match self {
            Key::Rowid => vec!["rowid".to_owned()],
            Key::Columns(cols) => cols.iter().map(|c| ident(c)).collect(),
        }
    }
}

/// `quote(NEW."a")||','||quote(NEW."b")`: a literal list of the given columns of a row.
fn literal_expr(row: &str, cols: &[String]) -> String {
    cols.iter()
        .map(|c| format!("quote({row}.{c})"))
        .collect::<Vec<_>>()
        .join("||','||")
}

/// The triggers each captured table has.
pub(crate) const TRIGGERS_PER_TABLE: i64 = 3;

/// The statements that (re)install capture on `table`: its triggers, replaced in one go, and
/// its registry entry. `cols` are the stored columns in table order; `sql` is the table's
/// current `CREATE TABLE` text; `install` identifies this installation (replicas copy a table
/// again when it changes: the table may have been dropped and made anew, which no trigger
/// sees).
pub(crate) fn install_table(
    table: &str,
    sql: &str,
    cols: &[String],
    key: &Key,
    install: i64,
) -> Vec<String> {
    let t = ident(table);
    let name = string(table);
    let col_sql: Vec<String> = cols.iter().map(|c| ident(c)).collect();
    let key_sql = key.columns_sql();
    let key_new = literal_expr("NEW", &key_sql);
    let key_old = literal_expr("OLD", &key_sql);
    let row_new = if col_sql.is_empty() {
        "''".to_owned()
    } else {
        literal_expr("NEW", &col_sql)
    };
    let trigger = |suffix: &str| ident(&format!("_tidepool_capture_{table}_{suffix}"));
    let upsert = |key: &str, row: &str| {
        format!("INSERT OR REPLACE INTO _tidepool_changes (tbl, pk, row) VALUES ({name}, {key}, {row});")
    };
    let cols_list = format_names(cols);
    vec![
        format!("DROP TRIGGER IF EXISTS {}", trigger("insert")),
        format!("DROP TRIGGER IF EXISTS {}", trigger("update")),
        format!("DROP TRIGGER IF EXISTS {}", trigger("delete")),
        format!(
            "CREATE TRIGGER {} AFTER INSERT ON {t} BEGIN {} END",
            trigger("insert"),
            upsert(&key_new, &row_new)
        ),
        format!(
            "CREATE TRIGGER {} AFTER UPDATE ON {t} BEGIN \
             INSERT OR REPLACE INTO _tidepool_changes (tbl, pk, row) \
               SELECT {name}, {key_old}, NULL WHERE ({key_old}) IS NOT ({key_new}); \
             {} END",
            trigger("update"),
            upsert(&key_new, &row_new)
        ),
        format!(
            "CREATE TRIGGER {} AFTER DELETE ON {t} BEGIN {} END",
            trigger("delete"),
            upsert(&key_old, "NULL")
        ),
        format!(
            "INSERT OR REPLACE INTO _tidepool_tables (tbl, sql, cols, key, capture, install) \
             VALUES ({name}, {}, {}, {}, {CAPTURE_VERSION}, {install})",
            string(sql),
            string(&cols_list),
            string(&key.to_registry()),
        ),
        format!(
            "INSERT OR REPLACE INTO _tidepool_meta (key, value) \
             VALUES ('capture_version', {CAPTURE_VERSION})"
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_declared_primary_key() {
        let cols = vec![
            ("b".to_owned(), 2),
            ("a".to_owned(), 1),
            ("x".to_owned(), 0),
        ];
        let key = Key::from_columns(&cols);
        assert_eq!(key, Key::Columns(vec!["a".into(), "b".into()]));
        assert_eq!(Key::from_registry(&key.to_registry()), Some(key));
        assert_eq!(Key::from_columns(&[("x".into(), 0)]), Key::Rowid);
        assert_eq!(Key::from_registry("rowid"), Some(Key::Rowid));
        assert_eq!(Key::from_registry("1,2"), None);
    }
}
