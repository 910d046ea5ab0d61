//! Helpers shared by the consent integration tests.

pub mod fhir_xml;
