//! Probabilistic linkage on German IDAT: the variations the trust centre sees
//! between sites (umlaut spellings, typos, changed family names, swapped day
//! and month, missing fields) and the three outcomes.

use chrono::NaiveDate;
use oncofed_idat::{Address, IdentifyingData, Kvnr};
use oncofed_linkage::pprl::{ClkConfig, Encoder, Hardening, ProjectSecret, dice};
use oncofed_linkage::{Config, Outcome, Record, dedup, link};
use oncofed_model::Sex;

#[allow(clippy::too_many_arguments)]
fn idat(
    given: &str,
    family: &str,
    birth_name: Option<&str>,
    ymd: (i32, u32, u32),
    sex: Sex,
    street: &str,
    plz: &str,
    city: &str,
    kvnr: Option<&str>,
) -> IdentifyingData {
    IdentifyingData {
        given: vec![given.into()],
        family: Some(family.into()),
        birth_name: birth_name.map(Into::into),
        birth_date: NaiveDate::from_ymd_opt(ymd.0, ymd.1, ymd.2),
        sex,
        address: Some(Address {
            lines: vec![street.into()],
            postal_code: Some(plz.into()),
            city: Some(city.into()),
            country: Some("DE".into()),
        }),
        kvnr: kvnr.map(|k| Kvnr::new(k).unwrap()),
    }
}

fn site_a() -> Vec<Record> {
    [
        idat(
            "Jürgen",
            "Müller",
            None,
            (1964, 8, 12),
            Sex::Male,
            "Hauptstraße 12",
            "50667",
            "Köln",
            Some("A123456780"),
        ),
        idat(
            "Erika",
            "Mustermann",
            None,
            (1971, 3, 5),
            Sex::Female,
            "Domplatz 1",
            "50667",
            "Köln",
            None,
        ),
        idat(
            "Hans",
            "Schmidt",
            None,
            (1950, 1, 30),
            Sex::Male,
            "Ringstraße 3",
            "80331",
            "München",
            None,
        ),
        idat(
            "Anna",
            "Becker",
            None,
            (1988, 11, 2),
            Sex::Female,
            "Lindenweg 7",
            "10115",
            "Berlin",
            None,
        ),
    ]
    .iter()
    .enumerate()
    .map(|(i, d)| Record::from_idat(format!("a{i}"), d))
    .collect()
}

fn site_b() -> Vec<Record> {
    [
        // Umlaut spelled out, typo in the street, no insurance number.
        idat(
            "Juergen",
            "Mueller",
            None,
            (1964, 8, 12),
            Sex::Male,
            "Hauptstrasse 12",
            "50667",
            "Koeln",
            None,
        ),
        // Married: new family name, birth name kept; day and month swapped; moved.
        idat(
            "Erika",
            "Schneider",
            Some("Mustermann"),
            (1971, 5, 3),
            Sex::Female,
            "Am Markt 4",
            "53111",
            "Bonn",
            None,
        ),
        // Another Schmidt, same city, other person.
        idat(
            "Helga",
            "Schmidt",
            None,
            (1962, 7, 14),
            Sex::Female,
            "Ringstraße 9",
            "80331",
            "München",
            None,
        ),
    ]
    .iter()
    .enumerate()
    .map(|(i, d)| Record::from_idat(format!("b{i}"), d))
    .collect()
}

#[test]
fn typical_site_variations_link_and_others_do_not() {
    let (a, b) = (site_a(), site_b());
    let results = link(&a, &b, &Config::default());
    let find = |i, j| results.iter().find(|r| r.a == i && r.b == j);
    assert_eq!(find(0, 0).map(|r| r.outcome), Some(Outcome::Match));
    // The married, moved person with swapped date: a match or clerical review, never silently lost.
    assert!(matches!(
        find(1, 1).map(|r| r.outcome),
        Some(Outcome::Match | Outcome::PossibleMatch)
    ));
    assert!(
        find(2, 2).is_none(),
        "two Schmidts in one street are different persons"
    );
    assert!(results.iter().all(|r| r.a != 3));
}

#[test]
fn dedup_finds_the_same_person_twice_in_one_set() {
    let mut all = site_a();
    all.extend(site_b());
    let found: Vec<(usize, usize)> = dedup(&all, &Config::default())
        .iter()
        .filter(|r| r.outcome == Outcome::Match)
        .map(|r| (r.a, r.b))
        .collect();
    assert!(found.contains(&(0, 4)), "{found:?}");
    assert!(!found.iter().any(|&(x, y)| (x, y) == (2, 6)));
}

#[test]
fn thresholds_give_three_outcomes() {
    let cfg = Config::default();
    assert_eq!(cfg.classify(0.95), Outcome::Match);
    assert_eq!(cfg.classify(cfg.match_threshold), Outcome::Match);
    assert_eq!(cfg.classify(0.5), Outcome::PossibleMatch);
    assert_eq!(cfg.classify(0.1), Outcome::NonMatch);
}

#[test]
fn pprl_links_umlaut_variants_without_seeing_names() {
    let (a, b) = (site_a(), site_b());
    for hardening in [
        Hardening::Balanced,
        Hardening::None,
        Hardening::SaltBirthYear,
        Hardening::XorFold,
    ] {
        let cfg = ClkConfig {
            hardening,
            ..ClkConfig::default()
        };
        let enc = Encoder::new(&ProjectSecret::new(vec![42u8; 32]).unwrap(), &cfg).unwrap();
        let same = dice(&enc.encode(&a[0]), &enc.encode(&b[0]));
        let stranger = dice(&enc.encode(&a[3]), &enc.encode(&b[0]));
        assert!(
            same >= 0.9 && stranger < 0.7,
            "{hardening:?}: same {same}, stranger {stranger}"
        );
    }
}

#[test]
fn pprl_household_members_score_high() {
    // Hans and Helga Schmidt, same street, postal code and city: a single Dice
    // threshold of 0.75 (the default since issue 18) cannot tell them apart in the
    // balanced encoding (0.807 after issue 18's fix, 0.81 before)
    // nor in the unhardened one clkhash would produce (0.77). Pinned so that a
    // change of field weights shows up here; see ClkConfig::default.
    let (a, b) = (site_a(), site_b());
    let enc = Encoder::new(
        &ProjectSecret::new(vec![42u8; 32]).unwrap(),
        &ClkConfig::default(),
    )
    .unwrap();
    let same = dice(&enc.encode(&a[0]), &enc.encode(&b[0]));
    let household = dice(&enc.encode(&a[2]), &enc.encode(&b[2]));
    println!("household {household:.3}, same {same:.3}");
    assert!(
        household > 0.75 && household < same - 0.1,
        "household {household}, same {same}"
    );
}
