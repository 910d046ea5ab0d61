//! The one error type of the crate.
//!
//! Messages name the place (header packet, segment number, key file, field)
//! and suggest a fix where there is one; they never contain key material,
//! nonces or decrypted bytes, so they may be logged.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong reading or writing Crypt4GH files and keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Crypt4ghError {
    /// Reading the input or writing the output failed.
    #[error("i/o error while {context}: {source}")]
    Io {
        /// What was being done ("reading segment 3", "writing the header").
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The input does not start with the magic bytes `crypt4gh`.
    #[error("not a Crypt4GH file: it does not start with the magic bytes `crypt4gh`")]
    NotCrypt4gh,
    /// The header's version field is not 1.
    #[error("unsupported Crypt4GH version {0}: only version 1 is defined")]
    UnsupportedVersion(u32),
    /// The header ends before its declared packets do.
    #[error("truncated header: {0}")]
    TruncatedHeader(String),
    /// A header packet is malformed (outer framing or decrypted content).
    #[error("header packet {index}: {reason}")]
    InvalidPacket {
        /// 0-based position of the packet in the header.
        index: u32,
        /// What is wrong with it.
        reason: String,
    },
    /// None of the header packets opens with the reader's secret key.
    #[error(
        "no header packet could be decrypted with this secret key{}: the file was not encrypted for it",
        if *sender_checked { " from the expected sender" } else { "" }
    )]
    NotARecipient {
        /// Whether packets were also filtered on the writer's public key.
        sender_checked: bool,
    },
    /// A data segment failed authentication; nothing of it was written.
    #[error(
        "data segment {index} failed authentication (tampered, corrupt, or truncated file); nothing of this segment was output"
    )]
    SegmentAuthentication {
        /// 0-based number of the segment in the data section.
        index: u64,
    },
    /// A data segment is too short to hold a nonce, a MAC and one byte.
    #[error(
        "data segment {index} has {len} bytes, fewer than the 29 a segment needs (nonce, one byte, MAC): truncated file"
    )]
    TruncatedSegment {
        /// 0-based number of the segment.
        index: u64,
        /// Its length in bytes.
        len: usize,
    },
    /// An edit list is inconsistent with the data it applies to.
    #[error("edit list: {0}")]
    EditList(String),
    /// `encrypt` was called without any recipient.
    #[error("no recipient public key given: a Crypt4GH file needs at least one recipient")]
    NoRecipients,
    /// A key agreement produced the all-zero shared secret (a low-order public key).
    #[error("refusing a low-order X25519 public key (the shared secret would be all zeros)")]
    WeakPublicKey,
    /// A key (file or PEM text) is malformed, unsupported or locked.
    #[error("{}{reason}", path.as_ref().map(|p| format!("key file {}: ", p.display())).unwrap_or_default())]
    Key {
        /// The key file, when the key came from one.
        path: Option<PathBuf>,
        /// What is wrong, with the field concerned.
        reason: String,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    /// The AEAD refused to seal a buffer (cannot happen for Crypt4GH sizes).
    #[error("the cipher refused to encrypt {0}")]
    Cipher(&'static str),
    /// The encryptor was used after an earlier write failed.
    #[error("the encryptor failed earlier and its output is incomplete; start again")]
    Poisoned,
}

impl Crypt4ghError {
    /// An I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// A key error without a file.
    pub(crate) fn key(reason: impl Into<String>) -> Self {
        Self::Key {
            path: None,
            reason: reason.into(),
        }
    }

    /// The same error, attributed to the key file `path`.
    pub(crate) fn in_file(self, path: &std::path::Path) -> Self {
        match self {
            Self::Key { reason, .. } => Self::Key {
                path: Some(path.to_path_buf()),
                reason,
            },
            Self::Io { context, source } => Self::Io {
                context: format!("{context} ({})", path.display()),
                source,
            },
            other => other,
        }
    }
}

/// Converts to an [`io::Error`] for the `Read`/`Write` impls, keeping the
/// Crypt4GH error as the source (`downcast` gets it back) and the kind of an
/// underlying I/O error (`InvalidData` for everything else).
impl From<Crypt4ghError> for io::Error {
    fn from(e: Crypt4ghError) -> Self {
        let kind = match &e {
            Crypt4ghError::Io { source, .. } => source.kind(),
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}
