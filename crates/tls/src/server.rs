//! A service's side of TLS: its certificate and key, and optionally the CA whose
//! client certificates it verifies (mutual TLS).

use crate::TlsError;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a service finds its TLS material (all PEM files).
///
/// Secrets are read from files, never from arguments or the environment: the key
/// file should be readable by the service's user only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    /// The service's certificate, followed by any intermediates.
    pub cert_chain: PathBuf,
    /// The service's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The CA that signs client certificates. When set, the handshake asks every
    /// client for a certificate and refuses one not issued by this CA; a client
    /// without a certificate may still connect, and each route decides whether it
    /// needs one (site routes do, see [`crate::Peer::is_site`]).
    pub client_ca: Option<PathBuf>,
}

/// A loaded server configuration, ready to accept connections.
#[derive(Clone)]
pub struct TlsAcceptor {
    pub(crate) config: Arc<rustls::ServerConfig>,
    mutual: bool,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("mutual", &self.mutual)
            .finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// Whether clients are asked for (and checked against) a client CA.
    pub fn is_mutual(&self) -> bool {
        self.mutual
    }
}

impl ServerTls {
    /// Reads the files and builds the rustls configuration (TLS 1.2 and 1.3,
    /// HTTP/1.1 by ALPN). Errors name the file.
    pub fn load(&self) -> Result<TlsAcceptor, TlsError> {
        let chain = read_certificates(&self.cert_chain)?;
        let key = read_private_key(&self.key)?;
        let builder = rustls::ServerConfig::builder_with_provider(crate::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let roots = Arc::new(read_roots(ca)?);
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(roots, crate::provider())
                        .allow_unauthenticated()
                        .build()
                        .map_err(|e| {
                            TlsError::file(ca, format!("not usable as a client CA: {e}"))
                        })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(chain, key).map_err(|e| {
            TlsError::file(
                &self.key,
                format!(
                    "does not fit the certificate in {}: {e}",
                    self.cert_chain.display()
                ),
            )
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor {
            config: Arc::new(config),
            mutual: self.client_ca.is_some(),
        })
    }
}

/// Every certificate in a PEM file, in order; at least one.
pub(crate) fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::file(path, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::file(
            path,
            "holds no PEM certificate (BEGIN CERTIFICATE)",
        ));
    }
    Ok(certs)
}

/// The first private key in a PEM file.
pub(crate) fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|_| TlsError::file(path, "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)"))
}

/// A root store holding every certificate of a PEM bundle.
pub(crate) fn read_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certificates(path)? {
        roots.add(cert).map_err(|e| {
            TlsError::file(
                path,
                format!("holds a certificate that is not a usable CA: {e}"),
            )
        })?;
    }
    Ok(roots)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::file(path, format!("cannot be read: {e}")))
}
