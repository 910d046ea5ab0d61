//! Synthetic smears through the `oncofed` binary: `synth --cells` writes
//! per-site cell batches beside the FHIR data and reports them in `--json`.

mod support;

use support::run_ok;

#[test]
fn synth_writes_smear_batches_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cohort");
    let synth = run_ok(&[
        "synth",
        "--out",
        &out.to_string_lossy(),
        "--sites",
        "2",
        "--patients",
        "60",
        "--seed",
        "3",
        "--cells",
        "0.8",
        "--cells-per-smear",
        "4",
        "--json",
    ]);
    let cells = &synth["cells"];
    let smears = cells["smears"].as_u64().unwrap();
    assert!(smears > 5, "{synth}");
    assert_eq!(cells["cells"].as_u64(), Some(smears * 4), "{synth}");
    assert_eq!(
        cells["site_styles"]["site-2"]["stain"].as_str(),
        Some("Pappenheim (May-Grünwald-Giemsa)")
    );
    let mut rows = 0;
    for site in ["site-1", "site-2"] {
        let batch = out.join(site).join("cells");
        let listed = std::fs::read_to_string(batch.join("cells.csv")).unwrap();
        for row in listed.lines().skip(1) {
            let file = row.split(',').nth(2).unwrap();
            assert!(batch.join(file).is_file(), "{row}");
            rows += 1;
        }
        assert!(out.join(format!("ground-truth/cells-{site}.csv")).is_file());
    }
    assert_eq!(rows, smears * 4);
}
