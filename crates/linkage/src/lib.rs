//! Record linkage for the OncoFed trust centre (issue 5, R5): deciding which
//! records from different sites (or within one) belong to the same person.
//!
//! Two modes share one normalised [`Record`]:
//!
//! - **Probabilistic linkage on plaintext IDAT** ([`probabilistic`]): per-field
//!   comparators ([`compare`]: Jaro–Winkler for names, digit strings with one
//!   typo, birth-date parts with day/month swap), Fellegi–Sunter m/u weights
//!   combined EpiLink-style into a score in `[0, 1]`, two thresholds giving
//!   [`Outcome::Match`], [`Outcome::PossibleMatch`] (clerical review) and
//!   [`Outcome::NonMatch`], blocking on Kölner Phonetik + birth year + initial, phonetic
//!   given name + postal code, birth date and insurance number; m/u either
//!   configured or estimated from the data ([`estimate_weights`], EM).
//! - **Privacy-preserving linkage** ([`pprl`]): sites encode records as hardened
//!   1024-bit Bloom filters (CLKs) under a per-project secret; the linking party
//!   compares them by Dice coefficient with popcount, optionally LSH-blocked, and
//!   solves one-to-one greedily like anonlink.
//!
//! [`febrl`] loads the Febrl4 benchmark and measures precision, recall and F1;
//! `examples/febrl_bench.rs` runs the PPRL mode beside anonlink/clkhash.
//!
//! # Febrl4 figures (5,000 × 5,000, 5,000 true pairs; tests in `tests/febrl.rs`)
//!
//! | mode | precision | recall | F1 |
//! |---|---|---|---|
//! | plaintext, default weights, match ≥ 0.60 | 1.0000 | 0.9946 | 0.9973 |
//! | plaintext, EM-estimated weights | 1.0000 | 0.9940 | 0.9970 |
//! | PPRL balanced (default), default Dice ≥ 0.75, all pairs | — | — | 0.9956 |
//! | PPRL balanced, keyed blocking, Dice ≥ 0.75 (5,874 comparisons) | 1.0000 | 0.9888 | 0.9944 |
//! | PPRL unhardened (clkhash-equivalent), Dice ≥ 0.75 | 1.0000 | 0.9878 | 0.9939 |
//! | anonlink 0.15.3 + clkhash 0.18.3, same fields/k, Dice ≥ 0.75 | 1.0000 | 0.9882 | 0.9941 |
//!
//! Before issue 18 the balanced rows read F1 0.9981 (all pairs) and 0.9969
//! (keyed blocking): the old balanced encoding hashed its 512-bit base with
//! the `k` of a 1024-bit filter, which gave unrelated records a Dice floor
//! near 0.75. Febrl4 hides such a floor because every record has a partner;
//! on a split where most records have none, the old encoding made F1 0.60
//! one-to-one at 0.75 against clkhash's 0.72 (see [`pprl`], "The balanced
//! floor", and `examples/dice_histogram.rs` for the match and non-match
//! Dice histograms per encoding).
//!
//! On the synthetic multi-site cohort of `oncofed-synth` (`tests/synth.rs`:
//! typos, married names, day/month swaps, most records without a partner)
//! plaintext linkage reaches F1 0.9997, PPRL balanced at its default
//! threshold 0.9955 (unhardened at anonlink's 0.75: 0.9277). The default
//! threshold follows the encoding ([`pprl::MatchConfig::for_encoding`],
//! [`pprl::Hardening::recommended_threshold`]) and was chosen on a tuning
//! split no test uses.
//!
//! [`veto`]: a sex or birth-date disagreement forbids an automatic link
//! whatever the score; the trust centre applies it on every automatic path.
//!
//! Plaintext pairs between 0.45 and 0.60 go to clerical review; with them the
//! recall is 0.9974 (13 true pairs share no blocking key).
//!
//! `tests/anonlink_peer.rs` runs the anonlink peer in the same test on Febrl4
//! and on a synthetic split where most records have no partner (originals,
//! and one to three corrupted copies of a quarter of them) and asserts our
//! F1 (default encoding at its default threshold) ≥ anonlink's at 0.75 −
//! 0.005, one-to-one and many-to-one.
//!
//! # Speed of the Dice comparisons
//! The popcount kernel is chosen at run time ([`pprl::kernel`]: AVX-512
//! VPOPCNTQ, AVX2, POPCNT, NEON or portable SWAR), so one baseline x86-64
//! binary uses what the CPU has; the all-pairs loop keeps tiles of `B` in L1
//! ([`pprl::TILE`]). `examples/dice_bench.rs` times every kernel beside
//! anonlink's C++ kernel on the same filters in one run; measured on an AVX2
//! CPU without AVX-512 (a shared 2-core EPYC VM, release build; anonlink
//! 0.15.3 on 1 thread):
//!
//! | data | kernel | ours, 1 thread | anonlink | ratio |
//! |---|---|---|---|---|
//! | Febrl4 5k × 5k (default encoding) | avx2 | 1.63e8 | 5.69e7 | 2.86× |
//! | Febrl4 5k × 5k | popcnt | 9.08e7 | 5.69e7 | 1.60× |
//! | Febrl4 5k × 5k | portable (SWAR) | 4.70e7 | 5.69e7 | 0.83× |
//! | synthetic 20k × 20k (random, ~45 % fill) | avx2 | 1.68e8 | 6.29e7 | 2.67× |
//! | synthetic 20k × 20k | popcnt | 8.43e7 | 6.29e7 | 1.34× |
//! | synthetic 20k × 20k | portable (SWAR) | 4.46e7 | 6.29e7 | 0.71× |
//!
//! (Best of 5 rounds, each round every kernel then anonlink; load average
//! ≈ 10 on the 2 cores throughout, so absolute rates are a fraction of an idle
//! core's, about half judging by anonlink's 1.2–1.7e8/s measured earlier on an
//! idle machine; the same 19,677 and 10,000 candidates at Dice ≥ 0.75.)
//!
//! AVX2 has no vector popcount: the nibble lookup costs about 26 vector
//! instructions per 1024-bit pair (≈ 7 cycles at four per cycle), against
//! ≈ 3 cycles with AVX-512 `vpopcntq` that the ~8e8/s per-core limit assumes,
//! so an AVX2-only CPU tops out near 3/7 ≈ 40 % of it (20–21 % measured above
//! with every process getting about half a core). The
//! AVX-512 kernel is built and dispatched but could not be run on this CPU
//! (`tests/popcount_paths.rs` prints which kernels ran).
//!
//! The trust centre (`oncofed-trustee`, module `linkage`) uses this crate in its
//! pseudonymise path (blocking keys in its store, clerical-review queue) and for
//! its PPRL endpoint; its end-to-end figures are in its `tests/linkage_*.rs`.
//!
//! Architecture: a pure library, synchronous, no I/O outside [`febrl`]; it
//! depends on `oncofed-idat` (the only home of IDAT types) and is meant to be
//! used by the trust centre only. `Debug` of records, secrets and CLKs is redacted.

mod assign;
pub mod compare;
mod em;
pub mod febrl;
pub mod pprl;
pub mod probabilistic;
mod record;
pub mod veto;

pub use assign::greedy_one_to_one;
pub use em::estimate_weights;
pub use probabilistic::{
    BlockingKey, Config, Field, FieldWeight, LinkResult, Outcome, Weights, dedup, link,
};
pub use record::{Record, alnum, digits};
pub use veto::{Veto, swap_vouched_for, veto};
