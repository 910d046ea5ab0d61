//! Searches sent ahead: on PostgreSQL the searches of a batch's next records
//! go to the server while the current one is scored and written.
//!
//! A search waited for when its record comes up is a round trip per new
//! record, with the server idle while the client scores and the client idle
//! while the server reads: at 100,000 persons the server was busy about half
//! of the time (BENCHMARKS.md, "Thirteenth session"). So [`Lookahead`] sends
//! the searches of the records a batch will probably search (those with no
//! known local id and no owner of their insurance number when the batch
//! starts) a window at a time, one window ahead of the record being linked.
//!
//! A search sent ahead reads the index as it was when it was sent. The
//! records linked since may have changed it: added rows to a leaf, split a
//! block, copied rows to its children, removed a record's rows. Every such
//! change marks its key in [`Touched`], with a clock. A search sent ahead is
//! used only if none of the keys it read (its record's keys at every level,
//! or only its leaves where the split keys are kept, [`super::splits`]) was
//! touched after it was sent; otherwise the record searches again, as it
//! would have without the lookahead. So a batch links exactly as its records
//! would one at a time (`db::conformance::batch`), and a stale search costs
//! only the round trip it was meant to save. Records that do not search after
//! all (found by insurance number, refused) drop theirs ([`Lookahead::forget`]).
//!
//! A record whose insurance number names a person when the batch starts is
//! not searched but placed where the number links it: its placement (the
//! split lookup and the sizes of its leaves, [`Placement`]) is sent ahead the
//! same way, under the same rule (`db::conformance::blocking::
//! placements_sent_ahead_never_miss_a_split`).

use super::placement::{Placement, place_later};
use super::splits::SplitsSeen;
use super::{Search, SentSearch, found, search, search_later};
use crate::db::{StoreError, Tx};
use crate::keys::Keys;
use oncofed_linkage::{Config, Record};
use std::collections::HashMap;

/// Records whose searches are sent together; the next window is sent when
/// linking reaches the current one, so one is always on its way.
const WINDOW: usize = 64;

#[cfg(test)]
thread_local! {
    /// Reads sent ahead on this thread that were used, and that were stale
    /// (tests: `db::conformance::blocking`).
    pub(crate) static SENT_AHEAD: std::cell::Cell<(u64, u64)> =
        const { std::cell::Cell::new((0, 0)) };
}

/// The block keys a transaction changed, each with when (a clock that ticks
/// at every change).
#[derive(Debug, Default)]
pub(crate) struct Touched {
    clock: u64,
    at: HashMap<i64, u64>,
    /// The split keys, if kept in memory, with this transaction's splits
    /// ([`super::splits`]).
    pub(crate) splits: SplitsSeen,
}

impl Touched {
    /// Marks a key whose rows or split state just changed.
    pub(crate) fn touch(&mut self, key: i64) {
        self.clock += 1;
        self.at.insert(key, self.clock);
    }

    /// Whether `key` changed after the clock read `then`.
    fn changed_since(&self, key: i64, then: u64) -> bool {
        self.at.get(&key).is_some_and(|&t| t > then)
    }
}

/// What an item of a batch will probably read from the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// Nothing (a known local id, or no comparison record).
    Nothing,
    /// A search: the record will be scored.
    Search,
    /// Its placement: its insurance number names a person, so it will be
    /// indexed where it belongs without a search.
    Placement,
}

/// What was sent ahead for an item.
enum Sent {
    Search(SentSearch),
    Placement(Placement),
}

impl Sent {
    /// The kind of read it is.
    fn kind(&self) -> Want {
        match self {
            Sent::Search(_) => Want::Search,
            Sent::Placement(_) => Want::Placement,
        }
    }

    /// Every key whose rows or split state it read.
    fn keys(&self) -> Vec<i64> {
        match self {
            Sent::Search(s) => s.keys().collect(),
            Sent::Placement(p) => p.keys(),
        }
    }

    /// Lets it go unread: its answers are dropped as they come.
    fn drop_in(self, tx: &mut Tx<'_>) -> Result<(), StoreError> {
        match self {
            Sent::Search(s) => s.forget(tx),
            Sent::Placement(p) => p.forget(tx),
        }
    }
}

/// The searches and placements of one batch sent ahead, and the index
/// changes since.
pub(crate) struct Lookahead {
    /// The index changes of this transaction ([`super::register`] and
    /// [`super::unregister`] mark them).
    pub touched: Touched,
    /// What each item of the batch will probably read.
    wanted: Vec<Want>,
    /// The first item whose reads are not sent yet.
    next: usize,
    /// Reads sent, by item, with the clock when sent.
    sent: HashMap<usize, (u64, Sent)>,
    /// Searches sent ahead and used, and those found stale.
    used: u64,
    stale: u64,
}

impl Lookahead {
    /// A lookahead for a batch whose items will probably read `wanted`.
    /// SQLite answers a statement at once, so there nothing is sent ahead.
    /// `splits`: the split keys for the batch ([`super::current_splits`]).
    pub(crate) fn new(tx: &Tx<'_>, mut wanted: Vec<Want>, splits: SplitsSeen) -> Self {
        if !tx.is_postgres() {
            wanted.iter_mut().for_each(|w| *w = Want::Nothing);
        }
        Self {
            touched: Touched {
                splits,
                ..Touched::default()
            },
            wanted,
            next: 0,
            sent: HashMap::new(),
            used: 0,
            stale: 0,
        }
    }

    /// Before linking item `current`: sends the reads of the wanted items up
    /// to one window past the current one, if not sent yet. `records` are the
    /// batch's comparison records, by item.
    pub(crate) fn send_ahead(
        &mut self,
        tx: &mut Tx<'_>,
        keys: &Keys,
        cfg: &Config,
        records: &[Option<Record>],
        current: usize,
    ) -> Result<(), StoreError> {
        if self.next > current + WINDOW {
            return Ok(());
        }
        let until = (current + 2 * WINDOW).min(records.len());
        let next = records.iter().enumerate().take(until).skip(self.next);
        let known = self.touched.splits.known.as_ref();
        for (item, record) in next {
            let Some(record) = record else {
                continue;
            };
            let sent = match self.wanted[item] {
                Want::Nothing => continue,
                Want::Search => Sent::Search(search_later(tx, keys, cfg, record, known)?),
                Want::Placement => Sent::Placement(place_later(tx, keys, cfg, record, known)?),
            };
            self.sent.insert(item, (self.touched.clock, sent));
        }
        self.next = self.next.max(until);
        Ok(())
    }

    /// What was sent ahead for `item`, if it is what is wanted now (`want`)
    /// and nothing it read has changed since; any other is let go. Only reads
    /// of the wanted kind count as used or stale: a record found by number
    /// that a veto sends on to scoring had its placement sent, not a search.
    fn fresh(
        &mut self,
        tx: &mut Tx<'_>,
        item: usize,
        want: Want,
    ) -> Result<Option<Sent>, StoreError> {
        let Some((then, sent)) = self.sent.remove(&item) else {
            return Ok(None);
        };
        if sent.kind() != want {
            sent.drop_in(tx)?;
            return Ok(None);
        }
        let stale = sent
            .keys()
            .iter()
            .any(|&k| self.touched.changed_since(k, then));
        #[cfg(test)]
        SENT_AHEAD.with(|n| {
            let (used, old) = n.get();
            n.set(if stale {
                (used, old + 1)
            } else {
                (used + 1, old)
            });
        });
        if stale {
            self.stale += 1;
            sent.drop_in(tx)?;
            return Ok(None);
        }
        self.used += 1;
        Ok(Some(sent))
    }

    /// The search for item `item`'s `record`: the one sent ahead if nothing
    /// it read has changed since, else a new one.
    pub(crate) fn search(
        &mut self,
        tx: &mut Tx<'_>,
        keys: &Keys,
        cfg: &Config,
        item: usize,
        record: &Record,
    ) -> Result<Search, StoreError> {
        match self.fresh(tx, item, Want::Search)? {
            Some(Sent::Search(sent)) => found(tx, sent),
            // `fresh` returns only the kind wanted.
            _ => search(tx, keys, cfg, record, self.touched.splits.known.as_ref()),
        }
    }

    /// Where item `item`'s `record` goes: the placement sent ahead if nothing
    /// it read has changed since, else one sent now.
    pub(crate) fn placement(
        &mut self,
        tx: &mut Tx<'_>,
        keys: &Keys,
        cfg: &Config,
        item: usize,
        record: &Record,
    ) -> Result<Placement, StoreError> {
        match self.fresh(tx, item, Want::Placement)? {
            Some(Sent::Placement(p)) => Ok(p),
            _ => place_later(tx, keys, cfg, record, self.touched.splits.known.as_ref()),
        }
    }

    /// Lets go of what was sent for `item` if it was not used.
    pub(crate) fn forget(&mut self, tx: &mut Tx<'_>, item: usize) -> Result<(), StoreError> {
        match self.sent.remove(&item) {
            Some((_, sent)) => sent.drop_in(tx),
            None => Ok(()),
        }
    }

    /// Reads sent ahead and used, and those that were stale.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.used, self.stale)
    }
}
