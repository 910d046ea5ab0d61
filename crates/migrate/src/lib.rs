//! One schema-migration mechanism for OncoFed's SQLite stores.
//!
//! The research store, the trust centre, the hub and the audit trails each keep
//! a list of SQL steps; step `i` brings the schema from version `i` to `i + 1`,
//! and `PRAGMA user_version` records how many were applied. [`apply`] is the one
//! loop they share (there used to be four copies, one of which did not refuse a
//! newer database):
//!
//! - a current schema is only read (no write lock); otherwise the version is
//!   read again and every missing step applied inside one `IMMEDIATE`
//!   transaction, so two processes opening the same file cannot both migrate and
//!   a failed step leaves the database as it was;
//! - a database whose version is above the number of steps this build knows was
//!   written by a newer build and is refused ([`MigrateError::TooNew`]) rather
//!   than read with assumptions that no longer hold.
//!
//! Steps are append-only: never edit a shipped one. The PostgreSQL stores keep
//! their version in a table instead, since `user_version` is SQLite's: with the
//! `postgres` feature, [`postgres::apply`] applies the same rules under an advisory
//! lock, and [`postgres::Target`] holds the connection rules they share (no
//! network host without TLS, no password in messages).

#[cfg(feature = "postgres")]
pub mod postgres;

use rusqlite::{Connection, TransactionBehavior};

/// Why a database could not be brought to this build's schema.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The database was written by a newer build.
    #[error(
        "the {store} schema is version {found}, newer than this build's {supported}: \
         run the newer OncoFed that wrote it, or restore a backup taken before the upgrade"
    )]
    TooNew {
        /// Which store.
        store: &'static str,
        /// The version found.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// SQLite failed while reading the version or applying a step.
    #[error("migrating the {store} schema: {source}")]
    Sqlite {
        /// Which store.
        store: &'static str,
        /// The engine's error.
        source: rusqlite::Error,
    },
}

/// What [`apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The version found before.
    pub from: i64,
    /// The version now (the number of steps).
    pub to: i64,
}

/// The schema version of an open database (`PRAGMA user_version`).
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings the database to `steps.len()`: the missing steps in one `IMMEDIATE`
/// transaction, or nothing if it is newer than that. `store` names the store in
/// errors and logs.
pub fn apply(
    conn: &mut Connection,
    store: &'static str,
    steps: &[&str],
) -> Result<Applied, MigrateError> {
    let sqlite = |source| MigrateError::Sqlite { store, source };
    let supported = steps.len() as i64;
    // The usual case, a current schema, takes no write lock: other processes on
    // the same file (an ingest beside the node's agent) are not held up.
    let seen = version(conn).map_err(sqlite)?;
    if seen == supported {
        return Ok(Applied {
            from: seen,
            to: supported,
        });
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    let found = version(&tx).map_err(sqlite)?;
    if found > supported {
        return Err(MigrateError::TooNew {
            store,
            found,
            supported,
        });
    }
    for (i, sql) in steps.iter().enumerate().skip(found.max(0) as usize) {
        tx.execute_batch(sql).map_err(sqlite)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)
            .map_err(sqlite)?;
        tracing::info!(store, version = i + 1, "applied schema migration");
    }
    tx.commit().map_err(sqlite)?;
    Ok(Applied {
        from: found,
        to: supported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: &[&str] = &["CREATE TABLE a (x INTEGER);", "CREATE TABLE b (y INTEGER);"];

    #[test]
    fn steps_apply_once_in_order_and_a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut conn = Connection::open(&path).unwrap();
        assert_eq!(
            apply(&mut conn, "test", &STEPS[..1]).unwrap(),
            Applied { from: 0, to: 1 }
        );
        assert_eq!(
            apply(&mut conn, "test", STEPS).unwrap(),
            Applied { from: 1, to: 2 }
        );
        assert_eq!(
            apply(&mut conn, "test", STEPS).unwrap(),
            Applied { from: 2, to: 2 }
        );
        // An older build meets the newer database: refused, nothing touched.
        let err = apply(&mut conn, "test", &STEPS[..1]).unwrap_err();
        assert!(
            matches!(
                err,
                MigrateError::TooNew {
                    found: 2,
                    supported: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("newer than this build"));
        assert_eq!(version(&conn).unwrap(), 2);
    }

    #[test]
    fn a_failing_step_leaves_the_database_as_it_was() {
        let mut conn = Connection::open_in_memory().unwrap();
        let steps = ["CREATE TABLE a (x INTEGER);", "CREATE TABLE a (x INTEGER);"];
        assert!(matches!(
            apply(&mut conn, "test", &steps),
            Err(MigrateError::Sqlite { .. })
        ));
        assert_eq!(version(&conn).unwrap(), 0);
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'a'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0);
    }
}
