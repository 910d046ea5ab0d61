//! Issue 12, item 4: cumulative incidence with a competing risk through the
//! driver. Split over three sites it equals the pooled run (the sums are plain
//! sums), on exact days it equals the Aalen–Johansen estimate of the pooled
//! counts (checked against R's cmprsk and lifelines in crates/stats), and a
//! cumulative incidence without an event of interest is refused.

mod support;

use support::{InMemory, request, uniform};

use oncofed_analysis::rows::Row;
use oncofed_analysis::{AnalysisError, AnalysisLimits, AnalysisResult, run};
use oncofed_model::SecurityLevel;
use oncofed_protocol::analysis::{Analysis, Endpoint, Survival, Variable};
use oncofed_stats::{CifCounts, aalen_johansen};

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
        assert_eq!(fed.run.time_bins.as_ref().unwrap().exact, exact);
    }

    // On exact days each released step is the pooled Aalen–Johansen value at
    // the last event day up to it.
    let AnalysisResult::Cif(fed) = release(split, cif(true), &limits) else {
        panic!()
    };
    for (g, curve) in fed.curves.iter().enumerate() {
        let members: Vec<&Row> = all.iter().filter(|r| r.values[0] == g as f64).collect();
        let mut grid: Vec<f64> = members.iter().filter(|r| r.event).map(|r| r.time).collect();
        grid.sort_by(f64::total_cmp);
        grid.dedup();
        let count = |t: f64, cause: f64| {
            members
                .iter()
                .filter(|r| r.time == t && r.values[1] == cause)
                .count() as u64
        };
        let counts = CifCounts {
            at_risk: grid
                .iter()
                .map(|&t| members.iter().filter(|r| r.time >= t).count() as u64)
                .collect(),
            events: grid.iter().map(|&t| count(t, 1.0)).collect(),
            competing: grid.iter().map(|&t| count(t, 2.0)).collect(),
        };
        let truth = aalen_johansen(&grid, &counts).unwrap();
        for step in curve.steps.iter().skip(1) {
            let j = grid.partition_point(|&t| t <= step.time) - 1;
            assert!((step.incidence - truth.incidence[j]).abs() < 1e-12);
            assert!((step.competing_incidence - truth.competing_incidence[j]).abs() < 1e-12);
            assert!((step.std_error - truth.variance[j].sqrt()).abs() < 1e-12);
        }
        assert!(curve.steps.len() > 5, "{}", curve.label);
    }
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
