//! The validated genomic-variant query (`g_variants` request parameters).
//!
//! Beacon v2 `genomicVariations/requestParameters.json` (v2.1.1) allows three
//! shapes that OncoFed serves, each checked here once so the site and hub code
//! only see well-formed queries:
//!
//! | shape | parameters |
//! |---|---|
//! | sequence query | `referenceName`, `start`, `referenceBases`, `alternateBases` (+ `assemblyId`) |
//! | range query | `referenceName`, `start`, `end` [+ `variantType`] (+ `assemblyId`) |
//! | gene query | `geneId` [+ `aminoacidChange` or `variantType`] |
//!
//! # Coordinates
//!
//! Beacon `start` is **0-based inclusive** and `end` **0-based exclusive**
//! (the schema's descriptions of `start` and `end`; the same as UCSC/BED and
//! GA4GH VRS "interbase" coordinates). VCF `POS` is 1-based inclusive, so:
//!
//! - a sequence query at Beacon `start = s` is the VCF record with `POS = s + 1`
//!   and `REF = referenceBases` (for indels Beacon, like VCF, includes the
//!   padding base: `start` points at it) — [`VariantQuery::vcf_position`];
//! - a range query `[start, end)` covers VCF positions `start + 1 ..= end` —
//!   [`VariantQuery::vcf_range`].
//!
//! # Reference names
//!
//! `chr7`, `7`, `NC_000007.14` (GRCh38) and `NC_000007.13` (GRCh37, also
//! with the `refseq:` prefix of the Beacon FAQ) all name
//! chromosome 7; the RefSeq accession also fixes the assembly, and a request
//! whose `assemblyId` contradicts it is refused. `assemblyId` accepts
//! `GRCh37`/`hg19` and `GRCh38`/`hg38` (any case, patch suffix `.p13` allowed).
//! Coordinates without an assembly are meaningless (GRCh37 and GRCh38 differ by
//! megabases), so a sequence or range query needs one, given or implied.
//! The mitochondrion is the rCRS (`NC_012920.1`, `MT`, `chrM`); UCSC hg19's
//! `chrM` is a different sequence (NC_001807.4) and is refused for GRCh37.
//!
//! Bracket queries (two values in `start`/`end`) and the other parameters of
//! the schema (`mateName`, `genomicAlleleShortForm`, `variantMinLength`, ...,
//! and ontology terms such as `EFO:0030067` in `variantType`)
//! are refused with an error naming the parameter rather than ignored: a
//! silently dropped constraint would answer a broader question than asked.
use serde::{Deserialize, Serialize};

pub use super::reference::{Assembly, Chromosome};
use super::request::VariantParameters;

/// Longest base string accepted (a Beacon answer about a longer allele is not
/// a small-variant query, and the limit bounds the work per request).
pub const MAX_BASES: usize = 1_000;
/// Largest coordinate accepted: above the longest human chromosome (chr1,
/// 248,956,422 bp in GRCh38), so any larger value is a mistake.
pub const MAX_POSITION: u64 = 250_000_000;

/// A malformed or unsupported variant query; becomes a `beaconErrorResponse`
/// with HTTP status 400 (see [`super::response::ErrorResponse`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A parameter the shape needs is absent.
    #[error("requestParameters.{field}: missing; {hint}")]
    Missing {
        /// The Beacon parameter name.
        field: &'static str,
        /// How to form a valid query.
        hint: &'static str,
    },
    /// A parameter has a value OncoFed cannot use.
    #[error("requestParameters.{field}: {reason} (got {value:?})")]
    Invalid {
        /// The Beacon parameter name.
        field: &'static str,
        /// The offending value, truncated to 64 characters.
        value: String,
        /// Why it is refused and what is accepted.
        reason: &'static str,
    },
    /// A parameter of the schema that OncoFed does not serve.
    #[error("requestParameters.{field}: not supported by this beacon; {hint}")]
    Unsupported {
        /// The Beacon parameter name.
        field: String,
        /// What to use instead.
        hint: &'static str,
    },
    /// Parameters that do not form one of the three query shapes.
    #[error("{0}")]
    Shape(&'static str),
}

impl QueryError {
    pub(super) fn invalid(field: &'static str, value: &str, reason: &'static str) -> Self {
        Self::Invalid {
            field,
            value: value.chars().take(64).collect(),
            reason,
        }
    }
}

/// `variantType` values served (VCF ALT symbolic types and the Beacon `SNP`).
pub const VARIANT_TYPES: [&str; 10] = [
    "SNP",
    "MNP",
    "INDEL",
    "DEL",
    "INS",
    "DUP",
    "INV",
    "CNV",
    "BND",
    "DUP:TANDEM",
];

/// A checked `variantType` (upper case, one of [`VARIANT_TYPES`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VariantType(String);

impl VariantType {
    /// Parses one of [`VARIANT_TYPES`], any case.
    pub fn parse(s: &str) -> Result<Self, QueryError> {
        let up = s.trim().to_ascii_uppercase();
        if VARIANT_TYPES.contains(&up.as_str()) {
            Ok(Self(up))
        } else {
            Err(QueryError::invalid(
                "variantType",
                s,
                "accepted: SNP, MNP, INDEL, DEL, INS, DUP, INV, CNV, BND, DUP:TANDEM",
            ))
        }
    }

    /// The canonical spelling.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Bases of a sequence query: upper-case `A`, `C`, `G`, `T`, `N` (`N` = any).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Bases(String);

impl Bases {
    fn parse(field: &'static str, s: &str) -> Result<Self, QueryError> {
        let up = s.trim().to_ascii_uppercase();
        if up.is_empty() || up.len() > MAX_BASES {
            return Err(QueryError::invalid(field, s, "1 to 1,000 bases"));
        }
        if !up
            .bytes()
            .all(|b| matches!(b, b'A' | b'C' | b'G' | b'T' | b'N'))
        {
            return Err(QueryError::invalid(
                field,
                s,
                "only A, C, G, T and N (any base) are served; IUPAC ambiguity codes other than N are not",
            ));
        }
        Ok(Self(up))
    }

    /// The bases.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a sequence or range query points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Locus {
    /// The assembly, given or implied by a RefSeq accession.
    pub assembly: Assembly,
    /// The chromosome.
    pub chromosome: Chromosome,
}

/// One validated `g_variants` query (see the module docs for the shapes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum VariantQuery {
    /// Is this exact allele present? (`start` 0-based.)
    Sequence {
        /// Assembly and chromosome.
        locus: Locus,
        /// 0-based position of the first reference base.
        start: u64,
        /// `referenceBases`.
        reference: Bases,
        /// `alternateBases`.
        alternate: Bases,
    },
    /// Any variant overlapping `[start, end)` (0-based, end exclusive).
    Range {
        /// Assembly and chromosome.
        locus: Locus,
        /// 0-based inclusive start.
        start: u64,
        /// 0-based exclusive end.
        end: u64,
        /// Optional restriction to one type.
        variant_type: Option<VariantType>,
    },
    /// Variants annotated to a gene (HGNC symbol).
    Gene {
        /// `geneId`, as given (HGNC symbols are case-sensitive: `C1orf112`).
        gene: String,
        /// `aminoacidChange` in 1-letter form (`V600E`), without `p.`.
        amino_acid_change: Option<String>,
        /// Optional restriction to one type.
        variant_type: Option<VariantType>,
        /// The assembly, if given (annotation may differ between assemblies).
        assembly: Option<Assembly>,
    },
}

fn one_position(field: &'static str, values: &[u64]) -> Result<u64, QueryError> {
    match values {
        [v] if *v <= MAX_POSITION => Ok(*v),
        [v] => Err(QueryError::invalid(
            field,
            &v.to_string(),
            "beyond any human chromosome (max 250,000,000)",
        )),
        [] => Err(QueryError::invalid(field, "[]", "one value expected")),
        _ => Err(QueryError::Unsupported {
            field: field.to_owned(),
            hint: "bracket queries (two values) are not served: give one start and one end",
        }),
    }
}

fn checked_gene(s: &str) -> Result<String, QueryError> {
    let t = s.trim();
    let ok = !t.is_empty()
        && t.len() <= 40
        && t.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(t.to_owned())
    } else {
        Err(QueryError::invalid(
            "geneId",
            s,
            "an HGNC symbol such as BRAF (letters, digits, '-', '.', at most 40)",
        ))
    }
}

fn checked_amino_acid_change(s: &str) -> Result<String, QueryError> {
    const AA: &[u8] = b"ACDEFGHIKLMNPQRSTVWY";
    let t = s.trim();
    let t = t.strip_prefix("p.").unwrap_or(t);
    let b = t.as_bytes();
    let ok = b.len() >= 3
        && b.len() <= 8
        && AA.contains(&b[0])
        && b[1..b.len() - 1].iter().all(u8::is_ascii_digit)
        && (AA.contains(&b[b.len() - 1]) || b[b.len() - 1] == b'*');
    if ok {
        Ok(t.to_owned())
    } else {
        Err(QueryError::invalid(
            "aminoacidChange",
            s,
            "one-letter form such as V600E or R175* (optionally with 'p.')",
        ))
    }
}

impl VariantQuery {
    /// Validates the request parameters into one of the three query shapes.
    pub fn from_parameters(p: &VariantParameters) -> Result<Self, QueryError> {
        if let Some(field) = p.unsupported.keys().next() {
            return Err(QueryError::Unsupported {
                field: field.clone(),
                hint: "served: assemblyId, referenceName, start, end, referenceBases, alternateBases, variantType, geneId, aminoacidChange",
            });
        }
        let assembly = p.assembly_id.as_deref().map(Assembly::parse).transpose()?;
        let variant_type = p
            .variant_type
            .as_deref()
            .map(VariantType::parse)
            .transpose()?;
        if let Some(gene) = &p.gene_id {
            if p.reference_name.is_some() || p.start.is_some() || p.end.is_some() {
                return Err(QueryError::Shape(
                    "a gene query (geneId) cannot be combined with referenceName/start/end: send one or the other",
                ));
            }
            if p.reference_bases.is_some() || p.alternate_bases.is_some() {
                return Err(QueryError::Shape(
                    "a gene query takes aminoacidChange or variantType, not referenceBases/alternateBases",
                ));
            }
            return Ok(Self::Gene {
                gene: checked_gene(gene)?,
                amino_acid_change: p
                    .aminoacid_change
                    .as_deref()
                    .map(checked_amino_acid_change)
                    .transpose()?,
                variant_type,
                assembly,
            });
        }
        if p.aminoacid_change.is_some() {
            return Err(QueryError::Missing {
                field: "geneId",
                hint: "aminoacidChange is only served together with geneId",
            });
        }
        let name = p.reference_name.as_deref().ok_or(QueryError::Missing {
            field: "referenceName",
            hint: "send referenceName + start + referenceBases + alternateBases, referenceName + start + end, or geneId",
        })?;
        let (chromosome, implied) = Chromosome::parse(name)?;
        let assembly = match (assembly, implied) {
            (Some(a), Some(b)) if a != b => {
                return Err(QueryError::invalid(
                    "assemblyId",
                    a.as_str(),
                    "contradicts the assembly of the RefSeq accession in referenceName",
                ));
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => {
                return Err(QueryError::Missing {
                    field: "assemblyId",
                    hint: "coordinates need an assembly: GRCh37 or GRCh38 (or a RefSeq accession in referenceName)",
                });
            }
        };
        if chromosome == Chromosome::Mt
            && assembly == Assembly::Grch37
            && name.trim().eq_ignore_ascii_case("chrM")
        {
            return Err(QueryError::invalid(
                "referenceName",
                name,
                "hg19 chrM is NC_001807.4, not the rCRS; use MT or NC_012920.1",
            ));
        }
        let locus = Locus {
            assembly,
            chromosome,
        };
        let start_values = p.start.as_ref().ok_or(QueryError::Missing {
            field: "start",
            hint: "0-based start of the allele or range",
        })?;
        let start = one_position("start", start_values.as_slice())?;
        match (&p.end, &p.reference_bases, &p.alternate_bases) {
            (None, Some(r), Some(a)) => {
                if variant_type.is_some() {
                    return Err(QueryError::Shape(
                        "a sequence query (referenceBases + alternateBases) takes no variantType",
                    ));
                }
                Ok(Self::Sequence {
                    locus,
                    start,
                    reference: Bases::parse("referenceBases", r)?,
                    alternate: Bases::parse("alternateBases", a)?,
                })
            }
            (None, _, _) => Err(QueryError::Missing {
                field: "end",
                hint: "without end, a sequence query needs both referenceBases and alternateBases",
            }),
            (Some(end_values), None, None) => {
                let end = one_position("end", end_values.as_slice())?;
                if end <= start {
                    return Err(QueryError::invalid(
                        "end",
                        &end.to_string(),
                        "must be greater than start (0-based, end exclusive)",
                    ));
                }
                Ok(Self::Range {
                    locus,
                    start,
                    end,
                    variant_type,
                })
            }
            (Some(_), _, _) => Err(QueryError::Shape(
                "a range query (start + end) takes variantType, not referenceBases/alternateBases",
            )),
        }
    }

    /// The 1-based VCF `POS` of a sequence query (`start + 1`); `None` otherwise.
    pub fn vcf_position(&self) -> Option<u64> {
        match self {
            Self::Sequence { start, .. } => Some(start + 1),
            _ => None,
        }
    }

    /// The 1-based inclusive VCF positions a range query covers
    /// (`start + 1 ..= end`); `None` for other shapes.
    pub fn vcf_range(&self) -> Option<(u64, u64)> {
        match self {
            Self::Range { start, end, .. } => Some((start + 1, *end)),
            _ => None,
        }
    }

    /// A canonical text of the query, the same for every spelling of it
    /// (`chr7`/`NC_000007.14`, `hg38`/`GRCh38`, lower/upper case bases).
    ///
    /// Noise seeds and randomised answers are keyed by it, so a reworded query
    /// gets the same answer instead of a fresh draw the attacker could average.
    pub fn fingerprint(&self) -> String {
        match self {
            Self::Sequence {
                locus,
                start,
                reference,
                alternate,
            } => format!(
                "seq|{}|{}|{start}|{}|{}",
                locus.assembly.as_str(),
                locus.chromosome,
                reference.as_str(),
                alternate.as_str()
            ),
            Self::Range {
                locus,
                start,
                end,
                variant_type,
            } => format!(
                "range|{}|{}|{start}|{end}|{}",
                locus.assembly.as_str(),
                locus.chromosome,
                variant_type.as_ref().map_or("", VariantType::as_str)
            ),
            Self::Gene {
                gene,
                amino_acid_change,
                variant_type,
                assembly,
            } => format!(
                "gene|{}|{gene}|{}|{}",
                assembly.map_or("", Assembly::as_str),
                amino_acid_change.as_deref().unwrap_or(""),
                variant_type.as_ref().map_or("", VariantType::as_str)
            ),
        }
    }
}
