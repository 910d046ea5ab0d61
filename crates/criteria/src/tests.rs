//! Criteria: JSON forms, validation paths, descriptions, categories.

use super::*;
use oncofed_model::SecurityLevel;

const EXAMPLE: &str = r#"{"and": [
  {"diagnosis": {"icd10": "C92.0"}},
  {"age_at_diagnosis": {"min": 18, "max": 65}},
  {"sex": "female"},
  {"not": {"marker": {"gene": "HGNC:3765", "present": true}}},
  {"lab": {"loinc": "718-7", "unit": "g/dL", "op": "<", "value": 10}},
  {"or": [{"stage": {"group": ["III", "IIIA", "IIIB", "IV"]}}, {"ecog": {"max": 2}}]}
]}"#;

fn parse(json: &str) -> Criteria {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

/// The paths and kinds of a tree's validation errors.
fn problems(c: &Criteria) -> Vec<(String, CriteriaErrorKind)> {
    c.validate()
        .unwrap_err()
        .errors
        .into_iter()
        .map(|e| (e.path, e.kind))
        .collect()
}

#[test]
fn the_documented_example_parses_validates_and_reads_well() {
    let c = parse(EXAMPLE);
    c.validate().unwrap();
    assert_eq!(c.depth(), 3);
    assert_eq!(c.leaf_count(), 7);
    assert_eq!(
        c.describe(),
        "diagnosis C92.0* AND age 18–65 AND sex female AND NOT FLT3 (HGNC:3765) present \
         AND haemoglobin (718-7) < 10 g/dL AND (stage III/IIIA/IIIB/IV OR ECOG ≤ 2)"
    );
    assert_eq!(parse(&c.canonical_json()), c);
}

#[test]
fn every_leaf_round_trips_in_canonical_form() {
    // Written in canonical form, so canonical_json must reproduce each byte for byte.
    let leaves = [
        r#"{"diagnosis":{"icd10":"C92.0","morphology":"9861/3","from":"2020-01-01","to":"2021-12-31"}}"#,
        r#"{"diagnosis":{}}"#,
        r#"{"age_at_diagnosis":{"min":18,"max":65,"icd10":"C92"}}"#,
        r#"{"sex":"male"}"#,
        r#"{"stage":{"group":["IV"],"from":"2019-06-01"}}"#,
        r#"{"tnm":{"t":["T3","T4"],"m":["M1"]}}"#,
        r#"{"ecog":{"min":1,"max":2,"to":"2024-01-01"}}"#,
        r#"{"lab":{"loinc":"777-3","unit":"10*3/uL","op":">=","value":100.5}}"#,
        r#"{"marker":{"gene":"HGNC:7910","present":false}}"#,
        r#"{"therapy":{"atc":"L01XC"}}"#,
        r#"{"procedure":{"ops":"8-805","from":"2018-01-01","to":"2018-12-31"}}"#,
        r#"{"vital_status":"deceased"}"#,
        r#"{"not":{"sex":"female"}}"#,
        r#"{"or":[{"vital_status":"alive"},{"sex":"other"}]}"#,
    ];
    for json in leaves {
        let c = parse(json);
        c.validate().unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(c.canonical_json(), json);
    }
}

#[test]
fn canonical_json_ignores_key_order_whitespace_nulls_and_number_spelling() {
    let a = parse(
        r#"{"lab": {"value": 10, "op": "<", "unit": "g/dL", "loinc": "718-7", "from": null}}"#,
    );
    let b = parse(r#"{"lab":{"loinc":"718-7","unit":"g/dL","op":"<","value":10.0}}"#);
    assert_eq!(a.canonical_json(), b.canonical_json());
    assert_eq!(
        a.canonical_json(),
        r#"{"lab":{"loinc":"718-7","unit":"g/dL","op":"<","value":10.0}}"#
    );
}

#[test]
fn unknown_fields_nodes_and_operators_are_rejected() {
    for bad in [
        r#"{"diagnosis": {"icd": "C92"}}"#,
        r#"{"diagnoses": {"icd10": "C92"}}"#,
        r#"{"lab": {"loinc": "718-7", "unit": "g/dL", "op": "<>", "value": 10}}"#,
        r#"{"lab": {"loinc": "718-7", "unit": "g/dL", "op": "<", "value": "10"}}"#,
        r#"{"sex": "f"}"#,
        r#"{"sex": "female", "vital_status": "alive"}"#,
        r#"{"age_at_diagnosis": {"min": -1}}"#,
        r#"{"diagnosis": {"from": "2020-13-01"}}"#,
    ] {
        assert!(serde_json::from_str::<Criteria>(bad).is_err(), "{bad}");
    }
}

#[test]
fn validation_names_the_path_and_the_fix() {
    let mut c = parse(EXAMPLE);
    let Criteria::And(children) = &mut c else {
        unreachable!()
    };
    let Criteria::Lab(lab) = &mut children[4] else {
        unreachable!()
    };
    lab.value = f64::INFINITY;
    lab.loinc = "718-6".into();
    let err = c.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid criteria: and[4].lab.loinc: LOINC check digit does not match: mistyped? (e.g. 718-7); \
         and[4].lab.value: not a finite number: give a plain decimal number"
    );

    let c = parse(
        r#"{"or": [
            {"stage": {"group": ["III", "3"]}},
            {"not": {"marker": {"gene": "FLT3", "present": true}}},
            {"and": [{"age_at_diagnosis": {"min": 70, "max": 60}}, {"ecog": {"min": 6}}]},
            {"diagnosis": {"icd10": "c92", "from": "2022-01-01", "to": "2021-01-01"}},
            {"tnm": {}},
            {"and": []},
            {"therapy": {"atc": "L01XC2"}},
            {"procedure": {"ops": "8805"}},
            {"age_at_diagnosis": {"max": 200}}
        ]}"#,
    );
    let got = problems(&c);
    let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "or[0].stage.group[1]",
            "or[1].not.marker.gene",
            "or[2].and[0].age_at_diagnosis.min",
            "or[2].and[1].ecog.min",
            "or[3].diagnosis.icd10",
            "or[3].diagnosis.from",
            "or[4].tnm.t",
            "or[5].and",
            "or[6].therapy.atc",
            "or[7].procedure.ops",
            "or[8].age_at_diagnosis.max",
        ]
    );
    assert_eq!(got[2].1, CriteriaErrorKind::MinAboveMax);
    assert_eq!(got[3].1, CriteriaErrorKind::OutOfRange { min: 0, max: 5 });
    assert_eq!(got[5].1, CriteriaErrorKind::DateOrder);
    assert_eq!(got[7].1, CriteriaErrorKind::Empty);
    assert_eq!(
        got[10].1,
        CriteriaErrorKind::OutOfRange { min: 0, max: 150 }
    );
    let text = c.validate().unwrap_err().to_string();
    assert!(
        text.contains("or[1].not.marker.gene: not an HGNC gene id: write e.g. HGNC:3765"),
        "{text}"
    );
    assert!(
        text.contains("or[3].diagnosis.icd10: not an ICD-10-GM code or prefix"),
        "{text}"
    );
}

#[test]
fn an_age_without_bounds_is_rejected() {
    let got = problems(&parse(r#"{"age_at_diagnosis": {"icd10": "C92"}}"#));
    assert_eq!(
        got,
        [(
            "age_at_diagnosis.min".to_owned(),
            CriteriaErrorKind::Missing {
                what: "min, max or both (years)"
            }
        )]
    );
}

#[test]
fn depth_and_leaf_limits() {
    let mut deep = Criteria::Sex(oncofed_model::Sex::Female);
    for _ in 1..Criteria::MAX_DEPTH {
        deep = Criteria::not(deep);
    }
    assert_eq!(deep.depth(), Criteria::MAX_DEPTH);
    deep.validate().unwrap();
    let too_deep = Criteria::and([deep]);
    assert_eq!(
        problems(&too_deep),
        [(
            "and[0].not.not.not.not.not.not.not".to_owned(),
            CriteriaErrorKind::TooDeep { max: 8 }
        )]
    );

    let leaf = || Criteria::VitalStatus(VitalStatus::Alive);
    Criteria::or((0..Criteria::MAX_LEAVES).map(|_| leaf()))
        .validate()
        .unwrap();
    let many = Criteria::or((0..=Criteria::MAX_LEAVES).map(|_| leaf()));
    assert_eq!(
        problems(&many),
        [(
            String::new(),
            CriteriaErrorKind::TooManyLeaves { found: 65, max: 64 }
        )]
    );
    assert!(
        many.validate()
            .unwrap_err()
            .to_string()
            .starts_with("invalid criteria: criteria: 65 conditions")
    );
}

#[test]
fn categories_decide_the_security_level() {
    let clinical = parse(r#"{"and": [{"diagnosis": {"icd10": "C92"}}, {"sex": "female"}]}"#);
    assert_eq!(
        clinical.categories(),
        BTreeSet::from([DataCategory::Clinical])
    );
    let genetic = parse(r#"{"not": {"marker": {"gene": "HGNC:7910", "present": true}}}"#);
    assert_eq!(
        genetic.categories(),
        BTreeSet::from([DataCategory::Genetic])
    );
    assert_eq!(
        SecurityLevel::of_dataset(genetic.categories()),
        SecurityLevel::Genetic
    );
    let both = parse(EXAMPLE);
    assert_eq!(
        both.categories(),
        BTreeSet::from([DataCategory::Clinical, DataCategory::Genetic])
    );
    assert_eq!(
        SecurityLevel::of_dataset(both.categories()),
        SecurityLevel::GeneticLinked
    );
}

#[test]
fn describe_every_leaf() {
    let cases = [
        (
            r#"{"diagnosis":{"morphology":"986","from":"2020-01-01"}}"#,
            "diagnosis with morphology 986* (from 2020-01-01)",
        ),
        (
            r#"{"diagnosis":{"to":"2020-01-01"}}"#,
            "any diagnosis (until 2020-01-01)",
        ),
        (
            r#"{"age_at_diagnosis":{"min":60,"icd10":"C92"}}"#,
            "age ≥ 60 at first C92* diagnosis",
        ),
        (
            r#"{"tnm":{"t":["T3","T4"],"n":["N1"]}}"#,
            "TNM T3*/T4* and N1*",
        ),
        (
            r#"{"ecog":{"min":0,"max":1,"from":"2020-01-01","to":"2020-12-31"}}"#,
            "ECOG 0–1 (2020-01-01 to 2020-12-31)",
        ),
        (
            r#"{"lab":{"loinc":"1751-7","unit":"g/dL","op":"!=","value":3.5}}"#,
            "lab 1751-7 != 3.5 g/dL",
        ),
        (
            r#"{"marker":{"gene":"HGNC:1","present":false}}"#,
            "gene HGNC:1 absent",
        ),
        (r#"{"therapy":{"atc":"L01"}}"#, "therapy ATC L01*"),
        (r#"{"procedure":{"ops":"8-805"}}"#, "procedure OPS 8-805*"),
        (r#"{"vital_status":"alive"}"#, "alive"),
        (
            r#"{"not":{"or":[{"sex":"male"},{"and":[{"sex":"other"},{"vital_status":"deceased"}]}]}}"#,
            "NOT (sex male OR (sex other AND deceased))",
        ),
        (r#"{"and":[{"or":[{"sex":"male"}]}]}"#, "sex male"),
    ];
    for (json, words) in cases {
        assert_eq!(parse(json).describe(), words, "{json}");
    }
}

#[test]
fn the_imaging_leaf_parses_validates_describes_and_round_trips() {
    let c = parse(
        r#"{"imaging": {"modality": ["CT"], "body_part": "CHEST",
            "after_diagnosis": {"icd10": "C34", "max_days": 90}}}"#,
    );
    c.validate().unwrap();
    let Criteria::Imaging(i) = &c else {
        unreachable!()
    };
    assert_eq!(
        i.after_diagnosis,
        Some(DiagnosisWindow {
            icd10: Some("C34".into()),
            min_days: 0,
            max_days: 90
        })
    );
    assert_eq!(
        c.describe(),
        "imaging CT of CHEST 0–90 days after a C34* diagnosis"
    );
    // min_days 0 is the default and is not written.
    assert_eq!(
        c.canonical_json(),
        r#"{"imaging":{"modality":["CT"],"body_part":"CHEST","after_diagnosis":{"icd10":"C34","max_days":90}}}"#
    );
    for json in [
        r#"{"imaging":{"modality":["CT","MR"]}}"#,
        r#"{"imaging":{"modality":["PT"],"from":"2020-01-01","to":"2020-12-31"}}"#,
        r#"{"imaging":{"modality":["MR"],"after_diagnosis":{"min_days":7,"max_days":36500}}}"#,
    ] {
        let c = parse(json);
        c.validate().unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(c.canonical_json(), json);
    }
    assert_eq!(
        parse(r#"{"imaging":{"modality":["MR","CT"],"body_part":"head","from":"2021-01-01","after_diagnosis":{"min_days":7,"max_days":30}}}"#)
            .describe(),
        "imaging MR/CT of HEAD (from 2021-01-01) 7–30 days after any diagnosis"
    );
}

#[test]
fn imaging_rejects_unknown_fields_and_a_window_without_max_days() {
    for bad in [
        r#"{"imaging": {"modality": ["CT"], "bodypart": "CHEST"}}"#,
        r#"{"imaging": {"body_part": "CHEST"}}"#,
        r#"{"imaging": {"modality": "CT"}}"#,
        r#"{"imaging": {"modality": ["CT"], "after_diagnosis": {"min_days": 0}}}"#,
        r#"{"imaging": {"modality": ["CT"], "after_diagnosis": {"max_days": 90, "days": 1}}}"#,
    ] {
        assert!(serde_json::from_str::<Criteria>(bad).is_err(), "{bad}");
    }
}

#[test]
fn imaging_validation_names_each_problem() {
    let c = parse(
        r#"{"or": [
            {"imaging": {"modality": []}},
            {"imaging": {"modality": ["ct", "CT-1", "ABCDEFGHIJKLMNOPQ"], "body_part": "CHEST; --"}},
            {"imaging": {"modality": ["CT"], "from": "2021-01-01", "to": "2020-01-01",
                         "after_diagnosis": {"icd10": "c34", "min_days": 91, "max_days": 90}}},
            {"imaging": {"modality": ["MR"], "after_diagnosis": {"min_days": -1, "max_days": 36501}}},
            {"imaging": {"modality": ["MR"], "body_part": " HEAD"}}
        ]}"#,
    );
    let got = problems(&c);
    let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "or[0].imaging.modality",
            "or[1].imaging.modality[0]",
            "or[1].imaging.modality[1]",
            "or[1].imaging.modality[2]",
            "or[1].imaging.body_part",
            "or[2].imaging.from",
            "or[2].imaging.after_diagnosis.icd10",
            "or[2].imaging.after_diagnosis.min_days",
            "or[3].imaging.after_diagnosis.min_days",
            "or[3].imaging.after_diagnosis.max_days",
            "or[4].imaging.body_part",
        ]
    );
    assert_eq!(got[0].1, CriteriaErrorKind::Empty);
    assert_eq!(got[7].1, CriteriaErrorKind::MinAboveMax);
    assert_eq!(
        got[9].1,
        CriteriaErrorKind::OutOfRange { min: 0, max: 36500 }
    );
    // Lower-case body parts are fine (compared case-insensitively); the edges are valid.
    parse(
        r#"{"imaging": {"modality": ["CT", "US"], "body_part": "head_neck",
                          "after_diagnosis": {"min_days": 0, "max_days": 0}}}"#,
    )
    .validate()
    .unwrap();
}

#[test]
fn imaging_categories_include_clinical_only_with_a_diagnosis_window() {
    let plain = parse(r#"{"imaging": {"modality": ["CT"]}}"#);
    assert_eq!(plain.categories(), BTreeSet::from([DataCategory::Imaging]));
    let windowed =
        parse(r#"{"not": {"imaging": {"modality": ["CT"], "after_diagnosis": {"max_days": 90}}}}"#);
    assert_eq!(
        windowed.categories(),
        BTreeSet::from([DataCategory::Clinical, DataCategory::Imaging])
    );
    assert_eq!(
        SecurityLevel::of_dataset(windowed.categories()),
        SecurityLevel::Pseudonymised
    );
}

#[test]
fn imaging_normal_form_sorts_modalities_and_upper_cases_the_body_part() {
    let a = parse(r#"{"imaging": {"modality": ["MR", "CT", "MR"], "body_part": "Chest"}}"#);
    let b = parse(r#"{"imaging": {"modality": ["CT", "MR"], "body_part": "CHEST"}}"#);
    assert_eq!(a.semantic_key(), b.semantic_key());
    assert_eq!(b.semantic_key(), b.canonical_json());
    let explicit_zero = parse(
        r#"{"imaging": {"modality": ["CT"], "after_diagnosis": {"min_days": 0, "max_days": 90}}}"#,
    );
    let implicit_zero =
        parse(r#"{"imaging": {"modality": ["CT"], "after_diagnosis": {"max_days": 90}}}"#);
    assert_eq!(
        explicit_zero.canonical_json(),
        implicit_zero.canonical_json()
    );
    for empty in [
        r#"{"imaging": {"modality": []}}"#,
        r#"{"imaging": {"modality": ["CT"], "from": "2021-01-01", "to": "2020-01-01"}}"#,
        r#"{"imaging": {"modality": ["CT"], "after_diagnosis": {"min_days": 9, "max_days": 1}}}"#,
    ] {
        assert_eq!(parse(empty).normalised(), Criteria::never(), "{empty}");
    }
    assert_ne!(
        parse(r#"{"imaging": {"modality": ["CT"], "body_part": "HEAD"}}"#).semantic_key(),
        b.semantic_key()
    );
}

#[test]
fn the_cytology_leaf_parses_validates_describes_and_reads_pathology() {
    let c = parse(
        r#"{"cytology": {"specimen": "bone-marrow", "blast_percent_min": 20, "class": "myeloblast", "from": "2024-01-01"}}"#,
    );
    c.validate().unwrap();
    assert_eq!(
        c.describe(),
        "cytology bone-marrow smear with blasts ≥ 20 % containing myeloblast (from 2024-01-01)"
    );
    assert_eq!(
        c.categories(),
        BTreeSet::from([oncofed_model::DataCategory::Pathology])
    );
    assert_eq!(
        c.canonical_json(),
        r#"{"cytology":{"specimen":"bone-marrow","blast_percent_min":20,"class":"myeloblast","from":"2024-01-01"}}"#
    );
    let bad = parse(r#"{"cytology": {"blast_percent_min": 30, "blast_percent_max": 120}}"#)
        .validate()
        .unwrap_err()
        .to_string();
    assert!(bad.contains("cytology.blast_percent_max"), "{bad}");
    let swapped = parse(r#"{"cytology": {"blast_percent_min": 30, "blast_percent_max": 20}}"#)
        .validate()
        .unwrap_err()
        .to_string();
    assert!(swapped.contains("cytology.blast_percent_min"), "{swapped}");
    for wrong in [
        r#"{"cytology": {"specimen": "urine"}}"#,
        r#"{"cytology": {"class": "blastoid"}}"#,
        r#"{"cytology": {"blasts": 20}}"#,
    ] {
        assert!(serde_json::from_str::<Criteria>(wrong).is_err(), "{wrong}");
    }
}

#[test]
fn the_variant_leaf_parses_validates_normalises_and_reads_its_origins_category() {
    let c = parse(
        r#"{"variant": {"gene": "EGFR", "protein": "p.Leu858Arg", "vaf_min": 0.1, "origin": "somatic"}}"#,
    );
    c.validate().unwrap();
    assert_eq!(c.describe(), "variant somatic EGFR p.Leu858Arg VAF ≥ 0.1");
    assert_eq!(c.categories(), BTreeSet::from([DataCategory::Genetic]));
    let Criteria::Variant(v) = c.normalised() else {
        panic!("a variant leaf stays one");
    };
    assert_eq!(v.protein.as_deref(), Some("p.L858R"));
    let either = parse(r#"{"variant": {"gene": "HGNC:1100", "consequence": "truncating"}}"#);
    either.validate().unwrap();
    assert_eq!(
        either.categories(),
        BTreeSet::from([DataCategory::Genetic, DataCategory::Germline])
    );
    let germline = parse(r#"{"variant": {"gene": "BRCA1", "origin": "germline"}}"#);
    assert_eq!(
        germline.categories(),
        BTreeSet::from([DataCategory::Germline])
    );
    assert_eq!(
        SecurityLevel::of_dataset(germline.categories()),
        SecurityLevel::Genetic
    );
    for (bad, field) in [
        (r#"{"variant": {"protein": "p.L858R"}}"#, "variant.gene"),
        (r#"{"variant": {"gene": "egfr"}}"#, "variant.gene"),
        (
            r#"{"variant": {"gene": "EGFR", "protein": "L858R"}}"#,
            "variant.protein",
        ),
        (r#"{"variant": {"vaf_min": 1.5}}"#, "variant.vaf_min"),
        (
            r#"{"variant": {"vaf_min": 0.5, "vaf_max": 0.2}}"#,
            "variant.vaf_min",
        ),
        (
            r#"{"variant": {"consequence": "Missense; DROP"}}"#,
            "variant.consequence",
        ),
    ] {
        let text = parse(bad).validate().unwrap_err().to_string();
        assert!(text.contains(field), "{bad}: {text}");
    }
    assert!(serde_json::from_str::<Criteria>(r#"{"variant": {"origin": "inherited"}}"#).is_err());
}
