//! Match and non-match Dice distributions per CLK encoding, as Markdown
//! tables: where each encoding puts unrelated pairs, and so where its
//! threshold has to be.
//!
//! `cargo run --release -p oncofed-linkage --example dice_histogram [persons] [k-scale]`
//!
//! Datasets: Febrl4 (5,000 × 5,000, every record has a partner) and the
//! synthetic tuning split (`tests/common/split.rs` with its `TUNING_SEED`,
//! which no test uses; `persons` originals, default 5,000, about a quarter of
//! them with one to three corrupted copies, so most originals have no
//! partner). Every pair of the two files is compared (all pairs).
//!
//! Printed per dataset: a histogram table (pairs per Dice bin of 0.05,
//! match | non-match, per encoding), a quantile table of the non-match
//! distribution (with the number of non-matches at or above 0.70/0.75/0.80)
//! and of the match distribution, the base filter's mean fill rate, and
//! the pair crossing (the `t` minimising non-matches ≥ t plus matches < t,
//! for comparison) and the threshold chosen by the documented rule of
//! `Hardening::recommended_threshold` (least worst regret of one-to-one and
//! many-to-one F1). The rule is applied on the synthetic tuning split;
//! Febrl4 is printed for comparison only.

#[path = "../tests/common/split.rs"]
mod split;

use oncofed_linkage::febrl::{entity, febrl4_paths, load};
use oncofed_linkage::pprl::{Clk, ClkConfig, Encoder, Hardening, ProjectSecret, dice};
use oncofed_linkage::{Record, greedy_one_to_one};

/// Bins of the fine histograms: Dice rounded down to 1/1000.
const BINS: usize = 1001;

/// Dice values of all pairs as fine histograms of matches and non-matches.
struct Distribution {
    matches: Vec<u64>,
    non: Vec<u64>,
    /// Pairs at or above `keep` with their indices (for the F1 sweeps).
    above: Vec<(usize, usize, f64)>,
    /// Lowest Dice kept in `above`; F1 below it is not evaluated.
    keep: f64,
}

fn bin(s: f64) -> usize {
    ((s * 1000.0).floor() as usize).min(BINS - 1)
}

/// Runs `f(i, j, dice)` over all pairs on two threads, each half of `ca`
/// with its own state from `init`; returns both states.
fn scan<S: Send>(
    ca: &[Clk],
    cb: &[Clk],
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize, usize, f64) + Sync,
) -> [S; 2] {
    let half = ca.len() / 2;
    let part = |lo: usize, hi: usize| {
        let mut st = init();
        for (i, x) in ca.iter().enumerate().take(hi).skip(lo) {
            for (j, y) in cb.iter().enumerate() {
                f(&mut st, i, j, dice(x, y));
            }
        }
        st
    };
    std::thread::scope(|s| {
        let h = s.spawn(|| part(half, ca.len()));
        [part(0, half), h.join().expect("worker")]
    })
}

/// Histograms of all pairs, then the pairs at or above the lower of 0.70 and
/// the non-matches' 99.9th percentile (for the F1 sweeps).
fn all_pairs(a: &[Record], b: &[Record], ca: &[Clk], cb: &[Clk]) -> Distribution {
    let ea: Vec<_> = a.iter().map(|r| entity(&r.id)).collect();
    let eb: Vec<_> = b.iter().map(|r| entity(&r.id)).collect();
    let [x, y] = scan(
        ca,
        cb,
        || (vec![0u64; BINS], vec![0u64; BINS]),
        |(m, n), i, j, s| {
            if ea[i] == eb[j] {
                m[bin(s)] += 1;
            } else {
                n[bin(s)] += 1;
            }
        },
    );
    let matches: Vec<u64> = x.0.iter().zip(&y.0).map(|(p, q)| p + q).collect();
    let non: Vec<u64> = x.1.iter().zip(&y.1).map(|(p, q)| p + q).collect();
    let keep = quantile(&non, 0.999).min(0.70);
    let [mut above, rest] = scan(ca, cb, Vec::new, |v, i, j, s| {
        if s >= keep {
            v.push((i, j, s));
        }
    });
    above.extend(rest);
    Distribution {
        matches,
        non,
        above,
        keep,
    }
}

/// The `q` quantile (lower edge of its 1/1000 bin).
fn quantile(h: &[u64], q: f64) -> f64 {
    let total: u64 = h.iter().sum();
    let want = ((total.saturating_sub(1)) as f64 * q).round() as u64;
    let mut seen = 0;
    for (k, &n) in h.iter().enumerate() {
        seen += n;
        if seen > want {
            return k as f64 / 1000.0;
        }
    }
    f64::NAN
}

/// Pairs with Dice ≥ `t` (`t` a multiple of 0.001).
fn at_least(h: &[u64], t: f64) -> u64 {
    h[bin(t + 1e-9)..].iter().sum()
}

/// The documented rule: the threshold (step 0.01, 0.50–0.99) minimising
/// non-matches ≥ t plus matches < t.
fn crossing(d: &Distribution) -> f64 {
    let total: u64 = d.matches.iter().sum();
    (50..=99)
        .map(|c| f64::from(c) / 100.0)
        .min_by_key(|&t| (total - at_least(&d.matches, t)) + at_least(&d.non, t))
        .expect("non-empty grid")
}

/// The threshold rule of the crate docs (least worst regret): for each `t`
/// (step 0.01) the loss of each mode, one-to-one and many-to-one, against
/// that mode's best F1 over the grid; the `t` whose larger loss is smallest
/// (ties to the higher `t`, fewer false links). A default serves both uses,
/// so it must not be poor at either.
fn best_f1(a: &[Record], b: &[Record], d: &Distribution) -> f64 {
    let lo = (d.keep * 100.0).ceil() as u32;
    let sweep: Vec<(f64, f64, f64)> = (lo..=95)
        .map(|c| {
            let t = f64::from(c) / 100.0;
            let (o, m) = f1s(a, b, d, t);
            (t, o, m)
        })
        .collect();
    let best_o = sweep.iter().map(|x| x.1).fold(f64::MIN, f64::max);
    let best_m = sweep.iter().map(|x| x.2).fold(f64::MIN, f64::max);
    let mut best = (f64::MAX, 0.0);
    for &(t, o, m) in &sweep {
        let regret = (best_o - o).max(best_m - m);
        if regret <= best.0 + 1e-12 {
            best = (regret, t);
        }
    }
    best.1
}

/// F1 (one-to-one greedy, many-to-one best-A-per-B) at threshold `t`.
fn f1s(a: &[Record], b: &[Record], d: &Distribution, t: f64) -> (f64, f64) {
    let kept: Vec<_> = d.above.iter().copied().filter(|l| l.2 >= t).collect();
    let one = greedy_one_to_one(kept.clone(), |l| *l);
    let mut best: Vec<Option<(usize, f64)>> = vec![None; b.len()];
    for &(i, j, s) in &kept {
        if best[j].is_none_or(|(_, bs)| s > bs) {
            best[j] = Some((i, s));
        }
    }
    let many = best
        .iter()
        .enumerate()
        .filter_map(|(j, x)| x.map(|(i, _)| (i, j)));
    let q1 = oncofed_linkage::febrl::quality(a, b, one.iter().map(|l| (l.0, l.1)));
    let qm = oncofed_linkage::febrl::quality(a, b, many);
    (q1.f1, qm.f1)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let persons: u64 = std::env::args().nth(1).map_or(Ok(5000), |s| s.parse())?;
    let scale: f64 = std::env::args().nth(2).map_or(Ok(1.0), |s| s.parse())?;
    let dir = std::env::temp_dir().join(format!("oncofed-dice-histogram-{}", std::process::id()));
    let (sa, sb) = split::split(&dir, split::TUNING_SEED, persons)?;
    let synth = (load(&sa)?, load(&sb)?);
    std::fs::remove_dir_all(&dir)?;
    let (fa, fb) = febrl4_paths();
    let febrl = (load(&fa)?, load(&fb)?);
    let secret = ProjectSecret::new(b"oncofed dice histogram secret!!!".to_vec())?;
    let encodings = [
        Hardening::None,
        Hardening::Permuted,
        Hardening::Balanced,
        Hardening::XorFold,
        Hardening::SaltBirthYear,
    ];
    for (name, (a, b)) in [
        (
            format!(
                "synthetic tuning split ({persons} originals, seed {})",
                split::TUNING_SEED
            ),
            &synth,
        ),
        ("Febrl4".to_owned(), &febrl),
    ] {
        println!("\n## {name}: {} × {} records\n", a.len(), b.len());
        let mut dists = Vec::new();
        for h in encodings {
            let mut cfg = ClkConfig {
                hardening: h,
                ..ClkConfig::default()
            };
            for f in &mut cfg.fields {
                f.1 = ((f64::from(f.1) * scale).round() as u32).clamp(1, 64);
            }
            let enc = Encoder::new(&secret, &cfg)?;
            let (ca, cb) = (enc.encode_all(a, 2), enc.encode_all(b, 2));
            let fill = a.iter().map(|r| enc.base_fill(r)).sum::<f64>() / a.len() as f64;
            dists.push((h, fill, all_pairs(a, b, &ca, &cb)));
        }
        print!("| Dice |");
        for (h, ..) in &dists {
            print!(" {h:?} match | {h:?} non-match |");
        }
        print!("\n|---|");
        for _ in &dists {
            print!("---:|---:|");
        }
        println!();
        for row in 0..20 {
            let (lo, hi) = (f64::from(row) * 0.05, f64::from(row + 1) * 0.05);
            print!("| {lo:.2}–{hi:.2} |");
            for (_, _, d) in &dists {
                let count =
                    |v: &[u64]| at_least(v, lo) - if row == 19 { 0 } else { at_least(v, hi) };
                print!(" {} | {} |", count(&d.matches), count(&d.non));
            }
            println!();
        }
        println!(
            "\n| encoding | base fill | non-match p50 | p99.9 | p99.99 | max | ≥ 0.70 | ≥ 0.75 | ≥ 0.80 | match p1 | match p5 | match p50 | pair crossing | rule's t | F1 1:1 / n:1 at rule's t | F1 1:1 / n:1 at 0.75 |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
        for (h, fill, d) in &dists {
            let t = best_f1(a, b, d);
            let (o, m) = f1s(a, b, d, t);
            let (o75, m75) = f1s(a, b, d, 0.75);
            println!(
                "| {h:?} | {fill:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.2} | {t:.2} | {o:.4} / {m:.4} | {o75:.4} / {m75:.4} |",
                quantile(&d.non, 0.5),
                quantile(&d.non, 0.999),
                quantile(&d.non, 0.9999),
                quantile(&d.non, 1.0),
                at_least(&d.non, 0.70),
                at_least(&d.non, 0.75),
                at_least(&d.non, 0.80),
                quantile(&d.matches, 0.01),
                quantile(&d.matches, 0.05),
                quantile(&d.matches, 0.5),
                crossing(d),
            );
        }
        print!("\n| t |");
        for (h, ..) in &dists {
            print!(" {h:?} F1 1:1 / n:1 |");
        }
        print!("\n|---|");
        for _ in &dists {
            print!("---|");
        }
        println!();
        for c in 66..=86 {
            let t = f64::from(c) / 100.0;
            print!("| {t:.2} |");
            for (_, _, d) in &dists {
                if t < d.keep {
                    print!(" — |");
                } else {
                    let (o, m) = f1s(a, b, d, t);
                    print!(" {o:.4} / {m:.4} |");
                }
            }
            println!();
        }
    }
    Ok(())
}
