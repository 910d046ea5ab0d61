//! Length bounds of every IDAT field, shared by the FHIR parser (which refuses
//! a Patient over them, naming the element) and the trust centre (which refuses
//! the record, alone, in a batch).
//!
//! Why bounds at all: linkage compares names with Jaro–Winkler, whose cost grows
//! with the product of the two lengths; two 100,000-character names with one
//! blocking key took 19 s at the trust centre and held its single writer, so
//! every other site's request waited (issue 9, defect 4). Real identifying data
//! is short, so a generous bound costs nothing.
//!
//! The bounds, in characters (Unicode scalar values), with their reason:
//!
//! | field | bound | why |
//! |---|---|---|
//! | each given name, family name, birth name | 200 | the eGK (§ 291a SGB V) stores names in 45 characters; 200 leaves room for compound names, prefixes and transliteration |
//! | given names | 16 | more than anyone registers; FHIR `HumanName.given` repeats |
//! | each address line | 200 | street, house number and addition fit in 46 + 9 characters on the eGK |
//! | address lines | 8 | FHIR `Address.line` repeats; German addresses use one or two |
//! | postal code | 16 | German PLZ are 5 digits; the longest international codes have 10 characters |
//! | city | 200 | the longest German place names have about 60 characters |
//! | country | 64 | ISO 3166 codes, or a country name |
//!
//! The insurance number is validated by [`crate::Kvnr`] (10 characters), the
//! birth date and sex are typed. Errors name the field and its bound, never the value.

use crate::IdentifyingData;
use std::fmt;

/// Longest given name, family name or birth name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most given names in one record.
pub const MAX_GIVEN_NAMES: usize = 16;
/// Longest address line, in characters.
pub const MAX_ADDRESS_LINE_CHARS: usize = 200;
/// Most address lines in one address.
pub const MAX_ADDRESS_LINES: usize = 8;
/// Longest postal code, in characters.
pub const MAX_POSTAL_CODE_CHARS: usize = 16;
/// Longest city name, in characters.
pub const MAX_CITY_CHARS: usize = 200;
/// Longest country, in characters.
pub const MAX_COUNTRY_CHARS: usize = 64;

/// A bounded IDAT field: what a caller checks a value against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BoundedField {
    /// One given name.
    Given,
    /// The family name.
    Family,
    /// The birth name.
    BirthName,
    /// One address line.
    AddressLine,
    /// The postal code.
    PostalCode,
    /// The city.
    City,
    /// The country.
    Country,
}

impl BoundedField {
    /// The most characters a value of this field may have.
    pub const fn max_chars(self) -> usize {
        match self {
            Self::Given | Self::Family | Self::BirthName => MAX_NAME_CHARS,
            Self::AddressLine => MAX_ADDRESS_LINE_CHARS,
            Self::PostalCode => MAX_POSTAL_CODE_CHARS,
            Self::City => MAX_CITY_CHARS,
            Self::Country => MAX_COUNTRY_CHARS,
        }
    }

    /// A human name of the field for error texts.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Given => "a given name",
            Self::Family => "the family name",
            Self::BirthName => "the birth name",
            Self::AddressLine => "an address line",
            Self::PostalCode => "the postal code",
            Self::City => "the city",
            Self::Country => "the country",
        }
    }

    /// Checks one value; the cost is bounded by the limit, not by the value's length.
    pub fn check(self, value: &str) -> Result<(), BoundError> {
        let max = self.max_chars();
        // Fewer bytes than the bound means fewer characters too; otherwise count
        // at most `max + 1` characters.
        if value.len() <= max || value.chars().nth(max).is_none() {
            Ok(())
        } else {
            Err(BoundError::TooLong { field: self, max })
        }
    }
}

/// A repeated IDAT element with a bound on its count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BoundedList {
    /// Given names ([`MAX_GIVEN_NAMES`]).
    GivenNames,
    /// Address lines ([`MAX_ADDRESS_LINES`]).
    AddressLines,
}

impl BoundedList {
    /// The most entries allowed.
    pub const fn max_len(self) -> usize {
        match self {
            Self::GivenNames => MAX_GIVEN_NAMES,
            Self::AddressLines => MAX_ADDRESS_LINES,
        }
    }

    /// Checks the number of entries.
    pub fn check(self, len: usize) -> Result<(), BoundError> {
        let max = self.max_len();
        if len <= max {
            Ok(())
        } else {
            Err(BoundError::TooMany { list: self, max })
        }
    }
}

/// A value or a list over its bound. Never holds the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BoundError {
    /// A value is longer than its field allows.
    #[error("{} is longer than {max} characters", field.label())]
    TooLong {
        /// The field.
        field: BoundedField,
        /// Its bound.
        max: usize,
    },
    /// A repeated element has too many entries.
    #[error("more than {max} {}", match list { BoundedList::GivenNames => "given names", BoundedList::AddressLines => "address lines" })]
    TooMany {
        /// The element.
        list: BoundedList,
        /// Its bound.
        max: usize,
    },
}

/// A [`BoundError`] with the path of the element in [`IdentifyingData`]'s JSON
/// form (`given[2]`, `address.lines[0]`, `family`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldBoundError {
    /// Path of the element, e.g. `given[2]`.
    pub path: String,
    /// What is wrong.
    pub error: BoundError,
}

impl fmt::Display for FieldBoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.error)
    }
}

impl std::error::Error for FieldBoundError {}

impl IdentifyingData {
    /// Checks every field against its bound (see [`crate::bounds`]); the first
    /// violation, with its path. Cost is bounded by the limits, whatever the input.
    pub fn check_bounds(&self) -> Result<(), FieldBoundError> {
        let at = |path: String| move |error| FieldBoundError { path, error };
        BoundedList::GivenNames
            .check(self.given.len())
            .map_err(at("given".into()))?;
        for (i, g) in self.given.iter().enumerate() {
            BoundedField::Given
                .check(g)
                .map_err(at(format!("given[{i}]")))?;
        }
        let optional = [
            (BoundedField::Family, &self.family, "family"),
            (BoundedField::BirthName, &self.birth_name, "birth_name"),
        ];
        for (field, value, path) in optional {
            if let Some(v) = value {
                field.check(v).map_err(at(path.into()))?;
            }
        }
        if let Some(a) = &self.address {
            BoundedList::AddressLines
                .check(a.lines.len())
                .map_err(at("address.lines".into()))?;
            for (i, l) in a.lines.iter().enumerate() {
                BoundedField::AddressLine
                    .check(l)
                    .map_err(at(format!("address.lines[{i}]")))?;
            }
            let parts = [
                (
                    BoundedField::PostalCode,
                    &a.postal_code,
                    "address.postal_code",
                ),
                (BoundedField::City, &a.city, "address.city"),
                (BoundedField::Country, &a.country, "address.country"),
            ];
            for (field, value, path) in parts {
                if let Some(v) = value {
                    field.check(v).map_err(at(path.into()))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Address;
    use oncofed_model::Sex;

    fn idat() -> IdentifyingData {
        IdentifyingData {
            given: vec!["Erika".into()],
            family: Some("Mustermann".into()),
            birth_name: None,
            birth_date: None,
            sex: Sex::Female,
            address: Some(Address {
                lines: vec!["Hauptstraße 5".into()],
                postal_code: Some("50667".into()),
                city: Some("Köln".into()),
                country: Some("DE".into()),
            }),
            kvnr: None,
        }
    }

    #[test]
    fn values_at_the_bound_pass_one_more_fails() {
        assert!(idat().check_bounds().is_ok());
        // Characters, not bytes: 200 umlauts are 400 bytes and still fine.
        let mut ok = idat();
        ok.family = Some("ü".repeat(MAX_NAME_CHARS));
        ok.given = vec!["a".repeat(MAX_NAME_CHARS); MAX_GIVEN_NAMES];
        assert!(ok.check_bounds().is_ok());
        let mut long = idat();
        long.family = Some("ü".repeat(MAX_NAME_CHARS + 1));
        let e = long.check_bounds().unwrap_err();
        assert_eq!(e.path, "family");
        assert_eq!(
            e.error,
            BoundError::TooLong {
                field: BoundedField::Family,
                max: 200
            }
        );
        assert_eq!(
            e.to_string(),
            "family: the family name is longer than 200 characters"
        );
        let mut many = idat();
        many.given = vec!["Anna".into(); MAX_GIVEN_NAMES + 1];
        assert_eq!(many.check_bounds().unwrap_err().path, "given");
        let mut line = idat();
        line.address.as_mut().unwrap().lines = vec!["x".into(), "y".repeat(100_000)];
        let e = line.check_bounds().unwrap_err();
        assert_eq!(e.path, "address.lines[1]");
        assert!(!e.to_string().contains("yyy"));
        let mut plz = idat();
        plz.address.as_mut().unwrap().postal_code = Some("1".repeat(17));
        assert_eq!(plz.check_bounds().unwrap_err().path, "address.postal_code");
        let mut birth = idat();
        birth.birth_name = Some("b".repeat(201));
        assert_eq!(birth.check_bounds().unwrap_err().path, "birth_name");
    }
}
