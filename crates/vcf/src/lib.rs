//! Sequencing pipelines' VCF and BCF at the site: normalised, annotated
//! germline and somatic variant calls, and de-identified per-person extracts.
//!
//! # What it reads
//! [`VcfReader`] reads VCF 4.1–4.3 text, plain, gzip or BGZF-compressed, and
//! BCF 2 (compressed or not), recognised by magic bytes rather than the file
//! name. It streams: the header at [`VcfReader::open`], then one record at a
//! time through [`VcfReader::calls`] (one [`Call`] per sample and carried
//! ALT allele) or [`VcfReader::sites`] (one [`Site`] per ALT allele, for
//! sites-only files such as VEP's output).
//!
//! - **Build**: [`GenomeBuild`] from `##reference`/`##assembly` names
//!   (GRCh37, hg19, hs37d5, b37, GRCh38, hg38, ...), RefSeq accession
//!   versions, and the `##contig` lengths of chr1..22/X/Y against a table of
//!   both builds; a header whose names and lengths disagree, or that
//!   contradicts [`ReadOptions::build`], is refused; with no evidence,
//!   [`ReadOptions::build`] must be given.
//! - **Chromosomes**: `chr7`, `7`, `NC_000007.13`, `NC_000007.14` → `7`;
//!   `chrM`, `MT`, `NC_012920.1` → `MT`; other contigs (decoys, `chrUn_*`,
//!   `*_random`, `GL000192.1`, HLA) are skipped and counted in [`SkipCounts`].
//! - **Alleles**: multi-allelic records are split, each allele trimmed to its
//!   minimal representation (common trailing then leading bases; no
//!   left-alignment, which needs the reference sequence). A sample gives a call
//!   for each ALT its GT carries. gVCF reference blocks (`<NON_REF>`, `<*>`,
//!   ALT `.`), samtools' unobserved `X`, symbolic alleles and breakends, and
//!   `*` give no calls and are counted, never errors.
//! - **Genotype-derived fields**: zygosity from GT; VAF from FORMAT/AF (Mutect2),
//!   else AD (alt / sum), else Strelka's tier-1 counts (`{REF}U`/`{ALT}U` for
//!   SNVs, `TAR`/`TIR` for indels); depth from FORMAT/DP, else the sum of AD.
//!   VAF is given for germline calls too, when the fields are there.
//! - **Annotation**: VEP `INFO/CSQ` (sub-fields named by the header's
//!   `Format: ` description; matched by `ALLELE_NUM` or by VEP's allele
//!   string) and SnpEff `INFO/ANN` (the fixed ANN 1.0 order); per allele the
//!   `CANONICAL=YES` entry, else the most severe consequence (Ensembl's
//!   order). HGVS p. is rewritten in one-letter code (`p.L858R`). Without
//!   either, [`genes`] maps the position to a gene of a shipped oncology
//!   table (source cited there).
//!
//! # Germline or somatic: precedence
//! 1. **Header roles** make a tumour/normal file: Mutect2's
//!    `##tumor_sample=`/`##normal_sample=`; else Strelka's `TUMOR`/`NORMAL`
//!    columns; else VCF 4.3 `##PEDIGREE=<Derived=..,Original=..>` (derived =
//!    tumour) and `##SAMPLE=<ID=..,Genomes=..>` (a Genomes list naming
//!    Tumor = tumour). Calls come from tumour columns only and are somatic;
//!    normal columns give none. Only when the file is *declared* germline is an
//!    allele that a normal column also carries a germline call.
//! 2. **INFO/SOMATIC** on a record makes its calls somatic, whatever else.
//! 3. **[`ReadOptions::declared_origin`]**, the submitting pipeline's
//!    declaration: `Somatic` makes every column a tumour (tumour-only calling),
//!    `Germline` a germline call set.
//! 4. Otherwise, if the header defines INFO/SOMATIC, unflagged records are
//!    errors; if not, [`VcfReader::open`] refuses the file and asks for a
//!    declaration. Nothing is guessed.
//!
//! # What it refuses
//! Errors ([`VcfError`]) name the file, line (record number in BCF) and field
//! and never quote genotype data or sample names: a POS that is not a whole
//! number from 1, REF other than ACGTN, malformed ALT, a GT allele beyond the
//! record's alleles, AD/AF with the wrong number of values, DP not a number,
//! a wrong number of sample columns, a header line among records, non-UTF-8
//! text, a line over [`ReadOptions::max_line_bytes`]. A bad line is yielded as
//! an error and reading goes on; the caller decides whether the file stands.
//!
//! # Extracts
//! [`write_extract`] writes a de-identified per-person VCF (plain or BGZF):
//! chosen sample columns renamed (to pseudonyms), records of a region, and
//! only the header lines that cannot carry identifying data.
//!
//! # Why hand-written where it is
//! noodles (`noodles-bgzf`, `noodles-bcf`, `noodles-vcf`) does the binary
//! plumbing: BGZF blocks in and out, the BCF header and its string maps. Data
//! lines are split by this crate: errors must name line and field without
//! quoting values, lenient old-style files (VCF 4.1, samtools' `X` allele)
//! must read, and only the few fields a call needs are parsed (see
//! `examples/bench.rs` for the rate against bcftools). BCF records are
//! framed and decoded by this crate too (`src/bcf.rs`, BCF2 §6.3) and
//! formatted as VCF text for the same line parser: noodles 0.94's lazy BCF
//! sample accessors panic on malformed sample data (found by the fuzz
//! target), it sizes buffers by a record's declared length before reading
//! it and string maps by the header's largest `IDX=` (so the crate reads the
//! BCF header text first and bounds those), and its VCF writer took 8 µs a
//! record.

mod annotation;
mod bcf;
mod chrom;
mod error;
mod extract;
pub mod genes;
mod header;
mod input;
mod origin;
mod reader;
mod record;
#[cfg(test)]
mod tests;

pub use annotation::{Annotation, AnnotationSource, Impact, consequence_rank, normalise_hgvs_p};
pub use chrom::{Chrom, GenomeBuild, Region};
pub use error::VcfError;
pub use extract::{ExtractFormat, ExtractSummary, write_extract, write_extract_from};
pub use input::Encoding;
pub use reader::{Site, VcfReader};

/// Whether a call is inherited or acquired by the tumour: the harmonised
/// model's [`oncofed_model::VariantOrigin`].
pub use oncofed_model::VariantOrigin as Origin;

/// What a sample column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleRole {
    /// Tumour tissue: its calls are somatic (with the exceptions in the crate docs).
    Tumor,
    /// The matched normal of a tumour: gives no calls of its own.
    Normal,
    /// A germline sample of a germline call set.
    Germline,
}

/// One sample column of the file. Its `Debug` leaves the name out (it is the
/// lab's sample id, identifying data that must not reach logs).
#[derive(Clone, PartialEq, Eq)]
pub struct SampleColumn {
    /// The column's name: the lab's sample id (identifying data, IDAT).
    pub name: String,
    /// Tumour, normal or germline.
    pub role: SampleRole,
}

impl std::fmt::Debug for SampleColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleColumn")
            .field("name", &"<redacted>")
            .field("role", &self.role)
            .finish()
    }
}

/// How many genotype copies of the allele a sample carries (`0/1`, `1/2`:
/// heterozygous; `1/1`: homozygous; `1`: hemizygous): the harmonised model's.
pub use oncofed_model::Zygosity;

/// A variant in one normalised form: one ALT allele, trimmed to its minimal
/// representation, on a normalised chromosome.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Variant {
    /// `1`..`22`, `X`, `Y`, `MT`.
    pub chrom: Chrom,
    /// 1-based position of the first reference base.
    pub pos: u64,
    /// Reference bases (upper case).
    pub reference: String,
    /// Alternate bases (upper case).
    pub alternate: String,
}

/// One alternate allele one sample carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// 1-based line in a text VCF, record number in a BCF.
    pub line: u64,
    /// Index into [`VcfReader::samples`].
    pub sample: usize,
    /// Germline or somatic (crate docs: precedence).
    pub origin: Origin,
    /// The allele.
    pub variant: Variant,
    /// From GT; `None` without GT or with a partly missing GT (`./1`).
    pub zygosity: Option<Zygosity>,
    /// Variant allele fraction: FORMAT/AF (Mutect2), else AD alt/sum, else
    /// Strelka's tier-1 counts.
    pub vaf: Option<f64>,
    /// FORMAT/DP, else the sum of AD.
    pub depth: Option<u32>,
    /// FILTER is `PASS` or `.` (no filter failed).
    pub filter_pass: bool,
    /// CSQ or ANN entry for this allele, else the gene table's gene.
    pub annotation: Option<Annotation>,
}

/// How a file is read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOptions {
    /// The submitting pipeline's declaration of its calls' origin, used when
    /// the header does not say (crate docs: precedence).
    pub declared_origin: Option<Origin>,
    /// The build the submitter declares; refused when the header contradicts it.
    pub build: Option<GenomeBuild>,
    /// Skip records whose FILTER is neither `PASS` nor `.`.
    pub pass_only: bool,
    /// Records with more alleles (REF + ALTs) are skipped and counted.
    pub max_alleles: usize,
    /// Longest accepted line in bytes (VEP-annotated lines run to hundreds of KB).
    pub max_line_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            declared_origin: None,
            build: None,
            pass_only: false,
            max_alleles: 64,
            max_line_bytes: 64 << 20,
        }
    }
}

/// Records and alleles skipped (never errors), by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipCounts {
    /// Records on contigs outside 1..22/X/Y/MT (decoys, alts, unplaced, HLA).
    pub unknown_contig: u64,
    /// Records with more alleles than [`ReadOptions::max_alleles`].
    pub too_many_alleles: u64,
    /// Records failing a filter, with [`ReadOptions::pass_only`].
    pub filtered: u64,
    /// Reference sites and unobserved alleles: ALT `.`, `<NON_REF>`, `<*>`, samtools' `X`.
    pub reference_block: u64,
    /// Symbolic and breakend alleles (`<DEL>`, `<DUP>`, `N[1:100[`).
    pub symbolic: u64,
    /// `*` alleles (deleted by an upstream deletion).
    pub spanning_deletion: u64,
    /// Germline sample columns of a record without GT.
    pub no_genotype: u64,
}
