//! The consent feed's store side: a change log of persons whose consent state
//! changed, numbered by a monotonically increasing version, and the page query
//! that serves it to one site (`GET /v1/consent-feed`, `crate::routes::consent_feed`).
//!
//! Three hooks append to the log, each inside the transaction that makes the
//! change: a stored consent ([`super::consents`], site or staff, withdrawals
//! included), a person newly known to a site ([`super::linkage`]: the site
//! must learn that the person exists, with whatever consents are on record),
//! and a linkage merge (`crate::linkage::review`: the pseudonyms of the merged
//! person now share the survivor's consents). A log row names only the person;
//! the page query reads the person's *current* consents and the calling site's
//! pseudonyms when it is served, so an entry always carries the whole state.
//! A person's older rows are deleted when a new one is appended: the log holds
//! at most one row per person, and a node behind by any number of changes
//! still receives the latest state.
//!
//! Versions are `MAX(version) + 1` within the writing transaction: under
//! SQLite's single writer, and under PostgreSQL's primary-key check (a
//! concurrent transaction taking the same number waits and then fails), a
//! version only becomes visible after every smaller one, so a reader never
//! sees version `n + 1` before `n`. The newest row is never deleted, so the
//! maximum never falls back and a version is never reused. On PostgreSQL
//! every write transaction also holds the store's advisory write lock
//! (`super::sql::WRITE_LOCK`), so appends are serialised there as well. The
//! queries are written once for both engines (`super::sql`).

use super::StoreError;
use super::sql::{Conn, Tx, params};
use crate::consent::{ParsedConsent, parse_consent};
use oncofed_model::{Pseudonym, SiteId};

/// The change log on SQLite, seeded with one row per person (version = the
/// person's row id) so that nodes of an existing store receive every person.
pub(crate) const MIGRATION_SQLITE: &str = "
    CREATE TABLE consent_changes (
        version INTEGER PRIMARY KEY,       -- monotonically increasing, never reused
        person_id INTEGER NOT NULL REFERENCES persons(id),
        changed_at INTEGER NOT NULL
    );
    CREATE INDEX consent_changes_person ON consent_changes(person_id);
    INSERT INTO consent_changes (version, person_id, changed_at)
        SELECT id, id, created_at FROM persons;";

/// The same on PostgreSQL (64-bit versions).
pub(crate) const MIGRATION_POSTGRES: &str = "
    CREATE TABLE consent_changes (
        version BIGINT PRIMARY KEY,
        person_id BIGINT NOT NULL REFERENCES persons(id),
        changed_at BIGINT NOT NULL
    );
    CREATE INDEX consent_changes_person ON consent_changes(person_id);
    INSERT INTO consent_changes (version, person_id, changed_at)
        SELECT id, id, created_at FROM persons;";

/// Appends a change of `person`'s consent state and drops the person's older
/// rows. Call it inside the transaction that makes the change.
pub(crate) fn record_change(tx: &mut Tx<'_>, person: i64) -> Result<(), StoreError> {
    record_entries(tx, &[(person, true)], super::now())
}

/// Feed entries of many persons in order (consecutive versions, up to 64 in
/// one statement): `(person, change)`, where a change is [`record_change`]
/// (the person's older entries go) and otherwise a new person's first entry.
/// The same rows as one call each in that order.
pub(crate) fn record_entries(
    tx: &mut Tx<'_>,
    entries: &[(i64, bool)],
    now: i64,
) -> Result<(), StoreError> {
    for chunk in entries.chunks(64) {
        // `columnN` names a `VALUES` list's columns on both engines; the
        // subquery reads the newest version once, before this statement's rows.
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                format!(
                    "({}, CAST(?{} AS BIGINT), CAST(?{} AS BIGINT))",
                    i + 1,
                    2 * i + 1,
                    2 * i + 2
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO consent_changes (version, person_id, changed_at)
             SELECT (SELECT COALESCE(MAX(version), 0) FROM consent_changes) + v.column1,
                    v.column2, v.column3
             FROM (VALUES {}) AS v",
            rows.join(", ")
        );
        let params: Vec<&dyn super::sql::Param> = chunk
            .iter()
            .flat_map(|(p, _)| [p as &dyn super::sql::Param, &now])
            .collect();
        tx.execute_later(&sql, &params)?;
    }
    // A changed person keeps only their newest entry, as after each change.
    let mut changed: Vec<i64> = entries.iter().filter(|e| e.1).map(|e| e.0).collect();
    changed.sort_unstable();
    changed.dedup();
    for person in changed {
        tx.execute_later(
            "DELETE FROM consent_changes WHERE person_id = ?1
             AND version < (SELECT MAX(version) FROM consent_changes WHERE person_id = ?1)",
            params![person],
        )?;
    }
    Ok(())
}

/// One page of a site's feed, before signing.
#[derive(Debug)]
pub(crate) struct Page {
    /// The feed's newest version (all sites).
    pub head: u64,
    /// The last version the page covers.
    pub through: u64,
    /// (version, the site's pseudonyms of the person, current consents).
    pub entries: Vec<(u64, Vec<Pseudonym>, Vec<ParsedConsent>)>,
}

/// The changes after `since` that concern persons `site` holds, at most
/// `limit`, in one read snapshot. Persons of other sites are skipped; their
/// versions are covered by `through` all the same.
pub(crate) fn page(
    conn: &mut Conn,
    site: &SiteId,
    since: u64,
    limit: usize,
) -> Result<Page, StoreError> {
    let mut tx = conn.read_tx()?;
    let head: i64 = tx.query_one(
        "SELECT COALESCE(MAX(version), 0) FROM consent_changes",
        params![],
        |r| r.get(0),
    )?;
    let since = i64::try_from(since).unwrap_or(i64::MAX);
    let changes: Vec<(i64, i64)> = tx.query(
        "SELECT c.version, c.person_id FROM consent_changes c
         WHERE c.version > ?2 AND EXISTS (
             SELECT 1 FROM site_pseudonyms sp WHERE sp.person_id = c.person_id AND sp.site = ?1)
         ORDER BY c.version LIMIT ?3",
        params![
            site.as_str(),
            since,
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let through = match changes.last() {
        Some((version, _)) if changes.len() == limit => *version,
        _ => head.max(since),
    };
    let mut entries = Vec::with_capacity(changes.len());
    for (version, person) in changes {
        entries.push((
            to_u64(version)?,
            pseudonyms(&mut tx, site, person)?,
            current_consents(&mut tx, person)?,
        ));
    }
    tx.commit()?;
    Ok(Page {
        head: to_u64(head)?,
        through: to_u64(through)?,
        entries,
    })
}

fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("negative feed version".into()))
}

/// The site's pseudonyms of `person`.
fn pseudonyms(tx: &mut Tx<'_>, site: &SiteId, person: i64) -> Result<Vec<Pseudonym>, StoreError> {
    let rows: Vec<String> = tx.query(
        "SELECT pseudonym FROM site_pseudonyms WHERE person_id = ?1 AND site = ?2 ORDER BY pseudonym",
        params![person, site.as_str()],
        |r| r.get(0),
    )?;
    rows.iter()
        .map(|p| Pseudonym::new(p).map_err(|_| StoreError::Corrupt("stored pseudonym".into())))
        .collect()
}

/// The person's current (not superseded) consents, parsed, without
/// `Consent.id` (another site's identifier has no business at this one). A
/// stored consent that no longer parses fails the page (fail closed: it could
/// be a withdrawal), as it fails `POST /v1/consents/check`.
fn current_consents(tx: &mut Tx<'_>, person: i64) -> Result<Vec<ParsedConsent>, StoreError> {
    let rows: Vec<String> = tx.query(
        "SELECT resource FROM consents WHERE person_id = ?1 AND superseded_by IS NULL ORDER BY id",
        params![person],
        |r| r.get(0),
    )?;
    let mut out = Vec::new();
    for json in rows {
        let value: serde_json::Value = serde_json::from_str(&json)
            .map_err(|_| StoreError::Corrupt("stored consent is not JSON".into()))?;
        let mut parsed = parse_consent(&value)
            .map_err(|e| StoreError::Corrupt(format!("stored consent: {e}")))?;
        parsed.resource_id = None;
        out.push(parsed);
    }
    Ok(out)
}
