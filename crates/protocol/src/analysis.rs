//! Federated analyses: what a researcher asks for ([`AnalysisRequest`]), the
//! per-round work a site does ([`Computation`]) and the secure-aggregation steps
//! that carry it ([`AnalysisStep`], [`AnalysisReply`]).
//!
//! An analysis runs as a sequence of aggregation rounds. In each round every
//! participating site turns its rows into one real vector (counts, risk-set sums,
//! gradients and Hessians), masks it (`oncofed-secagg`) and the hub learns only the
//! sum over sites. The hub part (`oncofed-analysis`) decides the next round from
//! the sum: the Newton step of a regression, the time grid of a survival curve.
//!
//! Variables are named in the harmonised model (`oncofed-model`), never as site
//! columns: the same request means the same thing at every site.

use crate::criteria::Criteria;
use crate::task::QueryId;
use oncofed_model::DataCategory;
use oncofed_secagg::{
    EncryptedShare, MaskedInput, Reveal, RoundId, SignedPublicShare, SurvivorSignature,
    UnmaskRequest,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

pub use oncofed_stats::{Family, Ties};

mod cells;
mod computation;
mod survival;
mod variable;

pub use cells::{
    CellDp, CellTraining, MAX_ABS_PARAMETER, MAX_CALIBRATION_BINS, MAX_LOCAL_EPOCHS,
    MAX_TRAINING_ROUNDS, check_evaluate_round, check_train_round,
};
pub use computation::{
    Computation, MAX_GROUP_LEVELS, check_censoring_survival, check_group_levels, check_time_bins,
    grid_covers_bins, time_bin_end,
};
pub use survival::{COURSE_ASSESSMENTS, Endpoint, Origin, Survival};
pub use variable::{DEFAULT_TREATMENT_WINDOW_DAYS, Level, MAX_CATEGORICAL_LEVELS, Variable};

/// The date a patient's analysis time starts: the earliest dated diagnosis whose
/// ICD-10 code starts with `icd10` (e.g. `C34`). Patients without one are not in
/// the analysis. Ages are taken at this date, survival is measured from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexEvent {
    /// ICD-10 code prefix of the index diagnosis.
    pub icd10: String,
}

/// The binary or count outcome of a regression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Outcome {
    /// 1 if the patient is known to have died (at any time after the index date).
    Deceased,
    /// Any 0/1 [`Variable`] (for example a diagnosis indicator), or a count for Poisson.
    Variable {
        /// The variable.
        variable: Variable,
    },
}

/// Which analysis to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Analysis {
    /// Count, mean, variance, histogram and quantiles of each variable, and counts by stratum.
    Describe {
        /// Numeric variables to summarise.
        variables: Vec<Variable>,
        /// Histogram bin edges (ascending, at least two), shared by all variables;
        /// quantiles are interpolated within them. Default: none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        edges: Vec<f64>,
        /// A 0/1 variable to count the cohort by (e.g. `female`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strata: Option<Variable>,
    },
    /// Kaplan–Meier survival curves with log-log confidence intervals, medians and,
    /// with `groups`, the log-rank test.
    KaplanMeier {
        /// Follow-up definition.
        #[serde(default)]
        survival: Survival,
        /// A variable splitting the cohort into one curve per level: whole
        /// values 0 to [`MAX_GROUP_LEVELS`]` − 1` (0/1 indicators, ECOG 0–4,
        /// a grade); a k-group log-rank test compares the curves.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        groups: Option<Variable>,
        /// Width of the released curve's time grid in days (default 30): the
        /// researcher sees survival only at multiples of it, merged further until
        /// every step holds enough events.
        #[serde(default = "Analysis::default_interval")]
        interval_days: u32,
    },
    /// Cumulative incidence with a competing risk (Aalen–Johansen): the event
    /// of interest is the endpoint's progression or recurrence (`pfs`: either,
    /// `rfs`: recurrence), the competing event death without it. Curves per
    /// level of `groups` like Kaplan–Meier.
    CumulativeIncidence {
        /// Follow-up definition; its endpoint must be `pfs` or `rfs`.
        survival: Survival,
        /// A variable splitting the cohort into one curve per level.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        groups: Option<Variable>,
        /// Width of the released curve's time grid in days (default 30).
        #[serde(default = "Analysis::default_interval")]
        interval_days: u32,
    },
    /// Cox proportional hazards, exact federated Newton–Raphson.
    Cox {
        /// Follow-up definition.
        #[serde(default)]
        survival: Survival,
        /// Covariates (at least one).
        covariates: Vec<Variable>,
        /// Tie handling (default Efron, as lifelines).
        #[serde(default = "Analysis::default_ties")]
        ties: Ties,
        /// Stratify the baseline hazard by site.
        #[serde(default)]
        stratify_by_site: bool,
        /// Stratify the baseline hazard by this variable's levels (whole
        /// values 0 to [`MAX_GROUP_LEVELS`]` − 1`, e.g. a grade or an ECOG
        /// status): each level has a baseline hazard of its own and no
        /// coefficient. On time bins every bin holds 0 or at least k exits,
        /// deaths and censorings in every stratum.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strata: Option<Variable>,
        /// Report robust (Lin–Wei sandwich) standard errors, as R
        /// `coxph(..., robust = TRUE)`: one more round at the final β
        /// ([`Computation::CoxResidualGram`]). Pooled model on time bins
        /// only (not with `stratify_by_site` nor delayed entry).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        robust: bool,
    },
    /// Fine–Gray regression of the subdistribution hazard of the endpoint's
    /// progression or recurrence (`pfs`: either, `rfs`: recurrence) with death
    /// without it competing, exact to R `cmprsk::crr` on the pooled binned
    /// rows, with crr's sandwich standard errors (one more round at the final
    /// β, [`Computation::FineGrayResidualGram`]). On time bins only (every bin
    /// holds 0 or at least k exits, censorings and events of each cause), no
    /// delayed entry.
    FineGray {
        /// Follow-up definition; its endpoint must be `pfs` or `rfs`.
        survival: Survival,
        /// Covariates (at least one); categorical ones as for Cox.
        covariates: Vec<Variable>,
    },
    /// Logistic or Poisson regression by federated IRLS (intercept added).
    Glm {
        /// The response.
        outcome: Outcome,
        /// Covariates.
        covariates: Vec<Variable>,
        /// `binomial` (logistic) or `poisson`.
        family: Family,
    },
    /// A convolutional cell classifier trained across the sites on their
    /// validated cell labels, then evaluated on every site's held-out cells
    /// (issue 15). Reads pathology data; a project must name the kind in its
    /// plan (it is not among the default kinds: a model can memorise).
    CellClassifier {
        /// The network, rounds, local training and DP.
        training: CellTraining,
    },
}

impl Analysis {
    fn default_interval() -> u32 {
        30
    }
    fn default_ties() -> Ties {
        Ties::Efron
    }

    /// `describe`, `km`, `cif`, `cox`, `finegray`, `glm` or `cell-classifier`.
    pub fn kind(&self) -> &'static str {
        match self {
            Analysis::Describe { .. } => "describe",
            Analysis::KaplanMeier { .. } => "km",
            Analysis::CumulativeIncidence { .. } => "cif",
            Analysis::Cox { .. } => "cox",
            Analysis::FineGray { .. } => "finegray",
            Analysis::Glm { .. } => "glm",
            Analysis::CellClassifier { .. } => "cell-classifier",
        }
    }

    /// Every variable the analysis reads (covariates, outcome, groups, strata).
    pub fn variables(&self) -> Vec<Variable> {
        let mut out = Vec::new();
        match self {
            Analysis::Describe {
                variables, strata, ..
            } => {
                out.extend(variables.iter().cloned());
                out.extend(strata.iter().cloned());
            }
            Analysis::KaplanMeier { groups, .. } | Analysis::CumulativeIncidence { groups, .. } => {
                out.extend(groups.iter().cloned())
            }
            Analysis::Cox {
                covariates, strata, ..
            } => {
                out.extend(covariates.iter().cloned());
                out.extend(strata.iter().cloned());
            }
            Analysis::FineGray { covariates, .. } => out.extend(covariates.iter().cloned()),
            Analysis::Glm {
                outcome,
                covariates,
                ..
            } => {
                out.extend(covariates.iter().cloned());
                if let Outcome::Variable { variable } = outcome {
                    out.push(variable.clone());
                }
            }
            Analysis::CellClassifier { .. } => {}
        }
        out
    }

    /// The follow-up definition of a survival analysis (KM, cumulative
    /// incidence, Cox, Fine–Gray); `None` for describe and GLM.
    pub fn survival(&self) -> Option<&Survival> {
        match self {
            Analysis::KaplanMeier { survival, .. }
            | Analysis::CumulativeIncidence { survival, .. }
            | Analysis::Cox { survival, .. }
            | Analysis::FineGray { survival, .. } => Some(survival),
            _ => None,
        }
    }

    /// Whether the analysis tells the cause of an event apart (cumulative
    /// incidence, Fine–Gray): its rows carry the cause last (1 the event of
    /// interest, 2 the competing death), and its time bins hold 0 or at least
    /// k events of each cause.
    pub fn competing_risks(&self) -> bool {
        matches!(
            self,
            Analysis::CumulativeIncidence { .. } | Analysis::FineGray { .. }
        )
    }

    /// The variable splitting a survival analysis into groups: the curves'
    /// groups (KM, cumulative incidence) or a Cox model's strata. Time bins
    /// hold 0 or at least k exits, deaths and censorings in each of its levels.
    pub fn groups(&self) -> Option<&Variable> {
        match self {
            Analysis::KaplanMeier { groups, .. } | Analysis::CumulativeIncidence { groups, .. } => {
                groups.as_ref()
            }
            Analysis::Cox { strata, .. } => strata.as_ref(),
            _ => None,
        }
    }

    /// Number of model parameters (for the parameters-to-observations limit); 0 for
    /// analyses that fit no model. A categorical covariate counts one per
    /// non-reference level ([`Variable::columns`]).
    pub fn parameters(&self) -> usize {
        match self {
            Analysis::Cox { covariates, .. } | Analysis::FineGray { covariates, .. } => {
                covariates.iter().map(Variable::columns).sum()
            }
            Analysis::Glm { covariates, .. } => {
                covariates.iter().map(Variable::columns).sum::<usize>() + 1
            }
            _ => 0,
        }
    }

    /// The model's covariates (Cox, Fine–Gray and GLM; empty for the others).
    pub fn covariates(&self) -> &[Variable] {
        match self {
            Analysis::Cox { covariates, .. }
            | Analysis::FineGray { covariates, .. }
            | Analysis::Glm { covariates, .. } => covariates,
            _ => &[],
        }
    }

    /// The number of levels of all categorical covariates together: the
    /// per-level row counts the [`Computation::Totals`] round carries.
    pub fn categorical_levels(&self) -> usize {
        self.covariates()
            .iter()
            .map(|v| match v {
                Variable::Categorical { levels, .. } => levels.len(),
                _ => 0,
            })
            .sum()
    }
}

/// `POST /v1/analyses`: run an analysis inside an approved project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisRequest {
    /// The project the analysis belongs to (the researcher must be a member).
    pub project: String,
    /// The index diagnosis (start of analysis time, date of ages).
    pub index: IndexEvent,
    /// Further restriction of the cohort, in the feasibility criteria language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort: Option<Criteria>,
    /// What to compute.
    pub analysis: Analysis,
    /// Differential privacy for this release: the ε to spend from the project's
    /// budget (counts of people in every kind; a cell classifier's training
    /// under DP-FedAvg).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// Seconds to wait for the result before returning the run's state (default 0, at most 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<u64>,
    /// Cox and GLM only: stop the Newton iteration when the Newton decrement
    /// `√(Uᵀ I⁻¹ U)` (the distance to the maximum in standard errors) is below
    /// this; 1e-12 to 1e-3, default 1e-9 (below about 1e-12 the floating-point
    /// rounding of the summed score is the floor, which no tolerance can pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    /// Cox and GLM only: the most Newton iterations (1 to the analysis limits'
    /// `max_iterations`, its default); the run's round budget follows from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iter: Option<usize>,
}

impl AnalysisRequest {
    /// The data categories the analysis reads: clinical always, plus those of its
    /// variables and cohort criteria. Consent is checked for each of them.
    pub fn categories(&self) -> BTreeSet<DataCategory> {
        let mut out = BTreeSet::from([DataCategory::Clinical]);
        out.extend(self.analysis.variables().iter().map(Variable::category));
        if let Analysis::CellClassifier { .. } = self.analysis {
            // cell images and their labels are pathology data
            out.insert(DataCategory::Pathology);
        }
        if let Some(c) = &self.cohort {
            out.extend(c.categories());
        }
        out
    }
}

/// The hub's instruction to a site within an analysis run.
// A step is built once, serialised and sent: the size of the `Prepare`
// variant (the whole request) costs nothing worth a box at every use.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum AnalysisStep {
    /// Select and check the rows (consent, completeness, disclosure minimums).
    /// A site below its minimums refuses, and the run goes on without it.
    Prepare {
        /// The analysis as approved.
        request: AnalysisRequest,
        /// Minimum complete rows a site must have to take part.
        min_rows: u64,
        /// Largest allowed parameters / rows ratio at the site.
        max_parameter_ratio: f64,
        /// The run's plan under the hub's key: `request` must be its request, and
        /// every later step of the run is checked against it.
        plan: Box<crate::plan::SignedRunPlan>,
    },
    /// Open one secure-aggregation session per planned round, among the admitted
    /// sites. Accepted once per run id at a site, ever (its durable ledger).
    Keys {
        /// This site's number in the secure aggregation.
        index: u32,
        /// The hub's Shamir threshold `t`; a site uses it only where it is above
        /// the site's own `max(n_min, ⌊2n/3⌋ + 1)`.
        threshold: usize,
        /// The rounds to open sessions for.
        rounds: Vec<RoundId>,
    },
    /// Share every session's secrets with the other participants.
    Share {
        /// Per round, every participant's public keys, each signed by its site's
        /// registered key (relayed, not made, by the hub; checked against the
        /// site's own roster).
        keys: Vec<Vec<SignedPublicShare>>,
    },
    /// Compute, encode and mask this round's vector.
    Mask {
        /// The round.
        round: RoundId,
        /// The encrypted shares other sites sent this site for the round.
        inbox: Vec<EncryptedShare>,
        /// What to compute.
        computation: Computation,
    },
    /// Consistency round: sign the hub's split of the round's sites into
    /// survivors and dropped (one split per round, one survivor set per run).
    Confirm {
        /// The hub's request, fixing survivors and dropouts.
        request: UnmaskRequest,
    },
    /// Reveal the shares the hub needs to unmask the round's sum.
    Reveal {
        /// The request the site confirmed.
        request: UnmaskRequest,
        /// The survivors' signatures on it; the site needs `t` valid ones.
        signatures: Vec<SurvivorSignature>,
    },
    /// The run is over: forget its rows and sessions.
    Finish,
}

/// A site's answer to an [`AnalysisStep`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub enum AnalysisReply {
    /// The site has enough complete rows and takes part.
    Admitted,
    /// Ready: one signed public share per planned round, in order.
    Ready {
        /// The public shares, signed with the site's registered key.
        shares: Vec<SignedPublicShare>,
    },
    /// Per round, the encrypted shares for the other participants.
    Shares {
        /// Outer: rounds in order; inner: one per peer.
        shares: Vec<Vec<EncryptedShare>>,
    },
    /// The masked vector.
    Masked {
        /// The masked input.
        input: MaskedInput,
    },
    /// The site's signature on the round's split (consistency round).
    Confirmed {
        /// The signature.
        signature: SurvivorSignature,
    },
    /// The revealed shares.
    Revealed {
        /// The reveal.
        reveal: Reveal,
    },
    /// The run's state is gone.
    Finished,
}

/// Where an analysis run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Rounds are in progress.
    Running,
    /// Finished and released.
    Done,
    /// Stopped: a disclosure rule, the privacy budget or a site failure (see `error`).
    Failed,
}

/// `GET /v1/analyses/{id}`: a run's state and, when done, its released result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnalysisResponse {
    /// The run.
    pub run_id: QueryId,
    /// Its state.
    pub state: RunState,
    /// The released result (JSON of `oncofed_analysis::AnalysisResult`), when done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// Why it failed, when it did (no personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST /v1/admin/projects`: an admin approves a project for named researchers,
/// data categories and a purpose; analyses run only inside one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Short id, `[a-z0-9-]{1,64}`.
    pub id: String,
    /// Title, for the audit trail and listings.
    pub title: String,
    /// Researchers (hub user ids) allowed to run analyses in it.
    pub researchers: Vec<String>,
    /// Data categories approved for it.
    pub categories: BTreeSet<DataCategory>,
    /// Total differential-privacy budget ε per researcher in this project.
    pub epsilon_budget: f64,
    /// What a run may compute (kinds, variables, horizon, β, rounds): the
    /// bounds of every run plan the hub signs for the project.
    #[serde(default)]
    pub plan: crate::plan::PlanLimits,
}

impl Project {
    /// Checks the id's shape and the budget.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.is_empty()
            || self.id.len() > 64
            || !self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("project id must be 1-64 characters of a-z, 0-9 and '-'".into());
        }
        if self.researchers.is_empty() {
            return Err("a project needs at least one researcher".into());
        }
        if !(self.epsilon_budget.is_finite() && self.epsilon_budget >= 0.0) {
            return Err("epsilon_budget must be a finite number >= 0".into());
        }
        self.plan.validate()
    }
}

/// A researcher's view of a project with their privacy budget.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectStatus {
    /// The project.
    pub project: Project,
    /// ε the caller has spent in it.
    pub epsilon_spent: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request written before `tolerance`/`max_iter` existed reads, and
    /// writes back byte for byte (a signed run plan over it stays valid); the
    /// new fields read where given.
    #[test]
    fn requests_without_fit_options_read_and_write_back_unchanged() {
        let old = r#"{"project":"p","index":{"icd10":"C34"},"analysis":{"type":"cox","survival":{"horizon_days":3650},"covariates":[{"var":"age"}],"ties":"efron","stratify_by_site":false}}"#;
        let req: AnalysisRequest = serde_json::from_str(old).unwrap();
        assert_eq!((req.tolerance, req.max_iter), (None, None));
        assert_eq!(serde_json::to_string(&req).unwrap(), old);
        let new = old.replacen(
            r#""analysis""#,
            r#""tolerance":1e-6,"max_iter":10,"analysis""#,
            1,
        );
        let req: AnalysisRequest = serde_json::from_str(&new).unwrap();
        assert_eq!((req.tolerance, req.max_iter), (Some(1e-6), Some(10)));
        let bad = old.replacen(r#""analysis""#, r#""max_iterations":10,"analysis""#, 1);
        assert!(serde_json::from_str::<AnalysisRequest>(&bad).is_err());
    }
}
