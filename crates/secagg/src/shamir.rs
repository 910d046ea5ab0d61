//! Shamir secret sharing of 32-byte secrets over the prime field `GF(2^61 − 1)`.
//!
//! A secret is cut into five limbs of at most 56 bits (each below the prime), and
//! each limb is shared with its own random polynomial of degree `t − 1`. The share
//! of site `i` is the polynomials' values at `x = i + 1`; any `t` shares give the
//! secret by Lagrange interpolation at 0, fewer give no information about it.

use crate::SiteId;

/// The Mersenne prime `2^61 − 1`.
pub(crate) const P: u64 = (1 << 61) - 1;

/// Number of field elements per shared secret.
pub const LIMBS: usize = 5;

/// One site's share of one secret: a field element per limb.
pub type ShareValue = [u64; LIMBS];

fn reduce(x: u128) -> u64 {
    let mut s = (x as u64 & P) + (x >> 61) as u64;
    while s >= P {
        s -= P;
    }
    s
}

fn mul(a: u64, b: u64) -> u64 {
    reduce(u128::from(a) * u128::from(b))
}

fn add(a: u64, b: u64) -> u64 {
    reduce(u128::from(a) + u128::from(b))
}

fn sub(a: u64, b: u64) -> u64 {
    add(a, P - b)
}

fn pow(mut base: u64, mut exp: u64) -> u64 {
    let mut acc = 1;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = mul(acc, base);
        }
        base = mul(base, base);
        exp >>= 1;
    }
    acc
}

fn inv(a: u64) -> u64 {
    pow(a, P - 2)
}

/// A uniform field element by rejection sampling of 61-bit draws.
fn random_element() -> u64 {
    loop {
        let x = rand::random::<u64>() >> 3;
        if x < P {
            return x;
        }
    }
}

pub(crate) fn x_of(site: SiteId) -> u64 {
    u64::from(site.0) + 1
}

fn to_limbs(secret: &[u8; 32]) -> ShareValue {
    let mut padded = [0u8; 7 * LIMBS];
    padded[..32].copy_from_slice(secret);
    let mut limbs = [0u64; LIMBS];
    for (limb, chunk) in limbs.iter_mut().zip(padded.chunks_exact(7)) {
        let mut b = [0u8; 8];
        b[..7].copy_from_slice(chunk);
        *limb = u64::from_le_bytes(b);
    }
    limbs
}

fn from_limbs(limbs: &ShareValue) -> Option<[u8; 32]> {
    let mut padded = [0u8; 7 * LIMBS];
    for (limb, chunk) in limbs.iter().zip(padded.chunks_exact_mut(7)) {
        let b = limb.to_le_bytes();
        if b[7] != 0 {
            return None;
        }
        chunk.copy_from_slice(&b[..7]);
    }
    if padded[32..].iter().any(|&b| b != 0) {
        return None;
    }
    Some(padded[..32].try_into().expect("32 bytes"))
}

/// Shares `secret` among `sites` with threshold `t` (`1 ≤ t ≤ sites.len()`).
pub(crate) fn split(secret: &[u8; 32], sites: &[SiteId], t: usize) -> Vec<ShareValue> {
    let limbs = to_limbs(secret);
    let polys: Vec<Vec<u64>> = limbs
        .iter()
        .map(|&c0| {
            let mut p = vec![c0];
            p.extend((1..t).map(|_| random_element()));
            p
        })
        .collect();
    sites
        .iter()
        .map(|&s| {
            let x = x_of(s);
            let mut v = [0u64; LIMBS];
            for (out, poly) in v.iter_mut().zip(&polys) {
                *out = poly.iter().rev().fold(0, |acc, &c| add(mul(acc, x), c));
            }
            v
        })
        .collect()
}

/// Interpolates at 0 from shares at distinct sites. `None` if the result is not a
/// well-formed secret (a share was wrong). The caller passes exactly `t` shares.
pub(crate) fn reconstruct(shares: &[(SiteId, ShareValue)]) -> Option<[u8; 32]> {
    let xs: Vec<u64> = shares.iter().map(|(s, _)| x_of(*s)).collect();
    let mut limbs = [0u64; LIMBS];
    for (i, (_, share)) in shares.iter().enumerate() {
        let mut num = 1;
        let mut den = 1;
        for (j, &xj) in xs.iter().enumerate() {
            if i != j {
                num = mul(num, xj);
                den = mul(den, sub(xj, xs[i]));
            }
        }
        if den == 0 {
            return None;
        }
        let lambda = mul(num, inv(den));
        for (acc, &y) in limbs.iter_mut().zip(share) {
            if y >= P {
                return None;
            }
            *acc = add(*acc, mul(lambda, y));
        }
    }
    from_limbs(&limbs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_t_shares_reconstruct_and_wrong_ones_do_not() {
        let secret: [u8; 32] = rand::random();
        let sites: Vec<SiteId> = (0..5).map(SiteId).collect();
        let shares = split(&secret, &sites, 3);
        let pick = |idx: &[usize]| -> Vec<(SiteId, ShareValue)> {
            idx.iter().map(|&i| (sites[i], shares[i])).collect()
        };
        assert_eq!(reconstruct(&pick(&[0, 1, 2])), Some(secret));
        assert_eq!(reconstruct(&pick(&[4, 2, 0])), Some(secret));
        assert_eq!(reconstruct(&pick(&[1, 3, 4])), Some(secret));
        // Two shares (below threshold) interpolate a line: a different value.
        assert_ne!(reconstruct(&pick(&[0, 1])), Some(secret));
        let mut bad = pick(&[0, 1, 2]);
        bad[1].1[0] = add(bad[1].1[0], 1);
        assert_ne!(reconstruct(&bad), Some(secret));
    }

    #[test]
    fn field_arithmetic() {
        assert_eq!(mul(P - 1, P - 1), 1);
        assert_eq!(mul(inv(12345), 12345), 1);
        assert_eq!(sub(0, 1), P - 1);
        assert_eq!(from_limbs(&to_limbs(&[0xff; 32])), Some([0xff; 32]));
    }
}
