//! A small shipped table of 57 oncology genes with their extents, for calls
//! without CSQ/ANN annotation.
//!
//! Source (`data/oncology-genes.tsv`, whose header gives the details): GENCODE
//! v39 / Ensembl 105 GRCh38 gene coordinates with HGNC ids, as compiled in
//! GitHub `scwatts/umccr_gene_panels` `resources/ensembl_gene_data.tsv`
//! (commit 11737d2), cross-checked against the Ensembl 107 extents of
//! `umccr/NGS_Utils`. Only GRCh38 is shipped: no GRCh37 table of known
//! provenance was found, and coordinates are never lifted over or guessed, so
//! [`at`] finds nothing on GRCh37.

use std::sync::OnceLock;

use crate::chrom::{Chrom, GenomeBuild};

/// A gene's extent in one build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gene {
    /// HGNC symbol.
    pub symbol: &'static str,
    /// HGNC id (`HGNC:3236` for EGFR).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_of_the_table_is_read() {
        let rows = TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .count();
        assert_eq!(all(GenomeBuild::Grch38).len(), rows);
        assert_eq!(rows, 57);
        assert!(all(GenomeBuild::Grch37).is_empty());
    }

    #[test]
    fn known_extents_and_lookups() {
        let b = GenomeBuild::Grch38;
        let egfr = by_symbol(b, "EGFR").unwrap();
        assert_eq!(
            (egfr.chrom.as_str(), egfr.start, egfr.end),
            ("7", 55019017, 55211628)
        );
        assert_eq!(egfr.hgnc_id, "HGNC:3236");
        let braf = by_symbol(b, "BRAF").unwrap();
        assert_eq!((braf.start, braf.end), (140719327, 140924929));
        let tp53 = by_symbol(b, "TP53").unwrap();
        assert_eq!(
            (tp53.chrom.as_str(), tp53.start, tp53.end),
            ("17", 7661779, 7687538)
        );
        // BRAF V600E (GRCh38 7:140753336) and EGFR L858R (7:55191822).
        let seven = Chrom::normalise("7").unwrap();
        assert_eq!(at(b, &seven, 140753336).unwrap().symbol, "BRAF");
        assert_eq!(at(b, &seven, 55191822).unwrap().symbol, "EGFR");
        assert!(at(b, &seven, 1000).is_none());
        assert!(at(GenomeBuild::Grch37, &seven, 140453136).is_none());
        for g in all(b) {
            assert!(g.start <= g.end && g.hgnc_id.starts_with("HGNC:"), "{g:?}");
        }
    }
}
