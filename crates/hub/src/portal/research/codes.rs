//! The code list the feasibility builder searches and suggests.
//!
//! Built from what the project ships, never typed in twice:
//!
//! - `crates/hub/data/vocabulary.tsv`: the ICD-10-GM diagnoses (German
//!   displays), ICD-O-3 morphologies, ATC drugs, OPS procedures, LOINC
//!   laboratory values with their UCUM units and the HGNC marker genes the
//!   federation's data are coded in, written by `oncofed_synth::vocabulary::to_tsv`
//!   (the hub does not link the generator, which uses the identity crates;
//!   `tests/vocabulary_file.rs` keeps the file equal to the generator's tables);
//! - `oncofed_vcf::genes`: the 57 oncology genes (HGNC symbol and id) the
//!   sequencing ingest annotates calls with;
//! - `oncofed_model::CellClass`: the cytomorphology cell classes;
//! - `VariantCriterion::CLASSES`: the variant consequence classes.
//!
//! Codes outside the list can still be typed: the list suggests, the
//! criteria checker decides.

use oncofed_model::{CellClass, CodeSystem};
use oncofed_protocol::criteria::VariantCriterion;
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// One searchable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// Its system's name (`ICD-10-GM`, `LOINC`, `Sequence Ontology`, …).
    pub system: &'static str,
    /// The code as a criterion takes it (`C34.1`, `HGNC:3236`, `EGFR`).
    pub code: String,
    /// What it means.
    pub display: String,
    /// Which builder list (`<datalist>` id) and so which fields it fits.
    pub list: &'static str,
}

/// The system's name as the page shows it.
fn system_label(system: CodeSystem) -> &'static str {
    match system {
        CodeSystem::Icd10Gm => "ICD-10-GM",
        CodeSystem::IcdO3 => "ICD-O-3",
        CodeSystem::Atc => "ATC",
        CodeSystem::Ops => "OPS",
        CodeSystem::Loinc => "LOINC",
        CodeSystem::Hgnc => "HGNC",
        CodeSystem::Cytomorphology => "OncoFed cytomorphology",
        _ => "other",
    }
}

/// The shipped vocabulary (see the module docs).
const VOCABULARY: &str = include_str!("../../../data/vocabulary.tsv");

/// One line of the shipped vocabulary.
struct Term {
    system: CodeSystem,
    code: &'static str,
    display: &'static str,
    extra: Option<&'static str>,
}

/// The shipped vocabulary's terms; a line of an unknown system is skipped
/// (the file is checked against the generator by a test).
fn terms() -> impl Iterator<Item = Term> {
    VOCABULARY.lines().skip(1).filter_map(|line| {
        let mut f = line.split('\t');
        let system = match f.next()? {
            "Icd10Gm" => CodeSystem::Icd10Gm,
            "IcdO3" => CodeSystem::IcdO3,
            "Atc" => CodeSystem::Atc,
            "Ops" => CodeSystem::Ops,
            "Loinc" => CodeSystem::Loinc,
            "Hgnc" => CodeSystem::Hgnc,
            _ => return None,
        };
        let code = f.next()?;
        let display = f.next()?;
        let extra = f.next().filter(|e| !e.is_empty());
        Some(Term {
            system,
            code,
            display,
            extra,
        })
    })
}

/// Every code, in list then code order.
pub fn all() -> &'static [Code] {
    static CODES: OnceLock<Vec<Code>> = OnceLock::new();
    CODES.get_or_init(|| {
        let mut out = Vec::new();
        let mut units = BTreeSet::new();
        let mut symbols = BTreeSet::new();
        for t in terms() {
            let list = match t.system {
                CodeSystem::Icd10Gm => "codes-icd10",
                CodeSystem::IcdO3 => "codes-morphology",
                CodeSystem::Atc => "codes-atc",
                CodeSystem::Ops => "codes-ops",
                CodeSystem::Loinc => {
                    units.extend(t.extra);
                    "codes-loinc"
                }
                CodeSystem::Hgnc => {
                    if let Some(symbol) = t.extra {
                        symbols.insert(symbol.to_owned());
                        out.push(Code {
                            system: "HGNC",
                            code: symbol.to_owned(),
                            display: format!("{} ({})", t.code, t.display),
                            list: "codes-gene",
                        });
                    }
                    "codes-hgnc"
                }
                _ => continue,
            };
            let display = match (t.system, t.extra) {
                (CodeSystem::Loinc, Some(unit)) => format!("{} [{unit}]", t.display),
                (CodeSystem::Hgnc, Some(symbol)) => format!("{symbol}: {}", t.display),
                _ => t.display.to_owned(),
            };
            out.push(Code {
                system: system_label(t.system),
                code: t.code.to_owned(),
                display,
                list,
            });
        }
        for gene in oncofed_vcf::genes::all(oncofed_vcf::GenomeBuild::Grch38) {
            if symbols.insert(gene.symbol.to_owned()) {
                out.push(Code {
                    system: "HGNC",
                    code: gene.symbol.to_owned(),
                    display: gene.hgnc_id.to_owned(),
                    list: "codes-gene",
                });
                out.push(Code {
                    system: "HGNC",
                    code: gene.hgnc_id.to_owned(),
                    display: gene.symbol.to_owned(),
                    list: "codes-hgnc",
                });
            }
        }
        for unit in units {
            out.push(Code {
                system: "UCUM",
                code: unit.to_owned(),
                display: "unit of the LOINC values above".into(),
                list: "codes-unit",
            });
        }
        for class in CellClass::ALL {
            out.push(Code {
                system: system_label(CodeSystem::Cytomorphology),
                code: class.code().to_owned(),
                display: class.code().replace('-', " "),
                list: "codes-cell",
            });
        }
        for (class, terms) in VariantCriterion::CLASSES {
            out.push(Code {
                system: "Sequence Ontology",
                code: class.to_owned(),
                display: terms.join(", "),
                list: "codes-consequence",
            });
        }
        out.sort_by(|a, b| (a.list, &a.code).cmp(&(b.list, &b.code)));
        out
    })
}

/// The codes of one builder list.
pub fn list(id: &str) -> impl Iterator<Item = &'static Code> {
    all().iter().filter(move |c| c.list == id)
}

/// Codes whose code, display or system contain every word of `query`
/// (case-insensitive), codes starting with the query first; at most `limit`.
/// `list` narrows to one builder list.
pub fn search(query: &str, list: Option<&str>, limit: usize) -> Vec<&'static Code> {
    let words: Vec<String> = query.split_whitespace().map(|w| w.to_lowercase()).collect();
    if words.is_empty() {
        return Vec::new();
    }
    let first = &words[0];
    let mut hits: Vec<(bool, &'static Code)> = all()
        .iter()
        .filter(|c| list.is_none_or(|l| c.list == l))
        .filter(|c| {
            let hay = format!(
                "{} {} {}",
                c.code.to_lowercase(),
                c.display.to_lowercase(),
                c.system.to_lowercase()
            );
            words.iter().all(|w| hay.contains(w.as_str()))
        })
        .map(|c| (!c.code.to_lowercase().starts_with(first.as_str()), c))
        .collect();
    hits.sort_by(|a, b| (a.0, a.1.list, &a.1.code).cmp(&(b.0, b.1.list, &b.1.code)));
    hits.into_iter().take(limit).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_codes_by_code_and_by_display() {
        let lung = search("lunge", None, 50);
        assert!(lung.iter().any(|c| c.code == "C34.9"), "{lung:?}");
        let egfr = search("EGFR", None, 50);
        assert!(egfr.iter().any(|c| c.code == "HGNC:3236"));
        assert!(
            egfr.iter()
                .any(|c| c.code == "EGFR" && c.list == "codes-gene")
        );
        let hb = search("718", Some("codes-loinc"), 5);
        assert_eq!(hb[0].code, "718-7");
        assert!(
            search("osimertinib", None, 5)
                .iter()
                .any(|c| c.code == "L01EB04")
        );
        assert!(search("  ", None, 5).is_empty());
    }

    #[test]
    fn every_builder_list_has_codes() {
        for list_id in [
            "codes-icd10",
            "codes-morphology",
            "codes-atc",
            "codes-ops",
            "codes-loinc",
            "codes-unit",
            "codes-hgnc",
            "codes-gene",
            "codes-cell",
            "codes-consequence",
        ] {
            assert!(list(list_id).next().is_some(), "{list_id}");
        }
    }
}
