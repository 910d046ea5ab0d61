//! `oncofed node ingest`: FHIR and DICOM files and cell-image batches into the
//! site's store, with progress, a report and Prometheus metrics.

use super::node::{StoreArgs, TrusteeArgs};
use crate::output::{byte_bar, print_json};
use anyhow::Context;
use clap::Args;
use oncofed_node::{IngestOptions, IngestReport};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    trustee: TrusteeArgs,
    /// Land nothing at all if any bundle has an error.
    #[arg(long)]
    all_or_nothing: bool,
    /// Longest NDJSON line read, in MiB; a longer line is skipped without being held
    /// in memory and rejected.
    #[arg(long, default_value_t = oncofed_node::ingest::DEFAULT_MAX_LINE_BYTES >> 20)]
    max_line_mib: usize,
    /// Largest .json file read (whole), in MiB; a larger one is rejected unread.
    #[arg(long, default_value_t = oncofed_node::ingest::DEFAULT_MAX_DOCUMENT_BYTES >> 20)]
    max_document_mib: u64,
    /// Print the report as JSON on stdout (no progress bar).
    #[arg(long)]
    json: bool,
    /// Leave the run's figures (resources, seconds, resources per second,
    /// rejected units, interrupted, finish time) in this file in the
    /// Prometheus text format, for the node exporter's textfile collector,
    /// e.g. /var/lib/prometheus/node-exporter/oncofed_ingest.prom. Written
    /// atomically after the run, also after an interrupted one.
    #[arg(long, value_name = "FILE")]
    metrics_textfile: Option<PathBuf>,
    #[command(flatten)]
    imaging: super::node_imaging::ImagingArgs,
    /// A cell-image batch to ingest (repeat for several): a folder with
    /// smears.csv (smear_id,patient_id,family,given,birth_date,sex,specimen,
    /// stain,scanner,magnification,collected) and cells.csv
    /// (smear_id,cell_id,file,label, optionally x,y,width,height to crop a
    /// cell out of a whole-field image). Images may be PNG, JPEG or TIFF; they
    /// are re-encoded as PNG without metadata. A batch lands whole or not at
    /// all; its error names the file, row and field. A folder among PATHS
    /// holding both files is taken as a cell batch too.
    #[arg(long, value_name = "DIR")]
    cells: Vec<PathBuf>,
    /// A sequencing batch to ingest (repeat for several): a folder with VCF or
    /// BCF files (plain, gzip or BGZF) and samples.csv (file,sample,patient_id,
    /// family,given,birth_date,sex,collected,origin: one row per sample column
    /// of each file; origin germline|somatic or empty when the header says,
    /// e.g. Mutect2's ##tumor_sample). Files are kept only Crypt4GH-encrypted
    /// to the site key; calls go to the store. A batch lands whole or not at
    /// all; its error names the file, line and field. A folder among PATHS
    /// holding samples.csv is taken as a sequencing batch too.
    #[arg(long, value_name = "DIR")]
    vcf: Vec<PathBuf>,
    #[command(flatten)]
    sequencing: super::node_imaging::SequencingArgs,
    /// Files or folders to ingest: FHIR (.json, .ndjson) and DICOM files
    /// (Part 10, or bare data sets) alike, cell-batch and sequencing-batch folders.
    #[arg(required_unless_present_any = ["cells", "vcf"])]
    paths: Vec<PathBuf>,
}

pub async fn ingest(a: IngestArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.open().await?;
    let client = a.trustee.client()?;
    // SIGTERM or Ctrl-C: finish and commit the chunk under way, read no more.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let signal = oncofed_service::shutdown_signal();
    let flag = stop.clone();
    tokio::spawn(async move {
        signal.await;
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let options = IngestOptions {
        all_or_nothing: a.all_or_nothing,
        max_line_bytes: a.max_line_mib.saturating_mul(1 << 20),
        max_document_bytes: a.max_document_mib.saturating_mul(1 << 20),
        stop: Some(stop),
        ..Default::default()
    };
    let bar = byte_bar(a.json, "ingest");
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let split = super::node_imaging::split_paths(&a.paths);
    let (fhir_paths, dicom_paths) = (split.fhir, split.dicom);
    let mut cell_batches = split.cells;
    cell_batches.extend(a.cells.iter().cloned());
    let mut sequencing_batches = split.sequencing;
    sequencing_batches.extend(a.vcf.iter().cloned());
    let mut report = if fhir_paths.is_empty() {
        IngestReport::default()
    } else {
        oncofed_node::ingest(&store, &client, &fhir_paths, &options, &progress).await?
    };
    // The DICOM, cell and sequencing parts are one more run in the site log
    // (the FHIR part recorded itself): what they add to the report.
    let other_started = chrono::Utc::now();
    let fhir_counts = (report.units_ok, report.units_failed, report.errors.len());
    let dicom_files = oncofed_node::imaging::dicom_files(&dicom_paths)?;
    if !report.interrupted && !dicom_files.is_empty() {
        let setup = a.imaging.setup(&a.store.data_dir)?;
        let imaging = oncofed_node::imaging::ingest_dicom_files(
            &store,
            &client,
            &setup,
            &dicom_files,
            &progress,
        )
        .await?;
        report.imaging = Some(imaging);
    }
    if !report.interrupted && !cell_batches.is_empty() {
        let setup = a.imaging.cell_setup(&a.store.data_dir)?;
        for dir in &cell_batches {
            match oncofed_node::cells::ingest_cells(&store, &client, &setup, dir).await {
                Ok(r) => {
                    report.units_ok += 1;
                    report.cells.push(r);
                }
                // Trust centre, archive and store failures stop the run, as for FHIR.
                Err(
                    e @ (oncofed_node::cells::CellError::Trustee(_)
                    | oncofed_node::cells::CellError::Archive(_)
                    | oncofed_node::cells::CellError::Store(_)),
                ) => {
                    return Err(
                        anyhow::Error::new(e).context(format!("cell batch {}", dir.display()))
                    );
                }
                Err(e) => {
                    report.units_failed += 1;
                    report
                        .errors
                        .push(format!("cell batch {}: {e}", dir.display()));
                }
            }
        }
    }
    if !report.interrupted && !sequencing_batches.is_empty() {
        let setup = a.sequencing.setup(&a.imaging, &a.store.data_dir)?;
        for dir in &sequencing_batches {
            use oncofed_node::genomics::GenomicsError;
            match oncofed_node::genomics::ingest_sequencing(&store, &client, &setup, dir).await {
                Ok(r) => {
                    report.units_ok += 1;
                    report.sequencing.push(r);
                }
                // Trust centre, archive and store failures stop the run, as for FHIR.
                Err(
                    e @ (GenomicsError::Trustee(_)
                    | GenomicsError::Archive(_)
                    | GenomicsError::Store(_)),
                ) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("sequencing batch {}", dir.display())));
                }
                Err(e) => {
                    report.units_failed += 1;
                    report
                        .errors
                        .push(format!("sequencing batch {}: {e}", dir.display()));
                }
            }
        }
    }
    let mut other_sources = Vec::new();
    if report.imaging.is_some() {
        other_sources.push("dicom");
    }
    if !cell_batches.is_empty() {
        other_sources.push("cells");
    }
    if !sequencing_batches.is_empty() {
        other_sources.push("sequencing");
    }
    if !other_sources.is_empty() {
        let mut errors = report.errors[fhir_counts.2..].to_vec();
        if let Some(i) = &report.imaging {
            errors.extend(i.quarantine.iter().map(|q| format!("quarantined: {q}")));
        }
        let quarantined = report.imaging.as_ref().map_or(0, |i| i.quarantined_total());
        let stored = report.imaging.as_ref().map_or(0, |i| i.objects_stored);
        oncofed_node::site_log::record_row(
            &store,
            oncofed_node::site_log::IngestRunRow {
                id: 0,
                started_at: other_started,
                finished_at: chrono::Utc::now(),
                source: other_sources.join("+"),
                outcome: if report.interrupted {
                    "interrupted"
                } else {
                    "completed"
                }
                .into(),
                units_accepted: (report.units_ok - fhir_counts.0 + stored) as u64,
                units_rejected: (report.units_failed - fhir_counts.1 + quarantined) as u64,
                resources: 0,
                patients: 0,
                errors_total: errors.len() as u64,
                errors,
            },
        )
        .await;
    }
    bar.finish_and_clear();
    if let Some(path) = &a.metrics_textfile {
        write_ingest_metrics(path, &report)
            .with_context(|| format!("cannot write the metrics file {}", path.display()))?;
    }
    if a.json {
        print_json(&report)?;
    } else {
        println!(
            "{} units landed, {} rejected; {} resources ({:.0}/s), {} patients, {} consents sent to the trust centre",
            report.units_ok,
            report.units_failed,
            report.resources,
            report.resources_per_second,
            report.patients,
            report.consents
        );
        println!(
            "store: {} new patients, {} new facts, {} facts already present",
            report.written.patients_new, report.written.facts_new, report.written.facts_existing
        );
        for (t, n) in &report.not_mapped {
            println!("not mapped: {n} {t}");
        }
        for e in &report.errors {
            eprintln!("rejected: {e}");
        }
        if let Some(i) = &report.imaging {
            println!(
                "images: {} objects stored ({} new, {:.0}/s) for {} patients in {} series; {} quarantined; {} head/neck objects kept at the site",
                i.objects_stored,
                i.objects_new,
                i.objects_per_second,
                i.patients,
                i.series,
                i.quarantined_total(),
                i.face_risk_objects
            );
            for q in &i.quarantine {
                eprintln!("quarantined: {q}");
            }
        }
        for c in &report.cells {
            let classes: Vec<String> = c
                .per_class
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            println!(
                "cells: {} smears, {} cells ({} cropped) of {} patients ({} new); {}",
                c.smears,
                c.cells,
                c.cropped,
                c.patients,
                c.patients_new,
                classes.join(", ")
            );
        }
        for g in &report.sequencing {
            println!(
                "sequencing: {} files of {} patients ({} new): {} somatic and {} germline calls, {} marker facts; {} objects encrypted ({} already stored)",
                g.files,
                g.patients,
                g.patients_new,
                g.somatic_calls,
                g.germline_calls,
                g.facts,
                g.objects,
                g.objects_existing
            );
        }
    }
    if report.interrupted {
        eprintln!(
            "interrupted by a signal: every chunk counted above is committed, the rest was not read; run the same ingest again to finish (it is idempotent)"
        );
        return Ok(ExitCode::from(3));
    }
    let quarantined = report
        .imaging
        .as_ref()
        .is_some_and(|i| i.quarantined_total() > 0);
    Ok(if report.units_failed > 0 || quarantined {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The figures of an ingest run for Prometheus (see `--metrics-textfile`).
fn write_ingest_metrics(path: &Path, report: &IngestReport) -> std::io::Result<()> {
    let finished = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let figures = [
        (
            "ingest_resources",
            "FHIR resources read in landed units, last run",
            report.resources as f64,
        ),
        (
            "ingest_patients",
            "Patients pseudonymised, last run",
            report.patients as f64,
        ),
        (
            "ingest_units_landed",
            "Units (bundles, bulk folders) that landed, last run",
            report.units_ok as f64,
        ),
        (
            "ingest_units_rejected",
            "Units rejected, last run (see the run's report)",
            report.units_failed as f64,
        ),
        (
            "ingest_seconds",
            "Wall time of the last run",
            report.seconds,
        ),
        (
            "ingest_resources_per_second",
            "Ingest rate of the last run",
            report.resources_per_second,
        ),
        (
            "ingest_interrupted",
            "1 if the last run was stopped by a signal before reading all input",
            f64::from(u8::from(report.interrupted)),
        ),
        (
            "ingest_finished_timestamp_seconds",
            "When the last run ended (Unix time)",
            finished,
        ),
    ];
    oncofed_service::textfile::write(path, "node", &figures)
}
