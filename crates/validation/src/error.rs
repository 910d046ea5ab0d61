//! The one error type of the crate: every variant names where the problem is
//! (file, line, field; or cell and person acting) and suggests a fix where one
//! is obvious. Texts carry cell ids, expert names and codes, never patient data.

use std::path::PathBuf;

/// Why annotations, adjudications or a label set could not be read, written or
/// combined.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    /// The file could not be opened, read or written.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The CSV is malformed (unbalanced quotes, a record with a different
    /// number of fields than the header).
    #[error("{file}, line {line}: malformed CSV: {message}")]
    Csv {
        /// The file (or the name the caller gave a reader).
        file: String,
        /// The 1-based line, 0 when unknown.
        line: u64,
        /// What the CSV parser reported.
        message: String,
    },
    /// The header lacks a column the format requires.
    #[error("{file}: the header has no column {column:?} (expected {expected})")]
    MissingColumn {
        /// The file.
        file: String,
        /// The missing column.
        column: &'static str,
        /// The header the format defines.
        expected: &'static str,
    },
    /// A field of a record is empty or invalid.
    #[error("{file}, line {line}, field {field}: {problem}")]
    Field {
        /// The file.
        file: String,
        /// The 1-based line.
        line: u64,
        /// The column.
        field: &'static str,
        /// What is wrong, with the expected form.
        problem: String,
    },
    /// One expert labelled one cell twice at the same instant with different
    /// labels: which one counts cannot be decided.
    #[error(
        "cell {cell_id}: expert {expert} gave two different labels at the same time {at}; keep one"
    )]
    ConflictingAnnotations {
        /// The cell.
        cell_id: String,
        /// The expert.
        expert: String,
        /// The shared time stamp (RFC 3339).
        at: String,
    },
    /// An adjudicator decided a cell they had labelled themselves: an
    /// adjudication must come from a further expert.
    #[error(
        "cell {cell_id}: adjudicator {adjudicator} also labelled this cell; an adjudication must come from an expert who did not annotate it"
    )]
    AdjudicatorIsAnnotator {
        /// The cell.
        cell_id: String,
        /// The adjudicator.
        adjudicator: String,
    },
    /// An adjudication names a cell no expert labelled (a typo in the cell id,
    /// or adjudications from another annotation set).
    #[error(
        "cell {cell_id}: adjudicated by {adjudicator}, but no expert labelled it in the annotations given"
    )]
    AdjudicationWithoutAnnotations {
        /// The cell.
        cell_id: String,
        /// The adjudicator.
        adjudicator: String,
    },
    /// The same adjudicator decided one cell twice at the same instant with
    /// different labels.
    #[error("cell {cell_id}: two different adjudications at the same time {at}; keep one")]
    ConflictingAdjudications {
        /// The cell.
        cell_id: String,
        /// The shared time stamp (RFC 3339).
        at: String,
    },
    /// A policy that cannot be applied (e.g. fewer than one expert per cell).
    #[error("invalid validation policy: {0}")]
    Policy(String),
    /// Simulation input that cannot be used (no experts, skill outside 0..=1).
    #[error("invalid simulation: {0}")]
    Simulation(String),
}
