//! A federation of in-process swarm sites over a relay, and the deterministic
//! local "training" the tests run.

#![allow(dead_code)]

use oncofed_crypto::SigningKeyPair;
use oncofed_swarm::{
    Accepted, Envelope, LocalUpdate, Relay, Roster, RoundPlan, SiteConfig, SwarmError, SwarmSite,
};
use std::collections::BTreeSet;

/// The sites of one run, their cursors into the relay, their signing keys.
pub struct Federation {
    pub names: Vec<String>,
    pub keys: Vec<SigningKeyPair>,
    pub roster: Roster,
    pub sites: Vec<SwarmSite>,
    pub cursors: Vec<u64>,
    pub dim: usize,
    /// Every refusal any site returned while pumping, with the site's index.
    pub refusals: Vec<(usize, SwarmError)>,
}

/// The site's private data: a target vector and a sample count.
pub fn site_data(k: usize, dim: usize) -> (Vec<f32>, u64) {
    let target = (0..dim)
        .map(|j| ((k * 31 + j * 17) % 23) as f32 * 0.37 - 4.0 + (k as f32) * 0.11)
        .collect();
    (target, 10 + 7 * k as u64 + (k as u64 % 3) * 13)
}

/// One epoch of local "training": a step of size 0.3 towards the site's
/// target plus a round-dependent term, θ ← θ + 0.3 (d_k − θ) + 0.01 r.
pub fn train(model: &[f32], k: usize, round: u32) -> LocalUpdate {
    let (target, samples) = site_data(k, model.len());
    let params = model
        .iter()
        .zip(&target)
        .map(|(t, d)| t + 0.3 * (d - t) + 0.01 * round as f32)
        .collect();
    LocalUpdate { params, samples }
}

impl Federation {
    /// `n` sites, all on one roster, joined to `run` from the same initial model.
    pub fn new<R: Relay>(relay: &R, run: &str, n: usize, dim: usize) -> Self {
        let names: Vec<String> = (0..n).map(|i| format!("site-{i:02}")).collect();
        let keys: Vec<SigningKeyPair> = (0..n).map(|_| SigningKeyPair::generate()).collect();
        let mut roster = Roster::new();
        for (name, key) in names.iter().zip(&keys) {
            roster.insert(name.clone(), key.public_key()).unwrap();
        }
        let initial: Vec<f32> = (0..dim).map(|j| (j as f32 * 0.05).sin()).collect();
        let mut sites = Vec::new();
        for (name, key) in names.iter().zip(&keys) {
            let config = SiteConfig {
                name: name.clone(),
                signing: key.clone(),
                roster: roster.clone(),
                min_sites: 3,
            };
            let (site, out) = SwarmSite::open(config, run, &names, initial.clone()).unwrap();
            for e in out {
                relay.post(e).unwrap();
            }
            sites.push(site);
        }
        Federation {
            names,
            keys,
            roster,
            sites,
            cursors: vec![0; n],
            dim,
            refusals: Vec::new(),
        }
    }

    /// Delivers every pending envelope to every live site and posts what they
    /// answer, until the relay is quiet. Returns each site's accepted round.
    pub fn pump<R: Relay>(
        &mut self,
        relay: &R,
        run: &str,
        down: &BTreeSet<usize>,
    ) -> Vec<Option<Accepted>> {
        let mut accepted = vec![None; self.sites.len()];
        loop {
            let mut moved = false;
            for i in 0..self.sites.len() {
                if down.contains(&i) {
                    continue;
                }
                let got = relay.fetch(run, &self.names[i], self.cursors[i]).unwrap();
                for (seq, env) in got {
                    moved = true;
                    self.cursors[i] = seq;
                    match self.sites[i].on_message(env) {
                        Ok(step) => self.absorb(relay, i, step, &mut accepted),
                        Err(e) => self.refusals.push((i, e)),
                    }
                }
            }
            if !moved {
                return accepted;
            }
        }
    }

    fn absorb<R: Relay>(
        &mut self,
        relay: &R,
        i: usize,
        step: oncofed_swarm::Step,
        accepted: &mut [Option<Accepted>],
    ) {
        for e in step.outgoing {
            relay.post(e).unwrap();
        }
        for e in step.refused {
            self.refusals.push((i, e));
        }
        if step.accepted.is_some() {
            accepted[i] = step.accepted;
        }
    }

    /// Starts `round` (attempt `attempt`, the rule's leader) at every live
    /// site with its local training; returns the updates used.
    pub fn start<R: Relay>(
        &mut self,
        relay: &R,
        round: u32,
        attempt: u32,
        down: &BTreeSet<usize>,
        accepted: &mut [Option<Accepted>],
    ) -> Vec<LocalUpdate> {
        let leader = self.sites[0].leader(round, attempt).unwrap();
        let mut updates = Vec::new();
        for i in 0..self.sites.len() {
            let update = train(self.sites[i].model(), i, round);
            updates.push(update.clone());
            if down.contains(&i) {
                continue;
            }
            let plan = RoundPlan {
                round,
                attempt,
                leader: leader.clone(),
            };
            let step = self.sites[i].start_round(&plan, update).unwrap();
            self.absorb(relay, i, step, accepted);
        }
        updates
    }

    /// Runs `round` to completion with no failures; returns the updates and
    /// what each site accepted.
    pub fn round<R: Relay>(
        &mut self,
        relay: &R,
        run: &str,
        round: u32,
    ) -> (Vec<LocalUpdate>, Vec<Option<Accepted>>) {
        let none = BTreeSet::new();
        let mut accepted = vec![None; self.sites.len()];
        let updates = self.start(relay, round, 0, &none, &mut accepted);
        for (i, a) in self.pump(relay, run, &none).into_iter().enumerate() {
            if a.is_some() {
                accepted[i] = a;
            }
        }
        (updates, accepted)
    }
}

/// The FedAvg written out directly (f64 sums in site order): the reference.
pub fn reference_fedavg(updates: &[LocalUpdate]) -> Vec<f32> {
    let total: f64 = updates.iter().map(|u| u.samples as f64).sum();
    let dim = updates[0].params.len();
    (0..dim)
        .map(|j| {
            (updates
                .iter()
                .map(|u| u.samples as f64 * f64::from(u.params[j]))
                .sum::<f64>()
                / total) as f32
        })
        .collect()
}

/// Largest relative difference, with an absolute floor of 1 for tiny values.
pub fn max_rel_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs() / f64::from(x.abs()).max(1.0))
        .fold(0.0, f64::max)
}

/// χ² of the byte histogram against uniform (df 255).
pub fn chi2_bytes(bytes: &[u8]) -> f64 {
    let mut bins = [0u64; 256];
    for b in bytes {
        bins[*b as usize] += 1;
    }
    let expected = bytes.len() as f64 / 256.0;
    bins.iter()
        .map(|&o| (o as f64 - expected).powi(2) / expected)
        .sum()
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every envelope other than key announcements.
pub fn sealed(stored: &[Envelope]) -> impl Iterator<Item = &Envelope> {
    stored.iter().filter(|e| e.kind != oncofed_swarm::Kind::Key)
}
