//! End-to-end sealing between two sites of a run: X25519 (static-static, the
//! sites' per-run keys) → HKDF-SHA256 (RFC 5869) → ChaCha20-Poly1305 (RFC 8439).
//!
//! * **Key.** `ikm = X25519(a, B) ‖ A ‖ B` (sender's and recipient's run keys,
//!   in that order), `salt = "oncofed-swarm/v1 seal"`, `info =` the header
//!   bytes below; 32 bytes of output. Each (run, round, attempt, sender,
//!   recipient, kind) therefore has its own key, and only the two holders of
//!   the run secrets can derive it, so a ciphertext that opens was sealed by
//!   the named sender (the recipient aside) for the named recipient.
//! * **AAD.** The same header bytes: `"oncofed-swarm/v1"`, then run, round
//!   (u32 BE), attempt (u32 BE), sender, recipient (each string u32-BE-length
//!   prefixed) and the kind's byte. Any change to the envelope's header, and
//!   any change of a ciphertext byte, fails the Poly1305 tag.
//! * **Nonce.** 12 fresh random bytes per message, sent in front of the
//!   ciphertext (`nonce ‖ ciphertext ‖ tag`). Keys are per header, so a nonce
//!   would have to repeat under one header to matter; random nonces make even a
//!   re-sealed message (a retried send) safe.
//!
//! Static-static rather than ephemeral-static: the sender is authenticated by
//! the agreement itself (its run key is roster-signed), with no signature per
//! message; forward secrecy is per run, since run secrets are drawn per run
//! and dropped when the run ends.

use crate::{Envelope, Kind, SwarmError};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

/// Nonce length in front of every ciphertext.
pub const NONCE_LEN: usize = 12;
/// Poly1305 tag length at the end of every ciphertext.
pub const TAG_LEN: usize = 16;

const SALT: &[u8] = b"oncofed-swarm/v1 seal";

/// The header of a sealed message: everything in an [`Envelope`] but the
/// ciphertext. Bound as AAD and as HKDF context.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    /// The run.
    pub run: &'a str,
    /// The round.
    pub round: u32,
    /// The leader attempt within the round.
    pub attempt: u32,
    /// The sender's site name.
    pub from: &'a str,
    /// The recipient's site name.
    pub to: &'a str,
    /// What the message carries.
    pub kind: Kind,
}

impl<'a> Header<'a> {
    /// The header of an envelope.
    pub fn of(envelope: &'a Envelope) -> Self {
        Header {
            run: &envelope.run,
            round: envelope.round,
            attempt: envelope.attempt,
            from: &envelope.from,
            to: &envelope.to,
            kind: envelope.kind,
        }
    }

    /// The canonical bytes bound into key and tag.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.run.len() + self.from.len() + self.to.len());
        out.extend_from_slice(b"oncofed-swarm/v1");
        put_str(&mut out, self.run);
        out.extend_from_slice(&self.round.to_be_bytes());
        out.extend_from_slice(&self.attempt.to_be_bytes());
        put_str(&mut out, self.from);
        put_str(&mut out, self.to);
        out.push(self.kind.code());
        out
    }
}

/// Appends a u32-BE-length-prefixed string (names are at most 128 bytes).
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn cipher(
    secret: &StaticSecret,
    peer: &[u8; 32],
    sender_key: &[u8; 32],
    recipient_key: &[u8; 32],
    header: &[u8],
    peer_name: &str,
) -> Result<ChaCha20Poly1305, SwarmError> {
    let shared = secret.diffie_hellman(&PublicKey::from(*peer));
    if !shared.was_contributory() {
        return Err(SwarmError::WeakKey {
            site: peer_name.to_owned(),
        });
    }
    let mut ikm = Vec::with_capacity(96);
    ikm.extend_from_slice(shared.as_bytes());
    ikm.extend_from_slice(sender_key);
    ikm.extend_from_slice(recipient_key);
    let mut okm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(SALT), &ikm)
        .expand(header, &mut okm)
        .map_err(|_| SwarmError::Malformed {
            what: "key derivation",
            rule: "HKDF output length",
        })?;
    Ok(ChaCha20Poly1305::new(Key::from_slice(&okm)))
}

/// Seals `plaintext` from the holder of `secret` to the holder of run key
/// `to_key`, under a fresh random nonce, into an [`Envelope`] with `header`.
pub fn seal(
    secret: &StaticSecret,
    to_key: &[u8; 32],
    header: Header<'_>,
    plaintext: &[u8],
) -> Result<Envelope, SwarmError> {
    let own = PublicKey::from(secret).to_bytes();
    let bytes = header.bytes();
    let aead = cipher(secret, to_key, &own, to_key, &bytes, header.to)?;
    let nonce: [u8; NONCE_LEN] = rand::random();
    let sealed = aead
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &bytes,
            },
        )
        .map_err(|_| SwarmError::Malformed {
            what: "plaintext",
            rule: "too long for ChaCha20-Poly1305",
        })?;
    let mut ciphertext = Vec::with_capacity(NONCE_LEN + sealed.len());
    ciphertext.extend_from_slice(&nonce);
    ciphertext.extend_from_slice(&sealed);
    Ok(Envelope {
        run: header.run.to_owned(),
        round: header.round,
        attempt: header.attempt,
        from: header.from.to_owned(),
        to: header.to.to_owned(),
        kind: header.kind,
        ciphertext,
    })
}

/// Opens an envelope sealed by [`seal`] for the holder of `secret`, from the
/// holder of run key `from_key`. Refuses ([`SwarmError::Unopenable`]) any
/// changed byte of header or ciphertext, a message for another recipient, and a
/// message moved into another run, round, attempt or kind.
pub fn open(
    secret: &StaticSecret,
    from_key: &[u8; 32],
    envelope: &Envelope,
) -> Result<Vec<u8>, SwarmError> {
    let refused = || SwarmError::Unopenable {
        run: envelope.run.clone(),
        round: envelope.round,
        attempt: envelope.attempt,
        kind: envelope.kind,
        from: envelope.from.clone(),
    };
    if envelope.ciphertext.len() < NONCE_LEN + TAG_LEN {
        return Err(refused());
    }
    let own = PublicKey::from(secret).to_bytes();
    let bytes = Header::of(envelope).bytes();
    let aead = cipher(secret, from_key, from_key, &own, &bytes, &envelope.from)?;
    let (nonce, sealed) = envelope.ciphertext.split_at(NONCE_LEN);
    aead.decrypt(
        Nonce::from_slice(nonce),
        Payload {
            msg: sealed,
            aad: &bytes,
        },
    )
    .map_err(|_| refused())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (StaticSecret, [u8; 32]) {
        let s = StaticSecret::from(rand::random::<[u8; 32]>());
        let p = PublicKey::from(&s).to_bytes();
        (s, p)
    }

    #[test]
    fn opens_only_unchanged_for_the_recipient() {
        let (a, a_pub) = pair();
        let (b, b_pub) = pair();
        let (c, _) = pair();
        let header = Header {
            run: "run-1",
            round: 3,
            attempt: 0,
            from: "site-a",
            to: "site-b",
            kind: Kind::Update,
        };
        let env = seal(&a, &b_pub, header, b"parameters").unwrap();
        assert_eq!(open(&b, &a_pub, &env).unwrap(), b"parameters");
        assert!(open(&c, &a_pub, &env).is_err(), "wrong recipient");
        for i in 0..env.ciphertext.len() {
            let mut t = env.clone();
            t.ciphertext[i] ^= 1;
            assert!(open(&b, &a_pub, &t).is_err(), "byte {i}");
        }
        let mut moved = env.clone();
        moved.round = 4;
        assert!(
            open(&b, &a_pub, &moved).is_err(),
            "replay into another round"
        );
        let mut moved = env.clone();
        moved.attempt = 1;
        assert!(open(&b, &a_pub, &moved).is_err());
        let mut moved = env.clone();
        moved.kind = Kind::Model;
        assert!(open(&b, &a_pub, &moved).is_err());
        let mut moved = env.clone();
        moved.run = "run-2".into();
        assert!(open(&b, &a_pub, &moved).is_err());
        let mut moved = env.clone();
        moved.to = "site-c".into();
        assert!(open(&b, &a_pub, &moved).is_err());
        let mut short = env;
        short.ciphertext.truncate(20);
        assert!(open(&b, &a_pub, &short).is_err());
    }

    #[test]
    fn low_order_keys_are_refused() {
        let (a, _) = pair();
        let header = Header {
            run: "r",
            round: 0,
            attempt: 0,
            from: "a",
            to: "b",
            kind: Kind::Hash,
        };
        assert!(matches!(
            seal(&a, &[0u8; 32], header, b"x"),
            Err(SwarmError::WeakKey { .. })
        ));
    }
}
