//! The vocabulary of cytomorphology (issue 15; seed §5.1): the classes an
//! expert assigns to a single cell in a bone-marrow or blood smear, and the
//! specimen a smear comes from. One closed list shared by ingest, synthetic
//! data, expert validation and the models, so that "myeloblast" means the same
//! at every site and in every label set.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A haematopoietic cell class (the leukocyte differential plus the nucleated
/// red cell precursors), and the few non-leukocyte labels real annotated data
/// sets carry. Serialised in kebab-case (`segmented-neutrophil`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CellClass {
    /// Myeloblast: large nucleus, fine chromatin, nucleoli, scant basophilic
    /// cytoplasm, sometimes Auer rods. The blast percentage counts these.
    Myeloblast,
    /// Promyelocyte: large, eccentric nucleus, abundant azurophilic granules.
    Promyelocyte,
    /// Myelocyte: round nucleus, coarser chromatin, pinkish granular cytoplasm.
    Myelocyte,
    /// Segmented (mature) neutrophil: 3–5 nuclear lobes, pale pink cytoplasm.
    SegmentedNeutrophil,
    /// Lymphocyte: small, round dense nucleus, thin blue cytoplasm rim.
    Lymphocyte,
    /// Monocyte: large, folded or kidney-shaped nucleus, grey-blue cytoplasm.
    Monocyte,
    /// Eosinophil: bilobed nucleus, coarse orange-red granules.
    Eosinophil,
    /// Basophil: nucleus obscured by coarse dark-purple granules.
    Basophil,
    /// Erythroblast (normoblast): small round very dense nucleus, blue to
    /// grey-pink cytoplasm.
    Erythroblast,
    /// A white blood cell whose type was not determined (e.g. the BCCD data
    /// set's `WBC` boxes).
    Leukocyte,
    /// A mature red cell.
    Erythrocyte,
    /// A platelet (thrombocyte).
    Platelet,
    /// Anything else an expert sees (artefact, smudge cell, unclassifiable).
    Other,
}

impl CellClass {
    /// Every class, in the order above.
    pub const ALL: [CellClass; 13] = [
        Self::Myeloblast,
        Self::Promyelocyte,
        Self::Myelocyte,
        Self::SegmentedNeutrophil,
        Self::Lymphocyte,
        Self::Monocyte,
        Self::Eosinophil,
        Self::Basophil,
        Self::Erythroblast,
        Self::Leukocyte,
        Self::Erythrocyte,
        Self::Platelet,
        Self::Other,
    ];

    /// The eight classes of the leukaemia differential the models learn
    /// (issue 15, item 2), in a fixed order (a model's output index).
    pub const DIFFERENTIAL: [CellClass; 8] = [
        Self::Myeloblast,
        Self::Promyelocyte,
        Self::Myelocyte,
        Self::SegmentedNeutrophil,
        Self::Lymphocyte,
        Self::Monocyte,
        Self::Eosinophil,
        Self::Erythroblast,
    ];

    /// The kebab-case code (`segmented-neutrophil`), as in manifests and JSON.
    pub fn code(self) -> &'static str {
        match self {
            Self::Myeloblast => "myeloblast",
            Self::Promyelocyte => "promyelocyte",
            Self::Myelocyte => "myelocyte",
            Self::SegmentedNeutrophil => "segmented-neutrophil",
            Self::Lymphocyte => "lymphocyte",
            Self::Monocyte => "monocyte",
            Self::Eosinophil => "eosinophil",
            Self::Basophil => "basophil",
            Self::Erythroblast => "erythroblast",
            Self::Leukocyte => "leukocyte",
            Self::Erythrocyte => "erythrocyte",
            Self::Platelet => "platelet",
            Self::Other => "other",
        }
    }

    /// Whether the class counts as a blast in the blast percentage (WHO: myeloblasts;
    /// promyelocytes count as blast equivalents only in APL, which the
    /// percentage here does not model).
    pub fn is_blast(self) -> bool {
        self == Self::Myeloblast
    }

    /// Whether the class is a nucleated cell of the differential (the blast
    /// percentage's denominator): everything but red cells, platelets and `other`.
    pub fn is_nucleated(self) -> bool {
        !matches!(self, Self::Erythrocyte | Self::Platelet | Self::Other)
    }
}

impl fmt::Display for CellClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A text that names no [`CellClass`] or [`Specimen`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {text:?}: expected one of {expected}")]
pub struct UnknownCode {
    what: &'static str,
    text: String,
    expected: String,
}

impl FromStr for CellClass {
    type Err = UnknownCode;
    /// Accepts the code, case-insensitively, with `_` or ` ` for `-`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        Self::ALL
            .into_iter()
            .find(|c| c.code() == norm)
            .ok_or_else(|| UnknownCode {
                what: "cell class",
                text: s.to_string(),
                expected: Self::ALL.map(Self::code).join(", "),
            })
    }
}

/// Where a smear's cells come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Specimen {
    /// Bone-marrow aspirate smear.
    BoneMarrow,
    /// Peripheral blood smear.
    PeripheralBlood,
}

impl Specimen {
    /// The kebab-case code (`bone-marrow`, `peripheral-blood`).
    pub fn code(self) -> &'static str {
        match self {
            Self::BoneMarrow => "bone-marrow",
            Self::PeripheralBlood => "peripheral-blood",
        }
    }
}

impl fmt::Display for Specimen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Specimen {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['_', ' '], "-")
            .as_str()
        {
            "bone-marrow" => Ok(Self::BoneMarrow),
            "peripheral-blood" | "blood" => Ok(Self::PeripheralBlood),
            _ => Err(UnknownCode {
                what: "specimen",
                text: s.to_string(),
                expected: "bone-marrow, peripheral-blood".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_text_and_json() {
        for c in CellClass::ALL {
            assert_eq!(c.code().parse::<CellClass>().unwrap(), c);
            let json = serde_json_like(c.code());
            assert_eq!(json, format!("\"{}\"", c.code()));
        }
        assert_eq!(
            "Segmented_Neutrophil".parse::<CellClass>().unwrap(),
            CellClass::SegmentedNeutrophil
        );
        let err = "blastoid".parse::<CellClass>().unwrap_err().to_string();
        assert!(
            err.contains("blastoid") && err.contains("myeloblast"),
            "{err}"
        );
        assert_eq!(
            "Bone marrow".parse::<Specimen>().unwrap(),
            Specimen::BoneMarrow
        );
        assert!("urine".parse::<Specimen>().is_err());
    }

    fn serde_json_like(code: &str) -> String {
        format!("\"{code}\"")
    }

    #[test]
    fn the_differential_has_eight_nucleated_classes_and_one_blast() {
        assert!(CellClass::DIFFERENTIAL.iter().all(|c| c.is_nucleated()));
        assert_eq!(
            CellClass::DIFFERENTIAL
                .iter()
                .filter(|c| c.is_blast())
                .count(),
            1
        );
    }
}
