//! Properties of the comparators, the solver and the encoder over arbitrary input.

use oncofed_linkage::compare::{jaro_winkler, koelner_phonetik};
use oncofed_linkage::greedy_one_to_one;
use oncofed_linkage::pprl::{ClkConfig, Encoder, ProjectSecret, dice};
use oncofed_linkage::{Config, Record, link};
use proptest::prelude::*;
use std::collections::HashSet;

fn record() -> impl Strategy<Value = Record> {
    (
        "[a-z]{0,12}",
        "[a-z]{0,12}",
        proptest::option::of(1900u16..2020),
        "[0-9]{0,5}",
    )
        .prop_map(|(given, family, year, plz)| Record {
            given,
            family,
            birth_year: year,
            birth_month: year.map(|y| (y % 12 + 1) as u8),
            birth_day: year.map(|y| (y % 28 + 1) as u8),
            postal_code: plz,
            ..Default::default()
        })
}

proptest! {
    #[test]
    fn jaro_winkler_is_a_symmetric_similarity(a in "[a-zäöü]{0,15}", b in "[a-zäöü]{0,15}") {
        let s = jaro_winkler(&a, &b);
        prop_assert!((0.0..=1.0).contains(&s));
        prop_assert!((s - jaro_winkler(&b, &a)).abs() < 1e-12);
        prop_assert_eq!(jaro_winkler(&a, &a), 1.0);
    }

    #[test]
    fn koelner_phonetik_codes_are_well_formed(name in "[a-z]{0,20}") {
        let code = koelner_phonetik(&name);
        prop_assert!(code.chars().all(|c| c.is_ascii_digit()));
        prop_assert!(code.chars().skip(1).all(|c| c != '0'));
        // Repeats are collapsed before zeros are dropped, so "pab" → "11" is correct.
        prop_assert_eq!(code.is_empty(), name.chars().all(|c| c == 'h'));
    }

    #[test]
    fn greedy_solution_is_one_to_one(pairs in proptest::collection::vec((0usize..20, 0usize..20, 0.0f64..1.0), 0..100)) {
        let kept = greedy_one_to_one(pairs.clone(), |p| *p);
        let a: HashSet<_> = kept.iter().map(|p| p.0).collect();
        let b: HashSet<_> = kept.iter().map(|p| p.1).collect();
        prop_assert_eq!(a.len(), kept.len());
        prop_assert_eq!(b.len(), kept.len());
        // Maximal: every dropped pair conflicts with a kept one.
        for p in &pairs {
            prop_assert!(a.contains(&p.0) || b.contains(&p.1));
        }
    }

    #[test]
    fn balanced_clks_have_constant_weight_and_self_dice_one(r in record()) {
        let enc = Encoder::new(&ProjectSecret::new(vec![1u8; 32]).unwrap(), &ClkConfig::default()).unwrap();
        let c = enc.encode(&r);
        prop_assert_eq!(c.popcount(), 512);
        prop_assert_eq!(dice(&c, &enc.encode(&r)), 1.0);
    }

    #[test]
    fn linking_a_set_with_itself_finds_every_record_with_a_blocking_key(rs in proptest::collection::vec(record(), 1..20)) {
        let results = link(&rs, &rs, &Config::default());
        for r in &results {
            prop_assert!((0.0..=1.0).contains(&r.score));
        }
        let linked: HashSet<usize> = results.iter().map(|r| r.a).collect();
        for (i, r) in rs.iter().enumerate() {
            let keyed = Config::default().blocking.iter().any(|k| !k.keys(r).is_empty());
            let any_field = !r.given.is_empty() || !r.family.is_empty() || r.birth_year.is_some() || !r.postal_code.is_empty();
            if keyed && any_field {
                prop_assert!(linked.contains(&i), "record {} not linked to anything", i);
            }
        }
    }
}
