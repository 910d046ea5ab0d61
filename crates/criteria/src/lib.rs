//! The feasibility query language: "how many patients fit?"
//!
//! A researcher writes a [`Criteria`] tree as JSON; the hub checks it
//! ([`Criteria::validate`]), shows it in words ([`Criteria::describe`]), decides
//! consent and security level from the data it touches ([`Criteria::categories`]),
//! hashes its [`Criteria::canonical_json`] for audit and replay, and forwards it
//! inside a signed task. Each site compiles it to one SQL statement over its own
//! research store (`oncofed-store`, `ResearchStore::feasibility`): no researcher
//! code ever runs at a site, and every value in the tree is a bound parameter.
//!
//! # JSON grammar
//!
//! A node is an object with exactly one key, naming the node type:
//!
//! ```text
//! criteria  = {"and": [criteria, ...]} | {"or": [criteria, ...]} | {"not": criteria} | leaf
//! leaf      = {"diagnosis": {"icd10"?: prefix, "morphology"?: prefix, "from"?: date, "to"?: date}}
//!           | {"age_at_diagnosis": {"min"?: years, "max"?: years, "icd10"?: prefix}}
//!           | {"sex": "female" | "male" | "other" | "unknown"}
//!           | {"stage": {"group": ["III", "IIIA", ...], "from"?, "to"?}}
//!           | {"tnm": {"t"?: [prefix, ...], "n"?: [...], "m"?: [...], "from"?, "to"?}}
//!           | {"ecog": {"min"?: 0-5, "max"?: 0-5, "from"?, "to"?}}
//!           | {"lab": {"loinc": code, "unit": ucum, "op": "<"|"<="|"="|">="|">"|"!=", "value": number, "from"?, "to"?}}
//!           | {"marker": {"gene": "HGNC:n", "present": bool, "from"?, "to"?}}
//!           | {"therapy": {"atc": prefix, "from"?, "to"?}}
//!           | {"procedure": {"ops": prefix, "from"?, "to"?}}
//!           | {"vital_status": "alive" | "deceased" | "unknown"}
//!           | {"imaging": {"modality": ["CT", ...], "body_part"?: "CHEST", "from"?, "to"?,
//!                          "after_diagnosis"?: {"icd10"?: prefix, "min_days"?: days, "max_days": days}}}
//!           | {"cytology": {"specimen"?: "bone-marrow" | "peripheral-blood", "blast_percent_min"?: 0-100,
//!                           "blast_percent_max"?: 0-100, "class"?: cell class code, "from"?, "to"?}}
//!           | {"variant": {"gene"?: symbol | "HGNC:n", "protein"?: "p.L858R", "consequence"?: SO term | class,
//!                          "vaf_min"?: 0-1, "vaf_max"?: 0-1, "origin"?: "somatic" | "germline", "from"?, "to"?}}
//! date      = "YYYY-MM-DD" (inclusive bounds)
//! days      = whole days, 0 to 36500 (inclusive; day 0 is the diagnosis date)
//! ```
//!
//! Unknown keys are rejected, so a misspelt field never silently widens a query.
//! The meaning of each leaf in terms of stored facts is documented on its type and
//! implemented by the store's compiler.

mod cytology;
mod describe;
mod imaging;
mod normal;
#[cfg(test)]
mod tests;
mod validate;
mod variant;

pub use cytology::CytologyCriterion;
pub use imaging::{DiagnosisWindow, ImagingCriterion};
pub use validate::{CriteriaError, CriteriaErrorKind, InvalidCriteria};
pub use variant::VariantCriterion;

use chrono::NaiveDate;
use oncofed_model::{DataCategory, Sex, VitalStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A feasibility cohort definition: an AND/OR/NOT tree over the harmonised model.
///
/// Serialised externally tagged (`{"and": [...]}`, `{"lab": {...}}`), the readable
/// form researchers write by hand; see the [module documentation](self) for the grammar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criteria {
    /// All children hold (an empty list is rejected by [`Criteria::validate`]).
    And(Vec<Criteria>),
    /// At least one child holds.
    Or(Vec<Criteria>),
    /// The child does not hold. Every leaf is two-valued (a patient without the data
    /// does not match it), so `NOT c` matches exactly the patients `c` does not.
    Not(Box<Criteria>),
    /// A diagnosis (ICD-10 code prefix, histology, date).
    Diagnosis(DiagnosisCriterion),
    /// Age at diagnosis in whole years.
    AgeAtDiagnosis(AgeCriterion),
    /// Administrative sex (FHIR `Patient.gender`).
    Sex(Sex),
    /// UICC stage group.
    Stage(StageCriterion),
    /// Clinical TNM categories.
    Tnm(TnmCriterion),
    /// ECOG performance status.
    Ecog(EcogCriterion),
    /// A laboratory value compared with a number.
    Lab(LabCriterion),
    /// A molecular marker tested present or absent.
    Marker(MarkerCriterion),
    /// A drug therapy (ATC).
    Therapy(TherapyCriterion),
    /// A procedure (OPS): surgery, radiotherapy, transplant.
    Procedure(ProcedureCriterion),
    /// Vital status at last contact.
    VitalStatus(VitalStatus),
    /// An imaging series (DICOM modality, body part, study date), optionally
    /// within a window of days after a diagnosis.
    Imaging(ImagingCriterion),
    /// A smear's cytomorphology: specimen, blast percentage, a cell class.
    Cytology(CytologyCriterion),
    /// A sequence variant call: gene, protein change, consequence, VAF, origin.
    Variant(VariantCriterion),
}

/// `{"diagnosis": {...}}`: the patient has a diagnosis fact whose ICD-10 code starts
/// with `icd10` (ICD-10-GM or ICD-10 WHO; SNOMED-coded diagnoses do not match a code
/// prefix) dated within `from`..=`to`; and, if `morphology` is given, a histology
/// observation (LOINC 59847-4) whose ICD-O-3 morphology starts with it.
///
/// The store holds no link between a histology and a diagnosis, so the two are
/// matched independently for the same patient. Without `icd10` any diagnosis counts;
/// with a date bound, diagnoses without a date do not count.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagnosisCriterion {
    /// ICD-10-GM code prefix, e.g. `C92.0` or `C9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icd10: Option<String>,
    /// ICD-O-3 morphology prefix, e.g. `9861/3` or `986`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub morphology: Option<String>,
    /// Earliest diagnosis date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Latest diagnosis date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

impl DiagnosisCriterion {
    /// LOINC of the histology observation the `morphology` prefix is matched against.
    pub const HISTOLOGY_LOINC: &'static str = "59847-4";
}

/// `{"age_at_diagnosis": {"min": 18, "max": 65}}`: age in whole years at the
/// patient's **earliest dated diagnosis** (of any code, or only of codes starting
/// with `icd10` when given), inclusive bounds.
///
/// Computed as diagnosis year − birth year, because the research store holds only
/// the birth year (the birth date is identifying data and stays with the trust
/// centre); the result can be one year more than the exact age. Patients without a
/// birth year or a dated diagnosis do not match.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeCriterion {
    /// Youngest age (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    /// Oldest age (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    /// Only diagnoses whose ICD-10 code starts with this prefix fix the age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icd10: Option<String>,
}

/// `{"stage": {"group": ["III", "IV"]}}`: some stage-group observation (LOINC
/// 21908-9, value in code system `tnm`) equals one of `group` exactly (`III` does
/// not include `IIIA`: list the sub-groups wanted).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageCriterion {
    /// UICC stage groups, e.g. `IIIA`.
    pub group: Vec<String>,
    /// Earliest observation date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Latest observation date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

impl StageCriterion {
    /// LOINC of the UICC stage group observation.
    pub const LOINC: &'static str = "21908-9";
}

/// One axis of the TNM classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TnmAxis {
    /// Primary tumour.
    T,
    /// Regional lymph nodes.
    N,
    /// Distant metastasis.
    M,
}

impl TnmAxis {
    /// All axes, in T, N, M order.
    pub const ALL: [TnmAxis; 3] = [Self::T, Self::N, Self::M];

    /// The LOINC of the clinical category observation (21905-5, 21906-3, 21907-1).
    pub fn loinc(self) -> &'static str {
        match self {
            Self::T => "21905-5",
            Self::N => "21906-3",
            Self::M => "21907-1",
        }
    }

    /// The axis letter, which every category code of the axis contains (`T2`, `pN1`).
    pub fn letter(self) -> char {
        match self {
            Self::T => 'T',
            Self::N => 'N',
            Self::M => 'M',
        }
    }
}

/// `{"tnm": {"t": ["T3", "T4"], "m": ["M1"]}}`: for every axis given, some clinical
/// category observation of that axis (LOINC 21905-5 / 21906-3 / 21907-1, code system
/// `tnm`) starts with one of its prefixes; the axes given combine with AND.
///
/// Prefixes match the stored code as written (`T1` matches `T1a`; `cT1` does not
/// match `T1`). Pathological categories (pTNM LOINCs) are not searched.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TnmCriterion {
    /// T category prefixes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub t: Vec<String>,
    /// N category prefixes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub n: Vec<String>,
    /// M category prefixes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub m: Vec<String>,
    /// Earliest observation date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Latest observation date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

impl TnmCriterion {
    /// The prefixes of one axis.
    pub fn axis(&self, axis: TnmAxis) -> &[String] {
        match axis {
            TnmAxis::T => &self.t,
            TnmAxis::N => &self.n,
            TnmAxis::M => &self.m,
        }
    }
}

/// `{"ecog": {"max": 2}}`: some ECOG observation (LOINC 89247-1; coded value in
/// system `ecog`, or an integer quantity) lies within `min`..=`max` (default 0..=5).
///
/// "Some" means any assessment, not the latest: a patient once ECOG 1 and later
/// ECOG 3 matches both `max 2` and `min 3`. Narrow with `from`/`to`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcogCriterion {
    /// Lowest grade (inclusive), 0–5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u8>,
    /// Highest grade (inclusive), 0–5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u8>,
    /// Earliest observation date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Latest observation date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

impl EcogCriterion {
    /// LOINC of the ECOG performance status observation.
    pub const LOINC: &'static str = "89247-1";
    /// The highest ECOG grade (5: dead).
    pub const MAX_GRADE: u8 = 5;
}

/// How a lab value is compared with the criterion's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Comparator {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `=` (exact float equality: prefer a range for measured values)
    #[serde(rename = "=")]
    Eq,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
}

impl Comparator {
    /// The operator as written in JSON (also valid SQL, except `!=` which SQLite accepts).
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Eq => "=",
            Self::Ge => ">=",
            Self::Gt => ">",
            Self::Ne => "!=",
        }
    }

    /// Applies the comparison (`value op bound`), as the store's compiler does in SQL.
    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Self::Lt => value < bound,
            Self::Le => value <= bound,
            Self::Eq => value == bound,
            Self::Ge => value >= bound,
            Self::Gt => value > bound,
            Self::Ne => value != bound,
        }
    }
}

/// `{"lab": {"loinc": "718-7", "unit": "g/dL", "op": "<", "value": 10}}`: some
/// observation with this LOINC code, recorded in exactly this UCUM unit, has a
/// numeric value satisfying `value op bound`.
///
/// Units are not converted: haemoglobin in `g/L` does not match a `g/dL` criterion
/// (combine two leaves with `or` to cover both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabCriterion {
    /// LOINC code of the observation, e.g. `718-7`.
    pub loinc: String,
    /// UCUM unit code, e.g. `g/dL`.
    pub unit: String,
    /// The comparison.
    pub op: Comparator,
    /// The number compared with.
    pub value: f64,
    /// Earliest observation date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Latest observation date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

/// `{"marker": {"gene": "HGNC:3765", "present": true}}`: some molecular finding for
/// this gene has the value LOINC LA9633-4 (present) or, with `present: false`,
/// LA9634-2 (absent).
///
/// `present: false` means "tested and found absent". A patient never tested for the
/// gene matches neither; so `NOT marker present` (no present finding) includes the
/// untested, while `marker absent` does not. Touches genetic data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkerCriterion {
    /// HGNC gene id, e.g. `HGNC:3765` (FLT3).
    pub gene: String,
    /// Whether the finding is "present" or "absent".
    pub present: bool,
    /// Earliest finding date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Latest finding date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

impl MarkerCriterion {
    /// LOINC answer "Present".
    pub const PRESENT: &'static str = "LA9633-4";
    /// LOINC answer "Absent".
    pub const ABSENT: &'static str = "LA9634-2";

    /// The LOINC answer code this criterion looks for.
    pub fn answer(&self) -> &'static str {
        if self.present {
            Self::PRESENT
        } else {
            Self::ABSENT
        }
    }
}

/// `{"therapy": {"atc": "L01XC"}}`: some medication fact whose ATC code starts with
/// the prefix, started within `from`..=`to` (RxNorm-coded drugs do not match).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TherapyCriterion {
    /// ATC code prefix at any level, e.g. `L01`, `L01XC`, `L01XC24`.
    pub atc: String,
    /// Earliest therapy start (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Latest therapy start (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

/// `{"procedure": {"ops": "8-805"}}`: some procedure fact whose OPS code starts with
/// the prefix, performed (begun) within `from`..=`to` (SNOMED-coded ones do not match).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcedureCriterion {
    /// OPS code prefix, e.g. `8-805` (stem cell transplantation) or `5-87`.
    pub ops: String,
    /// Earliest procedure date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Latest procedure date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

impl Criteria {
    /// Deepest nesting [`Criteria::validate`] accepts (a lone leaf has depth 1).
    ///
    /// Bounds the SQL a site compiles and the recursion that walks a tree.
    pub const MAX_DEPTH: usize = 8;
    /// Most leaves [`Criteria::validate`] accepts: bounds the sub-queries per statement.
    pub const MAX_LEAVES: usize = 64;

    /// `{"and": children}`, for building trees in code.
    pub fn and(children: impl IntoIterator<Item = Criteria>) -> Self {
        Self::And(children.into_iter().collect())
    }

    /// `{"or": children}`, for building trees in code.
    pub fn or(children: impl IntoIterator<Item = Criteria>) -> Self {
        Self::Or(children.into_iter().collect())
    }

    /// `{"not": child}`, for building trees in code.
    // A constructor beside `and`/`or`, not a negation operator: the tree is no boolean.
    #[allow(clippy::should_implement_trait)]
    pub fn not(child: Criteria) -> Self {
        Self::Not(Box::new(child))
    }

    /// The children of an `and`/`or`/`not` node; empty for a leaf.
    pub fn children(&self) -> &[Criteria] {
        match self {
            Self::And(c) | Self::Or(c) => c,
            Self::Not(c) => std::slice::from_ref(c.as_ref()),
            _ => &[],
        }
    }

    /// Whether this is a leaf (a condition on data) rather than a combinator.
    pub fn is_leaf(&self) -> bool {
        !matches!(self, Self::And(_) | Self::Or(_) | Self::Not(_))
    }

    /// Nesting depth: 1 for a leaf, one more than the deepest child for a combinator.
    pub fn depth(&self) -> usize {
        1 + self
            .children()
            .iter()
            .map(Criteria::depth)
            .max()
            .unwrap_or(0)
    }

    /// Number of leaves (the unit [`Criteria::MAX_LEAVES`] limits).
    pub fn leaf_count(&self) -> usize {
        if self.is_leaf() {
            1
        } else {
            self.children().iter().map(Criteria::leaf_count).sum()
        }
    }

    /// The data categories the query reads: [`DataCategory::Genetic`] for a marker
    /// leaf (also under `not`: absence of a finding is still genetic information),
    /// [`DataCategory::Pathology`] for a cytology leaf,
    /// [`DataCategory::Imaging`] for an imaging leaf (and
    /// [`DataCategory::Clinical`] too when it has an `after_diagnosis` window, which
    /// reads diagnoses), [`DataCategory::Clinical`] for every other leaf.
    ///
    /// Decides whose consent must permit counting a patient and, through
    /// `SecurityLevel::of_dataset`, the security level of the answer.
    pub fn categories(&self) -> BTreeSet<DataCategory> {
        let mut out = BTreeSet::new();
        self.collect_categories(&mut out);
        out
    }

    fn collect_categories(&self, out: &mut BTreeSet<DataCategory>) {
        match self {
            Self::And(_) | Self::Or(_) | Self::Not(_) => {
                self.children()
                    .iter()
                    .for_each(|c| c.collect_categories(out));
            }
            Self::Marker(_) => {
                out.insert(DataCategory::Genetic);
            }
            Self::Cytology(_) => {
                out.insert(DataCategory::Pathology);
            }
            Self::Variant(v) => out.extend(v.categories()),
            Self::Imaging(i) => {
                out.insert(DataCategory::Imaging);
                if i.after_diagnosis.is_some() {
                    out.insert(DataCategory::Clinical);
                }
            }
            _ => {
                out.insert(DataCategory::Clinical);
            }
        }
    }

    /// The tree as compact JSON in a fixed form, for hashing (audit log, replay
    /// protection, caching).
    ///
    /// Keys appear in declaration order, absent optional fields are omitted and
    /// numbers are printed by `serde_json`, so trees that are equal as values give
    /// byte-equal strings however they were written (key order, whitespace, `null`
    /// vs missing, `10` vs `10.0`). Trees that are only logically equivalent (`and`
    /// children reordered) give different strings: keys that must not multiply with
    /// rewordings (noise seeds, sketch keys) use [`Criteria::semantic_key`]. This serialises the typed tree,
    /// never a `serde_json::Value`, so it does not depend on serde_json's
    /// `preserve_order` feature.
    pub fn canonical_json(&self) -> String {
        // Serialising these types cannot fail: no maps, only string keys.
        serde_json::to_string(self).expect("criteria always serialise")
    }
}
