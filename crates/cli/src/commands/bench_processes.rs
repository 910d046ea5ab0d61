//! `oncofed bench federation --part processes`: the federation end to end with
//! every site its own `oncofed node agent` process, against a trust centre and
//! hub in this process.

use super::bench::{FederationArgs, LIFTED_EPSILON, LIFTED_LIMITS, Latency};
use super::bench_parts::{consent_path, end_to_end, generate};
use oncofed_model::SiteId;
use oncofed_synth::SynthConfig;
use oncofed_testkit::LocalFederation;
use serde::Serialize;
use std::process::{Child, Command, Stdio};

/// The `processes` part's figures.
#[derive(Debug, Serialize)]
pub(super) struct ProcessesResult {
    tls: bool,
    sites: u32,
    patients: u64,
    /// Researcher's wall time of `POST /v1/feasibility` until the released answer.
    end_to_end: Latency,
    /// Queries that came back without every site's answer.
    incomplete: usize,
    consent_path: String,
}

impl ProcessesResult {
    pub(super) fn print(&self) {
        println!(
            "processes, {} sites as `oncofed node agent` processes, {} patients ({}): end to end {}; incomplete {}",
            self.sites,
            self.patients,
            if self.tls { "TLS" } else { "plain HTTP" },
            self.end_to_end,
            self.incomplete
        );
    }
}

/// Site processes, killed (and reaped) when dropped.
struct Agents(Vec<Child>);

impl Drop for Agents {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `processes` part.
pub(super) async fn processes(a: &FederationArgs) -> anyhow::Result<ProcessesResult> {
    let temp = tempfile::tempdir()?;
    let cohort = temp.path().join("cohort");
    let n = a.process_sites;
    let patients = generate(&cohort, n, a.process_persons).await?;
    let sites: Vec<SiteId> = (1..=n).map(SynthConfig::site_id).collect();
    let fed = LocalFederation::builder(temp.path(), sites.clone())
        .limits(LIFTED_LIMITS)
        .tls(!a.plain_http)
        .start()
        .await?;
    let exe = std::env::current_exe()?;
    let mut agents = Agents(Vec::new());
    for (i, site) in sites.iter().enumerate() {
        // Ingest here (not measured); the store is closed before the process opens it.
        drop(fed.ingest_site(i, &cohort.join(site.as_str())).await?);
        let dir = fed.node_dir(i);
        let key_file = dir.join("site.key");
        let key = oncofed_crypto::SigningKeyPair::load_or_create(&key_file)?;
        fed.admin()
            .register_site(site.clone(), key.public_key())
            .await?;
        let mut cmd = Command::new(&exe);
        cmd.args(["node", "agent", "--data-dir"])
            .arg(&dir)
            .args(["--trustee", fed.trustee_url(), "--token-file"])
            .arg(fed.trustee_dir().join(format!("{site}.token")))
            .args([
                "--site",
                site.as_str(),
                "--hub",
                fed.hub_url(),
                "--key-file",
            ])
            .arg(&key_file)
            .args(["--hub-key", &fed.hub_public_key().to_string()])
            .args(["--poll-wait", "25", "--lifetime-epsilon"])
            .arg(LIFTED_EPSILON.to_string());
        if let Some(pki) = &fed.pki {
            cmd.arg("--ca")
                .arg(pki.join("ca.pem"))
                .arg("--client-cert")
                .arg(pki.join(format!("site-{site}.pem")))
                .arg("--client-key")
                .arg(pki.join(format!("site-{site}.key")));
        }
        let log = std::fs::File::create(dir.join("agent.log"))?;
        cmd.env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        agents.0.push(cmd.spawn()?);
    }
    let (e2e, incomplete) = end_to_end(&fed.researcher(), a.queries).await?;
    drop(agents);
    fed.shutdown().await?;
    Ok(ProcessesResult {
        tls: !a.plain_http,
        sites: n,
        patients: patients.values().sum(),
        end_to_end: Latency::of(e2e),
        incomplete,
        consent_path: consent_path(),
    })
}
