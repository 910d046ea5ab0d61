//! The cell classifier of issue 15 on candle (CPU), and everything a site
//! computes in a federated round: local training (FedAvg, FedProx), its
//! training vector (with client-level DP clipping and its share of the noise),
//! its evaluation vector, and inference on new smears.
//!
//! The network's shape and the flat parameter layout are defined by
//! [`oncofed_learn::ModelSpec`]; vector layouts by `oncofed_learn::round` and
//! `oncofed_learn::eval`. This crate only fills them in.

#![forbid(unsafe_code)]

mod dataset;
mod net;
mod site;

pub use dataset::Dataset;
pub use net::{Net, predict};
pub use site::{
    LocalResult, site_evaluate_vector, site_train_vector, train_local, validation_loss,
};

/// Why a site computation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A spec, round or vector was rejected by the learning core.
    #[error(transparent)]
    Learn(#[from] oncofed_learn::Error),
    /// The tensor library failed (shape mismatch, allocation).
    #[error("tensor computation: {0}")]
    Candle(#[from] candle_core::Error),
    /// The site's data do not fit the spec (field named in the text).
    #[error("dataset: {0}")]
    Data(String),
}

impl From<Error> for oncofed_learn::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Learn(e) => e,
            other => oncofed_learn::Error::Site(other.to_string()),
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
