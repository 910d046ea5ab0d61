//! Key derivation, the ChaCha20 PRG and share encryption (crate-private).
//!
//! Every derived key is `HMAC-SHA256(ikm, "oncofed-secagg/v1" ‖ label ‖ 0 ‖
//! len(round) ‖ round ‖ parts…)`: an HKDF-extract-and-expand in one step, with the
//! label, the round id and the site numbers as context, so no key serves two
//! purposes, two rounds or two pairs. ChaCha20 (RFC 8439) with a zero nonce expands
//! a seed into a mask; the zero nonce is safe because every seed is used once.

use crate::{RoundId, SecAggError, SiteId};
use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use x25519_dalek::{PublicKey, SharedSecret, StaticSecret};

type HmacSha256 = Hmac<Sha256>;

const DOMAIN: &[u8] = b"oncofed-secagg/v1";

pub(crate) fn derive(ikm: &[u8], label: &[u8], round: &RoundId, parts: &[u32]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(ikm).expect("HMAC takes keys of any length");
    mac.update(DOMAIN);
    mac.update(label);
    mac.update(&[0]);
    let round = round.as_str().as_bytes();
    mac.update(&(round.len() as u32).to_be_bytes());
    mac.update(round);
    for p in parts {
        mac.update(&p.to_be_bytes());
    }
    mac.finalize().into_bytes().into()
}

fn keystream(key: &[u8; 32], buf: &mut [u8]) {
    let mut cipher = ChaCha20::new(key.into(), &[0u8; 12].into());
    cipher.apply_keystream(buf);
}

/// Expands a seed into `len` uniform elements of `Z_{2^64}`.
pub(crate) fn expand(seed: &[u8; 32], len: usize) -> Vec<u64> {
    let mut buf = vec![0u8; len * 8];
    keystream(seed, &mut buf);
    buf.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8")))
        .collect()
}

fn agree(
    secret: &StaticSecret,
    peer: SiteId,
    peer_key: &[u8; 32],
) -> Result<SharedSecret, SecAggError> {
    let shared = secret.diffie_hellman(&PublicKey::from(*peer_key));
    if shared.was_contributory() {
        Ok(shared)
    } else {
        Err(SecAggError::WeakKey(peer))
    }
}

/// The mask shared by sites `a` and `b` (symmetric in the two).
pub(crate) fn pairwise_mask(
    secret: &StaticSecret,
    me: SiteId,
    peer: SiteId,
    peer_key: &[u8; 32],
    round: &RoundId,
    len: usize,
) -> Result<Vec<u64>, SecAggError> {
    let shared = agree(secret, peer, peer_key)?;
    let (lo, hi) = if me < peer { (me, peer) } else { (peer, me) };
    let seed = derive(shared.as_bytes(), b"pairwise", round, &[lo.0, hi.0]);
    Ok(expand(&seed, len))
}

/// A site's self-mask `b_i`, expanded from its self-mask seed.
pub(crate) fn self_mask(seed: &[u8; 32], site: SiteId, round: &RoundId, len: usize) -> Vec<u64> {
    expand(&derive(seed, b"self-mask", round, &[site.0]), len)
}

/// Binding, hiding commitment to a uniformly random self-mask seed.
pub(crate) fn commit(seed: &[u8; 32], site: SiteId, round: &RoundId) -> [u8; 32] {
    derive(seed, b"commit", round, &[site.0])
}

fn share_keys(
    shared: &SharedSecret,
    round: &RoundId,
    from: SiteId,
    to: SiteId,
) -> ([u8; 32], [u8; 32]) {
    let ids = [from.0, to.0];
    (
        derive(shared.as_bytes(), b"share-enc", round, &ids),
        derive(shared.as_bytes(), b"share-mac", round, &ids),
    )
}

fn tag(mac_key: &[u8; 32], ciphertext: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(mac_key).expect("HMAC takes keys of any length");
    mac.update(ciphertext);
    mac
}

/// Encrypt-then-MAC (ChaCha20, HMAC-SHA256) of a share from `from` to `to`, under
/// keys derived from the sites' cipher key pair. One message per direction and round.
pub(crate) fn seal(
    secret: &StaticSecret,
    to_key: &[u8; 32],
    round: &RoundId,
    from: SiteId,
    to: SiteId,
    plaintext: &[u8],
) -> Result<(Vec<u8>, [u8; 32]), SecAggError> {
    let shared = agree(secret, to, to_key)?;
    let (enc, mac) = share_keys(&shared, round, from, to);
    let mut ct = plaintext.to_vec();
    keystream(&enc, &mut ct);
    let t = tag(&mac, &ct).finalize().into_bytes().into();
    Ok((ct, t))
}

/// Verifies (in constant time) and decrypts a share sealed by [`seal`].
pub(crate) fn open(
    secret: &StaticSecret,
    from_key: &[u8; 32],
    round: &RoundId,
    from: SiteId,
    to: SiteId,
    ciphertext: &[u8],
    mac_tag: &[u8; 32],
) -> Result<Vec<u8>, SecAggError> {
    let shared = agree(secret, from, from_key)?;
    let (enc, mac) = share_keys(&shared, round, from, to);
    tag(&mac, ciphertext)
        .verify_slice(mac_tag)
        .map_err(|_| SecAggError::BadShare { from, to })?;
    let mut pt = ciphertext.to_vec();
    keystream(&enc, &mut pt);
    Ok(pt)
}
