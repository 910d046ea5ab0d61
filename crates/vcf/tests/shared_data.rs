//! The reader on the four shared bcftools/htslib test VCFs, in every
//! encoding bcftools writes, against what bcftools itself reports.

mod common;

use std::collections::HashMap;
use std::path::Path;

use oncofed_vcf::{
    Chrom, Encoding, GenomeBuild, Origin, ReadOptions, SampleRole, VcfReader, consequence_rank,
};

const FILES: [(&str, GenomeBuild, usize); 4] = [
    ("bcftools-mpileup.vcf", GenomeBuild::Grch37, 3),
    ("bcftools-split-vep.vcf", GenomeBuild::Grch37, 0),
    ("bcftools-gvcfz.vcf", GenomeBuild::Grch38, 1),
    ("htslib-index.vcf", GenomeBuild::Grch37, 1),
];

fn germline() -> ReadOptions {
    ReadOptions {
        declared_origin: Some(Origin::Germline),
        ..ReadOptions::default()
    }
}

/// What bcftools reports for a file: per record, whether the contig is a
/// human chromosome, the sequence ALT alleles, and the alleles each sample's
/// GT carries.
struct Expected {
    records: usize,
    sites: usize,
    calls: usize,
    unknown_contig: u64,
}

fn is_sequence(a: &str) -> bool {
    a != "X" && a.bytes().all(|b| b"ACGTNacgtn".contains(&b))
}

fn expected(bcftools: &Path, file: &Path) -> Expected {
    let header = common::run(bcftools, &["view", "-h", file.to_str().unwrap()]);
    let format = if header.contains("##FORMAT=<ID=GT,") {
        "%CHROM\t%ALT[\t%GT]\n"
    } else {
        "%CHROM\t%ALT\n"
    };
    let text = common::run(bcftools, &["query", "-f", format, file.to_str().unwrap()]);
    let mut e = Expected {
        records: 0,
        sites: 0,
        calls: 0,
        unknown_contig: 0,
    };
    for line in text.lines() {
        e.records += 1;
        let f: Vec<&str> = line.split('\t').collect();
        if Chrom::normalise(f[0]).is_none() {
            e.unknown_contig += 1;
            continue;
        }
        let alts: Vec<&str> = if f[1] == "." {
            vec![]
        } else {
            f[1].split(',').collect()
        };
        e.sites += alts.iter().filter(|a| is_sequence(a)).count();
        for gt in &f[2..] {
            let mut carried: Vec<usize> = gt
                .split(['/', '|'])
                .filter_map(|a| a.parse::<usize>().ok())
                .filter(|&a| a > 0 && is_sequence(alts[a - 1]))
                .collect();
            carried.sort_unstable();
            carried.dedup();
            e.calls += carried.len();
        }
    }
    e
}

#[test]
fn counts_build_and_samples_match_bcftools_in_every_encoding() {
    let Some(bcftools) = common::bcftools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, build, n_samples) in FILES {
        let src = common::data_dir().join(name);
        let want = expected(&bcftools, &src);
        let header_samples = common::run(&bcftools, &["query", "-l", src.to_str().unwrap()]);
        let records = common::run(&bcftools, &["view", "-H", src.to_str().unwrap()])
            .lines()
            .count();
        assert_eq!(records, want.records);
        for (i, path) in common::encodings(&bcftools, &src, dir.path())
            .iter()
            .enumerate()
        {
            let mut r = VcfReader::open(path, &germline()).unwrap_or_else(|e| panic!("{e}"));
            let encoding = [
                Encoding::Vcf,
                Encoding::BgzfVcf,
                Encoding::Bcf,
                Encoding::Bcf,
            ][i];
            assert_eq!(r.encoding(), encoding, "{name} #{i}");
            assert_eq!(r.build(), build, "{name} #{i}");
            assert_eq!(r.samples().len(), n_samples);
            let names: Vec<&str> = r.samples().iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names, header_samples.lines().collect::<Vec<_>>());
            assert!(r.samples().iter().all(|s| s.role == SampleRole::Germline));
            let calls: Vec<_> = r
                .calls()
                .collect::<Result<_, _>>()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(calls.len(), want.calls, "{name} #{i} calls");
            assert!(calls.iter().all(|c| c.origin == Origin::Germline));
            assert_eq!(
                r.skip_counts().unknown_contig,
                want.unknown_contig,
                "{name} #{i}"
            );
            let mut r = VcfReader::open(path, &germline()).unwrap();
            let sites: Vec<_> = r
                .sites()
                .collect::<Result<_, _>>()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(sites.len(), want.sites, "{name} #{i} sites");
            let last = sites.last().map_or(0, |s| s.line);
            if i > 0 {
                // BCF and BGZF: same records; BCF lines are record numbers.
                assert!(last as usize <= records + 200, "{name} #{i}");
            }
        }
    }
}

#[test]
fn gvcf_blocks_and_unobserved_alleles_are_counted_not_called() {
    let src = common::data_dir().join("htslib-index.vcf");
    let mut r = VcfReader::open(&src, &germline()).unwrap();
    assert_eq!(r.calls().filter(Result::is_err).count(), 0);
    let text = std::fs::read_to_string(&src).unwrap();
    let star = text
        .lines()
        .filter(|l| {
            !l.starts_with('#') && Chrom::normalise(l.split('\t').next().unwrap()).is_some()
        })
        .map(|l| {
            l.split('\t')
                .nth(4)
                .unwrap()
                .split(',')
                .filter(|a| *a == "<*>")
                .count() as u64
        })
        .sum::<u64>();
    assert_eq!(r.skip_counts().reference_block, star);
    assert!(star > 0);
}

/// bcftools +split-vep's SYMBOL, Consequence terms and CANONICAL=YES of one entry.
type VepEntry = (String, Vec<String>, bool);

#[test]
fn vep_annotation_matches_bcftools_split_vep() {
    let Some(bcftools) = common::bcftools() else {
        return;
    };
    let src = common::data_dir().join("bcftools-split-vep.vcf");
    let text = common::run(
        &bcftools,
        &[
            "+split-vep",
            "-s",
            "all",
            "-d",
            "-f",
            "%POS\t%ALLELE_NUM\t%SYMBOL\t%Consequence\t%CANONICAL\n",
            src.to_str().unwrap(),
        ],
    );
    // (pos, allele number) -> [(symbol, consequence terms, canonical)]
    let mut entries: HashMap<(u64, usize), Vec<VepEntry>> = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let key = (f[0].parse().unwrap(), f[1].parse().unwrap());
        let symbol = if f[2] == "." {
            String::new()
        } else {
            f[2].to_string()
        };
        let terms = f[3].split('&').map(String::from).collect();
        entries
            .entry(key)
            .or_default()
            .push((symbol, terms, f[4] == "YES"));
    }
    let mut r = VcfReader::open(&src, &ReadOptions::default()).unwrap();
    let mut checked = 0;
    let raw: Vec<String> = std::fs::read_to_string(&src)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    for site in r.sites() {
        let site = site.unwrap();
        let cols: Vec<&str> = raw[site.line as usize - 1].split('\t').collect();
        let alts: Vec<&str> = cols[4].split(',').collect();
        // The site's allele number: which ALT trims to this variant.
        let pos: u64 = cols[1].parse().unwrap();
        let n = alts
            .iter()
            .position(|a| {
                let t = trimmed(pos, cols[3], a);
                t == (
                    site.variant.pos,
                    site.variant.reference.clone(),
                    site.variant.alternate.clone(),
                )
            })
            .unwrap()
            + 1;
        let Some(list) = entries.get(&(pos, n)) else {
            assert!(
                site.annotation.is_none()
                    || site.annotation.as_ref().unwrap().source
                        == oncofed_vcf::AnnotationSource::GeneTable
            );
            continue;
        };
        let canonical: Vec<_> = list.iter().filter(|e| e.2).collect();
        let pool: Vec<_> = if canonical.is_empty() {
            list.iter().collect()
        } else {
            canonical
        };
        let best = pool
            .iter()
            .map(|e| e.1.iter().map(|t| consequence_rank(t)).min().unwrap())
            .min()
            .unwrap();
        let a = site.annotation.expect("annotated site");
        let ours = (a.gene.clone().unwrap_or_default(), a.consequence.clone());
        let mut matched = pool.iter().filter(|e| {
            let mut t = e.1.clone();
            t.sort_by_key(|x| consequence_rank(x));
            (e.0.clone(), t) == ours
        });
        assert!(
            matched.next().is_some(),
            "line {}: {ours:?} not among {pool:?}",
            site.line
        );
        assert_eq!(
            consequence_rank(&a.consequence[0]),
            best,
            "line {}",
            site.line
        );
        checked += 1;
    }
    assert!(checked > 800, "{checked}");
}

/// The test's own minimal-representation trim (independent of the crate's).
fn trimmed(pos: u64, r: &str, a: &str) -> (u64, String, String) {
    let (mut r, mut a) = (r.to_string(), a.to_string());
    while r.len() > 1 && a.len() > 1 && r.chars().last() == a.chars().last() {
        r.pop();
        a.pop();
    }
    let mut p = pos;
    while r.len() > 1 && a.len() > 1 && r.chars().next() == a.chars().next() {
        r.remove(0);
        a.remove(0);
        p += 1;
    }
    (p, r, a)
}

#[test]
fn genotypes_called_by_bcftools_give_the_same_calls() {
    let Some(bcftools) = common::bcftools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A real multi-sample germline call set: bcftools call on the mpileup likelihoods.
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
    let text = common::run(
        &bcftools,
        &[
            "query",
            "-f",
            "[%POS\t%REF\t%ALT\t%GT\t%DP\n]",
            called.to_str().unwrap(),
        ],
    );
    let mut want = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        let sample = i % 3;
        let alts: Vec<&str> = f[2].split(',').collect();
        let gt: Vec<usize> = f[3]
            .split(['/', '|'])
            .filter_map(|a| a.parse().ok())
            .collect();
        let mut carried: Vec<usize> = gt.iter().copied().filter(|&a| a > 0).collect();
        carried.sort_unstable();
        carried.dedup();
        for a in carried {
            let (pos, r, x) = trimmed(f[0].parse().unwrap(), f[1], alts[a - 1]);
            let hom = gt.iter().all(|&g| g == a);
            want.push((pos, sample, r, x, hom, f[4].parse::<u32>().ok()));
        }
    }
    assert!(want.len() > 10, "{}", want.len());
    for path in common::encodings(&bcftools, &called, dir.path()) {
        let mut r = VcfReader::open(&path, &germline()).unwrap();
        let mut got: Vec<_> = r
            .calls()
            .map(|c| {
                let c = c.unwrap();
                let hom = c.zygosity == Some(oncofed_vcf::Zygosity::Homozygous);
                (
                    c.variant.pos,
                    c.sample,
                    c.variant.reference,
                    c.variant.alternate,
                    hom,
                    c.depth,
                )
            })
            .collect();
        got.sort();
        let mut w = want.clone();
        w.sort();
        assert_eq!(got, w, "{}", path.display());
    }
}
