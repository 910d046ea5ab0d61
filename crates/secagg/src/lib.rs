//! Secure aggregation for OncoFed (issue 4, item 2; R8–R10): the hub learns the
//! sum over sites of each vector they send (counts, gradients, Hessians) and
//! nothing else about any one site's contribution.
//!
//! The protocol is pairwise additive masking with dropout recovery after Bonawitz
//! et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning",
//! CCS 2017, in their **malicious-server** variant: the hub relays everything and
//! is trusted with nothing. Sites sign what they advertise with their registered
//! Ed25519 keys, check their peers against a roster they hold themselves, choose
//! their own threshold, and reveal only after a consistency round.
//! Everything here is a pure, synchronous state machine: no networking, no clocks;
//! the only state that outlives a run is what the caller's [`Ledger`] records.
//! Sites run a [`RunParticipant`] per run (one [`SiteSession`] per round inside
//! it), the hub runs an [`AggregationRound`] per round; the serde
//! [messages](PublicShare) travel in OncoFed's signed envelopes.
//!
//! # Values
//!
//! Vectors live in `Z_{2^64}` (wrapping `u64`). Reals are encoded with
//! [`FixedPoint`] (one element per value, scale `2^scale_bits`, two's
//! complement; `DEFAULT` 2⁻²⁴ resolution, ±8.6·10⁹ range) or [`WideFixedPoint`]
//! (two elements per value, a signed high and an unsigned low 32-bit limb of
//! `round(x · 2^48)`, each summed without wrapping; `DEFAULT` 2⁻⁴⁸ ≈ 3.6·10⁻¹⁵
//! resolution, ±2.2·10¹² range: the analysis vectors use it), counts with
//! [`encode_counts`]; all bound each site's value so that the sum over up to
//! `max_sites` sites cannot wrap, and refuse out-of-range values with an error.
//!
//! # Protocol, per run and round (`round` = `<run>/<name>`, bound into every key)
//!
//! 0. **Keys, once per run** ([`RunParticipant::open`]). Site `i` (number `i`
//!    given by the hub, roster name its own) draws per round two X25519 key pairs
//!    — `(s_i, S_i)` for masks, `(c_i, C_i)` for encrypting shares — and a
//!    self-mask seed `b_i`, and publishes `S_i`, `C_i` and a commitment to `b_i`,
//!    signed with its registered key over (run, name, round, `i`, keys,
//!    commitment) ([`SignedPublicShare`], [`keys_message`]). The site's ledger
//!    records "run keyed" first; a run id is keyed once, ever.
//! 1. **Peers** ([`RunParticipant::share`]). The hub relays the signed keys. A
//!    site accepts them only if every share verifies under the key its own
//!    [`Roster`] lists for the claimed name, names and numbers are distinct, its
//!    own share is unaltered, every round lists the same peers, and `n ≥ n_min`
//!    ([`SitePolicy`]). It then fixes `t = max(n_min, ⌊2n/3⌋ + 1)` itself (the
//!    hub's wish counts only if higher).
//! 2. **Shares.** Site `i` Shamir-shares `b_i` and `s_i` with threshold `t` over
//!    `GF(2^61 − 1)` among those peers, and sends each its shares encrypted under
//!    a key from X25519(`c_i`, `C_j`) (ChaCha20, HMAC-SHA256).
//! 3. **Masked input.** With `U2` = the sites whose shares it received, site `i`
//!    sends `y_i = x_i + PRG(b_i) + Σ_{j∈U2, j>i} PRG(k_ij) − Σ_{j∈U2, j<i} PRG(k_ij)`,
//!    where `k_ij = HMAC-SHA256(X25519(s_i, S_j), label ‖ round ‖ min(i,j) ‖ max(i,j))`
//!    and PRG is ChaCha20. Pairwise masks cancel in the sum; `PRG(b_i)` does not.
//! 4. **Consistency** ([`RunParticipant::confirm`]). The hub closes input
//!    collection once: survivors `U3` (input arrived) and dropped `U2 \ U3`
//!    ([`UnmaskRequest`]). Each survivor signs that split ([`SurvivorSignature`],
//!    [`survivors_message`]) — one split per round, and only the run's one
//!    survivor set (fixed by the run's first split).
//! 5. **Unmasking** ([`RunParticipant::reveal`]). Given the signatures, a
//!    survivor checks that at least `t` distinct survivors signed exactly the
//!    split it signed, records "round revealed" in its ledger, and sends its
//!    shares of `b_k` for every survivor `k` and of `s_d` for every dropped `d` —
//!    never both for one site. From `t` reveals the hub rebuilds each `b_k`
//!    (checked against the commitment) and `s_d` (checked against `S_d`),
//!    subtracts `PRG(b_k)` and the masks between dropped and surviving sites, and
//!    gets `Σ_{k∈U3} x_k`.
//!
//! Every refusal a [`RunParticipant`] returns reads [`REFUSAL_TEXT`] towards the
//! hub; the reason is only in [`Refusal::detail`], for the site's log.
//!
//! **Why shares rather than revealing seeds directly.** The simpler design — a
//! survivor reveals its pairwise seed with each dropped site, and each survivor its
//! own `b_i` — needs every survivor to answer in step 5 and lets a hub that lies
//! about a dropout unmask a site on its own: tell everyone but `i` that `i`
//! dropped (they reveal all `k_ij`) and tell `i` it survived (it reveals `b_i`).
//! With shares, any `t` survivors suffice, and each honest site hands out, per
//! owner, only one kind of share, so the hub needs `t` sites' shares of `b_i`
//! *and* every `k_ij`, which requires colluding sites (below). The cost is one
//! extra message round and `O(n²)` encrypted shares of 80 bytes.
//!
//! **The rule that keeps dropout recovery safe:** the hub must never hold both a
//! site's self-mask seed and its mask secret (or pairwise seeds) while it could
//! also hold that site's masked input. Enforced at three points: a site reveals at
//! most once per round and only for a split that exactly covers the sites it masked
//! with; [`AggregationRound`] fixes the split once ([`AggregationRound::close_inputs`]),
//! accepts only reveals that match it, and refuses every masked input after it
//! ([`SecAggError::LateInput`]), so a "dropped" site's late input can never meet
//! its revealed key. Against a malicious hub only the sites' side counts: one
//! reveal per round (durably), only for a split `t` survivors signed, and the
//! threshold below, which together keep the two kinds of shares of one site
//! from reaching `t` each (threat model, claim 4).
//!
//! # Threat model: a malicious hub, and who colludes with whom
//!
//! The hub may deviate arbitrarily: invent or drop sites, send each site a
//! different view, replay and repeat steps. `c` below counts colluding sites.
//! Each claim names the test that checks it.
//!
//! 1. **A site's masked vector alone reveals nothing:** `y_i` is uniformly
//!    distributed given everything else the hub sees. Checked statistically:
//!    `tests/indistinguishability.rs`,
//!    `a_sites_masked_vector_is_indistinguishable_from_uniform_noise` (and
//!    `the_tests_detect_an_unmasked_input`, so the check can fail).
//! 2. **The hub cannot invent peers or substitute keys.** A peer counts only if
//!    its keys are signed by the key the site's own roster lists for it; the hub
//!    never supplies the roster. `tests/red_team.rs`,
//!    `red_team_invented_peers_are_refused` (hub-signed shares under real names,
//!    and names off the roster, n = 3 and 10).
//! 3. **The hub cannot lower the threshold or the number of participants.** `t
//!    = 1` is refused everywhere; a site uses `t = max(n_min, ⌊2n/3⌋ + 1)` from
//!    its own policy and refuses `n < n_min` (default 3) before any share leaves
//!    it. `red_team_threshold_one_with_only_the_targets_key_is_refused`,
//!    `red_team_threshold_one_is_refused_and_the_hubs_threshold_is_not_used`,
//!    `roster::tests::threshold_is_the_larger_of_n_min_and_a_majority`.
//! 4. **Split views with colluders:** the hub plus `c` sites with `2t > n + c`
//!    cannot obtain both `t` shares of an honest site's `b_i` (from sites told
//!    "`i` survived") and `t` of its `s_i` (from sites told "`i` dropped"): the
//!    two groups plus the colluders would need `n + c ≥ 2t`. With the default
//!    `t`, `c < 2t − n` (≈ `n/3`: 2 of 3, 2 of 5, 3 of 10) is tolerated
//!    ([`SitePolicy::tolerated_colluders`]). On top, the consistency round makes
//!    every reveal conditional on `t` signatures on the same split from distinct
//!    roster-verified survivors, so a site holds signed evidence of the split it
//!    answered, and the survivor set cannot change within a run.
//!    `red_team_split_survivor_views_with_one_colluder_cannot_unmask_a_third_site`
//!    (n = 3, 5, 11, every division of the honest sites),
//!    `consistency_round_counts_only_valid_distinct_survivor_signatures_on_one_split`.
//!    At a bare majority `t = ⌊n/2⌋ + 1` one colluder suffices for odd `n`
//!    (n = 5, t = 3: groups of 1 and 2), signatures or not; hence `⌊2n/3⌋ + 1`.
//! 5. **No computation twice within a run, with and without a site.** A run id
//!    is keyed once per site, recorded durably before any key is drawn; a round
//!    is revealed once; the survivor set of a run's first unmasking is fixed for
//!    all its rounds; at the node, a run id is also prepared once.
//!    `red_team_repeating_a_run_with_and_without_a_site_is_refused`, and
//!    `crates/node/tests/secagg_runs.rs`,
//!    `red_team_a_run_is_prepared_and_keyed_once_even_after_a_restart`. A site
//!    whose ledger cannot record keys and reveals nothing, and signs no split
//!    before it has masked:
//!    `sites_fail_closed_without_their_ledger_and_sign_no_split_before_masking`.
//! 6. **Refusals tell the hub nothing:** one constant text ([`REFUSAL_TEXT`]),
//!    asserted for every refusal in `tests/red_team.rs` (`refused`).
//! 7. **The exact sum works with tolerated dropouts:**
//!    `honest_hub_gets_exact_sums_with_and_without_a_dropout` (n = 3, 5, 10; up
//!    to `n − t` dropouts), `tests/protocol.rs` for the per-round machinery.
//! 8. **No unmasked sum covers fewer than k persons** (issue 11, item 3; the
//!    analysis layer's part, `oncofed-analysis`). Survival analyses sum over
//!    time bins, not days: the sites move every time to its bin's last day,
//!    and the hub asks for sums only on bins with 0 or ≥ k exits, 0 or ≥ k censorings and 0 or ≥ k
//!    deaths (k = the security level's minimum cell, 3 or 5), found from masked
//!    exit counts by merging and halving dyadic bins. Every risk set is a union
//!    of whole bins, so risk sets, their differences and tied-death sums all
//!    cover 0 or ≥ k persons; the other computations sum over every row.
//!    `crates/analysis/tests/time_bins.rs`:
//!    `red_team_pooled_cox_sums_on_exact_days_reveal_patients_and_bins_reveal_none`
//!    (the red team's reconstruction: 43 % of (death day, age, sex, ECOG)
//!    records on exact days, 0 on bins),
//!    `every_survival_computation_keeps_populations_at_k_for_each_security_level`
//!    (ground truth, every population the hub can isolate, k = 3 and 5). The
//!    estimates are exact for the binned times
//!    (`the_binned_fit_equals_the_pooled_fit_on_the_binned_times`; against
//!    lifelines on the same bins in `crates/hub/tests/analysis.rs`). What the
//!    hub does see: the pooled exit and death counts of the bins it tried
//!    (counts, no covariates), the bins' sums at each β of the Newton path.
//!    Exact days only where the approval (`plan.exact_times`), the data (not
//!    genetic) and every site (`--allow-exact-times`) allow it; the result
//!    states which (`run.time_bins`).
//! 9. **A DP describe's counts are noised before the hub sums them:** each
//!    site adds a Pólya share of discrete Laplace noise calibrated to its own
//!    threshold `t`, so any unmaskable sum (≥ `t` sites) carries at least the
//!    full noise. `crates/analysis/tests/driver.rs`,
//!    `red_team_a_dp_describe_is_noised_before_the_hub_sees_the_sum`;
//!    `oncofed_privacy`'s `the_sum_of_t_shares_is_discrete_laplace`. KM, Cox
//!    and GLM counts are noised at release by the hub (central DP).
//! 10. **No site's refusal depends on its rows.** A binned grid must hold every
//!     bin's end (checked before any row is read), so no death is ever off the
//!     grid: `crates/node/tests/run_plan.rs`,
//!     `red_team_the_grid_omission_probe_gets_the_same_answer_from_every_site`.
//!
//! **What remains possible, by design or outside this crate:**
//!
//! - **Hub + `t` or more sites** pool shares and unmask any site; **hub + all but
//!   one site** learn the last site's input as the sum minus theirs. Inherent to
//!   threshold sharing and to releasing sums; `n_min` and disclosure control
//!   (`oncofed-privacy`, `oncofed-analysis`) must handle it.
//! - **Different runs over different site sets.** The hub chooses whom it sends
//!   a run to; two runs (two run ids) of the same computation over `S` and
//!   `S \ {i}` would give site `i`'s vector as the difference. Per-run counters
//!   cannot see across runs; the node's repeat rule does (a cohort is confirmed
//!   over one site set only, `crates/node/src/agent/plan.rs`).
//! - **Dropping sites** within `n − t` changes whose inputs are summed; the
//!   released result must state the survivor count (the hub's `RunInfo`
//!   names each site that left, `oncofed_hub::analysis`), and the node's
//!   repeat rule treats the survivors as the cohort's site set, so a run with
//!   a dropout and one without cannot both be confirmed.
//! - **The roster is trusted.** It is distributed out of band like the hub key;
//!   whoever can edit a site's roster can add peers to it.
//! - **Which sites refuse** a step is visible to the hub even with one refusal
//!   text; claim 9 keeps binned runs' refusals independent of the rows. On
//!   exact days (opt-in) an event off the hub's grid still fails at exactly
//!   the sites with that event.
//! - **Bin choice is the hub's.** A malicious hub can ask for narrower bins
//!   than the counts justify: the sites check the bins' form (whole days,
//!   covering the horizon, every end on the grid) but cannot see the pooled
//!   counts. Claim 8 holds for an honest-but-curious hub; against a malicious
//!   one the sites' bounds and the signed plan limit, not prevent, it.
//! - **Many β on one bin.** The Newton path evaluates each bin's sums at up to
//!   ~40 β; with p covariates and a bin of k persons, exponential sums at many
//!   β can in principle separate the k covariate vectors (not their order or
//!   days within the bin). The round budget bounds the β count; the bin width
//!   bounds what a separated vector says about time.
//! - **Not covered:** sites sending wrong or out-of-range values within
//!   plausible ranges (integrity of inputs: the hub's driver refuses sums no
//!   honest federation produces — counts not whole, events above rows, later
//!   rounds' counts disagreeing with the Totals round, see
//!   `oncofed_analysis::plausibility` — but a site lying consistently in every
//!   round is not caught; no Prio/ACORN range proof), a site
//!   sending wrong shares (detected at reconstruction through the commitment or
//!   public key, which aborts the round rather than identifying the culprit),
//!   availability (fewer than `t` survivors aborts the round), side channels,
//!   and secrets lingering in memory (X25519 and Ed25519 secrets are zeroized
//!   on drop; seeds and shares are not).
//! - **One vector per session:** masks are never reused; each vector (or each
//!   Newton iteration) needs a fresh round, since two vectors under the same
//!   mask would reveal their difference. The API enforces it (each step runs once).
//!
//! # Example: the per-round core, three sites, site 2 drops out
//!
//! The bare [`SiteSession`] / [`AggregationRound`] machinery, as a hub that
//! follows the protocol drives it (t = 2 of 3 here; sites facing a real hub wrap
//! their sessions in a [`RunParticipant`], see `tests/red_team.rs`).
//!
//! ```
//! use oncofed_secagg::{AggregationRound, FixedPoint, RoundId, SiteId, SiteSession};
//!
//! let round = RoundId::new("query-42/iteration-3")?;
//! let sites = [SiteId(0), SiteId(1), SiteId(2)];
//! let mut hub = AggregationRound::new(round.clone(), &sites, 2)?;
//! let mut sessions = Vec::new();
//! for site in sites {
//!     let (session, public) = SiteSession::new(site, round.clone(), 2);
//!     hub.add_share(public)?; // site -> hub, in a signed envelope
//!     sessions.push(session);
//! }
//! let keys = hub.close_keys()?; // hub -> every site
//! for s in &mut sessions {
//!     let shares = s.share_keys(&keys)?;
//!     hub.add_encrypted_shares(s.site(), shares)?;
//! }
//! let inboxes = hub.close_shares()?; // hub -> each site its inbox
//! let codec = FixedPoint::DEFAULT;
//! let inputs = [[1.5, -2.0], [0.25, 4.0], [100.0, 100.0]];
//! for (s, x) in sessions.iter_mut().zip(&inputs) {
//!     let masked = s.mask(&inboxes[&s.site()], &codec.encode(x)?)?;
//!     if s.site() != SiteId(2) {
//!         hub.add_masked(masked)?; // site 2's input never arrives
//!     }
//! }
//! let request = hub.close_inputs()?; // hub -> survivors
//! for s in &mut sessions[..2] {
//!     hub.add_reveal(s.reveal(&request)?)?;
//! }
//! let sum = hub.finish()?;
//! assert_eq!(codec.decode_sum(&sum, 2)?, vec![1.75, 2.0]);
//! # Ok::<(), oncofed_secagg::SecAggError>(())
//! ```

mod codec;
mod error;
mod guard;
mod hub;
mod kdf;
mod messages;
mod roster;
mod shamir;
mod site;

pub use codec::{FixedPoint, WideFixedPoint, encode_counts};
pub use error::SecAggError;
pub use guard::{
    Ledger, MAX_ROUNDS, MemoryLedger, REFUSAL_TEXT, Refusal, RunParticipant, SignedPublicShare,
    SurvivorSignature, keys_message, survivors_message,
};
pub use hub::AggregationRound;
pub use messages::{
    EncryptedShare, MaskedInput, PublicShare, Reveal, RevealedShare, UnmaskRequest,
};
pub use roster::{Roster, SitePolicy};
pub use shamir::{LIMBS, ShareValue};
pub use site::SiteSession;

use serde::{Deserialize, Serialize};
use std::fmt;

/// A site's number within a round, assigned by the hub (for example its position
/// in the sorted site registry). It orders the pairwise masks (`+` towards higher,
/// `−` towards lower numbers) and is the Shamir x-coordinate minus one; the mapping
/// to `oncofed_model::SiteId` stays with the hub and agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SiteId(pub u32);

impl fmt::Display for SiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The round (query, or one Newton iteration of a query) a message belongs to.
/// Bound into every derived key, so masks and shares never carry over between
/// rounds: each round needs fresh sessions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoundId(String);

impl RoundId {
    /// A round id of 1 to 128 printable ASCII characters.
    pub fn new(id: impl Into<String>) -> Result<Self, SecAggError> {
        let id = id.into();
        if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SecAggError::InvalidRoundId);
        }
        Ok(RoundId(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn expect(&self, other: &RoundId) -> Result<(), SecAggError> {
        if self == other {
            Ok(())
        } else {
            Err(SecAggError::WrongRound {
                expected: self.0.clone(),
            })
        }
    }
}

impl TryFrom<String> for RoundId {
    type Error = SecAggError;
    fn try_from(s: String) -> Result<Self, SecAggError> {
        RoundId::new(s)
    }
}

impl From<RoundId> for String {
    fn from(r: RoundId) -> String {
        r.0
    }
}

impl fmt::Display for RoundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `t` must be a strict majority of `n` sites, at most `n`, and at least 2: with
/// `t = 1` a single share opens a secret, so whoever holds the one share the
/// site keeps for itself (the hub, after a reveal) has it.
fn check_threshold(threshold: usize, sites: usize) -> Result<(), SecAggError> {
    if threshold < 2 || threshold > sites || threshold * 2 <= sites {
        if sites >= threshold {
            return Err(SecAggError::InvalidThreshold { threshold, sites });
        }
        return Err(SecAggError::BelowThreshold {
            got: sites,
            threshold,
        });
    }
    Ok(())
}
