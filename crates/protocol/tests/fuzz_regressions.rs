//! Inputs found by the fuzz targets (`scripts/fuzz`, crate `fuzz/`), minimised,
//! kept as regression tests.

use oncofed_protocol::Criteria;
use oncofed_protocol::analysis::AnalysisRequest;

/// Fuzz target `analysis`: `7707777777777777` is an exact f64, printed as
/// `7707777777777777.0`, which serde_json's default float parser read back as
/// `7707777777777778.0` (1 ULP off). The crate now enables `float_roundtrip`
/// itself instead of relying on another crate (oncofed-audit) to turn it on.
#[test]
fn analysis_request_with_a_large_epsilon_round_trips_exactly() {
    let json = r#"{"project": "aml", "index": {"icd10": "C92.0"},
        "analysis": {"type": "describe", "variables": [{"var": "age"}], "edges": [0, 40, 60, 80, 120]},
        "epsilon": 7707777777777777}"#;
    let request: AnalysisRequest = serde_json::from_str(json).unwrap();
    let text = serde_json::to_string(&request).unwrap();
    let again: AnalysisRequest = serde_json::from_str(&text).unwrap();
    assert_eq!(again, request, "{text}");
}

/// The same through the criteria language: canonical JSON must be a fixed
/// point, since the hub hashes it and sites re-serialise what they parsed.
#[test]
fn criteria_canonical_json_is_a_fixed_point_for_large_lab_values() {
    for value in [
        "7707777777777777",
        "0.1",
        "1e-7",
        "123456789012345.6",
        "5e-324",
    ] {
        let json = format!(
            r#"{{"lab": {{"loinc": "718-7", "unit": "g/dL", "op": "<", "value": {value}}}}}"#
        );
        let c: Criteria = serde_json::from_str(&json).unwrap();
        let canonical = c.canonical_json();
        let again: Criteria = serde_json::from_str(&canonical).unwrap();
        assert_eq!(again, c, "{canonical}");
        assert_eq!(again.canonical_json(), canonical);
    }
}

/// The criteria target's first report (a wrong property in the target, which
/// assumed every tree has a leaf): an empty `and` has no leaf and reads no data
/// category, so it must be refused, not read as "everyone".
#[test]
fn empty_and_is_invalid() {
    let c: Criteria = serde_json::from_str(r#"{"and": []}"#).unwrap();
    assert_eq!(c.leaf_count(), 0);
    assert!(c.categories().is_empty());
    assert!(c.validate().is_err());
}
