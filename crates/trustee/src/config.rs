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

/// A SHA-256 digest of a token.
pub(crate) type TokenDigest = [u8; 32];

fn parse_digest(s: &str) -> Option<TokenDigest> {
    let mut out = [0u8; 32];
    (s.len() == 64 && hex::decode_to_slice(s, &mut out).is_ok()).then_some(out)
}

/// The closed list of sites allowed to call the trust centre, with their token hashes.
///
/// Registration is closed: there is no endpoint that adds a site; the operator adds a
/// line to the sites file and restarts the service.
#[derive(Clone)]
pub struct SiteRegistry {
    sites: Vec<(SiteId, TokenDigest)>,
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
        let mut sites: Vec<(SiteId, TokenDigest)> = Vec::new();
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
            let digest = parse_digest(&hash.to_ascii_lowercase())
                .ok_or(err("token hash must be 64 hexadecimal characters"))?;
            if sites.iter().any(|(s, _)| *s == id) {
                return Err(err("site id listed twice"));
            }
            if sites.iter().any(|(_, d)| *d == digest) {
                return Err(err(
                    "token hash listed twice: every site needs its own token",
                ));
            }
            sites.push((id, digest));
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

    /// The site whose token hashes to `digest`. Compares against every entry in
    /// constant time per entry, so response timing does not reveal partial matches.
    pub(crate) fn site_for(&self, digest: &TokenDigest) -> Option<&SiteId> {
        let mut found = None;
        for (site, d) in &self.sites {
            if constant_time_eq(d, digest) {
                found = Some(site);
            }
        }
        found
    }

    /// Whether `site` is registered.
    pub(crate) fn contains_site(&self, site: &str) -> bool {
        self.sites.iter().any(|(s, _)| s.as_str() == site)
    }

    fn contains_digest(&self, digest: &TokenDigest) -> bool {
        self.site_for(digest).is_some()
    }
}

impl fmt::Debug for SiteRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.sites.iter().map(|(s, _)| s.as_str()))
            .finish()
    }
}

/// Compares two digests without an early exit.
pub(crate) fn constant_time_eq(a: &TokenDigest, b: &TokenDigest) -> bool {
    use oncofed_service::tokens::TokenDigest as Digest;
    Digest::from_bytes(*a).matches(&Digest::from_bytes(*b))
}

/// Named trust-centre staff and their token hashes, so that decisions needing two
/// distinct people (re-contact) know who is who.
///
/// Read from `<data_dir>/staff` at start when that file exists: one
/// `name:sha256-hex-of-token` per line, `#` comments. The admin token, when set,
/// acts as the staff member `admin`. Names are 1–64 of `a-z 0-9 - . _`.
#[derive(Clone, Default)]
pub struct StaffRegistry {
    staff: Vec<(String, TokenDigest)>,
}

impl StaffRegistry {
    /// The staff file's name inside the data directory.
    pub const FILE: &'static str = "staff";

    /// Parses the text of a staff file; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut staff: Vec<(String, TokenDigest)> = Vec::new();
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
            let digest = parse_digest(&hash.trim().to_ascii_lowercase())
                .ok_or(err("token hash must be 64 hexadecimal characters"))?;
            if staff.iter().any(|(n, d)| n == name || *d == digest) {
                return Err(err("staff name or token hash listed twice"));
            }
            staff.push((name.to_owned(), digest));
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
        let mut found = None;
        for (name, d) in &self.staff {
            if constant_time_eq(d, digest) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

impl fmt::Debug for StaffRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.staff.iter().map(|(n, _)| n))
            .finish()
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

    /// Enables the admin endpoints for the token whose SHA-256 is `hash_hex`
    /// (see [`hash_token`]). Without it the admin endpoints refuse every caller.
    pub fn with_admin_token_hash(mut self, hash_hex: &str) -> Result<Self, ConfigError> {
        let digest =
            parse_digest(&hash_hex.trim().to_ascii_lowercase()).ok_or(ConfigError::TokenHash {
                what: "admin token hash",
            })?;
        if self.sites.contains_digest(&digest) {
            return Err(ConfigError::AdminTokenReused);
        }
        self.admin = Some(digest);
        Ok(self)
    }

    /// Registers named staff (see [`StaffRegistry`]); replaces `<data_dir>/staff`.
    /// Refuses a staff token that is also a site's token or the admin token.
    pub fn with_staff(mut self, staff: StaffRegistry) -> Result<Self, ConfigError> {
        for (_, d) in &staff.staff {
            if self.sites.contains_digest(d)
                || self.admin.as_ref().is_some_and(|a| constant_time_eq(a, d))
            {
                return Err(ConfigError::StaffTokenReused);
            }
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

    /// The directory holding the store.
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
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let k1 = load_or_create_key(&path).unwrap();
        let k2 = load_or_create_key(&path).unwrap();
        assert_eq!(k1.as_bytes(), k2.as_bytes());
        assert_eq!(k1.as_bytes().len(), MIN_KEY_LEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(format!("{k1:?}"), "PseudonymKey(<redacted>)");
    }

    #[test]
    fn short_or_exposed_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        create_private(&path)
            .unwrap()
            .write_all(&[1u8; 16])
            .unwrap();
        assert!(matches!(
            load_or_create_key(&path),
            Err(ConfigError::KeyTooShort { len: 16, .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(&path, [7u8; 32]).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                load_or_create_key(&path),
                Err(ConfigError::KeyPermissions { .. })
            ));
        }
    }

    #[test]
    fn sites_file_is_validated() {
        let h1 = hash_token("token-one");
        let h2 = hash_token("token-two");
        let p = Path::new("sites");
        let ok = SiteRegistry::parse(
            &format!("# sites\n\nuk-a {h1}\nuk-b  {}\n", h2.to_uppercase()),
            p,
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(
            ok.site_for(&parse_digest(&h2).unwrap()).unwrap().as_str(),
            "uk-b"
        );
        let line_of = |text: String| match SiteRegistry::parse(&text, p) {
            Err(ConfigError::SitesFile { line, .. }) => line,
            other => panic!("expected a sites-file error, got {other:?}"),
        };
        assert_eq!(line_of(format!("uk-a {h1}\nUK-B {h2}")), 2);
        assert_eq!(line_of(format!("uk-a {h1}\nuk-b {h1}")), 2);
        assert_eq!(line_of(format!("uk-a {h1}\nuk-a {h2}")), 2);
        assert_eq!(line_of("uk-a abc".into()), 1);
        assert_eq!(line_of(format!("uk-a {h1} extra")), 1);
        let msg = SiteRegistry::parse("uk-a secret-token-value", p)
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("secret-token-value"));
    }

    #[test]
    fn staff_file_is_validated() {
        let (a, b) = (hash_token("alice-token"), hash_token("bob-token"));
        let p = Path::new("staff");
        let ok = StaffRegistry::parse(
            &format!("# staff\n\nalice:{a}\nbob : {}\n", b.to_uppercase()),
            p,
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok.name_for(&parse_digest(&b).unwrap()), Some("bob"));
        assert_eq!(ok.name_for(&parse_digest(&hash_token("x")).unwrap()), None);
        let line_of = |text: String| match StaffRegistry::parse(&text, p) {
            Err(ConfigError::StaffFile { line, .. }) => line,
            other => panic!("expected a staff-file error, got {other:?}"),
        };
        assert_eq!(line_of(format!("alice:{a}\nadmin:{b}")), 2);
        assert_eq!(line_of(format!("alice:{a}\nalice:{b}")), 2);
        assert_eq!(line_of(format!("alice:{a}\nbob:{a}")), 2);
        assert_eq!(line_of(format!("Alice:{a}")), 1);
        assert_eq!(line_of(format!("alice {a}")), 1);
        let msg = StaffRegistry::parse("alice:secret-token-value", p)
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("secret-token-value"));
        // A staff token may not be a site's token or the admin token.
        let sites =
            SiteRegistry::from_hashes([(SiteId::new("uk-a").unwrap(), a.as_str())]).unwrap();
        let cfg = TrusteeConfig::new("d", PseudonymKey::from_bytes(vec![0; 32]).unwrap(), sites)
            .unwrap()
            .with_admin_token_hash(&b)
            .unwrap();
        for reused in [&a, &b] {
            let staff = StaffRegistry::from_hashes([("carol", reused.as_str())]).unwrap();
            assert!(matches!(
                cfg.clone().with_staff(staff),
                Err(ConfigError::StaffTokenReused)
            ));
        }
        assert!(format!("{ok:?}").contains("alice") && !format!("{ok:?}").contains(&a));
    }

    #[test]
    fn config_requires_sites_and_a_distinct_admin_token() {
        let key = PseudonymKey::from_bytes(vec![0; 32]).unwrap();
        let empty = SiteRegistry::parse("", Path::new("s")).unwrap();
        assert!(matches!(
            TrusteeConfig::new("d", key.clone(), empty),
            Err(ConfigError::NoSites)
        ));
        let sites =
            SiteRegistry::from_hashes([(SiteId::new("uk-a").unwrap(), hash_token("t").as_str())])
                .unwrap();
        let cfg = TrusteeConfig::new("d", key, sites).unwrap();
        assert!(matches!(
            cfg.clone().with_admin_token_hash(&hash_token("t")),
            Err(ConfigError::AdminTokenReused)
        ));
        assert!(matches!(
            cfg.clone().with_admin_token_hash("xyz"),
            Err(ConfigError::TokenHash { .. })
        ));
        let cfg = cfg.with_admin_token_hash(&hash_token("admin")).unwrap();
        let dbg = format!("{cfg:?}");
        assert!(dbg.contains("uk-a") && dbg.contains("redacted"));
        assert!(!dbg.contains(&hash_token("admin")) && !dbg.contains(&hash_token("t")));
    }
}
