//! `write_extract` against bcftools: a region and one sample of the shared
//! mpileup VCF (and of a call set bcftools makes from it), bgzipped by us,
//! indexed by `bcftools index -t`, queried by `bcftools view -r`.

mod common;

use std::fs::File;
use std::path::Path;

use oncofed_vcf::{ExtractFormat, Origin, ReadOptions, Region, write_extract};

fn germline() -> ReadOptions {
    ReadOptions {
        declared_origin: Some(Origin::Germline),
        ..ReadOptions::default()
    }
}

/// CHROM, POS, REF, ALT, the sample column, and INFO's AC and AN of each
/// `bcftools view -H` line.
fn key_columns(text: &str) -> Vec<[String; 7]> {
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let info = |k: &str| {
                f[7].split(';')
                    .find(|kv| kv.split('=').next() == Some(k))
                    .unwrap_or("")
                    .to_string()
            };
            [f[0], f[1], f[3], f[4], f[9]]
                .map(String::from)
                .into_iter()
                .chain([info("AC"), info("AN")])
                .collect::<Vec<_>>()
                .try_into()
                .unwrap()
        })
        .collect()
}

fn check_extract(bcftools: &Path, source: &Path, sample: &str, index: usize, region: &str) {
    let dir = tempfile::tempdir().unwrap();
    // The source as bcftools would index it, for the reference query.
    let source_gz = dir.path().join("source.vcf.gz");
    common::run(
        bcftools,
        &[
            "view",
            "--no-version",
            "-Oz",
            "-o",
            source_gz.to_str().unwrap(),
            source.to_str().unwrap(),
        ],
    );
    common::run(bcftools, &["index", "-t", source_gz.to_str().unwrap()]);
    let out = dir.path().join("extract.vcf.gz");
    let region_parsed: Region = region.parse().unwrap();
    let summary = write_extract(
        source,
        &germline(),
        &[index],
        &["PSN-0001".to_string()],
        Some(&region_parsed),
        File::create(&out).unwrap(),
        ExtractFormat::BgzfVcf,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    common::run(bcftools, &["index", "-t", out.to_str().unwrap()]);
    let ours = common::run(
        bcftools,
        &["view", "-H", "-r", region, out.to_str().unwrap()],
    );
    let theirs = common::run(
        bcftools,
        &[
            "view",
            "-H",
            "-r",
            region,
            "-s",
            sample,
            source_gz.to_str().unwrap(),
        ],
    );
    let (ours, theirs) = (key_columns(&ours), key_columns(&theirs));
    assert!(!theirs.is_empty());
    assert_eq!(ours, theirs);
    assert_eq!(summary.records as usize, ours.len());
    assert_eq!(summary.samples, 1);
    // The whole extract: the pseudonym only, no sample id, no command line, no paths.
    let all = common::run(bcftools, &["view", "--no-version", out.to_str().unwrap()]);
    assert_eq!(
        common::run(bcftools, &["query", "-l", out.to_str().unwrap()]).trim(),
        "PSN-0001"
    );
    for banned in [
        "HG00100",
        "HG00101",
        "HG00102",
        "Command",
        "##reference=file",
        "xxx//",
    ] {
        assert!(!all.contains(banned), "extract contains {banned}");
    }
    assert!(summary.header_lines_dropped > 0);
}

#[test]
fn region_and_sample_match_bcftools_view() {
    let Some(bcftools) = common::bcftools() else {
        return;
    };
    let src = common::data_dir().join("bcftools-mpileup.vcf");
    // A multi-base REF at 3493 starts in the region; chr17 prefix normalised.
    check_extract(&bcftools, &src, "HG00101", 1, "17:3000-3600");
    check_extract(&bcftools, &src, "HG00102", 2, "17");
}

#[test]
fn genotypes_of_a_call_set_survive_the_extract() {
    let Some(bcftools) = common::bcftools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let called = dir.path().join("called.vcf");
    let src = common::data_dir().join("bcftools-mpileup.vcf");
    common::run(
        &bcftools,
        &[
            "call",
            "-m",
            "--no-version",
            "-o",
            called.to_str().unwrap(),
            src.to_str().unwrap(),
        ],
    );
    check_extract(&bcftools, &called, "HG00100", 0, "17:100-2000");
}

#[test]
fn plain_vcf_extract_reads_back() {
    let Some(bcftools) = common::bcftools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("extract.vcf");
    let src = common::data_dir().join("htslib-index.vcf");
    let summary = write_extract(
        &src,
        &germline(),
        &[0],
        &["P1".to_string()],
        None,
        File::create(&out).unwrap(),
        ExtractFormat::Vcf,
    )
    .unwrap();
    let n = common::run(&bcftools, &["view", "-H", out.to_str().unwrap()])
        .lines()
        .count();
    assert_eq!(n as u64, summary.records);
    // Decoys and unplaced contigs are left out and counted.
    let total = common::run(&bcftools, &["view", "-H", src.to_str().unwrap()])
        .lines()
        .count();
    assert_eq!(summary.records + summary.unknown_contig, total as u64);
}

#[test]
fn extract_arguments_are_checked() {
    let src = common::data_dir().join("bcftools-mpileup.vcf");
    let run = |keep: &[usize], names: &[&str]| {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        write_extract(
            &src,
            &germline(),
            keep,
            &names,
            None,
            Vec::new(),
            ExtractFormat::Vcf,
        )
    };
    assert!(run(&[3], &["A"]).is_err());
    assert!(run(&[0], &[]).is_err());
    assert!(run(&[0, 1], &["A", "A"]).is_err());
    assert!(run(&[0, 0], &["A", "B"]).is_err());
    assert!(run(&[0], &["has space"]).is_err());
    assert!(run(&[0], &["ok"]).is_ok());
    // Sites only: no FORMAT, no samples.
    let mut out = Vec::new();
    write_extract(
        &src,
        &germline(),
        &[],
        &[],
        None,
        &mut out,
        ExtractFormat::Vcf,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"));
    assert!(!text.contains("HG001"));
}

#[test]
fn bcf_source_gives_the_same_extract() {
    let Some(bcftools) = common::bcftools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let called = dir.path().join("called.vcf");
    let src = common::data_dir().join("bcftools-mpileup.vcf");
    common::run(
        &bcftools,
        &[
            "call",
            "-m",
            "--no-version",
            "-o",
            called.to_str().unwrap(),
            src.to_str().unwrap(),
        ],
    );
    let bcf = dir.path().join("called.bcf");
    common::run(
        &bcftools,
        &[
            "view",
            "--no-version",
            "-Ob",
            "-o",
            bcf.to_str().unwrap(),
            called.to_str().unwrap(),
        ],
    );
    let region: Region = "17:1-2500".parse().unwrap();
    let mut lines = Vec::new();
    for (i, source) in [&called, &bcf].into_iter().enumerate() {
        let out = dir.path().join(format!("extract{i}.vcf.gz"));
        write_extract(
            source,
            &germline(),
            &[2, 0],
            &["B".to_string(), "A".to_string()],
            Some(&region),
            File::create(&out).unwrap(),
            ExtractFormat::BgzfVcf,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        lines.push(common::run(
            &bcftools,
            &["view", "-H", out.to_str().unwrap()],
        ));
    }
    assert!(lines[0].lines().count() > 100);
    assert_eq!(lines[0], lines[1]);
}
