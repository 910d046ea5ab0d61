//! Dice-coefficient matching of CLKs: bit-parallel popcount, optional LSH
//! blocking, threads, greedy one-to-one solving.

use super::{CLK_BITS, Clk};
use crate::assign::greedy_one_to_one;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Instant;

/// Dice coefficient `2|A ∩ B| / (|A| + |B|)`; 0 for two empty filters.
#[inline]
pub fn dice(a: &Clk, b: &Clk) -> f64 {
    let den = a.popcount() + b.popcount();
    if den == 0 {
        return 0.0;
    }
    2.0 * f64::from(intersection(a, b)) / f64::from(den)
}

/// `|A ∩ B|`, the inner loop of all matching.
///
/// Built with the POPCNT instruction available (`-C target-cpu=native` or
/// `x86-64-v2` and up), sixteen `count_ones` compile to sixteen `popcnt`s. On
/// the baseline x86-64 target `count_ones` becomes a bit-twiddling sequence per
/// word; there the SWAR popcount (Wegner/Knuth) is run per word only up to byte
/// counts, and the sixteen byte vectors are summed before one horizontal add.
/// (The crate forbids `unsafe`, so no run-time dispatch to POPCNT.)
#[inline]
pub(crate) fn intersection(a: &Clk, b: &Clk) -> u32 {
    if cfg!(target_feature = "popcnt") {
        let mut n = 0;
        for k in 0..16 {
            n += (a.0[k] & b.0[k]).count_ones();
        }
        return n;
    }
    let mut bytes = 0u64;
    for k in 0..16 {
        let mut v = a.0[k] & b.0[k];
        v -= (v >> 1) & 0x5555_5555_5555_5555;
        v = (v & 0x3333_3333_3333_3333) + ((v >> 2) & 0x3333_3333_3333_3333);
        // Each byte ≤ 8 per word, ≤ 128 after sixteen words: no carry between bytes.
        bytes += (v + (v >> 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    }
    let halves = (bytes & 0x00ff_00ff_00ff_00ff) + ((bytes >> 8) & 0x00ff_00ff_00ff_00ff);
    (halves.wrapping_mul(0x0001_0001_0001_0001) >> 48) as u32
}

/// How candidate pairs are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClkBlocking {
    /// Every pair (what anonlink does without a blocking function).
    AllPairs,
    /// Hamming LSH on bit samples (Durham 2012; Karapiperis & Verykios 2015):
    /// `bands` tables, each keyed by `bits` (≤ 64) bit positions sampled with a
    /// public seed. Two CLKs meet if they agree on all sampled bits of a band.
    Lsh {
        /// Number of hash tables.
        bands: usize,
        /// Sampled bits per table.
        bits: usize,
        /// Seed of the bit sample (both sides must use the same).
        seed: u64,
    },
    /// Keyed blocking keys computed by the sites ([`super::Encoder::blocking_keys`]),
    /// passed to [`match_clks_blocked`].
    Keys,
}

/// Matching settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatchConfig {
    /// Minimum Dice coefficient of a link (anonlink's threshold); depends on the
    /// encoding, see [`super::Hardening::recommended_threshold`] and
    /// [`MatchConfig::for_encoding`].
    pub threshold: f64,
    /// Candidate generation.
    pub blocking: ClkBlocking,
    /// Worker threads (std::thread::scope).
    pub threads: usize,
    /// Apply the greedy one-to-one solver.
    pub one_to_one: bool,
}

impl Default for MatchConfig {
    /// [`MatchConfig::for_encoding`] of the default encoding
    /// ([`super::ClkConfig::default`], balanced): threshold
    /// [`super::DEFAULT_THRESHOLD`], chosen on a tuning cohort by the rule in
    /// [`super::Hardening::recommended_threshold`]. CLKs made with another
    /// hardening need `MatchConfig::for_encoding` of their own settings.
    fn default() -> Self {
        MatchConfig::for_encoding(&super::ClkConfig::default())
    }
}

/// A link between `a[a]` and `b[b]` with its Dice coefficient.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ClkLink {
    /// Index in the first set.
    pub a: usize,
    /// Index in the second set.
    pub b: usize,
    /// Dice coefficient.
    pub dice: f64,
}

/// What a matching run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct MatchStats {
    /// Dice coefficients computed.
    pub comparisons: u64,
    /// Pairs at or above the threshold before solving.
    pub candidates: usize,
    /// Wall time of candidate generation and comparison (without solving).
    pub compare_seconds: f64,
    /// Wall time including solving.
    pub seconds: f64,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn band_positions(bands: usize, bits: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut state = seed;
    (0..bands)
        .map(|_| {
            (0..bits.min(64))
                .map(|_| (splitmix(&mut state) % CLK_BITS as u64) as usize)
                .collect()
        })
        .collect()
}

fn band_key(c: &Clk, positions: &[usize]) -> u64 {
    positions
        .iter()
        .fold(0u64, |k, &p| (k << 1) | u64::from(c.bit(p)))
}

/// Links two sets of CLKs: candidates with Dice ≥ threshold, then (optionally)
/// greedy one-to-one. Counts every computed Dice coefficient. With
/// [`ClkBlocking::Keys`] use [`match_clks_blocked`] instead (this function then
/// compares all pairs).
pub fn match_clks(a: &[Clk], b: &[Clk], cfg: &MatchConfig) -> (Vec<ClkLink>, MatchStats) {
    match cfg.blocking {
        ClkBlocking::AllPairs | ClkBlocking::Keys => run(a, b, None, cfg),
        ClkBlocking::Lsh { bands, bits, seed } => {
            let positions = band_positions(bands, bits, seed);
            let keys = |c: &[Clk]| -> Vec<Vec<u64>> {
                c.iter()
                    .map(|x| {
                        positions
                            .iter()
                            .enumerate()
                            .map(|(n, p)| band_key(x, p).rotate_left(8) ^ n as u64)
                            .collect()
                    })
                    .collect()
            };
            let (ka, kb) = (keys(a), keys(b));
            run(a, b, Some((&ka, &kb)), cfg)
        }
    }
}

/// Links two sets of CLKs compared only within shared blocks: `a_blocks[i]`
/// holds the block ids of `a[i]` (e.g. from [`super::Encoder::blocking_keys`]),
/// and a pair is compared when they share at least one id (anonlink's
/// `blocking_f`).
pub fn match_clks_blocked(
    a: &[Clk],
    a_blocks: &[Vec<u64>],
    b: &[Clk],
    b_blocks: &[Vec<u64>],
    cfg: &MatchConfig,
) -> (Vec<ClkLink>, MatchStats) {
    run(a, b, Some((a_blocks, b_blocks)), cfg)
}

type Blocks<'a> = Option<(&'a [Vec<u64>], &'a [Vec<u64>])>;

fn run(a: &[Clk], b: &[Clk], blocks: Blocks<'_>, cfg: &MatchConfig) -> (Vec<ClkLink>, MatchStats) {
    let start = Instant::now();
    let pop_b: Vec<u32> = b.iter().map(Clk::popcount).collect();
    let index: Option<HashMap<u64, Vec<u32>>> = blocks.map(|(_, kb)| {
        let mut t: HashMap<u64, Vec<u32>> = HashMap::new();
        for (j, ks) in kb.iter().enumerate() {
            for k in ks {
                t.entry(*k).or_default().push(j as u32);
            }
        }
        t
    });
    let t = cfg.threshold;
    let rows = |lo: usize, chunk: &[Clk]| -> (Vec<ClkLink>, u64) {
        let mut out = Vec::new();
        let mut comparisons = 0u64;
        let mut seen = vec![u32::MAX; b.len()];
        let mut cands: Vec<u32> = Vec::new();
        for (off, x) in chunk.iter().enumerate() {
            let i = lo + off;
            let pa = x.popcount();
            let mut consider = |j: usize| {
                let den = pa + pop_b[j];
                let inter = intersection(x, &b[j]);
                if den > 0 && 2.0 * f64::from(inter) >= t * f64::from(den) {
                    out.push(ClkLink {
                        a: i,
                        b: j,
                        dice: 2.0 * f64::from(inter) / f64::from(den),
                    });
                }
            };
            match (&index, blocks) {
                (Some(index), Some((ka, _))) => {
                    cands.clear();
                    for k in &ka[i] {
                        for &j in index.get(k).map(Vec::as_slice).unwrap_or(&[]) {
                            if seen[j as usize] != i as u32 {
                                seen[j as usize] = i as u32;
                                cands.push(j);
                            }
                        }
                    }
                    for &j in &cands {
                        consider(j as usize);
                    }
                    comparisons += cands.len() as u64;
                }
                _ => {
                    for j in 0..b.len() {
                        consider(j);
                    }
                    comparisons += b.len() as u64;
                }
            }
        }
        (out, comparisons)
    };
    let threads = cfg.threads.max(1);
    let (mut links, comparisons) = if threads == 1 || a.len() < 2 * threads {
        rows(0, a)
    } else {
        let chunk = a.len().div_ceil(threads);
        std::thread::scope(|s| {
            let rows = &rows;
            let handles: Vec<_> = a
                .chunks(chunk)
                .enumerate()
                .map(|(n, c)| s.spawn(move || rows(n * chunk, c)))
                .collect();
            let mut links = Vec::new();
            let mut comparisons = 0;
            for h in handles {
                let (l, c) = h.join().expect("matching thread panicked");
                links.extend(l);
                comparisons += c;
            }
            (links, comparisons)
        })
    };
    let compare_seconds = start.elapsed().as_secs_f64();
    let candidates = links.len();
    if cfg.one_to_one {
        links = greedy_one_to_one(links, |l| (l.a, l.b, l.dice));
    }
    let stats = MatchStats {
        comparisons,
        candidates,
        compare_seconds,
        seconds: start.elapsed().as_secs_f64(),
    };
    (links, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clk(bits: &[usize]) -> Clk {
        let mut c = Clk([0; 16]);
        for &b in bits {
            c.0[b / 64] |= 1 << (b % 64);
        }
        c
    }

    #[test]
    fn swar_popcount_equals_naive() {
        let mut state = 9;
        for _ in 0..1000 {
            let a = Clk(std::array::from_fn(|_| splitmix(&mut state)));
            let b = Clk(std::array::from_fn(|_| {
                splitmix(&mut state) | splitmix(&mut state)
            }));
            let naive: u32 = (0..16).map(|k| (a.0[k] & b.0[k]).count_ones()).sum();
            assert_eq!(intersection(&a, &b), naive);
        }
        assert_eq!(
            intersection(&Clk([u64::MAX; 16]), &Clk([u64::MAX; 16])),
            1024
        );
    }

    #[test]
    fn dice_by_hand() {
        let a = clk(&[0, 1, 2, 700]);
        let b = clk(&[0, 1, 3, 700]);
        assert_eq!(dice(&a, &b), 0.75);
        assert_eq!(dice(&a, &a), 1.0);
        assert_eq!(dice(&clk(&[]), &clk(&[])), 0.0);
        assert_eq!(clk(&[5, 1000]).to_bytes()[0], 0x04);
    }

    #[test]
    fn all_pairs_and_lsh_agree_on_identical_clks() {
        let mut state = 42;
        let a: Vec<Clk> = (0..50)
            .map(|_| Clk(std::array::from_fn(|_| splitmix(&mut state))))
            .collect();
        let b: Vec<Clk> = a.iter().rev().copied().collect();
        for threads in [1, 2] {
            let (links, stats) = match_clks(
                &a,
                &b,
                &MatchConfig {
                    threads,
                    ..Default::default()
                },
            );
            assert_eq!(stats.comparisons, 2500);
            assert_eq!(links.len(), 50);
            assert!(links.iter().all(|l| l.a + l.b == 49 && l.dice == 1.0));
        }
        let lsh = ClkBlocking::Lsh {
            bands: 4,
            bits: 16,
            seed: 1,
        };
        let (links, stats) = match_clks(
            &a,
            &b,
            &MatchConfig {
                blocking: lsh,
                ..Default::default()
            },
        );
        assert_eq!(links.len(), 50);
        assert!(stats.comparisons < 2500);
    }
}
