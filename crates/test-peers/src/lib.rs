//! The DICOM peers of the tests, found, started and stopped one way (dev-only).
//!
//! The DICOM tests of `oncofed-dicom`, `oncofed-dicom-net` and `oncofed-node`
//! talk to real peers: dcmtk (`storescu`, `storescp`, `echoscu`) and Orthanc.
//! Each suite used to carry its own copy of the helpers below, and the copies
//! drifted (two Orthanc configurations, two skip rules). This crate holds the
//! one copy:
//!
//! - [`peer`]: a peer program, or a printed skip when it is missing, unless
//!   `ONCOFED_REQUIRE_PEERS` is set (as `scripts/test` does), where a missing
//!   peer fails the test;
//! - [`free_port`], [`wait_until`]: loopback ports and polling without fixed sleeps;
//! - [`storescu`]: dcmtk's C-STORE SCU run against a local SCP;
//! - [`orthanc::Orthanc`]: a private Orthanc in a temporary directory, talked
//!   to over its REST API, knowing the DICOM modalities a test lists, killed
//!   on drop.
//!
//! It depends on no OncoFed crate, so any crate's tests (and examples) can take
//! it as a dev-dependency (tests and examples); nothing shipped may depend on
//! it. `scripts/setup-peers` installs the peers.

pub mod orthanc;

pub use orthanc::{Modality, Orthanc, OrthancBuilder, OrthancError};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether `ONCOFED_REQUIRE_PEERS` is set: a missing peer then fails the test
/// instead of skipping it.
pub fn peers_required() -> bool {
    std::env::var_os("ONCOFED_REQUIRE_PEERS").is_some()
}

/// A peer program (a name looked up on the `PATH`, or a path), or `None` with
/// the reason printed when it is missing and `ONCOFED_REQUIRE_PEERS` is not
/// set; with it set, a missing peer panics (fails the test).
pub fn peer(program: &str) -> Option<PathBuf> {
    let found = if program.contains('/') {
        Some(PathBuf::from(program)).filter(|p| p.is_file())
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .find(|p| p.is_file())
        })
    };
    if found.is_none() {
        assert!(
            !peers_required(),
            "{program} is missing and ONCOFED_REQUIRE_PEERS is set: run scripts/setup-peers"
        );
        println!("skipped: {program} is not installed (scripts/setup-peers installs it)");
    }
    found
}

/// A TCP port nobody listens on right now on loopback (bound and released;
/// another process may take it before the caller binds it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Polls `check` every 20 ms until it holds or `limit` passes; whether it held.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}

/// Runs dcmtk `storescu -v` as `calling` against the AE `called` on
/// `127.0.0.1:port` with the extra `args`, then `files` (20 s connection,
/// ACSE and DIMSE timeouts): whether it exited with 0, and its output
/// (stdout then stderr).
pub fn storescu(
    calling: &str,
    called: &str,
    port: u16,
    args: &[&str],
    files: &[&Path],
) -> (bool, String) {
    let out = Command::new("storescu")
        .args([
            "-v", "-aet", calling, "-aec", called, "-to", "20", "-ta", "20", "-td", "20",
        ])
        .args(args)
        .arg("127.0.0.1")
        .arg(port.to_string())
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("storescu: {e} (scripts/setup-peers installs dcmtk)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The peer Python: `ONCOFED_PYTHON`, else the workspace's `.venv`, as
/// `scripts/setup-peers` installs it (pydicom, pillow, numpy).
pub fn python() -> PathBuf {
    std::env::var_os("ONCOFED_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
        PathBuf::from,
    )
}

/// `pydicom/data/test_files` of the peer Python: the ~78 DICOM files the
/// pydicom wheel ships (never `get_testdata_files()`, which downloads).
/// Fails, never skips, without pydicom.
pub fn pydicom_test_files() -> PathBuf {
    let python = python();
    let out = Command::new(&python)
        .args([
            "-c",
            "import os, pydicom; print(os.path.dirname(pydicom.__file__))",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/setup-peers", python.display()));
    assert!(
        out.status.success(),
        "pydicom missing in {}: run scripts/setup-peers",
        python.display()
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("data/test_files")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_peer_skips_unless_required() {
        let missing = "oncofed-no-such-peer";
        if peers_required() {
            assert!(std::panic::catch_unwind(|| peer(missing)).is_err());
        } else {
            assert_eq!(peer(missing), None);
            assert!(matches!(
                Orthanc::builder().binary("/nonexistent/Orthanc").start(),
                Err(OrthancError::Missing(_))
            ));
        }
        assert!(peer("sh").is_some(), "a program on the PATH is found");
    }

    #[test]
    fn waits_until_the_check_holds_or_the_limit_passes() {
        let mut n = 0;
        assert!(wait_until(Duration::from_secs(5), || {
            n += 1;
            n == 3
        }));
        assert!(!wait_until(Duration::from_millis(50), || false));
        assert_ne!(free_port(), 0);
    }
}
