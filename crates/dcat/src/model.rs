//! What the catalogue says: the federation, and one dataset per site and data
//! category with figures that already passed disclosure control.

use crate::vocab::{self, Concept};
use chrono::{DateTime, Utc};
use oncofed_model::{CodeSystem, DataCategory, SecurityLevel, SiteId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The published catalogue: what the hub keeps and renders (HTML, Turtle,
/// JSON-LD). Every number in it was released under disclosure control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalogue {
    /// The federation's name (the catalogue's publisher), e.g. "OncoFed".
    pub publisher: String,
    /// When this catalogue was published (`dct:modified`).
    pub modified: DateTime<Utc>,
    /// One dataset per site and category, ordered by site then category.
    pub datasets: Vec<Dataset>,
}

/// The data of one data category at one site (`dcat:Dataset`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// The site holding the data (the dataset's publisher).
    pub site: SiteId,
    /// The data category (R6).
    pub category: DataCategory,
    /// The category's security level (R7, [`DataCategory::intrinsic_level`]).
    pub level: SecurityLevel,
    /// Persons with data of the category whose consent permits research use,
    /// released (noised, rounded, at least the threshold): HealthDCAT-AP's
    /// `numberOfUniqueIndividuals`. A category whose count was suppressed is not
    /// a dataset of the catalogue at all.
    pub persons: u64,
    /// Records (facts, images, variant calls, smears) of those persons, released
    /// the same way (`numberOfRecords`); `None` when withheld.
    pub records: Option<u64>,
    /// The years the data cover (`dct:temporal`), `None` when unknown or withheld.
    pub coverage: Option<YearSpan>,
    /// The coding systems the data use.
    pub coding_systems: BTreeSet<CodingSystem>,
}

/// A span of whole years, first to last inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearSpan {
    /// The first year.
    pub first: i32,
    /// The last year (not before `first`).
    pub last: i32,
}

impl YearSpan {
    /// The span, `None` when `last < first` or either is outside 1900–2200.
    pub fn new(first: i32, last: i32) -> Option<Self> {
        let plausible = |y: i32| (1900..=2200).contains(&y);
        (plausible(first) && plausible(last) && first <= last).then_some(Self { first, last })
    }
}

/// A coding system (terminology, classification or nomenclature) used by a
/// dataset. Those with a concept in HealthData@EU's coding-system list become
/// `healthdcatap:hasCodingSystem`; the others are named in the keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodingSystem {
    /// ICD-10-GM (German modification; `ICD-10-NAT`, a national ICD-10).
    Icd10Gm,
    /// ICD-10 WHO.
    Icd10Who,
    /// ICD-O-3.
    IcdO3,
    /// SNOMED CT.
    Snomed,
    /// LOINC.
    Loinc,
    /// OPS, the German procedure classification.
    Ops,
    /// ATC.
    Atc,
    /// RxNorm.
    RxNorm,
    /// HGNC gene ids and symbols.
    Hgnc,
    /// HGVS variant nomenclature (no concept in the code list).
    Hgvs,
    /// DICOM (PS3.16 controlled terminology, defined terms, attributes).
    Dicom,
    /// UICC TNM (no concept in the code list).
    Tnm,
    /// ECOG performance status (no concept in the code list).
    Ecog,
    /// The MII oncology module's code systems: vital status and course
    /// assessments (no concept in the code list).
    MiiOncology,
    /// OncoFed's local cytomorphology codes (no concept in the code list).
    Cytomorphology,
}

impl From<CodeSystem> for CodingSystem {
    fn from(s: CodeSystem) -> Self {
        match s {
            CodeSystem::Icd10Gm => Self::Icd10Gm,
            CodeSystem::Icd10Who => Self::Icd10Who,
            CodeSystem::IcdO3 => Self::IcdO3,
            CodeSystem::Snomed => Self::Snomed,
            CodeSystem::Loinc => Self::Loinc,
            CodeSystem::Ops => Self::Ops,
            CodeSystem::Atc => Self::Atc,
            CodeSystem::RxNorm => Self::RxNorm,
            CodeSystem::Hgnc => Self::Hgnc,
            CodeSystem::Tnm => Self::Tnm,
            CodeSystem::Ecog => Self::Ecog,
            CodeSystem::VitalStatus
            | CodeSystem::OncoCourse
            | CodeSystem::OncoCourseTumour
            | CodeSystem::OncoCourseNodes
            | CodeSystem::OncoCourseMetastases => Self::MiiOncology,
            CodeSystem::Dcm | CodeSystem::DicomBodyPart | CodeSystem::DicomAttribute => Self::Dicom,
            CodeSystem::Cytomorphology => Self::Cytomorphology,
        }
    }
}

impl CodingSystem {
    /// The code of HealthData@EU's coding-system list, when it has one.
    pub fn code(self) -> Option<&'static str> {
        Some(match self {
            Self::Icd10Gm => "ICD-10-NAT",
            Self::Icd10Who => "ICD-10",
            Self::IcdO3 => "ICD-O",
            Self::Snomed => "SNOMED-CT",
            Self::Loinc => "LOINC",
            Self::Ops => "OPS",
            Self::Atc => "ATC",
            Self::RxNorm => "RXNORM",
            Self::Hgnc => "HGNC",
            Self::Dicom => "DICOM-CT",
            Self::Hgvs | Self::Tnm | Self::Ecog | Self::MiiOncology | Self::Cytomorphology => {
                return None;
            }
        })
    }

    /// The system's usual name (also its keyword).
    pub fn name(self) -> &'static str {
        match self {
            Self::Icd10Gm => "ICD-10-GM",
            Self::Icd10Who => "ICD-10",
            Self::IcdO3 => "ICD-O-3",
            Self::Snomed => "SNOMED CT",
            Self::Loinc => "LOINC",
            Self::Ops => "OPS",
            Self::Atc => "ATC",
            Self::RxNorm => "RxNorm",
            Self::Hgnc => "HGNC",
            Self::Hgvs => "HGVS",
            Self::Dicom => "DICOM",
            Self::Tnm => "UICC TNM",
            Self::Ecog => "ECOG",
            Self::MiiOncology => "MII Onkologie",
            Self::Cytomorphology => "OncoFed cytomorphology",
        }
    }
}

/// A text in German and English (the portal's two languages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bilingual {
    /// German.
    pub de: &'static str,
    /// English.
    pub en: &'static str,
}

/// One variable (column) of a structured category, for `healthdcatap:hasVariables`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    /// Column name in the harmonised model.
    pub name: &'static str,
    /// CSVW datatype (`string`, `date`, `decimal`, `integer`, `anyURI`).
    pub datatype: &'static str,
    /// What it holds.
    pub about: Bilingual,
}

/// What the catalogue says about a data category, independent of the site.
#[derive(Debug, Clone, Copy)]
pub struct CategoryText {
    /// The category's name.
    pub name: Bilingual,
    /// What it holds.
    pub about: Bilingual,
    /// Keywords beyond the category's name.
    pub keywords: &'static [Bilingual],
    /// HealthData@EU health categories (EHDS Article 51).
    pub health: &'static [Concept],
    /// The harmonised table of a structured category; `None` for images and texts.
    pub table: Option<(&'static str, &'static [Variable])>,
}

const fn bi(de: &'static str, en: &'static str) -> Bilingual {
    Bilingual { de, en }
}

const fn var(
    name: &'static str,
    datatype: &'static str,
    de: &'static str,
    en: &'static str,
) -> Variable {
    Variable {
        name,
        datatype,
        about: bi(de, en),
    }
}

const FACT_TABLE: &[Variable] = &[
    var(
        "kind",
        "string",
        "Art des Fakts (Diagnose, Befund, Prozedur, Therapie, Verlauf)",
        "Kind of fact (diagnosis, observation, procedure, therapy, course)",
    ),
    var(
        "system",
        "anyURI",
        "Kodiersystem des Codes",
        "Code system of the code",
    ),
    var(
        "code",
        "string",
        "Code (z. B. ICD-10-GM, LOINC, OPS, ATC)",
        "Code (e.g. ICD-10-GM, LOINC, OPS, ATC)",
    ),
    var(
        "value",
        "string",
        "Wert (Zahl mit Einheit oder Code)",
        "Value (number with unit, or a code)",
    ),
    var("start_date", "date", "Datum oder Beginn", "Date or start"),
    var("end_date", "date", "Ende (Therapien)", "End (therapies)"),
];

const VARIANT_TABLE: &[Variable] = &[
    var("gene", "string", "Gensymbol (HGNC)", "Gene symbol (HGNC)"),
    var(
        "hgvs_c",
        "string",
        "Variante auf cDNA-Ebene (HGVS)",
        "Variant at cDNA level (HGVS)",
    ),
    var(
        "hgvs_p",
        "string",
        "Variante auf Proteinebene (HGVS)",
        "Variant at protein level (HGVS)",
    ),
    var("chrom", "string", "Chromosom", "Chromosome"),
    var(
        "pos",
        "integer",
        "Position (GRCh37 oder GRCh38)",
        "Position (GRCh37 or GRCh38)",
    ),
    var("ref", "string", "Referenzallel", "Reference allele"),
    var("alt", "string", "Alternatives Allel", "Alternate allele"),
    var(
        "vaf",
        "decimal",
        "Allelfrequenz der Variante in der Probe",
        "Variant allele frequency in the sample",
    ),
    var("collected", "date", "Datum der Probe", "Date of the sample"),
];

/// The catalogue's texts for `category`.
pub fn category_text(category: DataCategory) -> CategoryText {
    match category {
        DataCategory::Clinical => CategoryText {
            name: bi("Klinische Daten", "Clinical data"),
            about: bi(
                "Diagnosen, Staging, Laborwerte, Therapien und Verlauf onkologischer Patientinnen und Patienten im harmonisierten Modell (oBDS, MII-Kerndatensatz).",
                "Diagnoses, staging, laboratory values, therapies and course of oncology patients in the harmonised model (oBDS, MII core data set).",
            ),
            keywords: {
                const K: &[Bilingual] =
                    &[bi("Diagnosen", "diagnoses"), bi("Therapien", "therapies")];
                K
            },
            health: &[vocab::EHRS],
            table: Some(("fact", FACT_TABLE)),
        },
        DataCategory::Genetic => CategoryText {
            name: bi("Somatische Tumorgenetik", "Somatic tumour genetics"),
            about: bi(
                "Somatische Varianten und molekulare Marker von Tumoren (Panel-, Exom- und Genomsequenzierung).",
                "Somatic variants and molecular markers of tumours (panel, exome and genome sequencing).",
            ),
            keywords: {
                const K: &[Bilingual] = &[
                    bi("Tumorgenetik", "tumour genetics"),
                    bi("Varianten", "variants"),
                ];
                K
            },
            health: &[vocab::HGPD],
            table: Some(("variant_call", VARIANT_TABLE)),
        },
        DataCategory::Germline => CategoryText {
            name: bi("Keimbahnvarianten", "Germline variants"),
            about: bi(
                "Vererbte Varianten (Keimbahn); nur mit ausdrücklicher Einwilligung in die Nutzung genetischer Daten.",
                "Inherited (germline) variants; only with explicit consent to the use of genetic data.",
            ),
            keywords: {
                const K: &[Bilingual] = &[bi("Keimbahn", "germline"), bi("Varianten", "variants")];
                K
            },
            health: &[vocab::HGPD],
            table: Some(("variant_call", VARIANT_TABLE)),
        },
        DataCategory::Imaging => CategoryText {
            name: bi("Bildgebung", "Imaging"),
            about: bi(
                "De-identifizierte radiologische Bilder (DICOM, PS3.15 Anhang E).",
                "De-identified radiology images (DICOM, PS3.15 Annex E).",
            ),
            keywords: {
                const K: &[Bilingual] = &[bi("Radiologie", "radiology"), bi("Bilddaten", "images")];
                K
            },
            health: &[vocab::EHRS],
            table: None,
        },
        DataCategory::Pathology => CategoryText {
            name: bi(
                "Pathologie und Zytomorphologie",
                "Pathology and cytomorphology",
            ),
            about: bi(
                "Histopathologische und zytomorphologische Bilder (Ausstriche, Einzelzellbilder) mit ihren Befunden.",
                "Histopathology and cytomorphology images (smears, single-cell images) with their findings.",
            ),
            keywords: {
                const K: &[Bilingual] = &[
                    bi("Pathologie", "pathology"),
                    bi("Zytomorphologie", "cytomorphology"),
                ];
                K
            },
            health: &[vocab::EHRS],
            table: None,
        },
        DataCategory::Text => CategoryText {
            name: bi("Befundtexte", "Report texts"),
            about: bi(
                "Freitextbefunde und Arztbriefe.",
                "Free-text reports and letters.",
            ),
            keywords: {
                const K: &[Bilingual] = &[bi("Befunde", "reports")];
                K
            },
            health: &[vocab::EHRS],
            table: None,
        },
    }
}
