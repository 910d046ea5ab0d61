//! Contribution ledgers (R19): how much of a released result came from one site,
//! coarsened so that the ledger is never finer than what was released.
//!
//! A site's contribution is shown to its own site admin and to the hub's admins
//! and auditors. The figure it starts from is one the site itself released to
//! the hub (a feasibility count after the site's noise, rounding and
//! suppression) or one the hub released to a researcher (the cells a site
//! trained on); the ledger coarsens it with the hub's per-site rule: a figure
//! below the breakdown minimum ([`HubDisclosure::min_site_count_for_breakdown`],
//! default 20) is suppressed, and the rest is rounded to the hub's rounding
//! ([`HubDisclosure::total_rounding`], default 10). Sums over a ledger add
//! coarsened figures only, so they too are never finer than what was released.

use crate::{HubDisclosure, Released};

/// A site's contribution to one released result as the ledger shows it: `count`
/// (as released) suppressed under the hub's per-site minimum, rounded to the
/// hub's rounding (to the nearest multiple, halves up). A suppressed input stays
/// suppressed, and so does 0.
pub fn coarsen_contribution(count: Released, cfg: &HubDisclosure) -> Released {
    let Released::Count(n) = count else {
        return Released::Suppressed;
    };
    let step = cfg.total_rounding.max(1);
    let rounded = n.saturating_add(step / 2) / step * step;
    if n == 0 || n < cfg.min_site_count_for_breakdown || rounded < cfg.min_site_count_for_breakdown
    {
        Released::Suppressed
    } else {
        Released::Count(rounded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_contributions_are_suppressed_and_the_rest_rounded() {
        let cfg = HubDisclosure::default();
        let c = |n| coarsen_contribution(Released::Count(n), &cfg);
        assert_eq!(c(0), Released::Suppressed);
        assert_eq!(c(10), Released::Suppressed);
        assert_eq!(c(19), Released::Suppressed);
        assert_eq!(c(20), Released::Count(20));
        assert_eq!(c(24), Released::Count(20));
        assert_eq!(c(25), Released::Count(30));
        assert_eq!(c(1234), Released::Count(1230));
        assert_eq!(
            coarsen_contribution(Released::Suppressed, &cfg),
            Released::Suppressed
        );
    }

    #[test]
    fn a_stricter_hub_coarsens_more() {
        let cfg = HubDisclosure {
            min_site_count_for_breakdown: 50,
            total_rounding: 25,
            ..HubDisclosure::default()
        };
        assert_eq!(
            coarsen_contribution(Released::Count(40), &cfg),
            Released::Suppressed
        );
        assert_eq!(
            coarsen_contribution(Released::Count(60), &cfg),
            Released::Count(50)
        );
    }
}
