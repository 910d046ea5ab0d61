//! The `cytology` leaf: "a bone-marrow smear with at least 20 % blasts".

use chrono::NaiveDate;
use oncofed_model::{CellClass, Specimen};
use serde::{Deserialize, Serialize};

/// `{"cytology": {"specimen": "bone-marrow", "blast_percent_min": 20, "class": "myeloblast", "from": ..., "to": ...}}`:
/// the patient has a smear of `specimen` (any specimen when absent) collected
/// within `from..=to` whose per-smear facts (kind `observation`, system
/// `cytomorphology`, modifier the specimen; written by the node's cell ingest
/// and recounted when labels change) satisfy the bounds:
///
/// - `blast_percent_min` / `blast_percent_max` (inclusive, whole percent 0–100):
///   the smear's `blast-percentage` fact (myeloblasts / nucleated cells × 100,
///   over the cells with a label) lies within them; a smear without classified
///   nucleated cells has no blast percentage and never matches a bound;
/// - `class`: the smear's count of that cell class is at least 1.
///
/// With neither, any smear of the specimen matches. The blast bound and the class
/// are matched on the patient's smears independently (both may come from
/// different smears of the patient), as `diagnosis` matches its morphology.
/// Smears without a collection date never match a date bound. Touches pathology
/// data.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CytologyCriterion {
    /// Bone marrow or peripheral blood; any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specimen: Option<Specimen>,
    /// Lowest blast percentage (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blast_percent_min: Option<u32>,
    /// Highest blast percentage (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blast_percent_max: Option<u32>,
    /// A cell class the smear must contain at least once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<CellClass>,
    /// Earliest collection date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Latest collection date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

impl CytologyCriterion {
    /// The code of the per-smear blast percentage fact.
    pub const BLAST_PERCENTAGE: &'static str = "blast-percentage";
    /// The code of the per-smear count of nucleated cells with a label (every
    /// smear has it, so it stands for "has a smear").
    pub const NUCLEATED_CELLS: &'static str = "nucleated-cells";
    /// The code of the per-smear count of cells without any label.
    pub const UNCLASSIFIED_CELLS: &'static str = "unclassified-cells";
}
