//! A trust centre for tests and local runs, with its sites' tokens.

use crate::service::{Running, StopSwitch};
use oncofed_model::SiteId;
use oncofed_service::tokens::new_token;
use oncofed_trustee::{
    LaunchError, PseudonymKey, SiteRegistry, TrusteeConfig, hash_token, load_or_create_key,
};
use oncofed_trustee_api::TrusteeClient;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Creates the trust centre's PostgreSQL database if missing and refuses one
/// that holds a store already.
async fn prepare_postgres_store(url: &str) -> anyhow::Result<()> {
    oncofed_node::create_postgres_database(url).await?;
    let owned = url.to_owned();
    let version =
        tokio::task::spawn_blocking(move || oncofed_trustee::postgres_store_version(&owned))
            .await??;
    anyhow::ensure!(
        version == 0,
        "the PostgreSQL database of the trust centre already holds a trust-centre store; a new federation needs an empty or missing database: drop it or put another name in --store-url"
    );
    Ok(())
}

/// How to start a [`TrustCentre`]; see [`TrustCentre::builder`].
#[derive(Default)]
pub struct TrustCentreBuilder {
    dir: Option<PathBuf>,
    sites: Vec<(SiteId, String)>,
    key: Option<PseudonymKey>,
    admin_token: Option<String>,
    tls: Option<oncofed_tls::TlsAcceptor>,
    client_tls: oncofed_tls::ClientTls,
    stop: Option<StopSwitch>,
    store_url: Option<String>,
}

impl TrustCentreBuilder {
    /// Keeps the store in the PostgreSQL database at `url`, created if
    /// missing and required empty (a run's pseudonym key is new, and another
    /// run's persons must not mix with this one's); SQLite in the data
    /// directory otherwise.
    pub fn store_url(mut self, url: String) -> Self {
        self.store_url = Some(url);
        self
    }

    /// Sites `site-1` … `site-n`, each with a fresh random token.
    pub fn sites(mut self, n: u32) -> Self {
        for k in 1..=n {
            self.sites
                .push((oncofed_synth::SynthConfig::site_id(k), new_token()));
        }
        self
    }

    /// One more site with bearer token `token`.
    pub fn site(mut self, site: &str, token: &str) -> Self {
        let site = SiteId::new(site).expect("valid site id");
        self.sites.push((site, token.to_owned()));
        self
    }

    /// The sites and their tokens.
    pub fn site_tokens(mut self, tokens: impl IntoIterator<Item = (SiteId, String)>) -> Self {
        self.sites.extend(tokens);
        self
    }

    /// The data directory (the store, and `pseudonym.key` unless a key is
    /// given); a temporary folder, removed with the trust centre, if not set.
    pub fn dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_owned());
        self
    }

    /// The pseudonym key `[byte; 32]` (pseudonyms repeatable across runs);
    /// otherwise a random key kept in `DIR/pseudonym.key`.
    pub fn pseudonym_key(mut self, byte: u8) -> Self {
        self.key = Some(PseudonymKey::from_bytes(vec![byte; 32]).expect("32-byte key"));
        self
    }

    /// The admin's bearer token (recontact, linkage review, audit export).
    pub fn admin_token(mut self, token: &str) -> Self {
        self.admin_token = Some(token.to_owned());
        self
    }

    /// Serves HTTPS with `acceptor`; clients made by [`TrustCentre::client`]
    /// use `client` (the CA to trust; the site's certificate is up to the caller).
    pub fn tls(
        mut self,
        acceptor: oncofed_tls::TlsAcceptor,
        client: oncofed_tls::ClientTls,
    ) -> Self {
        self.tls = Some(acceptor);
        self.client_tls = client;
        self
    }

    /// Stops with `stop` (shared with the rest of a federation) as well as on drop.
    pub fn stop_with(mut self, stop: StopSwitch) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Launches the trust centre on `127.0.0.1:0`.
    pub async fn start(self) -> anyhow::Result<TrustCentre> {
        let (temp, dir) = match self.dir {
            Some(dir) => (None, dir),
            None => {
                let temp = tempfile::tempdir()?;
                let dir = temp.path().to_owned();
                (Some(temp), dir)
            }
        };
        std::fs::create_dir_all(&dir)?;
        let hashes: Vec<(SiteId, String)> = self
            .sites
            .iter()
            .map(|(s, t)| (s.clone(), hash_token(t)))
            .collect();
        let registry =
            SiteRegistry::from_hashes(hashes.iter().map(|(s, h)| (s.clone(), h.as_str())))?;
        let key = match self.key {
            Some(key) => key,
            None => load_or_create_key(&dir.join("pseudonym.key"))?,
        };
        let mut config = TrusteeConfig::new(dir.join("store"), key, registry)?;
        if let Some(admin) = &self.admin_token {
            config = config.with_admin_token_hash(&hash_token(admin))?;
        }
        if let Some(url) = self.store_url {
            prepare_postgres_store(&url).await?;
            config = config.with_store_url(url);
        }
        if let Some(tls) = self.tls {
            config = config.with_tls(tls);
        }
        let running = crate::service::trustee(config, self.stop.unwrap_or_default()).await?;
        Ok(TrustCentre {
            running,
            tokens: self.sites.into_iter().collect(),
            client_tls: self.client_tls,
            dir,
            _temp: temp,
        })
    }
}

/// A running trust centre (stops when dropped, or with [`TrustCentre::shutdown`]).
pub struct TrustCentre {
    running: Running<LaunchError>,
    tokens: BTreeMap<SiteId, String>,
    client_tls: oncofed_tls::ClientTls,
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl TrustCentre {
    /// A builder: no sites, a random key, plain HTTP, a temporary folder.
    pub fn builder() -> TrustCentreBuilder {
        TrustCentreBuilder::default()
    }

    /// Sites `site-1` … `site-n` with random tokens, everything else default.
    pub async fn with_sites(n: u32) -> Self {
        Self::builder()
            .sites(n)
            .start()
            .await
            .expect("trust centre started")
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.running.url
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Site `site`'s bearer token.
    pub fn token(&self, site: &str) -> &str {
        self.tokens
            .iter()
            .find(|(s, _)| s.as_str() == site)
            .map(|(_, t)| t.as_str())
            .unwrap_or_else(|| panic!("{site} is not registered at this trust centre"))
    }

    /// The sites and their tokens, in site order.
    pub fn tokens(&self) -> &BTreeMap<SiteId, String> {
        &self.tokens
    }

    /// A client of `site` (with the TLS settings given to the builder).
    pub fn client(&self, site: &str) -> TrusteeClient {
        self.client_via(self.url(), site)
    }

    /// A client of `site` talking to `url` (e.g. a proxy in front of this trust centre).
    pub fn client_via(&self, url: &str, site: &str) -> TrusteeClient {
        TrusteeClient::with_tls(url, self.token(site), &self.client_tls)
            .expect("trust-centre client")
    }

    /// Stops the trust centre and waits until its port is closed.
    pub async fn shutdown(self) -> Result<(), LaunchError> {
        self.running.shutdown().await
    }
}
