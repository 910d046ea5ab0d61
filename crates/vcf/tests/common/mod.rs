//! Helpers shared by the integration tests: the shared test VCFs and bcftools.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory of the bcftools/htslib test VCFs (`../shared/data`).
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/vcf-bcftools-htslib-tests")
}

/// bcftools, or `None` (skip printed) when it is not installed.
pub fn bcftools() -> Option<PathBuf> {
    oncofed_test_peers::peer("bcftools")
}

/// Runs bcftools with `args`; its standard output, panicking with its
/// standard error when it fails.
pub fn run(bcftools: &Path, args: &[&str]) -> String {
    let out = Command::new(bcftools)
        .args(args)
        .output()
        .expect("bcftools runs");
    assert!(
        out.status.success(),
        "bcftools {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("bcftools writes UTF-8")
}

/// The file as plain VCF, bgzipped VCF, BCF and uncompressed BCF (made by
/// bcftools in `dir`).
pub fn encodings(bcftools: &Path, src: &Path, dir: &Path) -> Vec<PathBuf> {
    let stem = src.file_stem().unwrap().to_string_lossy().to_string();
    let mut out = vec![src.to_path_buf()];
    // Names that do not give the encoding away: detection is by magic bytes.
    for (flag, name) in [("-Oz", "gz"), ("-Ob", "b"), ("-Ou", "u")] {
        let p = dir.join(format!("{stem}.{name}.data"));
        run(
            bcftools,
            &[
                "view",
                "--no-version",
                flag,
                "-o",
                p.to_str().unwrap(),
                src.to_str().unwrap(),
            ],
        );
        out.push(p);
    }
    out
}
