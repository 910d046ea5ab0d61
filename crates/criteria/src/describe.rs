//! [`Criteria::describe`]: the tree as one line of English for the CLI, the hub's
//! answers and the audit log.

use super::{Criteria, DiagnosisCriterion, ImagingCriterion, TnmAxis};
use chrono::NaiveDate;
use oncofed_model::VitalStatus;
use std::fmt::Write;

/// Display names of LOINC codes in `docs/fhir-profile.md` (display only).
const LOINC_NAMES: &[(&str, &str)] = &[
    ("718-7", "haemoglobin"),
    ("6690-2", "leukocytes"),
    ("777-3", "platelets"),
    ("2532-0", "LDH"),
    ("2160-0", "creatinine"),
    ("1952-1", "beta-2-microglobulin"),
    ("11150-0", "bone marrow blasts"),
];

/// Approved symbols of common haemato-oncology genes (display only: the query
/// matches the HGNC id, never the symbol).
const GENE_SYMBOLS: &[(&str, &str)] = &[
    ("HGNC:7910", "NPM1"),
    ("HGNC:3765", "FLT3"),
    ("HGNC:11998", "TP53"),
    ("HGNC:3236", "EGFR"),
    ("HGNC:6407", "KRAS"),
    ("HGNC:1097", "BRAF"),
    ("HGNC:3430", "ERBB2"),
    ("HGNC:5382", "IDH1"),
    ("HGNC:5383", "IDH2"),
    ("HGNC:6192", "JAK2"),
    ("HGNC:7989", "NRAS"),
    ("HGNC:6342", "KIT"),
];

fn lookup(table: &[(&str, &'static str)], key: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

impl Criteria {
    /// A readable one-line form, e.g. `diagnosis C92.0* AND age 18–65 AND NOT FLT3
    /// (HGNC:3765) present`.
    ///
    /// Prefix matches end in `*`, ranges are inclusive (`18–65`), nested groups are
    /// parenthesised. For people, not machines: hash [`Criteria::canonical_json`].
    pub fn describe(&self) -> String {
        let mut out = String::new();
        write_node(self, &mut out);
        out
    }
}

fn grouped(c: &Criteria, out: &mut String) {
    let group = matches!(c, Criteria::And(v) | Criteria::Or(v) if v.len() > 1);
    if group {
        out.push('(');
    }
    write_node(c, out);
    if group {
        out.push(')');
    }
}

fn range<T: std::fmt::Display>(min: Option<T>, max: Option<T>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("{a}–{b}"),
        (Some(a), None) => format!("≥ {a}"),
        (None, Some(b)) => format!("≤ {b}"),
        (None, None) => "any".to_owned(),
    }
}

fn dates(out: &mut String, from: Option<NaiveDate>, to: Option<NaiveDate>) {
    let _ = match (from, to) {
        (Some(a), Some(b)) => write!(out, " ({a} to {b})"),
        (Some(a), None) => write!(out, " (from {a})"),
        (None, Some(b)) => write!(out, " (until {b})"),
        (None, None) => Ok(()),
    };
}

fn prefixes(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("{i}*"))
        .collect::<Vec<_>>()
        .join("/")
}

fn diagnosis(d: &DiagnosisCriterion, out: &mut String) {
    match &d.icd10 {
        Some(code) => {
            let _ = write!(out, "diagnosis {code}*");
        }
        None if d.morphology.is_none() => out.push_str("any diagnosis"),
        None => out.push_str("diagnosis"),
    }
    if let Some(m) = &d.morphology {
        let _ = write!(out, " with morphology {m}*");
    }
    dates(out, d.from, d.to);
}

/// `imaging CT/MR of CHEST (from 2020-01-01) 0–90 days after a C34* diagnosis`.
fn imaging(i: &ImagingCriterion, out: &mut String) {
    let _ = write!(out, "imaging {}", i.modality.join("/"));
    if let Some(part) = i.body_part_upper() {
        let _ = write!(out, " of {part}");
    }
    dates(out, i.from, i.to);
    if let Some(w) = &i.after_diagnosis {
        let _ = write!(out, " {}–{} days after ", w.min_days, w.max_days);
        let _ = match &w.icd10 {
            Some(code) => write!(out, "a {code}* diagnosis"),
            None => write!(out, "any diagnosis"),
        };
    }
}

fn write_node(c: &Criteria, out: &mut String) {
    match c {
        Criteria::And(v) | Criteria::Or(v) => {
            let (sep, empty) = if matches!(c, Criteria::And(_)) {
                (" AND ", "all patients")
            } else {
                (" OR ", "no patients")
            };
            if v.is_empty() {
                out.push_str(empty);
            }
            for (i, child) in v.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                grouped(child, out);
            }
        }
        Criteria::Not(child) => {
            out.push_str("NOT ");
            grouped(child, out);
        }
        Criteria::Diagnosis(d) => diagnosis(d, out),
        Criteria::AgeAtDiagnosis(a) => {
            let _ = write!(out, "age {}", range(a.min, a.max));
            if let Some(code) = &a.icd10 {
                let _ = write!(out, " at first {code}* diagnosis");
            }
        }
        Criteria::Sex(s) => {
            let _ = write!(out, "sex {}", s.as_fhir());
        }
        Criteria::Stage(s) => {
            let _ = write!(out, "stage {}", s.group.join("/"));
            dates(out, s.from, s.to);
        }
        Criteria::Tnm(t) => {
            let axes: Vec<String> = TnmAxis::ALL
                .into_iter()
                .filter(|&a| !t.axis(a).is_empty())
                .map(|a| prefixes(t.axis(a)))
                .collect();
            let _ = write!(
                out,
                "TNM {}",
                if axes.is_empty() {
                    "any".to_owned()
                } else {
                    axes.join(" and ")
                }
            );
            dates(out, t.from, t.to);
        }
        Criteria::Ecog(e) => {
            let _ = write!(out, "ECOG {}", range(e.min, e.max));
            dates(out, e.from, e.to);
        }
        Criteria::Lab(l) => {
            let _ = match lookup(LOINC_NAMES, &l.loinc) {
                Some(name) => write!(out, "{name} ({})", l.loinc),
                None => write!(out, "lab {}", l.loinc),
            };
            let _ = write!(out, " {} {} {}", l.op.symbol(), l.value, l.unit);
            dates(out, l.from, l.to);
        }
        Criteria::Marker(m) => {
            let state = if m.present { "present" } else { "absent" };
            let _ = match lookup(GENE_SYMBOLS, &m.gene) {
                Some(symbol) => write!(out, "{symbol} ({}) {state}", m.gene),
                None => write!(out, "gene {} {state}", m.gene),
            };
            dates(out, m.from, m.to);
        }
        Criteria::Therapy(t) => {
            let _ = write!(out, "therapy ATC {}*", t.atc);
            dates(out, t.from, t.to);
        }
        Criteria::Procedure(p) => {
            let _ = write!(out, "procedure OPS {}*", p.ops);
            dates(out, p.from, p.to);
        }
        Criteria::Imaging(i) => imaging(i, out),
        Criteria::Variant(v) => {
            out.push_str("variant");
            if let Some(o) = v.origin {
                let _ = write!(out, " {o}");
            }
            for part in [&v.gene, &v.protein, &v.consequence].into_iter().flatten() {
                let _ = write!(out, " {part}");
            }
            if v.vaf_min.is_some() || v.vaf_max.is_some() {
                let _ = write!(out, " VAF {}", range(v.vaf_min, v.vaf_max));
            }
            dates(out, v.from, v.to);
        }
        Criteria::Cytology(c) => {
            out.push_str("cytology");
            if let Some(s) = c.specimen {
                let _ = write!(out, " {s}");
            }
            out.push_str(" smear");
            if c.blast_percent_min.is_some() || c.blast_percent_max.is_some() {
                let _ = write!(
                    out,
                    " with blasts {} %",
                    range(c.blast_percent_min, c.blast_percent_max)
                );
            }
            if let Some(class) = c.class {
                let _ = write!(out, " containing {class}");
            }
            dates(out, c.from, c.to);
        }
        Criteria::VitalStatus(v) => out.push_str(match v {
            VitalStatus::Alive => "alive",
            VitalStatus::Deceased => "deceased",
            VitalStatus::Unknown => "vital status unknown",
        }),
    }
}
