//! The state the defences keep, as traits: sites and the hub keep it in their
//! own stores (an SQL table per trait is enough), and tests and simulations use
//! the in-memory implementations here.
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;

/// An individual as a site knows it: an opaque key (a pseudonym), never a
/// name. `Debug` is redacted, so keys do not end up in logs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IndividualKey(String);

impl IndividualKey {
    /// Wraps a site's opaque key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key, for the site's store.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IndividualKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IndividualKey(<redacted>)")
    }
}

/// A researcher (or any authenticated caller) as the hub identifies them;
/// budgets and rate limits are per researcher.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResearcherId(String);

impl ResearcherId {
    /// Wraps the hub's id of the caller.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id, for stores.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Per (researcher, individual) risk spent, in nats of likelihood ratio
/// (Raisaro et al. 2017, query budget per individual; see [`super::BudgetPolicy`]).
pub trait BudgetLedger {
    /// What `researcher`'s answers have cost `individual` so far (0 if never).
    fn spent(&self, researcher: &ResearcherId, individual: &IndividualKey) -> f64;
    /// Adds `cost` (≥ 0) to that account.
    fn charge(&mut self, researcher: &ResearcherId, individual: &IndividualKey, cost: f64);
}

/// [`BudgetLedger`] in memory (tests, simulations, a single-process demo).
#[derive(Debug, Clone, Default)]
pub struct MemoryLedger {
    accounts: HashMap<ResearcherId, HashMap<IndividualKey, f64>>,
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }
}

impl BudgetLedger for MemoryLedger {
    fn spent(&self, researcher: &ResearcherId, individual: &IndividualKey) -> f64 {
        self.accounts
            .get(researcher)
            .and_then(|m| m.get(individual))
            .copied()
            .unwrap_or(0.0)
    }

    fn charge(&mut self, researcher: &ResearcherId, individual: &IndividualKey, cost: f64) {
        if !(cost.is_finite() && cost > 0.0) {
            return;
        }
        let account = self.accounts.entry(researcher.clone()).or_default();
        match account.get_mut(individual) {
            Some(v) => *v += cost,
            None => {
                account.insert(individual.clone(), cost);
            }
        }
    }
}

/// Accepted queries per researcher over time (rate limit and total budget).
/// Times are Unix seconds, passed in (no clock in this crate).
pub trait QueryCounter {
    /// Accepted queries of `researcher` at or after `since`.
    fn count_since(&self, researcher: &ResearcherId, since: u64) -> u64;
    /// Records one accepted query at `at`.
    fn record(&mut self, researcher: &ResearcherId, at: u64);
}

/// [`QueryCounter`] in memory; keeps at most `keep` timestamps per researcher
/// (set it to the largest limit checked).
#[derive(Debug, Clone)]
pub struct MemoryQueryCounter {
    keep: usize,
    times: BTreeMap<ResearcherId, VecDeque<u64>>,
}

impl MemoryQueryCounter {
    /// A counter remembering the last `keep` queries of each researcher.
    pub fn new(keep: usize) -> Self {
        Self {
            keep: keep.max(1),
            times: BTreeMap::new(),
        }
    }
}

impl QueryCounter for MemoryQueryCounter {
    fn count_since(&self, researcher: &ResearcherId, since: u64) -> u64 {
        self.times
            .get(researcher)
            .map_or(0, |q| q.iter().filter(|t| **t >= since).count() as u64)
    }

    fn record(&mut self, researcher: &ResearcherId, at: u64) {
        let q = self.times.entry(researcher.clone()).or_default();
        q.push_back(at);
        while q.len() > self.keep {
            q.pop_front();
        }
    }
}
