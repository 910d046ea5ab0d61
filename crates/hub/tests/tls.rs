//! The hub between institutions, tried as an attacker on the network would:
//! under mutual TLS a site's signed request must come over a connection whose
//! certificate names that site; a certificate from another CA does not connect;
//! researchers need no certificate; plain HTTP beyond loopback is refused.

mod support;

use oncofed_crypto::SigningKeyPair;
use oncofed_hub::HubConfig;
use oncofed_hub_api::{ClientError, HubClient};
use oncofed_tls::{ClientIdentity, ClientTls, ServerTls};
use std::path::Path;
use support::{ADMIN, Hub, RESEARCHER};

fn pki(dir: &Path) {
    let hosts = ["127.0.0.1".to_owned()];
    oncofed_tls::pki::init_dir(dir, "hub test CA", &hosts, &["site-a", "site-b"], 2).unwrap();
}

fn client_tls(trust: &Path, cert: Option<(&Path, &str)>) -> ClientTls {
    ClientTls {
        ca_bundle: Some(trust.join("ca.pem")),
        identity: cert.map(|(dir, site)| ClientIdentity {
            cert_chain: dir.join(format!("site-{site}.pem")),
            key: dir.join(format!("site-{site}.key")),
        }),
        allow_insecure_http: false,
    }
}

/// A signed `GET /v1/site/tasks?wait=0` as `site` with `key`, over `tls`:
/// the HTTP status, or "no connection".
async fn poll(hub: &Hub, site: &str, key: &SigningKeyPair, tls: &ClientTls) -> String {
    let http = tls
        .client_for(&hub.url, reqwest::Client::builder())
        .unwrap();
    let path = format!(
        "/v1/site/tasks?wait=0&nonce={:032x}",
        rand::random::<u128>()
    );
    let ts = chrono::Utc::now().timestamp();
    let signature = oncofed_crypto::sign_request(key, "GET", &path, ts, b"");
    let sent = http
        .get(format!("{}{path}", hub.url))
        .header("x-oncofed-site", site)
        .header("x-oncofed-timestamp", ts.to_string())
        .header("x-oncofed-signature", signature.to_string())
        .send()
        .await;
    match sent {
        Ok(resp) => resp.status().as_u16().to_string(),
        Err(_) => "no connection".into(),
    }
}

#[tokio::test]
async fn site_requests_need_the_signing_sites_own_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    pki(&ours);
    pki(&theirs);
    let tls = ServerTls {
        cert_chain: ours.join("hub.pem"),
        key: ours.join("hub.key"),
        client_ca: Some(ours.join("ca.pem")),
    }
    .load()
    .unwrap();
    let hub = Hub::start(
        tmp.path().join("hub"),
        SigningKeyPair::generate(),
        |c: &mut HubConfig| {
            c.tls = Some(tls);
        },
    )
    .await;
    // Admins and researchers need no certificate, only the CA.
    let people = client_tls(&ours, None);
    let admin = HubClient::with_tls(&hub.url, ADMIN, &people).unwrap();
    let (key_a, key_b) = (SigningKeyPair::generate(), SigningKeyPair::generate());
    for (site, key) in [("site-a", &key_a), ("site-b", &key_b)] {
        let site = oncofed_model::SiteId::new(site).unwrap();
        admin.register_site(site, key.public_key()).await.unwrap();
    }
    let researcher = HubClient::with_tls(&hub.url, RESEARCHER, &people).unwrap();
    researcher.projects().await.unwrap();

    let own = client_tls(&ours, Some((&ours, "site-a")));
    assert_eq!(poll(&hub, "site-a", &key_a, &own).await, "200");
    // site-a's key over site-b's certificate (a stolen key, or one site
    // speaking for another): refused although the signature verifies.
    let borrowed = client_tls(&ours, Some((&ours, "site-b")));
    assert_eq!(poll(&hub, "site-a", &key_a, &borrowed).await, "401");
    // The signature alone, without a certificate: refused.
    assert_eq!(poll(&hub, "site-a", &key_a, &people).await, "401");
    // A certificate naming site-a from another CA does not connect.
    let forged = client_tls(&ours, Some((&theirs, "site-a")));
    assert_eq!(poll(&hub, "site-a", &key_a, &forged).await, "no connection");
    // A researcher trusting another CA does not send the token.
    let misled = HubClient::with_tls(&hub.url, RESEARCHER, &client_tls(&theirs, None)).unwrap();
    assert!(matches!(
        misled.projects().await,
        Err(ClientError::Unreachable { .. })
    ));
    // The operator's view (loopback): requests by route and the task queue.
    let http = people
        .client_for(&hub.url, reqwest::Client::builder())
        .unwrap();
    let text = http
        .get(format!("{}/metrics", hub.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("oncofed_hub_tasks_queued 0"), "{text}");
    assert!(
        text.contains(r#"route="/v1/site/tasks",method="GET",status="401"} 2"#),
        "{text}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn plain_http_beyond_loopback_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let config = HubConfig::new(
        tmp.path().join("hub"),
        SigningKeyPair::generate(),
        support::users(),
    );
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    match oncofed_hub::launch(config.clone(), listener, async {}).await {
        Err(oncofed_hub::LaunchError::Tls(e)) => {
            assert!(e.to_string().contains("--insecure-http"), "{e}")
        }
        other => panic!("plain HTTP on 0.0.0.0 was not refused: {other:?}"),
    }
    let mut allowed = config;
    allowed.insecure_http = true;
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    oncofed_hub::launch(allowed, listener, async {})
        .await
        .unwrap();
    // A researcher's client refuses to send its token in the clear to another host.
    let client = HubClient::new("http://192.0.2.1:8730", RESEARCHER);
    assert!(matches!(client.projects().await, Err(ClientError::Tls(_))));
}
