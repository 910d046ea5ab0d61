//! Consent decisions: may data of one person in one category be used on a date?
//!
//! Pure and synchronous: [`evaluate`] sees only the person's parsed consents; the
//! store finds them and the HTTP layer asks. The codes are those of
//! `docs/fhir-profile.md`: the OncoFed system `urn:oncofed:consent-policy`
//! (`gdng-objection`, `genetic-research`, `withdrawal`) and the MII broad-consent
//! system `urn:oid:2.16.840.1.113883.3.1937.777.24.5.3` (code `…5.3.8`, MDAT
//! wissenschaftlich nutzen).
//!
//! # Rules
//!
//! 1. A pseudonym the trust centre does not know (or that belongs to another site's
//!    domain) is denied with `DenyUnknown`: fail closed. The caller decides this
//!    before [`evaluate`], which only sees known persons.
//! 2. Only consents with `status` `active` count; a provision counts on a date only
//!    when the date lies within its `period` and within every enclosing provision's
//!    period (bounds are inclusive, by calendar day).
//! 3. For each code, the statement that counts is the one from the consent with the
//!    latest `dateTime`: a later consent overrides an earlier one *of the same code*.
//!    Within one consent a nested provision overrides its parent (FHIR: nested
//!    provisions are exceptions). On a tie, deny wins.
//! 4. A `withdrawal` deny that counts denies everything: `DenyWithdrawn`. A later
//!    broad consent does not lift it (different code); the withdrawal's Consent must
//!    be set inactive or a later `withdrawal` permit recorded.
//! 5. Genetic data needs an opt-in: `Permit` only when a `genetic-research` permit
//!    counts; `DenyObjection` when a `genetic-research` deny counts (an explicit
//!    refusal); otherwise `DenyNoOptIn`.
//! 6. Every other category falls under the GDNG opt-out (§ 363 SGB V): `Permit`
//!    unless a `gdng-objection` deny counts or an MII broad consent explicitly
//!    denies `…5.3.8`, then `DenyObjection`. The root `deny` of an MII broad consent
//!    has no code and therefore denies nothing on its own.
//! 7. Both purposes get the same answers: feasibility counts are use of data too.

mod fhir;

pub use fhir::{ConsentParseError, FhirDateTime, parse_consent, parse_fhir_datetime};

use chrono::NaiveDate;
use oncofed_model::{DataCategory, Purpose};
use oncofed_trustee_api::ConsentDecision;

/// OncoFed's consent code system (`docs/fhir-profile.md`).
pub const ONCOFED_POLICY_SYSTEM: &str = "urn:oncofed:consent-policy";
/// The MII broad-consent provision code system.
pub const MII_PROVISION_SYSTEM: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3";
/// MII code "MDAT wissenschaftlich nutzen EU DSGVO NIVEAU".
pub const MII_MDAT_SCIENTIFIC_USE: &str = "2.16.840.1.113883.3.1937.777.24.5.3.8";

/// FHIR R4 `Consent.status` (ConsentState).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentStatus {
    /// `draft`
    Draft,
    /// `proposed`
    Proposed,
    /// `active`: the only status that counts.
    Active,
    /// `rejected`
    Rejected,
    /// `inactive`
    Inactive,
    /// `entered-in-error`
    EnteredInError,
}

/// FHIR `Consent.provision.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionType {
    /// `permit`
    Permit,
    /// `deny`
    Deny,
}

/// A provision's validity, by calendar day, bounds inclusive; `None` is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    /// First day in force.
    pub start: Option<NaiveDate>,
    /// Last day in force.
    pub end: Option<NaiveDate>,
}

impl Period {
    /// Whether `date` lies within the period.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start.is_none_or(|s| s <= date) && self.end.is_none_or(|e| date <= e)
    }
}

/// The consent codes that affect decisions; codings of other systems are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyCode {
    /// `urn:oncofed:consent-policy#gdng-objection`: objection under the GDNG opt-out.
    GdngObjection,
    /// `urn:oncofed:consent-policy#genetic-research`: opt-in for genetic data.
    GeneticResearch,
    /// `urn:oncofed:consent-policy#withdrawal`: withdrawal of all consents.
    Withdrawal,
    /// MII `…5.3.8`: use of medical data for science (EU GDPR level).
    MiiMdatScientificUse,
}

impl PolicyCode {
    /// Recognises a `Coding` by system and code.
    pub fn from_coding(system: &str, code: &str) -> Option<Self> {
        match (system, code) {
            (ONCOFED_POLICY_SYSTEM, "gdng-objection") => Some(Self::GdngObjection),
            (ONCOFED_POLICY_SYSTEM, "genetic-research") => Some(Self::GeneticResearch),
            (ONCOFED_POLICY_SYSTEM, "withdrawal") => Some(Self::Withdrawal),
            (MII_PROVISION_SYSTEM, MII_MDAT_SCIENTIFIC_USE) => Some(Self::MiiMdatScientificUse),
            _ => None,
        }
    }
}

/// One `Consent.provision` (or a nested one) with what the rules read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provision {
    /// Its type, inherited from the enclosing provision when absent.
    pub kind: Option<ProvisionType>,
    /// When it is in force.
    pub period: Period,
    /// The recognised codes it is about.
    pub codes: Vec<PolicyCode>,
    /// Nested provisions (exceptions to this one).
    pub provisions: Vec<Provision>,
}

/// A FHIR Consent reduced to what decisions need (see [`parse_consent`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedConsent {
    /// `Consent.id`, when given: a later version with the same id replaces this one.
    pub resource_id: Option<String>,
    /// `Consent.status`.
    pub status: ConsentStatus,
    /// `Consent.dateTime`: orders consents about the same code.
    pub date_time: FhirDateTime,
    /// The root provision.
    pub provision: Provision,
}

/// The statement that counts for one code: its rank and its type.
type Verdict = ((chrono::NaiveDateTime, usize, bool), ProvisionType);

/// The type of the statement about `code` that counts on `date` (rules 2 and 3).
fn verdict(consents: &[ParsedConsent], code: PolicyCode, date: NaiveDate) -> Option<ProvisionType> {
    fn walk(
        p: &Provision,
        code: PolicyCode,
        date: NaiveDate,
        at: chrono::NaiveDateTime,
        depth: usize,
        best: &mut Option<Verdict>,
    ) {
        if !p.period.contains(date) {
            return; // neither this provision nor its exceptions are in force
        }
        if let Some(kind) = p.kind
            && p.codes.contains(&code)
        {
            let rank = (at, depth, kind == ProvisionType::Deny);
            if best.is_none_or(|(r, _)| rank > r) {
                *best = Some((rank, kind));
            }
        }
        for nested in &p.provisions {
            walk(nested, code, date, at, depth + 1, best);
        }
    }
    let mut best = None;
    for c in consents
        .iter()
        .filter(|c| c.status == ConsentStatus::Active)
    {
        walk(&c.provision, code, date, c.date_time.instant, 0, &mut best);
    }
    best.map(|(_, kind)| kind)
}

/// Decides whether data of `category` about a known person may be used for
/// `purpose` on `date`, given all of the person's consents (rules in the module
/// documentation). An empty slice is a person without any consent on record.
pub fn evaluate(
    consents: &[ParsedConsent],
    category: DataCategory,
    purpose: Purpose,
    date: NaiveDate,
) -> ConsentDecision {
    use ProvisionType::{Deny, Permit};
    // Rule 7; a new purpose must be decided here explicitly.
    match purpose {
        Purpose::Feasibility | Purpose::Research => {}
    }
    if verdict(consents, PolicyCode::Withdrawal, date) == Some(Deny) {
        return ConsentDecision::DenyWithdrawn;
    }
    match category {
        DataCategory::Genetic => match verdict(consents, PolicyCode::GeneticResearch, date) {
            Some(Permit) => ConsentDecision::Permit,
            Some(Deny) => ConsentDecision::DenyObjection,
            None => ConsentDecision::DenyNoOptIn,
        },
        DataCategory::Clinical
        | DataCategory::Imaging
        | DataCategory::Pathology
        | DataCategory::Text => {
            let objected = verdict(consents, PolicyCode::GdngObjection, date) == Some(Deny)
                || verdict(consents, PolicyCode::MiiMdatScientificUse, date) == Some(Deny);
            if objected {
                ConsentDecision::DenyObjection
            } else {
                ConsentDecision::Permit
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConsentDecision::*;
    use DataCategory::*;
    use serde_json::{Value, json};

    /// A Consent with one coded provision at the root.
    fn consent(code: &str, kind: &str, date_time: &str, period: Value) -> Value {
        let (system, code) = if code == "mdat" {
            (MII_PROVISION_SYSTEM, MII_MDAT_SCIENTIFIC_USE)
        } else {
            (ONCOFED_POLICY_SYSTEM, code)
        };
        json!({"resourceType": "Consent", "status": "active", "dateTime": date_time,
               "provision": {"type": kind, "period": period, "code": [{"coding": [{"system": system, "code": code}]}]}})
    }

    fn status(mut c: Value, s: &str) -> Value {
        c["status"] = json!(s);
        c
    }

    /// An MII broad consent: root deny, nested provision for MDAT of the given type.
    fn mii(nested_type: &str) -> Value {
        json!({"resourceType": "Consent", "status": "active", "dateTime": "2023-01-01",
               "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.1791"}],
               "provision": {"type": "deny", "period": {"start": "2023-01-01", "end": "2027-12-31"},
                 "provision": [{"type": nested_type, "period": {"start": "2023-01-01", "end": "2027-12-31"},
                   "code": [{"coding": [{"system": MII_PROVISION_SYSTEM, "code": MII_MDAT_SCIENTIFIC_USE}]}]}]}})
    }

    fn open() -> Value {
        json!({})
    }

    #[test]
    fn rules_table() {
        let on = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
        let until_2024 = json!({"end": "2024-12-31"});
        let from_2026 = json!({"start": "2026-01-01"});
        #[rustfmt::skip]
        let table: Vec<(&str, Vec<Value>, DataCategory, ConsentDecision)> = vec![
            ("opt-out default permits clinical", vec![], Clinical, Permit),
            ("opt-out default permits imaging", vec![], Imaging, Permit),
            ("genetic needs an opt-in", vec![], Genetic, DenyNoOptIn),
            ("objection denies clinical", vec![consent("gdng-objection", "deny", "2024-01-01", open())], Clinical, DenyObjection),
            ("objection denies text", vec![consent("gdng-objection", "deny", "2024-01-01", open())], Text, DenyObjection),
            ("objection leaves the genetic opt-in alone", vec![consent("gdng-objection", "deny", "2024-01-01", open()), consent("genetic-research", "permit", "2024-01-01", open())], Genetic, Permit),
            ("genetic opt-in permits", vec![consent("genetic-research", "permit", "2024-01-01", open())], Genetic, Permit),
            ("expired genetic opt-in is ignored", vec![consent("genetic-research", "permit", "2024-01-01", until_2024.clone())], Genetic, DenyNoOptIn),
            ("future genetic opt-in is ignored", vec![consent("genetic-research", "permit", "2024-01-01", from_2026.clone())], Genetic, DenyNoOptIn),
            ("withdrawal denies clinical", vec![consent("withdrawal", "deny", "2024-01-01", open())], Clinical, DenyWithdrawn),
            ("withdrawal denies genetic despite opt-in", vec![consent("genetic-research", "permit", "2023-01-01", open()), consent("withdrawal", "deny", "2024-01-01", open())], Genetic, DenyWithdrawn),
            ("withdrawal outlives a later broad consent", vec![consent("withdrawal", "deny", "2024-01-01", open()), mii("permit")], Clinical, DenyWithdrawn),
            ("inactive withdrawal does not count", vec![status(consent("withdrawal", "deny", "2024-01-01", open()), "inactive")], Clinical, Permit),
            ("objection entered in error does not count", vec![status(consent("gdng-objection", "deny", "2024-01-01", open()), "entered-in-error")], Clinical, Permit),
            ("draft opt-in does not count", vec![status(consent("genetic-research", "permit", "2024-01-01", open()), "draft")], Genetic, DenyNoOptIn),
            ("expired objection is ignored", vec![consent("gdng-objection", "deny", "2020-01-01", until_2024.clone())], Clinical, Permit),
            ("MII deny of MDAT is an objection", vec![mii("deny")], Clinical, DenyObjection),
            ("MII permit of MDAT permits", vec![mii("permit")], Clinical, Permit),
            ("MII root deny alone denies nothing", vec![json!({"resourceType": "Consent", "status": "active", "dateTime": "2023", "provision": {"type": "deny"}})], Clinical, Permit),
            ("later objection lift overrides", vec![consent("gdng-objection", "deny", "2022-01-01", open()), consent("gdng-objection", "permit", "2024-01-01", open())], Clinical, Permit),
            ("later objection overrides a lift", vec![consent("gdng-objection", "permit", "2022-01-01", open()), consent("gdng-objection", "deny", "2024-01-01", open())], Clinical, DenyObjection),
            ("later genetic refusal overrides opt-in", vec![consent("genetic-research", "permit", "2022-01-01", open()), consent("genetic-research", "deny", "2024-03-01T10:00:00+01:00", open())], Genetic, DenyObjection),
            ("order is by dateTime, not by list position", vec![consent("genetic-research", "deny", "2024-01-01", open()), consent("genetic-research", "permit", "2022-01-01", open())], Genetic, DenyObjection),
            ("tie: deny wins", vec![consent("genetic-research", "permit", "2024-01-01", open()), consent("genetic-research", "deny", "2024-01-01", open())], Genetic, DenyObjection),
            ("lift whose period ended lets the older objection count", vec![consent("gdng-objection", "deny", "2020-01-01", open()), consent("gdng-objection", "permit", "2023-01-01", until_2024.clone())], Clinical, DenyObjection),
            ("nested exception overrides its parent", vec![json!({"resourceType": "Consent", "status": "active", "dateTime": "2024",
                "provision": {"type": "deny", "code": [{"coding": [{"system": ONCOFED_POLICY_SYSTEM, "code": "genetic-research"}]}],
                  "provision": [{"type": "permit", "code": [{"coding": [{"system": ONCOFED_POLICY_SYSTEM, "code": "genetic-research"}]}]}]}})], Genetic, Permit),
            ("nested provision under an expired parent is ignored", vec![json!({"resourceType": "Consent", "status": "active", "dateTime": "2020",
                "provision": {"type": "deny", "period": {"end": "2024-12-31"},
                  "provision": [{"type": "permit", "code": [{"coding": [{"system": ONCOFED_POLICY_SYSTEM, "code": "genetic-research"}]}]}]}})], Genetic, DenyNoOptIn),
            ("unknown codes decide nothing", vec![json!({"resourceType": "Consent", "status": "active", "dateTime": "2024",
                "provision": {"type": "deny", "code": [{"coding": [{"system": "http://example.org", "code": "gdng-objection"}]}]}})], Clinical, Permit),
        ];
        for (name, resources, category, expected) in table {
            let parsed: Vec<ParsedConsent> = resources
                .iter()
                .map(|r| parse_consent(r).expect(name))
                .collect();
            for purpose in [Purpose::Research, Purpose::Feasibility] {
                assert_eq!(
                    evaluate(&parsed, category, purpose, on),
                    expected,
                    "{name} ({purpose})"
                );
            }
        }
    }

    #[test]
    fn period_bounds_are_inclusive_days() {
        let c = parse_consent(&consent(
            "gdng-objection",
            "deny",
            "2024-01-01",
            json!({"start": "2024-03-01", "end": "2024-03-31T23:00:00+01:00"}),
        ))
        .unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2024, 3, d).unwrap();
        assert_eq!(
            evaluate(
                std::slice::from_ref(&c),
                Clinical,
                Purpose::Research,
                day(1)
            ),
            DenyObjection
        );
        assert_eq!(
            evaluate(
                std::slice::from_ref(&c),
                Clinical,
                Purpose::Research,
                day(31)
            ),
            DenyObjection
        );
        assert_eq!(
            evaluate(
                &[c],
                Clinical,
                Purpose::Research,
                NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
            ),
            Permit
        );
    }
}
