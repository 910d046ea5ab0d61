//! Identifiers that cross crate boundaries: site ids and pseudonyms.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A site id must be 1–32 characters of `a-z`, `0-9` and `-`, starting with a letter.
    #[error("invalid site id: use 1-32 characters a-z, 0-9 or '-', starting with a letter")]
    SiteId,
    /// A pseudonym has the wrong length or characters outside its alphabet.
    #[error("invalid pseudonym: expected {expected} characters of the Crockford base-32 alphabet")]
    PseudonymFormat {
        /// Expected total length including the check character.
        expected: usize,
    },
    /// A pseudonym's check character does not match (typo or forgery).
    #[error("invalid pseudonym: check character does not match (mistyped?)")]
    PseudonymCheck,
}

/// The identifier of a participating institution (a site node), e.g. `uk-essen`.
///
/// Validated on construction so that it can be used in paths, SQL and pseudonym
/// domains without escaping.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SiteId(String);

impl SiteId {
    /// Parses and validates a site id.
    pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
        let s = s.into();
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(s))
        } else {
            Err(IdError::SiteId)
        }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SiteId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::new(s)
    }
}

impl From<SiteId> for String {
    fn from(s: SiteId) -> String {
        s.0
    }
}

impl FromStr for SiteId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::new(s)
    }
}

impl fmt::Display for SiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SiteId({})", self.0)
    }
}

/// The alphabet pseudonyms are written in: Crockford base 32 (no I, L, O, U), so
/// that a pseudonym read aloud or typed from paper is unambiguous.
pub struct PseudonymAlphabet;

impl PseudonymAlphabet {
    /// The 32 symbols, in value order.
    pub const SYMBOLS: &'static [u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    /// Number of payload characters in a pseudonym (16 × 5 = 80 bits).
    pub const PAYLOAD_LEN: usize = 16;

    fn value(c: u8) -> Option<usize> {
        Self::SYMBOLS.iter().position(|&s| s == c)
    }

    /// The Luhn mod N check character (N = 32) over `payload`.
    ///
    /// Luhn mod N detects every single-character substitution and most adjacent
    /// transpositions, the two typing errors that matter for pseudonyms.
    pub fn check_char(payload: &[u8]) -> Option<u8> {
        let n = Self::SYMBOLS.len();
        let mut factor = 2;
        let mut sum = 0;
        for &c in payload.iter().rev() {
            let mut addend = factor * Self::value(c)?;
            factor = if factor == 2 { 1 } else { 2 };
            addend = addend / n + addend % n;
            sum += addend;
        }
        let remainder = sum % n;
        Some(Self::SYMBOLS[(n - remainder) % n])
    }

    /// Encodes the first 80 bits of `bytes` as a payload of 16 symbols.
    pub fn encode_payload(bytes: &[u8; 10]) -> [u8; 16] {
        let mut acc: u128 = 0;
        for &b in bytes {
            acc = (acc << 8) | u128::from(b);
        }
        let mut out = [0u8; 16];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 5 * (15 - i);
            *slot = Self::SYMBOLS[((acc >> shift) & 31) as usize];
        }
        out
    }
}

/// A pseudonym: 16 Crockford base-32 characters plus a Luhn mod 32 check character.
///
/// Pseudonyms are issued only by the trust centre (keyed derivation whose key never
/// leaves it). Elsewhere they are opaque; constructing one from a string only checks
/// its form, so a mistyped pseudonym is rejected before it reaches a query.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pseudonym(String);

impl Pseudonym {
    /// Total length including the check character.
    pub const LEN: usize = PseudonymAlphabet::PAYLOAD_LEN + 1;

    /// Parses and validates a pseudonym (upper-casing it first).
    pub fn new(s: &str) -> Result<Self, IdError> {
        let s = s.to_ascii_uppercase();
        let bytes = s.as_bytes();
        let format = IdError::PseudonymFormat {
            expected: Self::LEN,
        };
        if bytes.len() != Self::LEN || !bytes.iter().all(|b| PseudonymAlphabet::SYMBOLS.contains(b))
        {
            return Err(format);
        }
        let (payload, check) = bytes.split_at(PseudonymAlphabet::PAYLOAD_LEN);
        if PseudonymAlphabet::check_char(payload) != Some(check[0]) {
            return Err(IdError::PseudonymCheck);
        }
        Ok(Self(s))
    }

    /// Builds a pseudonym from 80 bits of keyed-hash output (used by the trust centre).
    pub fn from_digest(bytes: &[u8; 10]) -> Self {
        let payload = PseudonymAlphabet::encode_payload(bytes);
        let check = PseudonymAlphabet::check_char(&payload).expect("payload uses the alphabet");
        let mut s = String::with_capacity(Self::LEN);
        s.extend(payload.iter().map(|&b| b as char));
        s.push(check as char);
        Self(s)
    }

    /// The pseudonym as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Pseudonym {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::new(&s)
    }
}

impl From<Pseudonym> for String {
    fn from(p: Pseudonym) -> String {
        p.0
    }
}

impl FromStr for Pseudonym {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::new(s)
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pseudonym({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn site_ids() {
        assert!(SiteId::new("uk-essen").is_ok());
        assert!(SiteId::new("site-1").is_ok());
        assert!(SiteId::new("").is_err());
        assert!(SiteId::new("1site").is_err());
        assert!(SiteId::new("Site").is_err());
        assert!(SiteId::new("a/b").is_err());
    }

    proptest! {
        #[test]
        fn pseudonym_round_trips(bytes in any::<[u8; 10]>()) {
            let p = Pseudonym::from_digest(&bytes);
            prop_assert_eq!(Pseudonym::new(p.as_str()).unwrap(), p);
        }

        #[test]
        fn single_substitution_is_detected(bytes in any::<[u8; 10]>(), pos in 0usize..17, delta in 1usize..32) {
            let p = Pseudonym::from_digest(&bytes);
            let mut chars: Vec<u8> = p.as_str().bytes().collect();
            let v = PseudonymAlphabet::SYMBOLS.iter().position(|&c| c == chars[pos]).unwrap();
            chars[pos] = PseudonymAlphabet::SYMBOLS[(v + delta) % 32];
            let typo = String::from_utf8(chars).unwrap();
            prop_assert!(Pseudonym::new(&typo).is_err());
        }

        #[test]
        fn parsing_never_panics(s in ".{0,40}") {
            let _ = Pseudonym::new(&s);
            let _ = SiteId::new(s);
        }
    }
}
