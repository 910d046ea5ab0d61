//! Shared helpers for the `oncofed` binary's tests: the command, a run that must
//! succeed with JSON, a separate trust-centre process, output as text.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// The `oncofed` binary under test, without the caller's `RUST_LOG`.
pub fn oncofed() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_oncofed"));
    c.env_remove("RUST_LOG");
    c
}

/// Runs `oncofed args…`, which must succeed and print JSON on stdout.
pub fn run_ok(args: &[&str]) -> serde_json::Value {
    let out = oncofed().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "oncofed {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oncofed {args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Registers `site` at a trust centre whose data directory is `tc` (sites file
/// `tc/sites.txt`, created with the folder), writing its token to `token_out`.
pub fn add_site(tc: &Path, site: &str, token_out: &Path) {
    std::fs::create_dir_all(tc).unwrap();
    let sites = tc.join("sites.txt");
    run_ok(&[
        "trustee",
        "add-site",
        "--sites-file",
        sites.to_str().unwrap(),
        "--site",
        site,
        "--token-out",
        token_out.to_str().unwrap(),
        "--json",
    ]);
}

/// A child process (trust centre, demo federation); killed when dropped.
pub struct Served(pub Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `oncofed trustee serve` on 127.0.0.1:0 with `dir` as its data
/// directory; returns the process and the URL from its first log line.
pub fn serve_trustee(dir: &Path) -> (Served, String) {
    serve_trustee_with(dir, &[])
}

/// [`serve_trustee`] with more arguments (e.g. TLS files); the URL is https when
/// the trust centre serves TLS.
pub fn serve_trustee_with(dir: &Path, extra: &[&str]) -> (Served, String) {
    let mut child = oncofed()
        .args(["trustee", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    // Keep draining the log so the server never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") || url.starts_with("https://127.0.0.1:"),
        "unexpected first line: {line}"
    );
    (Served(child), url)
}

/// stdout and stderr of `out`, as text.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A trust centre in `dir/tc` with `site-1` registered (its token in
/// `dir/site-1.token`), serving on loopback: the set-up most CLI tests start from.
pub fn site_1_trust_centre(dir: &Path) -> (Served, String) {
    add_site(&dir.join("tc"), "site-1", &dir.join("site-1.token"));
    serve_trustee(&dir.join("tc"))
}
