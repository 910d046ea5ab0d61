//! What one site knows about one person: identity copy, local id and clinical items.
//!
//! These are plain data, already fully drawn (every UUID and date fixed), so that
//! turning them into FHIR JSON ([`crate::fhir_writer`]) is a pure function and tests
//! can inspect a cohort without parsing JSON.

use crate::entities::{Marker, Stage};
use crate::identity::Variation;
use chrono::NaiveDate;
use oncofed_idat::IdentifyingData;
use oncofed_model::SiteId;

/// One person's record at one site (one FHIR Patient and its resources).
#[derive(Debug, Clone)]
pub struct SiteRecord {
    /// The site.
    pub site: SiteId,
    /// The site's local patient id (FHIR `Patient.id`); unique within the site.
    pub local_id: String,
    /// UUID of the Patient entry (`fullUrl` `urn:uuid:…`).
    pub patient_uuid: String,
    /// UUID used as `Bundle.id` when this record is written as its own Bundle (NDJSON).
    pub bundle_uuid: String,
    /// The site's copy of the identifying data, possibly varied.
    pub identity: IdentifyingData,
    /// How the copy deviates from the true identity (empty: exact copy).
    pub variations: Vec<Variation>,
    /// Date of death as this site knows it (`Patient.deceasedDateTime`).
    pub deceased: Option<NaiveDate>,
    /// First contact of the person with this site.
    pub first_contact: NaiveDate,
    /// Last contact (the date of the vital-status observation).
    pub last_contact: NaiveDate,
    /// The site's clinical resources and consents, in bundle order.
    pub resources: Vec<Resource>,
}

/// A non-Patient resource with its fixed UUID.
#[derive(Debug, Clone)]
pub struct Resource {
    /// UUID used as resource id and in `fullUrl`.
    pub uuid: String,
    /// The content.
    pub body: ResourceBody,
}

impl Resource {
    /// The FHIR resource type this item is written as.
    pub fn resource_type(&self) -> &'static str {
        match self.body {
            ResourceBody::Condition(_) => "Condition",
            ResourceBody::Observation(_) => "Observation",
            ResourceBody::Procedure(_) => "Procedure",
            ResourceBody::Medication(_) => "MedicationStatement",
            ResourceBody::Consent(_) => "Consent",
        }
    }
}

/// The kinds of resources the generator writes besides Patient.
#[derive(Debug, Clone)]
pub enum ResourceBody {
    /// The tumour diagnosis.
    Condition(Condition),
    /// Staging, ECOG, histology, labs, molecular markers, vital status.
    Observation(Observation),
    /// Surgery, radiotherapy, transplant.
    Procedure(Procedure),
    /// One drug of a therapy line.
    Medication(Medication),
    /// A consent or objection.
    Consent(Consent),
}

/// A tumour diagnosis (FHIR Condition).
#[derive(Debug, Clone)]
pub struct Condition {
    /// ICD-10-GM code (version independent, e.g. `C92.0`).
    pub icd10: &'static str,
    /// ICD-10-GM display.
    pub display: &'static str,
    /// ICD-10-GM catalogue year used for coding (the diagnosis year).
    pub icd_version: i32,
    /// ICD-O-3 topography.
    pub topography: &'static str,
    /// Diagnosis date (`onsetDateTime`).
    pub onset: NaiveDate,
    /// Date the site recorded it (`recordedDate`).
    pub recorded: NaiveDate,
}

/// An observation (FHIR Observation).
#[derive(Debug, Clone)]
pub struct Observation {
    /// LOINC code (SNOMED CT for the onco course, `fhir_writer::COURSE_SNOMED`).
    pub loinc: &'static str,
    /// LOINC display.
    pub display: &'static str,
    /// `effectiveDateTime`.
    pub date: NaiveDate,
    /// The value.
    pub value: ObsValue,
}

/// An observation's value.
#[derive(Debug, Clone)]
pub enum ObsValue {
    /// A lab value with its UCUM unit.
    Quantity {
        /// The number.
        value: f64,
        /// UCUM code.
        unit: &'static str,
    },
    /// A coded value (stage, TNM category, ECOG, histology, vital status).
    Coded {
        /// Code system URI.
        system: &'static str,
        /// The code.
        code: String,
        /// Optional display.
        display: Option<&'static str>,
    },
    /// A molecular marker result (LOINC 69548-6).
    Marker {
        /// The marker.
        marker: Marker,
        /// Variant present.
        present: bool,
    },
}

/// A procedure (FHIR Procedure, OPS coded).
#[derive(Debug, Clone)]
pub struct Procedure {
    /// OPS code.
    pub ops: &'static str,
    /// OPS display.
    pub display: &'static str,
    /// `performedDateTime`.
    pub date: NaiveDate,
}

/// One drug of a therapy line (FHIR MedicationStatement, ATC coded).
#[derive(Debug, Clone)]
pub struct Medication {
    /// ATC code.
    pub atc: &'static str,
    /// Drug name.
    pub display: &'static str,
    /// Therapy line, 1-based.
    pub line: u8,
    /// Start of `effectivePeriod`.
    pub start: NaiveDate,
    /// End of `effectivePeriod`; `None` while ongoing.
    pub end: Option<NaiveDate>,
}

/// What a Consent resource says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentKind {
    /// MII broad consent with its MDAT/IDAT permits.
    BroadConsent,
    /// Objection under the GDNG opt-out.
    GdngObjection,
    /// Opt-in for research on genetic data.
    GeneticResearch,
    /// Withdrawal of all consents.
    Withdrawal,
}

/// A consent resource (FHIR Consent).
#[derive(Debug, Clone)]
pub struct Consent {
    /// What it says.
    pub kind: ConsentKind,
    /// When it was signed or declared (`dateTime`, provision period start).
    pub date: NaiveDate,
}

/// The person-level truth written to `cohort.csv`, for tests and analyses.
#[derive(Debug, Clone)]
pub struct Truth {
    /// Tumour entity.
    pub entity: crate::Entity,
    /// ICD-10-GM code.
    pub icd10: &'static str,
    /// ICD-O-3 morphology.
    pub morphology: &'static str,
    /// Administrative sex.
    pub sex: oncofed_model::Sex,
    /// True birth date.
    pub birth_date: NaiveDate,
    /// Diagnosis date.
    pub diagnosis_date: NaiveDate,
    /// Age in whole years at diagnosis.
    pub age_at_diagnosis: u32,
    /// Stage group, when the entity is staged.
    pub stage: Option<Stage>,
    /// ECOG at diagnosis (0–4).
    pub ecog: u8,
    /// Tested markers and their result, in [`Marker::ALL`] order.
    pub markers: Vec<(Marker, bool)>,
    /// Whether first-line (or adjuvant) therapy contained osimertinib.
    pub osimertinib: bool,
    /// The linear predictor's hazard ratio against the reference patient.
    pub hazard_ratio: f64,
    /// Days from diagnosis to death or censoring.
    pub survival_days: i64,
    /// Died (true) or censored (false).
    pub event: bool,
    /// Signed the MII broad consent.
    pub broad_consent: bool,
    /// Objected under the GDNG.
    pub gdng_objection: bool,
    /// Opted in to genetic research.
    pub genetic_opt_in: bool,
    /// Withdrew all consents.
    pub withdrawn: bool,
}

impl Truth {
    /// Date of death or censoring (`diagnosis_date + survival_days`).
    pub fn end_date(&self) -> NaiveDate {
        crate::draw::add_days(self.diagnosis_date, self.survival_days)
    }

    /// The result for `marker`: `Some(present)` when tested.
    pub fn marker(&self, marker: Marker) -> Option<bool> {
        self.markers
            .iter()
            .find(|(m, _)| *m == marker)
            .map(|(_, p)| *p)
    }
}
