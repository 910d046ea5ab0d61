//! The site's operational log on SQLite (see [`crate::site_log`]).

use crate::StoreError;
use crate::site_log::{IngestRunRow, QualityRunRow, WithdrawalRow};
use crate::types::QuarantineRow;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

/// Migration 12.
pub(super) const MIGRATION: &str = "CREATE TABLE ingest_run (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at     TEXT NOT NULL,
        finished_at    TEXT NOT NULL,
        source         TEXT NOT NULL,
        outcome        TEXT NOT NULL,
        units_accepted INTEGER NOT NULL CHECK (units_accepted >= 0),
        units_rejected INTEGER NOT NULL CHECK (units_rejected >= 0),
        resources      INTEGER NOT NULL CHECK (resources >= 0),
        patients       INTEGER NOT NULL CHECK (patients >= 0),
        errors         TEXT NOT NULL,
        errors_total   INTEGER NOT NULL CHECK (errors_total >= 0)
     );
     CREATE TABLE quality_run (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        at     TEXT NOT NULL,
        report TEXT NOT NULL
     );
     CREATE TABLE withdrawal_log (
        order_id         INTEGER PRIMARY KEY,
        reason           TEXT NOT NULL,
        ordered_at       TEXT NOT NULL,
        executed_at      TEXT NOT NULL,
        patients_deleted INTEGER NOT NULL CHECK (patients_deleted >= 0),
        facts_deleted    INTEGER NOT NULL CHECK (facts_deleted >= 0),
        objects_deleted  INTEGER NOT NULL CHECK (objects_deleted >= 0),
        remaining        INTEGER NOT NULL CHECK (remaining >= 0),
        receipt_digest   TEXT NOT NULL,
        confirmed_at     TEXT
     );";

fn time(s: String) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
        })
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn record_ingest_run(conn: &Connection, run: &IngestRunRow) -> Result<i64, StoreError> {
    let errors =
        serde_json::to_string(&IngestRunRow::bounded_errors(&run.errors)).map_err(|e| {
            StoreError::Corrupt {
                column: "ingest_run.errors",
                detail: e.to_string(),
            }
        })?;
    conn.execute(
        "INSERT INTO ingest_run (started_at, finished_at, source, outcome, units_accepted,
            units_rejected, resources, patients, errors, errors_total)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            run.started_at.to_rfc3339(),
            run.finished_at.to_rfc3339(),
            run.source,
            run.outcome,
            count(run.units_accepted),
            count(run.units_rejected),
            count(run.resources),
            count(run.patients),
            errors,
            count(run.errors_total),
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub(super) fn ingest_runs(conn: &Connection, n: usize) -> Result<Vec<IngestRunRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, started_at, finished_at, source, outcome, units_accepted, units_rejected,
            resources, patients, errors, errors_total
         FROM ingest_run ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit(n)], |r| {
        Ok((
            IngestRunRow {
                id: r.get(0)?,
                started_at: time(r.get(1)?)?,
                finished_at: time(r.get(2)?)?,
                source: r.get(3)?,
                outcome: r.get(4)?,
                units_accepted: r.get::<_, i64>(5)?.max(0) as u64,
                units_rejected: r.get::<_, i64>(6)?.max(0) as u64,
                resources: r.get::<_, i64>(7)?.max(0) as u64,
                patients: r.get::<_, i64>(8)?.max(0) as u64,
                errors: Vec::new(),
                errors_total: r.get::<_, i64>(10)?.max(0) as u64,
            },
            r.get::<_, String>(9)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (mut run, errors) = row?;
        run.errors = serde_json::from_str(&errors).map_err(|e| StoreError::Corrupt {
            column: "ingest_run.errors",
            detail: e.to_string(),
        })?;
        out.push(run);
    }
    Ok(out)
}

pub(super) fn record_quality_run(
    conn: &Connection,
    at: DateTime<Utc>,
    report: &str,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO quality_run (at, report) VALUES (?1, ?2)",
        params![at.to_rfc3339(), report],
    )?;
    Ok(conn.last_insert_rowid())
}

pub(super) fn quality_runs(conn: &Connection, n: usize) -> Result<Vec<QualityRunRow>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, at, report FROM quality_run ORDER BY id DESC LIMIT ?1")?;
    let rows = stmt.query_map([limit(n)], |r| {
        Ok(QualityRunRow {
            id: r.get(0)?,
            at: time(r.get(1)?)?,
            report: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn quarantine_entries(
    conn: &Connection,
    n: usize,
) -> Result<Vec<QuarantineRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT source, reason_code, reason, at FROM quarantine ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit(n)], |r| {
        Ok(QuarantineRow {
            source: r.get(0)?,
            reason_code: r.get(1)?,
            reason: r.get(2)?,
            at: time(r.get(3)?)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn record_withdrawal(conn: &Connection, w: &WithdrawalRow) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO withdrawal_log (order_id, reason, ordered_at, executed_at, patients_deleted,
            facts_deleted, objects_deleted, remaining, receipt_digest, confirmed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (order_id) DO UPDATE SET executed_at = excluded.executed_at,
            patients_deleted = excluded.patients_deleted, facts_deleted = excluded.facts_deleted,
            objects_deleted = excluded.objects_deleted, remaining = excluded.remaining,
            receipt_digest = excluded.receipt_digest,
            confirmed_at = COALESCE(excluded.confirmed_at, withdrawal_log.confirmed_at)",
        params![
            w.order_id,
            w.reason,
            w.ordered_at.to_rfc3339(),
            w.executed_at.to_rfc3339(),
            count(w.patients_deleted),
            count(w.facts_deleted),
            count(w.objects_deleted),
            count(w.remaining),
            w.receipt_digest,
            w.confirmed_at.map(|t| t.to_rfc3339()),
        ],
    )?;
    Ok(())
}

pub(super) fn withdrawals(conn: &Connection, n: usize) -> Result<Vec<WithdrawalRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT order_id, reason, ordered_at, executed_at, patients_deleted, facts_deleted,
            objects_deleted, remaining, receipt_digest, confirmed_at
         FROM withdrawal_log ORDER BY order_id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit(n)], |r| {
        Ok(WithdrawalRow {
            order_id: r.get(0)?,
            reason: r.get(1)?,
            ordered_at: time(r.get(2)?)?,
            executed_at: time(r.get(3)?)?,
            patients_deleted: r.get::<_, i64>(4)?.max(0) as u64,
            facts_deleted: r.get::<_, i64>(5)?.max(0) as u64,
            objects_deleted: r.get::<_, i64>(6)?.max(0) as u64,
            remaining: r.get::<_, i64>(7)?.max(0) as u64,
            receipt_digest: r.get(8)?,
            confirmed_at: r.get::<_, Option<String>>(9)?.map(time).transpose()?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
