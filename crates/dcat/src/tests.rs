use super::*;
use chrono::TimeZone;
use oncofed_model::{DataCategory, SecurityLevel, SiteId};
use rdf::{Iri, Literal, Object};
use std::collections::BTreeSet;

fn sample() -> Catalogue {
    let site = SiteId::new("uk-essen").unwrap();
    Catalogue {
        publisher: "OncoFed \"test\" federation\n".into(),
        modified: chrono::Utc.with_ymd_and_hms(2026, 12, 4, 20, 0, 0).unwrap(),
        datasets: vec![
            Dataset {
                site: site.clone(),
                category: DataCategory::Clinical,
                level: SecurityLevel::Pseudonymised,
                persons: 120,
                records: Some(4560),
                coverage: YearSpan::new(2015, 2024),
                coding_systems: BTreeSet::from([
                    CodingSystem::Icd10Gm,
                    CodingSystem::Loinc,
                    CodingSystem::Tnm,
                ]),
            },
            Dataset {
                site,
                category: DataCategory::Germline,
                level: SecurityLevel::Genetic,
                persons: 20,
                records: None,
                coverage: None,
                coding_systems: BTreeSet::from([CodingSystem::Hgnc, CodingSystem::Hgvs]),
            },
        ],
    }
}

fn at() -> Endpoints {
    Endpoints::new("https://hub.example.org/").unwrap()
}

#[test]
fn iris_reject_what_turtle_cannot_write() {
    for bad in [
        "no-scheme",
        "https://a b",
        "https://a/<x>",
        "https://a/\"x",
        "https://a/{x}",
        "https://a/x|y",
        "https://a/^",
        "https://a/`",
        "https://a/\\",
        "https://a/\n",
        "1http://a",
    ] {
        assert!(Iri::new(bad).is_err(), "{bad:?} accepted");
    }
    assert!(Iri::new("https://hub.example.org/catalogue#x").is_ok());
    assert!(Iri::new("urn:oncofed:site:uk-essen").is_ok());
    assert!(Endpoints::new("ftp://hub.example.org").is_err());
    assert!(Endpoints::new("https://hub example").is_err());
}

#[test]
fn language_tags_are_checked() {
    assert!(Literal::lang("x", "de").is_ok());
    assert!(Literal::lang("x", "de-DE").is_ok());
    assert!(Literal::lang("x", "").is_err());
    assert!(Literal::lang("x", "de DE").is_err());
    assert!(Literal::lang("x", "d\"e").is_err());
}

#[test]
fn every_vocabulary_constant_is_an_iri() {
    for ns in vocab::ALL {
        assert!(Iri::new(ns.iri).is_ok(), "{}", ns.iri);
    }
    for c in [
        vocab::NON_PUBLIC,
        vocab::HEALTH_THEME,
        vocab::DATASET_KIND,
        vocab::EHRS,
        vocab::HGPD,
    ] {
        assert!(Iri::new(c.iri).is_ok() && Iri::new(c.scheme.iri).is_ok());
        assert!(
            c.iri.starts_with(c.scheme.iri),
            "{} is not in {}",
            c.iri,
            c.scheme.iri
        );
    }
    assert!(Iri::new(vocab::EHDS).is_ok() && Iri::new(vocab::PURPOSE).is_ok());
}

#[test]
fn json_ld_reads_back_to_the_same_triples() {
    let g = graph(&sample(), &at());
    let doc = jsonld::write(&g);
    // Through text, as a client receives it.
    let text = serde_json::to_string(&doc).unwrap();
    let back = jsonld::read(&serde_json::from_str(&text).unwrap()).unwrap();
    assert_eq!(back, g.triples());
}

#[test]
fn each_dataset_carries_its_released_figures_only() {
    let g = graph(&sample(), &at());
    let triples = g.triples();
    let health = |local: &str| vocab::HEALTH.term(local);
    let values = |subject: &str, p: &Iri| -> Vec<Object> {
        triples
            .iter()
            .filter(|(s, q, _)| s.as_str() == subject && q == p)
            .map(|(_, _, o)| o.clone())
            .collect()
    };
    let clinical = "https://hub.example.org/catalogue/dataset/uk-essen/clinical";
    let germline = "https://hub.example.org/catalogue/dataset/uk-essen/germline";
    let int = |n: &str| Object::Literal(Literal::typed(n, vocab::XSD.term("nonNegativeInteger")));
    assert_eq!(
        values(clinical, &health("numberOfUniqueIndividuals")),
        vec![int("120")]
    );
    assert_eq!(
        values(clinical, &health("numberOfRecords")),
        vec![int("4560")]
    );
    assert_eq!(
        values(germline, &health("numberOfUniqueIndividuals")),
        vec![int("20")]
    );
    assert!(values(germline, &health("numberOfRecords")).is_empty());
    // Coding systems: ICD-10-GM and LOINC have concepts, TNM only a keyword.
    let systems = values(clinical, &health("hasCodingSystem"));
    assert_eq!(systems.len(), 2, "{systems:?}");
    let keywords = values(clinical, &vocab::DCAT.term("keyword"));
    assert!(keywords.contains(&Object::Literal(Literal::Plain("UICC TNM".into()))));
    // Genetic categories cite consent as their legal basis.
    assert_eq!(
        values(germline, &health("healthCategory")),
        vec![Object::Iri(Iri::new(vocab::HGPD.iri).unwrap())]
    );
    assert_eq!(
        identifier(&SiteId::new("uk-essen").unwrap(), DataCategory::Clinical),
        "oncofed:uk-essen:clinical"
    );
}

#[test]
fn turtle_names_every_subject_and_escapes_the_publisher() {
    let ttl = to_turtle(&sample(), &at());
    assert!(ttl.starts_with("@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .\n"));
    assert!(
        ttl.contains("\"OncoFed \\\"test\\\" federation\\n\""),
        "{ttl}"
    );
    let g = graph(&sample(), &at());
    for (s, _) in g.subjects() {
        assert!(
            ttl.contains(&format!("\n<{}>\n", s.as_str())),
            "{s} missing"
        );
    }
    // Every statement ends: as many " .\n" as subjects.
    assert_eq!(
        ttl.matches(" .\n").count() - vocab::ALL.len(),
        g.subjects().len()
    );
}
