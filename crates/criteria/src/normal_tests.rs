//! The normal form on hand-written rewordings; the property test (idempotent,
//! same patients as the original) runs against the store's compiler in
//! `oncofed-store`'s `tests/feasibility.rs`.

use super::super::Criteria;

fn parse(json: &str) -> Criteria {
    serde_json::from_str(json).unwrap()
}

/// The seven forms of issue 11: one query, reworded.
const SEVEN_FORMS: [&str; 7] = [
    r#"{"and": [{"diagnosis": {"icd10": "C92"}}, {"age_at_diagnosis": {"min": 18, "max": 65}}, {"sex": "female"}]}"#,
    // reordered
    r#"{"and": [{"sex": "female"}, {"age_at_diagnosis": {"min": 18, "max": 65}}, {"diagnosis": {"icd10": "C92"}}]}"#,
    // duplicated clause
    r#"{"and": [{"diagnosis": {"icd10": "C92"}}, {"sex": "female"}, {"age_at_diagnosis": {"min": 18, "max": 65}}, {"sex": "female"}]}"#,
    // double negation
    r#"{"and": [{"diagnosis": {"icd10": "C92"}}, {"not": {"not": {"age_at_diagnosis": {"min": 18, "max": 65}}}}, {"sex": "female"}]}"#,
    // tautology
    r#"{"and": [{"diagnosis": {"icd10": "C92"}}, {"age_at_diagnosis": {"min": 18, "max": 65}}, {"sex": "female"},
                {"or": [{"vital_status": "alive"}, {"not": {"vital_status": "alive"}}]}]}"#,
    // needless nesting
    r#"{"and": [{"diagnosis": {"icd10": "C92"}}, {"and": [{"and": [{"sex": "female"}]}, {"age_at_diagnosis": {"min": 18, "max": 65}}]}]}"#,
    // the range split in two
    r#"{"and": [{"diagnosis": {"icd10": "C92"}}, {"age_at_diagnosis": {"min": 18}}, {"age_at_diagnosis": {"max": 65}}, {"sex": "female"}]}"#,
];

#[test]
fn the_seven_rewordings_share_one_key() {
    let keys: Vec<String> = SEVEN_FORMS
        .iter()
        .map(|j| parse(j).semantic_key())
        .collect();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(k, &keys[0], "form {i}");
    }
    // The spelling differs: canonical JSON alone kept them apart.
    let spellings: std::collections::BTreeSet<String> = SEVEN_FORMS
        .iter()
        .map(|j| parse(j).canonical_json())
        .collect();
    assert_eq!(spellings.len(), 7);
}

#[test]
fn a_normal_tree_keeps_its_canonical_json_as_key() {
    let c = parse(r#"{"diagnosis": {"icd10": "C50"}}"#);
    assert_eq!(c.semantic_key(), c.canonical_json());
}

#[test]
fn different_meanings_get_different_keys() {
    let pairs = [
        (r#"{"sex": "female"}"#, r#"{"sex": "male"}"#),
        (
            r#"{"and": [{"sex": "female"}, {"vital_status": "alive"}]}"#,
            r#"{"or": [{"sex": "female"}, {"vital_status": "alive"}]}"#,
        ),
        (r#"{"sex": "female"}"#, r#"{"not": {"sex": "female"}}"#),
        (
            r#"{"age_at_diagnosis": {"min": 0, "max": 30}}"#,
            r#"{"age_at_diagnosis": {"max": 30}}"#,
        ),
        (
            r#"{"or": [{"age_at_diagnosis": {"max": 30}}, {"age_at_diagnosis": {"min": 32}}]}"#,
            r#"{"age_at_diagnosis": {}}"#,
        ),
    ];
    for (a, b) in pairs {
        assert_ne!(
            parse(a).semantic_key(),
            parse(b).semantic_key(),
            "{a} vs {b}"
        );
    }
}

#[test]
fn constants_contradictions_absorption_and_ranges() {
    let cases = [
        (
            r#"{"or": [{"sex": "male"}, {"not": {"sex": "male"}}]}"#,
            r#"{"and": []}"#,
        ),
        (
            r#"{"and": [{"sex": "male"}, {"not": {"sex": "male"}}]}"#,
            r#"{"or": []}"#,
        ),
        (
            r#"{"and": [{"sex": "male"}, {"sex": "female"}]}"#,
            r#"{"or": []}"#,
        ),
        (
            r#"{"and": [{"sex": "male"}, {"or": [{"sex": "male"}, {"vital_status": "alive"}]}]}"#,
            r#"{"sex": "male"}"#,
        ),
        (
            r#"{"or": [{"sex": "male"}, {"and": [{"sex": "male"}, {"vital_status": "alive"}]}]}"#,
            r#"{"sex": "male"}"#,
        ),
        (
            r#"{"not": {"and": [{"sex": "male"}, {"vital_status": "alive"}]}}"#,
            r#"{"or": [{"not": {"sex": "male"}}, {"not": {"vital_status": "alive"}}]}"#,
        ),
        (
            r#"{"or": [{"age_at_diagnosis": {"max": 30}}, {"age_at_diagnosis": {"min": 31, "max": 40}}]}"#,
            r#"{"age_at_diagnosis": {"max": 40}}"#,
        ),
        (r#"{"ecog": {"min": 0, "max": 5}}"#, r#"{"ecog": {}}"#),
        (r#"{"ecog": {"min": 3, "max": 2}}"#, r#"{"or": []}"#),
        (
            r#"{"stage": {"group": ["IV", "III", "IV"]}}"#,
            r#"{"stage": {"group": ["III", "IV"]}}"#,
        ),
        (
            r#"{"tnm": {"t": ["T2a", "T2", "T1"]}}"#,
            r#"{"tnm": {"t": ["T1", "T2"]}}"#,
        ),
        (
            r#"{"lab": {"loinc": "718-7", "unit": "g/dL", "op": ">", "value": -0.0}}"#,
            r#"{"lab": {"loinc": "718-7", "unit": "g/dL", "op": ">", "value": 0.0}}"#,
        ),
        (
            r#"{"diagnosis": {"icd10": "C50", "from": "2021-01-01", "to": "2020-01-01"}}"#,
            r#"{"or": []}"#,
        ),
    ];
    for (input, want) in cases {
        let got = parse(input).normalised();
        assert_eq!(got, parse(want), "{input}");
        assert_eq!(got.normalised(), got, "idempotent on {input}");
    }
}
