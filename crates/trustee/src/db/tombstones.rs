//! A Bloom filter over the keys of erased persons, so that pseudonymisation
//! looks up a record's tombstone probes ([`Keys::tombstone_probes`]) only where
//! one may be stored.
//!
//! Every new record has up to ten tombstone probes, and almost never does one
//! of them exist: withdrawals are rare. Looking them all up in `blocking_keys`
//! was about a third of the key lookups of a batch; with the filter, a batch
//! reads one `meta` row and looks up the few probes the filter lets through
//! (about one record in a thousand by chance, and the withdrawn).
//!
//! # Source of truth and upkeep
//!
//! The keys themselves stay in `blocking_keys`, owned by the erased person; the
//! filter (`meta.tombstone_filter`) is derived from them:
//!
//! - [`add`] sets the bits of the keys an erasure stores, in the erasure's own
//!   transaction, and rebuilds the filter twice as large once it holds more
//!   keys than it was sized for;
//! - [`load`] rebuilds it from every key an erased person owns when the row is
//!   missing or unreadable (a store written before the filter, or a restore
//!   that lost it), inside the batch's transaction.
//!
//! A filter never answers "absent" for a key that was added, so it can only
//! cost lookups, never let a withdrawn person through; what it must not miss is
//! an erasure, and [`add`] runs in the same transaction as the keys' insert.
//!
//! Written by hand: the keys are HMAC outputs, so their bytes are the filter's
//! independent hash functions, and the filter is a bit array stored as one blob.
//! A crate's filter would hash again and bring its own serialisation.

use super::{StoreError, Tx, params};
use crate::keys::{BlockingKey, Keys};

/// The `meta` row holding the filter.
const META: &str = "tombstone_filter";

/// Bits per key the filter is sized for: with [`HASHES`] positions per key,
/// under 0.1 % false positives while it holds at most its capacity.
const BITS_PER_KEY: u64 = 16;

/// Bit positions per key: each from four bytes of the key.
const HASHES: usize = 8;

/// The smallest filter, in bits (8 KiB, room for 4,096 keys).
const MIN_BITS: u64 = 1 << 16;

/// Layout version of the stored blob.
const VERSION: u8 = 1;

/// The filter: a bit array whose length is a power of two, and how many keys
/// were added to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    words: Vec<u64>,
    keys: u64,
}

impl Filter {
    /// An empty filter with room for `capacity` keys.
    fn with_capacity(capacity: u64) -> Self {
        let bits = (capacity.max(1) * BITS_PER_KEY)
            .next_power_of_two()
            .max(MIN_BITS);
        Self {
            words: vec![0; (bits / 64) as usize],
            keys: 0,
        }
    }

    fn bits(&self) -> u64 {
        self.words.len() as u64 * 64
    }

    /// Keys the filter holds before [`add`] grows it.
    fn capacity(&self) -> u64 {
        self.bits() / BITS_PER_KEY
    }

    fn positions(&self, key: &BlockingKey) -> impl Iterator<Item = u64> + use<> {
        let mask = self.bits() - 1;
        let key = *key;
        (0..HASHES).map(move |i| {
            let bytes: [u8; 4] = key[i * 4..i * 4 + 4].try_into().expect("four bytes");
            u64::from(u32::from_le_bytes(bytes)) & mask
        })
    }

    fn insert(&mut self, key: &BlockingKey) {
        for p in self.positions(key) {
            self.words[(p / 64) as usize] |= 1 << (p % 64);
        }
        self.keys += 1;
    }

    /// Whether `key` may be stored: `false` means it certainly is not.
    pub(crate) fn may_contain(&self, key: &BlockingKey) -> bool {
        self.positions(key)
            .all(|p| self.words[(p / 64) as usize] & (1 << (p % 64)) != 0)
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + self.words.len() * 8);
        out.extend_from_slice(&[VERSION, 0, 0, 0]);
        out.extend_from_slice(&self.keys.to_le_bytes());
        for w in &self.words {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// `None` for anything but a blob [`Filter::to_bytes`] wrote.
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (head, body) = bytes.split_at_checked(12)?;
        if head[0] != VERSION || body.is_empty() || body.len() % 8 != 0 {
            return None;
        }
        let words: Vec<u64> = body
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("eight bytes")))
            .collect();
        if !words.len().is_power_of_two() || (words.len() as u64 * 64) < MIN_BITS {
            return None;
        }
        let keys = u64::from_le_bytes(head[4..12].try_into().expect("eight bytes"));
        Some(Self { words, keys })
    }
}

/// The filter of the store, rebuilt from `blocking_keys` (and stored) when its
/// row is missing or unreadable.
pub(crate) fn load(tx: &mut Tx<'_>) -> Result<Filter, StoreError> {
    let stored: Option<Vec<u8>> = tx.query_opt(
        "SELECT value FROM meta WHERE name = ?1",
        params![META],
        |r| r.get(0),
    )?;
    match stored.as_deref().and_then(Filter::from_bytes) {
        Some(filter) => Ok(filter),
        None => rebuild(tx, 0),
    }
}

/// Adds the keys an erasure stored in `blocking_keys` (same transaction).
pub(crate) fn add(tx: &mut Tx<'_>, added: &[BlockingKey]) -> Result<(), StoreError> {
    if added.is_empty() {
        return Ok(());
    }
    let mut filter = load(tx)?;
    if filter.keys + added.len() as u64 > filter.capacity() {
        // The keys are in the table already: the rebuild reads them.
        let grown = filter.capacity() * 2;
        rebuild(tx, grown)?;
        return Ok(());
    }
    for key in added {
        filter.insert(key);
    }
    store(tx, &filter)
}

/// Builds the filter from every key an erased person owns (their tombstones
/// and insurance-number keys), with room for at least `capacity` keys, and
/// stores it.
fn rebuild(tx: &mut Tx<'_>, capacity: u64) -> Result<Filter, StoreError> {
    let keys: Vec<Vec<u8>> = tx.query(
        "SELECT b.key FROM blocking_keys b JOIN persons p ON p.id = b.person_id
         WHERE p.erased_at IS NOT NULL",
        params![],
        |r| r.get(0),
    )?;
    let mut filter = Filter::with_capacity(capacity.max(keys.len() as u64 * 2));
    for key in &keys {
        let key: BlockingKey = key[..]
            .try_into()
            .map_err(|_| StoreError::Corrupt("stored blocking key".into()))?;
        filter.insert(&key);
    }
    store(tx, &filter)?;
    Ok(filter)
}

fn store(tx: &mut Tx<'_>, filter: &Filter) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO meta (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![META, filter.to_bytes()],
    )?;
    Ok(())
}

/// The tombstone probes of each record that the filter lets through, in
/// record order (see [`Keys::tombstone_probes`]).
pub(crate) fn probes(
    keys: &Keys,
    filter: &Filter,
    records: &[Option<oncofed_linkage::Record>],
) -> Vec<Vec<BlockingKey>> {
    records
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|r| {
                    let mut probes = keys.tombstone_probes(r);
                    probes.retain(|p| filter.may_contain(p));
                    probes
                })
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_keys(n: usize, seed: u8) -> Vec<BlockingKey> {
        use sha2::{Digest, Sha256};
        (0..n as u64)
            .map(|i| {
                let mut h = Sha256::new();
                h.update([seed]);
                h.update(i.to_le_bytes());
                h.finalize().into()
            })
            .collect()
    }

    #[test]
    fn an_added_key_is_always_found_and_few_others_are() {
        let mut f = Filter::with_capacity(0);
        let added = random_keys(f.capacity() as usize, 1);
        for k in &added {
            f.insert(k);
        }
        assert!(added.iter().all(|k| f.may_contain(k)));
        // Full to capacity: false positives stay under 0.5 % (about 0.06 %
        // expected at 16 bits and 8 positions per key).
        let others = random_keys(100_000, 2);
        let hits = others.iter().filter(|k| f.may_contain(k)).count();
        assert!(hits < 500, "{hits} false positives of 100,000");
    }

    #[test]
    fn the_blob_round_trips_and_anything_else_is_refused() {
        let mut f = Filter::with_capacity(10_000);
        assert!(f.bits() >= 160_000 && f.bits().is_power_of_two());
        for k in random_keys(100, 3) {
            f.insert(&k);
        }
        let bytes = f.to_bytes();
        assert_eq!(Filter::from_bytes(&bytes), Some(f));
        assert_eq!(Filter::from_bytes(&bytes[..bytes.len() - 8]), None);
        assert_eq!(Filter::from_bytes(&bytes[..12]), None);
        assert_eq!(Filter::from_bytes(&[]), None);
        let mut other_version = bytes.clone();
        other_version[0] = 9;
        assert_eq!(Filter::from_bytes(&other_version), None);
    }
}
