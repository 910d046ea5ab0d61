//! Consent at query time: batched, cached, fail closed.

use chrono::NaiveDate;
use oncofed_model::{DataCategory, Pseudonym, Purpose};
use oncofed_trustee_api::{
    ConsentDecision, ConsentQuestion, MAX_BATCH, TrusteeClient, TrusteeError,
};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why consent could not be established. Every variant means "release nothing".
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The trust centre could not be asked; the query fails closed.
    #[error("consent cannot be checked, so no data is released: {0}")]
    TrusteeUnavailable(#[from] TrusteeError),
}

/// Above this many cached answers, expired ones are dropped before adding more.
const MAX_CACHED: usize = 1_000_000;

/// (person, category, purpose, date of use, date of origin of the data).
type CacheKey = (
    Pseudonym,
    DataCategory,
    Purpose,
    NaiveDate,
    Option<NaiveDate>,
);

/// Asks the trust centre whether data may be used, in batches, and remembers
/// answers for a short time.
///
/// Fail closed: when the trust centre cannot be reached and an answer is not in
/// the cache, the whole question fails and the caller releases nothing.
pub struct ConsentGate {
    client: TrusteeClient,
    ttl: Duration,
    cache: Mutex<HashMap<CacheKey, (ConsentDecision, Instant)>>,
    /// Questions answered from the cache, and sent to the trust centre (metrics).
    answered: std::sync::atomic::AtomicU64,
    asked: std::sync::atomic::AtomicU64,
}

impl ConsentGate {
    /// A gate asking the trust centre through `client`, caching answers for `ttl`.
    pub fn new(client: TrusteeClient, ttl: Duration) -> Self {
        Self {
            client,
            ttl,
            cache: Mutex::new(HashMap::new()),
            answered: std::sync::atomic::AtomicU64::new(0),
            asked: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Consent questions so far answered from the cache and asked of the trust
    /// centre, for the node's `/metrics`.
    pub fn question_counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.answered.load(Relaxed), self.asked.load(Relaxed))
    }

    /// The pairs among `items` whose use for `purpose` on `date` is permitted.
    ///
    /// Without a date of origin the trust centre takes the data to originate on
    /// `date`, so data a consent's collection window covered may be refused;
    /// callers holding facts should use [`ConsentGate::permitted_facts`].
    pub async fn permitted(
        &self,
        purpose: Purpose,
        date: NaiveDate,
        items: impl IntoIterator<Item = (Pseudonym, DataCategory)>,
    ) -> Result<HashSet<(Pseudonym, DataCategory)>, GateError> {
        let asked = self
            .permitted_facts(purpose, date, items.into_iter().map(|(p, c)| (p, c, None)))
            .await?;
        Ok(asked.into_iter().map(|(p, c, _)| (p, c)).collect())
    }

    /// The (person, category, date of origin) triples among `items` whose use
    /// for `purpose` on `date` is permitted: the trust centre checks the date
    /// of origin against the consent's collection windows and `dataPeriod`s
    /// (a fact collected after a broad consent's five-year collection window
    /// closed is refused even while its use window is open).
    pub async fn permitted_facts(
        &self,
        purpose: Purpose,
        date: NaiveDate,
        items: impl IntoIterator<Item = (Pseudonym, DataCategory, Option<NaiveDate>)>,
    ) -> Result<HashSet<(Pseudonym, DataCategory, Option<NaiveDate>)>, GateError> {
        let now = Instant::now();
        let mut permitted = HashSet::new();
        let mut ask: Vec<ConsentQuestion> = Vec::new();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            let mut seen = HashSet::new();
            for (pseudonym, category, origin) in items {
                if !seen.insert((pseudonym.clone(), category, origin)) {
                    continue;
                }
                match cache.get(&(pseudonym.clone(), category, purpose, date, origin)) {
                    Some((decision, at)) if now.duration_since(*at) < self.ttl => {
                        self.answered
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if decision.permits() {
                            permitted.insert((pseudonym, category, origin));
                        }
                    }
                    _ => ask.push(ConsentQuestion {
                        pseudonym,
                        category,
                        origin,
                    }),
                }
            }
        }
        self.asked
            .fetch_add(ask.len() as u64, std::sync::atomic::Ordering::Relaxed);
        for chunk in ask.chunks(MAX_BATCH) {
            let decisions = self
                .client
                .check_consent(purpose, date, chunk.to_vec())
                .await?;
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() > MAX_CACHED {
                // Bound memory: answers past their lifetime are useless anyway.
                let ttl = self.ttl;
                cache.retain(|_, (_, at)| now.duration_since(*at) < ttl);
            }
            for (q, decision) in chunk.iter().zip(decisions) {
                cache.insert(
                    (q.pseudonym.clone(), q.category, purpose, date, q.origin),
                    (decision, now),
                );
                if decision.permits() {
                    permitted.insert((q.pseudonym.clone(), q.category, q.origin));
                }
            }
        }
        Ok(permitted)
    }

    /// Forgets every cached answer (after a withdrawal notice, for example).
    pub fn clear(&self) {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Forgets the cached answers about one person (after their withdrawal):
    /// everyone else's answers stay, so a cascade of deletion orders does not
    /// send every later query back to the trust centre.
    pub fn forget(&self, pseudonym: &Pseudonym) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(p, ..), _| p != pseudonym);
    }
}
