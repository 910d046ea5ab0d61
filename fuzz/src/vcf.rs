//! Sequencing pipelines' VCF/BCF (`oncofed-vcf`): arbitrary bytes as a
//! whole file held in memory (plain text, gzip/BGZF or BCF, as the magic
//! bytes say).
//!
//! The input is opened with [`VcfReader::from_bytes`] twice: with a germline
//! declaration and GRCh38 declared (so that most texts get past the header),
//! and with nothing declared. Whatever opens is read with
//! [`VcfReader::calls`] and [`VcfReader::sites`] to the end, and an extract of
//! every sample (renamed) is written with [`write_extract_from`] and read
//! back. Properties:
//! - nothing panics, and every line is read in bounded time and memory
//!   (`max_line_bytes` is lowered to 64 KiB here);
//! - every error names the file `<memory>`, and its text never contains a
//!   [`crate::MARKER`]ed input token (sample names and genotype values may be
//!   identifying; errors name fields, never values);
//! - every call is well formed: `sample` indexes [`VcfReader::samples`] and
//!   names a tumour or germline column, the variant's alleles are non-empty
//!   upper-case ACGTN and differ, POS ≥ 1, a VAF lies in [0, 1];
//! - an extract that was written opens again with the same build, its header
//!   names only the new sample names, and a marked sample name occurs in it
//!   no more often than in the input outside the lines that name samples
//!   (`#CHROM`, `##tumor_sample`, `##normal_sample`, `##SAMPLE`,
//!   `##PEDIGREE`), which the extract drops or rewrites (not checked for
//!   gzip/BGZF input, whose text the check cannot see).

use crate::MARKER;
use oncofed_vcf::{
    ExtractFormat, GenomeBuild, Origin, ReadOptions, SampleRole, VcfError, VcfReader,
    write_extract_from,
};

/// Input tokens (tab-, colon-, comma- and newline-separated) that carry the
/// marker: stand-ins for sample names and genotype values.
fn marked_tokens(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data)
        .split(['\t', ':', ',', '\n', ';', '='])
        .filter(|t| t.contains(MARKER) && t.chars().count() > 3)
        .map(str::to_string)
        .collect()
}

/// The input text without the lines that name samples (`#CHROM`,
/// `##tumor_sample`, `##normal_sample`, `##SAMPLE`, `##PEDIGREE`): a sample
/// name the input also carries elsewhere (a contig name, a genotype column)
/// may legitimately be in an extract that keeps those parts. Uncompressed BCF
/// holds its header as text, so the bytes are read as (lossy) text; for
/// gzip/BGZF input, whose text is not visible here, `None` (not checked).
fn outside_sample_lines(data: &[u8]) -> Option<String> {
    if data.starts_with(&[0x1f, 0x8b]) {
        return None;
    }
    const NAMING: [&str; 5] = [
        "#CHROM",
        "##tumor_sample=",
        "##normal_sample=",
        "##SAMPLE=",
        "##PEDIGREE=",
    ];
    Some(
        String::from_utf8_lossy(data)
            .split('\n')
            .filter(|l| !NAMING.iter().any(|p| l.starts_with(p)))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn check_error(e: &VcfError, marked: &[String]) {
    let text = e.to_string();
    assert!(
        text.starts_with("<memory>"),
        "error without the file name: {text}"
    );
    for t in marked {
        assert!(
            !text.contains(t.as_str()),
            "error echoes an input value: {text}"
        );
    }
}

fn options(declared: bool) -> ReadOptions {
    ReadOptions {
        declared_origin: declared.then_some(Origin::Germline),
        build: declared.then_some(GenomeBuild::Grch38),
        max_line_bytes: 64 << 10,
        ..ReadOptions::default()
    }
}

/// The property checks of this target on one input.
pub fn check(data: &[u8]) {
    let marked = marked_tokens(data);
    for declared in [true, false] {
        let opts = options(declared);
        let mut reader = match VcfReader::from_bytes(data.to_vec(), &opts) {
            Ok(r) => r,
            Err(e) => {
                check_error(&e, &marked);
                continue;
            }
        };
        let samples = reader.samples().to_vec();
        for call in reader.calls() {
            match call {
                Err(e) => check_error(&e, &marked),
                Ok(c) => {
                    assert!(c.sample < samples.len());
                    assert_ne!(samples[c.sample].role, SampleRole::Normal);
                    let v = &c.variant;
                    assert!(v.pos >= 1);
                    for a in [&v.reference, &v.alternate] {
                        assert!(
                            !a.is_empty() && a.bytes().all(|b| b"ACGTN".contains(&b)),
                            "{v:?}"
                        );
                    }
                    assert_ne!(v.reference, v.alternate);
                    if let Some(f) = c.vaf {
                        assert!((0.0..=1.0).contains(&f), "vaf {f}");
                    }
                }
            }
        }
        let mut reader = VcfReader::from_bytes(data.to_vec(), &opts).expect("opened once");
        for site in reader.sites() {
            if let Err(e) = site {
                check_error(&e, &marked);
            }
        }
        // An extract of every sample, renamed, read back.
        let reader = VcfReader::from_bytes(data.to_vec(), &opts).expect("opened once");
        let build = reader.build();
        let keep: Vec<usize> = (0..samples.len()).collect();
        let names: Vec<String> = keep.iter().map(|i| format!("PSN{i}")).collect();
        let mut out = Vec::new();
        match write_extract_from(reader, &keep, &names, None, &mut out, ExtractFormat::Vcf) {
            Err(e) => check_error(&e, &marked),
            Ok(_) => {
                let text = String::from_utf8_lossy(&out);
                if let Some(elsewhere) = outside_sample_lines(data) {
                    for s in samples.iter().filter(|s| s.name.contains(MARKER)) {
                        let n = s.name.as_str();
                        assert!(
                            text.matches(n).count() <= elsewhere.matches(n).count(),
                            "a sample name reached the extract"
                        );
                    }
                }
                let again = ReadOptions {
                    build: Some(build),
                    declared_origin: Some(Origin::Germline),
                    ..options(true)
                };
                let mut r = VcfReader::from_bytes(out, &again)
                    .unwrap_or_else(|e| panic!("the extract does not open again: {e}"));
                assert_eq!(r.build(), build);
                let got: Vec<&str> = r.samples().iter().map(|s| s.name.as_str()).collect();
                assert_eq!(got, names.iter().map(String::as_str).collect::<Vec<_>>());
                for c in r.calls() {
                    if let Err(e) = c {
                        check_error(&e, &marked);
                    }
                }
            }
        }
    }
}
