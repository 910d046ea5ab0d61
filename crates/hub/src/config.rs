//! The hub's validated configuration: data directory, signing key, users and roles,
//! timing, disclosure rules.

use oncofed_crypto::SigningKeyPair;
use oncofed_service::tokens::{DuplicateToken, TokenDigest, TokenRegistry};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Runs feasibility queries.
    Researcher,
    /// Registers sites.
    Admin,
    /// Reads the audit trail.
    Auditor,
    /// A member of the use-and-access committee: votes on applications in the
    /// portal (two distinct members approve an application).
    Committee,
    /// A site's administrator: checks applications for their site and reads
    /// their site's contribution ledger. The site comes from the users file
    /// (`site-admin:<site>`), see [`Users::site_of`].
    SiteAdmin,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "researcher" => Ok(Self::Researcher),
            "admin" => Ok(Self::Admin),
            "auditor" => Ok(Self::Auditor),
            "committee" => Ok(Self::Committee),
            "site-admin" => Ok(Self::SiteAdmin),
            _ => Err(format!(
                "unknown role '{s}': use researcher, admin, auditor, committee or site-admin:<site>"
            )),
        }
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line of the users file is wrong.
    #[error("{path}:{line}: {problem}; lines read `user-id role sha256-hex-of-token`")]
    UsersFile {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong (never the line's content).
        problem: String,
    },
}

/// The hub's users: (user id, role) by token digest, in the registry every
/// service uses (constant-time lookups). Tokens themselves are never stored.
#[derive(Clone, Default)]
pub struct Users {
    registry: TokenRegistry<(String, Role)>,
    sites: std::collections::BTreeMap<String, String>,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.registry.fmt(f)
    }
}

impl Users {
    /// Adds a user with the SHA-256 of their token; refuses a token another
    /// user already holds (the two could not be told apart).
    pub fn add(
        &mut self,
        user: impl Into<String>,
        role: Role,
        token_hash: [u8; 32],
    ) -> Result<(), DuplicateToken> {
        self.registry
            .insert((user.into(), role), TokenDigest::from_bytes(token_hash))
    }

    /// Adds a user by token (hashing it); see [`Users::add`].
    pub fn add_token(
        &mut self,
        user: impl Into<String>,
        role: Role,
        token: &str,
    ) -> Result<(), DuplicateToken> {
        self.add(user, role, TokenDigest::of(token).bytes())
    }

    /// Reads a users file: lines `user-id role sha256-hex`; `#` starts a comment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut users = Self::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |problem: String| ConfigError::UsersFile {
                path: path.to_owned(),
                line: i + 1,
                problem,
            };
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [user, role, hash] = fields[..] else {
                return Err(bad("expected three fields".into()));
            };
            let (role, site) = match role.split_once(':') {
                Some(("site-admin", site)) if !site.is_empty() => (Role::SiteAdmin, Some(site)),
                _ => (role.parse().map_err(bad)?, None),
            };
            if role == Role::SiteAdmin && site.is_none() {
                return Err(bad(
                    "a site admin's role reads `site-admin:<site-id>`".into()
                ));
            }
            let hash = TokenDigest::from_hex(&hash.to_ascii_lowercase())
                .ok_or_else(|| bad("the token hash must be 64 hexadecimal characters".into()))?;
            users
                .add(user, role, hash.bytes())
                .map_err(|e| bad(e.to_string()))?;
            if let Some(site) = site {
                users.sites.insert(user.to_owned(), site.to_owned());
            }
        }
        Ok(users)
    }

    /// Whether a user with this id is registered (the CLI's `add-user` refuses
    /// a second one).
    pub fn contains_user(&self, user: &str) -> bool {
        self.registry.holders().any(|(u, _)| u == user)
    }

    /// Makes `user` the administrator of `site` (their role must be
    /// [`Role::SiteAdmin`]); for tests and the demo, which build users in code.
    pub fn set_site(&mut self, user: impl Into<String>, site: impl Into<String>) {
        self.sites.insert(user.into(), site.into());
    }

    /// The site a site admin administers (`site-admin:<site>` in the users
    /// file); `None` for every other user.
    pub fn site_of(&self, user: &str) -> Option<&str> {
        self.sites.get(user).map(String::as_str)
    }

    /// The user presenting `token`, if any. Compares the token's digest with
    /// every user's in constant time, so neither the timing nor a log tells
    /// how much of a guessed token is right.
    pub fn authenticate(&self, token: &str) -> Option<(String, Role)> {
        self.registry.holder_of(&TokenDigest::of(token)).cloned()
    }
}

/// Default of [`HubConfig::dataset_epsilon_budget`]: the federation's lifetime ε.
pub const DEFAULT_DATASET_EPSILON: f64 = 3.0;

/// Default of [`HubConfig::default_release_epsilon`]: ten releases per project
/// budget of 1.0, thirty in the default dataset lifetime.
pub const DEFAULT_RELEASE_EPSILON: f64 = 0.1;

/// Everything the hub needs to run.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Directory of `hub.db` and `audit.db`.
    pub data_dir: PathBuf,
    /// The hub's signing key (tasks, audit checkpoints). Sites trust its public key.
    pub key: SigningKeyPair,
    /// Who may call the researcher, admin and audit endpoints.
    pub users: Users,
    /// How long a task is valid after it is issued.
    pub task_ttl: Duration,
    /// A claimed task without an answer after this long is handed out again.
    pub claim_timeout: Duration,
    /// How long a query waits for sites before its result is marked partial.
    pub query_deadline: Duration,
    /// Longest long-poll a site may ask for.
    pub max_poll: Duration,
    /// Disclosure rules applied to totals and per-site figures.
    pub disclosure: oncofed_privacy::HubDisclosure,
    /// Per-user rate limit and weekly quota of feasibility queries.
    pub limits: oncofed_privacy::QueryBudget,
    /// Per-user rate limit and weekly quota of analysis runs (`POST /v1/analyses`),
    /// separate from feasibility so one does not use up the other. Defaults: 10
    /// per minute (burst 10), 100 per rolling 7 days. A run occupies every site
    /// for a dozen round trips, so the minute limit bounds the load one
    /// researcher can put on the federation; each run without ε is a new release
    /// over a cohort the researcher chooses, so the weekly quota bounds
    /// differencing across cohorts the way the feasibility quota (50) does for
    /// counts. It is twice that because runs happen inside admin-approved
    /// projects with named researchers and release only aggregates that pass the
    /// DataSHIELD-style limits.
    pub analysis_runs: oncofed_privacy::QueryBudget,
    /// Bytes of large site bodies (above 64 KiB: analysis vectors) the hub holds
    /// at once, from all sites together; a post that does not fit is refused with
    /// 503 and `Retry-After`. At least one largest body (64 MiB) always fits.
    /// Default 256 MiB: four maximal analysis vectors, or a round of ten sites'
    /// typical (≤ 20 MB) vectors.
    pub site_body_budget: usize,
    /// Disclosure limits for analyses, indexed by security level − 1
    /// (defaults: [`oncofed_analysis::AnalysisLimits::for_level`]).
    pub analysis_limits: [oncofed_analysis::AnalysisLimits; 4],
    /// The federation's lifetime ε budget (the dataset ledger): every release
    /// with ε, of every project and researcher, is charged against it in
    /// addition to its project's budget, and refused past it whoever asks.
    /// Basic composition: a patient's total privacy loss from all DP releases
    /// is at most this. Default 3.0 (three projects' worth at the usual project
    /// budget of 1.0); it can only be raised by a deployment decision, and a
    /// raise is a new risk acceptance for every patient already in the data.
    pub dataset_epsilon_budget: f64,
    /// The ε of an analysis release whose request names none: its counts of
    /// people (rows, events, group sizes, histograms) are noised with it and it
    /// is charged to both budgets, so no release is free. `None` releases such
    /// requests with exact counts under the disclosure limits only (for
    /// exactness tests; not for deployments). Default
    /// [`DEFAULT_RELEASE_EPSILON`].
    pub default_release_epsilon: Option<f64>,
    /// How long one analysis step waits for the sites. A site that has not
    /// masked by then, before any sum of the run was revealed, leaves the run
    /// (it finishes on the others if enough remain; `crate::analysis`); a site
    /// late at any other step stops the run.
    pub analysis_step_timeout: Duration,
    /// How long admission (each site selecting its rows under consent) may take;
    /// sites that have not answered by then do not take part.
    pub analysis_admission_timeout: Duration,
    /// HTTPS for every connection (see [`oncofed_tls::ServerTls::load`]). With a
    /// client CA (mutual TLS), every site request must come over a connection
    /// whose verified certificate names the site that signed it
    /// (`urn:oncofed:site:<id>`); researchers and admins need no certificate.
    pub tls: Option<oncofed_tls::TlsAcceptor>,
    /// Allow plain HTTP on a non-loopback address (a TLS proxy in front);
    /// without it [`crate::serve`] refuses such a listener.
    pub insecure_http: bool,
    /// The federated Beacon v2 (`/beacon/v2/`, issue 16).
    pub beacon: BeaconConfig,
}

/// The federated Beacon v2: who it is, its defences, how long it waits.
#[derive(Debug, Clone)]
pub struct BeaconConfig {
    /// What `meta` and `/info` say (its `root_url` is the public base of
    /// `/beacon/v2`, used by `/map`).
    pub identity: oncofed_protocol::beacon::model::BeaconIdentity,
    /// Defences shipped to every site and applied at release (default: the
    /// level-3 defaults; sites refuse anything weaker than their floor).
    pub defences: oncofed_protocol::beacon::defence::DefenceConfig,
    /// How long a query waits for the sites (Beacon is interactive); sites that
    /// have not answered by then are left out and named in the answer's `info`.
    pub deadline: Duration,
}

impl Default for BeaconConfig {
    fn default() -> Self {
        use oncofed_protocol::beacon::model::{BeaconIdentity, Environment};
        Self {
            identity: BeaconIdentity {
                beacon_id: "org.oncofed.hub.beacon".into(),
                name: "OncoFed federated Beacon".into(),
                organization_id: "org.oncofed".into(),
                organization_name: "OncoFed research hub".into(),
                environment: Environment::Test,
                version: env!("CARGO_PKG_VERSION").into(),
                root_url: "https://localhost/beacon/v2".into(),
            },
            defences: oncofed_protocol::beacon::defence::DefenceConfig::for_level(
                oncofed_model::SecurityLevel::Genetic,
            ),
            deadline: Duration::from_secs(10),
        }
    }
}

impl HubConfig {
    /// A configuration with secure defaults: disclosure control on, limits on.
    pub fn new(data_dir: impl Into<PathBuf>, key: SigningKeyPair, users: Users) -> Self {
        Self {
            data_dir: data_dir.into(),
            key,
            users,
            task_ttl: Duration::from_secs(120),
            claim_timeout: Duration::from_secs(30),
            query_deadline: Duration::from_secs(20),
            max_poll: Duration::from_secs(25),
            disclosure: oncofed_privacy::HubDisclosure::default(),
            limits: oncofed_privacy::QueryBudget::default(),
            analysis_runs: oncofed_privacy::QueryBudget {
                per_minute: 10,
                per_week: 100,
            },
            site_body_budget: 256 << 20,
            analysis_limits: [
                oncofed_model::SecurityLevel::Aggregate,
                oncofed_model::SecurityLevel::Pseudonymised,
                oncofed_model::SecurityLevel::Genetic,
                oncofed_model::SecurityLevel::GeneticLinked,
            ]
            .map(oncofed_analysis::AnalysisLimits::for_level),
            dataset_epsilon_budget: DEFAULT_DATASET_EPSILON,
            default_release_epsilon: Some(DEFAULT_RELEASE_EPSILON),
            analysis_step_timeout: Duration::from_secs(60),
            analysis_admission_timeout: Duration::from_secs(600),
            tls: None,
            insecure_http: false,
            beacon: BeaconConfig::default(),
        }
    }
}
