//! DICOM at the site: de-identification by DICOM PS3.15 Annex E.
//!
//! [`Deidentifier`] applies the Basic Application Level Confidentiality
//! Profile (Table E.1-1, every row and action code, recursively inside
//! sequences; private attributes removed) with the options a research site
//! needs ([`ProfileOption`]): Retain Longitudinal Temporal Information with
//! Modified Dates (one offset per person, given by the caller, so intervals
//! survive to the day), Retain Patient Characteristics, Clean Descriptors
//! ([`DescriptorCleaner`]: the person's own identifying strings and common
//! identifier patterns masked in free text), and the Retain options for UIDs,
//! device and institution identity. UIDs are replaced under a key
//! ([`UidMapper`]: `2.25.` UIDs from a keyed hash, identical in every run and
//! process holding the key). The markers are written: Patient Identity
//! Removed, De-identification Method and its Code Sequence with the CID 7050
//! codes of what was applied, Longitudinal Temporal Information Modified.
//!
//! Why by hand on dicom-rs: no Rust crate implements PS3.15 with its options
//! (`dicom-anonymization` 0.3 hashes identifiers without a key, writes UIDs
//! that fail validation and no markers; see `shared/DEPENDENCIES.md`). The
//! table itself is data (`profile/`, from the standard via Innolitics'
//! parser), so the code holds the rules of applying it, not the rows.
//!
//! [`identity::read`] takes the person's IDAT from the header for the trust
//! centre (in memory only), so images and clinical facts meet under one
//! pseudonym.
//!
//! Reading ([`read::open`]: Part 10 files, with or without preamble, and bare
//! data sets), writing and the DICOM network come from dicom-rs
//! (`dicom-object`, `dicom-core`). [`Deidentifier::deidentify_file`] writes a
//! file from a file and copies native pixel data at the end of the file
//! without reading it into memory.

mod clean;
mod dates;
mod deid;
pub mod identity;
mod markers;
pub mod profile;
pub mod read;
mod stream;
mod uid;

pub use clean::DescriptorCleaner;
pub use deid::{
    DeidError, DeidReport, Deidentifier, IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME,
    Subject,
};
pub use profile::ProfileOption;
pub use stream::FileDeidError;
pub use uid::UidMapper;
