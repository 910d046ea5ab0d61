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
    /// Analysis kinds allowed (`describe`, `km`, `cif`, `cox`, `finegray`, `glm`).
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
        if self.kinds.iter().any(|k| !Self::all_kinds().contains(k)) {
            return Err("plan.kinds may name describe, km, cif, cox, finegray and glm only".into());
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
mod tests {
    use super::*;
    use crate::analysis::{Analysis, IndexEvent, Survival, Variable};

    fn request(analysis: Analysis) -> AnalysisRequest {
        AnalysisRequest {
            project: "p".into(),
            index: IndexEvent { icd10: "C".into() },
            cohort: None,
            analysis,
            epsilon: None,
            wait_seconds: None,
            tolerance: None,
            max_iter: None,
        }
    }

    fn km(horizon_days: u32) -> Analysis {
        km_on(Survival::binned(horizon_days))
    }

    fn km_on(survival: Survival) -> Analysis {
        Analysis::KaplanMeier {
            survival,
            groups: None,
            interval_days: 30,
        }
    }

    #[test]
    fn residual_gram_rounds_only_in_a_robust_cox_run() {
        let cox = |robust| Analysis::Cox {
            survival: Survival::binned(3650),
            covariates: vec![Variable::Age],
            ties: crate::analysis::Ties::Efron,
            stratify_by_site: false,
            strata: None,
            robust,
        };
        let plan = |robust| RunPlan {
            run: QueryId::random(),
            request: request(cox(robust)),
            max_rounds: 48,
            max_grid_points: 3651,
            max_abs_beta: 20.0,
        };
        let gram = |beta: f64| Computation::CoxResidualGram {
            grid: vec![99.0, 3650.0],
            strata: Vec::new(),
            beta: vec![beta],
            ties: crate::analysis::Ties::Efron,
            bins: vec![0.0, 100.0, 3651.0],
        };
        assert_eq!(plan(true).check_computation(&gram(0.5)), Ok(()));
        assert!(plan(false).check_computation(&gram(0.5)).is_err());
        assert!(plan(true).check_computation(&gram(1e9)).is_err());
    }

    #[test]
    fn fine_gray_rounds_only_in_a_fine_gray_run_with_a_censoring_curve() {
        let survival = Survival {
            endpoint: crate::analysis::Endpoint::ProgressionFree,
            ..Survival::binned(3650)
        };
        let plan = |analysis| RunPlan {
            run: QueryId::random(),
            request: request(analysis),
            max_rounds: 48,
            max_grid_points: 3651,
            max_abs_beta: 20.0,
        };
        let fine_gray = plan(Analysis::FineGray {
            survival: survival.clone(),
            covariates: vec![Variable::Age],
        });
        let cox = plan(Analysis::Cox {
            survival,
            covariates: vec![Variable::Age],
            ties: crate::analysis::Ties::Breslow,
            stratify_by_site: false,
            strata: None,
            robust: true,
        });
        let sums = |g: Vec<f64>, beta: f64, bins: Vec<f64>| Computation::FineGraySums {
            grid: vec![99.0, 3650.0],
            censoring_survival: g,
            beta: vec![beta],
            bins,
        };
        let bins = vec![0.0, 100.0, 3651.0];
        let ok = sums(vec![1.0, 0.8], 0.5, bins.clone());
        assert_eq!(fine_gray.check_computation(&ok), Ok(()));
        let gram = Computation::FineGrayResidualGram {
            grid: vec![99.0, 3650.0],
            censoring_survival: vec![1.0, 0.8],
            beta: vec![0.5],
            bins: bins.clone(),
        };
        assert_eq!(fine_gray.check_computation(&gram), Ok(()));
        // not in another run, nor with an implausible censoring curve, β,
        // exact days or a grid missing a bin's end
        assert!(cox.check_computation(&ok).is_err());
        assert!(cox.check_computation(&gram).is_err());
        for bad in [
            sums(vec![1.0, 1.2], 0.5, bins.clone()),
            sums(vec![1.0, 0.0], 0.5, bins.clone()),
            sums(vec![0.9, 0.8], 0.5, bins.clone()),
            sums(vec![0.8, 0.9], 0.5, bins.clone()),
            sums(vec![1.0], 0.5, bins.clone()),
            sums(vec![1.0, f64::NAN], 0.5, bins.clone()),
            sums(vec![1.0, 0.8], 1e9, bins.clone()),
            sums(vec![1.0, 0.8], 0.5, Vec::new()),
            sums(vec![1.0, 0.8], 0.5, vec![0.0, 50.0, 100.0, 3651.0]),
        ] {
            assert!(fine_gray.check_computation(&bad).is_err(), "{bad:?}");
        }
        assert!(
            PlanLimits::default()
                .kinds
                .contains(&"finegray".to_string())
        );
    }

    #[test]
    fn a_plan_verifies_only_under_the_hub_key_for_its_run() {
        let hub = SigningKeyPair::generate();
        let run = QueryId::random();
        let exact = Survival {
            horizon_days: 3650,
            exact_times: true,
            endpoint: Default::default(),
            origin: Default::default(),
            entry: None,
        };
        let plan = RunPlan {
            run: run.clone(),
            request: request(km_on(exact)),
            max_rounds: 48,
            max_grid_points: 3651,
            max_abs_beta: 20.0,
        };
        let signed = plan.clone().sign(&hub).unwrap();
        assert_eq!(signed.verify(&hub.public_key(), &run), Ok(&plan));
        let other = SigningKeyPair::generate().public_key();
        assert!(signed.verify(&other, &run).is_err());
        assert!(
            signed
                .verify(&hub.public_key(), &QueryId::random())
                .is_err()
        );
        let mut altered = signed.clone();
        altered.plan.max_abs_beta = 1e9;
        assert!(altered.verify(&hub.public_key(), &run).is_err());
        // The bounds: grid, horizon of the admitted analysis, β.
        assert!(
            plan.check_computation(&Computation::EventDays { horizon_days: 3651 })
                .is_err()
        );
        assert!(
            plan.check_computation(&Computation::GlmStep { beta: vec![21.0] })
                .is_err()
        );
        assert!(
            plan.check_computation(&Computation::KmCounts {
                grid: vec![0.0; 3652],
                groups: 1,
                levels: vec![],
                bins: vec![],
            })
            .is_err()
        );
        assert!(
            plan.check_computation(&Computation::EventDays { horizon_days: 3650 })
                .is_ok()
        );
    }

    #[test]
    fn red_team_a_binned_run_refuses_per_day_grids() {
        let plan = RunPlan {
            run: QueryId::random(),
            request: request(km(100)),
            max_rounds: 48,
            max_grid_points: 3651,
            max_abs_beta: 20.0,
        };
        let refused = |c: Computation| assert!(plan.check_computation(&c).is_err(), "{c:?}");
        refused(Computation::EventDays { horizon_days: 100 });
        refused(Computation::KmCounts {
            grid: vec![0.0, 5.0],
            groups: 1,
            levels: vec![],
            bins: vec![],
        });
        for edges in [
            vec![0.0, 50.0],
            vec![1.0, 101.0],
            vec![0.0, 50.5, 101.0],
            vec![0.0, 60.0, 50.0, 101.0],
        ] {
            refused(Computation::ExitCounts {
                edges,
                levels: Vec::new(),
            });
        }
        let bins = vec![0.0, 32.0, 64.0, 101.0];
        assert!(
            plan.check_computation(&Computation::ExitCounts {
                edges: bins.clone(),
                levels: Vec::new(),
            })
            .is_ok()
        );
        // per-level counts name whole levels 0..15 only
        for levels in [vec![0.0, 2.0], vec![15.0]] {
            assert!(
                plan.check_computation(&Computation::ExitCounts {
                    edges: bins.clone(),
                    levels,
                })
                .is_ok()
            );
        }
        for levels in [vec![0.5], vec![16.0], vec![2.0, 1.0], vec![-1.0]] {
            refused(Computation::ExitCounts {
                edges: bins.clone(),
                levels,
            });
        }
        assert!(
            plan.check_computation(&Computation::KmCounts {
                grid: vec![0.0, 31.0],
                groups: 1,
                levels: vec![],
                bins,
            })
            .is_ok()
        );
        // Exact days need the approval's consent.
        let exact = request(km_on(Survival {
            horizon_days: 100,
            exact_times: true,
            endpoint: Default::default(),
            origin: Default::default(),
            entry: None,
        }));
        assert!(PlanLimits::default().admits(&exact).is_err());
        let approved = PlanLimits {
            exact_times: true,
            ..PlanLimits::default()
        };
        assert!(approved.admits(&exact).is_ok());
    }

    #[test]
    fn time_bin_ends_make_risk_sets_whole_bins() {
        let edges = [0.0, 10.0, 20.0, 31.0];
        let ends: Vec<f64> = [0.0, 9.0, 10.0, 19.0, 30.0, 45.0]
            .iter()
            .map(|&t| crate::analysis::time_bin_end(&edges, t))
            .collect();
        assert_eq!(ends, [9.0, 9.0, 19.0, 19.0, 30.0, 30.0]);
    }

    #[test]
    fn plan_limits_admit_only_approved_kinds_variables_and_horizons() {
        let limits = PlanLimits {
            kinds: vec!["km".into(), "describe".into()],
            variables: Some(vec![Variable::Age]),
            max_horizon_days: 365,
            ..PlanLimits::default()
        };
        assert!(limits.validate().is_ok());
        assert!(limits.admits(&request(km(365))).is_ok());
        assert!(limits.admits(&request(km(366))).is_err());
        let describe = |v: Variable| Analysis::Describe {
            variables: vec![v],
            edges: vec![],
            strata: None,
        };
        assert!(limits.admits(&request(describe(Variable::Age))).is_ok());
        assert!(limits.admits(&request(describe(Variable::Female))).is_err());
        let cox = Analysis::Cox {
            survival: Survival::default(),
            covariates: vec![Variable::Age],
            ties: crate::analysis::Ties::Efron,
            stratify_by_site: false,
            strata: None,
            robust: false,
        };
        assert!(limits.admits(&request(cox)).is_err());
        for bad in [
            PlanLimits {
                max_horizon_days: u32::MAX,
                ..PlanLimits::default()
            },
            PlanLimits {
                kinds: vec!["anything".into()],
                ..PlanLimits::default()
            },
            PlanLimits {
                max_abs_beta: f64::INFINITY,
                ..PlanLimits::default()
            },
            PlanLimits {
                max_rounds: 0,
                ..PlanLimits::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        // Projects approved before the plan existed read as the defaults.
        let old: PlanLimits = serde_json::from_str("{}").unwrap();
        assert_eq!(old, PlanLimits::default());
    }
}
