//! Plausibility checks on mapped data: pure functions the node's quality report reuses.
//!
//! Plausibility is not validation: [`crate::map_document`] keeps implausible values
//! (blasts 150 %, death before birth), because dropping them would hide a data problem
//! from the site that has to fix it. These checks flag them instead.
//!
//! Issue texts hold codes, units and measured values, never dates or identifying data.

use crate::Batch;
use oncofed_model::{CodeSystem, Coding, Demographics, Fact, FactKind, FactValue};
use std::collections::HashMap;
use std::fmt;

/// One plausibility problem.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Issue {
    /// The code does not have the form of its system (e.g. ICD-10-GM `C9.20`).
    CodeFormat {
        /// The system.
        system: CodeSystem,
        /// The code.
        code: String,
    },
    /// The code has the right form but a wrong check digit (LOINC mod 10, SNOMED CT Verhoeff).
    CheckDigit {
        /// The system.
        system: CodeSystem,
        /// The code.
        code: String,
    },
    /// A measurement outside the physiologically possible range for its LOINC code.
    OutOfRange {
        /// The LOINC code.
        loinc: String,
        /// What it measures.
        what: &'static str,
        /// The value.
        value: f64,
        /// Its unit.
        unit: String,
        /// Lowest plausible value.
        min: f64,
        /// Highest plausible value.
        max: f64,
    },
    /// A measurement whose unit is not one expected for its LOINC code.
    UnexpectedUnit {
        /// The LOINC code.
        loinc: String,
        /// What it measures.
        what: &'static str,
        /// The unit found.
        unit: String,
        /// The units expected.
        expected: String,
    },
    /// A period that ends before it starts.
    EndBeforeStart {
        /// The kind of fact.
        kind: FactKind,
    },
    /// The date of death lies before the year of birth.
    DeathBeforeBirth,
    /// A fact dated before the patient's year of birth.
    BeforeBirth {
        /// The kind of fact.
        kind: FactKind,
    },
    /// A fact dated after the patient's death (vital status observations excepted).
    AfterDeath {
        /// The kind of fact.
        kind: FactKind,
    },
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CodeFormat { system, code } => write!(
                f,
                "{system} code {code:?} does not have the form of {system} codes"
            ),
            Self::CheckDigit { system, code } => write!(
                f,
                "{system} code {code:?} has a wrong check digit (mistyped?)"
            ),
            Self::OutOfRange {
                loinc,
                what,
                value,
                unit,
                min,
                max,
            } => {
                write!(
                    f,
                    "{what} ({loinc}) {value} {unit} is outside the plausible range {min}-{max} {unit}"
                )
            }
            Self::UnexpectedUnit {
                loinc,
                what,
                unit,
                expected,
            } => {
                write!(f, "{what} ({loinc}) has unit {unit:?}; expected {expected}")
            }
            Self::EndBeforeStart { kind } => write!(f, "{} ends before it starts", kind.as_str()),
            Self::DeathBeforeBirth => f.write_str("date of death lies before the year of birth"),
            Self::BeforeBirth { kind } => {
                write!(f, "{} dated before the year of birth", kind.as_str())
            }
            Self::AfterDeath { kind } => write!(f, "{} dated after death", kind.as_str()),
        }
    }
}

/// A plausible range: (UCUM unit, min, max).
type Range = (&'static str, f64, f64);

/// Plausible ranges per LOINC code: (LOINC, what, ranges per unit).
const RANGES: &[(&str, &str, &[Range])] = &[
    ("11150-0", "blasts in bone marrow", &[("%", 0.0, 100.0)]),
    // The code docs/fhir-profile.md gives for blasts; its LOINC check digit is wrong
    // (11150-0 is right), so it is also flagged by [`code_issue`].
    ("11150-2", "blasts in bone marrow", &[("%", 0.0, 100.0)]),
    (
        "718-7",
        "haemoglobin",
        &[
            ("g/dL", 2.0, 25.0),
            ("g/L", 20.0, 250.0),
            ("mmol/L", 1.2, 15.5),
        ],
    ),
    (
        "6690-2",
        "leukocytes",
        &[("10*3/uL", 0.0, 1000.0), ("10*9/L", 0.0, 1000.0)],
    ),
    (
        "777-3",
        "platelets",
        &[("10*3/uL", 0.0, 5000.0), ("10*9/L", 0.0, 5000.0)],
    ),
    ("2532-0", "LDH", &[("U/L", 1.0, 50000.0)]),
    (
        "2160-0",
        "creatinine",
        &[("mg/dL", 0.05, 30.0), ("umol/L", 4.0, 2700.0)],
    ),
    ("1952-1", "beta-2-microglobulin", &[("mg/L", 0.0, 200.0)]),
    (
        "89247-1",
        "ECOG performance status",
        &[("1", 0.0, 4.0), ("{score}", 0.0, 4.0)],
    ),
];

/// Whether `code` has the form of `system` (and, for LOINC and SNOMED CT, its check digit).
///
/// Forms: ICD-10(-GM) `^[A-Z][0-9]{2}(\.[0-9]{1,2})?[+*!†]?$`; ICD-O-3 morphology
/// `^[89][0-9]{3}/[0-9]$` or topography `^C[0-9]{2}(\.[0-9])?$`; LOINC `^[0-9]{1,7}-[0-9]$`
/// (or answer/part codes `LA`/`LP`); OPS `^[1-9]-[0-9]{2,3}(\.[0-9a-z]{1,2})?(:[LRB])?$`;
/// ATC `^[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}$` and its level prefixes; HGNC `^HGNC:[0-9]+$`;
/// SNOMED CT 6-18 digits; RxNorm 1-9 digits; ECOG `0`-`5`; MII vital status `L`, `T`, `X`.
pub fn code_issue(c: &Coding) -> Option<Issue> {
    let code = c.code.as_str();
    let b = code.as_bytes();
    let all_digits = |b: &[u8]| !b.is_empty() && b.iter().all(u8::is_ascii_digit);
    let form = match c.system {
        CodeSystem::Icd10Gm | CodeSystem::Icd10Who => icd10(code),
        CodeSystem::IcdO3 => icd_o3(b),
        CodeSystem::Loinc => loinc_form(b),
        CodeSystem::Ops => ops(b),
        CodeSystem::Atc => {
            matches!(b.len(), 1 | 3 | 4 | 5 | 7)
                && b.iter().enumerate().all(|(i, ch)| match i {
                    0 | 3 | 4 => ch.is_ascii_uppercase(),
                    _ => ch.is_ascii_digit(),
                })
        }
        CodeSystem::Hgnc => code
            .strip_prefix("HGNC:")
            .is_some_and(|n| all_digits(n.as_bytes())),
        CodeSystem::Snomed => (6..=18).contains(&b.len()) && all_digits(b) && b[0] != b'0',
        CodeSystem::RxNorm => (1..=9).contains(&b.len()) && all_digits(b),
        CodeSystem::Ecog => matches!(b, [b'0'..=b'5']),
        CodeSystem::VitalStatus => matches!(code, "L" | "T" | "X"),
        CodeSystem::OncoCourse => matches!(
            code,
            "V" | "T" | "K" | "P" | "D" | "B" | "R" | "Y" | "U" | "X"
        ),
        CodeSystem::OncoCourseTumour => {
            matches!(code, "K" | "T" | "P" | "N" | "R" | "F" | "U" | "X")
        }
        CodeSystem::OncoCourseNodes | CodeSystem::OncoCourseMetastases => {
            matches!(code, "K" | "R" | "T" | "P" | "N" | "F" | "U" | "X")
        }
        CodeSystem::Tnm => !code.is_empty() && !code.contains(char::is_whitespace),
        // DICOM CS values (PS3.5 §6.2): up to 16 upper-case letters, digits, `_`, space.
        CodeSystem::Dcm | CodeSystem::DicomBodyPart => {
            (1..=16).contains(&b.len())
                && b.iter().all(|c| {
                    c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, b'_' | b' ')
                })
        }
        // A PS3.6 attribute keyword: letters and digits, starting with a capital.
        CodeSystem::DicomAttribute => {
            b.first().is_some_and(u8::is_ascii_uppercase) && b.iter().all(u8::is_ascii_alphanumeric)
        }
        // Kebab-case codes of the node's cell ingest (oncofed_model::CellClass).
        CodeSystem::Cytomorphology => {
            !b.is_empty() && b.iter().all(|c| c.is_ascii_lowercase() || *c == b'-')
        }
    };
    let issue = |check: bool| {
        let (system, code) = (c.system, code.to_owned());
        Some(if check {
            Issue::CheckDigit { system, code }
        } else {
            Issue::CodeFormat { system, code }
        })
    };
    if !form {
        return issue(false);
    }
    let check_ok = match c.system {
        CodeSystem::Loinc if b[0].is_ascii_digit() => luhn(b),
        CodeSystem::Snomed => verhoeff(b),
        _ => true,
    };
    if check_ok { None } else { issue(true) }
}

fn icd10(code: &str) -> bool {
    let code = code.strip_suffix(['+', '*', '!', '†']).unwrap_or(code);
    let b = code.as_bytes();
    b.len() >= 3
        && b[0].is_ascii_uppercase()
        && b[1..3].iter().all(u8::is_ascii_digit)
        && match &b[3..] {
            [] => true,
            [b'.', rest @ ..] => {
                (1..=2).contains(&rest.len()) && rest.iter().all(u8::is_ascii_digit)
            }
            _ => false,
        }
}

fn icd_o3(b: &[u8]) -> bool {
    let d = |x: &u8| x.is_ascii_digit();
    match b {
        [b'8' | b'9', m1, m2, m3, b'/', behaviour] => [m1, m2, m3, behaviour].into_iter().all(d),
        [b'C', t1, t2] => d(t1) && d(t2),
        [b'C', t1, t2, b'.', t3] => d(t1) && d(t2) && d(t3),
        _ => false,
    }
}

fn loinc_form(b: &[u8]) -> bool {
    let (max, body) = match b {
        [b'L', b'A' | b'P', rest @ ..] => (8, rest),
        _ => (7, b),
    };
    match body {
        [num @ .., b'-', check] => {
            (1..=max).contains(&num.len())
                && num.iter().all(u8::is_ascii_digit)
                && check.is_ascii_digit()
        }
        _ => false,
    }
}

/// LOINC check digit (mod 10, as Luhn) over the digits before `-`.
fn luhn(b: &[u8]) -> bool {
    let Some((check, num)) = b
        .split_last()
        .and_then(|(c, rest)| Some((c, rest.strip_suffix(b"-")?)))
    else {
        return false;
    };
    let sum: u32 = num
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let v = u32::from(d - b'0') * if i % 2 == 0 { 2 } else { 1 };
            v / 10 + v % 10
        })
        .sum();
    u32::from(check - b'0') == (10 - sum % 10) % 10
}

/// SNOMED CT check digit (Verhoeff), over ASCII digits.
fn verhoeff(b: &[u8]) -> bool {
    let digits: Vec<u8> = b.iter().map(|d| d - b'0').collect();
    oncofed_model::check_digit::verhoeff_valid(&digits)
}

fn ops(b: &[u8]) -> bool {
    let b = match b {
        [rest @ .., b':', b'L' | b'R' | b'B'] => rest,
        _ => b,
    };
    let (head, tail) = match b.iter().position(|c| *c == b'.') {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    let head_ok = matches!(head, [b'1'..=b'9', b'-', rest @ ..] if (2..=3).contains(&rest.len()) && rest.iter().all(u8::is_ascii_digit));
    let tail_ok = tail.is_none_or(|t| {
        (1..=2).contains(&t.len())
            && t.iter()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
    });
    head_ok && tail_ok
}

/// The range issue of a measured value, if its LOINC code has a known range.
pub fn value_issue(fact: &Fact) -> Option<Issue> {
    if fact.code.system != CodeSystem::Loinc {
        return None;
    }
    let (loinc, what, ranges) = RANGES.iter().find(|(l, ..)| *l == fact.code.code)?;
    let (value, unit) = match &fact.value {
        FactValue::Quantity { value, unit } => (*value, unit.as_str()),
        FactValue::Code(c) if c.system == CodeSystem::Ecog => (c.code.parse().ok()?, "1"),
        _ => return None,
    };
    let Some((_, min, max)) = ranges.iter().find(|(u, ..)| *u == unit) else {
        let expected = ranges
            .iter()
            .map(|(u, ..)| format!("{u:?}"))
            .collect::<Vec<_>>()
            .join(" or ");
        return Some(Issue::UnexpectedUnit {
            loinc: loinc.to_string(),
            what,
            unit: unit.to_owned(),
            expected,
        });
    };
    (!(*min..=*max).contains(&value)).then(|| Issue::OutOfRange {
        loinc: loinc.to_string(),
        what,
        value,
        unit: unit.to_owned(),
        min: *min,
        max: *max,
    })
}

/// Every issue of one fact: the form of its code, modifier and coded value, its value
/// range, its period, and, given the patient's demographics, its date against birth
/// year and death.
pub fn fact_issues(fact: &Fact, demographics: Option<&Demographics>) -> Vec<Issue> {
    let mut out: Vec<Issue> = [Some(&fact.code), fact.modifier.as_ref()]
        .into_iter()
        .flatten()
        .chain(match &fact.value {
            FactValue::Code(c) => Some(c),
            _ => None,
        })
        .filter_map(code_issue)
        .collect();
    out.extend(value_issue(fact));
    if matches!((fact.start, fact.end), (Some(s), Some(e)) if e < s) {
        out.push(Issue::EndBeforeStart { kind: fact.kind });
    }
    if let (Some(d), Some(start)) = (demographics, fact.start) {
        use chrono::Datelike;
        if d.birth_year.is_some_and(|y| start.year() < y) {
            out.push(Issue::BeforeBirth { kind: fact.kind });
        }
        let vital = fact.code.system == CodeSystem::Loinc && fact.code.code == "75186-7";
        if !vital && d.death_date.is_some_and(|death| start > death) {
            out.push(Issue::AfterDeath { kind: fact.kind });
        }
    }
    out
}

/// Issues of a patient's demographics alone: death before the year of birth.
pub fn patient_issues(d: &Demographics) -> Vec<Issue> {
    use chrono::Datelike;
    match (d.birth_year, d.death_date) {
        (Some(y), Some(death)) if death.year() < y => vec![Issue::DeathBeforeBirth],
        _ => Vec::new(),
    }
}

/// An [`Issue`] with what it concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The local patient id.
    pub subject: String,
    /// [`crate::SubjectFact::source_id`] of the fact, `None` for an issue of the patient.
    pub source_id: Option<String>,
    /// The issue.
    pub issue: Issue,
}

/// Every plausibility issue in a batch: of each patient and of each fact (dates are
/// checked against the patient's demographics when the Patient is in the batch).
pub fn plausibility_issues(batch: &Batch) -> Vec<Finding> {
    let by_id: HashMap<&str, &Demographics> = batch
        .patients
        .iter()
        .map(|p| (p.local_id.as_str(), &p.demographics))
        .collect();
    let mut out = Vec::new();
    for p in &batch.patients {
        for issue in patient_issues(&p.demographics) {
            out.push(Finding {
                subject: p.local_id.clone(),
                source_id: None,
                issue,
            });
        }
    }
    for f in &batch.facts {
        for issue in fact_issues(&f.fact, by_id.get(f.subject.as_str()).copied()) {
            out.push(Finding {
                subject: f.subject.clone(),
                source_id: Some(f.source_id.clone()),
                issue,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(system: CodeSystem, code: &str) -> bool {
        code_issue(&Coding::new(system, code)).is_none()
    }

    #[test]
    fn code_forms() {
        use CodeSystem::*;
        for c in [
            "C92.0", "C92.00", "C90", "E11.9+", "H36.0*", "U07.1!", "G63.2†",
        ] {
            assert!(ok(Icd10Gm, c), "{c}");
        }
        for c in ["c92.0", "C9.2", "C92.", "C92.000", "C92-0", "", "CC92"] {
            assert!(!ok(Icd10Gm, c), "{c}");
        }
        assert!(ok(IcdO3, "9861/3") && ok(IcdO3, "C42.1") && ok(IcdO3, "C77"));
        assert!(!ok(IcdO3, "7861/3") && !ok(IcdO3, "9861/") && !ok(IcdO3, "C4.1"));
        for c in [
            "718-7", "21908-9", "69548-6", "48018-6", "75186-7", "2160-0", "11150-0", "LA9633-4",
        ] {
            assert!(ok(Loinc, c), "{c}");
        }
        assert_eq!(
            code_issue(&Coding::new(Loinc, "718-8")),
            Some(Issue::CheckDigit {
                system: Loinc,
                code: "718-8".into()
            })
        );
        // docs/fhir-profile.md's blast code: the check digit of 11150 is 0.
        assert!(matches!(
            code_issue(&Coding::new(Loinc, "11150-2")),
            Some(Issue::CheckDigit { .. })
        ));
        assert!(!ok(Loinc, "718") && !ok(Loinc, "12345678-9") && !ok(Loinc, "-1"));
        for c in [
            "5-470.11",
            "8-544",
            "5-41",
            "1-424",
            "8-805.0x",
            "5-820.00:R",
        ] {
            assert!(ok(Ops, c), "{c}");
        }
        for c in ["0-470", "5470", "5-4", "5-4701", "5-470.111", "5-470.A"] {
            assert!(!ok(Ops, c), "{c}");
        }
        for c in ["L", "L01", "L01X", "L01XC", "L01XC02"] {
            assert!(ok(Atc, c), "{c}");
        }
        for c in ["L0", "L01XC0", "l01xc02", "L01XC02X", "101XC02"] {
            assert!(!ok(Atc, c), "{c}");
        }
        assert!(ok(Hgnc, "HGNC:7910") && !ok(Hgnc, "NPM1") && !ok(Hgnc, "HGNC:"));
        // SNOMED CT with Verhoeff check digits (from the Synthea sample).
        for c in [
            "91302008",
            "254637007",
            "424132000",
            "162573006",
            "254837009",
            "430193006",
        ] {
            assert!(ok(Snomed, c), "{c}");
        }
        assert!(!ok(Snomed, "91302009") && !ok(Snomed, "abc"));
        assert!(ok(Ecog, "0") && !ok(Ecog, "6") && ok(VitalStatus, "T") && !ok(VitalStatus, "D"));
    }

    fn lab(loinc: &str, value: f64, unit: &str) -> Fact {
        crate::resources::clinical_fact(
            FactKind::Observation,
            Coding::new(CodeSystem::Loinc, loinc),
            FactValue::Quantity {
                value,
                unit: unit.into(),
            },
            None,
            None,
        )
    }

    #[test]
    fn ranges() {
        assert!(value_issue(&lab("11150-2", 35.0, "%")).is_none());
        let issue = value_issue(&lab("11150-2", 150.0, "%")).unwrap();
        assert!(matches!(issue, Issue::OutOfRange { max, .. } if max == 100.0));
        assert!(issue.to_string().contains("150 %"), "{issue}");
        assert!(value_issue(&lab("718-7", 1.0, "g/dL")).is_some());
        assert!(value_issue(&lab("718-7", 120.0, "g/L")).is_none());
        assert!(matches!(
            value_issue(&lab("718-7", 12.0, "mg")),
            Some(Issue::UnexpectedUnit { .. })
        ));
        let mut ecog = lab("89247-1", 0.0, "");
        ecog.value = FactValue::Code(Coding::new(CodeSystem::Ecog, "5"));
        assert!(value_issue(&ecog).is_some());
        assert!(value_issue(&lab("12345-6", 1e9, "x")).is_none());
    }

    #[test]
    fn dates_against_birth_and_death() {
        use chrono::NaiveDate;
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        let demo = Demographics {
            sex: oncofed_model::Sex::Female,
            birth_year: Some(1950),
            vital_status: oncofed_model::VitalStatus::Deceased,
            death_date: d(1940, 1, 1),
            last_contact: None,
        };
        assert_eq!(patient_issues(&demo), vec![Issue::DeathBeforeBirth]);
        let mut dx = lab("718-7", 12.0, "g/dL");
        dx.kind = FactKind::Diagnosis;
        dx.start = d(1949, 5, 1);
        dx.end = d(1949, 4, 1);
        let issues = fact_issues(&dx, Some(&demo));
        assert!(issues.contains(&Issue::BeforeBirth {
            kind: FactKind::Diagnosis
        }));
        assert!(issues.contains(&Issue::AfterDeath {
            kind: FactKind::Diagnosis
        }));
        assert!(issues.contains(&Issue::EndBeforeStart {
            kind: FactKind::Diagnosis
        }));
        assert!(issues.iter().all(|i| !i.to_string().contains("1949")));
    }
}
