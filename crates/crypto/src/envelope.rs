//! Signed JSON envelopes for messages between hub and sites.

use crate::error::{CryptoError, Result};
use crate::keys::{PublicKey, Signature, SigningKeyPair};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Prefix of every envelope's signed bytes (domain separation): the signature
/// covers `ENVELOPE_DOMAIN || payload` (UTF-8 bytes of the payload text).
pub const ENVELOPE_DOMAIN: &[u8] = b"oncofed-envelope-v1\0";

/// A JSON payload with the signature of its sender.
///
/// The payload is kept as the exact text that was signed, not as a parsed
/// value, so verification never depends on re-serialising JSON the same way
/// twice (key order, number formatting, escapes). Receivers verify first and
/// parse only verified text ([`SignedEnvelope::open`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedEnvelope {
    /// The JSON text exactly as signed.
    pub payload: String,
    /// The sender's public key. Only a hint: trust comes from comparing it to
    /// the receiver's own list of trusted keys.
    pub signer: PublicKey,
    /// Signature over [`ENVELOPE_DOMAIN`] followed by the payload bytes.
    pub signature: Signature,
}

impl SignedEnvelope {
    /// Serialises `value` with `serde_json::to_string` and signs the text.
    pub fn seal<T: Serialize + ?Sized>(value: &T, key: &SigningKeyPair) -> Result<Self> {
        let payload = serde_json::to_string(value).map_err(CryptoError::Encode)?;
        let signature = key.sign(&signed_bytes(&payload));
        Ok(Self {
            payload,
            signer: key.public_key(),
            signature,
        })
    }

    /// Verifies that `trusted` signed this envelope, then parses the payload.
    ///
    /// Fails with [`CryptoError::UntrustedSigner`] if the envelope names another
    /// signer, [`CryptoError::BadSignature`] if payload or signature were
    /// altered, and [`CryptoError::PayloadType`] if the verified payload is not
    /// a `T`.
    pub fn open<T: DeserializeOwned>(&self, trusted: &PublicKey) -> Result<T> {
        self.open_any_of(std::slice::from_ref(trusted))
    }

    /// Like [`open`](Self::open), accepting any of several trusted keys (e.g.
    /// all registered sites, or an old and a new hub key during rotation).
    pub fn open_any_of<T: DeserializeOwned>(&self, trusted: &[PublicKey]) -> Result<T> {
        if !trusted.contains(&self.signer) {
            return Err(CryptoError::UntrustedSigner {
                fingerprint: self.signer.fingerprint(),
            });
        }
        self.signer
            .verify(&signed_bytes(&self.payload), &self.signature)?;
        serde_json::from_str(&self.payload).map_err(|source| CryptoError::PayloadType {
            line: source.line(),
            column: source.column(),
            source,
        })
    }
}

fn signed_bytes(payload: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(ENVELOPE_DOMAIN.len() + payload.len());
    bytes.extend_from_slice(ENVELOPE_DOMAIN);
    bytes.extend_from_slice(payload.as_bytes());
    bytes
}
