//! The German statutory health-insurance number (Krankenversichertennummer, KVNR).
//!
//! The unchangeable part is ten characters: a letter, eight digits and a check
//! digit (§ 290 SGB V; FHIR identifier system `http://fhir.de/sid/gkv/kvid-10`).
//! The check digit is a modified Luhn over the letter's two-digit position
//! (A = 01 … Z = 26) followed by the eight digits, weights 1-2-1-2-…, digit sums
//! of the products, last digit of the total.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a string is not a KVNR. Carries no part of the input (it is identifying).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvnrError {
    /// Not a letter followed by nine digits.
    #[error("insurance number must be a capital letter followed by nine digits")]
    Format,
    /// The tenth character is not the check digit of the first nine.
    #[error("insurance number check digit does not match")]
    CheckDigit,
}

/// A validated KVNR (unchangeable 10-character part).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Kvnr(String);

impl Kvnr {
    /// FHIR identifier system for the KVNR.
    pub const SYSTEM: &'static str = "http://fhir.de/sid/gkv/kvid-10";

    /// Validates a KVNR including its check digit.
    pub fn new(s: &str) -> Result<Self, KvnrError> {
        let b = s.as_bytes();
        if b.len() != 10 || !b[0].is_ascii_uppercase() || !b[1..].iter().all(u8::is_ascii_digit) {
            return Err(KvnrError::Format);
        }
        let expected = Self::check_digit(b[0], &b[1..9]).ok_or(KvnrError::Format)?;
        if b[9] != expected {
            return Err(KvnrError::CheckDigit);
        }
        Ok(Self(s.to_owned()))
    }

    /// Builds a KVNR from a letter and eight digits, appending the check digit.
    pub fn from_parts(letter: u8, digits: &[u8; 8]) -> Option<Self> {
        if !letter.is_ascii_uppercase() || !digits.iter().all(|d| *d <= 9) {
            return None;
        }
        let ascii: Vec<u8> = digits.iter().map(|d| b'0' + d).collect();
        let check = Self::check_digit(letter, &ascii)?;
        let mut s = String::with_capacity(10);
        s.push(letter as char);
        s.extend(ascii.iter().map(|&c| c as char));
        s.push(check as char);
        Some(Self(s))
    }

    /// The check digit (ASCII) for a letter and eight ASCII digits.
    fn check_digit(letter: u8, digits: &[u8]) -> Option<u8> {
        if digits.len() != 8 {
            return None;
        }
        let pos = letter - b'A' + 1;
        let mut all = vec![pos / 10, pos % 10];
        all.extend(digits.iter().map(|c| c - b'0'));
        let sum: u32 = all
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                let p = u32::from(d) * if i % 2 == 0 { 1 } else { 2 };
                p / 10 + p % 10
            })
            .sum();
        Some(b'0' + (sum % 10) as u8)
    }

    /// The number as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Kvnr {
    type Error = KvnrError;
    fn try_from(s: String) -> Result<Self, KvnrError> {
        Self::new(&s)
    }
}

impl From<Kvnr> for String {
    fn from(k: Kvnr) -> String {
        k.0
    }
}

impl fmt::Debug for Kvnr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kvnr(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_example() {
        // A = 01; digits 0 1 1 2 3 4 5 6 7 8 with weights 1 2 1 2 ...:
        // 0 2 1 4 3 8 5 (12→3) 7 (16→7) = 40 → check digit 0.
        assert_eq!(
            Kvnr::from_parts(b'A', &[1, 2, 3, 4, 5, 6, 7, 8])
                .unwrap()
                .as_str(),
            "A123456780"
        );
        assert!(Kvnr::new("A123456780").is_ok());
        assert_eq!(Kvnr::new("A123456781"), Err(KvnrError::CheckDigit));
        assert_eq!(Kvnr::new("a123456780"), Err(KvnrError::Format));
        assert_eq!(Kvnr::new("A12345678"), Err(KvnrError::Format));
    }

    proptest! {
        #[test]
        fn generated_numbers_validate(letter in b'A'..=b'Z', digits in any::<[u8; 8]>()) {
            let digits = digits.map(|d| d % 10);
            let k = Kvnr::from_parts(letter, &digits).unwrap();
            prop_assert!(Kvnr::new(k.as_str()).is_ok());
        }

        #[test]
        fn never_panics(s in ".{0,12}") {
            let _ = Kvnr::new(&s);
        }
    }
}
