//! The germline background: a fixed panel of biallelic SNV sites with
//! population allele frequencies, and each person's genotypes on it.
//!
//! Membership attacks on released allele frequencies (Homer et al. 2008,
//! Sankararaman et al. 2009) need exactly this: many independent sites,
//! most of them rare, reference frequencies known to the attacker, and
//! individual genotypes that follow those frequencies. So:
//!
//! - the panel is a pure function of (seed, size): `size` distinct
//!   positions on the autosomes (chosen in proportion to contig length,
//!   kept 1 kb away from the marker hotspots), each with an alternate-allele
//!   frequency drawn from the neutral site-frequency spectrum, density
//!   ∝ 1/f on `[1/(2·N_ref), 0.5]` with [`PANEL_N_REF`] = 10,000, so that
//!   about 58 % of the sites have a frequency below 1 %;
//! - a person's genotype at a site is two independent draws of the
//!   alternate allele (Hardy–Weinberg), from a stream of the person's own
//!   genome seed, so the person has the same genome wherever sequenced.
//!
//! Positions and bases are **synthetic**: REF is [`synthetic_base`] of the
//! position (not the GRCh38 base, which this generator cannot look up) and
//! ALT another base; the files stay valid VCF, and a reader must not check
//! them against a reference FASTA.

use super::reference::{GRCH38_CONTIGS, Hotspot, synthetic_alt, synthetic_base};
use crate::draw::mix64;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;

/// Reference effective population size of the spectrum: the rarest
/// frequency is `1 / (2 · PANEL_N_REF)`.
pub const PANEL_N_REF: u32 = 10_000;
/// Largest supported panel (positions must stay distinct and sparse).
pub const MAX_PANEL_SIZE: usize = 2_000_000;
/// Distance kept from every catalogue variant.
const HOTSPOT_MARGIN: u32 = 1_000;
/// Distance kept from contig ends.
const END_MARGIN: u32 = 100_000;

/// One biallelic background site.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelSite {
    /// Autosome number, 1–22.
    pub chrom: u8,
    /// 1-based position (synthetic).
    pub pos: u32,
    /// REF base ([`synthetic_base`] of the position).
    pub reference: char,
    /// ALT base.
    pub alternate: char,
    /// Population alternate-allele frequency.
    pub population_af: f64,
}

impl PanelSite {
    /// The bare contig name (`1` … `22`).
    pub fn contig(&self) -> String {
        self.chrom.to_string()
    }
}

/// The lowest frequency of the spectrum, `1 / (2 · N_ref)`.
pub fn min_panel_af() -> f64 {
    1.0 / (2.0 * f64::from(PANEL_N_REF))
}

/// Expected share of panel sites with frequency below `f` under the 1/f
/// spectrum on `[min_panel_af(), 0.5]`.
pub fn expected_share_below(f: f64) -> f64 {
    let a = min_panel_af();
    ((f.clamp(a, 0.5) / a).ln() / (0.5 / a).ln()).clamp(0.0, 1.0)
}

/// The background panel of `seed` with `size` sites (capped at
/// [`MAX_PANEL_SIZE`]), sorted by contig and position. Same arguments,
/// same panel (it is drawn as a whole: a different `size` gives different sites).
pub fn background_panel(seed: u64, size: usize) -> Vec<PanelSite> {
    let size = size.min(MAX_PANEL_SIZE);
    let mut rng = ChaCha8Rng::seed_from_u64(mix64(seed ^ 0xBAC6_9A0D_0000_0001));
    let autosomes = &GRCH38_CONTIGS[..22];
    let weights: Vec<f64> = autosomes
        .iter()
        .map(|(_, len)| f64::from(len - 2 * END_MARGIN))
        .collect();
    let total: f64 = weights.iter().sum();
    let hotspots: Vec<(u8, u32)> = Hotspot::ALL
        .iter()
        .map(|h| h.variant())
        .chain((7..=20).filter_map(|c| super::reference::flt3_itd(584, c)))
        .filter_map(|v| v.chrom.parse().ok().map(|c: u8| (c, v.pos)))
        .collect();
    let mut chosen: BTreeSet<(u8, u32)> = BTreeSet::new();
    while chosen.len() < size {
        let mut x = rng.random::<f64>() * total;
        let mut k = 0;
        while k + 1 < weights.len() && x >= weights[k] {
            x -= weights[k];
            k += 1;
        }
        let len = autosomes[k].1;
        let pos = rng.random_range(END_MARGIN..len - END_MARGIN);
        let chrom = k as u8 + 1;
        let near_hotspot = hotspots
            .iter()
            .any(|&(c, p)| c == chrom && p.abs_diff(pos) < HOTSPOT_MARGIN);
        if !near_hotspot {
            chosen.insert((chrom, pos));
        }
    }
    let a = min_panel_af();
    let span = 0.5 / a;
    chosen
        .into_iter()
        .map(|(chrom, pos)| {
            let reference = synthetic_base(&chrom.to_string(), pos);
            let alternate = synthetic_alt(reference, rng.random());
            // Inverse CDF of the density ∝ 1/f on [a, 0.5].
            let population_af = a * span.powf(rng.random::<f64>());
            PanelSite {
                chrom,
                pos,
                reference,
                alternate,
                population_af,
            }
        })
        .collect()
}

/// The genome seed of person `index` of a cohort with `seed`: what
/// [`person_background_genotypes`] takes to give that person's genotypes.
pub fn person_genome_seed(seed: u64, index: u64) -> u64 {
    mix64(mix64(seed ^ 0x6E0E_5EED_0000_0000) ^ index)
}

/// A person's non-reference genotypes on `panel`: `(site index, alternate
/// copies 1 or 2)`, in panel order, drawn by Hardy–Weinberg from each
/// site's population frequency with the stream of `person_seed`.
pub fn person_background_genotypes(panel: &[PanelSite], person_seed: u64) -> Vec<(usize, u8)> {
    let mut rng = ChaCha8Rng::seed_from_u64(person_seed);
    panel
        .iter()
        .enumerate()
        .filter_map(|(i, site)| {
            let copies = u8::from(rng.random::<f64>() < site.population_af)
                + u8::from(rng.random::<f64>() < site.population_af);
            (copies > 0).then_some((i, copies))
        })
        .collect()
}
