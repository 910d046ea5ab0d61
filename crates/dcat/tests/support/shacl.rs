//! Runs `crates/dcat/tests/shacl_validate.py` (pyshacl against the vendored
//! HealthDCAT-AP shapes) on a catalogue's Turtle and JSON-LD. Shared by
//! `oncofed-dcat`'s and `oncofed-hub`'s tests (included by path).
//!
//! Interpreter: `ONCOFED_SHACL_PYTHON`, else `<workspace>/.venv-shacl/bin/python`
//! (`scripts/setup-peers`). Missing: the test prints why and passes, unless
//! `ONCOFED_REQUIRE_PEERS` is set (then it fails).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root, from the including crate's manifest directory.
fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The pyshacl interpreter, or `None` (with the reason printed) when missing.
pub fn python() -> Option<PathBuf> {
    let python = std::env::var_os("ONCOFED_SHACL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv-shacl/bin/python"));
    let ok = python.is_file()
        && Command::new(&python)
            .args(["-c", "import pyshacl"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("ONCOFED_REQUIRE_PEERS").is_none(),
            "pyshacl is missing at {} and ONCOFED_REQUIRE_PEERS is set: run scripts/setup-peers",
            python.display()
        );
        println!(
            "skipped: pyshacl is not installed at {} (scripts/setup-peers installs it)",
            python.display()
        );
        return None;
    }
    Some(python)
}

/// Validates `turtle` and `jsonld` against the shapes and checks they are the
/// same graph; panics with pyshacl's report on any violation.
pub fn assert_valid(python: &Path, turtle: &str, jsonld: &str) {
    if let Err(report) = validate(python, turtle, jsonld) {
        panic!("{report}");
    }
}

/// Validates both documents (each also compared with the other); the report
/// of the first that does not conform, or that differs from the other.
pub fn validate(python: &Path, turtle: &str, jsonld: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ttl = dir.path().join("catalogue.ttl");
    let json = dir.path().join("catalogue.jsonld");
    std::fs::write(&ttl, turtle).expect("write Turtle");
    std::fs::write(&json, jsonld).expect("write JSON-LD");
    let script = workspace().join("crates/dcat/tests/shacl_validate.py");
    for (file, fmt, other, other_fmt) in [
        (&ttl, "turtle", &json, "json-ld"),
        (&json, "json-ld", &ttl, "turtle"),
    ] {
        let started = std::time::Instant::now();
        let out = Command::new(python)
            .arg(&script)
            .arg(file)
            .arg(fmt)
            .arg(other)
            .arg(other_fmt)
            .output()
            .expect("run pyshacl");
        let report = String::from_utf8_lossy(&out.stdout);
        println!(
            "pyshacl ({fmt}, {} ms):\n{report}",
            started.elapsed().as_millis()
        );
        if !out.status.success() {
            return Err(format!(
                "the {fmt} catalogue does not conform to HealthDCAT-AP:\n{report}\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    Ok(())
}
