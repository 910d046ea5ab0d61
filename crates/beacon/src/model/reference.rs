//! Assemblies and chromosome names: every spelling of a human chromosome in
//! a Beacon request normalised to one value (see [`super::variant`] for the
//! accepted forms).
use serde::{Deserialize, Serialize};
use std::fmt;

use super::variant::QueryError;

/// A reference assembly (`assemblyId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Assembly {
    /// GRCh37, UCSC hg19.
    #[serde(rename = "GRCh37")]
    Grch37,
    /// GRCh38, UCSC hg38.
    #[serde(rename = "GRCh38")]
    Grch38,
}

impl Assembly {
    /// Parses `GRCh37`, `GRCh38`, `hg19`, `hg38` (any case, `.pNN` patch suffix).
    pub fn parse(s: &str) -> Result<Self, QueryError> {
        let lower = s.trim().to_ascii_lowercase();
        let base = match lower.split_once(".p") {
            Some((b, patch)) if !patch.is_empty() && patch.bytes().all(|c| c.is_ascii_digit()) => b,
            _ => lower.as_str(),
        };
        match base {
            "grch37" | "hg19" => Ok(Self::Grch37),
            "grch38" | "hg38" => Ok(Self::Grch38),
            _ => Err(QueryError::invalid(
                "assemblyId",
                s,
                "accepted: GRCh37, GRCh38, hg19, hg38",
            )),
        }
    }

    /// The GRC name, as returned in responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grch37 => "GRCh37",
            Self::Grch38 => "GRCh38",
        }
    }
}

/// A human chromosome, independent of how the request spelled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Chromosome {
    /// Autosome 1..=22.
    Autosome(u8),
    /// X.
    X,
    /// Y.
    Y,
    /// The mitochondrion (rCRS).
    Mt,
}

/// RefSeq versions of NC_000001..NC_000024 in GRCh37; GRCh38 is each plus one.
const GRCH37_REFSEQ_VERSION: [u8; 24] = [
    10, 11, 11, 11, 9, 11, 13, 10, 11, 10, 9, 11, 10, 8, 9, 9, 10, 9, 9, 10, 8, 10, 10, 9,
];

impl Chromosome {
    fn from_number(n: u8) -> Option<Self> {
        match n {
            1..=22 => Some(Self::Autosome(n)),
            23 => Some(Self::X),
            24 => Some(Self::Y),
            _ => None,
        }
    }

    /// Index 1..=24 in RefSeq's NC_0000NN numbering (MT has none).
    fn refseq_number(self) -> Option<u8> {
        match self {
            Self::Autosome(n) => Some(n),
            Self::X => Some(23),
            Self::Y => Some(24),
            Self::Mt => None,
        }
    }

    /// Normalises `referenceName`: `chr7`, `7`, `NC_000007.14`, `NC_000007.13`,
    /// `X`, `chrY`, `MT`, `chrM`, `NC_012920.1`. Returns the chromosome and the
    /// assembly a RefSeq accession implies.
    pub fn parse(s: &str) -> Result<(Self, Option<Assembly>), QueryError> {
        let bad = || {
            QueryError::invalid(
                "referenceName",
                s,
                "accepted: 1..22, X, Y, MT with or without 'chr', or a RefSeq accession such as NC_000007.14",
            )
        };
        let t = s.trim();
        let t = t.strip_prefix("refseq:").unwrap_or(t);
        if let Some(acc) = t.strip_prefix("NC_") {
            if acc == "012920.1" {
                return Ok((Self::Mt, None));
            }
            let (num, ver) = acc.split_once('.').ok_or_else(bad)?;
            if num.len() != 6 || !num.starts_with("0000") {
                return Err(bad());
            }
            let n: u8 = num.parse().map_err(|_| bad())?;
            let v: u8 = ver.parse().map_err(|_| bad())?;
            let chrom = Self::from_number(n).ok_or_else(bad)?;
            let v37 = GRCH37_REFSEQ_VERSION[usize::from(n - 1)];
            let asm = if v == v37 {
                Assembly::Grch37
            } else if v == v37 + 1 {
                Assembly::Grch38
            } else {
                return Err(QueryError::invalid(
                    "referenceName",
                    s,
                    "RefSeq version is neither the GRCh37 nor the GRCh38 one",
                ));
            };
            return Ok((chrom, Some(asm)));
        }
        let lower = t.to_ascii_lowercase();
        let name = lower.strip_prefix("chr").unwrap_or(&lower);
        let chrom = match name {
            "x" => Self::X,
            "y" => Self::Y,
            "m" | "mt" => Self::Mt,
            digits
                if !digits.is_empty()
                    && digits.len() <= 2
                    && digits.bytes().all(|c| c.is_ascii_digit()) =>
            {
                let n: u8 = digits.parse().map_err(|_| bad())?;
                match n {
                    1..=22 => Self::Autosome(n),
                    _ => return Err(bad()),
                }
            }
            _ => return Err(bad()),
        };
        Ok((chrom, None))
    }

    /// The RefSeq accession of this chromosome in `assembly`.
    pub fn refseq(self, assembly: Assembly) -> String {
        match self.refseq_number() {
            None => "NC_012920.1".to_owned(),
            Some(n) => {
                let v37 = GRCH37_REFSEQ_VERSION[usize::from(n - 1)];
                let v = match assembly {
                    Assembly::Grch37 => v37,
                    Assembly::Grch38 => v37 + 1,
                };
                format!("NC_{n:06}.{v}")
            }
        }
    }
}

impl fmt::Display for Chromosome {
    /// The name without `chr`, as VCF from Ensembl/GRC writes it (`7`, `X`, `MT`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Autosome(n) => write!(f, "{n}"),
            Self::X => f.write_str("X"),
            Self::Y => f.write_str("Y"),
            Self::Mt => f.write_str("MT"),
        }
    }
}

impl From<Chromosome> for String {
    fn from(c: Chromosome) -> String {
        c.to_string()
    }
}

impl TryFrom<String> for Chromosome {
    type Error = QueryError;
    fn try_from(s: String) -> Result<Self, QueryError> {
        Self::parse(&s).map(|(c, _)| c)
    }
}
