//! The membership attack the defences are measured against.
//!
//! Shringarpure & Bustamante, "Privacy risks from genomic data-sharing
//! beacons", AJHG 97(5):631–646, 2015: an attacker holding a target's genome
//! and reference allele frequencies asks the beacon about the target's
//! alternate alleles and tests
//! H0 "the target is not in the beacon" against H1 "the target is in it" with
//! the likelihood-ratio statistic
//!
//! `Λ = Σᵢ xᵢ·ln((1 − D_N(fᵢ)) / (1 − δ·D_{N−1}(fᵢ))) + (1 − xᵢ)·ln(D_N(fᵢ) / (δ·D_{N−1}(fᵢ)))`
//!
//! with `xᵢ = 1` for "yes", `D_n(f) = (1 − f)^{2n}` the probability that none
//! of n individuals carries an allele of frequency f, N the beacon size and δ
//! the sequencing-error rate (10⁻⁶). Small Λ means "member". This module uses
//! the paper's improved attack: per-allele frequencies and the rarest alleles
//! first. The threshold is set on non-members at a fixed false-positive rate
//! ([`power_at_fpr`]).
//!
//! [`Population`] simulates what the paper's theory assumes: independent
//! biallelic sites with frequencies from the neutral site-frequency spectrum
//! (density ∝ 1/f on [1/(2·10,000), 1/2]), genotypes in Hardy–Weinberg
//! proportions, a beacon of N individuals spread over several sites, targets
//! in and out of it, and reference frequencies from a separate sample.
//! [`run_attack`] plays the attack through the real [`site_count`] and
//! [`hub_release`] for any [`DefenceConfig`].
use oncofed_model::SecurityLevel;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::defence::{
    BudgetLedger, BudgetPolicy, DefenceConfig, HubQuery, IndividualKey, MemoryLedger, ResearcherId,
    SEQUENCING_ERROR, SiteQuery, hub_release, site_count,
};
use crate::granularity::Role;
use crate::model::Granularity;

/// The Shringarpure–Bustamante likelihood-ratio statistic for one beacon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lrt {
    /// Beacon size N (individuals).
    pub beacon_size: u64,
    /// Sequencing-error rate δ.
    pub error_rate: f64,
}

impl Lrt {
    /// The statistic for a beacon of `beacon_size` with the paper's δ = 10⁻⁶.
    pub fn new(beacon_size: u64) -> Self {
        Self {
            beacon_size,
            error_rate: SEQUENCING_ERROR,
        }
    }

    /// The term one answer adds to Λ for an allele of frequency `f`.
    pub fn increment(&self, f: f64, yes: bool) -> f64 {
        let f = f.clamp(1e-12, 1.0 - 1e-12);
        let n = self.beacon_size.max(1) as f64;
        let ln_keep = (-f).ln_1p();
        let d_n = (2.0 * n * ln_keep).exp();
        let d_rest = (2.0 * (n - 1.0) * ln_keep).exp();
        let delta = self.error_rate.max(1e-300);
        if yes {
            (-(2.0 * n * ln_keep).exp_m1()).ln() - (-delta * d_rest).ln_1p()
        } else {
            d_n.ln() - (delta * d_rest).ln()
        }
    }
}

/// Power at false-positive rate `fpr` of the test "member if Λ is small",
/// with the threshold set on `non_members` (the most powerful randomised
/// test: at the threshold value itself, "member" with the probability that
/// makes the false-positive rate exactly `fpr`). Returns 0 for empty input.
pub fn power_at_fpr(members: &[f64], non_members: &[f64], fpr: f64) -> f64 {
    if members.is_empty() || non_members.is_empty() {
        return 0.0;
    }
    let mut null: Vec<f64> = non_members.to_vec();
    null.sort_by(f64::total_cmp);
    let n0 = null.len() as f64;
    let target = fpr.clamp(0.0, 1.0) * n0;
    let mut i = 0;
    while i < null.len() {
        let v = null[i];
        let at = null[i..].iter().take_while(|x| **x == v).count();
        if (i + at) as f64 >= target {
            let gamma = if at == 0 {
                0.0
            } else {
                (target - i as f64) / at as f64
            };
            let below = members.iter().filter(|m| **m < v).count() as f64;
            let equal = members.iter().filter(|m| **m == v).count() as f64;
            return (below + gamma * equal) / members.len() as f64;
        }
        i += at;
    }
    1.0
}

/// The simulated world.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationConfig {
    /// Biallelic sites.
    pub snps: usize,
    /// Beacon size N.
    pub beacon_size: usize,
    /// Sites the beacon members are spread over (member i at site i mod sites).
    pub sites: usize,
    /// Targets inside the beacon (members 0..members_targeted).
    pub members_targeted: usize,
    /// Targets outside the beacon.
    pub non_members: usize,
    /// Individuals in the reference sample the frequencies come from.
    pub reference_size: usize,
    /// Lower end of the neutral spectrum: 1/(2·10,000).
    pub min_frequency: f64,
    /// Seed of the whole simulation.
    pub seed: u64,
}

impl Default for PopulationConfig {
    fn default() -> Self {
        Self {
            snps: 120_000,
            beacon_size: 1_000,
            sites: 3,
            members_targeted: 100,
            non_members: 100,
            reference_size: 1_000,
            min_frequency: 1.0 / 20_000.0,
            seed: 2015,
        }
    }
}

/// Carriers of one allele among the beacon members.
#[derive(Debug, Clone, PartialEq)]
enum Carriers {
    /// Member indices (rare and low-frequency alleles).
    Listed(Vec<u32>),
    /// Only the number (common alleles: ≥ 50 expected carriers, where every
    /// defence answers "yes" and the budget cost of an answer is below
    /// e⁻⁵⁰, so listing them would change nothing but the run time).
    Many(u32),
}

/// A simulated population: the beacon's carriers, the targets' alleles and the
/// reference frequencies.
#[derive(Debug, Clone)]
pub struct Population {
    config: PopulationConfig,
    reference_frequency: Vec<f64>,
    beacon: Vec<Carriers>,
    /// Alleles of each target (members first, then non-members), rarest
    /// first by reference frequency.
    target_alleles: Vec<Vec<u32>>,
}

/// Positions `0..n` of successes of `n` Bernoulli(p) trials by geometric skips
/// (work proportional to the successes), passed to `hit`.
fn bernoulli_positions<R: Rng>(n: usize, p: f64, rng: &mut R, mut hit: impl FnMut(usize)) {
    if p <= 0.0 || n == 0 {
        return;
    }
    if p >= 1.0 {
        (0..n).for_each(hit);
        return;
    }
    let ln_q = (-p).ln_1p();
    let mut i: f64 = -1.0;
    loop {
        let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
        i += (u.ln() / ln_q).floor() + 1.0;
        if i >= n as f64 {
            return;
        }
        hit(i as usize);
    }
}

impl Population {
    /// Simulates a population (deterministic in `config.seed`).
    pub fn simulate(mut config: PopulationConfig) -> Self {
        config.members_targeted = config.members_targeted.min(config.beacon_size);
        config.sites = config.sites.max(1);
        let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
        let n_targets = config.members_targeted + config.non_members;
        let others = config.beacon_size.saturating_sub(config.members_targeted);
        let lo = config.min_frequency.clamp(1e-9, 0.5);
        let mut reference_frequency = Vec::with_capacity(config.snps);
        let mut beacon = Vec::with_capacity(config.snps);
        let mut target_alleles: Vec<Vec<u32>> = vec![Vec::new(); n_targets];
        for j in 0..config.snps {
            // Inverse CDF of density ∝ 1/f on [lo, 1/2].
            let u: f64 = rng.random();
            let f = lo * (0.5 / lo).powf(u);
            let carrier = 1.0 - (1.0 - f) * (1.0 - f);
            let mut ref_copies = 0usize;
            bernoulli_positions(2 * config.reference_size, f, &mut rng, |_| ref_copies += 1);
            reference_frequency
                .push((ref_copies as f64 + 0.5) / (2 * config.reference_size + 1) as f64);
            let mut listed = Vec::new();
            bernoulli_positions(n_targets, carrier, &mut rng, |t| {
                target_alleles[t].push(j as u32);
                if t < config.members_targeted {
                    listed.push(t as u32);
                }
            });
            let member_targets = listed.len();
            let expected = others as f64 * carrier;
            if expected < 50.0 {
                bernoulli_positions(others, carrier, &mut rng, |i| {
                    listed.push((config.members_targeted + i) as u32);
                });
                beacon.push(Carriers::Listed(listed));
            } else {
                let mut count = member_targets as u32;
                bernoulli_positions(others, carrier, &mut rng, |_| count += 1);
                beacon.push(Carriers::Many(count));
            }
        }
        for alleles in &mut target_alleles {
            alleles.sort_by(|a, b| {
                reference_frequency[*a as usize]
                    .total_cmp(&reference_frequency[*b as usize])
                    .then(a.cmp(b))
            });
        }
        Self {
            config,
            reference_frequency,
            beacon,
            target_alleles,
        }
    }

    /// The configuration simulated.
    pub fn config(&self) -> &PopulationConfig {
        &self.config
    }

    /// Fewest alternate alleles any target has (the most queries possible).
    pub fn min_alleles(&self) -> usize {
        self.target_alleles.iter().map(Vec::len).min().unwrap_or(0)
    }
}

/// The order in which the attacker queries the target's alleles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryOrder {
    /// Rarest first by reference frequency (the paper's improved attack).
    RarestFirst,
    /// A random order (the paper's basic attack), seeded per target.
    Random,
}

/// One attack run against one defence configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackResult {
    /// Power at the false-positive rate, per entry of the query counts.
    pub power: Vec<f64>,
    /// For each member target: informative answers (cost ≥ 0.001 nats under
    /// the default budget policy) the target was counted in.
    pub contributed: Vec<usize>,
    /// For each member target: the query (1-based) at which the target was
    /// first left out, if ever.
    pub first_withheld: Vec<Option<usize>>,
    /// For each member target: the budget its attacker spent on it (nats).
    pub spent: Vec<f64>,
}

/// Plays the attack on every target (each target by its own researcher
/// account, the worst case for per-researcher budgets' bookkeeping but the
/// best case for the attacker: no target's queries spend another's budget) for
/// up to the largest of `query_counts` queries, with boolean answers to a
/// public caller on a level-3 data set, and returns the power at `fpr` after
/// each number of queries in `query_counts`.
pub fn run_attack(
    pop: &Population,
    defences: &DefenceConfig,
    order: QueryOrder,
    query_counts: &[usize],
    fpr: f64,
) -> AttackResult {
    let cfg = &pop.config;
    let n = cfg.beacon_size as u64;
    let lrt = Lrt::new(n);
    let sites = cfg.sites.max(1);
    let keys: Vec<IndividualKey> = (0..cfg.beacon_size)
        .map(|i| IndividualKey::new(format!("m{i}")))
        .collect();
    let max_q = query_counts.iter().copied().max().unwrap_or(0);
    let secret = b"simulation hub secret, 32 bytes!";
    let mut stats: Vec<Vec<f64>> = Vec::with_capacity(pop.target_alleles.len());
    let mut contributed = Vec::new();
    let mut first_withheld = Vec::new();
    let mut spent = Vec::new();
    let pricing = BudgetPolicy::default();
    for (t, sorted) in pop.target_alleles.iter().enumerate() {
        let shuffled;
        let alleles = match order {
            QueryOrder::RarestFirst => sorted,
            QueryOrder::Random => {
                let mut v = sorted.clone();
                v.shuffle(&mut ChaCha20Rng::seed_from_u64(cfg.seed ^ (t as u64 + 1)));
                shuffled = v;
                &shuffled
            }
        };
        let member = t < cfg.members_targeted;
        let researcher = ResearcherId::new(format!("attacker-{t}"));
        let mut ledgers: Vec<MemoryLedger> = (0..sites).map(|_| MemoryLedger::new()).collect();
        let mut lambda = 0.0;
        let mut at_checkpoints = Vec::with_capacity(query_counts.len());
        let mut trace = Vec::with_capacity(max_q.min(alleles.len()) + 1);
        trace.push(0.0);
        let mut counted = 0usize;
        let mut withheld_at = None;
        for (q, &j) in alleles.iter().take(max_q).enumerate() {
            let f = pop.reference_frequency[j as usize];
            let query = SiteQuery {
                researcher: researcher.clone(),
                beacon_size: n,
                allele_frequency: Some(f),
            };
            let mut per_site = vec![0u64; sites];
            match &pop.beacon[j as usize] {
                Carriers::Listed(list) => {
                    for (s, site_total) in per_site.iter_mut().enumerate() {
                        let here = list
                            .iter()
                            .filter(|i| **i as usize % sites == s && !(member && **i as usize == t))
                            .map(|i| &keys[*i as usize]);
                        *site_total = site_count(here, &query, defences, &mut ledgers[s]).count;
                    }
                }
                Carriers::Many(c) => per_site[0] = u64::from(*c).saturating_sub(u64::from(member)),
            }
            if member {
                let s = t % sites;
                let own = site_count([&keys[t]], &query, defences, &mut ledgers[s]).count;
                if own == 0 && withheld_at.is_none() {
                    withheld_at = Some(q + 1);
                }
                if own == 1 && pricing.answer_cost(n, Some(f), defences.rare) >= 1e-3 {
                    counted += 1;
                }
                per_site[s] += own;
            }
            let fingerprint = format!("snp{j}");
            let yes = hub_release(
                &per_site,
                defences,
                &HubQuery {
                    fingerprint: &fingerprint,
                    level: SecurityLevel::Genetic,
                    role: Role::Public,
                    requested: Some(Granularity::Boolean),
                    hub_secret: secret,
                },
            )
            .map(|r| r.exists)
            .unwrap_or(false);
            lambda += lrt.increment(f, yes);
            trace.push(lambda);
        }
        for &q in query_counts {
            at_checkpoints.push(trace[q.min(trace.len() - 1)]);
        }
        if member {
            contributed.push(counted);
            first_withheld.push(withheld_at);
            spent.push(ledgers[t % sites].spent(&researcher, &keys[t]));
        }
        stats.push(at_checkpoints);
    }
    let power = (0..query_counts.len())
        .map(|c| {
            let (m, o): (Vec<f64>, Vec<f64>) = (
                stats[..cfg.members_targeted].iter().map(|s| s[c]).collect(),
                stats[cfg.members_targeted..].iter().map(|s| s[c]).collect(),
            );
            power_at_fpr(&m, &o, fpr)
        })
        .collect();
    AttackResult {
        power,
        contributed,
        first_withheld,
        spent,
    }
}

/// A Markdown table: one row per query count, one column per named result
/// ("–" where a result stops before that count).
pub fn curve_table(query_counts: &[usize], results: &[(&str, &AttackResult)]) -> String {
    let mut out = String::from("| queries |");
    for (name, _) in results {
        out.push_str(&format!(" {name} |"));
    }
    out.push_str("\n|---:|");
    out.push_str(&"---:|".repeat(results.len()));
    out.push('\n');
    for (i, q) in query_counts.iter().enumerate() {
        out.push_str(&format!("| {q} |"));
        for (_, r) in results {
            match r.power.get(i) {
                Some(p) => out.push_str(&format!(" {p:.2} |")),
                None => out.push_str(" – |"),
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_no_on_a_rare_allele_is_strong_evidence_of_absence() {
        let lrt = Lrt::new(1000);
        assert!(lrt.increment(1e-4, false) > 13.0);
        assert!(lrt.increment(1e-4, true) < -1.0);
        assert!(lrt.increment(0.3, true).abs() < 1e-9);
    }

    #[test]
    fn power_uses_the_exact_false_positive_rate() {
        let non: Vec<f64> = (0..100).map(f64::from).collect();
        // FPR 0.05 of 100: "member" below 4 and at 4 itself; 0.5 and 3.5 detected.
        let members = [0.5, 3.5, 10.0, 100.0];
        assert!((power_at_fpr(&members, &non, 0.05) - 0.5).abs() < 1e-12);
        // All members below every non-member: power 1.
        assert_eq!(power_at_fpr(&[-1.0; 10], &non, 0.05), 1.0);
        // Members drawn like non-members: power ≈ fpr.
        assert!((power_at_fpr(&non, &non, 0.05) - 0.05).abs() < 1e-12);
    }
}
