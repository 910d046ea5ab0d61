//! Encodings of counts and reals into `Z_{2^64}`, the group the masks live in.
//!
//! Masking works in wrapping `u64` arithmetic, so a masked sum is exact only if
//! the true sum fits. Both encodings bound every site's value so that the sum of
//! up to `max_sites` values cannot wrap, and refuse values outside that bound.

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
                if scaled.abs() > limit {
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

    #[test]
    fn counts_are_bounded_per_site() {
        assert_eq!(encode_counts(&[0, 7], 10).unwrap(), vec![0, 7]);
        assert!(matches!(
            encode_counts(&[u64::MAX / 10 + 1], 10),
            Err(SecAggError::CountTooLarge { index: 0, .. })
        ));
    }
}
