//! `oncofed synth`: the synthetic cohort generator.

use crate::output::{count_bar, print_json};
use clap::{Args, ValueEnum};
use oncofed_synth::{OutputFormat, SynthConfig};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// One transaction Bundle per patient per line (`site-k/bundles-00000.ndjson`).
    Ndjson,
    /// Bundle files of --bundle-size patients (`site-k/bundle-00000.json`).
    Json,
}

/// Generate a synthetic hematology/oncology cohort as FHIR R4 transaction bundles.
///
/// Seven entities (AML, CLL, DLBCL, myeloma, breast, NSCLC, colorectal) with
/// survival from a Weibull model with real covariate effects; some persons are
/// treated at two or three sites with varied identifying data. The ground truth
/// (who is who, outcomes, consents) goes to `OUT/ground-truth/`. Same seed, same bytes.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output directory (must be empty or missing).
    #[arg(long)]
    out: PathBuf,
    /// Number of sites.
    #[arg(long, default_value_t = 3)]
    sites: u32,
    /// Number of persons (a person treated at two sites is one person).
    #[arg(long, default_value_t = 1000)]
    patients: u64,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// File layout.
    #[arg(long, value_enum, default_value_t = Format::Ndjson)]
    format: Format,
    /// Patients per Bundle file with --format json.
    #[arg(long, default_value_t = 100)]
    bundle_size: usize,
    /// Also write a staging CT (DICOM, identified as the site's modality
    /// would write it) for this share of the persons, 0 to 1, into
    /// OUT/site-<k>/imaging/, with OUT/ground-truth/imaging.csv.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    imaging: f64,
    /// Also write bone-marrow and blood smears (64×64 single-cell images,
    /// drawn with class morphology and each site's stain and scanner) for
    /// this share of the persons with a haematological diagnosis, 0 to 1,
    /// into OUT/site-<k>/cells/ (smears.csv, cells.csv without labels, PNG
    /// files), with the true labels in OUT/ground-truth/cells-site-<k>.csv.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    cells: f64,
    /// Cell images per smear with --cells.
    #[arg(long, value_name = "N", default_value_t = 40)]
    cells_per_smear: usize,
    /// Also write sequencing output for this share of the persons, 0 to 1:
    /// a Mutect2-style tumour/normal VCF with the person's FHIR markers as
    /// real hotspot variants, and a germline VCF of background variants drawn
    /// from a neutral allele-frequency spectrum (BRCA1/2 in some breast
    /// cancers), into OUT/site-<k>/genomics/ with samples.csv; the truth and
    /// the population frequencies in OUT/ground-truth/.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    vcf_share: f64,
    /// Sites of the germline background panel with --vcf-share.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    vcf_panel: usize,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// What `oncofed synth` prints: the cohort and, with --imaging, its studies.
#[derive(serde::Serialize)]
struct Summary {
    #[serde(flatten)]
    cohort: oncofed_synth::SynthSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    imaging: Option<oncofed_synth::ImagingSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cells: Option<oncofed_synth::CellsSummary>,
}

pub fn run(a: SynthArgs) -> anyhow::Result<ExitCode> {
    let config = SynthConfig {
        seed: a.seed,
        sites: a.sites,
        persons: a.patients,
        format: match a.format {
            Format::Ndjson => OutputFormat::Ndjson,
            Format::Json => OutputFormat::Json,
        },
        bundle_size: a.bundle_size,
        genomics: (a.vcf_share > 0.0).then(|| oncofed_synth::GenomicsConfig {
            share: a.vcf_share,
            panel_size: a.vcf_panel,
            ..Default::default()
        }),
        ..SynthConfig::default()
    };
    let bar = count_bar(a.json, a.patients, "synth");
    let summary = oncofed_synth::generate(&config, &a.out, &mut |done| bar.set_position(done))?;
    bar.finish_and_clear();
    let imaging = (a.imaging > 0.0)
        .then(|| oncofed_synth::write_imaging(&config, &a.out, a.imaging))
        .transpose()?;
    let cells = (a.cells > 0.0)
        .then(|| oncofed_synth::write_cells(&config, &a.out, a.cells, a.cells_per_smear))
        .transpose()?;
    if a.json {
        print_json(&Summary {
            cohort: summary,
            imaging,
            cells,
        })?;
    } else {
        let resources: u64 = summary.resources_by_type.values().sum();
        println!(
            "{} persons, {} resources in {} bundles, {:.1} s ({:.0} persons/s) → {}",
            summary.persons,
            resources,
            summary.bundles,
            summary.elapsed_seconds,
            summary.persons as f64 / summary.elapsed_seconds.max(1e-9),
            a.out.display()
        );
        for (site, n) in &summary.patients_per_site {
            println!("  {site}: {n} patients");
        }
        if let Some(g) = &summary.genomics {
            println!(
                "{} persons sequenced: {} tumour/normal and {} germline VCFs in <site>/genomics/",
                g.persons_sequenced, g.somatic_files, g.germline_files
            );
        }
        if let Some(i) = imaging {
            println!(
                "{} staging CTs ({} DICOM objects) in <site>/imaging/",
                i.studies, i.objects
            );
        }
        if let Some(c) = cells {
            println!(
                "{} smears ({} cell images) in <site>/cells/",
                c.smears, c.cells
            );
            for (entity, pct) in &c.blast_percent_by_entity {
                println!("  {entity}: mean blast share {pct:.1} %");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
