//! The contribution ledger (R19, issue 17 item 4): per released result and site,
//! how many persons and rows the site contributed, coarsened under disclosure
//! control (`oncofed_privacy::coarsen_contribution`) before it is stored, so no
//! reader of this table sees a finer figure than was released.
//!
//! Written where the hub releases (`crate::ledger`): a feasibility answer once
//! it is final, an analysis run or a training when it is released. A result's
//! rows are replaced as a whole when it is released again (a partial
//! feasibility answer that later completes).

use super::{Db, DbError, time};
use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Serialize, Serializer};

/// Migration: the ledger, keyed by result and site.
pub(super) const MIGRATION: &str = "CREATE TABLE contribution (
        kind            TEXT NOT NULL,
        result_id       TEXT NOT NULL,
        site            TEXT NOT NULL,
        project_id      TEXT,
        period          TEXT NOT NULL,
        released_at     TEXT NOT NULL,
        persons         INTEGER,
        persons_state   TEXT NOT NULL,
        rows            INTEGER,
        rows_state      TEXT NOT NULL,
        result_persons  INTEGER,
        result_state    TEXT NOT NULL,
        sites_in_result INTEGER NOT NULL,
        PRIMARY KEY (kind, result_id, site)
     );
     CREATE INDEX contribution_site ON contribution (site, period);";

/// What kind of released result a ledger row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResultKind {
    /// A feasibility answer (no project).
    Feasibility,
    /// An analysis run (KM, Cox, GLM, describe, …) inside a project.
    Analysis,
    /// A training (a cell classifier released into the model registry).
    Training,
}

impl ResultKind {
    /// The stored and exported name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Feasibility => "feasibility",
            Self::Analysis => "analysis",
            Self::Training => "training",
        }
    }

    fn parse(s: &str) -> Result<Self, DbError> {
        Ok(match s {
            "feasibility" => Self::Feasibility,
            "analysis" => Self::Analysis,
            "training" => Self::Training,
            other => return Err(DbError::Corrupt(format!("contribution kind {other}"))),
        })
    }
}

/// One coarsened figure of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// The coarsened count.
    Count(u64),
    /// Below the per-site minimum: shown as suppressed.
    Suppressed,
    /// In the released total, but not split per site: the hub learns only
    /// sums of a securely aggregated run, never a site's share.
    NotSplit,
    /// The result has no such figure (rows of a feasibility count).
    None,
}

impl Figure {
    /// From a coarsened released figure.
    pub fn of(released: oncofed_privacy::Released) -> Self {
        match released {
            oncofed_privacy::Released::Count(n) => Self::Count(n),
            oncofed_privacy::Released::Suppressed => Self::Suppressed,
        }
    }

    /// The state column's value, also the exported word for a non-count.
    pub fn state(self) -> &'static str {
        match self {
            Self::Count(_) => "count",
            Self::Suppressed => "suppressed",
            Self::NotSplit => "not-split",
            Self::None => "none",
        }
    }

    /// The count, if the figure is one.
    pub fn count(self) -> Option<u64> {
        match self {
            Self::Count(n) => Some(n),
            _ => None,
        }
    }

    fn columns(self) -> (Option<i64>, &'static str) {
        (
            self.count().map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
            self.state(),
        )
    }

    fn from_columns(n: Option<i64>, state: &str) -> Result<Self, DbError> {
        Ok(match (state, n) {
            ("count", Some(n)) => Self::Count(n.max(0) as u64),
            ("suppressed", _) => Self::Suppressed,
            ("not-split", _) => Self::NotSplit,
            ("none", _) => Self::None,
            _ => return Err(DbError::Corrupt(format!("contribution figure {state}"))),
        })
    }
}

/// A count as a JSON number, anything else as its word (`"suppressed"`,
/// `"not-split"`, `"none"`).
impl Serialize for Figure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Count(n) => s.serialize_u64(*n),
            other => s.serialize_str(other.state()),
        }
    }
}

/// One site's part of one released result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContributionRow {
    /// The kind of result.
    pub kind: ResultKind,
    /// The query or run id.
    pub result_id: String,
    /// The contributing site.
    pub site: String,
    /// The project (none for a feasibility answer).
    pub project: Option<String>,
    /// The month of the release, `YYYY-MM` (UTC).
    pub period: String,
    /// When the hub released the result.
    pub released_at: DateTime<Utc>,
    /// Persons the site contributed, coarsened.
    pub persons: Figure,
    /// Rows (cells of a training) the site contributed, coarsened.
    pub rows: Figure,
    /// Persons in the released result over all its sites, coarsened.
    pub result_persons: Figure,
    /// Sites whose data are in the result.
    pub sites_in_result: u32,
}

impl Db {
    /// Replaces the ledger rows of one released result with `rows` (all of the
    /// same kind and result id), in one transaction.
    pub fn record_contributions(
        &self,
        kind: ResultKind,
        result_id: &str,
        rows: &[ContributionRow],
    ) -> Result<(), DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM contribution WHERE kind = ?1 AND result_id = ?2",
            params![kind.as_str(), result_id],
        )?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO contribution (kind, result_id, site, project_id, period, released_at,
                    persons, persons_state, rows, rows_state, result_persons, result_state, sites_in_result)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            for r in rows
                .iter()
                .filter(|r| r.kind == kind && r.result_id == result_id)
            {
                let (persons, persons_state) = r.persons.columns();
                let (row_count, rows_state) = r.rows.columns();
                let (total, total_state) = r.result_persons.columns();
                insert.execute(params![
                    kind.as_str(),
                    result_id,
                    r.site,
                    r.project,
                    r.period,
                    r.released_at.to_rfc3339(),
                    persons,
                    persons_state,
                    row_count,
                    rows_state,
                    total,
                    total_state,
                    r.sites_in_result,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The ledger of one site (`Some`) or of every site (`None`), newest first.
    pub fn contributions(&self, site: Option<&str>) -> Result<Vec<ContributionRow>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT kind, result_id, site, project_id, period, released_at, persons, persons_state,
                rows, rows_state, result_persons, result_state, sites_in_result
             FROM contribution WHERE ?1 IS NULL OR site = ?1
             ORDER BY released_at DESC, result_id, site",
        )?;
        let raw = stmt.query_map([site], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                (r.get::<_, Option<i64>>(6)?, r.get::<_, String>(7)?),
                (r.get::<_, Option<i64>>(8)?, r.get::<_, String>(9)?),
                (r.get::<_, Option<i64>>(10)?, r.get::<_, String>(11)?),
                r.get::<_, u32>(12)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in raw {
            let (kind, result_id, site, project, period, at, p, rw, total, sites) = row?;
            out.push(ContributionRow {
                kind: ResultKind::parse(&kind)?,
                result_id,
                site,
                project,
                period,
                released_at: time(&at)?,
                persons: Figure::from_columns(p.0, &p.1)?,
                rows: Figure::from_columns(rw.0, &rw.1)?,
                result_persons: Figure::from_columns(total.0, &total.1)?,
                sites_in_result: sites,
            });
        }
        Ok(out)
    }
}
