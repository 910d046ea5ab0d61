//! GRCh38 facts the VCFs are built from: contig lengths, the marker
//! hotspots with their annotation, and FLT3 exon 14.
//!
//! Everything here was checked against public sources (see the report of
//! issue 16 and the comments below); nothing here is drawn at random.
//!
//! - Contig lengths: GRCh38 primary assembly (`##contig` headers of GRCh38
//!   VCFs in public pipelines; chrM 16,569).
//! - Hotspots: positions and reference bases as GRCh38 VCF records
//!   (ClinVar/gnomAD/COSMIC style `chrom-pos-ref-alt`), each cross-checked in
//!   at least one public annotation example; Ensembl transcript and protein
//!   versions as VEP prints them for the MANE Select transcript.
//! - FLT3 exon 14 (`chr13:28,034,082-28,034,214`, minus-strand gene): the
//!   plus-strand sequence of a public AML target catalogue (km, GRCh38),
//!   anchored by `c.1778A>G` = `chr13:28034141 T>C` (p.Asp593Gly) and
//!   `c.1772_1801dup` = `chr13:g.28034118_28034147dup`, i.e. `c = 28,035,919 - g`
//!   inside the exon.
//!
//! Background and passenger positions are *not* here: they are synthetic
//! (see [`synthetic_base`]).

pub use super::flt3::{flt3_itd, flt3_itd_starts};
use crate::draw::mix64;

/// GRCh38 primary contigs in VCF order: bare (Ensembl) name and length.
pub const GRCH38_CONTIGS: [(&str, u32); 25] = [
    ("1", 248_956_422),
    ("2", 242_193_529),
    ("3", 198_295_559),
    ("4", 190_214_555),
    ("5", 181_538_259),
    ("6", 170_805_979),
    ("7", 159_345_973),
    ("8", 145_138_636),
    ("9", 138_394_717),
    ("10", 133_797_422),
    ("11", 135_086_622),
    ("12", 133_275_309),
    ("13", 114_364_328),
    ("14", 107_043_718),
    ("15", 101_991_189),
    ("16", 90_338_345),
    ("17", 83_257_441),
    ("18", 80_373_285),
    ("19", 58_617_616),
    ("20", 64_444_167),
    ("21", 46_709_983),
    ("22", 50_818_468),
    ("X", 156_040_895),
    ("Y", 57_227_415),
    ("MT", 16_569),
];

/// The name of bare contig `bare` in a file's naming style: UCSC (`chr7`,
/// `chrM`) or Ensembl/NCBI (`7`, `MT`).
pub fn contig_name(bare: &str, chr_prefix: bool) -> String {
    match (chr_prefix, bare) {
        (false, _) => bare.to_owned(),
        (true, "MT") => "chrM".to_owned(),
        (true, _) => format!("chr{bare}"),
    }
}

/// Sort rank of a bare contig name (VCF order), `usize::MAX` when unknown.
pub fn contig_rank(bare: &str) -> usize {
    GRCH38_CONTIGS
        .iter()
        .position(|(n, _)| *n == bare)
        .unwrap_or(usize::MAX)
}

/// A gene with the identifiers VEP prints for its canonical (MANE Select)
/// transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gene {
    /// HGNC symbol.
    pub symbol: &'static str,
    /// HGNC id.
    pub hgnc: &'static str,
    /// Ensembl gene id.
    pub ensg: &'static str,
    /// Ensembl transcript with version.
    pub transcript: &'static str,
    /// Ensembl protein with version.
    pub protein: &'static str,
}

/// EGFR.
pub const EGFR: Gene = Gene {
    symbol: "EGFR",
    hgnc: "HGNC:3236",
    ensg: "ENSG00000146648",
    transcript: "ENST00000275493.7",
    protein: "ENSP00000275493.2",
};
/// KRAS.
pub const KRAS: Gene = Gene {
    symbol: "KRAS",
    hgnc: "HGNC:6407",
    ensg: "ENSG00000133703",
    transcript: "ENST00000256078.10",
    protein: "ENSP00000256078.5",
};
/// BRAF.
pub const BRAF: Gene = Gene {
    symbol: "BRAF",
    hgnc: "HGNC:1097",
    ensg: "ENSG00000157764",
    transcript: "ENST00000646891.2",
    protein: "ENSP00000493543.1",
};
/// TP53.
pub const TP53: Gene = Gene {
    symbol: "TP53",
    hgnc: "HGNC:11998",
    ensg: "ENSG00000141510",
    transcript: "ENST00000269305.9",
    protein: "ENSP00000269305.4",
};
/// NPM1.
pub const NPM1: Gene = Gene {
    symbol: "NPM1",
    hgnc: "HGNC:7910",
    ensg: "ENSG00000181163",
    transcript: "ENST00000296930.10",
    protein: "ENSP00000296930.5",
};
/// FLT3.
pub const FLT3: Gene = Gene {
    symbol: "FLT3",
    hgnc: "HGNC:3765",
    ensg: "ENSG00000122025",
    transcript: "ENST00000241453.12",
    protein: "ENSP00000241453.7",
};
/// BRCA1.
pub const BRCA1: Gene = Gene {
    symbol: "BRCA1",
    hgnc: "HGNC:1100",
    ensg: "ENSG00000012048",
    transcript: "ENST00000357654.9",
    protein: "ENSP00000350283.3",
};
/// BRCA2.
pub const BRCA2: Gene = Gene {
    symbol: "BRCA2",
    hgnc: "HGNC:1101",
    ensg: "ENSG00000139618",
    transcript: "ENST00000380152.8",
    protein: "ENSP00000369497.3",
};

/// A concrete small variant in GRCh38 with its VEP-style annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownVariant {
    /// The gene.
    pub gene: Gene,
    /// Bare contig name (`7`, `X`).
    pub chrom: &'static str,
    /// 1-based VCF position.
    pub pos: u32,
    /// VCF REF (GRCh38 bases; indels with the padding base).
    pub reference: String,
    /// VCF ALT.
    pub alternate: String,
    /// HGVS c. on the transcript (without the transcript id).
    pub hgvs_c: String,
    /// HGVS p. in three-letter form (without the protein id).
    pub hgvs_p: String,
    /// Sequence Ontology consequence.
    pub consequence: &'static str,
    /// VEP impact.
    pub impact: &'static str,
}

/// A hotspot as a table row (the FLT3-ITD is built by [`flt3_itd`]).
struct Row(
    Gene,
    &'static str,
    u32,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

impl Row {
    fn variant(&self) -> KnownVariant {
        let Row(gene, chrom, pos, r, a, c, p, consequence, impact) = *self;
        KnownVariant {
            gene,
            chrom,
            pos,
            reference: r.to_owned(),
            alternate: a.to_owned(),
            hgvs_c: c.to_owned(),
            hgvs_p: p.to_owned(),
            consequence,
            impact,
        }
    }
}

const MISSENSE: (&str, &str) = ("missense_variant", "MODERATE");

/// The hotspot catalogue, by name.
fn row(name: Hotspot) -> Row {
    let (mis, moderate) = MISSENSE;
    match name {
        Hotspot::EgfrL858r => Row(
            EGFR,
            "7",
            55_191_822,
            "T",
            "G",
            "c.2573T>G",
            "p.Leu858Arg",
            mis,
            moderate,
        ),
        // c.2235_2249del: A at 55,174,771, GGAATTAAGAGAAGC at 55,174,772-786.
        Hotspot::EgfrExon19Del => Row(
            EGFR,
            "7",
            55_174_771,
            "AGGAATTAAGAGAAGC",
            "A",
            "c.2235_2249del",
            "p.Glu746_Ala750del",
            "inframe_deletion",
            "MODERATE",
        ),
        Hotspot::KrasG12d => Row(
            KRAS,
            "12",
            25_245_350,
            "C",
            "T",
            "c.35G>A",
            "p.Gly12Asp",
            mis,
            moderate,
        ),
        Hotspot::KrasG12v => Row(
            KRAS,
            "12",
            25_245_350,
            "C",
            "A",
            "c.35G>T",
            "p.Gly12Val",
            mis,
            moderate,
        ),
        Hotspot::KrasG12c => Row(
            KRAS,
            "12",
            25_245_351,
            "C",
            "A",
            "c.34G>T",
            "p.Gly12Cys",
            mis,
            moderate,
        ),
        Hotspot::BrafV600e => Row(
            BRAF,
            "7",
            140_753_336,
            "A",
            "T",
            "c.1799T>A",
            "p.Val600Glu",
            mis,
            moderate,
        ),
        Hotspot::Tp53R175h => Row(
            TP53,
            "17",
            7_675_088,
            "C",
            "T",
            "c.524G>A",
            "p.Arg175His",
            mis,
            moderate,
        ),
        Hotspot::Tp53R248q => Row(
            TP53,
            "17",
            7_674_220,
            "C",
            "T",
            "c.743G>A",
            "p.Arg248Gln",
            mis,
            moderate,
        ),
        // Type A: TCTG duplicated after chr5:171,410,539 C (…GATC|TCTG|GCAG…).
        Hotspot::Npm1TypeA => Row(
            NPM1,
            "5",
            171_410_539,
            "C",
            "CTCTG",
            "c.860_863dup",
            "p.Trp288CysfsTer12",
            "frameshift_variant",
            "HIGH",
        ),
        // 185delAG (Ashkenazi founder), ClinVar 17662: 17-43124027-ACT-A.
        Hotspot::Brca1Del185 => Row(
            BRCA1,
            "17",
            43_124_027,
            "ACT",
            "A",
            "c.68_69del",
            "p.Glu23ValfsTer17",
            "frameshift_variant",
            "HIGH",
        ),
        // 6174delT (Ashkenazi founder), rs80359550: 13-32340300-GT-G.
        Hotspot::Brca2Del6174 => Row(
            BRCA2,
            "13",
            32_340_300,
            "GT",
            "G",
            "c.5946del",
            "p.Ser1982ArgfsTer22",
            "frameshift_variant",
            "HIGH",
        ),
    }
}

/// The fixed (not drawn) variants of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hotspot {
    /// EGFR p.L858R.
    EgfrL858r,
    /// EGFR exon 19 deletion p.E746_A750del (c.2235_2249del).
    EgfrExon19Del,
    /// KRAS p.G12D.
    KrasG12d,
    /// KRAS p.G12V.
    KrasG12v,
    /// KRAS p.G12C.
    KrasG12c,
    /// BRAF p.V600E.
    BrafV600e,
    /// TP53 p.R175H.
    Tp53R175h,
    /// TP53 p.R248Q.
    Tp53R248q,
    /// NPM1 c.860_863dup (type A).
    Npm1TypeA,
    /// BRCA1 c.68_69del (185delAG), germline.
    Brca1Del185,
    /// BRCA2 c.5946del (6174delT), germline.
    Brca2Del6174,
}

impl Hotspot {
    /// Every fixed variant.
    pub const ALL: [Hotspot; 11] = [
        Self::EgfrL858r,
        Self::EgfrExon19Del,
        Self::KrasG12d,
        Self::KrasG12v,
        Self::KrasG12c,
        Self::BrafV600e,
        Self::Tp53R175h,
        Self::Tp53R248q,
        Self::Npm1TypeA,
        Self::Brca1Del185,
        Self::Brca2Del6174,
    ];

    /// The variant with its annotation.
    pub fn variant(self) -> KnownVariant {
        row(self).variant()
    }
}

/// The base a *synthetic* position carries: passenger and background
/// positions are drawn, not looked up, so their REF cannot be GRCh38's.
/// It is a fixed function of (contig, position), so the same position has
/// the same REF in every file of every cohort.
pub fn synthetic_base(chrom: &str, pos: u32) -> char {
    let key = chrom
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(131) ^ u64::from(b));
    ['A', 'C', 'G', 'T'][(mix64((key << 32) ^ u64::from(pos) ^ 0x6E0F_BA5E) & 3) as usize]
}

/// A different base for a synthetic SNV, transitions twice as likely as
/// each transversion (`u` uniform in `[0, 1)`).
pub fn synthetic_alt(reference: char, u: f64) -> char {
    let transition = match reference {
        'A' => 'G',
        'G' => 'A',
        'C' => 'T',
        _ => 'C',
    };
    let transversions: [char; 2] = match reference {
        'A' | 'G' => ['C', 'T'],
        _ => ['A', 'G'],
    };
    if u < 0.5 {
        transition
    } else if u < 0.75 {
        transversions[0]
    } else {
        transversions[1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contigs_and_names() {
        assert_eq!(contig_name("MT", true), "chrM");
        assert_eq!(contig_name("7", true), "chr7");
        assert_eq!(contig_name("X", false), "X");
        assert!(contig_rank("2") < contig_rank("10"));
        assert!(contig_rank("22") < contig_rank("X"));
        for h in Hotspot::ALL {
            let v = h.variant();
            let len = GRCH38_CONTIGS[contig_rank(v.chrom)].1;
            assert!(v.pos < len);
            if v.reference.len() == v.alternate.len() {
                assert_ne!(v.reference, v.alternate);
            } else {
                assert_eq!(v.reference.as_bytes()[0], v.alternate.as_bytes()[0]);
            }
        }
        assert_eq!(synthetic_base("7", 100), synthetic_base("7", 100));
        assert_ne!(synthetic_alt('A', 0.1), 'A');
    }
}
