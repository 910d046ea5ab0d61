use super::*;
use crate::cif::cif_site_counts;
use crate::finegray::variance::finegray_residual_gram;
use crate::finegray_variance;
use crate::{CompetingRow, ResidualGram};

fn rows() -> Vec<FineGrayRow> {
    // heavy ties: 7 distinct times, all three statuses at most of them
    (0..90u32)
        .map(|i| {
            let status = match (i * 7) % 5 {
                0 | 3 => CompetingStatus::Event,
                1 => CompetingStatus::Competing,
                _ => CompetingStatus::Censored,
            };
            FineGrayRow {
                time: f64::from(1 + (i * 11) % 7) * 30.0,
                status,
                covariates: vec![f64::from(i % 4) - 1.5, f64::from((i * 3) % 10) / 5.0],
            }
        })
        .collect()
}

fn pooled_grid(rows: &[FineGrayRow]) -> (FineGrayGrid, CifCounts) {
    let times = finegray_times(rows).unwrap();
    let plain: Vec<CompetingRow> = rows
        .iter()
        .map(|r| CompetingRow {
            time: r.time,
            status: r.status,
        })
        .collect();
    let counts = cif_site_counts(&plain, &times).unwrap();
    (FineGrayGrid::from_counts(&times, &counts).unwrap(), counts)
}

/// crr's Fortran, translated literally (one censoring group, no cov2): the data
/// sorted by time; G(t−) per row; returns (S0 per row at its time for events,
/// v2 = Σ (η + ψ)(η + ψ)ᵀ).
fn crrvv(rows: &[FineGrayRow], beta: &[f64]) -> Vec<f64> {
    let mut d: Vec<&FineGrayRow> = rows.iter().collect();
    d.sort_by(|a, b| a.time.total_cmp(&b.time));
    let n = d.len();
    let p = beta.len();
    let ici: Vec<u8> = d
        .iter()
        .map(|r| match r.status {
            CompetingStatus::Censored => 0,
            CompetingStatus::Event => 1,
            CompetingStatus::Competing => 2,
        })
        .collect();
    let t: Vec<f64> = d.iter().map(|r| r.time).collect();
    let x = |i: usize| &d[i].covariates;
    let r = |i: usize| x(i).iter().zip(beta).map(|(a, b)| a * b).sum::<f64>().exp();
    // KM of censoring just before each row's time
    let wt: Vec<f64> = (0..n)
        .map(|i| {
            let mut g = 1.0;
            let mut times: Vec<f64> = (0..n)
                .filter(|&k| ici[k] == 0 && t[k] < t[i])
                .map(|k| t[k])
                .collect();
            times.dedup();
            for u in times {
                let at = (0..n).filter(|&k| t[k] >= u).count() as f64;
                let c = (0..n).filter(|&k| t[k] == u && ici[k] == 0).count() as f64;
                g *= 1.0 - c / at;
            }
            g
        })
        .collect();
    // risk sums at each type-1 failure row i (loop 6)
    let mut xb = vec![vec![0.0; p + 1]; n];
    for i in (0..n).filter(|&i| ici[i] == 1) {
        for j in 0..n {
            let w = if t[j] < t[i] {
                if ici[j] <= 1 {
                    continue;
                }
                r(j) * wt[i] / wt[j]
            } else {
                r(j)
            };
            xb[i][0] += w;
            for k in 0..p {
                xb[i][k + 1] += w * x(j)[k];
            }
        }
    }
    let at_risk = |u: f64| (0..n).filter(|&k| t[k] >= u).count() as f64;
    // q(u) for a censoring time u (loop 41)
    let q = |u: f64| -> Vec<f64> {
        let mut qu = vec![0.0; p];
        for j1 in (0..n).filter(|&j1| ici[j1] == 1 && t[j1] >= u) {
            let (mut s3, mut s4) = (vec![0.0; p], 0.0);
            for j2 in (0..n).filter(|&j2| t[j2] < u && ici[j2] == 2) {
                let w = r(j2) * wt[j1] / wt[j2];
                s4 += w;
                (0..p).for_each(|k| s3[k] += x(j2)[k] * w);
            }
            for k in 0..p {
                qu[k] += (s3[k] - xb[j1][k + 1] * s4 / xb[j1][0]) / xb[j1][0];
            }
        }
        qu
    };
    let mut v2 = vec![0.0; p * p];
    for i in 0..n {
        let mut st = vec![0.0; p];
        for j in (0..n).filter(|&j| ici[j] == 1) {
            let w = if t[j] <= t[i] {
                r(i)
            } else if ici[i] == 2 {
                r(i) * wt[j] / wt[i]
            } else {
                continue;
            };
            for k in 0..p {
                st[k] -= (x(i)[k] - xb[j][k + 1] / xb[j][0]) * w / xb[j][0];
            }
        }
        if ici[i] == 1 {
            (0..p).for_each(|k| st[k] += x(i)[k] - xb[i][k + 1] / xb[i][0]);
        }
        // ψ: censoring times u ≤ t_i
        let mut us: Vec<f64> = (0..n)
            .filter(|&k| ici[k] == 0 && t[k] <= t[i])
            .map(|k| t[k])
            .collect();
        us.dedup();
        for u in us {
            let c = (0..n).filter(|&k| t[k] == u && ici[k] == 0).count() as f64;
            let (qu, nu) = (q(u), at_risk(u));
            (0..p).for_each(|k| st[k] -= c * qu[k] / (nu * nu));
        }
        if ici[i] == 0 {
            let (qu, nu) = (q(t[i]), at_risk(t[i]));
            (0..p).for_each(|k| st[k] += qu[k] / nu);
        }
        for a in 0..p {
            for b in 0..p {
                v2[a * p + b] += st[a] * st[b];
            }
        }
    }
    v2
}

#[test]
fn gram_meat_equals_crrs_eta_plus_psi() {
    let data = rows();
    let (grid, counts) = pooled_grid(&data);
    let beta = [0.4, -0.3];
    let mut sums = CoxSiteSums::zeros(2, grid.times.len(), Ties::Breslow);
    let mut gram = ResidualGram::zeros(2, grid.times.len(), 3);
    for site in data.chunks(31) {
        sums.add(&finegray_site_sums(site, &grid, &beta).unwrap())
            .unwrap();
        gram.add(&finegray_residual_gram(site, &grid, &beta).unwrap())
            .unwrap();
    }
    let pooled = finegray_site_sums(&data, &grid, &beta).unwrap();
    for (a, b) in sums
        .s2
        .iter()
        .zip(&pooled.s2)
        .chain(sums.s0.iter().zip(&pooled.s0))
    {
        assert!((a - b).abs() < 1e-12 * b.abs());
    }
    let v = finegray_variance(&beta, &sums, &grid, &counts, &gram).unwrap();
    let expected = crrvv(&data, &beta);
    for k in 0..4 {
        let rel = (v.meat[k] - expected[k]).abs() / expected[k].abs();
        assert!(rel < 1e-12, "{:?} vs {expected:?}", v.meat);
    }
}

#[test]
fn censoring_survival_is_left_continuous_km_of_censoring() {
    let data = rows();
    let (grid, counts) = pooled_grid(&data);
    assert_eq!(grid.censoring_survival[0], 1.0);
    let c = censorings(&counts).unwrap();
    // G(t_1−) = 1 − c_0/n_0
    let g1 = 1.0 - c[0] as f64 / counts.at_risk[0] as f64;
    assert!((grid.censoring_survival[1] - g1).abs() < 1e-15);
    let total: u64 = c.iter().sum();
    let censored = data
        .iter()
        .filter(|r| r.status == CompetingStatus::Censored)
        .count();
    assert_eq!(total, censored as u64);
    // a row off the grid is refused, and so are inconsistent counts
    let off = [FineGrayRow {
        time: 1.5,
        ..data[0].clone()
    }];
    assert_eq!(
        finegray_site_sums(&off, &grid, &[0.0, 0.0]).unwrap_err(),
        StatsError::EventNotOnGrid
    );
    let mut bad = counts.clone();
    bad.events[0] += counts.at_risk[0];
    assert!(FineGrayGrid::from_counts(&grid.times, &bad).is_err());
}
