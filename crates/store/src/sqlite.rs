//! The embedded SQLite research store (rusqlite, bundled SQLite).
//!
//! One file per node, WAL journal (readers never block the ingest writer),
//! `synchronous = NORMAL` (durable at checkpoints, safe against corruption),
//! foreign keys on so that deleting a patient cascades to their facts and images.

mod cells;
mod codec;
mod feasibility;
mod genomics;
mod images;
mod migrations;
mod private;
mod site_log;

use crate::columns;
use crate::feasibility::Dialect;
use crate::{
    FactFilter, ImageRow, ImageStats, LedgerCharge, LedgerTotals, PatientRow, ResearchStore,
    StoreError, StoreStats, StoredFact, WriteBatch, WriteOutcome,
};
use oncofed_criteria::Criteria;
use oncofed_model::Pseudonym;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The file name of the research store inside a node's data directory.
pub const FILE_NAME: &str = "research.db";

/// An I/O failure before SQLite opened the file, in the error SQLite would give.
fn io_open_error(path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Open {
        path: path.to_owned(),
        source: rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(e.to_string()),
        ),
    }
}

/// Puts the database in WAL mode. Switching a new file needs an exclusive lock,
/// and SQLite answers "busy" at once, without its busy handler, while another
/// process of the node creates the same file: retry for up to 5 s.
fn switch_to_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mut waited = std::time::Duration::ZERO;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && waited < std::time::Duration::from_secs(5) =>
            {
                let pause = std::time::Duration::from_millis(10);
                std::thread::sleep(pause);
                waited += pause;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A research store in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// The schema version this build creates and understands.
    pub const SCHEMA_VERSION: i64 = migrations::CURRENT;

    /// Opens (creating if needed) the store in `data_dir` and migrates it to the
    /// current schema. A missing `data_dir` is created owner-only (0700).
    pub fn open_in(data_dir: &Path) -> Result<Self, StoreError> {
        private::create_dir(data_dir).map_err(|e| io_open_error(data_dir, &e))?;
        Self::open(&data_dir.join(FILE_NAME))
    }

    /// Opens (creating if needed) the store file at `path`. The file, its WAL and
    /// its shared-memory file are owner-only (0600): created so, and tightened if an
    /// older version left them readable by group or others.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        private::secure_files(path).map_err(|e| io_open_error(path, &e))?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        switch_to_wal(&conn).map_err(open_err)?;
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA secure_delete = ON;
             PRAGMA cache_size = -65536;
             PRAGMA temp_store = MEMORY;
             PRAGMA busy_timeout = 5000;",
        )
        .map_err(open_err)?;
        let mut store = Self {
            conn,
            path: path.to_owned(),
        };
        migrations::migrate(&mut store.conn)?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Copies the WAL into the main file and truncates the WAL, so the file on disk
    /// is complete on its own (used before byte-level scans and backups).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }
}

impl ResearchStore for SqliteStore {
    fn write(&mut self, batch: &WriteBatch) -> Result<WriteOutcome, StoreError> {
        let tx = self.conn.transaction()?;
        let mut outcome = WriteOutcome::default();
        {
            let mut exists = tx.prepare_cached("SELECT 1 FROM patient WHERE psn = ?1")?;
            let mut upsert_patient = tx.prepare_cached(
                "INSERT INTO patient (psn, research_psn, sex, birth_year, vital_status, death_date, last_contact)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (psn) DO UPDATE SET research_psn = excluded.research_psn, sex = excluded.sex,
                   birth_year = excluded.birth_year, vital_status = excluded.vital_status,
                   death_date = excluded.death_date, last_contact = excluded.last_contact",
            )?;
            for p in &batch.patients {
                if exists
                    .query_row([p.pseudonym.as_str()], |_| Ok(()))
                    .optional()?
                    .is_none()
                {
                    outcome.patients_new += 1;
                }
                let d = &p.demographics;
                upsert_patient.execute(params![
                    p.pseudonym.as_str(),
                    p.research_pseudonym.as_str(),
                    d.sex.as_fhir(),
                    d.birth_year,
                    columns::vital_status_name(d.vital_status),
                    d.death_date.map(columns::date_text),
                    d.last_contact.map(columns::date_text),
                ])?;
            }
            // New facts (the common case) cost one statement; existing ones are updated in place.
            let mut insert_fact = tx.prepare_cached(codec::INSERT_FACT)?;
            let mut update_fact = tx.prepare_cached(codec::UPDATE_FACT)?;
            for f in &batch.facts {
                if codec::execute_fact(&mut insert_fact, f)? == 1 {
                    outcome.facts_new += 1;
                } else {
                    codec::execute_fact(&mut update_fact, f)?;
                    outcome.facts_existing += 1;
                }
            }
            images::write(&tx, batch, &mut outcome)?;
            cells::write(&tx, batch)?;
            genomics::write(&tx, batch)?;
        }
        tx.commit()?;
        Ok(outcome)
    }

    fn facts(&self, filter: &FactFilter) -> Result<Vec<StoredFact>, StoreError> {
        let (sql, args) = columns::select_facts(filter, Dialect::Sqlite);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            rusqlite::params_from_iter(codec::values(&args)),
            codec::read_fact_row,
        )?;
        let mut out = Vec::new();
        for row in rows {
            out.push(columns::decode_fact(row?)?);
        }
        Ok(out)
    }

    fn existing_patients(
        &self,
        pseudonyms: &[Pseudonym],
    ) -> Result<HashSet<Pseudonym>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM patient WHERE psn = ?1")?;
        let mut found = HashSet::new();
        for p in pseudonyms {
            if stmt
                .query_row([p.as_str()], |_| Ok(()))
                .optional()?
                .is_some()
            {
                found.insert(p.clone());
            }
        }
        Ok(found)
    }

    fn for_each_patient(&self, visit: &mut dyn FnMut(PatientRow)) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {} FROM patient ORDER BY psn",
            columns::PATIENT_COLUMNS
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            visit(codec::decode_patient(row)?);
        }
        Ok(())
    }

    fn for_each_fact(&self, visit: &mut dyn FnMut(StoredFact)) -> Result<(), StoreError> {
        let (sql, args) = columns::select_facts(&FactFilter::default(), Dialect::Sqlite);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(codec::values(&args)))?;
        while let Some(row) = rows.next()? {
            visit(columns::decode_fact(codec::read_fact_row(row)?)?);
        }
        Ok(())
    }

    fn delete_patient(&mut self, pseudonym: &Pseudonym) -> Result<crate::Deleted, StoreError> {
        let tx = self.conn.transaction()?;
        let facts = tx.execute("DELETE FROM fact WHERE psn = ?1", [pseudonym.as_str()])?;
        // Before the patient: the cascade would delete them without their keys.
        let images = images::delete(&tx, pseudonym)?;
        let cells = cells::delete(&tx, pseudonym)?;
        let sequences = genomics::delete(&tx, pseudonym)?;
        let n = tx.execute("DELETE FROM patient WHERE psn = ?1", [pseudonym.as_str()])?;
        tx.commit()?;
        // Deleted rows must not linger in free pages or the WAL (withdrawal = erasure).
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(crate::Deleted {
            patient: n > 0,
            facts: facts as u64,
            images,
            cells,
            sequences,
        })
    }

    fn images_of(&self, pseudonyms: &[Pseudonym]) -> Result<Vec<ImageRow>, StoreError> {
        images::of(&self.conn, pseudonyms)
    }

    fn series_instance_counts(
        &self,
        series_uids: &[String],
    ) -> Result<HashMap<String, u64>, StoreError> {
        images::counts(&self.conn, images::SERIES_INSTANCES, series_uids)
    }

    fn study_series_counts(
        &self,
        study_uids: &[String],
    ) -> Result<HashMap<String, u64>, StoreError> {
        images::counts(&self.conn, images::STUDY_SERIES, study_uids)
    }

    fn image_stats(&self) -> Result<ImageStats, StoreError> {
        images::stats(&self.conn)
    }

    fn smears_of(&self, pseudonyms: &[Pseudonym]) -> Result<Vec<crate::SmearRow>, StoreError> {
        cells::smears(&self.conn, Some(pseudonyms))
    }

    fn all_smears(&self) -> Result<Vec<crate::SmearRow>, StoreError> {
        cells::smears(&self.conn, None)
    }

    fn cells_of(&self, smear_keys: &[String]) -> Result<Vec<crate::CellRow>, StoreError> {
        cells::cells(&self.conn, smear_keys)
    }

    fn cells_by_key(&self, cell_keys: &[String]) -> Result<Vec<crate::CellRow>, StoreError> {
        cells::by_key(&self.conn, cell_keys)
    }

    fn cell_labels_of(&self, cell_keys: &[String]) -> Result<Vec<crate::CellLabelRow>, StoreError> {
        cells::labels(&self.conn, cell_keys)
    }

    fn cell_listing(&self) -> Result<Vec<crate::CellListing>, StoreError> {
        cells::listing(&self.conn)
    }

    fn cell_stats(&self) -> Result<crate::CellStats, StoreError> {
        cells::stats(&self.conn)
    }

    fn variant_lookup(
        &self,
        lookup: &crate::VariantLookup,
    ) -> Result<Vec<crate::VariantRow>, StoreError> {
        genomics::lookup(&self.conn, lookup)
    }

    fn variants_of(&self, pseudonyms: &[Pseudonym]) -> Result<Vec<crate::VariantRow>, StoreError> {
        genomics::calls_of(&self.conn, pseudonyms)
    }

    fn sequence_files_of(
        &self,
        pseudonyms: &[Pseudonym],
    ) -> Result<Vec<crate::SequenceFileRow>, StoreError> {
        genomics::files_of(&self.conn, pseudonyms)
    }

    fn genomics_stats(&self) -> Result<crate::GenomicsStats, StoreError> {
        genomics::stats(&self.conn)
    }

    fn remember_task(
        &mut self,
        task_id: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let now = chrono::Utc::now().to_rfc3339();
        self.conn
            .execute("DELETE FROM task_seen WHERE expires_at < ?1", [now])?;
        let inserted = self.conn.execute(
            "INSERT OR IGNORE INTO task_seen (task_id, expires_at) VALUES (?1, ?2)",
            [task_id, expires_at.to_rfc3339().as_str()],
        )?;
        Ok(inserted == 1)
    }

    fn task_remembered(&self, task_id: &str) -> Result<bool, StoreError> {
        let now = chrono::Utc::now().to_rfc3339();
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM task_seen WHERE task_id = ?1 AND expires_at >= ?2",
            [task_id, now.as_str()],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    fn charge_releases(
        &mut self,
        keys: &[String],
        micro_epsilon: u64,
        budget_micro_epsilon: u64,
    ) -> Result<LedgerCharge, StoreError> {
        let micro = i64::try_from(micro_epsilon).unwrap_or(i64::MAX);
        // IMMEDIATE: the write lock is taken before the total is read, so two
        // processes on one store cannot both spend the last of the budget.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let spent: i64 = tx.query_row(
            "SELECT COALESCE(SUM(micro_epsilon), 0) FROM dp_release",
            [],
            |r| r.get(0),
        )?;
        let spent = spent.max(0) as u64;
        let mut fresh: Vec<&str> = Vec::new();
        for key in keys {
            let known: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM dp_release WHERE key = ?1)",
                [key],
                |r| r.get(0),
            )?;
            if !known && !fresh.contains(&key.as_str()) {
                fresh.push(key);
            }
        }
        if fresh.is_empty() {
            return Ok(LedgerCharge::Repeat { spent });
        }
        let needed = micro_epsilon.saturating_mul(fresh.len() as u64);
        if spent.saturating_add(needed) > budget_micro_epsilon {
            return Ok(LedgerCharge::Refused { spent, needed });
        }
        let now = chrono::Utc::now().to_rfc3339();
        for key in &fresh {
            tx.execute(
                "INSERT INTO dp_release (key, micro_epsilon, charged_at) VALUES (?1, ?2, ?3)",
                params![key, micro, now],
            )?;
        }
        tx.commit()?;
        Ok(LedgerCharge::Charged {
            new: fresh.len() as u64,
            spent: spent + needed,
        })
    }

    fn beacon_spent(
        &self,
        researcher: &str,
        individuals: &[String],
    ) -> Result<Vec<f64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT spent FROM beacon_budget WHERE researcher = ?1 AND individual = ?2",
        )?;
        let mut out = Vec::with_capacity(individuals.len());
        for individual in individuals {
            let spent: Option<f64> = stmt
                .query_row([researcher, individual.as_str()], |r| r.get(0))
                .optional()?;
            out.push(spent.unwrap_or(0.0));
        }
        Ok(out)
    }

    fn beacon_charge(
        &mut self,
        researcher: &str,
        charges: &[(String, f64)],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO beacon_budget (researcher, individual, spent) VALUES (?1, ?2, ?3)
                 ON CONFLICT (researcher, individual) DO UPDATE SET spent = spent + excluded.spent",
            )?;
            for (individual, cost) in charges {
                if cost.is_finite() && *cost > 0.0 {
                    upsert.execute(rusqlite::params![researcher, individual, cost])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn ledger_totals(&self) -> Result<LedgerTotals, StoreError> {
        let (releases, micro): (i64, i64) = self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(micro_epsilon), 0) FROM dp_release",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(LedgerTotals {
            releases: releases.max(0) as u64,
            micro_epsilon: micro.max(0) as u64,
        })
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        let patients: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM patient", [], |r| r.get(0))?;
        let facts: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM fact", [], |r| r.get(0))?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT category, COUNT(*) FROM fact GROUP BY category ORDER BY category",
        )?;
        let facts_by_category = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<Result<_, _>>()?;
        let images: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM image", [], |r| r.get(0))?;
        Ok(StoreStats {
            patients: patients as u64,
            facts: facts as u64,
            facts_by_category,
            images: columns::count(images),
        })
    }

    fn feasibility(&self, criteria: &Criteria) -> Result<Vec<(Pseudonym, Pseudonym)>, StoreError> {
        feasibility::run(&self.conn, criteria)
    }

    fn record_ingest_run(&mut self, run: &crate::IngestRunRow) -> Result<i64, StoreError> {
        site_log::record_ingest_run(&self.conn, run)
    }

    fn ingest_runs(&self, limit: usize) -> Result<Vec<crate::IngestRunRow>, StoreError> {
        site_log::ingest_runs(&self.conn, limit)
    }

    fn record_quality_run(
        &mut self,
        at: chrono::DateTime<chrono::Utc>,
        report: &str,
    ) -> Result<i64, StoreError> {
        site_log::record_quality_run(&self.conn, at, report)
    }

    fn quality_runs(&self, limit: usize) -> Result<Vec<crate::QualityRunRow>, StoreError> {
        site_log::quality_runs(&self.conn, limit)
    }

    fn quarantine_entries(&self, limit: usize) -> Result<Vec<crate::QuarantineRow>, StoreError> {
        site_log::quarantine_entries(&self.conn, limit)
    }

    fn record_withdrawal(&mut self, row: &crate::WithdrawalRow) -> Result<(), StoreError> {
        site_log::record_withdrawal(&self.conn, row)
    }

    fn withdrawals(&self, limit: usize) -> Result<Vec<crate::WithdrawalRow>, StoreError> {
        site_log::withdrawals(&self.conn, limit)
    }
}
