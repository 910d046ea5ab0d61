//! The `imaging` leaf: "has a chest CT within 90 days after the index diagnosis".

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// `{"imaging": {"modality": ["CT"], "body_part": "CHEST", "after_diagnosis": {"icd10": "C34", "max_days": 90}}}`:
/// the patient has an imaging series fact (kind `imaging`, code system `dcm`; one
/// per series, written by the node's DICOM ingest) whose modality (DICOM
/// `Modality`, 0008,0060) is one of `modality`, whose body part (DICOM
/// `BodyPartExamined`, 0018,0015, the fact's `dicom-body-part` modifier) equals
/// `body_part`, whose study date lies within `from`..=`to`, and — with
/// `after_diagnosis` — whose study date lies `min_days..=max_days` days after the
/// date of some diagnosis of the same patient.
///
/// The body part is compared case-insensitively: the store holds it upper case, as
/// DICOM writes it, and the compiler upper-cases the criterion's. A series without
/// a body part never matches a `body_part`; a series without a study date never
/// matches a date bound or a diagnosis window, and neither does an undated
/// diagnosis. Touches imaging data (and clinical data with `after_diagnosis`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagingCriterion {
    /// DICOM modality codes (PS3.3 C.7.3.1.1.1 defined terms), e.g. `CT`, `MR`,
    /// `PT`; any of them matches. An empty list is rejected by validation.
    pub modality: Vec<String>,
    /// DICOM body part examined (PS3.16 Annex L), e.g. `CHEST`, `HEAD`; any body
    /// part (or none) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_part: Option<String>,
    /// Earliest study date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Latest study date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
    /// The study must follow a diagnosis of the same patient within this window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_diagnosis: Option<DiagnosisWindow>,
}

impl ImagingCriterion {
    /// The largest day count validation accepts in a window (100 years).
    pub const MAX_DAYS: i32 = 36_500;

    /// The body part as the store holds it: upper case.
    pub fn body_part_upper(&self) -> Option<String> {
        self.body_part.as_ref().map(|b| b.to_ascii_uppercase())
    }
}

/// `{"icd10"?: prefix, "min_days"?: 0, "max_days": 90}`: the study date lies
/// `min_days..=max_days` days (inclusive; day 0 is the diagnosis date itself) after
/// the date of some diagnosis fact of the same patient — one whose ICD-10 code
/// (ICD-10-GM or WHO) starts with `icd10` when given, any diagnosis otherwise.
/// Undated diagnoses and undated studies never match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagnosisWindow {
    /// ICD-10 code prefix of the index diagnosis, e.g. `C34`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icd10: Option<String>,
    /// Fewest days after the diagnosis (inclusive), default 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_days: i32,
    /// Most days after the diagnosis (inclusive).
    pub max_days: i32,
}

// serde's skip_serializing_if passes a reference.
fn is_zero(n: &i32) -> bool {
    *n == 0
}
