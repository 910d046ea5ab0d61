//! The split keys of the blocking index, kept in memory by the writer between
//! batches (PostgreSQL).
//!
//! Where a record sits in the index (its leaf under each pass) depends only on
//! which keys are split. On PostgreSQL a search without them asks for every
//! key of a record's chains: a split lookup and a read under each level, about
//! thirty index probes and plan nodes per record, where the leaves alone are
//! four or five. The split keys are few (one per block that outgrew
//! [`super::MAX_BLOCK`], about 1 in 20 records), only ever added by linkage
//! and cleared by a rebuild. So the writer connection keeps them
//! ([`crate::db::Tx::take_split_keys`]), and a batch derives the leaves itself
//! and reads only their rows.
//!
//! Whether the copy is current is checked at every batch against a token in
//! `meta`: every transaction that adds split keys ([`super::split`]) or drops
//! them ([`super::scheme::rebuild`]) writes a new random token. The copy is
//! used only if the token it was made under is the stored one; otherwise (the
//! first batch, another process or another path changed the splits) it is
//! read again in one statement. A batch's own splits go into the copy as they
//! are made, with the batch's new token, and the copy is kept only if the
//! batch commits. Every writer takes the store's write lock, so nothing
//! changes the splits between the check and the commit.
//!
//! SQLite does not keep a copy: there a split lookup is a function call on a
//! cached page, and walking the levels stays the simplest path.

use crate::db::{StoreError, Tx, params};
use std::collections::HashSet;

/// The `meta` row holding the token of the current set of split keys.
const TOKEN: &str = "linkage_splits_token";

/// The split keys of the index and the token they were read or made under.
#[derive(Debug, Clone)]
pub(crate) struct SplitKeys {
    token: Vec<u8>,
    keys: HashSet<i64>,
}

impl SplitKeys {
    /// The keys, for [`super::placement::leaves_of`].
    pub(super) fn keys(&self) -> &HashSet<i64> {
        &self.keys
    }
}

/// The current split keys for a batch in `tx`: `kept` if its token is the
/// stored one, else all of them read again. `None` on SQLite.
pub(crate) fn current(
    tx: &mut Tx<'_>,
    kept: Option<SplitKeys>,
) -> Result<Option<SplitKeys>, StoreError> {
    if !tx.is_postgres() {
        return Ok(None);
    }
    let stored: Option<Vec<u8>> = tx.query_opt(
        "SELECT value FROM meta WHERE name = ?1",
        params![TOKEN],
        |r| r.get(0),
    )?;
    // A store whose splits never changed under a token (new, or written by
    // an earlier build) has none: it is read every time until one is written.
    if let (Some(kept), Some(stored)) = (kept, &stored)
        && kept.token == *stored
    {
        return Ok(Some(kept));
    }
    let keys = tx
        .query("SELECT key FROM linkage_splits", params![], |r| r.get(0))?
        .into_iter()
        .collect();
    Ok(Some(SplitKeys {
        token: stored.unwrap_or_default(),
        keys,
    }))
}

/// The split keys as a transaction changes them: the copy in memory (if the
/// engine keeps one) and whether this transaction wrote its token yet.
#[derive(Debug, Default)]
pub(crate) struct SplitsSeen {
    /// The copy, with this transaction's own splits.
    pub(super) known: Option<SplitKeys>,
    /// Whether this transaction has written a new token.
    renewed: bool,
}

impl SplitsSeen {
    /// The split keys of [`current`].
    pub(crate) fn new(known: Option<SplitKeys>) -> Self {
        Self {
            known,
            renewed: false,
        }
    }

    /// Records that `key` was split in `tx`: adds it to the copy, and renews
    /// the token once per transaction.
    pub(super) fn split(&mut self, tx: &mut Tx<'_>, key: i64) -> Result<(), StoreError> {
        if !self.renewed {
            let token = renew(tx)?;
            if let Some(known) = &mut self.known {
                known.token = token;
            }
            self.renewed = true;
        }
        if let Some(known) = &mut self.known {
            known.keys.insert(key);
        }
        Ok(())
    }

    /// The copy to keep if the transaction commits.
    pub(crate) fn into_kept(self) -> Option<SplitKeys> {
        self.known
    }
}

/// Writes a new random token: every copy of the split keys made before is
/// stale. Returns it.
pub(super) fn renew(tx: &mut Tx<'_>) -> Result<Vec<u8>, StoreError> {
    let token: [u8; 16] = rand::random();
    tx.execute_later(
        "INSERT INTO meta (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![TOKEN, token.to_vec()],
    )?;
    Ok(token.to_vec())
}
