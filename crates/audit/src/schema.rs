//! Versioned schema migrations, tracked in `PRAGMA user_version`.
//!
//! Append a new entry to [`MIGRATIONS`] to change the schema; never edit a
//! shipped one.

use crate::AuditError;
use rusqlite::Connection;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: entries, checkpoints, the signer's key; triggers keep both tables
    // append-only for anyone using SQL (the hash chain catches the rest).
    "CREATE TABLE meta (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE entries (
        seq       INTEGER PRIMARY KEY CHECK (seq >= 0),
        at        TEXT NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        subject   TEXT NOT NULL,
        details   TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
     );
     CREATE TABLE checkpoints (
        seq       INTEGER PRIMARY KEY REFERENCES entries (seq),
        hash      TEXT NOT NULL,
        at        TEXT NOT NULL,
        signature TEXT NOT NULL
     );
     CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
        BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
     CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
        BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
     CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
        BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
     CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
        BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;",
];

/// Brings the open database to the newest schema with the shared mechanism
/// (`oncofed-migrate`: one transaction, a newer database refused).
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), AuditError> {
    match oncofed_migrate::apply(conn, "audit trail", MIGRATIONS) {
        Ok(_) => Ok(()),
        Err(oncofed_migrate::MigrateError::TooNew {
            found, supported, ..
        }) => Err(AuditError::SchemaTooNew { found, supported }),
        Err(oncofed_migrate::MigrateError::Sqlite { source, .. }) => Err(source.into()),
    }
}
