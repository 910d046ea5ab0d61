//! Issue 12, item 2: a released Kaplan–Meier curve's `n` is the number of rows
//! in the group (not the number at risk at the first pooled event time), and a
//! step's `at_risk` counts the rows with time ≥ t, censorings since the last
//! event time included (lifelines' `at_risk`). Checked on a small example by
//! hand, split over two sites.

mod support;

use support::{InMemory, request};

use oncofed_analysis::rows::Row;
use oncofed_analysis::{AnalysisLimits, AnalysisResult, run};
use oncofed_model::SecurityLevel;
use oncofed_protocol::analysis::{Analysis, Survival};

fn row(time: f64, event: bool) -> Row {
    Row {
        time,
        event,
        dead: event,
        values: Vec::new(),
        entry: 0.0,
    }
}

#[test]
fn km_n_is_the_group_size_and_at_risk_counts_censorings_since_the_last_event() {
    // times (+ = censored): 2+ 5+ 12 15+ 18+ 25 30+ 40
    // exact days: the by-hand counts below are per day (binned runs are
    // checked against binned times in tests/time_bins.rs)
    let analysis = Analysis::KaplanMeier {
        survival: Survival {
            exact_times: true,
            ..Survival::default()
        },
        groups: None,
        interval_days: 10,
    };
    let mut federation = InMemory::new(
        vec![
            vec![
                row(2.0, false),
                row(12.0, true),
                row(18.0, false),
                row(30.0, false),
            ],
            vec![
                row(5.0, false),
                row(15.0, false),
                row(25.0, true),
                row(40.0, true),
            ],
        ],
        analysis.clone(),
    );
    let request = request(analysis);
    let limits = AnalysisLimits {
        min_cell: 1,
        km_min_events: 1,
        ..AnalysisLimits::for_level(SecurityLevel::Pseudonymised)
    };
    let AnalysisResult::Km(km) = run(&request, &limits, &mut federation).unwrap() else {
        panic!("not a KM result");
    };
    let curve = &km.curves[0];
    // 8 rows; the old `n` was the 6 at risk at day 12
    assert_eq!(curve.n, Some(8));
    assert_eq!(curve.events, Some(3));
    let steps: Vec<(f64, f64, Option<u64>)> = curve
        .steps
        .iter()
        .map(|s| (s.time, s.survival, s.at_risk))
        .collect();
    // by hand: S(12) = 5/6, S(25) = 5/6 · 2/3, S(40) = 0; at risk at t = #{time ≥ t}
    // (at day 20 the old count was 6 − 1 = 5, missing the censorings at 15 and 18)
    let expected = [
        (0.0, 1.0, Some(8)),
        (20.0, 5.0 / 6.0, Some(3)),
        (30.0, 5.0 / 9.0, Some(2)),
        (40.0, 0.0, Some(1)),
    ];
    assert_eq!(steps.len(), expected.len(), "{steps:?}");
    for (got, want) in steps.iter().zip(&expected) {
        assert_eq!(got.0, want.0);
        assert!((got.1 - want.1).abs() < 1e-15, "{got:?} vs {want:?}");
        assert_eq!(got.2, want.2, "at risk at day {}", want.0);
    }
    // censored in [previous step, step): 2+ 5+ 15+ 18+ before day 20, none in
    // [20, 30) (25 died), 30+ in [30, 40)
    let censored: Vec<Option<u64>> = curve.steps.iter().map(|s| s.censored).collect();
    assert_eq!(censored, [None, Some(4), Some(0), Some(1)]);
    // S first ≤ 0.5 at day 40, the last event: no event after it, so withheld
    assert_eq!(curve.median, None);
}
