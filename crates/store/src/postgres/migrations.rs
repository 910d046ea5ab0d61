//! Versioned schema migrations for PostgreSQL, tracked in the one-row table
//! `oncofed_schema (version)`.
//!
//! Append a new entry to [`MIGRATIONS`] to change the schema; never edit a shipped
//! one. The PostgreSQL versions count on their own (they are not SQLite's
//! `user_version`): version 2 here has everything SQLite's version 6 has, version
//! 3 everything of SQLite's version 8, version 4 everything of SQLite's version 9
//! (SQLite's 3–5 and 7 only tune indexes).
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
use oncofed_migrate::postgres::{Ledger, PgMigrateError};
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
    // 3: de-identified DICOM objects and the objects the DICOM ingest refused
    // (SQLite's migration 8). `image.psn` references `patient` without a cascade,
    // like `fact`: the store deletes a person's images itself, returning their
    // object keys.
    r#"CREATE TABLE image (
        sop_uid    TEXT COLLATE "C" PRIMARY KEY,
        psn        TEXT COLLATE "C" NOT NULL REFERENCES patient (psn),
        study_uid  TEXT COLLATE "C" NOT NULL,
        series_uid TEXT COLLATE "C" NOT NULL,
        modality   TEXT COLLATE "C" NOT NULL,
        body_part  TEXT COLLATE "C",
        study_date TEXT COLLATE "C",
        object_key TEXT COLLATE "C" NOT NULL,
        bytes      BIGINT NOT NULL CHECK (bytes >= 0),
        face_risk  BOOLEAN NOT NULL
     );
     CREATE INDEX image_psn ON image (psn, study_uid, series_uid);
     CREATE INDEX image_series ON image (series_uid);
     CREATE INDEX image_study ON image (study_uid, series_uid);
     CREATE TABLE quarantine (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        source      TEXT COLLATE "C" NOT NULL,
        reason_code TEXT COLLATE "C" NOT NULL,
        reason      TEXT COLLATE "C" NOT NULL,
        at          TIMESTAMPTZ NOT NULL
     );
     CREATE INDEX quarantine_reason ON quarantine (reason_code);"#,
    // 4: cytomorphology (SQLite's migration 9): smears, cells and cell labels,
    // referencing their parents without a cascade (the store deletes a person's
    // cells itself, returning their object keys).
    r#"CREATE TABLE smear (
        smear_key     TEXT COLLATE "C" PRIMARY KEY,
        psn           TEXT COLLATE "C" NOT NULL REFERENCES patient (psn),
        specimen      TEXT COLLATE "C" NOT NULL,
        stain         TEXT COLLATE "C" NOT NULL,
        scanner       TEXT COLLATE "C" NOT NULL,
        magnification TEXT COLLATE "C" NOT NULL,
        collected     TEXT COLLATE "C"
     );
     CREATE INDEX smear_psn ON smear (psn);
     CREATE TABLE cell (
        cell_key   TEXT COLLATE "C" PRIMARY KEY,
        smear_key  TEXT COLLATE "C" NOT NULL REFERENCES smear (smear_key),
        object_key TEXT COLLATE "C" NOT NULL,
        width      BIGINT NOT NULL CHECK (width > 0),
        height     BIGINT NOT NULL CHECK (height > 0),
        lab_label  TEXT COLLATE "C"
     );
     CREATE INDEX cell_smear ON cell (smear_key);
     CREATE TABLE cell_label (
        cell_key TEXT COLLATE "C" NOT NULL REFERENCES cell (cell_key),
        role     TEXT COLLATE "C" NOT NULL CHECK (role IN ('expert', 'adjudicator', 'validated', 'model')),
        expert   TEXT COLLATE "C" NOT NULL,
        label    TEXT COLLATE "C" NOT NULL,
        method   TEXT COLLATE "C",
        at       TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (cell_key, role, expert)
     );"#,
    // 5: sequencing (issue 16), as SQLite's migration 10.
    r#"CREATE TABLE sequence_file (
        object_key TEXT COLLATE "C" PRIMARY KEY,
        psn        TEXT COLLATE "C" NOT NULL REFERENCES patient (psn),
        file_key   TEXT COLLATE "C" NOT NULL,
        build      TEXT COLLATE "C" NOT NULL CHECK (build IN ('GRCh37', 'GRCh38')),
        origin     TEXT COLLATE "C" NOT NULL CHECK (origin IN ('germline', 'somatic')),
        calls      BIGINT NOT NULL CHECK (calls >= 0),
        bytes      BIGINT NOT NULL CHECK (bytes >= 0),
        collected  TEXT COLLATE "C",
        whole      BIGINT NOT NULL CHECK (whole IN (0, 1))
     );
     CREATE INDEX sequence_file_psn ON sequence_file (psn);
     CREATE TABLE variant_call (
        call_key    TEXT COLLATE "C" PRIMARY KEY,
        psn         TEXT COLLATE "C" NOT NULL REFERENCES patient (psn),
        object_key  TEXT COLLATE "C" NOT NULL REFERENCES sequence_file (object_key),
        collected   TEXT COLLATE "C",
        filter_pass BIGINT NOT NULL CHECK (filter_pass IN (0, 1)),
        origin      TEXT COLLATE "C" NOT NULL CHECK (origin IN ('germline', 'somatic')),
        build       TEXT COLLATE "C",
        chrom       TEXT COLLATE "C",
        pos         BIGINT,
        ref         TEXT COLLATE "C",
        alt         TEXT COLLATE "C",
        gene        TEXT COLLATE "C",
        hgnc        TEXT COLLATE "C",
        hgvs_c      TEXT COLLATE "C",
        hgvs_p      TEXT COLLATE "C",
        consequence TEXT COLLATE "C",
        vaf         DOUBLE PRECISION,
        depth       BIGINT,
        zygosity    TEXT COLLATE "C"
     );
     CREATE INDEX variant_call_psn ON variant_call (psn);
     CREATE INDEX variant_call_locus ON variant_call (build, chrom, pos);
     CREATE INDEX variant_call_gene ON variant_call (gene);"#,
    // 6: Beacon risk budgets (issue 16), as SQLite migration 11: keyed digests
    // of individuals, never pseudonyms; never purged.
    r#"CREATE TABLE beacon_budget (
        researcher TEXT COLLATE "C" NOT NULL,
        individual TEXT COLLATE "C" NOT NULL,
        spent      DOUBLE PRECISION NOT NULL CHECK (spent >= 0),
        PRIMARY KEY (researcher, individual)
     );"#,
    // 7: the site's operational log (issue 17, item 4), as SQLite migration 12.
    super::site_log::MIGRATION,
];

/// Where the version lives and the lock that guards migrations.
const LEDGER: Ledger = Ledger {
    store: "research store",
    table: "oncofed_schema",
    lock_key: LOCK_KEY,
};

/// The schema version this build writes.
pub const CURRENT: i64 = MIGRATIONS.len() as i64;

fn store_error(e: PgMigrateError) -> StoreError {
    match e {
        PgMigrateError::TooNew {
            found, supported, ..
        } => StoreError::SchemaTooNew { found, supported },
        PgMigrateError::Postgres { source, .. } => StoreError::Postgres(source),
    }
}

/// The schema version of the database (0 before the first migration).
pub fn version(client: &mut Client) -> Result<i64, StoreError> {
    oncofed_migrate::postgres::version(client, LEDGER).map_err(store_error)
}

/// Brings the database to [`CURRENT`], each step in its own transaction under the
/// advisory lock (the loop every PostgreSQL store shares,
/// `oncofed_migrate::postgres::apply`).
pub fn migrate(client: &mut Client) -> Result<(), StoreError> {
    oncofed_migrate::postgres::apply(client, LEDGER, MIGRATIONS)
        .map(|_| ())
        .map_err(store_error)
}
