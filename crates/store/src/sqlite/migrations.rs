//! Versioned schema migrations, tracked in `PRAGMA user_version`.
//!
//! Append a new entry to [`MIGRATIONS`] to change the schema; never edit a shipped one.

use crate::StoreError;
use rusqlite::Connection;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: patients and facts.
    "CREATE TABLE patient (
        psn          TEXT PRIMARY KEY,
        research_psn TEXT NOT NULL,
        sex          TEXT NOT NULL,
        birth_year   INTEGER,
        vital_status TEXT NOT NULL,
        death_date   TEXT,
        last_contact TEXT
     ) WITHOUT ROWID;
     CREATE TABLE fact (
        key             BLOB PRIMARY KEY,
        psn             TEXT NOT NULL REFERENCES patient (psn) ON DELETE CASCADE,
        kind            TEXT NOT NULL,
        system          TEXT NOT NULL,
        code            TEXT NOT NULL,
        modifier_system TEXT,
        modifier_code   TEXT,
        value_num       REAL,
        value_unit      TEXT,
        value_system    TEXT,
        value_code      TEXT,
        start_date      TEXT,
        end_date        TEXT,
        category        TEXT NOT NULL,
        level           INTEGER NOT NULL
     );
     CREATE INDEX fact_psn ON fact (psn);
     CREATE INDEX fact_code ON fact (system, code);
     CREATE INDEX patient_research ON patient (research_psn);",
    // 2: replay ledger of federation tasks (ids of tasks already executed).
    "CREATE TABLE task_seen (
        task_id    TEXT PRIMARY KEY,
        expires_at TEXT NOT NULL
     ) WITHOUT ROWID;",
    // 3: feasibility sub-queries seek one patient's facts by kind, system and code.
    // Without it the planner (no ANALYZE statistics) may pick fact_code for a
    // correlated sub-query and scan every fact of that code once per patient (the
    // documented example on 50,000 patients / 2 M facts: ~800 s instead of 0.14 s).
    // Its leading column serves everything fact_psn served, so that one goes.
    "CREATE INDEX fact_psn_kind_code ON fact (psn, kind, system, code);
     DROP INDEX fact_psn;",
    // 4: feasibility sub-queries are uncorrelated (`p.psn IN (SELECT f.psn ...)`) and
    // always constrain the kind: serve them from (kind, system, code) with code
    // prefixes as ranges, covering psn and start_date so no table row is read
    // (measured on 5,600 patients / 119,000 facts: a diagnosis-prefix leaf 117 ms →
    // 2 ms, the age leaf 147 ms → 36 ms). Replaces fact_code, which it extends.
    "CREATE INDEX fact_kind_code ON fact (kind, system, code, psn, start_date);
     DROP INDEX fact_code;",
    // 5: with feasibility served by fact_kind_code, per-patient access (withdrawal,
    // ordered scans) needs only psn; the narrower index makes ingest cheaper.
    "CREATE INDEX fact_psn ON fact (psn);
     DROP INDEX fact_psn_kind_code;",
    // 6: the site's lifetime privacy ledger: one row per distinct noised release
    // (a keyed digest of query, site and stratum) with the ε it was charged, in
    // millionths so that sums are exact. Never purged: the budget is the data set's.
    "CREATE TABLE dp_release (
        key           TEXT PRIMARY KEY,
        micro_epsilon INTEGER NOT NULL CHECK (micro_epsilon >= 0),
        charged_at    TEXT NOT NULL
     ) WITHOUT ROWID;",
    // 7: the age leaf groups every dated diagnosis by patient (MIN(start_date));
    // fact_kind_code is ordered by code within a kind, so SQLite sorted them in a
    // temporary B-tree per query. Ordered by (kind, psn, start_date) the grouping
    // streams from a covering index (issue 13, item 6: on 30,000 patients the age
    // leaf 31 → 22 ms, a diagnosis-prefix AND age query 47 → 33 ms).
    "CREATE INDEX fact_kind_psn_start ON fact (kind, psn, start_date);",
    // 8: de-identified DICOM objects (one row per SOP instance; the bytes live in
    // the node's object store under object_key) and the objects the DICOM ingest
    // refused (no patient, no identifying value). A patient's images go with the
    // patient (the store deletes them itself first, to return their object keys).
    // Per-patient listing and withdrawal use image_psn; the instance and series
    // counts image_series and image_study.
    "CREATE TABLE image (
        sop_uid    TEXT PRIMARY KEY,
        psn        TEXT NOT NULL REFERENCES patient (psn) ON DELETE CASCADE,
        study_uid  TEXT NOT NULL,
        series_uid TEXT NOT NULL,
        modality   TEXT NOT NULL,
        body_part  TEXT,
        study_date TEXT,
        object_key TEXT NOT NULL,
        bytes      INTEGER NOT NULL CHECK (bytes >= 0),
        face_risk  INTEGER NOT NULL CHECK (face_risk IN (0, 1))
     ) WITHOUT ROWID;
     CREATE INDEX image_psn ON image (psn, study_uid, series_uid);
     CREATE INDEX image_series ON image (series_uid);
     CREATE INDEX image_study ON image (study_uid, series_uid);
     CREATE TABLE quarantine (
        id          INTEGER PRIMARY KEY,
        source      TEXT NOT NULL,
        reason_code TEXT NOT NULL,
        reason      TEXT NOT NULL,
        at          TEXT NOT NULL
     );
     CREATE INDEX quarantine_reason ON quarantine (reason_code);",
    // 9: cytomorphology (issue 15): smears of a person, single-cell images of a
    // smear (the metadata-free PNG lives in the node's object store under
    // object_key) and the labels of a cell, one per (role, expert). Keys are the
    // node's keyed digests of the lab's ids. They go with the patient (the store
    // deletes them itself first, to return the cells' object keys).
    "CREATE TABLE smear (
        smear_key     TEXT PRIMARY KEY,
        psn           TEXT NOT NULL REFERENCES patient (psn) ON DELETE CASCADE,
        specimen      TEXT NOT NULL,
        stain         TEXT NOT NULL,
        scanner       TEXT NOT NULL,
        magnification TEXT NOT NULL,
        collected     TEXT
     ) WITHOUT ROWID;
     CREATE INDEX smear_psn ON smear (psn);
     CREATE TABLE cell (
        cell_key   TEXT PRIMARY KEY,
        smear_key  TEXT NOT NULL REFERENCES smear (smear_key) ON DELETE CASCADE,
        object_key TEXT NOT NULL,
        width      INTEGER NOT NULL CHECK (width > 0),
        height     INTEGER NOT NULL CHECK (height > 0),
        lab_label  TEXT
     ) WITHOUT ROWID;
     CREATE INDEX cell_smear ON cell (smear_key);
     CREATE TABLE cell_label (
        cell_key TEXT NOT NULL REFERENCES cell (cell_key) ON DELETE CASCADE,
        role     TEXT NOT NULL CHECK (role IN ('expert', 'adjudicator', 'validated', 'model')),
        expert   TEXT NOT NULL,
        label    TEXT NOT NULL,
        method   TEXT,
        at       TEXT NOT NULL,
        PRIMARY KEY (cell_key, role, expert)
     ) WITHOUT ROWID;",
    // 10: sequencing (issue 16): a person's sequencing files (the bytes,
    // Crypt4GH-encrypted to the site key, live in the node's object store under
    // object_key) and the variant calls read from them in the harmonised model.
    // Keys are the node's keyed digests; both go with the patient (the store
    // deletes them itself first, to return the files' object keys).
    "CREATE TABLE sequence_file (
        object_key TEXT PRIMARY KEY,
        psn        TEXT NOT NULL REFERENCES patient (psn) ON DELETE CASCADE,
        file_key   TEXT NOT NULL,
        build      TEXT NOT NULL CHECK (build IN ('GRCh37', 'GRCh38')),
        origin     TEXT NOT NULL CHECK (origin IN ('germline', 'somatic')),
        calls      INTEGER NOT NULL CHECK (calls >= 0),
        bytes      INTEGER NOT NULL CHECK (bytes >= 0),
        collected  TEXT,
        whole      INTEGER NOT NULL CHECK (whole IN (0, 1))
     ) WITHOUT ROWID;
     CREATE INDEX sequence_file_psn ON sequence_file (psn);
     CREATE TABLE variant_call (
        call_key    TEXT PRIMARY KEY,
        psn         TEXT NOT NULL REFERENCES patient (psn) ON DELETE CASCADE,
        object_key  TEXT NOT NULL REFERENCES sequence_file (object_key) ON DELETE CASCADE,
        collected   TEXT,
        filter_pass INTEGER NOT NULL CHECK (filter_pass IN (0, 1)),
        origin      TEXT NOT NULL CHECK (origin IN ('germline', 'somatic')),
        build       TEXT,
        chrom       TEXT,
        pos         INTEGER,
        ref         TEXT,
        alt         TEXT,
        gene        TEXT,
        hgnc        TEXT,
        hgvs_c      TEXT,
        hgvs_p      TEXT,
        consequence TEXT,
        vaf         REAL,
        depth       INTEGER,
        zygosity    TEXT
     ) WITHOUT ROWID;
     CREATE INDEX variant_call_psn ON variant_call (psn);
     CREATE INDEX variant_call_locus ON variant_call (build, chrom, pos);
     CREATE INDEX variant_call_gene ON variant_call (gene);",
    // 11: Beacon risk budgets (issue 16): what each researcher's Beacon answers
    // have cost each individual, in nats (`oncofed_beacon::BudgetLedger`).
    // `individual` is the node's keyed digest of the person, never a pseudonym,
    // so the table names nobody and survives a withdrawal without pointing at
    // the erased person. Never purged: a reset budget reopens the attack.
    "CREATE TABLE beacon_budget (
        researcher TEXT NOT NULL,
        individual TEXT NOT NULL,
        spent      REAL NOT NULL CHECK (spent >= 0),
        PRIMARY KEY (researcher, individual)
     ) WITHOUT ROWID;",
    // 12: the site's operational log (issue 17, item 4; `site_log`): ingest
    // runs with their errors, every quality report, executed withdrawal orders
    // with their receipts. No pseudonym, no value from the data.
    super::site_log::MIGRATION,
];

/// The schema version this build writes.
pub const CURRENT: i64 = MIGRATIONS.len() as i64;

/// Brings the open database to [`CURRENT`] with the shared mechanism
/// (`oncofed-migrate`: one transaction, a newer database refused).
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    match oncofed_migrate::apply(conn, "research store", MIGRATIONS) {
        Ok(_) => Ok(()),
        Err(oncofed_migrate::MigrateError::TooNew {
            found, supported, ..
        }) => Err(StoreError::SchemaTooNew { found, supported }),
        Err(oncofed_migrate::MigrateError::Sqlite { source, .. }) => {
            Err(StoreError::Engine(source))
        }
    }
}
