//! Files: per-site FHIR output, ground truth and the manifest.
//!
//! Everything is streamed through `BufWriter`s one person at a time, so memory stays
//! bounded whatever the cohort size: NDJSON files rotate every
//! [`NDJSON_PATIENTS_PER_FILE`] patients, JSON Bundle files are written entry by entry
//! and closed after `bundle_size` patients. Nothing time- or machine-dependent is
//! written, so the same config gives byte-identical files.

use crate::config::{NDJSON_PATIENTS_PER_FILE, OutputFormat, SynthConfig};
use crate::draw;
use crate::entities::Marker;
use crate::fhir_writer;
use crate::identity::Variation;
use crate::person::Person;
use crate::{SynthError, io_error};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Buffer size of each output file (large writes, few syscalls).
const BUF: usize = 256 * 1024;

/// An open output file that remembers its path for error messages.
pub(crate) struct OutFile {
    path: PathBuf,
    w: BufWriter<File>,
}

impl OutFile {
    pub(crate) fn create(path: PathBuf) -> Result<Self, SynthError> {
        let f = File::create(&path).map_err(io_error(&path))?;
        Ok(Self {
            w: BufWriter::with_capacity(BUF, f),
            path,
        })
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result<(), SynthError> {
        self.w.write_all(bytes).map_err(io_error(&self.path))
    }

    pub(crate) fn json(&mut self, value: &impl Serialize) -> Result<(), SynthError> {
        serde_json::to_writer(&mut self.w, value).map_err(|e| io_error(&self.path)(e.into()))
    }

    pub(crate) fn finish(mut self) -> Result<(), SynthError> {
        self.w.flush().map_err(io_error(&self.path))
    }
}

/// The FHIR output of one site.
pub(crate) struct SiteWriter {
    site: u32,
    dir: PathBuf,
    format: OutputFormat,
    per_file: u64,
    seed: u64,
    file_index: u32,
    in_file: u64,
    current: Option<OutFile>,
    /// Patients written to this site.
    pub(crate) patients: u64,
    /// Bundles written.
    pub(crate) bundles: u64,
}

impl SiteWriter {
    pub(crate) fn new(out_dir: &Path, site: u32, config: &SynthConfig) -> Result<Self, SynthError> {
        let dir = out_dir.join(format!("site-{site}"));
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let per_file = match config.format {
            OutputFormat::Ndjson => NDJSON_PATIENTS_PER_FILE,
            OutputFormat::Json => config.bundle_size as u64,
        };
        Ok(Self {
            site,
            dir,
            format: config.format,
            per_file,
            seed: config.seed,
            file_index: 0,
            in_file: 0,
            current: None,
            patients: 0,
            bundles: 0,
        })
    }

    /// Writes one patient's record; returns the relative path of a newly opened file.
    pub(crate) fn write(&mut self, rec: &crate::SiteRecord) -> Result<Option<String>, SynthError> {
        let mut opened = None;
        if self.current.is_none() || self.in_file == self.per_file {
            self.close()?;
            let name = match self.format {
                OutputFormat::Ndjson => format!("bundles-{:05}.ndjson", self.file_index),
                OutputFormat::Json => format!("bundle-{:05}.json", self.file_index),
            };
            let mut file = OutFile::create(self.dir.join(&name))?;
            if self.format == OutputFormat::Json {
                let stream = (u64::from(self.site) << 32) | u64::from(self.file_index);
                let id = draw::uuid(&mut draw::aux_rng(self.seed, stream));
                file.write(
                    format!(
                        r#"{{"resourceType":"Bundle","id":"{id}","type":"transaction","entry":["#
                    )
                    .as_bytes(),
                )?;
                self.bundles += 1;
            }
            self.current = Some(file);
            self.file_index += 1;
            self.in_file = 0;
            opened = Some(format!("site-{}/{name}", self.site));
        }
        let file = self.current.as_mut().expect("opened above");
        match self.format {
            OutputFormat::Ndjson => {
                file.json(&fhir_writer::bundle(
                    &rec.bundle_uuid,
                    fhir_writer::entries(rec),
                ))?;
                file.write(b"\n")?;
                self.bundles += 1;
            }
            OutputFormat::Json => {
                for (i, e) in fhir_writer::entries(rec).iter().enumerate() {
                    if self.in_file > 0 || i > 0 {
                        file.write(b",")?;
                    }
                    file.json(e)?;
                }
            }
        }
        self.in_file += 1;
        self.patients += 1;
        Ok(opened)
    }

    /// Closes the current file (completing the Bundle in JSON format).
    pub(crate) fn close(&mut self) -> Result<(), SynthError> {
        if let Some(mut f) = self.current.take() {
            if self.format == OutputFormat::Json {
                f.write(b"]}\n")?;
            }
            f.finish()?;
        }
        Ok(())
    }
}

/// `ground-truth/linkage.csv` and `ground-truth/cohort.csv`.
pub(crate) struct GroundTruth {
    linkage: OutFile,
    cohort: OutFile,
}

impl GroundTruth {
    pub(crate) fn new(out_dir: &Path) -> Result<Self, SynthError> {
        let dir = out_dir.join("ground-truth");
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let mut linkage = OutFile::create(dir.join("linkage.csv"))?;
        linkage.write(b"person_id,site,local_id,variation\n")?;
        let mut cohort = OutFile::create(dir.join("cohort.csv"))?;
        let markers: Vec<&str> = Marker::ALL.iter().map(|m| m.as_str()).collect();
        cohort.write(
            format!(
                "person_id,entity,icd10,sex,birth_year,diagnosis_date,age_at_diagnosis,stage,ecog,{},survival_days,event,broad_consent,gdng_objection,genetic_opt_in,withdrawn,n_sites,first_site\n",
                markers.join(",")
            )
            .as_bytes(),
        )?;
        Ok(Self { linkage, cohort })
    }

    /// The files, relative to the output directory.
    pub(crate) const FILES: [&'static str; 2] =
        ["ground-truth/linkage.csv", "ground-truth/cohort.csv"];

    pub(crate) fn write(&mut self, p: &Person) -> Result<(), SynthError> {
        for s in &p.sites {
            let row = format!(
                "{},{},{},{}\n",
                p.person_id,
                s.site,
                s.local_id,
                Variation::label(&s.variations)
            );
            self.linkage.write(row.as_bytes())?;
        }
        self.cohort.write(cohort_row(p).as_bytes())
    }

    pub(crate) fn finish(self) -> Result<(), SynthError> {
        self.linkage.finish()?;
        self.cohort.finish()
    }
}

/// One `cohort.csv` row (with trailing newline).
pub fn cohort_row(p: &Person) -> String {
    use chrono::Datelike;
    let t = &p.truth;
    let b = |x: bool| if x { "1" } else { "0" };
    let markers: Vec<&str> = Marker::ALL
        .iter()
        .map(|&m| t.marker(m).map_or("", b))
        .collect();
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
        p.person_id,
        t.entity,
        t.icd10,
        t.sex.as_fhir(),
        t.birth_date.year(),
        t.diagnosis_date.format("%Y-%m-%d"),
        t.age_at_diagnosis,
        t.stage.map_or("", |s| s.as_str()),
        t.ecog,
        markers.join(","),
        t.survival_days,
        b(t.event),
        b(t.broad_consent),
        b(t.gdng_objection),
        b(t.genetic_opt_in),
        b(t.withdrawn),
        p.sites.len(),
        p.sites[0].site,
    )
}

/// `manifest.json`: what was generated and from what. Deterministic (no timings).
#[derive(Debug, Serialize)]
pub(crate) struct Manifest<'a> {
    pub generator: &'static str,
    pub version: &'static str,
    pub seed: u64,
    pub parameters: &'a SynthConfig,
    pub persons: u64,
    pub patients_per_site: &'a BTreeMap<String, u64>,
    pub resources_by_type: &'a BTreeMap<String, u64>,
    pub bundles: u64,
    pub files: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genomics: Option<&'a crate::genomics::GenomicsSummary>,
}

impl Manifest<'_> {
    pub(crate) fn write(&self, out_dir: &Path) -> Result<(), SynthError> {
        let mut f = OutFile::create(out_dir.join("manifest.json"))?;
        let text = serde_json::to_string_pretty(self).expect("manifest serialises");
        f.write(text.as_bytes())?;
        f.write(b"\n")?;
        f.finish()
    }
}
