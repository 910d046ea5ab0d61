//! Memory of the site-request signatures seen within the clock-skew window, so
//! a captured signed request cannot be sent again.
//!
//! A signed site request is valid while its timestamp is within
//! [`MAX_CLOCK_SKEW_SECS`](crate::MAX_CLOCK_SKEW_SECS) of the hub's clock, so a
//! signature must be remembered until `timestamp + skew` has passed; after that
//! the clock check refuses the request anyway and the entry is dropped.
//! Ed25519 signatures as the hub verifies them (`verify_strict`) are not
//! malleable, so one signed request has exactly one acceptable signature and
//! the signature identifies it.
//!
//! Bounds. Only signatures that verified are remembered, so only a holder of a
//! registered site key can add entries, and each site has its own cap
//! ([`ReplayCache::new`]). A full site is *refused* (the caller is asked to
//! retry when its oldest entry expires), never evicted early: evicting an entry
//! still in its window would let exactly that request be replayed, so an
//! attacker able to fill the cache could choose what to forget. A site that
//! fills its own cap can only stall itself. Memory is at most
//! `sites × cap × ~150 bytes` (4096 entries per site: about 0.6 MB each).
//!
//! The hub's wall clock is assumed not to step backwards by more than the
//! window while it runs (NTP slews); entries are dropped by that clock.

use std::collections::{BTreeSet, HashMap};

/// Signatures seen per site, with the time each may be forgotten.
#[derive(Debug)]
pub struct ReplayCache {
    window_secs: i64,
    per_site_cap: usize,
    sites: HashMap<String, Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    /// Signature → Unix second after which it may be forgotten.
    by_signature: HashMap<[u8; 64], i64>,
    /// The same entries ordered by that second, to drop expired ones first.
    by_expiry: BTreeSet<(i64, [u8; 64])>,
}

/// Why a signature was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// This signature was already used within the window: a replay.
    Replayed,
    /// The site's cap is reached; its oldest entry expires in this many seconds.
    Full {
        /// Seconds until an entry of this site expires.
        retry_after_secs: u64,
    },
}

impl ReplayCache {
    /// A cache for requests valid `window_secs` either side of the clock,
    /// holding at most `per_site_cap` signatures per site.
    pub fn new(window_secs: u64, per_site_cap: usize) -> Self {
        Self {
            window_secs: i64::try_from(window_secs).unwrap_or(i64::MAX),
            per_site_cap: per_site_cap.max(1),
            sites: HashMap::new(),
        }
    }

    /// Whether `signature` of `site` was already recorded and is still in its
    /// window. Cheap pre-check; [`record`](Self::record) is the authoritative one.
    pub fn seen(&mut self, site: &str, signature: &[u8; 64], now: i64) -> bool {
        let Some(seen) = self.sites.get_mut(site) else {
            return false;
        };
        seen.expire(now);
        seen.by_signature.contains_key(signature)
    }

    /// Records a verified signature of a request stamped `timestamp`, or
    /// refuses it as a replay or because the site's cap is reached. Atomic:
    /// of two concurrent identical requests exactly one is recorded.
    pub fn record(
        &mut self,
        site: &str,
        signature: &[u8; 64],
        timestamp: i64,
        now: i64,
    ) -> Result<(), Refused> {
        let seen = self.sites.entry(site.to_owned()).or_default();
        seen.expire(now);
        if seen.by_signature.contains_key(signature) {
            return Err(Refused::Replayed);
        }
        if seen.by_signature.len() >= self.per_site_cap {
            let oldest = seen.by_expiry.first().map_or(now, |(t, _)| *t);
            let wait = oldest.saturating_sub(now).saturating_add(1);
            return Err(Refused::Full {
                retry_after_secs: u64::try_from(wait).unwrap_or(1).max(1),
            });
        }
        // The clock check accepts this request until `timestamp + window`
        // (inclusive), so it may be forgotten once `now` is past that.
        let forget_after = timestamp.saturating_add(self.window_secs);
        seen.by_signature.insert(*signature, forget_after);
        seen.by_expiry.insert((forget_after, *signature));
        Ok(())
    }

    /// Number of signatures remembered for `site`.
    #[cfg(test)]
    pub fn len(&self, site: &str) -> usize {
        self.sites.get(site).map_or(0, |s| s.by_signature.len())
    }
}

impl Seen {
    /// Drops entries whose request the clock check would refuse at `now`.
    fn expire(&mut self, now: i64) {
        while let Some(&(t, sig)) = self.by_expiry.first() {
            if t >= now {
                break;
            }
            self.by_expiry.pop_first();
            self.by_signature.remove(&sig);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn sig(n: u8) -> [u8; 64] {
        [n; 64]
    }

    #[test]
    fn a_signature_is_refused_the_second_time_until_its_window_ends() {
        let mut c = ReplayCache::new(120, 16);
        c.record("a", &sig(1), NOW, NOW).unwrap();
        assert!(c.seen("a", &sig(1), NOW + 120));
        assert_eq!(
            c.record("a", &sig(1), NOW, NOW + 120),
            Err(Refused::Replayed),
            "still inside the window: the clock check would accept it"
        );
        // Another site's identical bytes are another request.
        c.record("b", &sig(1), NOW, NOW).unwrap();
        // At NOW + 121 the clock check refuses the request, so it is forgotten.
        assert!(!c.seen("a", &sig(1), NOW + 121));
        assert_eq!(c.len("a"), 0);
    }

    #[test]
    fn a_request_stamped_in_the_future_is_remembered_for_its_whole_window() {
        let mut c = ReplayCache::new(120, 16);
        // Stamped 120 s ahead: valid until NOW + 240.
        c.record("a", &sig(2), NOW + 120, NOW).unwrap();
        assert_eq!(
            c.record("a", &sig(2), NOW + 120, NOW + 240),
            Err(Refused::Replayed)
        );
        assert!(!c.seen("a", &sig(2), NOW + 241));
    }

    #[test]
    fn a_full_site_is_refused_not_evicted_and_other_sites_are_unaffected() {
        let mut c = ReplayCache::new(120, 3);
        for n in 0..3 {
            c.record("a", &sig(n), NOW + i64::from(n), NOW).unwrap();
        }
        assert_eq!(
            c.record("a", &sig(9), NOW, NOW + 10),
            Err(Refused::Full {
                retry_after_secs: 111
            })
        );
        // Nothing was forgotten to make room: every entry is still a replay.
        for n in 0..3 {
            assert_eq!(
                c.record("a", &sig(n), NOW + i64::from(n), NOW + 10),
                Err(Refused::Replayed)
            );
        }
        c.record("b", &sig(9), NOW, NOW + 10).unwrap();
        // Once the oldest entry expires there is room again.
        c.record("a", &sig(9), NOW + 121, NOW + 121).unwrap();
        assert_eq!(c.len("a"), 3);
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let mut c = ReplayCache::new(u64::MAX, 2);
        c.record("a", &sig(1), i64::MAX, i64::MIN).unwrap();
        c.record("a", &sig(2), i64::MIN, i64::MAX).unwrap();
        assert!(matches!(
            c.record("a", &sig(3), 0, i64::MIN),
            Err(Refused::Full { .. })
        ));
    }
}
