//! The consent registry: FHIR Consent resources per person, and batch checks.
//!
//! Resources are stored as received and re-parsed for every check, so the stored
//! JSON stays the single source of truth. A resource is identified by the SHA-256
//! of its canonical JSON (object keys sorted, no whitespace): submitting the same
//! content again for the same person stores nothing. A new content with the same
//! `Consent.id` from the same source for the same person supersedes the earlier
//! version (a FHIR update, e.g. to `entered-in-error`); re-sending an older version
//! afterwards is a no-op, not a rollback.

use super::linkage::person_of_local_id;
use super::{Conn, StoreError, Tx, now, params};
use crate::consent::{ParsedConsent, evaluate_origin, parse_consent};
use chrono::NaiveDate;
use oncofed_model::{Purpose, SiteId};
use oncofed_trustee_api::{ConsentDecision, ConsentQuestion};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// The `source` recorded for consents entered by trust-centre staff; `@` cannot
/// start a site id, so it never collides with one.
pub(crate) const ADMIN_SOURCE: &str = "@admin";

/// A validated Consent ready to be stored.
pub(crate) struct ConsentRow {
    /// `Consent.id`, when present.
    pub resource_id: Option<String>,
    /// SHA-256 of `resource`.
    pub content_hash: [u8; 32],
    /// Canonical JSON of the resource.
    pub resource: String,
}

/// Stores consents a site submitted for its local ids, all or nothing; returns how
/// many were new. Fails with [`StoreError::UnknownLocalId`] naming the first item
/// whose local id the site never registered.
pub(crate) fn insert_site_consents(
    conn: &mut Conn,
    site: &SiteId,
    items: &[(String, ConsentRow)],
) -> Result<usize, StoreError> {
    let mut tx = conn.write_tx()?;
    let now = now();
    let mut stored = 0;
    for (index, (local_id, row)) in items.iter().enumerate() {
        let person = person_of_local_id(&mut tx, site.as_str(), local_id)?
            .ok_or(StoreError::UnknownLocalId { index })?;
        stored += insert_row(&mut tx, person, site.as_str(), row, now)?;
    }
    tx.commit()?;
    Ok(stored)
}

/// Stores a consent for the person behind a site pseudonym (of any site), as
/// trust-centre staff do for an objection a patient sent directly.
pub(crate) fn insert_admin_consent(
    conn: &mut Conn,
    pseudonym: &str,
    row: &ConsentRow,
) -> Result<usize, StoreError> {
    let mut tx = conn.write_tx()?;
    let person: i64 = tx
        .query_opt(
            "SELECT person_id FROM site_pseudonyms WHERE pseudonym = ?1",
            params![pseudonym],
            |r| r.get(0),
        )?
        .ok_or(StoreError::UnknownPseudonym)?;
    let stored = insert_row(&mut tx, person, ADMIN_SOURCE, row, now())?;
    tx.commit()?;
    Ok(stored)
}

pub(super) fn insert_row(
    tx: &mut Tx<'_>,
    person: i64,
    source: &str,
    row: &ConsentRow,
    now: i64,
) -> Result<usize, StoreError> {
    let inserted: Option<i64> = tx.query_opt(
        "INSERT INTO consents (person_id, source, resource_id, content_hash, resource, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (person_id, content_hash) DO NOTHING
         RETURNING id",
        params![
            person,
            source,
            row.resource_id,
            &row.content_hash[..],
            row.resource,
            now
        ],
        |r| r.get(0),
    )?;
    let Some(id) = inserted else {
        return Ok(0);
    };
    super::consent_feed::record_change(tx, person)?;
    if let Some(resource_id) = &row.resource_id {
        tx.execute(
            "UPDATE consents SET superseded_by = ?1
             WHERE person_id = ?2 AND source = ?3 AND resource_id = ?4 AND id <> ?1 AND superseded_by IS NULL",
            params![id, person, source, resource_id],
        )?;
    }
    Ok(1)
}

/// The person's current (not superseded) consents, parsed.
fn load_consents(tx: &mut Tx<'_>, person: i64) -> Result<Vec<ParsedConsent>, StoreError> {
    let rows = tx.query(
        "SELECT resource FROM consents WHERE person_id = ?1 AND superseded_by IS NULL ORDER BY id",
        params![person],
        |r| r.get::<String>(0),
    )?;
    let mut out = Vec::new();
    for json in rows {
        let value: serde_json::Value = serde_json::from_str(&json)
            .map_err(|_| StoreError::Corrupt("stored consent is not JSON".into()))?;
        // Fail closed: a stored consent that no longer parses could be a withdrawal.
        out.push(
            parse_consent(&value)
                .map_err(|e| StoreError::Corrupt(format!("stored consent: {e}")))?,
        );
    }
    Ok(out)
}

/// Answers consent questions of `site` about its own pseudonyms, in order. A
/// pseudonym of another domain or unknown to the trust centre gets `DenyUnknown`.
pub(crate) fn check_consents(
    conn: &mut Conn,
    site: &SiteId,
    purpose: Purpose,
    date: NaiveDate,
    questions: &[ConsentQuestion],
) -> Result<Vec<ConsentDecision>, StoreError> {
    let mut tx = conn.read_tx()?; // one snapshot for the whole batch
    let mut cache: HashMap<i64, Vec<ParsedConsent>> = HashMap::new();
    let mut out = Vec::with_capacity(questions.len());
    for q in questions {
        let person: Option<i64> = tx.query_opt(
            "SELECT person_id FROM site_pseudonyms WHERE pseudonym = ?1 AND site = ?2",
            params![q.pseudonym.as_str(), site.as_str()],
            |r| r.get(0),
        )?;
        let decision = match person {
            None => ConsentDecision::DenyUnknown,
            Some(p) => {
                let consents = match cache.entry(p) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(load_consents(&mut tx, p)?),
                };
                evaluate_origin(consents, q.category, purpose, date, q.origin)
            }
        };
        out.push(decision);
    }
    tx.commit()?;
    Ok(out)
}
