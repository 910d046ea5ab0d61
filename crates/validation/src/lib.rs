//! Expert validation of cell labels (requirement R14; seed §5.1, issue 15).
//!
//! Training and evaluating a model on single-cell images is only as good as the
//! labels. Two or more named experts label the same cells; this crate measures
//! how far they agree, queues the cells they dispute for an adjudicator, and
//! derives a *validated* label set in which every label says how it came about
//! (consensus, majority or adjudication), by whom and when.
//!
//! - [`Annotation`], [`Adjudication`], [`ValidatedLabel`] and their CSV files
//!   ([`csv_io`]): the formats agreed in issue 15 (`cell_id,expert,label,at`;
//!   `cell_id,label,method,experts,agreement,adjudicator,at`). Errors name the
//!   file, line and field.
//! - [`AnnotationSet`]: the annotations by cell and expert (an expert's latest
//!   label of a cell counts).
//! - [`kappa`]: Cohen's κ with the Fleiss–Cohen–Everitt (1969) large-sample
//!   variance, Fleiss' (1971) κ overall and per category, confusion matrices.
//! - [`agreement()`]: every expert pair and the panel as a whole, in an
//!   [`AgreementReport`].
//! - [`ValidationPolicy`], [`disagreement_queue`], [`validate`]: the queue for
//!   adjudicators and the validated set with its [`ValidationSummary`].
//! - [`SimulatedExpert`], [`simulate_annotations`]: experts who err the way
//!   cytomorphologists do (blast ↔ promyelocyte, myelocyte ↔ band/segmented
//!   neutrophil, lymphocyte ↔ blast/monocyte/erythroblast), deterministic by seed.
//!
//! The crate is synchronous and does no I/O beyond the CSV readers and writers;
//! it knows nothing about sites, the hub or models.

pub mod agreement;
pub mod csv_io;
mod error;
pub mod kappa;
mod records;
mod render;
pub mod simulate;
pub mod validate;

pub use agreement::{AgreementReport, FleissReport, PairAgreement, agreement};
pub use error::ValidationError;
pub use records::{
    Adjudication, Annotation, AnnotationSet, Method, TruthCell, ValidatedLabel, check_name,
};
pub use simulate::{SimulatedExpert, simulate_annotations};
pub use validate::{
    QueueEntry, QueueReason, Rule, Validation, ValidationPolicy, ValidationSummary,
    disagreement_queue, validate,
};
