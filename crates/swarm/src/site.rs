//! A site's side of a swarm run: [`SwarmSite`].

use crate::keys::model_hash_message;
use crate::{
    Accepted, Contributors, Envelope, Header, Kind, LocalUpdate, PersistedRun, RoundPlan,
    SignedRunKey, SiteConfig, Step, SwarmError, decode_model, decode_update, encode_model,
    encode_update, fedavg, leader_order, model_hash, open, seal, valid_name, valid_run,
};
use oncofed_crypto::Signature;
use std::collections::{BTreeMap, BTreeSet};
use x25519_dalek::{PublicKey, StaticSecret};

struct RoundState {
    round: u32,
    attempt: u32,
    leader: String,
    contributors: BTreeSet<String>,
    own: LocalUpdate,
    updates: BTreeMap<String, LocalUpdate>,
    merged: Option<(Vec<f32>, [u8; 32], Contributors)>,
    hashes: BTreeMap<String, [u8; 32]>,
    done: bool,
}

/// A site in one swarm run. Create with [`SwarmSite::open`], feed every
/// envelope addressed to it into [`SwarmSite::on_message`], and call
/// [`SwarmSite::start_round`] with each round's local update.
pub struct SwarmSite {
    config: SiteConfig,
    run: String,
    secret: StaticSecret,
    participants: BTreeSet<String>,
    keys: BTreeMap<String, [u8; 32]>,
    model: Vec<f32>,
    initial: [u8; 32],
    last_round: Option<u32>,
    round: Option<RoundState>,
    held: Vec<Envelope>,
}

impl std::fmt::Debug for SwarmSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwarmSite")
            .field("site", &self.config.name)
            .field("run", &self.run)
            .field("participants", &self.participants.len())
            .field("last_round", &self.last_round)
            .finish_non_exhaustive()
    }
}

impl SwarmSite {
    /// Joins `run` with `participants` (the project's sites, this one among
    /// them, every one on the roster) from the shared `initial` model: draws
    /// the run key and returns the signed announcements to send.
    pub fn open(
        config: SiteConfig,
        run: &str,
        participants: &[String],
        initial: Vec<f32>,
    ) -> Result<(Self, Vec<Envelope>), SwarmError> {
        valid_run(run)?;
        let refuse = |rule| SwarmError::Participants {
            run: run.to_owned(),
            rule,
        };
        let set: BTreeSet<String> = participants.iter().cloned().collect();
        if set.len() != participants.len() {
            return Err(refuse("a participant is listed twice"));
        }
        for p in &set {
            valid_name("participant", p)?;
            if config.roster.key(p).is_none() {
                return Err(refuse("a participant is not on this site's roster"));
            }
        }
        if !set.contains(&config.name) {
            return Err(refuse("this site is not a participant"));
        }
        if set.len() < config.min_sites.max(2) {
            return Err(refuse("fewer participants than this site's minimum"));
        }
        if initial.len() > crate::MAX_PARAMS || initial.iter().any(|x| !x.is_finite()) {
            return Err(SwarmError::Malformed {
                what: "initial model",
                rule: "too long or not finite",
            });
        }
        let secret = StaticSecret::from(rand::random::<[u8; 32]>());
        let public = PublicKey::from(&secret).to_bytes();
        let initial_hash = model_hash(&initial);
        let announce =
            SignedRunKey::sign(&config.signing, run, &config.name, public, initial_hash).to_bytes();
        let outgoing = set
            .iter()
            .filter(|p| **p != config.name)
            .map(|p| Envelope {
                run: run.to_owned(),
                round: 0,
                attempt: 0,
                from: config.name.clone(),
                to: p.clone(),
                kind: Kind::Key,
                ciphertext: announce.clone(),
            })
            .collect();
        let keys = BTreeMap::from([(config.name.clone(), public)]);
        let site = SwarmSite {
            config,
            run: run.to_owned(),
            secret,
            participants: set,
            keys,
            model: initial,
            initial: initial_hash,
            last_round: None,
            round: None,
            held: Vec::new(),
        };
        Ok((site, outgoing))
    }

    /// What to persist between rounds (a round in progress is not kept: after
    /// a restart the agent retries it with the next attempt).
    pub fn export(&self) -> PersistedRun {
        PersistedRun {
            run: self.run.clone(),
            secret: self.secret.to_bytes(),
            keys: self.keys.clone(),
            participants: self.participants.clone(),
            model: self.model.clone(),
            initial: self.initial,
            last_round: self.last_round,
        }
    }

    /// Resumes a run from [`SwarmSite::export`]'s state.
    pub fn restore(config: SiteConfig, state: PersistedRun) -> Result<Self, SwarmError> {
        valid_run(&state.run)?;
        let secret = StaticSecret::from(state.secret);
        if state.keys.get(&config.name) != Some(&PublicKey::from(&secret).to_bytes()) {
            return Err(SwarmError::Participants {
                run: state.run,
                rule: "the persisted run secret is not this site's run key",
            });
        }
        Ok(SwarmSite {
            config,
            run: state.run,
            secret,
            participants: state.participants,
            keys: state.keys,
            model: state.model,
            initial: state.initial,
            last_round: state.last_round,
            round: None,
            held: Vec::new(),
        })
    }

    /// The model this site holds: the initial one, then each accepted merge.
    pub fn model(&self) -> &[f32] {
        &self.model
    }

    /// The last accepted round.
    pub fn last_round(&self) -> Option<u32> {
        self.last_round
    }

    /// Whether every participant's run key has been verified.
    pub fn ready(&self) -> bool {
        self.keys.len() == self.participants.len()
    }

    /// The leader the rule names for `round`, `attempt` (once [`ready`](Self::ready)).
    pub fn leader(&self, round: u32, attempt: u32) -> Option<String> {
        if !self.ready() {
            return None;
        }
        leader_order(&self.run, round, &self.keys)
            .into_iter()
            .nth(attempt as usize)
    }

    /// Starts (or, with a higher attempt, retries) `plan.round` with this
    /// site's local update: checks the plan's leader against the rule, seals
    /// the update to the leader, and replays held messages for the attempt.
    pub fn start_round(&mut self, plan: &RoundPlan, own: LocalUpdate) -> Result<Step, SwarmError> {
        if !self.ready() {
            return Err(SwarmError::KeysMissing {
                run: self.run.clone(),
                missing: self.participants.len() - self.keys.len(),
            });
        }
        let seq = |rule| SwarmError::OutOfSequence {
            kind: Kind::Update,
            from: self.config.name.clone(),
            round: plan.round,
            attempt: plan.attempt,
            rule,
        };
        if self.last_round.is_some_and(|r| plan.round <= r) {
            return Err(seq("the round was already accepted"));
        }
        if let Some(cur) = &self.round
            && !cur.done
            && (cur.round > plan.round || (cur.round == plan.round && cur.attempt >= plan.attempt))
        {
            return Err(seq("a later or equal attempt is in progress"));
        }
        if own.params.len() != self.model.len() || own.params.iter().any(|x| !x.is_finite()) {
            return Err(SwarmError::Malformed {
                what: "local update",
                rule: "length differs from the model's or a value is not finite",
            });
        }
        let order = leader_order(&self.run, plan.round, &self.keys);
        let rule_leader = order
            .get(plan.attempt as usize)
            .filter(|_| (plan.attempt as usize) + 1 < order.len() || plan.attempt == 0)
            .cloned()
            .ok_or_else(|| seq("no participant is left to lead this attempt"))?;
        if plan.leader != rule_leader {
            return Err(SwarmError::WrongLeader {
                run: self.run.clone(),
                round: plan.round,
                attempt: plan.attempt,
                claimed: plan.leader.clone(),
                rule: rule_leader,
            });
        }
        let contributors: BTreeSet<String> =
            order[plan.attempt as usize..].iter().cloned().collect();
        let me = self.config.name.clone();
        let mut step = Step::default();
        let mut state = RoundState {
            round: plan.round,
            attempt: plan.attempt,
            leader: rule_leader.clone(),
            contributors,
            own,
            updates: BTreeMap::new(),
            merged: None,
            hashes: BTreeMap::new(),
            done: false,
        };
        if state.contributors.contains(&me) {
            if rule_leader == me {
                state.updates.insert(me.clone(), state.own.clone());
            } else {
                let plaintext = encode_update(&state.own.params, state.own.samples);
                step.outgoing
                    .push(self.seal_to(&state, &rule_leader, Kind::Update, &plaintext)?);
            }
        }
        self.round = Some(state);
        self.progress(&mut step)?;
        let held = std::mem::take(&mut self.held);
        for envelope in held {
            match self.on_message(envelope) {
                Ok(s) => {
                    step.outgoing.extend(s.outgoing);
                    step.refused.extend(s.refused);
                    step.accepted = step.accepted.or(s.accepted);
                }
                Err(e) => step.refused.push(e),
            }
        }
        Ok(step)
    }

    /// Handles one envelope addressed to this site. A refused envelope
    /// changes nothing; messages for a round or attempt not yet started here
    /// (or from a peer whose key has not arrived) are held and replayed later.
    pub fn on_message(&mut self, envelope: Envelope) -> Result<Step, SwarmError> {
        if envelope.run != self.run
            || envelope.to != self.config.name
            || envelope.from == self.config.name
            || !self.participants.contains(&envelope.from)
        {
            return Err(SwarmError::Misrouted {
                run: envelope.run,
                kind: envelope.kind,
            });
        }
        if envelope.kind == Kind::Key {
            self.on_key(&envelope)?;
            return Ok(Step::default());
        }
        let (round, attempt) = match &self.round {
            Some(s) => (Some(s.round), s.attempt),
            None => (None, 0),
        };
        let ahead = match round {
            None => true,
            Some(r) => envelope.round > r || (envelope.round == r && envelope.attempt > attempt),
        };
        if ahead || !self.keys.contains_key(&envelope.from) {
            if self.last_round.is_some_and(|r| envelope.round <= r) {
                return Err(self.stale(&envelope, "the round was already accepted"));
            }
            let limit = 8 * self.participants.len();
            if self.held.len() >= limit {
                return Err(SwarmError::Backlog {
                    run: self.run.clone(),
                    limit,
                    kind: envelope.kind,
                    from: envelope.from,
                });
            }
            self.held.push(envelope);
            return Ok(Step::default());
        }
        if Some(envelope.round) != round || envelope.attempt != attempt {
            return Err(self.stale(&envelope, "an earlier round or attempt"));
        }
        let from_key = self.keys[&envelope.from];
        let plaintext = open(&self.secret, &from_key, &envelope)?;
        let mut step = Step::default();
        match envelope.kind {
            Kind::Key => {}
            Kind::Update => self.on_update(&envelope, &plaintext)?,
            Kind::Model => self.on_model(&envelope, &plaintext, &mut step)?,
            Kind::Hash => self.on_hash(&envelope, &plaintext)?,
        }
        self.progress(&mut step)?;
        Ok(step)
    }

    fn stale(&self, envelope: &Envelope, rule: &'static str) -> SwarmError {
        SwarmError::OutOfSequence {
            kind: envelope.kind,
            from: envelope.from.clone(),
            round: envelope.round,
            attempt: envelope.attempt,
            rule,
        }
    }

    fn on_key(&mut self, envelope: &Envelope) -> Result<(), SwarmError> {
        let announced = SignedRunKey::from_bytes(&envelope.ciphertext)?;
        if announced.run != self.run || announced.site != envelope.from {
            return Err(SwarmError::ForgedKey {
                run: self.run.clone(),
                site: envelope.from.clone(),
            });
        }
        announced.verify(&self.config.roster)?;
        if announced.initial != self.initial {
            return Err(SwarmError::Participants {
                run: self.run.clone(),
                rule: "a peer starts from a different initial model",
            });
        }
        match self.keys.get(&announced.site) {
            // A repeat (a relay re-delivering after a cursor was lost).
            Some(k) if *k == announced.key => Ok(()),
            Some(_) => Err(SwarmError::KeyChanged {
                run: self.run.clone(),
                site: announced.site,
            }),
            None => {
                self.keys.insert(announced.site, announced.key);
                Ok(())
            }
        }
    }

    fn on_update(&mut self, envelope: &Envelope, plaintext: &[u8]) -> Result<(), SwarmError> {
        let me = self.config.name.clone();
        let stale = self.stale(envelope, "not the leader, not a contributor, or a repeat");
        let len = self.model.len();
        let state = self.round.as_mut().ok_or(stale.clone())?;
        if state.leader != me
            || !state.contributors.contains(&envelope.from)
            || state.updates.contains_key(&envelope.from)
        {
            return Err(stale);
        }
        let (params, samples) = decode_update(plaintext)?;
        if params.len() != len {
            return Err(SwarmError::Malformed {
                what: "update",
                rule: "length differs from the model's",
            });
        }
        state
            .updates
            .insert(envelope.from.clone(), LocalUpdate { params, samples });
        Ok(())
    }

    fn on_model(
        &mut self,
        envelope: &Envelope,
        plaintext: &[u8],
        step: &mut Step,
    ) -> Result<(), SwarmError> {
        let run = self.run.clone();
        let len = self.model.len();
        let me = self.config.name.clone();
        let stale = self.stale(envelope, "a merged model was already received");
        let state = self.round.as_mut().ok_or(stale.clone())?;
        if envelope.from != state.leader {
            return Err(SwarmError::WrongLeader {
                run,
                round: state.round,
                attempt: state.attempt,
                claimed: envelope.from.clone(),
                rule: state.leader.clone(),
            });
        }
        if state.merged.is_some() {
            return Err(stale);
        }
        let (contributors, params) = decode_model(plaintext)?;
        let bad = |rule| SwarmError::BadMerge {
            run: run.clone(),
            round: state.round,
            rule,
        };
        let names: BTreeSet<String> = contributors.iter().map(|(n, _)| n.clone()).collect();
        if names != state.contributors || names.len() != contributors.len() {
            return Err(bad("the contributor set is not the attempt's"));
        }
        if state.contributors.contains(&me)
            && !contributors.contains(&(me.clone(), state.own.samples))
        {
            return Err(bad("this site's sample count is missing or altered"));
        }
        if params.len() != len {
            return Err(bad("the model's length differs"));
        }
        let hash = model_hash(&params);
        state.merged = Some((params, hash, contributors));
        self.send_hash(step)
    }

    fn on_hash(&mut self, envelope: &Envelope, plaintext: &[u8]) -> Result<(), SwarmError> {
        let run = self.run.clone();
        let stale = self.stale(envelope, "a model hash was already received");
        let key = self.config.roster.key(&envelope.from).copied();
        let state = self.round.as_mut().ok_or(stale.clone())?;
        let bad_sig = || SwarmError::BadHashSignature {
            run: run.clone(),
            round: state.round,
            site: envelope.from.clone(),
        };
        if plaintext.len() != 96 {
            return Err(SwarmError::Malformed {
                what: "model hash",
                rule: "not 32 bytes of hash and 64 of signature",
            });
        }
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&plaintext[..32]);
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&plaintext[32..]);
        let message = model_hash_message(&run, state.round, state.attempt, &envelope.from, &hash);
        key.ok_or_else(bad_sig)?
            .verify(&message, &Signature::from_bytes(&sig))
            .map_err(|_| bad_sig())?;
        if state.hashes.contains_key(&envelope.from) {
            return Err(stale);
        }
        state.hashes.insert(envelope.from.clone(), hash);
        Ok(())
    }

    /// Merges when the leader holds every update; accepts when every
    /// contributor's signed hash equals this site's.
    fn progress(&mut self, step: &mut Step) -> Result<(), SwarmError> {
        let me = self.config.name.clone();
        let Some(state) = self.round.as_mut() else {
            return Ok(());
        };
        if state.done {
            return Ok(());
        }
        if state.leader == me
            && state.merged.is_none()
            && state.updates.len() == state.contributors.len()
        {
            let inputs: Vec<(Vec<f32>, u64)> = state
                .updates
                .values()
                .map(|u| (u.params.clone(), u.samples))
                .collect();
            let merged = fedavg(&inputs)?;
            let contributors: Vec<(String, u64)> = state
                .updates
                .iter()
                .map(|(n, u)| (n.clone(), u.samples))
                .collect();
            let plaintext = encode_model(&contributors, &merged);
            let hash = model_hash(&merged);
            state.merged = Some((merged, hash, contributors));
            let peers: Vec<String> = self
                .participants
                .iter()
                .filter(|p| **p != me)
                .cloned()
                .collect();
            for p in peers {
                let state = self.round.as_ref().ok_or(SwarmError::Malformed {
                    what: "round",
                    rule: "no round in progress",
                })?;
                step.outgoing
                    .push(self.seal_to(state, &p, Kind::Model, &plaintext)?);
            }
            self.send_hash(step)?;
        }
        let run = self.run.clone();
        let Some(state) = self.round.as_mut() else {
            return Ok(());
        };
        let Some((merged, hash, contributors)) = &state.merged else {
            return Ok(());
        };
        if let Some((site, _)) = state.hashes.iter().find(|(_, h)| *h != hash) {
            return Err(SwarmError::Diverged {
                run,
                round: state.round,
                site: site.clone(),
            });
        }
        let all = state
            .contributors
            .iter()
            .filter(|c| **c != me)
            .all(|c| state.hashes.contains_key(c));
        if all {
            state.done = true;
            self.model = merged.clone();
            self.last_round = Some(state.round);
            step.accepted = Some(Accepted {
                round: state.round,
                attempt: state.attempt,
                leader: state.leader.clone(),
                hash: *hash,
                contributors: contributors.clone(),
            });
        }
        Ok(())
    }

    fn send_hash(&self, step: &mut Step) -> Result<(), SwarmError> {
        let me = &self.config.name;
        let Some(state) = &self.round else {
            return Ok(());
        };
        let Some((_, hash, _)) = &state.merged else {
            return Ok(());
        };
        let message = model_hash_message(&self.run, state.round, state.attempt, me, hash);
        let mut plaintext = hash.to_vec();
        plaintext.extend_from_slice(&self.config.signing.sign(&message).to_bytes());
        for p in self.participants.iter().filter(|p| *p != me) {
            step.outgoing
                .push(self.seal_to(state, p, Kind::Hash, &plaintext)?);
        }
        Ok(())
    }

    fn seal_to(
        &self,
        state: &RoundState,
        to: &str,
        kind: Kind,
        plaintext: &[u8],
    ) -> Result<Envelope, SwarmError> {
        let key = self.keys.get(to).ok_or(SwarmError::KeysMissing {
            run: self.run.clone(),
            missing: 1,
        })?;
        seal(
            &self.secret,
            key,
            Header {
                run: &self.run,
                round: state.round,
                attempt: state.attempt,
                from: &self.config.name,
                to,
                kind,
            },
            plaintext,
        )
    }
}
