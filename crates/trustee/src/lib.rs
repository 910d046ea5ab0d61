//! The trust centre (Treuhandstelle): keyed pseudonyms per domain, exact-match
//! linkage, and the consent registry, as an axum service with its own store: an
//! embedded SQLite file by default, or a PostgreSQL database
//! ([`TrusteeConfig::with_store_url`]; the same queries and one conformance suite
//! for both, see `db`).
//!
//! Sites send identifying data (IDAT) here and nowhere else, and get back a
//! pseudonym in their own domain and one in the cross-site research domain
//! (`oncofed-trustee-api` is the wire contract). The key the pseudonyms are
//! derived from never leaves this service; nor does IDAT, which is stored here
//! because the trust centre is where identities are held.
//!
//! | module | role |
//! |---|---|
//! | [`config`] | validated configuration, key and sites-file loading |
//! | [`consent`] | pure consent decisions and the FHIR Consent parser |
//! | `keys` | HMAC derivations of pseudonyms and linkage keys |
//! | `db` | the store on SQLite or PostgreSQL (`db::sql`: one set of queries for both): linkage, reverse table, consent registry, orders, erasure on withdrawal, migrations |
//! | `routes` | one module per HTTP resource; `auth` and `json` are its extractors |
//! | [`linkage`] | probabilistic linkage, clerical review, PPRL (`oncofed-linkage`): `/v1/admin/review`, `/v1/pprl/{project}/records`, `/v1/admin/pprl/{project}` |
//! | [`domains`] | pseudonym domain tree (root → site → project), check characters, batch derivation |
//! | `routes::deletions` | withdrawal cascade: deletion orders per site, receipts, sample-destruction orders |
//! | `routes::admissions` | staff admit one record a withdrawn person's tombstone refused, as a different person (`db::admissions`; tombstones in `keys::tombstones`, their Bloom filter in `db::tombstones`) |
//! | `routes::recontact` | re-contact requests: stated reason, two distinct staff, consent, treating site only |
//! | `routes::consent_feed` | the signed, versioned consent feed sites keep their snapshots with (`db::consent_feed`) |
//! | `patient_portal` | the patients' portal (`/patient`): one-time access codes, the person's consents and their use in plain language, opt-out, genetic opt-in, re-contact, withdrawal |
//! | `routes::patients` | access codes (staff, the treating site) and usage reports from sites (`db::access_codes`, `db::patients`) |
//!
//! Staff: the admin token acts as staff member `admin`; named staff tokens come from
//! `<data_dir>/staff` ([`StaffRegistry`]), so decisions needing two people know who is who.
//!
//! Endpoints: those of `oncofed-trustee-api`, plus `POST /v1/admin/consents`
//! ([`AdminConsentRequest`], admin token), `POST /v1/admin/admissions` (admin
//! token) and `GET /health`.
//!
//! Architecture invariants: no error body or log line carries IDAT, local ids or
//! tokens; registration is closed (sites come from the sites file only); a site
//! can only ask about pseudonyms of its own domain; a store opens only with the key
//! it was created with.

pub mod config;
pub mod consent;

mod auth;
mod db;
pub mod domains;
mod error;
mod extract;
mod json;
mod keys;
pub mod linkage;
mod patient_portal;
mod routes;

pub use config::{
    ConfigError, DEFAULT_ACCESS_CODE_VALIDITY, Ombudsperson, PseudonymKey, SiteRegistry,
    StaffRegistry, TrusteeConfig, hash_token, load_or_create_key,
};
pub use db::StoreError;
pub use error::ApiError;
pub use routes::admin::AdminConsentRequest;

use axum::Router;
use config::TokenDigest;
use std::future::Future;
use std::sync::Arc;

/// The schema version of a trust-centre store in the PostgreSQL database at
/// `url`, 0 when the database holds none (nothing is created or migrated). For
/// tools that must not reuse an earlier store: `oncofed demo` makes a new
/// pseudonym key every run, and a store refuses any key but its own. Blocking:
/// call it from a blocking thread.
pub fn postgres_store_version(url: &str) -> Result<i64, StoreError> {
    db::postgres::version_at(url)
}

/// Re-keys the probabilistic blocking index of the store `config` names (the
/// service must be stopped) from the configured linkage key (the key file of
/// [`TrusteeConfig::with_linkage_key_file`], or the key derived from the
/// pseudonym key) to the key in `new_key_file` (created if missing, mode 0600):
/// every record is re-indexed from its stored comparison record in one
/// transaction, and the store records the new key's fingerprint. Afterwards
/// the service must be started with `new_key_file` as its linkage key file; the
/// old key no longer opens the store. Returns the records re-indexed. Blocking.
pub fn rotate_linkage_key(
    config: &TrusteeConfig,
    new_key_file: &std::path::Path,
) -> Result<u64, LaunchError> {
    let old = config.keys();
    let new = keys::Keys::new(&config.key)
        .with_linkage_key(&config::load_or_create_key(new_key_file).map_err(LaunchError::Config)?);
    let db = match &config.store_url {
        Some(url) => db::Db::connect(url, &old.fingerprint())?,
        None => db::Db::open(&config.db_path(), &old.fingerprint())?,
    };
    db.prepare_linkage_index(&old)?;
    Ok(db.rotate_linkage_key(&old, &new)?)
}

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The data directory could not be created.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store could not be opened or migrated.
    #[error("trust-centre store: {0}")]
    Store(#[from] StoreError),
    /// The audit trail or its signing key could not be opened.
    #[error("trust-centre audit trail: {0}")]
    Audit(String),
    /// A configuration file read at start (the staff file) is invalid.
    #[error("trust-centre configuration: {0}")]
    Config(ConfigError),
    /// The HTTP server failed.
    #[error("trust-centre server: {0}")]
    Serve(std::io::Error),
    /// The listener is not allowed in the clear (see [`oncofed_tls::check_bind`]).
    #[error("trust centre: {0}")]
    Tls(#[from] oncofed_tls::TlsError),
}

/// Shared state of the running service: the store, the key and the site registry.
///
/// Cheap to clone. Build it with [`AppState::open`] and pass it to [`router`].
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: db::Db,
    /// Hash-chained, checkpoint-signed record of every trust-centre decision
    /// (consents recorded by staff, reviews, withdrawals, re-contacts).
    audit: oncofed_audit::AuditLog,
    /// The audit key again, signing consent-feed pages (under their own kind).
    feed_key: oncofed_crypto::SigningKeyPair,
    keys: keys::Keys,
    sites: SiteRegistry,
    admin: Option<TokenDigest>,
    /// Named staff (`<data_dir>/staff` or [`TrusteeConfig::with_staff`]).
    staff: config::StaffRegistry,
    /// Keys of the pseudonym domains (`POST /v1/domains/{name}/pseudonyms`).
    domain_keys: domains::DomainKeys,
    /// Mutual TLS is on: a site request must come with a certificate naming it.
    site_certificates: bool,
    /// The patients' portal: sessions, sign-in throttle, its settings.
    portal: patient_portal::PortalState,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("sites", &self.inner.sites)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Creates the data directory (mode 0700) if needed and opens the store,
    /// applying migrations. Refuses a store created with another key
    /// ([`StoreError::KeyMismatch`]). Blocking: call it from a blocking context or at start-up.
    pub fn open(config: TrusteeConfig) -> Result<Self, LaunchError> {
        create_private_dir(&config.data_dir)?;
        let keys = config.keys();
        let db = match &config.store_url {
            Some(url) => db::Db::connect(url, &keys.fingerprint())?,
            None => db::Db::open(&config.db_path(), &keys.fingerprint())?,
        };
        db.prepare_linkage_index(&keys)?;
        let audit_key =
            oncofed_crypto::SigningKeyPair::load_or_create(config.data_dir.join("audit.key"))
                .map_err(|e| LaunchError::Audit(e.to_string()))?;
        let feed_key = audit_key.clone();
        let audit = oncofed_audit::AuditLog::open(
            config.data_dir.join("audit.db"),
            audit_key,
            oncofed_audit::DEFAULT_CHECKPOINT_EVERY,
        )
        .map_err(|e| LaunchError::Audit(e.to_string()))?;
        let staff = if config.staff.is_empty() {
            let path = config.data_dir.join(config::StaffRegistry::FILE);
            config::StaffRegistry::load_if_exists(&path).map_err(LaunchError::Config)?
        } else {
            config.staff
        };
        let domain_keys = domains::DomainKeys::new(&config.key);
        let site_certificates = config.tls.as_ref().is_some_and(|t| t.is_mutual());
        let portal = patient_portal::PortalState::new(
            config.tls.is_some(),
            config.access_code_validity,
            config.ombudsperson.clone(),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                audit,
                feed_key,
                keys,
                staff,
                domain_keys,
                sites: config.sites,
                admin: config.admin,
                site_certificates,
                portal,
            }),
        })
    }
}

fn create_private_dir(path: &std::path::Path) -> Result<(), LaunchError> {
    let err = |source| LaunchError::DataDir {
        path: path.to_owned(),
        source,
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(err)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "data directory is accessible to group or others; it holds identities: chmod 700");
        }
    }
    Ok(())
}

/// The service's routes over `state`: every endpoint of the trust-centre API, the
/// admin endpoint and `/health`; unknown paths answer `404 not_found`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(routes::pseudonyms::router())
        .merge(routes::consents::router())
        .merge(routes::consent_feed::router())
        .merge(routes::admin::router())
        .merge(routes::admissions::router())
        .merge(routes::audit::router())
        .merge(routes::health::router())
        .merge(routes::deletions::router())
        .merge(routes::recontact::router())
        .merge(routes::domains::router())
        .merge(routes::review::router())
        .merge(routes::pprl::router())
        .merge(routes::patients::router())
        .merge(patient_portal::router())
        .fallback(|| async { ApiError::NotFound })
        .with_state(state)
}

/// Runs the trust centre on `listener` until `shutdown` completes, then finishes
/// the requests in flight and returns.
///
/// The bind address is the caller's choice (the CLI defaults to 127.0.0.1); tests
/// bind `127.0.0.1:0` and read the port from the listener.
pub async fn launch(
    config: TrusteeConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LaunchError> {
    let addr = listener.local_addr().map_err(LaunchError::Serve)?;
    oncofed_tls::check_bind(addr, config.tls.is_some(), config.insecure_http)?;
    let tls = config.tls.clone();
    let sites = config.sites.len();
    let state = tokio::task::spawn_blocking(move || AppState::open(config))
        .await
        .map_err(|e| LaunchError::Serve(std::io::Error::other(e.to_string())))??;
    let listener =
        oncofed_tls::ServiceListener::new(listener, tls.as_ref()).map_err(LaunchError::Serve)?;
    tracing::info!(
        %addr,
        sites,
        tls = listener.is_tls(),
        mutual_tls = state.inner.site_certificates,
        "trust centre listening"
    );
    let edge = oncofed_service::Edge::new("trustee");
    oncofed_tls::serve(listener, edge.wrap(router(state)), shutdown)
        .await
        .map_err(LaunchError::Serve)?;
    tracing::info!("trust centre stopped");
    Ok(())
}
