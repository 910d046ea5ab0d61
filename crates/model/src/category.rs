//! Data categories, purposes and security levels (requirement R7).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What kind of data a record is. Consent and security levels are decided per category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataCategory {
    /// Diagnoses, staging, labs, therapies, course: usable under the GDNG opt-out.
    Clinical,
    /// Molecular findings of a tumour (somatic variants, FHIR marker observations):
    /// need an explicit opt-in (R6).
    Genetic,
    /// Germline variants: inherited, present in every cell, they identify the person
    /// and tell about their relatives (seed §5.3). Need the genetic opt-in (R6) and
    /// are kept apart from somatic findings so that a project, a query and a
    /// consent decision name which of the two it touches.
    Germline,
    /// Radiology and other images (DICOM).
    Imaging,
    /// Histopathology and cytomorphology images.
    Pathology,
    /// Free-text reports and letters.
    Text,
}

impl DataCategory {
    /// Every category, in a stable order.
    pub const ALL: [DataCategory; 6] = [
        Self::Clinical,
        Self::Genetic,
        Self::Germline,
        Self::Imaging,
        Self::Pathology,
        Self::Text,
    ];

    /// The category's stable name on the wire and in stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clinical => "clinical",
            Self::Genetic => "genetic",
            Self::Germline => "germline",
            Self::Imaging => "imaging",
            Self::Pathology => "pathology",
            Self::Text => "text",
        }
    }

    /// The level a single record of this category has on its own, before linkage.
    ///
    /// Genetic data alone is level 3 (a somatic panel without clinical course); see
    /// [`SecurityLevel::of_dataset`] for the escalation when it is linked.
    pub fn intrinsic_level(self) -> SecurityLevel {
        match self {
            Self::Clinical | Self::Pathology | Self::Imaging | Self::Text => {
                SecurityLevel::Pseudonymised
            }
            Self::Genetic | Self::Germline => SecurityLevel::Genetic,
        }
    }

    /// Whether the category is genetic data (somatic or germline): the opt-in
    /// rules of R6 and the escalation of R7 apply to both.
    pub fn is_genetic(self) -> bool {
        matches!(self, Self::Genetic | Self::Germline)
    }
}

impl fmt::Display for DataCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DataCategory {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown data category '{s}': use one of clinical, genetic, germline, imaging, pathology, text"))
    }
}

/// Why data is used. Consent answers differ by purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// Counting patients who fit criteria, before an application (aggregates only).
    Feasibility,
    /// Scientific research within an approved project (GDPR Art. 9(2)(j)).
    Research,
}

impl Purpose {
    /// The purpose's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Feasibility => "feasibility",
            Self::Research => "research",
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Purpose {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "feasibility" => Ok(Self::Feasibility),
            "research" => Ok(Self::Research),
            _ => Err(format!(
                "unknown purpose '{s}': use feasibility or research"
            )),
        }
    }
}

/// Security level of a data set (R7, the scheme in `REQUIREMENTS.md`).
///
/// Each level decides the legal basis, the review needed and what may leave a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum SecurityLevel {
    /// 1: aggregates that passed disclosure control.
    Aggregate = 1,
    /// 2: pseudonymised clinical data, de-identified images (opt-out or broad consent).
    Pseudonymised = 2,
    /// 3: genetic data not linked to clinical course (opt-in).
    Genetic = 3,
    /// 4: genetic data linked to clinical course or patient characteristics (opt-in + committee).
    GeneticLinked = 4,
}

impl SecurityLevel {
    /// The level of a data set holding the given categories for the same patients.
    ///
    /// The maximum of the intrinsic levels, escalated to 4 when genetic data is
    /// linked to any other category (clinical course, images, ...), as R7 asks.
    pub fn of_dataset(categories: impl IntoIterator<Item = DataCategory>) -> Self {
        let mut genetic = false;
        let mut other = false;
        let mut level = Self::Aggregate;
        for c in categories {
            level = level.max(c.intrinsic_level());
            if c.is_genetic() {
                genetic = true;
            } else {
                other = true;
            }
        }
        if genetic && other {
            Self::GeneticLinked
        } else {
            level
        }
    }
}

impl From<SecurityLevel> for u8 {
    fn from(l: SecurityLevel) -> u8 {
        l as u8
    }
}

impl TryFrom<u8> for SecurityLevel {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            1 => Ok(Self::Aggregate),
            2 => Ok(Self::Pseudonymised),
            3 => Ok(Self::Genetic),
            4 => Ok(Self::GeneticLinked),
            _ => Err(format!("security level {v} does not exist: use 1-4")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genetic_linked_to_clinical_is_level_4() {
        use DataCategory::*;
        assert_eq!(
            SecurityLevel::of_dataset([Clinical]),
            SecurityLevel::Pseudonymised
        );
        assert_eq!(SecurityLevel::of_dataset([Genetic]), SecurityLevel::Genetic);
        assert_eq!(
            SecurityLevel::of_dataset([Genetic, Germline]),
            SecurityLevel::Genetic
        );
        assert_eq!(
            SecurityLevel::of_dataset([Germline, Imaging]),
            SecurityLevel::GeneticLinked
        );
        assert_eq!(
            SecurityLevel::of_dataset([Genetic, Clinical]),
            SecurityLevel::GeneticLinked
        );
        assert_eq!(SecurityLevel::of_dataset([]), SecurityLevel::Aggregate);
    }

    #[test]
    fn names_round_trip() {
        for c in DataCategory::ALL {
            assert_eq!(c.as_str().parse::<DataCategory>().unwrap(), c);
        }
    }
}
