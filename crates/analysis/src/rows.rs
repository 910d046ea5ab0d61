//! Site side, step one: a patient's harmonised facts become one analysis row.
//!
//! Every site derives rows by the same rules from the same request, so the pooled
//! sums mean the same thing everywhere. Rows are complete cases: a patient missing
//! any variable the analysis reads is left out (as lifelines and statsmodels drop
//! rows with NA), and so is a patient without the index diagnosis.

use chrono::{Datelike, NaiveDate};
use oncofed_model::{CodeSystem, Demographics, Fact, FactKind, FactValue, Sex, VitalStatus};
use oncofed_protocol::analysis::{AnalysisRequest, Endpoint, Origin, Variable};

/// What a site knows of one patient (research store only: no identifying data).
#[derive(Debug, Clone)]
pub struct PatientData {
    /// Sex, birth year, vital status, death date, last contact.
    pub demographics: Demographics,
    /// The patient's facts (diagnoses, observations, molecular findings, ...).
    pub facts: Vec<Fact>,
    /// The patient's variant calls that passed the caller's filters (read
    /// only when a `variant:` or `vaf:` variable asks).
    pub variants: Vec<oncofed_model::GeneticVariant>,
}

/// One patient's row: follow-up, death, and the values of
/// [`Analysis::variables`] in that order.
///
/// [`Analysis::variables`]: oncofed_protocol::analysis::Analysis::variables
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Days from the index date to death or last contact, capped at the horizon
    /// (0 when the analysis has no survival part).
    pub time: f64,
    /// Days from the time origin to the delayed entry ([`Survival::entry`]):
    /// the row is at risk from this day on, inclusive; 0 without delayed
    /// entry (under observation from the origin). Never after `time`.
    ///
    /// [`Survival::entry`]: oncofed_protocol::analysis::Survival::entry
    pub entry: f64,
    /// Died within the (capped) follow-up.
    pub event: bool,
    /// Known to have died at all (the `deceased` outcome).
    pub dead: bool,
    /// One value per variable of the analysis; for a cumulative incidence or
    /// a Fine–Gray model followed by the cause: 1 the event of interest (the endpoint's
    /// progression or recurrence), 2 the competing event (death without it
    /// before), 0 censored.
    pub values: Vec<f64>,
}

/// The ICD-10 systems a diagnosis prefix is matched in.
fn is_icd10(system: CodeSystem) -> bool {
    matches!(system, CodeSystem::Icd10Gm | CodeSystem::Icd10Who)
}

/// The index date: the earliest dated diagnosis with an ICD-10 code starting with `prefix`.
pub fn index_date(facts: &[Fact], prefix: &str) -> Option<NaiveDate> {
    facts
        .iter()
        .filter(|f| {
            f.kind == FactKind::Diagnosis
                && is_icd10(f.code.system)
                && f.code.code.starts_with(prefix)
        })
        .filter_map(|f| f.start)
        .min()
}

fn observation_value(fact: &Fact) -> Option<f64> {
    match &fact.value {
        FactValue::Quantity { value, .. } if value.is_finite() => Some(*value),
        FactValue::Code(c) if c.system == CodeSystem::Ecog => c.code.parse().ok(),
        _ => None,
    }
}

/// The value of `variable` for a patient whose index date is `index`.
///
/// **Age** is the index year minus the birth year: the site store keeps only
/// the birth year (birth dates stay at the trust centre, see ARCHITECTURE.md,
/// "Node store"), so completed years cannot be computed exactly. The value is
/// the age reached in the index year; it equals the age in completed years
/// when the birthday falls on or before the index date's day of the year, and
/// is one more otherwise. With birthdays spread evenly over the year, a
/// patient indexed on day `d` of a year of `D` days is one year too old with
/// probability `1 − d/D` (about half on average, every patient indexed on
/// 1 January); the error is never more than one year and on average +0.5.
/// The cohort criterion `age_at_diagnosis` uses the same rule, so the two
/// agree. A regression coefficient per year of age is unaffected by the
/// average shift (it moves only the baseline); its noise is that of any age
/// rounded to whole years.
///
/// Changing the rule (e.g. to the expected completed years
/// `index year − birth year − 1 + d/D`, unbiased but not whole) must change
/// the store's feasibility SQL, its fixtures and this function together.
pub fn variable_value(variable: &Variable, patient: &PatientData, index: NaiveDate) -> Option<f64> {
    let d = &patient.demographics;
    match variable {
        Variable::Age => d.birth_year.map(|y| f64::from(index.year() - y)),
        Variable::Female => match d.sex {
            Sex::Female => Some(1.0),
            Sex::Male => Some(0.0),
            _ => None,
        },
        Variable::Observation {
            system,
            code,
            window_days,
        } => patient
            .facts
            .iter()
            .filter(|f| {
                f.kind == FactKind::Observation && f.code.system == *system && f.code.code == *code
            })
            .filter_map(|f| {
                let value = observation_value(f)?;
                let distance = f.start.map_or(i64::MAX, |s| (s - index).num_days().abs());
                // within the window, if there is one (an undated value is at
                // an unknown distance: never within a window)
                let within = window_days.is_none_or(|w| distance <= i64::from(w));
                within.then_some((distance, f.start, value))
            })
            .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, _, v)| v),
        Variable::Diagnosis { icd10 } => Some(f64::from(u8::from(patient.facts.iter().any(|f| {
            f.kind == FactKind::Diagnosis
                && is_icd10(f.code.system)
                && f.code.code.starts_with(icd10.as_str())
        })))),
        Variable::Treatment {
            system,
            prefix,
            window_days,
        } => {
            let last = index + chrono::Days::new(u64::from(*window_days));
            Some(f64::from(u8::from(patient.facts.iter().any(|f| {
                is_treatment(f, *system, prefix) && f.start.is_some_and(|d| d <= last)
            }))))
        }
        Variable::Molecular { gene } => Some(f64::from(u8::from(patient.facts.iter().any(|f| {
            f.kind == FactKind::Molecular
                && (f.code.code.eq_ignore_ascii_case(gene)
                    || f.modifier
                        .as_ref()
                        .is_some_and(|m| m.code.eq_ignore_ascii_case(gene)))
        })))),
        Variable::Variant { gene, protein } => {
            Some(f64::from(u8::from(patient.variants.iter().any(|v| {
                v.gene.as_deref() == Some(gene.as_str())
                    && v.hgvs_p.as_deref() == Some(protein.as_str())
            }))))
        }
        Variable::Vaf { gene } => Some(
            patient
                .variants
                .iter()
                .filter(|v| {
                    v.origin == oncofed_model::VariantOrigin::Somatic
                        && v.gene.as_deref() == Some(gene.as_str())
                })
                .filter_map(|v| v.vaf)
                .fold(0.0, f64::max),
        ),
        // the inner value, kept only when it is one of the listed levels: any
        // other value leaves the row out like a missing one (complete cases);
        // the model's 0/1 columns are built from it in `site`
        Variable::Categorical { variable, levels } => {
            variable_value(variable, patient, index).filter(|x| levels.iter().any(|l| l.0 == *x))
        }
    }
}

/// The fact kind a treatment of `system` is recorded as: OPS codes
/// procedures, anything else (ATC) drugs given.
pub fn treatment_kind(system: CodeSystem) -> FactKind {
    if system == CodeSystem::Ops {
        FactKind::Procedure
    } else {
        FactKind::Medication
    }
}

/// Whether `fact` is a treatment of `system` whose code starts with `prefix`
/// (a treatment variable's or a treatment time origin's class).
pub fn is_treatment(fact: &Fact, system: CodeSystem, prefix: &str) -> bool {
    fact.kind == treatment_kind(system)
        && fact.code.system == system
        && fact.code.code.starts_with(prefix)
}

/// Whether an observation fact records a progression (`recurrence` false) or
/// a recurrence (`recurrence` true) in the MII onco course (oBDS 17): the
/// overall assessment P or Y, a component's P or R.
fn course_event(fact: &Fact, recurrence: bool) -> bool {
    let FactValue::Code(c) = &fact.value else {
        return false;
    };
    fact.kind == FactKind::Observation
        && match (c.system, c.code.as_str(), recurrence) {
            (CodeSystem::OncoCourse, "Y", _) => true,
            (CodeSystem::OncoCourse, "P", false) => true,
            (
                CodeSystem::OncoCourseTumour
                | CodeSystem::OncoCourseNodes
                | CodeSystem::OncoCourseMetastases,
                code,
                recurrence,
            ) => code == "R" || (code == "P" && !recurrence),
            _ => false,
        }
}

/// Whether `fact` is an MII onco course overall assessment with value `code`.
fn is_assessment(fact: &Fact, code: &str) -> bool {
    fact.kind == FactKind::Observation
        && matches!(&fact.value, FactValue::Code(c) if c.system == CodeSystem::OncoCourse && c.code == code)
}

/// The first date of `event` on or after `from` (any date without it): the
/// index date itself, the first treatment of a class, the first course
/// assessment with a value, or the first dated fact at all (`None`: the
/// patient has none).
fn first_date(
    facts: &[Fact],
    index: NaiveDate,
    event: &Origin,
    from: Option<NaiveDate>,
) -> Option<NaiveDate> {
    let dated = |keep: &dyn Fn(&Fact) -> bool| {
        facts
            .iter()
            .filter(|f| keep(f))
            .filter_map(|f| f.start)
            .filter(|d| from.is_none_or(|from| *d >= from))
            .min()
    };
    match event {
        Origin::IndexDiagnosis => Some(index),
        Origin::FirstTreatment { system, prefix } => {
            dated(&|f: &Fact| is_treatment(f, *system, prefix))
        }
        Origin::FirstAssessment { code } => dated(&|f: &Fact| is_assessment(f, code)),
        // diagnoses carry the date of diagnosis, which may be before the
        // patient came to the site: the first contact is the first other record
        Origin::FirstContact => dated(&|f: &Fact| f.kind != FactKind::Diagnosis),
    }
}

/// Where follow-up starts: the index date, or the origin's event dated on or
/// after it (`None`: the patient has none and is not in the analysis).
fn time_origin(facts: &[Fact], index: NaiveDate, origin: &Origin) -> Option<NaiveDate> {
    first_date(facts, index, origin, Some(index))
}

/// The first date on or after `index` (after it, with `strictly`) at which
/// `endpoint`'s non-death event is recorded (none for overall survival).
/// Follow-up from a course assessment (e.g. the first progression) counts
/// only a later progression: the assessment that starts the clock is not its
/// own event.
fn first_course_event(
    facts: &[Fact],
    index: NaiveDate,
    endpoint: Endpoint,
    strictly: bool,
) -> Option<NaiveDate> {
    let recurrence = match endpoint {
        Endpoint::Overall => return None,
        Endpoint::ProgressionFree => false,
        Endpoint::RecurrenceFree => true,
    };
    facts
        .iter()
        .filter(|f| course_event(f, recurrence))
        .filter_map(|f| f.start)
        .filter(|d| *d > index || (!strictly && *d == index))
        .min()
}

/// The patient's row, or `None` when they lack the index diagnosis, a variable,
/// or (for survival analyses) a follow-up date on or after the index date.
pub fn build_row(request: &AnalysisRequest, patient: &PatientData) -> Option<Row> {
    let index = index_date(&patient.facts, &request.index.icd10)?;
    let d = &patient.demographics;
    let dead = d.death_date.is_some() || d.vital_status == VitalStatus::Deceased;
    // cause: 1 the endpoint's progression/recurrence, 2 death (without it
    // before), 0 censored
    let (time, event, cause, entry) = match request.analysis.survival() {
        Some(s) => {
            let h = s.horizon_days;
            let origin = time_origin(&patient.facts, index, &s.origin)?;
            let (end, died) = match d.death_date {
                Some(death) => (death, true),
                None => (d.last_contact?, false),
            };
            // progression or recurrence before death or the last contact
            // ends follow-up with an event
            let (end, died, cause) = match first_course_event(
                &patient.facts,
                origin,
                s.endpoint,
                matches!(s.origin, Origin::FirstAssessment { .. }),
            ) {
                Some(event) if event <= end => (event, true, 1.0),
                _ => (end, died, if died { 2.0 } else { 0.0 }),
            };
            let days = (end - origin).num_days();
            if days < 0 {
                return None;
            }
            // delayed entry: at risk from the entry day on; entering after
            // follow-up ended (or after the horizon) leaves the row out
            let entry = match &s.entry {
                Some(event) => {
                    let date = first_date(&patient.facts, index, event, None)?;
                    let delay = (date - origin).num_days().max(0);
                    if delay > days.min(i64::from(h)) {
                        return None;
                    }
                    delay as f64
                }
                None => 0.0,
            };
            if days > i64::from(h) {
                (f64::from(h), false, 0.0, entry)
            } else {
                (days as f64, died, cause, entry)
            }
        }
        None => (0.0, false, 0.0, 0.0),
    };
    let mut values = request
        .analysis
        .variables()
        .iter()
        .map(|v| variable_value(v, patient, index))
        .collect::<Option<Vec<f64>>>()?;
    // a competing-risks analysis's rows carry the cause last (`Row::values`)
    if request.analysis.competing_risks() {
        values.push(cause);
    }
    Some(Row {
        time,
        entry,
        event,
        dead,
        values,
    })
}

#[cfg(test)]
mod tests;
