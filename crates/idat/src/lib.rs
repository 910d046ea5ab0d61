//! Identifying data (IDAT): names, birth dates, addresses, insurance numbers.
//!
//! In the data-trustee model (R5) identifying data travels from a site's source
//! system to the trust centre and nowhere else. This crate is its only home:
//!
//! - `oncofed-fhir` extracts an [`IdentifyingData`] from a FHIR Patient;
//! - a site node hands it to the trust centre through `oncofed-trustee-api` and drops it;
//! - the trust centre (`oncofed-trustee`) normalises and links it.
//!
//! Architecture invariant: `oncofed-store` and `oncofed-model` do not depend on this
//! crate (checked by `crates/cli/tests/architecture.rs`), so no IDAT type can be
//! written into a research store. `Debug` of every type here is redacted, so IDAT
//! cannot leak into logs by accident.
//!
//! Every field has a length bound ([`bounds`]), one definition for the FHIR
//! parser and the trust centre, so that no input can make linkage slow.

pub mod bounds;
mod kvnr;
mod normalise;

pub use bounds::{BoundError, BoundedField, BoundedList, FieldBoundError};
pub use kvnr::{Kvnr, KvnrError};
pub use normalise::{normalise_name, normalise_text};

use chrono::NaiveDate;
use oncofed_model::Sex;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A postal address (FHIR `Address`, German usage).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Address {
    /// Street and house number lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    /// Postal code (PLZ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Country (ISO 3166 alpha-2 where known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Address(<redacted>)")
    }
}

/// The identifying data of one patient as one site knows it.
///
/// Sites differ in what they hold and how they spell it (typos, changed surnames,
/// swapped day and month), which is why linkage happens at the trust centre.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentifyingData {
    /// Given names, in order.
    #[serde(default)]
    pub given: Vec<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Birth name (Geburtsname), when the family name changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_name: Option<String>,
    /// Full birth date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    /// Administrative sex.
    pub sex: Sex,
    /// Home address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Statutory health-insurance number (unchangeable 10-character part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kvnr: Option<Kvnr>,
}

impl IdentifyingData {
    /// Every free-text string this record holds (names, address parts, the
    /// insurance number, the birth date as `YYYY-MM-DD`): what a leak scan looks for.
    pub fn sensitive_strings(&self) -> Vec<String> {
        let mut out: Vec<String> = self.given.clone();
        out.extend(self.family.iter().cloned());
        out.extend(self.birth_name.iter().cloned());
        if let Some(d) = self.birth_date {
            out.push(d.format("%Y-%m-%d").to_string());
        }
        if let Some(a) = &self.address {
            out.extend(a.lines.iter().cloned());
            out.extend(a.postal_code.iter().cloned());
            out.extend(a.city.iter().cloned());
        }
        out.extend(self.kvnr.iter().map(|k| k.as_str().to_owned()));
        out
    }
}

impl fmt::Debug for IdentifyingData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentifyingData(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let idat = IdentifyingData {
            given: vec!["Erika".into()],
            family: Some("Mustermann".into()),
            birth_name: None,
            birth_date: NaiveDate::from_ymd_opt(1964, 8, 12),
            sex: Sex::Female,
            address: Some(Address {
                city: Some("Köln".into()),
                ..Default::default()
            }),
            kvnr: Some(Kvnr::new("A123456780").unwrap()),
        };
        let s = format!("{idat:?} {:?}", idat.address);
        assert!(
            !s.contains("Erika")
                && !s.contains("Mustermann")
                && !s.contains("1964")
                && !s.contains("Köln")
        );
        assert!(!format!("{:?}", idat.kvnr).contains("123456"));
    }
}
