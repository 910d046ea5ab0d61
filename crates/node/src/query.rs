//! The node's local query path: store selection, then the consent filter.

use crate::{ConsentGate, GateError, SharedStore, with_store};
use chrono::NaiveDate;
use oncofed_model::Purpose;
use oncofed_store::{FactFilter, StoreError, StoredFact};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;

/// A local query: which facts, for what purpose, on which date.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FactQuery {
    /// Which facts.
    #[serde(flatten)]
    pub filter: FactFilter,
    /// What the data is for; consent is checked for this purpose.
    pub purpose: Purpose,
    /// The date of use (defaults to today).
    #[serde(default)]
    pub date: Option<NaiveDate>,
}

/// What the query path releases.
#[derive(Debug, Clone, Serialize)]
pub struct QueryAnswer {
    /// The permitted facts.
    pub facts: Vec<StoredFact>,
    /// Distinct patients among them.
    pub patients: usize,
    /// Facts that matched but were withheld because consent does not permit them.
    pub withheld: usize,
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Consent could not be checked (fail closed).
    #[error(transparent)]
    Consent(#[from] GateError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The consent-filtered query path over a node's research store.
///
/// Every row leaves only after the consent gate's snapshot (fresh within its
/// bound, kept by the trust centre's signed feed) permitted that patient's data
/// of that category and date of origin for that purpose and date of use.
#[derive(Clone)]
pub struct QueryService {
    store: SharedStore,
    gate: Arc<ConsentGate>,
}

impl QueryService {
    /// A query service over `store`, checking consent through `gate`.
    pub fn new(store: SharedStore, gate: Arc<ConsentGate>) -> Self {
        Self { store, gate }
    }

    /// The store this service reads.
    pub fn store(&self) -> SharedStore {
        self.store.clone()
    }

    /// The consent gate this service asks.
    pub fn gate(&self) -> Arc<ConsentGate> {
        self.gate.clone()
    }

    /// Runs a query: selects the facts, asks consent for every (patient, category)
    /// pair among them in batches, and releases only the permitted ones.
    pub async fn facts(&self, query: &FactQuery) -> Result<QueryAnswer, QueryError> {
        // The limit applies to what is released, not to what consent is asked about.
        let mut filter = query.filter.clone();
        let limit = filter.limit.take().unwrap_or(usize::MAX);
        let candidates = with_store(&self.store, move |s| s.facts(&filter)).await?;
        let date = query
            .date
            .unwrap_or_else(|| chrono::Utc::now().date_naive());
        // Each fact is asked about with its date of origin (its start), so the
        // trust centre can check the consent's collection window (issue 10).
        let triples = candidates
            .iter()
            .map(|f| (f.pseudonym.clone(), f.fact.category, f.fact.start));
        let permitted = self
            .gate
            .permitted_facts(query.purpose, date, triples)
            .await?;
        let total = candidates.len();
        let mut facts: Vec<StoredFact> = candidates
            .into_iter()
            .filter(|f| permitted.contains(&(f.pseudonym.clone(), f.fact.category, f.fact.start)))
            .collect();
        let withheld = total - facts.len();
        facts.truncate(limit);
        let patients = facts
            .iter()
            .map(|f| &f.pseudonym)
            .collect::<BTreeSet<_>>()
            .len();
        Ok(QueryAnswer {
            withheld,
            patients,
            facts,
        })
    }
}
