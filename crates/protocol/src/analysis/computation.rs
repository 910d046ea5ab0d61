//! What a site computes per aggregation round ([`Computation`]) and the
//! rules both sides apply to its grids: group levels, time bins, the
//! censoring curve (kept apart from `analysis.rs`).

use super::Ties;
use serde::{Deserialize, Serialize};

/// What the site computes for one aggregation round; the answer is one real vector
/// of a length both sides know from the computation alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "compute", rename_all = "kebab-case")]
pub enum Computation {
    /// `[rows, events]`: how many complete rows the site contributes, and deaths among them;
    /// for a Cox, Fine–Gray or GLM model with categorical covariates, then the rows per
    /// listed level of each categorical covariate, in order (the hub refuses a
    /// level under the minimum cell by name before any fit). For a cell
    /// classifier: `[persons, training cells, validation cells, test cells]`.
    Totals,
    /// Deaths per day of follow-up, `horizon_days + 1` entries (day 0 ..= horizon):
    /// the pooled histogram is the exact-days time grid. Only for analyses with
    /// [`Survival::exact_times`]; binned analyses ask [`Computation::ExitCounts`].
    EventDays {
        /// The horizon.
        horizon_days: u32,
    },
    /// Exits (deaths and censorings) and deaths per time bin: `[exits per bin,
    /// deaths per bin]`, bins `[edges[i], edges[i+1])` in days, `edges[0] = 0`,
    /// the last edge `horizon + 1`. The hub merges and refines bins on these
    /// counts until every bin holds 0 or at least k exits and 0 or at least k
    /// deaths (see [`time_bin_end`]).
    ExitCounts {
        /// Bin edges in whole days, strictly ascending.
        edges: Vec<f64>,
        /// The levels of the analysis's groups or strata ([`Analysis::groups`]):
        /// the counts come per level, in order, so that every bin is valid in
        /// every group. Empty: all rows together. For a cumulative incidence
        /// or a Fine–Gray model ([`Analysis::competing_risks`]) each level's
        /// block has a third part, the events of the cause of interest per
        /// bin (so that both causes are 0 or ≥ k per bin). With
        /// delayed entry ([`Survival::entry`]) a further part counts the rows
        /// entering per bin. Layout per level: `[exits, events, (cause 1),
        /// (entries)]`, each one value per bin.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        levels: Vec<f64>,
    },
    /// Rows per level of the analysis's grouping variable: entry `v` counts
    /// the rows whose value is `v` (0 ≤ v < [`MAX_GROUP_LEVELS`]), the last
    /// entry the rows with any other value.
    GroupLevels,
    /// Kaplan–Meier counts (at risk, events) on `grid`, for each group level in
    /// order (one level when the analysis has no groups).
    KmCounts {
        /// Event times (days), ascending.
        grid: Vec<f64>,
        /// Number of groups (1 when the analysis has none).
        groups: usize,
        /// The grouping variable's value of each group, in order; empty: group
        /// `g` is the value `g` (as before levels were discovered).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        levels: Vec<f64>,
        /// Time bins: each row's time becomes its bin's last day ([`time_bin_end`])
        /// before counting. Empty: exact days (only with [`Survival::exact_times`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        bins: Vec<f64>,
    },
    /// Cumulative-incidence counts on `grid` per group level: at risk, events
    /// of the cause of interest, competing events (`[at risk, events,
    /// competing]` per group), times binned like [`Computation::KmCounts`].
    CifCounts {
        /// Grid times (days), ascending.
        grid: Vec<f64>,
        /// Number of groups (1 when the analysis has none).
        groups: usize,
        /// The grouping variable's value of each group, in order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        levels: Vec<f64>,
        /// Time bins (empty: exact days, only with [`Survival::exact_times`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        bins: Vec<f64>,
    },
    /// Cox risk-set sums at `beta` on `grid` (pooled model); with strata, the
    /// grid repeats per stratum (stratum-major: every grid time of the first
    /// level, then of the next).
    CoxSums {
        /// Event times (days), ascending.
        grid: Vec<f64>,
        /// The strata variable's levels, in order (empty: one stratum).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        strata: Vec<f64>,
        /// The coefficients.
        beta: Vec<f64>,
        /// Tie handling.
        ties: Ties,
        /// Time bins, as for [`Computation::KmCounts`]: deaths in one bin are
        /// tied, so no tied-death sum covers fewer than k deaths.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        bins: Vec<f64>,
    },
    /// The per-(grid point, status) Gram matrices of the Cox score-residual
    /// features `[x, r·x, 1, r]` (`r = exp(xβ)`) at the final `beta`, for
    /// robust standard errors (`oncofed_stats::cox_residual_gram`): cells
    /// `2·j + status` over the grid points `j` (repeated per stratum like
    /// [`Computation::CoxSums`]), status 1 the events at point j, status 0
    /// the censored rows whose last grid point at or before their time is j;
    /// each cell the packed upper triangle of its q × q matrix, q = 2p + 2.
    /// Times binned like [`Computation::CoxSums`], so every cell is a union
    /// of (bin, status) cells of 0 or at least k rows.
    CoxResidualGram {
        /// Event times (days), ascending.
        grid: Vec<f64>,
        /// The strata variable's levels, in order (empty: one stratum).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        strata: Vec<f64>,
        /// The final coefficients.
        beta: Vec<f64>,
        /// Tie handling (the model's; the Gram itself does not depend on it).
        ties: Ties,
        /// Time bins, as for [`Computation::CoxSums`].
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        bins: Vec<f64>,
    },
    /// Fine–Gray weighted risk-set sums at `beta` on `grid` (every bin's end),
    /// laid out as Breslow [`Computation::CoxSums`] without strata: a row is
    /// in the risk set at t with weight `exp(xβ)` while its time ≥ t, and a
    /// row with a competing event before t with weight `exp(xβ)·G(t−)/G(tᵢ−)`
    /// (`oncofed_stats::finegray_site_sums`).
    FineGraySums {
        /// The grid times (days), ascending: every bin's end.
        grid: Vec<f64>,
        /// `G(t−)` at each grid time: the pooled Kaplan–Meier of censoring
        /// just before it, in (0, 1] and non-increasing (sites check it).
        censoring_survival: Vec<f64>,
        /// The coefficients.
        beta: Vec<f64>,
        /// Time bins, as for [`Computation::CoxSums`].
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        bins: Vec<f64>,
    },
    /// The per-(grid time, status) Gram matrices of the Fine–Gray residual
    /// features `[x, r·x, 1, r]` at the final `beta`, for crr's sandwich
    /// variance (`oncofed_stats::finegray_residual_gram`): cells
    /// `3·j + status` (0 censored, 1 event of interest, 2 competing), each the
    /// packed upper triangle of its q × q matrix, q = 2p + 2. Binned like
    /// [`Computation::FineGraySums`], so every cell is one (bin, status) cell
    /// of 0 or at least k rows.
    FineGrayResidualGram {
        /// The grid times (days), ascending: every bin's end.
        grid: Vec<f64>,
        /// `G(t−)` at each grid time (as in [`Computation::FineGraySums`]).
        censoring_survival: Vec<f64>,
        /// The final coefficients.
        beta: Vec<f64>,
        /// Time bins.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        bins: Vec<f64>,
    },
    /// The site's own stratum's Cox log-likelihood, score and information at `beta`
    /// (model stratified by site).
    CoxStratum {
        /// The coefficients.
        beta: Vec<f64>,
        /// Tie handling.
        ties: Ties,
    },
    /// IRLS start: `XᵀWX` and `XᵀWz` at the family's starting fit.
    GlmStart,
    /// IRLS step at `beta`: n, log-likelihood, deviance, score, information.
    GlmStep {
        /// The coefficients (intercept first).
        beta: Vec<f64>,
    },
    /// Per variable `[n, Σx, Σx²]`, then per variable the histogram counts on
    /// `edges` (bins, then below, then above), then the strata counts `[n₀, n₁]`.
    Describe {
        /// Histogram edges (may be empty: no histogram).
        edges: Vec<f64>,
    },
    /// A cell classifier's training round (`oncofed_learn::TrainRound`): the
    /// site trains from the global parameters on its training cells and
    /// answers `oncofed_learn::train_vector_len` values (its weighted
    /// parameters or clipped, noised update, its validation loss).
    Train {
        /// The round as the hub drives it.
        round: oncofed_learn::TrainRound,
    },
    /// A cell classifier's evaluation on every site's held-out cells: site
    /// `i` (its secure-aggregation index) fills block `i` of `slots` blocks
    /// of `oncofed_learn::evaluate_vector_len` values with its counts (the
    /// other blocks 0), so the sum holds each site's evaluation apart.
    Evaluate {
        /// The parameters to score.
        round: oncofed_learn::EvaluateRound,
        /// Number of blocks: the run's admitted sites.
        slots: usize,
    },
}

/// Most levels of a Kaplan–Meier grouping variable (values 0 to 15).
pub const MAX_GROUP_LEVELS: usize = 16;

/// Whether `levels` can be the levels of a grouping or strata variable: at
/// most [`MAX_GROUP_LEVELS`] distinct whole values from 0 to
/// [`MAX_GROUP_LEVELS`]` − 1`, ascending. The text names the rule only.
pub fn check_group_levels(levels: &[f64]) -> Result<(), String> {
    let in_range = levels
        .iter()
        .all(|l| l.fract() == 0.0 && (0.0..MAX_GROUP_LEVELS as f64).contains(l));
    if levels.len() > MAX_GROUP_LEVELS || !in_range || !levels.windows(2).all(|w| w[0] < w[1]) {
        return Err(format!(
            "group levels must be ascending whole values from 0 to {}",
            MAX_GROUP_LEVELS - 1
        ));
    }
    Ok(())
}

/// The last day of the time bin that holds day `time`, for bin `edges` as in
/// [`Computation::ExitCounts`]; a time past the last edge keeps the last bin's
/// end. Binned times make every risk set a union of whole bins, so the
/// difference of two risk sets is again whole bins (issue 11, item 3).
pub fn time_bin_end(edges: &[f64], time: f64) -> f64 {
    let i = edges.partition_point(|&e| e <= time);
    match edges.get(i) {
        Some(&end) => end - 1.0,
        None => edges.last().map_or(time, |&e| e - 1.0),
    }
}

/// Whether `grid` holds the end of every bin of `edges` (a binned grid must:
/// then no site's death is off the grid, and no site refuses a step for a
/// reason that depends on its rows).
pub fn grid_covers_bins(grid: &[f64], edges: &[f64]) -> bool {
    edges[1.min(edges.len())..]
        .iter()
        .all(|e| grid.binary_search_by(|g| g.total_cmp(&(e - 1.0))).is_ok())
}

/// Whether `edges` are time bins for `horizon_days`: whole days, strictly
/// ascending, from 0 to `horizon_days + 1`. The text names the rule only.
pub fn check_time_bins(edges: &[f64], horizon_days: u32) -> Result<(), String> {
    let whole = edges.iter().all(|e| e.is_finite() && e.fract() == 0.0);
    let ascending = edges.windows(2).all(|w| w[0] < w[1]);
    if edges.len() < 2
        || !whole
        || !ascending
        || edges[0] != 0.0
        || edges[edges.len() - 1] != f64::from(horizon_days) + 1.0
    {
        return Err("time bins must be whole days ascending from 0 to the horizon + 1".into());
    }
    Ok(())
}

/// Whether `g` can be the censoring survival `G(t−)` of a Fine–Gray grid of
/// `grid_len` points: one finite value per point, each in (0, 1], the first
/// 1 (nothing is censored before the first time) and non-increasing (a
/// Kaplan–Meier curve). The text names the rule only.
pub fn check_censoring_survival(g: &[f64], grid_len: usize) -> Result<(), String> {
    let in_range = g.iter().all(|x| x.is_finite() && *x > 0.0 && *x <= 1.0);
    if g.len() != grid_len
        || !in_range
        || g.first().is_some_and(|&x| x != 1.0)
        || g.windows(2).any(|w| w[1] > w[0])
    {
        return Err(
            "the censoring survival must be one value per grid time in (0, 1], 1 at the first, non-increasing"
                .into(),
        );
    }
    Ok(())
}
