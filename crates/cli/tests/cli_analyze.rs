//! `oncofed analyze` against a running federation: `oncofed demo --keep-running`
//! leaves the trust centre, hub and site agents up (project `demo` approved for
//! the demo researcher); the CLI runs analyses through it as a researcher would.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use support::{Served, oncofed};

fn analyze(args: &[&str]) -> std::process::Output {
    oncofed().arg("analyze").args(args).output().unwrap()
}

#[test]
fn analyze_commands_run_through_a_live_federation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let mut child = oncofed()
        .args(["demo", "--patients", "150", "--keep-running", "--dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("demo.log")).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // The demo process; killed when dropped.
    let demo = Served(child);
    // Read the demo's stdout to its end on a thread (a closed pipe would make the
    // demo's next print fail), handing over the hub's address when it appears.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.trim().strip_prefix("research hub") {
                let _ = tx.send(rest.split_whitespace().next().map(str::to_owned));
            }
        }
    });
    let hub = rx.recv().ok().flatten();
    let hub = hub.expect("the demo prints the hub's address");
    let token = data.join("researcher.token");
    let common = |cmd: &str| {
        vec![
            cmd.to_string(),
            "--hub".into(),
            hub.clone(),
            "--token-file".into(),
            token.to_str().unwrap().to_string(),
            "--project".into(),
            "demo".into(),
            // The demo serves TLS with a CA made for the run.
            "--ca".into(),
            data.join("pki/ca.pem").to_str().unwrap().to_string(),
        ]
    };

    // Cox with --json: a coefficient table with hazard ratios and CIs.
    let mut args = common("cox");
    args.extend(["--covariate", "age", "--covariate", "female", "--json"].map(String::from));
    let out = oncofed().arg("analyze").args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}\n--- demo log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.path().join("demo.log")).unwrap_or_default()
    );
    let cox: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cox["type"], "cox");
    assert_eq!(cox["estimates"].as_array().unwrap().len(), 2);
    assert_eq!(cox["terms"][0], "age");
    assert_eq!(cox["run"]["sites"], 3);

    // KM as a table for people, with an SVG plot.
    let plot = dir.path().join("km.svg");
    let mut args = common("km");
    args.extend(["--by", "female", "--interval", "180", "--plot"].map(String::from));
    args.push(plot.to_str().unwrap().to_string());
    let out = oncofed().arg("analyze").args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("female=0") && text.contains("log-rank"),
        "{text}"
    );
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<path"));

    // A variable name the model does not know is refused before anything is sent.
    let mut args = common("cox");
    args.extend(["--covariate", "height"].map(String::from));
    let out = oncofed().arg("analyze").args(&args).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown variable"));

    // A project the researcher is not in is refused by the hub, with the rule.
    let mut args = common("describe");
    args[6] = "other".into();
    args.extend(["--variable", "age"].map(String::from));
    let out = analyze(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no approved project"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(demo);
}
