//! The probabilistic blocking index of the trust-centre store: stored comparison
//! records, block keys, and blocks that split when they grow too large.
//!
//! # Tables
//!
//! - `linkage_records (site, local_id, record)`: the normalised linkage record of
//!   every local id with IDAT, in [`Record::to_bytes`] form, written when the
//!   record is indexed and replaced when a site sends changed IDAT: what
//!   [`unregister`], [`scheme::rebuild`] and [`rotate`] re-index from. Withdrawal erasure
//!   deletes these rows with the IDAT (`db::deletions`).
//! - `linkage_blocks (key, site, local_id, record)`: a record under each of its
//!   leaf keys, *with a copy of its comparison record*. The primary key clusters
//!   a block's rows, so a search reads a leaf as one short range scan (a page or
//!   two) and scores the candidates without parsing JSON, normalising, or one
//!   random lookup per candidate. The copy costs about 0.5 KB per record (one per
//!   pass); the lookup it replaces was two thirds of the time per record at
//!   1 M records (BENCHMARKS.md).
//! - `linkage_splits (key)`: keys whose block was split. A split key keeps the
//!   rows it held when it split (at most [`MAX_BLOCK`] + 1): no search, count or
//!   placement reads them, since every reader goes down to the leaves. Deleting
//!   them cost more than it saved on PostgreSQL: a delete leaves dead tuples on
//!   about as many heap pages as the block had rows and clears those pages'
//!   visibility bits, so the leaves' sizes could no longer be counted from the
//!   index alone. Kept, `linkage_blocks` only grows in normal operation (rows
//!   go only with a withdrawal's erasure, a re-sent record's [`unregister`] or
//!   a [`scheme::rebuild`]), and on PostgreSQL the service's vacuum thread
//!   (`db::postgres::vacuum_loop`) keeps its pages all-visible.
//!
//! # Keys and splitting
//!
//! A pass of [`BlockingKey`] gives a record a value (e.g. `family phonetic |
//! birth year | initial`); its level-0 key is a 64-bit hash of pass and value.
//! When a block under a key holds more than [`MAX_BLOCK`] records, the key is
//! recorded in `linkage_splits` and its records are copied to child keys, each the
//! hash of the parent key and one more attribute of the record (the pass's
//! *refinement* at that level, [`refinement`]); a child may split again, up to
//! the levels a pass has. Registration and search walk the same path: from the
//! level-0 key down through split keys to the leaf the record belongs in. So a
//! new record is compared with at most [`MAX_BLOCK`] records per leaf (the last
//! level, which cannot split, is read up to [`MAX_BLOCK_READ`]), however large
//! the store grows, instead of a block that grows with it.
//!
//! A split loses the pairs of that pass whose refinement attribute disagrees
//! (or is missing on one side only). The refinements follow one rule: **a
//! record with one wrong attribute, whichever it is, still shares a whole chain
//! (level 0 to the last level) with its partner in at least one pass**. Each
//! pass is refined only by attributes of one other field, and a level refines
//! the level above by the same field, so a pass depends on its key's fields and
//! one more:
//!
//! | pass | level 1 | level 2 | depends on | survives a wrong … |
//! |---|---|---|---|---|
//! | family phonetic + birth year + initial | birth month | birth day | family, given initial, birth date | postal code, street, given name (same initial) |
//! | given phonetic + postal code | street's first letter | street's first two letters | given, postal code, street | family name, birth date |
//! | birth date | first digit of the postal code | first two digits | birth date, postal code | family name, given name, street |
//! | insurance number | — | — | insurance number | (numbers are unique: never large) |
//!
//! So a changed family name (marriage), any given-name error (a nickname, a
//! typo, another first letter), a wrong or swapped birth date, a move, and a
//! wrong street each leave a pass whose chain does not read the wrong field
//! (`simulation` tests it field by field). Two wrong fields can break every
//! pass once the blocks have split: a changed family name with a move to
//! another postal region, a wrong birth date with a wrong given name, or
//! transposed postal digits with a wrong family name. An earlier scheme refined
//! both the given-name and the birth-date pass by the family name's first
//! phonetic code, so a family name change alone lost the pair once both blocks
//! had split: 0.31 % of the true pairs at 1 M × 1 M (BENCHMARKS.md, sixteenth
//! and seventeenth sessions).
//!
//! On PostgreSQL the writer connection keeps the split keys in memory between
//! batches, checked against a token every transaction that changes them
//! renews ([`splits`]): a batch then derives each record's leaves itself and
//! reads only their rows, not a lookup and a read for every level.
//!
//! Blocks below the threshold are never split, so a store whose blocks stay
//! small (Febrl4's hold one or two records) links exactly as without
//! splitting. What splitting costs is measured without a store by `simulation`
//! (the same passes, refinements and split rule in memory): on Febrl4 with
//! every block split to its last level, 6 of the 4,987 true pairs that share a
//! level-0 key are lost (the earlier scheme: 94), each with two or more wrong
//! fields; on the 1 M × 1 M synthetic files, one of 479,963 at [`MAX_BLOCK`]
//! 16 and none at 64 (the earlier scheme at 64: 1,490). At scale through the
//! service in `tests/linkage_scale.rs`.
//!
//! # Keyed keys and rotation
//!
//! Keys are the first 64 bits of an HMAC-SHA256 under the linkage key
//! ([`Keys::block_hash`]), which is never stored in the database: the store's
//! `meta.linkage_index` holds only the index scheme and the key's fingerprint,
//! and [`ensure_current`] refuses to search an index built under another key.
//! Whoever copies the store without the key file cannot test a guessed identity
//! against the index (`db::conformance::blocking`). This protects the index,
//! not the store: the same file holds the IDAT (`local_ids.idat`) and the
//! comparison records in clear, so the key matters where those are gone
//! (erased on withdrawal, or the index copied without them). Rotation
//! ([`rotate`], `oncofed trustee rotate-linkage-key`) re-indexes every record
//! from its stored comparison record under the new key in one transaction.
//!
//! A store written by an earlier build (unkeyed SHA-256 keys, unsplit blocks, no
//! comparison records) has no marker and is rebuilt on open ([`ensure_current`]).

use crate::db::sql::Later;
use crate::db::{StoreError, Tx, params};
use crate::keys::Keys;
use oncofed_linkage::{BlockingKey, Config, Record};
use std::collections::{HashMap, HashSet};

mod ahead;
mod placement;
mod scheme;
#[cfg(test)]
pub(crate) mod simulation;
mod splits;
mod statements;

#[cfg(test)]
pub(crate) use ahead::SENT_AHEAD;
pub(crate) use ahead::{Lookahead, Touched, Want};
pub(crate) use placement::{Placement, discard, place_later};
use placement::{chains, leaves_of, placed, splittable_keys, walk_levels};
#[cfg(test)]
pub(crate) use scheme::rebuild;
pub(crate) use scheme::{ensure_current, rotate};
pub(crate) use splits::{SplitKeys, SplitsSeen, current as current_splits};

/// Records a block holds before it splits: bounds the comparisons of one new
/// record to about this many per pass. 16 rather than 64 since the refinements
/// follow the one-wrong-field rule: at 1 M × 1 M a search finds 18.8 records
/// instead of 51.9 and the service runs 14 % faster (SQLite), while the splits
/// lose one true pair of 480,000 (none at 64; the earlier refinements lost
/// 0.32 % at 16). Measured with `simulation` and `tests/linkage_scale.rs`
/// (BENCHMARKS.md, seventeenth session).
pub(crate) const MAX_BLOCK: i64 = 16;

/// Records read under a leaf that cannot split (the last level of a pass, or
/// the insurance-number pass).
pub(crate) const MAX_BLOCK_READ: i64 = 500;

// A leaf that can split is read whole, so a search's row counts for it are
// exact and `register` can decide a split from them.
const _: () = assert!(MAX_BLOCK < MAX_BLOCK_READ);

/// A leaf key and where it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Leaf {
    key: i64,
    pass: BlockingKey,
    level: usize,
}

/// The attribute that refines a block of `pass` at `level` (1, 2, …); `None`
/// past the pass's last level.
pub(crate) fn refinement(pass: BlockingKey, level: usize, r: &Record) -> Option<String> {
    let prefix = |s: &str, n: usize| Some(s.chars().take(n).collect::<String>());
    let value = match (pass, level) {
        (BlockingKey::FamilyPhoneticYearInitial, 1) => r.birth_month.map(|m| m.to_string()),
        (BlockingKey::FamilyPhoneticYearInitial, 2) => r.birth_day.map(|d| d.to_string()),
        (BlockingKey::GivenPhoneticPostalCode, 1) => prefix(&r.street, 1),
        (BlockingKey::GivenPhoneticPostalCode, 2) => prefix(&r.street, 2),
        (BlockingKey::BirthDate, 1) => prefix(&r.postal_code, 1),
        (BlockingKey::BirthDate, 2) => prefix(&r.postal_code, 2),
        _ => return None,
    };
    // A missing attribute is a sub-block of its own.
    Some(value.unwrap_or_default())
}

/// The level-0 keys of a record over all passes of `cfg`.
pub(crate) fn base_keys(keys: &Keys, record: &Record, cfg: &Config) -> Vec<(BlockingKey, i64)> {
    level0_keys(cfg, record, |parts| keys.block_hash(parts))
}

/// The level-0 keys of a record over all passes of `cfg` under `hash`, each
/// once: a pass's key is the hash of the pass and its blocking value. The
/// store hashes under the linkage key ([`Keys::block_hash`]); the simulation
/// (tests) unkeyed, so both derive keys by this one rule.
pub(crate) fn level0_keys(
    cfg: &Config,
    record: &Record,
    hash: impl Fn(&[&[u8]]) -> i64,
) -> Vec<(BlockingKey, i64)> {
    let mut out = Vec::new();
    for &pass in &cfg.blocking {
        for value in pass.keys(record) {
            out.push((pass, hash(&[&[pass as u8], value.as_bytes()])));
        }
    }
    out.sort_unstable_by_key(|&(_, k)| k);
    out.dedup_by_key(|&mut (_, k)| k);
    out
}

/// A pass's chain of keys below its level-0 `key` for `record`: `key`, then
/// each level's child ([`child_key`] of its parent and the record's
/// [`refinement`]) down to the pass's last level.
pub(crate) fn chain_below(
    pass: BlockingKey,
    key: i64,
    record: &Record,
    hash: impl Fn(&[&[u8]]) -> i64,
) -> Vec<i64> {
    let mut chain = vec![key];
    while let Some(value) = refinement(pass, chain.len(), record) {
        let parent = chain[chain.len() - 1];
        chain.push(child_key(&hash, parent, &value));
    }
    chain
}

/// The key below `parent` for a refinement value, under `hash`.
pub(crate) fn child_key(hash: impl Fn(&[&[u8]]) -> i64, parent: i64, value: &str) -> i64 {
    hash(&[&parent.to_le_bytes(), value.as_bytes()])
}

/// The key below `parent` for a refinement value.
fn child(keys: &Keys, parent: i64, value: &str) -> i64 {
    child_key(|parts| keys.block_hash(parts), parent, value)
}

/// What a search for a record found: the leaves it belongs in, how many rows
/// each held (read up to [`MAX_BLOCK_READ`]), and the records in them. Handing it
/// to [`register`] spares walking the split keys and counting the leaves again.
pub(crate) struct Search {
    leaves: Vec<(Leaf, i64)>,
    /// The rows of each leaf that is full, so that adding the record splits
    /// it: the split copies them to the children without reading them again.
    full: HashMap<i64, Vec<statements::Member>>,
    /// The records sharing a leaf with the one searched for, each once, in
    /// `(site, local_id)` order.
    pub neighbours: Vec<Neighbour>,
}

/// A record sharing a leaf block with the one searched for.
pub(crate) struct Neighbour {
    /// Its site.
    pub site: String,
    /// Its local id.
    pub local_id: String,
    /// Its comparison record, as the block row holds it ([`Record::to_bytes`]):
    /// decoded when scored, into one record reused for every neighbour
    /// ([`Record::read_bytes`]), as most are dropped at once.
    pub record: Vec<u8>,
}

/// Finds the records sharing a leaf block with `record`: a bounded range scan
/// per leaf over the block rows, which carry the comparison records, all leaves
/// in one statement ([`statements`]). `known`: the split keys, if kept in
/// memory ([`splits`]).
pub(crate) fn search(
    tx: &mut Tx<'_>,
    keys: &Keys,
    cfg: &Config,
    record: &Record,
    known: Option<&SplitKeys>,
) -> Result<Search, StoreError> {
    if tx.is_postgres() {
        let sent = search_later(tx, keys, cfg, record, known)?;
        return found(tx, sent);
    }
    // SQLite walks to the leaves and reads theirs.
    let leaves = walk_levels(tx, keys, record, cfg)?;
    let leaf_keys: Vec<i64> = leaves.iter().map(|l| l.key).collect();
    let sent = statements::rows_of_later(tx, &leaf_keys)?;
    let rows = statements::take_all(tx, sent)?;
    Ok(searched(leaves, rows))
}

/// A search sent and not yet read ([`search_later`]).
pub(crate) struct SentSearch {
    chains: Vec<Vec<Leaf>>,
    split: Vec<Later<i64>>,
    rows: Vec<Later<statements::BlockRow>>,
}

impl SentSearch {
    /// Every key whose rows or split state the search read.
    fn keys(&self) -> impl Iterator<Item = i64> + '_ {
        self.chains.iter().flatten().map(|l| l.key)
    }

    /// Lets the search go unread ([`Tx::forget`]).
    fn forget(self, tx: &mut Tx<'_>) -> Result<(), StoreError> {
        self.split.into_iter().try_for_each(|l| tx.forget(l))?;
        self.rows.into_iter().try_for_each(|l| tx.forget(l))
    }
}

/// Sends a search for `record` (PostgreSQL). With the split keys `known`, the
/// record's leaves are known, and only their rows are read. Without, the split
/// lookup for its chains and the rows under every key of them go in one round
/// trip: a key below the leaf holds none, and a split key's rows (the ones it
/// kept when it split) are dropped by [`found`], which keeps the leaves' rows.
pub(crate) fn search_later(
    tx: &mut Tx<'_>,
    keys: &Keys,
    cfg: &Config,
    record: &Record,
    known: Option<&SplitKeys>,
) -> Result<SentSearch, StoreError> {
    let chains = chains(keys, record, cfg);
    if let Some(known) = known {
        // Each leaf a chain of its own, so `found` keeps them as they are.
        let leaves = leaves_of(&chains, known.keys());
        let leaf_keys: Vec<i64> = leaves.iter().map(|l| l.key).collect();
        let rows = statements::rows_of_later(tx, &leaf_keys)?;
        return Ok(SentSearch {
            chains: leaves.into_iter().map(|l| vec![l]).collect(),
            split: Vec::new(),
            rows,
        });
    }
    let split = statements::split_among_later(tx, &splittable_keys(&chains))?;
    let mut every: Vec<i64> = chains.iter().flatten().map(|l| l.key).collect();
    every.sort_unstable();
    every.dedup();
    let rows = statements::rows_of_later(tx, &every)?;
    Ok(SentSearch {
        chains,
        split,
        rows,
    })
}

/// Reads a search sent with [`search_later`].
pub(crate) fn found(tx: &mut Tx<'_>, sent: SentSearch) -> Result<Search, StoreError> {
    let split: HashSet<i64> = statements::take_all(tx, sent.split)?.into_iter().collect();
    let rows = statements::take_all(tx, sent.rows)?;
    Ok(searched(leaves_of(&sent.chains, &split), rows))
}

/// A [`Search`] from the leaves and the rows read under (at least) them.
fn searched(leaves: Vec<Leaf>, mut rows: Vec<statements::BlockRow>) -> Search {
    let leaf_keys: HashSet<i64> = leaves.iter().map(|l| l.key).collect();
    rows.retain(|r| leaf_keys.contains(&r.0));
    let leaves_read: Vec<(Leaf, i64)> = leaves
        .into_iter()
        .map(|leaf| {
            let held = rows.iter().filter(|r| r.0 == leaf.key).count() as i64;
            (leaf, held)
        })
        .collect();
    let full = leaves_read
        .iter()
        .filter(|(leaf, held)| splittable(leaf) && held + 1 > MAX_BLOCK)
        .map(|(leaf, _)| {
            let members = rows
                .iter()
                .filter(|r| r.0 == leaf.key)
                .map(|(_, site, local_id, bytes)| (site.clone(), local_id.clone(), bytes.clone()))
                .collect();
            (leaf.key, members)
        })
        .collect();
    rows.sort_unstable_by(|a, b| (&a.1, &a.2).cmp(&(&b.1, &b.2)));
    rows.dedup_by(|a, b| a.1 == b.1 && a.2 == b.2);
    let neighbours = rows
        .into_iter()
        .map(|(_, site, local_id, record)| Neighbour {
            site,
            local_id,
            record,
        })
        .collect();
    Search {
        leaves: leaves_read,
        full,
        neighbours,
    }
}

/// Stores a record's comparison record (`linkage_records`), replacing one.
pub(crate) fn store_record(
    tx: &mut Tx<'_>,
    (site, local_id): (&str, &str),
    bytes: &[u8],
) -> Result<(), StoreError> {
    tx.execute_later(
        "INSERT INTO linkage_records (site, local_id, record) VALUES (?1, ?2, ?3)
         ON CONFLICT (site, local_id) DO UPDATE SET record = excluded.record",
        params![site, local_id, bytes],
    )
}

/// Indexes a record: adds it, with a copy of its comparison record, to its leaf
/// blocks, splitting any that grows past [`MAX_BLOCK`]. Returns that copy, for
/// the caller to store with [`store_record`] (or hold for the batch's end).
/// `searched` is the [`search`] for this same record in this transaction, if
/// one ran (the index has not changed since).
pub(crate) fn register(
    tx: &mut Tx<'_>,
    keys: &Keys,
    cfg: &Config,
    at: (&str, &str),
    record: &Record,
    searched: Option<&Search>,
    touched: &mut Touched,
) -> Result<Vec<u8>, StoreError> {
    let bytes = record.to_bytes();
    let placed: Vec<(Leaf, Option<i64>)> = match searched {
        Some(s) => s.leaves.iter().map(|&(l, n)| (l, Some(n))).collect(),
        None => {
            let placement = place_later(tx, keys, cfg, record, touched.splits.known.as_ref())?;
            placed(tx, placement)?
        }
    };
    let full = searched.map(|s| &s.full);
    insert(tx, keys, &placed, at, &bytes, touched, full)?;
    Ok(bytes)
}

/// [`register`] where the reads that place the record were sent ahead
/// ([`place_later`]).
pub(crate) fn register_placed(
    tx: &mut Tx<'_>,
    keys: &Keys,
    at: (&str, &str),
    record: &Record,
    placement: Placement,
    touched: &mut Touched,
) -> Result<Vec<u8>, StoreError> {
    let bytes = record.to_bytes();
    let placed = placed(tx, placement)?;
    insert(tx, keys, &placed, at, &bytes, touched, None)?;
    Ok(bytes)
}

/// Adds one record's row to each of its leaves (one statement, sent without
/// waiting) and splits the leaves that are now too large. With each leaf the
/// number of rows it had, if known; the others that can split are counted
/// first, in one statement. The record's rows are new in these leaves (its
/// local id is new, or [`unregister`] just removed its rows), so a leaf's size
/// is the count before plus one.
fn insert(
    tx: &mut Tx<'_>,
    keys: &Keys,
    placed: &[(Leaf, Option<i64>)],
    at: (&str, &str),
    bytes: &[u8],
    touched: &mut Touched,
    full: Option<&HashMap<i64, Vec<statements::Member>>>,
) -> Result<(), StoreError> {
    let unknown: Vec<i64> = placed
        .iter()
        .filter(|(l, held)| held.is_none() && splittable(l))
        .map(|(l, _)| l.key)
        .collect();
    let counted = if unknown.is_empty() {
        HashMap::new()
    } else {
        statements::counts_of(tx, &unknown)?
    };
    let leaf_keys: Vec<i64> = placed.iter().map(|(l, _)| l.key).collect();
    statements::insert_rows(tx, &leaf_keys, at, bytes)?;
    leaf_keys.iter().for_each(|&k| touched.touch(k));
    for &(leaf, held) in placed.iter().filter(|(l, _)| splittable(l)) {
        let before = held.or_else(|| counted.get(&leaf.key).copied());
        if before.unwrap_or(0) + 1 > MAX_BLOCK {
            // The leaf's rows as the search read them, and this record's.
            let members = full.and_then(|f| f.get(&leaf.key)).map(|rows| {
                let mut members = rows.clone();
                members.push((at.0.to_owned(), at.1.to_owned(), bytes.to_vec()));
                members
            });
            split(tx, keys, leaf, touched, members)?;
        }
    }
    Ok(())
}

/// Whether a leaf is above its pass's last level, so it can split.
fn splittable(leaf: &Leaf) -> bool {
    refinement(leaf.pass, leaf.level + 1, &Record::default()).is_some()
}

/// Copies the records of an oversized leaf to its children (which may split in
/// turn): the members are read once (or come from the search that placed the
/// record, which read the whole leaf), and each child's rows go in a few
/// multi-row statements sent without waiting.
fn split(
    tx: &mut Tx<'_>,
    keys: &Keys,
    leaf: Leaf,
    touched: &mut Touched,
    members: Option<Vec<statements::Member>>,
) -> Result<(), StoreError> {
    let members: Vec<statements::Member> = match members {
        Some(known) => known,
        None => tx.query(
            "SELECT site, local_id, record FROM linkage_blocks WHERE key = ?1",
            params![leaf.key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?,
    };
    tx.execute_later(
        "INSERT INTO linkage_splits (key) VALUES (?1) ON CONFLICT DO NOTHING",
        params![leaf.key],
    )?;
    touched.splits.split(tx, leaf.key)?;
    // The leaf's own rows stay where they are: see the module docs' `linkage_splits`.
    // Each member under the child its refinement value names, children in the
    // order first met.
    let mut children: Vec<(Leaf, Vec<&statements::Member>)> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for member in &members {
        // A row without a readable record cannot be placed; `rebuild` restores it.
        let Some(record) = Record::from_bytes(&member.2) else {
            continue;
        };
        let value = refinement(leaf.pass, leaf.level + 1, &record).unwrap_or_default();
        let below = Leaf {
            key: child(keys, leaf.key, &value),
            pass: leaf.pass,
            level: leaf.level + 1,
        };
        let i = *index.entry(below.key).or_insert_with(|| {
            children.push((below, Vec::new()));
            children.len() - 1
        });
        children[i].1.push(member);
    }
    // A child of a block that was never split holds no rows yet, but count the
    // ones that can split rather than rely on it.
    let can_split: Vec<i64> = children
        .iter()
        .filter(|(c, _)| splittable(c))
        .map(|(c, _)| c.key)
        .collect();
    let counted = if can_split.is_empty() {
        HashMap::new()
    } else {
        statements::counts_of(tx, &can_split)?
    };
    touched.touch(leaf.key);
    for (below, rows) in &children {
        statements::insert_members(tx, below.key, rows)?;
        touched.touch(below.key);
    }
    for (below, rows) in children {
        let before = counted.get(&below.key).copied().unwrap_or(0);
        if splittable(&below) && before + rows.len() as i64 > MAX_BLOCK {
            split(tx, keys, below, touched, None)?;
        }
    }
    Ok(())
}

/// Removes a record from the index: its block rows under every key of its
/// chains (its leaves, and the split keys above them, which keep the rows they
/// had when they split), found from its stored comparison record, and the
/// comparison record itself.
pub(crate) fn unregister(
    tx: &mut Tx<'_>,
    keys: &Keys,
    cfg: &Config,
    (site, local_id): (&str, &str),
    touched: &mut Touched,
) -> Result<(), StoreError> {
    let stored: Option<Vec<u8>> = tx.query_opt(
        "SELECT record FROM linkage_records WHERE site = ?1 AND local_id = ?2",
        params![site, local_id],
        |r| r.get(0),
    )?;
    let Some(record) = stored.as_deref().and_then(Record::from_bytes) else {
        return Ok(());
    };
    let mut every: Vec<i64> = chains(keys, &record, cfg)
        .into_iter()
        .flatten()
        .map(|l| l.key)
        .collect();
    every.sort_unstable();
    every.dedup();
    for key in every {
        tx.execute_later(
            "DELETE FROM linkage_blocks WHERE key = ?1 AND site = ?2 AND local_id = ?3",
            params![key, site, local_id],
        )?;
        touched.touch(key);
    }
    tx.execute_later(
        "DELETE FROM linkage_records WHERE site = ?1 AND local_id = ?2",
        params![site, local_id],
    )?;
    Ok(())
}
