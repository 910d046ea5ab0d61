//! What the pair rules of [`super::probabilistic::best_candidate`] decide on
//! two large files (tests only, ignored): each record of the second file is
//! searched for in an index of the first ([`super::blocks::simulation`]) and
//! scored as the trust centre scores it, without a store and without the
//! person-level checks. Shows which rule holds each true pair back from an
//! automatic link and what each rule keeps out, so a change to the rules is
//! weighed on millions of pairs in seconds.

use super::blocks::MAX_BLOCK;
use super::blocks::simulation::{Tree, files_from_env};
use super::probabilistic::{config, core_disagreements, demotion};
use oncofed_linkage::febrl::entity;
use oncofed_linkage::probabilistic::{compare, score};
use oncofed_linkage::{Field, Outcome, Record};
use std::collections::{BTreeMap, HashMap};

/// How the rules judge one pair: the library's outcome by score, and why a
/// match may not link (`None`: it links; `"non-match"` when the cores rule
/// the pair out altogether; a disagreeing core named, [`core`]).
fn judge(
    x: &Record,
    y: &Record,
    cfg: &oncofed_linkage::Config,
) -> (f64, Outcome, Option<&'static str>) {
    let sims = compare(x, y, cfg);
    let s = score(&sims, &cfg.weights);
    let outcome = cfg.classify(s);
    let number = sims[Field::InsuranceId as usize];
    let d = if number == Some(1.0) {
        0
    } else {
        core_disagreements(&sims) + usize::from(number == Some(0.0))
    };
    if d >= 2 || outcome == Outcome::NonMatch {
        return (s, outcome, Some("non-match"));
    }
    if outcome == Outcome::PossibleMatch {
        return (s, outcome, Some("score"));
    }
    let why = match demotion(&sims, d, x, y) {
        Some("core-disagrees") => Some(core(&sims)),
        why => why,
    };
    (s, outcome, why)
}

/// Which identity core a `core-disagrees` pair disagrees on, from the pair's
/// field similarities.
fn core(sims: &[Option<f64>]) -> &'static str {
    if sims[Field::InsuranceId as usize] == Some(0.0) {
        "core disagrees: number"
    } else if sims[Field::Family as usize] == Some(0.0) {
        "core disagrees: family name"
    } else if sims[Field::Given as usize] == Some(0.0) {
        "core disagrees: given name"
    } else {
        "core disagrees: birth date"
    }
}

/// `ONCOFED_LINKAGE_A=... ONCOFED_LINKAGE_B=... cargo test --release -p
/// oncofed-trustee --lib why_pairs_wait_on_files -- --ignored --nocapture`
#[test]
#[ignore = "reads two large CSVs"]
fn why_pairs_wait_on_files() {
    let (a, b) = files_from_env();
    let cfg = config();
    let mut tree = Tree::new(cfg.clone(), MAX_BLOCK as usize);
    for r in &a {
        tree.insert(r);
    }
    let by_entity: HashMap<&str, usize> = a
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((entity(&r.id)?, i)))
        .collect();
    // Per rule: (true pairs, other pairs) among every scored candidate pair.
    let mut held: BTreeMap<&str, [usize; 2]> = BTreeMap::new();
    // Per best-candidate result of the second file's records.
    let mut best_of: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut true_pairs = 0;
    for r in &b {
        let partner = entity(&r.id).and_then(|e| by_entity.get(e)).copied();
        true_pairs += usize::from(partner.is_some());
        let mut best: Option<(bool, f64, usize)> = None;
        for i in tree.search(r) {
            let i = i as usize;
            let (s, _, why) = judge(r, &a[i], &cfg);
            let is_true = Some(i) == partner;
            let rule = why.unwrap_or("links");
            held.entry(rule).or_default()[usize::from(!is_true)] += 1;
            if matches!(why, Some("non-match")) {
                continue;
            }
            let candidate = (why.is_none(), s, i);
            if best.is_none_or(|(m, bs, _)| (candidate.0, s) > (m, bs)) {
                best = Some(candidate);
            }
        }
        let kind = match (best, partner) {
            (Some((true, _, i)), Some(p)) if i == p => "linked, right",
            (Some((true, _, _)), Some(_)) => "linked, wrong (partner missed)",
            (Some((true, _, _)), None) => "linked, wrong (no partner)",
            (Some((false, _, i)), Some(p)) if i == p => "queued, right",
            (Some((false, _, _)), Some(_)) => "queued, wrong (partner missed)",
            (Some((false, _, _)), None) => "queued, no partner",
            (None, Some(_)) => "nothing, partner missed",
            (None, None) => "nothing, right",
        };
        *best_of.entry(kind).or_default() += 1;
    }
    println!("{} × {} records, {true_pairs} true pairs", a.len(), b.len());
    println!("best candidate per record of the second file:");
    for (kind, n) in &best_of {
        println!("  {kind:32} {n:>9}");
    }
    println!("every scored pair by the rule that decides it (true pairs, others):");
    for (rule, [t, f]) in &held {
        println!("  {rule:32} {t:>9} {f:>11}");
    }
}
