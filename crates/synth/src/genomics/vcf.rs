//! VCF text: the headers of the two kinds of file and the per-site style.
//!
//! Written by hand (a few `format!`s): the generator only writes, the
//! layout is fixed, and byte-identical output is easier to guarantee than
//! through a general VCF library's writer.

use super::reference::{GRCH38_CONTIGS, KnownVariant, contig_name};
use serde::Serialize;

/// The VEP `CSQ` header line (the fields the reader can rely on).
pub const CSQ_HEADER: &str = "##INFO=<ID=CSQ,Number=.,Type=String,Description=\"Consequence annotations from Ensembl VEP. Format: Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|HGVSc|HGVSp|CANONICAL|HGNC_ID\">";

/// How one site's pipeline writes its VCFs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GenomicsSiteStyle {
    /// UCSC contig names (`chr7`, `chrM`) rather than Ensembl's (`7`, `MT`).
    pub chr_prefix: bool,
    /// Somatic calls carry a VEP `CSQ` annotation.
    pub vep: bool,
}

impl GenomicsSiteStyle {
    /// The style of site `k` (1-based) under `seed`: naming alternates
    /// between neighbouring sites, and among any three consecutive sites
    /// exactly one writes no annotation.
    pub fn for_site(seed: u64, k: u32) -> Self {
        Self {
            chr_prefix: u64::from(k % 2) != seed % 2,
            vep: !(u64::from(k) + seed % 3).is_multiple_of(3),
        }
    }

    /// A contig's name in this site's files.
    pub fn contig(&self, bare: &str) -> String {
        contig_name(bare, self.chr_prefix)
    }

    /// The `##reference` value: a GRCh38 FASTA of the matching naming.
    pub fn reference(&self) -> &'static str {
        if self.chr_prefix {
            "file:///references/GRCh38/GRCh38_full_analysis_set_plus_decoy_hla.fa"
        } else {
            "file:///references/GRCh38/Homo_sapiens.GRCh38.dna.primary_assembly.fa"
        }
    }

    fn contigs(&self, out: &mut String) {
        for (bare, len) in GRCH38_CONTIGS {
            out.push_str(&format!(
                "##contig=<ID={},length={len},assembly=GRCh38>\n",
                self.contig(bare)
            ));
        }
    }
}

/// The header of a Mutect2-style tumour/normal VCF, through `#CHROM`.
pub fn somatic_header(style: &GenomicsSiteStyle, tumor: &str, normal: &str) -> String {
    let mut h = String::with_capacity(4096);
    h.push_str("##fileformat=VCFv4.2\n");
    h.push_str("##FILTER=<ID=PASS,Description=\"All filters passed\">\n");
    h.push_str("##FORMAT=<ID=AD,Number=R,Type=Integer,Description=\"Allelic depths for the ref and alt alleles in the order listed\">\n");
    h.push_str("##FORMAT=<ID=AF,Number=A,Type=Float,Description=\"Allele fractions of alternate alleles in the tumor\">\n");
    h.push_str("##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Approximate read depth (reads with MQ=255 or with bad mates are filtered)\">\n");
    h.push_str("##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n");
    h.push_str("##INFO=<ID=DP,Number=1,Type=Integer,Description=\"Approximate read depth; some reads may have been filtered\">\n");
    h.push_str("##INFO=<ID=TLOD,Number=A,Type=Float,Description=\"Log 10 likelihood ratio score of variant existing versus not existing\">\n");
    if style.vep {
        h.push_str(CSQ_HEADER);
        h.push('\n');
        h.push_str("##VEP=\"v110\" cache=\"homo_sapiens/110_GRCh38\" ensembl=110 assembly=\"GRCh38.p14\"\n");
    }
    style.contigs(&mut h);
    h.push_str(&format!("##normal_sample={normal}\n"));
    h.push_str(&format!("##reference={}\n", style.reference()));
    h.push_str("##source=Mutect2\n");
    h.push_str(&format!("##tumor_sample={tumor}\n"));
    h.push_str(&format!(
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{tumor}\t{normal}\n"
    ));
    h
}

/// The header of a single-sample germline VCF, through `#CHROM`.
pub fn germline_header(style: &GenomicsSiteStyle, sample: &str) -> String {
    let mut h = String::with_capacity(4096);
    h.push_str("##fileformat=VCFv4.3\n");
    h.push_str("##FILTER=<ID=PASS,Description=\"All filters passed\">\n");
    h.push_str("##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n");
    h.push_str("##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Approximate read depth (reads with MQ=255 or with bad mates are filtered)\">\n");
    h.push_str("##FORMAT=<ID=GQ,Number=1,Type=Integer,Description=\"Genotype Quality\">\n");
    style.contigs(&mut h);
    h.push_str(&format!("##reference={}\n", style.reference()));
    h.push_str("##source=HaplotypeCaller\n");
    h.push_str(&format!(
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{sample}\n"
    ));
    h
}

/// VEP's allele string: ALT without the shared padding base, `-` for a deletion.
fn vep_allele(reference: &str, alternate: &str) -> String {
    if reference.len() == alternate.len() {
        alternate.to_owned()
    } else if alternate.len() < reference.len() {
        "-".to_owned()
    } else {
        alternate[reference.len()..].to_owned()
    }
}

/// The `CSQ` value of a catalogue variant (canonical transcript only).
pub fn csq_known(v: &KnownVariant) -> String {
    let g = &v.gene;
    format!(
        "{}|{}|{}|{}|{}|Transcript|{}|protein_coding|{}:{}|{}:{}|YES|{}",
        vep_allele(&v.reference, &v.alternate),
        v.consequence,
        v.impact,
        g.symbol,
        g.ensg,
        g.transcript,
        g.transcript,
        v.hgvs_c,
        g.protein,
        v.hgvs_p,
        g.hgnc
    )
}

/// The `CSQ` value of a passenger SNV at a synthetic position.
pub fn csq_intergenic(alternate: &str) -> String {
    format!("{alternate}|intergenic_variant|MODIFIER|||||||||")
}
