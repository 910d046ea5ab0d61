//! TLS for every OncoFed connection.
//!
//! Identifying data travels from a site to the trust centre, sealed tasks and
//! secure-aggregation shares between sites and the hub: between institutions none
//! of it may cross a network in the clear. This crate is the one place that knows
//! about certificates, so that the trust centre, the hub, the node API and every
//! client are configured the same way:
//!
//! - [`ServerTls`]: a server's certificate chain and key from PEM files, and
//!   optionally a client CA for mutual TLS ([`ServerTls::load`]);
//! - [`ServiceListener`] and [`serve`]: axum over plain TCP or TLS, with the
//!   peer's verified certificate names handed to handlers as
//!   `ConnectInfo<`[`Peer`]`>`;
//! - [`check_bind`]: a service refuses to listen in the clear beyond loopback
//!   unless told `--insecure-http`;
//! - [`ClientTls`]: what every HTTP client verifies the server against (a CA
//!   bundle or the system roots) and the client certificate it presents;
//! - [`naming`]: how a certificate names a site (`urn:oncofed:site:<id>`), so a
//!   service can bind a TLS client to the site identity it registered;
//! - [`pki`]: a small federation CA and per-service and per-site certificates for
//!   a pilot (`oncofed pki`), with [rcgen].
//!
//! rustls with the *ring* provider is used throughout: no OpenSSL, and ring
//! builds in seconds on the project's 2-core machines where aws-lc-rs takes
//! minutes (`../shared/DEPENDENCIES.md`). Nothing here is hand-written
//! cryptography: handshakes, chain building and signature checks are rustls and
//! rustls-webpki; this crate only wires them and reads files.

mod bind;
mod client;
mod error;
mod listener;
pub mod naming;
pub mod pki;
mod server;

pub use bind::{check_bind, check_client_url};
pub use client::{ClientIdentity, ClientTls};
pub use error::TlsError;
pub use listener::{Peer, ServiceListener, ServiceStream, serve};
pub use server::{ServerTls, TlsAcceptor};

use std::sync::Arc;

/// The crypto provider every configuration here is built with (ring).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs ring as the process-wide default rustls provider.
///
/// reqwest's own TLS set-up (used when a client trusts the system roots) looks
/// the provider up at run time; without one installed it would panic. Calling
/// this more than once, or after another provider was installed, is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A reqwest client with default settings and the crypto provider installed:
/// for tests and tools that call a loopback service without configuration.
/// Services' own clients are built through [`ClientTls::client_for`].
pub fn http_client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::new()
}
