//! The error type of the audit log.

use std::path::PathBuf;

/// Failures of the audit log store. Verification findings are not errors but
/// [`Problem`](crate::Problem)s in a [`VerifyReport`](crate::VerifyReport).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The database file could not be opened or prepared.
    #[error(
        "cannot open audit log {path}: {source}; check that the directory exists and is writable"
    )]
    Open {
        /// The database file.
        path: PathBuf,
        /// The underlying SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// A statement failed on an open log.
    #[error("audit log database error: {0}; check disk space and file permissions")]
    Db(#[from] rusqlite::Error),
    /// The file was written by a newer build.
    #[error(
        "audit log schema version {found} is newer than this build supports ({supported}); upgrade oncofed"
    )]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// The log was started with another signing key; its checkpoints would not
    /// verify together with new ones.
    #[error(
        "audit log {path} is signed by key {expected}, but key {given} was given; \
         start the hub with its original signing key"
    )]
    KeyMismatch {
        /// The database file.
        path: PathBuf,
        /// Fingerprint of the key recorded in the log.
        expected: String,
        /// Fingerprint of the key given to `open`.
        given: String,
    },
    /// `actor` or `action` was empty.
    #[error("audit entry field `{field}` is empty; every entry must say who did what")]
    EmptyField {
        /// The empty field.
        field: &'static str,
    },
    /// `details` cannot be read back from their JSON text, which happens
    /// only when nested more than 127 levels deep (serde_json's limit).
    #[error("audit entry details are nested too deeply to be read back; flatten them")]
    InvalidDetails,
    /// A stored row cannot be read back as an entry or checkpoint.
    #[error(
        "audit log row {seq} is unreadable ({reason}); export the log and run \
         `oncofed audit verify` on it"
    )]
    Corrupt {
        /// The row's sequence number.
        seq: i64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Writing an export failed.
    #[error("cannot write the audit export: {0}")]
    Export(#[from] std::io::Error),
    /// Another caller's transaction, which held this entry too (group commit),
    /// failed; nothing of it was written.
    #[error(
        "audit log database error in a shared commit: {0}; check disk space and file permissions"
    )]
    GroupCommit(String),
}
