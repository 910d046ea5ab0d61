//! An in-process federation on loopback: trust centre, hub, site stores and agents.
//! Shared by `oncofed demo`, `oncofed bench` and the cross-crate tests; every part
//! is the real service (HTTPS on 127.0.0.1 with a federation CA made for the run
//! and mutual TLS for sites, or plain HTTP when asked, real stores), only the
//! processes are one.

use crate::audit::AuditReading;
use crate::pki::{client_tls, make_pki, server_tls};
use crate::service::{Running, StopSwitch};
use crate::trustee::TrustCentre;
use anyhow::Context;
use oncofed_crypto::SigningKeyPair;
use oncofed_hub::{HubConfig, Role, Users};
use oncofed_hub_api::HubClient;
use oncofed_model::SiteId;
use oncofed_node::agent::{Agent, AgentConfig, SiteSecret};
use oncofed_node::{ConsentGate, IngestOptions, IngestReport, QueryService};
use oncofed_service::tokens::{new_token, write_secret};
use oncofed_tls::ClientTls;
use oncofed_trustee_api::TrusteeClient;
use oncofed_trustee_api::linkage::client::LinkageClient;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long a site's consent gate keeps an answer of the trust centre.
pub const CONSENT_TTL: Duration = Duration::from_secs(60);

/// A change to the hub's configuration before it starts.
type HubTuning = Box<dyn FnOnce(&mut HubConfig) + Send>;

/// How to start a [`LocalFederation`]; see [`LocalFederation::builder`].
pub struct FederationBuilder {
    dir: PathBuf,
    sites: Vec<SiteId>,
    limits: Option<oncofed_privacy::QueryBudget>,
    tls: bool,
    store_url: Option<String>,
    lifetime_epsilon: f64,
    tune_hub: Vec<HubTuning>,
    beacon: oncofed_node::agent::BeaconSite,
}

impl FederationBuilder {
    /// The researcher's query budget at the hub (the hub's default otherwise).
    pub fn limits(mut self, limits: oncofed_privacy::QueryBudget) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Whether every connection is TLS (a CA made in `DIR/pki`; mutual TLS for
    /// sites). On by default.
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Keeps the sites' research stores in PostgreSQL: `template` is a URL with
    /// `{site}` in it (e.g. `postgres://postgres@127.0.0.1:5432/oncofed_{site}`),
    /// one database per site, created if missing; `None`: SQLite in each
    /// node's folder.
    pub fn store_url(mut self, template: Option<String>) -> anyhow::Result<Self> {
        if let Some(t) = &template {
            anyhow::ensure!(
                t.contains("{site}"),
                "--store-url for several sites needs {{site}} in it (one database per site), e.g. postgres://postgres@127.0.0.1:5432/oncofed_{{site}}"
            );
        }
        self.store_url = template;
        Ok(self)
    }

    /// Each site's lifetime ε for feasibility releases (the node's default
    /// otherwise); benches that ask hundreds of distinct queries raise it.
    pub fn site_lifetime_epsilon(mut self, epsilon: f64) -> Self {
        self.lifetime_epsilon = epsilon;
        self
    }

    /// The Beacon defences of the whole federation: the hub ships and applies
    /// `defences`, and every site takes them as its floor (so
    /// `DefenceConfig::none()` gives an undefended federation, for measuring
    /// the attack). Default: the level-3 defaults on both sides.
    pub fn beacon_defences(
        mut self,
        defences: oncofed_protocol::beacon::defence::DefenceConfig,
    ) -> Self {
        self.beacon.floor = defences.clone();
        self.tune_hub.push(Box::new(move |c: &mut HubConfig| {
            c.beacon.defences = defences
        }));
        self
    }

    /// Every site's population allele frequencies for pricing Beacon answers
    /// (e.g. the cohort's `ground-truth/background-panel.tsv`); default: none
    /// (observed frequencies).
    pub fn beacon_frequencies(
        mut self,
        table: Arc<oncofed_node::agent::beacon::AlleleFrequencies>,
    ) -> Self {
        self.beacon.frequencies = Some(table);
        self
    }

    /// Changes the hub's configuration before it starts.
    pub fn tune_hub(mut self, tune: impl FnOnce(&mut HubConfig) + Send + 'static) -> Self {
        self.tune_hub.push(Box::new(tune));
        self
    }

    /// Starts the trust centre (one token per site, in `DIR/trustee/SITE.token`)
    /// and the hub on ephemeral loopback ports. With TLS, a federation CA is
    /// made in `DIR/pki` (as `oncofed pki init` does), both services serve
    /// HTTPS and require each site's client certificate; every client verifies
    /// against the CA only. Sites join with [`LocalFederation::ingest_site`]
    /// and [`LocalFederation::connect_site`].
    pub async fn start(self) -> anyhow::Result<LocalFederation> {
        let Self {
            dir,
            sites,
            limits,
            tls,
            store_url,
            lifetime_epsilon,
            tune_hub,
            beacon,
        } = self;
        let stop = StopSwitch::default();
        let pki = if tls {
            Some(make_pki(&dir.join("pki"), &sites)?)
        } else {
            None
        };
        let tc_dir = dir.join("trustee");
        // Trust-centre staff (clerical review, admissions past a tombstone).
        let trustee_staff_token = new_token();
        let mut trustee = TrustCentre::builder()
            .dir(&tc_dir)
            .site_tokens(sites.iter().map(|s| (s.clone(), new_token())))
            .admin_token(&trustee_staff_token)
            .stop_with(stop.clone());
        if let Some(pki) = &pki {
            trustee = trustee.tls(server_tls(pki, "trustee")?, client_tls(Some(pki), None));
        }
        if let Some(t) = &store_url {
            // The trust centre's database is the template's `{site}` = `trustee`.
            trustee = trustee.store_url(t.replace("{site}", "trustee"));
        }
        let trustee = trustee.start().await?;
        for (site, token) in trustee.tokens() {
            write_secret(&tc_dir.join(format!("{site}.token")), token)?;
        }
        write_secret(&tc_dir.join("admin.token"), &trustee_staff_token)?;

        let hub_key = SigningKeyPair::generate();
        let (researcher_token, admin_token) = (new_token(), new_token());
        let auditor_token = new_token();
        let mut users = Users::default();
        users.add_token("researcher", Role::Researcher, &researcher_token)?;
        users.add_token("admin", Role::Admin, &admin_token)?;
        users.add_token("auditor", Role::Auditor, &auditor_token)?;
        write_secret(&dir.join("researcher.token"), &researcher_token)?;
        write_secret(&dir.join("auditor.token"), &auditor_token)?;
        // The portal's people: every user's token in `DIR/tokens/<user>.token`.
        let token_dir = dir.join("tokens");
        std::fs::create_dir_all(&token_dir)?;
        for (user, token) in [
            ("researcher", &researcher_token),
            ("admin", &admin_token),
            ("auditor", &auditor_token),
        ] {
            write_secret(&token_dir.join(format!("{user}.token")), token)?;
        }
        let mut portal_people: Vec<(String, Role, Option<String>)> = vec![
            ("researcher-2".into(), Role::Researcher, None),
            ("committee-1".into(), Role::Committee, None),
            ("committee-2".into(), Role::Committee, None),
        ];
        for site in &sites {
            portal_people.push((
                format!("site-admin-{site}"),
                Role::SiteAdmin,
                Some(site.as_str().to_owned()),
            ));
        }
        for (user, role, site) in portal_people {
            let token = new_token();
            users.add_token(user.clone(), role, &token)?;
            if let Some(site) = site {
                users.set_site(user.clone(), site);
            }
            write_secret(&token_dir.join(format!("{user}.token")), &token)?;
        }
        let mut hub_config = HubConfig::new(dir.join("hub"), hub_key.clone(), users);
        if let Some(limits) = limits {
            hub_config.limits = limits;
        }
        if let Some(pki) = &pki {
            hub_config.tls = Some(server_tls(pki, "hub")?);
        }
        for tune in tune_hub {
            tune(&mut hub_config);
        }
        let hub = crate::service::hub(hub_config, stop.clone()).await?;
        let site_keys = sites.iter().map(|_| SigningKeyPair::generate()).collect();
        let people = client_tls(pki.as_deref(), None);
        let researcher = HubClient::with_tls(&hub.url, &researcher_token, &people)?;
        let admin = HubClient::with_tls(&hub.url, &admin_token, &people)?;
        let auditor = HubClient::with_tls(&hub.url, &auditor_token, &people)?;
        Ok(LocalFederation {
            dir,
            sites,
            site_keys,
            trustee,
            trustee_staff_token,
            hub,
            hub_key,
            researcher,
            admin,
            auditor,
            pki,
            store_url,
            lifetime_epsilon,
            beacon,
            stop,
            tasks: Vec::new(),
        })
    }
}

/// A running federation. Dropping it tells every service and agent to stop
/// (the services' stop-on-drop flips the switch all of them share);
/// [`LocalFederation::shutdown`] also waits for them and reports their errors.
pub struct LocalFederation {
    /// Where everything lives.
    pub dir: PathBuf,
    /// The sites, in order.
    pub sites: Vec<SiteId>,
    /// Each site's signing key, drawn up front so every agent can hold the
    /// whole roster before any of them starts.
    site_keys: Vec<SigningKeyPair>,
    trustee: TrustCentre,
    /// The trust centre's admin token (also in `DIR/trustee/admin.token`).
    trustee_staff_token: String,
    hub: Running<oncofed_hub::LaunchError>,
    hub_key: SigningKeyPair,
    researcher: HubClient,
    admin: HubClient,
    auditor: HubClient,
    /// The federation CA and certificates (`DIR/pki`), when running over TLS.
    pub pki: Option<PathBuf>,
    /// PostgreSQL URL template of the sites' research stores (`{site}` replaced
    /// by the site id with `-` as `_`); `None`: SQLite files in each node's folder.
    store_url: Option<String>,
    lifetime_epsilon: f64,
    beacon: oncofed_node::agent::BeaconSite,
    stop: StopSwitch,
    tasks: Vec<JoinHandle<()>>,
}

impl LocalFederation {
    /// A federation of `sites` in `dir`: TLS on, the hub's default limits,
    /// SQLite stores.
    pub fn builder(dir: &Path, sites: Vec<SiteId>) -> FederationBuilder {
        FederationBuilder {
            dir: dir.to_owned(),
            sites,
            limits: None,
            tls: true,
            store_url: None,
            lifetime_epsilon: oncofed_node::agent::DEFAULT_LIFETIME_EPSILON,
            tune_hub: Vec::new(),
            beacon: oncofed_node::agent::BeaconSite::default(),
        }
    }

    /// The trust centre's base URL.
    pub fn trustee_url(&self) -> &str {
        self.trustee.url()
    }

    /// The hub's base URL.
    pub fn hub_url(&self) -> &str {
        &self.hub.url
    }

    /// The hub token of a portal user: `researcher`, `researcher-2`, `admin`,
    /// `auditor`, `committee-1`, `committee-2`, or `site-admin-<site>` (one per
    /// site), as written to `DIR/tokens/<user>.token`.
    pub fn user_token(&self, user: &str) -> anyhow::Result<String> {
        let path = self.dir.join("tokens").join(format!("{user}.token"));
        let token = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("no token for {user} at {}: {e}", path.display()))?;
        Ok(token.trim().to_owned())
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

    /// `"postgresql"` or `"sqlite"`: where the stores with patient data live,
    /// for reports.
    pub fn store_kind(&self) -> &'static str {
        if self.store_url.is_some() {
            "postgresql"
        } else {
            "sqlite"
        }
    }

    /// Whether the sites' research stores and the trust centre's store are
    /// PostgreSQL databases.
    pub fn stores_in_postgres(&self) -> bool {
        self.store_url.is_some()
    }

    /// An auditor's client (token also in `DIR/auditor.token`).
    pub fn auditor(&self) -> HubClient {
        self.auditor.clone()
    }

    /// An anonymous client of the hub (no token: the public Beacon).
    pub fn anonymous(&self) -> anyhow::Result<HubClient> {
        let tls = client_tls(self.pki.as_deref(), None);
        Ok(HubClient::anonymous(&self.hub.url, &tls)?)
    }

    /// A researcher's client for the hub (token also in `DIR/researcher.token`).
    pub fn researcher(&self) -> HubClient {
        self.researcher.clone()
    }

    /// An admin's client for the hub (registering sites, approving projects).
    pub fn admin(&self) -> HubClient {
        self.admin.clone()
    }

    /// What a person's client (researcher, staff, patient browser) verifies
    /// servers against: the federation CA under TLS; no client certificate.
    pub fn people_tls(&self) -> ClientTls {
        client_tls(self.pki.as_deref(), None)
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
            self.trustee.url(),
            self.trustee.token(self.sites[i].as_str()),
            tls,
        )?)
    }

    /// A client for the trust centre's staff (admin token, no certificate):
    /// clerical review and admissions past a tombstone.
    pub fn trustee_staff(&self) -> anyhow::Result<LinkageClient> {
        Ok(LinkageClient::with_tls(
            self.trustee.url(),
            &self.trustee_staff_token,
            &self.people_tls(),
        )?)
    }

    /// Site `i`'s own trust-centre client (its token and certificate).
    pub fn trustee_client(&self, i: usize) -> anyhow::Result<TrusteeClient> {
        self.trustee_client_with(i, &self.site_tls(i))
    }

    /// The trust centre's data directory (`DIR/trustee`; site `S`'s token in `S.token`).
    pub fn trustee_dir(&self) -> &Path {
        self.trustee.dir()
    }

    /// Site `i`'s signing key (registered at the hub): it also signs the
    /// site's own audit trails, e.g. of deliveries.
    pub fn site_key(&self, i: usize) -> SigningKeyPair {
        self.site_keys[i].clone()
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
        let client = self.trustee_client(i)?;
        let report = oncofed_node::ingest(
            &store,
            &client,
            &[input.to_owned()],
            &IngestOptions::default(),
            &|_, _| {},
        )
        .await
        .with_context(|| format!("ingest at {}", self.sites[i]))?;
        let gate = Arc::new(ConsentGate::new(client, CONSENT_TTL));
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

    /// Site `i`'s agent configuration (its key, the hub's key, the roster).
    pub fn agent_config(&self, i: usize, poll_wait: u64) -> anyhow::Result<AgentConfig> {
        Ok(AgentConfig {
            site: self.sites[i].clone(),
            hub_url: self.hub.url.clone(),
            key: self.site_keys[i].clone(),
            hub_key: self.hub_key.public_key(),
            secret: SiteSecret::load_or_create(&self.node_dir(i).join("noise.secret"))?,
            poll_wait,
            roster: self.roster()?,
            secagg: oncofed_secagg::SitePolicy::default(),
            bounds: oncofed_node::agent::SiteBounds::DEFAULT,
            lifetime_epsilon: self.lifetime_epsilon,
        })
    }

    /// Registers site `i` at the hub with its key and starts its agent (long
    /// polls of `poll_wait` seconds) and its withdrawal poller.
    pub async fn connect_site(
        &mut self,
        i: usize,
        service: &QueryService,
        poll_wait: u64,
    ) -> anyhow::Result<()> {
        self.admin
            .register_site(self.sites[i].clone(), self.site_keys[i].public_key())
            .await?;
        let config = self.agent_config(i, poll_wait)?;
        let witness = oncofed_node::agent::AuditWitness::open(
            self.node_dir(i).join(oncofed_node::agent::WITNESS_FILE),
            config.hub_key,
        )?;
        // Cell images live in the node's image archive (as the demo's and the
        // CLI's ingest put them): the agent trains and scores on them.
        let archive =
            oncofed_node::imaging::ObjectArchive::local(&self.node_dir(i).join("images"))?;
        let agent = Agent::new(config, service.store(), service.gate())
            .with_tls(&self.site_tls(i))?
            .with_audit_witness(witness)
            .with_cell_archive(archive)
            .with_beacon(self.beacon.clone());
        let stopped = self.stop.stopped();
        self.tasks
            .push(tokio::spawn(async move { agent.run(stopped).await }));
        // The site's half of the withdrawal cascade: deletion orders from the trust centre.
        let poller = oncofed_node::withdrawal::WithdrawalPoller::new(
            self.trustee_client(i)?,
            service.store(),
            service.gate(),
        );
        let stopped = self.stop.stopped();
        self.tasks
            .push(tokio::spawn(async move { poller.run(stopped).await }));
        Ok(())
    }

    /// Exports the audit trail as the auditor and verifies it against the hub
    /// key and the checkpoints the sites' agents witnessed.
    pub async fn audit(&self) -> anyhow::Result<AuditReading> {
        let text = self.auditor.audit_export().await.context("audit export")?;
        let witnesses = (0..self.sites.len()).map(|i| {
            (
                self.sites[i].to_string(),
                self.node_dir(i).join(oncofed_node::agent::WITNESS_FILE),
            )
        });
        AuditReading::read(text, &self.hub_public_key(), witnesses)
    }

    /// Stops every service and agent and waits for them.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.stop.stop();
        for t in self.tasks {
            t.await?;
        }
        self.hub.shutdown().await?;
        self.trustee.shutdown().await?;
        Ok(())
    }
}
