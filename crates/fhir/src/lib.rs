//! FHIR R4 input for site nodes: parses Bundles and NDJSON, validates them, and splits
//! each patient into identifying data (for the trust centre) and harmonised facts (for
//! the pseudonymised research store).
//!
//! The shape read is the one in `docs/fhir-profile.md` (German MII core data set), plus
//! the Synthea bulk-export variants (SNOMED CT, RxNorm, `performedPeriod`, `authoredOn`).
//!
//! # Entry points
//! - [`map_document`]: a `.json` file, one Bundle or one resource.
//! - [`map_ndjson_line`]: one line of a `.ndjson` file (FHIR Bulk Data);
//!   [`map_ndjson_bytes`] the same for a line not yet known to be UTF-8.
//! - [`Batch::merge`] to combine lines or files; [`quality`] for plausibility checks.
//!
//! The crate is synchronous and does no I/O: the node reads files and passes bytes or
//! lines with a source name that errors quote.
//!
//! # Typed serde structs, not `serde_json::Value`, not a FHIR model crate
//! Each mapped resource has a hand-written serde struct declaring only the elements
//! OncoFed maps (`resources/*.rs`, data types in `datatypes.rs`); serde skips everything
//! else. Why:
//! - **Speed.** Strings are borrowed from the input and unknown elements are skipped
//!   without allocating; a `Value` tree would allocate every element of every resource.
//!   Only `Consent` is kept as a `Value`, because it is forwarded whole; it is
//!   validated by `oncofed-consent`'s `parse_consent`, the parser the trust centre
//!   decides with, so a Consent the trust centre would refuse fails here, naming
//!   its element, and rejects only its own unit.
//! - **Privacy by construction.** Identifiers of other systems (MRN, social security,
//!   passport numbers), telecom and narrative are never read into memory we own.
//! - **Compile time.** Generated FHIR model crates (e.g. `fhirbolt`) take about six
//!   minutes to compile on two cores; these structs take seconds. Their fidelity to R4
//!   is checked by an interop test elsewhere against the Python `fhir.resources` models.
//! - **Errors with paths.** A failed parse is repeated under `serde_path_to_error` to name
//!   the element (`valueQuantity.value`); the fast path pays nothing for that.
//!
//! # Errors and personal data
//! The first problem stops the input ([`MapError`]), naming file, line, Bundle entry,
//! resource type and FHIR element and suggesting a fix. No error text contains a value of
//! the input except codes, code-system URIs and resource types. Implausible but
//! well-formed values (blasts 150 %, death before birth) are **not** errors: they are
//! kept and reported by [`quality`].

mod bundle;
mod datatypes;
mod error;
pub mod quality;
mod resource_types;
mod resources;

pub use bundle::{map_document, map_ndjson_bytes, map_ndjson_line};
pub use error::{CLIP, MapError, MapErrorKind};
pub use resource_types::{R4_RESOURCE_TYPES, is_r4_resource_type};

use chrono::NaiveDate;
use oncofed_idat::IdentifyingData;
use oncofed_model::{Demographics, Fact, VitalStatus};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// What one document, line or set of merged inputs holds, split for the trust centre
/// (patients' identifying data, consents) and the research store (facts).
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// One record per `Patient` resource, in input order. A Patient that occurs twice
    /// (in two merged inputs) is listed twice; the later one is the newer.
    pub patients: Vec<PatientRecord>,
    /// Facts of `Condition`, `Observation`, `Procedure` and `Medication*` resources.
    pub facts: Vec<SubjectFact>,
    /// `Consent` resources, whole, for the trust centre's consent registry.
    pub consents: Vec<SubjectConsent>,
    /// FHIR R4 resource types that were read but are not mapped (`Encounter`, ...) → count.
    /// A Bundle nested in a Bundle entry is counted here as `Bundle`, not opened.
    pub not_mapped: BTreeMap<String, usize>,
    /// Resources whose status says they did not happen or are void, keyed
    /// `Type.element=code` (e.g. `Condition.verificationStatus=refuted`,
    /// `Procedure.status=not-done`, `Observation.status=entered-in-error`) → count.
    pub skipped: BTreeMap<String, usize>,
    /// Number of resources read: mapped, not mapped and skipped (a top-level Bundle is a
    /// container, not counted; its entries are).
    pub resources: usize,
    /// Latest vital status observation (LOINC 75186-7) per local patient id.
    vital: HashMap<String, VitalObservation>,
    /// Positions in `patients` per local id (checked before use; rebuilt when stale).
    index: HashMap<String, Vec<usize>>,
    /// How many of `patients` are in `index`.
    indexed: usize,
}

/// A vital status at a date, from an Observation 75186-7.
#[derive(Debug, Clone, Copy, PartialEq)]
struct VitalObservation {
    date: Option<NaiveDate>,
    status: VitalStatus,
}

/// A patient as one site knows it (FHIR `Patient`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatientRecord {
    /// The site-local id (`Patient.id`, or the uuid of its `urn:uuid:` fullUrl). Facts
    /// refer to it in [`SubjectFact::subject`]; the node swaps it for a pseudonym.
    pub local_id: String,
    /// Names, birth date, address, KVNR: for the trust centre only.
    pub idat: IdentifyingData,
    /// Sex, birth year, death date, vital status, last contact: for the research store.
    /// The vital status combines `Patient.deceased[x]` with the latest vital status
    /// observation (LOINC 75186-7) of the patient in the same batch, whose date is
    /// `last_contact`; a deceased Patient stays deceased.
    pub demographics: Demographics,
    /// The vital status `Patient.deceased[x]` alone gives (deceased, alive for
    /// `deceasedBoolean: false`, else unknown), before observations are considered.
    pub resource_vital_status: VitalStatus,
}

/// A harmonised fact about a patient, still under the site-local patient id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectFact {
    /// The local patient id the resource's `subject` references.
    pub subject: String,
    /// Where the fact came from, stable across re-imports: `Type/id#n` (`n` = the fact's
    /// index within the resource), else `fullUrl#n`, else `Type@source:line[:entry]#n`.
    /// Only for deriving an idempotency key; never shown to researchers.
    pub source_id: String,
    /// The fact.
    pub fact: Fact,
}

/// A FHIR `Consent` resource for the trust centre's consent registry (never stored at the node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectConsent {
    /// The local patient id `Consent.patient` references.
    pub subject: String,
    /// The whole resource as read.
    pub resource: serde_json::Value,
}

impl Batch {
    /// Appends `other`, adding up counts, and re-derives the vital status of the patients
    /// that `other`'s patients or vital status observations concern.
    pub fn merge(&mut self, other: Batch) {
        let start = self.patients.len();
        self.patients.extend(other.patients);
        for i in start..self.patients.len() {
            self.index
                .entry(self.patients[i].local_id.clone())
                .or_default()
                .push(i);
        }
        self.indexed += self.patients.len() - start;
        self.facts.extend(other.facts);
        self.consents.extend(other.consents);
        for (k, n) in other.not_mapped {
            *self.not_mapped.entry(k).or_default() += n;
        }
        for (k, n) in other.skipped {
            *self.skipped.entry(k).or_default() += n;
        }
        self.resources += other.resources;
        let mut changed = Vec::new();
        for (subject, obs) in other.vital {
            if self.note_vital(&subject, obs) {
                changed.push(subject);
            }
        }
        for i in start..self.patients.len() {
            self.refresh_patient(i);
        }
        for subject in changed {
            for i in self.positions(&subject) {
                self.refresh_patient(i);
            }
        }
    }

    /// Adds a patient record, keeping the id index.
    pub(crate) fn add_patient(&mut self, p: PatientRecord) {
        self.index
            .entry(p.local_id.clone())
            .or_default()
            .push(self.patients.len());
        self.patients.push(p);
        self.indexed += 1;
    }

    /// Notes a vital status observation; call [`Batch::refresh_vital_status`] afterwards.
    pub(crate) fn record_vital_status(
        &mut self,
        subject: &str,
        date: Option<NaiveDate>,
        status: VitalStatus,
    ) {
        self.note_vital(subject, VitalObservation { date, status });
    }

    /// Keeps `obs` if it is at least as recent as the one known; returns whether it was kept.
    fn note_vital(&mut self, subject: &str, obs: VitalObservation) -> bool {
        match self.vital.get_mut(subject) {
            Some(known) if known.date > obs.date => false,
            Some(known) => {
                *known = obs;
                true
            }
            None => {
                self.vital.insert(subject.to_owned(), obs);
                true
            }
        }
    }

    /// Re-derives every patient's vital status and last contact.
    pub(crate) fn refresh_vital_status(&mut self) {
        for i in 0..self.patients.len() {
            self.refresh_patient(i);
        }
    }

    fn refresh_patient(&mut self, i: usize) {
        let Some(p) = self.patients.get_mut(i) else {
            return;
        };
        let base = p.resource_vital_status;
        let d = &mut p.demographics;
        match self.vital.get(&p.local_id) {
            Some(obs) => {
                d.vital_status = if base == VitalStatus::Deceased {
                    base
                } else {
                    obs.status
                };
                d.last_contact = obs.date;
            }
            None => {
                d.vital_status = base;
                d.last_contact = None;
            }
        }
    }

    /// Positions of the patients with this local id (the index is rebuilt if someone
    /// changed `patients` directly).
    fn positions(&mut self, id: &str) -> Vec<usize> {
        let valid = self.indexed == self.patients.len()
            && self.index.get(id).is_none_or(|v| {
                v.iter()
                    .all(|&i| self.patients.get(i).is_some_and(|p| p.local_id == id))
            });
        if !valid {
            self.index.clear();
            for (i, p) in self.patients.iter().enumerate() {
                self.index.entry(p.local_id.clone()).or_default().push(i);
            }
            self.indexed = self.patients.len();
        }
        self.index.get(id).cloned().unwrap_or_default()
    }
}
