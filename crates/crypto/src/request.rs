//! Signatures over HTTP requests, for sites that only make outbound calls to
//! the hub and therefore authenticate each request rather than a connection.
//!
//! The signed message binds method, path with query, a timestamp and the body
//! hash. The verifier bounds the timestamp's distance from its own clock, which
//! limits replay to that window; a verifier that must reject every replay
//! additionally remembers the signatures it saw within the window (the hub
//! does), and a signer that may send the same request twice within one second
//! makes each request unique, e.g. with a random query parameter.
//!
//! Because the message holds the body's *digest*, a caller can send the digest
//! ahead of the body (the hub's `x-oncofed-content-sha256` header) and the
//! verifier can check the signature with [`verify_request_digest`] before it
//! reads a single body byte; it then hashes the body as it arrives and compares.

use crate::error::{CryptoError, Result};
use crate::keys::{PublicKey, Signature, SigningKeyPair};
use sha2::{Digest, Sha256};

/// First line of every signed request message (domain separation).
pub const REQUEST_DOMAIN: &str = "oncofed-request-v1";

/// The body digest as the message carries it: SHA-256, 64 lowercase hex digits.
/// Callers that send the digest ahead of the body compute it with this.
pub fn body_digest(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

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
    request_message_for_digest(method, path_and_query, timestamp_unix, &body_digest(body))
}

/// The message of [`request_message`] for a body known only by its digest
/// ([`body_digest`]), so a verifier can build it before the body arrives.
pub fn request_message_for_digest(
    method: &str,
    path_and_query: &str,
    timestamp_unix: i64,
    body_sha256_hex: &str,
) -> Vec<u8> {
    format!("{REQUEST_DOMAIN}\n{method}\n{path_and_query}\n{timestamp_unix}\n{body_sha256_hex}")
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

/// Refuses a request timestamp more than `max_skew_secs` (either direction)
/// from `now_unix`. Separate from the signature check so a verifier can refuse
/// stale requests before it looks up keys or reads a body.
pub fn check_request_time(timestamp_unix: i64, now_unix: i64, max_skew_secs: u64) -> Result<()> {
    let off_by = timestamp_unix.abs_diff(now_unix);
    if off_by > max_skew_secs {
        return Err(CryptoError::RequestExpired {
            timestamp: timestamp_unix,
            now: now_unix,
            off_by,
            max_skew_secs,
        });
    }
    Ok(())
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
    verify_request_digest(
        public_key,
        method,
        path_and_query,
        timestamp_unix,
        &body_digest(body),
        signature,
        now_unix,
        max_skew_secs,
    )
}

/// [`verify_request`] for a body known only by its claimed digest: lets a
/// verifier refuse a forged request before reading its body. The caller must
/// then check that the body it reads hashes to `body_sha256_hex`
/// ([`body_digest`]); until it has, the body is unauthenticated.
///
/// Refuses a digest that is not 64 lowercase hex digits, so one body has
/// exactly one acceptable digest string.
#[allow(clippy::too_many_arguments)]
pub fn verify_request_digest(
    public_key: &PublicKey,
    method: &str,
    path_and_query: &str,
    timestamp_unix: i64,
    body_sha256_hex: &str,
    signature: &Signature,
    now_unix: i64,
    max_skew_secs: u64,
) -> Result<()> {
    check_request_time(timestamp_unix, now_unix, max_skew_secs)?;
    if [method, path_and_query]
        .iter()
        .any(|f| f.contains(['\n', '\r']))
    {
        return Err(CryptoError::RequestField);
    }
    if body_sha256_hex.len() != 64
        || !body_sha256_hex
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    {
        return Err(CryptoError::RequestDigest);
    }
    public_key.verify(
        &request_message_for_digest(method, path_and_query, timestamp_unix, body_sha256_hex),
        signature,
    )
}
