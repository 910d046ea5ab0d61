//! What a site agrees to compute in an analysis run, whatever the hub asks:
//! hard size bounds ([`SiteBounds`]) checked before anything is allocated, and
//! the repeat rule ([`admit_site_set`]) that stops a hub from computing the same
//! cohort once with and once without a site.
//!
//! The repeat rule: a cohort (the index diagnosis and the semantic normal form of
//! the criteria, see [`cohort_digest`]) is bound, at this site and durably, to the
//! first survivor set that this site confirmed for it. Any later run over the
//! same cohort, of any analysis and in any project, is confirmed only over that
//! identical set of sites; over any other set the site refuses to sign the
//! consistency round, so no shares are revealed and its masked vector is never
//! unmasked. The project is not part of the digest: until the run plan is signed
//! the project id is the hub's word, and a new project id must not buy a second
//! site set. A repeat over the identical set reproduces the same sums and tells
//! the hub nothing new.
//!
//! A split that drops sites (a site left before any sum of the run was
//! revealed, issue 13, item 5) is no exception: its survivors are the set the
//! cohort is checked against and bound to. So a hub that claims a dropout
//! cannot get a cohort it already computed over all sites over fewer, and
//! after a genuine dropout the same cohort over all sites is refused: the
//! researcher gets the figures with or without a site, never both.

use crate::SharedStore;
use oncofed_protocol::analysis::{Analysis, AnalysisRequest, Computation};
use sha2::{Digest, Sha256};

/// A site's hard limits on any run, independent of what the hub or a project
/// approval allows, so that even an approved-but-absurd plan cannot make a site
/// allocate gigabytes or probe single patients with extreme coefficients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SiteBounds {
    /// Longest survival horizon in days (36,500, the request limit).
    pub max_horizon_days: u32,
    /// Most points on a time grid or histogram edges (36,501: one per day of
    /// the longest horizon).
    pub max_grid_points: usize,
    /// Longest vector a site computes and masks (4,000,000 values, 32 MB).
    pub max_vector_len: usize,
    /// Most aggregation rounds keyed per run (64; the hub plans 48).
    pub max_rounds: usize,
    /// Most model parameters or described variables (64).
    pub max_parameters: usize,
    /// Largest |β| per coefficient (20): beyond it exp(β·x) is dominated by one
    /// patient's covariates, which would isolate them in a risk-set sum.
    pub max_abs_beta: f64,
    /// Whether this site sums survival analyses over exact days (per-day
    /// grids) when a request asks for it (off: only time bins, whatever the
    /// hub or an approval says; issue 11, item 3).
    pub allow_exact_times: bool,
    /// Most parameters of a cell classifier the site trains or scores
    /// (200,000: 800 KB of f32, seconds per epoch on a CPU core).
    pub max_model_parameters: usize,
}

impl SiteBounds {
    /// The documented defaults.
    pub const DEFAULT: SiteBounds = SiteBounds {
        max_horizon_days: 36_500,
        max_grid_points: 36_501,
        max_vector_len: 4_000_000,
        max_rounds: 64,
        max_parameters: 64,
        max_abs_beta: 20.0,
        allow_exact_times: false,
        max_model_parameters: 200_000,
    };

    /// Checks a `Prepare`'s request before the site reads any row.
    pub fn check_request(&self, request: &AnalysisRequest) -> Result<(), String> {
        let analysis = &request.analysis;
        let horizon = analysis.survival().map(|s| s.horizon_days);
        if horizon.is_some_and(|h| h > self.max_horizon_days) {
            return Err(format!(
                "horizon beyond the site's {} days",
                self.max_horizon_days
            ));
        }
        if analysis.parameters() > self.max_parameters
            || analysis.variables().len() > self.max_parameters
        {
            return Err(format!(
                "more than the site's {} parameters or variables",
                self.max_parameters
            ));
        }
        if let Analysis::Describe { edges, .. } = analysis {
            self.check_grid(edges)?;
        }
        if analysis.survival().is_some_and(|s| s.exact_times) && !self.allow_exact_times {
            return Err("exact event days are not allowed at this site".into());
        }
        if let Analysis::CellClassifier { training } = analysis {
            training.spec.validate().map_err(|e| e.to_string())?;
            if training.spec.parameter_count() > self.max_model_parameters {
                return Err(format!(
                    "a model of more than the site's {} parameters",
                    self.max_model_parameters
                ));
            }
        }
        Ok(())
    }

    /// Checks the number of rounds a `Keys` step opens.
    pub fn check_rounds(&self, rounds: usize) -> Result<(), String> {
        if rounds > self.max_rounds {
            return Err(format!("more than the site's {} rounds", self.max_rounds));
        }
        Ok(())
    }

    /// Checks a `Mask` step's computation against the admitted analysis and the
    /// bounds, before the site computes or allocates anything for it.
    pub fn check_computation(
        &self,
        analysis: &Analysis,
        computation: &Computation,
    ) -> Result<(), String> {
        let p = analysis.parameters();
        let survival = analysis.survival();
        let exact = survival.is_some_and(|s| s.exact_times) && self.allow_exact_times;
        // Time bins on the admitted horizon; exact days only where the request
        // and this site's policy both allow them.
        let bins = |bins: &[f64], grid: Option<&[f64]>| -> Result<(), String> {
            let Some(s) = survival else {
                return Err("time bins for an analysis without survival".into());
            };
            if bins.is_empty() {
                return if exact {
                    Ok(())
                } else {
                    Err("exact event days are not allowed in this run".into())
                };
            }
            self.check_grid(bins)?;
            oncofed_protocol::analysis::check_time_bins(bins, s.horizon_days)?;
            match grid {
                Some(g) if !oncofed_protocol::analysis::grid_covers_bins(g, bins) => {
                    Err("a binned grid must hold every bin's end".into())
                }
                _ => Ok(()),
            }
        };
        match computation {
            Computation::Totals | Computation::GlmStart | Computation::GroupLevels => {}
            Computation::EventDays { horizon_days } => {
                let admitted = survival.map_or(0, |s| s.horizon_days);
                if !exact {
                    return Err("exact event days are not allowed in this run".into());
                }
                if *horizon_days > admitted.min(self.max_horizon_days) {
                    return Err("event-day horizon beyond the admitted one".into());
                }
            }
            Computation::ExitCounts { edges, levels } => {
                bins(edges, None)?;
                oncofed_protocol::analysis::check_group_levels(levels)?;
            }
            Computation::KmCounts {
                grid,
                groups,
                levels,
                bins: b,
            }
            | Computation::CifCounts {
                grid,
                groups,
                levels,
                bins: b,
            } => {
                self.check_grid(grid)?;
                bins(b, Some(grid))?;
                let max = oncofed_protocol::analysis::MAX_GROUP_LEVELS;
                if !(1..=max).contains(groups) || !(levels.is_empty() || levels.len() == *groups) {
                    return Err(format!("KM groups must be 1 to {max}, one level each"));
                }
            }
            Computation::CoxSums {
                grid,
                beta,
                bins: b,
                strata,
                ..
            }
            | Computation::CoxResidualGram {
                grid,
                beta,
                bins: b,
                strata,
                ..
            } => {
                if matches!(computation, Computation::CoxResidualGram { .. })
                    && !matches!(analysis, Analysis::Cox { robust: true, .. })
                {
                    return Err("residual Gram matrices for a model without robust SEs".into());
                }
                self.check_grid(grid)?;
                oncofed_protocol::analysis::check_group_levels(strata)?;
                if grid.len() * strata.len().max(1) > self.max_grid_points {
                    return Err(format!(
                        "a grid of {} points in {} strata beyond the site's {}",
                        grid.len(),
                        strata.len(),
                        self.max_grid_points
                    ));
                }
                bins(b, Some(grid))?;
                self.check_beta(beta, p)?;
            }
            Computation::FineGraySums {
                grid,
                censoring_survival,
                beta,
                bins: b,
            }
            | Computation::FineGrayResidualGram {
                grid,
                censoring_survival,
                beta,
                bins: b,
            } => {
                if !matches!(analysis, Analysis::FineGray { .. }) {
                    return Err("fine-gray sums for a run that is no fine-gray model".into());
                }
                self.check_grid(grid)?;
                if b.is_empty() {
                    return Err("a fine-gray model sums on time bins only".into());
                }
                bins(b, Some(grid))?;
                oncofed_protocol::analysis::check_censoring_survival(
                    censoring_survival,
                    grid.len(),
                )?;
                self.check_beta(beta, p)?;
            }
            Computation::CoxStratum { beta, .. } | Computation::GlmStep { beta } => {
                self.check_beta(beta, p)?;
            }
            Computation::Describe { edges } => self.check_grid(edges)?,
            Computation::Train { round } => {
                if !matches!(analysis, Analysis::CellClassifier { training } if training.spec == round.spec)
                {
                    return Err("a training round outside the admitted model".into());
                }
            }
            Computation::Evaluate { round, .. } => {
                if !matches!(analysis, Analysis::CellClassifier { training } if training.spec == round.spec)
                {
                    return Err("an evaluation outside the admitted model".into());
                }
            }
        }
        let len = oncofed_analysis::site::vector_len(analysis, computation);
        if len > self.max_vector_len {
            return Err(format!(
                "vector of {len} values beyond the site's {}",
                self.max_vector_len
            ));
        }
        Ok(())
    }

    fn check_grid(&self, grid: &[f64]) -> Result<(), String> {
        if grid.len() > self.max_grid_points {
            return Err(format!(
                "grid of {} points beyond the site's {}",
                grid.len(),
                self.max_grid_points
            ));
        }
        if !grid.iter().all(|g| g.is_finite()) {
            return Err("grid point not finite".into());
        }
        Ok(())
    }

    fn check_beta(&self, beta: &[f64], parameters: usize) -> Result<(), String> {
        if beta.len() != parameters {
            return Err("coefficients do not fit the admitted model".into());
        }
        if !beta
            .iter()
            .all(|b| b.is_finite() && b.abs() <= self.max_abs_beta)
        {
            return Err(format!("a coefficient beyond ±{}", self.max_abs_beta));
        }
        Ok(())
    }
}

impl Default for SiteBounds {
    fn default() -> Self {
        Self::DEFAULT
    }
}

fn hex_sha256(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The cohort a run computes over, as a digest: the index diagnosis and the
/// criteria's semantic normal form (so rewordings the normal form decides are the
/// same cohort). Not the analysis: every analysis releases the cohort's counts,
/// so any two over different site sets could be differenced.
pub fn cohort_digest(request: &AnalysisRequest) -> String {
    let criteria = request
        .cohort
        .as_ref()
        .map(|c| c.semantic_key())
        .unwrap_or_default();
    hex_sha256(&["oncofed-run-cohort/v1", &request.index.icd10, &criteria])
}

/// How long a cohort's binding is kept in the replay ledger (as the run counters).
const BINDING_DAYS: i64 = 3650;

/// The repeat rule: `Ok(true)` if this site may confirm a round over `sites`
/// (roster names of the survivors) for the cohort `cohort`, that is if the cohort
/// is new here (it is then bound to `sites`) or already bound to exactly
/// `sites`; `Ok(false)` for any other set. Kept in the store's replay ledger, so
/// it holds across restarts; a refused set is only looked up, never recorded.
pub fn admit_site_set(store: &SharedStore, cohort: &str, sites: &[String]) -> Result<bool, String> {
    let mut names: Vec<&str> = sites.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let mut parts = vec!["oncofed-run-sites/v1"];
    parts.extend(names);
    let set = hex_sha256(&parts);
    let mut store = store
        .lock()
        .map_err(|_| "store lock poisoned".to_string())?;
    let bound = format!("plan cohort {cohort} sites {set}");
    if store.task_remembered(&bound).map_err(|e| e.to_string())? {
        return Ok(true);
    }
    let until = chrono::Utc::now() + chrono::Duration::days(BINDING_DAYS);
    if store
        .remember_task(&format!("plan cohort {cohort}"), until)
        .map_err(|e| e.to_string())?
    {
        store
            .remember_task(&bound, until)
            .map_err(|e| e.to_string())?;
        return Ok(true);
    }
    Ok(false)
}
