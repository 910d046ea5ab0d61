//! Issue 11, item 3: no sum over fewer than k persons reaches the hub.
//!
//! The attack first, as the red team ran it: from one honest Cox round at
//! β = 0 with Efron ties, the tied-death sums of every day with one death are
//! that patient's covariates, and consecutive risk sets that differ by one
//! patient give theirs. On exact days it recovers many (death day, age, sex,
//! ECOG) records of a synthetic cohort with ground truth; on the default time
//! bins it recovers none, and every population the hub can isolate in any
//! survival round (risk sets, tied deaths, differences of risk sets) holds 0 or
//! at least k persons. The binned fit is exact for the binned times.

mod support;

use support::{InMemory, pooled_cox, request, uniform};

use oncofed_analysis::rows::Row;
use oncofed_analysis::site::unflatten_cox_sums;
use oncofed_analysis::{AnalysisError, AnalysisLimits, AnalysisResult, Federation, run};
use oncofed_model::SecurityLevel;
use oncofed_protocol::analysis::{Analysis, Computation, Survival, Ties, Variable, time_bin_end};

/// A federation in memory that keeps every sum the hub saw.
struct Recording {
    inner: InMemory,
    seen: Vec<(Computation, Vec<f64>)>,
}

impl Federation for Recording {
    fn sites(&self) -> usize {
        self.inner.sites()
    }
    fn sum(&mut self, c: Computation, len: usize) -> Result<Vec<f64>, AnalysisError> {
        let v = self.inner.sum(c.clone(), len)?;
        self.seen.push((c, v.clone()));
        Ok(v)
    }
}

/// 1,200 patients: age in whole years, sex, ECOG 0–2; survival depends on them.
fn cohort(n: usize) -> Vec<Row> {
    let mut next = uniform(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|_| {
            let age = (40.0 + 40.0 * next()).round();
            let female = f64::from(u8::from(next() < 0.5));
            let ecog = (3.0 * next()).floor();
            let hazard = (0.02 * (age - 60.0) - 0.4 * female + 0.3 * ecog).exp();
            let time = (-(next().ln()) * 700.0 / hazard).round().min(3650.0);
            let censor = (next() * 3650.0).round();
            let event = time <= censor;
            Row {
                time: time.min(censor),
                event,
                dead: event,
                values: vec![age, female, ecog],
                entry: 0.0,
            }
        })
        .collect()
}

fn cox(exact_times: bool) -> Analysis {
    Analysis::Cox {
        survival: Survival {
            horizon_days: 3650,
            exact_times,
            endpoint: Default::default(),
            origin: Default::default(),
            entry: None,
        },
        covariates: vec![
            Variable::Age,
            Variable::Female,
            Variable::Observation {
                system: oncofed_model::CodeSystem::Loinc,
                code: "89247-1".into(),
                window_days: None,
            },
        ],
        ties: Ties::Efron,
        stratify_by_site: false,
        strata: None,
        robust: false,
    }
}

fn sites(all: &[Row]) -> Vec<Vec<Row>> {
    all.chunks(all.len() / 3).map(<[Row]>::to_vec).collect()
}

/// Runs `analysis` over three sites, keeping the hub's view.
fn run_recorded(
    all: &[Row],
    analysis: Analysis,
    level: SecurityLevel,
) -> (AnalysisResult, Vec<(Computation, Vec<f64>)>) {
    let mut fed = Recording {
        inner: InMemory::new(sites(all), analysis.clone()),
        seen: Vec::new(),
    };
    let result = run(
        &request(analysis),
        &AnalysisLimits::for_level(level),
        &mut fed,
    )
    .unwrap();
    (result, fed.seen)
}

/// The red team's reconstruction: (death day, covariates) from every Cox round
/// at β = 0 where a grid point holds one death, or two neighbouring risk sets
/// differ by one patient who died.
fn reconstruct(seen: &[(Computation, Vec<f64>)], p: usize) -> Vec<(f64, Vec<f64>)> {
    let mut out = Vec::new();
    for (c, v) in seen {
        let Computation::CoxSums { grid, beta, .. } = c else {
            continue;
        };
        if beta.iter().any(|b| *b != 0.0) {
            continue;
        }
        let s = unflatten_cox_sums(v, p, grid.len(), Ties::Efron).unwrap();
        for j in 0..grid.len() {
            if s.events[j].round() == 1.0 {
                out.push((grid[j], s.tied_s1[j * p..(j + 1) * p].to_vec()));
            }
            if j + 1 < grid.len()
                && (s.s0[j] - s.s0[j + 1]).round() == 1.0
                && s.events[j].round() == 1.0
            {
                let x = (0..p)
                    .map(|c| s.s1[j * p + c] - s.s1[(j + 1) * p + c])
                    .collect();
                out.push((grid[j], x));
            }
        }
    }
    out
}

/// Deaths of the ground truth that a reconstructed record names exactly.
fn matched(records: &[(f64, Vec<f64>)], truth: &[Row]) -> usize {
    truth
        .iter()
        .filter(|r| r.event)
        .filter(|r| {
            records.iter().any(|(day, x)| {
                *day == r.time && x.iter().zip(&r.values).all(|(a, b)| (a - b).abs() < 1e-6)
            })
        })
        .count()
}

/// Every population the hub can isolate in a survival round, by ground truth:
/// risk sets, deaths and censorings at a grid point, and the difference of any
/// two risk sets.
/// Returns the sizes in 1..k found.
fn small_populations(seen: &[(Computation, Vec<f64>)], truth: &[Row], k: usize) -> Vec<usize> {
    let mut small = Vec::new();
    let bad = |n: usize| n > 0 && n < k;
    for (c, _) in seen {
        let (grid, bins) = match c {
            Computation::KmCounts { grid, bins, .. } | Computation::CoxSums { grid, bins, .. } => {
                (grid, bins)
            }
            _ => continue,
        };
        let time = |r: &Row| {
            if bins.is_empty() {
                r.time
            } else {
                time_bin_end(bins, r.time)
            }
        };
        let at_risk: Vec<usize> = grid
            .iter()
            .map(|&t| truth.iter().filter(|r| time(r) >= t).count())
            .collect();
        for (j, &t) in grid.iter().enumerate() {
            let deaths = truth.iter().filter(|r| r.event && time(r) == t).count();
            // an Efron fit's risk-set difference minus its tied deaths: the
            // censored rows of the bin
            let censored = truth.iter().filter(|r| !r.event && time(r) == t).count();
            small.extend(
                [at_risk[j], deaths, censored]
                    .into_iter()
                    .filter(|&n| bad(n)),
            );
            for later in &at_risk[j + 1..] {
                if bad(at_risk[j] - later) {
                    small.push(at_risk[j] - later);
                }
            }
        }
    }
    small
}

#[test]
fn red_team_pooled_cox_sums_on_exact_days_reveal_patients_and_bins_reveal_none() {
    let all = cohort(1200);
    let deaths = all.iter().filter(|r| r.event).count();
    let k = 3;

    // The attack works on exact days (the per-day grid of before the change).
    let (result, seen) = run_recorded(&all, cox(true), SecurityLevel::Pseudonymised);
    let exact_hits = matched(&reconstruct(&seen, 3), &all);
    assert_eq!(result.run().time_bins.as_ref().map(|t| t.exact), Some(true));
    assert!(
        exact_hits * 4 > deaths,
        "the attack recovers many deaths on exact days: {exact_hits} of {deaths}"
    );
    assert!(!small_populations(&seen, &all, k).is_empty());

    // On time bins it recovers nothing, and no population is below k.
    let (result, seen) = run_recorded(&all, cox(false), SecurityLevel::Pseudonymised);
    let binned_hits = matched(&reconstruct(&seen, 3), &all);
    eprintln!(
        "reconstructed (death day, age, sex, ECOG): exact days {exact_hits} of {deaths} deaths ({:.0} %), time bins {binned_hits}; bins {:?}",
        100.0 * exact_hits as f64 / deaths as f64,
        result.run().time_bins
    );
    assert_eq!(binned_hits, 0);
    assert_eq!(small_populations(&seen, &all, k), Vec::<usize>::new());
    let bins = result.run().time_bins.clone().unwrap();
    assert!(!bins.exact && bins.min_exits >= k as u64 && bins.bins > 1);
    // no per-day computation was asked for
    assert!(
        seen.iter()
            .all(|(c, _)| !matches!(c, Computation::EventDays { .. }))
    );
}

#[test]
fn every_survival_computation_keeps_populations_at_k_for_each_security_level() {
    let all = cohort(900);
    for level in [SecurityLevel::Pseudonymised, SecurityLevel::Genetic] {
        let k = AnalysisLimits::for_level(level).min_cell as usize;
        for analysis in [
            cox(false),
            Analysis::KaplanMeier {
                survival: Survival::binned(3650),
                groups: None,
                interval_days: 30,
            },
        ] {
            let rows: Vec<Row> = if matches!(analysis, Analysis::KaplanMeier { .. }) {
                all.iter()
                    .map(|r| Row {
                        values: vec![],
                        ..r.clone()
                    })
                    .collect()
            } else {
                all.clone()
            };
            let (_, seen) = run_recorded(&rows, analysis.clone(), level);
            assert_eq!(
                small_populations(&seen, &rows, k),
                Vec::<usize>::new(),
                "{level:?} {}",
                analysis.kind()
            );
        }
    }
}

#[test]
fn the_binned_fit_equals_the_pooled_fit_on_the_binned_times() {
    let all = cohort(1200);
    let (result, seen) = run_recorded(&all, cox(false), SecurityLevel::Pseudonymised);
    let bins = seen
        .iter()
        .find_map(|(c, _)| match c {
            Computation::CoxSums { bins, .. } => Some(bins.clone()),
            _ => None,
        })
        .unwrap();
    let pooled = pooled_cox(&all, 3, Ties::Efron, |t| time_bin_end(&bins, t));
    let AnalysisResult::Cox(fed) = result else {
        panic!("not a Cox result")
    };
    for (f, &(coef, se)) in fed.estimates.iter().zip(&pooled) {
        let scale = coef.abs().max(se);
        assert!(
            (f.coef - coef).abs() / scale < 1e-8,
            "{} vs {}",
            f.coef,
            coef
        );
        assert!((f.std_error - se).abs() / se < 1e-8);
    }
}

/// Issue 11, item 6 of "what was shown": one site added 10,000 to its `rows`
/// and the sum was accepted. The later rounds' counts (exits per bin, at risk
/// at day 0, n of a describe or GLM step) must agree with the Totals round.
#[test]
fn red_team_a_site_adding_10000_to_its_rows_is_refused_by_the_driver() {
    struct Inflating(InMemory);
    impl Federation for Inflating {
        fn sites(&self) -> usize {
            self.0.sites()
        }
        fn sum(&mut self, c: Computation, len: usize) -> Result<Vec<f64>, AnalysisError> {
            let mut v = self.0.sum(c.clone(), len)?;
            if c == Computation::Totals {
                v[0] += 10_000.0;
            }
            Ok(v)
        }
    }
    let all = cohort(600);
    let limits = AnalysisLimits::for_level(SecurityLevel::Pseudonymised);
    for analysis in [
        cox(false),
        cox(true),
        Analysis::Glm {
            outcome: oncofed_protocol::analysis::Outcome::Deceased,
            covariates: vec![Variable::Age],
            family: oncofed_protocol::analysis::Family::Binomial,
        },
    ] {
        let rows: Vec<Row> = if matches!(analysis, Analysis::Glm { .. }) {
            all.iter()
                .map(|r| Row {
                    values: vec![r.values[0]],
                    ..r.clone()
                })
                .collect()
        } else {
            all.clone()
        };
        let mut fed = Inflating(InMemory::new(sites(&rows), analysis.clone()));
        let refused = run(&request(analysis.clone()), &limits, &mut fed);
        assert!(
            matches!(&refused, Err(AnalysisError::Federation(m)) if m.contains("implausible")),
            "{}: {refused:?}",
            analysis.kind()
        );
    }
}

/// Every population the hub can isolate per group of a grouped KM (or per
/// stratum of a stratified Cox): each group's risk sets, deaths and
/// censorings at every grid point. Returns the sizes in 1..k found.
fn small_group_populations(
    seen: &[(Computation, Vec<f64>)],
    truth: &[Row],
    column: usize,
    k: usize,
) -> Vec<usize> {
    let mut small = Vec::new();
    for (c, _) in seen {
        let (grid, bins, levels) = match c {
            Computation::KmCounts {
                grid, bins, levels, ..
            } => (grid, bins, levels),
            Computation::CoxSums {
                grid, bins, strata, ..
            } => (grid, bins, strata),
            _ => continue,
        };
        for level in levels {
            let members: Vec<&Row> = truth
                .iter()
                .filter(|r| r.values[column] == *level)
                .collect();
            for &t in grid {
                let time = |r: &Row| time_bin_end(bins, r.time);
                let at_risk = members.iter().filter(|r| time(r) >= t).count();
                let deaths = members.iter().filter(|r| r.event && time(r) == t).count();
                let censored = members.iter().filter(|r| !r.event && time(r) == t).count();
                small.extend(
                    [at_risk, deaths, censored]
                        .into_iter()
                        .filter(|&n| n > 0 && n < k),
                );
            }
        }
    }
    small
}

#[test]
fn red_team_grouped_curves_and_strata_keep_every_group_at_k() {
    // ECOG 0-2 as the groups of a KM and the strata of a Cox model: before
    // the bins were checked per group, a bin valid over all rows could hold a
    // single exit of one group, and that group's counts or sums isolated it
    let all = cohort(900);
    let k = AnalysisLimits::for_level(SecurityLevel::Pseudonymised).min_cell as usize;
    let ecog = Variable::Observation {
        system: oncofed_model::CodeSystem::Loinc,
        code: "89247-1".into(),
        window_days: None,
    };
    let km_rows: Vec<Row> = all
        .iter()
        .map(|r| Row {
            values: vec![r.values[2]],
            ..r.clone()
        })
        .collect();
    let km = Analysis::KaplanMeier {
        survival: Survival::binned(3650),
        groups: Some(ecog.clone()),
        interval_days: 30,
    };
    let (result, seen) = run_recorded(&km_rows, km, SecurityLevel::Pseudonymised);
    assert!(matches!(result, AnalysisResult::Km(_)));
    assert_eq!(
        small_group_populations(&seen, &km_rows, 0, k),
        Vec::<usize>::new()
    );

    let Analysis::Cox {
        survival,
        covariates,
        ties,
        ..
    } = cox(false)
    else {
        unreachable!()
    };
    let stratified = Analysis::Cox {
        survival,
        covariates: covariates[..2].to_vec(),
        ties,
        stratify_by_site: false,
        strata: Some(ecog),
        robust: false,
    };
    let (result, seen) = run_recorded(&all, stratified, SecurityLevel::Pseudonymised);
    assert!(matches!(result, AnalysisResult::Cox(_)));
    assert!(
        seen.iter()
            .any(|(c, _)| matches!(c, Computation::CoxSums { strata, .. } if strata.len() == 3))
    );
    assert_eq!(
        small_group_populations(&seen, &all, 2, k),
        Vec::<usize>::new()
    );
}

#[test]
fn a_large_cohort_is_refined_within_the_plans_grid_and_to_two_days() {
    // 30,000 rows spread over the whole horizon: every atom keeps ≥ 2k exits,
    // so the refinement goes as fine as it may; no round may ask for more
    // edges than the plan's one grid point per day of the horizon
    let mut next = uniform(7);
    let all: Vec<Row> = (0..30_000)
        .map(|_| {
            let time = (next() * 3650.0).floor();
            let event = next() < 0.7;
            Row {
                time,
                event,
                dead: event,
                values: vec![],
                entry: 0.0,
            }
        })
        .collect();
    let km = Analysis::KaplanMeier {
        survival: Survival::binned(3650),
        groups: None,
        interval_days: 30,
    };
    let (result, seen) = run_recorded(&all, km, SecurityLevel::Pseudonymised);
    for (c, _) in &seen {
        if let Computation::ExitCounts { edges, .. } = c {
            assert!(edges.len() <= 3651, "{} edges", edges.len());
        }
    }
    let bins = result.run().time_bins.clone().unwrap();
    assert_eq!(bins.narrowest_days, 2, "{bins:?}");
}
