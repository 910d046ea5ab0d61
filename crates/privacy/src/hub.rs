//! Hub-side rules: what the research hub may show of the sites' answers.
//!
//! Sites release only obfuscated counts ([`Released`]); the hub adds rules that
//! concern the combination (after the MII feasibility portal, whose backend
//! README documents them under "Privacy and Obfuscation"):
//!
//! - a **minimum total**: a total below it is suppressed (MII
//!   `PRIVACY_THRESHOLD_RESULTS`, 20 in the feasibility-deploy defaults);
//! - a **per-site breakdown only when enough sites answered** with counts of
//!   at least a minimum (MII `PRIVACY_THRESHOLD_SITES` = 3 in feasibility-deploy,
//!   `PRIVACY_THRESHOLD_SITES_RESULT` = 20): with two sites, the total and one
//!   site's figure give away the other's;
//! - **de-duplication without releasing the raw union estimate.** The union of
//!   the sites' sketches is not noised, and for small cohorts HyperLogLog is
//!   nearly exact, so releasing it would undo the sites' noise. The hub
//!   releases instead the *sum of the noised site counts*, scaled by the
//!   de-duplication ratio `union / Σ site estimates` (see
//!   [`dedup_ratio`](crate::dedup_ratio)). One patient moves that figure by
//!   about one, as at a site, and the noise of the site counts covers it;
//! - **every released figure obeys the breakdown rule for the sites it covers.**
//!   A total over only some of the queried sites (an interim answer while sites
//!   are still working, or a final answer after some failed) is a figure about
//!   that subset: one site's total while the others are down *is* that site's
//!   count, and differencing it against the complete total gives the others'.
//!   So a total over a strict subset is released only when the breakdown rule
//!   holds for that subset itself. Then every site's figure in it could have
//!   been shown anyway, the rule holds for every superset too (qualifying sites
//!   only grow), and no sequence of releases over nested subsets reveals a
//!   figure the complete answer withholds.

use crate::Released;
use oncofed_model::SiteId;
use serde::{Deserialize, Serialize};

/// One site's answer as the hub received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteAnswer {
    /// The answering site.
    pub site: SiteId,
    /// Its obfuscated count.
    pub count: Released,
}

/// The hub's disclosure rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubDisclosure {
    /// Totals below this are suppressed (default 20, MII feasibility-deploy).
    pub min_total: u64,
    /// The (scaled) total is rounded to a multiple of this (default 10, as at the sites).
    pub total_rounding: u64,
    /// Per-site figures only when at least this many sites qualify (default 3).
    pub min_sites_for_breakdown: usize,
    /// A site qualifies for the breakdown rule with a released count of at least this (default 20).
    pub min_site_count_for_breakdown: u64,
}

impl Default for HubDisclosure {
    /// The MII feasibility portal's deployment defaults (see the module docs).
    fn default() -> Self {
        Self {
            min_total: 20,
            total_rounding: 10,
            min_sites_for_breakdown: 3,
            min_site_count_for_breakdown: 20,
        }
    }
}

/// Why the hub released no figure at all for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Withheld {
    /// Only some of the queried sites answered, and too few of them qualify for
    /// the breakdown rule to release a figure covering just those sites.
    PartialCoverage {
        /// Sites that answered.
        answered: usize,
        /// Sites the query went to.
        queried: usize,
        /// Answered sites with a released count of at least the breakdown minimum.
        qualifying: usize,
        /// Qualifying sites a subset needs before its total may be released.
        needed: usize,
    },
}

impl std::fmt::Display for Withheld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PartialCoverage {
                answered,
                queried,
                qualifying,
                needed,
            } => write!(
                f,
                "withheld until every site answers: {answered} of {queried} sites answered and \
                 {qualifying} of them qualify, but a figure over some of the sites needs {needed} \
                 qualifying sites (it would reveal the missing sites' figures by difference)"
            ),
        }
    }
}

/// What the hub shows the researcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubRelease {
    /// The (de-duplicated) total over the sites with unsuppressed counts.
    pub total: Released,
    /// Each site's released count, sorted by site, only when the breakdown rule holds.
    pub per_site: Option<Vec<(SiteId, Released)>>,
    /// How many sites answered.
    pub sites_answered: usize,
    /// How many of them answered "suppressed" (they add nothing to the total).
    pub sites_suppressed: usize,
    /// Set when nothing was released although sites answered, and why.
    pub withheld: Option<Withheld>,
}

/// Applies the hub's rules to the sites' answers.
///
/// `queried` are the sites the query went to; answers from other sites are
/// ignored. When not every queried site answered, the figures cover a strict
/// subset and are released only if the breakdown rule holds for that subset
/// (see the module docs); otherwise total and breakdown are withheld and
/// [`HubRelease::withheld`] says why. `dedup_ratio` is `union estimate / Σ per-site estimates` over the sketches
/// of the sites whose count was *released* (see [`crate::dedup_ratio`]); it is
/// clamped to `[0, 1]` and ignored when absent or not a number, which leaves the
/// plain sum (an over-count of patients treated at several sites, never a leak).
/// A site that answered twice counts once (its first answer). The per-site list
/// is sorted by site so its order reveals nothing about response times.
pub fn release_total(
    site_counts: &[SiteAnswer],
    queried: &[SiteId],
    dedup_ratio: Option<f64>,
    cfg: &HubDisclosure,
) -> HubRelease {
    let mut answers: Vec<&SiteAnswer> = Vec::with_capacity(site_counts.len());
    for a in site_counts {
        if queried.contains(&a.site) && !answers.iter().any(|b| b.site == a.site) {
            answers.push(a);
        }
    }
    let mut queried_sites: Vec<&SiteId> = queried.iter().collect();
    queried_sites.sort();
    queried_sites.dedup();
    answers.sort_by(|a, b| a.site.cmp(&b.site));

    let sites_suppressed = answers
        .iter()
        .filter(|a| a.count == Released::Suppressed)
        .count();
    let sum: u64 = answers
        .iter()
        .filter_map(|a| a.count.count())
        .fold(0, u64::saturating_add);
    let ratio = dedup_ratio
        .filter(|r| !r.is_nan())
        .map_or(1.0, |r| r.clamp(0.0, 1.0));
    let step = cfg.total_rounding.max(1) as f64;
    let scaled = ((sum as f64 * ratio / step + 0.5).floor() * step) as u64;
    let total = if sum == 0 || scaled < cfg.min_total {
        Released::Suppressed
    } else {
        Released::Count(scaled)
    };

    let qualifying = answers
        .iter()
        .filter(|a| {
            a.count
                .count()
                .is_some_and(|c| c >= cfg.min_site_count_for_breakdown)
        })
        .count();
    let breakdown_holds = qualifying >= cfg.min_sites_for_breakdown.max(1);
    let complete = answers.len() == queried_sites.len();
    if !complete && !breakdown_holds {
        return HubRelease {
            total: Released::Suppressed,
            per_site: None,
            sites_answered: answers.len(),
            sites_suppressed,
            withheld: (!answers.is_empty()).then_some(Withheld::PartialCoverage {
                answered: answers.len(),
                queried: queried_sites.len(),
                qualifying,
                needed: cfg.min_sites_for_breakdown.max(1),
            }),
        };
    }
    let per_site = (total != Released::Suppressed && breakdown_holds)
        .then(|| answers.iter().map(|a| (a.site.clone(), a.count)).collect());

    HubRelease {
        total,
        per_site,
        sites_answered: answers.len(),
        sites_suppressed,
        withheld: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The release when every queried site answered.
    fn complete(answers: &[SiteAnswer], ratio: Option<f64>, cfg: &HubDisclosure) -> HubRelease {
        let queried: Vec<SiteId> = answers.iter().map(|a| a.site.clone()).collect();
        release_total(answers, &queried, ratio, cfg)
    }

    fn answer(site: &str, count: Option<u64>) -> SiteAnswer {
        SiteAnswer {
            site: SiteId::new(site).unwrap(),
            count: count.map_or(Released::Suppressed, Released::Count),
        }
    }

    #[test]
    fn total_is_the_sum_of_released_counts() {
        let r = complete(
            &[
                answer("a", Some(40)),
                answer("b", None),
                answer("c", Some(10)),
            ],
            None,
            &HubDisclosure::default(),
        );
        assert_eq!(r.total, Released::Count(50));
        assert_eq!((r.sites_answered, r.sites_suppressed), (3, 1));
    }

    #[test]
    fn small_or_empty_totals_are_suppressed() {
        let cfg = HubDisclosure::default();
        assert_eq!(
            complete(&[answer("a", Some(10))], None, &cfg).total,
            Released::Suppressed
        );
        assert_eq!(
            complete(&[answer("a", Some(20))], None, &cfg).total,
            Released::Count(20)
        );
        let none = complete(&[answer("a", None), answer("b", None)], None, &cfg);
        assert_eq!(
            (none.total, none.per_site, none.sites_suppressed),
            (Released::Suppressed, None, 2)
        );
        let zero = HubDisclosure {
            min_total: 0,
            ..cfg
        };
        assert_eq!(complete(&[], None, &zero).total, Released::Suppressed);
    }

    #[test]
    fn breakdown_needs_three_sites_with_at_least_twenty() {
        let cfg = HubDisclosure::default();
        let two = [
            answer("a", Some(100)),
            answer("b", Some(30)),
            answer("c", Some(10)),
            answer("d", None),
        ];
        assert_eq!(
            complete(&two, None, &cfg).per_site,
            None,
            "only two sites reach 20"
        );
        let three = [
            answer("c", Some(20)),
            answer("a", Some(100)),
            answer("b", Some(30)),
            answer("d", None),
        ];
        let per_site = complete(&three, None, &cfg).per_site.unwrap();
        let names: Vec<_> = per_site.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            names,
            ["a", "b", "c", "d"],
            "sorted, suppressed sites shown as suppressed"
        );
        assert_eq!(per_site[3].1, Released::Suppressed);
    }

    #[test]
    fn dedup_ratio_scales_the_noised_sum_and_is_clamped() {
        let cfg = HubDisclosure::default();
        let sites = [answer("a", Some(600)), answer("b", Some(400))];
        assert_eq!(
            complete(&sites, Some(0.8), &cfg).total,
            Released::Count(800)
        );
        assert_eq!(
            complete(&sites, Some(0.8123), &cfg).total,
            Released::Count(810),
            "rounded to 10"
        );
        assert_eq!(
            complete(&sites, Some(1.7), &cfg).total,
            Released::Count(1000)
        );
        assert_eq!(
            complete(&sites, Some(f64::NAN), &cfg).total,
            Released::Count(1000)
        );
        assert_eq!(
            complete(&sites, Some(-1.0), &cfg).total,
            Released::Suppressed
        );
        assert_eq!(
            complete(&sites, Some(0.014), &cfg).total,
            Released::Suppressed,
            "14 rounds to 10 < 20"
        );
    }

    #[test]
    fn a_site_counts_once() {
        let r = complete(
            &[answer("a", Some(100)), answer("a", Some(100))],
            None,
            &HubDisclosure::default(),
        );
        assert_eq!((r.total, r.sites_answered), (Released::Count(100), 1));
    }

    /// Red-team finding (issue 9, defect 2): with two of three sites down, the
    /// interim total was one site's count while the complete answer withheld
    /// the breakdown. Every subset of answering sites is tried here: a figure is
    /// released over a strict subset only when the breakdown rule holds for it.
    #[test]
    fn red_team_partial_results_obey_the_breakdown_rule_for_every_subset() {
        let cfg = HubDisclosure::default();
        let counts = [Some(100), Some(30), Some(10), None, Some(250)];
        let all: Vec<SiteAnswer> = counts
            .iter()
            .enumerate()
            .map(|(i, c)| answer(&format!("site-{i}"), *c))
            .collect();
        let queried: Vec<SiteId> = all.iter().map(|a| a.site.clone()).collect();
        let full = release_total(&all, &queried, None, &cfg);
        assert!(
            full.per_site.is_some(),
            "three sites reach 20: breakdown shown"
        );
        let mut released_subsets = 0;
        for mask in 0u32..(1 << all.len()) {
            let subset: Vec<SiteAnswer> = (0..all.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| all[i].clone())
                .collect();
            let r = release_total(&subset, &queried, None, &cfg);
            let qualifying = subset
                .iter()
                .filter(|a| a.count.count().is_some_and(|c| c >= 20))
                .count();
            let is_complete = subset.len() == all.len();
            if !is_complete && qualifying < 3 {
                assert_eq!(r.total, Released::Suppressed, "subset {mask:05b}");
                assert_eq!(r.per_site, None, "subset {mask:05b}");
                assert_eq!(
                    r.withheld.is_some(),
                    !subset.is_empty(),
                    "subset {mask:05b}"
                );
            } else {
                assert!(r.withheld.is_none(), "subset {mask:05b}");
                released_subsets += 1;
                // Whatever a subset releases, its breakdown could be shown too.
                assert!(r.per_site.is_some() || r.total == Released::Suppressed);
            }
        }
        // Subsets holding sites 0, 1 and 4 (the three qualifying ones): 4 of 32.
        assert_eq!(released_subsets, 4);
    }

    #[test]
    fn red_team_one_site_of_three_releases_nothing_before_the_others_answer() {
        let cfg = HubDisclosure::default();
        let queried: Vec<SiteId> = ["a", "b", "c"]
            .iter()
            .map(|s| SiteId::new(*s).unwrap())
            .collect();
        let r = release_total(&[answer("a", Some(400))], &queried, None, &cfg);
        assert_eq!((r.total, r.per_site), (Released::Suppressed, None));
        let reason = r.withheld.unwrap().to_string();
        assert!(reason.contains("1 of 3 sites answered"), "{reason}");
    }

    #[test]
    fn answers_from_sites_not_queried_are_ignored() {
        let cfg = HubDisclosure::default();
        let queried = [SiteId::new("a").unwrap()];
        let r = release_total(
            &[answer("a", Some(40)), answer("zz", Some(900))],
            &queried,
            None,
            &cfg,
        );
        assert_eq!((r.total, r.sites_answered), (Released::Count(40), 1));
    }
}
