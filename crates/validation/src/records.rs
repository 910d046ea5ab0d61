//! The records of expert validation and the annotation set built from them.

use crate::ValidationError;
use chrono::{DateTime, Utc};
use oncofed_model::CellClass;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// One expert's label of one cell (a row of the annotations CSV,
/// `cell_id,expert,label,at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// The cell, as in the batch's `cells.csv`.
    pub cell_id: String,
    /// The expert's name (`dr-a`); see [`check_name`].
    pub expert: String,
    /// The class the expert assigned.
    pub label: CellClass,
    /// When the expert labelled it; a later label by the same expert replaces
    /// an earlier one.
    pub at: DateTime<Utc>,
}

/// An adjudicator's decision on a disputed cell (a row of the adjudications
/// CSV, `cell_id,adjudicator,label,at,note`). It overrides the annotators'
/// labels; the adjudicator must not be one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjudication {
    /// The cell.
    pub cell_id: String,
    /// Who decided (an expert name, see [`check_name`]).
    pub adjudicator: String,
    /// The decided class (need not be one the annotators proposed).
    pub label: CellClass,
    /// When; the latest adjudication of a cell counts.
    pub at: DateTime<Utc>,
    /// Free-text reasoning (may be empty); never put patient data here.
    pub note: String,
}

/// How a validated label came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Every annotator gave this label.
    Consensus,
    /// More than half of the annotators gave this label (rule `majority`).
    Majority,
    /// An adjudicator decided.
    Adjudicated,
}

impl Method {
    /// The code in the validated-set CSV.
    pub fn code(self) -> &'static str {
        match self {
            Self::Consensus => "consensus",
            Self::Majority => "majority",
            Self::Adjudicated => "adjudicated",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "consensus" => Ok(Self::Consensus),
            "majority" => Ok(Self::Majority),
            "adjudicated" => Ok(Self::Adjudicated),
            other => Err(format!(
                "unknown method {other:?}: expected consensus, majority or adjudicated"
            )),
        }
    }
}

/// A label fit for training and evaluation, with its provenance (a row of the
/// validated-set CSV, `cell_id,label,method,experts,agreement,adjudicator,at`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidatedLabel {
    /// The cell.
    pub cell_id: String,
    /// The validated class.
    pub label: CellClass,
    /// Consensus, majority or adjudication.
    pub method: Method,
    /// The experts who annotated the cell, sorted (`;`-separated in the CSV).
    pub experts: Vec<String>,
    /// The share of those experts whose label equals `label` (1 for consensus;
    /// for an adjudicated cell, how many annotators the adjudicator sided with).
    pub agreement: f64,
    /// Who adjudicated, for `method = adjudicated`.
    pub adjudicator: Option<String>,
    /// When the label became final: the adjudication, or the cell's latest
    /// annotation.
    pub at: DateTime<Utc>,
}

/// A cell's true class from synthetic data (`ground-truth/cells-<site>.csv`,
/// `smear_id,cell_id,true_label,person_id,entity`; only the cell and its class
/// are kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthCell {
    /// The cell.
    pub cell_id: String,
    /// Its true class.
    pub class: CellClass,
}

/// Checks an expert or adjudicator name: non-empty, no surrounding blanks, no
/// control characters, no `;` (the validated set joins names with it) or `,`.
/// Returns the problem as text.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.trim() != name {
        return Err("leading or trailing blanks".into());
    }
    if name.chars().any(|c| c.is_control() || c == ';' || c == ',') {
        return Err("contains a control character, ';' or ','".into());
    }
    Ok(())
}

/// The annotations by cell and expert: for each cell (in id order) the label
/// of each expert (in name order). An expert who labelled a cell more than
/// once is counted once, with the latest label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnotationSet {
    cells: BTreeMap<String, BTreeMap<String, Annotation>>,
}

impl AnnotationSet {
    /// Builds the set; fails when an expert gave one cell two different labels
    /// at the same instant.
    pub fn new(annotations: impl IntoIterator<Item = Annotation>) -> Result<Self, ValidationError> {
        let mut cells: BTreeMap<String, BTreeMap<String, Annotation>> = BTreeMap::new();
        for a in annotations {
            let by_expert = cells.entry(a.cell_id.clone()).or_default();
            match by_expert.get(&a.expert) {
                Some(old) if old.at > a.at => {}
                Some(old) if old.at == a.at && old.label != a.label => {
                    return Err(ValidationError::ConflictingAnnotations {
                        cell_id: a.cell_id,
                        expert: a.expert,
                        at: a.at.to_rfc3339(),
                    });
                }
                _ => {
                    by_expert.insert(a.expert.clone(), a);
                }
            }
        }
        Ok(Self { cells })
    }

    /// The cells in id order, each with its annotations in expert order.
    pub fn cells(&self) -> impl Iterator<Item = (&str, &BTreeMap<String, Annotation>)> {
        self.cells.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The annotations of one cell by expert, if any expert labelled it.
    pub fn cell(&self, cell_id: &str) -> Option<&BTreeMap<String, Annotation>> {
        self.cells.get(cell_id)
    }

    /// How many cells at least one expert labelled.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether no cell was labelled.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Every expert, in name order.
    pub fn experts(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .cells
            .values()
            .flat_map(|m| m.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// How many (cell, expert) labels count (after replacing earlier ones).
    pub fn annotation_count(&self) -> usize {
        self.cells.values().map(BTreeMap::len).sum()
    }
}
