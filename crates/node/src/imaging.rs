//! Imaging at the site: DICOM objects in (from folders, or from the C-STORE SCP
//! through [`store_objects`]), linked to the person through the trust centre,
//! de-identified by PS3.15 ([`oncofed_dicom`]), kept content-addressed in the
//! [`ObjectArchive`], and described in the research store by image rows and
//! imaging facts that feasibility criteria query.
//!
//! Per object:
//! 1. read (Part 10 with or without preamble, or a bare data set);
//! 2. the header's identity (Patient ID, names, birth date, sex, an insurance
//!    number) goes to the trust centre — in memory only — which answers with
//!    the person's site and research pseudonyms and date offset, the same as
//!    for the person's FHIR data;
//! 3. PS3.15 de-identification with the site's options (Retain Longitudinal
//!    Temporal Information with Modified Dates by the person's offset, Retain
//!    Patient Characteristics, Clean Descriptors) and its keyed UIDs; then, for
//!    object types that carry burned-in annotation, Clean Pixel Data (region
//!    rules per device, and a text detector that quarantines an object whose
//!    burned-in text no rule covers); head/neck CT/MR volumes are marked to
//!    stay at the site;
//! 4. the de-identified bytes go to the archive; the store gets the image row,
//!    the series and study facts, and a new patient row when the person had none.
//!
//! An object that cannot be read, linked or cleaned goes to quarantine with a
//! reason: a row in the store (no identifying value in it), the report, and a
//! failure status to a C-STORE sender, which keeps the object. Nothing
//! identified is ever written by the node.
//!
//! Dates: objects leave shifted; the store's facts keep the study date on the
//! clock of the person's clinical facts, so that criteria such as "a chest CT
//! within 90 days after the diagnosis" compare like with like inside the site.

pub mod archive;
mod batch;
pub mod deliver;
mod facts;
mod receive;

pub use archive::{ArchiveError, ObjectArchive};
pub use batch::{Incoming, Outcome, store_objects};
pub use facts::SeriesExtras;
pub use receive::NodeSink;

use crate::SharedStore;
use oncofed_dicom::{Deidentifier, PixelCleaner, ProfileOption};
use oncofed_store::StoreError;
use oncofed_trustee_api::{TrusteeClient, TrusteeError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The PS3.15 options a site applies to the objects it keeps: dates shifted per
/// person, patient characteristics (sex, age, size, weight) kept for research,
/// free text cleaned.
pub const SITE_OPTIONS: [ProfileOption; 3] = [
    ProfileOption::RetainLongitudinalModifiedDates,
    ProfileOption::RetainPatientCharacteristics,
    ProfileOption::CleanDescriptors,
];

/// Default cap on one object's size: 2 GiB (an object is held in memory while
/// it is de-identified).
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 2 << 30;

/// How a site de-identifies and where it keeps images.
#[derive(Debug, Clone)]
pub struct ImagingSetup {
    deidentifier: Deidentifier,
    archive: ObjectArchive,
    /// Clean Pixel Data for objects with burned-in annotation (ultrasound,
    /// secondary capture, screenshots): the built-in region rules and the
    /// text detector; replace with [`ImagingSetup::with_pixel_rules`].
    pixels: PixelCleaner,
    /// Objects larger than this are quarantined unread.
    pub max_object_bytes: u64,
    /// Objects per trust-centre round and store transaction.
    pub batch_objects: usize,
}

impl ImagingSetup {
    /// The site's setup: [`SITE_OPTIONS`], UIDs replaced under `uid_key` (a
    /// secret of the site, e.g. `oncofed_service::tokens::new_token` written
    /// to a file), objects kept in `archive`.
    pub fn new(uid_key: &[u8; 32], archive: ObjectArchive) -> Self {
        let deidentifier =
            Deidentifier::new(SITE_OPTIONS, uid_key).expect("the site options are compatible");
        Self {
            deidentifier,
            archive,
            pixels: PixelCleaner::default_rules(),
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            batch_objects: 64,
        }
    }

    /// Cleans burned-in annotation with `cleaner` (e.g. the site's own rule
    /// file, [`PixelCleaner::from_file`]) instead of the built-in rules.
    pub fn with_pixel_rules(mut self, cleaner: PixelCleaner) -> Self {
        self.pixels = cleaner;
        self
    }

    /// The pixel cleaner.
    pub fn pixels(&self) -> &PixelCleaner {
        &self.pixels
    }

    /// The archive the objects go to.
    pub fn archive(&self) -> &ObjectArchive {
        &self.archive
    }

    /// The de-identifier (options and UID key).
    pub fn deidentifier(&self) -> &Deidentifier {
        &self.deidentifier
    }
}

/// What an imaging ingest did: counts, never values.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImagingReport {
    /// Files read.
    pub files: usize,
    /// Objects de-identified and stored (new or again).
    pub objects_stored: usize,
    /// Of those, objects the store did not hold before.
    pub objects_new: usize,
    /// Distinct persons the stored objects belong to.
    pub patients: usize,
    /// Distinct series the stored objects belong to.
    pub series: usize,
    /// Bytes read.
    pub bytes_read: u64,
    /// De-identified bytes written to the archive.
    pub bytes_stored: u64,
    /// Stored objects of head or neck CT/MR volumes, which stay at the site
    /// (a face could be reconstructed; no defacing is applied).
    pub face_risk_objects: usize,
    /// Quarantined objects by reason code.
    pub quarantined: BTreeMap<String, usize>,
    /// One line per quarantined object: where from, and why.
    pub quarantine: Vec<String>,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Objects stored per second.
    pub objects_per_second: f64,
}

impl ImagingReport {
    /// Adds one object's outcome.
    pub fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Stored {
                bytes,
                new,
                face_risk,
                ..
            } => {
                self.objects_stored += 1;
                self.objects_new += usize::from(*new);
                self.bytes_stored += bytes;
                self.face_risk_objects += usize::from(*face_risk);
            }
            Outcome::Quarantined {
                source,
                code,
                reason,
            } => {
                *self.quarantined.entry(code.clone()).or_default() += 1;
                self.quarantine.push(format!("{source}: {reason}"));
            }
        }
    }

    /// Objects quarantined in all.
    pub fn quarantined_total(&self) -> usize {
        self.quarantined.values().sum()
    }
}

/// Why an imaging run stopped (objects that could not be stored are
/// quarantined, not errors of the run).
#[derive(Debug, thiserror::Error)]
pub enum ImagingError {
    /// The input could not be listed.
    #[error("cannot read input {path}: {source}")]
    Discover {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The trust centre failed; nothing of the current batch was written.
    #[error("imaging ingest stopped, nothing of the current batch was written: {0}")]
    Trustee(#[from] TrusteeError),
    /// The store failed; the current batch's transaction was rolled back.
    #[error("imaging ingest stopped, the current batch was rolled back: {0}")]
    Store(#[from] StoreError),
    /// The archive failed; the current batch's rows were not written.
    #[error("imaging ingest stopped, the current batch's rows were not written: {0}")]
    Archive(#[from] ArchiveError),
}

/// Whether `path` holds DICOM rather than FHIR: a `.dcm`/`.dicom` name, the
/// `DICM` marker of a Part 10 file, or a bare little-endian data set that
/// starts with a group 0008 or 0002 element. FHIR's `.json`/`.ndjson` never
/// are; anything unreadable is left to the FHIR reader's error.
pub fn is_dicom_file(path: &Path) -> bool {
    use std::io::Read;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("json" | "ndjson" | "jsonl") => return false,
        Some("dcm" | "dicom") => return true,
        _ => {}
    }
    let mut head = [0u8; 132];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let n = f.read(&mut head).unwrap_or(0);
    if n >= 132 && &head[128..132] == b"DICM" {
        return true;
    }
    n >= 8 && matches!(head[..2], [0x08, 0x00] | [0x02, 0x00]) && head[4].is_ascii_uppercase()
}

/// The DICOM files under `paths` (files, or folders walked recursively), in a
/// stable order. Hidden files and `DICOMDIR` index files are skipped.
pub fn dicom_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ImagingError> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), ImagingError> {
        let err = |source| ImagingError::Discover {
            path: p.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(p).map_err(err)?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(err)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for e in entries {
                let hidden = e
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.') || n.eq_ignore_ascii_case("DICOMDIR"));
                if !hidden {
                    walk(&e, out)?;
                }
            }
        } else if is_dicom_file(p) {
            out.push(p.to_path_buf());
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out)?;
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Ingests the DICOM files under `paths` into `store` and the archive,
/// linking each object's person through `trustee`. `progress(done, total)` is
/// called in bytes. Idempotent: the same files give the same UIDs, keys and
/// rows again.
pub async fn ingest_dicom(
    store: &SharedStore,
    trustee: &TrusteeClient,
    setup: &ImagingSetup,
    paths: &[PathBuf],
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<ImagingReport, ImagingError> {
    let files = dicom_files(paths)?;
    ingest_dicom_files(store, trustee, setup, &files, progress).await
}

/// [`ingest_dicom`] of files already listed by [`dicom_files`] (a caller that
/// needs the list first, e.g. to learn whether there is any DICOM at all,
/// does not walk and sniff the folders twice).
pub async fn ingest_dicom_files(
    store: &SharedStore,
    trustee: &TrusteeClient,
    setup: &ImagingSetup,
    files: &[PathBuf],
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<ImagingReport, ImagingError> {
    let started = Instant::now();
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let mut report = ImagingReport {
        files: files.len(),
        ..Default::default()
    };
    let mut patients = std::collections::BTreeSet::new();
    let mut series = std::collections::BTreeSet::new();
    let mut done = 0;
    for chunk in files.chunks(setup.batch_objects.max(1)) {
        let chunk = chunk.to_vec();
        let max = setup.max_object_bytes;
        let (items, bytes) = tokio::task::spawn_blocking(move || batch::read_files(&chunk, max))
            .await
            .expect("reading DICOM files panicked");
        report.bytes_read += bytes;
        done += bytes;
        let outcomes = store_objects(store, trustee, setup, items).await?;
        for o in &outcomes {
            if let Outcome::Stored {
                pseudonym,
                series_uid,
                ..
            } = o
            {
                patients.insert(pseudonym.clone());
                series.insert(series_uid.clone());
            }
            report.count(o);
        }
        progress(done, total);
    }
    report.patients = patients.len();
    report.series = series.len();
    report.seconds = started.elapsed().as_secs_f64();
    report.objects_per_second = report.objects_stored as f64 / report.seconds.max(1e-9);
    Ok(report)
}

/// The site's DICOM UID key from `path` (64 hex digits), created owner-only
/// with a fresh random key when the file does not exist yet. Keep it: with
/// another key the same study gets other UIDs, and re-ingested objects would
/// be stored twice.
pub fn load_or_create_uid_key(path: &Path) -> std::io::Result<[u8; 32]> {
    if !path.exists() {
        oncofed_service::tokens::write_secret(path, &oncofed_service::tokens::new_token())?;
    }
    let text = std::fs::read_to_string(path)?;
    let bad = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} must hold 64 hex digits (a DICOM UID key); restore the site's key file",
                path.display()
            ),
        )
    };
    let bytes = hex::decode(text.trim()).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}
