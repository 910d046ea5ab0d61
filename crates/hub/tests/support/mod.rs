//! A whole federation in one test process: trust centre, hub, site nodes with agents.
//! The trust centre and the hub are started and stopped by `oncofed-testkit`;
//! the sites are built here, since the tests reach into their stores and agents.
#![allow(dead_code)]

use oncofed_crypto::SigningKeyPair;
use oncofed_hub::{HubConfig, Role, Users};
use oncofed_hub_api::HubClient;
use oncofed_model::{DataCategory, SiteId};
use oncofed_node::agent::{Agent, AgentConfig, SiteSecret};
use oncofed_node::{ConsentGate, IngestOptions, SharedStore};
use oncofed_protocol::analysis::Project;
use oncofed_synth::SynthConfig;
use oncofed_testkit::service::Running;
use oncofed_testkit::{GroundTruth, TrustCentre};
use oncofed_trustee_api::TrusteeClient;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub const RESEARCHER: &str = "researcher-token-0123456789";
pub const ADMIN: &str = "admin-token-0123456789";
pub const AUDITOR: &str = "auditor-token-0123456789";

/// A running hub (the kit's, stopped on drop); `stop` shuts it down and waits.
pub struct Hub {
    pub url: String,
    pub key: SigningKeyPair,
    pub dir: PathBuf,
    running: Running<oncofed_hub::LaunchError>,
}

pub fn users() -> Users {
    let mut users = Users::default();
    users
        .add_token("alice", Role::Researcher, RESEARCHER)
        .unwrap();
    users.add_token("root", Role::Admin, ADMIN).unwrap();
    users.add_token("audrey", Role::Auditor, AUDITOR).unwrap();
    users
}

impl Hub {
    pub async fn start(
        dir: PathBuf,
        key: SigningKeyPair,
        tune: impl FnOnce(&mut HubConfig),
    ) -> Self {
        let mut config = HubConfig::new(&dir, key.clone(), users());
        // exact counts, so tests can compare them with the peers; the default
        // ε is tested where a test turns it back on
        config.default_release_epsilon = None;
        tune(&mut config);
        let running = oncofed_testkit::service::hub(config, Default::default())
            .await
            .unwrap();
        Self {
            url: running.url.clone(),
            key,
            dir,
            running,
        }
    }

    pub async fn stop(self) {
        self.running.shutdown().await.unwrap();
    }
}

/// One site: its store, keys and agent.
pub struct Site {
    pub id: SiteId,
    pub store: SharedStore,
    pub key: SigningKeyPair,
    pub gate: Arc<ConsentGate>,
    pub secret: SiteSecret,
    /// Every site's key, as this site holds it (filled once all sites exist).
    pub roster: oncofed_secagg::Roster,
    /// The site's own run bounds (the defaults unless a test changes them).
    pub bounds: oncofed_node::agent::SiteBounds,
    _dir: tempfile::TempDir,
}

impl Site {
    pub fn agent(&self, hub: &Hub) -> Agent {
        let config = AgentConfig {
            site: self.id.clone(),
            hub_url: hub.url.clone(),
            key: self.key.clone(),
            hub_key: hub.key.public_key(),
            secret: self.secret.clone(),
            poll_wait: 2,
            roster: self.roster.clone(),
            secagg: oncofed_secagg::SitePolicy::default(),
            bounds: self.bounds,
            lifetime_epsilon: oncofed_node::agent::DEFAULT_LIFETIME_EPSILON,
        };
        Agent::new(config, self.store.clone(), self.gate.clone())
    }
}

/// Trust centre + cohort + ingested sites (the trust centre stops on drop).
pub struct Federation {
    pub sites: Vec<Site>,
    pub cohort: tempfile::TempDir,
    pub trustee_url: String,
    _trustee: TrustCentre,
}

impl Federation {
    /// Generates `persons` across `n` sites and ingests each site through a real trust centre.
    pub async fn build(n: u32, persons: u64, seed: u64) -> Self {
        let cohort = tempfile::tempdir().unwrap();
        let config = SynthConfig {
            seed,
            sites: n,
            persons,
            ..SynthConfig::default()
        };
        oncofed_synth::generate(&config, &cohort.path().join("out"), &mut |_| {}).unwrap();
        let inputs = (1..=n)
            .map(|k| {
                cohort
                    .path()
                    .join("out")
                    .join(SynthConfig::site_id(k).as_str())
            })
            .collect();
        Self::ingest(cohort, inputs).await
    }

    /// Starts a trust centre and ingests `inputs[k]` as site `k + 1` (`site-1`, ...).
    pub async fn ingest(cohort: tempfile::TempDir, inputs: Vec<PathBuf>) -> Self {
        let n = inputs.len() as u32;
        let tokens: Vec<(SiteId, String)> = (1..=n)
            .map(|k| {
                (
                    SynthConfig::site_id(k),
                    format!("site-token-{k}-abcdefabcdef"),
                )
            })
            .collect();
        let trustee = TrustCentre::builder()
            .site_tokens(tokens.clone())
            .pseudonym_key(3)
            .start()
            .await
            .unwrap();
        let trustee_url = trustee.url().to_owned();

        let mut sites = Vec::new();
        for ((id, token), input) in tokens.into_iter().zip(inputs) {
            let dir = tempfile::tempdir().unwrap();
            let store = oncofed_node::open_store(dir.path()).unwrap();
            let client = TrusteeClient::new(&trustee_url, &token).unwrap();
            let report = oncofed_node::ingest(
                &store,
                &client,
                &[input],
                &IngestOptions::default(),
                &|_, _| {},
            )
            .await
            .unwrap();
            assert_eq!(report.units_failed, 0, "{:?}", report.errors);
            let gate = Arc::new(ConsentGate::new(client, Duration::from_secs(60)));
            let secret = SiteSecret::load_or_create(&dir.path().join("noise.secret")).unwrap();
            sites.push(Site {
                id,
                store,
                key: SigningKeyPair::generate(),
                gate,
                secret,
                roster: oncofed_secagg::Roster::new(),
                bounds: oncofed_node::agent::SiteBounds::DEFAULT,
                _dir: dir,
            });
        }
        let mut roster = oncofed_secagg::Roster::new();
        for s in &sites {
            roster.insert(s.id.as_str(), s.key.public_key()).unwrap();
        }
        for s in &mut sites {
            s.roster = roster.clone();
        }
        Self {
            sites,
            cohort,
            trustee_url,
            _trustee: trustee,
        }
    }

    /// `ground-truth/cohort.csv` rows.
    pub fn truth(&self) -> Vec<BTreeMap<String, String>> {
        GroundTruth::read(&self.cohort.path().join("out")).persons
    }

    /// Registers every site's public key at the hub (as its admin would).
    pub async fn register(&self, hub: &Hub) {
        let http = oncofed_tls::http_client();
        for s in &self.sites {
            let body = serde_json::json!({ "site": s.id, "public_key": s.key.public_key() });
            let resp = http
                .post(format!("{}/v1/admin/sites", hub.url))
                .bearer_auth(ADMIN)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
        }
    }

    /// Starts agents for the sites whose index is in `which`; returns a stop switch.
    pub fn run_agents(&self, hub: &Hub, which: &[usize]) -> watch::Sender<bool> {
        let (stop, stopped) = watch::channel(false);
        for &i in which {
            run_until(self.sites[i].agent(hub), &stopped);
        }
        stop
    }

    /// A hub in `dir` signing with `key` (its config changed by `tune`), with
    /// every site's public key registered.
    pub async fn hub(
        &self,
        dir: &Path,
        key: SigningKeyPair,
        tune: impl FnOnce(&mut HubConfig),
    ) -> Hub {
        let hub = Hub::start(dir.to_owned(), key, tune).await;
        self.register(&hub).await;
        hub
    }
}

/// POSTs a feasibility query as `token` and returns (status, body).
pub async fn feasibility(
    hub: &Hub,
    token: &str,
    criteria: serde_json::Value,
    wait: u64,
) -> (u16, serde_json::Value) {
    let resp = oncofed_tls::http_client()
        .post(format!("{}/v1/feasibility", hub.url))
        .bearer_auth(token)
        .json(&serde_json::json!({ "criteria": criteria, "wait_seconds": wait }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// Counts truth rows matching a predicate.
pub fn count_truth(
    rows: &[BTreeMap<String, String>],
    pred: impl Fn(&BTreeMap<String, String>) -> bool,
) -> u64 {
    rows.iter().filter(|r| pred(r)).count() as u64
}

pub fn map_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// A federation as [`Federation::build`] makes it, and a hub (default config)
/// in a fresh folder signing with a fresh key, every site registered; the
/// folder and the key come with it.
pub async fn federation_with_hub(
    n: u32,
    persons: u64,
    seed: u64,
) -> (Federation, Hub, tempfile::TempDir, SigningKeyPair) {
    let fed = Federation::build(n, persons, seed).await;
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKeyPair::generate();
    let hub = fed.hub(dir.path(), key.clone(), |_| {}).await;
    (fed, hub, dir, key)
}

/// Runs `agent` in the background until `stopped` turns true.
pub fn run_until(agent: Agent, stopped: &watch::Receiver<bool>) {
    let mut rx = stopped.clone();
    tokio::spawn(async move {
        agent
            .run(async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await
    });
}

/// Approves project `id` (`title`) for alice, over clinical data with an
/// epsilon budget of 1, as the hub's admin would.
pub async fn approve_for_alice(hub: &Hub, id: &str, title: &str) {
    approve_for_alice_with(hub, id, title, Default::default()).await;
}

/// [`approve_for_alice`] with the approval's run-plan limits `plan`.
pub async fn approve_for_alice_with(
    hub: &Hub,
    id: &str,
    title: &str,
    plan: oncofed_protocol::plan::PlanLimits,
) {
    HubClient::new(&hub.url, ADMIN)
        .approve_project(&Project {
            id: id.into(),
            title: title.into(),
            researchers: vec!["alice".into()],
            categories: BTreeSet::from([DataCategory::Clinical]),
            epsilon_budget: 1.0,
            plan,
        })
        .await
        .unwrap();
}
