//! The Shringarpure–Bustamante membership attack against the beacon, without
//! and with the defences (a smaller world than `examples/membership.rs`, so
//! that it runs in debug mode in well under a minute).
//!
//! Tolerance: with 100 member and 100 non-member targets, the measured power
//! at FPR 0.05 of an attack no better than chance has a standard error of
//! about √(0.05·0.95/100) ≈ 0.022 from the members and as much again from the
//! threshold set on 100 non-members; "no better than chance" is asserted as
//! power ≤ 0.05 + 3·√2·0.022 = 0.1425 for the rarest-first attack; for the
//! random-order attack the budget's bound e^B·0.05 = 0.10 plus the same
//! tolerance.
use oncofed_beacon::attack::{
    AttackResult, Population, PopulationConfig, QueryOrder, curve_table, run_attack,
};
use oncofed_beacon::defence::{BudgetPolicy, DefenceConfig, RareAllelePolicy, RareMode};
use oncofed_model::SecurityLevel;

const QUERIES: [usize; 8] = [10, 25, 50, 100, 500, 1_000, 2_000, 5_000];
const FPR: f64 = 0.05;
const TOLERANCE: f64 = 0.0925;

#[test]
fn defaults_reduce_the_likelihood_ratio_attack_to_chance() {
    // 120,000 SNPs: enough rare alleles per target for the undefended attack
    // to reach its power (with 25,000 it stops at 0.55: too few rare alleles).
    let pop = Population::simulate(PopulationConfig::default());
    assert!(
        pop.min_alleles() >= 2_000,
        "every target has 2,000 alleles to query"
    );
    let defaults = DefenceConfig::for_level(SecurityLevel::Genetic);
    let rare = defaults.rare.expect("k-suppression is on by default");
    let budget = defaults.budget.expect("the budget is on by default");
    let none = DefenceConfig::none();
    // Rarest first (the paper's improved attack) up to 2,000 queries; the
    // random order (its basic attack) needs more, up to 5,000.
    let run =
        |cfg: &DefenceConfig| run_attack(&pop, cfg, QueryOrder::RarestFirst, &QUERIES[..7], FPR);
    let run_random = |cfg: &DefenceConfig| run_attack(&pop, cfg, QueryOrder::Random, &QUERIES, FPR);
    let undefended = run(&none);
    let suppression = run(&DefenceConfig {
        rare: Some(rare),
        ..none.clone()
    });
    let randomised = run(&DefenceConfig {
        rare: Some(RareAllelePolicy {
            k: rare.k,
            mode: RareMode::Randomise { flip: 0.5 },
        }),
        ..none.clone()
    });
    let budget_only = run(&DefenceConfig {
        budget: Some(BudgetPolicy::default()),
        ..none.clone()
    });
    let all = run(&defaults);
    let undefended_random = run_random(&none);
    let all_random = run_random(&defaults);
    let table = curve_table(
        &QUERIES,
        &[
            ("undefended", &undefended),
            ("k-suppression", &suppression),
            ("randomisation p = 0.5", &randomised),
            ("budget only", &budget_only),
            ("all defaults", &all),
            ("undefended, random order", &undefended_random),
            ("all defaults, random order", &all_random),
        ],
    );
    println!(
        "power at FPR {FPR} (120,000 SNPs, N = 1,000 over 3 sites, 100 + 100 targets)\n{table}"
    );
    let report = |name: &str, r: &AttackResult| {
        let max = r.contributed.iter().max().copied().unwrap_or(0);
        let most = r.spent.iter().copied().fold(0.0, f64::max);
        println!(
            "{name}: a member target was counted in at most {max} informative answers; most budget spent on one target {most:.3} of {:.3} nats",
            budget.budget
        );
    };
    report("budget only", &budget_only);
    report("all defaults", &all);
    report("all defaults, random order", &all_random);

    let at = |r: &AttackResult, q: usize| {
        r.power[QUERIES.iter().position(|x| *x == q).expect("checkpoint")]
    };
    assert!(
        at(&undefended, 1_000) >= 0.9,
        "undefended power {:?}",
        undefended.power
    );
    for (q, p) in QUERIES.iter().zip(&all.power) {
        assert!(
            *p <= FPR + TOLERANCE,
            "all defaults: power {p} after {q} queries"
        );
    }
    for (name, r) in [
        ("all defaults", &all),
        ("budget only", &budget_only),
        ("all defaults, random order", &all_random),
    ] {
        for s in &r.spent {
            assert!(
                *s <= budget.budget + 1e-12,
                "{name}: spent {s} beyond the budget"
            );
        }
        assert!(
            r.first_withheld.iter().any(Option::is_some),
            "{name}: the budget never stopped a target"
        );
    }
    if let Some(path) = std::env::var_os("ONCOFED_BEACON_CURVES") {
        std::fs::write(path, &table).expect("write the curves");
    }
}
