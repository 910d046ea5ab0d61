//! Privacy-preserving record linkage (PPRL) on cryptographic long-term keys
//! (CLKs, Schnell, Bachteler & Reiher 2011): record-level Bloom filters of
//! 1024 bits, filled per field with the bigrams of the normalised value, each
//! bigram setting `k` bits chosen by keyed double hashing.
//!
//! # Hashing
//! Each field gets its own key, `HMAC-SHA256(project secret, "oncofed-linkage/clk/v1/" ‖ field)`.
//! A bigram `t` is hashed once, `h = HMAC-SHA256(field key, salt ‖ 0x00 ‖ t)`;
//! its first two 64-bit words give `h1` and `h2 | 1`, and the bit positions are
//! `h1 + i·h2 mod L` for `i < k` (double hashing, Kirsch & Mitzenmacher 2006, as
//! clkhash's `doubleHash` but with one HMAC-SHA256 instead of two HMAC-SHA1).
//! The odd `h2` makes the `k` positions distinct for `L` a power of two. Without
//! the project secret nobody can build a dictionary of encodings.
//!
//! # Hardening ([`Hardening`]) and the attacks it addresses
//! Basic CLKs fall to frequency and pattern-mining attacks: frequent bigrams set
//! the same bit positions in many filters, and the Hamming weight of a filter
//! follows the length of the values, so an attacker holding a plaintext
//! population list aligns frequent bit patterns with frequent bigrams (Kuzu et
//! al. 2011 constraint satisfaction; Niedermeyer et al. 2014 atom-based
//! cryptanalysis; Kroll & Steinmetzer 2015; Christen et al. 2017/2018 pattern
//! mining, which needs neither the key nor the hash functions). Options:
//! - [`Hardening::Balanced`] (default; Schnell & Borgs 2016): a 512-bit base
//!   filter concatenated with its complement and permuted under the project
//!   key. Every CLK then has exactly 512 bits set, which removes the
//!   Hamming-weight signal (value lengths, number of fields present) that
//!   frequency attacks use to group records; and since the permutation hides
//!   which position is whose complement, a frequent bigram shows as a mix of
//!   often-set and often-unset positions rather than a clean frequent
//!   pattern, which weakens (does not prevent) the pattern-mining attacks.
//!   The base is hashed with half the configured `k` (rounded down, at
//!   least 1), see "The balanced floor" below.
//! - [`Hardening::Permuted`]: a basic CLK whose 1024 positions are permuted
//!   under the project key. Dice is unchanged (it is invariant under a
//!   permutation applied to both filters), so it links exactly like clkhash;
//!   it removes the arithmetic progressions `h1 + i·h2` of double hashing
//!   that the atom attacks exploit, but keeps the Hamming weight and the
//!   bit-pattern frequencies.
//! - [`Hardening::SaltBirthYear`]: every bigram is hashed together with the
//!   record's birth year, so a bigram's bits differ between birth cohorts and
//!   bit-pattern frequencies are spread over ~80 cohorts (salting, suggested by
//!   Niedermeyer et al. 2014). Costs every true pair whose birth year is
//!   missing or mistyped on one side (Febrl4: F1 0.959 at 0.75).
//! - [`Hardening::XorFold`] (Schnell, Borgs & Encarnação 2016): a 2048-bit filter
//!   folded with XOR; a set bit no longer maps to one bigram position, which
//!   breaks the bigram-to-position alignment of atom-based attacks. Pushes
//!   matches down as much as non-matches (Febrl4 match p5 0.69 against 0.80
//!   unhardened), so it loses recall at any threshold (Febrl4 F1 0.94 at 0.75).
//!
//! None of these stops the graph-matching attack of Vidanage et al. (2020),
//! which works on the similarity graph itself and so on any encoding that keeps
//! similarities; only keeping encodings away from anyone who holds a plaintext
//! population list (the trust centre never sees IDAT in PPRL mode) mitigates it.
//! Random bit flipping (BLIP, Schnell & Borgs 2016), rule 90 and windowed XOR
//! (WXOR, Ranbaduge & Schnell 2020) are not offered: like XOR folding they
//! trade Dice separation for resistance, and XOR folding already measures
//! what that costs here.
//!
//! ## The balanced floor (issue 18) and how the default was chosen
//! Dice on balanced CLKs equals the simple matching coefficient (SMC) of the
//! two bases: shared zeros count as much as shared ones. For unrelated bases
//! of fill `p` that is about `p² + (1 − p)²`, lowest (0.5) at `p = 0.5`. Until
//! issue 18 the base was hashed with the `k` meant for a 1024-bit filter, so
//! it was 77–79 % full and unrelated records scored 0.66 at the median and up
//! to 0.87: a floor near the customary 0.75 threshold. Hashing the base with
//! `⌊k/2⌋` (at least 1) keeps the base about half full (0.49 on Febrl4,
//! 0.51 on the synthetic split; `⌈k/2⌉` gave 0.54/0.56 and a worse tail:
//! 119 unrelated pairs ≥ 0.75 on the synthetic split, match p1 0.730).
//! Measured with `examples/dice_histogram.rs` (all pairs; the synthetic tuning split of `tests/common/split.rs`, 5,000
//! originals, 2,104 copies of a quarter of them, seed 20261204, which no
//! test uses; and Febrl4, 5,000 × 5,000):
//!
//! | encoding | dataset | base fill | non-match p50 | p99.99 | max | non-matches ≥ 0.75 | match p1 |
//! |---|---|---:|---:|---:|---:|---:|---:|
//! | balanced, base with `k` (before) | synthetic | 0.786 | 0.687 | 0.808 | 0.875 | 207,603 | 0.783 |
//! | balanced, base with `⌊k/2⌋` (now) | synthetic | 0.512 | 0.554 | 0.716 | 0.833 | 111 | 0.744 |
//! | unhardened (clkhash-equivalent) | synthetic | 0.537 | 0.585 | 0.743 | 0.831 | 628 | 0.742 |
//! | balanced, base with `k` (before) | Febrl4 | 0.765 | 0.660 | 0.761 | 0.822 | 14,107 | 0.773 |
//! | balanced, base with `⌊k/2⌋` (now) | Febrl4 | 0.489 | 0.544 | 0.666 | 0.746 | 0 | 0.746 |
//! | unhardened (clkhash-equivalent) | Febrl4 | 0.513 | 0.554 | 0.672 | 0.744 | 0 | 0.745 |
//!
//! The corrected balanced encoding's non-match distribution now lies at or
//! below clkhash's (unrelated pairs ≥ 0.75 on the synthetic split: 111
//! against 628; p99.99 0.716 against 0.743), its match distribution is as
//! high (p1 0.744 against 0.742), and at equal thresholds its F1 is at least
//! the unhardened one's (0.75: synthetic 1:1 0.7285 against 0.7169, n:1
//! 0.9912 against 0.9909; Febrl4 0.9946 against 0.9942), while it keeps the
//! constant Hamming weight that the permuted and unhardened encodings lack.
//! That is why it stays the default rather than [`Hardening::Permuted`].
//! Before the fix, the synthetic split's F1 at 0.75 was 0.5995 one-to-one
//! (greedy one-to-one gave the originals' extra copies to look-alikes).
//! The threshold that goes with each encoding is [`Hardening::recommended_threshold`], and
//! [`MatchConfig::for_encoding`] (also [`MatchConfig::default`]) takes it
//! from the encoding, so a user cannot pair an encoding with another
//! encoding's threshold by omission.
//!
//! ## Summary: published attacks and what addresses them here
//!
//! | attack | what it exploits | addressed by (default: balanced) |
//! |---|---|---|
//! | dictionary / brute force: encode guessed identities, compare | knowing the hash functions | per-project HMAC-SHA256 keys from a secret held by the sites only; per-field keys (every encoding) |
//! | frequency alignment, constraint satisfaction (Kuzu et al. 2011, 2013) | frequent bit patterns ↔ frequent values | weakened by balancing + keyed permutation (a frequent bigram shows as set and unset positions); birth-year salt spreads it over cohorts; **not** by `Permuted` or `None` |
//! | Hamming-weight / value-length analysis | popcount grows with value length and fields present | balancing: every CLK has exactly 512 bits set; **not** by `Permuted`, `None`, `SaltBirthYear`, `XorFold` |
//! | atom/bigram cryptanalysis of double hashing (Niedermeyer et al. 2014; Kroll & Steinmetzer 2015) | a bigram's `k` positions form an arithmetic progression `h1 + i·h2 mod L` | keyed permutation (balanced and `Permuted`: positions no longer a progression), XOR folding (a bit no longer maps to one bigram) |
//! | pattern mining without key or hash functions (Christen et al. 2017, 2018) | co-occurring frequent bit patterns | weakened by balancing and salting; not prevented by any encoding here |
//! | similarity-graph matching (Vidanage et al. 2020) | the Dice graph itself, plus a plaintext list | not by any encoding: the linking party must not hold plaintext IDAT of the same population |
//! | block-size frequency analysis | keyed blocking keys reveal equal values and value frequencies | coarse keys (phonetic codes, not names); LSH on CLK bits ([`ClkBlocking::Lsh`]) reveals nothing beyond the CLKs |
//!
//! Halving `k` in the base does not weaken the balancing: the CLK still has
//! exactly 512 bits set, and a bigram still sets up to `⌊k/2⌋` base bits
//! whose complements sit at keyed positions. With a half-full base, set and
//! unset positions are about equally frequent, so position frequencies
//! carry less signal than in the old three-quarters-full base.

pub mod kernel;
mod matching;

pub use kernel::Kernel;
pub use matching::{
    ClkBlocking, ClkLink, MatchConfig, MatchStats, TILE, dice, match_clks, match_clks_blocked,
    match_clks_blocked_with, match_clks_with,
};

/// The Dice threshold of the default encoding ([`ClkConfig::default`], balanced):
/// what [`MatchConfig::default`] and the trust centre's new PPRL projects use.
pub const DEFAULT_THRESHOLD: f64 = 0.75;

use crate::probabilistic::BlockingKey;
use crate::record::Record;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Length of an encoding in bits.
pub const CLK_BITS: usize = 1024;

/// A 1024-bit cryptographic long-term key, sixteen 64-bit words for popcount.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Clk(pub [u64; 16]);

impl Clk {
    /// Number of set bits.
    pub fn popcount(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    /// Bit `i` (0-based, word-major), for LSH blocking and tests.
    pub fn bit(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 == 1
    }

    /// Big-endian bytes, bit 0 first as in clkhash's bitarray serialisation.
    pub fn to_bytes(&self) -> [u8; 128] {
        let mut out = [0u8; 128];
        for i in 0..CLK_BITS {
            if self.bit(i) {
                out[i / 8] |= 0x80 >> (i % 8);
            }
        }
        out
    }
}

impl Clk {
    /// The inverse of [`Clk::to_bytes`]: how encodings travel (base64) and are stored.
    pub fn from_bytes(bytes: &[u8; 128]) -> Self {
        let mut out = [0u64; 16];
        for (i, w) in out.iter_mut().enumerate() {
            for bit in 0..64 {
                let n = i * 64 + bit;
                if bytes[n / 8] & (0x80 >> (n % 8)) != 0 {
                    *w |= 1 << bit;
                }
            }
        }
        Clk(out)
    }
}

impl fmt::Debug for Clk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clk(popcount {})", self.popcount())
    }
}

/// Errors building an encoder.
#[derive(Debug, thiserror::Error)]
pub enum PprlError {
    /// The project secret is too short to key HMAC-SHA256 safely.
    #[error("project secret has {0} bytes; use at least 16 random bytes (32 recommended)")]
    SecretTooShort(usize),
    /// A field's `k` is outside 1..=64.
    #[error("k = {0} bits per bigram is out of range; choose 1..=64")]
    BadK(u32),
}

/// The per-linkage-project secret shared by the sites (never by the linking party).
#[derive(Clone)]
pub struct ProjectSecret(Vec<u8>);

impl ProjectSecret {
    /// Wraps secret bytes; at least 16 bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, PprlError> {
        let bytes = bytes.into();
        if bytes.len() < 16 {
            return Err(PprlError::SecretTooShort(bytes.len()));
        }
        Ok(ProjectSecret(bytes))
    }
}

impl fmt::Debug for ProjectSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProjectSecret(<redacted>)")
    }
}

/// The fields a CLK can encode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClkField {
    /// Given names.
    Given,
    /// Family name.
    Family,
    /// Birth date as `YYYYMMDD`.
    BirthDate,
    /// Sex code.
    Sex,
    /// House number.
    HouseNumber,
    /// Street.
    Street,
    /// Postal code.
    PostalCode,
    /// City.
    City,
    /// Insurance number.
    InsuranceId,
}

impl ClkField {
    fn tag(self) -> &'static str {
        match self {
            ClkField::Given => "given",
            ClkField::Family => "family",
            ClkField::BirthDate => "birth_date",
            ClkField::Sex => "sex",
            ClkField::HouseNumber => "house_number",
            ClkField::Street => "street",
            ClkField::PostalCode => "postal_code",
            ClkField::City => "city",
            ClkField::InsuranceId => "insurance_id",
        }
    }

    /// The normalised value encoded for this field; empty = nothing encoded.
    pub fn value(self, r: &Record) -> String {
        match self {
            ClkField::Given => r.given.clone(),
            ClkField::Family => r.family.clone(),
            ClkField::BirthDate => r.birth_date_string(),
            ClkField::Sex => r.sex_code().to_owned(),
            ClkField::HouseNumber => r.house_number.clone(),
            ClkField::Street => r.street.clone(),
            ClkField::PostalCode => r.postal_code.clone(),
            ClkField::City => r.city.clone(),
            ClkField::InsuranceId => r.insurance_id.clone(),
        }
    }
}

/// Hardening of the encodings; see the module docs for the attacks each addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hardening {
    /// Basic CLK (for comparison with clkhash only).
    None,
    /// Bigrams salted with the record's birth year.
    SaltBirthYear,
    /// 512-bit base (hashed with `⌊k/2⌋`) + its complement, keyed permutation.
    Balanced,
    /// 2048-bit filter XOR-folded to 1024 bits.
    XorFold,
    /// Basic CLK whose bit positions are permuted under the project key: links
    /// exactly like `None` (and clkhash), without double hashing's progressions.
    Permuted,
}

impl Hardening {
    /// The Dice threshold that goes with this encoding (at the default `k`
    /// per field of [`ClkConfig::default`]), chosen by one rule on a tuning
    /// cohort that no test uses: the synthetic split of
    /// `tests/common/split.rs` with seed 20261204 (5,000 originals, a quarter
    /// with one to three corrupted copies), all pairs, and `t` on a 0.01 grid
    /// with the least worst regret: for each `t`, the F1 each mode (one-to-one
    /// greedy, many-to-one best A per B record) loses against its own best
    /// over the grid; the `t` whose larger loss is smallest (ties to the
    /// higher `t`). A default serves both uses, so it must not be poor at
    /// either. `examples/dice_histogram.rs` prints the sweep and the rule's
    /// pick. Measured:
    ///
    /// | encoding | threshold | tuning split F1 1:1 / n:1 | Febrl4 F1 at it |
    /// |---|---:|---|---:|
    /// | `Balanced` | 0.75 | 0.7285 / 0.9912 | 0.9946 |
    /// | `None`, `Permuted` | 0.77 | 0.7292 / 0.9873 | 0.9888 |
    /// | `SaltBirthYear` | 0.74 | 0.7320 / 0.9943 | 0.9602 |
    /// | `XorFold` | 0.64 | 0.7307 / 0.9882 | 0.9997 |
    ///
    /// (The best one-to-one F1 of the balanced encoding is 0.7340 at 0.77,
    /// its best many-to-one 0.9938 at 0.73: at 0.75 it loses 0.0055 and
    /// 0.0026; at 0.76, the pick of an earlier rule, maximising the mean of
    /// the two F1s on a curve flat between 0.75 and 0.77, it lost 0.0058 in
    /// many-to-one.)
    /// (One-to-one F1 on that split cannot exceed ~0.74: a greedy one-to-one
    /// matcher takes one copy per original, the other copies count as
    /// missed.) The rule weighs the errors a linker makes, not pairs: the
    /// point where the match and non-match pair histograms cross (fewest
    /// pairs on the wrong side; 0.77 balanced, 0.79 unhardened on the tuning
    /// split) is too high, because most unrelated pairs in the tail belong to
    /// records whose own partner scores higher and never become links, and
    /// that crossing rises with the number of records compared.
    ///
    /// Febrl4 alone (every record has a partner) would pick 0.64–0.65;
    /// a different `k` or population moves the distributions, so re-run the
    /// example on a sample of the project's own population (with a known
    /// truth) before changing either.
    pub fn recommended_threshold(self) -> f64 {
        match self {
            Hardening::Balanced => DEFAULT_THRESHOLD,
            Hardening::SaltBirthYear => 0.74,
            Hardening::None | Hardening::Permuted => 0.77,
            Hardening::XorFold => 0.64,
        }
    }
}

/// Encoding settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ClkConfig {
    /// Fields and the bits set per bigram (`k`) for each: higher `k` gives a
    /// field more influence on the Dice coefficient.
    pub fields: Vec<(ClkField, u32)>,
    /// Hardening step.
    pub hardening: Hardening,
}

impl Default for ClkConfig {
    /// The eight fields of IDAT that Febrl also has, plus sex, with `k` tuned on
    /// Febrl4 (names and birth date 15, postal code and insurance number 12,
    /// house number, street and city 9).
    ///
    /// Known limit: the four address fields together carry much weight, so two
    /// members of one household (same family name and address, other given name,
    /// sex and birth date) reach Dice ≈ 0.8 (test `pprl_household_members_score_high`
    /// in `tests/idat.rs`). Links between 0.75 and ~0.85 therefore deserve clerical
    /// review; lowering the address `k` trades this against Febrl4 recall.
    fn default() -> Self {
        ClkConfig {
            fields: vec![
                (ClkField::Given, 15),
                (ClkField::Family, 15),
                (ClkField::BirthDate, 15),
                (ClkField::Sex, 15),
                (ClkField::HouseNumber, 9),
                (ClkField::Street, 9),
                (ClkField::PostalCode, 12),
                (ClkField::City, 9),
                (ClkField::InsuranceId, 12),
            ],
            hardening: Hardening::Balanced,
        }
    }
}

impl MatchConfig {
    /// Matching settings for CLKs made with `clk`: the encoding's
    /// [`Hardening::recommended_threshold`], all pairs, one thread, greedy
    /// one-to-one. Build the matcher from the encoder's settings so that the
    /// threshold always follows the encoding (a balanced threshold on
    /// XOR-folded CLKs loses a third of the links; an XOR-fold threshold on
    /// balanced CLKs links look-alikes).
    pub fn for_encoding(clk: &ClkConfig) -> Self {
        MatchConfig {
            threshold: clk.hardening.recommended_threshold(),
            blocking: ClkBlocking::AllPairs,
            threads: 1,
            one_to_one: true,
        }
    }
}

/// Encodes records into CLKs under one project secret. Build once per project,
/// share between threads.
#[derive(Clone)]
pub struct Encoder {
    fields: Vec<(ClkField, u32, HmacSha256)>,
    hardening: Hardening,
    permutation: Vec<u16>,
    blocking: HmacSha256,
}

impl fmt::Debug for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Encoder({} fields, {:?}, key <redacted>)",
            self.fields.len(),
            self.hardening
        )
    }
}

fn keyed(key: &[u8], msg: &[u8]) -> HmacSha256 {
    let mut root = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    root.update(msg);
    let derived = root.finalize().into_bytes();
    HmacSha256::new_from_slice(&derived).expect("HMAC takes any key length")
}

impl Encoder {
    /// Derives the per-field keys (and, for balancing, the keyed permutation).
    pub fn new(secret: &ProjectSecret, cfg: &ClkConfig) -> Result<Self, PprlError> {
        let mut fields = Vec::with_capacity(cfg.fields.len());
        for &(f, k) in &cfg.fields {
            if !(1..=64).contains(&k) {
                return Err(PprlError::BadK(k));
            }
            fields.push((
                f,
                k,
                keyed(
                    &secret.0,
                    format!("oncofed-linkage/clk/v1/{}", f.tag()).as_bytes(),
                ),
            ));
        }
        let mut permutation: Vec<u16> = (0..CLK_BITS as u16).collect();
        if matches!(cfg.hardening, Hardening::Balanced | Hardening::Permuted) {
            // Fisher–Yates driven by HMAC-SHA256 in counter mode.
            let prf = keyed(&secret.0, b"oncofed-linkage/clk/v1/permutation");
            for i in (1..CLK_BITS).rev() {
                let mut mac = prf.clone();
                mac.update(&(i as u64).to_le_bytes());
                let out = mac.finalize().into_bytes();
                let r = u64::from_le_bytes(out[..8].try_into().expect("32-byte digest"));
                permutation.swap(i, (r % (i as u64 + 1)) as usize);
            }
        }
        let blocking = keyed(&secret.0, b"oncofed-linkage/block/v1");
        Ok(Encoder {
            fields,
            hardening: cfg.hardening,
            permutation,
            blocking,
        })
    }

    /// Length in bits of the filter the bigrams are hashed into, before hardening.
    fn base_bits(&self) -> u64 {
        match self.hardening {
            Hardening::Balanced => 512,
            Hardening::XorFold => 2048,
            _ => 1024,
        }
    }

    /// The filter before hardening: bigrams hashed into [`Self::base_bits`] bits.
    fn base(&self, r: &Record) -> [u64; 32] {
        let base_bits = self.base_bits();
        // `k` is configured for a 1024-bit filter; a balanced CLK hashes into a
        // 512-bit base, which with the same `k` would be ~78 % full, and Dice
        // on balanced CLKs is the simple matching coefficient of the base, so
        // unrelated records would score p² + (1 − p)² ≈ 0.66 and up to 0.87.
        // Halving `k` (rounded down, at least 1) keeps the base about half
        // full (measured 0.49–0.51), where that coefficient is lowest.
        let halve = self.hardening == Hardening::Balanced;
        let salt = match (self.hardening, r.birth_year) {
            (Hardening::SaltBirthYear, Some(y)) => y.to_string(),
            _ => String::new(),
        };
        let mut buf = [0u64; 32];
        let mut token = String::new();
        for (field, k, mac) in &self.fields {
            let value = field.value(r);
            if value.is_empty() {
                continue;
            }
            let padded: Vec<char> = std::iter::once(' ')
                .chain(value.chars())
                .chain(std::iter::once(' '))
                .collect();
            for w in padded.windows(2) {
                token.clear();
                token.extend(w);
                let mut m = mac.clone();
                m.update(salt.as_bytes());
                m.update(&[0]);
                m.update(token.as_bytes());
                let h = m.finalize().into_bytes();
                let h1 = u64::from_le_bytes(h[..8].try_into().expect("32-byte digest"));
                let h2 = u64::from_le_bytes(h[8..16].try_into().expect("32-byte digest")) | 1;
                let k = if halve { (k / 2).max(1) } else { *k };
                for i in 0..u64::from(k) {
                    let pos = (h1.wrapping_add(i.wrapping_mul(h2)) % base_bits) as usize;
                    buf[pos / 64] |= 1 << (pos % 64);
                }
            }
        }
        buf
    }

    /// Share of the bits set in the record's filter before hardening (the
    /// 512-bit base of a balanced CLK, the 2048-bit filter before XOR
    /// folding, else the CLK itself). It decides where unrelated records'
    /// Dice lies: for a balanced CLK of fill `p`, unrelated records score
    /// about `p² + (1 − p)²` (see the module docs).
    pub fn base_fill(&self, r: &Record) -> f64 {
        let buf = self.base(r);
        let bits = self.base_bits();
        let set: u32 = buf[..(bits / 64) as usize]
            .iter()
            .map(|w| w.count_ones())
            .sum();
        f64::from(set) / bits as f64
    }

    /// Encodes one record.
    pub fn encode(&self, r: &Record) -> Clk {
        let mut buf = self.base(r);
        let mut out = [0u64; 16];
        let permute = |buf: &[u64; 32], out: &mut [u64; 16]| {
            for (dst, &src) in self.permutation.iter().enumerate() {
                let src = src as usize;
                if buf[src / 64] >> (src % 64) & 1 == 1 {
                    out[dst / 64] |= 1 << (dst % 64);
                }
            }
        };
        match self.hardening {
            Hardening::None | Hardening::SaltBirthYear => out.copy_from_slice(&buf[..16]),
            Hardening::XorFold => {
                for (i, w) in out.iter_mut().enumerate() {
                    *w = buf[i] ^ buf[i + 16];
                }
            }
            Hardening::Permuted => permute(&buf, &mut out),
            Hardening::Balanced => {
                for i in 0..8 {
                    buf[i + 8] = !buf[i];
                }
                permute(&buf, &mut out);
            }
        }
        Clk(out)
    }

    /// Keyed blocking keys of a record: `HMAC-SHA256(block key, pass ‖ value)`
    /// truncated to 64 bits for each [`BlockingKey`] pass whose fields are present.
    ///
    /// They let the linking party compare only records that share a key without
    /// learning the values, at a price: equal keys reveal that two records share
    /// e.g. phonetic family name and birth year, and block sizes follow value
    /// frequencies (a frequency attack on blocks). Coarse keys (phonetic codes,
    /// not names) keep blocks large; LSH on the CLK bits ([`ClkBlocking::Lsh`])
    /// reveals nothing beyond the CLKs but needs more comparisons.
    pub fn blocking_keys(&self, r: &Record, passes: &[BlockingKey]) -> Vec<u64> {
        passes
            .iter()
            .flat_map(|pass| pass.keys(r).into_iter().map(move |value| (pass, value)))
            .map(|(pass, value)| {
                let mut m = self.blocking.clone();
                m.update(&[*pass as u8, 0]);
                m.update(value.as_bytes());
                let h = m.finalize().into_bytes();
                u64::from_le_bytes(h[..8].try_into().expect("32-byte digest"))
            })
            .collect()
    }

    /// Encodes many records, on `threads` threads.
    pub fn encode_all(&self, records: &[Record], threads: usize) -> Vec<Clk> {
        let threads = threads.max(1);
        if threads == 1 || records.len() < 256 {
            return records.iter().map(|r| self.encode(r)).collect();
        }
        let chunk = records.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = records
                .chunks(chunk)
                .map(|c| s.spawn(move || c.iter().map(|r| self.encode(r)).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("encoding thread panicked"))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests;
