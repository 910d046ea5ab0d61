//! The fuzz target's properties (`fuzz/src/crypt4gh.rs`, compiled here too so
//! that it builds on stable with the crate) on its committed seeds (files the
//! Python reference implementation wrote for the target's fixed key) and on
//! deterministic mutations of them: flipped bytes, cuts, and random bytes.

#[path = "../../../fuzz/src/crypt4gh.rs"]
mod target;

use rand::{Rng, SeedableRng};

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/crypt4gh");
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 5, "seeds missing in {}", dir.display());
    seeds
}

#[test]
fn the_seeds_decrypt_with_the_fixed_key() {
    let reader = target::reader();
    for (name, bytes) in seeds() {
        if name.ends_with(".c4gh") {
            oncofed_crypt4gh::decrypt(bytes.as_slice(), Vec::new(), &reader, None)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        target::check(&bytes);
    }
}

#[test]
fn mutated_seeds_keep_the_properties() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(16);
    for (_, bytes) in seeds() {
        // Keep the two-segment seed cheap: its second segment starts at ~65.7 KB.
        let rounds = if bytes.len() > 10_000 { 12 } else { 150 };
        for _ in 0..rounds {
            let mut m = bytes.clone();
            match rng.random_range(0..4) {
                0 => {
                    let i = rng.random_range(0..m.len());
                    m[i] ^= 1 << rng.random_range(0..8);
                }
                1 => m.truncate(rng.random_range(0..m.len())),
                2 => {
                    let i = rng.random_range(0..m.len().min(200));
                    m[i] = rng.random();
                }
                _ => {
                    let n = rng.random_range(0..64);
                    m.extend((0..n).map(|_| rng.random::<u8>()));
                }
            }
            target::check(&m);
        }
    }
    for _ in 0..200 {
        let n = rng.random_range(0..300);
        let random: Vec<u8> = (0..n).map(|_| rng.random()).collect();
        target::check(&random);
    }
}
