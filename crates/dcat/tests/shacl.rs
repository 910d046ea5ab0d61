//! The catalogue's Turtle and JSON-LD against HealthDCAT-AP Release 8's
//! NON_PUBLIC shapes over DCAT-AP 3.0.0 (vendored in `shapes/`), with pyshacl;
//! and both serialisations parse to the same graph. A live federation's
//! catalogue is validated by `oncofed-hub`'s `tests/catalogue.rs`.

mod support {
    pub mod shacl;
}

use chrono::TimeZone;
use oncofed_dcat::{Catalogue, CodingSystem, Dataset, Endpoints, YearSpan};
use oncofed_model::{DataCategory, SecurityLevel, SiteId};
use std::collections::BTreeSet;

fn every_category() -> Catalogue {
    let mut datasets = Vec::new();
    for (i, site) in ["site-a", "site-b"].into_iter().enumerate() {
        for category in DataCategory::ALL {
            datasets.push(Dataset {
                site: SiteId::new(site).unwrap(),
                category,
                level: category.intrinsic_level(),
                persons: 20 + 10 * i as u64,
                records: (i == 0).then_some(300),
                coverage: YearSpan::new(2010, 2025).filter(|_| i == 0),
                coding_systems: BTreeSet::from([
                    CodingSystem::Icd10Gm,
                    CodingSystem::Loinc,
                    CodingSystem::Hgvs,
                    CodingSystem::Dicom,
                ]),
            });
        }
    }
    Catalogue {
        publisher: "OncoFed <Test> & \"Co\"".into(),
        modified: chrono::Utc.with_ymd_and_hms(2026, 12, 4, 20, 0, 0).unwrap(),
        datasets,
    }
}

#[test]
fn every_category_conforms_in_turtle_and_json_ld() {
    let Some(python) = support::shacl::python() else {
        return;
    };
    let catalogue = every_category();
    let at = Endpoints::new("https://hub.example.org").unwrap();
    assert_eq!(catalogue.datasets[0].level, SecurityLevel::Pseudonymised);
    let turtle = oncofed_dcat::to_turtle(&catalogue, &at);
    let jsonld = serde_json::to_string_pretty(&oncofed_dcat::to_jsonld(&catalogue, &at)).unwrap();
    support::shacl::assert_valid(&python, &turtle, &jsonld);
}

/// The check is not vacuous: a catalogue without the mandatory access body
/// (`healthdcatap:hdab`) or with public access rights fails, in either format.
#[test]
fn a_catalogue_missing_mandatory_health_properties_fails() {
    let Some(python) = support::shacl::python() else {
        return;
    };
    let catalogue = every_category();
    let at = Endpoints::new("https://hub.example.org").unwrap();
    let turtle = oncofed_dcat::to_turtle(&catalogue, &at);
    let mut jsonld = oncofed_dcat::to_jsonld(&catalogue, &at);
    // Drop every hdab statement from both documents (a middle predicate of its
    // subject in the Turtle, so the syntax stays intact).
    let without: String = turtle
        .lines()
        .filter(|l| !l.trim_start().starts_with("healthdcatap:hdab "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(without.len() < turtle.len());
    for node in jsonld["@graph"].as_array_mut().unwrap() {
        node.as_object_mut().unwrap().remove("healthdcatap:hdab");
    }
    let report = support::shacl::validate(&python, &without, &jsonld.to_string()).unwrap_err();
    assert!(report.contains("healthdcatap:hdab"), "{report}");
    // Public access rights contradict the NON_PUBLIC profile.
    let public = turtle.replace("access-right/NON_PUBLIC", "access-right/PUBLIC");
    let jsonld = oncofed_dcat::to_jsonld(&catalogue, &at)
        .to_string()
        .replace("access-right/NON_PUBLIC", "access-right/PUBLIC");
    let report = support::shacl::validate(&python, &public, &jsonld).unwrap_err();
    assert!(report.contains("NON_PUBLIC"), "{report}");
}
