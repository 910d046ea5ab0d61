//! FLT3 exon 14 and the internal tandem duplications drawn in it.
//!
//! FLT3-ITDs are in-frame duplications of 3–400 bp (mostly 15–60) in the
//! juxtamembrane domain, exon 14. To write one as a real VCF record the
//! duplicated bases must be GRCh38's: [`FLT3_EXON14`] is the plus-strand
//! sequence of `chr13:28,034,082-28,034,214` (FLT3 is a minus-strand gene)
//! from a public AML target catalogue (km, GRCh38), anchored by two public
//! annotations: `c.1778A>G` = `chr13:28034141 T>C` (p.Asp593Gly) and
//! `c.1772_1801dup` = `chr13:g.28034118_28034147dup`, so `c. = 28,035,919 - g`
//! inside the exon. Codons 591–606 translate to the known
//! YVDFREYEYDLKWEFP (tested).

use super::reference::{FLT3, KnownVariant};

/// First GRCh38 position of FLT3 exon 14 ([`FLT3_EXON14`]).
pub const FLT3_EXON14_START: u32 = 28_034_082;
/// FLT3 exon 14, GRCh38 plus strand, `chr13:28,034,082-28,034,214`.
pub const FLT3_EXON14: &str = concat!(
    "CAAACTCTAAATTTTCTCTTGGAAACTCCCATTTGAGATCATATTCATATTCTCTGAAAT",
    "CAACGTAGAAGTACTCATTATCTGAGGAGCCGGTCACCTGTACCATCTGTAGCTGGCTTT",
    "CATACCTAAATTG"
);
/// `c. = FLT3_C_PLUS_G - g` inside exon 14 (minus-strand gene).
pub const FLT3_C_PLUS_G: u32 = 28_035_919;
/// The ITDs drawn lie within `c.1750..=1830` (codons 584–610, the
/// juxtamembrane domain and start of TKD1, where ITDs cluster).
const ITD_C_RANGE: (u32, u32) = (1750, 1830);

/// The plus-strand base at `g` inside FLT3 exon 14.
fn flt3_base(g: u32) -> Option<u8> {
    let i = g.checked_sub(FLT3_EXON14_START)? as usize;
    FLT3_EXON14.as_bytes().get(i).copied()
}

fn complement(b: u8) -> u8 {
    match b {
        b'A' => b'T',
        b'C' => b'G',
        b'G' => b'C',
        b'T' => b'A',
        other => other,
    }
}

/// The coding base `c.` of FLT3 inside exon 14.
fn flt3_coding_base(c: u32) -> Option<u8> {
    flt3_base(FLT3_C_PLUS_G.checked_sub(c)?).map(complement)
}

/// The three-letter amino acid of a codon (standard code).
fn amino_acid(codon: &[u8]) -> &'static str {
    const BASES: &[u8; 4] = b"TCAG";
    // Standard code in TCAG order, one letter per codon.
    const CODE: &[u8; 64] = b"FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG";
    let idx = |b: u8| BASES.iter().position(|&x| x == b);
    let (Some(a), Some(b), Some(c)) = (idx(codon[0]), idx(codon[1]), idx(codon[2])) else {
        return "Xaa";
    };
    match CODE[a * 16 + b * 4 + c] {
        b'A' => "Ala",
        b'R' => "Arg",
        b'N' => "Asn",
        b'D' => "Asp",
        b'C' => "Cys",
        b'Q' => "Gln",
        b'E' => "Glu",
        b'G' => "Gly",
        b'H' => "His",
        b'I' => "Ile",
        b'L' => "Leu",
        b'K' => "Lys",
        b'M' => "Met",
        b'F' => "Phe",
        b'P' => "Pro",
        b'S' => "Ser",
        b'T' => "Thr",
        b'W' => "Trp",
        b'Y' => "Tyr",
        b'V' => "Val",
        _ => "Ter",
    }
}

/// FLT3 codon `n` (1-based) as a three-letter amino acid, when it lies in exon 14.
pub fn flt3_codon(n: u32) -> Option<&'static str> {
    let c = 3 * n.checked_sub(1)? + 1;
    let codon = [
        flt3_coding_base(c)?,
        flt3_coding_base(c + 1)?,
        flt3_coding_base(c + 2)?,
    ];
    Some(amino_acid(&codon))
}

/// A FLT3 internal tandem duplication of `codons` whole codons (7–20, i.e.
/// 21–60 bp, always in frame) starting at codon `first`, as a left-aligned
/// VCF insertion. `None` when the duplicated codons leave
/// `c.1750..=1830` or `codons` is out of range.
pub fn flt3_itd(first: u32, codons: u32) -> Option<KnownVariant> {
    if !(7..=20).contains(&codons) || first == 0 {
        return None;
    }
    let s = 3 * (first - 1) + 1;
    let e = s + 3 * codons - 1;
    if s < ITD_C_RANGE.0 || e > ITD_C_RANGE.1 {
        return None;
    }
    let (ga, gb) = (FLT3_C_PLUS_G - e, FLT3_C_PLUS_G - s);
    let mut ins: Vec<u8> = (ga..=gb).map(flt3_base).collect::<Option<_>>()?;
    // Insertion of `ins` between p and p+1 with p = ga - 1; shift left
    // while the base before equals the last inserted base.
    let mut p = ga - 1;
    while p > FLT3_EXON14_START {
        let b = flt3_base(p)?;
        if ins.last() != Some(&b) {
            break;
        }
        ins.pop();
        ins.insert(0, b);
        p -= 1;
    }
    let pad = flt3_base(p)? as char;
    // HGVS describes a duplication at its most 3' position in the transcript;
    // FLT3 is on the minus strand, so the left-aligned VCF insertion is
    // already the 3'-most copy: c. follows from the final genomic position.
    let len = 3 * codons;
    let (cs, ce) = (FLT3_C_PLUS_G - p - len, FLT3_C_PLUS_G - p - 1);
    // The same rule at the protein level: shift while the next residue
    // repeats the first duplicated one.
    let (mut a, mut b) = (first, first + codons - 1);
    while let (Some(next), Some(head)) = (flt3_codon(b + 1), flt3_codon(a)) {
        if next != head {
            break;
        }
        a += 1;
        b += 1;
    }
    Some(KnownVariant {
        gene: FLT3,
        chrom: "13",
        pos: p,
        reference: pad.to_string(),
        alternate: format!("{pad}{}", String::from_utf8_lossy(&ins)),
        hgvs_c: format!("c.{cs}_{ce}dup"),
        hgvs_p: format!("p.{}{a}_{}{b}dup", flt3_codon(a)?, flt3_codon(b)?),
        consequence: "inframe_insertion",
        impact: "MODERATE",
    })
}

/// Range of FLT3 codons an ITD may start at for `codons` duplicated codons.
pub fn flt3_itd_starts(codons: u32) -> std::ops::RangeInclusive<u32> {
    let first = (ITD_C_RANGE.0 - 1).div_ceil(3) + 1;
    let last_end_codon = ITD_C_RANGE.1 / 3;
    first..=(last_end_codon + 1).saturating_sub(codons)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flt3_exon14_reads_as_the_juxtamembrane_domain() {
        assert_eq!(FLT3_EXON14.len() as u32, 28_034_214 - FLT3_EXON14_START + 1);
        // c.1778A>G is chr13:28034141 T>C (p.Asp593Gly).
        assert_eq!(flt3_base(28_034_141), Some(b'T'));
        assert_eq!(flt3_coding_base(1778), Some(b'A'));
        let jm: Vec<&str> = (591..=606).map(|n| flt3_codon(n).unwrap()).collect();
        assert_eq!(
            jm.join(""),
            "TyrValAspPheArgGluTyrGluTyrAspLeuLysTrpGluPhePro"
        );
    }

    #[test]
    fn itds_are_in_frame_duplications_of_the_reference() {
        for codons in 7..=20 {
            for first in flt3_itd_starts(codons) {
                let v = flt3_itd(first, codons).unwrap();
                let ins = &v.alternate[1..];
                assert_eq!(ins.len() as u32, 3 * codons);
                assert_eq!(v.reference.len(), 1);
                // The inserted bases are a copy of the reference right after POS
                // (a tandem duplication).
                let next: String = (v.pos + 1..v.pos + 1 + 3 * codons)
                    .map(|g| flt3_base(g).unwrap() as char)
                    .collect();
                assert_eq!(ins, next, "{v:?}");
                assert!(v.hgvs_p.ends_with("dup"));
                // c. names exactly the inserted bases, read on the coding strand.
                let (cs, ce) = v.hgvs_c[2..v.hgvs_c.len() - 3].split_once('_').unwrap();
                let coding: String = (cs.parse::<u32>().unwrap()..=ce.parse().unwrap())
                    .rev()
                    .map(|c| complement(flt3_coding_base(c).unwrap()) as char)
                    .collect();
                assert_eq!(coding, ins, "{v:?}");
            }
            assert!(flt3_itd(*flt3_itd_starts(codons).end() + 1, codons).is_none());
        }
        assert!(flt3_itd(600, 6).is_none());
    }
}
