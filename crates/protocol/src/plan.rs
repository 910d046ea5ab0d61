//! A run's plan, signed by the hub: what one analysis run may compute, fixed
//! when the run is admitted, carried by its `Prepare` step, and checked by every
//! site against each later step. It turns "the hub names any computation" into
//! "the hub committed, under its key and for this run id only, to one analysis
//! over one cohort within stated bounds"; the site holds the hub to it and keeps
//! its own hard bounds besides (an approved-but-absurd plan still cannot make it
//! allocate gigabytes).

use crate::QueryId;
use crate::analysis::{Analysis, AnalysisRequest, Computation};
use oncofed_crypto::{PublicKey, Signature, SigningKeyPair};
use serde::{Deserialize, Serialize};

/// The bounds one run is held to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunPlan {
    /// The run this plan is for (a plan is valid for no other run id).
    pub run: QueryId,
    /// The analysis and cohort as admitted: the `Prepare` must carry this request.
    pub request: AnalysisRequest,
    /// Most aggregation rounds the run may key (the round budget).
    pub max_rounds: usize,
    /// Most points on a time grid or histogram edges.
    pub max_grid_points: usize,
    /// Largest |β| per coefficient a Newton step may ask for.
    pub max_abs_beta: f64,
}

/// Most evaluation blocks (sites) a cell classifier's evaluation may ask for.
pub const MAX_EVALUATION_SLOTS: usize = 256;

/// The domain separator of plan signatures (no other signed message starts so).
const DOMAIN: &[u8] = b"oncofed-run-plan/v1\0";

impl RunPlan {
    /// The bytes signed: the domain, then the plan's JSON (serde field order is
    /// fixed by the struct, so signer and verifier produce the same bytes).
    fn message(&self) -> Result<Vec<u8>, String> {
        let mut m = DOMAIN.to_vec();
        m.extend(serde_json::to_vec(self).map_err(|e| e.to_string())?);
        Ok(m)
    }

    /// Signs the plan with the hub's key.
    pub fn sign(self, key: &SigningKeyPair) -> Result<SignedRunPlan, String> {
        let signature = key.sign(&self.message()?);
        Ok(SignedRunPlan {
            plan: self,
            signature,
        })
    }

    /// Whether `computation`, asked for in this run, is within the plan: its
    /// grid and edges, the event-day horizon (the admitted analysis's) and β.
    pub fn check_computation(&self, computation: &Computation) -> Result<(), String> {
        let grid = |g: &[f64]| {
            if g.len() > self.max_grid_points {
                Err(format!(
                    "grid of {} points beyond the plan's {}",
                    g.len(),
                    self.max_grid_points
                ))
            } else {
                Ok(())
            }
        };
        let beta = |b: &[f64]| {
            if b.iter()
                .all(|x| x.is_finite() && x.abs() <= self.max_abs_beta)
            {
                Ok(())
            } else {
                Err(format!(
                    "a coefficient beyond the plan's ±{}",
                    self.max_abs_beta
                ))
            }
        };
        let survival = self.request.analysis.survival();
        // Binned sums on the admitted horizon's bins; exact days only where the
        // admitted request asked for them (issue 11, item 3).
        let bins = |b: &[f64]| match survival {
            Some(s) if b.is_empty() && s.exact_times => Ok(()),
            Some(_) if b.is_empty() => Err("exact days in a run planned on time bins".into()),
            Some(s) => {
                grid(b)?;
                crate::analysis::check_time_bins(b, s.horizon_days)
            }
            None => Err("time bins for an analysis without survival".into()),
        };
        let training = match &self.request.analysis {
            Analysis::CellClassifier { training } => Some(training),
            _ => None,
        };
        match (computation, training) {
            (Computation::Totals, _) => return Ok(()),
            (Computation::Train { round }, Some(t)) => {
                return crate::analysis::check_train_round(t, self.request.epsilon, round);
            }
            (Computation::Evaluate { round, slots }, Some(t)) => {
                if *slots == 0 || *slots > MAX_EVALUATION_SLOTS {
                    return Err("an evaluation with more slots than sites can be".into());
                }
                return crate::analysis::check_evaluate_round(t, round);
            }
            (Computation::Train { .. } | Computation::Evaluate { .. }, None) => {
                return Err("a training round in a run that trains no model".into());
            }
            (_, Some(_)) => {
                return Err("a statistics round in a cell classifier's run".into());
            }
            (_, None) => {}
        }
        match computation {
            Computation::Totals | Computation::GlmStart | Computation::GroupLevels => Ok(()),
            Computation::EventDays { horizon_days } => match survival {
                Some(s) if s.exact_times && *horizon_days <= s.horizon_days => Ok(()),
                _ => Err("event days outside the plan: its horizon, or a binned run".into()),
            },
            Computation::ExitCounts { edges, levels } => match survival {
                Some(s) if !s.exact_times => {
                    grid(edges)?;
                    crate::analysis::check_group_levels(levels)?;
                    crate::analysis::check_time_bins(edges, s.horizon_days)
                }
                _ => Err("exit counts outside the plan".into()),
            },
            Computation::KmCounts {
                grid: g, bins: b, ..
            }
            | Computation::CifCounts {
                grid: g, bins: b, ..
            } => {
                grid(g)?;
                bins(b)
            }
            Computation::CoxSums {
                grid: g,
                beta: b,
                bins: t,
                strata,
                ..
            }
            | Computation::CoxResidualGram {
                grid: g,
                beta: b,
                bins: t,
                strata,
                ..
            } => {
                if matches!(computation, Computation::CoxResidualGram { .. })
                    && !matches!(self.request.analysis, Analysis::Cox { robust: true, .. })
                {
                    return Err(
                        "residual Gram matrices for a run that did not ask for robust SEs".into(),
                    );
                }
                grid(g)?;
                crate::analysis::check_group_levels(strata)?;
                if g.len() * strata.len().max(1) > self.max_grid_points {
                    return Err(format!(
                        "a grid of {} points in {} strata beyond the plan's {}",
                        g.len(),
                        strata.len(),
                        self.max_grid_points
                    ));
                }
                bins(t)?;
                beta(b)
            }
            Computation::FineGraySums {
                grid: g,
                censoring_survival,
                beta: b,
                bins: t,
            }
            | Computation::FineGrayResidualGram {
                grid: g,
                censoring_survival,
                beta: b,
                bins: t,
            } => {
                if !matches!(self.request.analysis, Analysis::FineGray { .. }) {
                    return Err("fine-gray sums for a run that is no fine-gray model".into());
                }
                grid(g)?;
                crate::analysis::check_censoring_survival(censoring_survival, g.len())?;
                if t.is_empty() {
                    return Err("a fine-gray model sums on time bins only".into());
                }
                bins(t)?;
                if !crate::analysis::grid_covers_bins(g, t) {
                    return Err("a binned grid must hold every bin's end".into());
                }
                beta(b)
            }
            Computation::CoxStratum { beta: b, .. } | Computation::GlmStep { beta: b } => beta(b),
            Computation::Describe { edges } => grid(edges),
            Computation::Train { .. } | Computation::Evaluate { .. } => {
                Err("a training round in a run that trains no model".into())
            }
        }
    }
}

/// A [`RunPlan`] with the hub's Ed25519 signature on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRunPlan {
    /// The plan.
    pub plan: RunPlan,
    /// The hub's signature over the domain-separated plan.
    pub signature: Signature,
}

impl SignedRunPlan {
    /// The plan, if `hub` (the key the site pinned) signed it for run `run`.
    pub fn verify(&self, hub: &PublicKey, run: &QueryId) -> Result<&RunPlan, String> {
        if self.plan.run != *run {
            return Err("the plan is for another run".into());
        }
        hub.verify(&self.plan.message()?, &self.signature)
            .map_err(|_| "the plan's signature is not the hub's".to_string())?;
        Ok(&self.plan)
    }
}

/// What an admin's project approval lets any run of the project compute: the
/// analysis kinds, the variables, the longest horizon, the coefficients' bound
/// and the round budget. The hub refuses requests outside it and signs each
/// run's plan within it; sites hold the run to the plan. Defaults (for projects
/// approved without it): every kind and variable of the approved categories, the
/// 36,500-day request limit, |β| ≤ 20, 64 rounds (every analysis at the
/// default 25 Newton iterations needs at most 49).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanLimits {
    /// Analysis kinds allowed (`describe`, `km`, `cif`, `cox`, `finegray`,
    /// `glm`, and `cell-classifier` only when named: a trained model can
    /// memorise rare cells, so no project trains by default).
    #[serde(default = "PlanLimits::all_kinds")]
    pub kinds: Vec<String>,
    /// Variables allowed; absent: any variable of the approved categories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Vec<crate::analysis::Variable>>,
    /// Longest survival horizon in days.
    #[serde(default = "PlanLimits::default_horizon")]
    pub max_horizon_days: u32,
    /// Largest |β| per coefficient.
    #[serde(default = "PlanLimits::default_beta")]
    pub max_abs_beta: f64,
    /// Most aggregation rounds per run.
    #[serde(default = "PlanLimits::default_rounds")]
    pub max_rounds: usize,
    /// Whether survival analyses may sum over exact days (per-day grids)
    /// instead of time bins of at least k exits; never for genetic data.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exact_times: bool,
}

impl PlanLimits {
    fn all_kinds() -> Vec<String> {
        ["describe", "km", "cif", "cox", "finegray", "glm"]
            .map(String::from)
            .to_vec()
    }

    /// Every kind a plan may name: the defaults and `cell-classifier`.
    pub fn known_kinds() -> Vec<String> {
        let mut kinds = Self::all_kinds();
        kinds.push("cell-classifier".into());
        kinds
    }
    fn default_horizon() -> u32 {
        36_500
    }
    fn default_beta() -> f64 {
        20.0
    }
    fn default_rounds() -> usize {
        64
    }

    /// Checks the limits are themselves sane (at approval).
    pub fn validate(&self) -> Result<(), String> {
        if self.kinds.iter().any(|k| !Self::known_kinds().contains(k)) {
            return Err(
                "plan.kinds may name describe, km, cif, cox, finegray, glm and cell-classifier only"
                    .into(),
            );
        }
        if self.max_horizon_days == 0 || self.max_horizon_days > 36_500 {
            return Err("plan.max_horizon_days must be 1 to 36500".into());
        }
        if !(self.max_abs_beta.is_finite() && self.max_abs_beta > 0.0) {
            return Err("plan.max_abs_beta must be a finite number > 0".into());
        }
        if self.max_rounds == 0 || self.max_rounds > 256 {
            return Err("plan.max_rounds must be 1 to 256".into());
        }
        Ok(())
    }

    /// Whether `request` is within the limits: its kind, variables and horizon.
    pub fn admits(&self, request: &AnalysisRequest) -> Result<(), String> {
        let kind = request.analysis.kind();
        if !self.kinds.iter().any(|k| k == kind) {
            return Err(format!("the project is not approved for '{kind}' analyses"));
        }
        let outside = self.variables.as_ref().and_then(|allowed| {
            request
                .analysis
                .variables()
                .into_iter()
                // a categorical covariate reads its inner variable's data:
                // approving that variable approves it
                .find(|v| !allowed.contains(v) && !allowed.contains(v.base()))
        });
        if let Some(v) = outside {
            return Err(format!(
                "the project is not approved for the variable {v:?}"
            ));
        }
        let survival = request.analysis.survival();
        let horizon = survival.map_or(0, |s| s.horizon_days);
        let exact = survival.is_some_and(|s| s.exact_times);
        if exact && !self.exact_times {
            return Err(
                "the project is not approved for exact event days; survival analyses run on time bins"
                    .into(),
            );
        }
        if horizon > self.max_horizon_days {
            return Err(format!(
                "the project allows a horizon of at most {} days",
                self.max_horizon_days
            ));
        }
        Ok(())
    }
}

impl Default for PlanLimits {
    fn default() -> Self {
        PlanLimits {
            kinds: Self::all_kinds(),
            variables: None,
            max_horizon_days: Self::default_horizon(),
            max_abs_beta: Self::default_beta(),
            max_rounds: Self::default_rounds(),
            exact_times: false,
        }
    }
}

#[cfg(test)]
mod tests;
