//! Pseudonym domains: a tree (root → site → project) of namespaces, each with its
//! own alphabet, length and check character, in which arbitrary identifiers (sample
//! ids, study ids, case numbers) get pseudonyms, in batches.
//!
//! A domain's pseudonyms are keyed and repeatable: the `k`-th candidate for a value
//! is `HMAC(domain key, k ‖ value)` mapped onto the alphabet by rejection sampling
//! (no modulo bias), with `domain key = HMAC(pseudonym key, "oncofed pseudonym
//! domain v1\0" ‖ name)`. The first candidate not yet taken in the domain is stored,
//! so a collision in a small space (8 decimal digits) moves the later value to its
//! next candidate; the stored pair makes the answer repeatable and resolvable.
//! Settings are fixed at creation (changing them would change every pseudonym).

/// The check-character algorithms, kept in `oncofed-model` (the FHIR quality checks use them too).
pub use oncofed_model::check_digit as check;

use crate::config::PseudonymKey;
use hmac::{Hmac, Mac};
use oncofed_trustee_api::CheckDigit;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Alphabet of a root created without one: Crockford base 32, as site pseudonyms.
pub const DEFAULT_ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Length of a root created without one.
pub const DEFAULT_LENGTH: usize = 12;
/// Deepest domain: 0 root, 1 site, 2 project.
pub const MAX_DEPTH: u8 = 2;
/// Smallest pseudonym space a domain may have (`alphabet^length`), so that
/// collisions stay rare enough to resolve with a few candidates.
pub const MIN_SPACE: f64 = 1e6;
/// Candidates tried for one value before the domain is reported full.
pub const MAX_CANDIDATES: u32 = 64;

/// Validated settings of one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSettings {
    alphabet: Vec<u8>,
    length: usize,
    check: CheckDigit,
}

impl DomainSettings {
    /// Validates settings; the error names what is wrong (our own text, no input).
    pub fn new(alphabet: &str, length: usize, check: CheckDigit) -> Result<Self, &'static str> {
        let bytes = alphabet.as_bytes();
        if !(2..=64).contains(&bytes.len()) || !bytes.iter().all(u8::is_ascii_graphic) {
            return Err("alphabet: 2-64 printable ASCII characters without spaces");
        }
        if (1..bytes.len()).any(|i| bytes[..i].contains(&bytes[i])) {
            return Err("alphabet: characters must be distinct");
        }
        if !(4..=64).contains(&length) {
            return Err("length: 4-64");
        }
        if (bytes.len() as f64).powi(length as i32) < MIN_SPACE {
            return Err("length: alphabet^length must be at least 1,000,000");
        }
        match check {
            CheckDigit::Damm | CheckDigit::Verhoeff if alphabet != "0123456789" => {
                return Err("check: damm and verhoeff need the alphabet 0123456789");
            }
            CheckDigit::LuhnModN if !bytes.len().is_multiple_of(2) => {
                return Err("check: luhn-mod-n needs an alphabet of even size");
            }
            _ => {}
        }
        Ok(Self {
            alphabet: bytes.to_vec(),
            length,
            check,
        })
    }

    /// The alphabet.
    pub fn alphabet(&self) -> &str {
        std::str::from_utf8(&self.alphabet).expect("validated ASCII")
    }

    /// Length without the check character.
    pub fn length(&self) -> usize {
        self.length
    }

    /// The check character.
    pub fn check(&self) -> CheckDigit {
        self.check
    }

    /// The check symbol value of `values`, if the domain has a check character.
    fn check_value(&self, values: &[u8]) -> Option<u8> {
        match self.check {
            CheckDigit::None => None,
            CheckDigit::Damm => Some(check::damm(values)),
            CheckDigit::Verhoeff => Some(check::verhoeff(values)),
            CheckDigit::LuhnModN => Some(check::luhn_mod_n(values, self.alphabet.len())),
        }
    }

    /// Whether `pseudonym` has this domain's shape and a correct check character.
    pub fn is_well_formed(&self, pseudonym: &str) -> bool {
        let want = self.length + usize::from(self.check != CheckDigit::None);
        if pseudonym.len() != want {
            return false;
        }
        let Some(values) = pseudonym
            .bytes()
            .map(|c| self.alphabet.iter().position(|&a| a == c).map(|p| p as u8))
            .collect::<Option<Vec<u8>>>()
        else {
            return false;
        };
        match self.check {
            CheckDigit::None => true,
            CheckDigit::Verhoeff => check::verhoeff_valid(&values),
            _ => {
                let (body, last) = values.split_at(self.length);
                self.check_value(body) == Some(last[0])
            }
        }
    }
}

/// The keyed MAC state every domain key is derived from.
#[derive(Clone)]
pub(crate) struct DomainKeys {
    root: HmacSha256,
}

impl DomainKeys {
    /// Prepares the derivation from the trust centre's pseudonym key.
    pub(crate) fn new(key: &PseudonymKey) -> Self {
        Self {
            root: HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length"),
        }
    }

    /// The MAC state of one domain.
    pub(crate) fn domain(&self, name: &str) -> Deriver {
        let mut mac = self.root.clone();
        mac.update(b"oncofed pseudonym domain v1\0");
        mac.update(name.as_bytes());
        let key = mac.finalize().into_bytes();
        Deriver {
            mac: HmacSha256::new_from_slice(&key).expect("HMAC takes any key length"),
        }
    }
}

/// Derives candidates in one domain.
#[derive(Clone)]
pub(crate) struct Deriver {
    mac: HmacSha256,
}

impl Deriver {
    /// The `k`-th candidate pseudonym for `value` under `settings`.
    pub(crate) fn candidate(&self, settings: &DomainSettings, value: &str, k: u32) -> String {
        let n = settings.alphabet.len();
        // Bytes at or above `limit` would bias `byte % n`; they are skipped.
        let limit = 256 - 256 % n;
        let mut values = Vec::with_capacity(settings.length);
        let mut block = 0u32;
        while values.len() < settings.length {
            let mut mac = self.mac.clone();
            mac.update(&k.to_be_bytes());
            mac.update(&block.to_be_bytes());
            mac.update(value.as_bytes());
            for &b in mac.finalize().into_bytes().iter() {
                if usize::from(b) < limit && values.len() < settings.length {
                    values.push((usize::from(b) % n) as u8);
                }
            }
            block += 1;
        }
        let check = settings.check_value(&values);
        values
            .iter()
            .chain(check.iter())
            .map(|&v| settings.alphabet[v as usize] as char)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> DomainKeys {
        DomainKeys::new(&PseudonymKey::from_bytes(vec![9; 32]).unwrap())
    }

    #[test]
    fn settings_are_validated() {
        assert!(DomainSettings::new("0123456789", 8, CheckDigit::Damm).is_ok());
        assert!(DomainSettings::new("0123456789", 8, CheckDigit::Verhoeff).is_ok());
        assert!(DomainSettings::new("ABCDEF", 8, CheckDigit::Damm).is_err());
        assert!(DomainSettings::new("ABCDE", 12, CheckDigit::LuhnModN).is_err());
        assert!(DomainSettings::new("AAB", 12, CheckDigit::None).is_err());
        assert!(DomainSettings::new("0123456789", 5, CheckDigit::None).is_err());
        assert!(DomainSettings::new("01 3", 20, CheckDigit::None).is_err());
        assert!(DomainSettings::new(DEFAULT_ALPHABET, 4, CheckDigit::LuhnModN).is_ok());
    }

    #[test]
    fn candidates_have_the_domain_shape_and_depend_on_key_domain_value_and_k() {
        let k = keys();
        for (alphabet, length, check) in [
            ("0123456789", 10, CheckDigit::Damm),
            ("0123456789", 8, CheckDigit::Verhoeff),
            (DEFAULT_ALPHABET, 12, CheckDigit::LuhnModN),
            ("ACGT", 20, CheckDigit::LuhnModN),
            ("abcdefghijklmnopqrstuvwxyz", 9, CheckDigit::None),
        ] {
            let s = DomainSettings::new(alphabet, length, check).unwrap();
            let d = k.domain("study-a");
            let p = d.candidate(&s, "sample-1", 0);
            assert!(s.is_well_formed(&p), "{alphabet} {check:?}: {p}");
            assert_eq!(p, d.candidate(&s, "sample-1", 0));
            assert_ne!(p, d.candidate(&s, "sample-2", 0));
            assert_ne!(p, d.candidate(&s, "sample-1", 1));
            assert_ne!(p, k.domain("study-b").candidate(&s, "sample-1", 0));
            // A single changed character fails the check.
            if check != CheckDigit::None {
                let mut bytes = p.clone().into_bytes();
                bytes[1] = if bytes[1] == alphabet.as_bytes()[0] {
                    alphabet.as_bytes()[1]
                } else {
                    alphabet.as_bytes()[0]
                };
                assert!(!s.is_well_formed(&String::from_utf8(bytes).unwrap()));
            }
        }
    }

    #[test]
    fn symbols_are_uniform() {
        // 10 symbols over 20,000 characters: each near 2,000 (chi-square, 9 d.f.,
        // critical value 27.9 at p = 0.001).
        let s = DomainSettings::new("0123456789", 10, CheckDigit::None).unwrap();
        let d = keys().domain("u");
        let mut counts = [0f64; 10];
        for i in 0..2_000 {
            for c in d.candidate(&s, &i.to_string(), 0).bytes() {
                counts[usize::from(c - b'0')] += 1.0;
            }
        }
        let chi: f64 = counts.iter().map(|c| (c - 2_000.0).powi(2) / 2_000.0).sum();
        assert!(chi < 27.9, "chi-square {chi}");
    }
}
