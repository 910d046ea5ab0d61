//! An in-process federation on loopback: trust centre, hub, site stores and agents.
//! Shared by `oncofed demo` and `oncofed bench`; every part is the real service
//! (HTTPS on 127.0.0.1 with a federation CA made for the run and mutual TLS for
//! sites, or plain HTTP when asked, real stores), only the processes are one.

use crate::commands::trustee::{new_token, write_secret};
use anyhow::Context;
use oncofed_crypto::SigningKeyPair;
use oncofed_hub::{HubConfig, Role, Users};
use oncofed_hub_api::HubClient;
use oncofed_model::SiteId;
use oncofed_node::agent::{Agent, AgentConfig, SiteSecret};
use oncofed_node::{ConsentGate, IngestOptions, IngestReport, QueryService};
use oncofed_tls::ClientTls;
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
    researcher: HubClient,
    admin: HubClient,
    auditor: HubClient,
    /// The federation CA and certificates (`DIR/pki`), when running over TLS.
    pub pki: Option<PathBuf>,
    /// PostgreSQL URL template of the sites' research stores and the trust
    /// centre's store (`{site}` replaced by the site id with `-` as `_`, or by
    /// `trustee`); `None`: SQLite files in each service's folder.
    store_url: Option<String>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

/// Creates the trust centre's PostgreSQL database if missing and refuses one that
/// holds a store already: the demo's pseudonym key is new every run, and another
/// run's persons would be mixed with this one's.
async fn prepare_trustee_database(url: &str) -> anyhow::Result<()> {
    oncofed_node::create_postgres_database(url).await?;
    let owned = url.to_owned();
    let version =
        tokio::task::spawn_blocking(move || oncofed_trustee::postgres_store_version(&owned))
            .await??;
    anyhow::ensure!(
        version == 0,
        "the PostgreSQL database of the trust centre already holds a trust-centre store; the demo needs empty or missing databases: drop it or put another name in --store-url"
    );
    Ok(())
}

/// Whether the federation keeps its stores in PostgreSQL (`--store-url`).
pub fn store_kind(store_url: Option<&str>) -> &'static str {
    if store_url.is_some() {
        "postgresql"
    } else {
        "sqlite"
    }
}

/// Completes when `rx` turns true.
pub async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

impl LocalFederation {
    /// Starts the trust centre (one token per site) and the hub on ephemeral
    /// loopback ports. With `tls`, a federation CA is made in `DIR/pki` (as
    /// `oncofed pki init` does), both services serve HTTPS and require each
    /// site's client certificate; every client verifies against the CA only.
    ///
    /// With `store_url`, a PostgreSQL URL with `{site}` in it (e.g.
    /// `postgres://postgres@127.0.0.1:5432/oncofed_{site}`), every store with
    /// patient data lives on that server, one database each, created if missing
    /// and required empty: each site's research store (`{site}` = the site id,
    /// `-` as `_`) and the trust centre's store (`{site}` = `trustee`).
    pub async fn start(
        dir: &Path,
        sites: Vec<SiteId>,
        limits: oncofed_privacy::QueryBudget,
        tls: bool,
        store_url: Option<String>,
    ) -> anyhow::Result<Self> {
        if let Some(t) = &store_url {
            anyhow::ensure!(
                t.contains("{site}"),
                "--store-url for several sites needs {{site}} in it (one database per site and one for the trust centre), e.g. postgres://postgres@127.0.0.1:5432/oncofed_{{site}}"
            );
        }
        let (stop, rx) = watch::channel(false);
        let pki = if tls {
            Some(make_pki(&dir.join("pki"), &sites)?)
        } else {
            None
        };
        let scheme = if tls { "https" } else { "http" };
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
        let mut tc_config = TrusteeConfig::new(tc_dir.join("store"), key, registry)?;
        if let Some(t) = &store_url {
            let url = t.replace("{site}", "trustee");
            prepare_trustee_database(&url).await?;
            tc_config = tc_config.with_store_url(url);
        }
        if let Some(pki) = &pki {
            tc_config = tc_config.with_tls(server_tls(pki, "trustee")?);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let trustee_url = format!("{scheme}://{}", listener.local_addr()?);
        let mut tasks: Vec<JoinHandle<anyhow::Result<()>>> = Vec::new();
        let trustee = oncofed_trustee::launch(tc_config, listener, stopped(rx.clone()));
        tasks.push(tokio::spawn(async move { Ok(trustee.await?) }));

        let hub_key = SigningKeyPair::generate();
        let (researcher_token, admin_token) = (new_token(), new_token());
        let auditor_token = new_token();
        let mut users = Users::default();
        users.add_token("researcher", Role::Researcher, &researcher_token)?;
        users.add_token("admin", Role::Admin, &admin_token)?;
        users.add_token("auditor", Role::Auditor, &auditor_token)?;
        write_secret(&dir.join("researcher.token"), &researcher_token)?;
        write_secret(&dir.join("auditor.token"), &auditor_token)?;
        let mut hub_config = HubConfig::new(dir.join("hub"), hub_key.clone(), users);
        hub_config.limits = limits;
        if let Some(pki) = &pki {
            hub_config.tls = Some(server_tls(pki, "hub")?);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let hub_url = format!("{scheme}://{}", listener.local_addr()?);
        let hub = oncofed_hub::launch(hub_config, listener, stopped(rx));
        tasks.push(tokio::spawn(async move { Ok(hub.await?) }));
        let site_keys = sites.iter().map(|_| SigningKeyPair::generate()).collect();
        let people = client_tls(pki.as_deref(), None);
        let researcher = HubClient::with_tls(&hub_url, &researcher_token, &people)?;
        let admin = HubClient::with_tls(&hub_url, &admin_token, &people)?;
        let auditor = HubClient::with_tls(&hub_url, &auditor_token, &people)?;
        Ok(Self {
            dir: dir.to_owned(),
            sites,
            tokens,
            site_keys,
            trustee_url,
            hub_url,
            hub_key,
            researcher,
            admin,
            auditor,
            pki,
            store_url,
            stop,
            tasks,
        })
    }

    /// Where site `i` keeps its research store.
    pub fn store_location(&self, i: usize) -> oncofed_node::StoreLocation {
        match &self.store_url {
            Some(t) => oncofed_node::StoreLocation::Postgres(
                t.replace("{site}", &self.sites[i].as_str().replace('-', "_")),
            ),
            None => oncofed_node::StoreLocation::Embedded(self.node_dir(i)),
        }
    }

    /// An auditor's client (token also in `DIR/auditor.token`).
    pub fn auditor(&self) -> HubClient {
        self.auditor.clone()
    }

    /// What site `i` verifies servers against and presents (its certificate).
    pub fn site_tls(&self, i: usize) -> ClientTls {
        client_tls(self.pki.as_deref(), Some(&self.sites[i]))
    }

    /// The hub's public key, which checkpoints and tasks verify against.
    pub fn hub_public_key(&self) -> oncofed_crypto::PublicKey {
        self.hub_key.public_key()
    }

    /// A trust-centre client with site `i`'s token under `tls` (the demo's
    /// transport check uses it to present another site's certificate).
    pub fn trustee_client_with(&self, i: usize, tls: &ClientTls) -> anyhow::Result<TrusteeClient> {
        Ok(TrusteeClient::with_tls(
            &self.trustee_url,
            &self.tokens[i],
            tls,
        )?)
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
        let location = self.store_location(i);
        if let oncofed_node::StoreLocation::Postgres(url) = &location {
            // The node's folder still holds its secrets and state files.
            let dir = self.node_dir(i);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            oncofed_node::create_postgres_database(url).await?;
        }
        let store = oncofed_node::open_store_at(&location).await?;
        if self.store_url.is_some() {
            // Another run's patients would be counted with this one's.
            let held = oncofed_node::quality::report(&store).await?.patients;
            anyhow::ensure!(
                held == 0,
                "the PostgreSQL database of {} already holds {held} patients; the demo needs empty or missing databases: drop them or put another name in --store-url",
                self.sites[i]
            );
        }
        let client =
            TrusteeClient::with_tls(&self.trustee_url, &self.tokens[i], &self.site_tls(i))?;
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
        self.admin
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
        let agent = Agent::new(config, service.store(), service.gate())
            .with_tls(&self.site_tls(i))?
            .with_audit_witness(witness);
        let rx = self.stop.subscribe();
        self.tasks.push(tokio::spawn(async move {
            agent.run(stopped(rx)).await;
            Ok(())
        }));
        // The site's half of the withdrawal cascade: deletion orders from the trust centre.
        let poller = oncofed_node::withdrawal::WithdrawalPoller::new(
            TrusteeClient::with_tls(&self.trustee_url, &self.tokens[i], &self.site_tls(i))?,
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
        self.researcher.clone()
    }

    /// An admin's client for the hub (approving projects).
    pub fn admin(&self) -> HubClient {
        self.admin.clone()
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

/// A federation CA with certificates for the services on 127.0.0.1 and one
/// client certificate per site, as `oncofed pki init` writes them.
fn make_pki(dir: &Path, sites: &[SiteId]) -> anyhow::Result<PathBuf> {
    let hosts = ["127.0.0.1".to_owned(), "localhost".to_owned()];
    let sites: Vec<&str> = sites.iter().map(SiteId::as_str).collect();
    oncofed_tls::pki::init_dir(dir, "OncoFed local federation CA", &hosts, &sites, 2)?;
    Ok(dir.to_owned())
}

/// The server side of service `role`: its certificate, and the CA of site certificates.
pub fn server_tls(pki: &Path, role: &str) -> anyhow::Result<oncofed_tls::TlsAcceptor> {
    Ok(oncofed_tls::ServerTls {
        cert_chain: pki.join(format!("{role}.pem")),
        key: pki.join(format!("{role}.key")),
        client_ca: Some(pki.join("ca.pem")),
    }
    .load()?)
}

/// A client trusting only the federation CA, presenting `site`'s certificate if given.
fn client_tls(pki: Option<&Path>, site: Option<&SiteId>) -> ClientTls {
    let Some(pki) = pki else {
        return ClientTls::default();
    };
    ClientTls {
        ca_bundle: Some(pki.join("ca.pem")),
        identity: site.map(|site| oncofed_tls::ClientIdentity {
            cert_chain: pki.join(format!("site-{site}.pem")),
            key: pki.join(format!("site-{site}.key")),
        }),
        allow_insecure_http: false,
    }
}
