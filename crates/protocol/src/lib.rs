//! Wire types between researchers, the research hub and site nodes.
//!
//! Everything that crosses a process boundary in the federation is defined here,
//! so that hub and node agree by construction:
//!
//! - [`criteria`]: the feasibility query language (an AND/OR/NOT tree over the
//!   harmonised model), compiled to SQL by each site's store;
//! - [`task`]: what the hub asks a site to do ([`Task`]), signed by the hub, fetched
//!   by the site over outbound HTTP, and what the site answers ([`TaskOutcome`]),
//!   signed by the site;
//! - [`api`]: the researcher- and admin-facing requests and answers of the hub;
//! - [`catalogue`]: what a site reports for the federation's HealthDCAT-AP catalogue.
//!
//! Signatures are [`oncofed_crypto::SignedEnvelope`]s; counts and sketches are the
//! types of `oncofed-privacy`, so disclosure control happens before anything is
//! put on the wire.

pub mod analysis;
pub mod api;
pub mod application;
pub mod catalogue;
/// The feasibility query language, in its own crate (`oncofed-criteria`) so the
/// research store can compile it without this crate's other dependencies.
pub use oncofed_criteria as criteria;
pub mod plan;
pub mod swarm_grant;
pub mod task;

pub use catalogue::{CatalogueAnswer, CatalogueEntry, CatalogueRefreshed};
pub use criteria::*;
pub use oncofed_beacon as beacon;
pub use task::{
    BeaconAnswer, BeaconTask, FeasibilityAnswer, QueryId, Task, TaskAnswer, TaskId, TaskKind,
    TaskOutcome,
};
