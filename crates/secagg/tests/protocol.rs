//! The sum is exact, with and without dropouts; the state machines refuse what
//! would break the protocol's guarantees.

mod common;

use common::{ids, plain_sum, run_round, run_round_with, wire};
use oncofed_secagg::{
    AggregationRound, FixedPoint, RoundId, SecAggError, SiteId, SiteSession, UnmaskRequest,
    WideFixedPoint, encode_counts,
};
use proptest::prelude::*;

fn counts(n: usize, len: usize) -> Vec<Vec<u64>> {
    (0..n)
        .map(|_| {
            let v: Vec<u64> = (0..len)
                .map(|_| rand::random::<u64>() % 1_000_000)
                .collect();
            encode_counts(&v, 64).unwrap()
        })
        .collect()
}

fn reals(n: usize, len: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            (0..len)
                .map(|k| (k as f64 - 3.5) * 1234.5678 / (i as f64 + 1.0) - 0.001 * i as f64)
                .collect()
        })
        .collect()
}

#[test]
fn counts_sum_exactly_over_3_and_10_sites() {
    for n in [3, 10] {
        let inputs = counts(n, 17);
        assert_eq!(
            run_round(&inputs, n / 2 + 1, &[]).unwrap(),
            plain_sum(&inputs, &[])
        );
    }
}

#[test]
fn fixed_point_sums_are_exact_including_negatives() {
    let codec = FixedPoint::DEFAULT;
    for n in [3, 10] {
        let values = reals(n, 8);
        let encoded: Vec<Vec<u64>> = values.iter().map(|v| codec.encode(v).unwrap()).collect();
        let sum = run_round(&encoded, n / 2 + 1, &[]).unwrap();
        // Exact: the sum of the rounded fixed-point values, bit for bit.
        assert_eq!(sum, plain_sum(&encoded, &[]));
        let decoded = codec.decode_sum(&sum, n).unwrap();
        for (k, d) in decoded.iter().enumerate() {
            let truth: f64 = values.iter().map(|v| v[k]).sum();
            assert!(
                (d - truth).abs() <= n as f64 * codec.resolution(),
                "{d} vs {truth}"
            );
        }
        assert!(decoded.iter().any(|d| *d < 0.0));
    }
}

/// The wide codec through masking and unmasking, with and without dropouts:
/// the unmasked sum is the limbs' plain sum, and it decodes to the exact sum of
/// the values rounded to 2^-48 (rounded once to `f64`).
#[test]
fn wide_fixed_point_sums_are_exact_with_dropouts() {
    let codec = WideFixedPoint::DEFAULT;
    let scale = 2f64.powi(48);
    for (n, t, dropped) in [(3, 2, vec![]), (10, 6, vec![]), (10, 6, vec![2, 7])] {
        let mut values = reals(n, 8);
        for (i, v) in values.iter_mut().enumerate() {
            v.push(-1e12 + i as f64 * 1e-9);
            v.push((i as f64 - 4.5) * 3e-14);
        }
        let encoded: Vec<Vec<u64>> = values.iter().map(|v| codec.encode(v).unwrap()).collect();
        assert_eq!(encoded[0].len(), 2 * values[0].len());
        let sum = run_round(&encoded, t, &dropped).unwrap();
        assert_eq!(sum, plain_sum(&encoded, &dropped));
        let decoded = codec.decode_sum(&sum, n - dropped.len()).unwrap();
        assert_eq!(decoded.len(), values[0].len());
        for (k, d) in decoded.iter().enumerate() {
            let q: i128 = (0..n)
                .filter(|i| !dropped.contains(i))
                .map(|i| (values[i][k] * scale).round() as i128)
                .sum();
            assert_eq!(*d, q as f64 / scale, "component {k}");
        }
        assert!(decoded.iter().any(|d| *d < 0.0));
    }
}

#[test]
fn one_dropout_of_3_and_two_of_10_leave_the_survivors_sum_exact() {
    let inputs = counts(3, 5);
    for d in 0..3 {
        assert_eq!(
            run_round(&inputs, 2, &[d]).unwrap(),
            plain_sum(&inputs, &[d])
        );
    }
    let inputs = counts(10, 5);
    for dropped in [[0, 9], [3, 4], [8, 1]] {
        assert_eq!(
            run_round(&inputs, 6, &dropped).unwrap(),
            plain_sum(&inputs, &dropped)
        );
    }
    let real = reals(10, 4);
    let codec = FixedPoint::DEFAULT;
    let encoded: Vec<Vec<u64>> = real.iter().map(|v| codec.encode(v).unwrap()).collect();
    let sum = run_round(&encoded, 6, &[2, 7]).unwrap();
    assert_eq!(sum, plain_sum(&encoded, &[2, 7]));
    assert!(codec.decode_sum(&sum, 8).is_ok());
}

#[test]
fn a_site_that_never_sent_shares_is_left_out() {
    let inputs = counts(5, 3);
    let sum = run_round_with("r", &inputs, 3, &[1], &[4]).unwrap();
    assert_eq!(sum, plain_sum(&inputs, &[1, 4]));
}

#[test]
fn too_many_dropouts_abort_the_round() {
    let inputs = counts(5, 3);
    assert_eq!(
        run_round(&inputs, 3, &[0, 1, 2]),
        Err(SecAggError::BelowThreshold {
            got: 2,
            threshold: 3
        })
    );
    assert!(matches!(
        AggregationRound::new(RoundId::new("r").unwrap(), &ids(4), 2),
        Err(SecAggError::InvalidThreshold { .. })
    ));
}

/// Drives a 3-site round up to the masked inputs; site 2 "drops".
struct Setup {
    hub: AggregationRound,
    sessions: Vec<SiteSession>,
    masked: Vec<oncofed_secagg::MaskedInput>,
}

fn setup() -> Setup {
    let round = RoundId::new("late").unwrap();
    let mut hub = AggregationRound::new(round.clone(), &ids(3), 2).unwrap();
    let mut sessions = Vec::new();
    for id in ids(3) {
        let (s, p) = SiteSession::new(id, round.clone(), 2);
        hub.add_share(p).unwrap();
        sessions.push(s);
    }
    let keys = hub.close_keys().unwrap();
    for s in &mut sessions {
        let e = s.share_keys(&keys).unwrap();
        hub.add_encrypted_shares(s.site(), e).unwrap();
    }
    let inbox = hub.close_shares().unwrap();
    let masked: Vec<_> = sessions
        .iter_mut()
        .map(|s| s.mask(&inbox[&s.site()], &[1, 2, 3]).unwrap())
        .collect();
    hub.add_masked(masked[0].clone()).unwrap();
    hub.add_masked(masked[1].clone()).unwrap();
    Setup {
        hub,
        sessions,
        masked,
    }
}

#[test]
fn late_input_is_refused_after_the_dropped_sites_key_is_revealed() {
    let Setup {
        mut hub,
        mut sessions,
        masked,
    } = setup();
    let request = hub.close_inputs().unwrap();
    assert_eq!(request.dropped, vec![SiteId(2)]);
    let late = SecAggError::LateInput { site: SiteId(2) };
    assert_eq!(hub.add_masked(masked[2].clone()), Err(late.clone()));
    for s in &mut sessions[..2] {
        hub.add_reveal(s.reveal(&request).unwrap()).unwrap();
    }
    assert_eq!(hub.add_masked(masked[2].clone()), Err(late.clone()));
    assert_eq!(hub.finish().unwrap(), vec![2, 4, 6]);
    assert_eq!(hub.add_masked(masked[2].clone()), Err(late));
}

#[test]
fn sites_refuse_unmask_requests_that_contradict_their_view_or_repeat() {
    let Setup { mut sessions, .. } = setup();
    let round = RoundId::new("late").unwrap();
    let req = |survivors: &[u32], dropped: &[u32]| UnmaskRequest {
        round: round.clone(),
        survivors: survivors.iter().map(|&s| SiteId(s)).collect(),
        dropped: dropped.iter().map(|&s| SiteId(s)).collect(),
    };
    let s0 = &mut sessions[0];
    // Site 1 both dropped and survived: the hub would get both kinds of shares.
    assert!(s0.reveal(&req(&[0, 1], &[1, 2])).is_err());
    // Site 2 missing from the split.
    assert!(s0.reveal(&req(&[0, 1], &[])).is_err());
    // Site 0 told it dropped.
    assert!(s0.reveal(&req(&[1, 2], &[0])).is_err());
    // Fewer survivors than the threshold.
    assert!(matches!(
        s0.reveal(&req(&[0], &[1, 2])),
        Err(SecAggError::BelowThreshold { .. })
    ));
    let wrong_round = UnmaskRequest {
        round: RoundId::new("other").unwrap(),
        ..req(&[0, 1], &[2])
    };
    assert!(matches!(
        s0.reveal(&wrong_round),
        Err(SecAggError::WrongRound { .. })
    ));
    // A valid request is answered once; a second (say, "site 1 dropped") is refused.
    s0.reveal(&req(&[0, 1], &[2])).unwrap();
    assert!(matches!(
        s0.reveal(&req(&[0, 2], &[1])),
        Err(SecAggError::WrongPhase { .. })
    ));
}

#[test]
fn hub_refuses_reveals_with_the_wrong_kind_of_share_and_bad_shares() {
    let Setup {
        mut hub,
        mut sessions,
        ..
    } = setup();
    let request = hub.close_inputs().unwrap();
    let mut r0 = sessions[0].reveal(&request).unwrap();
    // Moving site 2's key share into the self-mask list would hand the hub both kinds.
    let mut both = r0.clone();
    both.self_mask_shares.push(both.mask_key_shares[0].clone());
    assert_eq!(
        hub.add_reveal(both),
        Err(SecAggError::RevealMismatch(SiteId(0)))
    );
    // A corrupted share is caught when the secret is checked against its commitment.
    r0.self_mask_shares[1].value[0] ^= 1;
    hub.add_reveal(r0).unwrap();
    hub.add_reveal(sessions[1].reveal(&request).unwrap())
        .unwrap();
    assert!(matches!(
        hub.finish(),
        Err(SecAggError::ReconstructionMismatch(_))
    ));
}

#[test]
fn tampered_or_misaddressed_shares_are_rejected() {
    let round = RoundId::new("tamper").unwrap();
    let (mut a, pa) = SiteSession::new(SiteId(0), round.clone(), 2);
    let (mut b, pb) = SiteSession::new(SiteId(1), round.clone(), 2);
    let keys = vec![pa, pb];
    let mut to_b = a.share_keys(&keys).unwrap();
    let to_a = b.share_keys(&keys).unwrap();
    to_b[0].ciphertext[3] ^= 0x40;
    assert_eq!(
        b.mask(&to_b, &[1]),
        Err(SecAggError::BadShare {
            from: SiteId(0),
            to: SiteId(1)
        })
    );
    assert!(a.mask(&to_b, &[1]).is_err());
    assert!(a.mask(&to_a, &[1]).is_ok());
}

#[test]
fn messages_out_of_order_or_from_strangers_are_refused() {
    let round = RoundId::new("order").unwrap();
    let mut hub = AggregationRound::new(round.clone(), &ids(3), 2).unwrap();
    let (_, stranger) = SiteSession::new(SiteId(7), round.clone(), 2);
    assert_eq!(
        hub.add_share(stranger),
        Err(SecAggError::UnknownSite(SiteId(7)))
    );
    let (_, other_round) = SiteSession::new(SiteId(0), RoundId::new("x").unwrap(), 2);
    assert!(matches!(
        hub.add_share(other_round),
        Err(SecAggError::WrongRound { .. })
    ));
    let (_, p0) = SiteSession::new(SiteId(0), round.clone(), 2);
    hub.add_share(p0.clone()).unwrap();
    assert_eq!(hub.add_share(p0), Err(SecAggError::Duplicate(SiteId(0))));
    assert!(matches!(
        hub.close_keys(),
        Err(SecAggError::BelowThreshold { .. })
    ));
    assert!(matches!(hub.finish(), Err(SecAggError::WrongPhase { .. })));
    assert!(RoundId::new("").is_err());
    assert!(serde_json::from_str::<RoundId>("\"with space\"").is_err());
    assert_eq!(wire(RoundId::new("q-1").unwrap()).as_str(), "q-1");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_inputs_and_dropouts_below_threshold_give_exact_sums(
        n in 3usize..9,
        len in 1usize..6,
        seed in any::<u64>(),
        dropout_bits in any::<u16>(),
    ) {
        let t = n / 2 + 1;
        let inputs: Vec<Vec<u64>> = (0..n)
            .map(|i| (0..len).map(|k| seed.wrapping_mul(31 * i as u64 + k as u64 + 1).rotate_left(i as u32)).collect())
            .collect();
        let dropped: Vec<usize> = (0..n).filter(|i| dropout_bits >> i & 1 == 1).take(n - t).collect();
        prop_assert_eq!(run_round(&inputs, t, &dropped).unwrap(), plain_sum(&inputs, &dropped));
    }
}
