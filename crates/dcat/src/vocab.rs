//! The vocabularies the catalogue uses: namespaces, and the concepts of the EU
//! Named Authority Lists and the HealthData@EU code lists it cites.
//!
//! Concept IRIs were read from HealthDCAT-AP Release 8's validator code lists
//! (`catalogue/healthcategories.rdf`, `catalogue/coding-system.rdf`, see
//! `shapes/README.md`) and from the EU Publications Office's authority tables
//! (`access-right`, `data-theme`, `dataset-type`). The labels are short English and
//! German labels of our own, not copies of the code lists' labels.

use crate::rdf::Iri;

/// A namespace with its usual prefix.
#[derive(Debug, Clone, Copy)]
pub struct Namespace {
    /// The prefix (`dcat`).
    pub prefix: &'static str,
    /// The namespace IRI.
    pub iri: &'static str,
}

impl Namespace {
    /// The term `local` of this namespace.
    pub fn term(self, local: &str) -> Iri {
        Iri::known(&format!("{}{local}", self.iri))
    }
}

macro_rules! namespaces {
    ($($(#[$doc:meta])* $name:ident = $prefix:literal, $iri:literal;)*) => {
        $($(#[$doc])* pub const $name: Namespace = Namespace { prefix: $prefix, iri: $iri };)*
        /// Every namespace, in the order the writers declare them.
        pub const ALL: &[Namespace] = &[$($name),*];
    };
}

namespaces! {
    /// RDF.
    RDF = "rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
    /// RDF Schema.
    RDFS = "rdfs", "http://www.w3.org/2000/01/rdf-schema#";
    /// XML Schema datatypes.
    XSD = "xsd", "http://www.w3.org/2001/XMLSchema#";
    /// DCAT 3.
    DCAT = "dcat", "http://www.w3.org/ns/dcat#";
    /// DCAT-AP's own terms (`applicableLegislation`, ...).
    DCATAP = "dcatap", "http://data.europa.eu/r5r/";
    /// Dublin Core terms.
    DCT = "dct", "http://purl.org/dc/terms/";
    /// FOAF.
    FOAF = "foaf", "http://xmlns.com/foaf/0.1/";
    /// vCard (DCAT contact points).
    VCARD = "vcard", "http://www.w3.org/2006/vcard/ns#";
    /// Core Public Organisation / Core Vocabularies (HealthDCAT-AP agents' contact points).
    CV = "cv", "http://data.europa.eu/m8g/";
    /// SKOS.
    SKOS = "skos", "http://www.w3.org/2004/02/skos/core#";
    /// HealthDCAT-AP (Release 8 namespace).
    HEALTH = "healthdcatap", "http://healthdataportal.eu/ns/health#";
    /// Data Privacy Vocabulary (purpose, legal basis).
    DPV = "dpv", "https://w3id.org/dpv#";
    /// CSV on the Web (variables of structured datasets).
    CSVW = "csvw", "http://www.w3.org/ns/csvw#";
    /// ELI (legislation).
    ELI = "eli", "http://data.europa.eu/eli/ontology#";
    /// OncoFed's own catalogue terms (the R7 security level).
    ONCOFED = "oncofed", "https://oncofed.example/ns/catalogue#";
}

/// `rdf:type`.
pub fn rdf_type() -> Iri {
    RDF.term("type")
}

/// A concept of a code list: IRI, scheme, English and German label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concept {
    /// The concept's IRI.
    pub iri: &'static str,
    /// Its concept scheme.
    pub scheme: &'static Scheme,
    /// English label.
    pub en: &'static str,
    /// German label.
    pub de: &'static str,
}

/// A concept scheme (code list).
#[derive(Debug, PartialEq, Eq)]
pub struct Scheme {
    /// The scheme's IRI.
    pub iri: &'static str,
    /// English title.
    pub en: &'static str,
}

/// The EU access-right authority table.
pub static ACCESS_RIGHT: Scheme = Scheme {
    iri: "http://publications.europa.eu/resource/authority/access-right",
    en: "Access right",
};
/// The EU data-theme authority table.
pub static DATA_THEME: Scheme = Scheme {
    iri: "http://publications.europa.eu/resource/authority/data-theme",
    en: "Data theme",
};
/// The EU dataset-type authority table.
pub static DATASET_TYPE: Scheme = Scheme {
    iri: "http://publications.europa.eu/resource/authority/dataset-type",
    en: "Dataset type",
};
/// HealthData@EU's health categories (EHDS Article 51).
pub static HEALTH_CATEGORIES: Scheme = Scheme {
    iri: "https://hdeu-dcat.data.health.europa.eu/resource/authority/healthcategories",
    en: "Health categories (EHDS Article 51)",
};
/// HealthData@EU's coding systems.
pub static CODING_SYSTEM: Scheme = Scheme {
    iri: "https://hdeu-dcat.data.health.europa.eu/resource/authority/coding-system",
    en: "Coding systems",
};

/// `access-right/NON_PUBLIC`: every OncoFed dataset holds pseudonymised
/// individual-level health data reachable only through an approved application.
pub const NON_PUBLIC: Concept = Concept {
    iri: "http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC",
    scheme: &ACCESS_RIGHT,
    en: "non-public",
    de: "nicht öffentlich",
};
/// `data-theme/HEAL` (HealthDCAT-AP requires it on every dataset).
pub const HEALTH_THEME: Concept = Concept {
    iri: "http://publications.europa.eu/resource/authority/data-theme/HEAL",
    scheme: &DATA_THEME,
    en: "Health",
    de: "Gesundheit",
};
/// The dataset type (`dct:type`, mandatory in the NON_PUBLIC profile):
/// `dataset-type/STATISTICAL`, as HealthDCAT-AP Release 8's own examples type a
/// health dataset. The EU table has no entry for record-level personal data that
/// we could verify; the description says that the records stay at the site.
pub const DATASET_KIND: Concept = Concept {
    iri: "http://publications.europa.eu/resource/authority/dataset-type/STATISTICAL",
    scheme: &DATASET_TYPE,
    en: "Statistical data",
    de: "Statistische Daten",
};

/// Health category `EHRS`: electronic health data from health records.
pub const EHRS: Concept = Concept {
    iri: "https://hdeu-dcat.data.health.europa.eu/resource/authority/healthcategories/EHRS",
    scheme: &HEALTH_CATEGORIES,
    en: "Electronic health data from electronic health records",
    de: "Elektronische Gesundheitsdaten aus Patientenakten",
};
/// Health category `HGPD`: human genetic, epigenomic and genomic data.
pub const HGPD: Concept = Concept {
    iri: "https://hdeu-dcat.data.health.europa.eu/resource/authority/healthcategories/HGPD",
    scheme: &HEALTH_CATEGORIES,
    en: "Human genetic, epigenomic and genomic data",
    de: "Humangenetische, epigenomische und genomische Daten",
};

/// The EHDS regulation, Regulation (EU) 2025/327 (ELI), which HealthDCAT-AP
/// requires as `dcatap:applicableLegislation`.
pub const EHDS: &str = "http://data.europa.eu/eli/reg/2025/327/oj";

/// DPV purpose of every OncoFed use: research and development.
pub const PURPOSE: &str = "https://w3id.org/dpv#ResearchAndDevelopment";
