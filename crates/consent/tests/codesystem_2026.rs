//! The policy table against the published CodeSystem of IG 2026.0.0
//! (`../shared/data/mii-consent-2026/terminologie`, CC BY 4.0, or
//! `$ONCOFED_SHARED_DATA`): every code's display, parent,
//! `period-of-validity` and deprecation; the later ballot's displays differ
//! for exactly the 19 codes OncoFed keeps beside them.

mod support;

use oncofed_consent::MiiCode;
use oncofed_consent::mii::{LATER_BALLOT_DISPLAYS, MII_POLICIES, Release};
use serde_json::Value;

fn codesystem() -> Value {
    let path = oncofed_testkit::shared_data().join(
        "mii-consent-2026/terminologie/codesystems/CodeSystem-MiiConsentPolicyCodeSystem.xml",
    );
    let xml = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} (set ONCOFED_SHARED_DATA): {e}", path.display()));
    support::fhir_xml::resource_to_json(&xml).unwrap()
}

/// (arc, display, parent arc, period-of-validity, deprecated).
type Row = (u16, String, Option<u16>, Option<String>, bool);

fn flatten(concepts: &Value, parent: Option<u16>, out: &mut Vec<Row>) {
    for c in concepts.as_array().into_iter().flatten() {
        let code = c["code"].as_str().unwrap();
        let arc = MiiCode::from_oid(code).expect("a code of the table").arc();
        let props = c["property"].as_array().cloned().unwrap_or_default();
        let prop = |name: &str| props.iter().find(|p| p["code"] == name);
        let validity =
            prop("period-of-validity").and_then(|p| p["valueString"].as_str().map(String::from));
        let deprecated = prop("status").is_some_and(|p| p["valueCode"] == "deprecated");
        out.push((
            arc,
            c["display"].as_str().unwrap().to_owned(),
            parent,
            validity,
            deprecated,
        ));
        flatten(&c["concept"], Some(arc), out);
    }
}

#[test]
fn table_matches_the_2026_codesystem() {
    let cs = codesystem();
    assert_eq!(cs["url"], "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3");
    let mut rows = Vec::new();
    flatten(&cs["concept"], None, &mut rows);
    assert_eq!(rows.len(), 124);
    for (arc, display, parent, validity, deprecated) in rows {
        let p = MiiCode::from_arc(arc).unwrap().policy();
        assert_eq!(p.de, display, ".{arc} display");
        assert_eq!(p.display(Release::Ig2026), display, ".{arc}");
        assert_eq!(p.parent, parent, ".{arc} parent");
        assert_eq!(p.deprecated, deprecated, ".{arc} deprecated");
        // The table gives no validity for groups and one-off codes ("EINMALIG").
        if let Some(v) = validity {
            assert_eq!(p.validity, Some(v.as_str()), ".{arc} validity");
        }
    }
    let differing = MII_POLICIES
        .iter()
        .filter(|p| p.display(Release::LaterBallot) != p.display(Release::Ig2026))
        .count();
    assert_eq!(differing, 19);
    assert_eq!(LATER_BALLOT_DISPLAYS.len(), 19);
}
