//! Versioned schema migrations for PostgreSQL, tracked in the one-row table
//! `oncofed_schema (version)`.
//!
//! Append a new entry to [`MIGRATIONS`] to change the schema; never edit a shipped
//! one. The PostgreSQL versions count on their own (they are not SQLite's
//! `user_version`): version 2 here has everything SQLite's version 6 has.
//!
//! Each migration runs in its own transaction that first takes a transaction-level
//! advisory lock ([`LOCK_KEY`]) and then re-reads the version, so two nodes (or two
//! processes) starting against one database at once apply every step exactly once:
//! the second waits for the first's step to commit and then finds it done. A
//! database whose version is newer than this build's is refused
//! ([`StoreError::SchemaTooNew`]) before anything is written.
//!
//! Schema notes (see also the module docs of [`crate::PostgresStore`]):
//! - every text column is `COLLATE "C"`: comparisons and `ORDER BY` are in
//!   code-point order like SQLite's binary collation, whatever the database's
//!   locale, so prefix ranges and result order are the same on both backends;
//! - dates are `YYYY-MM-DD` text as in SQLite; replay-ledger and privacy-ledger
//!   times are `TIMESTAMPTZ`;
//! - `fact`'s primary key is `(psn, key)` and its foreign key to `patient` is on
//!   `psn` without `ON DELETE CASCADE` (the store deletes a person's facts itself),
//!   so nothing spans persons and both tables can be distributed by `psn`.

use crate::StoreError;
use postgres::Client;

/// The advisory lock migrations take (`pg_advisory_xact_lock`): "oncofed" in ASCII.
pub const LOCK_KEY: i64 = 0x006f_6e63_6f66_6564;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: patients and facts, with the feasibility index (kind, system, code) that
    // covers psn and start_date (see SQLite's migration 4). Per-patient access
    // (withdrawal, ordered scans) uses the primary key's leading psn.
    r#"CREATE TABLE patient (
        psn          TEXT COLLATE "C" PRIMARY KEY,
        research_psn TEXT COLLATE "C" NOT NULL,
        sex          TEXT COLLATE "C" NOT NULL,
        birth_year   INTEGER,
        vital_status TEXT COLLATE "C" NOT NULL,
        death_date   TEXT COLLATE "C",
        last_contact TEXT COLLATE "C"
     );
     CREATE INDEX patient_research ON patient (research_psn);
     CREATE TABLE fact (
        psn             TEXT COLLATE "C" NOT NULL REFERENCES patient (psn),
        key             BYTEA NOT NULL,
        kind            TEXT COLLATE "C" NOT NULL,
        system          TEXT COLLATE "C" NOT NULL,
        code            TEXT COLLATE "C" NOT NULL,
        modifier_system TEXT COLLATE "C",
        modifier_code   TEXT COLLATE "C",
        value_num       DOUBLE PRECISION,
        value_unit      TEXT COLLATE "C",
        value_system    TEXT COLLATE "C",
        value_code      TEXT COLLATE "C",
        start_date      TEXT COLLATE "C",
        end_date        TEXT COLLATE "C",
        category        TEXT COLLATE "C" NOT NULL,
        level           SMALLINT NOT NULL,
        PRIMARY KEY (psn, key)
     );
     CREATE INDEX fact_kind_code ON fact (kind, system, code, psn, start_date);"#,
    // 2: the site-local ledgers: replay ledger of federation tasks, and the
    // lifetime privacy ledger (ε in millionths so sums are exact; never purged).
    r#"CREATE TABLE task_seen (
        task_id    TEXT COLLATE "C" PRIMARY KEY,
        expires_at TIMESTAMPTZ NOT NULL
     );
     CREATE INDEX task_seen_expiry ON task_seen (expires_at);
     CREATE TABLE dp_release (
        key           TEXT COLLATE "C" PRIMARY KEY,
        micro_epsilon BIGINT NOT NULL CHECK (micro_epsilon >= 0),
        charged_at    TIMESTAMPTZ NOT NULL
     );"#,
];

/// The schema version this build writes.
pub const CURRENT: i64 = MIGRATIONS.len() as i64;

/// The schema version of the database (0 before the first migration).
pub fn version(client: &mut Client) -> Result<i64, StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('oncofed_schema') IS NOT NULL", &[])?
        .try_get(0)?;
    if !exists {
        return Ok(0);
    }
    Ok(client
        .query_one("SELECT version FROM oncofed_schema", &[])?
        .try_get(0)?)
}

/// Brings the database to [`CURRENT`], each step in its own transaction under the
/// advisory lock.
pub fn migrate(client: &mut Client) -> Result<(), StoreError> {
    loop {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
        let exists: bool = tx
            .query_one("SELECT to_regclass('oncofed_schema') IS NOT NULL", &[])?
            .try_get(0)?;
        if !exists {
            // One row at most: the boolean key can only be TRUE.
            tx.batch_execute(
                "CREATE TABLE oncofed_schema (
                    one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
                    version BIGINT NOT NULL
                 );
                 INSERT INTO oncofed_schema (version) VALUES (0);",
            )?;
        }
        let found: i64 = tx
            .query_one("SELECT version FROM oncofed_schema", &[])?
            .try_get(0)?;
        if found > CURRENT {
            return Err(StoreError::SchemaTooNew {
                found,
                supported: CURRENT,
            });
        }
        let Some(sql) = usize::try_from(found).ok().and_then(|i| MIGRATIONS.get(i)) else {
            // Up to date (the transaction only held the lock).
            tx.commit()?;
            return Ok(());
        };
        tx.batch_execute(sql)?;
        tx.execute("UPDATE oncofed_schema SET version = $1", &[&(found + 1)])?;
        tx.commit()?;
    }
}
