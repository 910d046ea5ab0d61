//! TLS options shared by every command that serves or calls a service.

use clap::Args;
use oncofed_tls::{ClientIdentity, ClientTls, ServerTls, TlsAcceptor};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

/// `--insecure-http`, a global flag: one meaning for a command's server and its
/// clients, so a command that does both (`node serve`) has one switch.
static INSECURE_HTTP: AtomicBool = AtomicBool::new(false);

/// Records the global `--insecure-http` before any command runs.
pub fn set_insecure_http(allow: bool) {
    INSECURE_HTTP.store(allow, Ordering::Relaxed);
}

fn insecure_http() -> bool {
    INSECURE_HTTP.load(Ordering::Relaxed)
}

/// How a service serves HTTPS.
#[derive(Debug, Clone, Args)]
pub struct ServerTlsArgs {
    /// Serve HTTPS with this certificate chain (PEM; `oncofed pki init` makes one for
    /// a pilot). Without it the service speaks plain HTTP and only on loopback.
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_key",
        env = "ONCOFED_TLS_CERT"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM, readable by the service's user only).
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_cert",
        env = "ONCOFED_TLS_KEY"
    )]
    tls_key: Option<PathBuf>,
    /// Mutual TLS: the CA (PEM) that signs site certificates. Every site request must
    /// then come with a certificate naming that site (urn:oncofed:site:<id>);
    /// researchers, admins and staff need none.
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_cert",
        env = "ONCOFED_TLS_CLIENT_CA"
    )]
    tls_client_ca: Option<PathBuf>,
}

impl ServerTlsArgs {
    /// The loaded configuration, or `None` for plain HTTP.
    pub fn acceptor(&self) -> anyhow::Result<Option<TlsAcceptor>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let tls = ServerTls {
            cert_chain: cert.clone(),
            key: key.clone(),
            client_ca: self.tls_client_ca.clone(),
        };
        Ok(Some(tls.load()?))
    }

    /// Whether plain HTTP beyond loopback was allowed (`--insecure-http`).
    pub fn insecure_http(&self) -> bool {
        insecure_http()
    }

    /// `https` or `http`, for printing the address.
    pub fn scheme(&self) -> &'static str {
        if self.tls_cert.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

/// How a command verifies the service it calls, and the certificate it shows.
#[derive(Debug, Clone, Default, Args)]
pub struct ClientTlsArgs {
    /// Trust only this CA bundle (PEM) for https:// URLs, e.g. the ca.pem of
    /// `oncofed pki init`; default: the system's roots.
    #[arg(long = "ca", value_name = "PEM", env = "ONCOFED_CA")]
    ca: Option<PathBuf>,
    /// Present this client certificate (PEM) for mutual TLS: the site's certificate
    /// from `oncofed pki site`.
    #[arg(
        long,
        value_name = "PEM",
        requires = "client_key",
        env = "ONCOFED_CLIENT_CERT"
    )]
    client_cert: Option<PathBuf>,
    /// The private key of --client-cert (PEM).
    #[arg(
        long,
        value_name = "PEM",
        requires = "client_cert",
        env = "ONCOFED_CLIENT_KEY"
    )]
    client_key: Option<PathBuf>,
}

impl ClientTlsArgs {
    /// The client configuration these options describe.
    pub fn client_tls(&self) -> ClientTls {
        ClientTls {
            ca_bundle: self.ca.clone(),
            identity: match (&self.client_cert, &self.client_key) {
                (Some(cert), Some(key)) => Some(ClientIdentity {
                    cert_chain: cert.clone(),
                    key: key.clone(),
                }),
                _ => None,
            },
            allow_insecure_http: insecure_http(),
        }
    }

    /// A hub client for `url` with `token` under these options.
    pub fn hub_client(&self, url: &str, token: &str) -> anyhow::Result<oncofed_hub_api::HubClient> {
        Ok(oncofed_hub_api::HubClient::with_tls(
            url,
            token,
            &self.client_tls(),
        )?)
    }
}
