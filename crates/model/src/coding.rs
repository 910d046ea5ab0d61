//! Code systems the harmonised model accepts, with their canonical FHIR URIs.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A terminology the harmonised model understands.
///
/// Anything else is rejected at ingest ("wrong code system"), so that a query for
/// an ICD-10-GM prefix never silently misses data coded elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodeSystem {
    /// ICD-10-GM (German modification), BfArM.
    Icd10Gm,
    /// ICD-10 WHO edition.
    Icd10Who,
    /// ICD-O-3 topography and morphology.
    IcdO3,
    /// SNOMED CT.
    Snomed,
    /// LOINC.
    Loinc,
    /// OPS (German procedure classification), BfArM.
    Ops,
    /// ATC (anatomical therapeutic chemical classification), German edition.
    Atc,
    /// RxNorm (US drugs, as in Synthea data).
    RxNorm,
    /// HGNC gene ids (`HGNC:7910`).
    Hgnc,
    /// UICC TNM categories and stage groups.
    Tnm,
    /// ECOG performance status.
    Ecog,
    /// MII vital status (L alive, T dead, X unknown).
    VitalStatus,
    /// MII onco course, overall assessment of the tumour status (oBDS 17.2:
    /// V, T, K, P progression, D, B, R, Y recurrence, U, X).
    OncoCourse,
    /// MII onco course, primary tumour (oBDS 17.3: K, T, P, N, R local
    /// recurrence, F, U, X).
    OncoCourseTumour,
    /// MII onco course, regional lymph nodes (oBDS 17.4: K, R new nodal
    /// recurrence, T, P, N, F, U, X).
    OncoCourseNodes,
    /// MII onco course, distant metastases (oBDS 17.5, same codes as 17.4).
    OncoCourseMetastases,
    /// DICOM controlled terminology (PS3.16, coding scheme designator `DCM`); in
    /// OncoFed the modality codes of DICOM `Modality` (0008,0060): `CT`, `MR`,
    /// `US`, `PT`, `CR`, `DX`, `MG`, …
    Dcm,
    /// The defined terms of DICOM `BodyPartExamined` (0018,0015), PS3.16 Annex L
    /// (`CHEST`, `HEAD`, `ABDOMEN`, …), upper case as DICOM writes them.
    DicomBodyPart,
    /// DICOM attribute keywords of the data dictionary (PS3.6 chapter 6), e.g.
    /// `SliceThickness`, `Manufacturer`, `NumberOfStudyRelatedSeries`: the code of
    /// an imaging fact that records an attribute's value.
    DicomAttribute,
    /// OncoFed's local cytomorphology system (issue 15): the codes of the
    /// per-smear facts the node's cell ingest writes — a `CellClass` code
    /// (`myeloblast`, `segmented-neutrophil`, …) for a cell count,
    /// `nucleated-cells`, `unclassified-cells` and `blast-percentage` — and, as
    /// the facts' modifier, the `Specimen` code (`bone-marrow`,
    /// `peripheral-blood`). Local because no LOINC code was verified for the
    /// blast percentage of a digitally classified smear.
    Cytomorphology,
}

impl CodeSystem {
    /// Every accepted system.
    pub const ALL: [CodeSystem; 20] = [
        Self::Icd10Gm,
        Self::Icd10Who,
        Self::IcdO3,
        Self::Snomed,
        Self::Loinc,
        Self::Ops,
        Self::Atc,
        Self::RxNorm,
        Self::Hgnc,
        Self::Tnm,
        Self::Ecog,
        Self::VitalStatus,
        Self::OncoCourse,
        Self::OncoCourseTumour,
        Self::OncoCourseNodes,
        Self::OncoCourseMetastases,
        Self::Dcm,
        Self::DicomBodyPart,
        Self::DicomAttribute,
        Self::Cytomorphology,
    ];

    /// The canonical system URI used in FHIR `Coding.system`.
    pub fn uri(self) -> &'static str {
        match self {
            Self::Icd10Gm => "http://fhir.de/CodeSystem/bfarm/icd-10-gm",
            Self::Icd10Who => "http://hl7.org/fhir/sid/icd-10",
            Self::IcdO3 => "urn:oid:2.16.840.1.113883.6.43.1",
            Self::Snomed => "http://snomed.info/sct",
            Self::Loinc => "http://loinc.org",
            Self::Ops => "http://fhir.de/CodeSystem/bfarm/ops",
            Self::Atc => "http://fhir.de/CodeSystem/bfarm/atc",
            Self::RxNorm => "http://www.nlm.nih.gov/research/umls/rxnorm",
            Self::Hgnc => "http://www.genenames.org",
            Self::Tnm => "http://www.uicc.org/tnm",
            Self::Ecog => "http://loinc.org/ecog",
            Self::VitalStatus => {
                "https://www.medizininformatik-initiative.de/fhir/core/modul-person/CodeSystem/Vitalstatus"
            }
            Self::OncoCourse => {
                "https://www.medizininformatik-initiative.de/fhir/ext/modul-onko/CodeSystem/mii-cs-onko-verlauf-gesamtbeurteilung"
            }
            Self::OncoCourseTumour => {
                "https://www.medizininformatik-initiative.de/fhir/ext/modul-onko/CodeSystem/mii-cs-onko-verlauf-primaertumor"
            }
            Self::OncoCourseNodes => {
                "https://www.medizininformatik-initiative.de/fhir/ext/modul-onko/CodeSystem/mii-cs-onko-verlauf-lymphknoten"
            }
            Self::OncoCourseMetastases => {
                "https://www.medizininformatik-initiative.de/fhir/ext/modul-onko/CodeSystem/mii-cs-onko-verlauf-fernmetastasen"
            }
            Self::Dcm => "http://dicom.nema.org/resources/ontology/DCM",
            Self::DicomBodyPart => {
                "http://dicom.nema.org/medical/dicom/current/output/chtml/part16/chapter_L.html"
            }
            Self::DicomAttribute => {
                "http://dicom.nema.org/medical/dicom/current/output/chtml/part06/chapter_6.html"
            }
            Self::Cytomorphology => "https://oncofed.example/CodeSystem/cytomorphology",
        }
    }

    /// Recognises a FHIR `Coding.system` URI, including common aliases
    /// (the older DIMDI ICD-10-GM and OPS URIs, the `www.whocc.no` ATC URI, and the
    /// UICC TNM and MII ECOG URIs of `docs/fhir-profile.md`).
    pub fn from_uri(uri: &str) -> Option<Self> {
        if let Some(s) = Self::ALL.into_iter().find(|s| s.uri() == uri) {
            return Some(s);
        }
        match uri {
            "http://fhir.de/CodeSystem/dimdi/icd-10-gm" => Some(Self::Icd10Gm),
            "http://fhir.de/CodeSystem/dimdi/ops" => Some(Self::Ops),
            "http://www.whocc.no/atc" => Some(Self::Atc),
            "http://terminology.hl7.org/CodeSystem/icd-o-3" => Some(Self::IcdO3),
            // The URIs docs/fhir-profile.md writes (UICC TNM, MII onco ECOG).
            "https://www.uicc.org/resources/tnm" => Some(Self::Tnm),
            "https://www.medizininformatik-initiative.de/fhir/ext/modul-onko/CodeSystem/mii-cs-onko-allgemeiner-leistungszustand-ecog" => {
                Some(Self::Ecog)
            }
            // The MII onco module's nodes and metastases systems are published
            // under these URLs (without "onko-") in its FSH sources.
            "https://www.medizininformatik-initiative.de/fhir/ext/modul-onko/CodeSystem/mii-cs-verlauf-lymphknoten" => {
                Some(Self::OncoCourseNodes)
            }
            "https://www.medizininformatik-initiative.de/fhir/ext/modul-onko/CodeSystem/mii-cs-verlauf-fernmetastasen" => {
                Some(Self::OncoCourseMetastases)
            }
            _ => None,
        }
    }

    /// Short stable name used in stores and criteria.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Icd10Gm => "icd-10-gm",
            Self::Icd10Who => "icd-10",
            Self::IcdO3 => "icd-o-3",
            Self::Snomed => "snomed",
            Self::Loinc => "loinc",
            Self::Ops => "ops",
            Self::Atc => "atc",
            Self::RxNorm => "rxnorm",
            Self::Hgnc => "hgnc",
            Self::Tnm => "tnm",
            Self::Ecog => "ecog",
            Self::VitalStatus => "vital-status",
            Self::OncoCourse => "onko-verlauf",
            Self::OncoCourseTumour => "onko-verlauf-tumor",
            Self::OncoCourseNodes => "onko-verlauf-lymphknoten",
            Self::OncoCourseMetastases => "onko-verlauf-fernmetastasen",
            Self::Dcm => "dcm",
            Self::DicomBodyPart => "dicom-body-part",
            Self::DicomAttribute => "dicom-attribute",
            Self::Cytomorphology => "cytomorphology",
        }
    }

    /// Whether codes of this system may come from FHIR resources. The
    /// cytomorphology system may not (the cell ingest writes its facts), nor the DICOM
    /// systems ([`CodeSystem::Dcm`], [`CodeSystem::DicomBodyPart`],
    /// [`CodeSystem::DicomAttribute`]) may not: imaging facts are written by the
    /// node's DICOM ingest from the images themselves, and a FHIR resource
    /// claiming them would forge image facts.
    pub fn accepted_from_fhir(self) -> bool {
        !matches!(
            self,
            Self::Dcm | Self::DicomBodyPart | Self::DicomAttribute | Self::Cytomorphology
        )
    }

    /// Inverse of [`CodeSystem::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for CodeSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code in a known system.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Coding {
    /// The terminology.
    pub system: CodeSystem,
    /// The code, as the terminology writes it (e.g. `C92.0`, `718-7`, `HGNC:7910`).
    pub code: String,
}

impl Coding {
    /// Builds a coding.
    pub fn new(system: CodeSystem, code: impl Into<String>) -> Self {
        Self {
            system,
            code: code.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_names_round_trip() {
        for s in CodeSystem::ALL {
            assert_eq!(CodeSystem::from_uri(s.uri()), Some(s));
            assert_eq!(CodeSystem::from_name(s.as_str()), Some(s));
        }
        assert_eq!(CodeSystem::from_uri("http://example.org/codes"), None);
        assert_eq!(CodeSystem::Dcm.as_str(), "dcm");
        assert_eq!(
            CodeSystem::from_name("dicom-body-part"),
            Some(CodeSystem::DicomBodyPart)
        );
        assert!(
            !CodeSystem::DicomAttribute.accepted_from_fhir()
                && CodeSystem::Loinc.accepted_from_fhir()
        );
    }
}
