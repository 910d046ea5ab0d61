//! The tumour entities the generator knows, with their codes and epidemiology.
//!
//! One table row per entity holds everything that differs between entities and is
//! not therapy logic: ICD-10-GM codes with their ICD-O-3 topography, morphologies,
//! sex and age mix, stage mix, the Weibull baseline of the survival model, and which
//! molecular markers are tested. Numbers are rounded figures in the range of German
//! cancer-registry reports (ZfKD) and the usual trial populations; they aim for
//! plausibility, not for any particular registry year.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A tumour entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Entity {
    /// Acute myeloid leukaemia.
    Aml,
    /// Chronic lymphocytic leukaemia.
    Cll,
    /// Diffuse large B-cell lymphoma.
    Dlbcl,
    /// Multiple myeloma.
    Myeloma,
    /// Breast cancer.
    Breast,
    /// Non-small-cell lung cancer.
    Nsclc,
    /// Colorectal cancer.
    Colorectal,
}

impl Entity {
    /// Every entity, in table order.
    pub const ALL: [Entity; 7] = [
        Self::Aml,
        Self::Cll,
        Self::Dlbcl,
        Self::Myeloma,
        Self::Breast,
        Self::Nsclc,
        Self::Colorectal,
    ];

    /// Stable short name (used in `cohort.csv`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aml => "aml",
            Self::Cll => "cll",
            Self::Dlbcl => "dlbcl",
            Self::Myeloma => "myeloma",
            Self::Breast => "breast",
            Self::Nsclc => "nsclc",
            Self::Colorectal => "colorectal",
        }
    }

    /// The entity's table row.
    pub fn spec(self) -> &'static EntitySpec {
        &ENTITIES[self as usize]
    }

    /// Whether TNM categories (T/N/M observations) apply: solid tumours only.
    pub fn is_solid(self) -> bool {
        matches!(self, Self::Breast | Self::Nsclc | Self::Colorectal)
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A molecular marker (gene, HGNC id, variant kind) the generator reports with LOINC 69548-6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Marker {
    /// NPM1 mutation.
    Npm1,
    /// FLT3 internal tandem duplication.
    Flt3Itd,
    /// TP53 mutation.
    Tp53,
    /// EGFR activating mutation.
    Egfr,
    /// KRAS mutation.
    Kras,
    /// BRAF (V600E) mutation.
    Braf,
    /// ERBB2 (HER2) amplification.
    Erbb2,
}

impl Marker {
    /// Every marker, in `cohort.csv` column order.
    pub const ALL: [Marker; 7] = [
        Self::Npm1,
        Self::Flt3Itd,
        Self::Tp53,
        Self::Egfr,
        Self::Kras,
        Self::Braf,
        Self::Erbb2,
    ];

    /// Column name in `cohort.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Npm1 => "npm1",
            Self::Flt3Itd => "flt3_itd",
            Self::Tp53 => "tp53",
            Self::Egfr => "egfr",
            Self::Kras => "kras",
            Self::Braf => "braf",
            Self::Erbb2 => "erbb2",
        }
    }

    /// HGNC id of the gene studied.
    pub fn hgnc(self) -> &'static str {
        match self {
            Self::Npm1 => "HGNC:7910",
            Self::Flt3Itd => "HGNC:3765",
            Self::Tp53 => "HGNC:11998",
            Self::Egfr => "HGNC:3236",
            Self::Kras => "HGNC:6407",
            Self::Braf => "HGNC:1097",
            Self::Erbb2 => "HGNC:3430",
        }
    }

    /// Gene symbol.
    pub fn gene(self) -> &'static str {
        match self {
            Self::Npm1 => "NPM1",
            Self::Flt3Itd => "FLT3",
            Self::Tp53 => "TP53",
            Self::Egfr => "EGFR",
            Self::Kras => "KRAS",
            Self::Braf => "BRAF",
            Self::Erbb2 => "ERBB2",
        }
    }

    /// Kind of alteration, written as the text of the DNA-change-type component.
    pub fn alteration(self) -> &'static str {
        match self {
            Self::Flt3Itd => "internal tandem duplication",
            Self::Erbb2 => "amplification",
            _ => "pathogenic variant",
        }
    }
}

/// A UICC / Ann Arbor style stage group, I–IV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Stage {
    /// Stage I.
    I = 1,
    /// Stage II.
    II = 2,
    /// Stage III.
    III = 3,
    /// Stage IV.
    IV = 4,
}

impl Stage {
    /// Stages in order.
    pub const ALL: [Stage; 4] = [Self::I, Self::II, Self::III, Self::IV];

    /// The stage group code (`I` … `IV`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::I => "I",
            Self::II => "II",
            Self::III => "III",
            Self::IV => "IV",
        }
    }

    /// 1 … 4, for the hazard model.
    pub fn number(self) -> u8 {
        self as u8
    }
}

/// One ICD-10-GM diagnosis code with its ICD-O-3 topography and a relative weight.
#[derive(Debug, Clone, Copy)]
pub struct Localisation {
    /// ICD-10-GM code, version independent (e.g. `C50.4`).
    pub icd10: &'static str,
    /// German display text.
    pub display: &'static str,
    /// ICD-O-3 topography (e.g. `C50.4`, `C42.1` bone marrow).
    pub topography: &'static str,
    /// Relative frequency within the entity.
    pub weight: f64,
}

/// Everything entity-specific that is not therapy logic.
#[derive(Debug, Clone)]
pub struct EntitySpec {
    /// The entity.
    pub entity: Entity,
    /// Relative share of the cohort (an oncology centre's case mix, not population incidence).
    pub weight: f64,
    /// Diagnosis codes.
    pub localisations: &'static [Localisation],
    /// ICD-O-3 morphologies (code, display, weight).
    pub morphologies: &'static [(&'static str, &'static str, f64)],
    /// Probability of male sex.
    pub p_male: f64,
    /// Mean and standard deviation of age at diagnosis, and the clamp range.
    pub age: (f64, f64, f64, f64),
    /// Stage distribution I–IV, or `None` when no stage group is reported (AML).
    pub stages: Option<[f64; 4]>,
    /// Weibull shape k of the survival model.
    pub weibull_shape: f64,
    /// Median survival in years of the reference patient (stage I or unstaged, age 60,
    /// ECOG 0, no adverse markers), which fixes the Weibull scale.
    pub reference_median_years: f64,
}

const fn loc(
    icd10: &'static str,
    display: &'static str,
    topography: &'static str,
    weight: f64,
) -> Localisation {
    Localisation {
        icd10,
        display,
        topography,
        weight,
    }
}

/// The entity table, indexed by `Entity as usize`.
pub static ENTITIES: [EntitySpec; 7] = [
    EntitySpec {
        entity: Entity::Aml,
        weight: 0.08,
        localisations: &[loc(
            "C92.0",
            "Akute myeloblastische Leukämie [AML]",
            "C42.1",
            1.0,
        )],
        morphologies: &[("9861/3", "Akute myeloische Leukämie o.n.A.", 1.0)],
        p_male: 0.55,
        age: (67.0, 14.0, 18.0, 95.0),
        stages: None,
        weibull_shape: 0.8,
        reference_median_years: 4.0,
    },
    EntitySpec {
        entity: Entity::Cll,
        weight: 0.10,
        localisations: &[loc(
            "C91.1",
            "Chronische lymphatische Leukämie vom B-Zell-Typ [CLL]",
            "C42.1",
            1.0,
        )],
        morphologies: &[("9823/3", "B-CLL/kleinzelliges lymphozytisches Lymphom", 1.0)],
        p_male: 0.62,
        age: (71.0, 10.0, 35.0, 98.0),
        stages: Some([0.55, 0.30, 0.15, 0.0]),
        weibull_shape: 1.3,
        reference_median_years: 22.0,
    },
    EntitySpec {
        entity: Entity::Dlbcl,
        weight: 0.12,
        localisations: &[loc(
            "C83.3",
            "Diffuses großzelliges B-Zell-Lymphom",
            "C77.9",
            1.0,
        )],
        morphologies: &[("9680/3", "Diffuses großzelliges B-Zell-Lymphom o.n.A.", 1.0)],
        p_male: 0.55,
        age: (67.0, 13.0, 18.0, 97.0),
        stages: Some([0.15, 0.22, 0.20, 0.43]),
        weibull_shape: 0.8,
        reference_median_years: 60.0,
    },
    EntitySpec {
        entity: Entity::Myeloma,
        weight: 0.10,
        localisations: &[loc("C90.0", "Multiples Myelom", "C42.1", 1.0)],
        morphologies: &[("9732/3", "Multiples Myelom", 1.0)],
        p_male: 0.56,
        age: (70.0, 10.0, 35.0, 97.0),
        stages: Some([0.30, 0.40, 0.30, 0.0]),
        weibull_shape: 1.2,
        reference_median_years: 18.0,
    },
    EntitySpec {
        entity: Entity::Breast,
        weight: 0.22,
        localisations: &[
            loc(
                "C50.4",
                "Bösartige Neubildung: Oberer äußerer Quadrant der Brustdrüse",
                "C50.4",
                0.45,
            ),
            loc(
                "C50.2",
                "Bösartige Neubildung: Oberer innerer Quadrant der Brustdrüse",
                "C50.2",
                0.15,
            ),
            loc(
                "C50.8",
                "Bösartige Neubildung: Brustdrüse, mehrere Teilbereiche überlappend",
                "C50.8",
                0.20,
            ),
            loc(
                "C50.9",
                "Bösartige Neubildung: Brustdrüse, nicht näher bezeichnet",
                "C50.9",
                0.20,
            ),
        ],
        morphologies: &[("8500/3", "Invasives duktales Karzinom o.n.A.", 1.0)],
        p_male: 0.01,
        age: (64.0, 13.0, 25.0, 97.0),
        stages: Some([0.40, 0.35, 0.15, 0.10]),
        weibull_shape: 1.1,
        reference_median_years: 35.0,
    },
    EntitySpec {
        entity: Entity::Nsclc,
        weight: 0.20,
        localisations: &[
            loc(
                "C34.1",
                "Bösartige Neubildung: Oberlappen (-Bronchus)",
                "C34.1",
                0.55,
            ),
            loc(
                "C34.3",
                "Bösartige Neubildung: Unterlappen (-Bronchus)",
                "C34.3",
                0.30,
            ),
            loc(
                "C34.9",
                "Bösartige Neubildung: Bronchus oder Lunge, nicht näher bezeichnet",
                "C34.9",
                0.15,
            ),
        ],
        morphologies: &[
            ("8140/3", "Adenokarzinom o.n.A.", 0.65),
            ("8070/3", "Plattenepithelkarzinom o.n.A.", 0.35),
        ],
        p_male: 0.60,
        age: (69.0, 10.0, 30.0, 95.0),
        stages: Some([0.20, 0.08, 0.22, 0.50]),
        weibull_shape: 0.9,
        reference_median_years: 18.0,
    },
    EntitySpec {
        entity: Entity::Colorectal,
        weight: 0.18,
        localisations: &[
            loc(
                "C18.7",
                "Bösartige Neubildung: Colon sigmoideum",
                "C18.7",
                0.30,
            ),
            loc("C18.0", "Bösartige Neubildung: Zäkum", "C18.0", 0.15),
            loc(
                "C18.2",
                "Bösartige Neubildung: Colon ascendens",
                "C18.2",
                0.20,
            ),
            loc("C20", "Bösartige Neubildung des Rektums", "C20.9", 0.35),
        ],
        morphologies: &[("8140/3", "Adenokarzinom o.n.A.", 1.0)],
        p_male: 0.56,
        age: (70.0, 11.0, 25.0, 97.0),
        stages: Some([0.20, 0.27, 0.30, 0.23]),
        weibull_shape: 1.0,
        reference_median_years: 25.0,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_entity() {
        for e in Entity::ALL {
            assert_eq!(e.spec().entity, e);
            assert!(!e.spec().localisations.is_empty() && !e.spec().morphologies.is_empty());
        }
    }
}
