//! The trust centre's validated configuration: where its store lives, the
//! pseudonym key, the closed list of registered sites and the admin token.
//!
//! Secrets come from files, never from the command line or the environment.
//! Tokens are never stored: only their SHA-256, which is enough because tokens are
//! long random strings (not passwords), so a hash cannot be reversed by guessing.

use oncofed_model::SiteId;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Smallest accepted pseudonym key, in bytes (256 bits).
pub const MIN_KEY_LEN: usize = 32;

/// Why the configuration cannot be used. Messages name files and lines, never secrets.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file holds fewer than [`MIN_KEY_LEN`] bytes.
    #[error(
        "{path}: pseudonym key has {len} bytes, at least {MIN_KEY_LEN} are needed; \
         restore the original key file (a new key changes every pseudonym)"
    )]
    KeyTooShort {
        /// The key file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
    /// The key file can be read by other users.
    #[error("{path}: pseudonym key is accessible to group or others; run `chmod 600` on it")]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
    },
    /// A line of the sites file is not `site-id sha256-hex`.
    #[error("{path}:{line}: {problem}")]
    SitesFile {
        /// The sites file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong (never the line's content).
        problem: &'static str,
    },
    /// No site is registered, so nobody could call the trust centre.
    #[error("no site is registered: add lines `site-id sha256-of-token` to the sites file")]
    NoSites,
    /// A token hash is not 64 hexadecimal characters.
    #[error(
        "{what}: expected the SHA-256 of the token as 64 hexadecimal characters (see `hash_token`)"
    )]
    TokenHash {
        /// Which hash (e.g. "admin token hash").
        what: &'static str,
    },
    /// The admin token is also a site's token.
    #[error("the admin token must differ from every site token")]
    AdminTokenReused,
    /// A staff token is also a site's token or the admin token.
    #[error("every staff member needs a token of their own, distinct from site and admin tokens")]
    StaffTokenReused,
    /// A line of the staff file is not `name:sha256-hex`.
    #[error("{path}:{line}: {problem}")]
    StaffFile {
        /// The staff file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong (never the line's content).
        problem: &'static str,
    },
}

/// Returns the SHA-256 of a bearer token as lowercase hex: the form the sites file
/// and the admin setting hold, so that a copy of the configuration reveals no token.
pub fn hash_token(token: &str) -> String {
    oncofed_service::tokens::TokenDigest::of(token).to_hex()
}

/// The secret key every pseudonym is derived from. It never leaves the trust centre.
///
/// Losing it (or the store) loses the link between patients and pseudonyms, so it is
/// backed up together with the store.
#[derive(Clone)]
pub struct PseudonymKey(Vec<u8>);

impl PseudonymKey {
    /// Wraps key material, refusing keys shorter than [`MIN_KEY_LEN`] bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() >= MIN_KEY_LEN).then_some(Self(bytes))
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(<redacted>)")
    }
}

/// Loads the pseudonym key from `path`, creating 32 random bytes there (mode 0600,
/// never overwriting) when the file does not exist yet.
///
/// Fails when the key is shorter than [`MIN_KEY_LEN`] bytes or, on Unix, readable by
/// group or others, so that a truncated or exposed key is noticed before it is used.
pub fn load_or_create_key(path: &Path) -> Result<PseudonymKey, ConfigError> {
    let io = |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            check_key_permissions(path)?;
            let len = bytes.len();
            PseudonymKey::from_bytes(bytes).ok_or(ConfigError::KeyTooShort {
                path: path.to_owned(),
                len,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; MIN_KEY_LEN] = rand::random();
            let mut file = create_private(path).map_err(io)?;
            file.write_all(&key)
                .and_then(|()| file.sync_all())
                .map_err(io)?;
            tracing::info!(path = %path.display(), "created a new pseudonym key");
            Ok(PseudonymKey(key.to_vec()))
        }
        Err(e) => Err(io(e)),
    }
}

/// Creates a new file readable only by its owner; fails if it exists (no race with
/// a concurrent creator, no overwriting of a key).
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(unix)]
fn check_key_permissions(path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(ConfigError::KeyPermissions {
            path: path.to_owned(),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_key_permissions(_path: &Path) -> Result<(), ConfigError> {
    Ok(())
}

pub(crate) use oncofed_service::tokens::TokenDigest;
use oncofed_service::tokens::TokenRegistry;

fn parse_digest(s: &str) -> Option<TokenDigest> {
    TokenDigest::from_hex(&s.trim().to_ascii_lowercase())
}

/// The closed list of sites allowed to call the trust centre, with their token hashes.
///
/// Registration is closed: there is no endpoint that adds a site; the operator adds a
/// line to the sites file and restarts the service.
#[derive(Clone)]
pub struct SiteRegistry {
    sites: TokenRegistry<SiteId>,
}

impl SiteRegistry {
    /// Reads a sites file: one `site-id sha256-hex-of-token` per line; blank lines and
    /// lines starting with `#` are ignored. Site ids and token hashes must be unique.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses the text of a sites file; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut sites = TokenRegistry::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |problem| ConfigError::SitesFile {
                path: path.to_owned(),
                line: i + 1,
                problem,
            };
            let mut parts = line.split_whitespace();
            let (Some(id), Some(hash), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(err("expected `site-id sha256-hex-of-token`"));
            };
            let id = SiteId::new(id).map_err(|_| {
                err("invalid site id: use 1-32 of a-z, 0-9, '-', starting with a letter")
            })?;
            let digest =
                parse_digest(hash).ok_or(err("token hash must be 64 hexadecimal characters"))?;
            if sites.holders().any(|s| *s == id) {
                return Err(err("site id listed twice"));
            }
            sites
                .insert(id, digest)
                .map_err(|_| err("token hash listed twice: every site needs its own token"))?;
        }
        Ok(Self { sites })
    }

    /// Builds a registry from `(site, sha256-hex-of-token)` pairs (tests, embedding).
    pub fn from_hashes<'a>(
        entries: impl IntoIterator<Item = (SiteId, &'a str)>,
    ) -> Result<Self, ConfigError> {
        let text: String = entries
            .into_iter()
            .map(|(s, h)| format!("{s} {h}\n"))
            .collect();
        Self::parse(&text, Path::new("<sites>"))
    }

    /// How many sites are registered.
    pub fn len(&self) -> usize {
        self.sites.len()
    }

    /// Whether no site is registered.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// The site whose token hashes to `digest` (every entry compared in
    /// constant time, see [`TokenRegistry::holder_of`]).
    pub(crate) fn site_for(&self, digest: &TokenDigest) -> Option<&SiteId> {
        self.sites.holder_of(digest)
    }

    /// Whether `site` is registered.
    pub fn contains_site(&self, site: &str) -> bool {
        self.sites.holders().any(|s| s.as_str() == site)
    }
}

impl fmt::Debug for SiteRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.sites.holders().map(SiteId::as_str))
            .finish()
    }
}

/// Named trust-centre staff and their token hashes, so that decisions needing two
/// distinct people (re-contact) know who is who.
///
/// Read from `<data_dir>/staff` at start when that file exists: one
/// `name:sha256-hex-of-token` per line, `#` comments. The admin token, when set,
/// acts as the staff member `admin`. Names are 1–64 of `a-z 0-9 - . _`.
#[derive(Clone, Default)]
pub struct StaffRegistry {
    staff: TokenRegistry<String>,
}

impl StaffRegistry {
    /// The staff file's name inside the data directory.
    pub const FILE: &'static str = "staff";

    /// Parses the text of a staff file; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut staff = TokenRegistry::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |problem| ConfigError::StaffFile {
                path: path.to_owned(),
                line: i + 1,
                problem,
            };
            let Some((name, hash)) = line.split_once(':') else {
                return Err(err("expected `name:sha256-hex-of-token`"));
            };
            let name = name.trim();
            let valid_name = (1..=64).contains(&name.len())
                && name.bytes().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.' | b'_')
                });
            if !valid_name || name == "admin" {
                return Err(err(
                    "invalid staff name: use 1-64 of a-z, 0-9, '-', '.', '_' (not `admin`)",
                ));
            }
            let digest =
                parse_digest(hash).ok_or(err("token hash must be 64 hexadecimal characters"))?;
            let listed_twice = || err("staff name or token hash listed twice");
            if staff.holders().any(|n: &String| n == name) {
                return Err(listed_twice());
            }
            staff
                .insert(name.to_owned(), digest)
                .map_err(|_| listed_twice())?;
        }
        Ok(Self { staff })
    }

    /// Reads `path` if it exists; an empty registry otherwise.
    pub fn load_if_exists(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Builds a registry from `(name, sha256-hex-of-token)` pairs (tests, embedding).
    pub fn from_hashes<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ConfigError> {
        let text: String = entries
            .into_iter()
            .map(|(n, h)| format!("{n}:{h}\n"))
            .collect();
        Self::parse(&text, Path::new("<staff>"))
    }

    /// How many staff members are registered.
    pub fn len(&self) -> usize {
        self.staff.len()
    }

    /// Whether nobody is registered.
    pub fn is_empty(&self) -> bool {
        self.staff.is_empty()
    }

    /// The staff member whose token hashes to `digest` (constant time per entry).
    pub(crate) fn name_for(&self, digest: &TokenDigest) -> Option<&str> {
        self.staff.holder_of(digest).map(String::as_str)
    }
}

impl fmt::Debug for StaffRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.staff.holders()).finish()
    }
}

/// Everything the trust centre needs to run, validated.
///
/// Build it with [`TrusteeConfig::new`] (or [`TrusteeConfig::from_files`]) and pass it
/// to [`crate::launch`]. `Debug` prints no secret.
#[derive(Clone)]
pub struct TrusteeConfig {
    pub(crate) data_dir: PathBuf,
    pub(crate) key: PseudonymKey,
    pub(crate) sites: SiteRegistry,
    pub(crate) admin: Option<TokenDigest>,
    pub(crate) staff: StaffRegistry,
    pub(crate) tls: Option<oncofed_tls::TlsAcceptor>,
    pub(crate) insecure_http: bool,
    /// PostgreSQL URL of the store; `None` for the SQLite file in `data_dir`.
    pub(crate) store_url: Option<String>,
    /// Key of the probabilistic blocking index; `None`: derived from `key`.
    pub(crate) linkage_key: Option<PseudonymKey>,
    /// How long a patient's one-time access code stays valid.
    pub(crate) access_code_validity: std::time::Duration,
    /// Whom patients can turn to, shown in the patients' portal.
    pub(crate) ombudsperson: Option<Ombudsperson>,
}

/// How long a one-time access code to the patients' portal is valid by default: 14 days.
pub const DEFAULT_ACCESS_CODE_VALIDITY: std::time::Duration =
    std::time::Duration::from_secs(14 * 24 * 3600);

/// The ombudsperson patients can turn to with questions or complaints about the
/// use of their data, shown on every page of the patients' portal. Without one,
/// the portal names the trust centre's data-protection officer through the
/// treating site and the supervisory authority (a general text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ombudsperson {
    /// Name or office, e.g. "Ombudsstelle der Treuhandstelle".
    pub name: String,
    /// Telephone number, as it should be dialled.
    pub phone: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Postal address, one line.
    pub address: Option<String>,
}

impl TrusteeConfig {
    /// The store file's name inside the data directory.
    pub const DB_FILE: &'static str = "trustee.db";

    /// Validates a configuration: at least one site must be registered.
    ///
    /// The data directory is created (mode 0700) at launch if it does not exist.
    pub fn new(
        data_dir: impl Into<PathBuf>,
        key: PseudonymKey,
        sites: SiteRegistry,
    ) -> Result<Self, ConfigError> {
        if sites.is_empty() {
            return Err(ConfigError::NoSites);
        }
        Ok(Self {
            data_dir: data_dir.into(),
            key,
            sites,
            admin: None,
            staff: StaffRegistry::default(),
            tls: None,
            insecure_http: false,
            store_url: None,
            linkage_key: None,
            access_code_validity: DEFAULT_ACCESS_CODE_VALIDITY,
            ombudsperson: None,
        })
    }

    /// Loads the key (creating it if missing, see [`load_or_create_key`]) and the
    /// sites file, as the command line does.
    pub fn from_files(
        data_dir: impl Into<PathBuf>,
        key_file: &Path,
        sites_file: &Path,
    ) -> Result<Self, ConfigError> {
        Self::new(
            data_dir,
            load_or_create_key(key_file)?,
            SiteRegistry::load(sites_file)?,
        )
    }

    /// The key derivations of this configuration: the pseudonym key, and the
    /// linkage key when one is configured.
    pub(crate) fn keys(&self) -> crate::keys::Keys {
        let keys = crate::keys::Keys::new(&self.key);
        match &self.linkage_key {
            Some(k) => keys.with_linkage_key(k),
            None => keys,
        }
    }

    /// Keys the probabilistic blocking index with the key in `path` (loaded, or
    /// created when missing, like the pseudonym key: 32 random bytes, mode 0600,
    /// refused when readable by others). Never stored in the database; the store
    /// keeps only its fingerprint and refuses another key.
    ///
    /// Without it the index key is derived from the pseudonym key
    /// (`HMAC(pseudonym key, "oncofed linkage index key v1")`): it is just as far
    /// from the database, but it cannot be rotated on its own, since a new
    /// pseudonym key would change every pseudonym. An installation that wants to
    /// rotate it gives it a file of its own (and runs `rotate-linkage-key` once to
    /// move from the derived key to the file).
    pub fn with_linkage_key_file(mut self, path: &Path) -> Result<Self, ConfigError> {
        self.linkage_key = Some(load_or_create_key(path)?);
        Ok(self)
    }

    /// Enables the admin endpoints for the token whose SHA-256 is `hash_hex`
    /// (see [`hash_token`]). Without it the admin endpoints refuse every caller.
    pub fn with_admin_token_hash(mut self, hash_hex: &str) -> Result<Self, ConfigError> {
        let digest = parse_digest(hash_hex).ok_or(ConfigError::TokenHash {
            what: "admin token hash",
        })?;
        if self.sites.site_for(&digest).is_some() {
            return Err(ConfigError::AdminTokenReused);
        }
        self.admin = Some(digest);
        Ok(self)
    }

    /// Registers named staff (see [`StaffRegistry`]); replaces `<data_dir>/staff`.
    /// Refuses a staff token that is also a site's token or the admin token.
    pub fn with_staff(mut self, staff: StaffRegistry) -> Result<Self, ConfigError> {
        let reused = |d: &TokenDigest| {
            self.sites.site_for(d).is_some() || self.admin.as_ref().is_some_and(|a| a.matches(d))
        };
        if staff.staff.digests().any(reused) {
            return Err(ConfigError::StaffTokenReused);
        }
        self.staff = staff;
        Ok(self)
    }

    /// Serves HTTPS with `tls` (see [`oncofed_tls::ServerTls::load`]). With a
    /// client CA (mutual TLS), every site request must come over a connection
    /// whose verified certificate names the site its token belongs to
    /// (`urn:oncofed:site:<id>`); staff and admin calls need no certificate.
    pub fn with_tls(mut self, tls: oncofed_tls::TlsAcceptor) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Whether the trust centre will serve HTTPS (a certificate was given).
    pub fn serves_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Allows plain HTTP on a non-loopback address (a TLS proxy in front).
    /// Without it [`crate::launch`] refuses such a listener.
    pub fn with_insecure_http(mut self, allow: bool) -> Self {
        self.insecure_http = allow;
        self
    }

    /// Keeps the store in the PostgreSQL database at `url`
    /// (`postgres://user[:password]@host:port/db`) instead of `<data_dir>/trustee.db`,
    /// for a federation whose identities outgrow one file. The server must be on
    /// this machine (loopback or Unix socket: no TLS to PostgreSQL in this build);
    /// the audit trail, its key and the staff file stay in the data directory.
    pub fn with_store_url(mut self, url: impl Into<String>) -> Self {
        self.store_url = Some(url.into());
        self
    }

    /// Sets how long one-time access codes to the patients' portal are valid
    /// (at most [`DEFAULT_ACCESS_CODE_VALIDITY`], 14 days: a longer-lived code
    /// on a letter is a longer-lived risk). Tests use zero to issue expired codes.
    pub fn with_access_code_validity(mut self, validity: std::time::Duration) -> Self {
        self.access_code_validity = validity.min(DEFAULT_ACCESS_CODE_VALIDITY);
        self
    }

    /// Names the ombudsperson the patients' portal shows.
    pub fn with_ombudsperson(mut self, ombudsperson: Ombudsperson) -> Self {
        self.ombudsperson = Some(ombudsperson);
        self
    }

    /// The PostgreSQL URL of the store, if it is not the SQLite file.
    pub fn store_url(&self) -> Option<&str> {
        self.store_url.as_deref()
    }

    /// The directory holding the store (SQLite), the audit trail and its key.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The store file, `<data_dir>/trustee.db`.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join(Self::DB_FILE)
    }
}

impl fmt::Debug for TrusteeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrusteeConfig")
            .field("data_dir", &self.data_dir)
            .field("key", &self.key)
            .field("sites", &self.sites)
            .field("admin", &self.admin.map(|_| "<redacted>"))
            .field("staff", &self.staff)
            .field("tls", &self.tls)
            .field(
                "store",
                &self
                    .store_url
                    .as_deref()
                    .map(|u| match oncofed_migrate::postgres::Target::parse(u, "") {
                        Ok(t) => t.described,
                        Err(_) => "<unparsable or remote PostgreSQL URL>".into(),
                    }),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests;
