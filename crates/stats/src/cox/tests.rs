use super::*;

fn row(time: f64, event: bool, covariates: &[f64]) -> SurvivalRow {
    SurvivalRow {
        time,
        event,
        covariates: covariates.to_vec(),
        stratum: 0,
    }
}

/// A small deterministic data set with ties, censoring and two covariates.
fn tied_rows() -> Vec<SurvivalRow> {
    (0..40)
        .map(|i| {
            let x1 = f64::from(i % 7) / 3.0 - 1.0;
            let x2 = f64::from(i % 2);
            let time = f64::from((i * 13) % 11 + 1);
            row(time, i % 4 != 0, &[x1, x2])
        })
        .collect()
}

fn pooled(rows: &[SurvivalRow], beta: &[f64], ties: Ties) -> CoxAggregate {
    let grid = CoxGrid::from_events(rows).unwrap();
    cox_combine(&cox_site_sums(rows, &grid, beta, ties).unwrap()).unwrap()
}

#[test]
fn matches_the_hand_computed_partial_likelihood() {
    // events at 1 (x=1), 2 (x=0), 3 (x=1); the last risk set is {3}, so its term is 0:
    // ll(β) = β − ln(2e^β + 1) − ln(1 + e^β)
    let rows = [
        row(1.0, true, &[1.0]),
        row(2.0, true, &[0.0]),
        row(3.0, true, &[1.0]),
    ];
    let b: f64 = 0.3;
    let e = b.exp();
    let agg = pooled(&rows, &[b], Ties::Breslow);
    let ll = b - (2.0 * e + 1.0).ln() - (1.0 + e).ln();
    let grad = 1.0 - 2.0 * e / (2.0 * e + 1.0) - e / (1.0 + e);
    let hess = -(2.0 * e / (2.0 * e + 1.0).powi(2)) - e / (1.0 + e).powi(2);
    assert!((agg.loglik - ll).abs() < 1e-14);
    assert!((agg.gradient[0] - grad).abs() < 1e-14);
    assert!((agg.hessian[0] - hess).abs() < 1e-14);
    assert_eq!(agg.events, 3.0);
}

#[test]
fn efron_handles_a_tie_by_hand() {
    // two tied events at t=1 (x=1 and x=0) plus one at-risk censored row (x=1):
    // Efron: ll = β − ln(2e^β + 1) − ln(2e^β + 1 − ½(e^β + 1))
    let rows = [
        row(1.0, true, &[1.0]),
        row(1.0, true, &[0.0]),
        row(2.0, false, &[1.0]),
    ];
    let b: f64 = -0.4;
    let e = b.exp();
    let ll = b - (2.0 * e + 1.0).ln() - (2.0 * e + 1.0 - 0.5 * (e + 1.0)).ln();
    assert!((pooled(&rows, &[b], Ties::Efron).loglik - ll).abs() < 1e-14);
    let breslow = b - 2.0 * (2.0 * e + 1.0).ln();
    assert!((pooled(&rows, &[b], Ties::Breslow).loglik - breslow).abs() < 1e-14);
}

#[test]
fn gradient_and_hessian_match_finite_differences() {
    let rows = tied_rows();
    for ties in [Ties::Breslow, Ties::Efron] {
        let beta = [0.2, -0.5];
        let agg = pooled(&rows, &beta, ties);
        let h = 1e-6;
        for k in 0..2 {
            let mut up = beta;
            let mut down = beta;
            up[k] += h;
            down[k] -= h;
            let (au, ad) = (pooled(&rows, &up, ties), pooled(&rows, &down, ties));
            let fd = (au.loglik - ad.loglik) / (2.0 * h);
            assert!((fd - agg.gradient[k]).abs() < 1e-6, "{ties:?} gradient {k}");
            for c in 0..2 {
                let fd = (au.gradient[c] - ad.gradient[c]) / (2.0 * h);
                assert!(
                    (fd - agg.hessian[k * 2 + c]).abs() < 1e-6,
                    "{ties:?} hessian {k},{c}"
                );
            }
        }
    }
}

#[test]
fn summed_site_sums_equal_the_single_process_sums() {
    let rows = tied_rows();
    let beta = [0.3, 0.7];
    for ties in [Ties::Breslow, Ties::Efron] {
        let sites: Vec<Vec<SurvivalRow>> = (0..3)
            .map(|s| rows.iter().skip(s).step_by(3).cloned().collect())
            .collect();
        let grids: Vec<CoxGrid> = sites
            .iter()
            .map(|r| CoxGrid::from_events(r).unwrap())
            .collect();
        let grid = CoxGrid::merge(&grids);
        let mut total = CoxSiteSums::zeros(2, grid.points().len(), ties);
        for s in &sites {
            total
                .add(&cox_site_sums(s, &grid, &beta, ties).unwrap())
                .unwrap();
        }
        let federated = cox_combine(&total).unwrap();
        let single = pooled(&rows, &beta, ties);
        assert!((federated.loglik - single.loglik).abs() < 1e-12);
        for (a, b) in federated.hessian.iter().zip(&single.hessian) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}

#[test]
fn efron_equals_breslow_without_ties() {
    let rows: Vec<SurvivalRow> = (0..20)
        .map(|i| row(f64::from(i), i % 3 != 0, &[f64::from(i % 5)]))
        .collect();
    let (e, b) = (
        pooled(&rows, &[0.1], Ties::Efron),
        pooled(&rows, &[0.1], Ties::Breslow),
    );
    assert!((e.loglik - b.loglik).abs() < 1e-13);
}

#[test]
fn strata_keep_separate_risk_sets() {
    let mut rows = tied_rows();
    let (a, b): (Vec<_>, Vec<_>) = rows.iter().cloned().partition(|r| r.covariates[1] == 0.0);
    rows.iter_mut()
        .for_each(|r| r.stratum = r.covariates[1] as u32);
    let beta = [0.4, 0.0];
    let mut separate = pooled(&a, &beta, Ties::Efron);
    separate.add(&pooled(&b, &beta, Ties::Efron)).unwrap();
    let together = cox_site_contribution(&rows, &beta, Ties::Efron).unwrap();
    assert!((separate.loglik - together.loglik).abs() < 1e-12);
}

#[test]
fn rejects_events_off_the_grid() {
    let rows = [row(1.0, true, &[1.0]), row(2.0, true, &[0.0])];
    let grid = CoxGrid::from_events(&rows[..1]).unwrap();
    assert_eq!(
        cox_site_sums(&rows, &grid, &[0.0], Ties::Efron).unwrap_err(),
        StatsError::EventNotOnGrid
    );
}

#[test]
fn pooled_and_site_stratified_fits_converge() {
    let rows = tied_rows();
    let sites: Vec<Vec<SurvivalRow>> = (0..3)
        .map(|s| rows.iter().skip(s).step_by(3).cloned().collect())
        .collect();
    let grid = CoxGrid::merge(
        &sites
            .iter()
            .map(|r| CoxGrid::from_events(r).unwrap())
            .collect::<Vec<_>>(),
    );
    let fit = fit_cox(2, NewtonOptions::default(), &mut |beta| {
        sites
            .iter()
            .map(|s| cox_site_sums(s, &grid, beta, Ties::Efron).unwrap())
            .collect()
    })
    .unwrap();
    let single = fit_cox(2, NewtonOptions::default(), &mut |beta| {
        vec![
            cox_site_sums(
                &rows,
                &CoxGrid::from_events(&rows).unwrap(),
                beta,
                Ties::Efron,
            )
            .unwrap(),
        ]
    })
    .unwrap();
    assert!(fit.iterations <= 10);
    for (a, b) in fit.estimates.iter().zip(&single.estimates) {
        assert!((a.coef - b.coef).abs() < 1e-12 && (a.std_error - b.std_error).abs() < 1e-12);
    }
    assert!(
        pooled(
            &rows,
            &[fit.estimates[0].coef, fit.estimates[1].coef],
            Ties::Efron
        )
        .gradient
        .iter()
        .all(|g| g.abs() < 1e-9)
    );
    let stratified = fit_cox_stratified_by_site(2, NewtonOptions::default(), &mut |beta| {
        sites
            .iter()
            .map(|s| cox_site_contribution(s, beta, Ties::Efron).unwrap())
            .collect()
    })
    .unwrap();
    assert!(stratified.loglik > fit.loglik); // smaller risk sets: a different model
}
