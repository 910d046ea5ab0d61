//! The research hub: where researchers ask and sites answer.
//!
//! - Sites register by Ed25519 public key (their private key never leaves them;
//!   registration is an admin act, closed by default).
//! - Researchers, admins and auditors authenticate with bearer tokens and roles.
//! - A feasibility query becomes one task per site, sealed by the hub's key,
//!   persisted, and fetched by the sites themselves: hospitals allow only outbound
//!   HTTPS, so sites long-poll `GET /v1/site/tasks` and post sealed outcomes to
//!   `POST /v1/site/results` (plain HTTP requests, no websockets).
//! - Answers are aggregated under the hub's disclosure rules (`oncofed-privacy`):
//!   de-duplicated totals via mergeable sketches, suppression, rounding, per-site
//!   figures only with enough sites, per-user rate limits and weekly quotas.
//! - Every query, task, result and release is written to the hash-chained audit
//!   trail (`oncofed-audit`) with signed checkpoints.
//!
//! | method and path | who | body → answer |
//! |---|---|---|
//! | `GET /health` | anyone | `ok` |
//! | `GET /v1/hub/key` | anyone | the hub's public key (sites pin it) |
//! | `POST /v1/admin/sites` | admin | `RegisterSite` |
//! | `GET /v1/admin/sites` | admin | registered sites |
//! | `POST /v1/feasibility` | researcher | `FeasibilityRequest` → `FeasibilityResponse` |
//! | `GET /v1/feasibility/{id}` | the researcher who asked, auditors | `FeasibilityResponse` |
//! | `POST /v1/admin/projects`, `GET /v1/admin/projects` | admin (list: also auditors) | `Project` |
//! | `GET /v1/projects` | researcher | the caller's projects with ε spent |
//! | `POST /v1/analyses` | researcher in the project | `AnalysisRequest` → `AnalysisResponse` |
//! | `GET /v1/analyses/{id}?wait=S` | the researcher who asked, auditors | `AnalysisResponse` |
//! | `GET /v1/site/tasks?wait=S` | a site (signed request) | sealed `Task`s (long poll) |
//! | `POST /v1/site/results` | a site (signed request) | sealed `TaskOutcome` |
//! | `GET /v1/audit/export` | auditor | the audit trail as JSON Lines |
//! | `GET /beacon/v2/`, `/info`, `/configuration`, `/map`, `/entry_types`, `/filtering_terms` | anyone | Beacon v2.1.1 informational responses |
//! | `GET`, `POST /beacon/v2/g_variants` | anyone (boolean); researcher token (count); `?project=` approved for genetic or germline data (controlled) | Beacon v2.1.1 boolean or count response, or error |
//!
//! HTTP hardening, in one place:
//!
//! - every refusal is the JSON [`ApiError`] body, including bad JSON, a wrong
//!   content type, oversized bodies and malformed query strings (`json.rs`,
//!   `query.rs`); 429 and 503 carry `Retry-After`;
//! - routes that need a role check it before reading the body (role extractors
//!   in `auth`), so a wrong role gets 403 whatever it sends;
//! - researcher and admin bodies are limited to 64 KiB, site polls to 1 KiB,
//!   site results to 64 MiB;
//! - a signed site request is checked (headers, clock, site, length, replay,
//!   signature over the body digest it sends ahead) before its body is read,
//!   large bodies in flight share a byte budget, and a signature is accepted
//!   once (`site_request`, `replay`);
//! - feasibility queries and analysis runs each have a per-user rate limit and
//!   weekly quota ([`HubConfig::limits`], [`HubConfig::analysis_runs`]);
//! - the data directory is `0700`, its stores and secrets `0600`.

mod aggregate;
mod analysis;
mod auth;
pub mod config;
mod config_check;
mod db;
mod error;
mod json;
pub mod portal;
mod private_fs;
mod query;
mod replay;
mod routes;
mod site_request;

pub use config::{
    BeaconConfig, DEFAULT_DATASET_EPSILON, DEFAULT_RELEASE_EPSILON, HubConfig, Role, Users,
};
pub use error::ApiError;
pub use site_request::DIGEST_HEADER;

use axum::Router;
use oncofed_audit::AuditLog;
use oncofed_crypto::PublicKey;
use oncofed_privacy::RateLimiter;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Header naming the calling site.
pub const SITE_HEADER: &str = "x-oncofed-site";
/// Header with the request's Unix timestamp.
pub const TIMESTAMP_HEADER: &str = "x-oncofed-timestamp";
/// Header with the request signature (base64).
pub const SIGNATURE_HEADER: &str = "x-oncofed-signature";
/// How far a site's clock may be off.
pub const MAX_CLOCK_SKEW_SECS: u64 = 120;
/// Most signatures the hub remembers per site within the clock window (see
/// `replay.rs`): a site would need more than 17 signed requests a second,
/// sustained over four minutes, to reach it.
pub const REPLAY_MEMORY_PER_SITE: usize = 4096;

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The data directory could not be created.
    #[error("hub data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The hub store failed.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// The audit trail failed.
    #[error(transparent)]
    Audit(#[from] oncofed_audit::AuditError),
    /// The configuration cannot be used.
    #[error("hub configuration: {0}")]
    Config(String),
    /// The HTTP server failed.
    #[error("hub server: {0}")]
    Serve(std::io::Error),
    /// The listener is not allowed in the clear (see [`oncofed_tls::check_bind`]).
    #[error("hub: {0}")]
    Tls(#[from] oncofed_tls::TlsError),
}

/// Shared state of the running hub. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: HubConfig,
    db: db::Db,
    audit: AuditLog,
    sketch_secret: Vec<u8>,
    limiter: Mutex<RateLimiter>,
    analysis_limiter: Mutex<RateLimiter>,
    replay: Mutex<replay::ReplayCache>,
    body_budget: site_request::BodyBudget,
    /// Unix second at which this process opened the hub: the replay memory is
    /// not persisted, so site requests signed earlier are refused.
    started_unix: i64,
    site_keys: Mutex<HashMap<String, PublicKey>>,
    site_wakeups: Mutex<HashMap<String, Arc<Notify>>>,
    results: Notify,
    portal: portal::PortalState,
}

impl AppState {
    /// Opens the hub's store and audit trail in the configured data directory.
    /// Blocking: call it at start-up or from a blocking context.
    pub fn open(config: HubConfig) -> Result<Self, LaunchError> {
        config.validate().map_err(LaunchError::Config)?;
        let dir = &config.data_dir;
        let data_dir_err =
            |path: std::path::PathBuf| move |source| LaunchError::DataDir { path, source };
        private_fs::create_private_dir(dir).map_err(data_dir_err(dir.clone()))?;
        for file in ["hub.db", "audit.db"] {
            private_fs::create_private_file(&dir.join(file))
                .map_err(data_dir_err(dir.join(file)))?;
        }
        let db = db::Db::open(&dir.join("hub.db"))?;
        let audit = AuditLog::open(
            dir.join("audit.db"),
            config.key.clone(),
            oncofed_audit::DEFAULT_CHECKPOINT_EVERY,
        )?;
        let sketch_secret =
            load_or_create_secret(&dir.join("sketch.secret")).map_err(|source| {
                LaunchError::DataDir {
                    path: dir.join("sketch.secret"),
                    source,
                }
            })?;
        let limiter = load_limiter(&db, FEASIBILITY_LIMITER, config.limits)?;
        let analysis_limiter = load_limiter(&db, ANALYSIS_LIMITER, config.analysis_runs)?;
        let body_budget = site_request::BodyBudget::new(config.site_body_budget);
        let interrupted = db.fail_interrupted_analyses(chrono::Utc::now())?;
        if interrupted > 0 {
            tracing::warn!(
                runs = interrupted,
                "analysis runs interrupted by a restart were marked failed"
            );
        }
        let tls = config.tls.is_some();
        let mut site_keys = HashMap::new();
        for (site, key) in db.sites()? {
            if let Ok(k) = key.parse() {
                site_keys.insert(site, k);
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                db,
                audit,
                sketch_secret,
                limiter: Mutex::new(limiter),
                analysis_limiter: Mutex::new(analysis_limiter),
                replay: Mutex::new(replay::ReplayCache::new(
                    MAX_CLOCK_SKEW_SECS,
                    REPLAY_MEMORY_PER_SITE,
                )),
                body_budget,
                started_unix: chrono::Utc::now().timestamp(),
                site_keys: Mutex::new(site_keys),
                site_wakeups: Mutex::new(HashMap::new()),
                results: Notify::new(),
                portal: portal::PortalState::new(tls),
            }),
        })
    }

    /// The hub's public key: sites verify tasks with it, auditors the checkpoints.
    pub fn public_key(&self) -> PublicKey {
        self.inner.config.key.public_key()
    }

    /// The key sites hash research pseudonyms with for this query's sketches:
    /// HMAC(hub secret, the criteria's semantic key, `Criteria::semantic_key`).
    /// The same criteria, also reworded (reordered, nested, doubly negated), get the same key, so
    /// a repeated query yields the same sketches and the same released total (fresh
    /// keys would re-randomise the de-duplication estimate and let repetition average
    /// it out); different criteria get unrelated keys, so sketches of different
    /// queries cannot be compared register by register.
    pub(crate) fn sketch_key(&self, semantic_key: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.inner.sketch_secret)
            .expect("HMAC takes keys of any length");
        mac.update(b"oncofed-hub/sketch-key/v1\0");
        mac.update(semantic_key.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The registered public key of `site`, if it is registered.
    pub(crate) fn site_key(&self, site: &str) -> Option<PublicKey> {
        let keys = self
            .inner
            .site_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        keys.get(site).cloned()
    }

    /// The memory of site-request signatures seen within the clock window.
    pub(crate) fn replay(&self) -> std::sync::MutexGuard<'_, replay::ReplayCache> {
        self.inner.replay.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wakeup(&self, site: &str) -> Arc<Notify> {
        let mut map = self
            .inner
            .site_wakeups
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.entry(site.to_owned()).or_default().clone()
    }
}

/// Creates the hub's data directory owner-only (`0700`), for callers that put
/// files into it before [`AppState::open`] (the CLI writes the hub key there):
/// a directory created with the default umask would be world-readable.
pub fn create_data_dir(path: &std::path::Path) -> std::io::Result<()> {
    private_fs::create_private_dir(path)
}

/// Key of the persisted feasibility rate limiter in the budget table.
const FEASIBILITY_LIMITER: &str = "*";
/// Key of the persisted analysis-run rate limiter in the budget table.
pub(crate) const ANALYSIS_LIMITER: &str = "*analyses";

/// The persisted limiter under `key` with the configured `budget` (the
/// configuration wins over the persisted limits; the users' history is kept).
/// Unreadable persisted state starts afresh with a warning rather than
/// keeping the hub down.
fn load_limiter(
    db: &db::Db,
    key: &str,
    budget: oncofed_privacy::QueryBudget,
) -> Result<RateLimiter, LaunchError> {
    let invalid = |e: oncofed_privacy::ConfigError| {
        LaunchError::Config(format!(
            "rate limit {budget:?}: {e}; configure limits of at least 1"
        ))
    };
    let mut limiter = RateLimiter::new(budget).map_err(invalid)?;
    if let Some(state) = db.budget(key)? {
        match serde_json::from_str::<RateLimiter>(&state) {
            Ok(mut persisted) => {
                persisted.set_budget(budget).map_err(invalid)?;
                limiter = persisted;
            }
            Err(e) => {
                tracing::warn!(error = %e, "persisted rate-limit state unreadable; starting afresh")
            }
        }
    }
    Ok(limiter)
}

/// Reads a secret of at least 32 bytes, creating one (mode 0600) on first start.
/// Persisted so that answers stay the same across restarts.
fn load_or_create_secret(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.len() >= 32 => Ok(bytes),
        Ok(_) => Err(std::io::Error::other(
            "secret file is shorter than 32 bytes; restore it from the backup",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = rand::random::<[u8; 32]>().to_vec();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            std::io::Write::write_all(&mut options.open(path)?, &secret)?;
            Ok(secret)
        }
        Err(e) => Err(e),
    }
}

/// The hub's routes over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(routes::public::router())
        .merge(routes::admin::router())
        .merge(routes::feasibility::router())
        .merge(routes::analyses::router())
        .merge(routes::models::router())
        .merge(routes::swarm_runs::router())
        .merge(routes::site::router())
        .merge(routes::swarm::router())
        .merge(routes::audit::router())
        .merge(routes::beacon::router())
        .merge(portal::router())
        .fallback(|| async { ApiError::NotFound })
        // Researcher and admin bodies; the site routes read their own bodies
        // with per-route limits (`site_request.rs`), which this does not touch.
        .layer(axum::extract::DefaultBodyLimit::max(json::MAX_JSON_BODY))
        .layer(axum::middleware::from_fn(oncofed_web::secure_headers))
        .with_state(state)
}

/// Runs the hub on `listener` until `shutdown` completes.
pub async fn launch(
    config: HubConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LaunchError> {
    let state = tokio::task::spawn_blocking(move || AppState::open(config))
        .await
        .map_err(|e| LaunchError::Serve(std::io::Error::other(e.to_string())))??;
    serve(state, listener, shutdown).await
}

/// Runs the hub over already opened state (lets a caller keep a handle, e.g. for
/// its public key), with the state's TLS configuration. Refuses plain HTTP on a
/// non-loopback address unless the configuration allows it.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LaunchError> {
    let addr = listener.local_addr().map_err(LaunchError::Serve)?;
    let config = &state.inner.config;
    oncofed_tls::check_bind(addr, config.tls.is_some(), config.insecure_http)?;
    let listener = oncofed_tls::ServiceListener::new(listener, config.tls.as_ref())
        .map_err(LaunchError::Serve)?;
    tracing::info!(
        %addr,
        tls = listener.is_tls(),
        mutual_tls = config.tls.as_ref().is_some_and(|t| t.is_mutual()),
        "hub listening"
    );
    let edge = oncofed_service::Edge::new("hub");
    let queued = edge.gauge(
        "tasks_queued",
        "Feasibility tasks waiting for their site to fetch them",
    );
    let claimed = edge.gauge(
        "tasks_claimed",
        "Feasibility tasks a site has fetched and not answered",
    );
    let counts = state.clone();
    edge.on_scrape(move || match counts.inner.db.task_counts() {
        Ok((q, c)) => {
            queued.set(q as i64);
            claimed.set(c as i64);
        }
        Err(e) => tracing::warn!(error = %e, "task counts for /metrics"),
    });
    oncofed_tls::serve(listener, edge.wrap(router(state)), shutdown)
        .await
        .map_err(LaunchError::Serve)
}
