//! One data line (VCF 4.3 §1.6): the fixed columns checked, the rest kept
//! as borrowed text and read only where a call needs it.

use crate::chrom::Chrom;
use crate::error::FieldError;

/// What an alternate allele is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AltKind {
    /// Bases (`A`, `ACGT`): a variant.
    Sequence,
    /// gVCF's `<NON_REF>`/`<*>`, old samtools' `X`: "any other allele", no variant.
    Unobserved,
    /// `<DEL>`, `<INS:ME>`, breakends: structural, not read by this crate.
    Symbolic,
    /// `*`: an allele deleted by an upstream deletion.
    SpanningDeletion,
}

pub(crate) fn classify_alt(alt: &str) -> Result<AltKind, FieldError> {
    match alt {
        "<NON_REF>" | "<*>" | "X" => Ok(AltKind::Unobserved),
        "*" => Ok(AltKind::SpanningDeletion),
        _ if alt.starts_with('<') && alt.ends_with('>') => Ok(AltKind::Symbolic),
        _ if alt.contains('[') || alt.contains(']') => Ok(AltKind::Symbolic),
        _ if alt.starts_with('.') || alt.ends_with('.') && alt.len() > 1 => Ok(AltKind::Symbolic),
        _ if !alt.is_empty() && alt.bytes().all(is_base) => Ok(AltKind::Sequence),
        _ => Err(FieldError::new(
            "ALT",
            "an alternate allele must be bases (ACGTN), a symbolic <ID>, * or a breakend",
        )),
    }
}

fn is_base(b: u8) -> bool {
    matches!(b.to_ascii_uppercase(), b'A' | b'C' | b'G' | b'T' | b'N')
}

/// The columns of one data line.
#[derive(Debug)]
pub(crate) struct Record<'a> {
    pub chrom_name: &'a str,
    pub pos: u64,
    pub reference: &'a str,
    /// Alternate alleles; empty for ALT `.`.
    pub alts: Vec<&'a str>,
    pub filter: &'a str,
    pub info: &'a str,
    pub format: Vec<&'a str>,
    pub samples: Vec<&'a str>,
}

/// Largest POS accepted: BCF stores positions as 32-bit signed integers.
pub(crate) const MAX_POS: u64 = i32::MAX as u64;

/// Splits and checks the fixed columns; `n_samples` from the `#CHROM` line.
pub(crate) fn parse_line(line: &str, n_samples: usize) -> Result<Record<'_>, FieldError> {
    let mut cols = line.split('\t');
    let mut next = |name: &'static str| {
        cols.next()
            .ok_or_else(|| FieldError::new(name, "missing column (data lines are tab-separated)"))
    };
    let chrom_name = next("CHROM")?;
    let pos_text = next("POS")?;
    let _id = next("ID")?;
    let reference = next("REF")?;
    let alt = next("ALT")?;
    let _qual = next("QUAL")?;
    let filter = next("FILTER")?;
    let info = next("INFO")?;
    if chrom_name.is_empty() {
        return Err(FieldError::new("CHROM", "empty chromosome name"));
    }
    let pos = pos_text
        .parse::<u64>()
        .ok()
        .filter(|p| (1..=MAX_POS).contains(p) && pos_text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            FieldError::new(
                "POS",
                "position must be a whole number from 1 to 2147483647 (BCF's limit)",
            )
        })?;
    if reference.is_empty() || !reference.bytes().all(is_base) {
        return Err(FieldError::new(
            "REF",
            "reference allele must be bases A, C, G, T or N",
        ));
    }
    let alts: Vec<&str> = if alt == "." {
        Vec::new()
    } else {
        alt.split(',').collect()
    };
    let (format, samples) = match cols.next() {
        None => (Vec::new(), Vec::new()),
        Some(f) => (f.split(':').collect(), cols.collect::<Vec<&str>>()),
    };
    if samples.len() != n_samples {
        return Err(FieldError::new(
            "sample columns",
            format!(
                "{} sample columns where the #CHROM line has {n_samples}",
                samples.len()
            ),
        ));
    }
    Ok(Record {
        chrom_name,
        pos,
        reference,
        alts,
        filter,
        info,
        format,
        samples,
    })
}

impl<'a> Record<'a> {
    /// The INFO value of `key`: `Some("")` for a flag, `None` when absent.
    pub(crate) fn info(&self, key: &str) -> Option<&'a str> {
        if self.info == "." {
            return None;
        }
        self.info
            .split(';')
            .find_map(|kv| match kv.split_once('=') {
                Some((k, v)) if k == key => Some(v),
                None if kv == key => Some(""),
                _ => None,
            })
    }

    /// The normalised chromosome, `None` for contigs outside 1..22/X/Y/MT.
    pub(crate) fn chrom(&self) -> Option<Chrom> {
        Chrom::normalise(self.chrom_name)
    }

    /// The last reference position the record covers: INFO/END when given
    /// (gVCF blocks, symbolic alleles), else POS + len(REF) - 1.
    pub(crate) fn end(&self) -> u64 {
        self.info("END")
            .and_then(|e| e.parse::<u64>().ok())
            .filter(|&e| e >= self.pos)
            .unwrap_or(self.pos.saturating_add(self.reference.len() as u64 - 1))
    }

    /// The FORMAT key's index.
    pub(crate) fn format_index(&self, key: &str) -> Option<usize> {
        self.format.iter().position(|k| *k == key)
    }

    /// The value of FORMAT key index `i` in sample column `s`; `None` when
    /// the column is shorter (trailing fields may be dropped, VCF 4.3 §1.6.2).
    pub(crate) fn sample_value(&self, s: usize, i: usize) -> Option<&'a str> {
        self.samples.get(s)?.split(':').nth(i)
    }
}

/// A genotype's allele indices (`None` for `.`), phased or not.
pub(crate) fn parse_gt(gt: &str, n_alleles: usize) -> Result<Vec<Option<usize>>, FieldError> {
    gt.split(['/', '|'])
        .map(|a| {
            if a == "." {
                return Ok(None);
            }
            let i: usize = a
                .parse()
                .ok()
                .filter(|_| a.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    FieldError::new("FORMAT/GT", "genotype alleles must be numbers or '.'")
                })?;
            if i >= n_alleles {
                return Err(FieldError::new(
                    "FORMAT/GT",
                    format!("allele index beyond the record's {n_alleles} alleles"),
                ));
            }
            Ok(Some(i))
        })
        .collect()
}

/// A comma-separated numeric FORMAT value with exactly `expected` entries
/// (each may be `.`); `None` for a wholly missing value `.`.
pub(crate) fn parse_numbers(
    value: &str,
    expected: usize,
    field: &str,
    what: &str,
) -> Result<Option<Vec<Option<f64>>>, FieldError> {
    if value == "." || value.is_empty() {
        return Ok(None);
    }
    let v: Vec<Option<f64>> = value
        .split(',')
        .map(|x| {
            if x == "." {
                return Ok(None);
            }
            x.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(Some)
                .ok_or_else(|| FieldError::new(field, "values must be non-negative numbers"))
        })
        .collect::<Result<_, _>>()?;
    if v.len() != expected {
        return Err(FieldError::new(
            field,
            format!("{} values where {expected} are expected ({what})", v.len()),
        ));
    }
    Ok(Some(v))
}

/// The minimal representation of one REF/ALT pair: common trailing bases,
/// then common leading bases are dropped (at least one base stays in each),
/// moving POS past the dropped leading bases (as `bcftools norm` does when
/// it splits multi-allelic records; no left-alignment, which needs the reference).
pub(crate) fn trim(pos: u64, reference: &str, alt: &str) -> (u64, String, String) {
    let (r, a) = (reference.as_bytes(), alt.as_bytes());
    let mut suffix = 0;
    while suffix + 1 < r.len()
        && suffix + 1 < a.len()
        && r[r.len() - 1 - suffix].eq_ignore_ascii_case(&a[a.len() - 1 - suffix])
    {
        suffix += 1;
    }
    let (r, a) = (&r[..r.len() - suffix], &a[..a.len() - suffix]);
    let mut prefix = 0;
    while prefix + 1 < r.len() && prefix + 1 < a.len() && r[prefix].eq_ignore_ascii_case(&a[prefix])
    {
        prefix += 1;
    }
    let up = |b: &[u8]| String::from_utf8_lossy(b).to_ascii_uppercase();
    (
        pos.saturating_add(prefix as u64),
        up(&r[prefix..]),
        up(&a[prefix..]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_to_minimal_representation() {
        assert_eq!(trim(10, "GTT", "GT"), (10, "GT".into(), "G".into()));
        assert_eq!(trim(10, "GTT", "G"), (10, "GTT".into(), "G".into()));
        assert_eq!(trim(10, "A", "G"), (10, "A".into(), "G".into()));
        assert_eq!(trim(10, "ACG", "ATG"), (11, "C".into(), "T".into()));
        assert_eq!(trim(10, "a", "at"), (10, "A".into(), "AT".into()));
    }

    #[test]
    fn genotypes() {
        assert_eq!(parse_gt("0/1", 2).unwrap(), vec![Some(0), Some(1)]);
        assert_eq!(parse_gt("1|2", 3).unwrap(), vec![Some(1), Some(2)]);
        assert_eq!(parse_gt("./.", 2).unwrap(), vec![None, None]);
        assert_eq!(parse_gt("1", 2).unwrap(), vec![Some(1)]);
        assert!(parse_gt("0/3", 3).is_err());
        assert!(parse_gt("0/x", 3).is_err());
        assert!(parse_gt("0/+1", 3).is_err());
    }
}
