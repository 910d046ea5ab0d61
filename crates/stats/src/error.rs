//! The one error type of the statistics core. Messages are lowercase, name the
//! offending quantity and never contain row values (they may travel to a hub).

/// Why an aggregate could not be computed or a model could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// Two inputs that must agree in size do not (covariates vs coefficients,
    /// site sums computed on different grids): a wiring bug, not a data problem.
    #[error("{what}: expected length {expected}, found {found}")]
    Dimension {
        /// Which quantity had the wrong size.
        what: &'static str,
        /// The size the caller promised.
        expected: usize,
        /// The size that arrived.
        found: usize,
    },
    /// A site holds an event at a time the hub's grid does not contain; the exact
    /// estimators need every event time on the grid (merge the sites' grids first).
    #[error(
        "an event time is not on the hub's time grid; build the grid from all sites' event times"
    )]
    EventNotOnGrid,
    /// A value that must be finite (time, covariate, outcome) is NaN or infinite.
    #[error("non-finite {what}; drop or impute missing values before the analysis")]
    NonFinite {
        /// Which input field was non-finite.
        what: &'static str,
    },
    /// An outcome outside the family's support (binomial y ∉ [0, 1], Poisson y < 0).
    #[error("outcome outside the support of the {family} family")]
    OutcomeOutOfRange {
        /// The GLM family whose support was violated.
        family: &'static str,
    },
    /// The information matrix is not positive definite: collinear covariates, a
    /// covariate without variation, or (quasi-)complete separation.
    #[error(
        "information matrix is singular; check for collinear or constant covariates or separation"
    )]
    Singular,
    /// The information matrix is not positive definite, and parameter `index`
    /// (0-based, in the order of the coefficients) is the first whose pivot is
    /// lost: it is constant (in the rows or, for Cox, within every risk set),
    /// collinear with the parameters before it, or separates the outcome.
    /// Callers that know the terms' names put the name in their message.
    #[error(
        "information matrix is singular at parameter {index}; it is constant, collinear with the parameters before it, or separates the outcome"
    )]
    SingularAt {
        /// The first parameter whose pivot is lost.
        index: usize,
    },
    /// Newton–Raphson did not reach the tolerance within the iteration limit.
    #[error(
        "did not converge within {iterations} iteration{}: the Newton decrement is still above the tolerance; check for separation, or raise the iteration limit (max_iter) or the tolerance",
        if *.iterations == 1 { "" } else { "s" }
    )]
    NoConvergence {
        /// Iterations performed before giving up.
        iterations: usize,
    },
    /// No site returned an aggregate, or an analysis had no rows or no events.
    #[error("nothing to aggregate: {what}")]
    Empty {
        /// What was missing.
        what: &'static str,
    },
    /// Two sites' aggregates were computed with different parameters (shift,
    /// tie handling, histogram edges) and cannot be added.
    #[error("site aggregates disagree on {what}; send every site the same request")]
    Mismatch {
        /// The parameter that differed.
        what: &'static str,
    },
    /// A row with delayed entry enters on or after its exit time: it is never
    /// at risk, and its event would have no risk set.
    #[error("a row enters follow-up on or after it ends; leave such rows out")]
    EntryAfterExit,
    /// Histogram bin edges must be finite and strictly increasing.
    #[error("histogram edges must be at least two finite, strictly increasing values")]
    BadEdges,
}

/// Checks that `found == expected`, naming `what` otherwise.
pub(crate) fn check_len(
    what: &'static str,
    expected: usize,
    found: usize,
) -> Result<(), StatsError> {
    if expected == found {
        Ok(())
    } else {
        Err(StatsError::Dimension {
            what,
            expected,
            found,
        })
    }
}
