//! Site side, step two: rows become the real vector of one aggregation round, and
//! the hub turns the summed vector back into `oncofed-stats` aggregates.
//!
//! Each [`Computation`] has a fixed vector layout, known to both sides from the
//! computation alone, so masks line up and a wrong length is caught at once.
//! Every entry is a plain sum over rows, which is what makes the sum over sites
//! equal to the pooled value.

use crate::AnalysisError;
use crate::rows::Row;
use oncofed_protocol::analysis::{
    Analysis, Computation, MAX_GROUP_LEVELS, Outcome, Variable, time_bin_end,
};
use oncofed_stats::{
    CoxAggregate, CoxGrid, CoxSiteSums, GlmAggregate, GlmRow, GlmStart, GridPoint, KmCounts,
    SurvivalRow, Ties, TimeEvent, cox_site_contribution, cox_site_sums, glm_site_contribution,
    glm_site_start, km_site_counts,
};
use std::borrow::Cow;

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

fn survival_rows(rows: &[Row], analysis: &Analysis, stratum: u32) -> Vec<SurvivalRow> {
    let covariates = analysis.covariates();
    rows.iter()
        .map(|r| SurvivalRow {
            time: r.time,
            event: r.event,
            covariates: design_columns(covariates, &r.values),
            stratum,
        })
        .collect()
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

fn cox_grid(grid: &[f64]) -> CoxGrid {
    CoxGrid::from_points(
        grid.iter()
            .map(|&time| GridPoint { stratum: 0, time })
            .collect(),
    )
}

/// `rows` with each time moved to its bin's last day (`bins` empty: as they
/// are), so that every sum over a risk set or a time point covers whole bins.
fn binned<'a>(rows: &'a [Row], bins: &[f64]) -> Cow<'a, [Row]> {
    if bins.is_empty() {
        return Cow::Borrowed(rows);
    }
    Cow::Owned(
        rows.iter()
            .map(|r| Row {
                time: time_bin_end(bins, r.time),
                ..r.clone()
            })
            .collect(),
    )
}

/// Exits and deaths per bin `[edges[i], edges[i+1])`: the counts the hub
/// merges and refines time bins on.
fn exit_counts(rows: &[Row], edges: &[f64]) -> Vec<f64> {
    let b = edges.len().saturating_sub(1);
    let mut out = vec![0.0; 2 * b];
    for r in rows {
        let i = edges.partition_point(|&e| e <= r.time);
        if (1..=b).contains(&i) {
            out[i - 1] += 1.0;
            if r.event {
                out[b + i - 1] += 1.0;
            }
        } else if i > b && b > 0 {
            // past the last edge (never with rows capped at the horizon)
            out[b - 1] += 1.0;
            if r.event {
                out[2 * b - 1] += 1.0;
            }
        }
    }
    out
}

/// The rows of group `g` of a curve analysis: those whose grouping value is
/// `levels[g]` (or `g` without levels); every row without groups.
fn group_members<'a>(
    rows: &'a [Row],
    analysis: &Analysis,
    levels: &'a [f64],
    g: usize,
) -> impl Iterator<Item = &'a Row> {
    let column = group_column(analysis);
    let level = levels.get(g).copied().unwrap_or(g as f64);
    rows.iter()
        .filter(move |r| column.is_none_or(|c| r.values[c] == level))
}

/// One group's competing-risks counts on `grid`, `[at risk, events of
/// interest, competing events]`: at a grid point the rows with time ≥ t, and
/// those whose event at t had cause 1 or 2 (the row's last value).
fn cif_counts(rows: &[&Row], grid: &[f64]) -> Vec<f64> {
    let t = grid.len();
    let mut out = vec![0.0; 3 * t];
    for r in rows {
        // grid points t ≤ time: at risk there
        let upto = grid.partition_point(|&g| g <= r.time);
        for slot in &mut out[..upto] {
            *slot += 1.0;
        }
        let cause = r.values.last().copied().unwrap_or(0.0);
        if r.event && upto > 0 && grid[upto - 1] == r.time && (cause == 1.0 || cause == 2.0) {
            let block = if cause == 1.0 { 1 } else { 2 };
            out[block * t + upto - 1] += 1.0;
        }
    }
    out
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
        Computation::ExitCounts { edges } => exit_counts(rows, edges),
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
        } => {
            let rows = binned(rows, bins);
            let mut out = Vec::with_capacity(2 * grid.len() * groups);
            for g in 0..*groups {
                let members: Vec<TimeEvent> = group_members(&rows, analysis, levels, g)
                    .map(|r| TimeEvent {
                        time: r.time,
                        event: r.event,
                    })
                    .collect();
                let counts = km_site_counts(&members, grid)?;
                out.extend(counts.at_risk.iter().map(|&n| n as f64));
                out.extend(counts.events.iter().map(|&n| n as f64));
            }
            out
        }
        Computation::CifCounts {
            grid,
            groups,
            levels,
            bins,
        } => {
            let rows = binned(rows, bins);
            let mut out = Vec::with_capacity(3 * grid.len() * groups);
            for g in 0..*groups {
                let members: Vec<&Row> = group_members(&rows, analysis, levels, g).collect();
                out.extend(cif_counts(&members, grid));
            }
            out
        }
        Computation::CoxSums {
            grid,
            beta,
            ties,
            bins,
        } => {
            let rows = binned(rows, bins);
            let sums = cox_site_sums(
                &survival_rows(&rows, analysis, 0),
                &cox_grid(grid),
                beta,
                *ties,
            )?;
            flatten_cox_sums(&sums)
        }
        Computation::CoxStratum { beta, ties } => {
            let agg = cox_site_contribution(&survival_rows(rows, analysis, 0), beta, *ties)?;
            let mut out = vec![agg.loglik, agg.events];
            out.extend(&agg.gradient);
            out.extend(&agg.hessian);
            out
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
        Computation::Totals => 2 + analysis.categorical_levels(),
        Computation::EventDays { horizon_days } => *horizon_days as usize + 1,
        Computation::ExitCounts { edges } => 2 * edges.len().saturating_sub(1),
        Computation::GroupLevels => MAX_GROUP_LEVELS + 1,
        Computation::KmCounts { grid, groups, .. } => 2 * grid.len() * groups,
        Computation::CifCounts { grid, groups, .. } => 3 * grid.len() * groups,
        Computation::CoxSums { grid, ties, .. } => {
            let t = grid.len();
            let tied = usize::from(*ties == Ties::Efron);
            (1 + tied) * (t + t * p + t * p * p) + t + 1 + p
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

/// Cox sums as one vector: events, s0, s1, s2, tied_s0, tied_s1, tied_s2, event_xb, event_x.
pub fn flatten_cox_sums(s: &CoxSiteSums) -> Vec<f64> {
    let mut out = Vec::new();
    for part in [
        &s.events, &s.s0, &s.s1, &s.s2, &s.tied_s0, &s.tied_s1, &s.tied_s2,
    ] {
        out.extend_from_slice(part);
    }
    out.push(s.event_xb);
    out.extend_from_slice(&s.event_x);
    out
}

/// Inverse of [`flatten_cox_sums`] for `p` coefficients and `t` grid points.
pub fn unflatten_cox_sums(
    v: &[f64],
    p: usize,
    t: usize,
    ties: Ties,
) -> Result<CoxSiteSums, AnalysisError> {
    let mut s = CoxSiteSums::zeros(p, t, ties);
    let mut rest = v;
    for part in [
        &mut s.events,
        &mut s.s0,
        &mut s.s1,
        &mut s.s2,
        &mut s.tied_s0,
        &mut s.tied_s1,
        &mut s.tied_s2,
    ] {
        let n = part.len();
        let (head, tail) = split(rest, n)?;
        part.copy_from_slice(head);
        rest = tail;
    }
    let (xb, tail) = split(rest, 1)?;
    s.event_xb = xb[0];
    let (x, tail) = split(tail, p)?;
    s.event_x.copy_from_slice(x);
    if !tail.is_empty() {
        return Err(AnalysisError::Protocol("cox sums vector too long"));
    }
    Ok(s)
}

fn split(v: &[f64], n: usize) -> Result<(&[f64], &[f64]), AnalysisError> {
    if v.len() < n {
        return Err(AnalysisError::Protocol("summed vector too short"));
    }
    Ok(v.split_at(n))
}

/// The summed [`Computation::CoxStratum`] vector as a [`CoxAggregate`].
pub fn unflatten_cox_aggregate(v: &[f64], p: usize) -> Result<CoxAggregate, AnalysisError> {
    let (head, rest) = split(v, 2)?;
    let (gradient, hessian) = split(rest, p)?;
    Ok(CoxAggregate {
        loglik: head[0],
        events: head[1],
        gradient: gradient.to_vec(),
        hessian: hessian.to_vec(),
    })
}

/// The summed [`Computation::GlmStart`] vector.
pub fn unflatten_glm_start(v: &[f64], p: usize) -> Result<GlmStart, AnalysisError> {
    let (xtwx, xtwz) = split(v, p * p)?;
    Ok(GlmStart {
        xtwx: xtwx.to_vec(),
        xtwz: xtwz.to_vec(),
    })
}

/// The summed [`Computation::GlmStep`] vector.
pub fn unflatten_glm(v: &[f64], p: usize) -> Result<GlmAggregate, AnalysisError> {
    let (head, rest) = split(v, 3)?;
    let (score, information) = split(rest, p)?;
    Ok(GlmAggregate {
        n: head[0],
        loglik: head[1],
        deviance: head[2],
        score: score.to_vec(),
        information: information.to_vec(),
    })
}

/// The summed [`Computation::KmCounts`] vector, one [`KmCounts`] per group.
/// Counts are sums of whole numbers, so rounding removes the fixed-point error.
pub fn unflatten_km(v: &[f64], t: usize, groups: usize) -> Result<Vec<KmCounts>, AnalysisError> {
    if v.len() != 2 * t * groups {
        return Err(AnalysisError::Protocol(
            "km counts vector has the wrong length",
        ));
    }
    let whole = |x: &f64| x.round().max(0.0) as u64;
    Ok(v.chunks(2 * t)
        .map(|c| KmCounts {
            at_risk: c[..t].iter().map(whole).collect(),
            events: c[t..].iter().map(whole).collect(),
        })
        .collect())
}
