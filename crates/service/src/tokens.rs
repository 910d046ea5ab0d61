//! Bearer tokens, the same way in every service: read from the `Authorization`
//! header with the same rules, stored and compared only as SHA-256 digests, and
//! compared in constant time, so neither a log nor the timing of a refusal
//! tells how much of a guessed token was right.

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

/// Longest bearer token accepted; longer headers are refused before hashing.
pub const MAX_TOKEN_LEN: usize = 1024;

/// The SHA-256 of a bearer token: what a service keeps instead of the token.
#[derive(Clone, Copy)]
pub struct TokenDigest([u8; 32]);

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenDigest(<redacted>)")
    }
}

impl TokenDigest {
    /// The digest of `token`.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// A digest written as 64 hex digits (the users, sites and staff files).
    pub fn from_hex(hex_digits: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        (hex_digits.len() == 64 && hex::decode_to_slice(hex_digits, &mut out).is_ok())
            .then_some(Self(out))
    }

    /// As 64 lowercase hex digits, for the files `add-site`/`add-user` write.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A digest from its raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes (for map keys; compare with [`TokenDigest::matches`]).
    pub fn bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Whether two digests are equal, in time independent of where they differ.
    pub fn matches(&self, other: &TokenDigest) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
    }
}

/// A token whose digest is already registered: every holder needs its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("token hash listed twice: every holder needs its own token")]
pub struct DuplicateToken;

/// The holders of bearer tokens (sites, users, staff), known only by their
/// tokens' digests: the one registry every service and the CLI's
/// `add-site`/`add-user` checks go through.
///
/// A lookup compares the presented digest with *every* entry in constant time
/// and never stops early, so neither which entry matched nor how much of a
/// guessed token was right shows in the timing of an answer (a map keyed by
/// the digest would compare byte by byte along its search path).
#[derive(Clone)]
pub struct TokenRegistry<T> {
    entries: Vec<(T, TokenDigest)>,
}

impl<T> Default for TokenRegistry<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for TokenRegistry<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(holder, _)| holder))
            .finish()
    }
}

impl<T> TokenRegistry<T> {
    /// Adds `holder` with its token's digest; refuses a digest already present
    /// (two holders sharing a token could not be told apart).
    pub fn insert(&mut self, holder: T, digest: TokenDigest) -> Result<(), DuplicateToken> {
        if self.holder_of(&digest).is_some() {
            return Err(DuplicateToken);
        }
        self.entries.push((holder, digest));
        Ok(())
    }

    /// The holder of the token whose digest is `presented`, scanning every
    /// entry in constant time per entry.
    pub fn holder_of(&self, presented: &TokenDigest) -> Option<&T> {
        let mut found = None;
        for (holder, digest) in &self.entries {
            if digest.matches(presented) {
                found = Some(holder);
            }
        }
        found
    }

    /// Every holder, in the order added (for listing, never for matching).
    pub fn holders(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().map(|(holder, _)| holder)
    }

    /// Every digest, for checking that two registries (sites and staff, say)
    /// share no token; a caller's token is matched with [`Self::holder_of`].
    pub fn digests(&self) -> impl Iterator<Item = &TokenDigest> {
        self.entries.iter().map(|(_, digest)| digest)
    }

    /// How many holders are registered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nobody is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A new bearer token: 32 random bytes as 64 hex digits.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Writes `secret` (a token) and a newline to a new file readable only by its
/// owner; refuses a file that already exists.
pub fn write_secret(path: &std::path::Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "cannot create {} (it must not exist yet): {e}",
                path.display()
            ),
        )
    })?;
    writeln!(file, "{secret}")
}

/// The request's bearer token: `Authorization: Bearer <token>` (scheme in any
/// case), non-empty and at most [`MAX_TOKEN_LEN`] bytes; `None` otherwise.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= MAX_TOKEN_LEN)
        .then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_one_way_and_compared_as_digests() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        for (value, expected) in [
            ("Bearer abc", Some("abc")),
            ("bearer abc ", Some("abc")),
            ("Basic abc", None),
            ("Bearer ", None),
            ("Bearer", None),
        ] {
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            assert_eq!(bearer_token(&headers), expected, "{value:?}");
        }
        let long = format!("Bearer {}", "x".repeat(MAX_TOKEN_LEN + 1));
        headers.insert(header::AUTHORIZATION, long.parse().unwrap());
        assert_eq!(bearer_token(&headers), None);

        let d = TokenDigest::of("secret");
        assert!(d.matches(&TokenDigest::from_hex(&d.to_hex()).unwrap()));
        assert!(!d.matches(&TokenDigest::of("secreT")));
        assert!(TokenDigest::from_hex("abc").is_none());
        assert!(!format!("{d:?}").contains(&d.to_hex()));
    }

    #[test]
    fn a_registry_finds_holders_by_digest_and_refuses_a_shared_token() {
        let mut r = TokenRegistry::default();
        r.insert("site-a", TokenDigest::of("a")).unwrap();
        r.insert("site-b", TokenDigest::of("b")).unwrap();
        assert_eq!(
            r.insert("site-c", TokenDigest::of("a")),
            Err(DuplicateToken)
        );
        assert_eq!(r.holder_of(&TokenDigest::of("b")), Some(&"site-b"));
        assert_eq!(r.holder_of(&TokenDigest::of("c")), None);
        assert_eq!(r.len(), 2);
        assert_eq!(format!("{r:?}"), r#"["site-a", "site-b"]"#);
    }
}
