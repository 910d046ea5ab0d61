//! Random criteria trees against an in-Rust reference evaluator of the documented
//! semantics (the oracle for the compiled SQL), and the semantic normal form.

use super::Backend;
use super::feasibility::{ECOG, HISTO, STAGE, open, parse, run};
use chrono::{Datelike, NaiveDate};
use oncofed_criteria::{Criteria, TnmAxis};
use oncofed_model::CodeSystem::{
    Atc, Cytomorphology, Dcm, DicomBodyPart, Ecog, Hgnc, Icd10Gm, Icd10Who, IcdO3, Loinc, Ops, Tnm,
};
use oncofed_model::*;
use oncofed_store::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use std::collections::BTreeSet;

/// The documented semantics, evaluated directly on the cohort: the oracle for the SQL.
fn eval(c: &Criteria, p: &PatientRow, facts: &[Fact]) -> bool {
    let dated = |f: &Fact, from: Option<NaiveDate>, to: Option<NaiveDate>| {
        (from.is_none() && to.is_none())
            || f.start
                .is_some_and(|d| from.is_none_or(|a| d >= a) && to.is_none_or(|b| d <= b))
    };
    let value = |f: &Fact| match &f.value {
        FactValue::Code(c) => Some(c.clone()),
        _ => None,
    };
    let obs = |loinc: &str| {
        let loinc = loinc.to_owned();
        facts.iter().filter(move |f| {
            f.kind == FactKind::Observation && f.code == Coding::new(Loinc, &loinc)
        })
    };
    let icd10 = |f: &Fact, prefix: &Option<String>| {
        prefix.as_ref().is_none_or(|x| {
            matches!(f.code.system, Icd10Gm | Icd10Who) && f.code.code.starts_with(x.as_str())
        })
    };
    let coded = |f: &Fact, system: CodeSystem, ok: &dyn Fn(&str) -> bool| {
        value(f).is_some_and(|c| c.system == system && ok(&c.code))
    };
    let with = |kind: FactKind, system: CodeSystem, prefix: &str, from, to| {
        facts.iter().any(|f| {
            f.kind == kind
                && f.code.system == system
                && f.code.code.starts_with(prefix)
                && dated(f, from, to)
        })
    };
    match c {
        Criteria::And(v) => v.iter().all(|c| eval(c, p, facts)),
        Criteria::Or(v) => v.iter().any(|c| eval(c, p, facts)),
        Criteria::Not(c) => !eval(c, p, facts),
        Criteria::Diagnosis(d) => {
            facts.iter().any(|f| f.kind == FactKind::Diagnosis && icd10(f, &d.icd10) && dated(f, d.from, d.to))
                && d.morphology.as_ref().is_none_or(|m| obs(HISTO).any(|f| coded(f, IcdO3, &|c| c.starts_with(m.as_str()))))
        }
        Criteria::AgeAtDiagnosis(a) => {
            let first = facts.iter().filter(|f| f.kind == FactKind::Diagnosis && icd10(f, &a.icd10)).filter_map(|f| f.start).min();
            match (first, p.demographics.birth_year) {
                (Some(d), Some(born)) => {
                    let age = i64::from(d.year() - born);
                    a.min.is_none_or(|m| age >= i64::from(m)) && a.max.is_none_or(|m| age <= i64::from(m))
                }
                _ => false,
            }
        }
        Criteria::Sex(s) => p.demographics.sex == *s,
        Criteria::VitalStatus(v) => p.demographics.vital_status == *v,
        Criteria::Stage(s) => obs(STAGE).any(|f| dated(f, s.from, s.to) && coded(f, Tnm, &|c| s.group.iter().any(|g| g == c))),
        Criteria::Tnm(t) => TnmAxis::ALL.into_iter().filter(|&a| !t.axis(a).is_empty()).all(|a| {
            obs(a.loinc()).any(|f| dated(f, t.from, t.to) && coded(f, Tnm, &|c| t.axis(a).iter().any(|x| c.starts_with(x.as_str()))))
        }),
        Criteria::Ecog(e) => {
            let (min, max) = (e.min.unwrap_or(0), e.max.unwrap_or(5));
            obs(ECOG).any(|f| {
                dated(f, e.from, e.to)
                    && match &f.value {
                        FactValue::Code(c) => c.system == Ecog && c.code.parse::<u8>().is_ok_and(|g| (min..=max).contains(&g)),
                        FactValue::Quantity { value, .. } => (f64::from(min)..=f64::from(max)).contains(value),
                        FactValue::None => false,
                    }
            })
        }
        Criteria::Lab(l) => obs(&l.loinc).any(|f| {
            dated(f, l.from, l.to) && matches!(&f.value, FactValue::Quantity { value, unit } if *unit == l.unit && l.op.holds(*value, l.value))
        }),
        Criteria::Marker(m) => facts.iter().any(|f| {
            f.kind == FactKind::Molecular && f.code == Coding::new(Hgnc, &m.gene) && dated(f, m.from, m.to)
                && coded(f, Loinc, &|c| c == m.answer())
        }),
        Criteria::Therapy(t) => with(FactKind::Medication, Atc, &t.atc, t.from, t.to),
        Criteria::Procedure(pr) => with(FactKind::Procedure, Ops, &pr.ops, pr.from, pr.to),
        Criteria::Imaging(i) => {
            let part = i.body_part.as_ref().map(|b| b.to_ascii_uppercase());
            let after = |study: NaiveDate, w: &oncofed_criteria::DiagnosisWindow| {
                facts.iter().any(|d| {
                    d.kind == FactKind::Diagnosis
                        && icd10(d, &w.icd10)
                        && d.start.is_some_and(|dx| {
                            (i64::from(w.min_days)..=i64::from(w.max_days)).contains(&(study - dx).num_days())
                        })
                })
            };
            facts.iter().any(|f| {
                f.kind == FactKind::Imaging
                    && f.code.system == Dcm
                    && i.modality.contains(&f.code.code)
                    && part.as_ref().is_none_or(|b| f.modifier.as_ref() == Some(&Coding::new(DicomBodyPart, b)))
                    && dated(f, i.from, i.to)
                    && i.after_diagnosis.as_ref().is_none_or(|w| f.start.is_some_and(|s| after(s, w)))
            })
        }
        Criteria::Cytology(c) => {
            let smear = |f: &&Fact, code: &str| {
                f.kind == FactKind::Observation
                    && f.code == Coding::new(Cytomorphology, code)
                    && c.specimen.is_none_or(|s| f.modifier.as_ref() == Some(&Coding::new(Cytomorphology, s.code())))
                    && dated(f, c.from, c.to)
            };
            let value = |f: &Fact| match &f.value { FactValue::Quantity { value, .. } => Some(*value), _ => None };
            let blasts = c.blast_percent_min.is_some() || c.blast_percent_max.is_some();
            let blast_ok = if blasts {
                facts.iter().any(|f| smear(&f, "blast-percentage") && value(f).is_some_and(|v| {
                    c.blast_percent_min.is_none_or(|m| v >= f64::from(m)) && c.blast_percent_max.is_none_or(|m| v <= f64::from(m))
                }))
            } else {
                c.class.is_some() || facts.iter().any(|f| smear(&f, "nucleated-cells"))
            };
            let class_ok = c.class.is_none_or(|class| facts.iter().any(|f| smear(&f, class.code()) && value(f).is_some_and(|v| v >= 1.0)));
            blast_ok && class_ok
        }
        // Calls are rows of their own, not facts: the random trees hold no
        // variant leaf, and `genomics.rs` checks the leaf field by field.
        Criteria::Variant(_) => unreachable!("random trees have no variant leaf"),
    }
}

/// Leaf templates over the cohort's codes, so that random trees select non-trivial sets.
#[rustfmt::skip]
const LEAVES: &[&str] = &[
    r#"{"diagnosis": {}}"#, r#"{"diagnosis": {"icd10": "C"}}"#, r#"{"diagnosis": {"icd10": "C92"}}"#,
    r#"{"diagnosis": {"icd10": "C92.0"}}"#, r#"{"diagnosis": {"icd10": "C92.1"}}"#, r#"{"diagnosis": {"icd10": "C34"}}"#,
    r#"{"diagnosis": {"icd10": "D46"}}"#, r#"{"diagnosis": {"icd10": "I10"}}"#, r#"{"diagnosis": {"morphology": "986"}}"#,
    r#"{"diagnosis": {"icd10": "C50", "morphology": "8500/3"}}"#,
    r#"{"sex": "female"}"#, r#"{"sex": "male"}"#, r#"{"sex": "other"}"#, r#"{"sex": "unknown"}"#,
    r#"{"vital_status": "alive"}"#, r#"{"vital_status": "deceased"}"#, r#"{"vital_status": "unknown"}"#,
    r#"{"stage": {"group": ["III", "IIIA", "IIIB"]}}"#, r#"{"stage": {"group": ["IIA", "IV"]}}"#,
    r#"{"stage": {"group": ["III"]}}"#, r#"{"tnm": {"t": ["T3", "pT3"]}}"#, r#"{"tnm": {"t": ["T2"], "m": ["M0"]}}"#,
    r#"{"tnm": {"n": ["N0", "N1"]}}"#, r#"{"tnm": {"t": ["T4"], "n": ["N3"], "m": ["M1"]}}"#,
    r#"{"lab": {"loinc": "718-7", "unit": "g/dL", "op": "<", "value": 10}}"#,
    r#"{"lab": {"loinc": "718-7", "unit": "g/dL", "op": "<=", "value": 10}}"#,
    r#"{"lab": {"loinc": "718-7", "unit": "g/dL", "op": "=", "value": 9.5}}"#,
    r#"{"lab": {"loinc": "718-7", "unit": "g/dL", "op": "!=", "value": 12}}"#,
    r#"{"lab": {"loinc": "718-7", "unit": "g/dL", "op": ">=", "value": 9}}"#,
    r#"{"lab": {"loinc": "718-7", "unit": "g/L", "op": ">", "value": 100}}"#,
    r#"{"marker": {"gene": "HGNC:3765", "present": true}}"#, r#"{"marker": {"gene": "HGNC:3765", "present": false}}"#,
    r#"{"marker": {"gene": "HGNC:7910", "present": true}}"#, r#"{"marker": {"gene": "HGNC:1097", "present": true}}"#,
    r#"{"therapy": {"atc": "L"}}"#, r#"{"therapy": {"atc": "L01XC"}}"#, r#"{"therapy": {"atc": "L01BC01"}}"#,
    r#"{"procedure": {"ops": "8-805"}}"#, r#"{"procedure": {"ops": "5"}}"#, r#"{"procedure": {"ops": "5-87"}}"#,
    r#"{"ecog": {"max": 2}}"#, r#"{"ecog": {"min": 3}}"#,
    r#"{"imaging": {"modality": ["CT"]}}"#, r#"{"imaging": {"modality": ["MR", "US"]}}"#,
    r#"{"imaging": {"modality": ["CT"], "body_part": "chest"}}"#, r#"{"imaging": {"modality": ["CT", "MR"], "body_part": "HEAD"}}"#,
    r#"{"imaging": {"modality": ["CT"], "after_diagnosis": {"max_days": 90}}}"#,
    r#"{"imaging": {"modality": ["CT"], "body_part": "CHEST", "after_diagnosis": {"min_days": 1, "max_days": 91}}}"#,
    r#"{"imaging": {"modality": ["CT", "US"], "after_diagnosis": {"icd10": "C5", "max_days": 36500}}}"#,
    r#"{"imaging": {"modality": ["US", "MR"], "after_diagnosis": {"icd10": "I", "min_days": 30, "max_days": 30}}}"#,
    r#"{"cytology": {}}"#, r#"{"cytology": {"specimen": "bone-marrow", "blast_percent_min": 20}}"#,
    r#"{"cytology": {"class": "lymphocyte"}}"#, r#"{"cytology": {"class": "myeloblast", "blast_percent_max": 45}}"#,
];

/// Orders two optional bounds so that a present lower one is not above the upper one.
fn ordered<T: PartialOrd>(a: Option<T>, b: Option<T>) -> (Option<T>, Option<T>) {
    match (a, b) {
        (Some(x), Some(y)) if x > y => (Some(y), Some(x)),
        other => other,
    }
}

/// Valid leaves: a template with a random date range where the leaf takes one, and
/// random age and ECOG bounds.
fn leaf() -> impl Strategy<Value = Criteria> {
    let days = [
        "2015-01-01",
        "2019-06-02",
        "2020-03-01",
        "2021-09-01",
        "2023-12-31",
    ];
    let day = prop::option::of(prop::sample::select(days.to_vec()));
    let dated =
        (prop::sample::select(LEAVES.to_vec()), day.clone(), day).prop_map(|(json, a, b)| {
            let mut leaf: serde_json::Value = serde_json::from_str(json).unwrap();
            let (from, to) = ordered(a, b);
            if let Some(body) = leaf
                .as_object_mut()
                .unwrap()
                .values_mut()
                .next()
                .unwrap()
                .as_object_mut()
            {
                body.insert("from".into(), from.into());
                body.insert("to".into(), to.into());
            }
            serde_json::from_value(leaf).unwrap()
        });
    let bound = |hi: u32| prop::option::of(0..=hi);
    let icd10 = prop::option::of(prop::sample::select(vec!["C92", "C5"]));
    let age = (bound(80), bound(80), icd10)
        .prop_filter("a bound", |(a, b, _)| a.is_some() || b.is_some())
        .prop_map(|(a, b, icd10)| {
            let (min, max) = ordered(a, b);
            parse(
                &json!({"age_at_diagnosis": {"min": min, "max": max, "icd10": icd10}}).to_string(),
            )
        });
    let ecog = (bound(5), bound(5)).prop_map(|(a, b)| {
        let (min, max) = ordered(a, b);
        parse(&json!({"ecog": {"min": min, "max": max}}).to_string())
    });
    prop_oneof![8 => dated, 1 => age, 1 => ecog]
}

fn tree() -> impl Strategy<Value = Criteria> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(Criteria::And),
            prop::collection::vec(inner.clone(), 1..4).prop_map(Criteria::Or),
            inner.prop_map(Criteria::not),
        ]
    })
}

pub fn random_trees_match_the_reference_and_negation_complements(backend: &dyn Backend) {
    let (store, data) = open(backend);
    let store = &*store;
    let all: BTreeSet<u8> = (1..=12).collect();
    let mut runner = TestRunner::new(Config {
        cases: 400,
        ..Config::default()
    });
    runner
        .run(&tree(), |c| {
            prop_assert!(c.validate().is_ok(), "{}", c.describe());
            let yes: BTreeSet<u8> = run(store, &c).into_iter().collect();
            let no: BTreeSet<u8> = run(store, &Criteria::not(c.clone())).into_iter().collect();
            prop_assert!(yes.is_disjoint(&no), "{}", c.describe());
            prop_assert_eq!(
                yes.union(&no).copied().collect::<BTreeSet<u8>>(),
                all.clone()
            );
            let expected: BTreeSet<u8> = data
                .iter()
                .enumerate()
                .filter(|(_, (p, f))| eval(&c, p, f))
                .map(|(i, _)| i as u8 + 1)
                .collect();
            prop_assert_eq!(yes, expected, "{}", c.canonical_json());
            Ok(())
        })
        .unwrap();
}

/// The semantic normal form (the key of site noise and hub sketches) is
/// idempotent and selects exactly the patients of the original tree: by the
/// reference evaluator always, and by the store's compiler whenever the normal
/// form is a valid query (its constants `{"and": []}` / `{"or": []}` are not).
pub fn normal_form_is_idempotent_and_preserves_meaning(backend: &dyn Backend) {
    let (store, data) = open(backend);
    let store = &*store;
    let mut runner = TestRunner::new(Config {
        cases: 400,
        ..Config::default()
    });
    let selects = |c: &Criteria| -> BTreeSet<u8> {
        data.iter()
            .enumerate()
            .filter(|(_, (p, f))| eval(c, p, f))
            .map(|(i, _)| i as u8 + 1)
            .collect()
    };
    // A small pool beside the general leaves, so that duplicates, complements,
    // conflicting single-valued attributes and overlapping ranges are frequent.
    // The cohort's ages are 31, 36, 42 (twice), 48, 58, 60, 74 (65 for C92 only).
    let bound = || prop::option::of(prop::sample::select(vec![30u32, 35, 37, 42, 58, 60, 61]));
    let icd10 = prop::option::of(prop::sample::select(vec!["C92"]));
    let age = (bound(), bound(), icd10).prop_map(|(min, max, icd10)| {
        parse(&json!({"age_at_diagnosis": {"min": min, "max": max, "icd10": icd10}}).to_string())
    });
    let pool = prop::sample::select(vec![
        r#"{"sex": "female"}"#,
        r#"{"sex": "male"}"#,
        r#"{"vital_status": "alive"}"#,
        r#"{"vital_status": "deceased"}"#,
        r#"{"ecog": {"min": 0, "max": 2}}"#,
        r#"{"ecog": {"min": 3, "max": 1}}"#,
        r#"{"ecog": {"min": 1, "max": 1}}"#,
        r#"{"stage": {"group": ["IV", "III", "IV"]}}"#,
        r#"{"tnm": {"t": ["T3", "T3a", "pT3"], "n": ["N1", "N0"]}}"#,
        r#"{"diagnosis": {"icd10": "C92", "from": "2021-01-01", "to": "2020-01-01"}}"#,
    ])
    .prop_map(parse);
    let leaves = prop_oneof![2 => leaf(), 2 => age, 3 => pool];
    let trees = leaves.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..5).prop_map(Criteria::And),
            prop::collection::vec(inner.clone(), 1..5).prop_map(Criteria::Or),
            inner.prop_map(Criteria::not),
        ]
    });
    runner
        .run(&trees, |c| {
            let n = c.normalised();
            prop_assert_eq!(n.normalised(), n.clone(), "{}", c.canonical_json());
            let want = selects(&c);
            prop_assert_eq!(selects(&n), want.clone(), "{}", n.canonical_json());
            if n.validate().is_ok() {
                let got: BTreeSet<u8> = run(store, &n).into_iter().collect();
                prop_assert_eq!(got, want, "{}", n.canonical_json());
            }
            Ok(())
        })
        .unwrap();
}
