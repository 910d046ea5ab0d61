//! Test harness: a real trust centre on 127.0.0.1:0 and synthetic cohorts (both
//! from `oncofed-testkit`), node stores and their snapshots, site-1's agent.
#![allow(dead_code)]

pub mod dicom;
pub mod genomics;

use oncofed_crypto::SigningKeyPair;
use oncofed_model::SiteId;
use oncofed_node::agent::{AgentConfig, AnalysisRuns, SiteSecret, answer_analysis};
use oncofed_node::{ConsentGate, IngestOptions, IngestReport, SharedStore};
use oncofed_protocol::QueryId;
use oncofed_protocol::analysis::{AnalysisReply, AnalysisStep};
use oncofed_secagg::{Roster, SitePolicy};
use oncofed_testkit::service::Running;
pub use oncofed_testkit::{Cohort, TrustCentre as Trustee};
use oncofed_trustee::{LaunchError, SiteRegistry, TrusteeConfig, hash_token};
use oncofed_trustee_api::TrusteeClient;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The sites of `tokens` (site, bearer token), each with its token's hash.
pub fn registry<S: AsRef<str>, T: AsRef<str>>(
    tokens: impl IntoIterator<Item = (S, T)>,
) -> SiteRegistry {
    let hashes: Vec<(SiteId, String)> = tokens
        .into_iter()
        .map(|(s, t)| (SiteId::new(s.as_ref()).unwrap(), hash_token(t.as_ref())))
        .collect();
    SiteRegistry::from_hashes(hashes.iter().map(|(s, h)| (s.clone(), h.as_str()))).unwrap()
}

/// A trust centre launched by [`serve`]: stops when dropped or with `shutdown`.
pub type Served = Running<LaunchError>;

/// Launches a trust centre with `config` on 127.0.0.1:0.
/// A trust centre for one site (`site-1` with `token`) whose staff use
/// `admin` (e.g. to record a withdrawal), pseudonym key fixed.
pub async fn trustee_for_site_1(dir: &std::path::Path, token: &str, admin: &str) -> Served {
    let key = oncofed_trustee::PseudonymKey::from_bytes(vec![7; 32]).unwrap();
    let config = TrusteeConfig::new(dir.join("tc"), key, registry([("site-1", token)]))
        .unwrap()
        .with_admin_token_hash(&oncofed_trustee::hash_token(admin))
        .unwrap();
    serve(config).await
}

pub async fn serve(config: TrusteeConfig) -> Served {
    oncofed_testkit::service::trustee(config, Default::default())
        .await
        .unwrap()
}

/// A FHIR transaction Bundle of `entries`.
pub fn transaction(entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

/// Writes [`transaction`]`(entries)` to `path`.
pub fn write_bundle(path: &Path, entries: Vec<Value>) {
    std::fs::write(path, serde_json::to_vec(&transaction(entries)).unwrap()).unwrap();
}

/// A node store in a temporary folder.
pub struct Node {
    pub dir: tempfile::TempDir,
    pub store: SharedStore,
}

impl Node {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = oncofed_node::open_store(dir.path()).unwrap();
        Self { dir, store }
    }

    pub async fn ingest(
        &self,
        client: &TrusteeClient,
        paths: &[PathBuf],
    ) -> Result<IngestReport, oncofed_node::IngestError> {
        oncofed_node::ingest(
            &self.store,
            client,
            paths,
            &IngestOptions::default(),
            &|_, _| {},
        )
        .await
    }

    /// [`Node::ingest`] where every unit must land.
    pub async fn ingest_clean(&self, client: &TrusteeClient, paths: &[PathBuf]) -> IngestReport {
        let report = self.ingest(client, paths).await.unwrap();
        assert_eq!(report.units_failed, 0, "{:?}", report.errors);
        report
    }

    /// Every byte of the store's files (the database and its WAL), after a checkpoint.
    /// Every file the node keeps, as bytes (the store's WAL folded in): what a
    /// byte scan for identifying data must look at, free pages and site log
    /// included.
    pub fn raw_files(&self) -> BTreeMap<String, Vec<u8>> {
        checkpoint(self.dir.path());
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !p.to_string_lossy().ends_with("-shm"))
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect()
    }

    /// Everything the node keeps, to compare before and after a run: every
    /// file's bytes, except the research store, whose research tables are
    /// compared row by row. The site log (`ingest_run`, `quality_run`,
    /// `withdrawal_log`) is left out on purpose: a refused or stopped run is
    /// recorded there for the site's admin (what went wrong, no personal data),
    /// so "nothing landed" means no research row changed.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        checkpoint(self.dir.path());
        let db = "research.db";
        let mut out: BTreeMap<String, Vec<u8>> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                !name.ends_with("-shm") && !name.starts_with(db)
            })
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        let path = self.dir.path().join(db);
        if path.exists() {
            let conn = rusqlite::Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            let mut tables: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            tables.retain(|t| {
                !t.starts_with("sqlite_")
                    && ![
                        "ingest_run",
                        "ingest_error",
                        "quality_run",
                        "withdrawal_log",
                    ]
                    .contains(&t.as_str())
            });
            for table in tables {
                let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
                let columns = stmt.column_count();
                let mut rows: Vec<String> = stmt
                    .query_map([], |r| {
                        let mut row = String::new();
                        for i in 0..columns {
                            row.push_str(&format!("{:?}|", r.get_ref(i)?));
                        }
                        Ok(row)
                    })
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                rows.sort();
                // An empty table and a store not yet created hold the same: nothing.
                if !rows.is_empty() {
                    out.insert(format!("{db}:{table}"), rows.join("\n").into_bytes());
                }
            }
        }
        out
    }
}

/// Folds the WAL into the main file so a byte scan sees everything.
pub fn checkpoint(dir: &Path) {
    let store = oncofed_store::SqliteStore::open_in(dir).unwrap();
    store.checkpoint().unwrap();
}

/// A trust centre with sites `site-1` … `site-n`, a cohort generated for `n`
/// sites (`persons`, `seed`), and a node into which site-1's folder was
/// ingested with every unit landing.
pub async fn ingested_site_1(
    n: u32,
    persons: u64,
    seed: u64,
) -> (Trustee, Cohort, Node, IngestReport) {
    let trustee = Trustee::with_sites(n).await;
    let cohort = Cohort::generate(n, persons, seed);
    let node = Node::new();
    let report = node
        .ingest_clean(&trustee.client("site-1"), &[cohort.site_dir("site-1")])
        .await;
    (trustee, cohort, node, report)
}

/// A site-1 agent config over `node` signing with `key`, pinning `hub`'s key,
/// its roster listing site-1 and `peers`.
pub fn agent_config(
    node: &Node,
    key: SigningKeyPair,
    peers: &[(&str, &SigningKeyPair)],
    hub: &SigningKeyPair,
) -> AgentConfig {
    let mut roster = Roster::new();
    roster.insert("site-1", key.public_key()).unwrap();
    for (name, k) in peers {
        roster.insert(*name, k.public_key()).unwrap();
    }
    AgentConfig {
        site: SiteId::new("site-1").unwrap(),
        hub_url: "http://127.0.0.1:9".into(),
        key,
        hub_key: hub.public_key(),
        secret: SiteSecret::load_or_create(&node.dir.path().join("noise.secret")).unwrap(),
        poll_wait: 1,
        roster,
        secagg: SitePolicy::default(),
        bounds: oncofed_node::agent::SiteBounds::DEFAULT,
        lifetime_epsilon: oncofed_node::agent::DEFAULT_LIFETIME_EPSILON,
    }
}

/// Site-1's analysis agent over a node's store, its consent gate asking the
/// trust centre (60 s cache).
pub struct Agent {
    pub store: SharedStore,
    pub gate: ConsentGate,
    pub config: AgentConfig,
}

impl Agent {
    pub fn new(trustee: &Trustee, node: &Node, config: AgentConfig) -> Self {
        Self {
            store: node.store.clone(),
            gate: ConsentGate::new(trustee.client("site-1"), Duration::from_secs(60)),
            config,
        }
    }

    /// The agent's answer to the hub's `step` in `run`, its runs held in `runs`.
    pub fn step<'s>(
        &'s self,
        runs: &AnalysisRuns,
        run: &QueryId,
        step: AnalysisStep,
    ) -> impl Future<Output = Result<AnalysisReply, String>> + use<'s> {
        let (runs, run) = (runs.clone(), run.clone());
        async move { answer_analysis(&runs, &self.store, &self.gate, &self.config, &run, step).await }
    }
}

/// The `Prepare` step of a describe run (age) over the patients with an index
/// diagnosis `C…` and `cohort` (e.g. `{"sex": "female"}`; the repeat rule's
/// key), under a run plan signed by `hub`.
pub fn prepare_describe(
    run: &QueryId,
    cohort: Option<Value>,
    hub: &SigningKeyPair,
) -> AnalysisStep {
    use oncofed_protocol::analysis::{Analysis, AnalysisRequest, IndexEvent, Variable};
    let request = AnalysisRequest {
        project: "p1".into(),
        index: IndexEvent { icd10: "C".into() },
        cohort: cohort.map(|c| serde_json::from_value(c).unwrap()),
        analysis: Analysis::Describe {
            variables: vec![Variable::Age],
            edges: vec![],
            strata: None,
        },
        epsilon: None,
        wait_seconds: None,
        tolerance: None,
        max_iter: None,
    };
    let plan = oncofed_protocol::plan::RunPlan {
        run: run.clone(),
        request: request.clone(),
        max_rounds: 48,
        max_grid_points: 0,
        max_abs_beta: 20.0,
    }
    .sign(hub)
    .map(Box::new)
    .unwrap();
    AnalysisStep::Prepare {
        request,
        min_rows: 0,
        max_parameter_ratio: 1.0,
        plan,
    }
}

/// Plays the hub and honest peers through a run's key set-up: site-1 (index
/// 0) keys `rounds` at `threshold`, the `peers` (indices 1, 2, …) make their
/// sessions and sign their public keys, and site-1 gets every round's keys.
/// Returns, per round, the shares the peers encrypted for site-1 (a `Mask`
/// step's inbox).
pub async fn key_run(
    agent: &Agent,
    runs: &oncofed_node::agent::AnalysisRuns,
    run: &oncofed_protocol::QueryId,
    rounds: &[oncofed_secagg::RoundId],
    peers: &[(&str, &SigningKeyPair)],
    threshold: usize,
) -> Vec<Vec<oncofed_secagg::EncryptedShare>> {
    use oncofed_protocol::analysis::{AnalysisReply, AnalysisStep};
    use oncofed_secagg::{SignedPublicShare, SiteId as AggIndex, SiteSession, keys_message};
    let Ok(AnalysisReply::Ready { shares }) = agent
        .step(
            runs,
            run,
            AnalysisStep::Keys {
                index: 0,
                threshold,
                rounds: rounds.to_vec(),
            },
        )
        .await
    else {
        panic!("keys refused");
    };
    let (mut relayed, mut inboxes) = (Vec::new(), Vec::new());
    for (round, own) in rounds.iter().zip(shares) {
        let mut sessions = Vec::new();
        let mut signed = vec![own];
        for (i, (name, key)) in peers.iter().enumerate() {
            let (session, share) =
                SiteSession::new(AggIndex(i as u32 + 1), round.clone(), threshold);
            let signature = key.sign(&keys_message(run.as_str(), name, &share));
            signed.push(SignedPublicShare {
                share,
                signer: (*name).into(),
                signature,
            });
            sessions.push(session);
        }
        let public: Vec<_> = signed.iter().map(|s| s.share.clone()).collect();
        let mut inbox = Vec::new();
        for s in &mut sessions {
            inbox.extend(
                s.share_keys(&public)
                    .unwrap()
                    .into_iter()
                    .filter(|e| e.to == AggIndex(0)),
            );
        }
        relayed.push(signed);
        inboxes.push(inbox);
    }
    assert!(matches!(
        agent
            .step(runs, run, AnalysisStep::Share { keys: relayed })
            .await,
        Ok(AnalysisReply::Shares { .. })
    ));
    inboxes
}
