//! A small shipped table of oncology genes with their GRCh37 and GRCh38
//! extents, for calls without CSQ/ANN annotation (source: the header of
//! `data/oncology-genes.tsv`).

use std::sync::OnceLock;

use crate::chrom::{Chrom, GenomeBuild};

/// A gene's extent in one build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gene {
    /// HGNC symbol.
    pub symbol: &'static str,
    /// HGNC id (`HGNC:3236`).
    pub hgnc_id: &'static str,
    /// Chromosome.
    pub chrom: Chrom,
    /// First base, 1-based.
    pub start: u64,
    /// Last base, inclusive.
    pub end: u64,
}

const TABLE: &str = include_str!("../data/oncology-genes.tsv");

/// The genes of each build: index 0 GRCh37, 1 GRCh38.
fn table() -> &'static [Vec<Gene>; 2] {
    static T: OnceLock<[Vec<Gene>; 2]> = OnceLock::new();
    T.get_or_init(|| {
        let mut out = [Vec::new(), Vec::new()];
        for line in TABLE.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let f: Vec<&'static str> = line.split('\t').collect();
            // symbol, hgnc_id, build, chrom, start, end
            let parsed = (|| {
                let build = match *f.get(2)? {
                    "GRCh37" => 0,
                    "GRCh38" => 1,
                    _ => return None,
                };
                let gene = Gene {
                    symbol: f.first()?,
                    hgnc_id: f.get(1)?,
                    chrom: Chrom::normalise(f.get(3)?)?,
                    start: f.get(4)?.parse().ok()?,
                    end: f.get(5)?.parse().ok()?,
                };
                Some((build, gene))
            })();
            if let Some((b, g)) = parsed {
                out[b].push(g);
            }
        }
        out
    })
}

/// Every gene of the table in `build`.
pub fn all(build: GenomeBuild) -> &'static [Gene] {
    &table()[build as usize]
}

/// The gene whose extent holds `pos` on `chrom` (the shortest, if several).
pub fn at(build: GenomeBuild, chrom: &Chrom, pos: u64) -> Option<&'static Gene> {
    all(build)
        .iter()
        .filter(|g| g.chrom == *chrom && g.start <= pos && pos <= g.end)
        .min_by_key(|g| g.end - g.start)
}

/// The gene with HGNC symbol `symbol` (case-sensitive, as HGNC writes it).
pub fn by_symbol(build: GenomeBuild, symbol: &str) -> Option<&'static Gene> {
    all(build).iter().find(|g| g.symbol == symbol)
}
