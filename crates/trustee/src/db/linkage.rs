//! Exact-match linkage and pseudonym assignment, one transaction per batch.
//!
//! For each `(site, local_id)`:
//! 0. a record of a person erased on withdrawal is refused ([`Refusal::Withdrawn`],
//!    nothing stored): its local id is known and erased, its insurance number
//!    names an erased person, or its identity matches a tombstone
//!    ([`crate::keys::Keys::tombstone_keys`]);
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

use super::sql::Param;
use super::{Conn, StoreError, Tx, now, params};
use crate::keys::{BlockingKey, BlockingKeys, Keys, PersonId};
use crate::linkage::blocks;
use crate::linkage::probabilistic as prob;
use crate::linkage::veto;
use oncofed_linkage::Outcome;
use oncofed_model::SiteId;
use oncofed_trustee_api::PseudonymPair;
use std::collections::HashMap;

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
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let linked = link_one(&mut tx, keys, site, item, now)?;
        out.push(linked.map(|person| keys.pair(site, &person.pid)));
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

fn link_one(
    tx: &mut Tx<'_>,
    keys: &Keys,
    site: &SiteId,
    item: &LinkItem,
    now: i64,
) -> Result<Result<Person, Refusal>, StoreError> {
    let known = tx.query_opt(
        "SELECT person_id, (SELECT pid FROM persons WHERE id = person_id), idat FROM local_ids
         WHERE site = ?1 AND local_id = ?2",
        params![site.as_str(), item.local_id],
        |r| {
            Ok((
                Person {
                    row: r.get(0)?,
                    pid: pid_from(r.get(1)?)?,
                },
                r.get::<String>(2)?,
            ))
        },
    )?;
    let cfg = prob::config();
    let record = prob::record_of(&item.idat_json);
    if let Some((person, stored)) = known {
        if stored == ERASED_IDAT || is_erased(tx, person.row)? {
            return Ok(Err(Refusal::Withdrawn { person: person.row }));
        }
        if stored != item.idat_json {
            tx.execute_later(
                "UPDATE local_ids SET idat = ?3, updated_at = ?4 WHERE site = ?1 AND local_id = ?2",
                params![site.as_str(), item.local_id, item.idat_json, now],
            )?;
            register_keys(tx, person.row, &item.keys, Holder::Other)?;
            blocks::unregister(tx, keys, &cfg, (site.as_str(), &item.local_id))?;
            if let Some(r) = &record {
                blocks::register(tx, keys, &cfg, (site.as_str(), &item.local_id), r, None)?;
            }
        }
        return Ok(Ok(person));
    }
    // The owners of the insurance-number key and of the tombstone keys, in one
    // statement; the person the number names is read once for both uses.
    let tombstone_keys = record
        .as_ref()
        .map(|r| keys.tombstone_keys(r))
        .unwrap_or_default();
    let owners = key_owners(tx, item.keys.kvnr.iter().chain(&tombstone_keys))?;
    let by_number = item.keys.kvnr.as_ref().and_then(|k| owners.get(k));
    if let Some(person) = tombstone(&tombstone_keys, &owners, &item.keys, by_number) {
        return Ok(Err(Refusal::Withdrawn { person }));
    }
    let by_number = by_number.map(|o| o.person);
    let mut review = None;
    // The index search of a scored record, reused when it is indexed below.
    let mut searched = None;
    // The exact keys name a person; a veto (same site, sex, birth date) sends
    // the record on to scoring, which can at most queue it for review.
    let mut vetoed = None;
    let exact = match by_number {
        Some(p) => match veto::person_veto(tx, p.row, site.as_str(), record.as_ref())? {
            None => Some(p),
            Some(v) => {
                // Counts for operators; no personal data, no ids.
                tracing::debug!(reason = v.reason.as_str(), "insurance-number link vetoed");
                vetoed = Some((p, v));
                None
            }
        },
        None => None,
    };
    // The person, and whether they were created here.
    let (person, created) = match exact {
        Some(p) => {
            register_keys(tx, p.row, &item.keys, Holder::KeyOwner)?;
            (p, false)
        }
        None => {
            let best = match &record {
                Some(r) => {
                    let search = searched.insert(blocks::search(tx, keys, &cfg, r)?);
                    prob::best_candidate(
                        tx,
                        &cfg,
                        site.as_str(),
                        r,
                        item.keys.kvnr.as_ref().map(|k| &k[..]),
                        &search.neighbours,
                    )?
                }
                None => None,
            };
            match best {
                Some(c) if c.outcome == Outcome::Match => {
                    let p = person_by_row(tx, c.person)?;
                    register_keys(tx, p.row, &item.keys, Holder::Other)?;
                    (p, false)
                }
                other => {
                    // A vetoed exact key is worth a reviewer's look even when
                    // the score alone would not queue the pair.
                    review = match (other, vetoed) {
                        (Some(c), _) => Some(c),
                        (None, Some((p, v))) => Some(prob::vetoed_candidate(
                            tx,
                            &cfg,
                            record.as_ref(),
                            (v.site, v.local_id),
                            p.row,
                        )?),
                        (None, None) => None,
                    };
                    let p = new_person(tx, item.keys.kvnr, now)?;
                    register_keys(tx, p.row, &item.keys, Holder::Created)?;
                    (p, true)
                }
            }
        }
    };
    tx.execute_later(
        "INSERT INTO local_ids (site, local_id, person_id, idat, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![site.as_str(), item.local_id, person.row, item.idat_json, now],
    )?;
    if let Some(r) = &record {
        let at = (site.as_str(), item.local_id.as_str());
        blocks::register(tx, keys, &cfg, at, r, searched.as_ref())?;
    }
    register_site_pseudonym(tx, keys, site, person, created)?;
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

/// The erased person a new record belongs to, if any: `by_number`, the owner
/// of its insurance-number key (a withdrawn person keeps the keyed number,
/// whatever a veto would say: the number identifies them), or the erased owner
/// of one of its tombstone keys ([`Keys::tombstone_keys`], `tombstones`, their
/// owners in `owners`) unless the insurance numbers differ. An erased person's
/// records are out of the probabilistic index, so scoring can never reach them.
fn tombstone(
    tombstones: &[BlockingKey],
    owners: &HashMap<BlockingKey, Owner>,
    ours: &BlockingKeys,
    by_number: Option<&Owner>,
) -> Option<i64> {
    if let Some(o) = by_number.filter(|o| o.erased) {
        return Some(o.person.row);
    }
    tombstones
        .iter()
        .filter_map(|key| owners.get(key))
        .find(|o| {
            // Both have an insurance number, and they differ.
            let differ = matches!((&o.kvnr_key, &ours.kvnr), (Some(t), Some(k)) if t[..] != k[..]);
            o.erased && !differ
        })
        .map(|o| o.person.row)
}

/// Whether the person's IDAT was erased on withdrawal.
fn is_erased(tx: &mut Tx<'_>, row: i64) -> Result<bool, StoreError> {
    tx.exists(
        "SELECT 1 FROM persons WHERE id = ?1 AND erased_at IS NOT NULL",
        params![row],
    )
}

/// The person an exact linkage key belongs to, as [`key_owners`] reads them.
#[derive(Debug, Clone)]
struct Owner {
    person: Person,
    /// Their IDAT was erased on withdrawal.
    erased: bool,
    /// Their insurance-number key, if they have one.
    kvnr_key: Option<Vec<u8>>,
}

/// Keys asked for in one [`key_owners`] statement: an insurance number and the
/// four tombstone variants.
const OWNER_KEYS: usize = 5;

/// The person each of `wanted` (exact linkage keys) belongs to, for those that
/// belong to one, with what the linkage asks of them: one statement for up to
/// [`OWNER_KEYS`] keys (unused placeholders bound as `NULL`, which matches
/// nothing), where a lookup each was a round trip each on PostgreSQL.
fn key_owners<'k>(
    tx: &mut Tx<'_>,
    wanted: impl Iterator<Item = &'k BlockingKey>,
) -> Result<HashMap<BlockingKey, Owner>, StoreError> {
    const SQL: &str = "SELECT b.key, p.id, p.pid, p.erased_at IS NOT NULL, p.kvnr_key
         FROM blocking_keys b JOIN persons p ON p.id = b.person_id
         WHERE b.key IN (?1, ?2, ?3, ?4, ?5)";
    let wanted: Vec<&[u8]> = wanted.map(|k| &k[..]).collect();
    let mut owners = HashMap::new();
    for chunk in wanted.chunks(OWNER_KEYS) {
        let bound = super::sql::padded(chunk, OWNER_KEYS);
        let params: Vec<&dyn Param> = bound.iter().map(|k| k as &dyn Param).collect();
        let rows = tx.query(SQL, &params, |r| {
            let owner = Owner {
                person: Person {
                    row: r.get(1)?,
                    pid: pid_from(r.get(2)?)?,
                },
                erased: r.get(3)?,
                kvnr_key: r.get(4)?,
            };
            Ok((r.get::<Vec<u8>>(0)?, owner))
        })?;
        for (key, owner) in rows {
            let key: BlockingKey = key
                .try_into()
                .map_err(|_| StoreError::Corrupt("stored linkage key".into()))?;
            owners.insert(key, owner);
        }
    }
    Ok(owners)
}

fn new_person(tx: &mut Tx<'_>, kvnr: Option<BlockingKey>, now: i64) -> Result<Person, StoreError> {
    let pid: PersonId = rand::random();
    let row = tx.query_one(
        "INSERT INTO persons (pid, kvnr_key, created_at) VALUES (?1, ?2, ?3) RETURNING id",
        params![&pid[..], kvnr.as_ref().map(|k| &k[..]), now],
        |r| r.get(0),
    )?;
    Ok(Person { row, pid })
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
    person: i64,
    keys: &BlockingKeys,
    holder: Holder,
) -> Result<(), StoreError> {
    let Some(k) = &keys.kvnr else { return Ok(()) };
    if holder != Holder::KeyOwner {
        tx.execute_later(
            "INSERT INTO blocking_keys (key, person_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![&k[..], person],
        )?;
    }
    if holder != Holder::Created {
        tx.execute_later(
            "UPDATE persons SET kvnr_key = ?2 WHERE id = ?1 AND kvnr_key IS NULL",
            params![person, &k[..]],
        )?;
    }
    Ok(())
}

/// Registers the person's pseudonym in `site`'s domain (idempotent); also used
/// when a review merges two persons. `created`: the person was created in this
/// transaction.
pub(crate) fn register_site_pseudonym(
    tx: &mut Tx<'_>,
    keys: &Keys,
    site: &SiteId,
    person: Person,
    created: bool,
) -> Result<(), StoreError> {
    let pseudonym = keys.site_pseudonym(site, &person.pid);
    if created {
        // A new person's pseudonyms are new: sent without waiting and without
        // `ON CONFLICT`, so a collision fails the batch (on PostgreSQL with the
        // next statement that waits, `StoreError::from`).
        tx.execute_later(
            "INSERT INTO site_pseudonyms (pseudonym, site, person_id) VALUES (?1, ?2, ?3)",
            params![pseudonym.as_str(), site.as_str(), person.row],
        )
        .map_err(StoreError::collision_if_unique)?;
        // The site must learn that the person exists, with their consents (feed).
        return super::consent_feed::record_new_person(tx, person.row);
    }
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
mod tests {
    use super::*;
    use crate::config::PseudonymKey;
    use chrono::NaiveDate;
    use oncofed_idat::{IdentifyingData, Kvnr};
    use oncofed_model::Sex;

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Conn,
        keys: Keys,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Conn::Sqlite(crate::db::sqlite::open(&dir.path().join("t.db")).unwrap());
        let keys = Keys::new(&PseudonymKey::from_bytes(vec![3; 32]).unwrap());
        Fixture {
            _dir: dir,
            store,
            keys,
        }
    }

    fn item(keys: &Keys, local_id: &str, given: &str, kvnr: Option<(u8, u8)>) -> LinkItem {
        let idat = IdentifyingData {
            given: vec![given.into()],
            family: Some("Muster".into()),
            birth_name: None,
            birth_date: NaiveDate::from_ymd_opt(1960, 5, 6),
            sex: Sex::Male,
            address: None,
            kvnr: kvnr.map(|(letter, d)| Kvnr::from_parts(letter, &[d; 8]).unwrap()),
        };
        LinkItem {
            local_id: local_id.into(),
            idat_json: serde_json::to_string(&idat).unwrap(),
            keys: keys.blocking_keys(&idat),
        }
    }

    fn run(f: &mut Fixture, site: &str, items: Vec<LinkItem>) -> Vec<PseudonymPair> {
        pseudonymise(&mut f.store, &f.keys, &SiteId::new(site).unwrap(), &items).unwrap()
    }

    #[test]
    fn linkage_rules() {
        let mut f = fixture();
        let k = f.keys.clone();
        let a = run(
            &mut f,
            "uk-a",
            vec![
                item(&k, "1", "Max", None),
                item(&k, "2", "Moritz", Some((b'A', 1))),
            ],
        );
        // Name match (scored: names, birth date and sex agree, nothing disagrees), KVNR
        // match with a different name, and a name match with a conflicting KVNR.
        let b = run(
            &mut f,
            "uk-b",
            vec![
                item(&k, "x", "MAX", Some((b'B', 2))),
                item(&k, "y", "Mauritius", Some((b'A', 1))),
                item(&k, "z", "Max", Some((b'C', 3))),
            ],
        );
        assert_eq!(a[0].research, b[0].research);
        assert_eq!(a[1].research, b[1].research);
        assert_ne!(
            a[0].research, b[2].research,
            "different KVNRs are different people"
        );
        assert_ne!(a[0].site, b[0].site);
        // Re-pseudonymisation with changed IDAT keeps the person.
        let again = run(&mut f, "uk-a", vec![item(&k, "1", "Erich", None)]);
        assert_eq!(again[0], a[0]);
        let resolved = resolve(
            &mut f.store,
            &k,
            &SiteId::new("uk-b").unwrap(),
            &["y".into(), "nope".into()],
        )
        .unwrap();
        assert_eq!(resolved, vec![Some(b[1].clone()), None]);
    }
}
