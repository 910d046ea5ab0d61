//! The normalised linkage record: what both linkage modes compare.

use oncofed_idat::{IdentifyingData, normalise_name};
use oncofed_model::Sex;
use std::fmt;

/// One person's identifying data, normalised for comparison.
///
/// Linkage compares fields, not FHIR structures: names are lower-case `a`–`z`
/// (umlauts transliterated by [`oncofed_idat::normalise_name`]), numbers are digit
/// strings, the birth date is split into day, month and year so that a typo in
/// one part costs only that part and day/month swaps can be recognised. An
/// empty string or `None` means "missing": missing fields drop out of the score
/// rather than count as disagreement (EpiLink, Contiero et al. 2005).
///
/// Birth-date parts are kept as given, even when they do not form a valid date,
/// because real sources (and Febrl) hold such values and they still carry
/// evidence.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// Caller's identifier of the record (source id, row key); never compared.
    pub id: String,
    /// Given names, joined and normalised.
    pub given: String,
    /// Family name, normalised.
    pub family: String,
    /// Birth name, normalised; compared against the other side's family name too.
    pub birth_name: String,
    /// Day of birth (1–31 when valid).
    pub birth_day: Option<u8>,
    /// Month of birth (1–12 when valid).
    pub birth_month: Option<u8>,
    /// Year of birth.
    pub birth_year: Option<u16>,
    /// Administrative sex; `None` when unknown.
    pub sex: Option<Sex>,
    /// House number, digits and letters as written (`"12a"`).
    pub house_number: String,
    /// Street name, normalised.
    pub street: String,
    /// Postal code, digits only.
    pub postal_code: String,
    /// City or suburb, normalised.
    pub city: String,
    /// Insurance number (KVNR) or another stable person number, as written.
    pub insurance_id: String,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // IDAT never reaches a log, not even through a linkage record.
        f.write_str("Record(<redacted>)")
    }
}

/// Keeps only ASCII digits: postal codes and person numbers are compared as digit strings.
pub fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Keeps ASCII letters and digits, lower case: house numbers like `"12 A"` → `"12a"`.
pub fn alnum(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Record {
    /// Builds a linkage record from a site's IDAT. The first address line is split
    /// into street and house number at its last token containing a digit.
    pub fn from_idat(id: impl Into<String>, idat: &IdentifyingData) -> Self {
        use chrono::Datelike;
        let (street, house_number, postal_code, city) = match &idat.address {
            Some(a) => {
                let line = a.lines.first().map(String::as_str).unwrap_or("");
                let (street, number) = split_house_number(line);
                (
                    normalise_name(street),
                    alnum(number),
                    a.postal_code.as_deref().map(digits).unwrap_or_default(),
                    a.city.as_deref().map(normalise_name).unwrap_or_default(),
                )
            }
            None => Default::default(),
        };
        Record {
            id: id.into(),
            given: normalise_name(&idat.given.join(" ")),
            family: idat
                .family
                .as_deref()
                .map(normalise_name)
                .unwrap_or_default(),
            birth_name: idat
                .birth_name
                .as_deref()
                .map(normalise_name)
                .unwrap_or_default(),
            birth_day: idat.birth_date.map(|d| d.day() as u8),
            birth_month: idat.birth_date.map(|d| d.month() as u8),
            birth_year: idat.birth_date.and_then(|d| u16::try_from(d.year()).ok()),
            sex: match idat.sex {
                Sex::Unknown => None,
                s => Some(s),
            },
            house_number,
            street,
            postal_code,
            city,
            insurance_id: idat
                .kvnr
                .as_ref()
                .map(|k| k.as_str().to_owned())
                .unwrap_or_default(),
        }
    }

    /// The birth date as `YYYYMMDD` digits (the PPRL token source), or empty when
    /// any part is missing.
    pub fn birth_date_string(&self) -> String {
        match (self.birth_year, self.birth_month, self.birth_day) {
            (Some(y), Some(m), Some(d)) => format!("{y:04}{m:02}{d:02}"),
            _ => String::new(),
        }
    }

    /// Sex as a one-letter code (`f`, `m`, `d`), or empty when unknown.
    pub fn sex_code(&self) -> &'static str {
        match self.sex {
            Some(Sex::Female) => "f",
            Some(Sex::Male) => "m",
            Some(Sex::Other) => "d",
            _ => "",
        }
    }
}

/// Version byte of [`Record::to_bytes`]; a later layout gets a new number.
const BYTES_VERSION: u8 = 1;

impl Record {
    /// A compact binary form of the record's compared fields (not [`Record::id`]),
    /// for stores that keep the normalised record beside their blocking index so a
    /// candidate is compared without parsing and normalising its IDAT again.
    ///
    /// Layout (version 1): the version byte; a flags byte (bits 0–2: day, month
    /// and year present; bits 4–5: sex, 0 unknown, 1 female, 2 male, 3 other);
    /// day, month (one byte each) and year (two bytes, little endian), zero when
    /// absent; then given, family and birth name, house number, street, postal
    /// code, city and insurance id, each as a LEB128 length and its UTF-8 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let strings = self.strings();
        let mut out = Vec::with_capacity(6 + strings.iter().map(|s| s.len() + 1).sum::<usize>());
        let sex = match self.sex {
            Some(Sex::Female) => 1u8,
            Some(Sex::Male) => 2,
            Some(Sex::Other) => 3,
            _ => 0,
        };
        let flags = u8::from(self.birth_day.is_some())
            | u8::from(self.birth_month.is_some()) << 1
            | u8::from(self.birth_year.is_some()) << 2
            | sex << 4;
        out.extend([
            BYTES_VERSION,
            flags,
            self.birth_day.unwrap_or(0),
            self.birth_month.unwrap_or(0),
        ]);
        out.extend(self.birth_year.unwrap_or(0).to_le_bytes());
        for s in strings {
            let mut n = s.len();
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
            out.extend(s.as_bytes());
        }
        out
    }

    /// Reads [`Record::to_bytes`] back (with an empty `id`); `None` for bytes of
    /// another version, truncated or trailing bytes, or invalid UTF-8.
    pub fn from_bytes(bytes: &[u8]) -> Option<Record> {
        let mut record = Record::default();
        record.read_bytes(bytes).then_some(record)
    }

    /// [`Record::from_bytes`] into this record, reusing its strings' buffers:
    /// for a caller that decodes many records one after the other (the trust
    /// centre scores about 50 stored neighbours per new record, and allocating
    /// their strings was a tenth of its CPU). Returns whether `bytes` were a
    /// record; if not, `self` holds part of them and must not be used.
    pub fn read_bytes(&mut self, bytes: &[u8]) -> bool {
        let Some((head, mut rest)) = bytes.split_at_checked(6) else {
            return false;
        };
        if head[0] != BYTES_VERSION || head[1] & 0b1100_1000 != 0 {
            return false;
        }
        let flags = head[1];
        let mut take = |into: &mut String| -> Option<()> {
            let mut n = 0usize;
            let mut shift = 0;
            loop {
                let (&b, tail) = rest.split_first()?;
                rest = tail;
                n |= usize::from(b & 0x7f).checked_shl(shift)?;
                if b & 0x80 == 0 {
                    break;
                }
                shift += 7;
                if shift > 28 {
                    return None;
                }
            }
            let (s, tail) = rest.split_at_checked(n)?;
            rest = tail;
            into.clear();
            into.push_str(std::str::from_utf8(s).ok()?);
            Some(())
        };
        let strings = [
            &mut self.given,
            &mut self.family,
            &mut self.birth_name,
            &mut self.house_number,
            &mut self.street,
            &mut self.postal_code,
            &mut self.city,
            &mut self.insurance_id,
        ];
        for field in strings {
            if take(field).is_none() {
                return false;
            }
        }
        self.id.clear();
        self.birth_day = (flags & 1 != 0).then_some(head[2]);
        self.birth_month = (flags & 2 != 0).then_some(head[3]);
        self.birth_year = (flags & 4 != 0).then_some(u16::from_le_bytes([head[4], head[5]]));
        self.sex = match flags >> 4 {
            1 => Some(Sex::Female),
            2 => Some(Sex::Male),
            3 => Some(Sex::Other),
            _ => None,
        };
        rest.is_empty()
    }

    /// The string fields in the order of [`Record::to_bytes`].
    fn strings(&self) -> [&str; 8] {
        [
            &self.given,
            &self.family,
            &self.birth_name,
            &self.house_number,
            &self.street,
            &self.postal_code,
            &self.city,
            &self.insurance_id,
        ]
    }
}

/// Splits `"Hauptstraße 12 a"` into `("Hauptstraße", "12 a")` at the first token
/// that holds a digit.
fn split_house_number(line: &str) -> (&str, &str) {
    let line = line.trim();
    match line.find(|c: char| c.is_ascii_digit()) {
        Some(d) => {
            let start = line[..d].rfind(char::is_whitespace).map_or(0, |p| p + 1);
            (line[..start].trim(), line[start..].trim())
        }
        None => (line, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use oncofed_idat::{Address, Kvnr};

    #[test]
    fn from_idat_normalises_and_splits() {
        let idat = IdentifyingData {
            given: vec!["Anne-Marie".into(), "Jörg".into()],
            family: Some("Müller".into()),
            birth_name: Some("Groß".into()),
            birth_date: NaiveDate::from_ymd_opt(1964, 8, 12),
            sex: Sex::Female,
            address: Some(Address {
                lines: vec!["Hauptstraße 12 A".into()],
                postal_code: Some("50 667".into()),
                city: Some("Köln".into()),
                country: None,
            }),
            kvnr: Some(Kvnr::new("A123456780").unwrap()),
        };
        let r = Record::from_idat("x1", &idat);
        assert_eq!(r.given, "annemariejoerg");
        assert_eq!(r.family, "mueller");
        assert_eq!(r.birth_name, "gross");
        assert_eq!(
            (r.birth_day, r.birth_month, r.birth_year),
            (Some(12), Some(8), Some(1964))
        );
        assert_eq!(r.street, "hauptstrasse");
        assert_eq!(r.house_number, "12a");
        assert_eq!(r.postal_code, "50667");
        assert_eq!(r.city, "koeln");
        assert_eq!(r.insurance_id, "A123456780");
        assert_eq!(r.birth_date_string(), "19640812");
        assert_eq!(r.sex_code(), "f");
        assert_eq!(format!("{r:?}"), "Record(<redacted>)");
        assert_eq!(
            split_house_number("Hauptstraße 12a"),
            ("Hauptstraße", "12a")
        );
    }

    /// The binary form keeps every compared field (not the id), distinguishes
    /// missing from zero, and refuses truncated, padded or foreign bytes.
    #[test]
    fn binary_form_round_trips_and_refuses_damage() {
        let long = "x".repeat(300);
        let full = Record {
            id: "dropped".into(),
            given: "annemarie".into(),
            family: long.clone(),
            birth_name: "gross".into(),
            birth_day: Some(0),
            birth_month: Some(12),
            birth_year: Some(1964),
            sex: Some(Sex::Other),
            house_number: "12a".into(),
            street: "hauptstrasse".into(),
            postal_code: "50667".into(),
            city: "koeln".into(),
            insurance_id: "A123456780".into(),
        };
        let sparse = Record {
            given: "jörg".into(),
            ..Record::default()
        };
        // One record read into again and again, as the trust centre does:
        // nothing of the one before may remain.
        let mut reused = full.clone();
        for r in [full, sparse, Record::default()] {
            let bytes = r.to_bytes();
            let back = Record::from_bytes(&bytes).expect("round trip");
            assert!(reused.read_bytes(&bytes));
            assert_eq!(reused, back, "read into a record that held another");
            assert_eq!(
                back,
                Record {
                    id: String::new(),
                    ..r.clone()
                }
            );
            for cut in 0..bytes.len() {
                assert_eq!(Record::from_bytes(&bytes[..cut]), None, "cut at {cut}");
            }
            let mut padded = bytes.clone();
            padded.push(0);
            assert_eq!(Record::from_bytes(&padded), None);
            let mut other = bytes;
            other[0] = 2;
            assert_eq!(Record::from_bytes(&other), None);
        }
        assert_ne!(
            Record::from_bytes(&Record::default().to_bytes()),
            Record::from_bytes(
                &Record {
                    birth_day: Some(0),
                    ..Record::default()
                }
                .to_bytes()
            )
        );
    }
}
