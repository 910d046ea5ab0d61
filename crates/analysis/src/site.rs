//! Site side, step two: rows become the real vector of one aggregation round, and
//! the hub turns the summed vector back into `oncofed-stats` aggregates.
//!
//! Each [`Computation`] has a fixed vector layout, known to both sides from the
//! computation alone, so masks line up and a wrong length is caught at once.
//! Every entry is a plain sum over rows, which is what makes the sum over sites
//! equal to the pooled value.

use crate::AnalysisError;
use crate::rows::Row;
use oncofed_protocol::analysis::{Analysis, Computation, MAX_GROUP_LEVELS, Outcome, Variable};
use oncofed_stats::{GlmRow, Ties, glm_site_contribution, glm_site_start};

mod layout;
mod survival;

pub use layout::{
    flatten_cox_sums, unflatten_cox_aggregate, unflatten_cox_sums, unflatten_glm,
    unflatten_glm_start, unflatten_km,
};

/// Index of the first covariate/variable column used by `analysis` as groups or
/// strata (the last variable), if it has one.
fn group_column(analysis: &Analysis) -> Option<usize> {
    match analysis {
        Analysis::KaplanMeier {
            groups: Some(_), ..
        }
        | Analysis::CumulativeIncidence {
            groups: Some(_), ..
        } => Some(0),
        Analysis::Describe {
            variables,
            strata: Some(_),
            ..
        } => Some(variables.len()),
        Analysis::Cox {
            covariates,
            strata: Some(_),
            ..
        } => Some(covariates.len()),
        _ => None,
    }
}

/// A row's model columns from its values of `covariates` (in order): a
/// categorical covariate becomes one 0/1 column per non-reference level
/// (treatment contrasts), any other covariate its value.
pub fn design_columns(covariates: &[Variable], values: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    for (v, &x) in covariates.iter().zip(values) {
        match v {
            Variable::Categorical { levels, .. } => {
                out.extend(levels.iter().skip(1).map(|l| f64::from(u8::from(l.0 == x))));
            }
            _ => out.push(x),
        }
    }
    out
}

/// Rows per listed level of each categorical covariate, in order (the tail of
/// the [`Computation::Totals`] vector).
fn level_counts(rows: &[Row], analysis: &Analysis) -> Vec<f64> {
    let mut out = Vec::with_capacity(analysis.categorical_levels());
    for (c, v) in analysis.covariates().iter().enumerate() {
        if let Variable::Categorical { levels, .. } = v {
            out.extend(
                levels
                    .iter()
                    .map(|l| rows.iter().filter(|r| r.values[c] == l.0).count() as f64),
            );
        }
    }
    out
}

/// The design rows of a GLM: intercept, covariates; the response from `outcome`.
fn glm_rows(rows: &[Row], analysis: &Analysis) -> Result<Vec<GlmRow>, AnalysisError> {
    let Analysis::Glm {
        outcome,
        covariates,
        ..
    } = analysis
    else {
        return Err(AnalysisError::Protocol("GLM step for another analysis"));
    };
    // the values hold one entry per covariate, then the outcome variable's
    let k = covariates.len();
    Ok(rows
        .iter()
        .map(|r| {
            let y = match outcome {
                Outcome::Deceased => f64::from(u8::from(r.dead)),
                Outcome::Variable { .. } => r.values[k],
            };
            let mut x = Vec::with_capacity(analysis.parameters());
            x.push(1.0);
            x.extend(design_columns(covariates, &r.values[..k]));
            GlmRow { y, x, offset: 0.0 }
        })
        .collect())
}

fn family(analysis: &Analysis) -> Result<oncofed_stats::Family, AnalysisError> {
    match analysis {
        Analysis::Glm { family, .. } => Ok(*family),
        _ => Err(AnalysisError::Protocol("GLM step for another analysis")),
    }
}

/// The site's vector for `computation` over its complete `rows`.
pub fn compute(
    rows: &[Row],
    analysis: &Analysis,
    computation: &Computation,
) -> Result<Vec<f64>, AnalysisError> {
    Ok(match computation {
        Computation::Totals => {
            let survival = analysis.survival().is_some();
            let events = rows
                .iter()
                .filter(|r| if survival { r.event } else { r.dead })
                .count();
            let mut out = vec![rows.len() as f64, events as f64];
            out.extend(level_counts(rows, analysis));
            out
        }
        Computation::EventDays { horizon_days } => {
            let mut days = vec![0.0; *horizon_days as usize + 1];
            for r in rows.iter().filter(|r| r.event) {
                if let Some(slot) = days.get_mut(r.time as usize) {
                    *slot += 1.0;
                }
            }
            days
        }
        Computation::ExitCounts { edges, levels } => {
            survival::exit_counts(rows, analysis, edges, levels)
        }
        Computation::GroupLevels => {
            let mut out = vec![0.0; MAX_GROUP_LEVELS + 1];
            if let Some(c) = group_column(analysis) {
                for r in rows {
                    let v = r.values[c];
                    let level = if v.fract() == 0.0 && (0.0..MAX_GROUP_LEVELS as f64).contains(&v) {
                        v as usize
                    } else {
                        MAX_GROUP_LEVELS
                    };
                    out[level] += 1.0;
                }
            }
            out
        }
        Computation::KmCounts {
            grid,
            groups,
            levels,
            bins,
        } => survival::km_counts(rows, analysis, grid, *groups, levels, bins)?,
        Computation::CifCounts {
            grid,
            groups,
            levels,
            bins,
        } => survival::cif_counts(rows, analysis, grid, *groups, levels, bins),
        Computation::CoxSums {
            grid,
            strata,
            beta,
            ties,
            bins,
        } => flatten_cox_sums(&survival::cox_sums(
            rows, analysis, grid, strata, beta, *ties, bins,
        )?),
        Computation::CoxResidualGram {
            grid,
            strata,
            beta,
            bins,
            ..
        } => survival::cox_residual_gram(rows, analysis, grid, strata, beta, bins)?.values,
        Computation::FineGraySums {
            grid,
            censoring_survival,
            beta,
            bins,
        } => flatten_cox_sums(&survival::finegray_sums(
            rows,
            analysis,
            grid,
            censoring_survival,
            beta,
            bins,
        )?),
        Computation::FineGrayResidualGram {
            grid,
            censoring_survival,
            beta,
            bins,
        } => survival::finegray_gram(rows, analysis, grid, censoring_survival, beta, bins)?.values,
        Computation::CoxStratum { beta, ties } => {
            survival::cox_stratum(rows, analysis, beta, *ties)?
        }
        Computation::GlmStart => {
            let design = glm_rows(rows, analysis)?;
            let p = analysis.parameters();
            let start = glm_site_start(&design, p, family(analysis)?)?;
            let mut out = start.xtwx;
            out.extend(start.xtwz);
            out
        }
        Computation::GlmStep { beta } => {
            let agg = glm_site_contribution(&glm_rows(rows, analysis)?, beta, family(analysis)?)?;
            let mut out = vec![agg.n, agg.loglik, agg.deviance];
            out.extend(&agg.score);
            out.extend(&agg.information);
            out
        }
        Computation::Describe { edges } => describe_vector(rows, analysis, edges),
        Computation::Train { .. } | Computation::Evaluate { .. } => {
            return Err(AnalysisError::Invalid(
                "training and evaluation rounds are computed by the site's model runtime, not from rows"
                    .into(),
            ));
        }
    })
}

/// Number of numeric variables a describe summarises.
fn describe_variables(analysis: &Analysis) -> usize {
    match analysis {
        Analysis::Describe { variables, .. } => variables.len(),
        _ => 0,
    }
}

fn describe_vector(rows: &[Row], analysis: &Analysis, edges: &[f64]) -> Vec<f64> {
    let k = describe_variables(analysis);
    let mut out = Vec::new();
    for v in 0..k {
        let (mut s, mut ss) = (0.0, 0.0);
        for r in rows {
            s += r.values[v];
            ss += r.values[v] * r.values[v];
        }
        out.extend([rows.len() as f64, s, ss]);
    }
    if edges.len() >= 2 {
        for v in 0..k {
            let mut bins = vec![0.0; edges.len() + 1];
            for r in rows {
                let x = r.values[v];
                let slot = if x < edges[0] {
                    edges.len() - 1
                } else if x > edges[edges.len() - 1] {
                    edges.len()
                } else {
                    // bins are [e_i, e_{i+1}), the last one closed
                    edges[1..]
                        .iter()
                        .position(|&e| x < e)
                        .unwrap_or(edges.len() - 2)
                };
                bins[slot] += 1.0;
            }
            out.extend(bins);
        }
    }
    if let Some(c) = group_column(analysis) {
        let ones = rows.iter().filter(|r| r.values[c] == 1.0).count() as f64;
        out.extend([rows.len() as f64 - ones, ones]);
    }
    out
}

/// The L1 sensitivity of a DP describe release: one person moves each
/// variable's n by 1, one bin per histogram by 1, one stratum by 1, the rows
/// by 1 and the events by at most 1.
pub fn describe_sensitivity(analysis: &Analysis) -> f64 {
    let Analysis::Describe { edges, strata, .. } = analysis else {
        return 0.0;
    };
    let k = describe_variables(analysis);
    let hist = if edges.len() >= 2 { k } else { 0 };
    (k + hist + usize::from(strata.is_some()) + 2) as f64
}

/// The components of `computation`'s vector that count people in a DP
/// describe release: Totals' rows and events; describe's n per variable, its
/// histogram bins and strata (not Σx, Σx²: under DP the moments come from the
/// noised histogram).
pub fn dp_count_components(analysis: &Analysis, computation: &Computation) -> Vec<usize> {
    match computation {
        Computation::Totals => vec![0, 1],
        Computation::Describe { edges } => {
            let k = describe_variables(analysis);
            let bins = if edges.len() >= 2 { edges.len() + 1 } else { 0 };
            let mut out: Vec<usize> = (0..k).map(|i| 3 * i).collect();
            let counts_from = 3 * k;
            let strata = 2 * usize::from(group_column(analysis).is_some());
            out.extend(counts_from..counts_from + k * bins + strata);
            out
        }
        _ => Vec::new(),
    }
}

/// Adds this site's share of the distributed discrete Laplace noise of a DP
/// describe release (ε, at least `t` sites summed) to the count components
/// of `vector`, before it is masked: the hub then never holds the exact
/// counts ([`oncofed_privacy::PolyaShare`]). Other analyses and computations
/// are left alone (their counts are noised at release; their fit needs the
/// exact sums).
pub fn add_noise_share(
    vector: &mut [f64],
    analysis: &Analysis,
    computation: &Computation,
    epsilon: f64,
    t: usize,
) -> Result<(), AnalysisError> {
    if !matches!(analysis, Analysis::Describe { .. }) {
        return Ok(());
    }
    let share = oncofed_privacy::PolyaShare::new(describe_sensitivity(analysis) / epsilon, t)
        .map_err(|e| AnalysisError::Invalid(format!("epsilon: {e}")))?;
    let mut rng = rand::rng();
    for i in dp_count_components(analysis, computation) {
        if let Some(x) = vector.get_mut(i) {
            *x += share.sample(&mut rng) as f64;
        }
    }
    Ok(())
}

/// Length of the vector [`compute`] returns, derived from the computation (and
/// the analysis for describe and GLM); the hub checks every sum against it.
pub fn vector_len(analysis: &Analysis, computation: &Computation) -> usize {
    let p = analysis.parameters();
    match computation {
        Computation::Totals if matches!(analysis, Analysis::CellClassifier { .. }) => 4,
        Computation::Totals => 2 + analysis.categorical_levels(),
        Computation::Train { round } => oncofed_learn::train_vector_len(&round.spec),
        Computation::Evaluate { round, slots } => {
            slots * crate::driver::cells::evaluation_block_len(round.spec.classes.len(), round.bins)
        }
        Computation::EventDays { horizon_days } => *horizon_days as usize + 1,
        Computation::ExitCounts { edges, levels } => {
            let parts = 2
                + usize::from(survival::competing(analysis))
                + usize::from(survival::delayed(analysis));
            parts * edges.len().saturating_sub(1) * levels.len().max(1)
        }
        Computation::GroupLevels => MAX_GROUP_LEVELS + 1,
        Computation::KmCounts { grid, groups, .. } => 2 * grid.len() * groups,
        Computation::CifCounts { grid, groups, .. } => 3 * grid.len() * groups,
        Computation::CoxSums {
            grid, ties, strata, ..
        } => {
            let t = grid.len() * strata.len().max(1);
            let tied = usize::from(*ties == Ties::Efron);
            (1 + tied) * (t + t * p + t * p * p) + t + 1 + p
        }
        Computation::CoxResidualGram { grid, strata, .. } => {
            // cells (point, status) of the packed q × q upper triangle, q = 2p + 2
            let q = 2 * p + 2;
            grid.len() * strata.len().max(1) * 2 * q * (q + 1) / 2
        }
        // Breslow Cox sums without strata: events, s0, s1, s2, Σxβ, Σx
        Computation::FineGraySums { grid, .. } => {
            let t = grid.len();
            t + t + t * p + t * p * p + 1 + p
        }
        Computation::FineGrayResidualGram { grid, .. } => {
            // cells (time, status ∈ {censored, event, competing}), q = 2p + 2
            let q = 2 * p + 2;
            grid.len() * 3 * q * (q + 1) / 2
        }
        Computation::CoxStratum { .. } => 2 + p + p * p,
        Computation::GlmStart => p * p + p,
        Computation::GlmStep { .. } => 3 + p + p * p,
        Computation::Describe { edges } => {
            let k = describe_variables(analysis);
            let hist = if edges.len() >= 2 {
                k * (edges.len() + 1)
            } else {
                0
            };
            3 * k + hist + 2 * usize::from(group_column(analysis).is_some())
        }
    }
}
