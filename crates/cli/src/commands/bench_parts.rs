//! `oncofed bench federation --part site|hub`: one site's answer time at the
//! node, and the hub's end-to-end overhead with many sites answering trivially.

use super::bench::{FederationArgs, LIFTED_EPSILON, LIFTED_LIMITS, Latency, criteria};
use oncofed_model::SiteId;
use oncofed_node::agent::{SiteSecret, answer_feasibility};
use oncofed_node::{ConsentGate, SharedStore};
use oncofed_protocol::api::QueryStatus;
use oncofed_synth::SynthConfig;
use oncofed_testkit::{CONSENT_TTL, LocalFederation, wait_until};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::instrument::WithSubscriber;
use tracing_subscriber::layer::SubscriberExt;

/// Distinct criteria asked once before timing (the query mix's prefixes), so
/// the timed queries see warm caches where the node keeps any.
const MIX: usize = 9;

/// Which consent path the site figures went through, in words for the report.
pub(super) fn consent_path() -> String {
    format!(
        "oncofed_node::ConsentGate::new(trust-centre client, {} s) as built by this binary: answers from the site's local consent snapshot, synced from the trust centre's signed feed when older than that interval",
        CONSENT_TTL.as_secs()
    )
}

/// Generates `persons` over `sites` sites into `dir` (seed 5); returns the
/// patients per site.
pub(super) async fn generate(
    dir: &Path,
    sites: u32,
    persons: u64,
) -> anyhow::Result<std::collections::BTreeMap<String, u64>> {
    let config = SynthConfig {
        seed: 5,
        sites,
        persons,
        ..SynthConfig::default()
    };
    let dir = dir.to_owned();
    let summary =
        tokio::task::spawn_blocking(move || oncofed_synth::generate(&config, &dir, &mut |_| {}))
            .await??;
    Ok(summary.patients_per_site)
}

/// The `site` part's figures.
#[derive(Debug, Serialize)]
pub(super) struct SiteResult {
    tls: bool,
    patients: u64,
    ingest_seconds: f64,
    consent_path: String,
    /// The first query of each of the mix's distinct criteria (cold caches).
    first_pass: Latency,
    /// The timed queries: the whole answer (ledger, store, consent, disclosure).
    answer: Latency,
    /// Of which the store's selection (the node's own split, ms resolution).
    store: Latency,
    /// Of which the consent gate.
    consent: Latency,
    /// Patients matched per timed query, median.
    median_matches: u64,
}

impl SiteResult {
    pub(super) fn print(&self) {
        println!(
            "site, {} patients ({}): answer {}; store {}; consent {}; first pass {}",
            self.patients,
            if self.tls { "TLS" } else { "plain HTTP" },
            self.answer,
            self.store,
            self.consent,
            self.first_pass
        );
    }
}

/// One timed answer: total wall time, and the node's own split.
struct Timed {
    total_ms: f64,
    split: Option<Split>,
}

/// What the node logs about one feasibility answer (`feasibility answered`).
#[derive(Debug, Clone, Copy, Default)]
struct Split {
    matches: u64,
    sql_ms: u64,
    consent_ms: u64,
}

/// A tracing layer keeping the node's per-answer split.
#[derive(Clone, Default)]
struct Splits(Arc<Mutex<Vec<Split>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Splits {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if !event.metadata().target().ends_with("agent::feasibility") {
            return;
        }
        struct Visit(Split, bool);
        impl tracing::field::Visit for Visit {
            fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
                match field.name() {
                    "matches" => self.0.matches = value,
                    "sql_ms" => self.0.sql_ms = value,
                    "consent_ms" => {
                        self.0.consent_ms = value;
                        self.1 = true;
                    }
                    _ => {}
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        let mut v = Visit(Split::default(), false);
        event.record(&mut v);
        if v.1 {
            self.0.lock().expect("splits lock").push(v.0);
        }
    }
}

/// Drives one site's feasibility answer directly, as its agent would.
struct SiteDriver {
    store: SharedStore,
    gate: Arc<ConsentGate>,
    site: SiteId,
    secret: SiteSecret,
    sketch_key: String,
    splits: Splits,
    dispatch: tracing::Dispatch,
}

impl SiteDriver {
    fn new(
        store: SharedStore,
        gate: Arc<ConsentGate>,
        site: SiteId,
        node_dir: &Path,
    ) -> anyhow::Result<Self> {
        let splits = Splits::default();
        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(splits.clone()));
        Ok(Self {
            store,
            gate,
            site,
            secret: SiteSecret::load_or_create(&node_dir.join("noise.secret"))?,
            sketch_key: hex::encode(rand::random::<[u8; 32]>()),
            splits,
            dispatch,
        })
    }

    async fn answer(&self, i: usize) -> anyhow::Result<Timed> {
        let criteria = criteria(i);
        let before = self.splits.0.lock().expect("splits lock").len();
        let started = Instant::now();
        answer_feasibility(
            &self.store,
            &self.gate,
            &self.site,
            &self.secret,
            &criteria,
            &self.sketch_key,
            LIFTED_EPSILON,
        )
        .with_subscriber(self.dispatch.clone())
        .await?;
        let total_ms = started.elapsed().as_secs_f64() * 1000.0;
        let split = self
            .splits
            .0
            .lock()
            .expect("splits lock")
            .get(before)
            .copied();
        Ok(Timed { total_ms, split })
    }
}

/// The `site` part: one site of `--site-persons` patients, ingested through an
/// in-process trust centre; its feasibility answer timed at the node.
pub(super) async fn site(a: &FederationArgs) -> anyhow::Result<SiteResult> {
    let temp = tempfile::tempdir()?;
    let cohort = temp.path().join("cohort");
    let patients = generate(&cohort, 1, a.site_persons).await?;
    let site = SynthConfig::site_id(1);
    let fed = LocalFederation::builder(temp.path(), vec![site.clone()])
        .tls(!a.plain_http)
        .start()
        .await?;
    let started = Instant::now();
    let (service, _) = fed.ingest_site(0, &cohort.join(site.as_str())).await?;
    let ingest_seconds = started.elapsed().as_secs_f64();
    let driver = SiteDriver::new(
        service.store(),
        service.gate(),
        site.clone(),
        &fed.node_dir(0),
    )?;
    let mut first = Vec::new();
    for i in 0..MIX {
        first.push(driver.answer(i).await?.total_ms);
    }
    let (mut total, mut store, mut consent, mut matches) = (vec![], vec![], vec![], vec![]);
    for i in 0..a.queries {
        let t = driver.answer(MIX + i).await?;
        total.push(t.total_ms);
        if let Some(s) = t.split {
            store.push(s.sql_ms as f64);
            consent.push(s.consent_ms as f64);
            matches.push(s.matches);
        }
    }
    matches.sort_unstable();
    fed.shutdown().await?;
    Ok(SiteResult {
        tls: !a.plain_http,
        patients: patients.values().sum(),
        ingest_seconds,
        consent_path: consent_path(),
        first_pass: Latency::of(first),
        answer: Latency::of(total),
        store: Latency::of(store),
        consent: Latency::of(consent),
        median_matches: matches.get(matches.len() / 2).copied().unwrap_or(0),
    })
}

/// The `hub` part's figures.
#[derive(Debug, Serialize)]
pub(super) struct HubResult {
    tls: bool,
    sites: u32,
    patients_per_site_max: u64,
    /// What "overhead" means here.
    definition: &'static str,
    /// Researcher's wall time of `POST /v1/feasibility` until the released answer.
    end_to_end: Latency,
    /// One site's own answer time for the same queries (site-1, driven directly afterwards).
    site_answer: Latency,
    /// End to end minus that site's answer for the same query.
    overhead: Latency,
    /// Queries that came back without every site's answer.
    incomplete: usize,
    consent_path: String,
}

const OVERHEAD: &str = "per query: the researcher's wall time of POST /v1/feasibility (wait for every site) minus site-1's own answer time for the same criteria (lifetime ledger, store, consent, disclosure; measured directly at its store afterwards). What remains is the hub (authenticate, persist the query and one sealed, signed task per site, wake the long polls, verify and store each outcome, aggregate, release, audit) plus transport, plus the other sites' work competing for the same cores";

impl HubResult {
    pub(super) fn print(&self) {
        println!(
            "hub, {} sites answering trivially (≤ {} patients each, {}): end to end {}; one site's answer {}; overhead {}; incomplete {}",
            self.sites,
            self.patients_per_site_max,
            if self.tls { "TLS" } else { "plain HTTP" },
            self.end_to_end,
            self.site_answer,
            self.overhead,
            self.incomplete
        );
    }
}

/// Asks `criteria(i)` until every site answers (agents still connecting).
pub(super) async fn until_complete(
    client: &oncofed_hub_api::HubClient,
    timeout: Duration,
) -> anyhow::Result<()> {
    let mut i = 10_000;
    wait_until(
        || {
            i += 1;
            let q = client.feasibility(criteria(i), 10);
            async move {
                matches!(q.await, Ok(r) if r.status == QueryStatus::Complete).then_some(())
            }
        },
        timeout,
    )
    .await
    .map_err(|e| anyhow::anyhow!("the federation did not answer completely: {e}"))
}

/// Waits until every site answers, then times `queries` feasibility queries
/// of the mix end to end at the researcher: the wall times (ms) and how many
/// came back without every site's answer.
pub(super) async fn end_to_end(
    client: &oncofed_hub_api::HubClient,
    queries: usize,
) -> anyhow::Result<(Vec<f64>, usize)> {
    until_complete(client, Duration::from_secs(120)).await?;
    let mut e2e = Vec::new();
    let mut incomplete = 0;
    for i in 0..queries {
        let started = Instant::now();
        let answer = client.feasibility(criteria(i), 30).await?;
        e2e.push(started.elapsed().as_secs_f64() * 1000.0);
        if answer.status != QueryStatus::Complete {
            incomplete += 1;
        }
    }
    Ok((e2e, incomplete))
}

/// The `hub` part: `--hub-sites` sites on tiny stores with in-process agents.
pub(super) async fn hub(a: &FederationArgs) -> anyhow::Result<HubResult> {
    let temp = tempfile::tempdir()?;
    let cohort: PathBuf = temp.path().join("cohort");
    let n = a.hub_sites;
    let patients = generate(&cohort, n, a.hub_persons_per_site * u64::from(n)).await?;
    let sites: Vec<SiteId> = (1..=n).map(SynthConfig::site_id).collect();
    let mut fed = LocalFederation::builder(temp.path(), sites.clone())
        .limits(LIFTED_LIMITS)
        .tls(!a.plain_http)
        .site_lifetime_epsilon(LIFTED_EPSILON)
        .start()
        .await?;
    let mut first = None;
    for (i, site) in sites.iter().enumerate() {
        let (service, _) = fed.ingest_site(i, &cohort.join(site.as_str())).await?;
        fed.connect_site(i, &service, 25).await?;
        first.get_or_insert(service);
    }
    let (e2e, incomplete) = end_to_end(&fed.researcher(), a.queries).await?;
    // One site's own share, for the same criteria (now repeats: no new ε charged).
    let service = first.ok_or_else(|| anyhow::anyhow!("no sites"))?;
    let driver = SiteDriver::new(
        service.store(),
        service.gate(),
        sites[0].clone(),
        &fed.node_dir(0),
    )?;
    let mut site_ms = Vec::new();
    for i in 0..a.queries {
        site_ms.push(driver.answer(i).await?.total_ms);
    }
    let overhead = e2e.iter().zip(&site_ms).map(|(e, s)| e - s).collect();
    fed.shutdown().await?;
    Ok(HubResult {
        tls: !a.plain_http,
        sites: n,
        patients_per_site_max: patients.values().copied().max().unwrap_or(0),
        definition: OVERHEAD,
        end_to_end: Latency::of(e2e),
        site_answer: Latency::of(site_ms),
        overhead: Latency::of(overhead),
        incomplete,
        consent_path: consent_path(),
    })
}
