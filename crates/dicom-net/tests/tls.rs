//! The DICOM port over TLS (PS3.15 Annex B.1): dcmtk's `storescu` with TLS
//! sends into the SCP configured through `oncofed-tls`; a plain connection to
//! it stores nothing.

mod support;

use oncofed_dicom_net::ScpConfig;
use oncofed_tls::ServerTls;
use oncofed_tls::pki::{CertificateAuthority, write_issued};
use std::sync::Arc;
use support::{Collect, peer, scp_config, start, storescu};

#[test]
fn storescu_over_tls_reaches_the_scp() {
    if peer("storescu").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::create("OncoFed DICOM test CA", 1).unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let issued = ca
        .issue_service("node", &["localhost".into(), "127.0.0.1".into()], 1)
        .unwrap();
    let (cert, key) = write_issued(dir.path(), "node", &issued).unwrap();
    let sink = Arc::new(Collect::default());
    let scp = start(
        ScpConfig {
            tls: Some(ServerTls {
                cert_chain: cert,
                key,
                client_ca: None,
            }),
            ..scp_config(&["DCMTK"])
        },
        sink.clone(),
    );
    let port = scp.local_addr().port();
    let file = support::pydicom_test_files().join("CT_small.dcm");
    // Anonymous client, server verified against the test CA.
    let ca_arg = ca_file.to_str().unwrap();
    let (ok, output) = storescu("DCMTK", port, &["+tla", "+cf", ca_arg], &[&file]);
    assert!(ok, "{output}");
    assert_eq!(sink.objects.lock().unwrap().len(), 1, "{output}");
    let original = oncofed_dicom::read::open(&file).unwrap();
    {
        let objects = sink.objects.lock().unwrap();
        let (received, origin) = &objects[0];
        assert_eq!(origin.calling_ae, "DCMTK");
        assert!(support::differences(received, &original).is_empty());
    }

    // Plain TCP to the TLS port: no association, nothing stored.
    let (ok, output) = storescu("DCMTK", port, &[], &[&file]);
    assert!(!ok, "{output}");
    assert_eq!(sink.objects.lock().unwrap().len(), 1);
}

#[test]
fn missing_tls_files_are_an_error_at_bind() {
    let config = ScpConfig {
        tls: Some(ServerTls {
            cert_chain: "/nonexistent/cert.pem".into(),
            key: "/nonexistent/key.pem".into(),
            client_ca: None,
        }),
        ..scp_config(&["DCMTK"])
    };
    let error = oncofed_dicom_net::StoreScp::bind(config, Collect::default()).unwrap_err();
    assert!(error.to_string().contains("cert.pem"), "{error}");
}
