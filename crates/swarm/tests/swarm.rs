//! Swarm rounds over the in-memory relay: every site ends with the FedAvg
//! model, and the relay never holds a parameter in the clear.

mod support;

use oncofed_swarm::{Kind, MemoryRelay, SiteConfig, SwarmSite, encode_update, fedavg, model_hash};
use support::*;

fn run_rounds(n: usize, rounds: u32, dim: usize) -> (MemoryRelay, Federation, Vec<Vec<f32>>) {
    let relay = MemoryRelay::new();
    let run = format!("swarm-{n}");
    let mut fed = Federation::new(&relay, &run, n, dim);
    let none = Default::default();
    fed.pump(&relay, &run, &none);
    assert!(fed.sites.iter().all(|s| s.ready()), "keys exchanged");
    let mut seen = vec![fed.sites[0].model().to_vec()];
    for r in 0..rounds {
        let (updates, accepted) = fed.round(&relay, &run, r);
        let expected = reference_fedavg(&updates);
        let hash = model_hash(fed.sites[0].model());
        for (i, site) in fed.sites.iter().enumerate() {
            let a = accepted[i]
                .as_ref()
                .unwrap_or_else(|| panic!("site {i} accepted round {r}"));
            assert_eq!(a.round, r);
            assert_eq!(a.hash, hash, "site {i} holds the same model");
            assert_eq!(site.model(), fed.sites[0].model(), "bit-identical models");
            assert_eq!(a.contributors.len(), n);
            let rel = max_rel_diff(site.model(), &expected);
            assert!(rel <= 1e-6, "n = {n}, round {r}: relative difference {rel}");
        }
        // The crate's own merge, in name order, gives the same bits.
        let by_name: Vec<(Vec<f32>, u64)> = updates
            .iter()
            .map(|u| (u.params.clone(), u.samples))
            .collect();
        assert_eq!(fedavg(&by_name).unwrap(), fed.sites[0].model());
        seen.extend(updates.into_iter().map(|u| u.params));
        seen.push(fed.sites[0].model().to_vec());
    }
    assert!(fed.refusals.is_empty(), "refusals: {:?}", fed.refusals);
    (relay, fed, seen)
}

#[test]
fn three_sites_end_every_round_with_the_fedavg_model() {
    let (_, fed, _) = run_rounds(3, 5, 40);
    // The model moved: five rounds of training changed it.
    let initial: Vec<f32> = (0..40).map(|j| (j as f32 * 0.05).sin()).collect();
    assert!(max_rel_diff(fed.sites[0].model(), &initial) > 0.1);
}

#[test]
fn ten_sites_end_every_round_with_the_fedavg_model() {
    run_rounds(10, 4, 40);
}

#[test]
fn no_plaintext_parameter_reaches_the_relay() {
    let dim = 64;
    let (relay, _, seen) = run_rounds(10, 3, dim);
    let stored = relay.stored().unwrap();
    let all: Vec<u8> = stored.iter().flat_map(|e| e.ciphertext.clone()).collect();
    let mut values: Vec<f32> = seen.iter().flatten().copied().collect();
    values.sort_by(f32::total_cmp);
    values.dedup();
    // A 4-byte pattern occurs in L random bytes with probability ≈ L / 2³²;
    // over V values about V·L / 2³² ≈ 0.03 chance hits are expected here. A
    // leak would show every value; allow at most 2 chance hits (Poisson
    // P(≥ 3) ≈ 5·10⁻⁶), and none of 8 bytes (two consecutive parameters).
    let hits = values
        .iter()
        .filter(|v| contains(&all, &v.to_le_bytes()))
        .count();
    let expected = values.len() as f64 * all.len() as f64 / 2f64.powi(32);
    eprintln!(
        "{hits} single-value hits in {} bytes, {expected:.3} expected by chance",
        all.len()
    );
    assert!(
        hits <= 2,
        "{hits} parameter values appear in the relay's store"
    );
    for params in &seen {
        for pair in params.windows(2) {
            let bytes = [pair[0].to_le_bytes(), pair[1].to_le_bytes()].concat();
            assert!(
                !contains(&all, &bytes),
                "two consecutive parameters are stored"
            );
        }
    }
    for params in &seen {
        let serialised = encode_update(params, 17);
        // Any 16 bytes of a serialised update or model (four parameters).
        for w in serialised[12..].chunks(16) {
            assert!(!contains(&all, w), "part of a serialised update is stored");
        }
        assert!(
            !contains(&all, &model_hash(params)),
            "a model hash is stored"
        );
    }
    // The check can fail: a plaintext update in the store would be found.
    let mut leaked = all.clone();
    leaked.extend(encode_update(&seen[1], 17));
    let leaked_hits = values
        .iter()
        .filter(|v| contains(&leaked, &v.to_le_bytes()))
        .count();
    assert!(
        leaked_hits >= dim,
        "a leaked update shows {leaked_hits} values"
    );

    // The sealed bytes are uniform: χ² of the byte histogram, df 255, whose
    // 99.99th percentile is about 361.
    let sealed_bytes: Vec<u8> = sealed(&stored).flat_map(|e| e.ciphertext.clone()).collect();
    let chi2 = chi2_bytes(&sealed_bytes);
    eprintln!(
        "{} sealed envelopes, {} bytes, χ² {chi2:.1} (df 255); {} parameter values scanned",
        sealed(&stored).count(),
        sealed_bytes.len(),
        values.len()
    );
    assert!(sealed_bytes.len() > 50_000);
    assert!(chi2 < 361.0, "ciphertexts are not uniform: χ² {chi2}");
    let plain: Vec<u8> = seen.iter().flat_map(|p| encode_update(p, 17)).collect();
    assert!(chi2_bytes(&plain) > 10_000.0, "the test detects plaintext");
    for kind in [Kind::Update, Kind::Model, Kind::Hash] {
        assert!(stored.iter().any(|e| e.kind == kind), "{kind} relayed");
    }
}

#[test]
fn a_site_resumes_a_run_from_its_persisted_state() {
    let relay = MemoryRelay::new();
    let run = "resume";
    let mut fed = Federation::new(&relay, run, 3, 8);
    fed.pump(&relay, run, &Default::default());
    fed.round(&relay, run, 0);
    // Site 1 restarts between rounds from what it persisted.
    let state = fed.sites[1].export();
    let text = serde_json::to_string(&state).unwrap();
    assert!(
        !format!("{state:?}").contains(&hex::encode(state.secret)),
        "Debug hides the secret"
    );
    let config = SiteConfig {
        name: fed.names[1].clone(),
        signing: fed.keys[1].clone(),
        roster: fed.roster.clone(),
        min_sites: 3,
    };
    fed.sites[1] =
        SwarmSite::restore(config.clone(), serde_json::from_str(&text).unwrap()).unwrap();
    let (updates, accepted) = fed.round(&relay, run, 1);
    assert!(accepted.iter().all(Option::is_some));
    assert!(max_rel_diff(fed.sites[1].model(), &reference_fedavg(&updates)) <= 1e-6);
    // A persisted state with another site's secret is refused.
    let mut other = fed.sites[2].export();
    other.keys = fed.sites[1].export().keys;
    assert!(SwarmSite::restore(config, other).is_err());
}
