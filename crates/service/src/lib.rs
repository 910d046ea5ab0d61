//! What every OncoFed service shares at its HTTP edge.
//!
//! The trust centre, the hub and the node API are run by different institutions'
//! operators, who need the same things from each: a request id to quote when
//! something went wrong (in the log span, the `x-request-id` response header and
//! every JSON error body), metrics for their monitoring (Prometheus text format at
//! `/metrics`: requests by route, method and status, latency histograms per route,
//! plus gauges and counters a service registers), and a clean stop on SIGTERM.
//! [`Edge`] provides them; each service wraps its router with [`Edge::wrap`] in
//! its `launch`. [`error_response`] is the one mapping from a [`Failure`] to a
//! status and the JSON error body. Batch jobs (an ingest run) leave their
//! figures for Prometheus' textfile collector through [`textfile`].
//!
//! `/metrics` holds no personal data (route templates, status codes, counts), but
//! it tells an outsider how busy a trust centre is; it is served to loopback
//! callers only unless [`Edge::with_public_metrics`] says otherwise (a scraper on
//! another host reaches it through the service's TLS port then).
//!
//! Built on `prometheus-client` (the Prometheus project's Rust client) rather than
//! by hand: the text exposition format has escaping and histogram rules worth not
//! re-implementing.

mod edge;
mod failure;
mod shutdown;
pub mod textfile;
pub mod tokens;

pub use edge::{Edge, RequestId};
pub use failure::{Failure, error_response};
pub use shutdown::shutdown_signal;

/// Re-exported metric types for services that register their own.
pub mod metric {
    pub use prometheus_client::metrics::counter::Counter;
    pub use prometheus_client::metrics::gauge::Gauge;
}
