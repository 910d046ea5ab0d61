//! Checks a request's shape before any site is asked: the analysis, its
//! variables, horizons and fit options. Kept apart from `driver.rs`, which
//! drives the rounds.

use super::{MAX_COEFFICIENTS, TOLERANCE_RANGE};
use crate::AnalysisError;
use oncofed_model::CodeSystem;
use oncofed_protocol::analysis::{
    Analysis, AnalysisRequest, COURSE_ASSESSMENTS, Origin, Survival, Variable,
};
use oncofed_protocol::{Comparator, Criteria, DiagnosisCriterion, LabCriterion};

/// The request's `tolerance` and `max_iter` (Cox and GLM only) are in range.
fn check_fit(request: &AnalysisRequest) -> Result<(), AnalysisError> {
    let regression = matches!(
        request.analysis,
        Analysis::Cox { .. } | Analysis::FineGray { .. } | Analysis::Glm { .. }
    );
    if !regression && (request.tolerance.is_some() || request.max_iter.is_some()) {
        return Err(AnalysisError::Invalid(
            "tolerance and max_iter apply to finegray, cox and glm only".into(),
        ));
    }
    if let Some(t) = request.tolerance
        && !TOLERANCE_RANGE.contains(&t)
    {
        return Err(AnalysisError::Invalid(format!(
            "tolerance must be {:e} to {:e} (the Newton decrement, in standard errors): below about 1e-12 the floating-point rounding of the summed score is the floor, so a tighter tolerance could never be met",
            TOLERANCE_RANGE.start(),
            TOLERANCE_RANGE.end()
        )));
    }
    if request.max_iter == Some(0) {
        return Err(AnalysisError::Invalid("max_iter must be at least 1".into()));
    }
    Ok(())
}

/// Checks the request's shape before any site is asked.
pub fn validate(request: &AnalysisRequest) -> Result<(), AnalysisError> {
    let invalid = |m: &str| Err(AnalysisError::Invalid(m.into()));
    if !icd10_prefix(&request.index.icd10) {
        return invalid("index.icd10 must be an ICD-10 prefix such as C34");
    }
    for variable in request.analysis.variables() {
        check_variable(&variable)?;
    }
    check_categorical_use(&request.analysis)?;
    if request.analysis.parameters() > MAX_COEFFICIENTS {
        return Err(AnalysisError::Invalid(format!(
            "a model takes at most {MAX_COEFFICIENTS} coefficients (a categorical covariate counts one per level besides the reference)"
        )));
    }
    if let Some(c) = &request.cohort {
        c.validate()
            .map_err(|e| AnalysisError::Invalid(format!("cohort: {e}")))?;
    }
    if let Some(e) = request.epsilon
        && !(e.is_finite() && e > 0.0)
    {
        return invalid("epsilon must be a positive number");
    }
    check_fit(request)?;
    match &request.analysis {
        Analysis::Describe {
            variables, edges, ..
        } => {
            if variables.is_empty() || variables.len() > 32 {
                return invalid("describe needs 1 to 32 variables");
            }
            if !edges.is_empty()
                && (edges.len() < 2
                    || edges.len() > 201
                    || edges.iter().any(|e| !e.is_finite())
                    || edges.windows(2).any(|w| w[0] >= w[1]))
            {
                return invalid("edges must be 2 to 201 finite, strictly ascending numbers");
            }
        }
        Analysis::KaplanMeier {
            survival,
            interval_days,
            ..
        }
        | Analysis::CumulativeIncidence {
            survival,
            interval_days,
            ..
        } => {
            check_horizon(survival.horizon_days)?;
            if *interval_days == 0 {
                return invalid("interval_days must be at least 1");
            }
            check_follow_up(survival)?;
            let competing = matches!(request.analysis, Analysis::CumulativeIncidence { .. });
            if competing && survival.endpoint.is_overall() {
                return invalid(
                    "a cumulative incidence needs an event of interest: endpoint pfs (progression or recurrence) or rfs (recurrence); death without it is the competing event",
                );
            }
        }
        Analysis::Cox {
            survival,
            covariates,
            stratify_by_site,
            robust,
            ..
        } => {
            check_horizon(survival.horizon_days)?;
            check_follow_up(survival)?;
            if covariates.is_empty() || covariates.len() > 20 {
                return invalid("cox needs 1 to 20 covariates");
            }
            if *robust && *stratify_by_site {
                return invalid(
                    "robust standard errors need the pooled model: a model stratified by site has no per-cell residual sums across sites (stratify by a variable instead, or drop --robust)",
                );
            }
            if *robust && survival.entry.is_some() {
                return invalid(
                    "robust standard errors do not take delayed entry: drop --robust or the entry event",
                );
            }
            if *stratify_by_site && survival.entry.is_some() {
                return invalid(
                    "a model stratified by site does not take delayed entry: fit it pooled (strata by a variable are fine)",
                );
            }
        }
        Analysis::FineGray {
            survival,
            covariates,
        } => {
            check_horizon(survival.horizon_days)?;
            check_follow_up(survival)?;
            if covariates.is_empty() || covariates.len() > 20 {
                return invalid("finegray needs 1 to 20 covariates");
            }
            if survival.endpoint.is_overall() {
                return invalid(
                    "a fine-gray model needs an event of interest: endpoint pfs (progression or recurrence) or rfs (recurrence); death without it is the competing event",
                );
            }
            if survival.entry.is_some() {
                return invalid(
                    "a fine-gray model does not take delayed entry: leave out the entry event",
                );
            }
            if survival.exact_times {
                return invalid(
                    "a fine-gray model sums on time bins only (its variance needs cells of at least the minimum size): leave out exact times",
                );
            }
        }
        Analysis::Glm { covariates, .. } => {
            if covariates.len() > 20 {
                return invalid("glm takes at most 20 covariates");
            }
        }
        Analysis::CellClassifier { training } => {
            training
                .validate(request.epsilon)
                .map_err(AnalysisError::Invalid)?;
        }
    }
    Ok(())
}

/// Whether `code` is an ICD-10(-GM) code or prefix (`C`, `C3`, `C34`, `C34.1`),
/// by the same rule as the criteria language's `diagnosis.icd10`.
fn icd10_prefix(code: &str) -> bool {
    Criteria::Diagnosis(DiagnosisCriterion {
        icd10: Some(code.to_owned()),
        ..Default::default()
    })
    .validate()
    .is_ok()
}

/// A variable's code has the form of its terminology, so that it can match
/// stored facts and its [`Variable::name`] parses back to it (found by the fuzz
/// target `analysis`: `dx:` with an empty prefix named every diagnosis and did
/// not parse back). Messages do not repeat the code.
fn check_variable(v: &Variable) -> Result<(), AnalysisError> {
    let invalid = |m: &str| Err(AnalysisError::Invalid(m.into()));
    let printable =
        |s: &str| (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic());
    match v {
        Variable::Age | Variable::Female => Ok(()),
        Variable::Diagnosis { icd10 } if !icd10_prefix(icd10) => {
            invalid("a diagnosis variable needs an ICD-10 prefix such as C34 or E11")
        }
        Variable::Observation {
            system,
            code,
            window_days,
        } => {
            let loinc_ok = || {
                // The criteria language's LOINC rule (form and check digit).
                Criteria::Lab(LabCriterion {
                    loinc: code.clone(),
                    unit: "1".into(),
                    op: Comparator::Eq,
                    value: 0.0,
                    from: None,
                    to: None,
                })
                .validate()
                .is_ok()
            };
            if *system == CodeSystem::Loinc && !loinc_ok() {
                invalid(
                    "an observation variable of system loinc needs a LOINC code such as 89247-1",
                )
            } else if !printable(code) || code.contains('@') {
                invalid(
                    "an observation variable needs a code of 1-32 printable ASCII characters other than @",
                )
            } else if window_days.is_some_and(|w| w > 3650) {
                invalid("an observation window is 0 to 3650 days around the index date")
            } else {
                Ok(())
            }
        }
        Variable::Molecular { gene } | Variable::Vaf { gene } if !printable(gene) => {
            invalid("a molecular variable needs an HGNC gene symbol such as EGFR")
        }
        Variable::Variant { gene, protein } if !printable(gene) || !printable(protein) => invalid(
            "a variant variable is variant:<HGNC symbol>:<protein change>, e.g. variant:EGFR:p.L858R",
        ),
        Variable::Treatment {
            system,
            prefix,
            window_days,
        } => {
            if !matches!(system, CodeSystem::Atc | CodeSystem::Ops) {
                invalid("a treatment variable is tx:atc:<prefix> or tx:ops:<prefix>")
            } else if !printable(prefix) || prefix.contains('@') {
                // '@' starts the window in the name (tx:atc:<prefix>@<days>)
                invalid(
                    "a treatment variable needs a code prefix of 1-32 printable ASCII characters other than @",
                )
            } else if *window_days > 3650 {
                invalid("a treatment window is 0 to 3650 days after the index date")
            } else {
                Ok(())
            }
        }
        Variable::Categorical { variable, levels } => {
            if matches!(**variable, Variable::Categorical { .. }) {
                return invalid("a categorical variable's inner variable cannot be categorical");
            }
            check_variable(variable)?;
            let max = oncofed_protocol::analysis::MAX_CATEGORICAL_LEVELS;
            let distinct = levels
                .iter()
                .enumerate()
                .all(|(i, l)| levels[..i].iter().all(|m| m.0 != l.0));
            if !(2..=max).contains(&levels.len())
                || levels.iter().any(|l| !l.0.is_finite())
                || !distinct
            {
                Err(AnalysisError::Invalid(format!(
                    "a categorical variable needs 2 to {max} distinct finite levels, the reference first (cat:<variable>:<reference>,<level>,...)"
                )))
            } else {
                Ok(())
            }
        }
        Variable::Diagnosis { .. }
        | Variable::Molecular { .. }
        | Variable::Variant { .. }
        | Variable::Vaf { .. } => Ok(()),
    }
}

/// Refuses a categorical variable where it has no meaning: only a Cox,
/// Fine–Gray or GLM covariate is expanded into 0/1 columns; a describe variable or stratum, a
/// Kaplan–Meier grouping (its levels are found from the data) and a GLM
/// outcome read one number per row.
fn check_categorical_use(analysis: &Analysis) -> Result<(), AnalysisError> {
    let categorical = |v: &Variable| matches!(v, Variable::Categorical { .. });
    // the place is named, not the variable: messages do not repeat codes
    let place: Option<String> = match analysis {
        Analysis::Describe {
            variables, strata, ..
        } => variables
            .iter()
            .position(categorical)
            .map(|i| format!("describe variable {} (describe its inner variable)", i + 1))
            .or_else(|| {
                strata
                    .as_ref()
                    .filter(|v| categorical(v))
                    .map(|_| "the describe strata".to_string())
            }),
        Analysis::Cox {
            strata: Some(v), ..
        } if categorical(v) => Some(
            "the Cox strata (--strata takes the inner variable: its levels are found from the data)"
                .into(),
        ),
        Analysis::KaplanMeier {
            groups: Some(v), ..
        } if categorical(v) => Some(
            "the Kaplan-Meier grouping (--by takes the inner variable: its levels are found from the data)"
                .into(),
        ),
        Analysis::Glm {
            outcome: oncofed_protocol::analysis::Outcome::Variable { variable },
            ..
        } if categorical(variable) => Some("the GLM outcome".into()),
        _ => None,
    };
    match place {
        Some(place) => Err(AnalysisError::Invalid(format!(
            "a categorical variable (cat:...) cannot be {place}: categorical variables are Cox, Fine-Gray and GLM covariates"
        ))),
        None => Ok(()),
    }
}

fn check_horizon(h: u32) -> Result<(), AnalysisError> {
    if h == 0 || h > 36_500 {
        return Err(AnalysisError::Invalid(
            "survival.horizon_days must be 1 to 36500".into(),
        ));
    }
    Ok(())
}

/// The time origin and the delayed entry of a survival analysis.
fn check_follow_up(survival: &Survival) -> Result<(), AnalysisError> {
    check_event(&survival.origin, "time origin")?;
    if survival.origin == Origin::FirstContact {
        return Err(AnalysisError::Invalid(
            "first-contact is a delayed entry (--entry), not a time origin: it is never after the index diagnosis".into(),
        ));
    }
    if let Some(entry) = &survival.entry {
        check_event(entry, "delayed entry")?;
        if entry.is_index() {
            return Err(AnalysisError::Invalid(
                "a delayed entry at the index diagnosis is no delay: leave --entry out".into(),
            ));
        }
        if survival.exact_times {
            return Err(AnalysisError::Invalid(
                "delayed entry needs time bins (its checks use the bins' entries): leave out exact times".into(),
            ));
        }
    }
    Ok(())
}

/// A treatment event names ATC or OPS and a printable prefix (so its name
/// parses back), as a treatment variable does; a course assessment one of
/// the oBDS values.
fn check_event(event: &Origin, what: &str) -> Result<(), AnalysisError> {
    let ok = match event {
        Origin::IndexDiagnosis | Origin::FirstContact => true,
        Origin::FirstTreatment { system, prefix } => {
            (1..=32).contains(&prefix.len())
                && prefix.bytes().all(|b| b.is_ascii_graphic())
                && matches!(system, CodeSystem::Atc | CodeSystem::Ops)
        }
        Origin::FirstAssessment { code } => COURSE_ASSESSMENTS.contains(&code.as_str()),
    };
    if ok {
        Ok(())
    } else {
        Err(AnalysisError::Invalid(format!(
            "a {what} is index, tx:atc:<prefix>, tx:ops:<prefix>, course:<{}> or first-contact",
            COURSE_ASSESSMENTS.join("|")
        )))
    }
}
