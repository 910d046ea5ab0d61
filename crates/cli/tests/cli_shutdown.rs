//! `systemctl stop` sends SIGTERM: a service must stop cleanly (exit 0), not be
//! killed mid-request.

mod support;

use std::time::{Duration, Instant};
use support::serve_trustee;

#[cfg(unix)]
#[test]
fn the_trust_centre_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    support::add_site(
        &dir.path().join("tc"),
        "site-1",
        &dir.path().join("site-1.token"),
    );
    let (mut served, _url) = serve_trustee(&dir.path().join("tc"));
    let pid = served.0.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let began = Instant::now();
    let status = loop {
        if let Some(status) = served.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "SIGTERM ended the trust centre with {status}"
    );
}

/// Patients in the node's store, read by `oncofed node quality` while ingest runs.
fn patients_held(data_dir: &str) -> u64 {
    let out = support::oncofed()
        .args(["node", "quality", "--json", "--data-dir", data_dir])
        .output()
        .unwrap();
    if !out.status.success() {
        return 0;
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    report["patients"].as_u64().unwrap_or(0)
}

#[cfg(unix)]
#[test]
fn sigterm_during_ingest_commits_whole_chunks_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    let (_served, url) = support::site_1_trust_centre(dir.path());
    let synth = support::run_ok(&[
        "synth",
        "--out",
        &d("cohort"),
        "--sites",
        "1",
        "--patients",
        "4000",
        "--seed",
        "8",
        "--json",
    ]);
    let total = synth["patients_per_site"]["site-1"].as_u64().unwrap();
    let ingest = || {
        let mut command = support::oncofed();
        command
            .args([
                "node",
                "ingest",
                "--json",
                "--data-dir",
                &d("n1"),
                "--trustee",
                &url,
            ])
            .args(["--token-file", &d("site-1.token"), &d("cohort/site-1")]);
        command
    };
    // Create the store first, so the polling below only ever reads it.
    assert_eq!(patients_held(&d("n1")), 0);
    let child = ingest()
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Signal once the first chunk is committed, while later ones are still to come.
    let began = Instant::now();
    while patients_held(&d("n1")) == 0 {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "no chunk was committed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    if report["interrupted"] == true {
        assert_eq!(
            out.status.code(),
            Some(3),
            "exit status of a stopped ingest"
        );
        let written = report["written"]["patients_new"].as_u64().unwrap();
        assert_eq!(
            patients_held(&d("n1")),
            written,
            "the store holds exactly what was reported"
        );
        assert!(written < total);
        eprintln!("stopped after {written} of {total} patients");
    } else {
        // The last chunk was already under way when the signal came: it finished.
        assert_eq!(out.status.code(), Some(0));
        eprintln!("the signal came during the last chunk");
    }
    // Either way the same command finishes the job, without duplicates.
    let rest = ingest().output().unwrap();
    assert!(rest.status.success(), "{}", support::text(&rest));
    assert_eq!(patients_held(&d("n1")), total, "every patient landed once");
}
