//! The hub's side of a round: [`AggregationRound`], a state machine that relays
//! keys and shares, collects masked inputs and unmasks only their sum.

use crate::kdf;
use crate::messages::{
    EncryptedShare, MaskedInput, PublicShare, Reveal, RevealedShare, UnmaskRequest,
};
use crate::shamir::{self, ShareValue};
use crate::site::add_into;
use crate::{RoundId, SecAggError, SiteId, check_threshold};
use std::collections::{BTreeMap, BTreeSet};
use x25519_dalek::{PublicKey, StaticSecret};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Keys,
    Shares,
    Inputs,
    Unmasking,
    Finished,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Keys => "keys",
            Phase::Shares => "shares",
            Phase::Inputs => "inputs",
            Phase::Unmasking => "unmasking",
            Phase::Finished => "finished",
        }
    }
}

/// One aggregation round at the hub. Steps, each accepted only in its phase:
///
/// 1. [`add_share`](Self::add_share) per site, then [`close_keys`](Self::close_keys)
///    returns the public shares to relay to every site;
/// 2. [`add_encrypted_shares`](Self::add_encrypted_shares) per site, then
///    [`close_shares`](Self::close_shares) returns each site's inbox;
/// 3. [`add_masked`](Self::add_masked) per site, then
///    [`close_inputs`](Self::close_inputs) fixes survivors and dropped sites once
///    and returns the [`UnmaskRequest`]; **any masked input after this is refused**;
/// 4. [`add_reveal`](Self::add_reveal) per survivor (exactly the shares the request
///    allows), then [`finish`](Self::finish) returns the sum.
///
/// Sites that miss step 2 are simply left out; sites that miss step 3 are dropped
/// and their masks removed; each step needs at least `threshold` sites.
#[derive(Debug)]
pub struct AggregationRound {
    round: RoundId,
    expected: BTreeSet<SiteId>,
    threshold: usize,
    phase: Phase,
    keys: BTreeMap<SiteId, PublicShare>,
    shares: BTreeMap<SiteId, Vec<EncryptedShare>>,
    inputs: BTreeMap<SiteId, Vec<u64>>,
    request: Option<UnmaskRequest>,
    reveals: BTreeMap<SiteId, Reveal>,
}

impl AggregationRound {
    /// A round over `expected_sites` with Shamir threshold `threshold`, which must
    /// be more than half of them (so two disjoint groups can never both unmask).
    pub fn new(
        round: RoundId,
        expected_sites: &[SiteId],
        threshold: usize,
    ) -> Result<Self, SecAggError> {
        let expected: BTreeSet<SiteId> = expected_sites.iter().copied().collect();
        if expected.len() != expected_sites.len() {
            return Err(SecAggError::InconsistentRequest("a site is listed twice"));
        }
        if threshold > expected.len() {
            return Err(SecAggError::InvalidThreshold {
                threshold,
                sites: expected.len(),
            });
        }
        check_threshold(threshold, expected.len())?;
        Ok(AggregationRound {
            round,
            expected,
            threshold,
            phase: Phase::Keys,
            keys: BTreeMap::new(),
            shares: BTreeMap::new(),
            inputs: BTreeMap::new(),
            request: None,
            reveals: BTreeMap::new(),
        })
    }

    fn require(&self, phase: Phase, action: &'static str) -> Result<(), SecAggError> {
        if self.phase == phase {
            Ok(())
        } else {
            Err(SecAggError::WrongPhase {
                action,
                phase: self.phase.name(),
            })
        }
    }

    fn enough(&self, got: usize) -> Result<(), SecAggError> {
        if got < self.threshold {
            return Err(SecAggError::BelowThreshold {
                got,
                threshold: self.threshold,
            });
        }
        Ok(())
    }

    /// Step 1: accepts an expected site's public share (once).
    pub fn add_share(&mut self, share: PublicShare) -> Result<(), SecAggError> {
        self.require(Phase::Keys, "add a public share")?;
        self.round.expect(&share.round)?;
        if !self.expected.contains(&share.site) {
            return Err(SecAggError::UnknownSite(share.site));
        }
        if self.keys.contains_key(&share.site) {
            return Err(SecAggError::Duplicate(share.site));
        }
        self.keys.insert(share.site, share);
        Ok(())
    }

    /// Ends step 1: the public shares to relay to each of their senders.
    pub fn close_keys(&mut self) -> Result<Vec<PublicShare>, SecAggError> {
        self.require(Phase::Keys, "close keys")?;
        self.enough(self.keys.len())?;
        self.phase = Phase::Shares;
        Ok(self.keys.values().cloned().collect())
    }

    /// Step 2: accepts a site's encrypted shares, exactly one for each other site
    /// that published a key.
    pub fn add_encrypted_shares(
        &mut self,
        from: SiteId,
        shares: Vec<EncryptedShare>,
    ) -> Result<(), SecAggError> {
        self.require(Phase::Shares, "add encrypted shares")?;
        if !self.keys.contains_key(&from) {
            return Err(SecAggError::UnknownSite(from));
        }
        if self.shares.contains_key(&from) {
            return Err(SecAggError::Duplicate(from));
        }
        let mut recipients = BTreeSet::new();
        for s in &shares {
            self.round.expect(&s.round)?;
            if s.from != from
                || s.to == from
                || !self.keys.contains_key(&s.to)
                || !recipients.insert(s.to)
            {
                return Err(SecAggError::InconsistentRequest(
                    "shares must go once to every other site",
                ));
            }
        }
        if recipients.len() + 1 != self.keys.len() {
            return Err(SecAggError::InconsistentRequest(
                "shares must go once to every other site",
            ));
        }
        self.shares.insert(from, shares);
        Ok(())
    }

    /// Ends step 2: for each site that sent its shares, the shares addressed to it
    /// by the other such sites. Sites that did not send are out of the round.
    pub fn close_shares(&mut self) -> Result<BTreeMap<SiteId, Vec<EncryptedShare>>, SecAggError> {
        self.require(Phase::Shares, "close shares")?;
        self.enough(self.shares.len())?;
        let mut inboxes: BTreeMap<SiteId, Vec<EncryptedShare>> =
            self.shares.keys().map(|s| (*s, Vec::new())).collect();
        for s in self.shares.values().flatten() {
            if let Some(inbox) = inboxes.get_mut(&s.to) {
                inbox.push(s.clone());
            }
        }
        self.phase = Phase::Inputs;
        Ok(inboxes)
    }

    /// Step 3: accepts a masked input from a site that completed step 2. After
    /// [`close_inputs`](Self::close_inputs) every input is refused with
    /// [`SecAggError::LateInput`]: a dropped site's mask secret may be revealed by
    /// then, and its late input would be unmasked by it.
    pub fn add_masked(&mut self, input: MaskedInput) -> Result<(), SecAggError> {
        if matches!(self.phase, Phase::Unmasking | Phase::Finished) {
            return Err(SecAggError::LateInput { site: input.site });
        }
        self.require(Phase::Inputs, "add a masked input")?;
        self.round.expect(&input.round)?;
        if !self.shares.contains_key(&input.site) {
            return Err(SecAggError::UnknownSite(input.site));
        }
        if self.inputs.contains_key(&input.site) {
            return Err(SecAggError::Duplicate(input.site));
        }
        if let Some(first) = self.inputs.values().next()
            && first.len() != input.values.len()
        {
            return Err(SecAggError::LengthMismatch {
                got: input.values.len(),
                expected: first.len(),
            });
        }
        self.inputs.insert(input.site, input.values);
        Ok(())
    }

    /// Ends step 3, once and for all: survivors are the sites whose input arrived,
    /// dropped are the other sites of step 2. The request goes to every survivor.
    pub fn close_inputs(&mut self) -> Result<UnmaskRequest, SecAggError> {
        self.require(Phase::Inputs, "close inputs")?;
        self.enough(self.inputs.len())?;
        let request = UnmaskRequest {
            round: self.round.clone(),
            survivors: self.inputs.keys().copied().collect(),
            dropped: self
                .shares
                .keys()
                .filter(|s| !self.inputs.contains_key(s))
                .copied()
                .collect(),
        };
        self.request = Some(request.clone());
        self.phase = Phase::Unmasking;
        Ok(request)
    }

    /// The unmask request, once issued.
    pub fn unmask_request(&self) -> Option<&UnmaskRequest> {
        self.request.as_ref()
    }

    /// Step 4: accepts a survivor's reveal if it holds exactly one self-mask share
    /// per survivor and one mask-secret share per dropped site — the rule that the
    /// hub never holds both kinds of shares for the same site.
    pub fn add_reveal(&mut self, reveal: Reveal) -> Result<(), SecAggError> {
        self.require(Phase::Unmasking, "add a reveal")?;
        self.round.expect(&reveal.round)?;
        let request = self.request.as_ref().expect("issued when unmasking starts");
        if !request.survivors.contains(&reveal.site) {
            return Err(SecAggError::UnknownSite(reveal.site));
        }
        if self.reveals.contains_key(&reveal.site) {
            return Err(SecAggError::Duplicate(reveal.site));
        }
        let owners = |v: &[RevealedShare]| v.iter().map(|s| s.owner).collect::<Vec<_>>();
        if owners(&reveal.self_mask_shares) != request.survivors
            || owners(&reveal.mask_key_shares) != request.dropped
        {
            return Err(SecAggError::RevealMismatch(reveal.site));
        }
        self.reveals.insert(reveal.site, reveal);
        Ok(())
    }

    /// `t` shares of `owner`'s secret, from the first `t` reveals.
    fn shares_of(&self, owner: SiteId, self_mask: bool) -> Vec<(SiteId, ShareValue)> {
        self.reveals
            .values()
            .take(self.threshold)
            .map(|r| {
                let list = if self_mask {
                    &r.self_mask_shares
                } else {
                    &r.mask_key_shares
                };
                let s = list
                    .iter()
                    .find(|s| s.owner == owner)
                    .expect("checked in add_reveal");
                (r.site, s.value)
            })
            .collect()
    }

    /// Ends the round: with at least `t` reveals, reconstructs each survivor's
    /// self-mask seed and each dropped site's mask secret (checked against what the
    /// site published), removes their masks and returns the sum of the survivors'
    /// inputs in `Z_{2^64}` (decode with [`crate::FixedPoint::decode_sum`]).
    pub fn finish(&mut self) -> Result<Vec<u64>, SecAggError> {
        self.require(Phase::Unmasking, "finish")?;
        self.enough(self.reveals.len())?;
        let request = self.request.clone().expect("issued when unmasking starts");
        let len = self.inputs.values().next().map_or(0, Vec::len);
        let mut sum = vec![0u64; len];
        for v in self.inputs.values() {
            add_into(&mut sum, v, false);
        }
        for &k in &request.survivors {
            let seed = shamir::reconstruct(&self.shares_of(k, true))
                .filter(|seed| {
                    kdf::commit(seed, k, &self.round) == self.keys[&k].self_mask_commitment
                })
                .ok_or(SecAggError::ReconstructionMismatch(k))?;
            add_into(&mut sum, &kdf::self_mask(&seed, k, &self.round, len), true);
        }
        for &d in &request.dropped {
            let secret = shamir::reconstruct(&self.shares_of(d, false))
                .map(StaticSecret::from)
                .filter(|s| PublicKey::from(s).to_bytes() == self.keys[&d].mask_key)
                .ok_or(SecAggError::ReconstructionMismatch(d))?;
            for &k in &request.survivors {
                let m =
                    kdf::pairwise_mask(&secret, d, k, &self.keys[&k].mask_key, &self.round, len)?;
                // Survivor k added this mask if d > k and subtracted it if d < k.
                add_into(&mut sum, &m, d > k);
            }
        }
        self.phase = Phase::Finished;
        Ok(sum)
    }

    /// Number of survivors whose inputs are in the sum (for decoding), once known.
    pub fn survivors(&self) -> Option<usize> {
        self.request.as_ref().map(|r| r.survivors.len())
    }
}
