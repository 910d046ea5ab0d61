//! No input makes the parsers or the defences panic, and the defences' outputs
//! stay within their documented ranges.
use oncofed_beacon::defence::{
    BudgetPolicy, DefenceConfig, HubQuery, IndividualKey, MemoryLedger, RareAllelePolicy, RareMode,
    ResearcherId, SiteQuery, hub_release, site_count,
};
use oncofed_beacon::granularity::Role;
use oncofed_beacon::model::{Granularity, RequestBody};
use oncofed_model::SecurityLevel;
use proptest::prelude::*;

const NAMES: [&str; 12] = [
    "assemblyId",
    "referenceName",
    "start",
    "end",
    "referenceBases",
    "alternateBases",
    "variantType",
    "geneId",
    "aminoacidChange",
    "requestedGranularity",
    "filters",
    "skip",
];

proptest! {
    #[test]
    fn any_body_is_parsed_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(body) = RequestBody::from_json(&bytes) {
            let _ = body.variant_query();
        }
    }

    #[test]
    fn any_parameters_are_parsed_or_refused(
        pairs in proptest::collection::vec((0..NAMES.len(), "[ -~]{0,24}"), 0..8),
    ) {
        let pairs: Vec<(&str, String)> = pairs.into_iter().map(|(i, v)| (NAMES[i], v)).collect();
        if let Ok(body) = RequestBody::from_query_pairs(pairs)
            && let Ok(q) = body.variant_query()
        {
            prop_assert!(!q.fingerprint().is_empty());
        }
    }

    #[test]
    fn costs_are_finite_and_non_negative(
        f in any::<f64>(), n in 0u64..100_000, k in 0u64..50, flip in any::<f64>(), budget in any::<f64>(),
    ) {
        let p = BudgetPolicy { budget, ..BudgetPolicy::default() };
        for rare in [None, Some(RareAllelePolicy { k, mode: RareMode::Suppress }), Some(RareAllelePolicy { k, mode: RareMode::Randomise { flip } })] {
            let c = p.answer_cost(n, Some(f), rare);
            prop_assert!(c >= 0.0 && !c.is_nan(), "{c}");
        }
    }

    #[test]
    fn releases_never_exceed_what_the_role_may_see(
        counts in proptest::collection::vec(any::<u64>(), 0..5),
        level in 1u8..=4, role in 0usize..3, requested in 0usize..4,
        carriers in 0usize..20, freq in any::<f64>(),
    ) {
        let level = SecurityLevel::try_from(level).expect("1..=4");
        let role = Role::ALL[role];
        let requested = [None, Some(Granularity::Boolean), Some(Granularity::Count), Some(Granularity::Record)][requested];
        let cfg = DefenceConfig::for_level(level);
        let keys: Vec<IndividualKey> = (0..carriers).map(|i| IndividualKey::new(format!("k{}", i % 7))).collect();
        let mut ledger = MemoryLedger::new();
        let q = SiteQuery { researcher: ResearcherId::new("r"), beacon_size: 1000, allele_frequency: Some(freq) };
        let out = site_count(&keys, &q, &cfg, &mut ledger);
        prop_assert!(out.count + out.withheld <= 7);
        let hub = HubQuery { fingerprint: "fp", level, role, requested, hub_secret: b"0123456789abcdef0123456789abcdef" };
        if let Ok(r) = hub_release(&counts, &cfg, &hub) {
            prop_assert!(r.granularity < Granularity::Record);
            if let Some(c) = r.count {
                prop_assert!(c == 0 || c >= r.threshold);
                prop_assert_eq!(r.exists, c > 0);
            }
        }
    }
}
