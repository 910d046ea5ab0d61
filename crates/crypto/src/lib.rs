//! Signing and key handling for OncoFed: Ed25519 key pairs from files, detached
//! signatures over canonical bytes. The only crate touching signature libraries.
//!
//! Keeping every use of `ed25519-dalek` behind this crate means the algorithm, the
//! verification mode (always [`verify_strict`], which rejects malleable
//! signatures and weak keys) and the wire encodings (standard padded base64) are
//! decided once, and a later algorithm change touches one crate.
//!
//! What is here:
//!
//! - [`SigningKeyPair`]: a secret key, generated or loaded from a `0600` file.
//! - [`PublicKey`] and [`Signature`]: serde as base64 strings.
//! - [`SignedEnvelope`]: a JSON payload sealed with a signature, for messages
//!   that travel between hub and sites.
//! - [`request_message`], [`sign_request`], [`verify_request`]: request signing
//!   for sites that only call out to the hub over HTTP; [`verify_request_digest`]
//!   checks a signature against a body digest sent ahead of the body, so a
//!   verifier refuses forged requests before reading their bodies.
//!
//! Every signed message starts with a domain-separation prefix
//! (`oncofed-envelope-v1`, `oncofed-request-v1`, and those of callers such as the
//! audit log), so a signature made for one purpose cannot be replayed as another.
//!
//! [`verify_strict`]: ed25519_dalek::VerifyingKey::verify_strict

mod envelope;
mod error;
mod keyfile;
mod keys;
mod request;

pub use envelope::{ENVELOPE_DOMAIN, SignedEnvelope};
pub use error::CryptoError;
pub use keys::{PublicKey, Signature, SigningKeyPair};
pub use request::{
    REQUEST_DOMAIN, body_digest, check_request_time, request_message, request_message_for_digest,
    sign_request, verify_request, verify_request_digest,
};
