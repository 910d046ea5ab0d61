//! A federation CA made for the run, and the TLS settings each party uses.

use oncofed_model::SiteId;
use oncofed_tls::ClientTls;
use std::path::{Path, PathBuf};

/// A federation CA in `dir` with certificates for the services on 127.0.0.1
/// (`trustee`, `hub`, `node`) and one client certificate per site, as
/// `oncofed pki init` writes them.
pub fn make_pki(dir: &Path, sites: &[SiteId]) -> anyhow::Result<PathBuf> {
    let hosts = ["127.0.0.1".to_owned(), "localhost".to_owned()];
    let sites: Vec<&str> = sites.iter().map(SiteId::as_str).collect();
    oncofed_tls::pki::init_dir(dir, "OncoFed local federation CA", &hosts, &sites, 2)?;
    Ok(dir.to_owned())
}

/// The server side of service `role` (`trustee`, `hub`, `node`): its
/// certificate, and the CA that site certificates must chain to.
pub fn server_tls(pki: &Path, role: &str) -> anyhow::Result<oncofed_tls::TlsAcceptor> {
    Ok(oncofed_tls::ServerTls {
        cert_chain: pki.join(format!("{role}.pem")),
        key: pki.join(format!("{role}.key")),
        client_ca: Some(pki.join("ca.pem")),
    }
    .load()?)
}

/// A client trusting only the federation CA of `pki`, presenting `site`'s
/// certificate if given; without `pki`, the default client (plain HTTP to
/// loopback allowed).
pub fn client_tls(pki: Option<&Path>, site: Option<&SiteId>) -> ClientTls {
    let Some(pki) = pki else {
        return ClientTls::default();
    };
    ClientTls {
        ca_bundle: Some(pki.join("ca.pem")),
        identity: site.map(|site| oncofed_tls::ClientIdentity {
            cert_chain: pki.join(format!("site-{site}.pem")),
            key: pki.join(format!("site-{site}.key")),
        }),
        allow_insecure_http: false,
    }
}
