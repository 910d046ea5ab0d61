//! The index's scheme and key: the marker that names both, the rebuild of a
//! store whose index is of an earlier scheme, and rotation to a new key (see
//! the parent module's "Keyed keys and rotation").

use super::{Touched, register, store_record};
use crate::db::{StoreError, Tx, params};
use crate::keys::Keys;
use oncofed_linkage::{Config, Record};

/// The scheme of this build's index (key derivation and splitting rules); with
/// the linkage key's fingerprint it makes up `meta.linkage_index`.
const INDEX_SCHEME: &[u8] =
    b"blocks v4: hmac-sha256-64, split at 16, records in blocks, refined by one field per pass\0";

/// Every scheme whose block keys were keyed by the linkage key, this one first:
/// a store of an earlier one is rebuilt on open, but only under the key it was
/// built with.
const KEYED_SCHEMES: &[&[u8]] = &[
    INDEX_SCHEME,
    b"blocks v3: hmac-sha256-64, split at 64, records in blocks\0",
    b"blocks v2: hmac-sha256-64, split at 64\0",
];

fn marker(keys: &Keys) -> Vec<u8> {
    [INDEX_SCHEME, &keys.linkage_fingerprint()[..]].concat()
}

/// Whether a stored marker names a keyed scheme under `keys` (`Some(true)`) or
/// under another key (`Some(false)`); `None` for an unkeyed or unknown index.
fn keyed_under(stored: &[u8], keys: &Keys) -> Option<bool> {
    KEYED_SCHEMES.iter().find_map(|scheme| {
        stored
            .strip_prefix(*scheme)
            .map(|fingerprint| fingerprint == keys.linkage_fingerprint())
    })
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
/// - built by this or an earlier keyed scheme under another key: refused
///   ([`StoreError::LinkageKeyMismatch`]): searching it with this key would find
///   no candidate, and re-keying is a decision (`rotate`), not a side effect;
/// - no marker, or an earlier scheme (an unkeyed index, unsplit blocks, no
///   comparison records, no records in the block rows: stores written before
///   this build): rebuilt once under this key ([`rebuild`]).
pub(crate) fn ensure_current(conn: &mut crate::db::Conn, keys: &Keys) -> Result<(), StoreError> {
    let mut tx = conn.write_tx()?;
    let stored = stored_marker(&mut tx)?;
    if stored.as_deref() == Some(&marker(keys)[..]) {
        return Ok(());
    }
    if stored.is_some_and(|m| keyed_under(&m, keys) == Some(false)) {
        return Err(StoreError::LinkageKeyMismatch);
    }
    let records = rebuild(&mut tx, keys, &crate::linkage::probabilistic::config())?;
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
    if stored.is_none_or(|m| keyed_under(&m, old) != Some(true)) {
        return Err(StoreError::LinkageKeyMismatch);
    }
    let records = rebuild(&mut tx, new, &crate::linkage::probabilistic::config())?;
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
    // Every copy of the split keys kept in memory is stale now.
    super::splits::renew(tx)?;
    tx.execute(
        "DELETE FROM linkage_records WHERE (site, local_id) IN
           (SELECT site, local_id FROM local_ids WHERE idat = ?1)",
        params![crate::db::ERASED_IDAT],
    )?;
    let (mut site, mut local_id) = (String::new(), String::new());
    let mut indexed = 0;
    // Nothing is searched ahead here.
    let mut touched = Touched::default();
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
                .or_else(|| crate::linkage::probabilistic::record_of(&idat));
            if let Some(record) = record {
                let bytes = register(tx, keys, cfg, (&s, &l), &record, None, &mut touched)?;
                store_record(tx, (&s, &l), &bytes)?;
                indexed += 1;
            }
        }
    }
    Ok(indexed)
}
