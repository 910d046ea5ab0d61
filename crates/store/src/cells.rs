//! Rows of the cytomorphology modality (issue 15): smears, single-cell images
//! and the labels experts, adjudicators and models give them.
//!
//! The pixels live in the node's content-addressed object store; the research
//! store holds what points to them. Every id here is a keyed digest the node
//! derived from the lab's ids (a lab's smear or cell number could identify a
//! person at the lab), never the lab's own id.

use crate::StoreError;
use crate::columns;
use chrono::{DateTime, NaiveDate, Utc};
use oncofed_model::{CellClass, Pseudonym, Specimen};
use serde::Serialize;

/// One smear (a slide of a bone-marrow aspirate or peripheral blood) of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmearRow {
    /// The site's keyed id of the smear (primary key).
    pub smear_key: String,
    /// The person's site pseudonym; the patient must exist or be in the same batch.
    pub pseudonym: Pseudonym,
    /// Where the cells come from.
    pub specimen: Specimen,
    /// The stain, e.g. `May-Grünwald-Giemsa` (colour differs between stains).
    pub stain: String,
    /// The scanner or microscope and camera (a source of site shift).
    pub scanner: String,
    /// The objective's magnification, e.g. `100x`.
    pub magnification: String,
    /// The day the smear was taken, on the clock of the person's clinical facts.
    pub collected: Option<NaiveDate>,
}

/// One single-cell image of a smear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CellRow {
    /// The site's keyed id of the cell (primary key).
    pub cell_key: String,
    /// The smear it belongs to (must exist or be in the same batch).
    pub smear_key: String,
    /// The content address of its metadata-free PNG in the object store.
    pub object_key: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The class the submitting lab gave, if any.
    pub lab_label: Option<CellClass>,
}

/// Who gave a cell label, which decides how training and the smear facts use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelRole {
    /// One expert's reading (R14: two or more per cell).
    Expert,
    /// The adjudicator's reading of a disagreement.
    Adjudicator,
    /// The validated label (consensus, majority or adjudicated): what training and
    /// evaluation use.
    Validated,
    /// A model's prediction (inference at the site).
    Model,
}

impl LabelRole {
    /// The stable name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expert => "expert",
            Self::Adjudicator => "adjudicator",
            Self::Validated => "validated",
            Self::Model => "model",
        }
    }

    /// Inverse of [`LabelRole::as_str`].
    pub fn from_name(s: &str) -> Option<Self> {
        [
            Self::Expert,
            Self::Adjudicator,
            Self::Validated,
            Self::Model,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// One label of one cell. A cell holds at most one label per (role, expert):
/// writing again replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CellLabelRow {
    /// The cell (must exist or be in the same batch).
    pub cell_key: String,
    /// Who: an expert's name (`dr-a`), the adjudicator, the validation method's
    /// name for a validated label, or a model's registry id.
    pub expert: String,
    /// The class.
    pub label: CellClass,
    /// Which kind of label this is.
    pub role: LabelRole,
    /// How it was reached (`consensus`, `majority`, `adjudicated`, a model
    /// version), if that applies.
    pub method: Option<String>,
    /// When it was given.
    pub at: DateTime<Utc>,
}

/// A cell with its smear and the label training uses: the validated one, or
/// none (an unvalidated cell is not ground truth).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CellListing {
    /// The smear (with its person's pseudonym).
    pub smear: SmearRow,
    /// The cell.
    pub cell: CellRow,
    /// The newest validated label.
    pub validated: Option<CellClass>,
}

/// Cell counts for the quality report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CellStats {
    /// Smears.
    pub smears: u64,
    /// Cells.
    pub cells: u64,
    /// Labels of every role.
    pub labels: u64,
    /// Cells per smear key, in key order.
    pub cells_per_smear: Vec<(String, u64)>,
}

/// Reads a stored specimen code.
pub(crate) fn specimen(text: &str) -> Result<Specimen, StoreError> {
    text.parse()
        .map_err(|_| columns::corrupt("smear.specimen", format!("unknown specimen {text:?}")))
}

/// Reads a stored cell class code.
pub(crate) fn class(column: &'static str, text: &str) -> Result<CellClass, StoreError> {
    text.parse()
        .map_err(|_| columns::corrupt(column, format!("unknown cell class {text:?}")))
}

/// Reads a stored label role.
pub(crate) fn role(text: &str) -> Result<LabelRole, StoreError> {
    LabelRole::from_name(text)
        .ok_or_else(|| columns::corrupt("cell_label.role", format!("unknown role {text:?}")))
}

/// Reads a stored pixel count.
pub(crate) fn pixels(column: &'static str, n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| columns::corrupt(column, format!("{n} is not a pixel count")))
}

/// Reads a stored date.
pub(crate) fn date(
    column: &'static str,
    text: Option<String>,
) -> Result<Option<NaiveDate>, StoreError> {
    text.map(|t| {
        NaiveDate::parse_from_str(&t, "%Y-%m-%d")
            .map_err(|_| columns::corrupt(column, format!("{t:?} is not a date")))
    })
    .transpose()
}

/// The columns of a smear row as stored.
pub(crate) const SMEAR_COLUMNS: &str =
    "s.smear_key, s.psn, s.specimen, s.stain, s.scanner, s.magnification, s.collected";
/// The columns of a cell row as stored.
pub(crate) const CELL_COLUMNS: &str =
    "c.cell_key, c.smear_key, c.object_key, c.width, c.height, c.lab_label";
/// The columns of a label row as stored.
pub(crate) const LABEL_COLUMNS: &str = "l.cell_key, l.expert, l.label, l.role, l.method, l.at";

/// A smear row's stored columns, read by either backend.
pub(crate) struct SmearColumns {
    pub smear_key: String,
    pub psn: String,
    pub specimen: String,
    pub stain: String,
    pub scanner: String,
    pub magnification: String,
    pub collected: Option<String>,
}

impl SmearColumns {
    pub(crate) fn decode(self) -> Result<SmearRow, StoreError> {
        Ok(SmearRow {
            smear_key: self.smear_key,
            pseudonym: columns::pseudonym("smear.psn", &self.psn)?,
            specimen: specimen(&self.specimen)?,
            stain: self.stain,
            scanner: self.scanner,
            magnification: self.magnification,
            collected: date("smear.collected", self.collected)?,
        })
    }
}

/// A cell row's stored columns, read by either backend.
pub(crate) struct CellColumns {
    pub cell_key: String,
    pub smear_key: String,
    pub object_key: String,
    pub width: i64,
    pub height: i64,
    pub lab_label: Option<String>,
}

impl CellColumns {
    pub(crate) fn decode(self) -> Result<CellRow, StoreError> {
        Ok(CellRow {
            cell_key: self.cell_key,
            smear_key: self.smear_key,
            object_key: self.object_key,
            width: pixels("cell.width", self.width)?,
            height: pixels("cell.height", self.height)?,
            lab_label: self
                .lab_label
                .map(|l| class("cell.lab_label", &l))
                .transpose()?,
        })
    }
}
