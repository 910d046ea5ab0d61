//! Burned-in text through the node (issue 14): an ultrasound frame from a
//! device the rule table knows is stored with its banner blanked and the
//! Clean Pixel Data marker; the same frame from an unknown device, whose text
//! no rule covers, is quarantined with `burned-in-text` and nothing of it is
//! stored. The frames are drawn at test time by the DICOM crate's fixture
//! script (pillow and pydicom of the peer Python, `ONCOFED_PYTHON`).

mod support;

use dicom_core::Tag;
use oncofed_node::imaging::{self, ImagingSetup, ObjectArchive};
use oncofed_trustee::{PseudonymKey, TrusteeConfig};
use oncofed_trustee_api::TrusteeClient;
use std::path::Path;
use std::process::Command;
use support::dicom::walk;
use support::{Node, registry, serve};

const TOKEN: &str = "token-of-site-1-0123456789abcdef";

/// Draws an ultrasound frame (640×480) of `manufacturer`/`model` with a
/// name and birth date in its top banner and an insurance number at the
/// bottom left, as the fixture rule of `regions.json` expects.
fn frame(path: &Path, manufacturer: &str, model: &str) {
    let spec = serde_json::json!({
        "manufacturer": manufacturer, "model": model, "rows": 480, "columns": 640, "seed": 7,
        "text": [[10, 10, 22, "Müller, Jürgen"], [330, 10, 22, "geb. 14.03.1961"],
                 [10, 448, 20, "KVNR A123456780"]],
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dicom/tests/support/us_fixture.py");
    let out = Command::new(oncofed_test_peers::python())
        .arg(script)
        .arg(spec.to_string())
        .arg(path)
        .output()
        .expect("the peer Python: run scripts/setup-peers");
    assert!(
        out.status.success(),
        "us_fixture.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn burned_in_text_is_cleaned_by_rule_or_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let key = PseudonymKey::from_bytes(vec![7; 32]).unwrap();
    let config =
        TrusteeConfig::new(tmp.path().join("tc"), key, registry([("site-1", TOKEN)])).unwrap();
    let trustee = serve(config).await;
    let client = TrusteeClient::new(&trustee.url, TOKEN).unwrap();
    let node = Node::new();
    let archive = node.dir.path().join("images");
    let setup = ImagingSetup::new(&[9; 32], ObjectArchive::local(&archive).unwrap());

    let input = tempfile::tempdir().unwrap();
    frame(
        &input.path().join("known.dcm"),
        "OncoFed Test Imaging",
        "SonoFake 3000",
    );
    frame(
        &input.path().join("unknown.dcm"),
        "Unbekannt Medical",
        "X-1",
    );
    let report = imaging::ingest_dicom(
        &node.store,
        &client,
        &setup,
        &[input.path().to_owned()],
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(report.objects_stored, 1, "{report:?}");
    assert_eq!(
        report.quarantined.get("burned-in-text"),
        Some(&1),
        "{report:?}"
    );
    assert!(
        report.quarantine[0].contains("unknown.dcm"),
        "{:?}",
        report.quarantine
    );

    // The stored frame: banner blanked, marked as cleaned.
    let files = walk(&archive);
    assert_eq!(files.len(), 1);
    let stored = dicom_object::open_file(&files[0]).unwrap();
    let bia = stored
        .element(Tag(0x0028, 0x0301))
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(bia.trim(), "NO");
    let dump = String::from_utf8_lossy(
        &Command::new("dcmdump")
            .args(["+L", "+U8"])
            .arg(&files[0])
            .output()
            .expect("dcmdump: run scripts/setup-peers")
            .stdout,
    )
    .into_owned();
    assert!(dump.contains("113101"), "Clean Pixel Data code missing");
    let pixels = stored
        .element(Tag(0x7FE0, 0x0010))
        .unwrap()
        .to_bytes()
        .unwrap();
    // RGB, 640 per row: the top 48 rows are black.
    assert!(pixels[..640 * 48 * 3].iter().all(|&b| b == 0));
    let quality = oncofed_node::quality::report(&node.store).await.unwrap();
    assert_eq!(
        quality.images.quarantined_by_reason.get("burned-in-text"),
        Some(&1)
    );
}
