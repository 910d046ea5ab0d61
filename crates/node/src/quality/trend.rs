//! Quality reports over time (issue 17, item 4): each report's figures are kept
//! in the research store's site log, so the site admin sees per field whether
//! completeness and issues improve from run to run.
//!
//! Only counts and shares are kept: the report's example rows (pseudonyms and
//! the problem found) stay in the report of the moment and are never stored.

use super::QualityReport;
use crate::{SharedStore, with_store};
use chrono::{DateTime, Utc};
use oncofed_store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One field's completeness in a stored report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FieldPoint {
    /// Rows where the field is filled.
    pub filled: u64,
    /// Rows where it applies.
    pub total: u64,
    /// `filled / total` in percent.
    pub percent: f64,
}

/// The figures of one quality report, as stored for the trend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QualityTrendPoint {
    /// Patients in the store.
    pub patients: u64,
    /// Facts in the store.
    pub facts: u64,
    /// Patients with at least one diagnosis, in percent.
    pub patients_with_diagnosis_percent: f64,
    /// Completeness per field.
    pub completeness: BTreeMap<String, FieldPoint>,
    /// Issues per kind (counts only).
    pub issues: BTreeMap<String, u64>,
    /// Quarantined objects in all.
    pub quarantined: u64,
}

impl QualityTrendPoint {
    /// The storable figures of `report`.
    pub fn of(report: &QualityReport) -> Self {
        Self {
            patients: report.patients,
            facts: report.facts_by_kind.values().sum(),
            patients_with_diagnosis_percent: report.patients_with_diagnosis_percent,
            completeness: report
                .completeness
                .iter()
                .map(|(k, c)| {
                    (
                        k.clone(),
                        FieldPoint {
                            filled: c.filled,
                            total: c.total,
                            percent: c.percent,
                        },
                    )
                })
                .collect(),
            issues: report
                .issues
                .iter()
                .map(|(k, i)| (k.clone(), i.count))
                .collect(),
            quarantined: report.images.quarantined_by_reason.values().sum(),
        }
    }
}

/// A stored report: its id, when it was computed, its figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredQuality {
    /// The store's id.
    pub id: i64,
    /// When the report was computed.
    pub at: DateTime<Utc>,
    /// Its figures.
    pub point: QualityTrendPoint,
}

/// Computes the report over the whole store ([`super::report`]) and records
/// its figures for the trend. What `oncofed node quality` runs.
pub async fn report_and_record(store: &SharedStore) -> Result<QualityReport, StoreError> {
    let report = super::report(store).await?;
    let json = serde_json::to_string(&QualityTrendPoint::of(&report)).map_err(|e| {
        StoreError::Corrupt {
            column: "quality_run.report",
            detail: e.to_string(),
        }
    })?;
    with_store(store, move |s| s.record_quality_run(Utc::now(), &json)).await?;
    Ok(report)
}

/// The newest `limit` stored reports, newest first. A stored report this
/// build cannot read (written by another version) is skipped with a warning.
pub async fn history(store: &SharedStore, limit: usize) -> Result<Vec<StoredQuality>, StoreError> {
    let rows = with_store(store, move |s| s.quality_runs(limit)).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| match serde_json::from_str(&r.report) {
            Ok(point) => Some(StoredQuality {
                id: r.id,
                at: r.at,
                point,
            }),
            Err(e) => {
                tracing::warn!(id = r.id, error = %e, "a stored quality report is unreadable; skipped");
                None
            }
        })
        .collect())
}
