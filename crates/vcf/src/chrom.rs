//! Chromosome names and genome builds: `chr7`, `7`, `NC_000007.13` and
//! `NC_000007.14` are one chromosome; GRCh37 and GRCh38 are told apart by
//! their declared names and by the lengths of chr1..22, X and Y.

use std::fmt;
use std::str::FromStr;

/// The reference genome build of a file's coordinates: the harmonised model's.
pub use oncofed_model::GenomeBuild;

/// The build a reference or assembly name stands for (`GRCh37`, `hg19`,
/// `hs37d5`, `b37`, `human_g1k_v37`, `GRCh38`, `hg38`, `GCA_000001405.15`),
/// found anywhere in `text` (a `##reference=file:...` path); `None` when
/// it names neither or both.
pub fn build_from_name(text: &str) -> Option<GenomeBuild> {
    let t = text.to_ascii_lowercase();
    const B37: &[&str] = &[
        "grch37",
        "hg19",
        "hs37d5",
        "b37",
        "human_g1k_v37",
        "gca_000001405.1",
        "ncbi37",
        "assembly19",
    ];
    const B38: &[&str] = &[
        "grch38",
        "hg38",
        "gca_000001405.15",
        "hs38",
        "b38",
        "assembly38",
    ];
    // "gca_000001405.1" is a prefix of ".15" and later patches: decide 38 first.
    let is38 = B38.iter().any(|n| t.contains(n));
    let t37 = t.replace("gca_000001405.15", "");
    let is37 = B37
        .iter()
        .any(|n| t37.contains(n) && !is_prefix_of_longer(&t37, n));
    match (is37, is38) {
        (true, false) => Some(GenomeBuild::Grch37),
        (false, true) => Some(GenomeBuild::Grch38),
        _ => None,
    }
}

/// Whether every occurrence of `n` in `t` continues with a digit (`gca_000001405.1`
/// inside `gca_000001405.27`), i.e. is not the name itself.
fn is_prefix_of_longer(t: &str, n: &str) -> bool {
    t.match_indices(n).all(|(i, _)| {
        t[i + n.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// A human nuclear chromosome or the mitochondrion, named the one way the
/// rest of OncoFed uses: `1`..`22`, `X`, `Y`, `MT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Chrom(u8);

/// Names of [`Chrom`]s by index (0 = `1`, ..., 21 = `22`, 22 = `X`, 23 = `Y`, 24 = `MT`).
const NAMES: [&str; 25] = [
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17",
    "18", "19", "20", "21", "22", "X", "Y", "MT",
];

/// Lengths of chr1..22, X, Y in GRCh37 and GRCh38 (GRC assembly reports
/// GCF_000001405.13 and .26; the same values as the `##contig` lines of
/// hs37d5 and the GRCh38 analysis set).
const LENGTHS: [[u64; 24]; 2] = [
    [
        249250621, 243199373, 198022430, 191154276, 180915260, 171115067, 159138663, 146364022,
        141213431, 135534747, 135006516, 133851895, 115169878, 107349540, 102531392, 90354753,
        81195210, 78077248, 59128983, 63025520, 48129895, 51304566, 155270560, 59373566,
    ],
    [
        248956422, 242193529, 198295559, 190214555, 181538259, 170805979, 159345973, 145138636,
        138394717, 133797422, 135086622, 133275309, 114364328, 107043718, 101991189, 90338345,
        83257441, 80373285, 58617616, 64444167, 46709983, 50818468, 156040895, 57227415,
    ],
];

/// RefSeq accession versions of NC_000001..NC_000024 in GRCh37 (GRCh38 is one higher each).
const REFSEQ_37: [u8; 24] = [
    10, 11, 11, 11, 9, 11, 13, 10, 11, 10, 9, 11, 10, 8, 9, 9, 10, 9, 9, 10, 8, 10, 10, 9,
];

impl Chrom {
    /// The mitochondrion.
    pub const MT: Chrom = Chrom(24);

    /// The normalised name (`1`..`22`, `X`, `Y`, `MT`).
    pub fn as_str(self) -> &'static str {
        NAMES[self.0 as usize]
    }

    /// Every chromosome in order: 1..22, X, Y, MT.
    pub fn all() -> impl Iterator<Item = Chrom> {
        (0..25).map(Chrom)
    }

    /// The chromosome a contig name stands for: `chr7`, `7`, `CHR7`,
    /// `NC_000007.13`/`.14`, `chrX`, `chrM`, `MT`, `NC_012920.1`; `None` for
    /// decoys, alternate haplotypes, unplaced scaffolds (`chrUn_*`,
    /// `GL000192.1`, `*_random`, `HLA-*`) and anything else.
    pub fn normalise(name: &str) -> Option<Chrom> {
        Self::parse_with_build(name).map(|(c, _)| c)
    }

    /// As [`Chrom::normalise`], with the build a RefSeq accession's version implies.
    pub(crate) fn parse_with_build(name: &str) -> Option<(Chrom, Option<GenomeBuild>)> {
        if let Some(rest) = name.strip_prefix("NC_") {
            if rest == "012920.1" || rest == "012920" {
                return Some((Chrom::MT, None));
            }
            let (num, version) = match rest.split_once('.') {
                Some((n, v)) => (n, Some(v)),
                None => (rest, None),
            };
            if num.len() != 6 || !num.starts_with("0000") {
                return None;
            }
            let n: u8 = num[4..].parse().ok()?;
            if !(1..=24).contains(&n) {
                return None;
            }
            let build = match version.map(str::parse::<u8>) {
                None => None,
                Some(Ok(v)) if v == REFSEQ_37[n as usize - 1] => Some(GenomeBuild::Grch37),
                Some(Ok(v)) if v == REFSEQ_37[n as usize - 1] + 1 => Some(GenomeBuild::Grch38),
                Some(_) => return None,
            };
            return Some((Chrom(n - 1), build));
        }
        // The first three bytes are ASCII when they spell `chr`, so `[3..]` is a char boundary.
        let bare = if name.len() > 3 && name.as_bytes()[..3].eq_ignore_ascii_case(b"chr") {
            &name[3..]
        } else {
            name
        };
        let c = match bare {
            "X" | "x" => Chrom(22),
            "Y" | "y" => Chrom(23),
            "M" | "MT" | "m" | "mt" | "Mt" => Chrom::MT,
            _ => {
                if bare.is_empty() || bare.len() > 2 || !bare.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                if bare.starts_with('0') {
                    return None;
                }
                let n: u8 = bare.parse().ok()?;
                if !(1..=22).contains(&n) {
                    return None;
                }
                Chrom(n - 1)
            }
        };
        Some((c, None))
    }

    /// The chromosome's length in `build` (`None` for MT, whose length the
    /// builds share but hg19's `chrM` does not).
    pub fn length(self, build: GenomeBuild) -> Option<u64> {
        let i = self.0 as usize;
        (i < 24).then(|| LENGTHS[build as usize][i])
    }
}

impl fmt::Display for Chrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Chrom {
    type Err = String;
    fn from_str(s: &str) -> Result<Chrom, String> {
        Chrom::normalise(s).ok_or_else(|| {
            "not a human chromosome name (1..22, X, Y, MT, with or without chr)".to_string()
        })
    }
}

/// Evidence about a file's build, gathered from its header.
#[derive(Debug, Default)]
pub(crate) struct BuildEvidence {
    /// Builds named by `##reference`, `##assembly` or contig `assembly=`.
    pub named: Vec<GenomeBuild>,
    /// Contigs of chr1..22/X/Y with a length: (chrom, length).
    pub lengths: Vec<(Chrom, u64)>,
    /// Builds implied by RefSeq accession versions.
    pub refseq: Vec<GenomeBuild>,
}

impl BuildEvidence {
    /// The build the evidence and the caller's declaration agree on, or why none.
    pub(crate) fn decide(&self, declared: Option<GenomeBuild>) -> Result<GenomeBuild, String> {
        let by_length = self.by_lengths()?;
        let mut named = self.named.clone();
        named.extend(self.refseq.iter().copied());
        named.sort();
        named.dedup();
        if named.len() > 1 {
            return Err("the header names both GRCh37 and GRCh38".into());
        }
        let named = named.first().copied();
        if let (Some(n), Some(l)) = (named, by_length)
            && n != l
        {
            return Err(format!(
                "the header names {n} but the contig lengths are {l}'s; fix the header"
            ));
        }
        let file = by_length.or(named);
        match (file, declared) {
            (Some(f), Some(d)) if f != d => Err(format!(
                "declared build {d} contradicts the file, whose header says {f}"
            )),
            (Some(f), _) => Ok(f),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(
                "cannot tell the genome build: no ##reference/##assembly name and no contig \
                 lengths of chr1..22/X/Y; declare the build (GRCh37 or GRCh38)"
                    .into(),
            ),
        }
    }

    /// The build whose lengths every length-bearing primary contig matches.
    fn by_lengths(&self) -> Result<Option<GenomeBuild>, String> {
        if self.lengths.is_empty() {
            return Ok(None);
        }
        let fits = |b: GenomeBuild| {
            self.lengths
                .iter()
                .all(|&(c, len)| c.length(b).is_none_or(|l| l == len))
        };
        let checked = self
            .lengths
            .iter()
            .any(|(c, _)| c.length(GenomeBuild::Grch37).is_some());
        if !checked {
            return Ok(None);
        }
        match (fits(GenomeBuild::Grch37), fits(GenomeBuild::Grch38)) {
            (true, false) => Ok(Some(GenomeBuild::Grch37)),
            (false, true) => Ok(Some(GenomeBuild::Grch38)),
            (true, true) => Ok(None),
            (false, false) => Err(
                "the contig lengths of chr1..22/X/Y match neither GRCh37 nor GRCh38 (mixed \
                 or another genome)"
                    .into(),
            ),
        }
    }
}

/// A genomic interval on one chromosome: 1-based, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// The chromosome.
    pub chrom: Chrom,
    /// First position (1-based).
    pub start: u64,
    /// Last position (inclusive).
    pub end: u64,
}

impl Region {
    /// Whether the interval `[pos, end]` overlaps the region.
    pub fn overlaps(&self, chrom: Chrom, pos: u64, end: u64) -> bool {
        chrom == self.chrom && pos <= self.end && end >= self.start
    }
}

impl FromStr for Region {
    type Err = String;
    /// `chr7:55019017-55211628`, `7:55,019,017-55,211,628`, `7:55019017` (from there to the
    /// end) or `7` (the whole chromosome), as samtools and bcftools write regions.
    fn from_str(s: &str) -> Result<Region, String> {
        let s = s.trim();
        let (name, range) = match s.rsplit_once(':') {
            Some((n, r)) => (n, Some(r)),
            None => (s, None),
        };
        let chrom: Chrom = name.parse()?;
        let num = |t: &str| -> Result<u64, String> {
            let t: String = t.chars().filter(|&c| c != ',').collect();
            t.parse::<u64>()
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| "region positions must be whole numbers from 1".to_string())
        };
        let (start, end) = match range {
            None => (1, u64::MAX),
            Some(r) => match r.split_once('-') {
                Some((a, b)) => (num(a)?, num(b)?),
                None => (num(r)?, u64::MAX),
            },
        };
        if start > end {
            return Err("region start is after its end".into());
        }
        Ok(Region { chrom, start, end })
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == 1 && self.end == u64::MAX {
            write!(f, "{}", self.chrom)
        } else if self.end == u64::MAX {
            write!(f, "{}:{}", self.chrom, self.start)
        } else {
            write!(f, "{}:{}-{}", self.chrom, self.start, self.end)
        }
    }
}
