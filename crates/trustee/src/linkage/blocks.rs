//! The probabilistic blocking index of the trust-centre store: stored comparison
//! records, block keys, and blocks that split when they grow too large.
//!
//! # Tables
//!
//! - `linkage_records (site, local_id, record)`: the normalised linkage record of
//!   every local id with IDAT, in [`Record::to_bytes`] form, written when the
//!   record is indexed and replaced when a site sends changed IDAT. A candidate
//!   is read together with it (one query per block key, a join on the primary
//!   key), so scoring a candidate parses no JSON and normalises nothing.
//!   Withdrawal erasure deletes these rows with the IDAT (`db::deletions`).
//! - `linkage_blocks (key, site, local_id)`: a record under each of its leaf keys.
//! - `linkage_splits (key)`: keys whose block was split; they hold no rows.
//!
//! # Keys and splitting
//!
//! A pass of [`BlockingKey`] gives a record a value (e.g. `family phonetic |
//! birth year | initial`); its level-0 key is a 64-bit hash of pass and value.
//! When a block under a key holds more than [`MAX_BLOCK`] records, the key is
//! recorded in `linkage_splits` and its records move to child keys, each the
//! hash of the parent key and one more attribute of the record (the pass's
//! *refinement* at that level, [`refinement`]); a child may split again, up to
//! the levels a pass has. Registration and search walk the same path: from the
//! level-0 key down through split keys to the leaf the record belongs in. So a
//! new record is compared with at most [`MAX_BLOCK`] records per leaf (the last
//! level, which cannot split, is read up to [`MAX_BLOCK_READ`]), however large
//! the store grows, instead of a block that grows with it.
//!
//! A split loses the pairs of that pass whose refinement attribute disagrees
//! (or is missing on one side only). The refinements are chosen so that such a
//! pair still meets in another pass that does not use that attribute:
//!
//! | pass | level 1 | level 2 | an error in the refinement is caught by |
//! |---|---|---|---|
//! | family phonetic + birth year + initial | birth month | first digit of the postal code | given phonetic + postal code |
//! | given phonetic + postal code | first code of the family phonetic | birth year | birth date |
//! | birth date | first code of the family phonetic | first code of the given phonetic | family or given pass |
//! | insurance number | — | — | (numbers are unique: never large) |
//!
//! Blocks below the threshold are never split, so small stores (and the quality
//! tests on them) link exactly as without splitting. Recall with splitting is
//! measured at scale in `tests/linkage_scale.rs` against the library, which
//! blocks without any cap.
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

use crate::db::{StoreError, Tx, params};
use crate::keys::Keys;
use oncofed_linkage::compare::koelner_phonetik;
use oncofed_linkage::{BlockingKey, Config, Record};

/// Records a block holds before it splits: bounds the comparisons of one new
/// record to about this many per pass.
pub(crate) const MAX_BLOCK: i64 = 64;

/// Records read under a leaf that cannot split (the last level of a pass, or
/// the insurance-number pass).
pub(crate) const MAX_BLOCK_READ: i64 = 500;

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
    let first_code = |name: &str| koelner_phonetik(name).chars().next().map(String::from);
    let value = match (pass, level) {
        (BlockingKey::FamilyPhoneticYearInitial, 1) => r.birth_month.map(|m| m.to_string()),
        (BlockingKey::FamilyPhoneticYearInitial, 2) => r.postal_code.get(..1).map(String::from),
        (BlockingKey::GivenPhoneticPostalCode, 1) => first_code(&r.family),
        (BlockingKey::GivenPhoneticPostalCode, 2) => r.birth_year.map(|y| y.to_string()),
        (BlockingKey::BirthDate, 1) => first_code(&r.family),
        (BlockingKey::BirthDate, 2) => first_code(&r.given),
        _ => return None,
    };
    // A missing attribute is a sub-block of its own.
    Some(value.unwrap_or_default())
}

/// The level-0 keys of a record over all passes of `cfg`.
pub(crate) fn base_keys(keys: &Keys, record: &Record, cfg: &Config) -> Vec<(BlockingKey, i64)> {
    let mut out: Vec<(BlockingKey, i64)> = cfg
        .blocking
        .iter()
        .flat_map(|&pass| {
            pass.keys(record)
                .into_iter()
                .map(move |value| (pass, keys.block_hash(&[&[pass as u8], value.as_bytes()])))
        })
        .collect();
    out.sort_unstable_by_key(|&(_, k)| k);
    out.dedup_by_key(|&mut (_, k)| k);
    out
}

/// The key below `parent` for a refinement value.
fn child(keys: &Keys, parent: i64, value: &str) -> i64 {
    keys.block_hash(&[&parent.to_le_bytes(), value.as_bytes()])
}

fn is_split(tx: &mut Tx<'_>, key: i64) -> Result<bool, StoreError> {
    tx.exists("SELECT 1 FROM linkage_splits WHERE key = ?1", params![key])
}

/// The leaves a record belongs in now: each level-0 key followed down through
/// split keys.
fn leaves(
    tx: &mut Tx<'_>,
    keys: &Keys,
    record: &Record,
    cfg: &Config,
) -> Result<Vec<Leaf>, StoreError> {
    let mut out = Vec::new();
    for (pass, mut key) in base_keys(keys, record, cfg) {
        let mut level = 0;
        while is_split(tx, key)? {
            let Some(value) = refinement(pass, level + 1, record) else {
                break;
            };
            key = child(keys, key, &value);
            level += 1;
        }
        out.push(Leaf { key, pass, level });
    }
    out.sort_unstable_by_key(|l| l.key);
    out.dedup_by_key(|l| l.key);
    Ok(out)
}

/// Indexes a record: stores its comparison record and adds it to its leaf
/// blocks, splitting any that grows past [`MAX_BLOCK`].
pub(crate) fn register(
    tx: &mut Tx<'_>,
    keys: &Keys,
    cfg: &Config,
    site: &str,
    local_id: &str,
    record: &Record,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO linkage_records (site, local_id, record) VALUES (?1, ?2, ?3)
         ON CONFLICT (site, local_id) DO UPDATE SET record = excluded.record",
        params![site, local_id, record.to_bytes()],
    )?;
    for leaf in leaves(tx, keys, record, cfg)? {
        insert(tx, keys, leaf, site, local_id)?;
    }
    Ok(())
}

/// Adds one row to a leaf and splits the leaf if it is now too large.
fn insert(
    tx: &mut Tx<'_>,
    keys: &Keys,
    leaf: Leaf,
    site: &str,
    local_id: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO linkage_blocks (key, site, local_id) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
        params![leaf.key, site, local_id],
    )?;
    if refinement(leaf.pass, leaf.level + 1, &Record::default()).is_none() {
        return Ok(());
    }
    let size: i64 = tx.query_one(
        "SELECT count(*) FROM (SELECT 1 FROM linkage_blocks WHERE key = ?1 LIMIT ?2) AS b",
        params![leaf.key, MAX_BLOCK + 1],
        |r| r.get(0),
    )?;
    if size > MAX_BLOCK {
        split(tx, keys, leaf)?;
    }
    Ok(())
}

/// Moves the records of an oversized leaf to its children (which may split in turn).
fn split(tx: &mut Tx<'_>, keys: &Keys, leaf: Leaf) -> Result<(), StoreError> {
    let members = tx.query(
        "SELECT b.site, b.local_id, r.record FROM linkage_blocks b
         JOIN linkage_records r ON r.site = b.site AND r.local_id = b.local_id
         WHERE b.key = ?1 ORDER BY b.site, b.local_id",
        params![leaf.key],
        |r| {
            Ok((
                r.get::<String>(0)?,
                r.get::<String>(1)?,
                r.get::<Vec<u8>>(2)?,
            ))
        },
    )?;
    tx.execute(
        "INSERT INTO linkage_splits (key) VALUES (?1) ON CONFLICT DO NOTHING",
        params![leaf.key],
    )?;
    tx.execute(
        "DELETE FROM linkage_blocks WHERE key = ?1",
        params![leaf.key],
    )?;
    for (site, local_id, bytes) in members {
        // A row without a readable record cannot be placed; `rebuild` restores it.
        let Some(record) = Record::from_bytes(&bytes) else {
            continue;
        };
        let value = refinement(leaf.pass, leaf.level + 1, &record).unwrap_or_default();
        let below = Leaf {
            key: child(keys, leaf.key, &value),
            pass: leaf.pass,
            level: leaf.level + 1,
        };
        insert(tx, keys, below, &site, &local_id)?;
    }
    Ok(())
}

/// Removes a record from the index: its block rows (found from its stored
/// comparison record) and the comparison record itself.
pub(crate) fn unregister(
    tx: &mut Tx<'_>,
    keys: &Keys,
    cfg: &Config,
    site: &str,
    local_id: &str,
) -> Result<(), StoreError> {
    let stored: Option<Vec<u8>> = tx.query_opt(
        "SELECT record FROM linkage_records WHERE site = ?1 AND local_id = ?2",
        params![site, local_id],
        |r| r.get(0),
    )?;
    let Some(record) = stored.as_deref().and_then(Record::from_bytes) else {
        return Ok(());
    };
    for leaf in leaves(tx, keys, &record, cfg)? {
        tx.execute(
            "DELETE FROM linkage_blocks WHERE key = ?1 AND site = ?2 AND local_id = ?3",
            params![leaf.key, site, local_id],
        )?;
    }
    tx.execute(
        "DELETE FROM linkage_records WHERE site = ?1 AND local_id = ?2",
        params![site, local_id],
    )?;
    Ok(())
}

/// A record sharing a leaf with the one searched for.
pub(crate) struct Neighbour {
    /// Its site.
    pub site: String,
    /// Its local id.
    pub local_id: String,
    /// Its stored comparison record.
    pub record: Record,
}

/// The records sharing a leaf block with `record`, each once, in `(site,
/// local_id)` order: one query per leaf, reading the comparison records with
/// the block rows.
pub(crate) fn neighbours(
    tx: &mut Tx<'_>,
    keys: &Keys,
    cfg: &Config,
    record: &Record,
) -> Result<Vec<Neighbour>, StoreError> {
    let mut rows: Vec<(String, String, Vec<u8>)> = Vec::new();
    for leaf in leaves(tx, keys, record, cfg)? {
        // Ordered, so the cap takes the same rows on both backends.
        rows.extend(tx.query(
            "SELECT b.site, b.local_id, r.record FROM linkage_blocks b
             JOIN linkage_records r ON r.site = b.site AND r.local_id = b.local_id
             WHERE b.key = ?1 ORDER BY b.site, b.local_id LIMIT ?2",
            params![leaf.key, MAX_BLOCK_READ],
            |r| {
                Ok((
                    r.get::<String>(0)?,
                    r.get::<String>(1)?,
                    r.get::<Vec<u8>>(2)?,
                ))
            },
        )?);
    }
    rows.sort_unstable_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    rows.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    Ok(rows
        .into_iter()
        .filter_map(|(site, local_id, bytes)| {
            Record::from_bytes(&bytes).map(|record| Neighbour {
                site,
                local_id,
                record,
            })
        })
        .collect())
}

/// The scheme of this build's index (key derivation and splitting rules); with
/// the linkage key's fingerprint it makes up `meta.linkage_index`.
const INDEX_SCHEME: &[u8] = b"blocks v2: hmac-sha256-64, split at 64\0";

fn marker(keys: &Keys) -> Vec<u8> {
    [INDEX_SCHEME, &keys.linkage_fingerprint()[..]].concat()
}

fn stored_marker(tx: &mut Tx<'_>) -> Result<Option<Vec<u8>>, StoreError> {
    tx.query_opt(
        "SELECT value FROM meta WHERE name = 'linkage_index'",
        params![],
        |r| r.get(0),
    )
}

fn set_marker(tx: &mut Tx<'_>, keys: &Keys) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO meta (name, value) VALUES ('linkage_index', ?1)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![marker(keys)],
    )?;
    Ok(())
}

/// Checks the blocking index against the linkage key and this build's scheme
/// when the service opens its store, before it takes requests:
/// - built by this scheme under this key: nothing to do;
/// - built by this scheme under another key: refused
///   ([`StoreError::LinkageKeyMismatch`]): searching it with this key would find
///   no candidate, and re-keying is a decision (`rotate`), not a side effect;
/// - no marker, or an earlier scheme (an unkeyed index, unsplit blocks, no
///   comparison records: stores written before this build): rebuilt once under
///   this key ([`rebuild`]).
pub(crate) fn ensure_current(conn: &mut crate::db::Conn, keys: &Keys) -> Result<(), StoreError> {
    let mut tx = conn.write_tx()?;
    let stored = stored_marker(&mut tx)?;
    if stored.as_deref() == Some(&marker(keys)[..]) {
        return Ok(());
    }
    if stored.is_some_and(|m| m.starts_with(INDEX_SCHEME)) {
        return Err(StoreError::LinkageKeyMismatch);
    }
    let records = rebuild(&mut tx, keys, &super::probabilistic::config())?;
    set_marker(&mut tx, keys)?;
    tx.commit()?;
    if records > 0 {
        tracing::info!(records, "blocking index rebuilt under the linkage key");
    }
    Ok(())
}

/// Re-keys the blocking index from `old` to `new` in one transaction: checks
/// that the index was built under `old`, rebuilds every block from the stored
/// comparison records under `new`, and records `new`'s fingerprint. On any
/// error nothing changes. Returns the number of records re-indexed.
pub(crate) fn rotate(
    conn: &mut crate::db::Conn,
    old: &Keys,
    new: &Keys,
) -> Result<u64, StoreError> {
    let mut tx = conn.write_tx()?;
    let stored = stored_marker(&mut tx)?;
    if stored.as_deref() != Some(&marker(old)[..]) {
        return Err(StoreError::LinkageKeyMismatch);
    }
    let records = rebuild(&mut tx, new, &super::probabilistic::config())?;
    set_marker(&mut tx, new)?;
    tx.commit()?;
    Ok(records)
}

/// Rebuilds the whole blocking index in `tx`: drops every block and split, then
/// indexes every local id with IDAT from its stored comparison record (or, where
/// there is none yet, from its IDAT). Comparison records of erased local ids are
/// deleted. Returns the number of records indexed.
pub(crate) fn rebuild(tx: &mut Tx<'_>, keys: &Keys, cfg: &Config) -> Result<u64, StoreError> {
    tx.execute("DELETE FROM linkage_blocks", params![])?;
    tx.execute("DELETE FROM linkage_splits", params![])?;
    tx.execute(
        "DELETE FROM linkage_records WHERE (site, local_id) IN
           (SELECT site, local_id FROM local_ids WHERE idat = ?1)",
        params![crate::db::ERASED_IDAT],
    )?;
    let (mut site, mut local_id) = (String::new(), String::new());
    let mut indexed = 0;
    loop {
        // In pages, so a store of millions is not read into memory at once.
        let page = tx.query(
            "SELECT l.site, l.local_id, l.idat, r.record FROM local_ids l
             LEFT JOIN linkage_records r ON r.site = l.site AND r.local_id = l.local_id
             WHERE (l.site, l.local_id) > (?1, ?2) ORDER BY l.site, l.local_id LIMIT 5000",
            params![site, local_id],
            |r| {
                Ok((
                    r.get::<String>(0)?,
                    r.get::<String>(1)?,
                    r.get::<String>(2)?,
                    r.get::<Option<Vec<u8>>>(3)?,
                ))
            },
        )?;
        let Some(last) = page.last() else { break };
        (site, local_id) = (last.0.clone(), last.1.clone());
        for (s, l, idat, bytes) in page {
            if idat == crate::db::ERASED_IDAT {
                continue;
            }
            let record = bytes
                .as_deref()
                .and_then(Record::from_bytes)
                .or_else(|| super::probabilistic::record_of(&idat));
            if let Some(record) = record {
                register(tx, keys, cfg, &s, &l, &record)?;
                indexed += 1;
            }
        }
    }
    Ok(indexed)
}
