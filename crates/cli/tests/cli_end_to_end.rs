//! The `oncofed` binary end to end: separate trust-centre process, synth, ingest,
//! quality, query, bad input, demo. Every command's `--json` output is parsed.

mod support;

use serde_json::Value;
use support::{oncofed, run_ok, text};

#[test]
fn help_teaches_the_commands() {
    let out = oncofed().arg("--help").output().unwrap();
    let help = text(&out);
    for cmd in ["demo", "synth", "trustee", "node"] {
        assert!(help.contains(cmd), "--help lacks {cmd}");
    }
    let out = oncofed()
        .args(["node", "ingest", "--help"])
        .output()
        .unwrap();
    assert!(text(&out).contains("atomically"));
}

#[test]
fn trustee_synth_ingest_quality_query() {
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
        "60",
        "--seed",
        "9",
        "--json",
    ]);
    assert_eq!(synth["persons"], 60);

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
        "--metrics-textfile",
        &d("ingest.prom"),
        &d("cohort/site-1"),
    ]);
    assert_eq!(ingest["units_failed"], 0, "{ingest}");
    assert_eq!(ingest["patients"], 60);
    // The run's figures for Prometheus' textfile collector.
    let prom = std::fs::read_to_string(d("ingest.prom")).unwrap();
    let resources = ingest["resources"].as_u64().unwrap();
    assert!(
        prom.contains(&format!("oncofed_node_ingest_resources {resources}")),
        "{prom}"
    );
    assert!(prom.contains("oncofed_node_ingest_patients 60"), "{prom}");
    assert!(prom.contains("# TYPE oncofed_node_ingest_resources_per_second gauge"));

    let quality = run_ok(&["node", "quality", "--data-dir", &d("n1"), "--json"]);
    assert_eq!(quality["patients"], 60);
    assert!(
        quality["completeness"]["patient.sex"]["percent"]
            .as_f64()
            .unwrap()
            > 99.0
    );

    let answer = run_ok(&[
        "node",
        "query",
        "--data-dir",
        &d("n1"),
        "--trustee",
        &url,
        "--token-file",
        &d("site-1.token"),
        "--kind",
        "diagnosis",
        "--json",
    ]);
    let facts = answer["facts"].as_array().unwrap();
    assert!(!facts.is_empty());
    assert!(facts.iter().all(|f| f["kind"] == "diagnosis"));

    // A bad bundle: exit status 2, an error naming the file, nothing else printed as success.
    std::fs::write(d("bad.json"), b"{\"resourceType\": \"Bundle\", \"type\": \"collection\", \"entry\": [{\"resource\": {\"resourceType\": \"Nonsense\"}}]}").unwrap();
    let out = oncofed()
        .args([
            "node",
            "ingest",
            "--data-dir",
            &d("n1"),
            "--trustee",
            &url,
            "--token-file",
            &d("site-1.token"),
            &d("bad.json"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("bad.json") && text(&out).contains("Nonsense"),
        "{}",
        text(&out)
    );

    // A wrong token is refused with advice, not a crash.
    std::fs::write(d("wrong.token"), "not-a-registered-token").unwrap();
    let out = oncofed()
        .args([
            "node",
            "ingest",
            "--data-dir",
            &d("n2"),
            "--trustee",
            &url,
            "--token-file",
            &d("wrong.token"),
            &d("cohort/site-1"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("unauthorized"), "{}", text(&out));
}

#[test]
fn demo_runs_end_to_end() {
    let summary = run_ok(&["demo", "--patients", "120", "--json"]);
    let sites = summary["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 3);
    for s in sites {
        assert_eq!(s["ingest"]["units_failed"], 0);
        assert!(s["ingest"]["resources"].as_u64().unwrap() > 100);
        assert_eq!(s["queries"].as_array().unwrap().len(), 3);
    }
    let all = summary["analyses"]["analyses"].as_array().unwrap();
    // on 120 patients a narrow analysis may be refused (a site under the
    // disclosure minimums): it is reported with its rule, the rest released
    for a in all {
        assert!(
            a["result"].is_object() || a["refused"].as_str().is_some_and(|r| !r.is_empty()),
            "{a}"
        );
    }
    let analyses: Vec<&Value> = all.iter().filter(|a| a["result"].is_object()).collect();
    let kinds: Vec<&str> = analyses
        .iter()
        .map(|a| a["result"]["type"].as_str().unwrap())
        .collect();
    for core in ["km", "cox", "cif", "fine-gray", "glm", "describe"] {
        assert!(kinds.contains(&core), "{core} released: {kinds:?}");
    }
    // the Cox model is progression-free survival with a treatment covariate,
    // the cumulative incidence has death as the competing risk, and every
    // survival release states its endpoint and time bins
    let first = |kind: &str| {
        &analyses
            .iter()
            .find(|a| a["result"]["type"] == kind)
            .unwrap()["result"]
    };
    let cox = first("cox");
    assert_eq!(cox["run"]["endpoint"], "pfs");
    assert_eq!(
        cox["terms"].as_array().unwrap().last().unwrap(),
        "tx:atc:L01@90"
    );
    assert_eq!(first("cif")["run"]["endpoint"], "pfs");
    for a in analyses.iter().filter(|a| {
        ["km", "cox", "cif", "fine-gray"].contains(&a["result"]["type"].as_str().unwrap())
    }) {
        assert_eq!(a["result"]["run"]["time_bins"]["exact"], false);
    }
    // every release was charged ε (the hub's default where the request named none)
    assert!(
        analyses
            .iter()
            .all(|a| a["result"]["run"]["epsilon"].as_f64().is_some()),
        "{analyses:?}"
    );
    // sequencing (issue 16): every site's batch landed encrypted, every
    // delivery was granted or refused by consent, none failed
    let genomics = &summary["genomics"];
    let ingest = genomics["ingest"].as_array().unwrap();
    assert!(!ingest.is_empty(), "{genomics}");
    for (_, r) in ingest.iter().map(|e| (&e[0], &e[1])) {
        assert!(
            r["objects"].as_u64().unwrap() >= r["files"].as_u64().unwrap(),
            "{r}"
        );
        assert!(r["germline_calls"].as_u64().unwrap() > 0, "{r}");
    }
    let beacon = genomics["beacon"].as_array().unwrap();
    assert_eq!(beacon.len(), 3, "{genomics}");
    for b in beacon {
        assert_eq!(b["status"], 200, "{b}");
    }
    // The portal's flows (issue 17): the catalogue was published, the
    // application was approved by the written policy at submission, the
    // patient's one-time code opened their page once and only once.
    let portal = &summary["portal"];
    assert!(
        portal["catalogue"]["datasets"].as_u64().unwrap() > 0,
        "{portal}"
    );
    assert_eq!(portal["stage"], "approved", "{portal}");
    assert_eq!(portal["patient"]["signed_in"], true, "{portal}");
    assert_eq!(portal["patient"]["reused_code_accepted"], false, "{portal}");
    // A patient's withdrawal (issue 18's tombstone): deleted at site 1, then
    // refused when site 1 loads the record again and when another site
    // registers the same person.
    let w = &summary["withdrawal"];
    assert_eq!(w["reload_refused"], true, "{w}");
    assert_eq!(w["other_site_refused"], true, "{w}");
    // A namesake the tombstone refused, admitted by staff, then registered.
    assert_eq!(w["namesake_refused"], true, "{w}");
    assert_eq!(w["namesake_admitted"], true, "{w}");
    let d = &genomics["delivery"];
    assert_eq!(
        d["delivered"].as_u64().unwrap() + d["refused"].as_u64().unwrap(),
        d["asked"].as_u64().unwrap(),
        "{d}"
    );
    assert!(
        std::fs::read_to_string(summary["analyses"]["km_plot"].as_str().unwrap()).is_err(),
        "the plot lived in the demo's temporary directory, removed at the end"
    );
    assert_eq!(
        summary["audit"]["report"]["ok"], true,
        "{}",
        summary["audit"]
    );
    assert_eq!(
        summary["audit"]["witnesses"].as_array().unwrap().len(),
        3,
        "every site's agent witnessed the hub's audit checkpoint: {}",
        summary["audit"]
    );
    let patients = summary["patients"].as_u64().unwrap();
    let distinct = summary["distinct_research_pseudonyms"].as_u64().unwrap();
    assert!(
        distinct < patients,
        "patients treated at two sites share a research pseudonym"
    );
}

#[test]
fn audit_verify_names_the_first_tampered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let key = oncofed_crypto::SigningKeyPair::generate();
    let log = oncofed_audit::AuditLog::open(dir.path().join("audit.db"), key.clone(), 3).unwrap();
    for i in 0..7 {
        log.append(
            "alice",
            "query.submitted",
            &format!("q{i}"),
            serde_json::json!({"n": i}),
        )
        .unwrap();
    }
    log.checkpoint().unwrap();
    let mut export = Vec::new();
    log.export(&mut export).unwrap();
    let clean = dir.path().join("clean.jsonl");
    std::fs::write(&clean, &export).unwrap();
    let public_key = key.public_key().to_string();
    let report = run_ok(&[
        "audit",
        "verify",
        "--log",
        clean.to_str().unwrap(),
        "--public-key",
        &public_key,
        "--json",
    ]);
    assert_eq!(report["ok"], true, "{report}");

    let tampered = dir.path().join("tampered.jsonl");
    let edited =
        String::from_utf8(export)
            .unwrap()
            .replacen("\"subject\":\"q4\"", "\"subject\":\"q9\"", 1);
    std::fs::write(&tampered, edited).unwrap();
    let out = oncofed()
        .args([
            "audit",
            "verify",
            "--log",
            tampered.to_str().unwrap(),
            "--public-key",
            &public_key,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out);
    assert!(said.contains("entry 4") || said.contains("seq 4"), "{said}");
}

/// Issue 9, defect 6: an export cut back to an earlier checkpoint verifies on
/// its own; `--witness` with the checkpoint a site kept catches the cut.
#[test]
fn audit_verify_with_a_witness_catches_a_truncated_trail() {
    let dir = tempfile::tempdir().unwrap();
    let key = oncofed_crypto::SigningKeyPair::generate();
    let log = oncofed_audit::AuditLog::open(dir.path().join("audit.db"), key.clone(), 0).unwrap();
    let append = |i: u64| {
        log.append("alice", "release", &format!("q{i}"), serde_json::json!({}))
            .unwrap();
    };
    (0..4).for_each(append);
    let mut early = Vec::new();
    log.checkpoint().unwrap();
    log.export(&mut early).unwrap();
    (4..8).for_each(append);
    let witness = log.checkpoint().unwrap().unwrap();
    let witness_file = dir.path().join("audit-witness.json");
    std::fs::write(&witness_file, serde_json::to_vec(&witness).unwrap()).unwrap();
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, &early).unwrap();
    let public_key = key.public_key().to_string();
    let verify = |with_witness: bool| {
        let mut args = vec![
            "audit".to_owned(),
            "verify".into(),
            "--log".into(),
            cut.display().to_string(),
            "--public-key".into(),
            public_key.clone(),
        ];
        if with_witness {
            args.extend(["--witness".into(), witness_file.display().to_string()]);
        }
        oncofed().args(&args).output().unwrap()
    };
    assert_eq!(
        verify(false).status.code(),
        Some(0),
        "alone, the cut trail verifies"
    );
    let out = verify(true);
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out);
    assert!(said.contains("entry 7"), "{said}");
}

#[test]
fn hub_serve_names_every_contradiction_in_its_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    std::fs::create_dir_all(d("hub")).unwrap();
    run_ok(&[
        "hub",
        "add-user",
        "--users-file",
        &d("hub/users.txt"),
        "--user",
        "alice",
        "--role",
        "researcher",
        "--token-out",
        &d("alice.token"),
        "--json",
    ]);
    let out = oncofed()
        .args([
            "hub",
            "serve",
            "--data-dir",
            &d("hub"),
            "--query-deadline",
            "500",
        ])
        .args([
            "--total-rounding",
            "0",
            "--queries-per-minute",
            "9",
            "--queries-per-week",
            "5",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = text(&out);
    for problem in [
        "--query-deadline (500 s)",
        "--total-rounding",
        "--queries-per-minute (9)",
    ] {
        assert!(said.contains(problem), "{problem} not named in: {said}");
    }
}

/// `add-user` and `add-site` read their files with the services' own parsers:
/// a second user or site of the same id is refused, and a file the service
/// would refuse at start is reported with its line before anything is written.
#[test]
fn add_user_and_add_site_check_their_files_as_the_services_do() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    let add_user = |user: &str, token: &str| {
        oncofed()
            .args(["hub", "add-user", "--users-file", &d("users.txt")])
            .args([
                "--user",
                user,
                "--role",
                "researcher",
                "--token-out",
                &d(token),
            ])
            .output()
            .unwrap()
    };
    assert!(add_user("alice", "a.token").status.success());
    let again = add_user("alice", "a2.token");
    assert!(!again.status.success());
    assert!(text(&again).contains("already in"), "{}", text(&again));
    assert!(!std::path::Path::new(&d("a2.token")).exists());

    let add_site = |site: &str, token: &str| {
        oncofed()
            .args(["trustee", "add-site", "--sites-file", &d("sites.txt")])
            .args(["--site", site, "--token-out", &d(token)])
            .output()
            .unwrap()
    };
    assert!(add_site("uk-a", "s1.token").status.success());
    assert!(!add_site("uk-a", "s2.token").status.success());
    std::fs::write(d("sites.txt"), "uk-a not-a-hash\n").unwrap();
    let broken = add_site("uk-b", "s3.token");
    assert!(!broken.status.success());
    assert!(text(&broken).contains("sites.txt:1:"), "{}", text(&broken));
    assert_eq!(
        std::fs::read_to_string(d("sites.txt")).unwrap(),
        "uk-a not-a-hash\n",
        "nothing is appended to a broken file"
    );
}
