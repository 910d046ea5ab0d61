//! The one error type of the learning core.

/// Why a spec, a round, a site vector or a training run was rejected.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model spec cannot describe a network (field named in the text).
    #[error("invalid model spec: {0}")]
    Spec(String),
    /// A round or training configuration is out of range (field named in the text).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A vector does not have the length the spec implies.
    #[error("{what}: expected {expected} values, got {got}")]
    Length {
        /// Which vector (e.g. "train sum", "global parameters").
        what: &'static str,
        /// The length the spec implies.
        expected: usize,
        /// The length received.
        got: usize,
    },
    /// A summed vector holds a value that no honest set of sites produces
    /// (negative count, NaN, zero weight).
    #[error("{what}: {reason}")]
    Sum {
        /// Which vector and position.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The aggregator (secure aggregation, or a site behind it) failed in a round.
    #[error("aggregation failed in round {round}: {source}")]
    Aggregation {
        /// The round (0-based) that failed.
        round: u32,
        /// The aggregator's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Local training or evaluation at a site failed (the framework's reason).
    #[error("site computation failed: {0}")]
    Site(String),
}

impl Error {
    /// Wraps an aggregator's error with the round it happened in.
    pub fn aggregation(
        round: u32,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Aggregation {
            round,
            source: source.into(),
        }
    }
}

/// Result with the learning core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
