//! The generated VCFs parse with a real reader: `bcftools view` (htslib)
//! must accept every file and count the records we wrote.
//!
//! Skips with a printed reason when bcftools is missing, unless
//! `ONCOFED_REQUIRE_PEERS` is set (`scripts/setup-peers` installs it).

use oncofed_synth::{GenomicsConfig, SynthConfig, generate};
use std::process::Command;

#[test]
fn every_vcf_parses_with_bcftools() {
    let Some(bcftools) = oncofed_test_peers::peer("bcftools") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cohort");
    let config = SynthConfig {
        seed: 21,
        persons: 80,
        sites: 3,
        genomics: Some(GenomicsConfig {
            share: 0.6,
            panel_size: 3_000,
            brca_rate: 0.5,
            ..GenomicsConfig::default()
        }),
        ..SynthConfig::default()
    };
    let summary = generate(&config, &out, &mut |_| {}).unwrap();
    let g = summary.genomics.unwrap();
    let vcfs: Vec<&String> = g.files.iter().filter(|f| f.ends_with(".vcf")).collect();
    assert_eq!(vcfs.len() as u64, g.somatic_files + g.germline_files);
    let mut records = 0u64;
    for rel in vcfs {
        let path = out.join(rel);
        let run = Command::new(&bcftools)
            .args(["view", "--no-header"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{rel}: {stderr}");
        // htslib warns (but succeeds) on undeclared fields or unsorted records.
        assert!(!stderr.contains("[W::"), "{rel}: {stderr}");
        let body = String::from_utf8(run.stdout).unwrap();
        records += body.lines().count() as u64;
        // bcftools reads the sample columns we declared.
        let samples = Command::new(&bcftools)
            .args(["query", "--list-samples"])
            .arg(&path)
            .output()
            .unwrap();
        let names = String::from_utf8(samples.stdout).unwrap();
        let expected = if rel.ends_with(".somatic.vcf") { 2 } else { 1 };
        assert_eq!(names.lines().count(), expected, "{rel}: {names}");
    }
    assert_eq!(records, g.calls());
}
