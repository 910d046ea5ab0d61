//! Throughput of [`VcfReader`] against bcftools on the same large file.
//!
//! Builds a ~1M-record germline call set: `bcftools call -m` on the shared
//! mpileup VCF (3 samples, GT:PL:DP:DV), its rows replicated with shifted
//! positions, bgzipped and also converted to BCF by bcftools. Then times, on
//! the same files: `VcfReader::calls()` (every record parsed into calls),
//! `bcftools view -H file > /dev/null` and `bcftools view -Ou file > /dev/null`.
//!
//! Run: `cargo run --release -p oncofed-vcf --example bench [-- RECORDS]`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use oncofed_vcf::{Origin, ReadOptions, VcfReader};

fn bcftools(args: &[&str]) -> Vec<u8> {
    let out = Command::new("bcftools")
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("bcftools (scripts/setup-peers installs it)");
    assert!(out.status.success(), "bcftools {args:?} failed");
    out.stdout
}

/// Seconds `bcftools ARGS > /dev/null` takes (best of three).
fn time_bcftools(args: &[&str]) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            let status = Command::new("bcftools")
                .args(args)
                .stdout(Stdio::null())
                .status()
                .expect("bcftools runs");
            assert!(status.success());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Seconds our reader takes for every call of the file (best of three), and the calls.
fn time_reader(path: &Path) -> (f64, usize) {
    let opts = ReadOptions {
        declared_origin: Some(Origin::Germline),
        ..ReadOptions::default()
    };
    let mut best = (f64::INFINITY, 0);
    for _ in 0..3 {
        let t = Instant::now();
        let mut r = VcfReader::open(path, &opts).expect("opens");
        let mut n = 0;
        for c in r.calls() {
            c.expect("valid call");
            n += 1;
        }
        let s = t.elapsed().as_secs_f64();
        if s < best.0 {
            best = (s, n);
        }
    }
    best
}

fn main() {
    let target: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let data = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/vcf-bcftools-htslib-tests/bcftools-mpileup.vcf");
    let dir = tempfile::tempdir().expect("temp dir");
    let called = bcftools(&["call", "-m", "--no-version", data.to_str().unwrap()]);
    let (header, rows): (Vec<&[u8]>, Vec<&[u8]>) = called
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .partition(|l| l.starts_with(b"#"));
    let plain: PathBuf = dir.path().join("big.vcf");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&plain).unwrap());
        for h in &header {
            let h = String::from_utf8_lossy(h);
            // One contig long enough for the shifted copies (GRCh37 chr17).
            w.write_all(h.as_bytes()).unwrap();
            w.write_all(b"\n").unwrap();
        }
        let mut n = 0;
        let mut copy = 0u64;
        'outer: loop {
            for row in &rows {
                let text = String::from_utf8_lossy(row);
                let mut f = text.splitn(3, '\t');
                let (chrom, pos, rest) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
                let pos: u64 = pos.parse().unwrap();
                writeln!(w, "{chrom}\t{}\t{rest}", pos + copy * 5_000).unwrap();
                n += 1;
                if n >= target {
                    break 'outer;
                }
            }
            copy += 1;
        }
    }
    let gz = dir.path().join("big.vcf.gz");
    let bcf = dir.path().join("big.bcf");
    bcftools(&[
        "view",
        "--no-version",
        "-Oz",
        "-o",
        gz.to_str().unwrap(),
        plain.to_str().unwrap(),
    ]);
    bcftools(&[
        "view",
        "--no-version",
        "-Ob",
        "-o",
        bcf.to_str().unwrap(),
        plain.to_str().unwrap(),
    ]);
    let records = BufReader::new(std::fs::File::open(&plain).unwrap())
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.starts_with('#'))
        .count();
    let version = String::from_utf8_lossy(&bcftools(&["--version"]))
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    println!(
        "{records} records x 3 samples (bcftools call -m on bcftools-mpileup.vcf, replicated); {version}"
    );
    println!("| input | tool | seconds | records/s |");
    println!("|---|---|---:|---:|");
    for (name, path) in [("VCF", &plain), ("BGZF VCF", &gz), ("BCF", &bcf)] {
        let p = path.to_str().unwrap();
        let (s, calls) = time_reader(path);
        println!(
            "| {name} | VcfReader::calls ({calls} calls) | {s:.2} | {:.0} |",
            records as f64 / s
        );
        let s = time_bcftools(&["view", "-H", p]);
        println!(
            "| {name} | bcftools view -H | {s:.2} | {:.0} |",
            records as f64 / s
        );
        let s = time_bcftools(&["view", "-Ou", p]);
        println!(
            "| {name} | bcftools view -Ou | {s:.2} | {:.0} |",
            records as f64 / s
        );
    }
}
