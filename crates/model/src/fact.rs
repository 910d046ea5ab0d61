//! The harmonised clinical model: per-patient demographics and a stream of facts.
//!
//! The shape follows the i2b2 `observation_fact` idea (one row per coded fact with
//! an optional modifier and value), which lets FHIR, oBDS and later formats map
//! into one queryable table.

use crate::{Coding, DataCategory, SecurityLevel};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Administrative sex (FHIR `Patient.gender`, with the German `divers` as `Other`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sex {
    /// female
    Female,
    /// male
    Male,
    /// other / divers
    Other,
    /// unknown
    Unknown,
}

impl Sex {
    /// Parses FHIR `AdministrativeGender`.
    pub fn from_fhir(code: &str) -> Option<Self> {
        match code {
            "female" => Some(Self::Female),
            "male" => Some(Self::Male),
            "other" => Some(Self::Other),
            "unknown" => Some(Self::Unknown),
            _ => None,
        }
    }

    /// The FHIR `AdministrativeGender` code.
    pub fn as_fhir(self) -> &'static str {
        match self {
            Self::Female => "female",
            Self::Male => "male",
            Self::Other => "other",
            Self::Unknown => "unknown",
        }
    }
}

/// Whether a patient is known to be alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VitalStatus {
    /// Alive at last contact.
    Alive,
    /// Dead.
    Deceased,
    /// Not known.
    Unknown,
}

/// The medical part of a patient's master data, stored under a pseudonym.
///
/// Deliberately coarse: the birth **year** only (the full birth date is
/// identifying data and stays with the trust centre).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Demographics {
    /// Administrative sex.
    pub sex: Sex,
    /// Year of birth.
    pub birth_year: Option<i32>,
    /// Vital status at last contact.
    pub vital_status: VitalStatus,
    /// Date of death, when deceased.
    pub death_date: Option<NaiveDate>,
    /// Date of last known contact or follow-up (censoring date for survival analyses).
    pub last_contact: Option<NaiveDate>,
}

/// What a fact is about. Decides which columns are meaningful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FactKind {
    /// A diagnosis (FHIR Condition); `modifier` holds the ICD-O-3 topography.
    Diagnosis,
    /// A measurement or assessment (labs, TNM, ECOG, histology, vital status,
    /// and the per-smear cell counts and blast percentage of the node's cell
    /// ingest: system [`Cytomorphology`](crate::CodeSystem::Cytomorphology),
    /// category [`Pathology`](crate::DataCategory::Pathology)).
    Observation,
    /// A molecular finding; `code` is the gene (HGNC), `value` present/absent.
    Molecular,
    /// A procedure (surgery, radiotherapy, transplant).
    Procedure,
    /// A drug given (therapy line); `start`/`end` bound the period.
    Medication,
    /// An imaging fact (DICOM, PS3.3): written by the node's DICOM ingest, category
    /// [`DataCategory::Imaging`](crate::DataCategory::Imaging), `start` the study date
    /// (DICOM `StudyDate`, 0008,0020). The node writes these facts:
    ///
    /// - per series: `code` ([`Dcm`](crate::CodeSystem::Dcm), the modality, e.g.
    ///   `CT`; DICOM `Modality`, 0008,0060), `modifier`
    ///   `Some(`([`DicomBodyPart`](crate::CodeSystem::DicomBodyPart), the upper-case
    ///   body part, e.g. `CHEST`; `BodyPartExamined`, 0018,0015)`)` or `None`,
    ///   `value` [`FactValue::Quantity`] of the series' instances with unit
    ///   `{instances}` — the fact feasibility's `imaging` leaf matches;
    /// - per series with a slice thickness: `code`
    ///   ([`DicomAttribute`](crate::CodeSystem::DicomAttribute), `SliceThickness`),
    ///   `value` quantity in `mm`;
    /// - per series: `code` (`DicomAttribute`, `Manufacturer`), `value`
    ///   [`FactValue::Code`] (`DicomAttribute`, the manufacturer's name as written);
    /// - per study: `code` (`DicomAttribute`, `NumberOfStudyRelatedSeries`), `value`
    ///   quantity of the study's series with unit `{series}`.
    ///
    /// The images themselves are not facts: the store lists them as image rows
    /// (de-identified UIDs and object-store keys) beside the facts.
    Imaging,
}

impl FactKind {
    /// The stable name used in stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Diagnosis => "diagnosis",
            Self::Observation => "observation",
            Self::Molecular => "molecular",
            Self::Procedure => "procedure",
            Self::Medication => "medication",
            Self::Imaging => "imaging",
        }
    }

    /// Inverse of [`FactKind::as_str`].
    pub fn from_name(s: &str) -> Option<Self> {
        [
            Self::Diagnosis,
            Self::Observation,
            Self::Molecular,
            Self::Procedure,
            Self::Medication,
            Self::Imaging,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A fact's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum FactValue {
    /// No value (a diagnosis, a procedure).
    None,
    /// A measured quantity with its UCUM unit.
    Quantity {
        /// The number.
        value: f64,
        /// UCUM unit code, e.g. `g/dL`, `%`, `10*3/uL`.
        unit: String,
    },
    /// A coded value (TNM category, ECOG grade, present/absent, histology).
    Code(Coding),
}

/// One harmonised clinical fact about a pseudonymised patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// What the fact is about.
    pub kind: FactKind,
    /// The main code (diagnosis, LOINC of the observation, gene, procedure, drug).
    pub code: Coding,
    /// A qualifying code (ICD-O-3 topography of a diagnosis, ...).
    pub modifier: Option<Coding>,
    /// The value, if any.
    pub value: FactValue,
    /// When it happened or began (diagnosis date, effective date, therapy start).
    pub start: Option<NaiveDate>,
    /// When it ended (therapy end).
    pub end: Option<NaiveDate>,
    /// The data category, which consent is checked against.
    pub category: DataCategory,
    /// The record's own security level (see [`SecurityLevel::of_dataset`] for sets).
    pub level: SecurityLevel,
}
