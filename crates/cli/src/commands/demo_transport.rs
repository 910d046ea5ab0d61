//! The demo's transport check: the federation runs over TLS with a CA made for
//! the run, and the services refuse what an attacker on the network would try.

use oncofed_testkit::LocalFederation;
use serde::Serialize;

/// How the demo's services were reached, and what they refused.
#[derive(Debug, Serialize)]
pub struct DemoTransport {
    /// Every connection is TLS, verified against the run's federation CA.
    pub tls: bool,
    /// The trust centre and hub require each site's client certificate.
    pub mutual_tls_for_sites: bool,
    /// The CA and certificates (`oncofed pki init` layout), when TLS is on.
    pub pki: Option<std::path::PathBuf>,
    /// Refusals observed, each as "what was tried: what happened".
    pub refused: Vec<String>,
}

/// Tries, as an attacker would: site 1's token over a connection with site 2's
/// certificate, and a client that trusts no federation CA.
pub async fn run(fed: &LocalFederation) -> anyhow::Result<DemoTransport> {
    let mut refused = Vec::new();
    if fed.pki.is_some() && fed.sites.len() >= 2 {
        let borrowed = fed.trustee_client_with(0, &fed.site_tls(1))?;
        match borrowed.deletion_orders().await {
            Err(oncofed_trustee_api::TrusteeError::Rejected { status: 401, .. }) => {
                refused.push(format!(
                    "{}'s token with {}'s certificate at the trust centre: 401",
                    fed.sites[0], fed.sites[1]
                ))
            }
            other => anyhow::bail!(
                "the trust centre accepted a site token over another site's certificate: {other:?}"
            ),
        }
        // A client that trusts another CA (as a site would that was given a
        // forged CA bundle, or talks to an impostor): it sends nothing.
        let other = fed.dir.join("pki-other");
        std::fs::create_dir_all(&other)?;
        let ca = oncofed_tls::pki::CertificateAuthority::create("another CA", 1)?;
        ca.write(&other, "another CA")?;
        let mut misled = fed.site_tls(0);
        misled.ca_bundle = Some(other.join("ca.pem"));
        let untrusting = fed.trustee_client_with(0, &misled)?;
        match untrusting.deletion_orders().await {
            Err(oncofed_trustee_api::TrusteeError::Unreachable { .. }) => refused.push(
                "a site trusting another CA: handshake failed, nothing sent (unknown issuer)"
                    .into(),
            ),
            other => {
                anyhow::bail!(
                    "a client without the federation CA reached the trust centre: {other:?}"
                )
            }
        }
    }
    Ok(DemoTransport {
        tls: fed.pki.is_some(),
        mutual_tls_for_sites: fed.pki.is_some(),
        pki: fed.pki.clone(),
        refused,
    })
}

/// The transport in words.
pub fn print(t: &DemoTransport) {
    if t.tls {
        println!(
            "\ntransport: TLS on every connection, mutual TLS for sites (CA in {})",
            t.pki
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        for r in &t.refused {
            println!("  refused: {r}");
        }
    } else {
        println!("\ntransport: plain HTTP on loopback (--plain-http)");
    }
}
