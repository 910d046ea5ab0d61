//! The published catalogues (issue 17, R20): each refresh appends one row; the
//! newest is served at `/catalogue`. Kept, not replaced, so what was published
//! when stays answerable (the audit trail names each refresh).

use super::{Db, DbError, time};
use chrono::{DateTime, Utc};
use oncofed_dcat::Catalogue;
use rusqlite::{OptionalExtension, params};

/// Migration: the published catalogues, as JSON of `oncofed_dcat::Catalogue`
/// (released figures only) with the refresh's coverage summary.
pub(super) const MIGRATION: &str = "CREATE TABLE catalogue_release (
        id INTEGER PRIMARY KEY,
        published_at TEXT NOT NULL,
        catalogue TEXT NOT NULL,
        summary TEXT NOT NULL
     );";

impl Db {
    /// Stores a newly published catalogue.
    pub fn put_catalogue(
        &self,
        at: DateTime<Utc>,
        catalogue: &Catalogue,
        summary: &serde_json::Value,
    ) -> Result<(), DbError> {
        let json = serde_json::to_string(catalogue).map_err(|e| DbError::Corrupt(e.to_string()))?;
        self.conn().execute(
            "INSERT INTO catalogue_release (published_at, catalogue, summary) VALUES (?1, ?2, ?3)",
            params![at.to_rfc3339(), json, summary.to_string()],
        )?;
        Ok(())
    }

    /// The newest published catalogue: when, the catalogue, and its refresh's
    /// coverage summary (`CatalogueRefreshed` as JSON).
    pub fn latest_catalogue(&self) -> Result<Option<Published>, DbError> {
        let row: Option<(String, String, String)> = self
            .conn()
            .query_row(
                "SELECT published_at, catalogue, summary FROM catalogue_release ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(at, json, summary)| {
            let corrupt = |e: serde_json::Error| DbError::Corrupt(e.to_string());
            Ok(Published {
                at: time(&at)?,
                catalogue: serde_json::from_str(&json).map_err(corrupt)?,
                summary: serde_json::from_str(&summary).map_err(corrupt)?,
            })
        })
        .transpose()
    }
}

/// A published catalogue as stored.
#[derive(Debug, Clone)]
pub struct Published {
    /// When it was published.
    pub at: DateTime<Utc>,
    /// The catalogue (released figures only).
    pub catalogue: Catalogue,
    /// The refresh's coverage (`oncofed_protocol::CatalogueRefreshed` as JSON).
    pub summary: serde_json::Value,
}
