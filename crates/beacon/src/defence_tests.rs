use super::*;

fn keys(n: usize) -> Vec<IndividualKey> {
    (0..n)
        .map(|i| IndividualKey::new(format!("p{i}")))
        .collect()
}

fn hub<'a>(role: Role, requested: Option<Granularity>) -> HubQuery<'a> {
    HubQuery {
        fingerprint: "seq|GRCh38|7|140753335|A|T",
        level: SecurityLevel::Genetic,
        role,
        requested,
        hub_secret: b"hub secret for tests, 32 bytes!!",
    }
}

#[test]
fn cost_is_the_likelihood_ratio_of_a_yes() {
    let p = BudgetPolicy::default();
    // Common allele: a yes says nothing.
    assert!(p.answer_cost(1000, Some(0.2), None) < 1e-12);
    // f = 1/(2N): D_N ≈ e^-1, cost ≈ -ln(1 - e^-1) = 0.459.
    let c = p.answer_cost(1000, Some(1.0 / 2000.0), None);
    assert!((c - 0.4587).abs() < 1e-3, "{c}");
    // Unknown frequency = the floor, the most expensive.
    assert_eq!(
        p.answer_cost(1000, None, None),
        p.answer_cost(1000, Some(0.0), None)
    );
    assert!(p.answer_cost(1000, None, None) > p.budget);
    assert!(p.answer_cost(1000, Some(f64::NAN), None).is_finite());
    // Rare rule with k = 1 is the plain beacon.
    let k1 = Some(RareAllelePolicy {
        k: 1,
        mode: RareMode::Suppress,
    });
    assert!(
        (p.answer_cost(1000, Some(1e-3), k1) - p.answer_cost(1000, Some(1e-3), None)).abs() < 1e-5
    );
}

#[test]
fn under_k_suppression_alleles_near_k_carriers_are_the_expensive_ones() {
    let p = BudgetPolicy::default();
    let k5 = Some(RareAllelePolicy {
        k: 5,
        mode: RareMode::Suppress,
    });
    // 2Nf = 5 expected copies: plain cost ≈ e^-5, thresholded about ln(0.735/0.56).
    let f = 2.5e-3;
    let plain = p.answer_cost(1000, Some(f), None);
    let thresholded = p.answer_cost(1000, Some(f), k5);
    assert!(plain < 0.01 && thresholded > 0.2, "{plain} {thresholded}");
    // Very rare: a yes needs ≥ 4 other carriers, far likelier with the member in.
    assert!(p.answer_cost(1000, Some(1e-4), k5) > 3.0);
    // Randomised: a member's yes below k is kept with 1 − flip, cheaper than suppression.
    let r = Some(RareAllelePolicy {
        k: 5,
        mode: RareMode::Randomise { flip: 0.5 },
    });
    assert!(p.answer_cost(1000, Some(1e-4), r) < p.answer_cost(1000, Some(1e-4), k5));
    for f in [1e-6, 1e-4, 1e-3, 0.01, 0.1, 0.5, 1.0] {
        for rule in [None, k5, r] {
            let c = p.answer_cost(1000, Some(f), rule);
            assert!(c.is_finite() && c >= 0.0, "{f} {rule:?} {c}");
        }
    }
}

#[test]
fn an_individual_stops_contributing_once_the_budget_would_be_overrun() {
    // Plain beacon pricing (no rare rule): f = 1/2000 costs 0.459 nats.
    let cfg = DefenceConfig {
        rare: None,
        ..DefenceConfig::default()
    };
    let mut ledger = MemoryLedger::new();
    let k = keys(1);
    let q = SiteQuery {
        researcher: ResearcherId::new("r1"),
        beacon_size: 1000,
        allele_frequency: Some(1.0 / 2000.0),
    };
    assert_eq!(site_count(&k, &q, &cfg, &mut ledger).count, 1);
    // 0.459 spent; another 0.459 would pass ln 2.
    let second = site_count(&k, &q, &cfg, &mut ledger);
    assert_eq!((second.count, second.withheld), (0, 1));
    // Another researcher has their own budget.
    let other = SiteQuery {
        researcher: ResearcherId::new("r2"),
        ..q.clone()
    };
    assert_eq!(site_count(&k, &other, &cfg, &mut ledger).count, 1);
    // Duplicated keys count once.
    let dup = [k[0].clone(), k[0].clone()];
    let common = SiteQuery {
        allele_frequency: Some(0.3),
        ..q
    };
    assert_eq!(site_count(&dup, &common, &cfg, &mut ledger).count, 1);
}

#[test]
fn rare_alleles_are_suppressed_below_k() {
    let cfg = DefenceConfig::default();
    let r = hub_release(&[2, 2], &cfg, &hub(Role::Public, None)).unwrap();
    assert!(!r.exists);
    assert_eq!(r.adjustment, Adjustment::RareAllele);
    let r = hub_release(&[2, 3], &cfg, &hub(Role::Public, None)).unwrap();
    assert!(r.exists);
    assert_eq!(r.granularity, Granularity::Boolean);
}

#[test]
fn randomised_answers_are_stable_per_query_and_flip_at_the_set_rate() {
    let cfg = DefenceConfig {
        rare: Some(RareAllelePolicy {
            k: 5,
            mode: RareMode::Randomise { flip: 0.3 },
        }),
        ..DefenceConfig::default()
    };
    let mut no = 0;
    for i in 0..2000 {
        let fp = format!("seq|GRCh38|1|{i}|A|G");
        let q = HubQuery {
            fingerprint: &fp,
            ..hub(Role::Public, None)
        };
        let a = hub_release(&[1], &cfg, &q).unwrap();
        assert_eq!(a, hub_release(&[1], &cfg, &q).unwrap());
        if !a.exists {
            no += 1;
        }
    }
    let rate = no as f64 / 2000.0;
    assert!((rate - 0.3).abs() < 0.035, "{rate}");
}

#[test]
fn counts_are_noised_rounded_and_thresholded() {
    let cfg = DefenceConfig::default();
    let r = hub_release(
        &[40, 33, 20],
        &cfg,
        &hub(Role::Registered, Some(Granularity::Count)),
    )
    .unwrap();
    let c = r.count.unwrap();
    assert_eq!(c % 10, 0);
    assert!(c == 0 || c >= 10);
    let r = hub_release(
        &[3, 3],
        &cfg,
        &hub(Role::Registered, Some(Granularity::Count)),
    )
    .unwrap();
    assert_eq!(
        r.count,
        Some(0),
        "6 carriers are below the level-3 threshold of 20"
    );
}

#[test]
fn rate_limit_and_window_budget() {
    let policy = RatePolicy {
        per_minute: 2,
        per_window: 3,
        window_secs: 3600,
    };
    let mut c = MemoryQueryCounter::new(10);
    let r = ResearcherId::new("r");
    assert!(admit(&r, 1000, &policy, &mut c).is_ok());
    assert!(admit(&r, 1001, &policy, &mut c).is_ok());
    assert_eq!(
        admit(&r, 1002, &policy, &mut c),
        Err(RateRefusal::TooFrequent(2))
    );
    assert!(admit(&r, 1100, &policy, &mut c).is_ok());
    assert!(matches!(
        admit(&r, 1200, &policy, &mut c),
        Err(RateRefusal::BudgetExhausted(3, _))
    ));
    assert!(admit(&r, 1000 + 3600, &policy, &mut c).is_ok());
}
