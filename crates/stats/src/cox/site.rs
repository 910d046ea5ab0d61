//! Site part of the pooled Cox model: per-grid-point risk-set sums.

use serde::{Deserialize, Serialize};

use super::{SurvivalRow, Ties};
use crate::error::{StatsError, check_len};

/// One point of the hub's time grid: an event time within a stratum. Risk sets
/// are formed per stratum; with one stratum everywhere the model is unstratified.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GridPoint {
    /// The stratum whose baseline hazard this point belongs to.
    pub stratum: u32,
    /// The event time.
    pub time: f64,
}

/// The sorted, de-duplicated set of (stratum, event time) points on which the
/// sites report their sums. Sending it to the sites reveals every distinct event
/// time to every site (and building it reveals each site's event times to the
/// hub): a disclosure that the coarsened grid of a later step must replace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoxGrid {
    points: Vec<GridPoint>,
}

fn key_cmp(a: (u32, f64), b: (u32, f64)) -> std::cmp::Ordering {
    a.0.cmp(&b.0).then(a.1.total_cmp(&b.1))
}

impl CoxGrid {
    /// The grid of a site's own events (site side of the grid round).
    pub fn from_events(rows: &[SurvivalRow]) -> Result<Self, StatsError> {
        let mut points = Vec::new();
        for row in rows {
            if !row.time.is_finite() {
                return Err(StatsError::NonFinite { what: "time" });
            }
            if row.event {
                points.push(GridPoint {
                    stratum: row.stratum,
                    time: row.time,
                });
            }
        }
        Ok(Self::from_points(points))
    }

    /// The union of the sites' grids (hub side of the grid round).
    pub fn merge(grids: &[CoxGrid]) -> Self {
        Self::from_points(
            grids
                .iter()
                .flat_map(|g| g.points.iter().copied())
                .collect(),
        )
    }

    /// A grid from known points (the hub's pooled event times, or a grid a
    /// site receives): sorted and de-duplicated here.
    pub fn from_points(mut points: Vec<GridPoint>) -> Self {
        points.sort_by(|a, b| key_cmp((a.stratum, a.time), (b.stratum, b.time)));
        points.dedup();
        Self { points }
    }

    /// The grid points in (stratum, time) order.
    pub fn points(&self) -> &[GridPoint] {
        &self.points
    }

    fn position(&self, stratum: u32, time: f64) -> Option<usize> {
        self.points
            .binary_search_by(|g| key_cmp((g.stratum, g.time), (stratum, time)))
            .ok()
    }
}

/// What a site sends for one β in the pooled (unstratified-by-site) Cox model:
/// sums over its own rows that the hub adds across sites *before* taking logs
/// and ratios, which is what makes the pooled fit exact. For grid point j with
/// risk set R_j (rows of that stratum with time ≥ t_j) and tied events D_j:
/// `s0[j] = Σ_{R_j} e^{xβ}`, `s1[j] = Σ_{R_j} e^{xβ} x`, `s2[j] = Σ_{R_j} e^{xβ} x xᵀ`,
/// `events[j] = |D_j|`, and for Efron the same three sums over D_j.
/// All fields are plain sums, so the struct adds element-wise (secure aggregation
/// can mask each field). Matrices are row-major, `s1` is `T × p`, `s2` is `T × p × p`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoxSiteSums {
    /// Number of coefficients p.
    pub p: usize,
    /// Which tie handling the sums were computed for (Breslow sends no tied sums).
    pub ties: Ties,
    /// Number of events at each grid point (kept as f64 so every field is a real vector).
    pub events: Vec<f64>,
    /// Risk-set sums of `exp(xβ)` per grid point.
    pub s0: Vec<f64>,
    /// Risk-set sums of `exp(xβ) x`, `T × p`.
    pub s1: Vec<f64>,
    /// Risk-set sums of `exp(xβ) x xᵀ`, `T × p × p`.
    pub s2: Vec<f64>,
    /// Efron only: sums of `exp(xβ)` over the events tied at each grid point.
    pub tied_s0: Vec<f64>,
    /// Efron only: sums of `exp(xβ) x` over the tied events, `T × p`.
    pub tied_s1: Vec<f64>,
    /// Efron only: sums of `exp(xβ) x xᵀ` over the tied events, `T × p × p`.
    pub tied_s2: Vec<f64>,
    /// `Σ xβ` over the site's events (the numerator of the partial likelihood).
    pub event_xb: f64,
    /// `Σ x` over the site's events (the numerator of the score).
    pub event_x: Vec<f64>,
}

impl CoxSiteSums {
    /// All-zero sums for `t` grid points, the neutral element of [`Self::add`].
    pub fn zeros(p: usize, t: usize, ties: Ties) -> Self {
        let tied = usize::from(ties == Ties::Efron);
        Self {
            p,
            ties,
            events: vec![0.0; t],
            s0: vec![0.0; t],
            s1: vec![0.0; t * p],
            s2: vec![0.0; t * p * p],
            tied_s0: vec![0.0; tied * t],
            tied_s1: vec![0.0; tied * t * p],
            tied_s2: vec![0.0; tied * t * p * p],
            event_xb: 0.0,
            event_x: vec![0.0; p],
        }
    }

    /// Number of grid points the sums cover.
    pub fn grid_len(&self) -> usize {
        self.s0.len()
    }

    /// Adds another site's sums (the hub's only operation on them).
    pub fn add(&mut self, other: &CoxSiteSums) -> Result<(), StatsError> {
        check_len("cox sums: coefficients", self.p, other.p)?;
        check_len("cox sums: grid points", self.grid_len(), other.grid_len())?;
        if self.ties != other.ties {
            return Err(StatsError::Mismatch {
                what: "tie handling",
            });
        }
        let pairs: [(&mut Vec<f64>, &Vec<f64>); 8] = [
            (&mut self.events, &other.events),
            (&mut self.s0, &other.s0),
            (&mut self.s1, &other.s1),
            (&mut self.s2, &other.s2),
            (&mut self.tied_s0, &other.tied_s0),
            (&mut self.tied_s1, &other.tied_s1),
            (&mut self.tied_s2, &other.tied_s2),
            (&mut self.event_x, &other.event_x),
        ];
        for (mine, theirs) in pairs {
            check_len("cox sums: field", mine.len(), theirs.len())?;
            mine.iter_mut().zip(theirs).for_each(|(a, b)| *a += b);
        }
        self.event_xb += other.event_xb;
        Ok(())
    }
}

fn add_scaled(acc: &mut [f64], weight: f64, x: &[f64]) {
    acc.iter_mut().zip(x).for_each(|(a, v)| *a += weight * v);
}

fn add_outer(acc: &mut [f64], weight: f64, x: &[f64]) {
    let p = x.len();
    for i in 0..p {
        let wi = weight * x[i];
        for j in 0..p {
            acc[i * p + j] += wi * x[j];
        }
    }
}

fn validate(rows: &[SurvivalRow], p: usize) -> Result<(), StatsError> {
    for row in rows {
        check_len("covariates", p, row.covariates.len())?;
        if !row.time.is_finite() {
            return Err(StatsError::NonFinite { what: "time" });
        }
        if row.covariates.iter().any(|v| !v.is_finite()) {
            return Err(StatsError::NonFinite { what: "covariate" });
        }
    }
    Ok(())
}

/// Site part of the pooled Cox model: the risk-set and tied-event sums of this
/// site's rows at β on the hub's grid. One sweep over the rows sorted by
/// descending time, O(n p² + T p²). Fails with [`StatsError::EventNotOnGrid`] if
/// one of the site's events is missing from the grid.
pub fn cox_site_sums(
    rows: &[SurvivalRow],
    grid: &CoxGrid,
    beta: &[f64],
    ties: Ties,
) -> Result<CoxSiteSums, StatsError> {
    sums(rows, None, grid, beta, ties)
}

/// Site part with delayed entry (left truncation): as [`cox_site_sums`], but
/// row `i` is in the risk set at grid time t only when `entries[i] < t ≤
/// time` (R `coxph(Surv(entry, time, event) ~ …)`). The risk-set sums are the
/// sums over rows with time ≥ t minus those over rows with entry ≥ t (a row
/// entering at or after t has its time after t too), accumulated in two
/// backward sweeps.
pub fn cox_site_sums_entered(
    rows: &[SurvivalRow],
    entries: &[f64],
    grid: &CoxGrid,
    beta: &[f64],
    ties: Ties,
) -> Result<CoxSiteSums, StatsError> {
    check_len("entries", rows.len(), entries.len())?;
    for (row, &entry) in rows.iter().zip(entries) {
        if !entry.is_finite() {
            return Err(StatsError::NonFinite { what: "entry" });
        }
        if entry >= row.time {
            return Err(StatsError::EntryAfterExit);
        }
    }
    sums(rows, Some(entries), grid, beta, ties)
}

/// Risk-set sums per grid point of the rows whose `key` (time, or entry) is ≥
/// the grid time, within the grid point's stratum: one backward sweep.
fn backward_sums(
    rows: &[SurvivalRow],
    key: &dyn Fn(usize) -> f64,
    weights: &[f64],
    grid: &CoxGrid,
    p: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let t = grid.points.len();
    let (mut s0, mut s1, mut s2) = (vec![0.0; t], vec![0.0; t * p], vec![0.0; t * p * p]);
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| key_cmp((rows[b].stratum, key(b)), (rows[a].stratum, key(a))));
    let (mut acc0, mut acc1, mut acc2) = (0.0, vec![0.0; p], vec![0.0; p * p]);
    let mut acc_stratum = None;
    let mut next = 0;
    for j in (0..t).rev() {
        let g = grid.points[j];
        if acc_stratum != Some(g.stratum) {
            acc_stratum = Some(g.stratum);
            acc0 = 0.0;
            acc1.iter_mut().for_each(|v| *v = 0.0);
            acc2.iter_mut().for_each(|v| *v = 0.0);
        }
        while let Some(&i) = order.get(next) {
            let row = &rows[i];
            if row.stratum > g.stratum {
                next += 1; // a stratum without grid points: in no risk set
            } else if row.stratum == g.stratum && key(i) >= g.time {
                let w = weights[i];
                acc0 += w;
                add_scaled(&mut acc1, w, &row.covariates);
                add_outer(&mut acc2, w, &row.covariates);
                next += 1;
            } else {
                break;
            }
        }
        s0[j] = acc0;
        s1[j * p..(j + 1) * p].copy_from_slice(&acc1);
        s2[j * p * p..(j + 1) * p * p].copy_from_slice(&acc2);
    }
    (s0, s1, s2)
}

fn sums(
    rows: &[SurvivalRow],
    entries: Option<&[f64]>,
    grid: &CoxGrid,
    beta: &[f64],
    ties: Ties,
) -> Result<CoxSiteSums, StatsError> {
    let p = beta.len();
    validate(rows, p)?;
    let t = grid.points.len();
    let mut sums = CoxSiteSums::zeros(p, t, ties);
    let risk: Vec<f64> = rows
        .iter()
        .map(|r| {
            r.covariates
                .iter()
                .zip(beta)
                .map(|(x, b)| x * b)
                .sum::<f64>()
        })
        .collect();

    for (row, xb) in rows.iter().zip(&risk) {
        if !row.event {
            continue;
        }
        let j = grid
            .position(row.stratum, row.time)
            .ok_or(StatsError::EventNotOnGrid)?;
        let w = xb.exp();
        sums.events[j] += 1.0;
        sums.event_xb += xb;
        add_scaled(&mut sums.event_x, 1.0, &row.covariates);
        if ties == Ties::Efron {
            sums.tied_s0[j] += w;
            add_scaled(&mut sums.tied_s1[j * p..(j + 1) * p], w, &row.covariates);
            add_outer(
                &mut sums.tied_s2[j * p * p..(j + 1) * p * p],
                w,
                &row.covariates,
            );
        }
    }

    // sweep from the last grid point backwards, growing the risk set; with
    // delayed entry, less the rows not yet entered
    let weights: Vec<f64> = risk.iter().map(|xb| xb.exp()).collect();
    let (s0, s1, s2) = backward_sums(rows, &|i| rows[i].time, &weights, grid, p);
    (sums.s0, sums.s1, sums.s2) = (s0, s1, s2);
    if let Some(entries) = entries {
        let (e0, e1, e2) = backward_sums(rows, &|i| entries[i], &weights, grid, p);
        for (acc, late) in [(&mut sums.s0, e0), (&mut sums.s1, e1), (&mut sums.s2, e2)] {
            acc.iter_mut().zip(late).for_each(|(a, l)| *a -= l);
        }
    }
    Ok(sums)
}
