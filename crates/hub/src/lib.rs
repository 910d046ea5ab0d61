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
//! | `GET /v1/site/tasks?wait=S` | a site (signed request) | sealed `Task`s (long poll) |
//! | `POST /v1/site/results` | a site (signed request) | sealed `TaskOutcome` |
//! | `GET /v1/audit/export` | auditor | the audit trail as JSON Lines |

mod aggregate;
mod analysis;
mod auth;
pub mod client;
pub mod config;
mod db;
mod error;
mod routes;

pub use config::{HubConfig, Role, Users};
pub use error::ApiError;

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
    /// The HTTP server failed.
    #[error("hub server: {0}")]
    Serve(std::io::Error),
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
    site_keys: Mutex<HashMap<String, PublicKey>>,
    site_wakeups: Mutex<HashMap<String, Arc<Notify>>>,
    results: Notify,
}

impl AppState {
    /// Opens the hub's store and audit trail in the configured data directory.
    /// Blocking: call it at start-up or from a blocking context.
    pub fn open(config: HubConfig) -> Result<Self, LaunchError> {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir).map_err(|source| LaunchError::DataDir {
            path: dir.clone(),
            source,
        })?;
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
        let limiter = match db.budget("*")? {
            Some(state) => serde_json::from_str(&state)
                .unwrap_or_else(|_| RateLimiter::new(config.limits).expect("validated")),
            None => RateLimiter::new(config.limits)
                .map_err(|e| LaunchError::Serve(std::io::Error::other(e.to_string())))?,
        };
        let interrupted = db.fail_interrupted_analyses(chrono::Utc::now())?;
        if interrupted > 0 {
            tracing::warn!(
                runs = interrupted,
                "analysis runs interrupted by a restart were marked failed"
            );
        }
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
                site_keys: Mutex::new(site_keys),
                site_wakeups: Mutex::new(HashMap::new()),
                results: Notify::new(),
            }),
        })
    }

    /// The hub's public key: sites verify tasks with it, auditors the checkpoints.
    pub fn public_key(&self) -> PublicKey {
        self.inner.config.key.public_key()
    }

    /// The key sites hash research pseudonyms with for this query's sketches:
    /// HMAC(hub secret, canonical criteria). The same criteria get the same key, so
    /// a repeated query yields the same sketches and the same released total (fresh
    /// keys would re-randomise the de-duplication estimate and let repetition average
    /// it out); different criteria get unrelated keys, so sketches of different
    /// queries cannot be compared register by register.
    pub(crate) fn sketch_key(&self, canonical_criteria: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.inner.sketch_secret)
            .expect("HMAC takes keys of any length");
        mac.update(b"oncofed-hub/sketch-key/v1\0");
        mac.update(canonical_criteria.as_bytes());
        hex::encode(mac.finalize().into_bytes())
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
        .merge(routes::site::router())
        .merge(routes::audit::router())
        .fallback(|| async { ApiError::NotFound })
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

/// Runs the hub over already opened state (lets a caller keep a handle, e.g. for its public key).
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LaunchError> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "hub listening");
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(LaunchError::Serve)
}
