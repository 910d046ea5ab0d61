//! Exact-match linkage and pseudonym assignment, one transaction per batch.
//!
//! For each `(site, local_id)`:
//! 0. a record of a person erased on withdrawal is refused ([`Refusal::Withdrawn`],
//!    nothing stored): its local id is known and erased, its insurance number
//!    names an erased person, or its identity matches a tombstone
//!    ([`crate::keys::Keys::tombstone_probes`], looked up where the filter of
//!    [`super::tombstones`] says one may be stored) and staff did not admit
//!    the record ([`super::admissions`]);
//! 1. a local id seen before keeps its person, whatever IDAT arrives now (the IDAT
//!    and its linkage keys are updated, so later records can link to them);
//! 2. otherwise the person whose insurance-number key matches, unless that
//!    person has another local id at the same site or a record that disagrees
//!    on sex or birth date ([`crate::linkage::veto`]; such a record goes on to
//!    step 3, and is queued for review against the vetoed person if scoring
//!    finds nothing). There is no exact key on names: equal names, birth date
//!    and sex are weighed with the address like any other agreement (see
//!    [`crate::keys::BlockingKeys`] for the namesakes it merged);
//! 3. otherwise probabilistic linkage ([`crate::linkage::probabilistic`]): the
//!    records sharing a blocking key are scored (Fellegi–Sunter/EpiLink); a
//!    match links to the best one's person; a possible match creates a new
//!    person and queues a clerical-review item naming both
//!    ([`crate::linkage::review`]); otherwise a new person.
//!
//! Every record is indexed under its probabilistic blocking keys, and re-indexed
//! when a site sends changed IDAT for a known local id.
//!
//! A person has a sequential row id (a storage handle that never leaves the store)
//! and a random 128-bit `pid`, the input of the pseudonym MACs: a stolen key alone
//! does not let anyone enumerate pseudonyms. A linkage key belongs to the first
//! person that registered it; a later record with the same key but linked
//! elsewhere does not take it over.

use super::{Conn, StoreError, Tx, now, params};
use crate::keys::{BlockingKey, BlockingKeys, Keys, PersonId};
use crate::linkage::blocks::{self, Lookahead, Want};
use crate::linkage::probabilistic as prob;
use crate::linkage::veto;
use batch::Batch;
use ids::{PersonIds, new_person};
use oncofed_linkage::Outcome;
use oncofed_linkage::Record;
use oncofed_model::SiteId;
use oncofed_trustee_api::PseudonymPair;
use std::collections::HashMap;

mod batch;
mod ids;

pub(crate) use batch::Batch as LinkBatch;

/// The `idat` of a local id whose person's IDAT was erased on withdrawal.
pub(crate) const ERASED_IDAT: &str = "";

/// One patient to pseudonymise, prepared outside the store lock.
pub(crate) struct LinkItem {
    /// The site's local id.
    pub local_id: String,
    /// The IDAT as stored (JSON).
    pub idat_json: String,
    /// Its keyed linkage keys.
    pub keys: BlockingKeys,
}

/// A person as the store knows them: row handle and random pseudonym input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Person {
    /// Row id in `persons`.
    pub row: i64,
    /// The random pseudonym input.
    pub pid: PersonId,
}

/// Reads a `pid` column.
pub(crate) fn pid_from(blob: Vec<u8>) -> Result<PersonId, StoreError> {
    blob.try_into()
        .map_err(|_| StoreError::Corrupt("stored pid".into()))
}

/// Why one record of a batch was refused; nothing of it was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The record is of a person who withdrew consent and whose identifying
    /// data was erased (the tombstone, see [`super::deletions`]): the withdrawal
    /// stands against every site, so the person is not registered again.
    Withdrawn {
        /// The erased person's row (for the audit entry on their portal page).
        person: i64,
        /// Whether only the tombstone's resemblance refused it, so staff may
        /// admit the record as a different person ([`super::admissions`]);
        /// not when its local id or insurance number was the person's.
        admissible: bool,
    },
}

/// Links and pseudonymises a batch in one transaction; one result per item, in
/// item order: the pair, or why the item was refused (nothing of it stored).
pub(crate) fn pseudonymise_each(
    conn: &mut Conn,
    keys: &Keys,
    site: &SiteId,
    items: &[LinkItem],
) -> Result<Vec<Result<PseudonymPair, Refusal>>, StoreError> {
    let mut tx = conn.write_tx()?;
    let now = now();
    let records: Vec<Option<Record>> = items
        .iter()
        .map(|i| prob::record_of(&i.idat_json))
        .collect();
    // The tombstone probes worth a lookup: almost always none.
    let filter = super::tombstones::load(&mut tx)?;
    let tombstones = super::tombstones::probes(keys, &filter, &records);
    let local_ids: Vec<&str> = items.iter().map(|i| i.local_id.as_str()).collect();
    let exact_keys = items
        .iter()
        .flat_map(|i| i.keys.kvnr.iter())
        .chain(tombstones.iter().flatten());
    let pseudonym_of = |p: &Person| keys.site_pseudonym(site, &p.pid).as_str().to_owned();
    let mut batch = Batch::read(&mut tx, site.as_str(), &local_ids, exact_keys, pseudonym_of)?;
    // What each record will probably read from the index: a record with no
    // known local id is placed where its insurance number's owner is, or
    // else scored.
    let wanted = items
        .iter()
        .map(|i| {
            if batch.known(&i.local_id).is_some() {
                Want::Nothing
            } else if i
                .keys
                .kvnr
                .as_ref()
                .is_some_and(|k| batch.owner(k).is_some())
            {
                Want::Placement
            } else {
                Want::Search
            }
        })
        .collect::<Vec<_>>();
    // A new person is made for a record that is scored (or, rarely, one whose
    // number's owner vetoes it: those take an id the slow way).
    let searching = wanted.iter().filter(|&&w| w == Want::Search).count();
    let mut ids = PersonIds::reserve(&mut tx, searching)?;
    // The split keys kept on the connection, if still current.
    let kept = tx.take_split_keys();
    let splits = blocks::SplitsSeen::new(blocks::current_splits(&mut tx, kept)?);
    let mut ahead = Lookahead::new(&tx, wanted, splits);
    let cfg = prob::config();
    let mut out = Vec::with_capacity(items.len());
    for (at, ((item, record), tombstone_keys)) in
        items.iter().zip(&records).zip(&tombstones).enumerate()
    {
        ahead.send_ahead(&mut tx, keys, &cfg, &records, at)?;
        let new = New {
            at,
            item,
            record: record.as_ref(),
            tombstone_keys,
        };
        let mut index = Index {
            ahead: &mut ahead,
            ids: &mut ids,
        };
        let linked = link_one(&mut tx, &mut batch, &mut index, keys, site, new, now)?;
        ahead.forget(&mut tx, at)?;
        out.push(linked.map(|person| keys.pair(site, &person.pid)));
    }
    let (used, stale) = ahead.counts();
    tracing::debug!(used, stale, "searches sent ahead");
    batch.flush(&mut tx, now)?;
    if let Some(kept) = std::mem::take(&mut ahead.touched.splits).into_kept() {
        tx.keep_split_keys(kept);
    }
    tx.commit()?;
    Ok(out)
}

/// [`pseudonymise_each`] for batches that must not contain a refused record
/// (the conformance suite): a refusal panics.
#[cfg(test)]
pub(crate) fn pseudonymise(
    conn: &mut Conn,
    keys: &Keys,
    site: &SiteId,
    items: &[LinkItem],
) -> Result<Vec<PseudonymPair>, StoreError> {
    Ok(pseudonymise_each(conn, keys, site, items)?
        .into_iter()
        .map(|r| r.expect("no record of the batch is refused"))
        .collect())
}

/// One item of a batch with what was derived from it up front.
#[derive(Clone, Copy)]
struct New<'a> {
    /// Its place in the batch.
    at: usize,
    item: &'a LinkItem,
    /// Its comparison record, if the IDAT could be normalised.
    record: Option<&'a Record>,
    /// Its tombstone probes the filter let through ([`Keys::tombstone_probes`],
    /// [`super::tombstones`]).
    tombstone_keys: &'a [BlockingKey],
}

/// What a batch keeps beside [`Batch`] to spare round trips: searches sent
/// ahead (and the index changes that make them stale), and person ids.
struct Index<'a> {
    ahead: &'a mut Lookahead,
    ids: &'a mut PersonIds,
}

fn link_one(
    tx: &mut Tx<'_>,
    batch: &mut Batch,
    index: &mut Index<'_>,
    keys: &Keys,
    site: &SiteId,
    new: New<'_>,
    now: i64,
) -> Result<Result<Person, Refusal>, StoreError> {
    let New {
        at: item_at,
        item,
        record,
        tombstone_keys,
    } = new;
    let cfg = prob::config();
    if let Some((person, stored)) = batch.known(&item.local_id).cloned() {
        if stored == ERASED_IDAT || is_erased(tx, person.row)? {
            return Ok(Err(Refusal::Withdrawn {
                person: person.row,
                admissible: false,
            }));
        }
        if stored != item.idat_json {
            // Rare: re-indexing reads the stored record, so written directly.
            batch.flush(tx, now)?;
            batch.idat_changed(&item.local_id, &item.idat_json);
            tx.execute_later(
                "UPDATE local_ids SET idat = ?3, updated_at = ?4 WHERE site = ?1 AND local_id = ?2",
                params![site.as_str(), item.local_id, item.idat_json, now],
            )?;
            register_keys(tx, batch, person, &item.keys, Holder::Other)?;
            let at = (site.as_str(), item.local_id.as_str());
            let touched = &mut index.ahead.touched;
            blocks::unregister(tx, keys, &cfg, at, touched)?;
            if let Some(r) = record {
                let bytes = blocks::register(tx, keys, &cfg, at, r, None, touched)?;
                blocks::store_record(tx, at, &bytes)?;
            }
        }
        return Ok(Ok(person));
    }
    // The owners of the insurance-number key and of the tombstone keys were
    // read with the batch.
    let by_number = item.keys.kvnr.as_ref().and_then(|k| batch.owner(k));
    // A withdrawn person keeps the keyed number, whatever a veto would say:
    // the number identifies them.
    if let Some(o) = by_number.filter(|o| o.erased) {
        return Ok(Err(Refusal::Withdrawn {
            person: o.person.row,
            admissible: false,
        }));
    }
    if let Some(person) = tombstone(tombstone_keys, batch.owners(), &item.keys) {
        let admitted = match record {
            Some(r) => {
                let key = keys.admission_key(r);
                super::admissions::admitted(tx, site.as_str(), &item.local_id, &key)?
            }
            None => false,
        };
        if !admitted {
            return Ok(Err(Refusal::Withdrawn {
                person,
                admissible: true,
            }));
        }
    }
    // Whether the number's owner has it recorded as their number already
    // (then the update below would change nothing).
    let owner_has_number = by_number.is_some_and(|o| o.kvnr_key.is_some());
    let by_number = by_number.map(|o| o.person);
    let mut review = None;
    // The index search of a scored record, reused when it is indexed below.
    let mut searched = None;
    // The exact keys name a person; a veto (same site, sex, birth date) sends
    // the record on to scoring, which can at most queue it for review.
    let mut vetoed = None;
    // Where the record goes in the index if the number links it: sent ahead
    // with the batch's window on PostgreSQL, read at once on SQLite.
    let mut placement = match (by_number, record) {
        (Some(_), Some(r)) => Some(index.ahead.placement(tx, keys, &cfg, item_at, r)?),
        _ => None,
    };
    let exact = match by_number {
        Some(p) => {
            let held = batch.local_ids_of(p.row);
            let stored = batch.stored_records_of(p.row);
            match veto::person_veto(tx, p.row, site.as_str(), record, &held, stored)? {
                None => Some(p),
                Some(v) => {
                    // Counts for operators; no personal data, no ids.
                    tracing::debug!(reason = v.reason.as_str(), "insurance-number link vetoed");
                    vetoed = Some((p, v));
                    None
                }
            }
        }
        None => None,
    };
    if exact.is_none()
        && let Some(p) = placement.take()
    {
        // Scoring searches the index itself.
        blocks::discard(tx, p)?;
    }
    // The person, and whether they were created here.
    let (person, created) = match exact {
        Some(p) => {
            if !owner_has_number {
                register_keys(tx, batch, p, &item.keys, Holder::KeyOwner)?;
            }
            (p, false)
        }
        None => {
            let best = match record {
                Some(r) => {
                    let search = index.ahead.search(tx, keys, &cfg, item_at, r)?;
                    let search = searched.insert(search);
                    let kvnr = item.keys.kvnr.as_ref().map(|k| &k[..]);
                    let scoring = prob::Scoring {
                        cfg: &cfg,
                        site: site.as_str(),
                        record: r,
                        kvnr_key: kvnr,
                    };
                    prob::best_candidate(tx, &scoring, &search.neighbours, batch)?
                }
                None => None,
            };
            match best {
                Some(c) if c.outcome == Outcome::Match => {
                    let p = match c.pid {
                        Some(pid) => Person { row: c.person, pid },
                        None => person_by_row(tx, c.person)?,
                    };
                    register_keys(tx, batch, p, &item.keys, Holder::Other)?;
                    (p, false)
                }
                other => {
                    // A vetoed exact key is worth a reviewer's look even when
                    // the score alone would not queue the pair.
                    review = match (other, vetoed) {
                        (Some(c), _) => Some(c),
                        (None, Some((p, v))) => {
                            // Reads the vetoing record, which may be held.
                            batch.flush(tx, now)?;
                            Some(prob::vetoed_candidate(
                                tx,
                                &cfg,
                                record,
                                (v.site, v.local_id),
                                p.row,
                            )?)
                        }
                        (None, None) => None,
                    };
                    let p = new_person(tx, index.ids, item.keys.kvnr, now)?;
                    register_keys(tx, batch, p, &item.keys, Holder::Created)?;
                    (p, true)
                }
            }
        }
    };
    batch.add_local_id(&item.local_id, person, &item.idat_json);
    if let Some(r) = record {
        let at = (site.as_str(), item.local_id.as_str());
        let bytes = match placement {
            Some(p) => blocks::register_placed(tx, keys, at, r, p, &mut index.ahead.touched)?,
            None => {
                let touched = &mut index.ahead.touched;
                blocks::register(tx, keys, &cfg, at, r, searched.as_ref(), touched)?
            }
        };
        batch.set_record(&item.local_id, bytes);
    }
    let pseudonym = keys.site_pseudonym(site, &person.pid).as_str().to_owned();
    match (created, batch.pseudonym(&pseudonym)) {
        (true, _) => batch.add_new_person(pseudonym, person.row),
        // Registered before: only a collision matters.
        (false, Some(Some((s, p)))) => {
            if s != site.as_str() || *p != person.row {
                return Err(StoreError::PseudonymCollision);
            }
        }
        (false, Some(None)) => batch.add_found_person(pseudonym, person.row),
        (false, None) => {
            // Not looked up (a person found by score). Not in the batch, so
            // not written in this transaction: read as committed, beside it.
            let stored: Option<(String, i64)> = tx.query_committed_opt(
                "SELECT site, person_id FROM site_pseudonyms WHERE pseudonym = ?1",
                params![pseudonym],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            match stored {
                Some((s, p)) if s != site.as_str() || p != person.row => {
                    return Err(StoreError::PseudonymCollision);
                }
                Some(found) => batch.note_pseudonym(pseudonym, Some(found)),
                // New at this site: held like a looked-up one, with its feed
                // change in the batch's order.
                None => batch.add_found_person(pseudonym, person.row),
            }
        }
    }
    if let Some(c) = review {
        crate::linkage::review::enqueue(tx, (site.as_str(), &item.local_id, person.row), &c, now)?;
    }
    Ok(Ok(person))
}

/// The person stored at `row`.
pub(crate) fn person_by_row(tx: &mut Tx<'_>, row: i64) -> Result<Person, StoreError> {
    tx.query_one("SELECT pid FROM persons WHERE id = ?1", params![row], |r| {
        Ok(Person {
            row,
            pid: pid_from(r.get(0)?)?,
        })
    })
}

/// The erased person whose tombstone a new record meets, if any: the erased
/// owner of one of its tombstone probes ([`Keys::tombstone_probes`],
/// `tombstones`, their owners in `owners`) for whom [`tombstone_applies`].
/// An erased person's records are out of the probabilistic index, so scoring
/// can never reach them.
fn tombstone(
    tombstones: &[BlockingKey],
    owners: &HashMap<BlockingKey, Owner>,
    ours: &BlockingKeys,
) -> Option<i64> {
    tombstones
        .iter()
        .filter_map(|key| owners.get(key))
        .find(|o| {
            o.erased && tombstone_applies(o.kvnr_key.as_deref(), ours.kvnr.as_ref().map(|k| &k[..]))
        })
        .map(|o| o.person.row)
}

/// Whether an erased person's tombstone (`theirs`: their insurance-number key)
/// refuses a record with insurance-number key `ours`: unless both have a
/// number and they differ, which makes them different persons.
pub(crate) fn tombstone_applies(theirs: Option<&[u8]>, ours: Option<&[u8]>) -> bool {
    !matches!((theirs, ours), (Some(t), Some(k)) if t != k)
}

/// Whether the person's IDAT was erased on withdrawal.
fn is_erased(tx: &mut Tx<'_>, row: i64) -> Result<bool, StoreError> {
    tx.exists(
        "SELECT 1 FROM persons WHERE id = ?1 AND erased_at IS NOT NULL",
        params![row],
    )
}

/// The person an exact linkage key belongs to, as [`Batch::read`] reads them.
#[derive(Debug, Clone)]
struct Owner {
    person: Person,
    /// Their IDAT was erased on withdrawal.
    erased: bool,
    /// Their insurance-number key, if they have one.
    kvnr_key: Option<Vec<u8>>,
}

/// How the person a record links to came by it, for [`register_keys`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    /// Created for this record, with its insurance-number key.
    Created,
    /// Found by the record's insurance-number key, which it owns already.
    KeyOwner,
    /// Found otherwise: by scoring, or as the person of a known local id.
    Other,
}

/// Gives the person the record's insurance-number key unless another person
/// owns it, and records it as the person's number if they had none.
fn register_keys(
    tx: &mut Tx<'_>,
    batch: &mut Batch,
    person: Person,
    keys: &BlockingKeys,
    holder: Holder,
) -> Result<(), StoreError> {
    let Some(k) = keys.kvnr else { return Ok(()) };
    if holder != Holder::KeyOwner {
        batch.give_key(k, person);
    }
    if holder != Holder::Created {
        batch.note_number(person.row, k);
        tx.execute_later(
            "UPDATE persons SET kvnr_key = ?2 WHERE id = ?1 AND kvnr_key IS NULL",
            params![person.row, &k[..]],
        )?;
    }
    Ok(())
}

/// Registers the person's pseudonym in `site`'s domain (idempotent), with a
/// feed change if it is new; also used when a review merges two persons. (A
/// batch's new persons' pseudonyms are written by its flush, `batch.rs`.)
pub(crate) fn register_site_pseudonym(
    tx: &mut Tx<'_>,
    keys: &Keys,
    site: &SiteId,
    person: Person,
) -> Result<(), StoreError> {
    let pseudonym = keys.site_pseudonym(site, &person.pid);
    let inserted = tx.execute(
        "INSERT INTO site_pseudonyms (pseudonym, site, person_id) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
        params![pseudonym.as_str(), site.as_str(), person.row],
    )?;
    if inserted == 1 {
        // The site must learn that the person exists, with their consents (feed).
        super::consent_feed::record_change(tx, person.row)?;
    }
    if inserted == 0 {
        let (s, p): (String, i64) = tx.query_one(
            "SELECT site, person_id FROM site_pseudonyms WHERE pseudonym = ?1",
            params![pseudonym.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if s != site.as_str() || p != person.row {
            return Err(StoreError::PseudonymCollision);
        }
    }
    Ok(())
}

/// Looks up local ids the site registered before; `None` for unknown ids.
pub(crate) fn resolve(
    conn: &mut Conn,
    keys: &Keys,
    site: &SiteId,
    local_ids: &[String],
) -> Result<Vec<Option<PseudonymPair>>, StoreError> {
    let mut tx = conn.read_tx()?;
    let mut out = Vec::with_capacity(local_ids.len());
    for id in local_ids {
        let pid: Option<PersonId> = tx.query_opt(
            "SELECT (SELECT pid FROM persons WHERE id = person_id) FROM local_ids
             WHERE site = ?1 AND local_id = ?2",
            params![site.as_str(), id],
            |r| pid_from(r.get(0)?),
        )?;
        out.push(pid.map(|p| keys.pair(site, &p)));
    }
    tx.commit()?;
    Ok(out)
}

/// The person behind `local_id` at `site`, if registered.
pub(crate) fn person_of_local_id(
    tx: &mut Tx<'_>,
    site: &str,
    local_id: &str,
) -> Result<Option<i64>, StoreError> {
    tx.query_opt(
        "SELECT person_id FROM local_ids WHERE site = ?1 AND local_id = ?2",
        params![site, local_id],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests;
