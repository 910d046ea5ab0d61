//! OncoFed's federated statistics core: every analysis is split into a **site
//! part**, which turns a site's rows into additive aggregates, and a **hub
//! part**, which sums the aggregates and fits. Because the hub only ever needs
//! sums, secure aggregation can later hide each site's contribution, and the
//! federated result equals the pooled single-process fit up to rounding.
//!
//! | analysis | site part | hub part |
//! |---|---|---|
//! | Cox PH, pooled (Breslow/Efron) | [`CoxGrid::from_events`], [`cox_site_sums`] | [`CoxGrid::merge`], [`fit_cox`] ([`cox_combine`]) |
//! | Cox PH, stratified by site | [`cox_site_contribution`] | [`fit_cox_stratified_by_site`] |
//! | Kaplan–Meier, log-rank | [`event_times`], [`km_site_counts`] | [`merge_times`], [`kaplan_meier`], [`logrank_test`] |
//! | competing risks, cumulative incidence (Aalen–Johansen, Gray's variance) | [`cif_event_times`], [`cif_site_counts`] | [`merge_times`], [`aalen_johansen`] |
//! | logistic / Poisson GLM (IRLS) | [`glm_site_start`], [`glm_site_contribution`] | [`glm_start`], [`fit_glm`] |
//! | descriptives | [`Moments::from_values`], [`Histogram::from_values`] | `add`, [`Moments::mean`], [`Moments::variance`] |
//!
//! The hub functions take the sites as a closure `FnMut(&[f64]) -> Vec<Aggregate>`
//! (β in, one aggregate per site out), so the same code runs in-process in tests
//! and over the network once the hub wires it.
//!
//! Pure and synchronous, no I/O and no dependencies beyond serde and thiserror:
//! the linear algebra (Cholesky, p ≤ 50) and special functions (incomplete
//! gamma, erfc) are written here, small and tested against reference values,
//! rather than pulling `nalgebra`/`statrs` into a crate that must stay auditable.
//! Exactness against lifelines and statsmodels is tested in `tests/lung_peer.rs`,
//! split invariance (any row-to-site split gives the pooled sums) in
//! `tests/split_invariance.rs`, and a 100,000-patient run in `tests/scale.rs` (ignored).
//!
//! **Disclosure**: the exact Cox and Kaplan–Meier grids reveal every distinct
//! event time to the hub and to all sites, and unmasked aggregates reveal per-site
//! sums. Disclosure control, time-grid coarsening and secure aggregation are
//! layered on top of this crate, not inside it.

mod cif;
mod cox;
mod describe;
mod error;
mod finegray;
mod glm;
mod km;
mod linalg;
mod newton;
mod residual_gram;
pub mod special;

pub use cif::{
    CifCounts, CifEstimate, CompetingRow, CompetingStatus, GrayTest, aalen_johansen,
    cif_confidence_interval, cif_event_times, cif_site_counts, gray_test, gray_test_competing,
};
pub use cox::{
    CoxAggregate, CoxFit, CoxGrid, CoxRobust, CoxSiteSums, GridPoint, SurvivalRow, Ties,
    cox_combine, cox_residual_gram, cox_robust, cox_site_contribution, cox_site_sums,
    cox_site_sums_entered, fit_cox, fit_cox_stratified_by_site,
};
pub use describe::{Histogram, Moments};
pub use error::StatsError;
pub use finegray::{
    FineGrayGrid, FineGrayRow, FineGrayVariance, finegray_residual_gram, finegray_site_sums,
    finegray_times, finegray_variance, fit_fine_gray,
};
pub use glm::{
    Family, GlmAggregate, GlmFit, GlmRow, GlmStart, fit_glm, glm_site_contribution, glm_site_start,
    glm_start,
};
pub use km::{
    KmCounts, KmEstimate, LogRankTest, TimeEvent, event_times, kaplan_meier, km_site_counts,
    km_site_counts_entered, logrank_test, merge_times,
};
pub use newton::{Convergence, Estimate, NewtonOptions};
pub use residual_gram::ResidualGram;
