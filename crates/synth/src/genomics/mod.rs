//! Synthetic sequencing output (issue 16): per-site VCF batches consistent
//! with the persons' FHIR marker results, with the truth kept apart.
//!
//! For about [`GenomicsConfig::share`] of the persons, the primary site
//! (the one holding the FHIR marker observations, LOINC 69548-6) writes
//! - a **somatic tumour/normal VCF** in Mutect2 style (VCF 4.2,
//!   `##tumor_sample`/`##normal_sample`, FORMAT `GT:AD:AF:DP`, sample
//!   columns named by lab sample ids `T-…`/`N-…`), holding one concrete
//!   GRCh38 hotspot variant for every marker the site reports as present
//!   (NPM1 type A, a FLT3-ITD of 21–60 bp in exon 14, TP53 R175H/R248Q,
//!   EGFR L858R or the exon 19 deletion, KRAS G12C/D/V, BRAF V600E) and
//!   2–6 passenger SNVs; ERBB2 amplification is a copy-number change and
//!   has **no** small-variant record. Tumour VAF 0.05–0.6, depth 80–600.
//!   Sites differ: UCSC (`chr7`) or Ensembl (`7`) contig names, and a VEP
//!   `CSQ` annotation or none ([`GenomicsSiteStyle`]);
//! - a **germline VCF** (VCF 4.3, one sample `G-…`, FORMAT `GT:DP:GQ`,
//!   variant sites only) with the person's background genotypes on the
//!   panel of [`background_panel`] and, for breast-cancer persons with a BRCA
//!   finding (about [`GenomicsConfig::brca_rate`]), a heterozygous BRCA1
//!   c.68_69del (185delAG) or BRCA2 c.5946del (6174delT). Each other site of
//!   the person writes a germline VCF too with probability
//!   [`GenomicsConfig::second_site_germline`]: the same genome, another
//!   sample id, the other site's identity.
//!
//! Per site `k`, `site-<k>/genomics/samples.csv`
//! (`file,sample,patient_id,family,given,birth_date,sex,collected,origin`)
//! maps every sample column to the site's local patient id and its copy of
//! the identifying data (the same copy as the site's FHIR Patient), like
//! `smears.csv` of [`crate::cyto`]; `origin` is `somatic` or `germline`.
//! The truth: `ground-truth/genomics.csv` (marker and BRCA variants per
//! file and sample) and `ground-truth/background-panel.tsv` (the panel with
//! its population frequencies, for membership-attack tests).
//!
//! BRCA is *not* a FHIR marker: adding it to [`crate::Marker::ALL`] would
//! add `cohort.csv` columns and draws from the person stream, changing the
//! output of every existing seed; it lives in the VCFs and the ground truth.
//!
//! Sequencing is drawn regardless of consent (clinical sequencing does not
//! need research consent): filtering by the `genetic-research` opt-in is
//! the node's job, and this data tests it. All draws come from auxiliary
//! streams of (seed, person), never from the person's own stream, so the
//! FHIR output is byte-identical with or without genomics.
//!
//! Reference data ([`Hotspot`], [`flt3_itd`]): hotspot positions and REF bases are
//! GRCh38's, checked against public sources; passenger and background
//! positions are **synthetic** (REF from [`synthetic_base`], consistent
//! across all files, not GRCh38's base).

mod flt3;
mod panel;
mod reference;
#[cfg(test)]
mod tests;
mod vcf;
mod writer;

pub use flt3::{FLT3_EXON14, FLT3_EXON14_START, flt3_codon, flt3_itd};
pub use panel::{
    MAX_PANEL_SIZE, PANEL_N_REF, PanelSite, background_panel, expected_share_below, min_panel_af,
    person_background_genotypes, person_genome_seed,
};
pub use reference::{GRCH38_CONTIGS, Gene, Hotspot, KnownVariant, contig_name, synthetic_base};
pub use vcf::{CSQ_HEADER, GenomicsSiteStyle};
pub(crate) use writer::GenomicsWriter;
pub use writer::{
    GENOMICS_TRUTH_HEADER, GenomicsSummary, PANEL_TRUTH_HEADER, SAMPLES_HEADER, write_genomics,
};

use crate::SynthError;
use serde::{Deserialize, Serialize};

/// What sequencing output to generate ([`crate::SynthConfig::genomics`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenomicsConfig {
    /// Share of persons sequenced (tumour/normal and germline at the primary site).
    pub share: f64,
    /// Sites of the germline background panel.
    pub panel_size: usize,
    /// Probability that each further site of a sequenced person also writes a germline VCF.
    pub second_site_germline: f64,
    /// Share of breast-cancer persons carrying a pathogenic BRCA1/2 germline variant.
    pub brca_rate: f64,
}

impl Default for GenomicsConfig {
    fn default() -> Self {
        Self {
            share: 0.25,
            panel_size: 20_000,
            second_site_germline: 0.5,
            brca_rate: 0.10,
        }
    }
}

impl GenomicsConfig {
    /// Checks the parameters, so that a typo fails before anything is written.
    pub fn validate(&self) -> Result<(), SynthError> {
        for (name, r) in [
            ("genomics.share", self.share),
            ("genomics.second_site_germline", self.second_site_germline),
            ("genomics.brca_rate", self.brca_rate),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return Err(SynthError::InvalidConfig(format!(
                    "{name} must be a probability in [0, 1], got {r}"
                )));
            }
        }
        if self.panel_size > MAX_PANEL_SIZE {
            return Err(SynthError::InvalidConfig(format!(
                "genomics.panel_size must be at most {MAX_PANEL_SIZE}, got {}",
                self.panel_size
            )));
        }
        Ok(())
    }
}
