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
