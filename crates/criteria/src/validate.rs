//! [`Criteria::validate`]: limits, code formats and ranges, with errors that name the
//! place in the tree (`and[3].lab.value`) and say what to write instead.
//!
//! Messages never repeat the offending value: the path pinpoints it, and errors may
//! be logged at the hub.

use super::{Criteria, EcogCriterion, ImagingCriterion, TnmAxis};
use chrono::NaiveDate;
use std::fmt;

/// Everything wrong with a criteria tree (at least one entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidCriteria {
    /// The problems, in tree order.
    pub errors: Vec<CriteriaError>,
}

impl fmt::Display for InvalidCriteria {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid criteria: ")?;
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidCriteria {}

/// One problem at one place in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriteriaError {
    /// Where: `and[3].lab.value`; empty for the whole tree.
    pub path: String,
    /// What is wrong and how to fix it.
    pub kind: CriteriaErrorKind,
}

impl fmt::Display for CriteriaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "criteria"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.kind)
    }
}

/// What is wrong, phrased as what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CriteriaErrorKind {
    /// Nested deeper than [`Criteria::MAX_DEPTH`].
    #[error("nested deeper than {max} levels: flatten nested 'and'/'or' groups")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// More leaves than [`Criteria::MAX_LEAVES`].
    #[error("{found} conditions, more than the {max} allowed: split the query")]
    TooManyLeaves {
        /// Leaves in the tree.
        found: usize,
        /// The limit.
        max: usize,
    },
    /// An empty `and`/`or` or value list, whose meaning would be surprising.
    #[error("empty list: give at least one entry, or remove it")]
    Empty,
    /// A list longer than allowed.
    #[error("more than {max} entries: shorten the list")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// A required part is missing.
    #[error("nothing to match: give {what}")]
    Missing {
        /// What to give.
        what: &'static str,
    },
    /// A code that does not have the form of its terminology.
    #[error("not {expected}: write e.g. {example}")]
    CodeFormat {
        /// The form expected.
        expected: &'static str,
        /// A valid example.
        example: &'static str,
    },
    /// A LOINC code whose check digit is wrong.
    #[error("LOINC check digit does not match: mistyped? (e.g. 718-7)")]
    CheckDigit,
    /// A number outside its allowed range.
    #[error("out of range: use {min} to {max}")]
    OutOfRange {
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
    },
    /// A lower bound above its upper bound.
    #[error("min is greater than max: swap them")]
    MinAboveMax,
    /// A date range that ends before it starts.
    #[error("'from' is after 'to': swap the dates")]
    DateOrder,
    /// Not a finite number.
    #[error("not a finite number: give a plain decimal number")]
    NotFinite,
}

/// Oldest age accepted in an age criterion.
const MAX_AGE: u32 = 150;
/// Longest list of stage groups or TNM prefixes.
const MAX_LIST: usize = 32;

impl Criteria {
    /// Checks limits ([`Criteria::MAX_DEPTH`], [`Criteria::MAX_LEAVES`]), code formats,
    /// ranges (min ≤ max, from ≤ to) and lists, reporting every problem with its path.
    ///
    /// The hub rejects an invalid tree before it is signed and sites check again
    /// before compiling. Compilation is safe without it (every value is bound), but
    /// a malformed code would silently match nothing.
    pub fn validate(&self) -> Result<(), InvalidCriteria> {
        let mut errors = Vec::new();
        let leaves = self.leaf_count();
        if leaves > Self::MAX_LEAVES {
            errors.push(err(
                "",
                CriteriaErrorKind::TooManyLeaves {
                    found: leaves,
                    max: Self::MAX_LEAVES,
                },
            ));
        }
        check(self, "", 1, &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(InvalidCriteria { errors })
        }
    }
}

fn err(path: &str, kind: CriteriaErrorKind) -> CriteriaError {
    CriteriaError {
        path: path.to_owned(),
        kind,
    }
}

fn join(path: &str, part: &str) -> String {
    if path.is_empty() {
        part.to_owned()
    } else {
        format!("{path}.{part}")
    }
}

/// Collects errors at one place of the tree.
struct Scope<'a> {
    path: String,
    errors: &'a mut Vec<CriteriaError>,
}

impl<'a> Scope<'a> {
    fn new(path: &str, leaf: &str, errors: &'a mut Vec<CriteriaError>) -> Self {
        Self {
            path: join(path, leaf),
            errors,
        }
    }

    fn push(&mut self, field: &str, kind: CriteriaErrorKind) {
        self.errors.push(err(&join(&self.path, field), kind));
    }

    fn code(&mut self, field: &str, code: &str, form: Form) {
        if let Err(kind) = form.check(code) {
            self.push(field, kind);
        }
    }

    fn list(&mut self, field: &str, items: &[String], form: Form) {
        if items.is_empty() {
            self.push(field, CriteriaErrorKind::Empty);
        } else if items.len() > MAX_LIST {
            self.push(field, CriteriaErrorKind::TooLong { max: MAX_LIST });
        }
        for (i, item) in items.iter().enumerate() {
            self.code(&format!("{field}[{i}]"), item, form);
        }
    }

    fn dates(&mut self, from: Option<NaiveDate>, to: Option<NaiveDate>) {
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            self.push("from", CriteriaErrorKind::DateOrder);
        }
    }

    fn bounds(&mut self, min: Option<u32>, max: Option<u32>, limit: u32) {
        for (field, v) in [("min", min), ("max", max)] {
            if v.is_some_and(|v| v > limit) {
                self.push(field, CriteriaErrorKind::OutOfRange { min: 0, max: limit });
            }
        }
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            self.push("min", CriteriaErrorKind::MinAboveMax);
        }
    }
}

fn check(c: &Criteria, path: &str, depth: usize, errors: &mut Vec<CriteriaError>) {
    if depth > Criteria::MAX_DEPTH {
        errors.push(err(
            path,
            CriteriaErrorKind::TooDeep {
                max: Criteria::MAX_DEPTH,
            },
        ));
        return;
    }
    match c {
        Criteria::And(children) | Criteria::Or(children) => {
            let name = if matches!(c, Criteria::And(_)) {
                "and"
            } else {
                "or"
            };
            if children.is_empty() {
                errors.push(err(&join(path, name), CriteriaErrorKind::Empty));
            }
            for (i, child) in children.iter().enumerate() {
                check(
                    child,
                    &join(path, &format!("{name}[{i}]")),
                    depth + 1,
                    errors,
                );
            }
        }
        Criteria::Not(child) => check(child, &join(path, "not"), depth + 1, errors),
        Criteria::Diagnosis(d) => {
            let mut s = Scope::new(path, "diagnosis", errors);
            if let Some(code) = &d.icd10 {
                s.code("icd10", code, Form::Icd10);
            }
            if let Some(code) = &d.morphology {
                s.code("morphology", code, Form::Morphology);
            }
            s.dates(d.from, d.to);
        }
        Criteria::AgeAtDiagnosis(a) => {
            let mut s = Scope::new(path, "age_at_diagnosis", errors);
            if a.min.is_none() && a.max.is_none() {
                s.push(
                    "min",
                    CriteriaErrorKind::Missing {
                        what: "min, max or both (years)",
                    },
                );
            }
            s.bounds(a.min, a.max, MAX_AGE);
            if let Some(code) = &a.icd10 {
                s.code("icd10", code, Form::Icd10);
            }
        }
        Criteria::Sex(_) | Criteria::VitalStatus(_) => {}
        Criteria::Stage(st) => {
            let mut s = Scope::new(path, "stage", errors);
            s.list("group", &st.group, Form::StageGroup);
            s.dates(st.from, st.to);
        }
        Criteria::Tnm(t) => {
            let mut s = Scope::new(path, "tnm", errors);
            if TnmAxis::ALL.iter().all(|&a| t.axis(a).is_empty()) {
                s.push(
                    "t",
                    CriteriaErrorKind::Missing {
                        what: "at least one of t, n, m",
                    },
                );
            }
            for axis in TnmAxis::ALL {
                let items = t.axis(axis);
                let field = axis.letter().to_ascii_lowercase().to_string();
                if !items.is_empty() {
                    s.list(&field, items, Form::Tnm(axis));
                }
            }
            s.dates(t.from, t.to);
        }
        Criteria::Ecog(e) => {
            let mut s = Scope::new(path, "ecog", errors);
            s.bounds(
                e.min.map(u32::from),
                e.max.map(u32::from),
                u32::from(EcogCriterion::MAX_GRADE),
            );
            s.dates(e.from, e.to);
        }
        Criteria::Lab(l) => {
            let mut s = Scope::new(path, "lab", errors);
            s.code("loinc", &l.loinc, Form::Loinc);
            s.code("unit", &l.unit, Form::Ucum);
            if !l.value.is_finite() {
                s.push("value", CriteriaErrorKind::NotFinite);
            }
            s.dates(l.from, l.to);
        }
        Criteria::Marker(m) => {
            let mut s = Scope::new(path, "marker", errors);
            s.code("gene", &m.gene, Form::Hgnc);
            s.dates(m.from, m.to);
        }
        Criteria::Therapy(t) => {
            let mut s = Scope::new(path, "therapy", errors);
            s.code("atc", &t.atc, Form::Atc);
            s.dates(t.from, t.to);
        }
        Criteria::Procedure(p) => {
            let mut s = Scope::new(path, "procedure", errors);
            s.code("ops", &p.ops, Form::Ops);
            s.dates(p.from, p.to);
        }
        Criteria::Imaging(i) => imaging(i, &mut Scope::new(path, "imaging", errors)),
        Criteria::Variant(v) => variant(v, &mut Scope::new(path, "variant", errors)),
        Criteria::Cytology(c) => {
            let mut s = Scope::new(path, "cytology", errors);
            let (lo, hi) = (c.blast_percent_min, c.blast_percent_max);
            for (field, v) in [("blast_percent_min", lo), ("blast_percent_max", hi)] {
                if v.is_some_and(|v| v > 100) {
                    s.push(field, CriteriaErrorKind::OutOfRange { min: 0, max: 100 });
                }
            }
            if let (Some(lo), Some(hi)) = (lo, hi)
                && lo > hi
            {
                s.push("blast_percent_min", CriteriaErrorKind::MinAboveMax);
            }
            s.dates(c.from, c.to);
        }
    }
}

fn variant(v: &crate::VariantCriterion, s: &mut Scope<'_>) {
    if let Some(g) = &v.gene {
        if v.gene_is_hgnc_id() {
            s.code("gene", g, Form::Hgnc);
        } else {
            s.code("gene", g, Form::GeneSymbol);
        }
    }
    if v.protein.is_some() {
        if v.gene.is_none() {
            s.push(
                "gene",
                CriteriaErrorKind::Missing {
                    what: "the gene of the protein change",
                },
            );
        }
        if v.protein_normalised().is_none() {
            s.push(
                "protein",
                CriteriaErrorKind::CodeFormat {
                    expected: "an HGVS protein change",
                    example: "p.L858R or p.Leu858Arg",
                },
            );
        }
    }
    if let Some(c) = &v.consequence {
        let term = (1..=64).contains(&c.len())
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !term {
            s.push(
                "consequence",
                CriteriaErrorKind::CodeFormat {
                    expected: "a Sequence Ontology term or a class (truncating, missense, inframe, splice, synonymous)",
                    example: "missense_variant or truncating",
                },
            );
        }
    }
    for (field, x) in [("vaf_min", v.vaf_min), ("vaf_max", v.vaf_max)] {
        match x {
            Some(x) if !x.is_finite() => s.push(field, CriteriaErrorKind::NotFinite),
            Some(x) if !(0.0..=1.0).contains(&x) => {
                s.push(field, CriteriaErrorKind::OutOfRange { min: 0, max: 1 })
            }
            _ => {}
        }
    }
    if let (Some(lo), Some(hi)) = (v.vaf_min, v.vaf_max)
        && lo > hi
    {
        s.push("vaf_min", CriteriaErrorKind::MinAboveMax);
    }
    s.dates(v.from, v.to);
}

fn imaging(i: &ImagingCriterion, s: &mut Scope<'_>) {
    s.list("modality", &i.modality, Form::Modality);
    if let Some(part) = &i.body_part {
        s.code("body_part", part, Form::BodyPart);
    }
    s.dates(i.from, i.to);
    if let Some(w) = &i.after_diagnosis {
        if let Some(code) = &w.icd10 {
            s.code("after_diagnosis.icd10", code, Form::Icd10);
        }
        let limit = ImagingCriterion::MAX_DAYS;
        let range = CriteriaErrorKind::OutOfRange {
            min: 0,
            max: limit.unsigned_abs(),
        };
        for (field, v) in [("min_days", w.min_days), ("max_days", w.max_days)] {
            if !(0..=limit).contains(&v) {
                s.push(&format!("after_diagnosis.{field}"), range.clone());
            }
        }
        if w.min_days > w.max_days {
            s.push("after_diagnosis.min_days", CriteriaErrorKind::MinAboveMax);
        }
    }
}

/// The code forms criteria accept (prefix forms where the leaf matches a prefix).
#[derive(Debug, Clone, Copy)]
enum Form {
    /// ICD-10(-GM) prefix: `^[A-Z]([0-9]([0-9](\.[0-9]{0,2})?)?)?$`.
    Icd10,
    /// ICD-O-3 morphology prefix: `^[0-9]{1,4}(/[0-9]?)?$` (the `/` only after 4 digits).
    Morphology,
    /// Full LOINC code `^[0-9]{1,7}-[0-9]$` with a valid mod-10 check digit.
    Loinc,
    /// UCUM unit: 1–32 printable ASCII characters without spaces.
    Ucum,
    /// `HGNC:` and 1–6 digits.
    Hgnc,
    /// HGNC gene symbol: a capital letter, then up to 19 capitals, digits or `-`.
    GeneSymbol,
    /// ATC prefix at any level: letter, 2 digits, letter, letter, 2 digits.
    Atc,
    /// OPS prefix: digit, `-`, 2 digits, digit or letter, `.`, up to 2 digits or letters.
    Ops,
    /// UICC stage group: `0`, `0a`, `0is`, or `I`–`IV` with optional `A`–`C` and `1`–`3`.
    StageGroup,
    /// TNM category prefix: 1–8 letters/digits whose first capital is the axis letter.
    Tnm(TnmAxis),
    /// DICOM modality (PS3.3 C.7.3.1.1.1): 1–16 capital letters or digits.
    Modality,
    /// DICOM body part examined (PS3.16 Annex L), any case: 1–16 characters of
    /// the CS repertoire (PS3.5 §6.2: capitals, digits, `_`, space) once upper-cased,
    /// without leading or trailing spaces.
    BodyPart,
}

impl Form {
    fn check(self, code: &str) -> Result<(), CriteriaErrorKind> {
        let b = code.as_bytes();
        let (ok, expected, example) = match self {
            Self::Icd10 => (
                icd10(b),
                "an ICD-10-GM code or prefix (capital letter, digits)",
                "C92.0 or C9",
            ),
            Self::Morphology => (
                morphology(b),
                "an ICD-O-3 morphology code or prefix",
                "9861/3 or 986",
            ),
            Self::Loinc => (
                loinc_form(b),
                "a LOINC code (digits, hyphen, check digit)",
                "718-7",
            ),
            Self::Ucum => (
                (1..=32).contains(&b.len()) && b.iter().all(|c| (0x21..=0x7e).contains(c)),
                "a UCUM unit code",
                "g/dL or 10*3/uL",
            ),
            Self::Hgnc => (
                code.strip_prefix("HGNC:")
                    .is_some_and(|n| (1..=6).contains(&n.len()) && digits(n.as_bytes())),
                "an HGNC gene id",
                "HGNC:3765",
            ),
            Self::GeneSymbol => (
                (1..=20).contains(&b.len())
                    && b[0].is_ascii_uppercase()
                    && b.iter()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'-'),
                "an HGNC gene symbol or id",
                "EGFR or HGNC:3236",
            ),
            Self::Atc => (
                pattern(b, b"ADDAADD") && matches!(b.len(), 1 | 3 | 4 | 5 | 7),
                "an ATC code or level prefix",
                "L01 or L01XC",
            ),
            Self::Ops => (ops(b), "an OPS code or prefix", "8-805 or 5-87"),
            Self::StageGroup => (stage_group(code), "a UICC stage group", "IIIA"),
            Self::Tnm(axis) => (
                tnm(b, axis),
                "a TNM category prefix of this axis",
                tnm_example(axis),
            ),
            Self::Modality => (
                (1..=16).contains(&b.len())
                    && b.iter()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
                "a DICOM modality code (capital letters)",
                "CT or MR",
            ),
            Self::BodyPart => (
                (1..=16).contains(&b.len())
                    && b.first() != Some(&b' ')
                    && b.last() != Some(&b' ')
                    && b.iter()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b' ')),
                "a DICOM body part (up to 16 letters, digits, '_' or spaces)",
                "CHEST or HEADNECK",
            ),
        };
        if !ok {
            return Err(CriteriaErrorKind::CodeFormat { expected, example });
        }
        if matches!(self, Self::Loinc) && !loinc_check_digit(b) {
            return Err(CriteriaErrorKind::CheckDigit);
        }
        Ok(())
    }
}

fn digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

/// Whether `b` is a non-empty prefix of `template`, where `A` is a capital letter,
/// `D` a digit, `a` a digit or lowercase letter, and anything else itself.
fn pattern(b: &[u8], template: &[u8]) -> bool {
    !b.is_empty()
        && b.len() <= template.len()
        && b.iter().zip(template).all(|(c, t)| match t {
            b'A' => c.is_ascii_uppercase(),
            b'D' => c.is_ascii_digit(),
            b'a' => c.is_ascii_digit() || c.is_ascii_lowercase(),
            t => c == t,
        })
}

fn icd10(b: &[u8]) -> bool {
    pattern(b, b"ADD.DD")
}

fn morphology(b: &[u8]) -> bool {
    pattern(b, b"DDDD/D")
}

fn ops(b: &[u8]) -> bool {
    pattern(b, b"D-DDa.aa") && b[0] != b'0'
}

fn loinc_form(b: &[u8]) -> bool {
    match b {
        [body @ .., b'-', check] => {
            (1..=7).contains(&body.len()) && digits(body) && check.is_ascii_digit()
        }
        _ => false,
    }
}

/// LOINC's mod-10 check digit (the Luhn algorithm over the digits before the hyphen).
fn loinc_check_digit(b: &[u8]) -> bool {
    let (body, check) = (&b[..b.len() - 2], b[b.len() - 1] - b'0');
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = u32::from(c - b'0');
            if i % 2 == 0 {
                (2 * d) / 10 + (2 * d) % 10
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10 == u32::from(check)
}

fn stage_group(code: &str) -> bool {
    if let Some(rest) = code.strip_prefix('0') {
        return matches!(rest, "" | "a" | "is");
    }
    let Some(rest) = ["IV", "III", "II", "I"]
        .iter()
        .find_map(|r| code.strip_prefix(r))
    else {
        return false;
    };
    matches!(
        rest.as_bytes(),
        [] | [b'A'..=b'C'] | [b'A'..=b'C', b'1'..=b'3']
    )
}

fn tnm(b: &[u8], axis: TnmAxis) -> bool {
    (1..=8).contains(&b.len())
        && b.iter().all(u8::is_ascii_alphanumeric)
        && b.iter().find(|c| c.is_ascii_uppercase()) == Some(&(axis.letter() as u8))
}

fn tnm_example(axis: TnmAxis) -> &'static str {
    match axis {
        TnmAxis::T => "T3 or T1a",
        TnmAxis::N => "N1 or N0",
        TnmAxis::M => "M1 or M0",
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
