//! Hub side: drives an analysis through aggregation rounds and releases the result.
//!
//! The driver never sees a site's vector, only sums returned by a [`Federation`]
//! (in the hub: secure aggregation over the network; in tests: sites in memory).

use crate::result::{AnalysisResult, RegressionResult, RunInfo};
use crate::site::{unflatten_glm, unflatten_glm_start, vector_len};
use crate::{AnalysisError, AnalysisLimits, dp, plausibility};
use oncofed_protocol::analysis::{
    Analysis, AnalysisRequest, Computation, MAX_GROUP_LEVELS, Variable,
};
use oncofed_stats::{NewtonOptions, StatsError, fit_glm, glm_start};

pub mod binning;
pub mod cells;
mod cif;
mod cox;
mod describe;
mod finegray;
mod km;
mod times;
mod validate;

pub use cox::check_gram_cells;
pub use validate::validate;

use times::{km_grid, survival_times_in};

use describe::describe;

/// The sites, as the hub's driver sees them: it can only ask for sums.
pub trait Federation {
    /// How many sites take part (after the sites' own admission checks).
    fn sites(&self) -> usize;
    /// The sum over the participating sites of their vectors for `computation`;
    /// `len` is the layout's length (the implementation must check it).
    fn sum(&mut self, computation: Computation, len: usize) -> Result<Vec<f64>, AnalysisError>;
    /// Whether the sites add their shares of a DP describe's noise before
    /// masking ([`crate::site::add_noise_share`]): the sums then arrive noised
    /// and the driver adds none. In-memory federations do not.
    fn noised_at_sites(&self) -> bool {
        false
    }
    /// The participating sites as (secure-aggregation index, name): a cell
    /// classifier's evaluation gives each its own block of the summed
    /// vector. By default sites `0..sites()` named `site-1`, `site-2`, ….
    fn site_slots(&self) -> Vec<(usize, String)> {
        (0..self.sites())
            .map(|i| (i, format!("site-{}", i + 1)))
            .collect()
    }
}

/// Counts the rounds and keeps the first federation error, which the stats
/// closures cannot return themselves.
struct Rounds<'a> {
    federation: &'a mut dyn Federation,
    analysis: &'a Analysis,
    rounds: usize,
    failure: Option<AnalysisError>,
    /// The Totals round's (rows, events): later rounds must agree with them
    /// ([`plausibility`]).
    totals: (u64, u64),
}

impl Rounds<'_> {
    fn sum(&mut self, computation: Computation) -> Result<Vec<f64>, AnalysisError> {
        let len = vector_len(self.analysis, &computation);
        self.rounds += 1;
        let v = self.federation.sum(computation, len)?;
        if v.len() != len {
            return Err(AnalysisError::Protocol(
                "summed vector has the wrong length",
            ));
        }
        Ok(v)
    }

    /// Runs `f`, remembering a federation failure for [`Self::explain`].
    fn keep<T>(&mut self, r: Result<T, AnalysisError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.failure.get_or_insert(e);
                None
            }
        }
    }

    /// A stats error caused by a failed round reports the round's failure.
    fn explain(&mut self, e: StatsError) -> AnalysisError {
        self.failure.take().unwrap_or(AnalysisError::Stats(e))
    }
}

fn whole(x: f64) -> u64 {
    x.round().max(0.0) as u64
}

/// Runs `request` over `federation` under `limits`; with `request.epsilon`, every
/// released count of people gets discrete Laplace noise (describe: all its
/// counts; KM: rows, events, each curve's n and events, numbers at risk
/// withheld; Cox and GLM: rows and events). Checks the run-level
/// disclosure rules before any model is fitted.
pub fn run(
    request: &AnalysisRequest,
    limits: &AnalysisLimits,
    federation: &mut dyn Federation,
) -> Result<AnalysisResult, AnalysisError> {
    let analysis = &request.analysis;
    validate(request)?;
    let options = newton_options(request, limits, federation.sites())?;
    if federation.sites() < limits.min_sites {
        return Err(AnalysisError::Disclosure(format!(
            "fewer than {} sites can take part",
            limits.min_sites
        )));
    }
    if let Analysis::CellClassifier { training } = analysis {
        return cells::cell_classifier_run(request, training, limits, federation);
    }
    let mut rounds = Rounds {
        federation,
        analysis,
        rounds: 0,
        failure: None,
        totals: (0, 0),
    };
    let totals = rounds.sum(Computation::Totals)?;
    // noised at the sites (a DP describe), the totals need not be consistent
    let site_noise = request.epsilon.is_some()
        && matches!(analysis, Analysis::Describe { .. })
        && { rounds.federation.noised_at_sites() };
    if !site_noise {
        plausibility::check_totals(&totals[..2])?;
    }
    let (rows, events) = (whole(totals[0]), whole(totals[1]));
    rounds.totals = (rows, events);
    check_levels(analysis, &totals[2..], rows, limits)?;
    let p = analysis.parameters();
    if p as f64 > limits.max_parameter_ratio * rows as f64 {
        return Err(AnalysisError::Disclosure(format!(
            "{p} parameters need at least {:.0} rows (ratio {})",
            (p as f64 / limits.max_parameter_ratio).ceil(),
            limits.max_parameter_ratio
        )));
    }
    if p > 0 && (events < limits.min_cell || rows - events < limits.min_cell) {
        return Err(AnalysisError::Disclosure(format!(
            "a regression needs at least {} events and {} non-events",
            limits.min_cell, limits.min_cell
        )));
    }
    let mut info = RunInfo {
        sites: rounds.federation.sites(),
        rows,
        events,
        rounds: 0,
        epsilon: None,
        admission_seconds: None,
        aggregation_seconds: None,
        time_bins: None,
        endpoint: analysis.survival().map(|s| s.endpoint),
        origin: analysis
            .survival()
            .map(|s| s.origin.clone())
            .filter(|o| !o.is_index()),
        sat_out: Vec::new(),
        left: Vec::new(),
    };
    let sites = info.sites;
    let mut result = match analysis {
        Analysis::Describe {
            variables,
            edges,
            strata,
        } => {
            let v = rounds.sum(Computation::Describe {
                edges: edges.clone(),
            })?;
            if !site_noise {
                plausibility::check_describe(&v, analysis, edges, rows, rounds.federation.sites())?;
            }
            info.epsilon = request.epsilon;
            AnalysisResult::Describe(describe(
                v,
                variables,
                edges,
                strata,
                limits,
                request.epsilon.map(|e| (e, site_noise)),
                info.clone(),
            )?)
        }
        Analysis::KaplanMeier {
            survival,
            groups,
            interval_days,
        } => AnalysisResult::Km(km::kaplan_meier_run(
            &mut rounds,
            survival,
            groups,
            *interval_days,
            limits,
            request.epsilon,
            info.clone(),
        )?),
        Analysis::CumulativeIncidence {
            survival,
            groups,
            interval_days,
        } => AnalysisResult::Cif(cif::cumulative_incidence(
            &mut rounds,
            survival,
            groups,
            *interval_days,
            limits,
            request.epsilon,
            info.clone(),
        )?),
        Analysis::Cox {
            survival,
            covariates,
            ties,
            stratify_by_site,
            strata,
            robust,
        } => {
            let model = cox::CoxModel {
                survival,
                covariates,
                ties: *ties,
                by_site: *stratify_by_site,
                strata: strata.as_ref(),
                robust: *robust,
            };
            AnalysisResult::Cox(cox::cox_run(
                &mut rounds,
                &model,
                p,
                options,
                limits,
                info.clone(),
            )?)
        }
        Analysis::FineGray {
            survival,
            covariates,
        } => AnalysisResult::FineGray(finegray::fine_gray_run(
            &mut rounds,
            survival,
            covariates,
            p,
            options,
            limits,
            info.clone(),
        )?),
        Analysis::Glm {
            covariates, family, ..
        } => {
            let start = rounds.sum(Computation::GlmStart)?;
            let glm_terms = terms(covariates, true);
            let start = unflatten_glm_start(&start, p)?;
            plausibility::check_glm_start(&start, p, sites)?;
            let start = glm_start(p, &[start])
                .map_err(|e| name_singular(AnalysisError::Stats(e), &glm_terms))?;
            let mut evaluate = |beta: &[f64]| {
                let v = rounds.sum(Computation::GlmStep {
                    beta: beta.to_vec(),
                });
                let agg = v.and_then(|v| unflatten_glm(&v, p)).and_then(|a| {
                    plausibility::check_glm_step(&a, rows, sites)?;
                    Ok(a)
                });
                rounds.keep(agg).into_iter().collect()
            };
            let fit = fit_glm(start, options, &mut evaluate)
                .map_err(|e| rounds.explain(e))
                .map_err(|e| name_singular(e, &glm_terms))?;
            let terms = glm_terms;
            AnalysisResult::Glm(RegressionResult {
                run: info.clone(),
                model: format!(
                    "glm ({})",
                    serde_json::to_value(family)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or("?")
                ),
                terms,
                references: references(covariates),
                estimates: fit.estimates,
                loglik: fit.loglik,
                iterations: fit.iterations,
                convergence: Some(fit.convergence),
            })
        }
        Analysis::CellClassifier { .. } => {
            return Err(AnalysisError::Protocol(
                "cell classifier outside its driver",
            ));
        }
    };
    if let (
        Some(e),
        AnalysisResult::Cox(_) | AnalysisResult::FineGray(_) | AnalysisResult::Glm(_),
    ) = (request.epsilon, &result)
    {
        // A DP regression: its counts of people are noised (one person moves
        // rows by 1 and events by at most 1: L1 sensitivity 2). The estimates
        // are released under the disclosure limits, not under DP.
        let noised = dp::noise_counts(&[rows as f64, events as f64], 2.0, e)?;
        let run = result.run_mut();
        (run.rows, run.events, run.epsilon) = (noised[0], noised[1], Some(e));
    }
    result.run_mut().rounds = rounds.rounds;
    Ok(result)
}

/// The levels of a grouping or strata variable and their rows, from one round of pooled
/// counts per whole value: every row must have a whole value below
/// [`MAX_GROUP_LEVELS`], and every level present at least `min_cell` rows
/// (a smaller level is refused by name: its curve would describe too few
/// people; merge it with a neighbour or leave it out with a cohort criterion).
fn group_level_counts(
    rounds: &mut Rounds<'_>,
    var: &Variable,
    rows: u64,
    limits: &AnalysisLimits,
) -> Result<(Vec<f64>, Vec<u64>), AnalysisError> {
    let v = rounds.sum(Computation::GroupLevels)?;
    plausibility::check_whole_counts(&v, "group levels")?;
    let counts: Vec<u64> = v.iter().map(|&x| whole(x)).collect();
    if counts[MAX_GROUP_LEVELS] > 0 {
        return Err(AnalysisError::Invalid(format!(
            "the grouping variable {} has values that are not whole numbers from 0 to {}",
            var.name(),
            MAX_GROUP_LEVELS - 1
        )));
    }
    if counts.iter().sum::<u64>() != rows {
        return Err(AnalysisError::Federation(
            "implausible sums: group levels do not add up to the rows".into(),
        ));
    }
    let small: Vec<String> = (0..MAX_GROUP_LEVELS)
        .filter(|&l| counts[l] > 0 && counts[l] < limits.min_cell)
        .map(|l| format!("{}={l}", var.name()))
        .collect();
    if !small.is_empty() {
        return Err(AnalysisError::Disclosure(format!(
            "the level(s) {} have fewer than {} rows; merge them or leave them out with a cohort criterion",
            small.join(", "),
            limits.min_cell
        )));
    }
    let present: Vec<usize> = (0..MAX_GROUP_LEVELS).filter(|&l| counts[l] > 0).collect();
    Ok((
        present.iter().map(|&l| l as f64).collect(),
        present.iter().map(|&l| counts[l]).collect(),
    ))
}

/// The names of a model's terms, in the order of its coefficients: a
/// categorical covariate gives one per non-reference level
/// (`obs:loinc:89247-1=1`, ...).
fn terms(covariates: &[Variable], intercept: bool) -> Vec<String> {
    let mut out: Vec<String> = intercept
        .then(|| "intercept".to_string())
        .into_iter()
        .collect();
    out.extend(covariates.iter().flat_map(Variable::terms));
    out
}

/// The reference level of each categorical covariate (`obs:loinc:89247-1=0`).
fn references(covariates: &[Variable]) -> Vec<String> {
    covariates.iter().filter_map(Variable::reference).collect()
}

/// Most coefficients of a Cox or GLM model (a site's default bound on the
/// parameters it computes for, too).
pub const MAX_COEFFICIENTS: usize = 64;

/// The per-level row counts at the tail of the `Totals` vector: whole, each
/// categorical covariate's levels adding up to the rows (every complete row
/// holds one listed level), and every level at least `min_cell` rows: a
/// smaller level is refused by name, since its coefficient would describe
/// a handful of people.
fn check_levels(
    analysis: &Analysis,
    counts: &[f64],
    rows: u64,
    limits: &AnalysisLimits,
) -> Result<(), AnalysisError> {
    if counts.is_empty() {
        return Ok(());
    }
    plausibility::check_whole_counts(counts, "level counts")?;
    let mut rest = counts;
    let mut small = Vec::new();
    for v in analysis.covariates() {
        let Variable::Categorical { variable, levels } = v else {
            continue;
        };
        let (these, tail) = rest.split_at(levels.len());
        rest = tail;
        if these.iter().map(|&x| whole(x)).sum::<u64>() != rows {
            return Err(AnalysisError::Federation(
                "implausible sums: the level counts do not add up to the rows".into(),
            ));
        }
        for (l, &n) in levels.iter().zip(these) {
            if whole(n) < limits.min_cell {
                small.push(format!("{}={l}", variable.name()));
            }
        }
    }
    match small.as_slice() {
        [] => Ok(()),
        [one] => Err(AnalysisError::Disclosure(format!(
            "level {one} has fewer than {} rows: merge it or drop it",
            limits.min_cell
        ))),
        many => Err(AnalysisError::Disclosure(format!(
            "levels {} have fewer than {} rows each: merge them or drop them",
            many.join(", "),
            limits.min_cell
        ))),
    }
}

/// A singular information matrix names the term whose pivot was lost, so that
/// a researcher knows which covariate to drop (issue 12: a constant covariate
/// was reported as "information matrix is singular" alone).
fn name_singular(e: AnalysisError, terms: &[String]) -> AnalysisError {
    match e {
        AnalysisError::Stats(StatsError::SingularAt { index }) if index < terms.len() => {
            AnalysisError::Invalid(format!(
                "information matrix is singular at term {}: it is constant, collinear with the terms before it, or separates the outcome",
                terms[index]
            ))
        }
        e => e,
    }
}

/// The resolution of the secure-aggregation codec every analysis vector is
/// encoded with (`oncofed_secagg::WideFixedPoint::DEFAULT`, scale `2^48`, two
/// ring elements per value): each site's component is rounded to a multiple
/// of it, 2⁻⁴⁸ ≈ 3.6·10⁻¹⁵.
pub const CODEC_RESOLUTION: f64 = 1.0 / (1u64 << 48) as f64;

/// Newton options for a regression over `sites` sites whose sums carry the
/// codec's rounding.
///
/// - **Tolerance** 1e-9 on the Newton decrement (standard-error units): the
///   codec rounds each site's component to 2⁻⁴⁸ (a sum is off by at most
///   `sites · 2⁻⁴⁹`, 1e-13 at 64 sites), below the sites' own `f64`
///   summation error, so the decrement's floor is floating point, measured
///   1e-14..4e-12 on lung and synthetic Cox fits (up to 8 covariates). At 1e-9
///   the final Newton step (error second order in the decrement) leaves the
///   estimate at that floor, at most 1.7e-13 of max(|β|, SE) from R's pooled
///   fits (`tests/r_federated.rs`), in 5 or 6 Newton steps: quadratic
///   convergence mostly jumps past both 1e-7 and 1e-9 in one step (Rossi
///   takes one step more than at 1e-7). Over the old 2⁻²⁴ codec the rounding
///   moved the maximum by up to 3.2e-8 and put the decrement's floor near
///   1e-9..1e-8, hence its tolerance of 1e-7.
/// - **Log-likelihood rounding** for step halving: every summed component is
///   off by at most `sites · resolution / 2`; the log-likelihood is built from
///   at most a few per event time, each with weight ≤ 1 after division by the
///   risk-set sum, so `sites · resolution · 1e4` bounds it for grids of up to
///   thousands of event times. Only damped steps (decrement ≥ 0.25, gains of
///   ≥ 0.03) are tested, so this slack never accepts a real loss.
/// - **Round budget**: `max_iterations` Newton steps plus `max_iterations / 2`
///   halvings; [`AnalysisLimits::planned_rounds_for`] adds the fixed rounds
///   (unchanged by the finer codec: the Cox runs of `tests/convergence.rs`
///   use 5 to 12 rounds of the 39 to 46 planned).
///
/// The request's `tolerance` and `max_iter` override the default tolerance
/// and the limits' `max_iterations` ([`validate`] checks the tolerance's range;
/// here `max_iter` is held to `1..=limits.max_iterations`).
pub fn newton_options(
    request: &AnalysisRequest,
    limits: &AnalysisLimits,
    sites: usize,
) -> Result<NewtonOptions, AnalysisError> {
    let max_iterations = max_iterations(request, limits)?;
    Ok(NewtonOptions {
        tolerance: request.tolerance.unwrap_or(DEFAULT_TOLERANCE),
        loglik_rounding: sites.max(1) as f64 * CODEC_RESOLUTION * 1e4,
        ..newton_budget(max_iterations)
    })
}

/// The tolerance on the Newton decrement when the request names none.
pub const DEFAULT_TOLERANCE: f64 = 1e-9;

/// The tolerances a request may ask for: tighter than 1e-12 is below the
/// floating-point floor of the summed score (measured up to 4e-12; a fit asked
/// for less stops at the floor and says so), looser than 1e-3 is no fit to
/// report.
pub const TOLERANCE_RANGE: std::ops::RangeInclusive<f64> = 1e-12..=1e-3;

/// The Newton iterations a request may take: its `max_iter`, by default and at
/// most the limits' `max_iterations`.
pub fn max_iterations(
    request: &AnalysisRequest,
    limits: &AnalysisLimits,
) -> Result<usize, AnalysisError> {
    match request.max_iter {
        None => Ok(limits.max_iterations),
        Some(n) if (1..=limits.max_iterations).contains(&n) => Ok(n),
        Some(n) => Err(AnalysisError::Invalid(format!(
            "max_iter must be 1 to {} (the iteration limit for this data), not {n}",
            limits.max_iterations
        ))),
    }
}

/// The round budget of a fit of at most `max_iterations` Newton steps: that
/// many steps and `max_iterations / 2` step halvings.
pub(crate) fn newton_budget(max_iterations: usize) -> NewtonOptions {
    NewtonOptions {
        tolerance: DEFAULT_TOLERANCE,
        max_iterations,
        loglik_rounding: 0.0,
        max_halvings: max_iterations / 2,
    }
}
