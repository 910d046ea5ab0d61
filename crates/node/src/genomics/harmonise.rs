//! A VCF call in the harmonised model, and the molecular fact it gives.

use oncofed_model::{
    CodeSystem, Coding, DataCategory, Fact, FactKind, FactValue, GeneticVariant, VariantLocus,
};
use oncofed_vcf::Call;

/// LOINC answer "Present" of the molecular fact a call gives.
const PRESENT: &str = "LA9633-4";

/// A call in the harmonised model: the annotation's gene (its HGNC id from the
/// shipped gene table), HGVS without transcript, the most severe consequence.
pub fn harmonise(call: &Call, build: oncofed_model::GenomeBuild) -> GeneticVariant {
    let a = call.annotation.as_ref();
    let gene = a.and_then(|a| a.gene.clone());
    let hgnc = gene
        .as_deref()
        .and_then(|g| oncofed_vcf::genes::by_symbol(build, g))
        .map(|g| g.hgnc_id.to_string());
    GeneticVariant {
        hgnc,
        gene,
        hgvs_c: a
            .and_then(|a| a.hgvs_c.as_deref())
            .map(|c| c.rsplit(':').next().unwrap_or(c).to_owned()),
        hgvs_p: a.and_then(|a| a.hgvs_p.clone()),
        consequence: a.and_then(|a| a.consequence.first().cloned()),
        origin: call.origin,
        vaf: call.vaf,
        depth: call.depth,
        zygosity: call.zygosity,
        locus: Some(VariantLocus {
            build,
            chrom: call.variant.chrom.as_str().to_owned(),
            pos: call.variant.pos,
            reference: call.variant.reference.clone(),
            alternate: call.variant.alternate.clone(),
        }),
    }
}

/// The molecular fact of a call that changes a protein (annotated impact high
/// or moderate) of a gene with an HGNC id and passed the caller's filters: the
/// gene "present", dated by the sample, in the category of its origin.
pub(super) fn marker_fact(
    v: &GeneticVariant,
    call: &Call,
    collected: Option<chrono::NaiveDate>,
) -> Option<Fact> {
    let protein_altering = call.annotation.as_ref().is_some_and(|a| {
        matches!(
            a.impact,
            Some(oncofed_vcf::Impact::High | oncofed_vcf::Impact::Moderate)
        )
    });
    if !(protein_altering && call.filter_pass) {
        return None;
    }
    let hgnc = v.hgnc.as_ref()?;
    let category: DataCategory = v.origin.category();
    Some(Fact {
        kind: FactKind::Molecular,
        code: Coding::new(CodeSystem::Hgnc, hgnc),
        modifier: None,
        value: FactValue::Code(Coding::new(CodeSystem::Loinc, PRESENT)),
        start: collected,
        end: None,
        category,
        level: category.intrinsic_level(),
    })
}
