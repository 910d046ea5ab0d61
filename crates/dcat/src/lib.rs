//! The federation's data catalogue as HealthDCAT-AP (R20).
//!
//! HealthDCAT-AP is the health extension of DCAT-AP that the European Health
//! Data Space's catalogue (HealthData@EU) reads. OncoFed describes each site's
//! data of each data category as one `dcat:Dataset` (title and description in
//! German and English, publisher = the site, contact point, theme, keywords,
//! access rights NON_PUBLIC, the portal's application page as access route,
//! temporal coverage, health category, coding systems, number of persons and
//! records, the R7 security level, purpose and legal basis), all in one
//! `dcat:Catalog` published by the hub.
//!
//! The crate is pure: [`Catalogue`] holds figures that already passed
//! disclosure control (the sites noise, round and suppress, the hub applies
//! its release rule; see `oncofed-hub`'s catalogue route), [`graph`] turns it
//! into an RDF graph, and [`turtle::write`] and [`jsonld::write`] serialise
//! that one graph, so both formats always carry the same triples.
//!
//! The writers are our own (about 250 lines) rather than an RDF library:
//! the graph has only IRIs checked on construction and literals, so the
//! Turtle writer's one job is escaping literals (tested here, and the output
//! is parsed back by rdflib in the SHACL tests), while sophia or oxigraph would
//! bring their parser and store stacks into the hub's build for it.
//!
//! Conformance is checked against the HealthData@EU validator's NON_PUBLIC
//! shapes of HealthDCAT-AP Release 8 with DCAT-AP 3.0.0, vendored in
//! `shapes/` (`tests/shacl.rs`, and `oncofed-hub`'s `tests/catalogue.rs` on a
//! live federation).

mod build;
pub mod jsonld;
mod model;
pub mod rdf;
pub mod turtle;
pub mod vocab;

pub use build::{Endpoints, graph, identifier};
pub use model::{
    Bilingual, Catalogue, CategoryText, CodingSystem, Dataset, Variable, YearSpan, category_text,
};

/// The catalogue as Turtle (`text/turtle`).
pub fn to_turtle(catalogue: &Catalogue, at: &Endpoints) -> String {
    turtle::write(&graph(catalogue, at))
}

/// The catalogue as JSON-LD (`application/ld+json`).
pub fn to_jsonld(catalogue: &Catalogue, at: &Endpoints) -> serde_json::Value {
    jsonld::write(&graph(catalogue, at))
}

#[cfg(test)]
mod tests;
