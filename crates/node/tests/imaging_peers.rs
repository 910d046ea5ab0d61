//! The node's DICOM receiver with a real peer: dcmtk `storescu` sends into the
//! node's C-STORE SCP; every object is linked, de-identified and archived like
//! an ingested file, an object that cannot be linked is refused with a failure
//! status the sender sees, and sending the same object again stores nothing new.

mod support;

use dicom_core::Tag;
use oncofed_dicom_net::{ScpConfig, StoreScp};
use oncofed_node::imaging::{ImagingSetup, NodeSink, ObjectArchive};
use oncofed_trustee::{PseudonymKey, TrusteeConfig};
use oncofed_trustee_api::TrusteeClient;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use support::dicom::{CT, Header, image, walk};
use support::{Node, registry, serve};

const SITE: &str = "site-1";
const TOKEN: &str = "token-of-site-1-0123456789abcdef";

/// `program` on the PATH, or `None` (printed) when it is missing and
/// `ONCOFED_REQUIRE_PEERS` is not set; with it set, a missing peer fails.
fn peer(program: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("ONCOFED_REQUIRE_PEERS").is_none(),
            "{program} is missing and ONCOFED_REQUIRE_PEERS is set: run scripts/setup-peers"
        );
        println!("skipped: {program} is not installed (scripts/setup-peers installs it)");
    }
    found
}

/// Runs `storescu` as the modality `MODALITY` against `port`: its output and exit status.
fn storescu(port: u16, files: &[&Path]) -> (bool, String) {
    let out = Command::new("storescu")
        .args([
            "-v", "-aet", "MODALITY", "-aec", "ONCOFED", "-to", "20", "-ta", "20", "-td", "20",
        ])
        .arg("127.0.0.1")
        .arg(port.to_string())
        .args(files)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storescu_sends_into_the_node_and_unlinkable_objects_are_refused() {
    if peer("storescu").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let key = PseudonymKey::from_bytes(vec![7; 32]).unwrap();
    let config = TrusteeConfig::new(tmp.path().join("tc"), key, registry([(SITE, TOKEN)])).unwrap();
    let trustee = serve(config).await;
    let client = TrusteeClient::new(&trustee.url, TOKEN).unwrap();
    let node = Node::new();
    let archive_dir = node.dir.path().join("images");
    let setup = ImagingSetup::new(&[9; 32], ObjectArchive::local(&archive_dir).unwrap());
    let sink = Arc::new(NodeSink::new(
        node.store.clone(),
        client.clone(),
        setup,
        tokio::runtime::Handle::current(),
    ));
    let scp = StoreScp::bind(
        ScpConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            allowed_calling_aes: vec!["MODALITY".into()],
            ..ScpConfig::default()
        },
        sink.clone(),
    )
    .unwrap()
    .spawn();
    let port = scp.local_addr().port();

    let input = tempfile::tempdir().unwrap();
    let ct = input.path().join("ct.dcm");
    image(
        &ct,
        &Header {
            patient_id: "w-1",
            name: "Beispiel^Wilma",
            birth: "19580309",
            sop_class: CT,
            modality: "CT",
            body_part: "CHEST",
            study_date: "20240220",
            study: "1.2.826.0.1.3680043.2.1125.1.1",
            series: "1.2.826.0.1.3680043.2.1125.1.2",
            instance: "1.2.826.0.1.3680043.2.1125.1.3",
        },
    );
    let anonymous = input.path().join("anonymous.dcm");
    image(
        &anonymous,
        &Header {
            patient_id: "",
            name: "",
            birth: "",
            sop_class: CT,
            modality: "CT",
            body_part: "CHEST",
            study_date: "20240101",
            study: "1.2.3.1",
            series: "1.2.3.2",
            instance: "1.2.3.3",
        },
    );

    let (ct_path, anon_path) = (ct.clone(), anonymous.clone());
    let (_, output) = tokio::task::spawn_blocking(move || storescu(port, &[&ct_path, &anon_path]))
        .await
        .unwrap();
    // The unlinkable object is refused with a failure status storescu reports.
    assert!(output.contains("Error: CannotUnderstand"), "{output}");
    let report = sink.report();
    assert_eq!(report.objects_stored, 1, "{report:?}\n{output}");
    assert_eq!(
        report.quarantined.get("not-linkable"),
        Some(&1),
        "{report:?}"
    );

    // Stored de-identified under the person's site pseudonym.
    let pair = client.resolve(vec!["w-1".into()]).await.unwrap()[0]
        .clone()
        .unwrap();
    let files = walk(&archive_dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let stored = dicom_object::open_file(&files[0]).unwrap();
    let id = stored
        .element(Tag(0x0010, 0x0020))
        .unwrap()
        .to_str()
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(id, pair.site.as_str());
    let bytes = std::fs::read(&files[0]).unwrap();
    for secret in ["Beispiel", "Wilma", "19580309", "20240220", "Klinikum"] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret}"
        );
    }

    // The same object again: accepted, nothing new.
    let again = ct.clone();
    let (ok, output) = tokio::task::spawn_blocking(move || storescu(port, &[&again]))
        .await
        .unwrap();
    assert!(ok, "{output}");
    let report = sink.report();
    assert_eq!(
        (report.objects_stored, report.objects_new),
        (2, 1),
        "{report:?}"
    );
    assert_eq!(walk(&archive_dir).len(), 1);

    // A modality not on the list is not let in at all.
    let out = Command::new("storescu")
        .args([
            "-aet",
            "STRANGER",
            "-aec",
            "ONCOFED",
            "127.0.0.1",
            &port.to_string(),
        ])
        .arg(&ct)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(sink.report().objects_stored, 2);
    tokio::task::spawn_blocking(move || scp.stop())
        .await
        .unwrap()
        .unwrap();
}
