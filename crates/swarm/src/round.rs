//! The values a node agent passes to and gets from a [`SwarmSite`](crate::SwarmSite).

use crate::{Envelope, Roster, SwarmError};
use oncofed_crypto::SigningKeyPair;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What a site brings to every run, from its own configuration (never from
/// the hub): its roster name, its registered signing key, the federation's
/// roster, and the fewest participants it trains with.
#[derive(Clone, Debug)]
pub struct SiteConfig {
    /// This site's roster name.
    pub name: String,
    /// This site's registered Ed25519 key.
    pub signing: SigningKeyPair,
    /// The federation's sites and keys, as this site holds them.
    pub roster: Roster,
    /// Fewest participants (this site included) a run may have; below 2 a
    /// "swarm" would hand the whole model to one site.
    pub min_sites: usize,
}

/// The hub's announcement of a round: which attempt and whom it names as
/// leader. Sites check the leader against the rule and refuse a mismatch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundPlan {
    /// The round (strictly increasing within a run).
    pub round: u32,
    /// The attempt (0, then 1, 2, … after leaders drop out).
    pub attempt: u32,
    /// The leader the hub names.
    pub leader: String,
}

/// A site's local training result for one round.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalUpdate {
    /// The locally trained parameters θ_k.
    pub params: Vec<f32>,
    /// The samples n_k they were trained on (the FedAvg weight).
    pub samples: u64,
}

/// A round every contributor agreed on: the site's model is now the merged one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The round.
    pub round: u32,
    /// The attempt that completed it.
    pub attempt: u32,
    /// The leader that merged.
    pub leader: String,
    /// [`model_hash`](crate::model_hash) of the merged model, signed by every contributor.
    pub hash: [u8; 32],
    /// Contributors and their sample counts, in name order (for the registry).
    pub contributors: Vec<(String, u64)>,
}

/// What one call produced: envelopes to post, and the round accepted, if any.
#[derive(Debug, Default)]
pub struct Step {
    /// Envelopes to post to the relay, in order.
    pub outgoing: Vec<Envelope>,
    /// Set when this call completed a round.
    pub accepted: Option<Accepted>,
    /// Held messages replayed by this call that were refused (for the log).
    pub refused: Vec<SwarmError>,
}

/// What a site persists between rounds (private: it holds the run secret).
#[derive(Clone, Serialize, Deserialize)]
pub struct PersistedRun {
    /// The run.
    pub run: String,
    /// The X25519 run secret.
    #[serde(with = "hex::serde")]
    pub secret: [u8; 32],
    /// Every participant's verified run key, this site's included.
    pub keys: BTreeMap<String, [u8; 32]>,
    /// The participants.
    pub participants: BTreeSet<String>,
    /// The accepted model.
    pub model: Vec<f32>,
    /// [`model_hash`](crate::model_hash) of the run's initial model (peers' key
    /// announcements must name it).
    #[serde(with = "hex::serde")]
    pub initial: [u8; 32],
    /// The last accepted round, if any.
    pub last_round: Option<u32>,
}

impl std::fmt::Debug for PersistedRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistedRun")
            .field("run", &self.run)
            .field("participants", &self.participants.len())
            .field("params", &self.model.len())
            .field("last_round", &self.last_round)
            .finish_non_exhaustive()
    }
}
