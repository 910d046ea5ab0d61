//! The trust centre between institutions, tried as an attacker on the network
//! would: plain HTTP beyond loopback, a server certificate from another CA, a
//! site token over another site's certificate or over no certificate, a
//! certificate from another CA naming the site. Identifying data only ever
//! travels over TLS outside loopback.

use oncofed_model::{Sex, SiteId};
use oncofed_tls::{ClientIdentity, ClientTls, ServerTls};
use oncofed_trustee::{LaunchError, PseudonymKey, SiteRegistry, TrusteeConfig, hash_token};
use oncofed_trustee_api::{PseudonymiseItem, TrusteeClient, TrusteeError};
use std::path::{Path, PathBuf};

mod common;

const SITES: [&str; 2] = ["site-a", "site-b"];

fn token(site: &str) -> String {
    format!("{site}-token-0123456789abcdef")
}

fn config(data: PathBuf) -> TrusteeConfig {
    let hashes: Vec<(SiteId, String)> = SITES
        .iter()
        .map(|s| (SiteId::new(*s).unwrap(), hash_token(&token(s))))
        .collect();
    let registry =
        SiteRegistry::from_hashes(hashes.iter().map(|(s, h)| (s.clone(), h.as_str()))).unwrap();
    TrusteeConfig::new(
        data,
        PseudonymKey::from_bytes(vec![7; 32]).unwrap(),
        registry,
    )
    .unwrap()
}

fn pki(dir: &Path) -> PathBuf {
    let hosts = ["127.0.0.1".to_owned(), "localhost".to_owned()];
    oncofed_tls::pki::init_dir(dir, &format!("{} CA", dir.display()), &hosts, &SITES, 2).unwrap();
    dir.to_owned()
}

fn client_tls(trust: &Path, certs: Option<(&Path, &str)>) -> ClientTls {
    ClientTls {
        ca_bundle: Some(trust.join("ca.pem")),
        identity: certs.map(|(dir, site)| ClientIdentity {
            cert_chain: dir.join(format!("site-{site}.pem")),
            key: dir.join(format!("site-{site}.key")),
        }),
        allow_insecure_http: false,
    }
}

/// A trust centre over mutual TLS with the CA in `pki`; returns its https URL.
async fn start(data: PathBuf, pki: &Path) -> String {
    let tls = ServerTls {
        cert_chain: pki.join("trustee.pem"),
        key: pki.join("trustee.key"),
        client_ca: Some(pki.join("ca.pem")),
    }
    .load()
    .unwrap();
    oncofed_testkit::service::trustee(config(data).with_tls(tls), Default::default())
        .await
        .unwrap()
        .detach()
}

fn item() -> Vec<PseudonymiseItem> {
    vec![PseudonymiseItem {
        local_id: "p1".into(),
        idat: common::person("Erika", "Mustermann", (1964, 8, 12), Sex::Female),
    }]
}

async fn pseudonymise(url: &str, token_of: &str, tls: &ClientTls) -> Result<usize, TrusteeError> {
    let client = TrusteeClient::with_tls(url, &token(token_of), tls)?;
    client.pseudonymise(item()).await.map(|p| p.len())
}

fn status(result: Result<usize, TrusteeError>) -> String {
    match result {
        Ok(n) => format!("ok {n}"),
        Err(TrusteeError::Rejected { status, .. }) => format!("HTTP {status}"),
        Err(TrusteeError::Unreachable { .. }) => "no connection".into(),
        Err(e) => format!("other: {e}"),
    }
}

#[tokio::test]
async fn site_requests_need_the_sites_own_certificate_from_the_federation_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let ours = pki(&tmp.path().join("ours"));
    let theirs = pki(&tmp.path().join("theirs"));
    let url = start(tmp.path().join("tc"), &ours).await;

    // The site with its own certificate: identifying data pseudonymised over mTLS.
    let own = client_tls(&ours, Some((&ours, "site-a")));
    assert_eq!(status(pseudonymise(&url, "site-a", &own).await), "ok 1");
    // site-a's token over site-b's certificate (a stolen token, or one site
    // speaking for another): refused.
    let borrowed = client_tls(&ours, Some((&ours, "site-b")));
    assert_eq!(
        status(pseudonymise(&url, "site-a", &borrowed).await),
        "HTTP 401"
    );
    // The token without any certificate: refused.
    let bare = client_tls(&ours, None);
    assert_eq!(
        status(pseudonymise(&url, "site-a", &bare).await),
        "HTTP 401"
    );
    // A certificate naming site-a, issued by another CA: the handshake fails.
    let forged = client_tls(&ours, Some((&theirs, "site-a")));
    assert_eq!(
        status(pseudonymise(&url, "site-a", &forged).await),
        "no connection"
    );
    // A client that trusts another CA refuses the trust centre's certificate,
    // before sending any identifying data.
    let misled = client_tls(&theirs, Some((&theirs, "site-a")));
    assert_eq!(
        status(pseudonymise(&url, "site-a", &misled).await),
        "no connection"
    );
    // The system roots do not know the federation CA either.
    let system = ClientTls {
        identity: own.identity.clone(),
        ..ClientTls::default()
    };
    assert_eq!(
        status(pseudonymise(&url, "site-a", &system).await),
        "no connection"
    );
}

/// The consent feed is a site endpoint like the others: under mutual TLS a
/// site's token reads it only over that site's own certificate.
#[tokio::test]
async fn the_consent_feed_needs_the_sites_own_certificate_too() {
    let tmp = tempfile::tempdir().unwrap();
    let ours = pki(&tmp.path().join("ours"));
    let url = start(tmp.path().join("tc"), &ours).await;
    let feed = |tls: ClientTls| {
        let url = url.clone();
        async move {
            let client = TrusteeClient::with_tls(&url, &token("site-a"), &tls)?;
            let page = client.consent_feed(0, "tls-test-nonce-0123", None).await?;
            Ok::<_, TrusteeError>(page.payload.len())
        }
    };
    let own = client_tls(&ours, Some((&ours, "site-a")));
    assert!(feed(own).await.is_ok());
    let borrowed = client_tls(&ours, Some((&ours, "site-b")));
    assert_eq!(status(feed(borrowed).await), "HTTP 401");
    assert_eq!(status(feed(client_tls(&ours, None)).await), "HTTP 401");
}

#[tokio::test]
async fn identifying_data_never_goes_out_in_the_clear_beyond_loopback() {
    // The client refuses before connecting: 192.0.2.0/24 is TEST-NET-1.
    for url in ["http://192.0.2.1:8710", "http://trustee.example.org"] {
        match TrusteeClient::new(url, "t") {
            Err(TrusteeError::Tls(e)) => assert!(e.to_string().contains("plain HTTP"), "{e}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    // The server refuses to listen in the clear on an address other hosts reach.
    let tmp = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let refused = oncofed_trustee::launch(config(tmp.path().join("tc")), listener, async {}).await;
    match refused {
        Err(LaunchError::Tls(e)) => assert!(e.to_string().contains("--insecure-http"), "{e}"),
        other => panic!("plain HTTP on 0.0.0.0 was not refused: {other:?}"),
    }
    // Unless told so (a TLS proxy in front): it starts, and stops on shutdown.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let allowed = oncofed_trustee::launch(
        config(tmp.path().join("tc")).with_insecure_http(true),
        listener,
        async {},
    )
    .await;
    assert!(allowed.is_ok(), "{allowed:?}");
}
