//! Signatures over HTTP requests, for sites that only make outbound calls to
//! the hub and therefore authenticate each request rather than a connection.
//!
//! The signed message binds method, path with query, a timestamp and the body
//! hash. The verifier bounds the timestamp's distance from its own clock, which
//! limits replay to that window; a verifier that must reject every replay
//! additionally remembers the signatures it saw within the window.

use crate::error::{CryptoError, Result};
use crate::keys::{PublicKey, Signature, SigningKeyPair};
use sha2::{Digest, Sha256};

/// First line of every signed request message (domain separation).
pub const REQUEST_DOMAIN: &str = "oncofed-request-v1";

/// The bytes a request signature covers:
///
/// ```text
/// oncofed-request-v1\n{method}\n{path_and_query}\n{timestamp_unix}\n{hex(SHA-256(body))}
/// ```
///
/// `method` and `path_and_query` are taken exactly as sent (no case folding, no
/// percent-decoding), the timestamp in decimal, the body hash as 64 lowercase
/// hex digits. There is no trailing newline. Line breaks in `method` or
/// `path_and_query` would make the message ambiguous; [`verify_request`]
/// refuses them.
pub fn request_message(
    method: &str,
    path_and_query: &str,
    timestamp_unix: i64,
    body: &[u8],
) -> Vec<u8> {
    let body_hash = hex::encode(Sha256::digest(body));
    format!("{REQUEST_DOMAIN}\n{method}\n{path_and_query}\n{timestamp_unix}\n{body_hash}")
        .into_bytes()
}

/// Signs a request as described at [`request_message`].
pub fn sign_request(
    key: &SigningKeyPair,
    method: &str,
    path_and_query: &str,
    timestamp_unix: i64,
    body: &[u8],
) -> Signature {
    key.sign(&request_message(
        method,
        path_and_query,
        timestamp_unix,
        body,
    ))
}

/// Verifies a request signature and that `timestamp_unix` lies within
/// `max_skew_secs` (either direction) of `now_unix`.
///
/// The clock check comes first, so stale requests are refused without
/// signature work. `now_unix` is a parameter so callers and tests control the
/// clock.
#[allow(clippy::too_many_arguments)]
pub fn verify_request(
    public_key: &PublicKey,
    method: &str,
    path_and_query: &str,
    timestamp_unix: i64,
    body: &[u8],
    signature: &Signature,
    now_unix: i64,
    max_skew_secs: u64,
) -> Result<()> {
    let off_by = timestamp_unix.abs_diff(now_unix);
    if off_by > max_skew_secs {
        return Err(CryptoError::RequestExpired {
            timestamp: timestamp_unix,
            now: now_unix,
            off_by,
            max_skew_secs,
        });
    }
    if [method, path_and_query]
        .iter()
        .any(|f| f.contains(['\n', '\r']))
    {
        return Err(CryptoError::RequestField);
    }
    public_key.verify(
        &request_message(method, path_and_query, timestamp_unix, body),
        signature,
    )
}
