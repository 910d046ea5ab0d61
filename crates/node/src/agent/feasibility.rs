//! Answering a feasibility task at a site: criteria → lifetime privacy ledger →
//! store → consent → disclosure control.

use super::ledger::{self, Charge, FEASIBILITY_REFUSAL};
use crate::{ConsentGate, GateError, SharedStore, with_store};
use oncofed_model::{DataCategory, Purpose, SecurityLevel, SiteId};
use oncofed_privacy::{
    DEFAULT_PRECISION, NoiseSeed, Released, SiteDisclosure, Sketch, SketchKeyer, obfuscate,
};
use oncofed_protocol::{Criteria, FeasibilityAnswer};
use std::collections::BTreeSet;
use std::path::Path;

/// The site's secret for deterministic noise: the same query at the same site
/// always gets the same noise, and nobody without this secret can predict it.
#[derive(Clone)]
pub struct SiteSecret(pub(crate) Vec<u8>);

impl SiteSecret {
    /// Wraps secret bytes (at least 32).
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() >= 32).then_some(Self(bytes))
    }

    /// Reads the secret from `path`, creating 32 random bytes (mode 0600) the first
    /// time. Keep it with the node's backups: a new secret changes every answer's
    /// noise, which would let repeated queries be averaged across the change.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => Self::new(bytes)
                .ok_or_else(|| std::io::Error::other("noise secret is shorter than 32 bytes")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let bytes = rand::random::<[u8; 32]>().to_vec();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                std::io::Write::write_all(&mut options.open(path)?, &bytes)?;
                Ok(Self(bytes))
            }
            Err(e) => Err(e),
        }
    }
}

/// Why a feasibility task could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum FeasibilityError {
    /// The criteria are not valid.
    #[error("invalid criteria: {0}")]
    Criteria(String),
    /// The sketch key is not 32 bytes of hex.
    #[error("invalid sketch key")]
    SketchKey,
    /// Consent could not be checked (fail closed: no answer).
    #[error(transparent)]
    Consent(#[from] GateError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] oncofed_store::StoreError),
    /// A new release would pass the site's lifetime privacy budget (see
    /// [`ledger`](super::ledger)); nothing was charged or released.
    #[error(
        "lifetime privacy budget: ε {spent} of {budget} spent, this query would cost {needed} more"
    )]
    Budget {
        /// Lifetime ε spent so far.
        spent: f64,
        /// What the query would cost.
        needed: f64,
        /// The site's lifetime budget.
        budget: f64,
    },
    /// The disclosure rules add no noise, so a release has no finite ε.
    #[error("the disclosure rules add no noise: a release has no finite ε")]
    NoNoise,
}

impl FeasibilityError {
    /// What the hub is told: the kind of failure, without local detail.
    pub fn public_reason(&self) -> String {
        match self {
            Self::Criteria(e) => format!("invalid criteria: {e}"),
            Self::SketchKey => "invalid sketch key".into(),
            Self::Consent(_) => "consent service unavailable at the site".into(),
            Self::Store(_) => "site store error".into(),
            Self::Budget { .. } | Self::NoNoise => FEASIBILITY_REFUSAL.into(),
        }
    }
}

/// Counts the site's patients matching `criteria` whose consent permits
/// feasibility use of every data category the criteria touch, then obfuscates.
///
/// The count is noised (deterministically per site and per the criteria's
/// semantic normal form, [`Criteria::semantic_key`], so reworded queries cannot
/// be averaged), rounded and
/// suppressed below the threshold of the data's security level. The sketch holds
/// HMAC(sketch key, research pseudonym) of the counted patients, for the hub's
/// de-duplicated total; it is left empty when the count is suppressed, so a
/// small cohort does not leak through it.
///
/// Before any row is read the release is charged to the site's lifetime
/// privacy ledger (see [`ledger`](super::ledger)): a query whose semantic key
/// was released before is free, a new one costs the ε of its disclosure rules,
/// and past `lifetime_epsilon` the query is refused ([`FeasibilityError::Budget`]).
pub async fn answer_feasibility(
    store: &SharedStore,
    gate: &ConsentGate,
    site: &SiteId,
    secret: &SiteSecret,
    criteria: &Criteria,
    sketch_key: &str,
    lifetime_epsilon: f64,
) -> Result<FeasibilityAnswer, FeasibilityError> {
    criteria
        .validate()
        .map_err(|e| FeasibilityError::Criteria(e.to_string()))?;
    let key = hex::decode(sketch_key)
        .ok()
        .filter(|k| k.len() == 32)
        .ok_or(FeasibilityError::SketchKey)?;
    let categories: BTreeSet<DataCategory> = criteria.categories().into_iter().collect();
    let level =
        SecurityLevel::of_dataset(categories.iter().copied().chain([DataCategory::Clinical]));
    let disclosure = SiteDisclosure::for_level(level);
    // Keyed by the query's meaning, not its spelling: rewordings share one draw,
    // and so one ledger entry.
    let semantic = criteria.semantic_key();
    const STRATUM: &str = "total";
    let epsilon = ledger::release_epsilon(&disclosure).ok_or(FeasibilityError::NoNoise)?;
    let keys = vec![ledger::ledger_key(
        &secret.0,
        &semantic,
        site.as_str(),
        STRATUM,
    )];
    match ledger::charge(store, keys, epsilon, lifetime_epsilon).await? {
        Charge::Refused { spent, needed } => {
            return Err(FeasibilityError::Budget {
                spent,
                needed,
                budget: lifetime_epsilon,
            });
        }
        Charge::Charged { strata, spent } => {
            tracing::info!(
                strata,
                epsilon,
                spent,
                budget = lifetime_epsilon,
                "feasibility release charged to the lifetime ledger"
            );
        }
        Charge::Repeat { spent } => {
            tracing::debug!(spent, "feasibility repeat: same noise, no charge");
        }
    }
    let started = std::time::Instant::now();
    let c = criteria.clone();
    let matches = with_store(store, move |s| s.feasibility(&c)).await?;
    let sql = started.elapsed();
    let today = chrono::Utc::now().date_naive();
    let questions: Vec<_> = matches
        .iter()
        .flat_map(|(psn, _)| categories.iter().map(move |c| (psn.clone(), *c)))
        .collect();
    let permitted = gate
        .permitted(Purpose::Feasibility, today, questions)
        .await?;
    let consent = started.elapsed() - sql;
    let counted: Vec<_> = matches
        .iter()
        .filter(|(psn, _)| {
            categories
                .iter()
                .all(|c| permitted.contains(&(psn.clone(), *c)))
        })
        .collect();

    let seed = NoiseSeed::derive(&secret.0, semantic.as_bytes(), site.as_str(), STRATUM);
    let count = obfuscate(counted.len() as u64, &disclosure, &seed);
    let mut sketch = Sketch::new(DEFAULT_PRECISION).expect("default precision is valid");
    if count != Released::Suppressed {
        let keyer = SketchKeyer::new(&key);
        for (_, research) in &counted {
            sketch.insert(&keyer.item(research.as_str()));
        }
    }
    tracing::debug!(
        matches = matches.len(),
        sql_ms = sql.as_millis() as u64,
        consent_ms = consent.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "feasibility answered"
    );
    Ok(FeasibilityAnswer {
        count,
        sketch,
        level,
    })
}
