//! The site's lifetime privacy ledger for feasibility releases (issue 11, item 4).
//!
//! The hub keeps budgets per project and researcher and one lifetime budget of its
//! own, but those are the hub's word: a hub that lies, or many researchers and
//! projects over the same cohort, could otherwise buy any number of noised counts
//! of this site's data. This ledger is the site's own bound, kept in its research
//! store (table `dp_release`), so it holds across restarts, hubs, projects and
//! researchers: the site does not know, and does not need to know, who asks.
//!
//! # The accountant
//!
//! - **One release.** A feasibility count has sensitivity Δ = 1 (one patient
//!   changes it by at most one) and is noised with discrete Laplace of scale
//!   `b` ([`SiteDisclosure::laplace_scale`]), so it is ε-differentially private
//!   with ε = Δ / b ([`release_epsilon`]): 0.1 at security levels 1–3, 0.05 at
//!   level 4 with the defaults. Rounding and suppression act on the noised value
//!   (post-processing) and cost nothing more. A disclosure without noise has no
//!   finite ε and is refused.
//! - **Basic (sequential) composition over distinct releases.** k releases with
//!   ε₁ … ε_k over the same data set are (Σ εᵢ)-DP, δ = 0. The ledger sums ε over
//!   the distinct releases it has made and refuses a query once that sum would
//!   exceed the site's lifetime budget (`--lifetime-epsilon`,
//!   [`DEFAULT_LIFETIME_EPSILON`] = 10: 100 distinct counts at level 2). Basic
//!   composition is the loosest of the standard accountants (advanced composition
//!   or Rényi DP grow like √k but need δ > 0); it is exact to state and never
//!   under-counts. Sums are kept in millionths of ε, so they are exact.
//! - **Keyed noise makes repeats free.** The noise of a release is drawn from
//!   `NoiseSeed::derive(site secret, criteria.semantic_key(), site, stratum)`, so
//!   the same query (and every rewording the semantic normal form recognises:
//!   reordered, duplicated or nested clauses, double negations, tautologies) gets
//!   the identical draw and the identical answer: a deterministic function of the
//!   first release, which costs nothing more. A ledger key is a digest of exactly
//!   those inputs, so a release is "the same" for the ledger
//!   exactly when its noise is. A rewording the normal form does not recognise
//!   has another key, hence fresh noise and a fresh charge. A new site secret
//!   changes every draw and every key: repeats after it are charged again, as
//!   they must be.
//! - **Strata: one charge per stratum released.** A release of several strata
//!   (today a feasibility answer releases one, `"total"`) is charged ε for every
//!   stratum not charged before, all or none. Parallel composition (strata over
//!   disjoint sets of patients cost max εᵢ rather than Σ εᵢ) is not used: it needs
//!   strata that partition the patients, which the site would have to establish
//!   for every stratification (a patient with two diagnoses is in two diagnosis
//!   strata, and a total with its strata is never disjoint). Charging each
//!   stratum is never less safe; a stratification proven to be a partition could
//!   later be charged once.
//! - **When.** A query is charged when it is admitted, after its criteria are
//!   validated and before any row is read, in one store transaction that reads
//!   the total and records the charge. A failure after that (the consent service
//!   down) leaves the charge in place: the ledger may over-count, never
//!   under-count, and the retry is free. Without the ledger (store error) no
//!   count is released (fail closed).
//! - **Refusal.** Past the budget the hub gets [`FEASIBILITY_REFUSAL`], one
//!   constant text, and no count or sketch; the amounts are in the site's log.
//!
//! # Limits
//!
//! - A repeat is free on the *same* data. After the data change (ingest,
//!   withdrawal, consent), a repeat is a release over a neighbouring data set
//!   with the same noise, so its difference to the earlier answer shows the
//!   change in the true count whenever it crosses a rounding boundary (for a
//!   change of one patient with probability 1/`rounding`, see
//!   `oncofed_privacy::site`). The ledger does not charge for that; keying it by
//!   a data version would, at the price of charging every repeat after each
//!   ingest.
//! - Only feasibility releases are charged here. Analyses (describe, KM,
//!   regressions' `n`) are charged by the hub's ledgers, not yet by this one.
//! - The budget is for the data set's lifetime: it is not renewed. Raising
//!   `--lifetime-epsilon` is the site's conscious decision.

use crate::{SharedStore, with_store};
use oncofed_privacy::SiteDisclosure;
use oncofed_store::{LedgerCharge, StoreError};
use sha2::{Digest, Sha256};

/// The default lifetime ε of a site's feasibility releases: 100 distinct
/// counts at the level-2 ε of 0.1.
pub const DEFAULT_LIFETIME_EPSILON: f64 = 10.0;

/// What the hub is told when a site refuses a feasibility query for its privacy
/// budget: one constant text, whatever the amounts.
pub const FEASIBILITY_REFUSAL: &str = "feasibility query refused by the site";

/// Sensitivity of a patient count: one patient changes it by at most one.
const COUNT_SENSITIVITY: f64 = 1.0;

/// The ε one count released under `disclosure` costs: sensitivity / Laplace
/// scale. `None` without noise (no finite ε).
pub fn release_epsilon(disclosure: &SiteDisclosure) -> Option<f64> {
    let b = disclosure.laplace_scale;
    (b.is_finite() && b > 0.0).then(|| COUNT_SENSITIVITY / b)
}

/// ε in millionths, rounded up (a charge is never under-counted) unless within
/// float error of a whole millionth.
fn micro_up(epsilon: f64) -> u64 {
    let m = epsilon * 1e6;
    if (m - m.round()).abs() < 1e-6 {
        m.round() as u64
    } else {
        m.ceil() as u64
    }
}

/// A budget in millionths of ε, rounded down; not a positive number is 0
/// (everything refused).
fn micro_down(epsilon: f64) -> u64 {
    if epsilon.is_nan() || epsilon <= 0.0 {
        return 0;
    }
    let m = epsilon * 1e6;
    if (m - m.round()).abs() < 1e-6 {
        m.round() as u64
    } else {
        m.floor() as u64
    }
}

fn from_micro(m: u64) -> f64 {
    m as f64 / 1e6
}

/// The ledger key of one release: a digest of what seeds its noise (the site
/// secret, the query's semantic key, the site, the stratum), so two releases
/// share a key exactly when they share their noise. The secret keeps query
/// texts out of the store and makes a new secret's releases new keys.
pub(crate) fn ledger_key(secret: &[u8], semantic_key: &str, site: &str, stratum: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"oncofed-node/dp-ledger/v1");
    for part in [
        secret,
        semantic_key.as_bytes(),
        site.as_bytes(),
        stratum.as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// What the ledger decided for one release.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Charge {
    /// Every stratum was released before with the same noise: free.
    Repeat {
        /// Lifetime ε spent.
        spent: f64,
    },
    /// Charged `epsilon` for each of `strata` new strata.
    Charged {
        /// New strata charged.
        strata: u64,
        /// Lifetime ε spent after the charge.
        spent: f64,
    },
    /// Past the budget: nothing charged, nothing may be released.
    Refused {
        /// Lifetime ε spent.
        spent: f64,
        /// What the release would have cost.
        needed: f64,
    },
}

/// Charges one release of `keys` (one per stratum, see `ledger_key`) at
/// `epsilon` each against the lifetime `budget`, durably and atomically.
pub(crate) async fn charge(
    store: &SharedStore,
    keys: Vec<String>,
    epsilon: f64,
    budget: f64,
) -> Result<Charge, StoreError> {
    let (each, limit) = (micro_up(epsilon), micro_down(budget));
    let charge = with_store(store, move |s| s.charge_releases(&keys, each, limit)).await?;
    Ok(match charge {
        LedgerCharge::Repeat { spent } => Charge::Repeat {
            spent: from_micro(spent),
        },
        LedgerCharge::Charged { new, spent } => Charge::Charged {
            strata: new,
            spent: from_micro(spent),
        },
        LedgerCharge::Refused { spent, needed } => Charge::Refused {
            spent: from_micro(spent),
            needed: from_micro(needed),
        },
    })
}

/// What a site's lifetime ledger holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LifetimeSpent {
    /// Distinct releases (query, stratum) charged.
    pub releases: u64,
    /// Their summed ε.
    pub epsilon: f64,
}

/// The site's lifetime ledger totals (for reports and tests).
pub async fn lifetime_spent(store: &SharedStore) -> Result<LifetimeSpent, StoreError> {
    let totals = with_store(store, |s| s.ledger_totals()).await?;
    Ok(LifetimeSpent {
        releases: totals.releases,
        epsilon: from_micro(totals.micro_epsilon),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilon_in_millionths_never_undercounts_and_is_exact_for_the_defaults() {
        assert_eq!(micro_up(0.1), 100_000);
        assert_eq!(micro_up(1.0 / 10.0), 100_000);
        assert_eq!(micro_up(1.0 / 20.0), 50_000);
        assert_eq!(micro_up(1.0 / 3.0), 333_334);
        assert_eq!(micro_down(1.0 / 3.0), 333_333);
        assert_eq!(micro_down(10.0), 10_000_000);
        assert_eq!(micro_down(-1.0), 0);
        assert_eq!(micro_down(f64::NAN), 0);
    }

    #[test]
    fn a_release_without_noise_has_no_finite_epsilon() {
        let mut d = SiteDisclosure::for_level(oncofed_model::SecurityLevel::Pseudonymised);
        assert_eq!(release_epsilon(&d), Some(0.1));
        d.laplace_scale = 0.0;
        assert_eq!(release_epsilon(&d), None);
    }

    #[test]
    fn ledger_keys_follow_the_noise_seed_inputs() {
        let k = ledger_key(&[1; 32], "q", "site-1", "total");
        assert_eq!(k, ledger_key(&[1; 32], "q", "site-1", "total"));
        assert_ne!(k, ledger_key(&[2; 32], "q", "site-1", "total"));
        assert_ne!(k, ledger_key(&[1; 32], "q2", "site-1", "total"));
        assert_ne!(k, ledger_key(&[1; 32], "q", "site-1", "sex=female"));
    }
}
