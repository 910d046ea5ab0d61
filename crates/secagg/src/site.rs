//! The site's side of a round: one [`SiteSession`] per site and round.

use crate::kdf;
use crate::messages::{
    EncryptedShare, MaskedInput, PublicShare, Reveal, RevealedShare, UnmaskRequest,
};
use crate::shamir::{self, LIMBS, ShareValue};
use crate::{RoundId, SecAggError, SiteId, check_threshold};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use x25519_dalek::{PublicKey, StaticSecret};

const PLAINTEXT_LEN: usize = 2 * LIMBS * 8;

/// The shares this site holds of one peer's secrets.
#[derive(Clone, Copy)]
struct HeldShares {
    self_mask: ShareValue,
    mask_key: ShareValue,
}

impl HeldShares {
    fn to_bytes(self) -> Vec<u8> {
        self.self_mask
            .iter()
            .chain(&self.mask_key)
            .flat_map(|x| x.to_le_bytes())
            .collect()
    }

    fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != PLAINTEXT_LEN {
            return None;
        }
        let mut v = b
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8")));
        let mut take = || -> ShareValue { std::array::from_fn(|_| v.next().unwrap_or(0)) };
        Some(HeldShares {
            self_mask: take(),
            mask_key: take(),
        })
    }
}

/// Where the session is; each step runs once, in order.
enum Stage {
    Keys,
    Shared {
        peers: BTreeMap<SiteId, PublicShare>,
        own: HeldShares,
    },
    Masked {
        held: BTreeMap<SiteId, HeldShares>,
    },
    Revealed,
}

/// One site's state for one round: its secrets (X25519 mask and cipher secrets,
/// self-mask seed), the peers' public keys and the shares it holds for them.
///
/// Kept in memory only: a site that restarts mid-round simply drops out, which
/// the protocol tolerates. `Debug` shows no secrets.
pub struct SiteSession {
    site: SiteId,
    round: RoundId,
    threshold: usize,
    mask_secret: StaticSecret,
    cipher_secret: StaticSecret,
    self_seed: [u8; 32],
    stage: Stage,
}

impl fmt::Debug for SiteSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SiteSession")
            .field("site", &self.site)
            .field("round", &self.round)
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

impl SiteSession {
    /// Step 1: fresh key pairs and self-mask seed for `round`, and the
    /// [`PublicShare`] to send to the hub. `threshold` is the round's Shamir
    /// threshold `t`. This is the per-round core and trusts its caller for `t`
    /// and the peers; a site facing a hub that may lie uses
    /// [`RunParticipant`](crate::RunParticipant), which signs the share, checks
    /// peers against the site's roster and sets `t` from the site's own policy.
    pub fn new(site: SiteId, round: RoundId, threshold: usize) -> (Self, PublicShare) {
        let mask_secret = StaticSecret::from(rand::random::<[u8; 32]>());
        let cipher_secret = StaticSecret::from(rand::random::<[u8; 32]>());
        let self_seed: [u8; 32] = rand::random();
        let public = PublicShare {
            round: round.clone(),
            site,
            mask_key: PublicKey::from(&mask_secret).to_bytes(),
            cipher_key: PublicKey::from(&cipher_secret).to_bytes(),
            self_mask_commitment: kdf::commit(&self_seed, site, &round),
        };
        let session = SiteSession {
            site,
            round,
            threshold,
            mask_secret,
            cipher_secret,
            self_seed,
            stage: Stage::Keys,
        };
        (session, public)
    }

    /// Sets `t` before [`share_keys`](Self::share_keys), once the site knows
    /// the signed participants ([`crate::RunParticipant`] computes it).
    pub(crate) fn set_threshold(&mut self, threshold: usize) {
        self.threshold = threshold;
    }

    /// Whether the masked input was sent and nothing revealed yet: the only
    /// stage in which a survivor split may be signed (consistency round).
    pub(crate) fn is_masked(&self) -> bool {
        matches!(self.stage, Stage::Masked { .. })
    }

    /// This session's site.
    pub fn site(&self) -> SiteId {
        self.site
    }

    fn phase_error(&self, action: &'static str) -> SecAggError {
        let phase = match self.stage {
            Stage::Keys => "keys",
            Stage::Shared { .. } => "shares",
            Stage::Masked { .. } => "inputs",
            Stage::Revealed => "revealed",
        };
        SecAggError::WrongPhase { action, phase }
    }

    /// Step 2: given all public shares the hub relayed (this site's included),
    /// Shamir-shares the self-mask seed and the mask secret with threshold `t`
    /// among these sites and encrypts one message per peer.
    pub fn share_keys(
        &mut self,
        peers: &[PublicShare],
    ) -> Result<Vec<EncryptedShare>, SecAggError> {
        if !matches!(self.stage, Stage::Keys) {
            return Err(self.phase_error("share keys"));
        }
        let mut map = BTreeMap::new();
        for p in peers {
            self.round.expect(&p.round)?;
            if map.insert(p.site, p.clone()).is_some() {
                return Err(SecAggError::Duplicate(p.site));
            }
        }
        let own_keys = map.get(&self.site).map(|p| (p.mask_key, p.cipher_key));
        let expected = (
            PublicKey::from(&self.mask_secret).to_bytes(),
            PublicKey::from(&self.cipher_secret).to_bytes(),
        );
        if own_keys != Some(expected) {
            return Err(SecAggError::InconsistentRequest(
                "own public share missing or altered",
            ));
        }
        check_threshold(self.threshold, map.len())?;
        let sites: Vec<SiteId> = map.keys().copied().collect();
        let seeds = shamir::split(&self.self_seed, &sites, self.threshold);
        let keys = shamir::split(&self.mask_secret.to_bytes(), &sites, self.threshold);
        let mut out = Vec::with_capacity(sites.len() - 1);
        let mut own = None;
        for ((site, self_mask), mask_key) in sites.iter().zip(seeds).zip(keys) {
            let held = HeldShares {
                self_mask,
                mask_key,
            };
            if *site == self.site {
                own = Some(held);
                continue;
            }
            let (ciphertext, tag) = kdf::seal(
                &self.cipher_secret,
                &map[site].cipher_key,
                &self.round,
                self.site,
                *site,
                &held.to_bytes(),
            )?;
            out.push(EncryptedShare {
                round: self.round.clone(),
                from: self.site,
                to: *site,
                ciphertext,
                tag,
            });
        }
        let own = own.expect("own site is among the sites");
        self.stage = Stage::Shared { peers: map, own };
        Ok(out)
    }

    /// Step 3: decrypts the shares addressed to this site (their senders are the
    /// sites that completed step 2) and masks `input`: `y = x + PRG(b) + Σ_{j>i}
    /// PRG(s_ij) − Σ_{j<i} PRG(s_ij)` over those senders, in `Z_{2^64}`.
    pub fn mask(
        &mut self,
        inbox: &[EncryptedShare],
        input: &[u64],
    ) -> Result<MaskedInput, SecAggError> {
        let Stage::Shared { peers, own } = &self.stage else {
            return Err(self.phase_error("mask"));
        };
        let mut held = BTreeMap::new();
        held.insert(self.site, *own);
        for e in inbox {
            self.round.expect(&e.round)?;
            if e.to != self.site {
                return Err(SecAggError::InconsistentRequest(
                    "share addressed to another site",
                ));
            }
            let peer = peers.get(&e.from).ok_or(SecAggError::UnknownSite(e.from))?;
            let pt = kdf::open(
                &self.cipher_secret,
                &peer.cipher_key,
                &self.round,
                e.from,
                self.site,
                &e.ciphertext,
                &e.tag,
            )?;
            let shares = HeldShares::from_bytes(&pt).ok_or(SecAggError::BadShare {
                from: e.from,
                to: self.site,
            })?;
            if held.insert(e.from, shares).is_some() {
                return Err(SecAggError::Duplicate(e.from));
            }
        }
        check_threshold(self.threshold, held.len())?;
        let mut values = input.to_vec();
        add_into(
            &mut values,
            &kdf::self_mask(&self.self_seed, self.site, &self.round, input.len()),
            false,
        );
        for &j in held.keys().filter(|&&j| j != self.site) {
            let m = kdf::pairwise_mask(
                &self.mask_secret,
                self.site,
                j,
                &peers[&j].mask_key,
                &self.round,
                input.len(),
            )?;
            add_into(&mut values, &m, j < self.site);
        }
        self.stage = Stage::Masked { held };
        Ok(MaskedInput {
            round: self.round.clone(),
            site: self.site,
            values,
        })
    }

    /// Step 4: answers the hub's one [`UnmaskRequest`] with shares of each
    /// survivor's self-mask seed and each dropped site's mask secret. Refuses a
    /// request that does not split exactly the sites this site masked with, that
    /// leaves fewer than `t` survivors or omits this site, and any second request.
    pub fn reveal(&mut self, request: &UnmaskRequest) -> Result<Reveal, SecAggError> {
        let Stage::Masked { held } = &self.stage else {
            return Err(self.phase_error("reveal"));
        };
        self.round.expect(&request.round)?;
        let survivors: BTreeSet<SiteId> = request.survivors.iter().copied().collect();
        let dropped: BTreeSet<SiteId> = request.dropped.iter().copied().collect();
        if survivors.len() != request.survivors.len() || dropped.len() != request.dropped.len() {
            return Err(SecAggError::InconsistentRequest("a site is listed twice"));
        }
        if !survivors.is_disjoint(&dropped) {
            return Err(SecAggError::InconsistentRequest(
                "a site is both survivor and dropped",
            ));
        }
        if !survivors.contains(&self.site) {
            return Err(SecAggError::InconsistentRequest(
                "this site is not listed as a survivor",
            ));
        }
        let all: BTreeSet<SiteId> = survivors.union(&dropped).copied().collect();
        if !all.iter().eq(held.keys()) {
            return Err(SecAggError::InconsistentRequest(
                "sites differ from those this site masked with",
            ));
        }
        if survivors.len() < self.threshold {
            return Err(SecAggError::BelowThreshold {
                got: survivors.len(),
                threshold: self.threshold,
            });
        }
        let pick =
            |set: &BTreeSet<SiteId>, f: fn(&HeldShares) -> ShareValue| -> Vec<RevealedShare> {
                set.iter()
                    .map(|o| RevealedShare {
                        owner: *o,
                        value: f(&held[o]),
                    })
                    .collect()
            };
        let reveal = Reveal {
            round: self.round.clone(),
            site: self.site,
            self_mask_shares: pick(&survivors, |h| h.self_mask),
            mask_key_shares: pick(&dropped, |h| h.mask_key),
        };
        self.stage = Stage::Revealed;
        Ok(reveal)
    }
}

/// `acc ± m` element-wise in `Z_{2^64}`.
pub(crate) fn add_into(acc: &mut [u64], m: &[u64], subtract: bool) {
    for (a, b) in acc.iter_mut().zip(m) {
        *a = if subtract {
            a.wrapping_sub(*b)
        } else {
            a.wrapping_add(*b)
        };
    }
}
