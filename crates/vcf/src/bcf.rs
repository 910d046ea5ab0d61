//! BCF records to VCF text lines, from noodles' lazy [`bcf::Record`].
//!
//! noodles' own VCF writer formats a BCF record at about 8 µs (profiled on
//! the benchmark's call set: reading the records takes 4% of that), so the
//! reader formats the fields itself: for calls and sites only CHROM, POS,
//! REF, ALT, FILTER, the INFO keys and FORMAT keys the reader uses; for
//! extracts every field. Values that would break the line (tabs, line ends,
//! and `;`/`:` inside values) are percent-encoded as VCF 4.3 §1.2 allows.

use std::fmt::Write as _;
use std::io;

use noodles_bcf as bcf;
use noodles_vcf as vcf;
use noodles_vcf::variant::record::info::field::Value as InfoValue;
use noodles_vcf::variant::record::info::field::value::Array as InfoArray;
use noodles_vcf::variant::record::samples::series::Value as SampleValue;
use noodles_vcf::variant::record::samples::series::value::Array as SampleArray;
use noodles_vcf::variant::record::samples::series::value::genotype::Phasing;
use noodles_vcf::variant::record::{AlternateBases as _, Filters as _, Info as _};

/// INFO keys the reader needs for calls and sites.
const INFO_KEYS: [&str; 4] = ["SOMATIC", "CSQ", "ANN", "END"];
/// FORMAT keys the reader needs for calls.
const FORMAT_KEYS: [&str; 10] = ["GT", "AD", "DP", "AF", "AU", "CU", "GU", "TU", "TAR", "TIR"];

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("invalid BCF {what}"))
}

/// Appends `s`, percent-encoding the bytes in `special` and `%`-less control characters.
fn push_escaped(out: &mut String, s: &str, special: &[char]) {
    for c in s.chars() {
        if c == '\t' || c == '\n' || c == '\r' || special.contains(&c) {
            let _ = write!(out, "%{:02X}", c as u32);
        } else {
            out.push(c);
        }
    }
}

/// Writes `record` as one VCF data line (without the line end) into `out`;
/// `full` writes every field, otherwise only what calls and sites need.
pub(crate) fn to_text(
    header: &vcf::Header,
    record: &bcf::Record,
    full: bool,
    out: &mut String,
) -> io::Result<()> {
    out.clear();
    out.push_str(record.reference_sequence_name(header.string_maps())?);
    out.push('\t');
    match record.variant_start().transpose()? {
        Some(p) => {
            let _ = write!(out, "{}", usize::from(p));
        }
        None => out.push('0'),
    }
    out.push('\t');
    let ids = String::from_utf8_lossy(record.ids().as_ref()).into_owned();
    if full && !ids.is_empty() {
        push_escaped(out, &ids, &[]);
    } else {
        out.push('.');
    }
    out.push('\t');
    push_escaped(
        out,
        &String::from_utf8_lossy(record.reference_bases().as_ref()),
        &[],
    );
    out.push('\t');
    let alts = record.alternate_bases();
    if alts.is_empty() {
        out.push('.');
    }
    for (i, a) in alts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_escaped(out, a?, &[',']);
    }
    out.push('\t');
    match record.quality_score()? {
        Some(q) if full => {
            let _ = write!(out, "{q}");
        }
        _ => out.push('.'),
    }
    out.push('\t');
    let filters = record.filters();
    if filters.is_empty() {
        out.push('.');
    }
    for (i, f) in filters.iter(header).enumerate() {
        if i > 0 {
            out.push(';');
        }
        push_escaped(out, f?, &[';']);
    }
    out.push('\t');
    let mut any = false;
    for field in record.info().iter(header) {
        let (key, value) = field?;
        if !full && !INFO_KEYS.contains(&key) {
            continue;
        }
        if any {
            out.push(';');
        }
        any = true;
        push_escaped(out, key, &[';', '=']);
        if let Some(v) = value {
            if !matches!(v, InfoValue::Flag) {
                out.push('=');
            }
            info_value(out, v)?;
        }
    }
    if !any {
        out.push('.');
    }
    let n_samples = header.sample_names().len();
    if n_samples == 0 {
        return Ok(());
    }
    let samples = record.samples()?;
    let mut series = Vec::new();
    for s in samples.series() {
        let s = s?;
        let name = s.name(header)?;
        if full || FORMAT_KEYS.contains(&name) {
            series.push((name, s));
        }
    }
    out.push('\t');
    if series.is_empty() {
        out.push('.');
    }
    for (i, (name, _)) in series.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        push_escaped(out, name, &[':']);
    }
    for i in 0..n_samples {
        out.push('\t');
        if series.is_empty() {
            out.push('.');
        }
        for (k, (_, s)) in series.iter().enumerate() {
            if k > 0 {
                out.push(':');
            }
            match s.get(header, i) {
                None => return Err(invalid("sample count")),
                Some(None) => out.push('.'),
                Some(Some(v)) => sample_value(out, v?)?,
            }
        }
    }
    Ok(())
}

fn join<T>(
    out: &mut String,
    values: impl Iterator<Item = io::Result<Option<T>>>,
    mut each: impl FnMut(&mut String, T),
) -> io::Result<()> {
    let mut first = true;
    for v in values {
        if !first {
            out.push(',');
        }
        first = false;
        match v? {
            Some(v) => each(out, v),
            None => out.push('.'),
        }
    }
    if first {
        out.push('.');
    }
    Ok(())
}

fn info_value(out: &mut String, v: InfoValue<'_>) -> io::Result<()> {
    match v {
        InfoValue::Flag => {}
        InfoValue::Integer(n) => {
            let _ = write!(out, "{n}");
        }
        InfoValue::Float(f) => {
            let _ = write!(out, "{f}");
        }
        InfoValue::Character(c) => push_escaped(out, c.encode_utf8(&mut [0; 4]), &[';', ',']),
        InfoValue::String(s) => push_escaped(out, &s, &[';']),
        InfoValue::Array(InfoArray::Integer(v)) => join(out, v.iter(), |o, n| {
            let _ = write!(o, "{n}");
        })?,
        InfoValue::Array(InfoArray::Float(v)) => join(out, v.iter(), |o, f| {
            let _ = write!(o, "{f}");
        })?,
        InfoValue::Array(InfoArray::Character(v)) => join(out, v.iter(), |o, c| {
            push_escaped(o, c.encode_utf8(&mut [0; 4]), &[';', ','])
        })?,
        InfoValue::Array(InfoArray::String(v)) => {
            join(out, v.iter(), |o, s| push_escaped(o, &s, &[';', ',']))?
        }
    }
    Ok(())
}

fn sample_value(out: &mut String, v: SampleValue<'_>) -> io::Result<()> {
    match v {
        SampleValue::Integer(n) => {
            let _ = write!(out, "{n}");
        }
        SampleValue::Float(f) => {
            let _ = write!(out, "{f}");
        }
        SampleValue::Character(c) => push_escaped(out, c.encode_utf8(&mut [0; 4]), &[':', ',']),
        SampleValue::String(s) => push_escaped(out, &s, &[':']),
        SampleValue::Genotype(g) => {
            let mut first = true;
            for allele in g.iter() {
                let (position, phasing) = allele?;
                if !first {
                    out.push(if phasing == Phasing::Phased { '|' } else { '/' });
                }
                first = false;
                match position {
                    Some(p) => {
                        let _ = write!(out, "{p}");
                    }
                    None => out.push('.'),
                }
            }
            if first {
                out.push('.');
            }
        }
        SampleValue::Array(SampleArray::Integer(v)) => join(out, v.iter(), |o, n| {
            let _ = write!(o, "{n}");
        })?,
        SampleValue::Array(SampleArray::Float(v)) => join(out, v.iter(), |o, f| {
            let _ = write!(o, "{f}");
        })?,
        SampleValue::Array(SampleArray::Character(v)) => join(out, v.iter(), |o, c| {
            push_escaped(o, c.encode_utf8(&mut [0; 4]), &[':', ','])
        })?,
        SampleValue::Array(SampleArray::String(v)) => {
            join(out, v.iter(), |o, s| push_escaped(o, &s, &[':', ',']))?
        }
    }
    Ok(())
}
