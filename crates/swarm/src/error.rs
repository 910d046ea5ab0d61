//! Why a swarm step was refused.
//!
//! Texts name the message (run, round, attempt, kind, sender) and the rule it
//! broke, never model values or key material: they go to the site's log, and
//! a node agent may report a variant's name to the hub.

use crate::Kind;

/// A refusal by a [`SwarmSite`](crate::SwarmSite), by [`open`](crate::open) or
/// by a codec. Every variant leaves the site's state as it was before the
/// refused call: a refused message changes nothing.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SwarmError {
    /// A run id, site name or other identifier breaks its syntax rule.
    #[error("invalid {field}: {rule}")]
    InvalidId {
        /// Which identifier.
        field: &'static str,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A peer's run key is not signed by the key the site's own roster lists
    /// for the name it claims (or the name is not on the roster).
    #[error(
        "run {run}: the run key announced for site {site} does not verify under the roster's key"
    )]
    ForgedKey {
        /// The run.
        run: String,
        /// The claimed site.
        site: String,
    },
    /// A site announced a second, different run key.
    #[error("run {run}: site {site} announced two different run keys")]
    KeyChanged {
        /// The run.
        run: String,
        /// The site.
        site: String,
    },
    /// The run's participant set breaks the site's policy.
    #[error("run {run}: {rule}")]
    Participants {
        /// The run.
        run: String,
        /// What is wrong with the set.
        rule: &'static str,
    },
    /// A round was started before every participant's key had been verified.
    #[error("run {run}: {missing} participant keys are still missing")]
    KeysMissing {
        /// The run.
        run: String,
        /// How many are missing.
        missing: usize,
    },
    /// A ciphertext does not open: altered, addressed to someone else, moved
    /// into another run, round, attempt or kind, or sealed under another key.
    #[error(
        "{kind} message from {from} for run {run}, round {round}, attempt {attempt} does not open (altered, misaddressed or replayed)"
    )]
    Unopenable {
        /// The run named in the envelope.
        run: String,
        /// The round named in the envelope.
        round: u32,
        /// The attempt named in the envelope.
        attempt: u32,
        /// The kind named in the envelope.
        kind: Kind,
        /// The sender named in the envelope.
        from: String,
    },
    /// An envelope addressed to another site, another run, or from a sender
    /// outside the run.
    #[error("{kind} message for run {run} is not for this site or not from a participant")]
    Misrouted {
        /// The run named in the envelope.
        run: String,
        /// The kind.
        kind: Kind,
    },
    /// A plan or message names a merge leader other than the one the rule gives.
    #[error(
        "run {run}, round {round}, attempt {attempt}: {claimed} is not the merge leader (the rule names {rule})"
    )]
    WrongLeader {
        /// The run.
        run: String,
        /// The round.
        round: u32,
        /// The attempt.
        attempt: u32,
        /// Whom the plan or message named.
        claimed: String,
        /// Whom the rule names.
        rule: String,
    },
    /// A message for a round or attempt this site is not in, or a repeat.
    #[error(
        "{kind} message from {from} for round {round}, attempt {attempt} is out of sequence: {rule}"
    )]
    OutOfSequence {
        /// The kind.
        kind: Kind,
        /// The sender.
        from: String,
        /// The round named.
        round: u32,
        /// The attempt named.
        attempt: u32,
        /// Why.
        rule: &'static str,
    },
    /// A decrypted payload is malformed (length, count or value out of range).
    #[error("malformed {what}: {rule}")]
    Malformed {
        /// Which payload.
        what: &'static str,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// The merged model from the leader does not list the contributions it must.
    #[error(
        "run {run}, round {round}: the merged model's contributors differ from the round's ({rule})"
    )]
    BadMerge {
        /// The run.
        run: String,
        /// The round.
        round: u32,
        /// What differs.
        rule: &'static str,
    },
    /// Sites hold different models after a round: the round is not accepted.
    #[error("run {run}, round {round}: site {site} holds a different model")]
    Diverged {
        /// The run.
        run: String,
        /// The round.
        round: u32,
        /// The site whose signed hash differs.
        site: String,
    },
    /// A peer's signed model hash does not verify under its roster key.
    #[error("run {run}, round {round}: the model hash from {site} is not signed by its roster key")]
    BadHashSignature {
        /// The run.
        run: String,
        /// The round.
        round: u32,
        /// The claimed signer.
        site: String,
    },
    /// The X25519 agreement with a peer's key is degenerate (a low-order point).
    #[error("site {site}'s run key is a low-order point")]
    WeakKey {
        /// The site.
        site: String,
    },
    /// Too many messages are held for rounds this site has not started.
    #[error("run {run}: more than {limit} early messages held; {kind} from {from} dropped")]
    Backlog {
        /// The run.
        run: String,
        /// The limit.
        limit: usize,
        /// The kind dropped.
        kind: Kind,
        /// The sender.
        from: String,
    },
}
