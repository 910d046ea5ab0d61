//! The error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading keys, parsing encodings or
/// verifying signatures.
///
/// Messages are lowercase and say what to do. None of them contains secret key
/// material or payload content, so they can be logged as they are.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The key file exists but could not be read (or its metadata not queried).
    #[error("cannot read key file {path}: {source}")]
    KeyFileRead {
        /// The key file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A new key file could not be created or written.
    #[error(
        "cannot create key file {path}: {source}; check that the directory exists and is writable"
    )]
    KeyFileWrite {
        /// The key file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key file may be read by users other than its owner.
    #[error(
        "key file {path} is accessible by group or others (mode {mode:03o}); \
         run `chmod 600 {path}` and check who may have copied it"
    )]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// The permission bits found (lowest nine bits).
        mode: u32,
    },
    /// The key file holds neither 32 raw bytes nor 64 hex digits.
    #[error(
        "key file {path} holds neither a 32-byte raw secret nor 64 hex digits; \
         restore it from a backup, or move it away to have a new key created"
    )]
    KeyFileFormat {
        /// The key file.
        path: PathBuf,
    },
    /// A public key string is not a valid Ed25519 public key.
    #[error(
        "invalid public key: {reason}; expected 32 bytes in standard padded base64 \
         (44 characters, as printed by the key's owner)"
    )]
    InvalidPublicKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A signature string is not 64 bytes in standard padded base64.
    #[error(
        "invalid signature encoding: expected 64 bytes in standard padded base64 (88 characters)"
    )]
    InvalidSignatureEncoding,
    /// The signature does not verify for this message and key.
    #[error("signature does not verify: the message was changed or signed with another key")]
    BadSignature,
    /// An envelope was signed by a key that is not among the trusted ones.
    #[error(
        "envelope signed by untrusted key {fingerprint}; if this signer is legitimate, \
         add its public key to the trusted keys"
    )]
    UntrustedSigner {
        /// Fingerprint of the signer's public key.
        fingerprint: String,
    },
    /// A value could not be serialised to JSON for sealing.
    #[error("cannot serialise the value to seal as JSON: {0}")]
    Encode(#[source] serde_json::Error),
    /// The verified payload is not of the expected type. The serde message is
    /// kept as the source only, because it may quote payload content.
    #[error(
        "envelope payload is not the expected message type (line {line}, column {column}); \
         check that sender and receiver speak the same protocol version"
    )]
    PayloadType {
        /// Line in the payload where decoding failed.
        line: usize,
        /// Column in the payload where decoding failed.
        column: usize,
        /// The underlying serde error.
        #[source]
        source: serde_json::Error,
    },
    /// A signed request's timestamp is too far from the verifier's clock.
    #[error(
        "request timestamp {timestamp} is {off_by}s away from server time {now} \
         (allowed: {max_skew_secs}s); check the caller's clock (NTP) or replay"
    )]
    RequestExpired {
        /// The request's timestamp (Unix seconds).
        timestamp: i64,
        /// The verifier's time (Unix seconds).
        now: i64,
        /// Absolute difference in seconds.
        off_by: u64,
        /// The allowed difference.
        max_skew_secs: u64,
    },
    /// A request's method or path contains a line break, which would make the
    /// signed message ambiguous.
    #[error(
        "request method or path contains a line break; such a request cannot be signed unambiguously"
    )]
    RequestField,
    /// A request's claimed body digest is not 64 lowercase hexadecimal digits
    /// (the hex SHA-256 the message format fixes), so it cannot name a body.
    #[error(
        "request body digest must be the SHA-256 of the body as 64 lowercase hexadecimal digits"
    )]
    RequestDigest,
}

/// Shorthand for results of this crate.
pub(crate) type Result<T, E = CryptoError> = std::result::Result<T, E>;
