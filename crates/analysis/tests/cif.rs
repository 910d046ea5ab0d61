//! Issue 12, item 4: cumulative incidence with a competing risk through the
//! driver. Split over three sites it equals the pooled run (the sums are plain
//! sums), on exact days it equals the Aalen–Johansen estimate of the pooled
//! counts (checked against R's cmprsk and lifelines in crates/stats), with
//! each step's 95% intervals those of the pooled estimate; with groups the
//! release carries Gray's test of both causes on the pooled counts (checked
//! against `cmprsk::cuminc` in crates/stats), without groups none; and a
//! cumulative incidence without an event of interest is refused.

mod support;

use support::{InMemory, request, uniform};

use oncofed_analysis::rows::Row;
use oncofed_analysis::{AnalysisError, AnalysisLimits, AnalysisResult, run};
use oncofed_model::SecurityLevel;
use oncofed_protocol::analysis::{Analysis, Endpoint, Survival, Variable};
use oncofed_stats::{
    CifCounts, aalen_johansen, cif_confidence_interval, gray_test, gray_test_competing,
};

/// Rows with a group (0/1) and the cause last: relapse (1) with a hazard
/// that depends on the group, death without relapse (2), or censoring (0).
fn rows(n: usize) -> Vec<Row> {
    let mut next = uniform(0x5eed_c1f0_0000_0001);
    (0..n)
        .map(|_| {
            let group = f64::from(u8::from(next() < 0.5));
            let relapse = (-(next().ln()) * if group == 1.0 { 500.0 } else { 900.0 }).round();
            let death = (-(next().ln()) * 1400.0).round();
            let censor = (next() * 2500.0).round();
            let time = relapse.min(death).min(censor).min(3650.0);
            let cause = if time == censor || time == 3650.0 {
                0.0
            } else if time == relapse {
                1.0
            } else {
                2.0
            };
            Row {
                time,
                event: cause > 0.0,
                dead: cause == 2.0,
                values: vec![group, cause],
                entry: 0.0,
            }
        })
        .collect()
}

fn cif(exact_times: bool) -> Analysis {
    Analysis::CumulativeIncidence {
        survival: Survival {
            horizon_days: 3650,
            exact_times,
            endpoint: Endpoint::RecurrenceFree,
            origin: Default::default(),
            entry: None,
        },
        groups: Some(Variable::Female),
        interval_days: 90,
    }
}

fn release(sites: Vec<Vec<Row>>, analysis: Analysis, limits: &AnalysisLimits) -> AnalysisResult {
    let mut fed = InMemory::new(sites, analysis.clone());
    run(&request(analysis), limits, &mut fed).unwrap()
}

#[test]
fn three_sites_equal_the_pooled_run_and_the_pooled_aalen_johansen() {
    let all = rows(900);
    let limits = AnalysisLimits::for_level(SecurityLevel::Pseudonymised);
    let split = vec![
        all[..200].to_vec(),
        all[200..550].to_vec(),
        all[550..].to_vec(),
    ];
    for exact in [false, true] {
        let fed = release(split.clone(), cif(exact), &limits);
        let pooled = release(
            vec![all.clone()],
            cif(exact),
            &AnalysisLimits {
                min_sites: 1,
                ..limits
            },
        );
        let (AnalysisResult::Cif(fed), AnalysisResult::Cif(pooled)) = (fed, pooled) else {
            panic!("not a cumulative incidence")
        };
        assert_eq!(fed.curves, pooled.curves);
        assert_eq!(fed.curves.len(), 2);
        assert!(fed.gray_test.is_some() && fed.gray_test_competing.is_some());
        assert_eq!(
            (&fed.gray_test, &fed.gray_test_competing),
            (&pooled.gray_test, &pooled.gray_test_competing)
        );
        assert_eq!(fed.run.time_bins.as_ref().unwrap().exact, exact);
    }

    // On exact days each released step is the pooled Aalen–Johansen value at
    // the last event day up to it.
    let AnalysisResult::Cif(fed) = release(split, cif(true), &limits) else {
        panic!()
    };
    // Gray's test on the pooled counts of both groups on one grid (all event
    // days; days without events do not change it)
    let mut shared: Vec<f64> = all.iter().filter(|r| r.event).map(|r| r.time).collect();
    shared.sort_by(f64::total_cmp);
    shared.dedup();
    let pooled_counts = |grid: &[f64], members: &[&Row]| {
        let count = |t: f64, cause: f64| {
            members
                .iter()
                .filter(|r| r.time == t && r.values[1] == cause)
                .count() as u64
        };
        CifCounts {
            at_risk: grid
                .iter()
                .map(|&t| members.iter().filter(|r| r.time >= t).count() as u64)
                .collect(),
            events: grid.iter().map(|&t| count(t, 1.0)).collect(),
            competing: grid.iter().map(|&t| count(t, 2.0)).collect(),
        }
    };
    let by_group: Vec<CifCounts> = (0..2)
        .map(|g| {
            let members: Vec<&Row> = all.iter().filter(|r| r.values[0] == g as f64).collect();
            pooled_counts(&shared, &members)
        })
        .collect();
    for (released, truth) in [
        (&fed.gray_test, gray_test(&by_group).unwrap()),
        (
            &fed.gray_test_competing,
            gray_test_competing(&by_group).unwrap(),
        ),
    ] {
        let released = released
            .as_ref()
            .expect("a grouped run releases Gray's test");
        assert_eq!(released.df, 1);
        assert!((released.chi2 - truth.chi2).abs() < 1e-9 * truth.chi2);
        assert!((released.p_value - truth.p_value).abs() < 1e-12);
    }
    // relapse hazard 1/500 against 1/900 a day in 900 rows: clearly different
    assert!(fed.gray_test.as_ref().unwrap().p_value < 1e-3);
    for (g, curve) in fed.curves.iter().enumerate() {
        let members: Vec<&Row> = all.iter().filter(|r| r.values[0] == g as f64).collect();
        let mut grid: Vec<f64> = members.iter().filter(|r| r.event).map(|r| r.time).collect();
        grid.sort_by(f64::total_cmp);
        grid.dedup();
        let counts = pooled_counts(&grid, &members);
        let truth = aalen_johansen(&grid, &counts).unwrap();
        let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-12,
            (a, b) => a == b,
        };
        assert_eq!(
            (curve.steps[0].ci_lower, curve.steps[0].competing_ci_upper),
            (None, None)
        );
        for step in curve.steps.iter().skip(1) {
            let j = grid.partition_point(|&t| t <= step.time) - 1;
            assert!((step.incidence - truth.incidence[j]).abs() < 1e-12);
            assert!((step.competing_incidence - truth.competing_incidence[j]).abs() < 1e-12);
            assert!((step.std_error - truth.variance[j].sqrt()).abs() < 1e-12);
            let sd2 = truth.competing_variance[j].sqrt();
            assert!((step.competing_std_error - sd2).abs() < 1e-12);
            let (lo, up) = cif_confidence_interval(truth.incidence[j], truth.variance[j]).unzip();
            assert!(close(step.ci_lower, lo) && close(step.ci_upper, up));
            let (lo, up) =
                cif_confidence_interval(truth.competing_incidence[j], truth.competing_variance[j])
                    .unzip();
            assert!(close(step.competing_ci_lower, lo) && close(step.competing_ci_upper, up));
            if step.incidence > 0.0 {
                let (lo, up) = (step.ci_lower.unwrap(), step.ci_upper.unwrap());
                assert!(0.0 < lo && lo < step.incidence && step.incidence < up && up < 1.0);
            }
        }
        assert!(curve.steps.len() > 5, "{}", curve.label);
    }
}

#[test]
fn without_groups_there_is_no_gray_test() {
    let analysis = Analysis::CumulativeIncidence {
        survival: Survival {
            horizon_days: 3650,
            exact_times: true,
            endpoint: Endpoint::RecurrenceFree,
            origin: Default::default(),
            entry: None,
        },
        groups: None,
        interval_days: 90,
    };
    let limits = AnalysisLimits {
        min_sites: 1,
        ..AnalysisLimits::for_level(SecurityLevel::Pseudonymised)
    };
    let AnalysisResult::Cif(r) = release(vec![rows(300)], analysis, &limits) else {
        panic!("not a cumulative incidence")
    };
    assert_eq!(r.curves.len(), 1);
    assert_eq!((r.gray_test, r.gray_test_competing), (None, None));
    let json = serde_json::to_value(&r.curves[0].steps[1]).unwrap();
    assert!(
        json["ci_lower"].is_f64() && json["competing_ci_upper"].is_f64(),
        "{json}"
    );
}

#[test]
fn a_cumulative_incidence_needs_an_event_of_interest() {
    let analysis = Analysis::CumulativeIncidence {
        survival: Survival::default(),
        groups: None,
        interval_days: 30,
    };
    let mut fed = InMemory::new(vec![rows(60)], analysis.clone());
    let err = run(
        &request(analysis),
        &AnalysisLimits::for_level(SecurityLevel::Pseudonymised),
        &mut fed,
    )
    .unwrap_err();
    assert!(
        matches!(&err, AnalysisError::Invalid(m) if m.contains("pfs") && m.contains("rfs")),
        "{err}"
    );
}
