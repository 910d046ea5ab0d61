//! Sequence variants in the harmonised model (issue 16).
//!
//! One representation for "EGFR p.L858R somatic, VAF 0.31", whether it came
//! from a pipeline's VCF (with its locus) or from a FHIR molecular observation
//! (gene and HGVS only). A site stores one [`GeneticVariant`] per call; the
//! feasibility criterion `variant` and the analysis variables `variant:` and
//! `vaf:` read it. The origin decides the data category and so the consent
//! question: germline calls identify the person and their relatives.

use crate::DataCategory;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a variant arose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VariantOrigin {
    /// Inherited: in every cell of the body, shared with relatives.
    Germline,
    /// Acquired by the tumour.
    Somatic,
}

impl VariantOrigin {
    /// The stable name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Germline => "germline",
            Self::Somatic => "somatic",
        }
    }

    /// The data category consent is checked against: germline calls are
    /// [`DataCategory::Germline`], somatic ones [`DataCategory::Genetic`].
    pub fn category(self) -> DataCategory {
        match self {
            Self::Germline => DataCategory::Germline,
            Self::Somatic => DataCategory::Genetic,
        }
    }
}

impl fmt::Display for VariantOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VariantOrigin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "germline" => Ok(Self::Germline),
            "somatic" => Ok(Self::Somatic),
            _ => Err(format!(
                "unknown variant origin '{s}': use germline or somatic"
            )),
        }
    }
}

/// The reference genome a locus is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum GenomeBuild {
    /// GRCh37 (hg19, hs37d5, b37).
    #[serde(rename = "GRCh37")]
    Grch37,
    /// GRCh38 (hg38).
    #[serde(rename = "GRCh38")]
    Grch38,
}

impl GenomeBuild {
    /// The build's name as Beacon and VCF headers write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grch37 => "GRCh37",
            Self::Grch38 => "GRCh38",
        }
    }
}

impl fmt::Display for GenomeBuild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GenomeBuild {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "grch37" | "hg19" | "hs37d5" | "b37" => Ok(Self::Grch37),
            "grch38" | "hg38" => Ok(Self::Grch38),
            _ => Err(format!("unknown genome build '{s}': use GRCh37 or GRCh38")),
        }
    }
}

/// How many copies of the alternate allele a call carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Zygosity {
    /// One of two copies.
    Heterozygous,
    /// Both copies.
    Homozygous,
    /// The only copy (X or Y in males, MT).
    Hemizygous,
}

impl Zygosity {
    /// The stable name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Heterozygous => "heterozygous",
            Self::Homozygous => "homozygous",
            Self::Hemizygous => "hemizygous",
        }
    }

    /// Inverse of [`Zygosity::as_str`].
    pub fn from_name(s: &str) -> Option<Self> {
        [Self::Heterozygous, Self::Homozygous, Self::Hemizygous]
            .into_iter()
            .find(|z| z.as_str() == s)
    }
}

/// A position and allele on a reference genome, VCF style (1-based, REF and one ALT).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VariantLocus {
    /// The reference genome.
    pub build: GenomeBuild,
    /// Chromosome, normalised: `1`..`22`, `X`, `Y`, `MT`.
    pub chrom: String,
    /// 1-based position of the first reference base.
    pub pos: u64,
    /// Reference bases.
    pub reference: String,
    /// The one alternate allele (multi-allelic records are split).
    pub alternate: String,
}

/// One variant call of a person, in the harmonised model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneticVariant {
    /// HGNC gene symbol, e.g. `EGFR`.
    pub gene: Option<String>,
    /// HGNC id, e.g. `HGNC:3236`: the code the `marker` criterion and the
    /// `gene:` variable use.
    pub hgnc: Option<String>,
    /// HGVS coding change without the transcript, e.g. `c.2573T>G`.
    pub hgvs_c: Option<String>,
    /// HGVS protein change in one-letter form without the protein id, e.g. `p.L858R`.
    pub hgvs_p: Option<String>,
    /// The most severe Sequence Ontology consequence, e.g. `missense_variant`.
    pub consequence: Option<String>,
    /// Germline or somatic.
    pub origin: VariantOrigin,
    /// Variant allele fraction (somatic calls).
    pub vaf: Option<f64>,
    /// Read depth at the position.
    pub depth: Option<u32>,
    /// Copies of the alternate allele.
    pub zygosity: Option<Zygosity>,
    /// Where it is, when the source named it (VCF); FHIR markers may not.
    pub locus: Option<VariantLocus>,
}

/// Normalises an HGVS protein change to its one-letter form without the
/// protein accession: `ENSP00000275493.2:p.Leu858Arg` → `p.L858R`,
/// `p.(Val600Glu)` → `p.V600E`, `p.Trp288CysfsTer12` → `p.W288Cfs*12`.
///
/// Returns `None` for text that is not a protein change. A query and a stored
/// call are compared in this form, so that both spellings match.
pub fn normalise_hgvs_p(text: &str) -> Option<String> {
    let text = text.trim();
    let change = match text.rfind("p.") {
        Some(i) => &text[i + 2..],
        None => return None,
    };
    let change = change
        .strip_prefix('(')
        .and_then(|c| c.strip_suffix(')'))
        .unwrap_or(change);
    if change.is_empty() {
        return None;
    }
    let mut out = String::from("p.");
    let mut rest = change;
    while !rest.is_empty() {
        if let Some((one, len)) = three_letter(rest) {
            out.push(one);
            rest = &rest[len..];
            continue;
        }
        let c = rest.chars().next()?;
        if !(c.is_ascii_alphanumeric() || "_*=?>-+".contains(c)) {
            return None;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Some(out)
}

/// The one-letter code of a three-letter amino-acid code at the start of `s`.
fn three_letter(s: &str) -> Option<(char, usize)> {
    const CODES: [(&str, char); 24] = [
        ("Ala", 'A'),
        ("Arg", 'R'),
        ("Asn", 'N'),
        ("Asp", 'D'),
        ("Cys", 'C'),
        ("Gln", 'Q'),
        ("Glu", 'E'),
        ("Gly", 'G'),
        ("His", 'H'),
        ("Ile", 'I'),
        ("Leu", 'L'),
        ("Lys", 'K'),
        ("Met", 'M'),
        ("Phe", 'F'),
        ("Pro", 'P'),
        ("Ser", 'S'),
        ("Thr", 'T'),
        ("Trp", 'W'),
        ("Tyr", 'Y'),
        ("Val", 'V'),
        ("Sec", 'U'),
        ("Pyl", 'O'),
        ("Ter", '*'),
        ("Xaa", 'X'),
    ];
    let head = s.get(..3)?;
    CODES
        .iter()
        .find(|(three, _)| *three == head)
        .map(|&(_, one)| (one, 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hgvs_p_forms_meet() {
        for (input, want) in [
            ("ENSP00000275493.2:p.Leu858Arg", "p.L858R"),
            ("p.L858R", "p.L858R"),
            ("p.(Val600Glu)", "p.V600E"),
            ("p.Trp288CysfsTer12", "p.W288Cfs*12"),
            ("p.Glu746_Ala750del", "p.E746_A750del"),
            ("p.=", "p.="),
        ] {
            assert_eq!(normalise_hgvs_p(input).as_deref(), Some(want), "{input}");
        }
        assert_eq!(normalise_hgvs_p("c.2573T>G"), None);
        assert_eq!(normalise_hgvs_p("p."), None);
        assert_eq!(normalise_hgvs_p("p.L858R; drop table"), None);
    }

    #[test]
    fn origin_decides_category() {
        assert_eq!(VariantOrigin::Germline.category(), DataCategory::Germline);
        assert_eq!(VariantOrigin::Somatic.category(), DataCategory::Genetic);
        assert_eq!("hg19".parse::<GenomeBuild>(), Ok(GenomeBuild::Grch37));
    }
}
