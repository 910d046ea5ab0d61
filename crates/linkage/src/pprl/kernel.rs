//! Popcount kernels for the Dice inner loop, chosen at run time by CPU feature.
//!
//! The release build targets baseline x86-64 (SSE2), where `u64::count_ones`
//! is a bit-twiddling sequence. This module holds one version of the inner
//! loop per instruction set and picks the best one the CPU has, once:
//!
//! | [`Kernel`] | instructions | needs |
//! |---|---|---|
//! | [`Kernel::Avx512`] | `vpandq` + `vpopcntq` on two 512-bit halves | AVX-512F and AVX-512 VPOPCNTDQ (Ice Lake and later, Zen 4 and later) |
//! | [`Kernel::Avx2`] | Muła's nibble lookup (`vpshufb`) and `vpsadbw` on four 256-bit quarters | AVX2 (Haswell and later, every Zen) |
//! | [`Kernel::Popcnt`] | sixteen scalar `popcnt` | POPCNT (Nehalem and later) |
//! | [`Kernel::Neon`] | `vcntq_u8` on eight 128-bit eighths | aarch64 (always present) |
//! | [`Kernel::Portable`] | SWAR popcount (Wegner/Knuth) summed per byte | nothing |
//!
//! All kernels compute the same integer `|A ∩ B|`, so every path gives the
//! same links and the same Dice values bit for bit (`tests/popcount_paths.rs`).
//! The environment variable `ONCOFED_POPCOUNT` (`avx512`, `avx2`, `popcnt`,
//! `neon`, `portable`) forces a path, e.g. to compare them; a path the CPU
//! lacks is ignored there (the best available one runs).
//!
//! # Why `unsafe` here, and only here
//! The crate denies `unsafe_code`; this module alone allows it. Calling a
//! `#[target_feature]` function from code compiled without that feature is
//! `unsafe` (the CPU might not have the instructions), and so are the vector
//! loads from raw pointers. Every `unsafe` block says which check makes it
//! sound: the dispatching ones rely on `Ready`, which can only be built by
//! `Kernel::ready` after [`Kernel::available`] returned true; the loads read
//! inside a `&Clk` (128 bytes) at offsets below 128.

#![allow(unsafe_code)]

use super::Clk;
use std::sync::OnceLock;

/// The all-pairs loop of one block, shared by every kernel: for each row, its
/// prepared form (`$prep`, e.g. loaded into registers) against `$g` columns at
/// a time (`$group`, returning `[u32; $g]`), the remainder one by one (`$one`).
/// Intersections of up to 64 columns go to a buffer first and are tested
/// afterwards, so the hot loop makes no calls (a `Vec` push would force the
/// row out of its vector registers). Expanded inside each `#[target_feature]`
/// function so that the kernel's instructions are inlined into the loop.
macro_rules! scan {
    ($args:expr, $out:expr, $prep:expr, $group:expr, $one:expr, $g:literal) => {{
        let args: &Block<'_> = $args;
        let out: &mut Vec<Hit> = $out;
        for (r, (x, &pa)) in args.rows.iter().zip(args.pop_rows).enumerate() {
            let need = args.need.row(pa);
            let xr = $prep(x);
            for (s, (cols, pop_cols)) in args
                .cols
                .chunks(64)
                .zip(args.pop_cols.chunks(64))
                .enumerate()
            {
                let mut inter = [0u32; 64];
                let mut chunks = cols.chunks_exact($g);
                let mut j = 0;
                for chunk in &mut chunks {
                    let chunk: &[Clk; $g] = chunk.try_into().expect("chunks_exact");
                    let v: [u32; $g] = $group(&xr, chunk);
                    inter[j..j + $g].copy_from_slice(&v);
                    j += $g;
                }
                for y in chunks.remainder() {
                    inter[j] = $one(&xr, y);
                    j += 1;
                }
                for (j, (&n, &p)) in inter.iter().zip(pop_cols).enumerate() {
                    if n >= need[p as usize] {
                        out.push(Hit {
                            a: args.row0 + r,
                            b: args.col0 + s * 64 + j,
                            inter: n,
                        });
                    }
                }
            }
        }
    }};
}

/// One implementation of `|A ∩ B|` for 1024-bit CLKs (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// AVX-512F + AVX-512 VPOPCNTDQ (`vpopcntq`), x86-64.
    Avx512,
    /// AVX2 nibble lookup (`vpshufb`) with `vpsadbw` sums, x86-64.
    Avx2,
    /// The scalar `popcnt` instruction, x86-64.
    Popcnt,
    /// NEON `vcntq_u8`, aarch64.
    Neon,
    /// SWAR bit counting in plain Rust, any CPU.
    Portable,
}

/// The environment variable that forces a kernel (by [`Kernel::name`]).
pub const KERNEL_ENV: &str = "ONCOFED_POPCOUNT";

impl Kernel {
    /// Every kernel, fastest first: the order [`Kernel::detect`] tries them in.
    pub const ALL: [Kernel; 5] = [
        Kernel::Avx512,
        Kernel::Avx2,
        Kernel::Popcnt,
        Kernel::Neon,
        Kernel::Portable,
    ];

    /// Lower-case name, as accepted in `ONCOFED_POPCOUNT` and printed by benchmarks.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512 => "avx512",
            Kernel::Avx2 => "avx2",
            Kernel::Popcnt => "popcnt",
            Kernel::Neon => "neon",
            Kernel::Portable => "portable",
        }
    }

    /// The kernel called `name` ([`Kernel::name`], case-insensitive).
    pub fn from_name(name: &str) -> Option<Kernel> {
        Kernel::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether this CPU (and this build's target architecture) can run the kernel.
    pub fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Popcnt => std::arch::is_x86_feature_detected!("popcnt"),
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            Kernel::Portable => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The fastest kernel this CPU can run (first available in [`Kernel::ALL`]).
    pub fn detect() -> Kernel {
        Kernel::ALL
            .into_iter()
            .find(|k| k.available())
            .unwrap_or(Kernel::Portable)
    }

    /// The kernel matching uses: `ONCOFED_POPCOUNT` if set to an available
    /// kernel, else [`Kernel::detect`]. Resolved once per process.
    pub fn active() -> Kernel {
        static ACTIVE: OnceLock<Kernel> = OnceLock::new();
        *ACTIVE.get_or_init(|| {
            std::env::var(KERNEL_ENV)
                .ok()
                .and_then(|v| Kernel::from_name(&v))
                .filter(|k| k.available())
                .unwrap_or_else(Kernel::detect)
        })
    }

    /// A handle that runs this kernel, or `None` when the CPU lacks it.
    pub(crate) fn ready(self) -> Option<Ready> {
        self.available().then_some(Ready(self))
    }

    /// `|A ∩ B|` computed by this kernel, or `None` when the CPU lacks it
    /// (for tests and benchmarks comparing paths).
    pub fn intersection(self, a: &Clk, b: &Clk) -> Option<u32> {
        self.ready().map(|r| r.intersection(a, b))
    }
}

/// Row indices, column indices and `|A ∩ B|` of a pair that passed the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub a: usize,
    pub b: usize,
    pub inter: u32,
}

/// `need[d]`: the least `|A ∩ B|` that passes the threshold when `|A| + |B| = d`
/// (1025, never reached, when none does). Built from the floating-point test
/// matching has always used, so the integer test gives the same decisions.
pub(crate) struct Need(Box<[u32; 2049]>);

impl Need {
    /// The table for threshold `t`: `need[d]` = min `i` with `d > 0` and
    /// `2·i ≥ t·d` in f64 (the test is monotone in `i`, so the least `i` decides).
    pub fn new(t: f64) -> Need {
        let passes = |i: u32, d: u32| d > 0 && 2.0 * f64::from(i) >= t * f64::from(d);
        let mut need = Box::new([1025u32; 2049]);
        for (d, slot) in need.iter_mut().enumerate() {
            let d = d as u32;
            if !passes(1024, d) {
                continue;
            }
            let (mut lo, mut hi) = (0u32, 1024u32);
            while lo < hi {
                let mid = (lo + hi) / 2;
                if passes(mid, d) {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            *slot = lo;
        }
        Need(need)
    }

    /// The 1025 entries for a row of popcount `pa`, indexed by the column's popcount.
    #[inline]
    fn row(&self, pa: u32) -> &[u32] {
        &self.0[pa as usize..pa as usize + 1025]
    }
}

/// A kernel the CPU has been checked to support. The field is private, so the
/// only way to get one is [`Kernel::ready`]; this is what makes the `unsafe`
/// calls into `#[target_feature]` code below sound.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ready(Kernel);

impl Ready {
    /// `|A ∩ B|`.
    pub fn intersection(self, a: &Clk, b: &Clk) -> u32 {
        match self.0 {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Ready(Avx512)` exists only if avx512f and avx512vpopcntdq were detected.
            Kernel::Avx512 => unsafe { x86::one_avx512(a, b) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Ready(Avx2)` exists only if avx2 was detected.
            Kernel::Avx2 => unsafe { x86::one_avx2(a, b) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Ready(Popcnt)` exists only if popcnt was detected.
            Kernel::Popcnt => unsafe { x86::one_popcnt(a, b) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: `Ready(Neon)` exists only if neon was detected.
            Kernel::Neon => unsafe { arm::one_neon(a, b) },
            _ => portable_intersection(a, b),
        }
    }

    /// Every pair of `rows` (global row index `row0 + r`, popcounts `pop_rows`)
    /// and `cols` (global column index `col0 + c`, popcounts `pop_cols`) whose
    /// intersection reaches `need`, appended to `out` in no particular order (the
    /// caller sorts). Called with
    /// a tile of `cols` small enough to stay in L1 while all rows pass over it.
    #[allow(clippy::too_many_arguments)]
    pub fn scan_block(
        self,
        rows: &[Clk],
        pop_rows: &[u32],
        row0: usize,
        cols: &[Clk],
        pop_cols: &[u32],
        col0: usize,
        need: &Need,
        out: &mut Vec<Hit>,
    ) {
        let args = Block {
            rows,
            pop_rows,
            row0,
            cols,
            pop_cols,
            col0,
            need,
        };
        match self.0 {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Ready(Avx512)` exists only if avx512f and avx512vpopcntdq were detected.
            Kernel::Avx512 => unsafe { x86::block_avx512(&args, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Ready(Avx2)` exists only if avx2 was detected.
            Kernel::Avx2 => unsafe { x86::block_avx2(&args, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Ready(Popcnt)` exists only if popcnt was detected.
            Kernel::Popcnt => unsafe { x86::block_popcnt(&args, out) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: `Ready(Neon)` exists only if neon was detected.
            Kernel::Neon => unsafe { arm::block_neon(&args, out) },
            _ => scan!(&args, out, |a: &Clk| *a, portable_group, portable_one, 1),
        }
    }

    /// The pairs of row `x` (index `row`, popcount `pa`) with the columns listed
    /// in `idx` whose intersection reaches `need`, appended to `out` in `idx` order.
    #[allow(clippy::too_many_arguments)]
    pub fn scan_list(
        self,
        x: &Clk,
        pa: u32,
        row: usize,
        cols: &[Clk],
        pop_cols: &[u32],
        idx: &[u32],
        need: &Need,
        out: &mut Vec<Hit>,
    ) {
        let need = need.row(pa);
        for &j in idx {
            let j = j as usize;
            let inter = self.intersection(x, &cols[j]);
            if inter >= need[pop_cols[j] as usize] {
                out.push(Hit {
                    a: row,
                    b: j,
                    inter,
                });
            }
        }
    }
}

/// The arguments of [`Ready::scan_block`], passed on to the kernels.
pub(crate) struct Block<'a> {
    rows: &'a [Clk],
    pop_rows: &'a [u32],
    row0: usize,
    cols: &'a [Clk],
    pop_cols: &'a [u32],
    col0: usize,
    need: &'a Need,
}

/// `|A ∩ B|` without any CPU feature: with POPCNT enabled at build time
/// (`-C target-cpu=native`, `x86-64-v2` and up) sixteen `count_ones`; on the
/// baseline target the SWAR popcount (Wegner/Knuth) run per word only up to
/// byte counts, the sixteen byte vectors summed before one horizontal add.
#[inline]
pub(crate) fn portable_intersection(a: &Clk, b: &Clk) -> u32 {
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

#[inline]
fn portable_one(a: &Clk, b: &Clk) -> u32 {
    portable_intersection(a, b)
}

#[inline]
fn portable_group(a: &Clk, b: &[Clk; 1]) -> [u32; 1] {
    [portable_intersection(a, &b[0])]
}

#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(target_arch = "aarch64")]
mod arm;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn need_table_decides_like_the_float_test() {
        // Thresholds on and next to exact Dice values (ties), and odd ones.
        let thresholds = [
            0.75,
            0.8,
            0.5,
            600.0 / 800.0,
            f64::from_bits(0.75f64.to_bits() + 1),
            f64::from_bits(0.75f64.to_bits() - 1),
            0.0,
            1.0,
            1.5,
            -0.1,
            f64::NAN,
        ];
        for t in thresholds {
            let need = Need::new(t);
            for d in 0..=2048u32 {
                for i in 0..=1024u32.min(d) {
                    let float = d > 0 && 2.0 * f64::from(i) >= t * f64::from(d);
                    assert_eq!(
                        i >= need.0[d as usize],
                        float,
                        "t {t} |A|+|B| {d} |A∩B| {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn names_round_trip_and_portable_is_always_there() {
        for k in Kernel::ALL {
            assert_eq!(Kernel::from_name(k.name()), Some(k));
        }
        assert_eq!(Kernel::from_name(" AVX2 "), Some(Kernel::Avx2));
        assert_eq!(Kernel::from_name("sse9"), None);
        assert!(Kernel::Portable.available());
        assert!(Kernel::detect().available());
        assert!(Kernel::active().available());
    }
}
