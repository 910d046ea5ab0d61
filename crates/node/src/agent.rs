//! The federation agent: a site's outbound-only connection to the research hub.
//!
//! Hospitals allow only outbound HTTPS, so the agent long-polls the hub for
//! tasks (`GET /v1/site/tasks?wait=S`) and posts outcomes back, each request
//! signed with the site's Ed25519 key (method, path, timestamp, body hash). Every
//! task is checked before anything runs: sealed by the pinned hub key, addressed
//! to this site, not expired, never seen before (replay). A task that fails a
//! check is refused and logged; no researcher code ever runs here, only the
//! criteria language compiled by the store.
//!
//! Transient failures (hub down, network) are retried with exponential backoff
//! and jitter; a posted outcome is retried until the task expires.

mod analysis;
mod backoff;
pub mod beacon;
mod catalogue;
mod cell_run;
mod feasibility;
pub mod ledger;
mod plan;
mod swarm;
mod witness;

pub use analysis::{AnalysisRuns, CODEC, answer_analysis, load_rows};
pub use backoff::Backoff;
pub use beacon::{BeaconError, BeaconSite, answer_beacon};
pub use catalogue::{CatalogueError, answer_catalogue};
pub use feasibility::{FeasibilityError, SiteSecret, answer_feasibility};
pub use ledger::{DEFAULT_LIFETIME_EPSILON, FEASIBILITY_REFUSAL, LifetimeSpent, lifetime_spent};
pub use plan::{SiteBounds, admit_site_set, cohort_digest};
pub use swarm::{SwarmTrainer, SwarmTrainingError};
pub use witness::{AUDIT_CHECKPOINT_HEADER, AuditWitness, WITNESS_FILE, WitnessError};

use crate::{ConsentGate, SharedStore, with_store};
use chrono::Utc;
use oncofed_crypto::{PublicKey, SignedEnvelope, SigningKeyPair};
use oncofed_model::SiteId;
use oncofed_protocol::{Task, TaskAnswer, TaskKind, TaskOutcome};
use std::sync::Arc;
use std::time::Duration;

/// Why the agent refused a task. Each is logged; nothing runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not sealed by the pinned hub key (forged or tampered).
    #[error("task refused: its seal does not verify with the hub's key")]
    Forged,
    /// Addressed to another site.
    #[error("task refused: addressed to another site")]
    WrongSite,
    /// Past its expiry.
    #[error("task refused: expired")]
    Expired,
    /// Already executed once (replay).
    #[error("task refused: already seen (replay)")]
    Replayed,
}

/// Why a poll round failed (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The hub could not be reached or answered with an error.
    #[error("hub at {url}: {reason}")]
    Hub {
        /// The hub's base URL.
        url: String,
        /// What went wrong (no data).
        reason: String,
    },
    /// The hub is busy (429 or 503) and said when to come back (`Retry-After`).
    #[error("hub at {url} is busy: retry in {} s", retry_after.as_secs())]
    Busy {
        /// The hub's base URL.
        url: String,
        /// How long the hub asked to wait.
        retry_after: Duration,
    },
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] oncofed_store::StoreError),
}

/// Longest wait a hub's `Retry-After` may impose on one retry.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A 429 or 503 answer's `Retry-After` in seconds (the HTTP-date form is not
/// used by OncoFed services), capped at [`MAX_RETRY_AFTER`].
fn retry_after(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
) -> Option<Duration> {
    if !matches!(status.as_u16(), 429 | 503) {
        return None;
    }
    let secs: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// How a site reaches the hub.
#[derive(Clone)]
pub struct AgentConfig {
    /// This site.
    pub site: SiteId,
    /// The hub's base URL.
    pub hub_url: String,
    /// The site's signing key (its public key is registered at the hub).
    pub key: SigningKeyPair,
    /// The hub's public key, pinned: tasks sealed by any other key are refused.
    pub hub_key: PublicKey,
    /// Secret seeding this site's deterministic noise.
    pub secret: SiteSecret,
    /// Seconds a poll waits at the hub for a task.
    pub poll_wait: u64,
    /// The federation's site signing keys, held here like `hub_key` and never
    /// taken from the hub: secure aggregation only counts peers whose keys are
    /// signed by a key on it. An empty roster takes part in no analysis.
    pub roster: oncofed_secagg::Roster,
    /// This site's own secure-aggregation limits (fewest participants `n_min`,
    /// hence the threshold), whatever the hub asks for.
    pub secagg: oncofed_secagg::SitePolicy,
    /// This site's hard bounds on any run (horizon, grid, vector length, rounds,
    /// parameters, |β|), whatever the hub or a project's plan allows; default
    /// [`SiteBounds::DEFAULT`].
    pub bounds: SiteBounds,
    /// This site's lifetime ε for feasibility releases, over all hubs, projects
    /// and researchers, kept in its store; past it feasibility queries are
    /// refused (default [`DEFAULT_LIFETIME_EPSILON`]; the accountant is in [`ledger`]).
    pub lifetime_epsilon: f64,
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("site", &self.site)
            .field("hub_url", &self.hub_url)
            .finish_non_exhaustive()
    }
}

/// A site's federation agent.
#[derive(Clone)]
pub struct Agent {
    config: AgentConfig,
    store: SharedStore,
    gate: Arc<ConsentGate>,
    http: reqwest::Client,
    runs: AnalysisRuns,
    witness: Option<Arc<AuditWitness>>,
    beacon: Arc<BeaconSite>,
}

impl Agent {
    /// An agent over the site's store and consent gate.
    pub fn new(config: AgentConfig, store: SharedStore, gate: Arc<ConsentGate>) -> Self {
        oncofed_tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(config.poll_wait + 30))
            .build()
            .expect("static client configuration");
        Self {
            config,
            store,
            gate,
            http,
            runs: AnalysisRuns::default(),
            witness: None,
            beacon: Arc::new(BeaconSite::default()),
        }
    }

    /// Talks to the hub under `tls`: verifies the hub against its CA bundle and
    /// presents the site's client certificate (mutual TLS). Without it the agent
    /// trusts the system's roots; either way a plain-HTTP hub URL on another host
    /// is refused.
    pub fn with_tls(mut self, tls: &oncofed_tls::ClientTls) -> Result<Self, oncofed_tls::TlsError> {
        self.http = tls.client_for(&self.config.hub_url, self.client_builder())?;
        Ok(self)
    }

    fn client_builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(self.config.poll_wait + 30))
    }

    /// Lets this agent take part in cell classifiers' runs (issue 15): it
    /// trains and scores on the cells in `archive` (the site's image archive).
    /// Without it the site refuses such runs.
    pub fn with_cell_archive(mut self, archive: crate::imaging::ObjectArchive) -> Self {
        self.runs = AnalysisRuns::with_cell_archive(archive);
        self
    }

    /// Sets this site's Beacon defence floor and population frequencies
    /// (default [`BeaconSite::default`]: the level-3 defaults, observed
    /// frequencies).
    pub fn with_beacon(mut self, beacon: BeaconSite) -> Self {
        self.beacon = Arc::new(beacon);
        self
    }

    /// Makes this agent a witness of the hub's audit trail: the newest signed
    /// checkpoint from each poll is kept by `witness` (see [`AuditWitness`]).
    pub fn with_audit_witness(mut self, witness: AuditWitness) -> Self {
        self.witness = Some(Arc::new(witness));
        self
    }

    /// Polls until `shutdown` completes. After an error it backs off (0.5 s doubling
    /// to 30 s); after a round without a task that the hub answered sooner than a
    /// long poll would, it pauses too (0.5 s doubling to 10 s, less the time the
    /// round took), so a hub answering at once is not polled in a tight loop. Both
    /// jittered ([`Backoff`]); a task resets them.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut errors = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let mut idle = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
        loop {
            let began = std::time::Instant::now();
            let round = tokio::select! {
                _ = &mut shutdown => return,
                r = self.poll_once() => r,
            };
            let pause = match round {
                Ok(0) => {
                    errors.reset();
                    idle.pause_after_empty_round(began.elapsed())
                }
                Ok(_) => {
                    errors.reset();
                    idle.reset();
                    Duration::ZERO
                }
                Err(e) => {
                    // A busy hub's Retry-After is a floor under the backoff.
                    let asked = match &e {
                        AgentError::Busy { retry_after, .. } => *retry_after,
                        _ => Duration::ZERO,
                    };
                    let pause = errors.next_delay().max(asked);
                    tracing::warn!(error = %e, retry_in = ?pause, "poll failed");
                    pause
                }
            };
            if !pause.is_zero() {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }

    /// One round: fetch tasks (waiting up to `poll_wait`), run each, post outcomes.
    /// Returns how many tasks were answered.
    pub async fn poll_once(&self) -> Result<usize, AgentError> {
        let path = format!("/v1/site/tasks?wait={}", self.config.poll_wait);
        let (headers, body) = self
            .send_signed(reqwest::Method::GET, &path, Vec::new())
            .await?;
        self.witness_audit_head(&headers);
        let envelopes: Vec<SignedEnvelope> =
            serde_json::from_slice(&body).map_err(|e| self.hub_error(e))?;
        let mut answered = 0;
        for envelope in envelopes {
            match self.handle(&envelope).await {
                Ok(outcome) => {
                    self.post_outcome(&outcome).await?;
                    answered += 1;
                }
                Err(refusal) => tracing::warn!(%refusal, "task refused"),
            }
        }
        Ok(answered)
    }

    /// Checks a sealed task and runs it. Refused tasks run nothing.
    pub async fn handle(&self, envelope: &SignedEnvelope) -> Result<TaskOutcome, Refusal> {
        let task: Task = envelope
            .open(&self.config.hub_key)
            .map_err(|_| Refusal::Forged)?;
        if task.site != self.config.site {
            return Err(Refusal::WrongSite);
        }
        let now = Utc::now();
        if now >= task.expires_at {
            return Err(Refusal::Expired);
        }
        let (id, expires) = (task.task_id.to_string(), task.expires_at);
        let fresh = with_store(&self.store, move |s| s.remember_task(&id, expires)).await;
        match fresh {
            Ok(true) => {}
            Ok(false) => return Err(Refusal::Replayed),
            Err(e) => {
                // Without the replay ledger the task cannot be checked: refuse it (fail closed).
                tracing::error!(error = %e, "replay ledger unavailable");
                return Err(Refusal::Replayed);
            }
        }
        let result = match &task.kind {
            TaskKind::Feasibility {
                criteria,
                sketch_key,
            } => answer_feasibility(
                &self.store,
                &self.gate,
                &self.config.site,
                &self.config.secret,
                criteria,
                sketch_key,
                self.config.lifetime_epsilon,
            )
            .await
            .map(TaskAnswer::Feasibility)
            .map_err(|e| {
                tracing::warn!(error = %e, task = %task.task_id, "feasibility failed");
                e.public_reason()
            }),
            TaskKind::Beacon(beacon) => answer_beacon(
                &self.store,
                &self.gate,
                &self.config.secret,
                &self.beacon,
                beacon,
            )
            .await
            .map(TaskAnswer::Beacon)
            .map_err(|e| {
                tracing::warn!(error = %e, task = %task.task_id, "beacon query refused");
                e.public_reason()
            }),
            TaskKind::Catalogue => answer_catalogue(
                &self.store,
                &self.gate,
                &self.config.site,
                &self.config.secret,
                self.config.lifetime_epsilon,
            )
            .await
            .map(TaskAnswer::Catalogue)
            .map_err(|e| {
                tracing::warn!(error = %e, task = %task.task_id, "catalogue task failed");
                e.public_reason()
            }),
            TaskKind::Analysis { step } => {
                let started = std::time::Instant::now();
                let r = answer_analysis(
                    &self.runs,
                    &self.store,
                    &self.gate,
                    &self.config,
                    &task.query_id,
                    (**step).clone(),
                )
                .await
                .map(|r| TaskAnswer::Analysis(Box::new(r)))
                .inspect_err(
                    |e| tracing::warn!(reason = %e, task = %task.task_id, "analysis step refused"),
                );
                tracing::debug!(
                    ms = started.elapsed().as_millis() as u64,
                    "analysis step computed"
                );
                r
            }
        };
        Ok(TaskOutcome {
            task_id: task.task_id,
            query_id: task.query_id,
            site: task.site,
            completed_at: Utc::now(),
            result,
        })
    }

    /// Posts a sealed outcome, retrying transient failures a few times; a busy
    /// hub's `Retry-After` is honoured.
    async fn post_outcome(&self, outcome: &TaskOutcome) -> Result<(), AgentError> {
        let envelope =
            SignedEnvelope::seal(outcome, &self.config.key).map_err(|e| self.hub_error(e))?;
        let body = serde_json::to_vec(&envelope).map_err(|e| self.hub_error(e))?;
        let mut delay = Duration::from_millis(200);
        let mut last = None;
        for _ in 0..5 {
            match self
                .signed(reqwest::Method::POST, "/v1/site/results", body.clone())
                .await
            {
                Ok(_) => return Ok(()),
                // The hub said when: wait that long instead of the doubling delay.
                Err(e @ AgentError::Busy { retry_after, .. }) => {
                    last = Some(e);
                    tokio::time::sleep(retry_after).await;
                    continue;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        Err(last.expect("at least one attempt"))
    }

    /// Keeps the hub's audit checkpoint from a poll's answer (see [`AuditWitness`]).
    /// An equivocating hub is logged as an error; tasks are still checked one by one.
    fn witness_audit_head(&self, headers: &reqwest::header::HeaderMap) {
        let Some(witness) = &self.witness else { return };
        let Some(value) = headers.get(AUDIT_CHECKPOINT_HEADER) else {
            tracing::debug!("the hub sent no audit checkpoint");
            return;
        };
        match witness.offer(value.as_bytes()) {
            Ok(observation) => tracing::trace!(?observation, "audit checkpoint witnessed"),
            Err(e @ WitnessError::Equivocation { .. }) => {
                tracing::error!(error = %e, "the hub's audit trail contradicts what this site witnessed; report it to the federation's auditors");
            }
            Err(e) => tracing::warn!(error = %e, "audit checkpoint not witnessed"),
        }
    }

    /// Sends a request signed with the site key; returns the body of a 2xx answer.
    async fn signed(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, AgentError> {
        Ok(self.send_signed(method, path, body).await?.1)
    }

    /// Sends a request signed with the site key; returns the headers and body of a 2xx answer.
    async fn send_signed(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(reqwest::header::HeaderMap, Vec<u8>), AgentError> {
        let ts = Utc::now().timestamp();
        // The hub accepts each signature once: a random nonce keeps two
        // identical requests within one second (a quick re-poll, a retry) apart.
        let separator = if path.contains('?') { '&' } else { '?' };
        let path = format!("{path}{separator}nonce={:032x}", rand::random::<u128>());
        let signature =
            oncofed_crypto::sign_request(&self.config.key, method.as_str(), &path, ts, &body);
        let url = format!("{}{}", self.config.hub_url.trim_end_matches('/'), path);
        let resp = self
            .http
            .request(method, url)
            .header("x-oncofed-site", self.config.site.as_str())
            .header("x-oncofed-timestamp", ts.to_string())
            .header("x-oncofed-signature", signature.to_string())
            // The signed body digest ahead of the body: the hub checks the
            // signature before it reads the body.
            .header(
                "x-oncofed-content-sha256",
                oncofed_crypto::body_digest(&body),
            )
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                self.hub_error(if e.is_connect() {
                    "connection refused".to_string()
                } else {
                    e.to_string()
                })
            })?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| self.hub_error(e))?;
        if let Some(retry_after) = retry_after(status, &headers) {
            return Err(AgentError::Busy {
                url: self.config.hub_url.clone(),
                retry_after,
            });
        }
        if !status.is_success() {
            return Err(self.hub_error(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )));
        }
        Ok((headers, bytes.to_vec()))
    }

    fn hub_error(&self, reason: impl std::fmt::Display) -> AgentError {
        AgentError::Hub {
            url: self.config.hub_url.clone(),
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod retry_after_tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn retry_after_is_read_from_busy_answers_only_and_capped() {
        let busy = StatusCode::SERVICE_UNAVAILABLE;
        assert_eq!(
            retry_after(busy, &headers("2")),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(StatusCode::TOO_MANY_REQUESTS, &headers("86400")),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(retry_after(StatusCode::BAD_REQUEST, &headers("2")), None);
        assert_eq!(retry_after(busy, &headers("soon")), None);
        assert_eq!(retry_after(busy, &HeaderMap::new()), None);
    }
}
