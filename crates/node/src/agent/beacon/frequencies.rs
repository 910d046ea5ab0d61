//! The site's population allele frequencies for pricing Beacon answers: a
//! tab-separated table `chrom pos ref alt af` (1-based VCF coordinates, one
//! alternate allele per line, a header line whose first field is `chrom`),
//! such as the synthetic cohort's `ground-truth/background-panel.tsv` or a
//! table cut from gnomAD's sites VCF (`bcftools query -f
//! '%CHROM\t%POS\t%REF\t%ALT\t%INFO/AF\n'`). Loaded once when the agent starts.
//!
//! Chromosome names are normalised as the store keeps them (`chr7` → `7`,
//! `chrM`/`M` → `MT`), bases upper-cased. A malformed line fails the load with
//! the file, line and field: a half-read table would price the missing alleles
//! as novel, which is safe, but hides the mistake.

use oncofed_model::GenomeBuild;
use std::collections::HashMap;
use std::path::Path;

/// Most lines a table may hold (gnomAD's exome sites are ~20 million alleles;
/// a site loads the panel it sequences, not the genome).
pub const MAX_FREQUENCY_LINES: usize = 5_000_000;

/// Why a frequency table could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FrequencyError {
    /// The file could not be read.
    #[error("allele frequency table {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is malformed.
    #[error("allele frequency table {path}, line {line}, field {field}: {reason}")]
    Line {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The field's name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The table is larger than [`MAX_FREQUENCY_LINES`].
    #[error("allele frequency table {path}: more than {MAX_FREQUENCY_LINES} lines")]
    TooLarge {
        /// The file.
        path: String,
    },
}

/// Population frequencies of alleles on one reference genome.
#[derive(Debug, Clone)]
pub struct AlleleFrequencies {
    build: GenomeBuild,
    table: HashMap<(String, u64, String, String), f64>,
}

/// The store's spelling of a chromosome name (`chr7` → `7`, `chrM` → `MT`).
pub fn normalise_chrom(name: &str) -> String {
    let bare = name
        .strip_prefix("chr")
        .or_else(|| name.strip_prefix("CHR"))
        .unwrap_or(name);
    match bare {
        "M" | "m" | "mt" | "Mt" => "MT".to_owned(),
        other => other.to_ascii_uppercase(),
    }
}

impl AlleleFrequencies {
    /// Reads the table at `path`, whose coordinates are on `build`.
    pub fn read(path: &Path, build: GenomeBuild) -> Result<Self, FrequencyError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| FrequencyError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown, build)
    }

    /// Parses a table's text; `source` names it in errors.
    pub fn parse(text: &str, source: &str, build: GenomeBuild) -> Result<Self, FrequencyError> {
        let mut table = HashMap::new();
        let err = |line: usize, field: &'static str, reason: String| FrequencyError::Line {
            path: source.to_owned(),
            line,
            field,
            reason,
        };
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let raw = raw.trim_end_matches('\r');
            if raw.is_empty() || raw.starts_with('#') || (line == 1 && raw.starts_with("chrom")) {
                continue;
            }
            if table.len() >= MAX_FREQUENCY_LINES {
                return Err(FrequencyError::TooLarge {
                    path: source.to_owned(),
                });
            }
            let fields: Vec<&str> = raw.split('\t').collect();
            let [chrom, pos, reference, alternate, af] = fields[..] else {
                return Err(err(
                    line,
                    "line",
                    format!("expected 5 tab-separated fields, found {}", fields.len()),
                ));
            };
            if chrom.is_empty() || chrom.len() > 32 {
                return Err(err(line, "chrom", "empty or longer than 32".into()));
            }
            let pos: u64 = pos
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| err(line, "pos", format!("{pos:?} is not a position ≥ 1")))?;
            let bases = |field: &'static str, s: &str| {
                let up = s.to_ascii_uppercase();
                if !up.is_empty()
                    && up.len() <= 1_000
                    && up
                        .bytes()
                        .all(|b| matches!(b, b'A' | b'C' | b'G' | b'T' | b'N'))
                {
                    Ok(up)
                } else {
                    Err(err(line, field, format!("{s:?} is not A/C/G/T/N bases")))
                }
            };
            let (reference, alternate) = (bases("ref", reference)?, bases("alt", alternate)?);
            let af: f64 = af
                .parse()
                .ok()
                .filter(|f: &f64| f.is_finite() && (0.0..=1.0).contains(f))
                .ok_or_else(|| err(line, "af", format!("{af:?} is not a frequency in [0, 1]")))?;
            table.insert((normalise_chrom(chrom), pos, reference, alternate), af);
        }
        Ok(Self { build, table })
    }

    /// The frequency of an allele (VCF coordinates), if the table has it.
    pub fn get(
        &self,
        build: GenomeBuild,
        chrom: &str,
        pos: u64,
        reference: &str,
        alternate: &str,
    ) -> Option<f64> {
        if build != self.build {
            return None;
        }
        self.table
            .get(&(
                chrom.to_owned(),
                pos,
                reference.to_owned(),
                alternate.to_owned(),
            ))
            .copied()
    }

    /// Alleles in the table.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synthetic_panel_format_is_read_and_errors_name_line_and_field() {
        let text = "chrom\tpos\tref\talt\tpopulation_af\nchr7\t100\tA\tg\t0.01\nM\t5\tC\tT\t0.5\n";
        let t = AlleleFrequencies::parse(text, "panel.tsv", GenomeBuild::Grch38).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(GenomeBuild::Grch38, "7", 100, "A", "G"), Some(0.01));
        assert_eq!(t.get(GenomeBuild::Grch38, "MT", 5, "C", "T"), Some(0.5));
        assert_eq!(t.get(GenomeBuild::Grch37, "7", 100, "A", "G"), None);
        assert_eq!(t.get(GenomeBuild::Grch38, "7", 100, "A", "T"), None);
        for (bad, field) in [
            ("7\t100\tA\tG\n", "line"),
            ("7\t0\tA\tG\t0.1\n", "pos"),
            ("7\t1\tA\tR\t0.1\n", "alt"),
            ("7\t1\tA\tG\t1.5\n", "af"),
            ("7\t1\tA\tG\tNaN\n", "af"),
        ] {
            let e = AlleleFrequencies::parse(bad, "f.tsv", GenomeBuild::Grch38).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("f.tsv, line 1, field ") && text.contains(field),
                "{text}"
            );
        }
    }
}
