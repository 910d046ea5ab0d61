//! The x86-64 kernels: AVX-512 VPOPCNTDQ, AVX2 and POPCNT. Each public
//! function is `#[target_feature]`, so callers must have checked the feature
//! ([`super::Ready`] does).

use super::{Block, Hit};
use crate::pprl::Clk;
use std::arch::x86_64::*;

// ---- POPCNT: sixteen scalar `popcnt` per pair.

#[inline]
#[target_feature(enable = "popcnt")]
fn popcnt_one(a: &Clk, b: &Clk) -> u32 {
    let mut n = 0;
    for k in 0..16 {
        n += (a.0[k] & b.0[k]).count_ones();
    }
    n
}

#[inline]
#[target_feature(enable = "popcnt")]
fn popcnt_group(a: &Clk, b: &[Clk; 2]) -> [u32; 2] {
    // Two columns per step: each word of the row is loaded once for both.
    let (mut n0, mut n1) = (0, 0);
    for k in 0..16 {
        let w = a.0[k];
        n0 += (w & b[0].0[k]).count_ones();
        n1 += (w & b[1].0[k]).count_ones();
    }
    [n0, n1]
}

/// `|A ∩ B|` with `popcnt`.
#[target_feature(enable = "popcnt")]
pub(super) fn one_popcnt(a: &Clk, b: &Clk) -> u32 {
    popcnt_one(a, b)
}

/// [`super::Ready::scan_block`] with `popcnt`.
#[target_feature(enable = "popcnt")]
pub(super) fn block_popcnt(args: &Block<'_>, out: &mut Vec<Hit>) {
    scan!(args, out, |a: &Clk| *a, popcnt_group, popcnt_one, 2)
}

// ---- AVX2: Muła, Kurz & Lemire's nibble lookup, `vpsadbw` to sum bytes.

/// A row held in four 256-bit registers.
type Row2 = [__m256i; 4];

#[inline]
#[target_feature(enable = "avx2")]
fn avx2_load(c: &Clk) -> Row2 {
    let p = c.0.as_ptr().cast::<__m256i>();
    // SAFETY: `c.0` is 16 u64 = 128 bytes; the four unaligned 32-byte loads at
    // offsets 0, 32, 64, 96 stay inside it. AVX2 is enabled on this function.
    unsafe {
        [
            _mm256_loadu_si256(p),
            _mm256_loadu_si256(p.add(1)),
            _mm256_loadu_si256(p.add(2)),
            _mm256_loadu_si256(p.add(3)),
        ]
    }
}

/// Per byte lane, the number of set bits of `A ∩ B` summed over the four
/// quarters (≤ 32 per byte, no overflow).
#[inline]
#[target_feature(enable = "avx2")]
fn avx2_bytes(a: &Row2, b: &Clk) -> __m256i {
    let lut = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3,
        3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let b = avx2_load(b);
    let mut acc = _mm256_setzero_si256();
    for k in 0..4 {
        let v = _mm256_and_si256(a[k], b[k]);
        let lo = _mm256_and_si256(v, low);
        let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), low);
        let n = _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
        acc = _mm256_add_epi8(acc, n);
    }
    acc
}

#[inline]
#[target_feature(enable = "avx2")]
fn avx2_one(a: &Row2, b: &Clk) -> u32 {
    let s = _mm256_sad_epu8(avx2_bytes(a, b), _mm256_setzero_si256());
    let s = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s));
    let s = _mm_add_epi64(s, _mm_unpackhi_epi64(s, s));
    _mm_cvtsi128_si32(s) as u32
}

/// `|A ∩ B|` with AVX2.
#[target_feature(enable = "avx2")]
pub(super) fn one_avx2(a: &Clk, b: &Clk) -> u32 {
    avx2_one(&avx2_load(a), b)
}

/// Columns per sub-tile of the AVX2 loop: their high nibbles are computed once
/// (64 × 128 bytes beside the 64 × 128 bytes of the columns: 16 KiB in L1)
/// and reused by every row.
const SUB: usize = 64;

/// The nibble indices of a row: `A & 0x0f…` and `(A >> 4) & 0x0f…` per quarter.
#[inline]
#[target_feature(enable = "avx2")]
fn avx2_nibbles(q: &Row2) -> (Row2, Row2) {
    let low = _mm256_set1_epi8(0x0f);
    let mut lo = [_mm256_setzero_si256(); 4];
    let mut hi = [_mm256_setzero_si256(); 4];
    for k in 0..4 {
        lo[k] = _mm256_and_si256(q[k], low);
        hi[k] = _mm256_and_si256(_mm256_srli_epi16::<4>(q[k]), low);
    }
    (lo, hi)
}

/// Byte-wise bit counts of `A ∩ B` from the row's nibbles (`alo`, `ahi`), the
/// column and the column's high nibbles: `(A & B) & 0x0f = A_lo & B` and
/// `((A & B) >> 4) & 0x0f = A_hi & B_hi`, so a pair costs eight `vpand`, eight
/// `vpshufb` and seven `vpaddb` (≤ 32 per byte, no overflow).
#[inline]
#[target_feature(enable = "avx2")]
fn avx2_bytes_split(alo: &Row2, ahi: &Row2, b: &Clk, bhi: &Row2) -> __m256i {
    let lut = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3,
        3, 4,
    );
    let b = avx2_load(b);
    let n = |k: usize| {
        _mm256_add_epi8(
            _mm256_shuffle_epi8(lut, _mm256_and_si256(alo[k], b[k])),
            _mm256_shuffle_epi8(lut, _mm256_and_si256(ahi[k], bhi[k])),
        )
    };
    _mm256_add_epi8(_mm256_add_epi8(n(0), n(1)), _mm256_add_epi8(n(2), n(3)))
}

/// Four pairs' byte counts summed to four `u32`: `vpsadbw` gives four u64
/// partial sums per pair (each ≤ 256); two pairs share a vector in the low and
/// high halves of each 64-bit lane, then 32-bit lanes `[p0 p1 p2 p3 | p0 p1 p2
/// p3]` are added across the two 128-bit halves.
#[inline]
#[target_feature(enable = "avx2")]
fn avx2_reduce4(b0: __m256i, b1: __m256i, b2: __m256i, b3: __m256i) -> [u32; 4] {
    let zero = _mm256_setzero_si256();
    let s0 = _mm256_sad_epu8(b0, zero);
    let s1 = _mm256_sad_epu8(b1, zero);
    let s2 = _mm256_sad_epu8(b2, zero);
    let s3 = _mm256_sad_epu8(b3, zero);
    let x01 = _mm256_or_si256(s0, _mm256_slli_epi64::<32>(s1));
    let x23 = _mm256_or_si256(s2, _mm256_slli_epi64::<32>(s3));
    let y = _mm256_add_epi32(
        _mm256_unpacklo_epi64(x01, x23),
        _mm256_unpackhi_epi64(x01, x23),
    );
    let z = _mm_add_epi32(_mm256_castsi256_si128(y), _mm256_extracti128_si256::<1>(y));
    let mut out = [0u32; 4];
    // SAFETY: `out` is 16 writable bytes; the unaligned 16-byte store fits.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast::<__m128i>(), z) };
    out
}

/// [`super::Ready::scan_block`] with AVX2: per sub-tile of [`SUB`] columns
/// their high nibbles once, then every row against it four columns at a time.
#[target_feature(enable = "avx2")]
pub(super) fn block_avx2(args: &Block<'_>, out: &mut Vec<Hit>) {
    let mut bhi = [[_mm256_setzero_si256(); 4]; SUB];
    for (s, sub) in args.cols.chunks(SUB).enumerate() {
        let c0 = args.col0 + s * SUB;
        let pop = &args.pop_cols[s * SUB..s * SUB + sub.len()];
        for (h, c) in bhi.iter_mut().zip(sub) {
            *h = avx2_nibbles(&avx2_load(c)).1;
        }
        for (r, (x, &pa)) in args.rows.iter().zip(args.pop_rows).enumerate() {
            let a = avx2_load(x);
            let (alo, ahi) = avx2_nibbles(&a);
            // First all intersections of the sub-tile (no calls in this loop,
            // so the row's nibbles and the table stay in registers), then the
            // threshold test and the rare pushes.
            let mut inter = [0u32; SUB];
            let full = sub.len() / 4 * 4;
            for j in (0..full).step_by(4) {
                let v = avx2_reduce4(
                    avx2_bytes_split(&alo, &ahi, &sub[j], &bhi[j]),
                    avx2_bytes_split(&alo, &ahi, &sub[j + 1], &bhi[j + 1]),
                    avx2_bytes_split(&alo, &ahi, &sub[j + 2], &bhi[j + 2]),
                    avx2_bytes_split(&alo, &ahi, &sub[j + 3], &bhi[j + 3]),
                );
                inter[j..j + 4].copy_from_slice(&v);
            }
            for (j, c) in sub.iter().enumerate().skip(full) {
                inter[j] = avx2_one(&a, c);
            }
            let need = args.need.row(pa);
            for (j, (&n, &p)) in inter.iter().zip(pop).enumerate() {
                if n >= need[p as usize] {
                    out.push(Hit {
                        a: args.row0 + r,
                        b: c0 + j,
                        inter: n,
                    });
                }
            }
        }
    }
}

// ---- AVX-512: `vpopcntq` on two 512-bit halves.

/// A row held in two 512-bit registers.
type Row5 = [__m512i; 2];

#[inline]
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn avx512_load(c: &Clk) -> Row5 {
    let p = c.0.as_ptr().cast::<i64>();
    // SAFETY: `c.0` is 16 u64 = 128 bytes; the two unaligned 64-byte loads at
    // offsets 0 and 64 stay inside it. AVX-512F is enabled on this function.
    unsafe { [_mm512_loadu_epi64(p), _mm512_loadu_epi64(p.add(8))] }
}

/// Eight u64 lanes, each the popcount of two words of `A ∩ B` (≤ 128).
#[inline]
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn avx512_counts(a: &Row5, b: &Clk) -> __m512i {
    let b = avx512_load(b);
    _mm512_add_epi64(
        _mm512_popcnt_epi64(_mm512_and_si512(a[0], b[0])),
        _mm512_popcnt_epi64(_mm512_and_si512(a[1], b[1])),
    )
}

#[inline]
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn avx512_one(a: &Row5, b: &Clk) -> u32 {
    _mm512_reduce_add_epi64(avx512_counts(a, b)) as u32
}

#[inline]
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn avx512_group(a: &Row5, b: &[Clk; 4]) -> [u32; 4] {
    // Four pairs packed in 16-bit fields of each lane (≤ 128 per lane, ≤ 1024
    // after the eight lanes are summed: no carry between fields), one reduction.
    let c0 = avx512_counts(a, &b[0]);
    let c1 = _mm512_slli_epi64::<16>(avx512_counts(a, &b[1]));
    let c2 = _mm512_slli_epi64::<32>(avx512_counts(a, &b[2]));
    let c3 = _mm512_slli_epi64::<48>(avx512_counts(a, &b[3]));
    let packed = _mm512_or_si512(_mm512_or_si512(c0, c1), _mm512_or_si512(c2, c3));
    let s = _mm512_reduce_add_epi64(packed) as u64;
    [
        (s & 0xffff) as u32,
        (s >> 16 & 0xffff) as u32,
        (s >> 32 & 0xffff) as u32,
        (s >> 48) as u32,
    ]
}

/// `|A ∩ B|` with AVX-512 VPOPCNTDQ.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
pub(super) fn one_avx512(a: &Clk, b: &Clk) -> u32 {
    avx512_one(&avx512_load(a), b)
}

/// [`super::Ready::scan_block`] with AVX-512 VPOPCNTDQ.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
pub(super) fn block_avx512(args: &Block<'_>, out: &mut Vec<Hit>) {
    scan!(args, out, avx512_load, avx512_group, avx512_one, 4)
}
