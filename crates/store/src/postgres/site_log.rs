//! The site's operational log on PostgreSQL (see [`crate::site_log`]), with
//! SQLite's semantics. Small site-local tables, like the ledgers: not
//! distributed under Citus.

use crate::StoreError;
use crate::columns;
use crate::site_log::{IngestRunRow, QualityRunRow, WithdrawalRow};
use crate::types::QuarantineRow;
use chrono::{DateTime, Utc};
use postgres::GenericClient;

/// Migration 7 (SQLite's 12).
pub(super) const MIGRATION: &str = r#"CREATE TABLE ingest_run (
        id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        started_at     TIMESTAMPTZ NOT NULL,
        finished_at    TIMESTAMPTZ NOT NULL,
        source         TEXT COLLATE "C" NOT NULL,
        outcome        TEXT COLLATE "C" NOT NULL,
        units_accepted BIGINT NOT NULL CHECK (units_accepted >= 0),
        units_rejected BIGINT NOT NULL CHECK (units_rejected >= 0),
        resources      BIGINT NOT NULL CHECK (resources >= 0),
        patients       BIGINT NOT NULL CHECK (patients >= 0),
        errors         TEXT NOT NULL,
        errors_total   BIGINT NOT NULL CHECK (errors_total >= 0)
     );
     CREATE TABLE quality_run (
        id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at     TIMESTAMPTZ NOT NULL,
        report TEXT NOT NULL
     );
     CREATE TABLE withdrawal_log (
        order_id         BIGINT PRIMARY KEY,
        reason           TEXT COLLATE "C" NOT NULL,
        ordered_at       TIMESTAMPTZ NOT NULL,
        executed_at      TIMESTAMPTZ NOT NULL,
        patients_deleted BIGINT NOT NULL CHECK (patients_deleted >= 0),
        facts_deleted    BIGINT NOT NULL CHECK (facts_deleted >= 0),
        objects_deleted  BIGINT NOT NULL CHECK (objects_deleted >= 0),
        remaining        BIGINT NOT NULL CHECK (remaining >= 0),
        receipt_digest   TEXT COLLATE "C" NOT NULL,
        confirmed_at     TIMESTAMPTZ
     );"#;

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        column: "ingest_run.errors",
        detail: e.to_string(),
    }
}

pub(super) fn record_ingest_run(
    c: &mut impl GenericClient,
    run: &IngestRunRow,
) -> Result<i64, StoreError> {
    let errors =
        serde_json::to_string(&IngestRunRow::bounded_errors(&run.errors)).map_err(corrupt)?;
    let row = c.query_one(
        "INSERT INTO ingest_run (started_at, finished_at, source, outcome, units_accepted,
            units_rejected, resources, patients, errors, errors_total)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        &[
            &run.started_at,
            &run.finished_at,
            &run.source,
            &run.outcome,
            &count(run.units_accepted),
            &count(run.units_rejected),
            &count(run.resources),
            &count(run.patients),
            &errors,
            &count(run.errors_total),
        ],
    )?;
    Ok(row.try_get(0)?)
}

pub(super) fn ingest_runs(
    c: &mut impl GenericClient,
    n: usize,
) -> Result<Vec<IngestRunRow>, StoreError> {
    c.query(
        "SELECT id, started_at, finished_at, source, outcome, units_accepted, units_rejected,
            resources, patients, errors, errors_total
         FROM ingest_run ORDER BY id DESC LIMIT $1",
        &[&limit(n)],
    )?
    .iter()
    .map(|r| {
        let errors: String = r.try_get(9)?;
        Ok(IngestRunRow {
            id: r.try_get(0)?,
            started_at: r.try_get(1)?,
            finished_at: r.try_get(2)?,
            source: r.try_get(3)?,
            outcome: r.try_get(4)?,
            units_accepted: columns::count(r.try_get(5)?),
            units_rejected: columns::count(r.try_get(6)?),
            resources: columns::count(r.try_get(7)?),
            patients: columns::count(r.try_get(8)?),
            errors: serde_json::from_str(&errors).map_err(corrupt)?,
            errors_total: columns::count(r.try_get(10)?),
        })
    })
    .collect()
}

pub(super) fn record_quality_run(
    c: &mut impl GenericClient,
    at: DateTime<Utc>,
    report: &str,
) -> Result<i64, StoreError> {
    let row = c.query_one(
        "INSERT INTO quality_run (at, report) VALUES ($1, $2) RETURNING id",
        &[&at, &report],
    )?;
    Ok(row.try_get(0)?)
}

pub(super) fn quality_runs(
    c: &mut impl GenericClient,
    n: usize,
) -> Result<Vec<QualityRunRow>, StoreError> {
    c.query(
        "SELECT id, at, report FROM quality_run ORDER BY id DESC LIMIT $1",
        &[&limit(n)],
    )?
    .iter()
    .map(|r| {
        Ok(QualityRunRow {
            id: r.try_get(0)?,
            at: r.try_get(1)?,
            report: r.try_get(2)?,
        })
    })
    .collect()
}

pub(super) fn quarantine_entries(
    c: &mut impl GenericClient,
    n: usize,
) -> Result<Vec<QuarantineRow>, StoreError> {
    c.query(
        "SELECT source, reason_code, reason, at FROM quarantine ORDER BY id DESC LIMIT $1",
        &[&limit(n)],
    )?
    .iter()
    .map(|r| {
        Ok(QuarantineRow {
            source: r.try_get(0)?,
            reason_code: r.try_get(1)?,
            reason: r.try_get(2)?,
            at: r.try_get(3)?,
        })
    })
    .collect()
}

pub(super) fn record_withdrawal(
    c: &mut impl GenericClient,
    w: &WithdrawalRow,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO withdrawal_log (order_id, reason, ordered_at, executed_at, patients_deleted,
            facts_deleted, objects_deleted, remaining, receipt_digest, confirmed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (order_id) DO UPDATE SET executed_at = excluded.executed_at,
            patients_deleted = excluded.patients_deleted, facts_deleted = excluded.facts_deleted,
            objects_deleted = excluded.objects_deleted, remaining = excluded.remaining,
            receipt_digest = excluded.receipt_digest,
            confirmed_at = COALESCE(excluded.confirmed_at, withdrawal_log.confirmed_at)",
        &[
            &w.order_id,
            &w.reason,
            &w.ordered_at,
            &w.executed_at,
            &count(w.patients_deleted),
            &count(w.facts_deleted),
            &count(w.objects_deleted),
            &count(w.remaining),
            &w.receipt_digest,
            &w.confirmed_at,
        ],
    )?;
    Ok(())
}

pub(super) fn withdrawals(
    c: &mut impl GenericClient,
    n: usize,
) -> Result<Vec<WithdrawalRow>, StoreError> {
    c.query(
        "SELECT order_id, reason, ordered_at, executed_at, patients_deleted, facts_deleted,
            objects_deleted, remaining, receipt_digest, confirmed_at
         FROM withdrawal_log ORDER BY order_id DESC LIMIT $1",
        &[&limit(n)],
    )?
    .iter()
    .map(|r| {
        Ok(WithdrawalRow {
            order_id: r.try_get(0)?,
            reason: r.try_get(1)?,
            ordered_at: r.try_get(2)?,
            executed_at: r.try_get(3)?,
            patients_deleted: columns::count(r.try_get(4)?),
            facts_deleted: columns::count(r.try_get(5)?),
            objects_deleted: columns::count(r.try_get(6)?),
            remaining: columns::count(r.try_get(7)?),
            receipt_digest: r.try_get(8)?,
            confirmed_at: r.try_get(9)?,
        })
    })
    .collect()
}
