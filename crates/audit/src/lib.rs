//! Append-only, hash-chained audit trail with signed checkpoints, and its
//! verifier (requirement R17).
//!
//! Every query, approval, task and release at the research hub becomes an
//! [`AuditEntry`]. Each entry's hash covers its content and the previous
//! entry's hash, so changing, removing, adding or reordering entries breaks the
//! chain; every N entries (and on demand) the hub signs a [`Checkpoint`] over
//! the newest hash, so rewriting the whole chain is caught too. Anyone with an
//! export and the hub's public key can check it with [`verify_export`]; no
//! access to the hub is needed.
//!
//! - [`AuditLog`]: the store (SQLite, WAL), appends and exports.
//! - [`verify`], [`verify_export`]: the verifier, returning a
//!   [`VerifyReport`] that names the first [`Problem`].
//! - [`observe`], [`verify_export_witnessed`]: checkpoints witnessed outside
//!   the hub (by the sites), so that a trail cut back to an earlier checkpoint
//!   or forked is caught.
//! - The bytes behind hashes and signatures are specified at [`AuditEntry`],
//!   [`Checkpoint`] and [`canonical_json`], so independent verifiers can be
//!   written.
//!
//! This crate depends on `oncofed-crypto` for signatures and on nothing of
//! the services, so an auditor's tool can link it alone.

mod canonical;
mod entry;
mod error;
mod log;
mod schema;
mod verify;
mod witness;

pub use canonical::canonical_json;
pub use entry::{AuditEntry, CHECKPOINT_DOMAIN, Checkpoint, ENTRY_DOMAIN, GENESIS_HASH};
pub use error::AuditError;
pub use log::{AuditLog, DEFAULT_CHECKPOINT_EVERY, ExportSummary};
pub use verify::{Export, ExportRecord, Problem, VerifyReport, read_export, verify, verify_export};
pub use witness::{
    Equivocation, EquivocationEvidence, Observation, observe, verify_export_witnessed,
};
