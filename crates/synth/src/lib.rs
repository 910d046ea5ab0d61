//! Deterministic generator of a synthetic hematology/oncology cohort across sites as
//! FHIR R4 bundles, with linkage ground truth.
//!
//! OncoFed needs realistic test data that no patient ever gave: persons with AML, CLL,
//! DLBCL, myeloma, breast, lung and colorectal cancer, treated at one to three sites,
//! each site holding its own (slightly different) copy of the identifying data and
//! its share of the clinical record, shaped like the German MII core data set
//! (`docs/fhir-profile.md`). Survival follows a Weibull proportional-hazards model
//! with known effects ([`mod@person`] module docs), so analyses can be checked against the
//! truth written to `ground-truth/`.
//!
//! - [`generate`] writes a whole cohort to a directory, streaming one person at a time.
//! - [`person()`] draws one person in memory (for other crates' tests), and
//!   [`patient_bundle`] renders one site's record as a FHIR transaction Bundle.
//!
//! Output layout (`out_dir/`):
//! - `site-<k>/bundles-NNNNN.ndjson` (default) or `site-<k>/bundle-NNNNN.json`
//! - `ground-truth/linkage.csv`: `person_id,site,local_id,variation`
//! - `ground-truth/cohort.csv`: person-level truth
//! - `manifest.json`: seed, parameters, counts, files
//! - with [`SynthConfig::genomics`]: `site-<k>/genomics/` (VCFs and
//!   `samples.csv`), `ground-truth/genomics.csv` and
//!   `ground-truth/background-panel.tsv` ([`mod@genomics`])
//!
//! Optional modalities on top of a cohort: [`write_imaging`] (staging CTs as
//! DICOM), [`write_cells`] (smears of single-cell images, see [`mod@cyto`])
//! and sequencing output (tumour/normal and germline VCFs, see
//! [`mod@genomics`]), which [`generate`] writes itself when
//! [`SynthConfig::genomics`] is set.
//!
//! Same [`SynthConfig`] → byte-identical output: every person has its own ChaCha8
//! stream derived from (seed, person index), and nothing depends on time or threads.

mod clinical;
mod config;
pub mod cyto;
mod draw;
mod entities;
mod fhir_writer;
mod findings;
pub mod genomics;
mod identity;
mod imaging;
mod json;
mod names;
mod output;
pub mod person;
mod record;
mod therapy;
pub mod vocabulary;

pub use config::{
    ConsentRates, MAX_SITES, MultiSiteRates, NDJSON_PATIENTS_PER_FILE, OutputFormat, SynthConfig,
    VariationRates,
};
pub use cyto::{CellsSummary, ClassMix, SiteStyle, cell_samples, draw_cell, write_cells};
pub use entities::{ENTITIES, Entity, EntitySpec, Localisation, Marker, Stage};
pub use fhir_writer::{
    ECOG_SYSTEM, MII_BROAD_CONSENT_POLICY, MII_CONSENT_POLICY_SYSTEM, ONCOFED_CONSENT_SYSTEM,
    THERAPY_LINE_EXTENSION, TNM_SYSTEM, patient_bundle, write_patient_bundle,
};
pub use genomics::{
    GenomicsConfig, GenomicsSiteStyle, GenomicsSummary, PanelSite, background_panel,
    person_background_genotypes, person_genome_seed, write_genomics,
};
pub use identity::Variation;
pub use imaging::{ImagingSummary, write_imaging};
pub use output::cohort_row;
pub use person::{Person, person};
pub use record::{
    Condition, Consent, ConsentKind, Medication, ObsValue, Observation, Procedure, Resource,
    ResourceBody, SiteRecord, Truth,
};

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A parameter is out of range (message says which and why).
    #[error("invalid synth configuration: {0}")]
    InvalidConfig(String),
    /// The output directory already holds files; refusing to mix two cohorts.
    #[error("output directory {} is not empty: choose a new or empty directory", path.display())]
    OutputNotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// Reading or writing a file failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Maps an I/O error to [`SynthError::Io`] naming `path`.
pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What [`generate`] wrote (the CLI prints it; the manifest holds the same counts).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynthSummary {
    /// Persons generated.
    pub persons: u64,
    /// Patients (FHIR Patient resources) per site id.
    pub patients_per_site: BTreeMap<String, u64>,
    /// Resources written per FHIR resource type (Bundles not included).
    pub resources_by_type: BTreeMap<String, u64>,
    /// Bundles written.
    pub bundles: u64,
    /// Files written, relative to the output directory, `/`-separated.
    pub files_written: Vec<String>,
    /// Sequencing output, when [`SynthConfig::genomics`] asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genomics: Option<GenomicsSummary>,
    /// Wall-clock seconds.
    pub elapsed_seconds: f64,
}

/// How often (in persons) `progress` is called.
const PROGRESS_EVERY: u64 = 100;

/// Generates the cohort described by `config` into `out_dir` (created if missing; must
/// be empty), calling `progress` with the number of persons done.
///
/// Memory stays bounded: one person is drawn, written to every site it belongs to
/// and to the ground truth, then dropped.
pub fn generate(
    config: &SynthConfig,
    out_dir: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<SynthSummary, SynthError> {
    let started = Instant::now();
    config.validate()?;
    if out_dir.exists() {
        let mut entries = std::fs::read_dir(out_dir).map_err(io_error(out_dir))?;
        if entries.next().is_some() {
            return Err(SynthError::OutputNotEmpty {
                path: out_dir.to_path_buf(),
            });
        }
    }
    std::fs::create_dir_all(out_dir).map_err(io_error(out_dir))?;

    let mut sites = (1..=config.sites)
        .map(|k| output::SiteWriter::new(out_dir, k, config))
        .collect::<Result<Vec<_>, _>>()?;
    let mut truth = output::GroundTruth::new(out_dir)?;
    let mut files: Vec<Vec<String>> = vec![Vec::new(); config.sites as usize];
    let mut resources: BTreeMap<String, u64> = BTreeMap::new();
    let mut genomics = match &config.genomics {
        Some(g) => Some(genomics::GenomicsWriter::new(config, g, out_dir)?),
        None => None,
    };

    for index in 0..config.persons {
        let p = person::person(config, index);
        for rec in &p.sites {
            let k = site_number(rec);
            if let Some(name) = sites[k - 1].write(rec)? {
                files[k - 1].push(name);
            }
            *resources.entry("Patient".to_owned()).or_default() += 1;
            for r in &rec.resources {
                *resources.entry(r.resource_type().to_owned()).or_default() += 1;
            }
        }
        truth.write(&p)?;
        if let Some(g) = &mut genomics {
            g.write_person(&p)?;
        }
        if (index + 1) % PROGRESS_EVERY == 0 || index + 1 == config.persons {
            progress(index + 1);
        }
    }
    for s in &mut sites {
        s.close()?;
    }
    truth.finish()?;
    let genomics = genomics.map(|g| g.finish()).transpose()?;

    let patients_per_site: BTreeMap<String, u64> = sites
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("site-{}", i + 1), s.patients))
        .collect();
    let bundles = sites.iter().map(|s| s.bundles).sum();
    let mut files_written: Vec<String> = files.into_iter().flatten().collect();
    files_written.extend(output::GroundTruth::FILES.iter().map(|s| s.to_string()));
    if let Some(g) = &genomics {
        files_written.extend(g.files.iter().cloned());
    }
    files_written.push("manifest.json".to_owned());
    output::Manifest {
        generator: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        seed: config.seed,
        parameters: config,
        persons: config.persons,
        patients_per_site: &patients_per_site,
        resources_by_type: &resources,
        bundles,
        files: &files_written,
        genomics: genomics.as_ref(),
    }
    .write(out_dir)?;

    Ok(SynthSummary {
        persons: config.persons,
        patients_per_site,
        resources_by_type: resources,
        bundles,
        files_written,
        genomics,
        elapsed_seconds: started.elapsed().as_secs_f64(),
    })
}

/// The 1-based number of a generated site id (`site-<k>`).
fn site_number(rec: &SiteRecord) -> usize {
    rec.site.as_str()["site-".len()..]
        .parse()
        .expect("generated site ids are site-<k>")
}
