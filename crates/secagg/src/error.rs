//! The crate's error type.

use crate::SiteId;
use thiserror::Error;

/// Everything that can go wrong in encoding, in a site session or in a hub round.
///
/// Messages name sites by their round number only; they carry no values, so they
/// can be returned to a peer or logged without leaking a contribution.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SecAggError {
    /// A round id was empty, too long or not printable ASCII.
    #[error("round id must be 1 to 128 printable ASCII characters")]
    InvalidRoundId,
    /// The threshold is below 2, not a strict majority of the sites, or exceeds their number.
    #[error(
        "threshold {threshold} must be at least 2, more than half of {sites} sites and at most {sites}"
    )]
    InvalidThreshold {
        /// The threshold given.
        threshold: usize,
        /// The number of sites it applies to.
        sites: usize,
    },
    /// A message carries another round's id.
    #[error("message belongs to another round (expected round {expected})")]
    WrongRound {
        /// The round this state machine runs.
        expected: String,
    },
    /// A site that is not (or no longer) a participant sent or was named in a message.
    #[error("site {0} is not a participant at this stage of the round")]
    UnknownSite(SiteId),
    /// The same site sent the same kind of message twice.
    #[error("site {0} already sent this message; messages are accepted once")]
    Duplicate(SiteId),
    /// A step was called out of order.
    #[error("cannot {action} in phase {phase}; follow keys, shares, inputs, unmasking")]
    WrongPhase {
        /// The step attempted.
        action: &'static str,
        /// The phase the state machine is in.
        phase: &'static str,
    },
    /// A masked input arrived after input collection closed.
    #[error(
        "site {site} sent its masked input after input collection closed; late inputs are refused because the keys of dropped sites may already be revealed"
    )]
    LateInput {
        /// The late site.
        site: SiteId,
    },
    /// Fewer sites than the threshold remain.
    #[error("only {got} sites remain, the threshold is {threshold}; the round cannot complete")]
    BelowThreshold {
        /// Sites remaining.
        got: usize,
        /// The threshold.
        threshold: usize,
    },
    /// Vectors of different lengths in one round.
    #[error("vector of length {got}, expected {expected}; all sites must send the same length")]
    LengthMismatch {
        /// Length received.
        got: usize,
        /// Length expected.
        expected: usize,
    },
    /// A value to encode is NaN or infinite.
    #[error("value at index {index} is not finite")]
    NotFinite {
        /// Position in the vector.
        index: usize,
    },
    /// A value is outside the per-site range of the fixed-point encoding.
    #[error(
        "value at index {index} is outside the encodable range of ±{limit}; lower scale_bits or max_sites"
    )]
    OutOfRange {
        /// Position in the vector.
        index: usize,
        /// The largest encodable absolute value.
        limit: f64,
    },
    /// A count exceeds the per-site bound that keeps the sum below 2^64.
    #[error(
        "count at index {index} exceeds {limit}, the per-site bound that keeps the sum below 2^64"
    )]
    CountTooLarge {
        /// Position in the vector.
        index: usize,
        /// The bound.
        limit: u64,
    },
    /// A decoded sum is outside what the declared number of sites can produce.
    #[error(
        "sum at index {index} is outside the range {sites} sites can produce; a site used other encoding parameters"
    )]
    SumOutOfRange {
        /// Position in the vector.
        index: usize,
        /// The number of sites summed.
        sites: usize,
    },
    /// Encoding parameters are unusable.
    #[error("invalid encoding parameters: {0}")]
    InvalidCodec(&'static str),
    /// An encrypted share failed authentication or has the wrong size.
    #[error("share from site {from} to site {to} failed authentication")]
    BadShare {
        /// Sender.
        from: SiteId,
        /// Recipient.
        to: SiteId,
    },
    /// A peer's public key gives a non-contributory X25519 result (a low-order point).
    #[error("key agreement with site {0} is non-contributory (low-order public key); refusing it")]
    WeakKey(SiteId),
    /// A reconstructed secret does not match the site's published commitment or key.
    #[error("reconstructed secret of site {0} does not match what it published; a share is wrong")]
    ReconstructionMismatch(SiteId),
    /// An unmask request contradicts what this site saw.
    #[error("unmask request is inconsistent with this site's view: {0}")]
    InconsistentRequest(&'static str),
    /// A roster of site keys is malformed (the rule broken, not the text).
    #[error("invalid roster: {0}")]
    InvalidRoster(&'static str),
    /// A reveal does not answer the unmask request exactly.
    #[error("reveal from site {0} does not match the unmask request")]
    RevealMismatch(SiteId),
}
