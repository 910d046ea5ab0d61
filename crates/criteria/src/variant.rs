//! The `variant` leaf: "a somatic EGFR p.L858R with VAF ≥ 0.1".

use chrono::NaiveDate;
use oncofed_model::{DataCategory, VariantOrigin};
use serde::{Deserialize, Serialize};

/// `{"variant": {"gene": "EGFR", "protein": "p.L858R", "consequence": "missense",
/// "vaf_min": 0.1, "vaf_max": 1, "origin": "somatic", "from": ..., "to": ...}}`:
/// the patient has a variant call (from a pipeline's VCF at the site, in the
/// harmonised model's `variant_call` rows) that satisfies every field given:
///
/// - `gene`: an HGNC symbol (`EGFR`) or id (`HGNC:3236`);
/// - `protein`: an HGVS protein change in any spelling the site normalises to the
///   one-letter form (`p.L858R`, `p.Leu858Arg`, `p.(Leu858Arg)`); needs `gene`;
/// - `consequence`: a Sequence Ontology term (`missense_variant`) or one of the
///   classes [`VariantCriterion::CLASSES`] (`truncating`, `missense`, `inframe`,
///   `splice`, `synonymous`), matched against the call's most severe consequence;
/// - `vaf_min` / `vaf_max`: the variant allele fraction within the bounds
///   (inclusive, 0–1); calls without a VAF never match a bound;
/// - `origin`: `somatic` or `germline`; both when absent;
/// - `from` / `to`: the sample's collection date; undated samples never match.
///
/// All fields hold for the same call. Touches genetic data: the category of the
/// origin (`genetic` for somatic, `germline` for germline, both when absent).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantCriterion {
    /// HGNC symbol or id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gene: Option<String>,
    /// HGVS protein change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protein: Option<String>,
    /// Sequence Ontology term or consequence class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consequence: Option<String>,
    /// Lowest variant allele fraction (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vaf_min: Option<f64>,
    /// Highest variant allele fraction (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vaf_max: Option<f64>,
    /// Germline or somatic; both when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<VariantOrigin>,
    /// Earliest collection date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Latest collection date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

impl VariantCriterion {
    /// Consequence classes and the Sequence Ontology terms each stands for
    /// (the terms VEP and SnpEff write as a call's most severe consequence).
    pub const CLASSES: [(&'static str, &'static [&'static str]); 5] = [
        (
            "truncating",
            &[
                "stop_gained",
                "frameshift_variant",
                "splice_acceptor_variant",
                "splice_donor_variant",
                "start_lost",
                "transcript_ablation",
            ],
        ),
        ("missense", &["missense_variant"]),
        (
            "inframe",
            &[
                "inframe_insertion",
                "inframe_deletion",
                "protein_altering_variant",
                "disruptive_inframe_insertion",
                "disruptive_inframe_deletion",
                "conservative_inframe_insertion",
                "conservative_inframe_deletion",
            ],
        ),
        (
            "splice",
            &[
                "splice_acceptor_variant",
                "splice_donor_variant",
                "splice_region_variant",
            ],
        ),
        ("synonymous", &["synonymous_variant"]),
    ];

    /// The Sequence Ontology terms `consequence` stands for: a class's terms,
    /// or the term itself.
    pub fn consequence_terms(&self) -> Option<Vec<String>> {
        let c = self.consequence.as_deref()?;
        Some(
            Self::CLASSES
                .iter()
                .find(|(class, _)| *class == c)
                .map(|(_, terms)| terms.iter().map(|t| (*t).to_owned()).collect())
                .unwrap_or_else(|| vec![c.to_owned()]),
        )
    }

    /// The protein change in the one-letter form sites store (`p.L858R`).
    pub fn protein_normalised(&self) -> Option<String> {
        self.protein
            .as_deref()
            .and_then(oncofed_model::variant::normalise_hgvs_p)
    }

    /// The data categories a match reads.
    pub fn categories(&self) -> Vec<DataCategory> {
        match self.origin {
            Some(o) => vec![o.category()],
            None => vec![DataCategory::Genetic, DataCategory::Germline],
        }
    }

    /// Whether `gene` is an HGNC id (else a symbol).
    pub fn gene_is_hgnc_id(&self) -> bool {
        self.gene.as_deref().is_some_and(|g| g.starts_with("HGNC:"))
    }
}
