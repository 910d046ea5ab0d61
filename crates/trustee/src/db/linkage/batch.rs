//! What one pseudonymisation batch reads up front and writes at its end.
//!
//! Every record of a batch asks whether its local id is known and who owns its
//! insurance-number and tombstone keys, and every new record writes a local id,
//! a comparison record, a key, a pseudonym and a consent-feed entry. One
//! statement each per record was most of the statements on the linkage path,
//! and on PostgreSQL each statement costs the server a protocol cycle and the
//! client a wake-up. A [`Batch`] instead:
//! - reads the batch's known local ids, key owners, those owners'
//!   pseudonyms at the site and their stored records (what the identity
//!   vetoes compare) in statements of up to [`PER_STATEMENT`] values, all sent
//!   before the first is waited for: two round trips ([`Batch::read`]);
//! - holds the batch's new local ids, comparison records, keys, pseudonyms and
//!   feed entries, and writes them once at the end as multi-row statements
//!   ([`Batch::flush`]).
//!
//! Later records of the batch must still see earlier ones exactly as if each
//! had been written at once. The rules that keep it so:
//! - the known local ids and key owners read up front are kept current: a
//!   local id or key the batch adds is added to them (first owner wins, as
//!   `ON CONFLICT DO NOTHING` does);
//! - the reads of the tables held back that see the batch's rows take them
//!   from here as well: a person's local ids and records for the identity
//!   vetoes ([`Batch::local_ids_of`]), a neighbour's person
//!   ([`Batch::person_of`]);
//! - a person found again by their insurance number has their pseudonym at
//!   the site looked up with the owners ([`Batch::pseudonym`]): a new one is
//!   held with a feed change ([`Batch::add_found_person`]), whose older feed
//!   entries go at the end, as after each change;
//! - the owners' stored records hold only until the first flush, which may
//!   write more of them ([`Batch::stored_records_of`]);
//! - a person found by score has their pseudonym at the site read as committed
//!   (the batch wrote none it does not know of) and, if new, held like a
//!   looked-up one ([`Batch::note_pseudonym`], [`Batch::add_found_person`]);
//! - reads of what was committed, beside the transaction (a scored candidate's
//!   person and records), are made only for local ids and persons the batch
//!   wrote nothing of ([`Batch::touches`], [`Batch::wrote_for`]), with the
//!   insurance numbers it gave ([`Batch::number_given`]);
//! - every other path that reads or changes those tables (changed IDAT of a
//!   known local id, a vetoed record's review item) flushes first
//!   ([`Batch::flush`]). These paths are rare.

use super::{Owner, Person, pid_from};
use crate::db::sql::{Later, Param, padded};
use crate::db::{StoreError, Tx};
use crate::keys::BlockingKey;
use crate::linkage::veto::{PersonRecord, person_records_sql};
use std::collections::{HashMap, HashSet};

/// Values one prefetch statement asks for; rows one flush statement writes.
pub(super) const PER_STATEMENT: usize = 64;

/// The batch's view of the tables it reads up front and writes at its end.
pub(crate) struct Batch {
    site: String,
    /// Known local ids of the site: person and IDAT as stored (or held here).
    known: HashMap<String, (Person, String)>,
    /// Owners of the batch's exact keys (or held here).
    owners: HashMap<BlockingKey, Owner>,
    /// Site pseudonyms looked up (the owners', at this site) or held here:
    /// the pseudonym's site and person, `None` for one not stored.
    pseudonyms: HashMap<String, Option<(String, i64)>>,
    /// The stored local ids of the owners, as the identity vetoes read them,
    /// until the first flush (which may write more of them).
    owners_records: Option<HashMap<i64, Vec<PersonRecord>>>,
    /// The insurance-number key first given in this batch to each person
    /// stored before it (`persons.kvnr_key`, set where it was `NULL`): what a
    /// read of what was committed misses ([`Batch::number_given`]).
    numbers_given: HashMap<i64, BlockingKey>,
    /// Persons whose local ids or comparison records this batch wrote or will
    /// write ([`Batch::wrote_for`]).
    persons_written: HashSet<i64>,
    held: Held,
}

/// The writes held back, in the order made.
#[derive(Default)]
struct Held {
    /// New local ids: local id, person, IDAT.
    local_ids: Vec<(String, i64, String)>,
    /// Where each new local id is in `local_ids`.
    by_local_id: HashMap<String, usize>,
    /// Where each person's new local ids are in `local_ids`.
    by_person: HashMap<i64, Vec<usize>>,
    /// Comparison records by local id.
    records: HashMap<String, Vec<u8>>,
    /// Insurance-number keys given to persons.
    keys: Vec<(Vec<u8>, i64)>,
    /// New pseudonyms at the site: of new persons, and of persons found again.
    pseudonyms: Vec<(String, i64)>,
    /// Feed entries in order: the person, and whether it is a change of a
    /// person the feed had (whose older entries go).
    feed: Vec<(i64, bool)>,
}

impl Batch {
    /// Reads the known local ids among `local_ids` at `site`, and the owners of
    /// `keys` with their person state.
    /// `pseudonym_of` derives a person's pseudonym at the site: those of the
    /// keys' owners are looked up too.
    pub(super) fn read<'k>(
        tx: &mut Tx<'_>,
        site: &str,
        local_ids: &[&str],
        keys: impl Iterator<Item = &'k BlockingKey>,
        pseudonym_of: impl Fn(&Person) -> String,
    ) -> Result<Self, StoreError> {
        // One equality lookup per value, not `IN (…)`: the connection plans a
        // statement once (`plan_cache_mode = force_generic_plan`), possibly
        // while the table is still empty, and a plan for `IN` made then scanned
        // the whole table for good (11 ms a statement at 80,000 local ids). An
        // equality on the whole primary key is an index lookup whatever the
        // statistics say.
        let known_sql = union_of(PER_STATEMENT, |i| {
            format!(
                "SELECT local_id, person_id, (SELECT pid FROM persons WHERE id = person_id), idat
                 FROM local_ids WHERE site = ?1 AND local_id = ?{}",
                i + 1
            )
        });
        // Every statement is sent before the first is waited for: the known
        // local ids with the key owners, then the owners' pseudonyms with their
        // records (one round trip each, not one per statement).
        let known_sent = local_ids
            .chunks(PER_STATEMENT)
            .map(|chunk| {
                let bound = padded(chunk, PER_STATEMENT);
                let params: Vec<&dyn Param> = std::iter::once(&site as &dyn Param)
                    .chain(bound.iter().map(|v| v as &dyn Param))
                    .collect();
                tx.query_later(&known_sql, &params, |r| {
                    Ok((
                        r.get::<String>(0)?,
                        r.get::<i64>(1)?,
                        r.get::<Vec<u8>>(2)?,
                        r.get::<String>(3)?,
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let owners_sql = union_of(PER_STATEMENT, |i| {
            format!(
                "SELECT key, person_id, (SELECT pid FROM persons WHERE id = person_id),
                        (SELECT erased_at IS NOT NULL FROM persons WHERE id = person_id),
                        (SELECT kvnr_key FROM persons WHERE id = person_id)
                 FROM blocking_keys WHERE key = ?{i}"
            )
        });
        let mut wanted: Vec<&[u8]> = keys.map(|k| &k[..]).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let owners_sent = wanted
            .chunks(PER_STATEMENT)
            .map(|chunk| {
                let bound = padded(chunk, PER_STATEMENT);
                let params: Vec<&dyn Param> = bound.iter().map(|k| k as &dyn Param).collect();
                tx.query_later(&owners_sql, &params, |r| {
                    let owner = Owner {
                        person: Person {
                            row: r.get(1)?,
                            pid: pid_from(r.get(2)?)?,
                        },
                        erased: r.get(3)?,
                        kvnr_key: r.get(4)?,
                    };
                    Ok((r.get::<Vec<u8>>(0)?, owner))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut known = HashMap::new();
        for later in known_sent {
            for (id, row, pid, idat) in tx.take(later)? {
                let person = Person {
                    row,
                    pid: pid_from(pid)?,
                };
                known.insert(id, (person, idat));
            }
        }
        let mut owners = HashMap::new();
        for later in owners_sent {
            for (key, owner) in tx.take(later)? {
                let key: BlockingKey = key
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("stored linkage key".into()))?;
                owners.insert(key, owner);
            }
        }
        let mut wanted: Vec<String> = owners.values().map(|o| pseudonym_of(&o.person)).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let pseudonyms_sql = union_of(PER_STATEMENT, |i| {
            format!("SELECT pseudonym, site, person_id FROM site_pseudonyms WHERE pseudonym = ?{i}")
        });
        let pseudonyms_sent = wanted
            .chunks(PER_STATEMENT)
            .map(|chunk| {
                let bound = padded(
                    &chunk.iter().map(String::as_str).collect::<Vec<_>>(),
                    PER_STATEMENT,
                );
                let params: Vec<&dyn Param> = bound.iter().map(|p| p as &dyn Param).collect();
                tx.query_later(&pseudonyms_sql, &params, |r| {
                    Ok((r.get::<String>(0)?, r.get::<String>(1)?, r.get::<i64>(2)?))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let records_sent = records_of_later(tx, owners.values().filter(|o| !o.erased))?;
        let mut pseudonyms: HashMap<String, Option<(String, i64)>> =
            wanted.iter().map(|p| (p.clone(), None)).collect();
        for later in pseudonyms_sent {
            for (pseudonym, s, person) in tx.take(later)? {
                pseudonyms.insert(pseudonym, Some((s, person)));
            }
        }
        let owners_records = Some(records_sent.take(tx)?);
        Ok(Self {
            site: site.to_owned(),
            known,
            owners,
            pseudonyms,
            owners_records,
            numbers_given: HashMap::new(),
            persons_written: HashSet::new(),
            held: Held::default(),
        })
    }

    /// The stored local ids of `person` as the identity vetoes read them, if
    /// read up front and still current (no flush since); held ones are in
    /// [`Batch::local_ids_of`].
    pub(crate) fn stored_records_of(&self, person: i64) -> Option<Vec<PersonRecord>> {
        self.owners_records.as_ref()?.get(&person).cloned()
    }

    /// The person and stored IDAT of a known local id of the batch's site.
    pub(super) fn known(&self, local_id: &str) -> Option<&(Person, String)> {
        self.known.get(local_id)
    }

    /// Records that a known local id's IDAT changed (written directly, after a
    /// [`Batch::flush`]).
    pub(super) fn idat_changed(&mut self, local_id: &str, idat: &str) {
        if let Some(entry) = self.known.get_mut(local_id) {
            entry.1 = idat.to_owned();
            self.persons_written.insert(entry.0.row);
        }
    }

    /// Whether this batch wrote (or holds) a local id or comparison record of
    /// `person`. If not, their local ids and records are as committed, and may
    /// be read so ([`crate::linkage::veto::committed_person_records`]).
    pub(crate) fn wrote_for(&self, person: i64) -> bool {
        self.persons_written.contains(&person)
    }

    /// Notes a site pseudonym read as committed: `(site, person)` if stored,
    /// `None` if not.
    pub(super) fn note_pseudonym(&mut self, pseudonym: String, stored: Option<(String, i64)>) {
        self.pseudonyms.insert(pseudonym, stored);
    }

    /// The owner of an exact key read up front or given in this batch.
    pub(super) fn owner(&self, key: &BlockingKey) -> Option<&Owner> {
        self.owners.get(key)
    }

    /// The owners read up front or given in this batch.
    pub(super) fn owners(&self) -> &HashMap<BlockingKey, Owner> {
        &self.owners
    }

    /// Notes that `person`, stored before this batch, was given `key` as their
    /// insurance number where they had none (the first such key counts, as
    /// `UPDATE … WHERE kvnr_key IS NULL` keeps it).
    pub(super) fn note_number(&mut self, person: i64, key: BlockingKey) {
        self.numbers_given.entry(person).or_insert(key);
    }

    /// The insurance-number key given in this batch to `person` (stored before
    /// it), if they had none: with what was committed, their number now.
    pub(crate) fn number_given(&self, person: i64) -> Option<&BlockingKey> {
        self.numbers_given.get(&person)
    }

    /// Whether `(site, local_id)` is a local id this batch read or wrote. Only
    /// such a local id can have been written in the batch's transaction (a
    /// batch is one site's), so any other is read as committed.
    pub(crate) fn touches(&self, site: &str, local_id: &str) -> bool {
        site == self.site && self.known.contains_key(local_id)
    }

    /// Gives `person` the key unless someone owns it (`ON CONFLICT DO NOTHING`).
    pub(super) fn give_key(&mut self, key: BlockingKey, person: Person) {
        if let std::collections::hash_map::Entry::Vacant(e) = self.owners.entry(key) {
            e.insert(Owner {
                person,
                erased: false,
                kvnr_key: Some(key.to_vec()),
            });
            self.held.keys.push((key.to_vec(), person.row));
        }
    }

    /// Registers a new local id of the site.
    pub(super) fn add_local_id(&mut self, local_id: &str, person: Person, idat: &str) {
        self.persons_written.insert(person.row);
        self.known
            .insert(local_id.to_owned(), (person, idat.to_owned()));
        let at = self.held.local_ids.len();
        self.held.by_local_id.insert(local_id.to_owned(), at);
        self.held.by_person.entry(person.row).or_default().push(at);
        self.held
            .local_ids
            .push((local_id.to_owned(), person.row, idat.to_owned()));
    }

    /// Stores a comparison record of a local id of the site (replacing one).
    pub(super) fn set_record(&mut self, local_id: &str, bytes: Vec<u8>) {
        self.held.records.insert(local_id.to_owned(), bytes);
    }

    /// Registers a new person's pseudonym at the site and their feed entry.
    pub(super) fn add_new_person(&mut self, pseudonym: String, person: i64) {
        self.add_pseudonym(pseudonym, person, false);
    }

    /// What is known of a pseudonym at the site: `None` if it was not looked
    /// up; else its site and person, or `None` inside if it is not stored.
    pub(super) fn pseudonym(&self, pseudonym: &str) -> Option<Option<&(String, i64)>> {
        self.pseudonyms.get(pseudonym).map(Option::as_ref)
    }

    /// Registers the pseudonym at the site of a person found again (looked up,
    /// not stored) and their feed entry, a change.
    pub(super) fn add_found_person(&mut self, pseudonym: String, person: i64) {
        self.add_pseudonym(pseudonym, person, true);
    }

    fn add_pseudonym(&mut self, pseudonym: String, person: i64, change: bool) {
        self.pseudonyms
            .insert(pseudonym.clone(), Some((self.site.clone(), person)));
        self.held.pseudonyms.push((pseudonym, person));
        self.held.feed.push((person, change));
    }

    /// The person of a local id held here (`site`'s, not yet written).
    pub(crate) fn person_of(&self, site: &str, local_id: &str) -> Option<i64> {
        if site != self.site {
            return None;
        }
        let &at = self.held.by_local_id.get(local_id)?;
        Some(self.held.local_ids[at].1)
    }

    /// The local ids held here of `person`, with their comparison records, as
    /// the identity vetoes read them: site, local id, erased (never), record.
    pub(crate) fn local_ids_of(&self, person: i64) -> Vec<(String, String, bool, Option<Vec<u8>>)> {
        let held = self
            .held
            .by_person
            .get(&person)
            .map_or(&[][..], Vec::as_slice);
        held.iter()
            .map(|&at| {
                let id = &self.held.local_ids[at].0;
                let record = self.held.records.get(id).cloned();
                (self.site.clone(), id.clone(), false, record)
            })
            .collect()
    }

    /// Writes everything held back, in multi-row statements sent without
    /// waiting; the batch goes on empty.
    pub(super) fn flush(&mut self, tx: &mut Tx<'_>, now: i64) -> Result<(), StoreError> {
        let held = std::mem::take(&mut self.held);
        // The flushed local ids are no longer held, and not in what was read.
        self.owners_records = None;
        let site = self.site.as_str();
        insert_rows(
            tx,
            "INSERT INTO local_ids (site, local_id, person_id, idat, updated_at) VALUES",
            "",
            &held
                .local_ids
                .iter()
                .map(|(id, person, idat)| vec![&site as &dyn Param, id, person, idat, &now])
                .collect::<Vec<_>>(),
        )?;
        let mut records: Vec<(&String, &Vec<u8>)> = held.records.iter().collect();
        records.sort_unstable();
        insert_rows(
            tx,
            "INSERT INTO linkage_records (site, local_id, record) VALUES",
            "ON CONFLICT (site, local_id) DO UPDATE SET record = excluded.record",
            &records
                .iter()
                .map(|(id, bytes)| vec![&site as &dyn Param, *id, *bytes])
                .collect::<Vec<_>>(),
        )?;
        insert_rows(
            tx,
            "INSERT INTO blocking_keys (key, person_id) VALUES",
            "ON CONFLICT DO NOTHING",
            &held
                .keys
                .iter()
                .map(|(key, person)| vec![key as &dyn Param, person])
                .collect::<Vec<_>>(),
        )?;
        // Without `ON CONFLICT`: a new person's pseudonym colliding fails the batch.
        insert_rows(
            tx,
            "INSERT INTO site_pseudonyms (pseudonym, site, person_id) VALUES",
            "",
            &held
                .pseudonyms
                .iter()
                .map(|(pseudonym, person)| vec![pseudonym as &dyn Param, &site, person])
                .collect::<Vec<_>>(),
        )
        .map_err(StoreError::collision_if_unique)?;
        crate::db::consent_feed::record_entries(tx, &held.feed, now)
    }
}

/// The owners' records asked for ([`records_of_later`]).
struct RecordsSent {
    persons: Vec<i64>,
    sent: Vec<Later<(i64, PersonRecord)>>,
}

impl RecordsSent {
    /// The stored local ids of each person asked for (none: an empty list).
    fn take(self, tx: &mut Tx<'_>) -> Result<HashMap<i64, Vec<PersonRecord>>, StoreError> {
        let mut out: HashMap<i64, Vec<PersonRecord>> =
            self.persons.into_iter().map(|p| (p, Vec::new())).collect();
        for later in self.sent {
            for (person, record) in tx.take(later)? {
                out.entry(person).or_default().push(record);
            }
        }
        Ok(out)
    }
}

/// Asks for the stored local ids of `persons` as the identity vetoes read them
/// ([`crate::linkage::veto::person_records`]).
fn records_of_later<'o>(
    tx: &mut Tx<'_>,
    persons: impl Iterator<Item = &'o Owner>,
) -> Result<RecordsSent, StoreError> {
    let sql = union_of(PER_STATEMENT, |i| {
        person_records_sql("?1", &format!("?{}", i + 1))
    });
    let mut persons: Vec<i64> = persons.map(|o| o.person.row).collect();
    persons.sort_unstable();
    persons.dedup();
    let erased = crate::db::ERASED_IDAT;
    let sent = persons
        .chunks(PER_STATEMENT)
        .map(|chunk| {
            let bound = padded(chunk, PER_STATEMENT);
            let params: Vec<&dyn Param> = std::iter::once(&erased as &dyn Param)
                .chain(bound.iter().map(|v| v as &dyn Param))
                .collect();
            tx.query_later(&sql, &params, |r| {
                Ok((
                    r.get::<i64>(0)?,
                    (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordsSent { persons, sent })
}

/// `SELECT … UNION ALL …` of `n` branches, branch `i` (from 1) by `branch`.
fn union_of(n: usize, branch: impl Fn(usize) -> String) -> String {
    (1..=n).map(branch).collect::<Vec<_>>().join(" UNION ALL ")
}

/// `?from, …` for `n` placeholders.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `head (…), (…) tail` for `rows` rows of `columns` placeholders each.
pub(crate) fn values_sql(head: &str, tail: &str, rows: usize, columns: usize) -> String {
    let tuples: Vec<String> = (0..rows)
        .map(|r| format!("({})", placeholders(r * columns + 1, columns)))
        .collect();
    format!("{head} {} {tail}", tuples.join(", "))
}

/// Inserts `rows` (each the same number of values) [`PER_STATEMENT`] at a time,
/// sent without waiting.
fn insert_rows(
    tx: &mut Tx<'_>,
    head: &str,
    tail: &str,
    rows: &[Vec<&dyn Param>],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(PER_STATEMENT) {
        let sql = values_sql(head, tail, chunk.len(), chunk[0].len());
        let params: Vec<&dyn Param> = chunk.iter().flatten().copied().collect();
        tx.execute_later(&sql, &params)?;
    }
    Ok(())
}
