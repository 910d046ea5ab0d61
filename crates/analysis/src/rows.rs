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
mod tests {
    use super::*;
    use oncofed_model::{Coding, DataCategory, SecurityLevel};
    use oncofed_protocol::analysis::{Analysis, IndexEvent, Survival};

    fn fact(kind: FactKind, system: CodeSystem, code: &str, value: FactValue, day: &str) -> Fact {
        Fact {
            kind,
            code: Coding::new(system, code),
            modifier: None,
            value,
            start: Some(day.parse().unwrap()),
            end: None,
            category: DataCategory::Clinical,
            level: SecurityLevel::Pseudonymised,
        }
    }

    fn request(analysis: Analysis) -> AnalysisRequest {
        AnalysisRequest {
            project: "p".into(),
            index: IndexEvent {
                icd10: "C34".into(),
            },
            cohort: None,
            analysis,
            epsilon: None,
            wait_seconds: None,
            tolerance: None,
            max_iter: None,
        }
    }

    fn patient() -> PatientData {
        PatientData {
            demographics: Demographics {
                sex: Sex::Female,
                birth_year: Some(1950),
                vital_status: VitalStatus::Deceased,
                death_date: Some("2020-04-10".parse().unwrap()),
                last_contact: None,
            },
            facts: vec![
                fact(
                    FactKind::Diagnosis,
                    CodeSystem::Icd10Gm,
                    "C34.1",
                    FactValue::None,
                    "2020-01-01",
                ),
                fact(
                    FactKind::Observation,
                    CodeSystem::Loinc,
                    "89247-1",
                    FactValue::Code(Coding::new(CodeSystem::Ecog, "2")),
                    "2020-01-02",
                ),
            ],
        }
    }

    #[test]
    fn survival_row_from_index_to_death_with_covariates() {
        let ecog = Variable::Observation {
            system: CodeSystem::Loinc,
            code: "89247-1".into(),
            window_days: None,
        };
        let req = request(Analysis::Cox {
            survival: Survival::default(),
            covariates: vec![Variable::Age, Variable::Female, ecog],
            ties: oncofed_stats::Ties::Efron,
            stratify_by_site: false,
            strata: None,
            robust: false,
        });
        let row = build_row(&req, &patient()).unwrap();
        assert_eq!(row.time, 100.0);
        assert!(row.event && row.dead);
        assert_eq!(row.values, vec![70.0, 1.0, 2.0]);
    }

    #[test]
    fn progression_and_recurrence_end_follow_up_by_endpoint() {
        // index 2020-01-01, death 2020-04-10 (day 100)
        let km = |endpoint| {
            request(Analysis::KaplanMeier {
                survival: Survival {
                    endpoint,
                    ..Survival::default()
                },
                groups: None,
                interval_days: 30,
            })
        };
        let course = |system, code: &str, day: &str| {
            fact(
                FactKind::Observation,
                CodeSystem::Snomed,
                "396432002",
                FactValue::Code(Coding::new(system, code)),
                day,
            )
        };
        let times = |p: &PatientData| {
            [
                Endpoint::Overall,
                Endpoint::ProgressionFree,
                Endpoint::RecurrenceFree,
            ]
            .map(|e| {
                let r = build_row(&km(e), p).unwrap();
                (r.time, r.event)
            })
        };
        let mut p = patient();
        // stable disease, then progression on day 40: PFS ends there; RFS
        // (recurrence only) runs to death
        p.facts
            .push(course(CodeSystem::OncoCourse, "K", "2020-01-21"));
        p.facts
            .push(course(CodeSystem::OncoCourse, "P", "2020-02-10"));
        assert_eq!(times(&p), [(100.0, true), (40.0, true), (100.0, true)]);
        // a distant recurrence (component R) on day 20 ends both
        p.facts
            .push(course(CodeSystem::OncoCourseMetastases, "R", "2020-01-21"));
        assert_eq!(times(&p), [(100.0, true), (20.0, true), (20.0, true)]);
        // a progression before the index date does not count
        let mut q = patient();
        q.facts
            .push(course(CodeSystem::OncoCourse, "P", "2019-12-01"));
        assert_eq!(times(&q)[1], (100.0, true));
    }

    #[test]
    fn an_observation_window_keeps_only_values_near_the_index_date() {
        let mut p = patient();
        // ECOG 2 on day 1 (from patient()); ECOG 1 forty days before the index
        p.facts.push(fact(
            FactKind::Observation,
            CodeSystem::Loinc,
            "89247-1",
            FactValue::Code(Coding::new(CodeSystem::Ecog, "1")),
            "2019-11-22",
        ));
        let index: NaiveDate = "2020-01-01".parse().unwrap();
        let value = |s: &str| variable_value(&s.parse().unwrap(), &p, index);
        assert_eq!(value("obs:loinc:89247-1"), Some(2.0));
        assert_eq!(value("obs:loinc:89247-1@0"), None);
        assert_eq!(value("obs:loinc:89247-1@1"), Some(2.0));
        p.facts.remove(1);
        let value = |s: &str| variable_value(&s.parse().unwrap(), &p, index);
        assert_eq!(value("obs:loinc:89247-1@30"), None);
        assert_eq!(value("obs:loinc:89247-1@40"), Some(1.0));
        let v: Variable = "obs:loinc:89247-1@30".parse().unwrap();
        assert_eq!(v.name(), "obs:loinc:89247-1@30");
        assert!("obs:loinc:89247-1@x".parse::<Variable>().is_err());
    }

    #[test]
    fn follow_up_starts_at_the_first_treatment_of_the_origin_class() {
        // index 2020-01-01, death 2020-04-10; chemotherapy from 2020-01-21
        let mut p = patient();
        p.facts.push(fact(
            FactKind::Medication,
            CodeSystem::Atc,
            "L01XA01",
            FactValue::None,
            "2020-01-21",
        ));
        let km = |origin: &str| {
            request(Analysis::KaplanMeier {
                survival: Survival {
                    origin: origin.parse().unwrap(),
                    ..Survival::default()
                },
                groups: None,
                interval_days: 30,
            })
        };
        let time = |origin: &str| build_row(&km(origin), &p).map(|r| r.time);
        assert_eq!(time("index"), Some(100.0));
        assert_eq!(time("tx:atc:L01"), Some(80.0));
        // no such treatment: not in the analysis
        assert_eq!(time("tx:ops:5-32"), None);
        assert!("tx:icd:C34".parse::<Origin>().is_err());
        assert_eq!(
            "tx:atc:L01".parse::<Origin>().unwrap().to_string(),
            "tx:atc:L01"
        );
    }

    #[test]
    fn follow_up_from_a_course_assessment_and_delayed_entry_at_first_contact() {
        // index 2020-01-01, ECOG on 2020-01-02, death 2020-04-10 (day 100);
        // progression on day 40, a second one on day 60
        let mut p = patient();
        let assessment = |code: &str, day: &str| {
            fact(
                FactKind::Observation,
                CodeSystem::Snomed,
                "396432002",
                FactValue::Code(Coding::new(CodeSystem::OncoCourse, code)),
                day,
            )
        };
        p.facts.push(assessment("P", "2020-02-10"));
        let km = |origin: &str, endpoint: Endpoint, entry: Option<&str>| {
            request(Analysis::KaplanMeier {
                survival: Survival {
                    origin: origin.parse().unwrap(),
                    endpoint,
                    entry: entry.map(|e| e.parse().unwrap()),
                    ..Survival::default()
                },
                groups: None,
                interval_days: 30,
            })
        };
        let row = |p: &PatientData, origin: &str, endpoint, entry| {
            build_row(&km(origin, endpoint, entry), p).map(|r| (r.time, r.event, r.entry))
        };
        // post-progression survival: from day 40 to death
        assert_eq!(
            row(&p, "course:P", Endpoint::Overall, None),
            Some((60.0, true, 0.0))
        );
        // PFS from the first progression: the assessment that starts the clock
        // is not its own event, death is
        assert_eq!(
            row(&p, "course:P", Endpoint::ProgressionFree, None),
            Some((60.0, true, 0.0))
        );
        p.facts.push(assessment("P", "2020-03-01"));
        assert_eq!(
            row(&p, "course:P", Endpoint::ProgressionFree, None),
            Some((20.0, true, 0.0))
        );
        // nobody without a complete remission
        assert_eq!(row(&p, "course:V", Endpoint::Overall, None), None);
        // first contact: the ECOG on day 1 (the diagnosis does not count)
        assert_eq!(
            row(&p, "index", Endpoint::Overall, Some("first-contact")),
            Some((100.0, true, 1.0))
        );
        // entry before the origin is no delay; after the end of follow-up, no row
        assert_eq!(
            row(&p, "course:P", Endpoint::Overall, Some("first-contact")),
            Some((60.0, true, 0.0))
        );
        p.facts.push(fact(
            FactKind::Procedure,
            CodeSystem::Ops,
            "5-320",
            FactValue::None,
            "2020-05-01",
        ));
        assert_eq!(
            row(&p, "index", Endpoint::Overall, Some("tx:ops:5-32")),
            None
        );
        assert_eq!("course:Q".parse::<Origin>().map(|_| ()), Err("unknown time origin or entry 'course:Q': use index, tx:atc:<prefix>, tx:ops:<prefix>, course:<V|T|K|P|D|B|R|Y|U|X> or first-contact".to_string()));
        assert_eq!(
            "course:V".parse::<Origin>().unwrap().to_string(),
            "course:V"
        );
    }

    #[test]
    fn horizon_censors_and_missing_values_drop_the_row() {
        let req = request(Analysis::KaplanMeier {
            survival: Survival::binned(50),
            groups: None,
            interval_days: 30,
        });
        let row = build_row(&req, &patient()).unwrap();
        assert_eq!((row.time, row.event), (50.0, false));
        let req = request(Analysis::Cox {
            survival: Survival::default(),
            covariates: vec![Variable::Observation {
                system: CodeSystem::Loinc,
                code: "718-7".into(),
                window_days: None,
            }],
            ties: oncofed_stats::Ties::Efron,
            stratify_by_site: false,
            strata: None,
            robust: false,
        });
        assert_eq!(build_row(&req, &patient()), None);
        let mut no_index = patient();
        no_index.facts.remove(0);
        let req = request(Analysis::Describe {
            variables: vec![Variable::Age],
            edges: vec![],
            strata: None,
        });
        assert_eq!(build_row(&req, &no_index), None);
    }

    #[test]
    fn a_treatment_counts_before_the_index_date_or_within_its_window() {
        let mut p = patient();
        let index: NaiveDate = "2020-01-01".parse().unwrap();
        p.facts.push(fact(
            FactKind::Medication,
            CodeSystem::Atc,
            "L01BA04",
            FactValue::None,
            "2020-03-01",
        ));
        p.facts.push(fact(
            FactKind::Procedure,
            CodeSystem::Ops,
            "5-324.1",
            FactValue::None,
            "2019-12-20",
        ));
        let tx = |s: &str| variable_value(&s.parse().unwrap(), &p, index);
        // 60 days after the index date: inside 90, outside 30
        assert_eq!(tx("tx:atc:L01"), Some(1.0));
        assert_eq!(tx("tx:atc:L01@30"), Some(0.0));
        assert_eq!(tx("tx:atc:L02"), Some(0.0));
        // before the index date counts whatever the window
        assert_eq!(tx("tx:ops:5-32@0"), Some(1.0));
        // an ATC prefix never matches a procedure, nor OPS a drug
        assert_eq!(tx("tx:ops:L01"), Some(0.0));
        let names: Vec<String> = ["tx:atc:L01", "tx:ops:5-32@0"]
            .iter()
            .map(|s| s.parse::<Variable>().unwrap().name())
            .collect();
        assert_eq!(names, ["tx:atc:L01@90", "tx:ops:5-32@0"]);
        for bad in ["tx:icd:C34", "tx:atc:", "tx:atc:L01@x"] {
            assert!(bad.parse::<Variable>().is_err(), "{bad}");
        }
    }
}
