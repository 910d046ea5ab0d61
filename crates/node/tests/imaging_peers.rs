//! The node's imaging with real peers.
//!
//! - dcmtk `storescu` sends into the node's C-STORE SCP; every object is
//!   linked, de-identified and archived like an ingested file, an object that
//!   cannot be linked is refused with a failure status the sender sees, and
//!   sending the same object again stores nothing new.
//! - Orthanc, a PACS, sends an identified CT into the node's SCP (REST
//!   `POST /modalities/{name}/store`); it lands de-identified under the
//!   person's site pseudonym; a project delivery by C-STORE then arrives in
//!   Orthanc under the project pseudonym and project UIDs, with no
//!   identifying value of the original in the file Orthanc keeps.
//!
//! Peers are found or skipped by `oncofed-test-peers` (a missing peer fails
//! when `ONCOFED_REQUIRE_PEERS` is set).

mod support;

use dicom_core::Tag;
use oncofed_dicom_net::{Destination, RunningScp, ScpConfig, StoreScp, StoreScu};
use oncofed_node::ConsentGate;
use oncofed_node::imaging::deliver::{
    DeliveryAudit, DeliveryRequest, ProjectKey, ScuTarget, deliver,
};
use oncofed_node::imaging::{ImagingSetup, NodeSink, ObjectArchive};
use oncofed_test_peers::{Orthanc, peer, storescu};
use oncofed_trustee::{PseudonymKey, TrusteeConfig};
use oncofed_trustee_api::TrusteeClient;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use support::dicom::{CT, Header, image, walk, wilma_ct};
use support::{Node, Served, registry, serve};

const SITE: &str = "site-1";
const TOKEN: &str = "token-of-site-1-0123456789abcdef";
/// The node's AE title, as its SCP is called and as its SCU calls.
const NODE_AE: &str = "ONCOFED";
/// What the CT fixture holds that identifies Wilma or her hospital.
const SECRETS: [&str; 6] = [
    "Beispiel",
    "Wilma",
    "19580309",
    "20240220",
    "Klinikum",
    "1.2.826.0.1.3680043.2.1125.1",
];

/// One site: a trust centre, the node's store and archive, and its C-STORE
/// SCP with the node's sink, admitting the calling AE titles given.
struct Site {
    _trustee: Served,
    client: TrusteeClient,
    node: Node,
    archive_dir: PathBuf,
    setup: ImagingSetup,
    sink: Arc<NodeSink>,
    scp: RunningScp,
}

impl Site {
    /// Must run inside the multi-thread runtime (the sink blocks on it from
    /// the SCP's threads).
    async fn start(dir: &Path, callers: &[&str]) -> Site {
        let key = PseudonymKey::from_bytes(vec![7; 32]).unwrap();
        let config = TrusteeConfig::new(dir.join("tc"), key, registry([(SITE, TOKEN)])).unwrap();
        let trustee = serve(config).await;
        let client = TrusteeClient::new(&trustee.url, TOKEN).unwrap();
        let node = Node::new();
        let archive_dir = node.dir.path().join("images");
        let setup = ImagingSetup::new(&[9; 32], ObjectArchive::local(&archive_dir).unwrap());
        let sink = Arc::new(NodeSink::new(
            node.store.clone(),
            client.clone(),
            setup.clone(),
            tokio::runtime::Handle::current(),
        ));
        let scp = StoreScp::bind(
            ScpConfig {
                bind: "127.0.0.1:0".parse().unwrap(),
                allowed_calling_aes: callers.iter().map(|c| c.to_string()).collect(),
                ..ScpConfig::default()
            },
            sink.clone(),
        )
        .unwrap()
        .spawn();
        Site {
            _trustee: trustee,
            client,
            setup,
            node,
            archive_dir,
            sink,
            scp,
        }
    }

    fn port(&self) -> u16 {
        self.scp.local_addr().port()
    }

    async fn stop(self) {
        let scp = self.scp;
        tokio::task::spawn_blocking(move || scp.stop())
            .await
            .unwrap()
            .unwrap();
    }
}

fn attribute(path: &Path, tag: Tag) -> String {
    dicom_object::open_file(path)
        .unwrap()
        .element(tag)
        .unwrap()
        .to_str()
        .unwrap()
        .trim()
        .to_owned()
}

/// Asserts that none of [`SECRETS`] occurs in `bytes`.
fn assert_no_secret(bytes: &[u8], what: &str) {
    for secret in SECRETS {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in {what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storescu_sends_into_the_node_and_unlinkable_objects_are_refused() {
    if peer("storescu").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let site = Site::start(tmp.path(), &["MODALITY"]).await;
    let port = site.port();

    let input = tempfile::tempdir().unwrap();
    let ct = input.path().join("ct.dcm");
    wilma_ct(&ct);
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
    let (_, output) = tokio::task::spawn_blocking(move || {
        storescu("MODALITY", NODE_AE, port, &[], &[&ct_path, &anon_path])
    })
    .await
    .unwrap();
    // The unlinkable object is refused with a failure status storescu reports.
    assert!(output.contains("Error: CannotUnderstand"), "{output}");
    let report = site.sink.report();
    assert_eq!(report.objects_stored, 1, "{report:?}\n{output}");
    assert_eq!(
        report.quarantined.get("not-linkable"),
        Some(&1),
        "{report:?}"
    );

    // Stored de-identified under the person's site pseudonym.
    let pair = site.client.resolve(vec!["w-1".into()]).await.unwrap()[0]
        .clone()
        .unwrap();
    let files = walk(&site.archive_dir);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        attribute(&files[0], Tag(0x0010, 0x0020)),
        pair.site.as_str()
    );
    assert_no_secret(&std::fs::read(&files[0]).unwrap(), "the archive");

    // The same object again: accepted, nothing new.
    let again = ct.clone();
    let (ok, output) =
        tokio::task::spawn_blocking(move || storescu("MODALITY", NODE_AE, port, &[], &[&again]))
            .await
            .unwrap();
    assert!(ok, "{output}");
    let report = site.sink.report();
    assert_eq!(
        (report.objects_stored, report.objects_new),
        (2, 1),
        "{report:?}"
    );
    assert_eq!(walk(&site.archive_dir).len(), 1);

    // A modality not on the list is not let in at all.
    let out = Command::new("storescu")
        .args(["-aet", "STRANGER", "-aec", NODE_AE, "127.0.0.1"])
        .arg(port.to_string())
        .arg(&ct)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(site.sink.report().objects_stored, 2);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orthanc_sends_into_the_node_and_receives_a_project_delivery() {
    let tmp = tempfile::tempdir().unwrap();
    let site = Site::start(tmp.path(), &["ORTHANC"]).await;
    // Orthanc knows the node as one modality: it sends to our SCP and
    // admits our SCU, both under the node's AE title.
    let port = site.port();
    let Some(orthanc) = tokio::task::spawn_blocking(move || {
        Orthanc::builder()
            .aet("ORTHANC")
            .modality("oncofed", NODE_AE, port)
            .start_or_skip()
    })
    .await
    .unwrap() else {
        return;
    };
    let orthanc = Arc::new(orthanc);

    // Orthanc holds Wilma's identified CT and sends it to the node.
    let input = tempfile::tempdir().unwrap();
    let ct = input.path().join("ct.dcm");
    wilma_ct(&ct);
    let pacs = orthanc.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let id = pacs.upload_file(&ct).unwrap();
        let answer = pacs.store_to("oncofed", &id);
        // What Orthanc holds afterwards is only what the node delivers.
        pacs.delete(&id).unwrap();
        answer
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(answer["FailedInstancesCount"], 0, "{answer}");
    let report = site.sink.report();
    assert_eq!(
        (report.objects_stored, report.objects_new),
        (1, 1),
        "{report:?}"
    );

    // It landed de-identified under Wilma's site pseudonym.
    let pair = site.client.resolve(vec!["w-1".into()]).await.unwrap()[0]
        .clone()
        .unwrap();
    let files = walk(&site.archive_dir);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        attribute(&files[0], Tag(0x0010, 0x0020)),
        pair.site.as_str()
    );
    assert_no_secret(&std::fs::read(&files[0]).unwrap(), "the archive");
    let site_uid = attribute(&files[0], Tag(0x0008, 0x0018));

    // A project delivery by C-STORE into Orthanc, audited at the site.
    let key = ProjectKey::new([3; 32]);
    let gate = ConsentGate::new(site.client.clone(), Duration::from_secs(60));
    let audit = DeliveryAudit::open(
        tmp.path().join("delivery-audit.db"),
        oncofed_crypto::SigningKeyPair::generate(),
        16,
    )
    .unwrap();
    let mut target = ScuTarget {
        scu: StoreScu {
            calling_ae: NODE_AE.into(),
            ..StoreScu::default()
        },
        destination: Destination {
            address: format!("127.0.0.1:{}", orthanc.dicom_port),
            called_ae: orthanc.aet.clone(),
        },
    };
    let request = DeliveryRequest {
        project: "P-7".into(),
        key: key.clone(),
        cohort: vec![pair.site.clone()],
        today: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
    };
    let delivered = deliver(
        &site.node.store,
        &gate,
        &site.setup,
        &audit,
        &request,
        &mut target,
    )
    .await
    .unwrap();
    assert_eq!(
        (delivered.objects_delivered, delivered.failures.len()),
        (1, 0),
        "{delivered:?}"
    );

    // Orthanc holds the delivered instance: project pseudonym, project UID,
    // nothing of the original in the file it keeps.
    let pacs = orthanc.clone();
    let (ids, tags, bytes) = tokio::task::spawn_blocking(move || {
        let ids = pacs.instances().unwrap();
        let id = ids.first().expect("an instance in Orthanc").clone();
        let tags = pacs
            .get_json(&format!("/instances/{id}/simplified-tags"))
            .unwrap();
        (ids, tags, pacs.download(&id).unwrap())
    })
    .await
    .unwrap();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(tags["PatientID"], key.pseudonym(&pair.research), "{tags}");
    let delivered_uid = tags["SOPInstanceUID"].as_str().unwrap();
    assert!(delivered_uid.starts_with("2.25."), "{delivered_uid}");
    assert_ne!(
        delivered_uid, site_uid,
        "project UIDs differ from the site's"
    );
    assert_no_secret(&bytes, "Orthanc's file");
    assert_eq!(audit.entries(0, 10).unwrap().len(), 2, "started, finished");
    site.stop().await;
}
