//! Sequencing output at the site (issue 16; seed §5.3): the VCF/BCF files of a
//! pipeline in, linked to the person through the trust centre, kept only
//! encrypted with Crypt4GH to the site's key, and described in the research
//! store by variant calls in the harmonised model ([`GeneticVariant`]) that the
//! `variant` and `marker` feasibility criteria, the analysis variables and the
//! Beacon answer from.
//!
//! # The batch a pipeline exports
//!
//! A directory with VCF or BCF files (plain, gzip or BGZF; `oncofed-vcf` tells
//! them by their bytes) and `samples.csv` (RFC 4180, a header row):
//! `file,sample,patient_id,family,given,birth_date,sex,collected,origin`, one row
//! per sample column of each file. `sample` is the column's name in the file's
//! header (a lab sample id: identifying, never stored); `patient_id` the site-local
//! patient number; family, given, birth date and sex the identifying data the trust
//! centre links on; `collected` the sample date (the calls' date of origin for
//! consent); `origin` (`germline`, `somatic` or empty) the pipeline's declaration,
//! used when the header does not tell (Mutect2's `##tumor_sample`, Strelka's
//! `TUMOR`/`NORMAL`, VCF 4.3 `##SAMPLE`/`##PEDIGREE` and the `SOMATIC` flag win).
//!
//! # What the node does with it
//!
//! 1. parses the manifest and every file in full, on a blocking thread: every
//!    header column must have its row and every row its column; an error names
//!    the file, the line and the field (`oncofed_vcf::VcfError`) and the batch
//!    lands nothing;
//! 2. links each person through the trust centre (in memory only);
//! 3. encrypts each person's file with Crypt4GH to the site's key and stores it
//!    in the [`ObjectArchive`] under `sequences/`: a one-person file as it came
//!    (tumour and normal of one person are one person), a multi-person file as
//!    one extract per person holding only their columns, renamed to keyed ids and
//!    without the header lines that can carry identifying data, so that a
//!    withdrawal deletes a person's genome and nothing of anyone else's;
//! 4. writes, in one store transaction, the patient rows it lacks, one
//!    [`SequenceFileRow`] per person and file, one [`VariantRow`] per call, and a
//!    molecular fact (the gene, "present") per protein-altering call of a known
//!    gene, so that the FHIR marker criterion and the `gene:` variable see
//!    variants from VCFs as they see FHIR marker observations.
//!
//! Sample ids and file contents never reach the research store or an error text;
//! files, calls and facts are keyed by digests under the site secret
//! ([`SequenceKeys`]), so a batch ingested again updates the same rows and
//! stores no second object.

mod deliver;
mod harmonise;
mod manifest;

pub use harmonise::harmonise;

pub use deliver::{DeliveryError, RegionDelivery, RegionQuery, SequenceRequest, deliver_region};
pub use manifest::{SAMPLES_FILE, SAMPLES_HEADER};

use crate::SharedStore;
use crate::imaging::{ArchiveError, ObjectArchive};
use crate::persons::{LinkError, Linked};
use hmac::{Hmac, Mac};
use oncofed_crypt4gh::{PublicKey, SecretKey};
use oncofed_model::{Pseudonym, VariantLocus, VariantOrigin};
use oncofed_store::{FactKey, SequenceFileRow, StoreError, StoredFact, VariantRow, WriteBatch};
use oncofed_trustee_api::{TrusteeClient, TrusteeError};
use oncofed_vcf::{Call, ReadOptions, VcfError, VcfReader};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The archive prefix of sequencing files.
pub const ARCHIVE_PREFIX: &str = "sequences";

/// Default cap on one submitted file: 2 GiB (read into memory for the
/// atomic parse and the encryption).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 2 << 30;

/// The site's keyed ids of sequencing files, sample columns and calls:
/// HMAC-SHA-256 under the site secret over a domain label and the lab's data,
/// 32 hex digits.
#[derive(Clone)]
pub struct SequenceKeys {
    key: [u8; 32],
}

impl std::fmt::Debug for SequenceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SequenceKeys(…)")
    }
}

impl SequenceKeys {
    /// Keys under the site secret `key`.
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn digest(&self, domain: &str, parts: &[&[u8]]) -> String {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        mac.update(domain.as_bytes());
        for p in parts {
            mac.update(&[0]);
            mac.update(p);
        }
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// The key of a submitted file: over its bytes' SHA-256.
    pub fn file(&self, bytes: &[u8]) -> String {
        use sha2::Digest;
        self.digest("oncofed-sequence-file", &[&sha2::Sha256::digest(bytes)])
    }

    /// The name a person's sample column gets in an extract: `S` and a keyed
    /// digest of the lab's sample id.
    pub fn sample(&self, sample_id: &str) -> String {
        format!(
            "S{}",
            &self.digest("oncofed-sequence-sample", &[sample_id.trim().as_bytes()])[..16]
        )
    }

    /// The key of a call: file, column and allele.
    pub fn call(&self, file_key: &str, column: usize, locus: &VariantLocus) -> String {
        self.digest(
            "oncofed-variant-call",
            &[
                file_key.as_bytes(),
                column.to_string().as_bytes(),
                locus.chrom.as_bytes(),
                locus.pos.to_string().as_bytes(),
                locus.reference.as_bytes(),
                locus.alternate.as_bytes(),
            ],
        )
    }
}

/// Where sequencing files go, how they are encrypted and keyed.
#[derive(Clone)]
pub struct GenomicsSetup {
    /// The site's object archive (shared with DICOM and cell images).
    pub archive: ObjectArchive,
    /// The site's keyed ids.
    pub keys: SequenceKeys,
    /// The site's Crypt4GH key: files at rest are encrypted to its public half.
    pub site_key: SecretKey,
    /// Larger files stop the batch unread.
    pub max_file_bytes: u64,
}

impl std::fmt::Debug for GenomicsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenomicsSetup")
            .field("max_file_bytes", &self.max_file_bytes)
            .finish_non_exhaustive()
    }
}

impl GenomicsSetup {
    /// Files into `archive`, encrypted to `site_key`, ids keyed under `key`.
    pub fn new(archive: ObjectArchive, key: [u8; 32], site_key: SecretKey) -> Self {
        Self {
            archive,
            keys: SequenceKeys::new(key),
            site_key,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

/// The site's Crypt4GH key from `path` (the c4gh private-key format Python's
/// `crypt4gh-keygen --nocrypt` writes), created owner-only with a fresh key
/// when the file does not exist yet. Keep it: the site's sequencing files at
/// rest can be read only with it.
pub fn load_or_create_site_key(path: &Path) -> Result<SecretKey, oncofed_crypt4gh::Crypt4ghError> {
    if !path.exists() {
        oncofed_crypt4gh::write_secret_key_file(path, &SecretKey::generate()?)?;
    }
    SecretKey::from_file(path, None)
}

/// Why a sequencing batch landed nothing. Texts name files, lines and fields,
/// never a sample id, a name or a genotype.
#[derive(Debug, thiserror::Error)]
pub enum GenomicsError {
    /// A manifest row is wrong.
    #[error("{0}; nothing of the batch was stored")]
    Manifest(#[from] crate::batch_csv::ManifestError),
    /// A file does not parse, or contradicts its declared build.
    #[error("{0}; nothing of the batch was stored")]
    Vcf(#[from] VcfError),
    /// A file's header and the manifest disagree.
    #[error("{file}: {message}; nothing of the batch was stored")]
    Columns {
        /// The file.
        file: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A file cannot be read.
    #[error("cannot read {path}: {message}; nothing of the batch was stored")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error or the limit.
        message: String,
    },
    /// The trust centre refused a person.
    #[error(
        "samples.csv row {row}: the trust centre refused the person ({code}); nothing of the batch was stored"
    )]
    Refused {
        /// 1-based line of the person's first row.
        row: usize,
        /// The trust centre's code.
        code: String,
    },
    /// The trust centre failed.
    #[error("sequencing ingest stopped, nothing of the batch was written: {0}")]
    Trustee(#[from] TrusteeError),
    /// Encryption failed.
    #[error("sequencing ingest stopped, nothing of the batch was written: {0}")]
    Crypt4gh(#[from] oncofed_crypt4gh::Crypt4ghError),
    /// The archive failed.
    #[error("sequencing ingest stopped, the batch's rows were not written: {0}")]
    Archive(#[from] ArchiveError),
    /// The store failed; its transaction was rolled back.
    #[error("sequencing ingest stopped, the batch's transaction was rolled back: {0}")]
    Store(#[from] StoreError),
}

impl From<LinkError> for GenomicsError {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::Refused { row, code } => Self::Refused { row, code },
            LinkError::Trustee(e) => Self::Trustee(e),
        }
    }
}

/// What a sequencing ingest did: counts, never values.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GenomicsReport {
    /// Files read.
    pub files: usize,
    /// Encrypted objects stored (one per person and file).
    pub objects: usize,
    /// Of those, already stored by an earlier run.
    pub objects_existing: usize,
    /// Distinct persons.
    pub patients: usize,
    /// Of those, persons the store did not hold before.
    pub patients_new: usize,
    /// Somatic calls.
    pub somatic_calls: usize,
    /// Germline calls.
    pub germline_calls: usize,
    /// Calls per gene (annotated or mapped by the gene table).
    pub per_gene: BTreeMap<String, usize>,
    /// Molecular facts written.
    pub facts: usize,
    /// VCF records read (each data line once, multi-allelic or not).
    pub records: u64,
    /// Records and alleles skipped (unknown contigs, symbolic alleles, reference blocks).
    pub skipped: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Encrypted bytes stored.
    pub bytes_stored: u64,
    /// Persons left out because they withdrew consent: the trust centre refused
    /// them (issue 18, the tombstone) and nothing of theirs was stored.
    pub withdrawn: usize,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Whether `dir` is a sequencing batch: a directory holding `samples.csv`.
pub fn is_sequencing_batch(dir: &Path) -> bool {
    dir.is_dir() && dir.join(manifest::SAMPLES_FILE).is_file()
}

/// One file after parsing.
struct ParsedFile {
    path: PathBuf,
    bytes: Vec<u8>,
    rows: Vec<manifest::SampleEntry>,
    /// For each header column, its manifest row (index into `rows`).
    column_rows: Vec<usize>,
    build: oncofed_model::GenomeBuild,
    calls: Vec<Call>,
    /// How it was read (the declared origin), for cutting extracts.
    opts: ReadOptions,
}

/// Reads and parses every file of the manifest (blocking).
fn parse_all(
    dir: &Path,
    max_bytes: u64,
    report: &mut GenomicsReport,
) -> Result<Vec<ParsedFile>, GenomicsError> {
    let manifest_path = dir.join(manifest::SAMPLES_FILE);
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| GenomicsError::Read {
        path: manifest_path.clone(),
        message: e.to_string(),
    })?;
    let by_file = manifest::samples(&text, dir)?;
    let mut out = Vec::with_capacity(by_file.len());
    for (path, rows) in by_file {
        let read_error = |message: String| GenomicsError::Read {
            path: path.clone(),
            message,
        };
        let len = std::fs::metadata(&path)
            .map_err(|e| read_error(e.to_string()))?
            .len();
        if len > max_bytes {
            return Err(read_error(format!(
                "the file has {len} bytes, over the limit of {max_bytes}"
            )));
        }
        let bytes = std::fs::read(&path).map_err(|e| read_error(e.to_string()))?;
        report.bytes_read += len;
        let declared: BTreeSet<VariantOrigin> = rows.iter().filter_map(|r| r.origin).collect();
        if declared.len() > 1 {
            return Err(GenomicsError::Columns {
                file: path,
                message: "samples.csv declares both germline and somatic for this file: give one origin per file".into(),
            });
        }
        let opts = ReadOptions {
            declared_origin: declared.first().copied(),
            ..ReadOptions::default()
        };
        let mut reader =
            VcfReader::from_reader(Box::new(std::io::Cursor::new(bytes.clone())), &path, &opts)?;
        let mut column_rows = Vec::with_capacity(reader.samples().len());
        for (i, column) in reader.samples().iter().enumerate() {
            let row = rows.iter().position(|r| r.sample == column.name).ok_or_else(|| {
                GenomicsError::Columns {
                    file: path.clone(),
                    message: format!(
                        "sample column {} of the header has no row in samples.csv: add one naming its person",
                        i + 1
                    ),
                }
            })?;
            column_rows.push(row);
        }
        if let Some(r) = rows
            .iter()
            .enumerate()
            .find(|(i, _)| !column_rows.contains(i))
        {
            return Err(GenomicsError::Columns {
                file: path.clone(),
                message: format!(
                    "samples.csv row {} names a sample column the file's header does not have",
                    r.1.person.row
                ),
            });
        }
        let mut calls: Vec<Call> = Vec::new();
        while let Some(record) = reader.next_record() {
            report.records += 1;
            calls.extend(record?);
        }
        let skipped = reader.skip_counts();
        report.skipped += skipped.unknown_contig
            + skipped.too_many_alleles
            + skipped.filtered
            + skipped.reference_block
            + skipped.symbolic
            + skipped.spanning_deletion;
        out.push(ParsedFile {
            build: reader.build(),
            path,
            bytes,
            rows,
            column_rows,
            calls,
            opts,
        });
    }
    Ok(out)
}

/// Ingests the sequencing batch in `dir` (see the module docs): all of it, or
/// nothing on any error. Idempotent: the same batch gives the same keys and
/// rows and stores no second object.
pub async fn ingest_sequencing(
    store: &SharedStore,
    trustee: &TrusteeClient,
    setup: &GenomicsSetup,
    dir: &Path,
) -> Result<GenomicsReport, GenomicsError> {
    let started = Instant::now();
    let dir_owned = dir.to_path_buf();
    let max = setup.max_file_bytes;
    let (files, mut report) = tokio::task::spawn_blocking(move || {
        let mut report = GenomicsReport::default();
        parse_all(&dir_owned, max, &mut report).map(|f| (f, report))
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
    report.files = files.len();

    let linked = crate::persons::link(
        trustee,
        files.iter().flat_map(|f| f.rows.iter().map(|r| &r.person)),
    )
    .await?;

    let site_pk = setup.site_key.public_key();
    let mut batch = WriteBatch {
        patients: linked.patient_rows(),
        ..Default::default()
    };
    for file in files {
        store_file(
            store,
            setup,
            &site_pk,
            &linked,
            file,
            &mut batch,
            &mut report,
        )
        .await?;
    }
    report.patients = linked.len();
    report.withdrawn = linked.withdrawn();
    report.facts = batch.facts.len();
    let patients_new = crate::with_store(store, move |s| {
        let wanted: Vec<Pseudonym> = batch.patients.iter().map(|p| p.pseudonym.clone()).collect();
        let existing = s.existing_patients(&wanted)?;
        batch.patients.retain(|p| !existing.contains(&p.pseudonym));
        let n = batch.patients.len();
        s.write(&batch)?;
        Ok(n)
    })
    .await?;
    report.patients_new = patients_new;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Encrypts and archives one file's objects (one per person) and adds its rows.
async fn store_file(
    store: &SharedStore,
    setup: &GenomicsSetup,
    site_pk: &PublicKey,
    linked: &Linked,
    file: ParsedFile,
    batch: &mut WriteBatch,
    report: &mut GenomicsReport,
) -> Result<(), GenomicsError> {
    let keys = &setup.keys;
    let file_key = keys.file(&file.bytes);
    // The file's persons and their columns.
    let mut persons: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (column, &row) in file.column_rows.iter().enumerate() {
        persons
            .entry(file.rows[row].person.patient_id.clone())
            .or_default()
            .push(column);
    }
    let whole = persons.len() == 1;
    for (patient_id, columns) in &persons {
        if linked.is_withdrawn(patient_id) {
            continue;
        }
        let Some(pair) = linked.get(patient_id) else {
            return Err(GenomicsError::Refused {
                row: file.rows[file.column_rows[columns[0]]].person.row,
                code: "no-answer".into(),
            });
        };
        let psn = pair.site.clone();
        let calls: Vec<&Call> = file
            .calls
            .iter()
            .filter(|c| columns.contains(&c.sample))
            .collect();
        let origin = calls
            .first()
            .map(|c| c.origin)
            .or_else(|| file.rows.iter().find_map(|r| r.origin))
            .unwrap_or(VariantOrigin::Germline);
        let collected = file.rows[file.column_rows[columns[0]]].collected;
        // The same file of the same person stored before: keep its object.
        let existing = {
            let psn = psn.clone();
            crate::with_store(store, move |s| s.sequence_files_of(&[psn])).await?
        };
        let (object_key, bytes) = match existing.iter().find(|f| f.file_key == file_key) {
            Some(f) => {
                report.objects_existing += 1;
                (f.object_key.clone(), f.bytes)
            }
            None => {
                let plain = if whole {
                    file.bytes.clone()
                } else {
                    person_extract(&file, columns, keys)?
                };
                let mut sealed = Vec::with_capacity(plain.len() + plain.len() / 2048 + 1024);
                oncofed_crypt4gh::encrypt(
                    plain.as_slice(),
                    &mut sealed,
                    None,
                    std::slice::from_ref(site_pk),
                    None,
                )?;
                let bytes = sealed.len() as u64;
                report.bytes_stored += bytes;
                (
                    setup.archive.put_under(ARCHIVE_PREFIX, sealed).await?,
                    bytes,
                )
            }
        };
        report.objects += 1;
        batch.sequence_files.push(SequenceFileRow {
            object_key: object_key.clone(),
            pseudonym: psn.clone(),
            file_key: file_key.clone(),
            build: file.build,
            origin,
            calls: calls.len() as u64,
            bytes,
            collected,
            whole,
        });
        for call in calls {
            let variant = harmonise(call, file.build);
            let Some(locus) = &variant.locus else {
                continue;
            };
            let call_key = keys.call(&file_key, call.sample, locus);
            match variant.origin {
                VariantOrigin::Somatic => report.somatic_calls += 1,
                VariantOrigin::Germline => report.germline_calls += 1,
            }
            if let Some(g) = &variant.gene {
                *report.per_gene.entry(g.clone()).or_default() += 1;
            }
            if let Some(fact) = harmonise::marker_fact(&variant, call, collected) {
                batch.facts.push(StoredFact {
                    key: FactKey::derive(&psn, &format!("VariantCall/{call_key}")),
                    pseudonym: psn.clone(),
                    fact,
                });
            }
            batch.variants.push(VariantRow {
                call_key,
                pseudonym: psn.clone(),
                object_key: object_key.clone(),
                collected,
                filter_pass: call.filter_pass,
                variant,
            });
        }
    }
    Ok(())
}

/// A multi-person file's extract for one person: their columns, renamed to
/// keyed ids, without identifying header lines.
fn person_extract(
    file: &ParsedFile,
    columns: &[usize],
    keys: &SequenceKeys,
) -> Result<Vec<u8>, GenomicsError> {
    let rename: Vec<String> = columns
        .iter()
        .map(|&c| keys.sample(&file.rows[file.column_rows[c]].sample))
        .collect();
    let mut out = Vec::new();
    oncofed_vcf::write_extract(
        &file.path,
        &file.opts,
        columns,
        &rename,
        None,
        &mut out,
        oncofed_vcf::ExtractFormat::Vcf,
    )?;
    Ok(out)
}
