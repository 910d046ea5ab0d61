//! `oncofed demo --store-url`: the whole federation with every site's research
//! store and the trust centre's store each in its own PostgreSQL database on a
//! real server, started for the test by `scripts/postgres` (installed by
//! `scripts/setup-peers`).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::oncofed;

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
