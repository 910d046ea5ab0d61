//! The consent feed: how a site node keeps a local, fresh snapshot of its
//! patients' consents instead of asking the trust centre per query.
//!
//! The trust centre numbers every change of a person's consent state (a
//! consent recorded by a site or by staff, a withdrawal, a person newly known
//! to a site, a linkage merge) with a monotonically increasing version. A site
//! polls `GET /v1/consent-feed?since=N&nonce=…` (outbound, site token, mutual TLS
//! like every site endpoint) and gets a [`SignedFeedPage`]: the entries after
//! version `N` that concern persons *it* holds, keyed by *its* pseudonyms, each
//! carrying the person's current consents in the engine's parsed form
//! ([`oncofed_consent::Consent`], identifiers stripped), signed with the trust
//! centre's Ed25519 key.
//!
//! [`FeedPage::verify`] is the node's side of the contract. A page is refused
//! when its signature does not verify under the pinned key, when it answers
//! another request (nonce: replay), when it starts before the node's version
//! (rollback) or after it (gap: entries would be skipped), or when its entries
//! are out of order. Every entry carries the person's *whole* current state,
//! so applying entries in order is idempotent and the trust centre may drop a
//! person's older entries.
//!
//! [`decide`] is the one mapping from consents to a wire answer, used by the
//! trust centre's `POST /v1/consents/check` and by the node's snapshot alike, so
//! both give the same answer to the same question.

use crate::ConsentDecision;
use chrono::NaiveDate;
use oncofed_consent::{Consent, Decision, DenyReason};
use oncofed_crypto::{PublicKey, SignedEnvelope};
use oncofed_model::{DataCategory, Pseudonym, Purpose, SiteId};
use serde::{Deserialize, Serialize};

/// Most entries in one page; a node asks again from the page's `through`.
pub const MAX_FEED_PAGE: usize = 1_000;

/// The `kind` every page carries, so that a signature the trust-centre key made
/// for anything else never passes as a feed page.
pub const FEED_PAGE_KIND: &str = "oncofed-consent-feed-page-v1";

/// A page of the feed as it travels: the JSON text of a [`FeedPage`] and the
/// trust centre's signature over it. Open it only with [`FeedPage::verify`].
pub type SignedFeedPage = SignedEnvelope;

/// Query string of `GET /v1/consent-feed`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedRequest {
    /// The version the node holds (0: none); the page starts after it.
    pub since: u64,
    /// A fresh random value the trust centre signs into the page, so that a
    /// recorded page cannot be replayed to the node later (16–64 characters of
    /// `[A-Za-z0-9_-]`).
    pub nonce: String,
    /// Entries wanted, at most [`MAX_FEED_PAGE`] (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl FeedRequest {
    /// Whether `nonce` has the accepted shape (checked by the trust centre).
    pub fn nonce_is_valid(nonce: &str) -> bool {
        (16..=64).contains(&nonce.len())
            && nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
}

/// One page of the feed for one site, as signed by the trust centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedPage {
    /// [`FEED_PAGE_KIND`].
    pub kind: String,
    /// [`oncofed_consent::MODEL_VERSION`] of the consents inside.
    pub model: u32,
    /// The site the page was issued to (the caller's token named it).
    pub site: SiteId,
    /// The nonce of the request it answers.
    pub nonce: String,
    /// The version the page starts after (the request's `since`).
    pub since: u64,
    /// The last version the page covers: the node's version once applied.
    /// Versions in `(since, through]` without an entry concern other sites.
    pub through: u64,
    /// The feed's newest version when the page was issued; `through < head`
    /// means more pages follow.
    pub head: u64,
    /// When the trust centre issued the page (seconds since the Unix epoch).
    pub issued_at: i64,
    /// The changes, in increasing version.
    pub entries: Vec<FeedEntry>,
}

/// The current consent state of one person, under the site's pseudonyms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedEntry {
    /// The change's version.
    pub version: u64,
    /// The person's pseudonyms in the receiving site's domain: usually one;
    /// more after a linkage merge joined two records the site holds.
    pub pseudonyms: Vec<Pseudonym>,
    /// The person's current (not superseded) consents, `Consent.id` removed;
    /// empty: known without any consent on record (the GDNG opt-out applies).
    /// `None`: the trust centre no longer knows the pseudonym (erased); the node
    /// forgets it and answers `DenyUnknown`.
    pub consents: Option<Vec<Consent>>,
}

/// Answer to `GET /v1/consent-feed/key`: the key pages are signed with (the
/// trust centre's audit key). A node should pin it from configuration
/// (`--trustee-key`); this route serves first-use pinning and operators.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedKey {
    /// The Ed25519 public key.
    pub public_key: PublicKey,
}

/// Why a node refused a page. Each means "keep the snapshot as it was".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// Not signed by the pinned trust-centre key, or altered after signing.
    #[error(
        "consent feed page refused: the signature does not verify under the pinned trust-centre key"
    )]
    BadSignature,
    /// Signed, but not a feed page of the kind and model version this build reads.
    #[error(
        "consent feed page refused: kind or consent model version {0} is not the one this build reads; upgrade the node or the trust centre"
    )]
    Incompatible(u32),
    /// The page answers another request (a replay) or was issued to another site.
    #[error("consent feed page refused: it answers another request or site (replayed)")]
    NotOurs,
    /// The page starts before the node's version: a rollback to an older state.
    #[error(
        "consent feed page refused: it starts at version {since}, before the snapshot's {held} (rollback)"
    )]
    Rollback {
        /// Where the page starts.
        since: u64,
        /// The version the node holds.
        held: u64,
    },
    /// The page starts after the node's version: entries would be skipped.
    #[error(
        "consent feed page refused: it starts at version {since}, after the snapshot's {held} (gap)"
    )]
    Gap {
        /// Where the page starts.
        since: u64,
        /// The version the node holds.
        held: u64,
    },
    /// Versions out of order or outside the page's range, or too many entries.
    #[error("consent feed page refused: {0}")]
    Malformed(&'static str),
}

impl FeedPage {
    /// Opens `page` after checking it, for a node at version `held` that asked
    /// with `nonce` as `site` (`None` before the node has learnt its site id):
    /// signature under `key` first, then kind and model, request, position, order.
    pub fn verify(
        page: &SignedFeedPage,
        key: &PublicKey,
        nonce: &str,
        site: Option<&SiteId>,
        held: u64,
    ) -> Result<FeedPage, FeedError> {
        // Parse only verified text; a payload that is not a page is refused alike.
        let page: FeedPage = page.open(key).map_err(|e| match e {
            oncofed_crypto::CryptoError::PayloadType { .. } => FeedError::Incompatible(0),
            _ => FeedError::BadSignature,
        })?;
        if page.kind != FEED_PAGE_KIND || page.model != oncofed_consent::MODEL_VERSION {
            return Err(FeedError::Incompatible(page.model));
        }
        if page.nonce != nonce || site.is_some_and(|s| *s != page.site) {
            return Err(FeedError::NotOurs);
        }
        if page.since < held {
            return Err(FeedError::Rollback {
                since: page.since,
                held,
            });
        }
        if page.since > held {
            return Err(FeedError::Gap {
                since: page.since,
                held,
            });
        }
        if page.through < page.since || page.head < page.through {
            return Err(FeedError::Malformed(
                "versions since ≤ through ≤ head do not hold",
            ));
        }
        if page.entries.len() > MAX_FEED_PAGE {
            return Err(FeedError::Malformed("more entries than a page holds"));
        }
        let mut last = page.since;
        for entry in &page.entries {
            if entry.version <= last || entry.version > page.through {
                return Err(FeedError::Malformed(
                    "entry versions not increasing within the page's range",
                ));
            }
            last = entry.version;
        }
        Ok(page)
    }
}

/// The wire answer for an engine decision: `Permit` stays `Permit`; a
/// withdrawal (full or partial) is `DenyWithdrawn`; an objection, refusal,
/// unreadable code or data outside every collection window is
/// `DenyObjection`; a missing opt-in is `DenyNoOptIn`.
pub fn to_wire(decision: Decision) -> ConsentDecision {
    match decision {
        Decision::Permit { .. } => ConsentDecision::Permit,
        Decision::Deny { reason, .. } => match reason {
            DenyReason::Withdrawn | DenyReason::PartiallyWithdrawn => {
                ConsentDecision::DenyWithdrawn
            }
            DenyReason::Objection
            | DenyReason::Refused
            | DenyReason::UnrecognisedCode
            | DenyReason::NotCollected => ConsentDecision::DenyObjection,
            DenyReason::NoOptIn => ConsentDecision::DenyNoOptIn,
        },
    }
}

/// The answer to one consent question, given the person's current consents
/// (`None`: a pseudonym the trust centre does not know, `DenyUnknown`): the
/// engine ([`oncofed_consent::evaluate_fact`] with a date of origin,
/// [`oncofed_consent::evaluate`] without) mapped by [`to_wire`]. The trust
/// centre's check and the node's snapshot both answer through this function.
pub fn decide(
    consents: Option<&[Consent]>,
    category: DataCategory,
    purpose: Purpose,
    date: NaiveDate,
    origin: Option<NaiveDate>,
) -> ConsentDecision {
    let Some(consents) = consents else {
        return ConsentDecision::DenyUnknown;
    };
    to_wire(match origin {
        Some(o) => oncofed_consent::evaluate_fact(consents, category, purpose, date, o),
        None => oncofed_consent::evaluate(consents, category, purpose, date),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oncofed_crypto::SigningKeyPair;

    fn page(since: u64, through: u64, versions: &[u64]) -> FeedPage {
        FeedPage {
            kind: FEED_PAGE_KIND.into(),
            model: oncofed_consent::MODEL_VERSION,
            site: SiteId::new("site-1").unwrap(),
            nonce: "n".repeat(16),
            since,
            through,
            head: through,
            issued_at: 0,
            entries: versions
                .iter()
                .map(|&version| FeedEntry {
                    version,
                    pseudonyms: vec![Pseudonym::from_digest(&[version as u8; 10])],
                    consents: Some(vec![]),
                })
                .collect(),
        }
    }

    fn check(p: &FeedPage, key: &SigningKeyPair, held: u64) -> Result<FeedPage, FeedError> {
        let signed = SignedEnvelope::seal(p, key).unwrap();
        FeedPage::verify(&signed, &key.public_key(), &"n".repeat(16), None, held)
    }

    #[test]
    fn pages_out_of_place_or_order_are_refused() {
        let key = SigningKeyPair::generate();
        assert!(check(&page(3, 9, &[4, 9]), &key, 3).is_ok());
        assert_eq!(
            check(&page(2, 9, &[4]), &key, 3),
            Err(FeedError::Rollback { since: 2, held: 3 })
        );
        assert_eq!(
            check(&page(4, 9, &[5]), &key, 3),
            Err(FeedError::Gap { since: 4, held: 3 })
        );
        for bad in [
            page(3, 9, &[5, 5]),
            page(3, 9, &[6, 5]),
            page(3, 9, &[10]),
            page(3, 2, &[]),
        ] {
            assert!(matches!(check(&bad, &key, 3), Err(FeedError::Malformed(_))));
        }
        let mut other_site = page(3, 9, &[]);
        other_site.site = SiteId::new("site-2").unwrap();
        let signed = SignedEnvelope::seal(&other_site, &key).unwrap();
        let site = SiteId::new("site-1").unwrap();
        assert_eq!(
            FeedPage::verify(&signed, &key.public_key(), &"n".repeat(16), Some(&site), 3),
            Err(FeedError::NotOurs)
        );
        let mut old_model = page(3, 9, &[]);
        old_model.model += 1;
        assert!(matches!(
            check(&old_model, &key, 3),
            Err(FeedError::Incompatible(_))
        ));
    }

    #[test]
    fn nonce_shape() {
        assert!(FeedRequest::nonce_is_valid("abcdefABCDEF0123_-"));
        assert!(!FeedRequest::nonce_is_valid("short"));
        assert!(!FeedRequest::nonce_is_valid(&"x".repeat(65)));
        assert!(!FeedRequest::nonce_is_valid("abcdefABCDEF0123&x"));
    }
}
