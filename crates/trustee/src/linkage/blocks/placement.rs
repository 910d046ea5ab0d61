//! Where a record sits in the blocking index: the leaf under each of its
//! passes, found from its chain of keys (level 0, then one child per split
//! level), and the leaves' sizes a new row needs to decide a split.
//!
//! SQLite walks the levels one at a time; PostgreSQL asks for all of a
//! record's levels at once, and can send those reads ahead of a read they do
//! not depend on ([`place_later`]), because there a statement waited for is a
//! round trip.

use super::{Leaf, SplitKeys, base_keys, chain_below, child, refinement, splittable, statements};
use crate::db::sql::Later;
use crate::db::{StoreError, Tx};
use crate::keys::Keys;
use oncofed_linkage::{Config, Record};
use std::collections::{HashMap, HashSet};

/// Each pass's chain of keys for a record, from level 0 down to the pass's
/// last level. They are known before reading anything (each is the hash of
/// its parent and the record's refinement value), so what the index holds
/// under them is asked for all levels at once: a round trip per level on
/// PostgreSQL otherwise.
pub(super) fn chains(keys: &Keys, record: &Record, cfg: &Config) -> Vec<Vec<Leaf>> {
    let hash = |parts: &[&[u8]]| keys.block_hash(parts);
    base_keys(keys, record, cfg)
        .into_iter()
        .map(|(pass, key)| {
            chain_below(pass, key, record, hash)
                .into_iter()
                .enumerate()
                .map(|(level, key)| Leaf { key, pass, level })
                .collect()
        })
        .collect()
}

/// The keys of `chains` that can be split (those with a level below them).
pub(super) fn splittable_keys(chains: &[Vec<Leaf>]) -> Vec<i64> {
    chains
        .iter()
        .flat_map(|c| c[..c.len() - 1].iter().map(|l| l.key))
        .collect()
}

/// The leaf of each chain: its first key that is not split (the last one
/// cannot be), each leaf once.
pub(super) fn leaves_of(chains: &[Vec<Leaf>], split: &HashSet<i64>) -> Vec<Leaf> {
    let mut out: Vec<Leaf> = chains
        .iter()
        .map(|chain| {
            *chain
                .iter()
                .find(|l| !split.contains(&l.key))
                .unwrap_or(&chain[chain.len() - 1])
        })
        .collect();
    out.sort_unstable_by_key(|l| l.key);
    out.dedup_by_key(|l| l.key);
    out
}

/// The leaves a record belongs in now, one level at a time (SQLite, where a
/// statement is a function call, so deriving a child key only below a key that
/// is split does the least work): the split keys among the level's keys that
/// have a level below, then the children of those.
pub(super) fn walk_levels(
    tx: &mut Tx<'_>,
    keys: &Keys,
    record: &Record,
    cfg: &Config,
) -> Result<Vec<Leaf>, StoreError> {
    let mut out = Vec::new();
    let mut level: Vec<Leaf> = base_keys(keys, record, cfg)
        .into_iter()
        .map(|(pass, key)| Leaf {
            key,
            pass,
            level: 0,
        })
        .collect();
    while !level.is_empty() {
        // A key past its pass's last level is a leaf whether split or not; the
        // others go on with the value that would refine them.
        let mut open = Vec::new();
        for leaf in level {
            match refinement(leaf.pass, leaf.level + 1, record) {
                Some(value) => open.push((leaf, value)),
                None => out.push(leaf),
            }
        }
        let open_keys: Vec<i64> = open.iter().map(|(l, _)| l.key).collect();
        let split = statements::split_among(tx, &open_keys)?;
        level = Vec::new();
        for (leaf, value) in open {
            if split.contains(&leaf.key) {
                level.push(Leaf {
                    key: child(keys, leaf.key, &value),
                    pass: leaf.pass,
                    level: leaf.level + 1,
                });
            } else {
                out.push(leaf);
            }
        }
    }
    out.sort_unstable_by_key(|l| l.key);
    out.dedup_by_key(|l| l.key);
    Ok(out)
}

/// Where a record goes in the index, asked for ahead ([`place_later`]).
pub(crate) struct Placement(Placed);

enum Placed {
    /// Read (SQLite): the leaves, each with its size if it can split.
    Known(Vec<(Leaf, Option<i64>)>),
    /// Sent (PostgreSQL): the record's chains of keys, which of them are
    /// split, and how many rows those that can split hold.
    Sent {
        chains: Vec<Vec<Leaf>>,
        split: Vec<Later<i64>>,
        counts: Vec<Later<statements::LeafCount>>,
    },
}

impl Placement {
    /// Every key whose split state or size it read (none once read).
    pub(super) fn keys(&self) -> Vec<i64> {
        match &self.0 {
            Placed::Known(_) => Vec::new(),
            Placed::Sent { chains, .. } => chains.iter().flatten().map(|l| l.key).collect(),
        }
    }

    /// Lets the placement go unread ([`Tx::forget`]).
    pub(super) fn forget(self, tx: &mut Tx<'_>) -> Result<(), StoreError> {
        match self.0 {
            Placed::Known(_) => Ok(()),
            Placed::Sent { split, counts, .. } => {
                split.into_iter().try_for_each(|l| tx.forget(l))?;
                counts.into_iter().try_for_each(|l| tx.forget(l))
            }
        }
    }
}

/// Asks where `record` goes ([`Placement`]); on PostgreSQL the reads are sent
/// to share a round trip with whatever is read next, and with the split keys
/// `known` only the leaves' sizes are read. Nothing may write block rows
/// before [`super::register_placed`] reads them.
pub(crate) fn place_later(
    tx: &mut Tx<'_>,
    keys: &Keys,
    cfg: &Config,
    record: &Record,
    known: Option<&SplitKeys>,
) -> Result<Placement, StoreError> {
    if !tx.is_postgres() {
        let leaves = walk_levels(tx, keys, record, cfg)?;
        let can_split: Vec<i64> = leaves
            .iter()
            .filter(|l| splittable(l))
            .map(|l| l.key)
            .collect();
        let counts = if can_split.is_empty() {
            HashMap::new()
        } else {
            statements::counts_of(tx, &can_split)?
        };
        return Ok(Placement(Placed::Known(sized(leaves, &counts))));
    }
    let chains = chains(keys, record, cfg);
    if let Some(known) = known {
        // Each leaf a chain of its own, so `placed` keeps them as they are.
        let leaves = leaves_of(&chains, known.keys());
        let can_split: Vec<i64> = leaves
            .iter()
            .filter(|l| splittable(l))
            .map(|l| l.key)
            .collect();
        let counts = statements::counts_of_later(tx, &can_split)?;
        return Ok(Placement(Placed::Sent {
            chains: leaves.into_iter().map(|l| vec![l]).collect(),
            split: Vec::new(),
            counts,
        }));
    }
    let splittable = splittable_keys(&chains);
    let split = statements::split_among_later(tx, &splittable)?;
    let counts = statements::counts_of_later(tx, &splittable)?;
    Ok(Placement(Placed::Sent {
        chains,
        split,
        counts,
    }))
}

/// The leaves, each with its size if it can split.
fn sized(leaves: Vec<Leaf>, counts: &HashMap<i64, i64>) -> Vec<(Leaf, Option<i64>)> {
    leaves
        .into_iter()
        .map(|l| {
            let held = splittable(&l).then(|| counts.get(&l.key).copied().unwrap_or(0));
            (l, held)
        })
        .collect()
}

/// Reads a [`Placement`]: the leaves, each with its size if it can split.
pub(super) fn placed(
    tx: &mut Tx<'_>,
    placement: Placement,
) -> Result<Vec<(Leaf, Option<i64>)>, StoreError> {
    match placement.0 {
        Placed::Known(leaves) => Ok(leaves),
        Placed::Sent {
            chains,
            split,
            counts,
        } => {
            let split: HashSet<i64> = statements::take_all(tx, split)?.into_iter().collect();
            let counts = statements::counts(statements::take_all(tx, counts)?);
            Ok(sized(leaves_of(&chains, &split), &counts))
        }
    }
}

/// Lets go of a [`Placement`] that is not needed, without waiting for it.
pub(crate) fn discard(tx: &mut Tx<'_>, placement: Placement) -> Result<(), StoreError> {
    placement.forget(tx)
}
