//! The codes the generator writes, with their displays: a small, real code
//! list of the harmonised model (ICD-10-GM diagnoses, ICD-O-3 morphologies,
//! ATC drugs, OPS procedures, LOINC laboratory values with their UCUM units,
//! HGNC marker genes) for code search, e.g. the hub's feasibility builder.
//!
//! Read from the same tables the generator draws from (`entities.rs`,
//! `therapy.rs`, `findings.rs`), so the list is exactly what the synthetic
//! federation's data are coded in, never a second copy that could drift.

use crate::entities::{ENTITIES, Marker};
use crate::findings::LABS;
use crate::therapy::{DRUGS, PROCEDURES};
use oncofed_model::CodeSystem;
use std::collections::BTreeSet;

/// One code of the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Term {
    /// Its code system (ICD-10-GM, ICD-O-3, ATC, OPS, LOINC, HGNC).
    pub system: CodeSystem,
    /// The code (`C34.1`, `8140/3`, `L01EB04`, `5-324`, `718-7`, `HGNC:3236`).
    pub code: &'static str,
    /// Its display as the generator writes it (German for ICD, ICD-O, ATC
    /// and OPS, English for LOINC).
    pub display: &'static str,
    /// For a gene, its HGNC symbol; for a laboratory value, its UCUM unit.
    pub extra: Option<&'static str>,
}

/// Every code the generator writes, de-duplicated, in system then code order.
pub fn terms() -> Vec<Term> {
    let mut out = BTreeSet::new();
    let term = |system, code, display, extra| Term {
        system,
        code,
        display,
        extra,
    };
    for spec in &ENTITIES {
        for loc in spec.localisations {
            out.insert(term(CodeSystem::Icd10Gm, loc.icd10, loc.display, None));
        }
        for (code, display, _) in spec.morphologies {
            out.insert(term(CodeSystem::IcdO3, code, display, None));
        }
    }
    for (code, display) in DRUGS {
        out.insert(term(CodeSystem::Atc, code, display, None));
    }
    for (code, display) in PROCEDURES {
        out.insert(term(CodeSystem::Ops, code, display, None));
    }
    for (code, display, unit) in LABS {
        out.insert(term(CodeSystem::Loinc, code, display, Some(unit)));
    }
    for marker in Marker::ALL {
        out.insert(term(
            CodeSystem::Hgnc,
            marker.hgnc(),
            marker.alteration(),
            Some(marker.gene()),
        ));
    }
    out.into_iter().collect()
}

/// The vocabulary as tab-separated lines `system code display extra`
/// (system as its `CodeSystem` variant name, empty extra when none), with a
/// header: the file the hub ships (`crates/hub/data/vocabulary.tsv`), so the
/// hub searches these codes without linking the generator (and the identity
/// crates it uses). A test in the hub compares the file with this output.
pub fn to_tsv() -> String {
    let mut out = String::from("system\tcode\tdisplay\textra\n");
    for t in terms() {
        out.push_str(&format!(
            "{:?}\t{}\t{}\t{}\n",
            t.system,
            t.code,
            t.display,
            t.extra.unwrap_or("")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_system_is_present_and_codes_are_unique() {
        let terms = terms();
        for system in [
            CodeSystem::Icd10Gm,
            CodeSystem::IcdO3,
            CodeSystem::Atc,
            CodeSystem::Ops,
            CodeSystem::Loinc,
            CodeSystem::Hgnc,
        ] {
            assert!(terms.iter().any(|t| t.system == system), "{system:?}");
        }
        let keys: BTreeSet<_> = terms.iter().map(|t| (t.system, t.code)).collect();
        assert_eq!(keys.len(), terms.len(), "one display per code");
        assert!(
            terms
                .iter()
                .any(|t| t.code == "718-7" && t.extra == Some("g/dL"))
        );
    }
}
