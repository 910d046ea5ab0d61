//! The site as a witness of the hub's audit trail.
//!
//! Every answer to a task poll carries the hub's newest signed audit checkpoint
//! (header [`AUDIT_CHECKPOINT_HEADER`]). The agent checks it with the pinned hub
//! key and keeps the newest one in a small file in the node's data directory,
//! so an auditor can later verify the hub's export against what the sites saw
//! (`oncofed audit verify --witness FILE`): a trail cut back behind a site's
//! checkpoint, or rewritten before it, no longer verifies. A checkpoint that
//! goes backwards or contradicts the kept one is logged as an error and both
//! signed checkpoints are written to an evidence file beside it; the kept
//! checkpoint is never replaced by a contradicting one.

use oncofed_audit::{Checkpoint, EquivocationEvidence, Observation, observe};
use oncofed_crypto::PublicKey;
pub use oncofed_protocol::api::AUDIT_CHECKPOINT_HEADER;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// File name of the kept checkpoint inside a node's data directory.
pub const WITNESS_FILE: &str = "audit-witness.json";

/// Why the witness could not take a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The header or the kept file is not a checkpoint.
    #[error("audit checkpoint unreadable: {0}")]
    Unreadable(String),
    /// The hub contradicted itself; evidence was written to `evidence`.
    #[error("{equivocation} (evidence kept in {evidence})")]
    Equivocation {
        /// What the two checkpoints show.
        equivocation: oncofed_audit::Equivocation,
        /// Where both signed checkpoints were written.
        evidence: String,
    },
    /// The witness file could not be written.
    #[error("cannot write audit witness file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Keeps the newest audit checkpoint this site was shown by its hub.
#[derive(Debug)]
pub struct AuditWitness {
    path: PathBuf,
    hub_key: PublicKey,
    kept: Mutex<Option<Checkpoint>>,
}

impl AuditWitness {
    /// Opens the witness file at `path` (absent: nothing witnessed yet). A kept
    /// checkpoint that does not verify with `hub_key` is refused: the file was
    /// edited or belongs to another hub.
    pub fn open(path: impl Into<PathBuf>, hub_key: PublicKey) -> Result<Self, WitnessError> {
        let path = path.into();
        let kept = match std::fs::read(&path) {
            Ok(bytes) => Some(read_checkpoint(&bytes, &hub_key)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(WitnessError::Io { path, source }),
        };
        Ok(Self {
            path,
            hub_key,
            kept: Mutex::new(kept),
        })
    }

    /// The checkpoint kept so far.
    pub fn kept(&self) -> Option<Checkpoint> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Takes the checkpoint the hub offered (the header's value): keeps it when
    /// it is newer, and raises the alarm when it contradicts the kept one.
    pub fn offer(&self, header: &[u8]) -> Result<Observation, WitnessError> {
        let offered: Checkpoint = serde_json::from_slice(header)
            .map_err(|e| WitnessError::Unreadable(format!("from the hub: {e}")))?;
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        match observe(kept.as_ref(), &offered, &self.hub_key) {
            Ok(Observation::Unchanged) => Ok(Observation::Unchanged),
            Ok(observation) => {
                write_private(
                    &self.path,
                    &serde_json::to_vec_pretty(&offered).unwrap_or_default(),
                )?;
                *kept = Some(offered);
                Ok(observation)
            }
            Err(equivocation) => {
                let evidence_path = self.path.with_extension("evidence.json");
                if let Some(kept) = kept.as_ref() {
                    let evidence = EquivocationEvidence {
                        equivocation: equivocation.clone(),
                        kept: kept.clone(),
                        offered,
                    };
                    write_private(
                        &evidence_path,
                        &serde_json::to_vec_pretty(&evidence).unwrap_or_default(),
                    )?;
                }
                Err(WitnessError::Equivocation {
                    equivocation,
                    evidence: evidence_path.display().to_string(),
                })
            }
        }
    }
}

fn read_checkpoint(bytes: &[u8], hub_key: &PublicKey) -> Result<Checkpoint, WitnessError> {
    let checkpoint: Checkpoint = serde_json::from_slice(bytes)
        .map_err(|e| WitnessError::Unreadable(format!("kept file: {e}")))?;
    checkpoint.verify(hub_key).map_err(|_| {
        WitnessError::Unreadable(
            "the kept checkpoint does not verify with the hub's key: was the file edited, or \
             is this agent now pointed at another hub? Move the file aside to start afresh"
                .into(),
        )
    })?;
    Ok(checkpoint)
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename), owner-only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), WitnessError> {
    let io = |source| WitnessError::Io {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use oncofed_crypto::SigningKeyPair;

    fn head(key: &SigningKeyPair, seq: u64, hash: &str) -> Vec<u8> {
        serde_json::to_vec(&Checkpoint::sign(seq, hash, Utc::now(), key)).unwrap()
    }

    #[test]
    fn keeps_the_newest_and_keeps_evidence_of_a_rollback() {
        let dir = tempfile::tempdir().unwrap();
        let hub = SigningKeyPair::generate();
        let path = dir.path().join(WITNESS_FILE);
        let witness = AuditWitness::open(&path, hub.public_key()).unwrap();
        let h = "ab".repeat(32);
        assert_eq!(
            witness.offer(&head(&hub, 3, &h)).unwrap(),
            Observation::First
        );
        assert_eq!(
            witness.offer(&head(&hub, 8, &h)).unwrap(),
            Observation::Advanced
        );
        let err = witness.offer(&head(&hub, 5, &h)).unwrap_err();
        assert!(matches!(err, WitnessError::Equivocation { .. }), "{err}");
        assert!(path.with_extension("evidence.json").exists());
        // Reopened, the newest checkpoint is still there.
        let reopened = AuditWitness::open(&path, hub.public_key()).unwrap();
        assert_eq!(reopened.kept().unwrap().seq, 8);
        // Another hub's key refuses the file.
        assert!(AuditWitness::open(&path, SigningKeyPair::generate().public_key()).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_forged_checkpoint_is_never_kept() {
        let dir = tempfile::tempdir().unwrap();
        let hub = SigningKeyPair::generate();
        let witness = AuditWitness::open(dir.path().join(WITNESS_FILE), hub.public_key()).unwrap();
        let forged = head(&SigningKeyPair::generate(), 3, &"cd".repeat(32));
        assert!(witness.offer(&forged).is_err());
        assert!(witness.kept().is_none());
        assert!(witness.offer(b"not json").is_err());
    }
}
