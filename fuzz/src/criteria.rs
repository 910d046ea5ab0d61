//! The feasibility criteria language (`oncofed_protocol::Criteria`).
//!
//! Properties:
//! - JSON that parses as `Criteria` round-trips through its canonical form:
//!   `parse(canonical(c)) == c`, and the canonical JSON of that is byte-equal
//!   (the hub hashes it for audit, replay protection and the noise seed, so two
//!   parties that re-serialise must agree);
//! - `validate`, `describe`, `categories`, `depth` and `leaf_count` never panic;
//! - a tree that validates is within [`Criteria::MAX_DEPTH`] and
//!   [`Criteria::MAX_LEAVES`], and reads genetic data exactly when it has a
//!   `marker` leaf;
//! - every validation error's path is made of the grammar's keys and list
//!   indices, never of values (errors may be logged at the hub).

use crate::is_path;
use oncofed_model::DataCategory;
use oncofed_protocol::Criteria;

/// The names a criteria error path may contain: combinators, leaves and fields.
const PATH_NAMES: &[&str] = &[
    "and",
    "or",
    "not",
    "diagnosis",
    "age_at_diagnosis",
    "stage",
    "tnm",
    "ecog",
    "lab",
    "marker",
    "therapy",
    "procedure",
    "icd10",
    "morphology",
    "from",
    "to",
    "min",
    "max",
    "group",
    "t",
    "n",
    "m",
    "loinc",
    "unit",
    "value",
    "gene",
    "atc",
    "ops",
];

/// Parses `data` as criteria JSON and checks the properties of the module docs.
pub fn check(data: &[u8]) {
    let Ok(c) = serde_json::from_slice::<Criteria>(data) else {
        return;
    };
    check_tree(&c);
}

/// The properties of one parsed tree (also used by the analysis target's cohort).
pub fn check_tree(c: &Criteria) {
    let canonical = c.canonical_json();
    let again: Criteria = serde_json::from_str(&canonical)
        .unwrap_or_else(|e| panic!("canonical JSON does not parse: {e}: {canonical}"));
    assert_eq!(&again, c, "canonical JSON changes the tree: {canonical}");
    assert_eq!(
        again.canonical_json(),
        canonical,
        "canonical JSON is not a fixed point"
    );

    let description = c.describe();
    let categories = c.categories();
    let (depth, leaves) = (c.depth(), c.leaf_count());
    match c.validate() {
        Ok(()) => {
            assert!(!categories.is_empty() && leaves >= 1 && depth >= 1);
            assert!(
                depth <= Criteria::MAX_DEPTH,
                "valid tree of depth {depth}: {canonical}"
            );
            assert!(
                leaves <= Criteria::MAX_LEAVES,
                "valid tree with {leaves} leaves"
            );
            assert!(!description.is_empty());
            assert_eq!(
                categories.contains(&DataCategory::Genetic),
                canonical.contains("{\"marker\":"),
                "genetic category and marker leaves disagree: {canonical}"
            );
        }
        Err(invalid) => {
            assert!(!invalid.errors.is_empty());
            for e in &invalid.errors {
                assert!(
                    e.path.is_empty() || is_path(&e.path, PATH_NAMES),
                    "error path is not a place in the tree: {:?}",
                    e.path
                );
            }
            let _ = invalid.to_string();
        }
    }
}
