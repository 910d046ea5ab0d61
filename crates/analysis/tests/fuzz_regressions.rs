//! Inputs found by the fuzz target `analysis` (`scripts/fuzz`, crate `fuzz/`),
//! minimised, kept as regression tests of request validation.

use oncofed_analysis::driver::validate;
use oncofed_protocol::analysis::{AnalysisRequest, Variable};

fn request(json: &str) -> AnalysisRequest {
    serde_json::from_str(json).unwrap()
}

fn cox(covariate: &str) -> AnalysisRequest {
    request(&format!(
        r#"{{"project": "a", "index": {{"icd10": "C34"}},
            "analysis": {{"type": "cox", "covariates": [{covariate}]}}}}"#
    ))
}

/// Minimised crash: a diagnosis variable with an empty prefix passed validation,
/// counted every patient with any ICD-10 diagnosis, and was named `dx:`, which
/// does not parse back as a variable.
#[test]
fn empty_diagnosis_prefix_is_refused() {
    assert!(validate(&cox(r#"{"var": "diagnosis", "icd10": ""}"#)).is_err());
    assert!(validate(&cox(r#"{"var": "diagnosis", "icd10": "c34 or anything"}"#)).is_err());
}

/// The index diagnosis and the other variables' codes follow the same forms
/// as the criteria language (a malformed code would silently match nothing).
#[test]
fn malformed_codes_are_refused_without_being_echoed() {
    let secret = "Erika Mustermann";
    for bad in [
        r#"{"var": "molecular", "gene": ""}"#.to_owned(),
        format!(r#"{{"var": "molecular", "gene": "{secret}"}}"#),
        r#"{"var": "observation", "system": "loinc", "code": "89247-2"}"#.to_owned(),
        format!(r#"{{"var": "observation", "system": "loinc", "code": "{secret}"}}"#),
    ] {
        let e = validate(&cox(&bad)).unwrap_err().to_string();
        assert!(!e.contains(secret), "{e}");
    }
    let index = request(
        r#"{"project": "a", "index": {"icd10": "Erika Mustermann"}, "analysis": {"type": "kaplan-meier"}}"#,
    );
    let e = validate(&index).unwrap_err().to_string();
    assert!(e.contains("index.icd10") && !e.contains("Erika"), "{e}");
}

/// What validates keeps working, and every valid variable's name parses back.
#[test]
fn valid_variables_round_trip_through_their_names() {
    for good in [
        r#"{"var": "age"}"#,
        r#"{"var": "female"}"#,
        r#"{"var": "diagnosis", "icd10": "E11.9"}"#,
        r#"{"var": "observation", "system": "loinc", "code": "89247-1"}"#,
        r#"{"var": "molecular", "gene": "EGFR"}"#,
    ] {
        let r = cox(good);
        validate(&r).unwrap_or_else(|e| panic!("{good}: {e}"));
        for v in r.analysis.variables() {
            assert_eq!(v.name().parse::<Variable>(), Ok(v));
        }
    }
}

/// The fuzz target's hand-written seeds (`fuzz/seeds/analysis/`) stay valid
/// requests whose JSON round-trips and whose variable names parse back, so
/// the fuzzer starts from every request form the driver knows (cumulative
/// incidence, endpoints, time origins, windows, categorical and treatment
/// covariates).
#[test]
fn every_hand_written_seed_is_a_valid_request() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/analysis");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let req: AnalysisRequest =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        validate(&req).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let again: AnalysisRequest =
            serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        assert_eq!(again, req, "{}", path.display());
        for v in req.analysis.variables() {
            assert_eq!(
                v.name().parse::<Variable>().unwrap(),
                v,
                "{}",
                path.display()
            );
        }
        seen += 1;
    }
    assert!(seen >= 7, "{seen} seeds");
}

/// Minimised crash (fuzz target `analysis`, 2026-12-03): a treatment prefix
/// with `@` was valid and named `tx:atc:L0@1@90`, which does not parse back
/// (the `@` starts the window). Refused now, as `@` in an observation code.
#[test]
fn an_at_sign_in_a_treatment_prefix_or_observation_code_is_refused() {
    assert!(
        validate(&cox(
            r#"{"var": "treatment", "system": "atc", "prefix": "L0@1", "window_days": 90}"#
        ))
        .is_err()
    );
    assert!(
        validate(&cox(
            r#"{"var": "observation", "system": "snomed", "code": "1@2"}"#
        ))
        .is_err()
    );
    assert!(
        validate(&cox(
            r#"{"var": "treatment", "system": "atc", "prefix": "L01", "window_days": 90}"#
        ))
        .is_ok()
    );
}
