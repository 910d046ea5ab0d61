//! Cell images at the site (issue 15; seed §5.1): single-cell images of bone-marrow
//! and blood smears in, linked to the person through the trust centre, cleaned to
//! bare pixels, kept content-addressed in the [`ObjectArchive`] beside the DICOM
//! objects, and described in the research store by smear, cell and label rows and
//! per-smear facts (cell counts per class and the blast percentage) that the
//! `cytology` feasibility criterion queries.
//!
//! # The batch a lab exports
//!
//! A directory with two CSV files (RFC 4180, UTF-8, a header row):
//! - `smears.csv`: `smear_id,patient_id,family,given,birth_date,sex,specimen,stain,scanner,magnification,collected`.
//!   `patient_id` is the site-local patient number (the one the site's FHIR and DICOM
//!   data use); family, given, birth date (YYYY-MM-DD) and sex
//!   (female|male|other|unknown) are the identifying data the trust centre links on;
//!   `specimen` is `bone-marrow` or `peripheral-blood`; `collected` YYYY-MM-DD.
//! - `cells.csv`: `smear_id,cell_id,file,label` and optionally `x,y,width,height`.
//!   `file` is relative to the batch directory (PNG, JPEG or TIFF); `label` a
//!   `CellClass` code or empty; the box, when given, crops a single cell out of a
//!   whole-field image (as Pascal VOC annotations such as the BCCD data set's give).
//!
//! # What the node does with it
//!
//! 1. parses both files in full (an error names the file, the row and the field);
//! 2. decodes every image, crops its box, and re-encodes the RGB pixels as PNG
//!    with no metadata chunk ([`pixels`]): text, EXIF or ICC data a lab's software
//!    wrote never reach the archive; a file that does not decode stops the batch
//!    (and is recorded in the store's quarantine as [`UNDECODABLE`] for the
//!    quality report);
//! 3. sends each person's identifying data to the trust centre — in memory only —
//!    and gets the site and research pseudonyms (the same as for the person's FHIR
//!    and DICOM data);
//! 4. writes the PNGs to the archive under `cells/sha256/…` and, in one store
//!    transaction, the patient rows it lacks, the smear and cell rows and the
//!    recomputed smear facts ([`facts`]).
//!
//! **Atomic per batch**: any error before step 4 lands nothing. The lab's smear and
//! cell ids are never stored: the store keys rows by keyed digests ([`CellKeys`],
//! HMAC-SHA-256 under a site secret), so the same batch ingested again updates the
//! same rows, and a key says nothing to someone without the site's secret.
//!
//! Consent is enforced when cells are read for use ([`training_cells`]): category
//! pathology, dated by the smear's collection date.

pub mod facts;
mod labels;
pub mod manifest;
pub mod pixels;
mod train;

pub use labels::{LabelError, LabelReport, classify_cells, import_validated};
pub use train::{
    CellSample, Prediction, SplitPart, TrainingError, recount_smear_facts, split_part,
    training_cells, write_labels, write_predictions,
};

use crate::SharedStore;
use crate::imaging::{ArchiveError, ObjectArchive};
use hmac::{Hmac, Mac};
use oncofed_model::{CellClass, Pseudonym};
use oncofed_store::{CellRow, PatientRow, QuarantineRow, SmearRow, StoreError, WriteBatch};
use oncofed_trustee_api::{TrusteeClient, TrusteeError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The quarantine reason code of an image file of a cell batch that did not
/// decode: the batch lands nothing, the store records the file (path and
/// reason, no value of it) for the quality report.
pub const UNDECODABLE: &str = "cell-undecodable";

/// The archive prefix of cell images (DICOM objects are under `dicom/`).
pub const ARCHIVE_PREFIX: &str = "cells";

/// Default cap on one image file: 256 MiB (a whole-field TIFF can be large; it
/// is decoded in memory).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 256 << 20;

/// The site's keyed ids of smears and cells: HMAC-SHA-256 under the site's
/// secret over a domain label and the lab's id, 32 hex digits. Labs number
/// smears and cells in ways that can point back to a person at the lab; the
/// store only ever sees these digests. The expert-validation tools key the
/// lab's cell ids of an annotation file the same way ([`CellKeys::cell`]).
#[derive(Clone)]
pub struct CellKeys {
    key: [u8; 32],
}

impl std::fmt::Debug for CellKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CellKeys(…)")
    }
}

impl CellKeys {
    /// Keys under the site secret `key` (e.g. the site's DICOM UID key file,
    /// [`crate::imaging::load_or_create_uid_key`]; the domain labels keep the
    /// uses apart).
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn digest(&self, domain: &str, id: &str) -> String {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(id.trim().as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// The store key of the lab's smear id.
    pub fn smear(&self, smear_id: &str) -> String {
        self.digest("oncofed-cell-smear", smear_id)
    }

    /// The store key of the lab's cell id (cell ids are unique at a site).
    pub fn cell(&self, cell_id: &str) -> String {
        self.digest("oncofed-cell", cell_id)
    }
}

/// Where cell images go and how their ids are keyed.
#[derive(Debug, Clone)]
pub struct CellSetup {
    /// The site's object archive (shared with DICOM).
    pub archive: ObjectArchive,
    /// The site's keyed ids.
    pub keys: CellKeys,
    /// Larger image files stop the batch unread.
    pub max_file_bytes: u64,
}

impl CellSetup {
    /// Images into `archive`, ids keyed under `key`.
    pub fn new(archive: ObjectArchive, key: [u8; 32]) -> Self {
        Self {
            archive,
            keys: CellKeys::new(key),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

/// Why a cell batch landed nothing. Texts name files, rows and fields, never a
/// value of a row (names and birth dates stay out of logs).
#[derive(Debug, thiserror::Error)]
pub enum CellError {
    /// A manifest row is wrong.
    #[error("{file} row {row}{}: {message}", field_part(.field))]
    Manifest {
        /// `smears.csv` or `cells.csv`.
        file: String,
        /// 1-based line.
        row: usize,
        /// The column, empty for the whole row.
        field: String,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// An image file cannot be read or decoded, or its crop box is wrong.
    #[error("cells.csv row {row}, field file ({path}): {message}; nothing of the batch was stored")]
    Image {
        /// 1-based line of `cells.csv`.
        row: usize,
        /// The image file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A manifest file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The trust centre refused a person.
    #[error(
        "smears.csv row {row}: the trust centre refused the person ({code}); nothing of the batch was stored"
    )]
    Refused {
        /// 1-based line of `smears.csv` (the person's first smear).
        row: usize,
        /// The trust centre's code.
        code: String,
    },
    /// The trust centre failed.
    #[error("cell ingest stopped, nothing of the batch was written: {0}")]
    Trustee(#[from] TrusteeError),
    /// The archive failed.
    #[error("cell ingest stopped, the batch's rows were not written: {0}")]
    Archive(#[from] ArchiveError),
    /// The store failed; its transaction was rolled back.
    #[error("cell ingest stopped, the batch's transaction was rolled back: {0}")]
    Store(#[from] StoreError),
}

impl From<crate::batch_csv::ManifestError> for CellError {
    fn from(e: crate::batch_csv::ManifestError) -> Self {
        Self::Manifest {
            file: e.file,
            row: e.row,
            field: e.field,
            message: e.message,
        }
    }
}

fn field_part(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!(", field {field}")
    }
}

impl CellError {
    pub(crate) fn manifest(
        file: &str,
        row: usize,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::Manifest {
            file: file.to_owned(),
            row,
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// What a cell ingest did: counts, never values.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CellReport {
    /// Smears stored.
    pub smears: usize,
    /// Cells stored.
    pub cells: usize,
    /// Distinct persons.
    pub patients: usize,
    /// Of those, persons the store did not hold before.
    pub patients_new: usize,
    /// Cells per lab label (`unlabelled` for none), in code order.
    pub per_class: BTreeMap<String, usize>,
    /// Cells cropped out of whole-field images.
    pub cropped: usize,
    /// Image bytes read (a whole-field file once per run of its rows).
    pub bytes_read: u64,
    /// Cleaned PNG bytes written to the archive.
    pub bytes_stored: u64,
    /// Smear facts written (counts and blast percentages).
    pub facts: usize,
    /// Persons left out because they withdrew consent: the trust centre refused
    /// them (issue 18, the tombstone) and nothing of theirs was stored.
    pub withdrawn: usize,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Whether `dir` is a cell batch: a directory holding `smears.csv` and `cells.csv`.
pub fn is_cell_batch(dir: &Path) -> bool {
    dir.is_dir() && dir.join("smears.csv").is_file() && dir.join("cells.csv").is_file()
}

fn read_text(path: PathBuf) -> Result<String, CellError> {
    std::fs::read_to_string(&path).map_err(|source| CellError::Read { path, source })
}

/// A cell after its pixels were cleaned.
struct Cleaned {
    smear_id: String,
    cell_id: String,
    label: Option<CellClass>,
    png: pixels::CleanPng,
}

/// Reads, decodes, crops and re-encodes every cell of the manifest (blocking).
fn clean_all(
    cells: Vec<manifest::CellEntry>,
    max_bytes: u64,
    report: &mut CellReport,
) -> Result<Vec<Cleaned>, CellError> {
    let mut out = Vec::with_capacity(cells.len());
    // Whole-field images carry many boxes, usually on consecutive rows: the
    // last decoded file is kept, so a field is read and decoded once per run
    // of its rows.
    let mut last: Option<(PathBuf, image::DynamicImage)> = None;
    for c in cells {
        let fail = |message: String| CellError::Image {
            row: c.row,
            path: c.file.clone(),
            message,
        };
        if last.as_ref().is_none_or(|(p, _)| *p != c.file) {
            let len = std::fs::metadata(&c.file)
                .map_err(|e| fail(format!("cannot read the file: {e}")))?
                .len();
            if len > max_bytes {
                return Err(fail(format!(
                    "the file has {len} bytes, over the limit of {max_bytes}"
                )));
            }
            let bytes =
                std::fs::read(&c.file).map_err(|e| fail(format!("cannot read the file: {e}")))?;
            report.bytes_read += len;
            last = Some((c.file.clone(), pixels::decode(&bytes).map_err(fail)?));
        }
        let png = match &last {
            Some((_, decoded)) => pixels::crop_encode(decoded, c.crop).map_err(fail)?,
            None => return Err(fail("the image was not decoded".into())),
        };
        report.cropped += usize::from(c.crop.is_some());
        out.push(Cleaned {
            smear_id: c.smear_id,
            cell_id: c.cell_id,
            label: c.label,
            png,
        });
    }
    Ok(out)
}

/// Ingests the cell batch in `dir` (see the module docs): all of it, or nothing
/// on any error. Idempotent: the same batch gives the same keys, objects and rows.
pub async fn ingest_cells(
    store: &SharedStore,
    trustee: &TrusteeClient,
    setup: &CellSetup,
    dir: &Path,
) -> Result<CellReport, CellError> {
    let started = Instant::now();
    let mut report = CellReport::default();
    // 1–2. Manifest and pixels, on a blocking thread.
    let dir_owned = dir.to_path_buf();
    let max = setup.max_file_bytes;
    let read = tokio::task::spawn_blocking(move || {
        let smears = manifest::smears(&read_text(dir_owned.join("smears.csv"))?)?;
        let known: BTreeMap<String, usize> = smears
            .iter()
            .enumerate()
            .map(|(i, s)| (s.smear_id.clone(), i))
            .collect();
        let cells = manifest::cells(&read_text(dir_owned.join("cells.csv"))?, &dir_owned, &known)?;
        let cleaned = clean_all(cells, max, &mut report)?;
        Ok::<_, CellError>((smears, cleaned, report))
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let (smears, cleaned, mut report) = match read {
        Ok(read) => read,
        Err(e) => {
            if let CellError::Image { path, message, .. } = &e {
                let row = QuarantineRow {
                    source: path.display().to_string(),
                    reason_code: UNDECODABLE.to_owned(),
                    reason: message.clone(),
                    at: chrono::Utc::now(),
                };
                crate::with_store(store, move |s| {
                    s.write(&WriteBatch {
                        quarantine: vec![row],
                        ..Default::default()
                    })
                })
                .await?;
            }
            return Err(e);
        }
    };

    // 3. The trust centre, once per local patient id (first row's data).
    let persons: Vec<crate::persons::BatchPerson> = smears
        .iter()
        .map(|s| crate::persons::BatchPerson {
            row: s.row,
            patient_id: s.patient_id.clone(),
            family: s.family.clone(),
            given: s.given.clone(),
            birth_date: s.birth_date,
            sex: s.sex,
        })
        .collect();
    let linked = crate::persons::link(trustee, &persons)
        .await
        .map_err(|e| match e {
            crate::persons::LinkError::Refused { row, code } => CellError::Refused { row, code },
            crate::persons::LinkError::Trustee(e) => CellError::Trustee(e),
        })?;
    drop(persons);

    // 4. Archive, then one transaction.
    let keys = &setup.keys;
    let mut smear_rows: Vec<SmearRow> = Vec::with_capacity(smears.len());
    // Smears of persons who withdrew: left out with their cells.
    let mut left_out: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for s in &smears {
        if linked.is_withdrawn(&s.patient_id) {
            left_out.insert(s.smear_id.as_str());
            continue;
        }
        let Some(pair) = linked.get(&s.patient_id) else {
            return Err(CellError::Refused {
                row: s.row,
                code: "no-answer".into(),
            });
        };
        smear_rows.push(SmearRow {
            smear_key: keys.smear(&s.smear_id),
            pseudonym: pair.site.clone(),
            specimen: s.specimen,
            stain: s.stain.clone(),
            scanner: s.scanner.clone(),
            magnification: s.magnification.clone(),
            collected: s.collected,
        });
    }
    let patients: Vec<PatientRow> = linked.patient_rows();
    report.withdrawn = linked.withdrawn();
    let cleaned: Vec<_> = cleaned
        .into_iter()
        .filter(|c| !left_out.contains(c.smear_id.as_str()))
        .collect();
    drop(left_out);
    drop(smears);
    let mut cell_rows = Vec::with_capacity(cleaned.len());
    for c in cleaned {
        *report
            .per_class
            .entry(c.label.map_or("unlabelled", CellClass::code).to_owned())
            .or_default() += 1;
        report.bytes_stored += c.png.bytes.len() as u64;
        let object_key = setup.archive.put_under(ARCHIVE_PREFIX, c.png.bytes).await?;
        cell_rows.push(CellRow {
            cell_key: keys.cell(&c.cell_id),
            smear_key: keys.smear(&c.smear_id),
            object_key,
            width: c.png.width,
            height: c.png.height,
            lab_label: c.label,
        });
    }
    report.smears = smear_rows.len();
    report.cells = cell_rows.len();
    report.patients = patients.len();
    let (patients_new, facts) =
        crate::with_store(store, move |s| write(s, patients, smear_rows, cell_rows)).await?;
    report.patients_new = patients_new;
    report.facts = facts;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Writes new patients, smears, cells and the smears' recomputed facts in one
/// transaction, under the store lock. Returns (new patients, facts written).
fn write(
    s: &mut dyn oncofed_store::ResearchStore,
    patients: Vec<PatientRow>,
    smears: Vec<SmearRow>,
    cells: Vec<CellRow>,
) -> Result<(usize, usize), StoreError> {
    let wanted: Vec<Pseudonym> = patients.iter().map(|p| p.pseudonym.clone()).collect();
    let existing = s.existing_patients(&wanted)?;
    let new: Vec<PatientRow> = patients
        .into_iter()
        .filter(|p| !existing.contains(&p.pseudonym))
        .collect();
    let patients_new = new.len();
    // Facts over every cell of the smears: those stored before and these.
    let smear_keys: Vec<String> = smears.iter().map(|s| s.smear_key.clone()).collect();
    let mut all: BTreeMap<String, CellRow> = s
        .cells_of(&smear_keys)?
        .into_iter()
        .map(|c| (c.cell_key.clone(), c))
        .collect();
    for c in &cells {
        all.insert(c.cell_key.clone(), c.clone());
    }
    let all: Vec<CellRow> = all.into_values().collect();
    let cell_keys: Vec<String> = all.iter().map(|c| c.cell_key.clone()).collect();
    let labels = s.cell_labels_of(&cell_keys)?;
    let facts = train::facts_of(&smears, &all, &labels);
    let n = facts.len();
    s.write(&WriteBatch {
        patients: new,
        facts,
        smears,
        cells,
        ..Default::default()
    })?;
    Ok((patients_new, n))
}

/// The distinct smear keys of `cells`.
fn smears_of_cells(cells: &[CellRow]) -> Vec<String> {
    cells
        .iter()
        .map(|c| c.smear_key.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_keyed_and_separate_smears_from_cells() {
        let a = CellKeys::new([1; 32]);
        assert_eq!(a.cell("BM-2024-0001/17"), a.cell(" BM-2024-0001/17 "));
        assert_eq!(a.cell("x").len(), 32);
        assert_ne!(a.cell("x"), a.smear("x"), "domains are separate");
        assert_ne!(
            a.cell("x"),
            CellKeys::new([2; 32]).cell("x"),
            "keyed by the site"
        );
        assert!(!a.smear("BM-2024-0001").contains("2024"));
        assert_eq!(format!("{a:?}"), "CellKeys(…)");
    }
}
