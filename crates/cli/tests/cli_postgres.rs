//! `oncofed demo --store-url`: the whole federation with every site's research
//! store and the trust centre's store each in its own PostgreSQL database on a
//! real server, started for the test by `scripts/postgres` (installed by
//! `scripts/setup-peers`); and `oncofed trustee serve --store-url` on its own.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::{oncofed, run_ok, serve_trustee_with, text};

/// A throw-away PostgreSQL cluster; stopped and deleted on drop.
struct Cluster {
    state: PathBuf,
    url: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres")
}

impl Cluster {
    fn start(dir: &Path) -> Option<Self> {
        if std::env::var_os("ONCOFED_SKIP_POSTGRES").is_some() {
            eprintln!("skipped: ONCOFED_SKIP_POSTGRES is set");
            return None;
        }
        let state = dir.join("pg-state");
        let out = Command::new(script())
            .arg("start")
            .env("ONCOFED_PG_STATE", &state)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/postgres start failed (run scripts/setup-peers to install PostgreSQL): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        Some(Self { state, url })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .env("ONCOFED_PG_STATE", &self.state)
            .output();
    }
}

#[test]
fn the_demo_runs_with_every_site_store_and_the_trust_centre_on_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cluster) = Cluster::start(dir.path()) else {
        return;
    };
    let server = cluster
        .url
        .strip_suffix("/postgres")
        .expect("a URL ending in /postgres");
    let template = format!("{server}/demo_{{site}}");
    let run = |data: &Path| {
        oncofed()
            .args([
                "demo",
                "--patients",
                "400",
                "--json",
                "--store-url",
                &template,
                "--dir",
            ])
            .arg(data)
            .output()
            .unwrap()
    };
    let data = dir.path().join("demo");
    let out = run(&data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["store"], "postgresql");
    let sites = summary["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 3);
    for site in sites {
        assert_eq!(site["ingest"]["units_failed"], 0, "{site}");
        assert!(site["ingest"]["patients"].as_u64().unwrap() > 0);
    }
    assert!(
        summary["analyses"].to_string().contains("cox"),
        "analyses ran"
    );
    // The trust centre kept its persons, IDAT and pseudonyms in `demo_trustee`,
    // not in a file of its data directory.
    let mut tc = postgres::Client::connect(&format!("{server}/demo_trustee"), postgres::NoTls)
        .expect("the trust centre's database exists");
    let count = |tc: &mut postgres::Client, table: &str| -> i64 {
        tc.query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .get(0)
    };
    let persons = count(&mut tc, "persons");
    assert!(persons > 0);
    assert!(count(&mut tc, "local_ids") >= persons);
    assert!(count(&mut tc, "site_pseudonyms") >= persons);
    assert!(
        persons >= summary["distinct_research_pseudonyms"].as_i64().unwrap(),
        "every research pseudonym is a person of the trust centre's database"
    );
    assert_eq!(count(&mut tc, "trustee_schema"), 1);
    assert!(!data.join("trustee/store/trustee.db").exists());
    assert!(
        data.join("trustee/store/audit.db").exists(),
        "the audit trail stays SQLite"
    );
    // The databases now hold the first run: a second run refuses to mix them.
    let again = run(&dir.path().join("demo-again"));
    assert!(!again.status.success());
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(
        said.contains("already holds") && !said.contains("password"),
        "{said}"
    );
}

/// `oncofed trustee serve --store-url`: a node ingests through a trust centre
/// whose persons, IDAT and pseudonyms land in its PostgreSQL database; the data
/// directory keeps only the audit trail and the keys.
#[test]
fn trustee_serve_keeps_its_store_in_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cluster) = Cluster::start(dir.path()) else {
        return;
    };
    let d = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    let mut admin = postgres::Client::connect(&cluster.url, postgres::NoTls).unwrap();
    admin.batch_execute("CREATE DATABASE tc").unwrap();
    let server = cluster.url.strip_suffix("/postgres").unwrap();
    let tc_url = format!("{server}/tc");
    support::add_site(
        &dir.path().join("tc"),
        "site-1",
        &dir.path().join("site-1.token"),
    );
    let (_served, url) = serve_trustee_with(&dir.path().join("tc"), &["--store-url", &tc_url]);
    run_ok(&[
        "synth",
        "--out",
        &d("cohort"),
        "--sites",
        "1",
        "--patients",
        "40",
        "--seed",
        "3",
        "--json",
    ]);
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
    assert_eq!(ingest["patients"], 40, "{ingest}");
    let mut tc = postgres::Client::connect(&tc_url, postgres::NoTls).unwrap();
    let persons: i64 = tc
        .query_one("SELECT count(*) FROM persons", &[])
        .unwrap()
        .get(0);
    assert_eq!(persons, 40);
    assert!(!dir.path().join("tc/trustee.db").exists());
    assert!(dir.path().join("tc/audit.db").exists());
}

/// No TLS to PostgreSQL yet: a server across the network is refused at start,
/// and the password is never printed.
#[test]
fn trustee_serve_refuses_a_remote_store_and_never_prints_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let tc = dir.path().join("tc");
    support::add_site(&tc, "site-1", &dir.path().join("site-1.token"));
    let out = oncofed()
        .args(["trustee", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&tc)
        .args([
            "--store-url",
            "postgres://tc:hunter2secret@db.example.org:5432/tc",
        ])
        .output()
        .unwrap();
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("no TLS to PostgreSQL"), "{said}");
    assert!(
        said.contains("postgres://tc@db.example.org:5432/tc"),
        "{said}"
    );
    assert!(!said.contains("hunter2secret"), "{said}");
}
