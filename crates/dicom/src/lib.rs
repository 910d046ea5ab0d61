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
//! Pixels ([`pixels`]): Clean Pixel Data (PS3.15 E.3.1) for the objects
//! [`burned_in_risk`] names (ultrasound, secondary capture, screen
//! captures, Burned In Annotation YES). [`PixelCleaner`] blanks the
//! rectangles a rule table gives per Manufacturer, Model Name and image
//! size (`pixels/regions.json`, or a site's own file) in native pixel data,
//! then runs a burned-in text detector over every frame and refuses
//! ([`PixelRefusal`]) an object with text no rule covered, or with
//! compressed pixel data (no decoder is compiled in), so the node
//! quarantines it. After cleaning, Burned In Annotation is NO and the CID
//! 7050 code 113101 is in the De-identification Method Code Sequence; run it
//! after [`Deidentifier::deidentify`], which writes that sequence anew. The
//! rule table is JSON read with `serde_json`, already compiled for the
//! profile table: it costs no build time (a TOML reader would add the
//! `toml` crate and its parser to every build of the node).
//!
//! The face policy ([`recognisable_face_risk`], Clean Recognizable Visual
//! Features, PS3.15 E.3.2): a CT, MR or PET object is a head-and-neck
//! volume, whose series could be rendered into a recognisable face, when its
//! Body Part Examined names the head, neck, brain, skull, face or a part of
//! them or the whole body; or an Anatomic Region Sequence code does (SNOMED
//! CT or SNOMED RT); or Study Description, Series Description or Protocol
//! Name holds such a word (English or German: HEAD, BRAIN, KOPF, SCHÄDEL,
//! CCT, HALS, NNH, GANZKÖRPER…); or the MR receive coil is a head or neck
//! coil, or the CT dose was set for the 16 cm head phantom. The node keeps
//! such objects at the site and refuses to deliver them; no defacing is
//! implemented, so Clean Recognizable Visual Features is never claimed. The
//! rule reads the header only: an unlabelled head scan is missed.
//!
//! Why by hand: no Rust crate cleans DICOM pixel data. dicom-rs decodes and
//! encodes pixels (`dicom-pixeldata`) but has no notion of burned-in
//! regions; the known tools (CTP's DicomPixelAnonymizer, pydicom/deid's
//! filters, Slicer's ultrasound anonymiser) are Java and Python. Blanking
//! rectangles in native pixel data is simple once the layout is read
//! strictly; the rules are data.
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
pub mod pixels;
pub mod profile;
pub mod read;
mod stream;
mod uid;

pub use clean::DescriptorCleaner;
pub use deid::{
    DeidError, DeidReport, Deidentifier, IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME,
    Subject,
};
pub use pixels::{
    BurnedInRisk, PixelCleaner, PixelOutcome, PixelRefusal, Region, burned_in_risk,
    recognisable_face_risk,
};
pub use profile::ProfileOption;
pub use stream::FileDeidError;
pub use uid::UidMapper;
