//! Every popcount kernel this CPU can run gives the same intersections, Dice
//! values and links as the portable one and as a naive pair-by-pair reference
//! (the loop matching used before the kernels), on random and adversarial
//! filters. Prints which kernels ran and which this CPU lacks.
//!
//! `cargo test -p oncofed-linkage --test popcount_paths -- --nocapture`

use oncofed_linkage::greedy_one_to_one;
use oncofed_linkage::pprl::{
    Clk, ClkBlocking, ClkLink, Kernel, MatchConfig, dice, match_clks, match_clks_blocked,
    match_clks_blocked_with, match_clks_with,
};

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A random filter where each bit is set with probability `num / 16`.
fn random(state: &mut u64, num: u32) -> Clk {
    Clk(std::array::from_fn(|_| {
        // Four bit planes: a bit is set if its 4-bit draw is below `num`.
        let mut w = 0u64;
        let draws: [u64; 4] = std::array::from_fn(|_| splitmix(state));
        for bit in 0..64 {
            let nibble = (0..4).fold(0u32, |n, p| n << 1 | (draws[p] >> bit & 1) as u32);
            if nibble < num {
                w |= 1 << bit;
            }
        }
        w
    }))
}

fn with_bits(bits: &[usize]) -> Clk {
    let mut c = Clk([0; 16]);
    for &b in bits {
        c.0[b / 64] |= 1 << (b % 64);
    }
    c
}

/// Bit by bit, for the filter test.
fn naive(a: &Clk, b: &Clk) -> u32 {
    (0..1024).filter(|&i| a.bit(i) && b.bit(i)).count() as u32
}

/// Word by word with `count_ones`, for the (larger) link test.
fn words(a: &Clk, b: &Clk) -> u32 {
    (0..16).map(|k| (a.0[k] & b.0[k]).count_ones()).sum()
}

fn kernels() -> Vec<Kernel> {
    let (ran, lacks): (Vec<Kernel>, Vec<Kernel>) =
        Kernel::ALL.into_iter().partition(|k| k.available());
    println!(
        "popcount kernels run: {:?}; this CPU/target lacks: {:?}; active: {}",
        ran.iter().map(|k| k.name()).collect::<Vec<_>>(),
        lacks.iter().map(|k| k.name()).collect::<Vec<_>>(),
        Kernel::active().name()
    );
    assert!(ran.contains(&Kernel::Portable));
    ran
}

/// Adversarial and random filters: empty, full, every single bit, word and
/// vector-lane boundaries, alternating patterns, densities from 1/16 to 15/16.
fn filters() -> Vec<Clk> {
    let mut out = vec![Clk([0; 16]), Clk([u64::MAX; 16])];
    out.extend((0..1024).map(|i| with_bits(&[i])));
    out.push(with_bits(&[
        63, 64, 127, 128, 255, 256, 511, 512, 767, 768, 1023,
    ]));
    out.push(with_bits(&[0, 1023]));
    out.push(Clk([0xAAAA_AAAA_AAAA_AAAA; 16]));
    out.push(Clk([0x5555_5555_5555_5555; 16]));
    out.push(Clk(std::array::from_fn(|k| {
        if k % 2 == 0 { u64::MAX } else { 0 }
    })));
    out.push(Clk(std::array::from_fn(|k| 1u64 << (k * 4 % 64) | 1 << 63)));
    let mut state = 7;
    for num in 1..16 {
        for _ in 0..12 {
            out.push(random(&mut state, num));
        }
    }
    out
}

#[test]
fn every_kernel_gives_the_same_intersection_and_dice() {
    let kernels = kernels();
    let fs = filters();
    let full = Clk([u64::MAX; 16]);
    let mut pairs = 0u64;
    // All pairs among the non-single-bit filters, and each single bit against
    // itself, the full filter and its neighbour.
    let others: Vec<&Clk> = fs.iter().filter(|c| c.popcount() != 1).collect();
    let mut check = |a: &Clk, b: &Clk| {
        let want = naive(a, b);
        for &k in &kernels {
            let got = k.intersection(a, b).expect("available kernel runs");
            assert_eq!(
                got,
                want,
                "{} on |A| {} |B| {}",
                k.name(),
                a.popcount(),
                b.popcount()
            );
        }
        pairs += 1;
    };
    for a in &others {
        for b in &others {
            check(a, b);
        }
    }
    for i in 0..1024 {
        let single = with_bits(&[i]);
        check(&single, &single);
        check(&single, &full);
        check(&full, &single);
        check(&single, &with_bits(&[(i + 1) % 1024]));
    }
    // `dice` (active kernel) against the formula on the naive count, bit for bit.
    for a in &others {
        for b in others.iter().take(40) {
            let den = a.popcount() + b.popcount();
            let want = if den == 0 {
                0.0
            } else {
                2.0 * f64::from(naive(a, b)) / f64::from(den)
            };
            assert_eq!(dice(a, b).to_bits(), want.to_bits());
        }
    }
    println!("{pairs} pairs agree on {} kernels", kernels.len());
    assert!(pairs > 30_000);
    assert_eq!(
        Kernel::Avx512.available(),
        Kernel::Avx512.intersection(&full, &full).is_some()
    );
}

/// Block ids of the rows of `a` and of `b`, for keyed blocking.
type Keys<'a> = Option<(&'a [Vec<u64>], &'a [Vec<u64>])>;

/// The links matching produced before the kernels: pair by pair, the float
/// test, columns in the order the candidates are generated (all of `b`, or
/// for keyed blocks: per key of the row, the block's columns, first sighting).
fn reference(a: &[Clk], b: &[Clk], t: f64, keys: Keys<'_>) -> Vec<ClkLink> {
    let mut out = Vec::new();
    for (i, x) in a.iter().enumerate() {
        let cols: Vec<usize> = match keys {
            None => (0..b.len()).collect(),
            Some((ka, kb)) => {
                let mut cols = Vec::new();
                let mut seen = vec![false; b.len()];
                for k in &ka[i] {
                    for j in (0..b.len()).filter(|&j| kb[j].contains(k)) {
                        if !std::mem::replace(&mut seen[j], true) {
                            cols.push(j);
                        }
                    }
                }
                cols
            }
        };
        for j in cols {
            let y = &b[j];
            let den = x.popcount() + y.popcount();
            let inter = words(x, y);
            if den > 0 && 2.0 * f64::from(inter) >= t * f64::from(den) {
                out.push(ClkLink {
                    a: i,
                    b: j,
                    dice: 2.0 * f64::from(inter) / f64::from(den),
                });
            }
        }
    }
    out
}

/// Two sets with true pairs (copies with a few bits flipped), sizes that are
/// not multiples of the tile or group widths, duplicates (ties in Dice).
fn sets() -> (Vec<Clk>, Vec<Clk>) {
    let mut state = 11;
    let a: Vec<Clk> = (0..233)
        .map(|n| random(&mut state, 3 + (n % 9) as u32))
        .collect();
    let mut b: Vec<Clk> = Vec::new();
    for (n, x) in a.iter().enumerate().take(200) {
        let mut y = *x;
        for _ in 0..(n % 40) {
            let bit = (splitmix(&mut state) % 1024) as usize;
            y.0[bit / 64] ^= 1 << (bit % 64);
        }
        b.push(y);
        if n % 17 == 0 {
            b.push(*x); // a second partner, a tie for one-to-one
        }
    }
    b.extend((0..30).map(|_| random(&mut state, 6)));
    b.push(Clk([0; 16]));
    (a, b)
}

#[test]
fn every_kernel_gives_the_same_links() {
    let kernels = kernels();
    let (a, b) = sets();
    assert!(b.len() > 192, "crosses a tile");
    // Thresholds: common ones and exact Dice values of existing pairs (ties).
    let mut thresholds = vec![0.75];
    for (i, j) in [(5, 5), (100, 104)] {
        thresholds.push(dice(&a[i], &b[j]));
    }
    let mut total = 0;
    for &t in &thresholds {
        let all = reference(&a, &b, t, None);
        let blocks = |n: usize| vec![100 + (n % 3) as u64, (n % 7) as u64];
        let (ka, kb): (Vec<_>, Vec<_>) = (
            (0..a.len()).map(blocks).collect(),
            (0..b.len()).map(blocks).collect(),
        );
        let blocked = reference(&a, &b, t, Some((&ka, &kb)));
        total += all.len();
        // Without solving, the links show the candidates in order; solving is
        // the same code for every kernel, so it runs once per kernel.
        for (threads, one_to_one) in [(1, false), (3, false), (2, true)] {
            let solve = |l: &Vec<ClkLink>| {
                if one_to_one {
                    greedy_one_to_one(l.clone(), |l| (l.a, l.b, l.dice))
                } else {
                    l.clone()
                }
            };
            let (want_all, want_blocked) = (solve(&all), solve(&blocked));
            let cfg = MatchConfig {
                threshold: t,
                blocking: ClkBlocking::AllPairs,
                threads,
                one_to_one,
            };
            for &k in &kernels {
                let (links, stats) = match_clks_with(k, &a, &b, &cfg).expect("available");
                assert_eq!(stats.comparisons, (a.len() * b.len()) as u64);
                assert_eq!(stats.candidates, all.len());
                assert_eq!(
                    links,
                    want_all,
                    "{} t {t} threads {threads} 1:1 {one_to_one}",
                    k.name()
                );
                let (links, _) =
                    match_clks_blocked_with(k, &a, &ka, &b, &kb, &cfg).expect("available");
                assert_eq!(links, want_blocked, "{} blocked t {t}", k.name());
            }
            if threads == 1 {
                assert_eq!(match_clks(&a, &b, &cfg).0, want_all);
                assert_eq!(match_clks_blocked(&a, &ka, &b, &kb, &cfg).0, want_blocked);
            }
        }
    }
    assert!(total > 200, "the sets have links to compare ({total})");
}
