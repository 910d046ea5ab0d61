//! Unit tests of the encoder (split from `pprl.rs` to keep files short).

use super::*;

fn rec(given: &str, family: &str, year: u16) -> Record {
    Record {
        given: given.into(),
        family: family.into(),
        birth_day: Some(12),
        birth_month: Some(8),
        birth_year: Some(year),
        postal_code: "50667".into(),
        ..Default::default()
    }
}

#[test]
fn keyed_deterministic_and_similar() {
    let s1 = ProjectSecret::new(*b"0123456789abcdef0123456789abcdef").unwrap();
    let s2 = ProjectSecret::new(*b"fedcba9876543210fedcba9876543210").unwrap();
    for h in [
        Hardening::None,
        Hardening::Permuted,
        Hardening::SaltBirthYear,
        Hardening::Balanced,
        Hardening::XorFold,
    ] {
        let cfg = ClkConfig {
            hardening: h,
            ..Default::default()
        };
        let e1 = Encoder::new(&s1, &cfg).unwrap();
        let e2 = Encoder::new(&s2, &cfg).unwrap();
        let a = rec("erika", "mustermann", 1964);
        assert_eq!(e1.encode(&a), e1.encode(&a), "{h:?}");
        assert!(
            dice(&e1.encode(&a), &e2.encode(&a)) < 0.75,
            "{h:?}: another key must not match"
        );
        let typo = rec("erika", "musterman", 1964);
        let other = rec("hans", "schmidt", 1971);
        assert!(dice(&e1.encode(&a), &e1.encode(&typo)) > 0.8, "{h:?}");
        assert!(dice(&e1.encode(&a), &e1.encode(&other)) < 0.75, "{h:?}");
        if h == Hardening::Balanced {
            assert_eq!(e1.encode(&a).popcount(), 512);
            assert_eq!(e1.encode(&other).popcount(), 512);
        }
    }
}

#[test]
fn threshold_follows_the_encoding() {
    assert_eq!(MatchConfig::default().threshold, DEFAULT_THRESHOLD);
    assert_eq!(
        ClkConfig::default().hardening.recommended_threshold(),
        DEFAULT_THRESHOLD
    );
    for h in [
        Hardening::None,
        Hardening::Permuted,
        Hardening::SaltBirthYear,
        Hardening::Balanced,
        Hardening::XorFold,
    ] {
        let cfg = ClkConfig {
            hardening: h,
            ..Default::default()
        };
        assert_eq!(
            MatchConfig::for_encoding(&cfg).threshold,
            h.recommended_threshold()
        );
    }
}

#[test]
fn balanced_base_is_about_half_full_and_permuted_keeps_dice() {
    let s = ProjectSecret::new(vec![3u8; 32]).unwrap();
    let enc = |h| {
        Encoder::new(
            &s,
            &ClkConfig {
                hardening: h,
                ..Default::default()
            },
        )
        .unwrap()
    };
    let mut full = rec("maximiliane", "mustermann-luedenscheid", 1964);
    full.street = "hauptstrasse".into();
    full.city = "koeln".into();
    full.house_number = "12".into();
    full.insurance_id = "a123456789".into();
    let fill = enc(Hardening::Balanced).base_fill(&full);
    assert!((0.35..0.65).contains(&fill), "balanced base fill {fill}");
    // With the 1024-bit k in the 512-bit base it would be far fuller.
    assert!(enc(Hardening::None).base_fill(&full) > fill - 0.1);
    let (a, b) = (
        rec("erika", "mustermann", 1964),
        rec("hans", "schmidt", 1971),
    );
    let (n, p) = (enc(Hardening::None), enc(Hardening::Permuted));
    assert_eq!(
        dice(&n.encode(&a), &n.encode(&b)),
        dice(&p.encode(&a), &p.encode(&b))
    );
    assert_ne!(n.encode(&a), p.encode(&a));
    assert_eq!(n.encode(&a).popcount(), p.encode(&a).popcount());
}

#[test]
fn rejects_weak_settings() {
    assert!(matches!(
        ProjectSecret::new(vec![0u8; 8]),
        Err(PprlError::SecretTooShort(8))
    ));
    let s = ProjectSecret::new(vec![7u8; 32]).unwrap();
    let cfg = ClkConfig {
        fields: vec![(ClkField::Given, 0)],
        ..Default::default()
    };
    assert!(matches!(Encoder::new(&s, &cfg), Err(PprlError::BadK(0))));
    assert!(!format!("{s:?}").contains('7'));
}

#[test]
fn bytes_round_trip() {
    let e = Encoder::new(
        &ProjectSecret::new(vec![9u8; 32]).unwrap(),
        &ClkConfig::default(),
    )
    .unwrap();
    let c = e.encode(&rec("erika", "mustermann", 1964));
    assert_eq!(Clk::from_bytes(&c.to_bytes()), c);
}
