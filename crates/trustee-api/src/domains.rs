//! Pseudonym domains as a tree (root → site → project), each with its own
//! alphabet, length and check character, and batch pseudonymisation of arbitrary
//! identifiers (sample ids, study ids) in a domain.
//!
//! | method and path | body | answer | caller |
//! |---|---|---|---|
//! | `POST /v1/admin/domains` | [`DomainSpec`] | [`DomainInfo`] | staff |
//! | `GET /v1/admin/domains` | — | [`DomainList`] | staff |
//! | `POST /v1/domains/{name}/pseudonyms` | [`DomainPseudonymise`] | [`DomainPseudonyms`] | staff, or the site the domain (or an ancestor) is bound to |
//! | `POST /v1/domains/{name}/resolve` | [`DomainResolve`] | [`DomainResolved`] | staff |

use serde::{Deserialize, Serialize};

/// Most values per batch call on a domain.
pub const MAX_DOMAIN_BATCH: usize = 10_000;

/// The check character appended to a domain's pseudonyms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckDigit {
    /// No check character.
    None,
    /// Damm's algorithm (decimal alphabet only): detects every single error and
    /// every adjacent transposition.
    Damm,
    /// Verhoeff's dihedral-group algorithm (decimal alphabet only).
    Verhoeff,
    /// Luhn mod N over the domain's alphabet (N = alphabet size, even).
    LuhnModN,
}

/// A new domain. Settings left out are inherited from the parent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainSpec {
    /// The domain's name: 1–64 of `a-z 0-9 - . _`.
    pub name: String,
    /// The parent domain; `None` creates a root.
    #[serde(default)]
    pub parent: Option<String>,
    /// The site whose token may use this domain and its descendants.
    #[serde(default)]
    pub site: Option<String>,
    /// The characters of the pseudonyms (2–64 distinct printable ASCII characters).
    #[serde(default)]
    pub alphabet: Option<String>,
    /// Pseudonym length without the check character (4–64).
    #[serde(default)]
    pub length: Option<usize>,
    /// The check character.
    #[serde(default)]
    pub check: Option<CheckDigit>,
}

/// A domain as stored, with its effective settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainInfo {
    /// Its name.
    pub name: String,
    /// Its parent, if any.
    pub parent: Option<String>,
    /// Depth in the tree: 0 for a root, at most 2.
    pub depth: u8,
    /// The site bound to it or inherited from an ancestor.
    pub site: Option<String>,
    /// Alphabet.
    pub alphabet: String,
    /// Length without the check character.
    pub length: usize,
    /// Check character.
    pub check: CheckDigit,
}

/// Answer to `GET /v1/admin/domains`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainList {
    /// Every domain, parents before children.
    pub domains: Vec<DomainInfo>,
}

/// Values to pseudonymise in a domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainPseudonymise {
    /// The values (1–256 bytes each, at most [`MAX_DOMAIN_BATCH`]).
    pub values: Vec<String>,
}

/// The pseudonyms, in request order. The same value always gets the same pseudonym.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainPseudonyms {
    /// One per value.
    pub pseudonyms: Vec<String>,
}

/// Pseudonyms to resolve back to their values (staff only).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainResolve {
    /// The pseudonyms (at most [`MAX_DOMAIN_BATCH`]).
    pub pseudonyms: Vec<String>,
}

/// The values, in request order; `None` for unknown pseudonyms or a wrong check character.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainResolved {
    /// One per pseudonym.
    pub values: Vec<Option<String>>,
}
