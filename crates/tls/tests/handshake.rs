//! TLS as an attacker meets it: a server certificate from another CA, a client
//! certificate from another CA, a certificate naming another site, a client that
//! stalls in the handshake. Real sockets, real handshakes.

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use oncofed_tls::pki::{CertificateAuthority, write_issued};
use oncofed_tls::{ClientIdentity, ClientTls, Peer, ServerTls, ServiceListener, serve};
use std::path::{Path, PathBuf};
use std::time::Duration;

struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path, name: &str) -> Self {
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let ca = CertificateAuthority::create(&format!("{name} CA"), 30).unwrap();
        ca.write(&dir, &format!("{name} CA")).unwrap();
        let server = ca
            .issue_service("hub", &["localhost".into(), "127.0.0.1".into()], 30)
            .unwrap();
        write_issued(&dir, "hub", &server).unwrap();
        // Issued later from the CA as loaded from disk, as `oncofed pki site` does.
        let ca = CertificateAuthority::load(&dir).unwrap();
        for site in ["site-a", "site-b"] {
            write_issued(&dir, site, &ca.issue_site(site, 30).unwrap()).unwrap();
        }
        Self { dir }
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn server(&self, mutual: Option<&Pki>) -> ServerTls {
        ServerTls {
            cert_chain: self.dir.join("hub.pem"),
            key: self.dir.join("hub.key"),
            client_ca: mutual.map(Pki::ca),
        }
    }

    fn client(&self, trust: &Pki, site: Option<&str>) -> ClientTls {
        ClientTls {
            ca_bundle: Some(trust.ca()),
            identity: site.map(|s| ClientIdentity {
                cert_chain: self.dir.join(format!("{s}.pem")),
                key: self.dir.join(format!("{s}.key")),
            }),
            allow_insecure_http: false,
        }
    }
}

async fn whoami(ConnectInfo(peer): ConnectInfo<Peer>) -> String {
    let sites: Vec<&str> = ["site-a", "site-b"]
        .into_iter()
        .filter(|s| peer.is_site(s))
        .collect();
    format!("tls={} sites={}", peer.tls, sites.join(","))
}

/// Starts a server; returns its https URL and a guard that stops it.
async fn start(tls: &ServerTls) -> (String, tokio::sync::oneshot::Sender<()>) {
    let acceptor = tls.load().unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener = ServiceListener::tls(tcp, &acceptor).unwrap();
    let port = listener.local_addr().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = Router::new().route("/whoami", get(whoami));
    tokio::spawn(serve(listener, router, async {
        let _ = stopped.await;
    }));
    (format!("https://localhost:{port}/whoami"), stop)
}

async fn call(client: &ClientTls, url: &str) -> Result<String, String> {
    let http = client
        .client_for(
            url,
            reqwest::Client::builder().timeout(Duration::from_secs(10)),
        )
        .map_err(|e| e.to_string())?;
    let response = http.get(url).send().await.map_err(|e| format!("{e:?}"))?;
    response.text().await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn clients_verify_the_server_against_their_ca_only() {
    let tmp = tempfile::tempdir().unwrap();
    let ours = Pki::new(tmp.path(), "ours");
    let theirs = Pki::new(tmp.path(), "theirs");
    let (url, _stop) = start(&ours.server(None)).await;

    assert_eq!(
        call(&ours.client(&ours, None), &url).await.unwrap(),
        "tls=true sites="
    );
    // A client that trusts another CA refuses our server's certificate.
    let err = call(&ours.client(&theirs, None), &url).await.unwrap_err();
    assert!(
        err.contains("certificate") || err.contains("Certificate"),
        "{err}"
    );
    // So does a client trusting only the system roots.
    let err = call(&ClientTls::default(), &url).await.unwrap_err();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // Plain HTTP to a TLS port gets nothing.
    let plain = url.replace("https://", "http://");
    assert!(call(&ClientTls::default(), &plain).await.is_err());
}

#[tokio::test]
async fn mutual_tls_names_the_site_and_refuses_certificates_from_other_cas() {
    let tmp = tempfile::tempdir().unwrap();
    let ours = Pki::new(tmp.path(), "ours");
    let theirs = Pki::new(tmp.path(), "theirs");
    let (url, _stop) = start(&ours.server(Some(&ours))).await;

    assert_eq!(
        call(&ours.client(&ours, Some("site-a")), &url)
            .await
            .unwrap(),
        "tls=true sites=site-a"
    );
    assert_eq!(
        call(&ours.client(&ours, Some("site-b")), &url)
            .await
            .unwrap(),
        "tls=true sites=site-b"
    );
    // No certificate: the connection stands, no site is named (routes decide).
    assert_eq!(
        call(&ours.client(&ours, None), &url).await.unwrap(),
        "tls=true sites="
    );
    // A certificate naming site-a, but from another CA: the handshake fails.
    let forged = theirs.client(&ours, Some("site-a"));
    assert!(call(&forged, &url).await.is_err());
}

#[tokio::test]
async fn a_stalled_handshake_does_not_block_other_clients() {
    let tmp = tempfile::tempdir().unwrap();
    let ours = Pki::new(tmp.path(), "ours");
    let (url, _stop) = start(&ours.server(None)).await;
    let port: u16 = url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // Connect and say nothing.
    let _stalled = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        call(&ours.client(&ours, None), &url),
    )
    .await
    .expect("the accept loop is not held up by a silent client");
    assert_eq!(answer.unwrap(), "tls=true sites=");
}

#[test]
fn bad_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let ours = Pki::new(tmp.path(), "ours");
    let garbage = tmp.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let tls = ServerTls {
        cert_chain: garbage.clone(),
        key: ours.dir.join("hub.key"),
        client_ca: None,
    };
    let err = tls.load().unwrap_err().to_string();
    assert!(err.contains("garbage.pem"), "{err}");
    // A key that belongs to another certificate.
    let tls = ServerTls {
        cert_chain: ours.dir.join("hub.pem"),
        key: ours.dir.join("site-a.key"),
        client_ca: None,
    };
    let err = tls.load().unwrap_err().to_string();
    assert!(err.contains("site-a.key"), "{err}");
    let missing = ClientTls {
        ca_bundle: Some(tmp.path().join("nope.pem")),
        ..ClientTls::default()
    };
    let err = missing
        .apply(reqwest::Client::builder())
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope.pem"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ours.dir.join("ca.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// Once `serve` has returned, the port is closed and handshakes still in
/// flight are dropped: a stopped service accepts nothing more, and a client
/// stalled in the handshake is not left holding a connection for the
/// handshake's deadline.
#[tokio::test]
async fn the_port_closes_when_serve_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let ours = Pki::new(tmp.path(), "ours");
    let acceptor = ours.server(None).load().unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener = ServiceListener::tls(tcp, &acceptor).unwrap();
    let port = listener.local_addr().port();
    let url = format!("https://localhost:{port}/whoami");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = Router::new().route("/whoami", get(whoami));
    let server = tokio::spawn(serve(listener, router, async {
        let _ = stopped.await;
    }));
    assert_eq!(
        call(&ours.client(&ours, None), &url).await.unwrap(),
        "tls=true sites="
    );
    let mut stalled = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    // Let the listener take the stalled connection into a handshake.
    tokio::time::sleep(Duration::from_millis(100)).await;

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
    assert!(
        refused.is_err(),
        "a stopped service still accepted a connection"
    );
    // The stalled handshake's socket was closed by the server: end of stream
    // (or a reset), long before the handshake's own deadline.
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut stalled, &mut byte),
    )
    .await
    .expect("the stalled handshake is dropped with the listener");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}
