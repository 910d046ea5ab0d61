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

#[inline]
#[target_feature(enable = "avx2")]
fn avx2_group(a: &Row2, b: &[Clk; 4]) -> [u32; 4] {
    let zero = _mm256_setzero_si256();
    // Four u64 partial sums per pair (each ≤ 256); two pairs share a vector
    // in the low and high halves of each 64-bit lane.
    let s0 = _mm256_sad_epu8(avx2_bytes(a, &b[0]), zero);
    let s1 = _mm256_sad_epu8(avx2_bytes(a, &b[1]), zero);
    let s2 = _mm256_sad_epu8(avx2_bytes(a, &b[2]), zero);
    let s3 = _mm256_sad_epu8(avx2_bytes(a, &b[3]), zero);
    let x01 = _mm256_or_si256(s0, _mm256_slli_epi64::<32>(s1));
    let x23 = _mm256_or_si256(s2, _mm256_slli_epi64::<32>(s3));
    // 32-bit lanes [p0 p1 p2 p3 | p0 p1 p2 p3], each a sum of two partials.
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

/// `|A ∩ B|` with AVX2.
#[target_feature(enable = "avx2")]
pub(super) fn one_avx2(a: &Clk, b: &Clk) -> u32 {
    avx2_one(&avx2_load(a), b)
}

/// [`super::Ready::scan_block`] with AVX2.
#[target_feature(enable = "avx2")]
pub(super) fn block_avx2(args: &Block<'_>, out: &mut Vec<Hit>) {
    scan!(args, out, avx2_load, avx2_group, avx2_one, 4)
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
