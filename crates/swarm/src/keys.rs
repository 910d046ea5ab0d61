//! Per-run X25519 keys, announced under the sites' registered Ed25519 keys.
//!
//! Each site draws a fresh X25519 key pair per run and signs, with the key
//! the federation registered for it, `"oncofed-swarm/v1 run-key" ‖ 0 ‖ run ‖
//! site ‖ key ‖ initial-model hash` (strings u32-BE-length prefixed). A peer
//! accepts the key only if that signature verifies under the key its **own**
//! [`Roster`] lists for the claimed site: the hub relays announcements but
//! cannot make one, so it cannot put itself between two sites. The initial
//! model's hash is signed with the key so that all sites know they start from
//! the same parameters.

use crate::seal::put_str;
use crate::{SwarmError, valid_name, valid_run};
use oncofed_crypto::{Signature, SigningKeyPair};
use oncofed_secagg::Roster;
use serde::{Deserialize, Serialize};

/// Largest serialised announcement accepted (a few hundred bytes in practice).
pub const MAX_ANNOUNCEMENT: usize = 2048;

/// A site's public run key, signed with its registered Ed25519 key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRunKey {
    /// The run the key belongs to.
    pub run: String,
    /// The announcing site (its roster name).
    pub site: String,
    /// The X25519 public key.
    #[serde(with = "hex::serde")]
    pub key: [u8; 32],
    /// SHA-256 model hash ([`crate::model_hash`]) of the initial parameters.
    #[serde(with = "hex::serde")]
    pub initial: [u8; 32],
    /// Ed25519 signature over [`run_key_message`].
    pub signature: Signature,
}

/// The bytes a site signs to announce its run key.
pub fn run_key_message(run: &str, site: &str, key: &[u8; 32], initial: &[u8; 32]) -> Vec<u8> {
    let mut m = b"oncofed-swarm/v1 run-key\0".to_vec();
    put_str(&mut m, run);
    put_str(&mut m, site);
    m.extend_from_slice(key);
    m.extend_from_slice(initial);
    m
}

impl SignedRunKey {
    /// Signs `key` for `site` in `run` with the site's registered key.
    pub fn sign(
        signing: &SigningKeyPair,
        run: &str,
        site: &str,
        key: [u8; 32],
        initial: [u8; 32],
    ) -> Self {
        SignedRunKey {
            run: run.to_owned(),
            site: site.to_owned(),
            key,
            initial,
            signature: signing.sign(&run_key_message(run, site, &key, &initial)),
        }
    }

    /// Checks the announcement against the site's own roster: the name must be
    /// listed and the signature verify under the listed key.
    pub fn verify(&self, roster: &Roster) -> Result<(), SwarmError> {
        valid_run(&self.run)?;
        valid_name("site", &self.site)?;
        let forged = || SwarmError::ForgedKey {
            run: self.run.clone(),
            site: self.site.clone(),
        };
        let registered = roster.key(&self.site).ok_or_else(forged)?;
        registered
            .verify(
                &run_key_message(&self.run, &self.site, &self.key, &self.initial),
                &self.signature,
            )
            .map_err(|_| forged())
    }

    /// The announcement as the bytes of a [`Kind::Key`](crate::Kind::Key) envelope.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses the bytes of a key envelope (without verifying).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SwarmError> {
        if bytes.len() > MAX_ANNOUNCEMENT {
            return Err(SwarmError::Malformed {
                what: "run-key announcement",
                rule: "longer than 2048 bytes",
            });
        }
        serde_json::from_slice(bytes).map_err(|_| SwarmError::Malformed {
            what: "run-key announcement",
            rule: "not the JSON of a signed run key",
        })
    }
}

/// The bytes a site signs to state the model it holds after a round.
pub fn model_hash_message(
    run: &str,
    round: u32,
    attempt: u32,
    site: &str,
    hash: &[u8; 32],
) -> Vec<u8> {
    let mut m = b"oncofed-swarm/v1 model-hash\0".to_vec();
    put_str(&mut m, run);
    m.extend_from_slice(&round.to_be_bytes());
    m.extend_from_slice(&attempt.to_be_bytes());
    put_str(&mut m, site);
    m.extend_from_slice(hash);
    m
}
