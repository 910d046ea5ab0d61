//! Swarm learning at the site (issue 15, item 5): the site's half of
//! `oncofed-swarm` over the hub's relay. The site trains on its own cells,
//! seals its update to the round's leader, and the hub carries only
//! ciphertexts (`POST`/`GET /v1/swarm/{run}/messages`, signed with the site's
//! key like every agent request). Every site ends each round with the same
//! model, checked by signed hashes; no aggregate ever exists at the hub.
//!
//! A run exists only when a researcher of an approved project started it
//! (`POST /v1/swarm/runs`): the site fetches the hub's signed grant, checks
//! it with its pinned hub key and trains exactly the network and local
//! training it names. What drives the rounds is left to the caller
//! ([`SwarmTrainer::start_round`], [`SwarmTrainer::poll`]): `oncofed demo`
//! drives its three sites in step. Not built yet: an agent loop that joins
//! granted runs on its own, and the timeout that retries a round with the
//! next leader.

use super::{Agent, AgentError};
use oncofed_cnn::Dataset;
use oncofed_learn::{LocalConfig, ModelSpec};
use oncofed_protocol::swarm_grant::{SignedSwarmGrant, SwarmGrant};
use oncofed_swarm::{Accepted, Envelope, LocalUpdate, RoundPlan, SiteConfig, SwarmSite};

/// Why a swarm step failed.
#[derive(Debug, thiserror::Error)]
pub enum SwarmTrainingError {
    /// The hub (the relay) failed.
    #[error(transparent)]
    Hub(#[from] AgentError),
    /// The swarm protocol refused (a peer's key, a plan, a diverged model).
    #[error("swarm: {0}")]
    Swarm(#[from] oncofed_swarm::SwarmError),
    /// Local training failed.
    #[error("local training: {0}")]
    Training(String),
    /// The run's grant is not the hub's, not for this run or this site.
    #[error("swarm grant refused: {0}")]
    Grant(String),
    /// A reply of the hub did not parse.
    #[error("the hub's relay answered something unreadable: {0}")]
    Relay(String),
}

/// The posted messages' sequence numbers.
#[derive(serde::Deserialize)]
struct Posted {
    seqs: Vec<u64>,
}

/// One fetched message.
#[derive(serde::Deserialize)]
struct Delivered {
    seq: u64,
    envelope: Envelope,
}

impl Agent {
    /// Posts sealed swarm envelopes of `run` to the hub's relay.
    pub async fn swarm_post(
        &self,
        run: &str,
        envelopes: &[Envelope],
    ) -> Result<Vec<u64>, SwarmTrainingError> {
        if envelopes.is_empty() {
            return Ok(Vec::new());
        }
        let body =
            serde_json::to_vec(envelopes).map_err(|e| SwarmTrainingError::Relay(e.to_string()))?;
        let path = format!("/v1/swarm/{run}/messages");
        let bytes = self.signed(reqwest::Method::POST, &path, body).await?;
        let posted: Posted =
            serde_json::from_slice(&bytes).map_err(|e| SwarmTrainingError::Relay(e.to_string()))?;
        Ok(posted.seqs)
    }

    /// Run `run`'s grant from the hub, verified with the pinned hub key: it
    /// must be for this run and name this site among its participants.
    pub async fn swarm_grant(&self, run: &str) -> Result<SwarmGrant, SwarmTrainingError> {
        let bytes = self
            .signed(
                reqwest::Method::GET,
                &format!("/v1/swarm/runs/{run}"),
                Vec::new(),
            )
            .await?;
        let signed: SignedSwarmGrant =
            serde_json::from_slice(&bytes).map_err(|e| SwarmTrainingError::Relay(e.to_string()))?;
        let grant = signed
            .verify(&self.config.hub_key, run, self.config.site.as_str())
            .map_err(SwarmTrainingError::Grant)?;
        if grant.training.dp.is_some() {
            return Err(SwarmTrainingError::Grant(
                "a swarm grant with DP: the site runs DP only through secure aggregation".into(),
            ));
        }
        Ok(grant.clone())
    }

    /// The envelopes of `run` addressed to this site after sequence number `after`.
    pub async fn swarm_fetch(
        &self,
        run: &str,
        after: u64,
    ) -> Result<Vec<(u64, Envelope)>, SwarmTrainingError> {
        let path = format!("/v1/swarm/{run}/messages?after={after}");
        let bytes = self.signed(reqwest::Method::GET, &path, Vec::new()).await?;
        let delivered: Vec<Delivered> =
            serde_json::from_slice(&bytes).map_err(|e| SwarmTrainingError::Relay(e.to_string()))?;
        Ok(delivered.into_iter().map(|d| (d.seq, d.envelope)).collect())
    }
}

/// One site's part in a swarm training run.
pub struct SwarmTrainer {
    agent: Agent,
    run: String,
    site: SwarmSite,
    cursor: u64,
    spec: ModelSpec,
    local: LocalConfig,
    train: Dataset,
}

impl SwarmTrainer {
    /// Joins granted run `run`: fetches and verifies the hub's grant (a
    /// researcher of an approved project started it; this site is a
    /// participant), then announces this site's signed run key for the
    /// grant's initial model (`spec.initial_params(seed)`, the same at every
    /// participant). Each round trains the grant's local training on `train`.
    pub async fn open(
        agent: Agent,
        config: SiteConfig,
        run: &str,
        train: Dataset,
    ) -> Result<Self, SwarmTrainingError> {
        let grant = agent.swarm_grant(run).await?;
        let training = grant.training;
        let initial = training.spec.initial_params(training.seed);
        let (site, out) = SwarmSite::open(config, run, &grant.participants, initial)?;
        agent.swarm_post(run, &out).await?;
        Ok(Self {
            agent,
            run: run.to_owned(),
            site,
            cursor: 0,
            spec: training.spec,
            local: training.local,
            train,
        })
    }

    /// Whether every participant's run key has arrived (rounds can start).
    pub fn ready(&self) -> bool {
        self.site.ready()
    }

    /// The site's current model (the last accepted one).
    pub fn model(&self) -> &[f32] {
        self.site.model()
    }

    /// Trains locally from the current model and sends the update to the
    /// round's leader (attempt 0, the leader by the rule every site checks).
    /// Returns the round when this call already completed it.
    pub async fn start_round(
        &mut self,
        round: u32,
    ) -> Result<Option<Accepted>, SwarmTrainingError> {
        let leader = self
            .site
            .leader(round, 0)
            .ok_or_else(|| SwarmTrainingError::Relay("the run's keys are not all in".into()))?;
        let plan = RoundPlan {
            round,
            attempt: 0,
            leader,
        };
        let local = LocalConfig {
            seed: self.local.seed.wrapping_add(u64::from(round)),
            ..self.local.clone()
        };
        let (spec, model, train) = (
            self.spec.clone(),
            self.site.model().to_vec(),
            self.train.clone(),
        );
        let trained = tokio::task::spawn_blocking(move || {
            oncofed_cnn::train_local(&spec, &model, &train, &local)
        })
        .await
        .map_err(|e| SwarmTrainingError::Training(e.to_string()))?
        .map_err(|e| SwarmTrainingError::Training(e.to_string()))?;
        let step = self.site.start_round(
            &plan,
            LocalUpdate {
                params: trained.params,
                samples: trained.samples as u64,
            },
        )?;
        self.agent.swarm_post(&self.run, &step.outgoing).await?;
        Ok(step.accepted)
    }

    /// Handles every message the relay holds for this site; returns the
    /// rounds accepted on the way. A message the protocol refuses is logged
    /// and skipped (it cannot move the site's model).
    pub async fn poll(&mut self) -> Result<Vec<Accepted>, SwarmTrainingError> {
        let mut accepted = Vec::new();
        for (seq, envelope) in self.agent.swarm_fetch(&self.run, self.cursor).await? {
            self.cursor = seq;
            match self.site.on_message(envelope) {
                Ok(step) => {
                    self.agent.swarm_post(&self.run, &step.outgoing).await?;
                    accepted.extend(step.accepted);
                }
                Err(e) => tracing::warn!(run = %self.run, error = %e, "swarm message refused"),
            }
        }
        Ok(accepted)
    }
}
