//! PS3.15 Table E.1-1 and its options: which action applies to an attribute.
//!
//! The table is vendored data (`profile/`, see its README), parsed once. The
//! code relies on nothing but its columns: a newer table changes behaviour
//! without code changes, and the tests below check the rows the rest of the
//! crate depends on.

use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

/// An action code of the Basic Profile column (PS3.15 E.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasicAction {
    /// D: replace with a non-zero-length dummy consistent with the VR.
    Dummy,
    /// Z: replace with a zero-length value (or a dummy).
    Empty,
    /// X: remove.
    Remove,
    /// K: keep (sequences are cleaned inside).
    Keep,
    /// C: clean (replace identifying content, keep meaning).
    Clean,
    /// U: replace the UID with one that is consistent within the set.
    Uid,
    /// X/Z, X/D, X/Z/D, Z/D: remove or empty or dummy, whichever the IOD
    /// needs; applied as the most conformant of those listed (D before Z
    /// before X), because the object's IOD type is not known here and a
    /// dummy or empty value discloses nothing.
    Either {
        /// Z is among the choices.
        empty: bool,
        /// D is among the choices.
        dummy: bool,
    },
    /// X/Z/U*: a sequence of references that is kept with its UIDs replaced.
    ReferencesWithUids,
}

/// The options of PS3.15 E.3 that OncoFed implements, with their CID 7050 codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProfileOption {
    /// Retain Safe Private (113111): private attributes on the safe list are kept.
    RetainSafePrivate,
    /// Retain UIDs (113110).
    RetainUids,
    /// Retain Device Identity (113109).
    RetainDeviceIdentity,
    /// Retain Institution Identity (113112).
    RetainInstitutionIdentity,
    /// Retain Patient Characteristics (113108): sex, age, size, weight…
    RetainPatientCharacteristics,
    /// Retain Longitudinal Temporal Information, Full Dates (113106).
    RetainLongitudinalFullDates,
    /// Retain Longitudinal Temporal Information with Modified Dates (113107):
    /// dates shifted by one offset per person.
    RetainLongitudinalModifiedDates,
    /// Clean Descriptors (113105): free text kept with identifying content removed.
    CleanDescriptors,
    /// Clean Pixel Data (113101): burned-in text regions blanked.
    CleanPixelData,
}

impl ProfileOption {
    /// The option's code in CID 7050 (coding scheme DCM) and its meaning, for
    /// De-identification Method Code Sequence (0012,0064).
    pub fn code(self) -> (&'static str, &'static str) {
        match self {
            Self::RetainSafePrivate => ("113111", "Retain Safe Private Option"),
            Self::RetainUids => ("113110", "Retain UIDs Option"),
            Self::RetainDeviceIdentity => ("113109", "Retain Device Identity Option"),
            Self::RetainInstitutionIdentity => ("113112", "Retain Institution Identity Option"),
            Self::RetainPatientCharacteristics => {
                ("113108", "Retain Patient Characteristics Option")
            }
            Self::RetainLongitudinalFullDates => (
                "113106",
                "Retain Longitudinal Temporal Information Full Dates Option",
            ),
            Self::RetainLongitudinalModifiedDates => (
                "113107",
                "Retain Longitudinal Temporal Information Modified Dates Option",
            ),
            Self::CleanDescriptors => ("113105", "Clean Descriptors Option"),
            Self::CleanPixelData => ("113101", "Clean Pixel Data Option"),
        }
    }

    /// The table column of this option, if it has one (Clean Pixel Data acts
    /// on pixels, not on attributes).
    fn column(self) -> Option<&'static str> {
        Some(match self {
            Self::RetainSafePrivate => "rtnSafePrivOpt",
            Self::RetainUids => "rtnUIDsOpt",
            Self::RetainDeviceIdentity => "rtnDevIdOpt",
            Self::RetainInstitutionIdentity => "rtnInstIdOpt",
            Self::RetainPatientCharacteristics => "rtnPatCharsOpt",
            Self::RetainLongitudinalFullDates => "rtnLongFullDatesOpt",
            Self::RetainLongitudinalModifiedDates => "rtnLongModifDatesOpt",
            Self::CleanDescriptors => "cleanDescOpt",
            Self::CleanPixelData => return None,
        })
    }
}

/// The code of the Basic Profile itself in CID 7050.
pub const BASIC_PROFILE_CODE: (&str, &str) =
    ("113100", "Basic Application Confidentiality Profile");

/// What is done to one attribute once the options are taken into account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The Basic Profile's action.
    Basic(BasicAction),
    /// An option says keep (K).
    Keep,
    /// An option says clean (C); which cleaning depends on the option.
    Clean(ProfileOption),
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The attribute's name as the table spells it.
    pub name: String,
    /// The Basic Profile action.
    pub basic: BasicAction,
    /// Per option column present in the row: `true` for C, `false` for K.
    options: Vec<(ProfileOption, bool)>,
}

impl Rule {
    /// The action under `options`: a C of any applied option wins (cleaning
    /// is never weaker than keeping), then a K, then the Basic Profile.
    pub fn action(&self, options: &BTreeSet<ProfileOption>) -> Action {
        let applied = self.options.iter().filter(|(o, _)| options.contains(o));
        let mut keep = false;
        for (option, clean) in applied {
            if *clean {
                return Action::Clean(*option);
            }
            keep = true;
        }
        if keep {
            Action::Keep
        } else {
            Action::Basic(self.basic)
        }
    }
}

/// Table E.1-1, indexed.
#[derive(Debug)]
pub struct ProfileTable {
    exact: HashMap<u32, Rule>,
    /// Repeating groups (`50xx`, `60xx`): (mask, value, rule).
    repeating: Vec<(u32, u32, Rule)>,
    private: Rule,
}

#[derive(Deserialize)]
struct Row {
    name: String,
    id: String,
    #[serde(rename = "basicProfile")]
    basic: String,
    #[serde(flatten)]
    columns: HashMap<String, String>,
}

const OPTIONS: [ProfileOption; 9] = [
    ProfileOption::RetainSafePrivate,
    ProfileOption::RetainUids,
    ProfileOption::RetainDeviceIdentity,
    ProfileOption::RetainInstitutionIdentity,
    ProfileOption::RetainPatientCharacteristics,
    ProfileOption::RetainLongitudinalFullDates,
    ProfileOption::RetainLongitudinalModifiedDates,
    ProfileOption::CleanDescriptors,
    ProfileOption::CleanPixelData,
];

fn basic_action(code: &str) -> Option<BasicAction> {
    Some(match code {
        "D" => BasicAction::Dummy,
        "Z" => BasicAction::Empty,
        "X" => BasicAction::Remove,
        "K" => BasicAction::Keep,
        "C" => BasicAction::Clean,
        "U" => BasicAction::Uid,
        "X/Z/U*" => BasicAction::ReferencesWithUids,
        combined => {
            let parts: Vec<&str> = combined.split('/').collect();
            if parts.len() < 2 || parts.iter().any(|p| !matches!(*p, "X" | "Z" | "D")) {
                return None;
            }
            BasicAction::Either {
                empty: parts.contains(&"Z"),
                dummy: parts.contains(&"D"),
            }
        }
    })
}

impl ProfileTable {
    fn parse(json: &str) -> Result<Self, String> {
        let rows: Vec<Row> = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let mut table = Self {
            exact: HashMap::new(),
            repeating: Vec::new(),
            private: Rule {
                name: String::new(),
                basic: BasicAction::Remove,
                options: Vec::new(),
            },
        };
        for row in rows {
            let basic = basic_action(&row.basic)
                .ok_or_else(|| format!("{}: unknown action {:?}", row.name, row.basic))?;
            let mut options = Vec::new();
            for option in OPTIONS {
                if let Some(code) = option.column().and_then(|c| row.columns.get(c)) {
                    let clean = match code.as_str() {
                        "C" => true,
                        "K" => false,
                        other => return Err(format!("{}: option code {other:?}", row.name)),
                    };
                    options.push((option, clean));
                }
            }
            let rule = Rule {
                name: row.name,
                basic,
                options,
            };
            if row.id.starts_with("gggg") {
                table.private = rule;
            } else if let Ok(tag) = u32::from_str_radix(&row.id, 16) {
                table.exact.insert(tag, rule);
            } else {
                // `50xxxxxx`, `60xx3000`: x is a wildcard nibble.
                let (mut mask, mut value) = (0u32, 0u32);
                for c in row.id.chars() {
                    let nibble = c.to_digit(16);
                    mask = (mask << 4) | if nibble.is_some() { 0xF } else { 0 };
                    value = (value << 4) | nibble.unwrap_or(0);
                }
                if row.id.len() != 8 {
                    return Err(format!("{}: unreadable tag {:?}", rule.name, row.id));
                }
                table.repeating.push((mask, value, rule));
            }
        }
        Ok(table)
    }

    /// The rule for a standard (even-group) attribute `tag`, if the table
    /// lists it; attributes it does not list are retained (PS3.15 E.1.1).
    pub fn rule(&self, tag: u32) -> Option<&Rule> {
        self.exact.get(&tag).or_else(|| {
            self.repeating
                .iter()
                .find(|(mask, value, _)| tag & mask == *value)
                .map(|(_, _, rule)| rule)
        })
    }

    /// The rule for private attributes (odd groups).
    pub fn private_rule(&self) -> &Rule {
        &self.private
    }

    /// How many rows the table has (for reports and tests).
    pub fn len(&self) -> usize {
        self.exact.len() + self.repeating.len() + 1
    }

    /// Whether the table is empty (never, once parsed).
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The vendored table, parsed on first use.
pub fn table() -> &'static ProfileTable {
    static TABLE: OnceLock<ProfileTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        ProfileTable::parse(include_str!(
            "../profile/confidentiality_profile_attributes.json"
        ))
        .expect("the vendored PS3.15 table parses (checked by the crate's tests)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(o: &[ProfileOption]) -> BTreeSet<ProfileOption> {
        o.iter().copied().collect()
    }

    #[test]
    fn the_vendored_table_parses_with_the_rows_the_code_relies_on() {
        let t = table();
        assert_eq!(t.len(), 621);
        let action = |tag: u32, o: &[ProfileOption]| t.rule(tag).unwrap().action(&opts(o));
        // Patient's Name Z, Patient ID Z/D, Study Date Z / C with modified dates.
        assert_eq!(action(0x0010_0010, &[]), Action::Basic(BasicAction::Empty));
        assert_eq!(
            action(0x0010_0020, &[]),
            Action::Basic(BasicAction::Either {
                empty: true,
                dummy: true
            })
        );
        assert_eq!(
            action(
                0x0008_0020,
                &[ProfileOption::RetainLongitudinalModifiedDates]
            ),
            Action::Clean(ProfileOption::RetainLongitudinalModifiedDates)
        );
        assert_eq!(
            action(0x0008_0020, &[ProfileOption::RetainLongitudinalFullDates]),
            Action::Keep
        );
        assert_eq!(action(0x0008_0018, &[]), Action::Basic(BasicAction::Uid));
        assert_eq!(action(0x0010_1002, &[]), Action::Basic(BasicAction::Remove));
        assert_eq!(
            action(0x0008_1140, &[]),
            Action::Basic(BasicAction::ReferencesWithUids)
        );
        assert_eq!(
            action(0x0010_0040, &[ProfileOption::RetainPatientCharacteristics]),
            Action::Keep
        );
        assert_eq!(
            action(0x0008_103E, &[ProfileOption::CleanDescriptors]),
            Action::Clean(ProfileOption::CleanDescriptors)
        );
        // Overlay data in any 60xx group, curves in any 50xx group.
        assert_eq!(action(0x6002_3000, &[]), Action::Basic(BasicAction::Remove));
        assert_eq!(action(0x5010_0001, &[]), Action::Basic(BasicAction::Remove));
        // Pixel Data is not listed: retained.
        assert!(t.rule(0x7FE0_0010).is_none());
        assert_eq!(
            t.private_rule().action(&opts(&[])),
            Action::Basic(BasicAction::Remove)
        );
    }

    #[test]
    fn a_malformed_table_is_refused() {
        assert!(
            ProfileTable::parse(r#"[{"name":"a","id":"00100010","basicProfile":"Q"}]"#).is_err()
        );
        assert!(
            ProfileTable::parse(
                r#"[{"name":"a","id":"00100010","basicProfile":"X","cleanDescOpt":"Y"}]"#
            )
            .is_err()
        );
        assert!(ProfileTable::parse(r#"[{"name":"a","id":"60xx","basicProfile":"X"}]"#).is_err());
    }
}
