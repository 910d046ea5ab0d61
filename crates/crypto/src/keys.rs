//! Ed25519 key pairs, public keys and signatures with their text encodings.

use crate::error::{CryptoError, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::str::FromStr;

/// An Ed25519 signing key (the secret) with its public key.
///
/// `Debug` shows only the public key's fingerprint, so a key pair inside a
/// config or state struct never leaks into logs. `Clone` exists because a
/// service hands the same key to several components (envelopes, audit log);
/// each copy is zeroised on drop by `ed25519-dalek`.
#[derive(Clone)]
pub struct SigningKeyPair {
    secret: ed25519_dalek::SigningKey,
}

impl SigningKeyPair {
    /// Generates a new key from the operating-system-seeded CSPRNG of `rand`
    /// (`rand::random`), without `ed25519-dalek`'s `rand_core` feature, whose
    /// version is incompatible with `rand` 0.9.
    pub fn generate() -> Self {
        Self::from_secret_bytes(&rand::random::<[u8; 32]>())
    }

    /// Builds the key pair from a 32-byte Ed25519 secret (RFC 8032 §5.1.5), e.g.
    /// one held in a secrets manager.
    pub fn from_secret_bytes(secret: &[u8; 32]) -> Self {
        Self {
            secret: ed25519_dalek::SigningKey::from_bytes(secret),
        }
    }

    /// Loads the key from `path`, or creates a new one there if the file does
    /// not exist, so a service has a stable identity across restarts.
    ///
    /// The file holds the 32-byte secret either raw or as 64 hex digits
    /// (surrounding whitespace allowed); new files are written as hex with mode
    /// `0600`. On Unix, an existing file readable or writable by group or others
    /// is refused ([`CryptoError::KeyFilePermissions`]) rather than silently
    /// used, because the key may already have been copied.
    pub fn load_or_create(path: impl AsRef<Path>) -> Result<Self> {
        crate::keyfile::load_or_create(path.as_ref())
    }

    /// The public half, to publish or to configure as trusted elsewhere.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: self.secret.verifying_key(),
        }
    }

    /// Signs `message` as it is.
    ///
    /// Callers must start `message` with their own domain-separation prefix (as
    /// [`SignedEnvelope`](crate::SignedEnvelope) and
    /// [`sign_request`](crate::sign_request) do), so that a signature made for
    /// one purpose never verifies as another.
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature {
            sig: self.secret.sign(message),
        }
    }

    /// The raw secret, for writing the key file.
    pub(crate) fn secret_bytes(&self) -> [u8; 32] {
        self.secret.to_bytes()
    }
}

impl fmt::Debug for SigningKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyPair")
            .field("public", &self.public_key().fingerprint())
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// An Ed25519 public key.
///
/// Text form (`Display`, `FromStr`, serde): the 32 key bytes in standard padded
/// base64, 44 characters; parsing ignores surrounding whitespace, since keys
/// are often pasted or read from files. Keys that are not valid curve points or
/// that have small order ("weak" keys) are refused when parsed.
#[derive(Clone, Copy)]
pub struct PublicKey {
    key: ed25519_dalek::VerifyingKey,
}

impl PublicKey {
    /// Parses the raw 32 key bytes (RFC 8032 §5.1.2 encoding).
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| {
            CryptoError::InvalidPublicKey {
                reason: "not a point on the curve",
            }
        })?;
        if key.is_weak() {
            return Err(CryptoError::InvalidPublicKey {
                reason: "weak (small-order) key",
            });
        }
        Ok(Self { key })
    }

    /// The raw 32 key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The first 16 hex digits of the SHA-256 of the key bytes: short enough
    /// for logs and identifiers, long enough (64 bits) not to collide by chance
    /// among the keys of one federation. Not a security boundary: compare whole
    /// keys for trust decisions.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.key.as_bytes());
        hex::encode(&digest[..8])
    }

    /// Checks that `signature` was made over exactly `message` by this key.
    ///
    /// Uses `verify_strict`, which also rejects non-canonical signatures and
    /// weak keys, so a valid signature cannot be altered into another valid one.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<()> {
        self.key
            .verify_strict(message, &signature.sig)
            .map_err(|_| CryptoError::BadSignature)
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.key.as_bytes() == other.key.as_bytes()
    }
}

impl Eq for PublicKey {}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.as_bytes().hash(state);
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(self.key.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self> {
        let bytes = STANDARD
            .decode(s.trim())
            .map_err(|_| CryptoError::InvalidPublicKey {
                reason: "not standard padded base64",
            })?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CryptoError::InvalidPublicKey {
                reason: "not 32 bytes long",
            })?;
        Self::from_bytes(&bytes)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A detached Ed25519 signature (RFC 8032 §5.1.6), 64 bytes.
///
/// Text form (`Display`, `FromStr`, serde): standard padded base64, 88
/// characters. Decoding is strict (no trailing bits), so one signature has
/// exactly one text form.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    sig: ed25519_dalek::Signature,
}

impl Signature {
    /// Wraps raw signature bytes; whether they verify is checked only by
    /// [`PublicKey::verify`].
    pub fn from_bytes(bytes: &[u8; 64]) -> Self {
        Self {
            sig: ed25519_dalek::Signature::from_bytes(bytes),
        }
    }

    /// The raw 64 signature bytes.
    pub fn to_bytes(&self) -> [u8; 64] {
        self.sig.to_bytes()
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(self.sig.to_bytes()))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

impl FromStr for Signature {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self> {
        let bytes = STANDARD
            .decode(s)
            .map_err(|_| CryptoError::InvalidSignatureEncoding)?;
        let bytes: [u8; 64] = bytes
            .try_into()
            .map_err(|_| CryptoError::InvalidSignatureEncoding)?;
        Ok(Self::from_bytes(&bytes))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
