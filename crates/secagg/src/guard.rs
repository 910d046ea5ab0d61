//! The site's side of a whole run against a malicious hub ([`RunParticipant`]):
//! Bonawitz et al.'s signed keys and consistency round, the site's own threshold
//! and roster, one survivor set per run, and a durable ledger of what was keyed
//! and revealed. [`SiteSession`] does the masking; this module decides whether
//! a step may run at all.

use crate::messages::{EncryptedShare, MaskedInput, PublicShare, Reveal, UnmaskRequest};
use crate::roster::{Roster, SitePolicy};
use crate::{RoundId, SecAggError, SiteId, SiteSession};
use oncofed_crypto::{Signature, SigningKeyPair};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Most rounds one run may open (bounds the keys a site generates on request).
pub const MAX_ROUNDS: usize = 256;

/// The one text a site sends the hub for any refused step. Constant, so the
/// refusal itself tells the hub nothing about the site's data or state; the
/// reason goes only to the site's log ([`Refusal::detail`]).
pub const REFUSAL_TEXT: &str = "secure aggregation step refused by the site";

/// A refused step. Its `Display` is always [`REFUSAL_TEXT`]; the reason is
/// available through [`Refusal::detail`] for the site's own log only.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    detail: String,
}

impl Refusal {
    fn new(detail: impl Into<String>) -> Self {
        Refusal {
            detail: detail.into(),
        }
    }

    /// Why the step was refused: for the site's log, never for the hub.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REFUSAL_TEXT)
    }
}

impl std::error::Error for Refusal {}

impl From<SecAggError> for Refusal {
    fn from(e: SecAggError) -> Self {
        Refusal::new(e.to_string())
    }
}

/// A durable record of protocol events, each accepted once, that outlives a
/// run's in-memory state (and a restart of the site). The node backs it with its
/// research store's task replay ledger.
pub trait Ledger {
    /// Records `entry`; `Ok(false)` if it was recorded before. An `Err` (the
    /// ledger is unavailable) makes the caller refuse: fail closed.
    fn record_once(&mut self, entry: &str) -> Result<bool, String>;
}

/// An in-memory [`Ledger`], for tests and for tools that run one process only.
#[derive(Clone, Debug, Default)]
pub struct MemoryLedger {
    entries: BTreeSet<String>,
}

impl Ledger for MemoryLedger {
    fn record_once(&mut self, entry: &str) -> Result<bool, String> {
        Ok(self.entries.insert(entry.to_owned()))
    }
}

/// A [`PublicShare`] signed by its site's registered Ed25519 key over the run,
/// round, index, both public keys and the self-mask commitment, so the hub can
/// relay it but neither forge nor alter it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPublicShare {
    /// The advertised keys.
    pub share: PublicShare,
    /// The roster name of the signing site.
    pub signer: String,
    /// Ed25519 signature over [`keys_message`]'s bytes.
    pub signature: Signature,
}

/// The consistency round: a survivor's signature on the one unmask request it
/// accepted for a round. A site reveals only after seeing `t` of these on the
/// same request, so the hub cannot tell different sites different survivor sets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurvivorSignature {
    /// The round.
    pub round: RoundId,
    /// The signing survivor's number in the run.
    pub site: SiteId,
    /// Ed25519 signature over [`survivors_message`]'s bytes.
    pub signature: Signature,
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The bytes a site signs for its advertised keys (domain-separated, every
/// field length-prefixed, so no two distinct shares sign the same bytes).
pub fn keys_message(run: &str, signer: &str, share: &PublicShare) -> Vec<u8> {
    let mut m = b"oncofed-secagg/keys/v1\0".to_vec();
    field(&mut m, run.as_bytes());
    field(&mut m, signer.as_bytes());
    field(&mut m, share.round.as_str().as_bytes());
    m.extend_from_slice(&share.site.0.to_be_bytes());
    m.extend_from_slice(&share.mask_key);
    m.extend_from_slice(&share.cipher_key);
    m.extend_from_slice(&share.self_mask_commitment);
    m
}

/// The bytes a survivor signs in the consistency round: the run, the signer and
/// the exact split of the round's sites into survivors and dropped.
pub fn survivors_message(run: &str, signer: &str, request: &UnmaskRequest) -> Vec<u8> {
    let mut m = b"oncofed-secagg/survivors/v1\0".to_vec();
    field(&mut m, run.as_bytes());
    field(&mut m, signer.as_bytes());
    field(&mut m, request.round.as_str().as_bytes());
    for list in [&request.survivors, &request.dropped] {
        m.extend_from_slice(&(list.len() as u32).to_be_bytes());
        for s in list {
            m.extend_from_slice(&s.0.to_be_bytes());
        }
    }
    m
}

/// What a site knows of one run after the share step: the signed peers, fixed
/// for every round of the run, and the threshold it computed itself.
struct Peers {
    names: BTreeMap<SiteId, String>,
    threshold: usize,
}

/// One site's part in one run (a set of aggregation rounds keyed together),
/// enforcing the malicious-server model at every step:
///
/// - [`open`](Self::open) once per run id, recorded in the durable [`Ledger`];
/// - [`share`](Self::share) only with peers whose keys are signed by their
///   roster key, the same peers in every round, `n ≥ n_min`, and the threshold
///   `t = max(n_min, ⌊n/2⌋ + 1)` the site computes itself;
/// - [`confirm`](Self::confirm) signs one unmask request per round, and only the
///   run's one survivor set (fixed by the first request);
/// - [`reveal`](Self::reveal) only after `t` valid survivor signatures on that
///   same request, once per round (durably).
pub struct RunParticipant {
    run: String,
    me: String,
    key: SigningKeyPair,
    roster: Roster,
    policy: SitePolicy,
    index: Option<SiteId>,
    requested_threshold: usize,
    sessions: BTreeMap<RoundId, SiteSession>,
    peers: Option<Peers>,
    survivors: Option<Vec<SiteId>>,
    confirmed: BTreeMap<RoundId, UnmaskRequest>,
}

impl fmt::Debug for RunParticipant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunParticipant")
            .field("run", &self.run)
            .field("me", &self.me)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl RunParticipant {
    /// A participant for run `run` as roster site `me`, signing with `key`
    /// (which must be `me`'s key on the roster, or every peer would refuse us).
    pub fn new(
        run: &str,
        me: &str,
        key: SigningKeyPair,
        roster: Roster,
        policy: SitePolicy,
    ) -> Result<Self, Refusal> {
        if roster.key(me) != Some(&key.public_key()) {
            return Err(Refusal::new("this site's key is not on its own roster"));
        }
        if run.is_empty() || run.len() > 100 || !run.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Refusal::new("run id is not 1-100 printable ASCII"));
        }
        Ok(RunParticipant {
            run: run.to_owned(),
            me: me.to_owned(),
            key,
            roster,
            policy,
            index: None,
            requested_threshold: 0,
            sessions: BTreeMap::new(),
            peers: None,
            survivors: None,
            confirmed: BTreeMap::new(),
        })
    }

    /// Keys step: fresh sessions for `rounds` (each `<run>/<name>`, distinct, at
    /// most [`MAX_ROUNDS`]) as participant `index`, and their signed public
    /// shares. Once per run id ever: recorded as `<run> keyed` in `ledger`
    /// before any key is drawn. `threshold` is the hub's wish; the site uses it
    /// only where it is higher than its own rule.
    pub fn open(
        &mut self,
        ledger: &mut dyn Ledger,
        index: SiteId,
        threshold: usize,
        rounds: &[RoundId],
    ) -> Result<Vec<SignedPublicShare>, Refusal> {
        if rounds.is_empty() || rounds.len() > MAX_ROUNDS {
            return Err(Refusal::new("keys: no rounds, or too many"));
        }
        let prefix = format!("{}/", self.run);
        let distinct: BTreeSet<&RoundId> = rounds.iter().collect();
        if distinct.len() != rounds.len() || !rounds.iter().all(|r| r.as_str().starts_with(&prefix))
        {
            return Err(Refusal::new("keys: rounds repeat or belong to another run"));
        }
        if self.index.is_some() {
            return Err(Refusal::new("keys: this run is already keyed here"));
        }
        record(ledger, &format!("secagg {} keyed", self.run))?;
        self.index = Some(index);
        self.requested_threshold = threshold;
        let mut out = Vec::with_capacity(rounds.len());
        for round in rounds {
            // Threshold set from the signed peer count in `share`.
            let (session, share) = SiteSession::new(index, round.clone(), usize::MAX);
            let signature = self.key.sign(&keys_message(&self.run, &self.me, &share));
            self.sessions.insert(round.clone(), session);
            out.push(SignedPublicShare {
                share,
                signer: self.me.clone(),
                signature,
            });
        }
        Ok(out)
    }

    /// Verifies one round's relayed keys: every share signed by the roster key
    /// of the name it claims, each name and index once, this site's own share
    /// unaltered. Returns index → roster name.
    fn verify_keys(
        &self,
        round: &RoundId,
        keys: &[SignedPublicShare],
    ) -> Result<BTreeMap<SiteId, String>, Refusal> {
        let mut names = BTreeMap::new();
        let mut signers = BTreeSet::new();
        for k in keys {
            if k.share.round != *round {
                return Err(Refusal::new("share: keys of another round"));
            }
            let key = self
                .roster
                .key(&k.signer)
                .ok_or_else(|| Refusal::new("share: a peer is not on this site's roster"))?;
            key.verify(&keys_message(&self.run, &k.signer, &k.share), &k.signature)
                .map_err(|_| {
                    Refusal::new("share: a peer's keys are not signed by its roster key")
                })?;
            if !signers.insert(k.signer.clone())
                || names.insert(k.share.site, k.signer.clone()).is_some()
            {
                return Err(Refusal::new("share: a peer or an index appears twice"));
            }
        }
        if names.get(&self.index.unwrap_or(SiteId(u32::MAX))) != Some(&self.me) {
            return Err(Refusal::new("share: this site's own keys are missing"));
        }
        Ok(names)
    }

    /// Share step: for each opened round in order, the peers' signed keys as the
    /// hub relays them; returns per round the encrypted shares for the peers.
    /// Runs once; refuses unless every round lists the same signed peers.
    pub fn share(
        &mut self,
        keys: &[Vec<SignedPublicShare>],
    ) -> Result<Vec<Vec<EncryptedShare>>, Refusal> {
        if self.index.is_none() || self.peers.is_some() {
            return Err(Refusal::new("share: not keyed, or already shared"));
        }
        if keys.len() != self.sessions.len() {
            return Err(Refusal::new(
                "share: key lists do not match the opened rounds",
            ));
        }
        let mut names: Option<BTreeMap<SiteId, String>> = None;
        let mut plain = Vec::with_capacity(keys.len());
        for list in keys {
            let round = list
                .first()
                .map(|k| k.share.round.clone())
                .ok_or_else(|| Refusal::new("share: an empty key list"))?;
            if !self.sessions.contains_key(&round) || plain.iter().any(|(r, _)| *r == round) {
                return Err(Refusal::new("share: unknown or repeated round"));
            }
            let these = self.verify_keys(&round, list)?;
            if names.as_ref().is_some_and(|n| *n != these) {
                return Err(Refusal::new(
                    "share: the participants differ between rounds",
                ));
            }
            names = Some(these);
            plain.push((
                round,
                list.iter().map(|k| k.share.clone()).collect::<Vec<_>>(),
            ));
        }
        let names = names.ok_or_else(|| Refusal::new("share: no rounds"))?;
        let threshold = self
            .policy
            .threshold(names.len())?
            .max(self.requested_threshold);
        if threshold > names.len() {
            return Err(Refusal::new(
                "share: requested threshold exceeds the participants",
            ));
        }
        let mut out = Vec::with_capacity(plain.len());
        for (round, shares) in plain {
            let session = self
                .sessions
                .get_mut(&round)
                .ok_or_else(|| Refusal::new("share: unknown round"))?;
            session.set_threshold(threshold);
            out.push(session.share_keys(&shares)?);
        }
        self.peers = Some(Peers { names, threshold });
        Ok(out)
    }

    /// The Shamir threshold this site uses for the run, once its peers are known.
    pub fn threshold(&self) -> Option<usize> {
        self.peers.as_ref().map(|p| p.threshold)
    }

    /// Mask step for `round`: see [`SiteSession::mask`] (once per round).
    pub fn mask(
        &mut self,
        round: &RoundId,
        inbox: &[EncryptedShare],
        input: &[u64],
    ) -> Result<MaskedInput, Refusal> {
        if self.peers.is_none() {
            return Err(Refusal::new("mask: keys not shared yet"));
        }
        let session = self
            .sessions
            .get_mut(round)
            .ok_or_else(|| Refusal::new("mask: unknown or finished round"))?;
        Ok(session.mask(inbox, input)?)
    }

    /// Consistency round, first half: signs `request` if it is the first
    /// request this site sees for the round (or the same again), lists this site
    /// as a survivor, splits exactly the run's participants, and names the
    /// run's survivor set (fixed by the first request of the run).
    pub fn confirm(&mut self, request: &UnmaskRequest) -> Result<SurvivorSignature, Refusal> {
        let peers = self
            .peers
            .as_ref()
            .ok_or_else(|| Refusal::new("confirm: keys not shared yet"))?;
        if !self
            .sessions
            .get(&request.round)
            .is_some_and(SiteSession::is_masked)
        {
            return Err(Refusal::new(
                "confirm: round unknown, not masked yet, or finished",
            ));
        }
        if let Some(seen) = self.confirmed.get(&request.round) {
            if seen != request {
                return Err(Refusal::new(
                    "confirm: a second, different split for a round",
                ));
            }
        } else {
            let index = self.index.unwrap_or(SiteId(u32::MAX));
            let mut all: Vec<SiteId> = request
                .survivors
                .iter()
                .chain(&request.dropped)
                .copied()
                .collect();
            all.sort_unstable();
            let sorted = request.survivors.windows(2).all(|w| w[0] < w[1])
                && request.dropped.windows(2).all(|w| w[0] < w[1]);
            if !sorted
                || !all.iter().eq(peers.names.keys())
                || !request.survivors.contains(&index)
                || request.survivors.len() < peers.threshold
            {
                return Err(Refusal::new("confirm: the split does not fit this run"));
            }
            if self
                .survivors
                .as_ref()
                .is_some_and(|s| *s != request.survivors)
            {
                return Err(Refusal::new(
                    "confirm: survivors differ from the run's survivor set",
                ));
            }
            self.survivors = Some(request.survivors.clone());
            self.confirmed
                .insert(request.round.clone(), request.clone());
        }
        Ok(SurvivorSignature {
            round: request.round.clone(),
            site: self.index.unwrap_or(SiteId(u32::MAX)),
            signature: self
                .key
                .sign(&survivors_message(&self.run, &self.me, request)),
        })
    }

    /// Consistency round, second half, and unmasking: reveals this site's shares
    /// for the request it confirmed, only with at least `t` valid signatures
    /// from distinct survivors on that same request; once per round, recorded as
    /// `<round> revealed` in `ledger`. The round's secrets are dropped after.
    pub fn reveal(
        &mut self,
        ledger: &mut dyn Ledger,
        request: &UnmaskRequest,
        signatures: &[SurvivorSignature],
    ) -> Result<Reveal, Refusal> {
        let peers = self
            .peers
            .as_ref()
            .ok_or_else(|| Refusal::new("reveal: keys not shared yet"))?;
        if self.confirmed.get(&request.round) != Some(request) {
            return Err(Refusal::new("reveal: not the request this site confirmed"));
        }
        let mut valid = BTreeSet::new();
        for s in signatures {
            if s.round != request.round || !request.survivors.contains(&s.site) {
                continue;
            }
            let Some(name) = peers.names.get(&s.site) else {
                continue;
            };
            let Some(key) = self.roster.key(name) else {
                continue;
            };
            if key
                .verify(&survivors_message(&self.run, name, request), &s.signature)
                .is_ok()
            {
                valid.insert(s.site);
            }
        }
        if valid.len() < peers.threshold {
            return Err(Refusal::new(format!(
                "reveal: {} valid survivor signatures, {} needed",
                valid.len(),
                peers.threshold
            )));
        }
        let session = self
            .sessions
            .get_mut(&request.round)
            .ok_or_else(|| Refusal::new("reveal: unknown or finished round"))?;
        // The session is spent either way; the reveal leaves only once the
        // ledger holds "revealed" (fail closed if it cannot be recorded).
        let reveal = session.reveal(request);
        self.sessions.remove(&request.round);
        let reveal = reveal?;
        record(ledger, &format!("secagg {} revealed", request.round))?;
        Ok(reveal)
    }
}

fn record(ledger: &mut dyn Ledger, entry: &str) -> Result<(), Refusal> {
    match ledger.record_once(entry) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Refusal::new(format!("already recorded: {entry}"))),
        Err(e) => Err(Refusal::new(format!("ledger unavailable: {e}"))),
    }
}
