//! Witnessing the hub's checkpoints outside the hub, so that truncating the
//! trail or showing different parties different histories is detectable.
//!
//! A hash chain with signed checkpoints proves that an export was not edited
//! up to its last checkpoint, but the hub that signs the checkpoints also
//! serves the export: it could cut the trail back to an earlier checkpoint (or
//! rewrite everything after one) and the export would still verify. Certificate
//! Transparency answers the same problem with gossip: parties outside the log
//! remember the signed heads they were shown. OncoFed does the same. The hub
//! attaches its newest signed [`Checkpoint`] to every answer to a site's task
//! poll; each site's agent keeps the newest one it saw ([`observe`]); an
//! auditor passes those witnessed checkpoints to [`verify_export_witnessed`],
//! which reports a trail that ends before, or disagrees with, any of them.
//!
//! A witness also catches the hub in the act: a checkpoint that goes backwards
//! (a lower entry number than one already seen) or that names a different hash
//! for the same entry is an [`Equivocation`]. Both checkpoints carry the hub's
//! signature, so the pair is evidence a third party can check.
//!
//! # Limits
//!
//! A witness sees only the checkpoints it is shown: entries after the newest
//! witnessed checkpoint can still be cut. Between two witnessed checkpoints the
//! chain alone links them (no Merkle consistency proofs), so a fork is caught
//! when an export is verified against the witnesses, not at the moment the
//! witness is shown a newer head.

use crate::entry::Checkpoint;
use crate::verify::{VerifyReport, read_export, verify, verify_export};
use oncofed_crypto::PublicKey;
use serde::{Deserialize, Serialize};
use std::io::Read;

/// What a witness concluded from a checkpoint it was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// The first checkpoint this witness saw: keep it.
    First,
    /// A later entry than the one kept: keep the new checkpoint.
    Advanced,
    /// The checkpoint already kept (or an equivalent one for the same entry).
    Unchanged,
}

/// Proof that the hub showed this witness two incompatible histories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Equivocation {
    /// The offered checkpoint is not signed by the hub's key.
    #[error("the hub's audit checkpoint for entry {seq} does not verify with its key")]
    BadSignature {
        /// The entry it claims to cover.
        seq: u64,
    },
    /// The hub's trail went backwards: entries this witness saw covered were cut.
    #[error(
        "the hub's audit trail went back from entry {seen} to entry {offered}: \
         entries were removed after this site saw them signed"
    )]
    Rollback {
        /// The entry the kept checkpoint covers.
        seen: u64,
        /// The entry the offered checkpoint covers.
        offered: u64,
    },
    /// Two signed checkpoints name different hashes for the same entry.
    #[error("the hub signed two different histories for audit entry {seq}")]
    Fork {
        /// The entry both checkpoints cover.
        seq: u64,
    },
}

/// Evidence of an [`Equivocation`]: both signed checkpoints, for a third party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquivocationEvidence {
    /// What the two checkpoints show.
    pub equivocation: Equivocation,
    /// The checkpoint the witness kept.
    pub kept: Checkpoint,
    /// The checkpoint the hub offered afterwards.
    pub offered: Checkpoint,
}

/// Checks a checkpoint the hub offered against the one this witness kept.
///
/// The signature is checked first; a checkpoint that does not verify is never
/// kept. On `Ok(First | Advanced)` the caller keeps `offered`; on an
/// [`Equivocation`] it keeps its old checkpoint and raises the alarm.
pub fn observe(
    kept: Option<&Checkpoint>,
    offered: &Checkpoint,
    hub_key: &PublicKey,
) -> Result<Observation, Equivocation> {
    if offered.verify(hub_key).is_err() {
        return Err(Equivocation::BadSignature { seq: offered.seq });
    }
    let Some(kept) = kept else {
        return Ok(Observation::First);
    };
    if offered.seq < kept.seq {
        return Err(Equivocation::Rollback {
            seen: kept.seq,
            offered: offered.seq,
        });
    }
    if offered.seq == kept.seq {
        return if offered.hash == kept.hash {
            Ok(Observation::Unchanged)
        } else {
            Err(Equivocation::Fork { seq: offered.seq })
        };
    }
    Ok(Observation::Advanced)
}

/// Verifies an export as [`verify_export`] does, and in addition against
/// checkpoints kept by witnesses (sites). A witnessed checkpoint for an entry
/// the export no longer holds is reported as truncation, one whose hash
/// differs from the exported entry as a rewrite; a witnessed checkpoint that
/// does not verify with `trusted` is reported as a bad checkpoint (the witness
/// file was tampered with or belongs to another hub).
pub fn verify_export_witnessed(
    mut reader: impl Read,
    trusted: &PublicKey,
    witnessed: &[Checkpoint],
) -> VerifyReport {
    let mut bytes = Vec::new();
    if let Err(e) = reader.read_to_end(&mut bytes) {
        return VerifyReport {
            ok: false,
            entries: 0,
            checkpoints: 0,
            signed_through: None,
            first_problem: Some(crate::Problem::Malformed {
                line: 0,
                reason: format!("cannot read the export: {e}"),
            }),
        };
    }
    match read_export(bytes.as_slice()) {
        Ok(export) => {
            let mut checkpoints = export.checkpoints.clone();
            checkpoints.extend(witnessed.iter().cloned());
            let mut report = verify(&export.entries, &checkpoints, trusted);
            report.checkpoints = export.checkpoints.len() as u64;
            report
        }
        // Unreadable: the plain verifier names the line.
        Err(_) => verify_export(bytes.as_slice(), trusted),
    }
}
