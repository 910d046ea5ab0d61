//! The aarch64 kernel: NEON `vcntq_u8` (NEON is part of the aarch64 baseline,
//! but the functions still carry `#[target_feature]` so that a build without
//! it cannot call them unchecked).

use super::{Block, Hit};
use crate::pprl::Clk;
use std::arch::aarch64::*;

/// A row held in eight 128-bit registers.
type Row = [uint8x16_t; 8];

#[inline]
#[target_feature(enable = "neon")]
fn neon_load(c: &Clk) -> Row {
    let p = c.0.as_ptr().cast::<u8>();
    // SAFETY: `c.0` is 16 u64 = 128 bytes; the eight 16-byte loads at offsets
    // 0, 16, …, 112 stay inside it. NEON is enabled on this function.
    unsafe { std::array::from_fn(|k| vld1q_u8(p.add(16 * k))) }
}

#[inline]
#[target_feature(enable = "neon")]
fn neon_one(a: &Row, b: &Clk) -> u32 {
    let b = neon_load(b);
    let mut acc = vdupq_n_u8(0);
    for k in 0..8 {
        // Each byte ≤ 8 per step, ≤ 64 after eight: no overflow.
        acc = vaddq_u8(acc, vcntq_u8(vandq_u8(a[k], b[k])));
    }
    u32::from(vaddlvq_u8(acc))
}

#[inline]
#[target_feature(enable = "neon")]
fn neon_group(a: &Row, b: &[Clk; 2]) -> [u32; 2] {
    [neon_one(a, &b[0]), neon_one(a, &b[1])]
}

/// `|A ∩ B|` with NEON.
#[target_feature(enable = "neon")]
pub(super) fn one_neon(a: &Clk, b: &Clk) -> u32 {
    neon_one(&neon_load(a), b)
}

/// [`super::Ready::scan_block`] with NEON.
#[target_feature(enable = "neon")]
pub(super) fn block_neon(args: &Block<'_>, out: &mut Vec<Hit>) {
    scan!(args, out, neon_load, neon_group, neon_one, 2)
}
