//! `oncofed bench sequencing`: the node's sequencing ingest (parse every
//! VCF, link each person through the trust centre, encrypt with Crypt4GH,
//! store the calls in one transaction) beside `bcftools view` reading the
//! same files, in one run, as records per second.

use crate::output::print_json;
use anyhow::Context;
use clap::Args;
use oncofed_synth::{GenomicsConfig, SynthConfig};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// Arguments of `oncofed bench sequencing`.
#[derive(Debug, Args)]
pub struct SequencingBenchArgs {
    /// Persons of the synthetic cohort (one site; everyone sequenced).
    #[arg(long, default_value_t = 500)]
    persons: u64,
    /// Sites of the germline background panel (records per germline VCF grow with it).
    #[arg(long, default_value_t = 20_000)]
    panel: usize,
    /// Work here instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

/// What one run measured.
#[derive(Debug, Serialize)]
struct SequencingBench {
    files: usize,
    persons: usize,
    records: u64,
    calls: usize,
    bytes: u64,
    ingest_seconds: f64,
    ingest_records_per_second: f64,
    /// `bcftools view -H` over the same files (parse and format as text).
    bcftools_view_seconds: Option<f64>,
    bcftools_view_records_per_second: Option<f64>,
    /// `bcftools view -Ou` (parse, write uncompressed BCF).
    bcftools_bcf_seconds: Option<f64>,
    bcftools_bcf_records_per_second: Option<f64>,
}

/// Runs the benchmark.
pub async fn run(a: SequencingBenchArgs) -> anyhow::Result<ExitCode> {
    let temp = tempfile::tempdir()?;
    let dir = a.dir.clone().unwrap_or_else(|| temp.path().to_owned());
    let config = SynthConfig {
        sites: 1,
        persons: a.persons,
        ..SynthConfig::default()
    };
    let genomics = GenomicsConfig {
        share: 1.0,
        panel_size: a.panel,
        ..GenomicsConfig::default()
    };
    let cohort = dir.join("cohort");
    {
        let (config, cohort) = (config.clone(), cohort.clone());
        tokio::task::spawn_blocking(move || {
            oncofed_synth::generate(&config, &cohort, &mut |_| {})?;
            oncofed_synth::write_genomics(&config, &genomics, &cohort)
        })
        .await??;
    }
    let site = SynthConfig::site_id(1);
    let batch = cohort.join(site.as_str()).join("genomics");
    let trustee = oncofed_testkit::TrustCentre::builder()
        .dir(&dir.join("trustee"))
        .sites(1)
        .start()
        .await?;
    let client = trustee.client(site.as_str());
    let node = dir.join("node");
    let store = oncofed_node::open_store(&node)?;
    let setup = super::demo_genomics::setup(&node)?;
    let started = Instant::now();
    let report = oncofed_node::genomics::ingest_sequencing(&store, &client, &setup, &batch)
        .await
        .context("sequencing ingest")?;
    let ingest_seconds = started.elapsed().as_secs_f64();
    let files = vcf_files(&batch)?;
    let bcftools = |args: &[&str]| -> Option<f64> {
        let started = Instant::now();
        for f in &files {
            let ok = Command::new("bcftools")
                .args(args)
                .arg(f)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .ok()?
                .success();
            if !ok {
                return None;
            }
        }
        Some(started.elapsed().as_secs_f64())
    };
    let view = bcftools(&["view", "-H"]);
    let bcf = bcftools(&["view", "-Ou"]);
    let per_second = |s: f64| report.records as f64 / s.max(1e-9);
    let result = SequencingBench {
        files: report.files,
        persons: report.patients,
        records: report.records,
        calls: report.somatic_calls + report.germline_calls,
        bytes: report.bytes_read,
        ingest_seconds,
        ingest_records_per_second: per_second(ingest_seconds),
        bcftools_view_seconds: view,
        bcftools_view_records_per_second: view.map(per_second),
        bcftools_bcf_seconds: bcf,
        bcftools_bcf_records_per_second: bcf.map(per_second),
    };
    trustee.shutdown().await?;
    if a.json {
        print_json(&result)?;
    } else {
        println!(
            "{} VCF files of {} persons, {} records, {} calls, {} bytes",
            result.files, result.persons, result.records, result.calls, result.bytes
        );
        println!(
            "oncofed node ingest (parse, link, encrypt, store): {:.2} s, {:.0} records/s",
            result.ingest_seconds, result.ingest_records_per_second
        );
        match (view, bcf) {
            (Some(v), Some(b)) => println!(
                "bcftools view -H: {v:.2} s, {:.0} records/s; bcftools view -Ou: {b:.2} s, {:.0} records/s (one process per file)",
                per_second(v),
                per_second(b)
            ),
            _ => println!(
                "bcftools not found: install it (scripts/setup-peers) for the side-by-side"
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The VCF files of a batch, in name order.
fn vcf_files(batch: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(batch)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "vcf"))
        .collect();
    files.sort();
    Ok(files)
}
