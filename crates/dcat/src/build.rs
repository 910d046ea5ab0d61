//! The catalogue as an RDF graph in the shape HealthDCAT-AP Release 8's
//! NON_PUBLIC profile asks for (see `shapes/README.md` for what is validated).
//!
//! Mandatory in that profile, and where each comes from: per dataset
//! `dct:accessRights` NON_PUBLIC, `dcatap:applicableLegislation` (the EHDS
//! regulation), a `dcat:distribution` (the portal's application page),
//! `dct:identifier`, `dcat:theme` HEAL, `healthdcatap:hdab` (the federation's
//! use-and-access committee, which decides applications for every site's data),
//! `healthdcatap:healthCategory`, `healthdcatap:hasStructuredData` (with
//! `hasVariables` when true), `dcat:contactPoint`, `dcat:keyword`, `dct:type`,
//! `dct:provenance`; per agent `foaf:name` and one `cv:contactPoint`; per
//! catalogue title, description, publisher and applicable legislation. Every
//! code-list concept is stated with its `skos:inScheme`, its scheme and a
//! label, which is what the vocabulary shapes check without the code lists.

use crate::model::{Bilingual, Catalogue, Dataset, category_text};
use crate::rdf::{Graph, Iri, Literal, RdfError};
use crate::vocab::{
    self, CSVW, CV, Concept, DCAT, DCATAP, DCT, DPV, ELI, FOAF, HEALTH, ONCOFED, RDFS, SKOS, VCARD,
    XSD, rdf_type,
};
use oncofed_model::{DataCategory, SecurityLevel, SiteId};

/// The IRIs the catalogue lives under: everything is minted below the hub's
/// public base URL, so the catalogue's nodes dereference to its own pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    base: String,
}

impl Endpoints {
    /// The hub's public base URL (`https://hub.example.org`, a trailing `/` is
    /// dropped); it must be an absolute `http` or `https` IRI.
    pub fn new(base: &str) -> Result<Self, RdfError> {
        let base = base.trim_end_matches('/');
        let iri = Iri::new(base)?;
        if !(iri.as_str().starts_with("https://") || iri.as_str().starts_with("http://")) {
            return Err(RdfError::Iri(base.to_owned()));
        }
        Ok(Self {
            base: base.to_owned(),
        })
    }

    fn at(&self, path: &str) -> Iri {
        // The base is a checked IRI and every path below is built from
        // constants, site ids ([a-z0-9-]) and category names.
        Iri::known(&format!("{}{path}", self.base))
    }

    /// The catalogue (`/catalogue`, also its HTML page).
    pub fn catalogue(&self) -> Iri {
        self.at("/catalogue")
    }

    /// The portal's start page: the endpoint of the access service.
    pub fn portal(&self) -> Iri {
        self.at("/portal")
    }

    /// The portal's application page: the access route to every dataset.
    pub fn application_page(&self) -> Iri {
        self.at("/portal/applications")
    }

    /// A dataset.
    pub fn dataset(&self, site: &SiteId, category: DataCategory) -> Iri {
        self.at(&format!(
            "/catalogue/dataset/{}/{}",
            site,
            category.as_str()
        ))
    }

    fn site_agent(&self, site: &SiteId) -> Iri {
        self.at(&format!("/catalogue/agent/site/{site}"))
    }

    fn committee(&self) -> Iri {
        self.at("/catalogue/agent/access-committee")
    }

    fn federation(&self) -> Iri {
        self.at("/catalogue/agent/federation")
    }

    fn service(&self) -> Iri {
        self.at("/catalogue/service/portal")
    }
}

/// The persistent identifier of a dataset (`dct:identifier`): stable across
/// refreshes, built from the site and the category only.
pub fn identifier(site: &SiteId, category: DataCategory) -> String {
    format!("oncofed:{}:{}", site, category.as_str())
}

fn fragment(node: &Iri, name: &str) -> Iri {
    Iri::known(&format!("{}#{name}", node.as_str()))
}

fn text(g: &mut Graph, s: &Iri, p: &Iri, t: Bilingual) {
    g.value(s, p, lang(t.de, "de"));
    g.value(s, p, lang(t.en, "en"));
}

fn lang(t: &str, tag: &str) -> Literal {
    Literal::lang(t, tag).expect("constant language tags")
}

fn owned(g: &mut Graph, s: &Iri, p: &Iri, de: String, en: String) {
    g.value(s, p, lang(&de, "de"));
    g.value(s, p, lang(&en, "en"));
}

fn typed(lexical: impl Into<String>, datatype: &str) -> Literal {
    Literal::typed(lexical, XSD.term(datatype))
}

fn concept(g: &mut Graph, c: &Concept, also: &[Iri]) -> Iri {
    let iri = Iri::known(c.iri);
    let scheme = Iri::known(c.scheme.iri);
    g.link(&iri, &rdf_type(), &SKOS.term("Concept"));
    for class in also {
        g.link(&iri, &rdf_type(), class);
    }
    g.value(&iri, &SKOS.term("prefLabel"), lang(c.en, "en"));
    g.value(&iri, &SKOS.term("prefLabel"), lang(c.de, "de"));
    g.link(&iri, &SKOS.term("inScheme"), &scheme);
    g.link(&scheme, &rdf_type(), &SKOS.term("ConceptScheme"));
    g.value(&scheme, &DCT.term("title"), lang(c.scheme.en, "en"));
    iri
}

/// An agent with a name and one contact point whose contact page is `page`.
fn agent(g: &mut Graph, iri: &Iri, name: Bilingual, page: &Iri) {
    g.link(iri, &rdf_type(), &FOAF.term("Agent"));
    text(g, iri, &FOAF.term("name"), name);
    let contact = fragment(iri, "contact");
    g.link(iri, &CV.term("contactPoint"), &contact);
    g.link(&contact, &rdf_type(), &CV.term("ContactPoint"));
    g.link(&contact, &CV.term("contactPage"), page);
}

fn level_number(level: SecurityLevel) -> u8 {
    level.into()
}

/// The catalogue as a graph, its IRIs under `at`.
pub fn graph(catalogue: &Catalogue, at: &Endpoints) -> Graph {
    let mut g = Graph::default();
    let cat = at.catalogue();
    let ehds = Iri::known(vocab::EHDS);
    let apply = at.application_page();
    g.link(&cat, &rdf_type(), &DCAT.term("Catalog"));
    owned(
        &mut g,
        &cat,
        &DCT.term("title"),
        format!("{}: Datenkatalog der Föderation", catalogue.publisher),
        format!("{}: the federation's data catalogue", catalogue.publisher),
    );
    text(
        &mut g,
        &cat,
        &DCT.term("description"),
        Bilingual {
            de: "Die Daten der Standorte je Datenkategorie, beschrieben nach HealthDCAT-AP. Alle Fallzahlen sind unter Offenlegungskontrolle veröffentlicht: verrauscht, gerundet, kleine Zahlen unterdrückt. Die Daten selbst bleiben an den Standorten; Zugang nur über einen genehmigten Antrag im Portal.",
            en: "The sites' data per data category, described as HealthDCAT-AP. Every count is published under disclosure control: noised, rounded, small counts suppressed. The data stay at the sites; access only through an approved application in the portal.",
        },
    );
    let federation = at.federation();
    g.link(&cat, &DCT.term("publisher"), &federation);
    g.link(&cat, &FOAF.term("homepage"), &at.portal());
    g.link(&at.portal(), &rdf_type(), &FOAF.term("Document"));
    g.link(&cat, &DCATAP.term("applicableLegislation"), &ehds);
    g.value(
        &cat,
        &DCT.term("modified"),
        typed(
            catalogue.modified.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "dateTime",
        ),
    );
    g.link(
        &cat,
        &DCAT.term("themeTaxonomy"),
        &Iri::known(vocab::DATA_THEME.iri),
    );
    let service = at.service();
    g.link(&cat, &DCAT.term("service"), &service);
    for d in &catalogue.datasets {
        g.link(
            &cat,
            &DCAT.term("dataset"),
            &at.dataset(&d.site, d.category),
        );
    }
    g.link(&federation, &rdf_type(), &FOAF.term("Agent"));
    g.value(
        &federation,
        &FOAF.term("name"),
        Literal::Plain(catalogue.publisher.clone()),
    );
    let contact = fragment(&federation, "contact");
    g.link(&federation, &CV.term("contactPoint"), &contact);
    g.link(&contact, &rdf_type(), &CV.term("ContactPoint"));
    g.link(&contact, &CV.term("contactPage"), &at.portal());

    g.link(&service, &rdf_type(), &DCAT.term("DataService"));
    text(
        &mut g,
        &service,
        &DCT.term("title"),
        Bilingual {
            de: "Portal der Föderation: Machbarkeitsanfragen, Anträge, Analysen",
            en: "The federation's portal: feasibility queries, applications, analyses",
        },
    );
    g.link(&service, &DCAT.term("endpointURL"), &at.portal());
    g.link(
        &service,
        &DCT.term("accessRights"),
        &Iri::known(vocab::NON_PUBLIC.iri),
    );
    g.link(&service, &DCATAP.term("applicableLegislation"), &ehds);
    for d in &catalogue.datasets {
        g.link(
            &service,
            &DCAT.term("servesDataset"),
            &at.dataset(&d.site, d.category),
        );
    }

    let committee = at.committee();
    agent(
        &mut g,
        &committee,
        Bilingual {
            de: "Use-and-Access-Komitee der Föderation",
            en: "The federation's use and access committee",
        },
        &apply,
    );
    g.link(&ehds, &rdf_type(), &ELI.term("LegalResource"));
    g.link(&apply, &rdf_type(), &FOAF.term("Document"));
    for d in &catalogue.datasets {
        dataset(&mut g, d, at);
    }
    concept(&mut g, &vocab::NON_PUBLIC, &[DCT.term("RightsStatement")]);
    concept(&mut g, &vocab::HEALTH_THEME, &[]);
    concept(&mut g, &vocab::DATASET_KIND, &[]);
    g
}

fn dataset(g: &mut Graph, d: &Dataset, at: &Endpoints) {
    let t = category_text(d.category);
    let ds = at.dataset(&d.site, d.category);
    let site = d.site.as_str();
    let level = level_number(d.level);
    let apply = at.application_page();
    let ehds = Iri::known(vocab::EHDS);
    g.link(&ds, &rdf_type(), &DCAT.term("Dataset"));
    owned(
        g,
        &ds,
        &DCT.term("title"),
        format!("{}, Standort {site}", t.name.de),
        format!("{}, site {site}", t.name.en),
    );
    owned(
        g,
        &ds,
        &DCT.term("description"),
        format!(
            "{} Sicherheitsstufe {level} (R7). Die Datensätze bleiben am Standort {site}; ausgewertet wird nur föderiert und nach genehmigtem Antrag.",
            t.about.de
        ),
        format!(
            "{} Security level {level} (R7). The records stay at site {site}; they are analysed only federatedly and after an approved application.",
            t.about.en
        ),
    );
    g.value(
        &ds,
        &DCT.term("identifier"),
        Literal::Plain(identifier(&d.site, d.category)),
    );
    let publisher = at.site_agent(&d.site);
    g.link(&ds, &DCT.term("publisher"), &publisher);
    g.link(&publisher, &rdf_type(), &FOAF.term("Agent"));
    owned(
        g,
        &publisher,
        &FOAF.term("name"),
        format!("Standort {site}"),
        format!("Site {site}"),
    );
    let contact = fragment(&publisher, "contact");
    g.link(&publisher, &CV.term("contactPoint"), &contact);
    g.link(&contact, &rdf_type(), &CV.term("ContactPoint"));
    g.link(&contact, &CV.term("contactPage"), &apply);
    // The dataset's contact point: applications go through the portal.
    let kind = fragment(&ds, "contact");
    g.link(&ds, &DCAT.term("contactPoint"), &kind);
    g.link(&kind, &rdf_type(), &VCARD.term("Kind"));
    g.value(
        &kind,
        &VCARD.term("fn"),
        Literal::Plain(format!("OncoFed portal, site {site}")),
    );
    g.link(&kind, &VCARD.term("hasURL"), &apply);
    g.link(
        &ds,
        &DCAT.term("theme"),
        &Iri::known(vocab::HEALTH_THEME.iri),
    );
    g.value(&ds, &DCAT.term("keyword"), lang("Onkologie", "de"));
    g.value(&ds, &DCAT.term("keyword"), lang("oncology", "en"));
    text(g, &ds, &DCAT.term("keyword"), t.name);
    for k in t.keywords {
        text(g, &ds, &DCAT.term("keyword"), *k);
    }
    owned(
        g,
        &ds,
        &DCAT.term("keyword"),
        format!("Sicherheitsstufe {level}"),
        format!("security level {level}"),
    );
    for system in &d.coding_systems {
        g.value(
            &ds,
            &DCAT.term("keyword"),
            Literal::Plain(system.name().to_owned()),
        );
    }
    g.link(&ds, &DCT.term("type"), &Iri::known(vocab::DATASET_KIND.iri));
    g.link(
        &ds,
        &DCT.term("accessRights"),
        &Iri::known(vocab::NON_PUBLIC.iri),
    );
    g.link(&ds, &DCATAP.term("applicableLegislation"), &ehds);
    let provenance = fragment(&ds, "provenance");
    g.link(&ds, &DCT.term("provenance"), &provenance);
    g.link(&provenance, &rdf_type(), &DCT.term("ProvenanceStatement"));
    owned(
        g,
        &provenance,
        &RDFS.term("label"),
        format!(
            "Aus den Primärsystemen des Standorts {site} pseudonymisiert (Treuhandstelle), validiert und in das harmonisierte Modell überführt; Zahlen vom Standort unter Offenlegungskontrolle gemeldet."
        ),
        format!(
            "Pseudonymised (trust centre), validated and mapped to the harmonised model from the primary systems of site {site}; figures reported by the site under disclosure control."
        ),
    );
    let access = fragment(&ds, "access");
    g.link(&ds, &DCAT.term("distribution"), &access);
    g.link(&access, &rdf_type(), &DCAT.term("Distribution"));
    text(
        g,
        &access,
        &DCT.term("title"),
        Bilingual {
            de: "Zugang über einen Antrag im Portal",
            en: "Access through an application in the portal",
        },
    );
    g.link(&access, &DCAT.term("accessURL"), &apply);
    g.link(&access, &DCAT.term("accessService"), &at.service());
    g.link(&access, &DCATAP.term("applicableLegislation"), &ehds);
    g.link(&ds, &DCAT.term("landingPage"), &apply);
    g.link(&ds, &HEALTH.term("hdab"), &at.committee());
    for c in t.health {
        let iri = concept(g, c, &[]);
        g.link(&ds, &HEALTH.term("healthCategory"), &iri);
    }
    for system in &d.coding_systems {
        if let Some(code) = system.code() {
            let iri = Iri::known(&format!("{}/{code}", vocab::CODING_SYSTEM.iri));
            g.link(&ds, &HEALTH.term("hasCodingSystem"), &iri);
            g.link(&iri, &rdf_type(), &SKOS.term("Concept"));
            g.link(&iri, &rdf_type(), &DCT.term("Standard"));
            g.value(&iri, &SKOS.term("prefLabel"), lang(system.name(), "en"));
            let scheme = Iri::known(vocab::CODING_SYSTEM.iri);
            g.link(&iri, &SKOS.term("inScheme"), &scheme);
            g.link(&scheme, &rdf_type(), &SKOS.term("ConceptScheme"));
            g.value(
                &scheme,
                &DCT.term("title"),
                lang(vocab::CODING_SYSTEM.en, "en"),
            );
        }
    }
    g.value(
        &ds,
        &HEALTH.term("numberOfUniqueIndividuals"),
        typed(d.persons.to_string(), "nonNegativeInteger"),
    );
    if let Some(records) = d.records {
        g.value(
            &ds,
            &HEALTH.term("numberOfRecords"),
            typed(records.to_string(), "nonNegativeInteger"),
        );
    }
    g.value(
        &ds,
        &ONCOFED.term("securityLevel"),
        typed(level.to_string(), "positiveInteger"),
    );
    if let Some(span) = d.coverage {
        let period = fragment(&ds, "coverage");
        g.link(&ds, &DCT.term("temporal"), &period);
        g.link(&period, &rdf_type(), &DCT.term("PeriodOfTime"));
        g.value(
            &period,
            &DCAT.term("startDate"),
            typed(format!("{:04}-01-01", span.first), "date"),
        );
        g.value(
            &period,
            &DCAT.term("endDate"),
            typed(format!("{:04}-12-31", span.last), "date"),
        );
    }
    g.link(&ds, &DPV.term("hasPurpose"), &Iri::known(vocab::PURPOSE));
    g.link(
        &Iri::known(vocab::PURPOSE),
        &rdf_type(),
        &DPV.term("Purpose"),
    );
    let basis = fragment(&ds, "legal-basis");
    g.link(&ds, &DPV.term("hasLegalBasis"), &basis);
    g.link(&basis, &rdf_type(), &DPV.term("LegalBasis"));
    if d.category.is_genetic() {
        text(
            g,
            &basis,
            &DCT.term("description"),
            Bilingual {
                de: "Ausdrückliche Einwilligung in die Nutzung genetischer Daten (Art. 9 Abs. 2 lit. a DSGVO); Verarbeitung nur für genehmigte Forschungsvorhaben.",
                en: "Explicit consent to the use of genetic data (GDPR Art. 9(2)(a)); processed only for approved research projects.",
            },
        );
    } else {
        text(
            g,
            &basis,
            &DCT.term("description"),
            Bilingual {
                de: "Forschung im öffentlichen Interesse (Art. 9 Abs. 2 lit. j DSGVO) mit Widerspruchsrecht nach dem Gesundheitsdatennutzungsgesetz (GDNG) oder breite Einwilligung; Verarbeitung nur für genehmigte Forschungsvorhaben.",
                en: "Research in the public interest (GDPR Art. 9(2)(j)) with the right to object under the German Health Data Use Act (GDNG), or broad consent; processed only for approved research projects.",
            },
        );
    }
    match t.table {
        Some((table, variables)) => {
            g.value(
                &ds,
                &HEALTH.term("hasStructuredData"),
                typed("true", "boolean"),
            );
            let group = fragment(&ds, "variables");
            g.link(&ds, &HEALTH.term("hasVariables"), &group);
            g.link(&group, &rdf_type(), &CSVW.term("TableGroup"));
            owned(
                g,
                &group,
                &DCT.term("title"),
                format!("Variablen: {}", t.name.de),
                format!("Variables: {}", t.name.en),
            );
            let tab = fragment(&ds, &format!("table-{table}"));
            g.link(&group, &CSVW.term("table"), &tab);
            g.link(&tab, &rdf_type(), &CSVW.term("Table"));
            g.value(&tab, &DCT.term("title"), Literal::Plain(table.to_owned()));
            for v in variables {
                let col = fragment(&ds, &format!("column-{table}-{}", v.name));
                g.link(&tab, &CSVW.term("column"), &col);
                g.link(&col, &rdf_type(), &CSVW.term("Column"));
                g.value(&col, &CSVW.term("name"), Literal::Plain(v.name.to_owned()));
                g.value(&col, &CSVW.term("title"), Literal::Plain(v.name.to_owned()));
                text(g, &col, &DCT.term("description"), v.about);
                g.value(
                    &col,
                    &CSVW.term("datatype"),
                    Literal::Plain(v.datatype.to_owned()),
                );
            }
        }
        None => {
            g.value(
                &ds,
                &HEALTH.term("hasStructuredData"),
                typed("false", "boolean"),
            );
        }
    }
}
