//! Writes a small cohort with sequencing output and prints its summary
//! (`cargo run --release -p oncofed-synth --example genomics_sample -- <dir> [persons]`).

use oncofed_synth::{GenomicsConfig, SynthConfig, generate};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: genomics_sample <empty output dir> [persons]");
        std::process::exit(2);
    };
    let persons: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1_000);
    let config = SynthConfig {
        persons,
        genomics: Some(GenomicsConfig::default()),
        ..SynthConfig::default()
    };
    let started = Instant::now();
    match generate(&config, std::path::Path::new(&dir), &mut |_| {}) {
        Ok(summary) => {
            let g = summary.genomics.unwrap_or_default();
            println!(
                "{persons} persons in {:.2} s: {} sequenced, {} somatic and {} germline VCFs, {} calls ({} marker, {} passenger, {} BRCA, {} background)",
                started.elapsed().as_secs_f64(),
                g.persons_sequenced,
                g.somatic_files,
                g.germline_files,
                g.calls(),
                g.marker_calls,
                g.passenger_calls,
                g.brca_calls,
                g.background_calls
            );
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
