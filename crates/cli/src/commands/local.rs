//! An in-process federation on loopback: trust centre, hub, site stores and agents.
//! Shared by `oncofed demo` and `oncofed bench`; every part is the real service
//! (HTTP on 127.0.0.1, real stores), only the processes are one.

use crate::commands::trustee::{new_token, write_secret};
use anyhow::Context;
use oncofed_crypto::SigningKeyPair;
use oncofed_hub::client::HubClient;
use oncofed_hub::{HubConfig, Role, Users};
use oncofed_model::SiteId;
use oncofed_node::agent::{Agent, AgentConfig, SiteSecret};
use oncofed_node::{ConsentGate, IngestOptions, IngestReport, QueryService};
use oncofed_trustee::{SiteRegistry, TrusteeConfig, hash_token, load_or_create_key};
use oncofed_trustee_api::TrusteeClient;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running federation. Call [`LocalFederation::shutdown`] to stop it cleanly.
pub struct LocalFederation {
    /// Where everything lives.
    pub dir: PathBuf,
    /// The sites, in order.
    pub sites: Vec<SiteId>,
    tokens: Vec<String>,
    /// Each site's signing key, drawn up front so every agent can hold the
    /// whole roster before any of them starts.
    site_keys: Vec<SigningKeyPair>,
    /// The trust centre's base URL.
    pub trustee_url: String,
    /// The hub's base URL.
    pub hub_url: String,
    hub_key: SigningKeyPair,
    /// A researcher's token (also written to `DIR/researcher.token`).
    pub researcher_token: String,
    admin_token: String,
    auditor_token: String,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

/// Completes when `rx` turns true.
pub async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

impl LocalFederation {
    /// Starts the trust centre (one token per site) and the hub on ephemeral loopback ports.
    pub async fn start(
        dir: &Path,
        sites: Vec<SiteId>,
        limits: oncofed_privacy::QueryBudget,
    ) -> anyhow::Result<Self> {
        let (stop, rx) = watch::channel(false);
        let tc_dir = dir.join("trustee");
        std::fs::create_dir_all(&tc_dir)?;
        let tokens: Vec<String> = sites.iter().map(|_| new_token()).collect();
        for (site, token) in sites.iter().zip(&tokens) {
            write_secret(&tc_dir.join(format!("{site}.token")), token)?;
        }
        let hashes: Vec<String> = tokens.iter().map(|t| hash_token(t)).collect();
        let registry = SiteRegistry::from_hashes(
            sites.iter().cloned().zip(hashes.iter().map(String::as_str)),
        )?;
        let key = load_or_create_key(&tc_dir.join("pseudonym.key"))?;
        let tc_config = TrusteeConfig::new(tc_dir.join("store"), key, registry)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let trustee_url = format!("http://{}", listener.local_addr()?);
        let mut tasks: Vec<JoinHandle<anyhow::Result<()>>> = Vec::new();
        let trustee = oncofed_trustee::launch(tc_config, listener, stopped(rx.clone()));
        tasks.push(tokio::spawn(async move { Ok(trustee.await?) }));

        let hub_key = SigningKeyPair::generate();
        let (researcher_token, admin_token) = (new_token(), new_token());
        let auditor_token = new_token();
        let mut users = Users::default();
        users.add_token("researcher", Role::Researcher, &researcher_token);
        users.add_token("admin", Role::Admin, &admin_token);
        users.add_token("auditor", Role::Auditor, &auditor_token);
        write_secret(&dir.join("researcher.token"), &researcher_token)?;
        write_secret(&dir.join("auditor.token"), &auditor_token)?;
        let mut hub_config = HubConfig::new(dir.join("hub"), hub_key.clone(), users);
        hub_config.limits = limits;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let hub_url = format!("http://{}", listener.local_addr()?);
        let hub = oncofed_hub::launch(hub_config, listener, stopped(rx));
        tasks.push(tokio::spawn(async move { Ok(hub.await?) }));
        let site_keys = sites.iter().map(|_| SigningKeyPair::generate()).collect();
        Ok(Self {
            dir: dir.to_owned(),
            sites,
            tokens,
            site_keys,
            trustee_url,
            hub_url,
            hub_key,
            researcher_token,
            admin_token,
            auditor_token,
            stop,
            tasks,
        })
    }

    /// An auditor's client (token also in `DIR/auditor.token`).
    pub fn auditor(&self) -> HubClient {
        HubClient::new(&self.hub_url, &self.auditor_token)
    }

    /// The hub's public key, which checkpoints and tasks verify against.
    pub fn hub_public_key(&self) -> oncofed_crypto::PublicKey {
        self.hub_key.public_key()
    }

    /// The data directory of site `i`.
    pub fn node_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("node-{}", self.sites[i]))
    }

    /// Opens site `i`'s store and ingests `input` through the trust centre;
    /// returns the site's query service (store + consent gate).
    pub async fn ingest_site(
        &self,
        i: usize,
        input: &Path,
    ) -> anyhow::Result<(QueryService, IngestReport)> {
        let store = oncofed_node::open_store(&self.node_dir(i))?;
        let client = TrusteeClient::new(&self.trustee_url, &self.tokens[i])?;
        let report = oncofed_node::ingest(
            &store,
            &client,
            &[input.to_owned()],
            &IngestOptions::default(),
            &|_, _| {},
        )
        .await
        .with_context(|| format!("ingest at {}", self.sites[i]))?;
        let gate = Arc::new(ConsentGate::new(client, Duration::from_secs(60)));
        Ok((QueryService::new(store, gate), report))
    }

    /// The federation's roster (every site's public key), as each site holds it.
    pub fn roster(&self) -> anyhow::Result<oncofed_secagg::Roster> {
        let mut roster = oncofed_secagg::Roster::new();
        for (site, key) in self.sites.iter().zip(&self.site_keys) {
            roster.insert(site.as_str(), key.public_key())?;
        }
        Ok(roster)
    }

    /// Registers site `i` at the hub with its key and starts its agent.
    pub async fn connect_site(
        &mut self,
        i: usize,
        service: &QueryService,
        poll_wait: u64,
    ) -> anyhow::Result<()> {
        let key = self.site_keys[i].clone();
        HubClient::new(&self.hub_url, &self.admin_token)
            .register_site(self.sites[i].clone(), key.public_key())
            .await?;
        let config = AgentConfig {
            site: self.sites[i].clone(),
            hub_url: self.hub_url.clone(),
            key,
            hub_key: self.hub_key.public_key(),
            secret: SiteSecret::load_or_create(&self.node_dir(i).join("noise.secret"))?,
            poll_wait,
            roster: self.roster()?,
            secagg: oncofed_secagg::SitePolicy::default(),
            bounds: oncofed_node::agent::SiteBounds::DEFAULT,
            lifetime_epsilon: oncofed_node::agent::DEFAULT_LIFETIME_EPSILON,
        };
        let witness = oncofed_node::agent::AuditWitness::open(
            self.node_dir(i).join(oncofed_node::agent::WITNESS_FILE),
            config.hub_key,
        )?;
        let agent = Agent::new(config, service.store(), service.gate()).with_audit_witness(witness);
        let rx = self.stop.subscribe();
        self.tasks.push(tokio::spawn(async move {
            agent.run(stopped(rx)).await;
            Ok(())
        }));
        // The site's half of the withdrawal cascade: deletion orders from the trust centre.
        let poller = oncofed_node::withdrawal::WithdrawalPoller::new(
            TrusteeClient::new(&self.trustee_url, &self.tokens[i])?,
            service.store(),
            service.gate(),
        );
        let rx = self.stop.subscribe();
        self.tasks.push(tokio::spawn(async move {
            poller.run(stopped(rx)).await;
            Ok(())
        }));
        Ok(())
    }

    /// A researcher's client for the hub.
    pub fn researcher(&self) -> HubClient {
        HubClient::new(&self.hub_url, &self.researcher_token)
    }

    /// An admin's client for the hub (approving projects).
    pub fn admin(&self) -> HubClient {
        HubClient::new(&self.hub_url, &self.admin_token)
    }

    /// Stops every service and agent and waits for them.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        for t in self.tasks {
            t.await??;
        }
        Ok(())
    }
}
