//! Defences against membership inference, split between sites and hub.
//!
//! A beacon answer is computed in two steps:
//!
//! 1. **at each site**, [`site_count`]: the site looks up its carriers of the
//!    queried allele (the lead's code: opaque keys of individuals whose
//!    consent covers the query), drops those whose per-researcher risk budget
//!    the answer would overrun, charges the rest, and sends its count to the
//!    hub — (b) below;
//! 2. **at the hub**, [`hub_release`]: the hub checks the caller's rate and
//!    query budget ([`admit`], before asking the sites), sums the site counts,
//!    applies the rare-allele rule, the granularity of the caller's role, and
//!    for counts the discrete Laplace noise and rounding of `oncofed-privacy` —
//!    (a), (c), (d).
//!
//! | defence | where | default | source |
//! |---|---|---|---|
//! | (a) alleles seen in < k individuals: answer "no" / 0 | hub | k = 5 (level 4: 10), suppress | Raisaro et al. 2017 (hide rare alleles) |
//! | (a') or: flip "yes" to "no" with probability p below k | hub | p = 0.5 when chosen | Raisaro et al. 2017 (randomise rare answers) |
//! | (b) per-researcher risk budget per individual | site | ln 2 nats | Raisaro et al. 2017 (query budget); value derived below |
//! | (c) rate limit and total query budget per researcher | hub | 10 per minute, 1,000 per 30 days | backstop, see [`RatePolicy`] |
//! | (d) discrete Laplace noise, rounding, suppression of counts | hub | `SiteDisclosure::for_level` | `oncofed-privacy` (samply/focus, MII) |
//!
//! References: J. L. Raisaro, F. Tramèr, Z. Ji et al., "Addressing Beacon
//! re-identification attacks: quantification and mitigation of privacy
//! risks", JAMIA 24(4):799–805, 2017; S. S. Shringarpure, C. D. Bustamante,
//! "Privacy risks from genomic data-sharing beacons", AJHG 97(5):631–646,
//! 2015. The full text of Raisaro et al. was not reachable from this machine;
//! the budget follows its published design (each individual has a budget, each
//! answer an individual contributes to spends the likelihood-ratio evidence it
//! gives the Shringarpure–Bustamante test, an individual whose budget is spent
//! stops contributing for that researcher) with the cost and budget value
//! derived in [`BudgetPolicy`], which may differ in detail from the paper's.
//! `tests/membership.rs` measures what each defence buys against that test.
use oncofed_model::SecurityLevel;
use oncofed_privacy::{NoiseSeed, Released, SiteDisclosure, obfuscate};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashSet;

use crate::granularity::{NotPermitted, Role, grant};
use crate::model::{
    BeaconIdentity, BooleanResponse, CountResponse, Granularity, ReceivedRequestSummary,
};

mod ledger;

pub use ledger::{
    BudgetLedger, IndividualKey, MemoryLedger, MemoryQueryCounter, QueryCounter, ResearcherId,
};

/// Sequencing-error rate δ of Shringarpure & Bustamante (2015): the
/// probability that a beacon misses an allele a member carries. Their value,
/// 10⁻⁶; it enters the likelihood ratio of a "yes" only through `1 − δ·D`.
pub const SEQUENCING_ERROR: f64 = 1e-6;

/// What to do with an allele seen in fewer than `k` individuals (all sites).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum RareMode {
    /// Answer "no" / 0.
    Suppress,
    /// Answer "no" with probability `flip`, the true answer otherwise; the draw
    /// is keyed by the hub secret and the query fingerprint, so a repeated (or
    /// reworded) query gets the same answer and cannot be averaged.
    Randomise {
        /// Probability of answering "no" for a rare allele that is present.
        flip: f64,
    },
}

/// Defence (a): the rare-allele rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RareAllelePolicy {
    /// Alleles carried by fewer than `k` individuals in total are rare.
    pub k: u64,
    /// Suppress or randomise them.
    pub mode: RareMode,
}

/// Defence (b): the per-researcher risk budget of each individual.
///
/// **Cost of an answer.** In the Shringarpure–Bustamante test a "yes" on an
/// allele of frequency f in a beacon of N individuals has probability
/// `1 − D_N` if the target is not a member and `1 − δ·D_{N−1}` if they are,
/// with `D_n = (1 − f)^{2n}`. The log-likelihood ratio a "yes" adds in favour
/// of membership is therefore
/// `cost(f) = ln(1 − δ·D_{N−1}) − ln(1 − D_N)` nats, which is what each
/// contributing carrier is charged (≈ 0 for common alleles, ≈ −ln(2Nf) for
/// rare ones). Under the hub's rare-allele rule the same ratio is computed for
/// the thresholded answer ([`BudgetPolicy::answer_cost`]).
///
/// **Budget.** If every answer an individual contributes to is charged its
/// log-likelihood ratio and the total is capped at `B`, the attacker's
/// likelihood ratio from those answers is at most `e^B`, and for any test
/// `P(flag | member) ≤ e^B · P(flag | non-member)`: the power at false-positive
/// rate α is at most `e^B·α`. `B = ln 2` bounds it at 2α (0.10 at α = 0.05).
/// An individual is counted only while `spent + cost ≤ B` (the cap is never
/// exceeded, so a single answer costing more than `B` is never given).
///
/// Caveats, measured or stated in `tests/membership.rs`: the bound holds for
/// the frequencies the defender uses; an attacker with better frequencies than
/// the `allele_frequency` passed in gets more than was charged. An allele
/// without a known frequency is charged as if its frequency were
/// `min_frequency` (novel alleles are the most identifying). Somatic tumour
/// variants are not germline genotypes; callers should pass a frequency from a
/// somatic catalogue for them, or they will be answered like novel alleles.
/// Charging happens at the site when the individual is counted, before the hub
/// decides the answer (a site cannot know the hub's answer without a second
/// round), which spends the budget somewhat faster than charging only "yes"
/// answers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BudgetPolicy {
    /// Budget per (researcher, individual) in nats (default ln 2).
    pub budget: f64,
    /// δ of the likelihood ratio (default [`SEQUENCING_ERROR`]).
    pub error_rate: f64,
    /// Frequency assumed when none is known, and the floor of all frequencies
    /// (default 1/(2·10,000): one allele in the 10,000 genomes of the neutral
    /// spectrum's lower end).
    pub min_frequency: f64,
}

impl Default for BudgetPolicy {
    fn default() -> Self {
        Self {
            budget: std::f64::consts::LN_2,
            error_rate: SEQUENCING_ERROR,
            min_frequency: 1.0 / 20_000.0,
        }
    }
}

impl BudgetPolicy {
    /// The cost of one answer an individual contributes to: the log-likelihood
    /// ratio a "yes" gives for membership, for a beacon of `beacon_size`
    /// individuals, an allele of population `frequency` (`None` or invalid:
    /// `min_frequency`), under the hub's `rare` rule (`None`: plain beacon).
    ///
    /// With carrier probability `q = 1 − (1 − f)²` (Hardy–Weinberg) and `C` the
    /// number of carriers, `P(yes | member) = P(1 + Bin(N−1, q) passes)` and
    /// `P(yes | not) = P(Bin(N, q) passes)`, where a count `c` passes with
    /// probability 1 if `c ≥ k`, `1 − flip` if `1 ≤ c < k` (randomised; 0 when
    /// suppressed), 0 if `c = 0`. The cost is `ln P(yes | member) − ln P(yes | not)`.
    /// Without a rare rule (k = 1) this is `−ln(1 − D_N)`, Shringarpure and
    /// Bustamante's "yes" term up to δ. With the rule, alleles near `k`
    /// carriers become the informative ones (a member adds the carrier that
    /// tips the count over `k`), and they are priced as such: charging the
    /// plain-beacon cost under k-suppression under-prices them (measured:
    /// power 0.11 instead of 0.06 at B = 0.25).
    pub fn answer_cost(
        &self,
        beacon_size: u64,
        frequency: Option<f64>,
        rare: Option<RareAllelePolicy>,
    ) -> f64 {
        let floor = if self.min_frequency.is_finite() && self.min_frequency > 0.0 {
            self.min_frequency.min(0.5)
        } else {
            1e-9
        };
        let f = frequency
            .filter(|f| f.is_finite())
            .map_or(floor, |f| f.clamp(floor, 1.0));
        let n = beacon_size.max(1);
        // q = 1 − (1 − f)² = f(2 − f), exact for small f.
        let q = (f * (2.0 - f)).clamp(0.0, 1.0);
        let (k, keep_rare) = match rare {
            None => (1, 0.0),
            Some(r) => (
                r.k.max(1),
                match r.mode {
                    RareMode::Suppress => 0.0,
                    RareMode::Randomise { flip } => (1.0 - flip).clamp(0.0, 1.0),
                },
            ),
        };
        // Member: 1 + Bin(N−1, q) ≥ k  ⇔  Bin(N−1, q) ≥ k − 1.
        let member_pass = binomial_tail(n - 1, q, k - 1);
        let member_yes = member_pass + keep_rare * (1.0 - member_pass);
        let other_pass = binomial_tail(n, q, k);
        let other_any = binomial_tail(n, q, 1);
        let other_yes = other_pass + keep_rare * (other_any - other_pass).max(0.0);
        let cost = member_yes.ln() - other_yes.ln();
        if cost.is_nan() {
            f64::MAX
        } else {
            cost.clamp(0.0, f64::MAX)
        }
    }
}

/// `P(Bin(n, q) ≥ k)`, accurate in both tails (summed directly where it is
/// small, as a complement where it is large).
fn binomial_tail(n: u64, q: f64, k: u64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || q <= 0.0 {
        return 0.0;
    }
    if q >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let ln_q = q.ln();
    let ln_p = (-q).ln_1p();
    let ln_term = |i: u64| -> f64 {
        let mut ln_choose = 0.0;
        for j in 0..i {
            ln_choose += ((n - j) as f64).ln() - ((j + 1) as f64).ln();
        }
        ln_choose + i as f64 * ln_q + (n - i) as f64 * ln_p
    };
    let ratio = |i: u64| (nf - i as f64) / (i as f64 + 1.0) * q / (1.0 - q);
    if nf * q < k as f64 {
        // Upper tail small: sum P(k), P(k+1), ... while the terms matter.
        let mut term = ln_term(k).exp();
        let mut sum = 0.0;
        let mut i = k;
        while i <= n {
            sum += term;
            if term <= sum * 1e-17 {
                break;
            }
            term *= ratio(i);
            i += 1;
        }
        sum.min(1.0)
    } else {
        // Lower tail P(0..k−1) is at most about one half: no cancellation.
        let mut term = ln_term(0).exp();
        let mut lower = 0.0;
        for i in 0..k {
            lower += term;
            term *= ratio(i);
        }
        (1.0 - lower).clamp(0.0, 1.0)
    }
}

/// Defence (c): per-researcher rate limit and total query budget.
///
/// A backstop against scripted enumeration, not the membership defence itself:
/// the measured attack (`tests/membership.rs`) reaches its power within a few
/// hundred queries, which no usable quota prevents; the risk budget (b) does.
/// Defaults: 10 per minute (a person looking up variants by hand), 1,000 per
/// rolling 30 days (the MII feasibility portal's idea of a hard quota,
/// `oncofed_privacy::QueryBudget`, scaled to single-variant lookups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatePolicy {
    /// Queries per 60 seconds.
    pub per_minute: u64,
    /// Queries per `window_secs`.
    pub per_window: u64,
    /// The long window in seconds.
    pub window_secs: u64,
}

impl Default for RatePolicy {
    fn default() -> Self {
        Self {
            per_minute: 10,
            per_window: 1_000,
            window_secs: 30 * 24 * 3600,
        }
    }
}

/// A query refused by [`admit`]; Beacon error 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RateRefusal {
    /// More than `per_minute` in the last 60 s.
    #[error("too many queries in the last minute (limit {0}); slow down")]
    TooFrequent(u64),
    /// The total budget of the window is used up.
    #[error("query budget used up ({0} per {1} days)")]
    BudgetExhausted(u64, u64),
}

/// Checks and records one query of `researcher` at `now` (Unix seconds). A
/// refused query is not recorded.
pub fn admit<C: QueryCounter + ?Sized>(
    researcher: &ResearcherId,
    now: u64,
    policy: &RatePolicy,
    counter: &mut C,
) -> Result<(), RateRefusal> {
    if counter.count_since(researcher, now.saturating_sub(59)) >= policy.per_minute {
        return Err(RateRefusal::TooFrequent(policy.per_minute));
    }
    let since = now.saturating_sub(policy.window_secs.saturating_sub(1));
    if counter.count_since(researcher, since) >= policy.per_window {
        return Err(RateRefusal::BudgetExhausted(
            policy.per_window,
            policy.window_secs / 86_400,
        ));
    }
    counter.record(researcher, now);
    Ok(())
}

/// All defences of a deployment. `None` disables one (measurement only; the
/// defaults have everything on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefenceConfig {
    /// (a) the rare-allele rule.
    pub rare: Option<RareAllelePolicy>,
    /// (b) the per-individual risk budget.
    pub budget: Option<BudgetPolicy>,
    /// (c) rate limit and query budget.
    pub rate: RatePolicy,
    /// (d) noise, rounding and threshold of released counts; `None` =
    /// `SiteDisclosure::for_level` of the data set.
    pub counts: Option<SiteDisclosure>,
}

impl DefenceConfig {
    /// The defaults for a data set of `level`: k = 5, suppressed, at levels
    /// 1–3 and k = 10 at level 4 (twice the count, as `oncofed-privacy` doubles
    /// its noise there); budget ln 2; 10/min, 1,000 per 30 days.
    pub fn for_level(level: SecurityLevel) -> Self {
        let k = if level == SecurityLevel::GeneticLinked {
            10
        } else {
            5
        };
        Self {
            rare: Some(RareAllelePolicy {
                k,
                mode: RareMode::Suppress,
            }),
            budget: Some(BudgetPolicy::default()),
            rate: RatePolicy::default(),
            counts: None,
        }
    }

    /// No defence at all except the rate limit (the baseline of the measurements).
    pub fn none() -> Self {
        Self {
            rare: None,
            budget: None,
            rate: RatePolicy::default(),
            counts: Some(SiteDisclosure {
                threshold: 0,
                rounding: 1,
                laplace_scale: 0.0,
            }),
        }
    }
}

impl Default for DefenceConfig {
    fn default() -> Self {
        Self::for_level(SecurityLevel::Genetic)
    }
}

/// What the hub tells each site along with the query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteQuery {
    /// The caller whose budgets are charged.
    pub researcher: ResearcherId,
    /// Individuals in the whole beacon (all sites), N of the cost.
    pub beacon_size: u64,
    /// Population frequency of the queried allele (e.g. gnomAD), if known.
    pub allele_frequency: Option<f64>,
}

/// A site's answer. Only `count` goes to the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteOutcome {
    /// Carriers counted (distinct keys within budget).
    pub count: u64,
    /// Carriers left out because the answer would overrun their budget
    /// (site-local figure, for the site's log).
    pub withheld: u64,
}

/// Step 1, at a site: counts the distinct `carriers` within their budget and
/// charges each counted one the answer's cost (defence b).
///
/// `carriers` are the site's individuals carrying the queried allele whose
/// consent covers the query; the caller has checked consent already.
pub fn site_count<'a, I, L>(
    carriers: I,
    query: &SiteQuery,
    cfg: &DefenceConfig,
    ledger: &mut L,
) -> SiteOutcome
where
    I: IntoIterator<Item = &'a IndividualKey>,
    L: BudgetLedger + ?Sized,
{
    let mut seen: HashSet<&IndividualKey> = HashSet::new();
    let mut out = SiteOutcome {
        count: 0,
        withheld: 0,
    };
    let policy = cfg.budget;
    let cost = policy.map(|p| p.answer_cost(query.beacon_size, query.allele_frequency, cfg.rare));
    for key in carriers {
        if !seen.insert(key) {
            continue;
        }
        match (policy, cost) {
            (Some(p), Some(c)) => {
                let spent = ledger.spent(&query.researcher, key);
                if spent.is_finite() && spent + c <= p.budget {
                    ledger.charge(&query.researcher, key, c);
                    out.count += 1;
                } else {
                    out.withheld += 1;
                }
            }
            _ => out.count += 1,
        }
    }
    out
}

/// What the hub knows about the query when releasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubQuery<'a> {
    /// [`crate::model::VariantQuery::fingerprint`] of the query.
    pub fingerprint: &'a str,
    /// Security level of the data set queried.
    pub level: SecurityLevel,
    /// The caller's role.
    pub role: Role,
    /// The granularity the caller asked for.
    pub requested: Option<Granularity>,
    /// The hub's noise secret (≥ 32 random bytes, from a file).
    pub hub_secret: &'a [u8],
}

/// Why the released answer differs from the plain one, for the response `info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Adjustment {
    /// The true answer.
    None,
    /// Rare allele suppressed (or randomised to "no").
    RareAllele,
    /// Count below the release threshold after noise, reported as 0.
    BelowThreshold,
}

/// The answer the hub releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// Boolean or count.
    pub granularity: Granularity,
    /// The released "exists".
    pub exists: bool,
    /// The released (noised, rounded) count for count granularity.
    pub count: Option<u64>,
    /// What was applied.
    pub adjustment: Adjustment,
    /// The rounding step and threshold of counts (for the `info` note).
    pub rounding: u64,
    /// Counts below this are reported as 0.
    pub threshold: u64,
}

impl Release {
    /// The disclosure note placed in the response's `info`.
    pub fn info(&self) -> Value {
        json!({ "oncofedDisclosure": {
            "granularity": self.granularity.as_str(),
            "countsRoundedTo": self.rounding,
            "countsBelowReportedAsZero": self.threshold,
            "rareAllelesAndBudgetsApply": true,
        }})
    }

    /// The Beacon response document (boolean or count) for this release.
    pub fn to_response(&self, id: &BeaconIdentity, summary: ReceivedRequestSummary) -> Value {
        let info = Some(self.info());
        let doc = match (self.granularity, self.count) {
            (Granularity::Count, Some(c)) => {
                serde_json::to_value(CountResponse::new(id, summary, c, info))
            }
            _ => serde_json::to_value(BooleanResponse::new(id, summary, self.exists, info)),
        };
        doc.unwrap_or(Value::Null)
    }
}

/// A uniform number in (0, 1) keyed by the hub secret and the query, from the
/// privacy crate's keyed discrete Laplace draw (`NoiseSeed`: HMAC-SHA256 →
/// ChaCha20) pushed through its own distribution function (probability
/// integral transform, resolution ~10⁻⁶ at scale 2²⁰).
fn keyed_uniform(secret: &[u8], fingerprint: &str, stratum: &str) -> f64 {
    const SCALE: f64 = 1_048_576.0; // 2^20
    const OFFSET: u64 = 1 << 40;
    let seed = NoiseSeed::derive(secret, fingerprint.as_bytes(), "hub", stratum);
    let cfg = SiteDisclosure {
        threshold: 0,
        rounding: 1,
        laplace_scale: SCALE,
    };
    let Released::Count(v) = obfuscate(OFFSET, &cfg, &seed) else {
        return 0.0; // fail closed: "flip" (answer no)
    };
    let x = v as f64 - OFFSET as f64;
    let r = (-1.0 / SCALE).exp();
    let atom = (1.0 - r) / (1.0 + r) * r.powf(x.abs());
    // P(X < x) + P(X = x)/2
    let below = if x >= 0.0 {
        1.0 - r.powf(x) / (1.0 + r)
    } else {
        r.powf(-x + 1.0) / (1.0 + r)
    };
    (below - atom / 2.0).clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON)
}

/// Step 2, at the hub: sums the sites' counts and releases the answer the
/// caller may see (defences a and d, and the granularity table).
pub fn hub_release(
    site_counts: &[u64],
    cfg: &DefenceConfig,
    query: &HubQuery<'_>,
) -> Result<Release, NotPermitted> {
    let granularity = grant(query.level, query.role, query.requested)?;
    let total = site_counts.iter().fold(0u64, |a, c| a.saturating_add(*c));
    let disclosure = cfg
        .counts
        .unwrap_or_else(|| SiteDisclosure::for_level(query.level));
    let mut release = Release {
        granularity,
        exists: total > 0,
        count: None,
        adjustment: Adjustment::None,
        rounding: disclosure.rounding,
        threshold: disclosure.threshold,
    };
    let mut effective = total;
    if let Some(rare) = cfg.rare
        && total > 0
        && total < rare.k
    {
        let hide = match rare.mode {
            RareMode::Suppress => true,
            RareMode::Randomise { flip } => {
                keyed_uniform(
                    query.hub_secret,
                    query.fingerprint,
                    "beacon-rare-allele-flip",
                ) < flip
            }
        };
        if hide {
            effective = 0;
            release.exists = false;
            release.adjustment = Adjustment::RareAllele;
        }
    }
    if granularity == Granularity::Count {
        let seed = NoiseSeed::derive(
            query.hub_secret,
            query.fingerprint.as_bytes(),
            "hub",
            "beacon-count",
        );
        let released = if effective == 0 {
            // Nothing to release: zero stays zero (noise on an absent allele
            // would invent carriers; the rare-allele rule already decided).
            Released::Count(0)
        } else {
            obfuscate(effective, &disclosure, &seed)
        };
        let count = released.count().unwrap_or(0);
        if released == Released::Suppressed && release.adjustment == Adjustment::None {
            release.adjustment = Adjustment::BelowThreshold;
        }
        release.count = Some(count);
        release.exists = count > 0;
    }
    Ok(release)
}

#[cfg(test)]
#[path = "defence_tests.rs"]
mod tests;
