//! Keyed derivations: pseudonyms per domain and the blocking keys linkage looks up.
//!
//! Everything here is HMAC-SHA256 (RFC 2104) under secrets that never leave the
//! trust centre, so nobody without the key can compute a pseudonym from a person id
//! or test a guessed name against the stored blocking keys.
//!
//! - site domain: `HMAC(key, "site\0" ‖ site_id ‖ "\0" ‖ person_id)`
//! - research domain: `HMAC(key, "research\0" ‖ person_id)`
//! - date offset: `HMAC(key, "date offset\0" ‖ person_id)`, reduced to 1–730 days back
//!
//! with `person_id` the person's 16 random bytes; the first 10 bytes of the MAC become the
//! pseudonym ([`Pseudonym::from_digest`]). Site ids cannot contain NUL, so the
//! inputs of different domains never collide. Blocking keys use a separate key
//! derived as `HMAC(key, "oncofed blocking key v1")`, so that a blocking key can
//! never equal a pseudonym's MAC.

use hmac::{Hmac, Mac};
use oncofed_idat::IdentifyingData;
use oncofed_model::{Pseudonym, SiteId};
use oncofed_trustee_api::PseudonymPair;
use sha2::Sha256;

use crate::config::PseudonymKey;

mod tombstones;

type HmacSha256 = Hmac<Sha256>;

/// A person's random id, the input of its pseudonyms (never leaves the trust centre).
pub(crate) type PersonId = [u8; 16];

/// A blocking key: the keyed hash of one exact-match linkage key.
pub(crate) type BlockingKey = [u8; 32];

/// The keyed MAC states, initialised once (cloning a keyed state is cheaper than
/// keying a new one for every pseudonym).
#[derive(Clone)]
pub(crate) struct Keys {
    pseudonym: HmacSha256,
    blocking: HmacSha256,
    /// The probabilistic blocking index's key ([`Keys::block_hash`]).
    linkage: HmacSha256,
}

impl Keys {
    /// Prepares the derivations for a key.
    pub(crate) fn new(key: &PseudonymKey) -> Self {
        let pseudonym =
            HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
        let mut derive = pseudonym.clone();
        derive.update(b"oncofed blocking key v1");
        let blocking_key = derive.finalize().into_bytes();
        let blocking =
            HmacSha256::new_from_slice(&blocking_key).expect("HMAC accepts keys of any length");
        let mut derive = pseudonym.clone();
        derive.update(b"oncofed linkage index key v1");
        let linkage = HmacSha256::new_from_slice(&derive.finalize().into_bytes())
            .expect("HMAC accepts keys of any length");
        Self {
            pseudonym,
            blocking,
            linkage,
        }
    }

    /// Uses a linkage key of its own (`linkage_key_file`) for the probabilistic
    /// blocking index instead of the one derived from the pseudonym key, so that
    /// it can be rotated (`oncofed trustee rotate-linkage-key`) without touching
    /// any pseudonym.
    pub(crate) fn with_linkage_key(mut self, key: &PseudonymKey) -> Self {
        self.linkage =
            HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
        self
    }

    /// A fingerprint of the linkage key, recorded in the store's `meta` so that
    /// a blocking index is never searched with another key.
    pub(crate) fn linkage_fingerprint(&self) -> [u8; 32] {
        let mut mac = self.linkage.clone();
        mac.update(b"oncofed linkage key fingerprint v1");
        mac.finalize().into_bytes().into()
    }

    /// A 64-bit key of the probabilistic blocking index: the first 8 bytes of
    /// `HMAC(linkage key, "oncofed linkage block v2\0" ‖ len ‖ part ‖ …)`, each
    /// part prefixed by its length. Whoever holds the store but not the key
    /// cannot test a guessed identity against the stored keys.
    pub(crate) fn block_hash(&self, parts: &[&[u8]]) -> i64 {
        let mut mac = self.linkage.clone();
        mac.update(b"oncofed linkage block v2\0");
        for p in parts {
            mac.update(&(p.len() as u32).to_le_bytes());
            mac.update(p);
        }
        let d = mac.finalize().into_bytes();
        i64::from_le_bytes(d[..8].try_into().expect("32-byte MAC"))
    }

    /// A fingerprint of the key (a MAC of a constant, revealing nothing about it),
    /// recorded in the store so that a store is never used with another key.
    pub(crate) fn fingerprint(&self) -> [u8; 32] {
        let mut mac = self.pseudonym.clone();
        mac.update(b"oncofed key fingerprint v1");
        mac.finalize().into_bytes().into()
    }

    fn pseudonym_of(&self, parts: &[&[u8]]) -> Pseudonym {
        let mut mac = self.pseudonym.clone();
        for p in parts {
            mac.update(p);
        }
        let digest = mac.finalize().into_bytes();
        let mut head = [0u8; 10];
        head.copy_from_slice(&digest[..10]);
        Pseudonym::from_digest(&head)
    }

    /// The person's pseudonym in a site's domain.
    pub(crate) fn site_pseudonym(&self, site: &SiteId, person: &PersonId) -> Pseudonym {
        self.pseudonym_of(&[b"site\0", site.as_str().as_bytes(), b"\0", person])
    }

    /// The person's pseudonym in the cross-site research domain.
    pub(crate) fn research_pseudonym(&self, person: &PersonId) -> Pseudonym {
        self.pseudonym_of(&[b"research\0", person])
    }

    /// Both pseudonyms of a person as seen by `site`, with the person's date offset.
    pub(crate) fn pair(&self, site: &SiteId, person: &PersonId) -> PseudonymPair {
        PseudonymPair {
            site: self.site_pseudonym(site, person),
            research: self.research_pseudonym(person),
            date_offset_days: self.date_offset_days(person),
        }
    }

    /// The person's date offset: `-(1 + MAC mod 730)` days, from
    /// `HMAC(key, "date offset\0" ‖ person_id)`, so the same person has the same
    /// offset at every site and in every run, and nobody without the key can
    /// compute it (a bias of 2^-64 from the modulo is negligible).
    pub(crate) fn date_offset_days(&self, person: &PersonId) -> i32 {
        let mut mac = self.pseudonym.clone();
        mac.update(b"date offset\0");
        mac.update(person);
        let digest = mac.finalize().into_bytes();
        let mut head = [0u8; 8];
        head.copy_from_slice(&digest[..8]);
        let span = u64::from(oncofed_trustee_api::MAX_DATE_SHIFT_DAYS.unsigned_abs());
        let back = (u64::from_be_bytes(head) % span) as i32 + 1;
        -back
    }

    fn blocking_key(&self, parts: &[&[u8]]) -> BlockingKey {
        let mut mac = self.blocking.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// The exact-match linkage keys of one record.
    pub(crate) fn blocking_keys(&self, idat: &IdentifyingData) -> BlockingKeys {
        let kvnr = idat
            .kvnr
            .as_ref()
            .map(|k| self.blocking_key(&[b"kvnr\0", k.as_str().as_bytes()]));
        BlockingKeys { kvnr }
    }
}

/// The keyed exact-match linkage keys of one record; `None` where the record
/// lacks the data.
///
/// Only the insurance number: an exact key on first given name, family name,
/// birth date and sex (keyed `name\0…`, still present in stores written before
/// issue 9) linked two different men named Tim Krämer born on the same day,
/// with different addresses, in the 100,000-person synthetic cohort. Names and
/// birth dates are now always weighed with the rest of the record
/// ([`crate::linkage::probabilistic`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockingKeys {
    /// From the insurance number.
    pub kvnr: Option<BlockingKey>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use oncofed_idat::Kvnr;
    use oncofed_model::Sex;

    fn keys(byte: u8) -> Keys {
        Keys::new(&PseudonymKey::from_bytes(vec![byte; 32]).unwrap())
    }

    fn idat(given: &str, family: &str) -> IdentifyingData {
        IdentifyingData {
            given: vec![given.into()],
            family: Some(family.into()),
            birth_name: None,
            birth_date: NaiveDate::from_ymd_opt(1970, 1, 2),
            sex: Sex::Female,
            address: None,
            kvnr: None,
        }
    }

    #[test]
    fn date_offsets_are_per_person_keyed_and_in_range() {
        let (k, other) = (keys(1), keys(2));
        let a = SiteId::new("uk-a").unwrap();
        let b = SiteId::new("uk-b").unwrap();
        // The same person has one offset at every site; it never is zero.
        assert_eq!(
            k.pair(&a, &[7; 16]).date_offset_days,
            k.pair(&b, &[7; 16]).date_offset_days
        );
        let offsets: std::collections::BTreeSet<i32> =
            (0..=255u8).map(|p| k.date_offset_days(&[p; 16])).collect();
        assert!(
            offsets.iter().all(|d| (-730..=-1).contains(d)),
            "{offsets:?}"
        );
        // 256 persons spread over the range (a constant offset would be undone by
        // anyone who learns one person's true date).
        assert!(
            offsets.len() > 150,
            "only {} distinct offsets",
            offsets.len()
        );
        // Another key gives other offsets.
        let moved = (0..=255u8)
            .filter(|&p| k.date_offset_days(&[p; 16]) != other.date_offset_days(&[p; 16]))
            .count();
        assert!(moved > 240, "{moved}");
    }

    #[test]
    fn pseudonyms_depend_on_key_domain_and_person() {
        let (k, other) = (keys(1), keys(2));
        let a = SiteId::new("uk-a").unwrap();
        let b = SiteId::new("uk-b").unwrap();
        assert_eq!(
            k.site_pseudonym(&a, &[7; 16]),
            k.site_pseudonym(&a, &[7; 16])
        );
        assert_ne!(
            k.site_pseudonym(&a, &[7; 16]),
            k.site_pseudonym(&b, &[7; 16])
        );
        assert_ne!(
            k.site_pseudonym(&a, &[7; 16]),
            k.site_pseudonym(&a, &[8; 16])
        );
        assert_ne!(
            k.site_pseudonym(&a, &[7; 16]),
            other.site_pseudonym(&a, &[7; 16])
        );
        assert_ne!(
            k.research_pseudonym(&[7; 16]),
            k.site_pseudonym(&a, &[7; 16])
        );
        let p = k.research_pseudonym(&[7; 16]);
        assert_eq!(Pseudonym::new(p.as_str()).unwrap(), p);
    }

    #[test]
    fn kvnr_key_is_keyed() {
        let mut x = idat("A", "B");
        x.kvnr = Some(Kvnr::new("A123456780").unwrap());
        assert_ne!(
            keys(1).blocking_keys(&x).kvnr,
            keys(2).blocking_keys(&x).kvnr
        );
        assert!(keys(1).blocking_keys(&x).kvnr.is_some());
        assert_eq!(keys(1).blocking_keys(&idat("A", "B")).kvnr, None);
    }
}
