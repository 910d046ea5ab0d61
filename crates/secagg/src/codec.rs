//! Encodings of counts and reals into `Z_{2^64}`, the group the masks live in.
//!
//! Masking works in wrapping `u64` arithmetic, so a masked sum is exact only if
//! the true sum fits. Every encoding bounds each site's value so that the sum of
//! up to `max_sites` values cannot wrap, and refuses values outside that bound.
//!
//! - [`FixedPoint`]: one ring element per real, `round(x · 2^scale_bits)`.
//!   With 64 bits shared between scale, range and the `log2(max_sites)` bits of
//!   headroom for the sum, `2^24` gives 6·10⁻⁸ resolution and ±8.6·10⁹ range.
//! - [`WideFixedPoint`]: two ring elements (limbs) per real, `round(x · 2^48)`
//!   split into a signed high and an unsigned low 32-bit limb, each summed on
//!   its own: resolution 3.6·10⁻¹⁵ and ±2.2·10¹² range per site at 64 sites.
//!   The analysis vectors use it (issue 12).
//! - [`encode_counts`]: counts as they are.

use crate::SecAggError;
use serde::{Deserialize, Serialize};

/// Fixed-point encoding of `f64` values: `round(x · 2^scale_bits)` as a two's
/// complement `i64` in `u64`. Sums of encodings decode to sums of the rounded values.
///
/// **Range:** each site's value must satisfy `|x| ≤ max_abs()` =
/// `⌊(2^63 − 1) / max_sites⌋ / 2^scale_bits`, so the sum over up to `max_sites`
/// sites lies in the `i64` range and never wraps. **Precision:** each value is
/// rounded to a multiple of `2^-scale_bits` (error ≤ `2^-(scale_bits+1)`), a sum of
/// `n` values to within `n · 2^-(scale_bits+1)`; decoding to `f64` adds a relative
/// error of at most `2^-53`. With [`FixedPoint::DEFAULT`] (scale `2^24`, 64 sites)
/// that is a resolution of 6·10⁻⁸ and a range of ±8.6·10⁹ per site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedPoint {
    scale_bits: u32,
    max_sites: u32,
}

impl FixedPoint {
    /// Scale `2^24`, at most 64 sites: resolution 6·10⁻⁸, range ±8.6·10⁹ per site.
    pub const DEFAULT: FixedPoint = FixedPoint {
        scale_bits: 24,
        max_sites: 64,
    };

    /// Parameters for `2^scale_bits` (at most 52, the `f64` mantissa) and up to
    /// `max_sites` summands; refused when the per-site range would be below 1.0.
    pub fn new(scale_bits: u32, max_sites: u32) -> Result<Self, SecAggError> {
        if max_sites == 0 {
            return Err(SecAggError::InvalidCodec("max_sites must be at least 1"));
        }
        if scale_bits > 52 {
            return Err(SecAggError::InvalidCodec("scale_bits must be at most 52"));
        }
        let codec = FixedPoint {
            scale_bits,
            max_sites,
        };
        if codec.max_int() < (1u64 << scale_bits) {
            return Err(SecAggError::InvalidCodec(
                "per-site range below 1.0: lower scale_bits or max_sites",
            ));
        }
        Ok(codec)
    }

    fn scale(&self) -> f64 {
        (1u64 << self.scale_bits) as f64
    }

    fn max_int(&self) -> u64 {
        (i64::MAX as u64) / u64::from(self.max_sites)
    }

    /// The step between encodable values, `2^-scale_bits`.
    pub fn resolution(&self) -> f64 {
        1.0 / self.scale()
    }

    /// The largest absolute value one site may encode.
    pub fn max_abs(&self) -> f64 {
        self.max_int() as f64 / self.scale()
    }

    /// The number of summands the range is sized for.
    pub fn max_sites(&self) -> u32 {
        self.max_sites
    }

    /// Encodes one site's vector; refuses NaN, infinities and values beyond [`Self::max_abs`].
    pub fn encode(&self, values: &[f64]) -> Result<Vec<u64>, SecAggError> {
        let limit = i128::from(self.max_int());
        values
            .iter()
            .enumerate()
            .map(|(index, &v)| {
                if !v.is_finite() {
                    return Err(SecAggError::NotFinite { index });
                }
                // `as i128` saturates, so huge values stay huge and fail the check.
                let scaled = (v * self.scale()).round() as i128;
                if scaled.unsigned_abs() > limit.unsigned_abs() {
                    return Err(SecAggError::OutOfRange {
                        index,
                        limit: self.max_abs(),
                    });
                }
                Ok(scaled as i64 as u64)
            })
            .collect()
    }

    /// Decodes the sum of `sites` encodings. Refuses a sum outside what `sites`
    /// in-range values can produce (a site used other parameters), rather than
    /// returning a wrapped value.
    pub fn decode_sum(&self, sum: &[u64], sites: usize) -> Result<Vec<f64>, SecAggError> {
        if sites == 0 || sites > self.max_sites as usize {
            return Err(SecAggError::InvalidCodec(
                "number of sites must be between 1 and max_sites",
            ));
        }
        let bound = i128::from(self.max_int()) * sites as i128;
        sum.iter()
            .enumerate()
            .map(|(index, &x)| {
                let v = x as i64;
                if i128::from(v).abs() > bound {
                    return Err(SecAggError::SumOutOfRange { index, sites });
                }
                Ok(v as f64 / self.scale())
            })
            .collect()
    }
}

/// Wide fixed-point encoding of `f64` values: `q = round(x · 2^scale_bits)` as an
/// `i128`, sent as **two ring elements** per value, the high limb `q >> 32`
/// (arithmetic shift, a two's complement `i64` in `u64`) followed by the low limb
/// `q & (2^32 − 1)` (in `[0, 2^32)`), so `q = high · 2^32 + low`. A vector of `n`
/// values encodes to `2n` elements, `[high₀, low₀, high₁, low₁, …]`.
///
/// **Why two limbs.** In one 64-bit element, scale, per-site range and the
/// `log2(max_sites)` bits the sum needs share 63 bits: `2^48` with 64 sites
/// would leave a range of ±2⁹ = ±512 per site, too small for the risk-set sums
/// and cross-products of a regression (they reach 10⁶ and beyond), while the
/// [`FixedPoint::DEFAULT`] range of ±8.6·10⁹ costs a resolution of 6·10⁻⁸,
/// whose rounding of the summed risk sets moves a federated Cox maximum by up
/// to 3·10⁻⁸ of its standard errors (issue 12). Masking is per element, and each
/// limb is summed on its own without wrapping: the sum of the high limbs of up to
/// `max_sites` sites stays in the `i64` range, the sum of the low limbs below
/// `max_sites · 2^32 ≤ 2^64`; the hub recombines `Σhigh · 2^32 + Σlow` in `i128`,
/// which is exactly `Σq`.
///
/// **Range:** each site's value must satisfy `|x| ≤ max_abs()` =
/// `⌊(2^63 − 1) / max_sites⌋ · 2^32 / 2^scale_bits`. **Precision:** each value is
/// rounded to a multiple of `2^-scale_bits` (error ≤ `2^-(scale_bits+1)`; for
/// `|x| ≥ 2^(53−scale_bits)` the `f64` itself is coarser and the encoding is
/// exact), the sum of the encodings is exact, and decoding to `f64` rounds it
/// once (relative error at most `2^-53`). With [`WideFixedPoint::DEFAULT`]
/// (scale `2^48`, 64 sites): resolution 2⁻⁴⁸ ≈ 3.6·10⁻¹⁵, range ±2.2·10¹² per
/// site. The cost is twice the masked vector (16 bytes per value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WideFixedPoint {
    scale_bits: u32,
    max_sites: u32,
}

/// Bits in the low limb of a [`WideFixedPoint`] value.
const LOW_BITS: u32 = 32;
const LOW_MASK: i128 = (1 << LOW_BITS) - 1;

impl WideFixedPoint {
    /// Scale `2^48`, at most 64 sites: resolution 2⁻⁴⁸ ≈ 3.6·10⁻¹⁵, range
    /// ±2.2·10¹² per site.
    pub const DEFAULT: WideFixedPoint = WideFixedPoint {
        scale_bits: 48,
        max_sites: 64,
    };

    /// Ring elements per encoded value.
    pub const LIMBS: usize = 2;

    /// Parameters for `2^scale_bits` (at most 96) and up to `max_sites`
    /// summands; refused when the per-site range would be below 1.0.
    pub fn new(scale_bits: u32, max_sites: u32) -> Result<Self, SecAggError> {
        if max_sites == 0 {
            return Err(SecAggError::InvalidCodec("max_sites must be at least 1"));
        }
        if scale_bits > 96 {
            return Err(SecAggError::InvalidCodec("scale_bits must be at most 96"));
        }
        let codec = WideFixedPoint {
            scale_bits,
            max_sites,
        };
        if codec.max_int() < 1i128 << scale_bits {
            return Err(SecAggError::InvalidCodec(
                "per-site range below 1.0: lower scale_bits or max_sites",
            ));
        }
        Ok(codec)
    }

    fn scale(&self) -> f64 {
        2f64.powi(self.scale_bits as i32)
    }

    /// The largest high limb one site may send.
    fn max_high(&self) -> i128 {
        i128::from(i64::MAX) / i128::from(self.max_sites)
    }

    /// The largest `|q|` one site may send: its high limb is then within
    /// `±max_high` (floor division keeps `−max_int` at `−max_high`).
    fn max_int(&self) -> i128 {
        self.max_high() << LOW_BITS
    }

    /// The step between encodable values, `2^-scale_bits`.
    pub fn resolution(&self) -> f64 {
        1.0 / self.scale()
    }

    /// The largest absolute value one site may encode (rounded down to an
    /// `f64`, so that it encodes).
    pub fn max_abs(&self) -> f64 {
        let f = self.max_int() as f64;
        let f = if f as i128 > self.max_int() {
            f.next_down()
        } else {
            f
        };
        f / self.scale()
    }

    /// The number of summands the range is sized for.
    pub fn max_sites(&self) -> u32 {
        self.max_sites
    }

    /// The number of ring elements `values` values encode to.
    pub fn encoded_len(values: usize) -> usize {
        values * Self::LIMBS
    }

    /// Encodes one site's vector into `2 · values.len()` ring elements; refuses
    /// NaN, infinities and values beyond [`Self::max_abs`] (the error's index is
    /// the value's).
    pub fn encode(&self, values: &[f64]) -> Result<Vec<u64>, SecAggError> {
        let limit = self.max_int().unsigned_abs();
        let mut out = Vec::with_capacity(Self::encoded_len(values.len()));
        for (index, &v) in values.iter().enumerate() {
            if !v.is_finite() {
                return Err(SecAggError::NotFinite { index });
            }
            // `as i128` saturates, so huge values stay huge and fail the check.
            let q = (v * self.scale()).round() as i128;
            if q.unsigned_abs() > limit {
                return Err(SecAggError::OutOfRange {
                    index,
                    limit: self.max_abs(),
                });
            }
            out.push((q >> LOW_BITS) as i64 as u64);
            out.push((q & LOW_MASK) as u64);
        }
        Ok(out)
    }

    /// Decodes the element-wise (wrapping) sum of `sites` encodings into
    /// `sum.len() / 2` values. Refuses an odd length, and a sum whose high
    /// limbs, low limbs or recombined value lie outside what `sites` in-range
    /// values can produce (a site used other parameters), rather than returning
    /// a wrapped value; the error's index is the value's.
    pub fn decode_sum(&self, sum: &[u64], sites: usize) -> Result<Vec<f64>, SecAggError> {
        if sites == 0 || sites > self.max_sites as usize {
            return Err(SecAggError::InvalidCodec(
                "number of sites must be between 1 and max_sites",
            ));
        }
        if !sum.len().is_multiple_of(Self::LIMBS) {
            return Err(SecAggError::InvalidCodec(
                "a wide sum has two elements per value: its length must be even",
            ));
        }
        let n = sites as i128;
        let (high_bound, low_bound, bound) =
            (self.max_high() * n, LOW_MASK * n, self.max_int() * n);
        sum.chunks_exact(Self::LIMBS)
            .enumerate()
            .map(|(index, limbs)| {
                let (high, low) = (i128::from(limbs[0] as i64), i128::from(limbs[1]));
                let q = (high << LOW_BITS) + low;
                if high.abs() > high_bound || low > low_bound || q.abs() > bound {
                    return Err(SecAggError::SumOutOfRange { index, sites });
                }
                Ok(q as f64 / self.scale())
            })
            .collect()
    }
}

/// Checks one site's counts against `u64::MAX / max_sites`, the bound under which
/// the sum of up to `max_sites` sites cannot wrap, and returns them as the vector
/// to mask (counts need no transformation; the hub's sum is the plain total).
pub fn encode_counts(counts: &[u64], max_sites: u32) -> Result<Vec<u64>, SecAggError> {
    if max_sites == 0 {
        return Err(SecAggError::InvalidCodec("max_sites must be at least 1"));
    }
    let limit = u64::MAX / u64::from(max_sites);
    counts
        .iter()
        .enumerate()
        .map(|(index, &c)| {
            if c > limit {
                Err(SecAggError::CountTooLarge { index, limit })
            } else {
                Ok(c)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_values_round_trip_through_a_sum() {
        let c = FixedPoint::DEFAULT;
        let a = c.encode(&[-1.5, 2.25, -0.0]).unwrap();
        let b = c.encode(&[0.5, -3.0, 1e-3]).unwrap();
        let s: Vec<u64> = a.iter().zip(&b).map(|(x, y)| x.wrapping_add(*y)).collect();
        let d = c.decode_sum(&s, 2).unwrap();
        assert_eq!(d[0], -1.0);
        assert_eq!(d[1], -0.75);
        assert!((d[2] - 1e-3).abs() <= c.resolution());
    }

    #[test]
    fn out_of_range_and_non_finite_are_refused() {
        let c = FixedPoint::DEFAULT;
        let m = c.max_abs();
        assert!(c.encode(&[m * 0.999, -m * 0.999]).is_ok());
        assert!(matches!(
            c.encode(&[0.0, m * 1.001]),
            Err(SecAggError::OutOfRange { index: 1, .. })
        ));
        assert!(matches!(
            c.encode(&[f64::NAN]),
            Err(SecAggError::NotFinite { index: 0 })
        ));
        assert!(c.encode(&[f64::MAX]).is_err());
        assert!(FixedPoint::new(52, 1 << 20).is_err());
        assert!(FixedPoint::new(24, 0).is_err());
    }

    #[test]
    fn a_wrapped_sum_is_refused_not_returned() {
        let c = FixedPoint::new(24, 4).unwrap();
        // An encoding beyond the per-site range (as another codec would produce).
        let big = (i64::MAX / 2) as u64;
        assert!(matches!(
            c.decode_sum(&[big], 1),
            Err(SecAggError::SumOutOfRange { index: 0, sites: 1 })
        ));
    }

    /// The element-wise wrapping sum of encoded vectors, as the hub unmasks it.
    fn ring_sum(encoded: &[Vec<u64>]) -> Vec<u64> {
        let mut sum = vec![0u64; encoded[0].len()];
        for e in encoded {
            for (s, x) in sum.iter_mut().zip(e) {
                *s = s.wrapping_add(*x);
            }
        }
        sum
    }

    /// The exact sum of the rounded values, `Σ round(x · 2^48) / 2^48`, rounded once.
    fn exact_wide_sum(values: &[Vec<f64>], k: usize) -> f64 {
        let scale = 2f64.powi(48);
        let q: i128 = values.iter().map(|v| (v[k] * scale).round() as i128).sum();
        q as f64 / scale
    }

    #[test]
    fn wide_default_has_the_documented_resolution_and_range() {
        let c = WideFixedPoint::DEFAULT;
        assert_eq!(c.resolution(), 2f64.powi(-48));
        assert!(
            c.max_abs() >= 2.19e12 && c.max_abs() < 2.2e12,
            "{}",
            c.max_abs()
        );
        assert_eq!(c.max_sites(), 64);
        assert_eq!(WideFixedPoint::encoded_len(5), 10);
        assert_eq!(c.encode(&[1.0, -2.0, 3.0]).unwrap().len(), 6);
    }

    #[test]
    fn wide_limbs_of_negative_values_recombine() {
        let c = WideFixedPoint::DEFAULT;
        // -2^-48: q = -1, high = -1, low = 2^32 - 1
        assert_eq!(
            c.encode(&[-(2f64.powi(-48))]).unwrap(),
            vec![u64::MAX, (1 << 32) - 1]
        );
        let a = c.encode(&[-1.5, 2.25, -0.0, -1e12, 1e-13]).unwrap();
        let b = c.encode(&[0.5, -3.0, 1e-3, 3e11, -3e-13]).unwrap();
        let d = c.decode_sum(&ring_sum(&[a, b]), 2).unwrap();
        assert_eq!(d[..2], [-1.0, -0.75]);
        assert!((d[2] - 1e-3).abs() <= c.resolution() / 2.0);
        assert_eq!(d[3], -7e11);
        assert!((d[4] + 2e-13).abs() <= c.resolution());
        assert!(d[4] < 0.0);
    }

    #[test]
    fn wide_sums_of_64_sites_at_the_range_limits_are_exact() {
        let c = WideFixedPoint::DEFAULT;
        let m = c.max_abs();
        let sites: Vec<Vec<f64>> = (0..64)
            .map(|i| vec![m, -m, if i % 2 == 0 { m } else { -m }, 0.5 + i as f64])
            .collect();
        let encoded: Vec<Vec<u64>> = sites.iter().map(|v| c.encode(v).unwrap()).collect();
        let d = c.decode_sum(&ring_sum(&encoded), 64).unwrap();
        assert_eq!(d, vec![64.0 * m, -64.0 * m, 0.0, 32.0 + 63.0 * 32.0]);
    }

    #[test]
    fn wide_out_of_range_and_non_finite_are_refused() {
        let c = WideFixedPoint::DEFAULT;
        let m = c.max_abs();
        assert!(c.encode(&[m, -m, 1e12, -1e12]).is_ok());
        assert!(matches!(
            c.encode(&[0.0, m * 1.000_001]),
            Err(SecAggError::OutOfRange { index: 1, .. })
        ));
        assert!(matches!(
            c.encode(&[1.0, 2.0, -m * 1.000_001]),
            Err(SecAggError::OutOfRange { index: 2, .. })
        ));
        assert!(matches!(
            c.encode(&[f64::NAN]),
            Err(SecAggError::NotFinite { index: 0 })
        ));
        assert!(matches!(
            c.encode(&[f64::NEG_INFINITY]),
            Err(SecAggError::NotFinite { index: 0 })
        ));
        assert!(c.encode(&[f64::MAX]).is_err());
        assert!(c.encode(&[f64::MIN]).is_err());
        assert!(WideFixedPoint::new(24, 0).is_err());
        assert!(WideFixedPoint::new(97, 1).is_err());
        assert!(WideFixedPoint::new(89, 64).is_err());
        assert!(WideFixedPoint::new(88, 64).is_ok());
    }

    #[test]
    fn wide_sums_out_of_range_are_refused_not_returned() {
        let c = WideFixedPoint::new(48, 4).unwrap();
        let ok = c.encode(&[1.0]).unwrap();
        assert!(c.decode_sum(&ok, 1).is_ok());
        // odd length: not a wide sum
        assert!(matches!(
            c.decode_sum(&[0, 0, 0], 1),
            Err(SecAggError::InvalidCodec(_))
        ));
        assert!(c.decode_sum(&ok, 0).is_err());
        assert!(c.decode_sum(&ok, 5).is_err());
        // a high limb beyond what one site can send (another codec's parameters)
        let big = (i64::MAX / 4 + 1) as u64;
        assert!(matches!(
            c.decode_sum(&[0, 0, big, 0], 1),
            Err(SecAggError::SumOutOfRange { index: 1, sites: 1 })
        ));
        // ... but within what 2 sites can
        assert!(c.decode_sum(&[big, 0], 2).is_ok());
        assert!(c.decode_sum(&[big.wrapping_neg(), 0], 2).is_ok());
        assert!(c.decode_sum(&[big.wrapping_neg(), 0], 1).is_err());
        // a low limb beyond sites · (2^32 − 1): a one-limb encoding of −1
        assert!(matches!(
            c.decode_sum(&[0, u64::MAX], 3),
            Err(SecAggError::SumOutOfRange { index: 0, sites: 3 })
        ));
        assert!(c.decode_sum(&[0, 3 * ((1 << 32) - 1)], 3).is_ok());
        assert!(c.decode_sum(&[0, 3 * ((1 << 32) - 1) + 1], 3).is_err());
        // a narrow (one-element) encoding of a negative value is no low limb
        let narrow = FixedPoint::DEFAULT.encode(&[1.0, -1.0]).unwrap();
        assert!(c.decode_sum(&narrow, 1).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Up to 64 sites, values anywhere in the range (small ones too): the
        /// decoded sum is the exact sum of the rounded values, rounded once.
        #[test]
        fn wide_sums_of_many_sites_are_exact(
            sites in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::prop_oneof![
                        -2.0e12..2.0e12f64,
                        -1.0..1.0f64,
                        -1e-12..1e-12f64,
                    ],
                    6,
                ),
                1..=64,
            )
        ) {
            let c = WideFixedPoint::DEFAULT;
            let encoded: Vec<Vec<u64>> = sites.iter().map(|v| c.encode(v).unwrap()).collect();
            let d = c.decode_sum(&ring_sum(&encoded), sites.len()).unwrap();
            for (k, x) in d.iter().enumerate() {
                proptest::prop_assert_eq!(*x, exact_wide_sum(&sites, k));
            }
        }
    }

    #[test]
    fn counts_are_bounded_per_site() {
        assert_eq!(encode_counts(&[0, 7], 10).unwrap(), vec![0, 7]);
        assert!(matches!(
            encode_counts(&[u64::MAX / 10 + 1], 10),
            Err(SecAggError::CountTooLarge { index: 0, .. })
        ));
    }
}
