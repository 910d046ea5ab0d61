//! Check characters: Damm (decimal), Verhoeff (decimal) and Luhn mod N (any even
//! alphabet size). Each takes and returns symbol values `0..n`, so the domain's
//! alphabet is applied outside.
//!
//! Shared by the trust centre's pseudonym domains and the FHIR quality checks
//! (SNOMED CT identifiers carry a Verhoeff check digit).
//!
//! - Damm, H. M.: *Totally anti-symmetric quasigroups for all orders n ≠ 2, 6*,
//!   Discrete Mathematics 307 (2007); the order-10 table of his 2004 thesis. Detects
//!   all single-digit errors and all adjacent transpositions.
//! - Verhoeff, J.: *Error Detecting Decimal Codes*, Mathematical Centre Tract 29
//!   (1969): the dihedral group D5 with a position permutation.
//! - Luhn mod N: Luhn's algorithm (US patent 2,950,048; ISO/IEC 7812-1) generalised
//!   to base N by re-packing the doubled value into base N; defined for even N.

/// Damm's totally anti-symmetric quasigroup of order 10.
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// The Damm check digit of `digits` (each 0–9).
pub fn damm(digits: &[u8]) -> u8 {
    digits
        .iter()
        .fold(0, |interim, &d| DAMM[interim as usize][d as usize])
}

/// Verhoeff: multiplication in D5.
const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

/// Verhoeff: the position permutation, applied `i mod 8` times.
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// Verhoeff: inverses in D5.
const VERHOEFF_INV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

/// The Verhoeff check digit of `digits` (each 0–9).
pub fn verhoeff(digits: &[u8]) -> u8 {
    let c = digits.iter().rev().enumerate().fold(0u8, |c, (i, &d)| {
        VERHOEFF_D[c as usize][VERHOEFF_P[(i + 1) % 8][d as usize] as usize]
    });
    VERHOEFF_INV[c as usize]
}

/// Whether `digits` (check digit last) pass Verhoeff's check.
pub fn verhoeff_valid(digits: &[u8]) -> bool {
    digits.iter().rev().enumerate().fold(0u8, |c, (i, &d)| {
        VERHOEFF_D[c as usize][VERHOEFF_P[i % 8][d as usize] as usize]
    }) == 0
}

/// The Luhn mod N check value of `values` (each `< n`, `n` even).
pub fn luhn_mod_n(values: &[u8], n: usize) -> u8 {
    let mut factor = 2;
    let mut sum = 0usize;
    for &v in values.iter().rev() {
        let addend = factor * usize::from(v);
        factor = if factor == 2 { 1 } else { 2 };
        sum += addend / n + addend % n;
    }
    ((n - sum % n) % n) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Vec<u8> {
        s.bytes().map(|b| b - b'0').collect()
    }

    #[test]
    fn damm_published_vectors() {
        // Damm's worked example (and Wikipedia's): 572 → 4.
        assert_eq!(damm(&digits("572")), 4);
        // Appending the check digit gives interim 0: the validation rule.
        assert_eq!(damm(&digits("5724")), 0);
    }

    #[test]
    fn verhoeff_published_vectors() {
        // Verhoeff's worked example 236 → 3; and 12345 → 1, 142857 → 0.
        assert_eq!(verhoeff(&digits("236")), 3);
        assert!(verhoeff_valid(&digits("2363")));
        assert_eq!(verhoeff(&digits("12345")), 1);
        assert_eq!(verhoeff(&digits("142857")), 0);
        assert!(!verhoeff_valid(&digits("2364")));
    }

    #[test]
    fn luhn_mod_10_is_luhn() {
        // ISO/IEC 7812-1 example 7992739871 → 3.
        assert_eq!(luhn_mod_n(&digits("7992739871"), 10), 3);
    }

    #[test]
    fn luhn_mod_32_matches_the_model_pseudonym() {
        // An independent implementation: the pseudonym's own check (Crockford base 32).
        const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        for seed in 0u8..50 {
            let p = crate::Pseudonym::from_digest(&[seed.wrapping_mul(37); 10]);
            let vals: Vec<u8> = p
                .as_str()
                .bytes()
                .map(|c| CROCKFORD.iter().position(|&x| x == c).unwrap() as u8)
                .collect();
            let (payload, check) = vals.split_at(vals.len() - 1);
            assert_eq!(luhn_mod_n(payload, 32), check[0]);
        }
    }

    #[test]
    fn every_single_error_and_adjacent_swap_is_detected() {
        let base = digits("8302945716");
        for (name, check) in [
            ("damm", damm as fn(&[u8]) -> u8),
            ("verhoeff", verhoeff),
            ("luhn", |d: &[u8]| luhn_mod_n(d, 10)),
        ] {
            let c = check(&base);
            for i in 0..base.len() {
                for v in 0..10 {
                    if v != base[i] {
                        let mut e = base.clone();
                        e[i] = v;
                        assert_ne!(check(&e), c, "{name}: single error at {i}");
                    }
                }
                // Luhn misses 09 ↔ 90 only; the base has no such pair.
                if i + 1 < base.len() && base[i] != base[i + 1] {
                    let mut e = base.clone();
                    e.swap(i, i + 1);
                    assert_ne!(check(&e), c, "{name}: swap at {i}");
                }
            }
        }
    }
}
