//! Federated learning for OncoFed without an ML framework (issue 15, item 4).
//!
//! The hub links this crate, so it knows nothing about tensors: it holds what
//! hub and sites must agree on to train one model together while the hub only
//! ever sees sums (secure aggregation, `oncofed-secagg`):
//!
//! - [`ModelSpec`]: the network's shape, its flat parameter layout and a stable hash;
//! - the round protocol ([`TrainRound`], [`EvaluateRound`]) and the exact layout
//!   of the one `Vec<f64>` every site contributes per round ([`train_vector_len`],
//!   [`evaluate_vector_len`]), and what the hub makes of the sum
//!   ([`aggregate_train`], [`Evaluation::from_sum`]);
//! - the federated driver ([`train_federated`]) over an [`Aggregator`] — FedAvg,
//!   FedProx, client-level DP-FedAvg, early stopping on a federated validation loss,
//!   and the hub's server optimizer on the averaged update ([`ServerOptimizer`]: FedAvgM);
//! - the DP accountant ([`dp`]): Rényi DP of the Gaussian mechanism, converted to (ε, δ);
//! - the model registry's record and model card ([`ModelRecord`], [`model_card`]).
//!
//! The network itself (training at a site, inference) lives in `oncofed-cnn`.

#![forbid(unsafe_code)]

pub mod dp;
mod error;
mod eval;
mod federated;
mod registry;
mod round;
mod server;
mod spec;

pub use error::{Error, Result};
pub use eval::{CalibrationBin, EvalAccumulator, Evaluation, evaluate_vector_len};
pub use federated::{
    Aggregator, FederatedConfig, RoundRecord, TrainedModel, evaluate_federated, train_federated,
};
pub use registry::{
    DpRecord, ModelRecord, RoundProvenance, SiteData, SiteMetrics, model_card, params_hash,
};
pub use round::{
    DpConfig, EvaluateRound, LocalConfig, RoundOutcome, TrainRound, aggregate_train,
    train_vector_len,
};
pub use server::{ServerOptimizer, ServerState};
pub use spec::{ARCHITECTURE, ModelSpec, ParamTensor};
