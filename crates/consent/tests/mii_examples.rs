//! The MII Consent module's own examples (IG 2026.0.0, CC BY 4.0, read from
//! `../shared/data/mii-consent-2026/examples` or `$ONCOFED_SHARED_DATA`, never
//! copied into the repository), converted from FHIR XML to JSON here and
//! decided at dates within and after each window, table-driven.
//!
//! What the IG says, and OncoFed's reading where it chooses:
//! * `Einwilligung`: PATDAT and BIOMAT; collecting (`.6`, `.19`) 2020-09-01 to
//!   2025-08-31, storing and using (`.7`, `.8`, `.20`, `.22`) to 2050-08-31
//!   under a root deny of the same span. Data collected in the window is
//!   usable until 2050; data of later origin, or older than the consent (no
//!   retrospective module), is not. After 2050-08-31 nothing of the consent is
//!   in force: OncoFed falls back to the GDNG opt-out for non-genetic data
//!   (R6); genetic data then lacks an opt-in.
//! * `Einwilligung_2`: the same answers, with `.7` grouped into the five-year
//!   provision: `.8` alone carries use after 2025.
//! * `ResultType_ConsentStatus`: every module refused (explicit denies) from
//!   2022-01-31 (+01:00); `policy.uri` is a bare OID (the unversioned MII
//!   broad consent).

mod support;

use chrono::NaiveDate;
use oncofed_consent::{
    Basis, Consent, Decision, DenyReason, DocumentKind, MiiCode, PolicyCode, RecontactKind,
    duo_codes, evaluate, evaluate_fact, may_recontact, parse_consent,
};
use oncofed_model::DataCategory::{self, Clinical, Genetic, Imaging, Pathology, Text};
use oncofed_model::Purpose;
use std::path::PathBuf;

fn examples_dir() -> PathBuf {
    let dir = oncofed_testkit::shared_data().join("mii-consent-2026/examples");
    assert!(
        dir.is_dir(),
        "MII examples expected at {} (set ONCOFED_SHARED_DATA)",
        dir.display()
    );
    dir
}

fn example(name: &str) -> Consent {
    let path = examples_dir().join(format!("Example_MII_Consent_{name}.xml"));
    let xml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json = support::fhir_xml::resource_to_json(&xml).unwrap_or_else(|e| panic!("{name}: {e}"));
    parse_consent(&json).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn mii(arc: u16) -> PolicyCode {
    PolicyCode::Mii(MiiCode::from_arc(arc).unwrap())
}

fn permit(code: PolicyCode) -> Decision {
    Decision::Permit {
        basis: Basis::Consent(code),
    }
}

fn deny(reason: DenyReason, code: Option<PolicyCode>) -> Decision {
    Decision::Deny {
        reason,
        code,
        inherited_type: false,
    }
}

/// (what, category, date of use, date of origin or `None`, expected).
type Row = (
    &'static str,
    DataCategory,
    &'static str,
    Option<&'static str>,
    Decision,
);

fn check(name: &str, rows: Vec<Row>) {
    let consents = vec![example(name)];
    for (what, category, on, origin, expected) in rows {
        let got = match origin {
            Some(o) => evaluate_fact(&consents, category, Purpose::Research, day(on), day(o)),
            None => evaluate(&consents, category, Purpose::Research, day(on)),
        };
        assert_eq!(
            got, expected,
            "{name}: {what} ({category:?}, {on}, {origin:?})"
        );
        if origin.is_none() {
            let f = evaluate(&consents, category, Purpose::Feasibility, day(on));
            assert_eq!(f, expected, "{name}: {what} (feasibility)");
        }
    }
}

#[test]
fn einwilligung() {
    let not_collected = deny(DenyReason::NotCollected, Some(mii(6)));
    let mut rows: Vec<Row> = Vec::new();
    for c in [Clinical, Imaging, Pathology, Text] {
        #[rustfmt::skip]
        rows.extend([
            ("in both windows", c, "2024-06-01", Some("2023-01-10"), permit(mii(7))),
            ("origin unknown, in the collection window", c, "2024-06-01", None, permit(mii(7))),
            ("collected in the window, used later", c, "2040-06-01", Some("2025-08-31"), permit(mii(7))),
            ("collected after the window", c, "2040-06-01", Some("2025-09-01"), not_collected),
            ("origin unknown after the window", c, "2040-06-01", None, not_collected),
            ("older than the consent, no retrospective module", c, "2024-06-01", Some("2019-12-31"), not_collected),
            ("last day of use", c, "2050-08-31", Some("2023-01-10"), permit(mii(7))),
            ("consent over: GDNG opt-out (OncoFed, R6)", c, "2050-09-01", Some("2023-01-10"), Decision::Permit { basis: Basis::OptOut }),
        ]);
    }
    #[rustfmt::skip]
    rows.extend([
        ("BIOMAT use with collection in the window", Genetic, "2024-06-01", Some("2023-01-10"), permit(mii(22))),
        ("genetic, used later", Genetic, "2040-06-01", Some("2024-01-10"), permit(mii(22))),
        ("genetic, collected after the window", Genetic, "2040-06-01", Some("2026-01-10"), not_collected),
        ("genetic after the consent: no opt-in", Genetic, "2050-09-01", Some("2023-01-10"), deny(DenyReason::NoOptIn, None)),
    ]);
    check("Einwilligung", rows);
    let c = vec![example("Einwilligung")];
    assert_eq!(c[0].document, DocumentKind::Consent);
    // No re-contact module, no merging with third parties: neither is permitted.
    for k in RecontactKind::ALL {
        assert_eq!(
            may_recontact(&c, day("2024-06-01"), k),
            deny(DenyReason::NoOptIn, None)
        );
    }
    assert!(duo_codes(&c, Clinical, day("2024-06-01")).is_empty());
}

#[test]
fn einwilligung_2() {
    let not_collected = deny(DenyReason::NotCollected, Some(mii(6)));
    #[rustfmt::skip]
    check("Einwilligung_2", vec![
        ("in both windows", Clinical, "2024-06-01", Some("2023-01-10"), permit(mii(7))),
        (".7 ended with the five-year group: .8 carries use", Clinical, "2040-06-01", Some("2023-01-10"), permit(mii(8))),
        ("collected after the window", Clinical, "2040-06-01", Some("2025-09-01"), not_collected),
        ("genetic in both windows", Genetic, "2024-06-01", Some("2023-01-10"), permit(mii(22))),
        ("genetic collected after the window", Genetic, "2030-06-01", Some("2026-06-01"), not_collected),
        ("consent over", Text, "2050-09-01", Some("2023-01-10"), Decision::Permit { basis: Basis::OptOut }),
    ]);
}

#[test]
fn consent_status_every_module_refused() {
    let c = vec![example("ResultType_ConsentStatus")];
    assert_eq!(
        c[0].document,
        DocumentKind::Consent,
        "bare OID .184: the broad consent"
    );
    let mut rows: Vec<Row> = Vec::new();
    for cat in [Clinical, Genetic, Imaging, Pathology, Text] {
        #[rustfmt::skip]
        rows.extend([
            ("refused", cat, "2026-01-01", None, deny(DenyReason::Refused, Some(mii(6)))),
            ("refused, known origin", cat, "2026-01-01", Some("2024-01-01"), deny(DenyReason::Refused, Some(mii(6)))),
            ("refused far ahead", cat, "2999-12-31", None, deny(DenyReason::Refused, Some(mii(6)))),
        ]);
    }
    #[rustfmt::skip]
    rows.extend([
        ("before the refusal: opt-out", Clinical, "2022-01-30", None, Decision::Permit { basis: Basis::OptOut }),
        ("before the refusal: genetic needs an opt-in", Genetic, "2022-01-30", None, deny(DenyReason::NoOptIn, None)),
    ]);
    check("ResultType_ConsentStatus", rows);
    let on = day("2026-01-01");
    for (k, code) in [
        (RecontactKind::AdditionalFindings, Some(mii(31))),
        (RecontactKind::SignificantResults, Some(mii(37))),
        (RecontactKind::LinkDatabases, Some(mii(27))),
        (RecontactKind::FurtherData, Some(mii(28))),
        (RecontactKind::FurtherStudies, Some(mii(29))),
        (RecontactKind::Questionnaires, None),
    ] {
        let expected = match code {
            Some(_) => deny(DenyReason::Refused, code),
            None => deny(DenyReason::NoOptIn, None),
        };
        assert_eq!(may_recontact(&c, on, k), expected, "{k:?}");
    }
    assert!(duo_codes(&c, Clinical, on).is_empty());
}
