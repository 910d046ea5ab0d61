//! One error type for loading, binding and issuing, each naming the file or
//! address and saying what to do next.

use std::net::SocketAddr;
use std::path::PathBuf;

/// What went wrong setting up TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {what}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// rustls refused the configuration (e.g. a key that does not match the certificate).
    #[error("TLS configuration refused: {0}")]
    Config(String),
    /// A service was asked to listen in the clear on an address other hosts can reach.
    #[error(
        "refusing to serve plain HTTP on {addr}: other hosts could read the traffic. \
         Give a certificate and key (--tls-cert, --tls-key; `oncofed pki init` makes a pilot CA), \
         bind a loopback address, or pass --insecure-http if a TLS proxy in front of this \
         service terminates the connection"
    )]
    PlainHttpRefused {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// A client was pointed at a plain-HTTP URL on another host.
    #[error(
        "refusing to call {url} over plain HTTP: it is not a loopback address. Use https:// \
         (with --ca for a federation CA), or pass --insecure-http if the network path is \
         otherwise protected"
    )]
    PlainUrlRefused {
        /// The URL, without credentials.
        url: String,
    },
    /// A URL that is not http(s).
    #[error("{0}")]
    Url(String),
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Issue(String),
}

impl TlsError {
    pub(crate) fn file(path: &std::path::Path, what: impl Into<String>) -> Self {
        Self::File {
            path: path.to_owned(),
            what: what.into(),
        }
    }
}
