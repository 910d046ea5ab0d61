//! Functional annotation already in the file: Ensembl VEP's `INFO/CSQ` and
//! SnpEff's `INFO/ANN` (the VCF annotation format 1.0 of the SnpEff/ANN
//! specification), one entry chosen per alternate allele.

use std::borrow::Cow;

/// Severity class of a consequence (Ensembl's `IMPACT`, SnpEff's `Annotation_Impact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Impact {
    /// Likely disruptive: stop gained, frameshift, splice donor/acceptor.
    High,
    /// Possibly changes protein effectiveness: missense, in-frame indel.
    Moderate,
    /// Mostly harmless: synonymous, splice region.
    Low,
    /// Non-coding, intronic, intergenic.
    Modifier,
}

impl Impact {
    /// `HIGH`, `MODERATE`, `LOW`, `MODIFIER` as both tools write them.
    pub fn parse(s: &str) -> Option<Impact> {
        match s {
            "HIGH" => Some(Impact::High),
            "MODERATE" => Some(Impact::Moderate),
            "LOW" => Some(Impact::Low),
            "MODIFIER" => Some(Impact::Modifier),
            _ => None,
        }
    }
}

/// Where an [`Annotation`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnnotationSource {
    /// Ensembl VEP `INFO/CSQ`.
    Vep,
    /// SnpEff `INFO/ANN`.
    SnpEff,
    /// The crate's oncology gene table ([`crate::genes`]): gene only, no consequence.
    GeneTable,
}

/// The functional annotation of one alternate allele.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// HGNC gene symbol.
    pub gene: Option<String>,
    /// HGVS coding change as the annotator wrote it (`ENST00000275493.7:c.2573T>G`).
    pub hgvs_c: Option<String>,
    /// HGVS protein change, protein id dropped and amino acids in one-letter
    /// code (`p.L858R`, `p.V600E`, `p.E746_A750del`, `p.R213*`, `p.L858=`).
    pub hgvs_p: Option<String>,
    /// Sequence Ontology consequence terms, most severe first.
    pub consequence: Vec<String>,
    /// Impact class, from the annotator or derived from the consequence.
    pub impact: Option<Impact>,
    /// VEP, SnpEff or the gene table.
    pub source: AnnotationSource,
}

/// Sequence Ontology consequence terms from most to least severe (Ensembl
/// VEP's "Calculated variant consequences" table), with their impact; SnpEff's
/// own names for the same classes are added at the rank of their Ensembl term.
const SEVERITY: &[(&str, Impact)] = &[
    ("transcript_ablation", Impact::High),
    ("exon_loss_variant", Impact::High),
    ("splice_acceptor_variant", Impact::High),
    ("splice_donor_variant", Impact::High),
    ("stop_gained", Impact::High),
    ("frameshift_variant", Impact::High),
    ("stop_lost", Impact::High),
    ("start_lost", Impact::High),
    ("transcript_amplification", Impact::High),
    ("feature_elongation", Impact::Modifier),
    ("feature_truncation", Impact::Modifier),
    ("inframe_insertion", Impact::Moderate),
    ("disruptive_inframe_insertion", Impact::Moderate),
    ("conservative_inframe_insertion", Impact::Moderate),
    ("inframe_deletion", Impact::Moderate),
    ("disruptive_inframe_deletion", Impact::Moderate),
    ("conservative_inframe_deletion", Impact::Moderate),
    ("missense_variant", Impact::Moderate),
    ("protein_altering_variant", Impact::Moderate),
    ("splice_donor_5th_base_variant", Impact::Low),
    ("splice_region_variant", Impact::Low),
    ("splice_donor_region_variant", Impact::Low),
    ("splice_polypyrimidine_tract_variant", Impact::Low),
    ("incomplete_terminal_codon_variant", Impact::Low),
    ("start_retained_variant", Impact::Low),
    ("stop_retained_variant", Impact::Low),
    ("synonymous_variant", Impact::Low),
    ("coding_sequence_variant", Impact::Modifier),
    ("mature_miRNA_variant", Impact::Modifier),
    (
        "5_prime_UTR_premature_start_codon_gain_variant",
        Impact::Low,
    ),
    ("5_prime_UTR_variant", Impact::Modifier),
    ("3_prime_UTR_variant", Impact::Modifier),
    ("non_coding_transcript_exon_variant", Impact::Modifier),
    ("intron_variant", Impact::Modifier),
    ("NMD_transcript_variant", Impact::Modifier),
    ("non_coding_transcript_variant", Impact::Modifier),
    ("coding_transcript_variant", Impact::Modifier),
    ("upstream_gene_variant", Impact::Modifier),
    ("downstream_gene_variant", Impact::Modifier),
    ("TFBS_ablation", Impact::Modifier),
    ("TFBS_amplification", Impact::Modifier),
    ("TF_binding_site_variant", Impact::Modifier),
    ("regulatory_region_ablation", Impact::Modifier),
    ("regulatory_region_amplification", Impact::Modifier),
    ("regulatory_region_variant", Impact::Modifier),
    ("intragenic_variant", Impact::Modifier),
    ("intergenic_variant", Impact::Modifier),
    ("sequence_variant", Impact::Modifier),
];

/// Rank of a consequence term (0 = most severe); unknown terms rank last.
pub fn consequence_rank(term: &str) -> usize {
    SEVERITY
        .iter()
        .position(|(t, _)| *t == term)
        .unwrap_or(SEVERITY.len())
}

fn consequence_impact(term: &str) -> Option<Impact> {
    SEVERITY.iter().find(|(t, _)| *t == term).map(|(_, i)| *i)
}

/// Decodes VCF 4.3 percent escapes (`%3D` → `=`, `%3B` → `;`, `%2C` → `,`, ...).
pub(crate) fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// An HGVS protein change in one-letter code without the protein id:
/// `ENSP00000275493.2:p.Leu858Arg` → `p.L858R`, `p.(Val600Glu)` → `p.V600E`,
/// `p.Arg213Ter` → `p.R213*`, `p.Leu858%3D` → `p.L858=`,
/// `p.Glu746_Ala750del` → `p.E746_A750del`, `p.Leu858ProfsTer12` →
/// `p.L858Pfs*12`; `p.=`, `p.?` and `p.0` stay as they are. `None` when the
/// text holds no `p.`.
pub fn normalise_hgvs_p(text: &str) -> Option<String> {
    // One normal form for the store, the criteria and the analysis variables.
    oncofed_model::variant::normalise_hgvs_p(&percent_decode(text))
}

/// One parsed entry of a CSQ or ANN list.
struct Entry {
    canonical: bool,
    rank: usize,
    annotation: Annotation,
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(percent_decode)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn entry_from(
    gene: Option<&str>,
    consequence: Option<&str>,
    impact: Option<&str>,
    hgvs_c: Option<&str>,
    hgvs_p: Option<&str>,
    canonical: bool,
    source: AnnotationSource,
) -> Entry {
    let mut terms: Vec<String> = consequence
        .unwrap_or("")
        .split('&')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    terms.sort_by_key(|t| consequence_rank(t));
    let rank = terms
        .first()
        .map_or(SEVERITY.len() + 1, |t| consequence_rank(t));
    let impact = impact
        .and_then(Impact::parse)
        .or_else(|| terms.first().and_then(|t| consequence_impact(t)));
    Entry {
        canonical,
        rank,
        annotation: Annotation {
            gene: non_empty(gene),
            hgvs_c: non_empty(hgvs_c),
            hgvs_p: hgvs_p.and_then(|p| normalise_hgvs_p(p.trim())),
            consequence: terms,
            impact,
            source,
        },
    }
}

fn pick(entries: Vec<Entry>) -> Option<Annotation> {
    entries
        .into_iter()
        .enumerate()
        .min_by_key(|(i, e)| (!e.canonical, e.rank, *i))
        .map(|(_, e)| e.annotation)
}

/// The allele string VEP writes in CSQ's `Allele` for `alts[index]`: when any
/// allele changes length and all alleles share their first base, that base is
/// dropped (an empty allele becomes `-`), as VEP's VCF parser does.
pub(crate) fn vep_allele(reference: &str, alts: &[&str], index: usize) -> String {
    let alt = alts.get(index).copied().unwrap_or("");
    let indel = alts.iter().any(|a| a.len() != reference.len());
    let first = reference.as_bytes().first();
    let shared = indel
        && first.is_some()
        && alts
            .iter()
            .all(|a| a.as_bytes().first() == first && !a.starts_with('<'));
    if shared {
        let t = &alt[1..];
        if t.is_empty() {
            "-".to_string()
        } else {
            t.to_string()
        }
    } else {
        alt.to_string()
    }
}

/// The VEP annotation of the alternate allele `alt_index` (0-based) from an
/// `INFO/CSQ` value with sub-fields named by `format`.
pub(crate) fn from_csq(
    value: &str,
    format: &[String],
    alt_index: usize,
    vep_allele: &str,
    alt: &str,
) -> Option<Annotation> {
    let col = |name: &str| format.iter().position(|f| f == name);
    let (allele, allele_num) = (col("Allele"), col("ALLELE_NUM"));
    let (cons, impact, symbol) = (col("Consequence"), col("IMPACT"), col("SYMBOL"));
    let (hc, hp, canon) = (col("HGVSc"), col("HGVSp"), col("CANONICAL"));
    let mut entries = Vec::new();
    for raw in value.split(',') {
        let f: Vec<&str> = raw.split('|').collect();
        let at = |i: Option<usize>| i.and_then(|i| f.get(i).copied());
        let matches = match at(allele_num).filter(|s| !s.is_empty()) {
            Some(n) => n.parse::<usize>().ok() == Some(alt_index + 1),
            None => at(allele).is_some_and(|a| a == vep_allele || a == alt),
        };
        if matches {
            entries.push(entry_from(
                at(symbol),
                at(cons),
                at(impact),
                at(hc),
                at(hp),
                at(canon) == Some("YES"),
                AnnotationSource::Vep,
            ));
        }
    }
    pick(entries)
}

/// The SnpEff annotation of allele `alt` from an `INFO/ANN` value (fixed
/// order: Allele | Annotation | Annotation_Impact | Gene_Name | Gene_ID |
/// Feature_Type | Feature_ID | Transcript_BioType | Rank | HGVS.c | HGVS.p | ...).
pub(crate) fn from_ann(value: &str, alt: &str) -> Option<Annotation> {
    let mut entries = Vec::new();
    for raw in value.split(',') {
        let f: Vec<&str> = raw.split('|').collect();
        if f.first().copied() != Some(alt) {
            continue;
        }
        entries.push(entry_from(
            f.get(3).copied(),
            f.get(1).copied(),
            f.get(2).copied(),
            f.get(9).copied(),
            f.get(10).copied(),
            false,
            AnnotationSource::SnpEff,
        ));
    }
    pick(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hgvs_p_one_letter() {
        let n = |s| normalise_hgvs_p(s).unwrap();
        assert_eq!(n("ENSP00000275493.2:p.Leu858Arg"), "p.L858R");
        assert_eq!(n("p.Val600Glu"), "p.V600E");
        assert_eq!(n("p.(Val600Glu)"), "p.V600E");
        assert_eq!(n("p.V600E"), "p.V600E");
        assert_eq!(n("ENSP1:p.Leu858%3D"), "p.L858=");
        assert_eq!(n("p.="), "p.=");
        assert_eq!(n("p.Arg213Ter"), "p.R213*");
        assert_eq!(n("p.Glu746_Ala750del"), "p.E746_A750del");
        assert_eq!(n("p.Glu746_Thr751delinsAla"), "p.E746_T751delinsA");
        assert_eq!(n("p.Leu858ProfsTer12"), "p.L858Pfs*12");
        assert_eq!(n("p.Ala767_Val769dup"), "p.A767_V769dup");
        assert_eq!(n("p.Ter110GlnextTer17"), "p.*110Qext*17");
        assert_eq!(n("p.?"), "p.?");
        assert_eq!(normalise_hgvs_p("c.2573T>G"), None);
    }

    #[test]
    fn vep_allele_trims_shared_first_base_of_indels() {
        assert_eq!(vep_allele("A", &["T"], 0), "T");
        assert_eq!(vep_allele("AT", &["A"], 0), "-");
        assert_eq!(vep_allele("A", &["AT", "AG"], 1), "G");
        assert_eq!(vep_allele("A", &["AT", "G"], 1), "G");
        assert_eq!(vep_allele("A", &["AT", "G"], 0), "AT");
    }

    #[test]
    fn csq_prefers_canonical_then_severity() {
        let format: Vec<String> = "Allele|Consequence|IMPACT|SYMBOL|HGVSc|HGVSp|CANONICAL"
            .split('|')
            .map(String::from)
            .collect();
        let csq = "T|intron_variant|MODIFIER|EGFR|||,\
                   T|missense_variant|MODERATE|EGFR|ENST2:c.1A>T|ENSP2:p.Leu858Arg|,\
                   T|synonymous_variant|LOW|EGFR|ENST1:c.3A>T|ENSP1:p.Leu858%3D|YES,\
                   G|stop_gained|HIGH|EGFR|||YES";
        let a = from_csq(csq, &format, 0, "T", "T").unwrap();
        assert_eq!(a.hgvs_p.as_deref(), Some("p.L858="));
        assert_eq!(a.impact, Some(Impact::Low));
        let no_canon = csq.replace("|YES", "|");
        let a = from_csq(&no_canon, &format, 0, "T", "T").unwrap();
        assert_eq!(a.consequence, vec!["missense_variant"]);
        assert_eq!(a.hgvs_p.as_deref(), Some("p.L858R"));
        let g = from_csq(csq, &format, 1, "G", "G").unwrap();
        assert_eq!(g.impact, Some(Impact::High));
        assert!(from_csq(csq, &format, 2, "C", "C").is_none());
    }

    #[test]
    fn ann_fixed_order() {
        let ann = "T|missense_variant&splice_region_variant|MODERATE|BRAF|ENSG1|transcript|\
                   ENST1|protein_coding|15/18|c.1799T>A|p.Val600Glu|1799/2301|1799/2301|600/766||,\
                   T|upstream_gene_variant|MODIFIER|X|ENSG2|transcript|ENST2|protein_coding||||||||";
        let a = from_ann(ann, "T").unwrap();
        assert_eq!(a.gene.as_deref(), Some("BRAF"));
        assert_eq!(a.hgvs_c.as_deref(), Some("c.1799T>A"));
        assert_eq!(a.hgvs_p.as_deref(), Some("p.V600E"));
        assert_eq!(
            a.consequence,
            vec!["missense_variant", "splice_region_variant"]
        );
        assert_eq!(a.source, AnnotationSource::SnpEff);
        assert!(from_ann(ann, "G").is_none());
    }
}
