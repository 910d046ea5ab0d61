//! The membership attack against each defence, at full size (release build):
//!
//! `cargo run --release -p oncofed-beacon --example membership [-- OUT.md [TARGETS]]`
//!
//! Prints the power curves (queries × power at FPR 0.05) and, with a path,
//! writes them there as Markdown. TARGETS (default 100) member and as many
//! non-member targets.
use oncofed_beacon::attack::{
    AttackResult, Population, PopulationConfig, QueryOrder, curve_table, run_attack,
};
use oncofed_beacon::defence::{BudgetPolicy, DefenceConfig, RareAllelePolicy, RareMode};
use oncofed_model::SecurityLevel;
use std::time::Instant;

const QUERIES: [usize; 9] = [10, 25, 50, 100, 500, 1_000, 2_000, 5_000, 10_000];
const FPR: f64 = 0.05;

fn main() {
    let out = std::env::args().nth(1);
    let targets = match std::env::args().nth(2).map(|t| t.parse::<usize>()) {
        None => 100,
        Some(Ok(t)) if t > 0 => t,
        Some(_) => {
            eprintln!("TARGETS must be a positive integer");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let config = PopulationConfig {
        members_targeted: targets,
        non_members: targets,
        ..PopulationConfig::default()
    };
    let pop = Population::simulate(config.clone());
    let simulated = started.elapsed();
    let defaults = DefenceConfig::for_level(SecurityLevel::Genetic);
    let k = defaults.rare.map_or(5, |r| r.k);
    let none = DefenceConfig::none();
    let scenarios: Vec<(String, DefenceConfig)> = vec![
        ("undefended".into(), none.clone()),
        (
            format!("k-suppression (k = {k})"),
            DefenceConfig {
                rare: defaults.rare,
                ..none.clone()
            },
        ),
        (
            format!("randomisation (k = {k}, p = 0.5)"),
            DefenceConfig {
                rare: Some(RareAllelePolicy {
                    k,
                    mode: RareMode::Randomise { flip: 0.5 },
                }),
                ..none.clone()
            },
        ),
        (
            "budget only (ln 2)".into(),
            DefenceConfig {
                budget: Some(BudgetPolicy::default()),
                ..none.clone()
            },
        ),
        ("all defaults".into(), defaults.clone()),
    ];
    let mut results: Vec<(String, AttackResult)> = Vec::new();
    for (name, cfg) in &scenarios {
        let t = Instant::now();
        let r = run_attack(&pop, cfg, QueryOrder::RarestFirst, &QUERIES, FPR);
        eprintln!("{name}: {:.1} s", t.elapsed().as_secs_f64());
        results.push((name.clone(), r));
    }
    // The paper's basic attack (random order), undefended and with defaults.
    for (name, cfg) in [
        ("undefended, random order", &none),
        ("all defaults, random order", &defaults),
    ] {
        let t = Instant::now();
        let r = run_attack(&pop, cfg, QueryOrder::Random, &QUERIES, FPR);
        eprintln!("{name}: {:.1} s", t.elapsed().as_secs_f64());
        results.push((name.to_owned(), r));
    }
    let named: Vec<(&str, &AttackResult)> = results.iter().map(|(n, r)| (n.as_str(), r)).collect();
    let table = curve_table(&QUERIES, &named);
    let mut text = format!(
        "Power of the Shringarpure–Bustamante LRT (rarest alleles first unless marked \"random order\") at FPR {FPR}, \
         {} members and {} non-members as targets, beacon of N = {} over {} sites, {} SNPs \
         (neutral spectrum on [1/20,000, 1/2]), reference frequencies from {} other individuals; \
         boolean answers to a public caller on a level-3 data set; fewest alleles of any target: {}. \
         Simulation {:.1} s, total {:.1} s (release).\n\n{table}\n",
        config.members_targeted,
        config.non_members,
        config.beacon_size,
        config.sites,
        config.snps,
        config.reference_size,
        pop.min_alleles(),
        simulated.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    text.push_str(&format!(
        "\nStandard error of a power near 0.05 with {targets} targets per group: about {:.3} \
         from the members and as much again from the threshold set on the non-members.\n\n\
         Per member target: informative answers (cost ≥ 0.001 nats) it was counted in, \
         budget its attacker spent on it, and the query at which it was first left out:\n\n",
        (0.05f64 * 0.95 / targets as f64).sqrt()
    ));
    for (name, r) in &results {
        let max = r.contributed.iter().max().copied().unwrap_or(0);
        let mean = r.contributed.iter().sum::<usize>() as f64 / r.contributed.len().max(1) as f64;
        let most = r.spent.iter().copied().fold(0.0, f64::max);
        let stopped: Vec<usize> = r.first_withheld.iter().flatten().copied().collect();
        let latest = stopped
            .iter()
            .max()
            .map_or("never".to_owned(), |q| format!("query {q}"));
        text.push_str(&format!(
            "- {name}: counted in at most {max} (mean {mean:.1}); most budget spent {most:.3} nats; \
             {} of {} left out at least once, the latest first time at {latest}\n",
            stopped.len(),
            r.first_withheld.len(),
        ));
    }
    print!("{text}");
    if let Some(path) = out
        && let Err(e) = std::fs::write(&path, &text)
    {
        eprintln!("cannot write {path}: {e}");
        std::process::exit(1);
    }
}
