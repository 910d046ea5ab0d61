//! [`write_extract`]: one person's de-identified VCF from a site's file.

use std::io::Write;
use std::path::Path;

use noodles_bgzf as bgzf;

use crate::chrom::Region;
use crate::error::{FieldError, VcfError};
use crate::record;
use crate::{ReadOptions, VcfReader};

/// The encoding of an extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractFormat {
    /// Uncompressed VCF text.
    Vcf,
    /// BGZF-compressed VCF (indexable with `bcftools index -t` / `tabix`).
    BgzfVcf,
}

/// What an extract holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractSummary {
    /// Data lines written.
    pub records: u64,
    /// Records on contigs outside 1..22/X/Y/MT, left out.
    pub unknown_contig: u64,
    /// Sample columns written.
    pub samples: usize,
    /// Header lines left out (identifying or unneeded).
    pub header_lines_dropped: usize,
}

/// Meta lines an extract keeps (an allow-list: anything else may carry
/// names, paths, command lines, dates or sample ids — `##SAMPLE`,
/// `##PEDIGREE`, `##tumor_sample`, `##normal_sample`, `##commandline`,
/// `##GATKCommandLine`, `##bcftoolsCommand`, `##fileDate`, ... — and is dropped).
fn keep_meta(line: &str) -> bool {
    const KEEP: [&str; 7] = [
        "##fileformat=",
        "##contig=<",
        "##INFO=<",
        "##FORMAT=<",
        "##FILTER=<",
        "##ALT=<",
        "##source=",
    ];
    if KEEP.iter().any(|k| line.starts_with(k)) {
        return true;
    }
    // A reference or assembly by name is kept, never a path or URL.
    ["##reference=", "##assembly="].iter().any(|k| {
        line.strip_prefix(k)
            .is_some_and(|v| !v.contains('/') && !v.contains('\\') && !v.contains(':'))
    })
}

fn sample_name_ok(n: &str) -> bool {
    !n.is_empty() && !n.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Writes a de-identified extract of `source` to `out`.
///
/// Kept: the sample columns `keep_samples` (indices into
/// [`VcfReader::samples`], in that order) renamed to `rename` (e.g.
/// pseudonyms), and every record on chromosomes 1..22/X/Y/MT that overlaps
/// `region` (by POS..END, END from INFO/END or REF's length, as `bcftools
/// view -r` selects), or every such record without a region — the records
/// `bcftools view -r REGION -s SAMPLE` finds, with all their alleles, also
/// where the kept sample is homozygous reference (which is information too).
/// CHROM, POS, ID, REF, ALT, QUAL, FILTER and FORMAT are copied as written;
/// INFO too, except AC and AN, recounted over the kept samples (see
/// `info_for_kept`). Header: only the allow-listed meta lines (see `keep_meta`).
/// With no samples kept, the extract is sites-only.
///
/// The source is read in full; on an error, what was written to `out` is
/// incomplete and should be discarded (write to a temporary file).
pub fn write_extract(
    source: &Path,
    opts: &ReadOptions,
    keep_samples: &[usize],
    rename: &[String],
    region: Option<&Region>,
    out: impl Write,
    format: ExtractFormat,
) -> Result<ExtractSummary, VcfError> {
    let reader = VcfReader::open(source, opts)?;
    write_extract_from(reader, keep_samples, rename, region, out, format)
}

/// [`write_extract`] from a reader already opened (on a file, or on bytes
/// with [`VcfReader::from_bytes`]) and not yet read from.
pub fn write_extract_from(
    mut reader: VcfReader,
    keep_samples: &[usize],
    rename: &[String],
    region: Option<&Region>,
    out: impl Write,
    format: ExtractFormat,
) -> Result<ExtractSummary, VcfError> {
    let source = reader.path().to_path_buf();
    let source = source.as_path();
    let n = reader.samples().len();
    let usage = |m: &str| VcfError::file(source, m);
    if keep_samples.len() != rename.len() {
        return Err(usage("give one new name per kept sample"));
    }
    if keep_samples.iter().any(|&s| s >= n) {
        return Err(usage(
            "a kept sample index is beyond the file's sample columns",
        ));
    }
    let mut seen: Vec<&String> = rename.iter().collect();
    seen.sort();
    seen.dedup();
    if seen.len() != rename.len()
        || keep_samples
            .iter()
            .enumerate()
            .any(|(i, s)| keep_samples[..i].contains(s))
    {
        return Err(usage("kept samples and their new names must be distinct"));
    }
    if !rename.iter().all(|r| sample_name_ok(r)) {
        return Err(usage(
            "new sample names must be non-empty, without spaces or tabs",
        ));
    }
    let io_err =
        |e: std::io::Error| VcfError::file(source, format!("cannot write the extract: {e}"));
    let mut summary = ExtractSummary {
        samples: keep_samples.len(),
        ..ExtractSummary::default()
    };
    match format {
        ExtractFormat::Vcf => {
            let mut w = std::io::BufWriter::new(out);
            write_body(
                &mut reader,
                keep_samples,
                rename,
                region,
                &mut w,
                &mut summary,
            )?;
            w.flush().map_err(io_err)?;
        }
        ExtractFormat::BgzfVcf => {
            let mut w = bgzf::io::Writer::new(out);
            write_body(
                &mut reader,
                keep_samples,
                rename,
                region,
                &mut w,
                &mut summary,
            )?;
            w.finish().map_err(io_err)?;
        }
    }
    Ok(summary)
}

fn write_body(
    reader: &mut VcfReader,
    keep_samples: &[usize],
    rename: &[String],
    region: Option<&Region>,
    sink: &mut impl Write,
    summary: &mut ExtractSummary,
) -> Result<(), VcfError> {
    let source = reader.path().to_path_buf();
    let io_err =
        |e: std::io::Error| VcfError::file(&source, format!("cannot write the extract: {e}"));
    for line in &reader.header.meta {
        if keep_meta(line) {
            writeln!(sink, "{line}").map_err(io_err)?;
        } else {
            summary.header_lines_dropped += 1;
        }
    }
    let mut columns = String::from("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO");
    if !keep_samples.is_empty() {
        columns.push_str("\tFORMAT");
        for r in rename {
            columns.push('\t');
            columns.push_str(r);
        }
    }
    writeln!(sink, "{columns}").map_err(io_err)?;
    let n = reader.samples().len();
    let mut out = String::new();
    while let Some(step) = reader.next_raw(|text| {
        let rec = record::parse_line(text, n)?;
        let Some(chrom) = rec.chrom() else {
            return Ok(Keep::UnknownContig);
        };
        if region.is_some_and(|r| !r.overlaps(chrom, rec.pos, rec.end())) {
            return Ok(Keep::No);
        }
        out.clear();
        for (i, col) in text.split('\t').take(7).enumerate() {
            if i > 0 {
                out.push('\t');
            }
            out.push_str(col);
        }
        out.push('\t');
        info_for_kept(&rec, keep_samples, &mut out)?;
        if !keep_samples.is_empty() {
            if rec.format.is_empty() {
                return Err(FieldError::new("FORMAT", "missing where samples are kept"));
            }
            out.push('\t');
            out.push_str(&rec.format.join(":"));
            for &s in keep_samples {
                out.push('\t');
                out.push_str(rec.samples[s]);
            }
        }
        Ok(Keep::Yes)
    }) {
        match step? {
            Keep::UnknownContig => summary.unknown_contig += 1,
            Keep::No => {}
            Keep::Yes => {
                writeln!(sink, "{out}").map_err(io_err)?;
                summary.records += 1;
            }
        }
    }
    Ok(())
}

/// What becomes of one record.
enum Keep {
    Yes,
    No,
    UnknownContig,
}

/// INFO for the kept samples: AC and AN recounted from their genotypes (as
/// `bcftools view -s` does), so that the extract does not reveal the other
/// samples' genotypes; without GT, AC and AN are dropped. Other INFO fields
/// (site-level aggregates such as DP or MQ, and annotations) are copied.
fn info_for_kept(
    rec: &record::Record<'_>,
    keep: &[usize],
    out: &mut String,
) -> Result<(), FieldError> {
    let has = |k: &str| {
        rec.info
            .split(';')
            .any(|kv| kv.split('=').next() == Some(k))
    };
    if rec.info == "." || !(has("AC") || has("AN")) {
        out.push_str(rec.info);
        return Ok(());
    }
    let n_alleles = rec.alts.len() + 1;
    let counts = match rec.format_index("GT") {
        None => None,
        Some(i) => {
            let mut an = 0u64;
            let mut ac = vec![0u64; rec.alts.len()];
            for &s in keep {
                if let Some(gt) = rec.sample_value(s, i) {
                    for a in record::parse_gt(gt, n_alleles)?.into_iter().flatten() {
                        an += 1;
                        if a > 0 {
                            ac[a - 1] += 1;
                        }
                    }
                }
            }
            Some((ac, an))
        }
    };
    let mut first = true;
    for kv in rec.info.split(';') {
        let key = kv.split('=').next().unwrap_or("");
        let value = match (key, &counts) {
            ("AC", None) | ("AN", None) => continue,
            ("AC", Some((ac, _))) if !ac.is_empty() => {
                let v: Vec<String> = ac.iter().map(u64::to_string).collect();
                format!("AC={}", v.join(","))
            }
            ("AC", Some(_)) => continue,
            ("AN", Some((_, an))) => format!("AN={an}"),
            _ => kv.to_string(),
        };
        if !first {
            out.push(';');
        }
        first = false;
        out.push_str(&value);
    }
    if first {
        out.push('.');
    }
    Ok(())
}
