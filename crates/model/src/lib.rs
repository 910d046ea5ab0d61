//! Validated domain types of OncoFed's harmonised research model.
//!
//! This crate is the vocabulary every other crate speaks: who holds data
//! ([`SiteId`]), under which name a patient is known ([`Pseudonym`]), what kind of
//! data a record is ([`DataCategory`]) and how sensitive it is ([`SecurityLevel`]),
//! and the harmonised clinical [`Fact`] a site node stores.
//!
//! Architecture invariant: this crate performs no I/O and knows nothing about
//! identifying data (names, birth dates, addresses, insurance numbers). Those live
//! only in `oncofed-idat`, which research stores never depend on.

mod category;
mod cell;
pub mod check_digit;
mod coding;
mod fact;
mod ids;
pub mod variant;

pub use category::{DataCategory, Purpose, SecurityLevel};
pub use cell::{CellClass, Specimen, UnknownCode};
pub use coding::{CodeSystem, Coding};
pub use fact::{Demographics, Fact, FactKind, FactValue, Sex, VitalStatus};
pub use ids::{IdError, Pseudonym, PseudonymAlphabet, SiteId};
pub use variant::{GeneticVariant, GenomeBuild, VariantLocus, VariantOrigin, Zygosity};
