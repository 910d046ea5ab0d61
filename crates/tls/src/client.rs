//! A client's side of TLS: which servers it trusts and which certificate it shows.

use crate::TlsError;
use crate::server::{read_certificates, read_private_key};
use std::path::PathBuf;

/// A client certificate and its key (PEM files), for mutual TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The client's certificate, followed by any intermediates.
    pub cert_chain: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

/// What an OncoFed HTTP client verifies and presents.
///
/// The default trusts the system's roots, shows no certificate and refuses
/// plain HTTP to anything but loopback: the safe choice for a researcher's CLI
/// talking to a hub with a public certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// A PEM bundle of the only CAs to trust (e.g. the federation CA from
    /// `oncofed pki`). `None` trusts the operating system's roots.
    pub ca_bundle: Option<PathBuf>,
    /// A certificate to present when the server asks (mutual TLS).
    pub identity: Option<ClientIdentity>,
    /// Allow `http://` URLs on hosts other than loopback (`--insecure-http`).
    pub allow_insecure_http: bool,
}

impl ClientTls {
    /// Applies this configuration to a reqwest builder.
    ///
    /// With a CA bundle the client trusts those CAs and nothing else, so a server
    /// certificate from any other CA (a public one included) fails the handshake.
    pub fn apply(
        &self,
        mut builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, TlsError> {
        crate::install_crypto_provider();
        builder = builder.https_only(false).tls_backend_rustls();
        if let Some(path) = &self.ca_bundle {
            // Parse with rustls first so a bad file is named precisely.
            read_certificates(path)?;
            let bytes = std::fs::read(path)
                .map_err(|e| TlsError::file(path, format!("cannot be read: {e}")))?;
            let certs = reqwest::Certificate::from_pem_bundle(&bytes)
                .map_err(|e| TlsError::file(path, format!("not a PEM CA bundle: {e}")))?;
            builder = builder.tls_certs_only(certs);
        }
        if let Some(identity) = &self.identity {
            read_certificates(&identity.cert_chain)?;
            read_private_key(&identity.key)?;
            let mut pem = std::fs::read(&identity.cert_chain).map_err(|e| {
                TlsError::file(&identity.cert_chain, format!("cannot be read: {e}"))
            })?;
            pem.push(b'\n');
            pem.extend(
                std::fs::read(&identity.key)
                    .map_err(|e| TlsError::file(&identity.key, format!("cannot be read: {e}")))?,
            );
            let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
                TlsError::file(&identity.key, format!("not a usable client identity: {e}"))
            })?;
            builder = builder.identity(id);
        }
        Ok(builder)
    }

    /// Checks that `url` may be called under this configuration (see
    /// [`crate::check_client_url`]).
    pub fn check_url(&self, url: &str) -> Result<(), TlsError> {
        crate::check_client_url(url, self.allow_insecure_http)
    }

    /// Builds a reqwest client from `builder` after checking `url`: the one way
    /// OncoFed's clients are made.
    pub fn client_for(
        &self,
        url: &str,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::Client, TlsError> {
        self.check_url(url)?;
        self.apply(builder)?
            .build()
            .map_err(|e| TlsError::Config(e.to_string()))
    }
}
