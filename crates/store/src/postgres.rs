//! The PostgreSQL research store (the blocking `postgres` client), for sites whose
//! store lives on a database server.
//!
//! Same semantics as [`crate::SqliteStore`], method for method, checked by one
//! conformance suite run against both (`crates/store/tests/conformance`): the same
//! tables, the same column encodings ([`crate::columns`]) and the same feasibility
//! compiler ([`crate::feasibility`], `$n` parameters).
//!
//! # Blocking
//!
//! `postgres::Client` runs its own single-threaded Tokio runtime and blocks on it.
//! Calling it from inside an async context panics ("Cannot start a runtime from
//! within a runtime"), so [`PostgresStore::connect`] and every method must run on a
//! blocking thread (`tokio::task::spawn_blocking`, as the node's `with_store` does).
//! Dropping the store is safe anywhere: it closes the connection on a thread of its
//! own.
//!
//! # Connection
//!
//! One connection, serialised by a mutex (the trait takes `&self` for reads). A
//! connection the server closed is reopened on the next call. The URL's password
//! never appears in errors or `Debug` output ([`PostgresStore::target`]). This
//! build has no TLS to PostgreSQL: the host must be a loopback address,
//! `localhost` or a Unix socket directory, otherwise [`StoreError::PlainTextRemote`].
//! To keep several sites' stores in one database, give each its own schema with
//! `?options=-csearch_path%3Dsite_a` in the URL.
//!
//! # Citus (not tested here)
//!
//! `patient` and `fact` are distributable: the person pseudonym `psn` is
//! `patient`'s primary key and leads `fact`'s primary key `(psn, key)`; the
//! foreign keys (`fact.psn → patient.psn`, `image.psn → patient.psn`) stay within
//! one person, and no unique constraint of theirs spans persons (`image`'s does,
//! see below). After the first start (tables still empty):
//!
//! ```sql
//! SELECT create_distributed_table('patient', 'psn');
//! SELECT create_distributed_table('fact', 'psn', colocate_with => 'patient');
//! SELECT create_reference_table('task_seen');
//! SELECT create_reference_table('dp_release');
//! ```
//!
//! The small site-local ledgers (`task_seen`, `dp_release`) and `quarantine` (no
//! patient, small) may also stay local tables on the coordinator. Writes never
//! change `psn` of a fact (the distribution column), a withdrawal deletes by `psn`
//! on the person tables in one transaction, and feasibility sub-queries join
//! `fact` to `patient` on `psn` only (co-located).
//!
//! **`smear`, `cell` and `cell_label` are not yet distributable either**: they
//! are keyed by the node's keyed smear and cell ids (cells reference smears,
//! labels cells), which do not lead with `psn`.
//!
//! **`image` is not yet distributable:** it is keyed by the SOP Instance UID, a
//! unique key that spans persons, so it cannot be co-located with `patient` by
//! `psn`; distributing it would need `(psn, sop_uid)` as its key and the upsert
//! by SOP Instance UID rewritten to match (not done).
//!
//! # What a withdrawal's delete guarantees
//!
//! [`ResearchStore::delete_patient`] deletes the person's facts, image rows and
//! patient row in one transaction: after commit no query, backup taken later or
//! replica sees them.
//! The bytes are not gone at once, though:
//! - `DELETE` only marks tuples dead; they stay in the table and index files until
//!   `VACUUM` makes the space reusable — which does not overwrite it, so the bytes
//!   may survive until new rows land there. `VACUUM FULL` (or `CLUSTER`) rewrites
//!   the tables into new files (taking an exclusive lock), but the old files are
//!   unlinked, not wiped. [`PostgresStore::vacuum_after_withdrawal`] runs a plain
//!   `VACUUM (ANALYZE)` on the person tables; nothing runs it automatically (autovacuum
//!   does eventually).
//! - WAL segments hold the inserted rows (and full-page images) until they are
//!   recycled; WAL archives, replication slots and base backups keep them until
//!   they expire.
//!
//! So operators must bound WAL retention (`wal_keep_size`, archive and slot
//! clean-up) and backup retention, and run `VACUUM` (or `VACUUM FULL` in a
//! maintenance window) after withdrawals; the store's withdrawal receipt speaks
//! for the live tables only. A hard guarantee independent of the engine would need
//! per-person encryption keys destroyed on withdrawal (crypto-shredding): **not
//! implemented**. SQLite's store, by contrast, overwrites deleted content
//! (`secure_delete`) and truncates its WAL on every delete.

mod cells;
mod codec;
mod genomics;
mod images;
mod migrations;
mod site_log;
mod write;

use crate::columns;
// The connection rules every PostgreSQL store shares: no host beyond this machine
// without TLS, no password in messages.
use crate::feasibility::{self, Dialect};
use crate::{
    Deleted, FactFilter, ImageRow, ImageStats, LedgerCharge, LedgerTotals, PatientRow,
    ResearchStore, StoreError, StoreStats, StoredFact, WriteBatch, WriteOutcome,
};
use oncofed_criteria::Criteria;
use oncofed_migrate::postgres::{describe, local_only};
use oncofed_model::Pseudonym;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// A research store in a PostgreSQL database, with the semantics of
/// [`crate::SqliteStore`].
///
/// **Blocking:** the driver blocks on a runtime of its own and panics inside an
/// async context: call [`PostgresStore::connect`] and every method from a blocking
/// thread (`tokio::task::spawn_blocking`), never from async code. Dropping is safe
/// anywhere.
///
/// **Withdrawal:** [`ResearchStore::delete_patient`] removes a person from the live
/// tables atomically, but PostgreSQL keeps the deleted bytes in dead tuples until
/// `VACUUM` reuses the space (never overwrites it), and in WAL, archives and base
/// backups until they expire: operators must bound WAL and backup retention, and
/// per-person crypto-shredding, which a hard guarantee would need, is not
/// implemented. The full discussion, the TLS rule (loopback or Unix socket only)
/// and the Citus layout are in the module docs of `crates/store/src/postgres.rs`.
pub struct PostgresStore {
    /// `None` only while dropping.
    client: Mutex<Option<Client>>,
    config: Config,
    target: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .finish()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Closing blocks on the client's runtime, which panics inside an async
        // context: close on a plain thread, so dropping is safe everywhere.
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(client) = client {
            let _ = std::thread::spawn(move || drop(client)).join();
        }
    }
}

impl PostgresStore {
    /// The schema version this build creates and understands (PostgreSQL's own count).
    pub const SCHEMA_VERSION: i64 = migrations::CURRENT;

    /// Connects to the database at `url` (`postgres://user[:password]@host:port/db`
    /// or a `key=value` connection string) and migrates it to the current schema.
    /// Blocking: call it from a blocking thread, never from async code.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let mut config: Config = url.parse().map_err(|source| StoreError::Connect {
            target: "an unparsable URL".into(),
            source,
        })?;
        let target = describe(&config);
        if !local_only(&config) {
            return Err(StoreError::PlainTextRemote { target });
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("oncofed-node");
        }
        let mut client = open(&config, &target)?;
        migrations::migrate(&mut client)?;
        Ok(Self {
            client: Mutex::new(Some(client)),
            config,
            target,
        })
    }

    /// Creates the database `url` names if the server does not have it yet, by
    /// connecting to the server's `postgres` database (the user needs CREATEDB).
    /// Returns whether it was created. For deployments that give each site its
    /// own database on a shared server, and for `oncofed demo --store-url`.
    /// The name must be plain (`[a-z_][a-z0-9_]*`, at most 63 bytes). Blocking.
    pub fn create_database_if_missing(url: &str) -> Result<bool, StoreError> {
        let config: Config = url.parse().map_err(|source| StoreError::Connect {
            target: "an unparsable URL".into(),
            source,
        })?;
        let target = describe(&config);
        if !local_only(&config) {
            return Err(StoreError::PlainTextRemote { target });
        }
        let name = config.get_dbname().unwrap_or_default().to_owned();
        let plain = !name.is_empty()
            && name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !plain {
            return Err(StoreError::DatabaseName(name));
        }
        let mut server = config.clone();
        server.dbname("postgres");
        let mut client = open(&server, &target)?;
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])?
            .is_some();
        if !exists {
            // Identifiers cannot be bound; the name was checked to be plain above.
            client.batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
        }
        Ok(!exists)
    }

    /// The database this store is connected to, as `postgres://user@host:port/db`
    /// (without the password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.with(migrations::version)
    }

    /// Runs `VACUUM (ANALYZE) patient, fact, image`: makes the space of deleted rows
    /// reusable and refreshes the planner's statistics. It does not overwrite the
    /// deleted bytes, WAL or backups (see [`PostgresStore`]); it takes no
    /// exclusive lock, so ingest and queries go on meanwhile.
    pub fn vacuum_after_withdrawal(&self) -> Result<(), StoreError> {
        self.with(|c| Ok(c.batch_execute("VACUUM (ANALYZE) patient, fact, image")?))
    }

    /// Runs `f` with the connection, reopening it first if the server closed it.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.client.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(open(&self.config, &self.target)?);
        }
        let client = guard.as_mut().expect("connection was just opened");
        f(client)
    }
}

fn open(config: &Config, target: &str) -> Result<Client, StoreError> {
    config.connect(NoTls).map_err(|source| StoreError::Connect {
        target: target.to_owned(),
        source,
    })
}

impl ResearchStore for PostgresStore {
    fn write(&mut self, batch: &WriteBatch) -> Result<WriteOutcome, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let outcome = write::write(&mut tx, batch)?;
            cells::write(&mut tx, batch)?;
            genomics::write(&mut tx, batch)?;
            tx.commit()?;
            Ok(outcome)
        })
    }

    fn facts(&self, filter: &FactFilter) -> Result<Vec<StoredFact>, StoreError> {
        let (sql, args) = columns::select_facts(filter, Dialect::Postgres);
        self.with(|c| {
            c.query(&sql, &codec::params(&args))?
                .iter()
                .map(codec::decode_fact)
                .collect()
        })
    }

    fn existing_patients(
        &self,
        pseudonyms: &[Pseudonym],
    ) -> Result<HashSet<Pseudonym>, StoreError> {
        let names: Vec<&str> = pseudonyms.iter().map(Pseudonym::as_str).collect();
        self.with(|c| {
            // One round trip for the whole list.
            let rows = c.query(
                "SELECT psn FROM patient WHERE psn = ANY($1::text[])",
                &[&names],
            )?;
            rows.iter()
                .map(|r| columns::pseudonym("psn", r.try_get(0)?))
                .collect()
        })
    }

    fn for_each_patient(&self, visit: &mut dyn FnMut(PatientRow)) -> Result<(), StoreError> {
        let sql = format!(
            "SELECT {} FROM patient ORDER BY psn",
            columns::PATIENT_COLUMNS
        );
        // Streamed row by row; `visit` must not call back into this store (the
        // connection is held meanwhile).
        self.with(|c| {
            let mut rows = c.query_raw(&sql, std::iter::empty::<&str>())?;
            while let Some(row) = rows.next()? {
                visit(codec::decode_patient(&row)?);
            }
            Ok(())
        })
    }

    fn for_each_fact(&self, visit: &mut dyn FnMut(StoredFact)) -> Result<(), StoreError> {
        let (sql, args) = columns::select_facts(&FactFilter::default(), Dialect::Postgres);
        self.with(|c| {
            let mut rows = c.query_raw(&sql, codec::params(&args))?;
            while let Some(row) = rows.next()? {
                visit(codec::decode_fact(&row)?);
            }
            Ok(())
        })
    }

    fn delete_patient(&mut self, pseudonym: &Pseudonym) -> Result<Deleted, StoreError> {
        self.with(|c| {
            // Facts first, explicitly (no cascade across tables, see the module docs);
            // both or neither.
            let mut tx = c.transaction()?;
            let facts = tx.execute("DELETE FROM fact WHERE psn = $1", &[&pseudonym.as_str()])?;
            let images = images::delete(&mut tx, pseudonym)?;
            let cells = cells::delete(&mut tx, pseudonym)?;
            let sequences = genomics::delete(&mut tx, pseudonym)?;
            let n = tx.execute("DELETE FROM patient WHERE psn = $1", &[&pseudonym.as_str()])?;
            tx.commit()?;
            Ok(Deleted {
                patient: n > 0,
                facts,
                images,
                cells,
                sequences,
            })
        })
    }

    fn images_of(&self, pseudonyms: &[Pseudonym]) -> Result<Vec<ImageRow>, StoreError> {
        self.with(|c| images::of(c, pseudonyms))
    }

    fn series_instance_counts(
        &self,
        series_uids: &[String],
    ) -> Result<HashMap<String, u64>, StoreError> {
        self.with(|c| images::counts(c, images::SERIES_INSTANCES, series_uids))
    }

    fn study_series_counts(
        &self,
        study_uids: &[String],
    ) -> Result<HashMap<String, u64>, StoreError> {
        self.with(|c| images::counts(c, images::STUDY_SERIES, study_uids))
    }

    fn image_stats(&self) -> Result<ImageStats, StoreError> {
        self.with(images::stats)
    }

    fn smears_of(&self, pseudonyms: &[Pseudonym]) -> Result<Vec<crate::SmearRow>, StoreError> {
        self.with(|c| cells::smears(c, Some(pseudonyms)))
    }

    fn all_smears(&self) -> Result<Vec<crate::SmearRow>, StoreError> {
        self.with(|c| cells::smears(c, None))
    }

    fn cells_of(&self, smear_keys: &[String]) -> Result<Vec<crate::CellRow>, StoreError> {
        self.with(|c| cells::cells(c, smear_keys))
    }

    fn cells_by_key(&self, cell_keys: &[String]) -> Result<Vec<crate::CellRow>, StoreError> {
        self.with(|c| cells::by_key(c, cell_keys))
    }

    fn cell_labels_of(&self, cell_keys: &[String]) -> Result<Vec<crate::CellLabelRow>, StoreError> {
        self.with(|c| cells::labels(c, cell_keys))
    }

    fn cell_listing(&self) -> Result<Vec<crate::CellListing>, StoreError> {
        self.with(cells::listing)
    }

    fn cell_stats(&self) -> Result<crate::CellStats, StoreError> {
        self.with(cells::stats)
    }

    fn variant_lookup(
        &self,
        lookup: &crate::VariantLookup,
    ) -> Result<Vec<crate::VariantRow>, StoreError> {
        self.with(|c| genomics::lookup(c, lookup))
    }

    fn variants_of(&self, pseudonyms: &[Pseudonym]) -> Result<Vec<crate::VariantRow>, StoreError> {
        self.with(|c| genomics::calls_of(c, pseudonyms))
    }

    fn sequence_files_of(
        &self,
        pseudonyms: &[Pseudonym],
    ) -> Result<Vec<crate::SequenceFileRow>, StoreError> {
        self.with(|c| genomics::files_of(c, pseudonyms))
    }

    fn genomics_stats(&self) -> Result<crate::GenomicsStats, StoreError> {
        self.with(genomics::stats)
    }

    fn remember_task(
        &mut self,
        task_id: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        // The node's clock decides expiry, as with SQLite, not the server's.
        let now = chrono::Utc::now();
        self.with(|c| {
            c.execute("DELETE FROM task_seen WHERE expires_at < $1", &[&now])?;
            let inserted = c.execute(
                "INSERT INTO task_seen (task_id, expires_at) VALUES ($1, $2) ON CONFLICT (task_id) DO NOTHING",
                &[&task_id, &expires_at],
            )?;
            Ok(inserted == 1)
        })
    }

    fn task_remembered(&self, task_id: &str) -> Result<bool, StoreError> {
        let now = chrono::Utc::now();
        self.with(|c| {
            Ok(c.query_one(
                "SELECT EXISTS (SELECT 1 FROM task_seen WHERE task_id = $1 AND expires_at >= $2)",
                &[&task_id, &now],
            )?
            .try_get(0)?)
        })
    }

    fn charge_releases(
        &mut self,
        keys: &[String],
        micro_epsilon: u64,
        budget_micro_epsilon: u64,
    ) -> Result<LedgerCharge, StoreError> {
        let micro = i64::try_from(micro_epsilon).unwrap_or(i64::MAX);
        self.with(|c| {
            let mut tx = c.transaction()?;
            // EXCLUSIVE conflicts with itself and every write but not with plain
            // reads: two nodes on one store cannot both spend the last of the budget.
            tx.batch_execute("LOCK TABLE dp_release IN EXCLUSIVE MODE")?;
            let spent: i64 = tx
                .query_one(
                    "SELECT COALESCE(SUM(micro_epsilon), 0)::BIGINT FROM dp_release",
                    &[],
                )?
                .try_get(0)?;
            let spent = spent.max(0) as u64;
            let mut fresh: Vec<&str> = Vec::new();
            for key in keys {
                let known: bool = tx
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM dp_release WHERE key = $1)",
                        &[key],
                    )?
                    .try_get(0)?;
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
            let now = chrono::Utc::now();
            let insert = tx.prepare(
                "INSERT INTO dp_release (key, micro_epsilon, charged_at) VALUES ($1, $2, $3)",
            )?;
            for key in &fresh {
                tx.execute(&insert, &[key, &micro, &now])?;
            }
            tx.commit()?;
            Ok(LedgerCharge::Charged {
                new: fresh.len() as u64,
                spent: spent + needed,
            })
        })
    }

    fn beacon_spent(
        &self,
        researcher: &str,
        individuals: &[String],
    ) -> Result<Vec<f64>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                "SELECT individual, spent FROM beacon_budget WHERE researcher = $1 AND individual = ANY($2)",
                &[&researcher, &individuals],
            )?;
            let mut found = std::collections::HashMap::with_capacity(rows.len());
            for row in rows {
                let (individual, spent): (String, f64) = (row.try_get(0)?, row.try_get(1)?);
                found.insert(individual, spent);
            }
            Ok(individuals
                .iter()
                .map(|i| found.get(i).copied().unwrap_or(0.0))
                .collect())
        })
    }

    fn beacon_charge(
        &mut self,
        researcher: &str,
        charges: &[(String, f64)],
    ) -> Result<(), StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let upsert = tx.prepare(
                "INSERT INTO beacon_budget (researcher, individual, spent) VALUES ($1, $2, $3)
                 ON CONFLICT (researcher, individual)
                 DO UPDATE SET spent = beacon_budget.spent + excluded.spent",
            )?;
            for (individual, cost) in charges {
                if cost.is_finite() && *cost > 0.0 {
                    tx.execute(&upsert, &[&researcher, individual, cost])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn ledger_totals(&self) -> Result<LedgerTotals, StoreError> {
        self.with(|c| {
            let row = c.query_one(
                "SELECT COUNT(*), COALESCE(SUM(micro_epsilon), 0)::BIGINT FROM dp_release",
                &[],
            )?;
            let (releases, micro): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            Ok(LedgerTotals {
                releases: releases.max(0) as u64,
                micro_epsilon: micro.max(0) as u64,
            })
        })
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        self.with(|c| {
            let count = |c: &mut Client, sql: &str| -> Result<u64, StoreError> {
                let n: i64 = c.query_one(sql, &[])?.try_get(0)?;
                Ok(n.max(0) as u64)
            };
            let patients = count(c, "SELECT COUNT(*) FROM patient")?;
            let facts = count(c, "SELECT COUNT(*) FROM fact")?;
            let images = count(c, "SELECT COUNT(*) FROM image")?;
            let facts_by_category = c
                .query(
                    "SELECT category, COUNT(*) FROM fact GROUP BY category ORDER BY category",
                    &[],
                )?
                .iter()
                .map(|r| {
                    let n: i64 = r.try_get(1)?;
                    Ok((r.try_get::<_, String>(0)?, n.max(0) as u64))
                })
                .collect::<Result<_, StoreError>>()?;
            Ok(StoreStats {
                patients,
                facts,
                facts_by_category,
                images,
            })
        })
    }

    fn feasibility(&self, criteria: &Criteria) -> Result<Vec<(Pseudonym, Pseudonym)>, StoreError> {
        let (sql, args) = feasibility::compile(criteria, Dialect::Postgres);
        self.with(|c| {
            c.query(&sql, &codec::params(&args))?
                .iter()
                .map(|r| {
                    Ok((
                        columns::pseudonym("psn", r.try_get(0)?)?,
                        columns::pseudonym("research_psn", r.try_get(1)?)?,
                    ))
                })
                .collect()
        })
    }

    fn record_ingest_run(&mut self, run: &crate::IngestRunRow) -> Result<i64, StoreError> {
        self.with(|c| site_log::record_ingest_run(c, run))
    }

    fn ingest_runs(&self, limit: usize) -> Result<Vec<crate::IngestRunRow>, StoreError> {
        self.with(|c| site_log::ingest_runs(c, limit))
    }

    fn record_quality_run(
        &mut self,
        at: chrono::DateTime<chrono::Utc>,
        report: &str,
    ) -> Result<i64, StoreError> {
        self.with(|c| site_log::record_quality_run(c, at, report))
    }

    fn quality_runs(&self, limit: usize) -> Result<Vec<crate::QualityRunRow>, StoreError> {
        self.with(|c| site_log::quality_runs(c, limit))
    }

    fn quarantine_entries(&self, limit: usize) -> Result<Vec<crate::QuarantineRow>, StoreError> {
        self.with(|c| site_log::quarantine_entries(c, limit))
    }

    fn record_withdrawal(&mut self, row: &crate::WithdrawalRow) -> Result<(), StoreError> {
        self.with(|c| site_log::record_withdrawal(c, row))
    }

    fn withdrawals(&self, limit: usize) -> Result<Vec<crate::WithdrawalRow>, StoreError> {
        self.with(|c| site_log::withdrawals(c, limit))
    }
}
