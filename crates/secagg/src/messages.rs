//! The messages of a round, all serde-serialisable. None carries a secret in
//! the clear: keys are public, shares are encrypted to their recipient (until the
//! unmasking step, which reveals exactly the shares the protocol allows).

use crate::shamir::ShareValue;
use crate::{RoundId, SiteId};
use serde::{Deserialize, Serialize};

/// Step 1, site → hub → all sites: a site's public keys and a commitment to its
/// self-mask seed. The hub relays these; against a malicious hub they travel as
/// [`SignedPublicShare`](crate::SignedPublicShare), signed with the site's
/// registered key and checked against each receiving site's own roster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicShare {
    /// The round.
    pub round: RoundId,
    /// The sending site.
    pub site: SiteId,
    /// X25519 public key for pairwise masks (its secret is Shamir-shared for dropout recovery).
    #[serde(with = "hex::serde")]
    pub mask_key: [u8; 32],
    /// X25519 public key for encrypting shares to this site (never shared or revealed).
    #[serde(with = "hex::serde")]
    pub cipher_key: [u8; 32],
    /// Commitment to the self-mask seed, so the hub detects a wrong reconstruction.
    #[serde(with = "hex::serde")]
    pub self_mask_commitment: [u8; 32],
}

/// Step 2, site → hub → one site: the sender's Shamir shares of its self-mask seed
/// and mask secret for one recipient, encrypted and authenticated (ChaCha20 +
/// HMAC-SHA256) under a key only the two sites can derive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedShare {
    /// The round.
    pub round: RoundId,
    /// The sending site (owner of the shared secrets).
    pub from: SiteId,
    /// The recipient.
    pub to: SiteId,
    /// The encrypted shares.
    #[serde(with = "hex::serde")]
    pub ciphertext: Vec<u8>,
    /// HMAC-SHA256 over the ciphertext.
    #[serde(with = "hex::serde")]
    pub tag: [u8; 32],
}

/// Step 3, site → hub: the site's input plus its self-mask and pairwise masks,
/// element-wise in `Z_{2^64}`. Indistinguishable from uniform noise on its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskedInput {
    /// The round.
    pub round: RoundId,
    /// The sending site.
    pub site: SiteId,
    /// The masked vector.
    pub values: Vec<u64>,
}

/// Step 4, hub → surviving sites: the one, final split of the sites that shared
/// keys into survivors (their masked input arrived) and dropped (it did not).
/// The hub issues it once per round; sites check it against their own view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmaskRequest {
    /// The round.
    pub round: RoundId,
    /// Sites whose masked input is in the sum, ascending.
    pub survivors: Vec<SiteId>,
    /// Sites that shared keys but whose input did not arrive, ascending.
    pub dropped: Vec<SiteId>,
}

/// One revealed share: the revealing site's share of `owner`'s secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealedShare {
    /// Whose secret this is a share of.
    pub owner: SiteId,
    /// The share (five elements of `GF(2^61 − 1)`).
    pub value: ShareValue,
}

/// Step 4, surviving site → hub: shares of every survivor's self-mask seed and of
/// every dropped site's mask secret, never both kinds for the same owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reveal {
    /// The round.
    pub round: RoundId,
    /// The revealing site.
    pub site: SiteId,
    /// Shares of self-mask seeds, one per survivor.
    pub self_mask_shares: Vec<RevealedShare>,
    /// Shares of mask secrets, one per dropped site.
    pub mask_key_shares: Vec<RevealedShare>,
}
