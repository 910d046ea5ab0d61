//! What each reader was last shown of a query, so that a release is audited once
//! per distinct figure and not once per poll.
//!
//! A researcher polling `GET /v1/feasibility/{id}` every second would otherwise
//! append an audit entry (an fsync) per poll: the trail would grow with polling,
//! not with disclosures. The digest covers everything disclosed (status, total,
//! breakdown, withholding reason); when it changes, the new release is audited.

use super::{Db, DbError};
use oncofed_protocol::QueryId;
use rusqlite::{OptionalExtension, params};

/// Migration 4: the digest of the last audited release per query and reader.
pub(super) const MIGRATION: &str = "CREATE TABLE release_seen (
        query_id TEXT NOT NULL REFERENCES query (query_id),
        reader TEXT NOT NULL,
        digest TEXT NOT NULL,
        PRIMARY KEY (query_id, reader)
     );";

impl Db {
    /// The digest of the release last audited for this reader, if any.
    pub fn last_release(&self, query: &QueryId, reader: &str) -> Result<Option<String>, DbError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT digest FROM release_seen WHERE query_id = ?1 AND reader = ?2",
                params![query.as_str(), reader],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Records that this release was audited for this reader (after the audit entry).
    pub fn put_release(&self, query: &QueryId, reader: &str, digest: &str) -> Result<(), DbError> {
        self.conn().execute(
            "INSERT INTO release_seen (query_id, reader, digest) VALUES (?1, ?2, ?3)
             ON CONFLICT (query_id, reader) DO UPDATE SET digest = excluded.digest",
            params![query.as_str(), reader, digest],
        )?;
        Ok(())
    }
}
