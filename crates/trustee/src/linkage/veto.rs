//! Person-level vetoes on automatic links (issue 9, defect 1).
//!
//! A new record that would join a person (by insurance number, by the exact
//! name key or by score) is checked against **every** record the person holds,
//! not only the one that matched, because joining a person merges with all of
//! them. The link is refused, and at most a clerical-review item queued, when
//! any of the person's records
//! - comes from the same site under another local id: a site's own patient ids
//!   are the site's decision that these are different patients (or a duplicate
//!   it must resolve itself); the trust centre never merges them on its own;
//! - disagrees on sex or birth date ([`oncofed_linkage::veto`]: both known and
//!   different; a day/month swap is a disagreement unless the same insurance
//!   number and the same given and family names vouch for it,
//!   [`oncofed_linkage::swap_vouched_for`]).
//!
//! A reviewer's `match` decision may still merge such persons: the veto binds
//! only automatic decisions.

use super::probabilistic::record_of;
use crate::db::{StoreError, Tx, params};
use oncofed_linkage::{Record, Veto};
use std::sync::LazyLock;

/// Why a record may not join a person automatically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PersonVeto {
    /// The reason (no personal data).
    pub reason: Reason,
    /// Site of the person's record that triggered it (the review item names it).
    pub site: String,
    /// Its local id.
    pub local_id: String,
}

/// The kinds of [`PersonVeto`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The person already has another local id at the new record's site.
    SameSite,
    /// Sex or birth date disagree with one of the person's records.
    Identity(Veto),
    /// A stored record of the person cannot be read (never link on a guess).
    Unreadable,
}

impl Reason {
    /// A stable name for logs (no personal data).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Reason::SameSite => "same-site",
            Reason::Identity(v) => v.as_str(),
            Reason::Unreadable => "unreadable",
        }
    }
}

/// A local id of a person as the vetoes read it: site, local id, whether its
/// IDAT was erased, its stored comparison record.
pub(crate) type PersonRecord = (String, String, bool, Option<Vec<u8>>);

/// The first veto against `record` (from `site`) joining `person`; `None` when
/// it may link. `record` is `None` when the new IDAT could not be normalised,
/// which vetoes every link. `held`: the person's local ids of the batch not yet
/// written (`db::linkage`'s batch); `stored`: the person's stored local ids if
/// the batch read them up front ([`person_records`]), else they are read here.
pub(crate) fn person_veto(
    tx: &mut Tx<'_>,
    person: i64,
    site: &str,
    record: Option<&Record>,
    held: &[PersonRecord],
    stored: Option<Vec<PersonRecord>>,
) -> Result<Option<PersonVeto>, StoreError> {
    let mut rows = match stored {
        Some(rows) => rows,
        None => person_records(tx, person)?,
    };
    rows.extend_from_slice(held);
    rows.sort_unstable();
    for (their_site, local_id, erased, bytes) in rows {
        let reason = if their_site == site {
            Some(Reason::SameSite)
        } else if erased {
            // Erased on withdrawal: nothing left to compare; the insurance number
            // that found the person links the record, so its site gets an order.
            None
        } else {
            let theirs = match bytes.as_deref().and_then(Record::from_bytes) {
                Some(r) => Some(r),
                None => idat_record(tx, &their_site, &local_id)?,
            };
            match (record, theirs) {
                (Some(ours), Some(theirs)) => {
                    oncofed_linkage::veto(ours, &theirs).map(Reason::Identity)
                }
                _ => Some(Reason::Unreadable),
            }
        };
        if let Some(reason) = reason {
            return Ok(Some(PersonVeto {
                reason,
                site: their_site,
                local_id,
            }));
        }
    }
    Ok(None)
}

/// Every stored local id of `person` as the vetoes read them.
pub(crate) fn person_records(
    tx: &mut Tx<'_>,
    person: i64,
) -> Result<Vec<PersonRecord>, StoreError> {
    // Sorted by the caller rather than by ORDER BY, which makes SQLite re-plan
    // the statement on many runs (see `blocks::search`). The comparison
    // records come with the local ids: one statement, where one per record was
    // a round trip each on PostgreSQL.
    tx.query(
        &PERSON_RECORDS,
        params![person, crate::db::ERASED_IDAT],
        |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )
}

/// [`person_records`] as committed, for a person the batch wrote nothing of
/// (`db::linkage`'s `Batch::wrote_for`): read beside the transaction, not
/// behind the searches it sent ahead ([`Tx::query_committed`]).
pub(crate) fn committed_person_records(
    tx: &mut Tx<'_>,
    person: i64,
) -> Result<Vec<PersonRecord>, StoreError> {
    tx.query_committed(
        &PERSON_RECORDS,
        params![person, crate::db::ERASED_IDAT],
        |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )
}

/// The statement of [`person_records`]: `?1` the person, `?2` the erased IDAT.
static PERSON_RECORDS: LazyLock<String> = LazyLock::new(|| person_records_sql("?2", "?1"));

/// The stored local ids of a person as the vetoes read them: person, site,
/// local id, whether erased, comparison record. `erased` and `person` are the
/// placeholders of the erased IDAT and the person. One template for the
/// single read ([`person_records`]) and the batch's (`db::linkage::batch`), so
/// the two cannot drift apart.
pub(crate) fn person_records_sql(erased: &str, person: &str) -> String {
    format!(
        "SELECT person_id, site, local_id, idat = {erased}, (SELECT record FROM linkage_records r
           WHERE r.site = l.site AND r.local_id = l.local_id)
         FROM local_ids l WHERE person_id = {person}"
    )
}

/// The comparison record of a registered local id: the one the blocking index
/// stored (`linkage_records`), else normalised from its IDAT.
pub(crate) fn stored_record(
    tx: &mut Tx<'_>,
    site: &str,
    local_id: &str,
) -> Result<Option<Record>, StoreError> {
    let bytes: Option<Vec<u8>> = tx.query_opt(
        "SELECT record FROM linkage_records WHERE site = ?1 AND local_id = ?2",
        params![site, local_id],
        |r| r.get(0),
    )?;
    if let Some(record) = bytes.as_deref().and_then(Record::from_bytes) {
        return Ok(Some(record));
    }
    idat_record(tx, site, local_id)
}

/// The comparison record of a registered local id normalised from its IDAT:
/// [`stored_record`]'s fallback where the index has none.
fn idat_record(tx: &mut Tx<'_>, site: &str, local_id: &str) -> Result<Option<Record>, StoreError> {
    let idat: Option<String> = tx.query_opt(
        "SELECT idat FROM local_ids WHERE site = ?1 AND local_id = ?2",
        params![site, local_id],
        |r| r.get(0),
    )?;
    Ok(idat.as_deref().and_then(record_of))
}
