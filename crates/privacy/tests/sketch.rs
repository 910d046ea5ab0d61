//! HyperLogLog accuracy, merging and the wire format.

use oncofed_privacy::{Sketch, SketchError, SketchKeyer, dedup_ratio, sketch_item};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// `count` random 32-byte items, as HMAC outputs look to whoever lacks the key.
fn items(seed: u64, count: usize) -> impl Iterator<Item = [u8; 32]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count).map(move |_| {
        let mut item = [0; 32];
        rng.fill_bytes(&mut item);
        item
    })
}

fn sketch_of(seed: u64, count: usize) -> Sketch {
    let mut s = Sketch::default();
    items(seed, count).for_each(|i| s.insert(&i));
    s
}

#[test]
fn empty_sketch_estimates_zero() {
    let s = Sketch::default();
    assert!(s.is_empty());
    assert_eq!(s.estimate(), 0.0);
    assert_eq!(s.precision(), 12);
}

#[test]
fn small_cohorts_are_counted_almost_exactly() {
    for n in [1, 2, 5, 10, 20, 50, 99] {
        let est = sketch_of(n as u64, n).estimate();
        println!("n = {n}: estimate {est:.2}");
        assert!((est - n as f64).abs() <= 1.5, "n = {n}: {est:.2}");
    }
}

#[test]
fn large_cohorts_within_three_percent() {
    // 10k..1M at p = 12: standard error 1.6 %. The sizes span linear counting
    // (≤ 2m = 8192 estimated), the switch, and Ertl's estimator.
    for n in [
        3_000, 8_000, 10_000, 20_000, 50_000, 100_000, 300_000, 1_000_000,
    ] {
        let est = sketch_of(1_000 + n as u64, n).estimate();
        let err = (est / n as f64 - 1.0).abs();
        println!(
            "n = {n}: estimate {est:.0} ({:+.2} %)",
            100.0 * (est / n as f64 - 1.0)
        );
        assert!(
            err < 0.03,
            "n = {n}: estimate {est:.0}, error {:.2} %",
            100.0 * err
        );
    }
}

#[test]
fn inserting_twice_changes_nothing() {
    let mut s = sketch_of(1, 500);
    let before = s.clone();
    items(1, 500).for_each(|i| s.insert(&i));
    assert_eq!(s, before);
}

#[test]
fn merge_equals_the_sketch_of_the_union() {
    // Site A: items 0..6000, site B: items 4000..10000 (2000 shared).
    let all: Vec<_> = items(42, 10_000).collect();
    let (mut a, mut b, mut union) = (Sketch::default(), Sketch::default(), Sketch::default());
    all[..6_000].iter().for_each(|i| a.insert(i));
    all[4_000..].iter().for_each(|i| b.insert(i));
    all.iter().for_each(|i| union.insert(i));
    let mut merged = a.clone();
    merged.merge(&b).unwrap();
    assert_eq!(merged, union);
    // Merging is commutative and idempotent.
    let mut other = b.clone();
    other.merge(&a).unwrap();
    assert_eq!(other, merged);
    merged.merge(&a).unwrap();
    assert_eq!(merged, union);
    // De-duplication ratio: 10,000 persons among 12,000 counted.
    let ratio = dedup_ratio(&[&a, &b]).unwrap();
    assert!((ratio - 10_000.0 / 12_000.0).abs() < 0.03, "{ratio}");
    // Overlap by inclusion–exclusion, the leak the module docs describe.
    let overlap = a.estimate() + b.estimate() - union.estimate();
    assert!((overlap - 2_000.0).abs() < 500.0, "{overlap}");
}

#[test]
fn dedup_ratio_edge_cases() {
    assert_eq!(dedup_ratio(&[]), None);
    assert_eq!(dedup_ratio(&[&Sketch::default()]), None);
    let a = sketch_of(1, 100);
    assert!((dedup_ratio(&[&a, &a]).unwrap() - 0.5).abs() < 1e-9);
    assert_eq!(dedup_ratio(&[&a, &Sketch::new(10).unwrap()]), None);
}

#[test]
fn precisions_are_checked() {
    assert_eq!(Sketch::new(3), Err(SketchError::Precision(3)));
    assert_eq!(Sketch::new(19), Err(SketchError::Precision(19)));
    let mut a = Sketch::new(10).unwrap();
    assert_eq!(
        a.merge(&Sketch::default()),
        Err(SketchError::PrecisionMismatch(10, 12))
    );
    // Small precisions work too (6: 64 registers, standard error 13 %).
    let mut small = Sketch::new(6).unwrap();
    items(9, 1_000).for_each(|i| small.insert(&i));
    assert!(
        (small.estimate() / 1_000.0 - 1.0).abs() < 0.4,
        "{}",
        small.estimate()
    );
}

#[test]
fn the_keyer_gives_the_items_of_sketch_item() {
    for key in [&b""[..], b"project key 1", &[7u8; 100]] {
        let keyer = SketchKeyer::new(key);
        for psn in [
            "",
            "RP-12345",
            "RP-ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
        ] {
            assert_eq!(keyer.item(psn), sketch_item(key, psn), "{key:?} {psn}");
        }
    }
}

#[test]
fn sketch_items_are_keyed() {
    let a = sketch_item(b"project key 1", "RP-12345");
    assert_eq!(
        a,
        sketch_item(b"project key 1", "RP-12345"),
        "deterministic: sites agree"
    );
    assert_ne!(a, sketch_item(b"project key 2", "RP-12345"));
    assert_ne!(a, sketch_item(b"project key 1", "RP-12346"));
}

#[test]
fn wire_format_round_trips_and_is_validated() {
    let s = sketch_of(5, 1_000);
    let json = serde_json::to_string(&s).unwrap();
    assert!(
        json.starts_with(r#"{"precision":12,"registers":""#),
        "{}",
        &json[..40]
    );
    let back: Sketch = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.estimate(), s.estimate());

    let bad = |precision: u8, registers: &str| {
        let json = serde_json::json!({ "precision": precision, "registers": registers });
        serde_json::from_value::<Sketch>(json).is_err()
    };
    assert!(bad(12, "zz"), "not hex");
    assert!(bad(12, &"00".repeat(100)), "wrong length");
    assert!(bad(30, ""), "bad precision");
    assert!(
        bad(4, &format!("{}{}", "00".repeat(15), "3e")),
        "register 62 > 61 at p = 4"
    );
    assert!(
        !bad(4, &format!("{}{}", "00".repeat(15), "3d")),
        "61 is the maximum at p = 4"
    );
    assert_eq!(
        format!("{:?}", Sketch::default()),
        "Sketch { precision: 12, filled_registers: 0 }"
    );
}
