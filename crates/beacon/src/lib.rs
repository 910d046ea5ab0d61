//! GA4GH Beacon v2 for OncoFed's genomic data, with the defences against
//! membership inference that make a beacon over patients' germline variants
//! acceptable, and the attack that measures them.
//!
//! | module | what |
//! |---|---|
//! | [`model`] | Beacon v2.1.1 wire types: request body and GET parameters, the validated [`model::VariantQuery`] (coordinates, reference names, assemblies), response builders |
//! | [`granularity`] | boolean / count by caller role and data security level; never record level |
//! | [`defence`] | rare-allele suppression or randomisation, per-researcher risk budget per individual, rate and query budget, noised counts; the site/hub split [`defence::site_count`] / [`defence::hub_release`] |
//! | [`attack`] | the Shringarpure–Bustamante likelihood-ratio test and a population simulation measuring its power with and without the defences |
//!
//! Pure library: no I/O, no clock (times are parameters), no global state; the
//! budgets and counters the defences keep are traits the sites and the hub
//! implement over their stores.
//!
//! **Refused on purpose:** record-level answers (result sets), bracket
//! queries, queries without an assembly, parameters of the schema this beacon
//! does not serve (an ignored constraint would answer a broader question than
//! asked), unknown GET parameters.
//!
//! **Hand-written** because the Beacon v2 implementations we know are servers
//! tied to their own storage (the EGA/CRG reference implementations are Python
//! on MongoDB, see `DEPENDENCIES.md`), none implements these defences, and the
//! wire types OncoFed needs are small. They are checked against the official
//! JSON schemas (vendored in `schemas/`, Apache-2.0) with Python `jsonschema`
//! in `tests/schemas.rs`.
pub mod attack;
pub mod defence;
pub mod granularity;
pub mod model;
