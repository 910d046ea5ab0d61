//! The clerical-review queue: possible matches wait here for trust-centre staff.
//!
//! A possible match (score between the two thresholds) creates a new person for
//! the new record, so nothing is linked on a guess, and queues an item naming
//! the new record and the best-scoring earlier one. A reviewer decides:
//! - `match`: the new record's person is merged into the earlier one's (local
//!   ids, exact-match keys, site pseudonyms and consents move; the merged-away
//!   person keeps a `merged_into` pointer). From then on both local ids resolve
//!   to one research pseudonym; the site pseudonym the site already holds for the
//!   new record keeps working for consent checks, because it now points at the
//!   surviving person.
//! - `non-match`: nothing changes but the item.
//!
//! Known limits: facts a site node already stored under the merged-away person's
//! pseudonyms stay there until the site pseudonymises that patient again; a
//! withdrawal recorded for one of the two persons before the merge now belongs to
//! the survivor, but deletion orders are not re-issued to the survivor's other
//! sites by the merge itself.

use super::api::{Decision, FieldComparison, ReviewItem, ReviewRecord};
use super::probabilistic::{Candidate, config, record_of};
use crate::db::{Conn, Person, StoreError, Tx, params, person_by_row, register_site_pseudonym};
use crate::keys::Keys;
use oncofed_idat::IdentifyingData;
use oncofed_linkage::probabilistic::{compare, score};
use oncofed_linkage::{Field, Record};
use oncofed_model::SiteId;

/// Queues a possible match: `new` is `(site, local id, person row)` of the new record.
pub(crate) fn enqueue(
    tx: &mut Tx<'_>,
    new: (&str, &str, i64),
    other: &Candidate,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute_later(
        "INSERT INTO review_items (site, local_id, person_id, other_site, other_local_id,
             other_person_id, score, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            new.0,
            new.1,
            new.2,
            other.site,
            other.local_id,
            other.person,
            other.score,
            now
        ],
    )?;
    Ok(())
}

/// The current person and IDAT of a local id.
fn current(tx: &mut Tx<'_>, site: &str, local_id: &str) -> Result<(i64, String), StoreError> {
    tx.query_one(
        "SELECT person_id, idat FROM local_ids WHERE site = ?1 AND local_id = ?2",
        params![site, local_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

fn side(
    tx: &mut Tx<'_>,
    keys: &Keys,
    site: String,
    local_id: String,
) -> Result<(ReviewRecord, Record), StoreError> {
    let (row, idat_json) = current(tx, &site, &local_id)?;
    let person = person_by_row(tx, row)?;
    let idat: Option<IdentifyingData> = serde_json::from_str(&idat_json).ok();
    let record = record_of(&idat_json).ok_or_else(|| StoreError::Corrupt("stored IDAT".into()))?;
    Ok((
        ReviewRecord {
            site,
            local_id,
            research_pseudonym: keys.research_pseudonym(&person.pid),
            idat,
        },
        record,
    ))
}

fn field_values(r: &Record, f: Field) -> String {
    match f {
        Field::Given => r.given.clone(),
        Field::Family if r.birth_name.is_empty() => r.family.clone(),
        Field::Family => format!("{} (born {})", r.family, r.birth_name),
        Field::BirthDay => r.birth_day.map(|d| d.to_string()).unwrap_or_default(),
        Field::BirthMonth => r.birth_month.map(|d| d.to_string()).unwrap_or_default(),
        Field::BirthYear => r.birth_year.map(|d| d.to_string()).unwrap_or_default(),
        Field::Sex => r.sex_code().to_owned(),
        Field::HouseNumber => r.house_number.clone(),
        Field::Street => r.street.clone(),
        Field::PostalCode => r.postal_code.clone(),
        Field::City => r.city.clone(),
        Field::InsuranceId => r.insurance_id.clone(),
    }
}

/// Pending items, oldest first, at most `limit`, with the field-by-field
/// comparison recomputed from the IDAT as stored now; and the pending total.
pub(crate) fn pending(
    conn: &mut Conn,
    keys: &Keys,
    limit: i64,
) -> Result<(Vec<ReviewItem>, i64), StoreError> {
    let mut tx = conn.read_tx()?;
    let total: i64 = tx.query_one(
        "SELECT count(*) FROM review_items WHERE decision IS NULL",
        params![],
        |r| r.get(0),
    )?;
    let rows: Vec<(i64, String, String, String, String, f64, i64)> = tx.query(
        "SELECT id, site, local_id, other_site, other_local_id, score, created_at
         FROM review_items WHERE decision IS NULL ORDER BY id LIMIT ?1",
        params![limit],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        },
    )?;
    let cfg = config();
    let mut items = Vec::with_capacity(rows.len());
    for (id, site, local_id, other_site, other_local_id, queued_score, created_at) in rows {
        let (new_side, a) = side(&mut tx, keys, site, local_id)?;
        let (earlier, b) = side(&mut tx, keys, other_site, other_local_id)?;
        let sims = compare(&a, &b, &cfg);
        let fields = Field::ALL
            .iter()
            .zip(sims)
            .map(|(&f, s)| FieldComparison {
                field: f,
                new: field_values(&a, f),
                earlier: field_values(&b, f),
                similarity: s,
                weight: cfg.weights.get(f).weight(),
            })
            .collect();
        items.push(ReviewItem {
            id,
            queued_score,
            score: score(&sims, &cfg.weights),
            created_at,
            same_person_now: new_side.research_pseudonym == earlier.research_pseudonym,
            new: new_side,
            earlier,
            fields,
        });
    }
    tx.commit()?;
    Ok((items, total))
}

/// What a decision did.
#[derive(Debug, Clone)]
pub(crate) struct Decided {
    /// Whether two persons were merged.
    pub merged: bool,
    /// The new record's research pseudonym after the decision.
    pub research: oncofed_model::Pseudonym,
    /// The score the item was queued with.
    pub score: f64,
}

/// Why a decision was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecideError {
    /// No item with this id, or it was decided before.
    #[error("no pending review item with this id")]
    NotPending,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies a decision in one transaction; `before_commit` runs last inside it
/// (the audit entry), so a decision that cannot be audited is not applied.
pub(crate) fn decide<E>(
    conn: &mut Conn,
    keys: &Keys,
    id: i64,
    decision: Decision,
    reviewer: &str,
    now: i64,
    before_commit: impl FnOnce(&Decided) -> Result<(), E>,
) -> Result<Result<Decided, E>, DecideError> {
    let mut tx = conn.write_tx()?;
    let item: Option<(String, String, String, String, f64)> = tx.query_opt(
        "SELECT site, local_id, other_site, other_local_id, score FROM review_items
         WHERE id = ?1 AND decision IS NULL",
        params![id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    let Some((site, local_id, other_site, other_local_id, score)) = item else {
        return Err(DecideError::NotPending);
    };
    let (from, _) = current(&mut tx, &site, &local_id)?;
    let (into, _) = current(&mut tx, &other_site, &other_local_id)?;
    let merged = decision == Decision::Match && from != into;
    if merged {
        merge(&mut tx, keys, from, into)?;
    }
    tx.execute(
        "UPDATE review_items SET decision = ?2, reviewer = ?3, decided_at = ?4 WHERE id = ?1",
        params![id, decision.as_str(), reviewer, now],
    )?;
    let survivor = person_by_row(&mut tx, if merged { into } else { from })?;
    let decided = Decided {
        merged,
        research: keys.research_pseudonym(&survivor.pid),
        score,
    };
    if let Err(e) = before_commit(&decided) {
        return Ok(Err(e));
    }
    tx.commit()?;
    Ok(Ok(decided))
}

/// Merges person `from` into person `into`.
///
/// `local_ids` and `site_pseudonyms` are indexed by person; the other updates
/// by `person_id` scan their tables (no index, to keep inserts cheap): merges
/// are rare, manual decisions.
fn merge(tx: &mut Tx<'_>, keys: &Keys, from: i64, into: i64) -> Result<(), StoreError> {
    let sites: Vec<String> = tx.query(
        "SELECT DISTINCT site FROM local_ids WHERE person_id = ?1 ORDER BY site",
        params![from],
        |r| r.get(0),
    )?;
    for sql in [
        "UPDATE local_ids SET person_id = ?2 WHERE person_id = ?1",
        "UPDATE blocking_keys SET person_id = ?2 WHERE person_id = ?1",
        "UPDATE site_pseudonyms SET person_id = ?2 WHERE person_id = ?1",
        // A consent both persons hold identically stays with the merged-away one.
        "UPDATE consents SET person_id = ?2 WHERE person_id = ?1 AND NOT EXISTS
             (SELECT 1 FROM consents c WHERE c.person_id = ?2 AND c.content_hash = consents.content_hash)",
        // Orders and requests follow the person (withdrawal cascade, re-contact).
        "UPDATE deletion_orders SET person_id = ?2 WHERE person_id = ?1",
        "UPDATE sample_destructions SET person_id = ?2 WHERE person_id = ?1",
        "UPDATE recontact_requests SET person_id = ?2 WHERE person_id = ?1",
        "UPDATE persons SET kvnr_key = (SELECT kvnr_key FROM persons WHERE id = ?1)
             WHERE id = ?2 AND kvnr_key IS NULL",
        "UPDATE persons SET merged_into = ?2 WHERE id = ?1",
        "UPDATE persons SET merged_into = ?2 WHERE merged_into = ?1",
    ] {
        tx.execute(sql, params![from, into])?;
    }
    // The patients' portal: access codes, reported uses, audit index.
    for sql in crate::db::patients::MERGE_SQL {
        tx.execute(sql, params![from, into])?;
    }
    // The merged person's pseudonyms now share the survivor's consents (feed).
    crate::db::consent_feed::record_change(tx, into)?;
    let survivor: Person = person_by_row(tx, into)?;
    for site in sites {
        let site = SiteId::new(&site).map_err(|_| StoreError::Corrupt("site id".into()))?;
        register_site_pseudonym(tx, keys, &site, survivor)?;
    }
    Ok(())
}
