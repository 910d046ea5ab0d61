//! Property: however rows are distributed over sites, the hub's result from the
//! summed site aggregates equals the single-process result (the design's core claim).

use oncofed_stats::{
    CoxGrid, CoxSiteSums, Family, GlmAggregate, GlmRow, KmCounts, SurvivalRow, Ties, TimeEvent,
    cox_combine, cox_site_sums, event_times, glm_site_contribution, km_site_counts, merge_times,
};
use proptest::prelude::*;

/// Rows with coarse times (many ties), two covariates and a site label.
fn rows() -> impl Strategy<Value = Vec<(f64, bool, f64, f64, usize)>> {
    prop::collection::vec(
        (1u8..15, any::<bool>(), -2.0f64..2.0, 0u8..2, 0usize..4)
            .prop_map(|(t, e, x1, x2, site)| (f64::from(t), e, x1, f64::from(x2), site)),
        1..60,
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

proptest! {
    #[test]
    fn cox_sums_are_split_invariant(data in rows(), b1 in -1.0f64..1.0, b2 in -1.0f64..1.0, efron in any::<bool>()) {
        let ties = if efron { Ties::Efron } else { Ties::Breslow };
        let all: Vec<SurvivalRow> = data
            .iter()
            .map(|&(time, event, x1, x2, _)| SurvivalRow { time, event, covariates: vec![x1, x2], stratum: 0 })
            .collect();
        let sites: Vec<Vec<SurvivalRow>> = (0..4)
            .map(|s| all.iter().zip(&data).filter(|(_, d)| d.4 == s).map(|(r, _)| r.clone()).collect())
            .collect();
        let grid = CoxGrid::merge(&sites.iter().map(|r| CoxGrid::from_events(r).unwrap()).collect::<Vec<_>>());
        prop_assert_eq!(&grid, &CoxGrid::from_events(&all).unwrap());
        let beta = [b1, b2];
        let mut total = CoxSiteSums::zeros(2, grid.points().len(), ties);
        for s in &sites {
            total.add(&cox_site_sums(s, &grid, &beta, ties).unwrap()).unwrap();
        }
        let federated = cox_combine(&total).unwrap();
        let single = cox_combine(&cox_site_sums(&all, &grid, &beta, ties).unwrap()).unwrap();
        prop_assert!(close(federated.loglik, single.loglik));
        for (a, b) in federated.gradient.iter().zip(&single.gradient).chain(federated.hessian.iter().zip(&single.hessian)) {
            prop_assert!(close(*a, *b));
        }
    }

    #[test]
    fn km_counts_are_split_invariant(data in rows()) {
        let sites: Vec<Vec<TimeEvent>> = (0..4)
            .map(|s| data.iter().filter(|d| d.4 == s).map(|d| TimeEvent { time: d.0, event: d.1 }).collect())
            .collect();
        let all: Vec<TimeEvent> = data.iter().map(|d| TimeEvent { time: d.0, event: d.1 }).collect();
        let grid = merge_times(&sites.iter().map(|r| event_times(r).unwrap()).collect::<Vec<_>>());
        prop_assert_eq!(&grid, &event_times(&all).unwrap());
        let mut total = KmCounts { at_risk: vec![0; grid.len()], events: vec![0; grid.len()] };
        for s in &sites {
            total.add(&km_site_counts(s, &grid).unwrap()).unwrap();
        }
        prop_assert_eq!(total, km_site_counts(&all, &grid).unwrap());
    }

    #[test]
    fn glm_aggregates_are_split_invariant(data in rows(), b0 in -1.0f64..1.0, b1 in -1.0f64..1.0) {
        let all: Vec<GlmRow> = data
            .iter()
            .map(|&(_, event, x1, _, _)| GlmRow { y: f64::from(u8::from(event)), x: vec![1.0, x1], offset: 0.0 })
            .collect();
        let mut total = GlmAggregate::zeros(2);
        for s in 0..4 {
            let site: Vec<GlmRow> = all.iter().zip(&data).filter(|(_, d)| d.4 == s).map(|(r, _)| r.clone()).collect();
            total.add(&glm_site_contribution(&site, &[b0, b1], Family::Binomial).unwrap()).unwrap();
        }
        let single = glm_site_contribution(&all, &[b0, b1], Family::Binomial).unwrap();
        prop_assert!(close(total.loglik, single.loglik) && close(total.deviance, single.deviance));
        for (a, b) in total.information.iter().zip(&single.information) {
            prop_assert!(close(*a, *b));
        }
    }
}
