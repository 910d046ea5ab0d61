//! TLS through the `oncofed` binary: a pilot PKI from `oncofed pki init`, a
//! trust centre serving mutual TLS as its own process, a site ingesting with its
//! certificate, and what an attacker on the network would try refused: another
//! site's certificate, no CA, plain HTTP to another host, serving in the clear.

mod support;

use support::{oncofed, run_ok, serve_trustee_with, text};

#[test]
fn a_site_ingests_over_mutual_tls_and_nothing_goes_out_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    let pki = run_ok(&[
        "pki",
        "init",
        "--dir",
        &d("pki"),
        "--site",
        "site-1",
        "--site",
        "site-2",
        "--json",
    ]);
    assert_eq!(pki["certificates"].as_array().unwrap().len(), 5, "{pki}");
    #[cfg(unix)]
    for key in ["ca.key", "trustee.key", "site-site-1.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d(&format!("pki/{key}")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
    // A second init over the same directory would replace the CA: refused.
    let again = oncofed()
        .args(["pki", "init", "--dir", &d("pki")])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        text(&again).contains("already holds a CA"),
        "{}",
        text(&again)
    );

    for site in ["site-1", "site-2"] {
        let token = dir.path().join(format!("{site}.token"));
        support::add_site(&dir.path().join("tc"), site, &token);
    }
    let (_served, url) = serve_trustee_with(
        &dir.path().join("tc"),
        &[
            "--tls-cert",
            &d("pki/trustee.pem"),
            "--tls-key",
            &d("pki/trustee.key"),
            "--tls-client-ca",
            &d("pki/ca.pem"),
        ],
    );
    assert!(url.starts_with("https://"), "{url}");
    run_ok(&[
        "synth",
        "--out",
        &d("cohort"),
        "--sites",
        "1",
        "--patients",
        "40",
        "--seed",
        "3",
        "--json",
    ]);
    let ingest = |cert_site: &str, ca: bool| {
        let mut args = vec![
            "node".to_owned(),
            "ingest".into(),
            "--data-dir".into(),
            d("n1"),
            "--trustee".into(),
            url.clone(),
            "--token-file".into(),
            d("site-1.token"),
            "--client-cert".into(),
            d(&format!("pki/site-{cert_site}.pem")),
            "--client-key".into(),
            d(&format!("pki/site-{cert_site}.key")),
            "--json".into(),
        ];
        if ca {
            args.extend(["--ca".to_owned(), d("pki/ca.pem")]);
        }
        args.push(d("cohort/site-1"));
        oncofed().args(&args).output().unwrap()
    };
    // Site 1's token with site 2's certificate: refused, nothing landed.
    let borrowed = ingest("site-2", true);
    assert!(!borrowed.status.success());
    assert!(text(&borrowed).contains("401"), "{}", text(&borrowed));
    // Without the federation CA the client does not trust the trust centre.
    let untrusting = ingest("site-1", false);
    assert!(!untrusting.status.success());
    assert!(
        text(&untrusting).contains("unreachable"),
        "{}",
        text(&untrusting)
    );
    let quality = run_ok(&["node", "quality", "--data-dir", &d("n1"), "--json"]);
    assert_eq!(
        quality["patients"], 0,
        "a refused ingest landed data: {quality}"
    );
    // With its own certificate and the CA: every patient pseudonymised over mTLS.
    let own = ingest("site-1", true);
    assert!(own.status.success(), "{}", text(&own));
    let report: serde_json::Value = serde_json::from_slice(&own.stdout).unwrap();
    assert_eq!(report["patients"], 40, "{report}");

    // Plain HTTP to another host is refused before anything is sent.
    let clear = oncofed()
        .args([
            "node",
            "ingest",
            "--data-dir",
            &d("n2"),
            "--trustee",
            "http://192.0.2.1:8710",
        ])
        .args(["--token-file", &d("site-1.token"), &d("cohort/site-1")])
        .output()
        .unwrap();
    assert!(!clear.status.success());
    assert!(
        text(&clear).contains("refusing to call"),
        "{}",
        text(&clear)
    );
}

#[test]
fn every_service_refuses_plain_http_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    std::fs::create_dir_all(d("hub")).unwrap();
    support::add_site(
        &dir.path().join("tc"),
        "site-1",
        &dir.path().join("site-1.token"),
    );
    run_ok(&[
        "hub",
        "add-user",
        "--users-file",
        &d("hub/users.txt"),
        "--user",
        "alice",
        "--role",
        "researcher",
        "--token-out",
        &d("alice.token"),
        "--json",
    ]);
    std::fs::write(d("api.token"), "api-token-0123456789abcdef").unwrap();
    std::fs::create_dir_all(d("n1")).unwrap();
    let services: [Vec<String>; 3] = [
        vec![
            "trustee".into(),
            "serve".into(),
            "--data-dir".into(),
            d("tc"),
        ],
        vec!["hub".into(), "serve".into(), "--data-dir".into(), d("hub")],
        vec![
            "node".into(),
            "serve".into(),
            "--data-dir".into(),
            d("n1"),
            "--token-file".into(),
            d("site-1.token"),
            "--api-token-file".into(),
            d("api.token"),
        ],
    ];
    for service in &services {
        let out = oncofed()
            .args(service)
            .args(["--listen", "0.0.0.0:0"])
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{service:?} served plain HTTP on 0.0.0.0"
        );
        let said = text(&out);
        assert!(
            said.contains("refusing to serve plain HTTP on 0.0.0.0"),
            "{service:?}: {said}"
        );
        assert!(
            said.contains("--tls-cert"),
            "the error says what to do: {said}"
        );
    }
}
