//! Swarm learning for OncoFed (issue 15, item 5; seed ref. 17): sites train
//! one model together with **no central aggregator**. The hub relays sealed
//! messages and learns neither any site's update nor the merged model.
//!
//! # Protocol
//!
//! 0. **Keys, once per run** ([`SwarmSite::open`]). Each participant draws an
//!    X25519 key pair for the run and sends every other participant a
//!    [`SignedRunKey`]: the public key and the hash of the initial model, signed
//!    with its registered Ed25519 key over (run, site, key, initial hash). A
//!    site accepts a peer's key only if it verifies under the key **its own**
//!    [`Roster`] lists for that name (the same roster secure aggregation uses),
//!    and only if the initial hash equals its own.
//! 1. **Leader** ([`leader_order`]). Attempt `a` of round `r` is led by the
//!    participant ranked `a` by a hash of the run, the round and every
//!    participant's name and signed run key: every site computes it alone, and
//!    refuses a [`RoundPlan`] or a merged model naming anyone else.
//! 2. **Updates** ([`SwarmSite::start_round`]). Each contributor seals
//!    `(n_k, θ_k)` to the leader ([`seal`]: X25519 → HKDF-SHA256 →
//!    ChaCha20-Poly1305, AAD binding run, round, attempt, sender, recipient and
//!    kind). The contributors of attempt `a` are the participants minus the
//!    leaders of attempts `0..a`.
//! 3. **Merge.** Once it holds every contributor's update, the leader computes
//!    [`fedavg`] (sample-weighted mean in `f64`, contributions in site-name
//!    order) and seals the merged model, with the list of contributors and
//!    their sample counts, to every other participant.
//! 4. **Agreement.** Every site that holds the merged model checks the
//!    contributor list (its own sample count included) and sends every other
//!    participant its model hash, Ed25519-signed and sealed. A site **accepts**
//!    the round ([`Accepted`]) only when it holds signed hashes equal to its own
//!    from every contributor of the attempt: all sites then hold the same
//!    model. A different hash refuses the round ([`SwarmError::Diverged`]).
//! 5. **A leader that drops out.** The node agent's timeout (not this crate:
//!    no clocks here) retries the round with attempt `a + 1`: the next leader
//!    in the same ranking, the contributors without the dropped leader. The
//!    hub announces the plan; sites check it against the rule.
//!
//! Everything is a pure, synchronous state machine: no networking and no
//! clocks. Envelopes go out through a [`Relay`] (the hub's
//! `/v1/swarm/{run}/messages`; [`MemoryRelay`] in tests) and come back in
//! through [`SwarmSite::on_message`]. Between rounds a site persists
//! [`SwarmSite::export`] (its run secret, the verified keys, the accepted model)
//! and the relay sequence number it has read up to.
//!
//! # Limits (deliberate, for now)
//!
//! * The leader sees each contributor's update in the clear and is trusted
//!   for the merge's arithmetic: other sites check the contributor list and
//!   their own sample count, and that everyone holds the same model, but not
//!   the average itself. Where one site must not see another's update, use
//!   secure aggregation (`oncofed-secagg`) rounds instead.
//! * A contributor (not the leader) that drops out stalls the attempt; the
//!   agent's timeout then retries with the next attempt, whose leader waits for
//!   the same contributors minus the earlier leaders. A run that loses a
//!   non-leader site must be restarted without it (a new run id).
//! * A round is accepted by each site on its own; the hub should plan round
//!   `r + 1` only after every site reported round `r` accepted.
//!
//! # What the relay sees
//!
//! Headers (run, round, attempt, sender, recipient, kind), sizes, timing, the
//! signed public run keys, and ciphertexts: `nonce ‖ ChaCha20 stream ‖ tag`,
//! indistinguishable from random bytes. No parameter of any update or model,
//! and no model hash, is ever in the clear outside a site
//! (`tests/swarm.rs`, `no_plaintext_parameter_reaches_the_relay`).

mod error;
mod keys;
mod leader;
mod merge;
mod relay;
mod round;
mod seal;
mod site;

pub use error::SwarmError;
pub use keys::{MAX_ANNOUNCEMENT, SignedRunKey, model_hash_message, run_key_message};
pub use leader::leader_order;
pub use merge::{
    Contributors, MAX_CONTRIBUTORS, MAX_PARAMS, decode_model, decode_update, encode_model,
    encode_update, fedavg, model_hash,
};
pub use oncofed_secagg::Roster;
pub use relay::{MemoryRelay, Poisoned, Relay};
pub use round::{Accepted, LocalUpdate, PersistedRun, RoundPlan, SiteConfig, Step};
pub use seal::{Header, NONCE_LEN, TAG_LEN, open, seal};
pub use site::SwarmSite;

use serde::{Deserialize, Serialize};

/// What an [`Envelope`] carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A [`SignedRunKey`] (public, signed, not encrypted).
    Key,
    /// A contributor's `(n_k, θ_k)`, sealed to the leader.
    Update,
    /// The merged model and its contributors, sealed by the leader to a site.
    Model,
    /// A site's signed model hash, sealed to a peer.
    Hash,
}

impl Kind {
    /// The byte bound into the AAD.
    pub fn code(self) -> u8 {
        match self {
            Kind::Key => 1,
            Kind::Update => 2,
            Kind::Model => 3,
            Kind::Hash => 4,
        }
    }

    /// The kebab-case name (as on the wire and in the hub's store).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Key => "key",
            Kind::Update => "update",
            Kind::Model => "model",
            Kind::Hash => "hash",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message between two sites, as the relay stores and forwards it. For
/// [`Kind::Key`] the bytes are a public signed announcement; for every other
/// kind a ciphertext from [`seal`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The run.
    pub run: String,
    /// The round (0 for keys).
    pub round: u32,
    /// The leader attempt within the round (0 for keys).
    pub attempt: u32,
    /// The sending site.
    pub from: String,
    /// The addressee.
    pub to: String,
    /// What the bytes carry.
    pub kind: Kind,
    /// `nonce ‖ ciphertext ‖ tag` (base64 in JSON).
    #[serde(with = "b64")]
    pub ciphertext: Vec<u8>,
}

impl Envelope {
    /// Checks the header's identifiers (what a relay checks before storing).
    pub fn validate(&self) -> Result<(), SwarmError> {
        valid_run(&self.run)?;
        valid_name("sender", &self.from)?;
        valid_name("recipient", &self.to)
    }
}

mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("ciphertext is not base64"))
    }
}

/// A run id: 1–128 characters of `A-Z a-z 0-9 . _ : -` (it appears in URLs).
pub fn valid_run(run: &str) -> Result<(), SwarmError> {
    if run.is_empty()
        || run.len() > 128
        || !run
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    {
        return Err(SwarmError::InvalidId {
            field: "run",
            rule: "1-128 characters of A-Z a-z 0-9 . _ : -",
        });
    }
    Ok(())
}

/// A site name as the roster admits it: 1–128 printable ASCII characters.
pub fn valid_name(field: &'static str, name: &str) -> Result<(), SwarmError> {
    if name.is_empty() || name.len() > 128 || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SwarmError::InvalidId {
            field,
            rule: "1-128 printable ASCII characters",
        });
    }
    Ok(())
}
