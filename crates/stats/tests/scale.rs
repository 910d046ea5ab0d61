//! Scale check (ignored by default; run with `--ignored --nocapture`): 100,000
//! synthetic patients over 10 sites, Cox (Efron) and logistic regression, timing
//! the in-process federated fit. Input for the benchmarks of issue 4.

use std::time::Instant;

use oncofed_stats::{
    CoxGrid, Family, GlmRow, GlmStart, NewtonOptions, SurvivalRow, Ties, cox_site_sums, fit_cox,
    fit_glm, glm_site_contribution, glm_site_start, glm_start,
};

/// A deterministic pseudo-random stream (xorshift), enough for synthetic covariates.
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
#[ignore = "scale check, ~3 s in a debug build"]
fn hundred_thousand_patients_over_ten_sites() {
    let mut rng = Stream(0x9E37_79B9_7F4A_7C15);
    let rows: Vec<SurvivalRow> = (0..100_000)
        .map(|_| {
            let x = vec![
                rng.next() * 40.0 + 40.0,
                f64::from(u8::from(rng.next() < 0.5)),
                (rng.next() * 4.0).floor(),
            ];
            let rate = (0.02 * (x[0] - 60.0) - 0.5 * x[1] + 0.4 * x[2]).exp() / 365.0;
            let time = (-rng.next().ln() / rate).ceil().min(1_000.0); // days, administrative censoring
            SurvivalRow {
                time,
                event: time < 1_000.0,
                covariates: x,
                stratum: 0,
            }
        })
        .collect();
    let sites: Vec<&[SurvivalRow]> = rows.chunks(10_000).collect();
    let started = Instant::now();
    let grid = CoxGrid::merge(
        &sites
            .iter()
            .map(|s| CoxGrid::from_events(s).unwrap())
            .collect::<Vec<_>>(),
    );
    let mut round_trips = 0;
    let fit = fit_cox(3, NewtonOptions::default(), &mut |beta| {
        round_trips += 1;
        sites
            .iter()
            .map(|s| cox_site_sums(s, &grid, beta, Ties::Efron).unwrap())
            .collect()
    })
    .unwrap();
    println!(
        "cox: grid {} points, {} iterations, {} evaluations, {:?}, coef {:?}",
        grid.points().len(),
        fit.iterations,
        round_trips,
        started.elapsed(),
        fit.estimates.iter().map(|e| e.coef).collect::<Vec<_>>()
    );
    assert!(fit.iterations <= 10);

    let glm_rows: Vec<Vec<GlmRow>> = sites
        .iter()
        .map(|s| {
            s.iter()
                .map(|r| {
                    let mut x = vec![1.0];
                    x.extend(&r.covariates);
                    GlmRow {
                        y: f64::from(u8::from(r.time < 365.0)),
                        x,
                        offset: 0.0,
                    }
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    let starts: Vec<GlmStart> = glm_rows
        .iter()
        .map(|r| glm_site_start(r, 4, Family::Binomial).unwrap())
        .collect();
    let fit = fit_glm(
        glm_start(4, &starts).unwrap(),
        NewtonOptions::default(),
        &mut |beta| {
            glm_rows
                .iter()
                .map(|r| glm_site_contribution(r, beta, Family::Binomial).unwrap())
                .collect()
        },
    )
    .unwrap();
    println!(
        "logistic: {} iterations, {:?}",
        fit.iterations,
        started.elapsed()
    );
    assert!(fit.iterations <= 10);
}
