//! One way to start and stop an OncoFed federation, for `oncofed demo`,
//! `oncofed bench` and the tests.
//!
//! Before this crate the workspace had about nine hand-written start-ups of a
//! trust centre, hub and sites with five ways to stop them; they drifted (one
//! test's trust centre never stopped, another's leaked its folder). Here there
//! is one of each:
//!
//! - [`LocalFederation`] (built with [`LocalFederation::builder`]: sites, TLS
//!   on/off, limits, store URL, hub tuning): trust centre, hub, site stores,
//!   agents and withdrawal pollers in one process on loopback, every part the
//!   real service. `oncofed demo` and `oncofed bench` run on it.
//! - [`TrustCentre`] (built with [`TrustCentre::builder`]) and
//!   [`service::hub`]: one service on `127.0.0.1:0`, for tests that need only
//!   that and hold their own keys and tokens.
//! - Everything running stops when dropped ([`service::Running`]); an explicit
//!   async `shutdown` also waits until the port is closed and returns the
//!   service's own result.
//! - [`Cohort`] and [`GroundTruth`]: a synthetic cohort and what it really
//!   contains, to assert answers against.
//! - [`AuditReading`]: a hub's audit export parsed and verified as an auditor does.
//! - [`wait_until`]: poll a condition with a timeout instead of sleeping.
//! - [`shared_data`]: the external test data folder (`../shared/data`, or
//!   `$ONCOFED_SHARED_DATA`), the one place tests find it.
//!
//! # Who may depend on it
//!
//! The kit depends on the services (`oncofed-trustee`, `oncofed-hub`,
//! `oncofed-node`) behind its default feature `services`; without that feature
//! it is the light part only (data path, cohort and ground truth,
//! `wait_until`), which any crate's tests may use.
//!
//! - The CLI depends on it (demo and bench), and its tests use it.
//! - A service crate's **integration tests** (`crates/hub/tests/*`) may
//!   dev-depend on it: they link the same `oncofed_hub` library the kit links,
//!   so a `HubConfig` made in a test is the kit's `HubConfig`.
//! - A crate's **unit tests** (`#[cfg(test)]` in `src/`) must not use the kit's
//!   service parts: there the crate under test is compiled a second time with
//!   `cfg(test)`, and its types are not the ones the kit was compiled against
//!   (`expected HubConfig, found HubConfig`). Keep such helpers in the crate.
//! - No library crate depends on the kit outside `[dev-dependencies]`; only the
//!   `oncofed` binary does (`crates/cli/tests/architecture.rs` checks it).
//!
//! The kit is never published (`publish = false`): it generates keys and
//! tokens for throw-away federations and writes them to plain files.

mod cohort;
mod data;
mod wait;

pub use cohort::{Cohort, GroundTruth, Record};
pub use data::{SHARED_DATA_ENV, shared_data, workspace};
pub use wait::{TimedOut, wait_until};

#[cfg(feature = "services")]
mod audit;
#[cfg(feature = "services")]
pub mod beacon;
#[cfg(feature = "services")]
mod federation;
#[cfg(feature = "services")]
pub mod pki;
#[cfg(feature = "services")]
pub mod service;
#[cfg(feature = "services")]
mod trustee;

#[cfg(feature = "services")]
pub use audit::{AuditReading, read_witness};
#[cfg(feature = "services")]
pub use federation::{CONSENT_TTL, FederationBuilder, LocalFederation};
#[cfg(feature = "services")]
pub use trustee::{TrustCentre, TrustCentreBuilder};
