//! Interop: what `oncofed synth` writes validates with the Python `fhir.resources`
//! library (R4B models), a real FHIR implementation independent of ours.
//! `scripts/setup-peers` installs it into `.venv`; `ONCOFED_PYTHON` points here.

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("ONCOFED_PYTHON") {
        return p.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        venv.exists(),
        "the Python peer is not installed: run scripts/setup-peers (or set ONCOFED_PYTHON)"
    );
    venv
}

fn validate(dir: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/peers/validate_fhir.py");
    let out = Command::new(python())
        .arg(script)
        .arg(dir)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "validator output: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success(),
        "fhir.resources rejected our bundles: {report}"
    );
    report
}

#[test]
fn synthetic_bundles_validate_with_fhir_resources() {
    for format in ["ndjson", "json"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("cohort");
        let status = Command::new(env!("CARGO_BIN_EXE_oncofed"))
            .args([
                "synth",
                "--sites",
                "3",
                "--patients",
                "150",
                "--seed",
                "77",
                "--format",
                format,
                "--json",
                "--out",
            ])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let report = validate(&out);
        assert_eq!(
            report["errors"].as_array().map(Vec::len),
            Some(0),
            "{report}"
        );
        assert!(report["resources"].as_u64().unwrap() > 2_000, "{report}");
    }
}
