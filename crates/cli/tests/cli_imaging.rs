//! Images through the `oncofed` binary: `synth --imaging` writes identified
//! staging CTs beside the FHIR data, one `node ingest` takes both, `node
//! quality` counts the objects, and `node deliver-images` delivers a
//! project's CTs to a folder under project pseudonyms, recorded in the site's
//! delivery audit trail. Every command's `--json` output is parsed.

mod support;

use support::run_ok;

#[test]
fn synth_ingest_quality_and_deliver_images() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    let (_served, url) = support::site_1_trust_centre(dir.path());

    let synth = run_ok(&[
        "synth",
        "--out",
        &d("cohort"),
        "--sites",
        "1",
        "--patients",
        "80",
        "--seed",
        "5",
        "--imaging",
        "0.5",
        "--json",
    ]);
    let studies = synth["imaging"]["studies"].as_u64().unwrap();
    assert!(studies > 10, "{synth}");

    // One ingest takes the FHIR bundles and the DICOM folder together.
    let ingest = run_ok(&[
        "node",
        "ingest",
        "--data-dir",
        &d("n1"),
        "--trustee",
        &url,
        "--token-file",
        &d("site-1.token"),
        "--json",
        &d("cohort/site-1"),
    ]);
    assert_eq!(ingest["units_failed"], 0, "{ingest}");
    let imaging = &ingest["imaging"];
    assert_eq!(
        imaging["objects_stored"].as_u64(),
        Some(studies * 3),
        "{imaging}"
    );
    assert_eq!(imaging["quarantined"], serde_json::json!({}), "{imaging}");
    // The images joined the patients of the FHIR data: no new person.
    assert_eq!(imaging["patients"].as_u64(), Some(studies));
    let quality = run_ok(&["node", "quality", "--data-dir", &d("n1"), "--json"]);
    assert_eq!(
        quality["patients"], 80,
        "no patient row was added by the images"
    );
    assert_eq!(
        quality["images"]["objects_by_modality"]["CT"].as_u64(),
        Some(studies * 3)
    );
    // The site's UID key was made owner-only on first use.
    let mode = std::fs::metadata(d("n1/dicom-uid.key")).unwrap();
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o077,
        0
    );

    std::fs::write(d("project.key"), "ab".repeat(32)).unwrap();
    std::fs::write(d("ct.json"), r#"{"imaging": {"modality": ["CT"]}}"#).unwrap();
    let delivered = run_ok(&[
        "node",
        "deliver-images",
        "--data-dir",
        &d("n1"),
        "--trustee",
        &url,
        "--token-file",
        &d("site-1.token"),
        "--project",
        "P-1",
        "--project-key-file",
        &d("project.key"),
        "--criteria",
        &d("ct.json"),
        "--to-folder",
        &d("out"),
        "--key-file",
        &d("n1/site.key"),
        "--json",
    ]);
    let objects = delivered["objects_delivered"].as_u64().unwrap();
    let withheld = delivered["objects_refused_consent"].as_u64().unwrap();
    // Whole-body CTs (the haematological entities' staging) show the head:
    // they stay at the site.
    let face = delivered["objects_withheld_face"].as_u64().unwrap();
    assert_eq!(objects + withheld + face, studies * 3, "{delivered}");
    assert!(face > 0, "{delivered}");
    assert!(objects > 0, "{delivered}");
    let written = walk(&dir.path().join("out"));
    assert_eq!(written.len() as u64, objects);
    // Project pseudonyms (P + hex) as folder names; no local id among them.
    for f in &written {
        let person = f.parent().unwrap().parent().unwrap().file_name().unwrap();
        assert!(person.to_string_lossy().starts_with('P'), "{f:?}");
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !bytes.windows(4).any(|w| w == b"PID-"),
            "a local id in {f:?}"
        );
    }
    assert!(dir.path().join("n1/delivery-audit.db").exists());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
