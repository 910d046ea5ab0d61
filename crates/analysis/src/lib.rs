//! Federated analyses for OncoFed (issue 4; R8–R10, R16): descriptive statistics,
//! Kaplan–Meier with log-rank, Cox proportional hazards and logistic/Poisson
//! regression, run across sites so that only sums leave a site, and those only
//! masked (`oncofed-secagg`): the hub learns the sum over sites of each vector.
//!
//! | part | where it runs | module |
//! |---|---|---|
//! | patient facts → complete-case rows | site | [`rows`] |
//! | rows → the vector of one round ([`Computation`](oncofed_protocol::analysis::Computation)) | site | [`site`] |
//! | rounds → fit → released result | hub | [`driver`] over a [`Federation`] |
//! | cumulative incidence with a competing risk (Aalen–Johansen) release | hub | [`cif`] |
//! | time bins of ≥ k exits for survival sums | hub (counts masked) | [`driver::binning`] |
//! | disclosure limits per security level | hub and site | [`AnalysisLimits`] |
//! | plausibility of summed vectors (cross-round consistency, issue 11) | hub | [`plausibility`] |
//! | differential privacy for every release's counts of people (exact discrete Laplace; KM numbers at risk withheld) | hub | [`dp`] |
//! | Kaplan–Meier plot (SVG) | CLI | [`plot`] |
//!
//! The statistics themselves are `oncofed-stats` (exact to the pooled fit:
//! tested against lifelines and statsmodels); this crate decides what is asked
//! of the sites in which order, and what of the answer may be released.
//!
//! # Disclosure control
//!
//! Defaults follow DataSHIELD's published server-side filters (`nfilter.tab = 3`,
//! `nfilter.subset = 3`, `nfilter.glm = 0.33`, see the `dsBase` option defaults),
//! tightened for genetic data ([`AnalysisLimits::for_level`]):
//! - a site takes part only with at least `min_rows_per_site` complete rows and at
//!   most `max_parameter_ratio` parameters per row (checked at the site, which
//!   refuses otherwise), and a run needs `min_sites` sites;
//! - the pooled fit needs `parameters ≤ max_parameter_ratio × rows` and, for
//!   regressions, at least `min_cell` events and non-events;
//! - table cells (histogram bins, strata, numbers at risk) below `min_cell` are
//!   suppressed;
//! - a Kaplan–Meier curve is released on a grid of `interval_days` and merged until
//!   every step holds at least `km_min_events` events, so no single event time is
//!   shown; medians come from the full-resolution pooled curve (they are the
//!   summary every publication reports) and are released only when the curve has
//!   at least `km_min_events` events on each side.
//!
//! What the hub itself sees: the pooled sums, never one site's. Survival
//! analyses sum over **time bins** ([`driver::binning`]): every bin holds 0 or
//! at least `min_cell` exits and 0 or at least `min_cell` deaths across the
//! federation, and the sites move each time to its bin's last day, so no risk
//! set, difference of risk sets or tied-death sum the hub sees covers fewer
//! than `min_cell` persons (an exact per-day fit handed the hub the covariates
//! of every patient who died alone on a day). The estimates are exact for the
//! binned times, and the result says which bins (`run.time_bins`). Exact days
//! only where the project's approval, the data's level and every site allow
//! them. Researchers see only the released result.

pub mod cif;
pub mod dp;
pub mod driver;
pub mod plausibility;
pub mod plot;
pub mod result;
pub mod rows;
pub mod site;

pub use driver::{Federation, run};
pub use result::AnalysisResult;

use oncofed_model::SecurityLevel;
use oncofed_protocol::analysis::{Analysis, AnalysisRequest, Survival};
use serde::{Deserialize, Serialize};

/// Why an analysis failed or was refused. Texts carry no personal data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// A disclosure rule forbids the release (the text names the rule).
    #[error("refused by disclosure control: {0}")]
    Disclosure(String),
    /// The request is malformed.
    #[error("invalid analysis: {0}")]
    Invalid(String),
    /// The statistics failed (no convergence, singular information, no events).
    #[error("statistics: {0}")]
    Stats(#[from] oncofed_stats::StatsError),
    /// A site or the aggregation failed.
    #[error("federation: {0}")]
    Federation(String),
    /// Sites and hub disagree on a vector layout (a bug or a tampered message).
    #[error("protocol: {0}")]
    Protocol(&'static str),
}

/// Disclosure limits for analyses, by the security level of the data they read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnalysisLimits {
    /// Fewest sites whose sum is released.
    pub min_sites: usize,
    /// Fewest complete rows a site must have to take part.
    pub min_rows_per_site: u64,
    /// Smallest released cell (histogram bin, stratum, number at risk, events).
    pub min_cell: u64,
    /// Largest parameters-to-rows ratio of a regression (DataSHIELD `nfilter.glm`).
    pub max_parameter_ratio: f64,
    /// Fewest events per released Kaplan–Meier step.
    pub km_min_events: u64,
    /// Most Newton iterations a regression may take (each is one aggregation round).
    pub max_iterations: usize,
}

impl AnalysisLimits {
    /// Defaults: DataSHIELD's for clinical data (levels 1–2); for genetic data
    /// (levels 3–4) cells of 5, 20 rows per site and a ratio of 0.2.
    pub fn for_level(level: SecurityLevel) -> Self {
        match level {
            SecurityLevel::Aggregate | SecurityLevel::Pseudonymised => Self {
                min_sites: 2,
                min_rows_per_site: 10,
                min_cell: 3,
                max_parameter_ratio: 0.33,
                km_min_events: 3,
                max_iterations: 25,
            },
            SecurityLevel::Genetic | SecurityLevel::GeneticLinked => Self {
                min_sites: 2,
                min_rows_per_site: 20,
                min_cell: 5,
                max_parameter_ratio: 0.2,
                km_min_events: 5,
                max_iterations: 25,
            },
        }
    }

    /// The aggregation rounds a run may need at these limits, for a federation
    /// that sets up its rounds in advance: the most of any request
    /// ([`Self::planned_rounds_for`] a Fine–Gray model, or a Cox model with
    /// strata and robust standard errors, at `max_iterations`: the totals, one
    /// more counting round, the time-bin rounds, the Newton evaluations and
    /// the two variance rounds).
    pub fn planned_rounds(&self) -> usize {
        5 + driver::binning::MAX_REFINEMENTS
            + driver::newton_budget(self.max_iterations).max_evaluations()
    }

    /// The aggregation rounds `request` may need, the most the driver uses for
    /// it: the totals; a survival analysis's time-bin rounds (the coarse count
    /// and up to [`driver::binning::MAX_REFINEMENTS`] refinements, or one
    /// round of event days with exact times; none for a Cox model stratified
    /// by site); then Kaplan–Meier's group levels (with `groups`) and counts,
    /// describe's sums, the GLM start, Fine–Gray's competing-risks counts,
    /// and for Cox, Fine–Gray and GLM the Newton evaluations at the request's
    /// `max_iter` (start, one per iteration, `max_iter / 2` step halvings),
    /// for robust Cox and Fine–Gray 2 more (sums and Gram at the final β).
    /// Refuses a `max_iter` above `max_iterations`.
    pub fn planned_rounds_for(&self, request: &AnalysisRequest) -> Result<usize, AnalysisError> {
        let times = |s: &Survival| {
            if s.exact_times {
                1
            } else {
                1 + driver::binning::MAX_REFINEMENTS
            }
        };
        let newton = || -> Result<usize, AnalysisError> {
            let n = driver::max_iterations(request, self)?;
            Ok(driver::newton_budget(n).max_evaluations())
        };
        Ok(1 + match &request.analysis {
            Analysis::Describe { .. } => 1,
            Analysis::KaplanMeier {
                survival, groups, ..
            }
            | Analysis::CumulativeIncidence {
                survival, groups, ..
            } => usize::from(groups.is_some()) + times(survival) + 1,
            Analysis::Cox {
                stratify_by_site: true,
                ..
            } => newton()?,
            // robust SEs: the risk-set sums at the final β (when the fit's
            // last evaluation was elsewhere) and the residual Gram matrices
            // strata: their levels first
            Analysis::Cox {
                survival,
                robust,
                strata,
                ..
            } => {
                usize::from(strata.is_some())
                    + times(survival)
                    + newton()?
                    + 2 * usize::from(*robust)
            }
            // the competing-risks counts (the censoring curve), the Newton
            // evaluations, then crr's variance: the sums at the final β (when
            // the fit's last evaluation was elsewhere) and the Gram matrices
            Analysis::FineGray { survival, .. } => times(survival) + 1 + newton()? + 2,
            Analysis::Glm { .. } => 1 + newton()?,
            // the training rounds, the validation-only round, the evaluation
            Analysis::CellClassifier { training } => training.planned_rounds() - 1,
        })
    }

    /// The site-side check: may a site with `rows` complete rows take part in a
    /// model with `parameters` parameters? The error names the rule, not the count.
    pub fn check_site(&self, rows: u64, parameters: usize) -> Result<(), AnalysisError> {
        if rows < self.min_rows_per_site {
            return Err(AnalysisError::Disclosure(format!(
                "fewer than {} complete rows at this site",
                self.min_rows_per_site
            )));
        }
        if parameters as f64 > self.max_parameter_ratio * rows as f64 {
            return Err(AnalysisError::Disclosure(format!(
                "more than {} parameters per row at this site",
                self.max_parameter_ratio
            )));
        }
        Ok(())
    }
}
