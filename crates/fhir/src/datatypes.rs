//! The FHIR R4 data types the mapped elements use (R4 §2.24: `Coding`, `CodeableConcept`,
//! `Quantity`, `Reference`, `Period`, `Identifier`, `HumanName`, `Address`) as borrowed
//! serde structs, and the `date` / `dateTime` primitives (R4 §2.24.0.1).
//!
//! Only the elements OncoFed maps are declared; serde skips every other element, so
//! extensions, narrative and identifiers of other systems are never copied.

use crate::error::{FieldError, MapErrorKind};
use chrono::NaiveDate;
use oncofed_model::{CodeSystem, FactValue};
use serde::de::{Deserializer, Visitor};
use serde::{Deserialize, de};
use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

/// A JSON string borrowed from the input when it has no escapes, owned otherwise.
///
/// `Option<Cow<str>>` always deserializes owned; this wrapper borrows inside
/// `Option` and `Vec` too, which keeps parsing allocation-light.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Text<'a>(pub Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The text of an optional string element, `None` when absent or blank.
pub(crate) fn text<'s>(t: &'s Option<Text<'_>>) -> Option<&'s str> {
    t.as_deref().filter(|s| !s.trim().is_empty())
}

/// The code system a FHIR `Coding.system` names, if the harmonised model accepts
/// it from FHIR: the DICOM systems (`dcm`, `dicom-body-part`, `dicom-attribute`)
/// are not, since only the node's DICOM ingest writes imaging facts
/// ([`CodeSystem::accepted_from_fhir`]).
pub(crate) fn fhir_system(t: &Option<Text<'_>>) -> Option<CodeSystem> {
    text(t)
        .and_then(CodeSystem::from_uri)
        .filter(|s| s.accepted_from_fhir())
}

/// FHIR `Coding` (R4 §2.24.0.5): `system` and `code`; `display` and `version` are ignored.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Coding<'a> {
    #[serde(borrow, default)]
    pub system: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub code: Option<Text<'a>>,
}

/// FHIR `CodeableConcept` (R4 §2.24.0.6): only `coding`; `text` is free text and ignored.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CodeableConcept<'a> {
    #[serde(borrow, default)]
    pub coding: Vec<Coding<'a>>,
}

impl CodeableConcept<'_> {
    /// Whether any coding is `system#code`.
    pub fn has(&self, system: CodeSystem, code: &str) -> bool {
        self.coding
            .iter()
            .any(|c| text(&c.code) == Some(code) && fhir_system(&c.system) == Some(system))
    }
}

/// FHIR `Quantity` (R4 §2.24.0.9): `value`, UCUM `code`, human `unit`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Quantity<'a> {
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(borrow, default)]
    pub unit: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub code: Option<Text<'a>>,
}

/// FHIR `Reference` (R4 §2.3.0): only the literal `reference`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Reference<'a> {
    #[serde(borrow, default)]
    pub reference: Option<Text<'a>>,
}

/// FHIR `Period` (R4 §2.24.0.11).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Period<'a> {
    #[serde(borrow, default)]
    pub start: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub end: Option<Text<'a>>,
}

/// FHIR `Identifier` (R4 §2.24.0.12): `system` and `value`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Identifier<'a> {
    #[serde(borrow, default)]
    pub system: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub value: Option<Text<'a>>,
}

/// FHIR `HumanName` (R4 §2.24.0.13): `use`, `family`, `given`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct HumanName<'a> {
    #[serde(borrow, default, rename = "use")]
    pub use_: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub family: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub given: Vec<Text<'a>>,
}

/// FHIR `Address` (R4 §2.24.0.15): `use`, `line`, `postalCode`, `city`, `country`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Address<'a> {
    #[serde(borrow, default, rename = "use")]
    pub use_: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub line: Vec<Text<'a>>,
    #[serde(borrow, default, rename = "postalCode")]
    pub postal_code: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub city: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub country: Option<Text<'a>>,
}

/// How much of a FHIR date was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precision {
    /// `YYYY`
    Year,
    /// `YYYY-MM`
    Month,
    /// `YYYY-MM-DD` or a dateTime
    Day,
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
}

/// Parses a FHIR `date`, `dateTime` or `instant` (R4 §2.24.0.1) into the calendar
/// date as written, ignoring the time and time zone: `2024-03-01T23:30:00-05:00` is
/// 1 March (the local date of the event, which is what clinical dates mean).
///
/// Partial dates give the first day of the year or month, with their [`Precision`].
/// A time without a zone is accepted (FHIR requires one; being lenient here loses nothing).
pub(crate) fn parse_date(s: &str) -> Option<(NaiveDate, Precision)> {
    let b = s.as_bytes();
    let year = i32::try_from(digits(b.get(0..4)?)?)
        .ok()
        .filter(|y| *y > 0)?;
    if b.len() == 4 {
        return NaiveDate::from_ymd_opt(year, 1, 1).map(|d| (d, Precision::Year));
    }
    if b[4] != b'-' || b.len() < 7 {
        return None;
    }
    let month = digits(&b[5..7])?;
    if b.len() == 7 {
        return NaiveDate::from_ymd_opt(year, month, 1).map(|d| (d, Precision::Month));
    }
    if b[7] != b'-' || b.len() < 10 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year, month, digits(&b[8..10])?)?;
    if b.len() == 10 {
        return Some((date, Precision::Day));
    }
    valid_time(&b[10..]).then_some((date, Precision::Day))
}

/// `Thh:mm:ss(.fff)?(Z|(+|-)hh:mm)?`
fn valid_time(b: &[u8]) -> bool {
    let ok = b.len() >= 9
        && b[0] == b'T'
        && b[3] == b':'
        && b[6] == b':'
        && digits(&b[1..3]).is_some_and(|h| h < 24)
        && digits(&b[4..6]).is_some_and(|m| m < 60)
        && digits(&b[7..9]).is_some_and(|s| s <= 60);
    if !ok {
        return false;
    }
    let mut rest = &b[9..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            digits(&[*h1, *h2]).is_some_and(|h| h <= 14)
                && digits(&[*m1, *m2]).is_some_and(|m| m < 60)
        }
        _ => false,
    }
}

/// Parses an optional date element; an unparsable one is an error on `field`.
pub(crate) fn date(t: &Option<Text<'_>>, field: &str) -> Result<Option<NaiveDate>, FieldError> {
    date_with_precision(t, field).map(|d| d.map(|(d, _)| d))
}

/// Like [`date`], keeping the precision.
pub(crate) fn date_with_precision(
    t: &Option<Text<'_>>,
    field: &str,
) -> Result<Option<(NaiveDate, Precision)>, FieldError> {
    match t.as_deref() {
        None => Ok(None),
        Some(s) => parse_date(s)
            .map(Some)
            .ok_or_else(|| FieldError::new(field, MapErrorKind::InvalidDate)),
    }
}

/// Picks the coding to map from a `CodeableConcept`: the first coding of the
/// first system in `accepted` (a preference order) that occurs.
///
/// Errors: the concept is absent ([`MapErrorKind::Missing`]), has no coding, or none
/// of its codings is in an accepted system ([`MapErrorKind::WrongCodeSystem`],
/// naming the systems found), or the chosen coding has no code.
pub(crate) fn pick_coding(
    cc: Option<&CodeableConcept<'_>>,
    field: &str,
    accepted: &'static [CodeSystem],
    hint: &'static str,
) -> Result<oncofed_model::Coding, FieldError> {
    let cc = cc.ok_or_else(|| FieldError::new(field, MapErrorKind::Missing { hint }))?;
    for &want in accepted {
        for (i, c) in cc.coding.iter().enumerate() {
            if fhir_system(&c.system) == Some(want) {
                let code = text(&c.code).ok_or_else(|| {
                    FieldError::new(
                        format!("{field}.coding[{i}].code"),
                        MapErrorKind::MissingCode,
                    )
                })?;
                return Ok(oncofed_model::Coding::new(want, code.trim()));
            }
        }
    }
    let found: Vec<String> = cc
        .coding
        .iter()
        .map(|c| text(&c.system).map_or_else(|| "(no system)".to_owned(), crate::error::clip))
        .collect();
    let kind = if found.is_empty() {
        MapErrorKind::NoCoding { accepted }
    } else {
        MapErrorKind::WrongCodeSystem { found, accepted }
    };
    Err(FieldError::new(format!("{field}.coding"), kind))
}

/// Maps a `Quantity` (`valueQuantity`) to a fact value: a numeric `value` and a UCUM
/// `code` are required; when `code` is absent the human `unit` is used.
pub(crate) fn quantity(q: &Quantity<'_>, field: &str) -> Result<FactValue, FieldError> {
    let value = q
        .value
        .ok_or_else(|| FieldError::new(format!("{field}.value"), MapErrorKind::MissingValue))?;
    let unit = text(&q.code)
        .or_else(|| text(&q.unit))
        .ok_or_else(|| FieldError::new(format!("{field}.code"), MapErrorKind::MissingUnit))?;
    Ok(FactValue::Quantity {
        value,
        unit: unit.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn dicom_code_systems_are_not_accepted_from_fhir() {
        let cc: CodeableConcept<'_> = serde_json::from_str(
            r#"{"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"},
                           {"system": "http://dicom.nema.org/medical/dicom/current/output/chtml/part06/chapter_6.html",
                            "code": "Manufacturer"}]}"#,
        )
        .unwrap();
        assert!(!cc.has(CodeSystem::Dcm, "CT"));
        assert!(pick_coding(Some(&cc), "code", &CodeSystem::ALL, "").is_err());
        let loinc: CodeableConcept<'_> = serde_json::from_str(
            r#"{"coding": [{"system": "http://loinc.org", "code": "718-7"}]}"#,
        )
        .unwrap();
        assert!(loinc.has(CodeSystem::Loinc, "718-7"));
    }

    #[test]
    fn fhir_dates() {
        assert_eq!(parse_date("2024"), Some((d(2024, 1, 1), Precision::Year)));
        assert_eq!(
            parse_date("2024-02"),
            Some((d(2024, 2, 1), Precision::Month))
        );
        assert_eq!(
            parse_date("2024-02-29"),
            Some((d(2024, 2, 29), Precision::Day))
        );
        assert_eq!(
            parse_date("1976-01-19T22:58:16-05:00").map(|x| x.0),
            Some(d(1976, 1, 19))
        );
        assert_eq!(
            parse_date("2020-01-01T00:00:00Z").map(|x| x.0),
            Some(d(2020, 1, 1))
        );
        assert_eq!(
            parse_date("2020-01-01T00:00:00.123+14:00").map(|x| x.0),
            Some(d(2020, 1, 1))
        );
        assert_eq!(
            parse_date("2020-01-01T10:00:00").map(|x| x.0),
            Some(d(2020, 1, 1))
        );
        for bad in [
            "",
            "20",
            "2023-02-29",
            "2024-13",
            "2024-00-10",
            "0000",
            "24-01-01",
            "2024-1-1",
            "2024-01-01T",
            "2024-01-01T25:00:00Z",
            "2024-01-01T10:00Z",
            "2024-01-01T10:00:00+15:00",
            "2024-01-01T10:00:00.Z",
            "2024-01-01 10:00:00",
            "2024/01/01",
            "２０２４",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
