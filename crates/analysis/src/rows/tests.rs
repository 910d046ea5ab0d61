//! Tests of the parent module.

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
        variants: Vec::new(),
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

/// Variant-level variables (issue 16): a passing call with the protein
/// change, and the highest somatic VAF of the gene (0 without a call).
#[test]
fn variant_and_vaf_variables_read_the_calls() {
    use oncofed_model::{GeneticVariant, VariantOrigin};
    let call = |gene: &str, protein: &str, origin, vaf| GeneticVariant {
        gene: Some(gene.into()),
        hgnc: None,
        hgvs_c: None,
        hgvs_p: Some(protein.into()),
        consequence: Some("missense_variant".into()),
        origin,
        vaf,
        depth: None,
        zygosity: None,
        locus: None,
    };
    let mut p = patient();
    p.variants = vec![
        call("EGFR", "p.L858R", VariantOrigin::Somatic, Some(0.31)),
        call("EGFR", "p.T790M", VariantOrigin::Somatic, Some(0.12)),
        call("BRCA1", "p.E23Vfs*17", VariantOrigin::Germline, None),
    ];
    let index = "2020-01-01".parse().unwrap();
    let value =
        |name: &str, p: &PatientData| variable_value(&name.parse::<Variable>().unwrap(), p, index);
    assert_eq!(value("variant:EGFR:p.Leu858Arg", &p), Some(1.0));
    assert_eq!(value("variant:EGFR:p.G719S", &p), Some(0.0));
    assert_eq!(value("variant:BRCA1:p.E23Vfs*17", &p), Some(1.0));
    assert_eq!(value("vaf:EGFR", &p), Some(0.31));
    assert_eq!(
        value("vaf:BRCA1", &p),
        Some(0.0),
        "germline calls have no tumour VAF"
    );
    assert_eq!(value("vaf:KRAS", &patient()), Some(0.0));
    assert_eq!(
        "variant:EGFR:p.Leu858Arg"
            .parse::<Variable>()
            .unwrap()
            .name(),
        "variant:EGFR:p.L858R"
    );
    assert!("variant:EGFR".parse::<Variable>().is_err());
    assert!("variant:EGFR:L858R".parse::<Variable>().is_err());
}
