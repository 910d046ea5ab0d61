//! Dice-coefficient matching of CLKs: popcount kernels chosen at run time
//! ([`super::kernel`]), a blocked all-pairs loop, optional LSH or keyed
//! blocking, threads, greedy one-to-one solving.
//!
//! # The all-pairs loop
//! Each thread takes a contiguous share of the rows of `A`; `B` is cut into
//! tiles of [`TILE`] CLKs (24 KiB, inside a 32 KiB L1 data cache), and all rows
//! of the share pass over one tile before the next is touched, so every
//! column is read from L1 and each row from L2 once per tile. Within a tile
//! the kernel keeps the row in registers and compares it with 2–4 columns per
//! step. The threshold test is an integer comparison `|A ∩ B| ≥ need[|A|+|B|]`
//! against a table built from the floating-point test `2·|A ∩ B| ≥ t·(|A|+|B|)`
//! used before, so the links and Dice values are the same as with a
//! pair-by-pair loop. Hits are sorted back into row-major order per thread.

use super::kernel::{Hit, Kernel, Need, Ready};
use super::{CLK_BITS, Clk};
use crate::assign::greedy_one_to_one;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Instant;

/// Dice coefficient `2|A ∩ B| / (|A| + |B|)`; 0 for two empty filters.
/// `|A ∩ B|` comes from the fastest popcount kernel of this CPU
/// ([`Kernel::active`]); every kernel gives the same value.
#[inline]
pub fn dice(a: &Clk, b: &Clk) -> f64 {
    let den = a.popcount() + b.popcount();
    if den == 0 {
        return 0.0;
    }
    2.0 * f64::from(intersection(a, b)) / f64::from(den)
}

/// `|A ∩ B|` on the active kernel.
#[inline]
pub(crate) fn intersection(a: &Clk, b: &Clk) -> u32 {
    active().intersection(a, b)
}

/// The active kernel, checked once.
fn active() -> Ready {
    static READY: OnceLock<Ready> = OnceLock::new();
    *READY.get_or_init(|| {
        Kernel::active()
            .ready()
            .expect("Kernel::active only returns available kernels")
    })
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

/// Columns of `B` per tile of the all-pairs loop: 192 × 128 bytes = 24 KiB,
/// which leaves room in a 32 KiB L1 data cache for the row and the table.
pub const TILE: usize = 192;

/// Links two sets of CLKs: candidates with Dice ≥ threshold, then (optionally)
/// greedy one-to-one. Counts every computed Dice coefficient. With
/// [`ClkBlocking::Keys`] use [`match_clks_blocked`] instead (this function then
/// compares all pairs). Runs on the active popcount kernel ([`Kernel::active`]).
pub fn match_clks(a: &[Clk], b: &[Clk], cfg: &MatchConfig) -> (Vec<ClkLink>, MatchStats) {
    with_kernel(active(), a, b, cfg)
}

/// [`match_clks`] on a named popcount kernel, or `None` when this CPU lacks
/// it: for benchmarks and tests that compare the kernels in one process.
pub fn match_clks_with(
    kernel: Kernel,
    a: &[Clk],
    b: &[Clk],
    cfg: &MatchConfig,
) -> Option<(Vec<ClkLink>, MatchStats)> {
    kernel.ready().map(|k| with_kernel(k, a, b, cfg))
}

fn with_kernel(k: Ready, a: &[Clk], b: &[Clk], cfg: &MatchConfig) -> (Vec<ClkLink>, MatchStats) {
    match cfg.blocking {
        ClkBlocking::AllPairs | ClkBlocking::Keys => run(k, a, b, None, cfg),
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
            run(k, a, b, Some((&ka, &kb)), cfg)
        }
    }
}

/// Links two sets of CLKs compared only within shared blocks: `a_blocks[i]`
/// holds the block ids of `a[i]` (e.g. from [`super::Encoder::blocking_keys`]),
/// and a pair is compared when they share at least one id (anonlink's
/// `blocking_f`). Runs on the active popcount kernel ([`Kernel::active`]).
pub fn match_clks_blocked(
    a: &[Clk],
    a_blocks: &[Vec<u64>],
    b: &[Clk],
    b_blocks: &[Vec<u64>],
    cfg: &MatchConfig,
) -> (Vec<ClkLink>, MatchStats) {
    run(active(), a, b, Some((a_blocks, b_blocks)), cfg)
}

/// [`match_clks_blocked`] on a named popcount kernel, or `None` when this CPU lacks it.
pub fn match_clks_blocked_with(
    kernel: Kernel,
    a: &[Clk],
    a_blocks: &[Vec<u64>],
    b: &[Clk],
    b_blocks: &[Vec<u64>],
    cfg: &MatchConfig,
) -> Option<(Vec<ClkLink>, MatchStats)> {
    kernel
        .ready()
        .map(|k| run(k, a, b, Some((a_blocks, b_blocks)), cfg))
}

type Blocks<'a> = Option<(&'a [Vec<u64>], &'a [Vec<u64>])>;

fn run(
    kernel: Ready,
    a: &[Clk],
    b: &[Clk],
    blocks: Blocks<'_>,
    cfg: &MatchConfig,
) -> (Vec<ClkLink>, MatchStats) {
    let start = Instant::now();
    let pop_a: Vec<u32> = a.iter().map(Clk::popcount).collect();
    let pop_b: Vec<u32> = b.iter().map(Clk::popcount).collect();
    let need = Need::new(cfg.threshold);
    let index: Option<HashMap<u64, Vec<u32>>> = blocks.map(|(_, kb)| {
        let mut t: HashMap<u64, Vec<u32>> = HashMap::new();
        for (j, ks) in kb.iter().enumerate() {
            for k in ks {
                t.entry(*k).or_default().push(j as u32);
            }
        }
        t
    });
    // Rows `lo..lo + chunk.len()` of `a`: the hits in row-major order and the
    // number of comparisons.
    let rows = |lo: usize, chunk: &[Clk]| -> (Vec<Hit>, u64) {
        let pop_rows = &pop_a[lo..lo + chunk.len()];
        let mut hits = Vec::new();
        match (&index, blocks) {
            (Some(index), Some((ka, _))) => {
                let mut comparisons = 0u64;
                let mut seen = vec![u32::MAX; b.len()];
                let mut cands: Vec<u32> = Vec::new();
                for (off, (x, &pa)) in chunk.iter().zip(pop_rows).enumerate() {
                    let i = lo + off;
                    cands.clear();
                    for k in &ka[i] {
                        for &j in index.get(k).map(Vec::as_slice).unwrap_or(&[]) {
                            if seen[j as usize] != i as u32 {
                                seen[j as usize] = i as u32;
                                cands.push(j);
                            }
                        }
                    }
                    kernel.scan_list(x, pa, i, b, &pop_b, &cands, &need, &mut hits);
                    comparisons += cands.len() as u64;
                }
                (hits, comparisons)
            }
            _ => {
                for (t, tile) in b.chunks(TILE).enumerate() {
                    let col0 = t * TILE;
                    let pop_tile = &pop_b[col0..col0 + tile.len()];
                    kernel.scan_block(chunk, pop_rows, lo, tile, pop_tile, col0, &need, &mut hits);
                }
                // Tiles are the outer loop: back to row-major order.
                hits.sort_unstable_by_key(|h| (h.a, h.b));
                (hits, (chunk.len() * b.len()) as u64)
            }
        }
    };
    let threads = cfg.threads.max(1);
    let (hits, comparisons) = if threads == 1 || a.len() < 2 * threads {
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
            let mut hits = Vec::new();
            let mut comparisons = 0;
            for h in handles {
                let (l, c) = h.join().expect("matching thread panicked");
                hits.extend(l);
                comparisons += c;
            }
            (hits, comparisons)
        })
    };
    let mut links: Vec<ClkLink> = hits
        .into_iter()
        .map(|h| ClkLink {
            a: h.a,
            b: h.b,
            dice: 2.0 * f64::from(h.inter) / f64::from(pop_a[h.a] + pop_b[h.b]),
        })
        .collect();
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
