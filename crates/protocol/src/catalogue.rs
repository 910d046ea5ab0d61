//! A site's contribution to the federation's catalogue (issue 17, R20): per
//! data category, how many persons and records it holds, which years and coding
//! systems they cover, already under the site's disclosure control.
//!
//! The site counts only persons whose consent permits research use of the
//! category (feasibility purpose), noises and rounds the counts like a
//! feasibility answer ([`Released`]), and leaves out a category with fewer
//! persons than its threshold altogether; the hub applies its release rule
//! before it publishes (`oncofed-hub`, `routes/catalogue.rs`).

use oncofed_dcat::CodingSystem;
use oncofed_model::{DataCategory, SecurityLevel};
use oncofed_privacy::Released;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A site's answer to a catalogue task: one entry per category it reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueAnswer {
    /// The categories with at least the threshold of persons, in category order.
    pub entries: Vec<CatalogueEntry>,
}

/// What a site says about one data category. Nothing per person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueEntry {
    /// The category.
    pub category: DataCategory,
    /// Its security level (R7), which decided the disclosure rules.
    pub level: SecurityLevel,
    /// Persons with data of the category (noised, rounded, suppressed below the threshold).
    pub persons: Released,
    /// Their records: facts, images, variant calls or smears (released the same way).
    pub records: Released,
    /// The first and last year with at least the threshold of persons having
    /// dated data of the category; `None` when no year has that many.
    pub years: Option<(i32, i32)>,
    /// Coding systems used by at least the threshold of persons.
    pub coding_systems: BTreeSet<CodingSystem>,
}

/// What `POST /v1/admin/catalogue/refresh` answers: the new catalogue's
/// coverage, without figures (those are in the catalogue itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueRefreshed {
    /// When the new catalogue was published (RFC 3339).
    pub published_at: String,
    /// Sites asked.
    pub sites_asked: usize,
    /// Sites that answered in time.
    pub sites_answered: usize,
    /// Sites that did not answer; their datasets of the previous catalogue, if
    /// any, are kept.
    pub sites_missing: Vec<String>,
    /// Datasets (site × category) in the published catalogue.
    pub datasets: usize,
    /// Category entries the hub's release rule held back (no released count, or
    /// a count not rounded as the site's rules require).
    pub withheld: usize,
}
