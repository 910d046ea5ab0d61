//! Measures how fast the generator is: persons drawn per second in memory, persons
//! rendered to FHIR JSON per second (no I/O), and persons written per second by
//! [`generate`] (NDJSON or JSON files, ground truth, manifest).
//!
//! `cargo run --release -p oncofed-synth --example synth_rate -- [PERSONS] [SITES] [OUT_DIR] [ndjson|json]`
//! (defaults: 100000 persons, 3 sites, a temporary directory that is removed afterwards).

use oncofed_synth::{OutputFormat, SynthConfig, generate, person, write_patient_bundle};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let persons: u64 = args.first().map_or(Ok(100_000), |s| s.parse())?;
    let sites: u32 = args.get(1).map_or(Ok(3), |s| s.parse())?;
    let format = match args.get(3).map(String::as_str) {
        Some("json") => OutputFormat::Json,
        _ => OutputFormat::Ndjson,
    };
    let tmp = tempfile::tempdir()?;
    let out: PathBuf = args
        .get(2)
        .map_or_else(|| tmp.path().join("cohort"), PathBuf::from);
    let config = SynthConfig {
        persons,
        sites,
        format,
        ..SynthConfig::default()
    };

    let sample = persons.min(20_000);
    let t = Instant::now();
    let mut records = 0usize;
    for i in 0..sample {
        records += person(&config, i).sites.len();
    }
    let draw_rate = sample as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut bytes = 0usize;
    for i in 0..sample {
        for rec in &person(&config, i).sites {
            let mut buf = Vec::new();
            write_patient_bundle(&mut buf, rec)?;
            bytes += buf.len();
        }
    }
    let render_rate = sample as f64 / t.elapsed().as_secs_f64();
    println!(
        "in memory ({sample} persons, {records} site records): draw {draw_rate:.0} persons/s, draw+render {render_rate:.0} persons/s ({} bytes/person)",
        bytes / sample.max(1) as usize
    );

    let summary = generate(&config, &out, &mut |_| {})?;
    let resources: u64 = summary.resources_by_type.values().sum();
    println!(
        "generate: {} persons, {} resources, {} files in {:.2} s: {:.0} persons/s, {:.0} resources/s",
        summary.persons,
        resources,
        summary.files_written.len(),
        summary.elapsed_seconds,
        summary.persons as f64 / summary.elapsed_seconds,
        resources as f64 / summary.elapsed_seconds
    );
    println!("{}", serde_json::to_string(&summary.resources_by_type)?);
    Ok(())
}
