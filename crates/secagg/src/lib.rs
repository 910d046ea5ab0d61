//! Secure aggregation for OncoFed (issue 4, item 2; R8–R10): the hub learns the
//! sum over sites of each vector they send (counts, gradients, Hessians) and
//! nothing else about any one site's contribution.
//!
//! The protocol is pairwise additive masking with dropout recovery after Bonawitz
//! et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning",
//! CCS 2017 (their semi-honest variant, without the signature and consistency
//! rounds, which OncoFed's signed envelopes partly replace: see the threat model).
//! Everything here is a pure, synchronous state machine: no networking, no clocks,
//! no storage. Sites run [`SiteSession`], the hub runs [`AggregationRound`]; the
//! serde [messages](PublicShare) travel in OncoFed's signed envelopes.
//!
//! # Values
//!
//! Vectors live in `Z_{2^64}` (wrapping `u64`). Reals are encoded with
//! [`FixedPoint`] (scale `2^scale_bits`, two's complement), counts with
//! [`encode_counts`]; both bound each site's value so that the sum over up to
//! `max_sites` sites cannot wrap, and refuse out-of-range values with an error.
//!
//! # Protocol, per round (`round` = the query or iteration id, bound into every key)
//!
//! 1. **Keys.** Site `i` draws two X25519 key pairs — `(s_i, S_i)` for masks,
//!    `(c_i, C_i)` for encrypting shares — and a self-mask seed `b_i`, and
//!    publishes `S_i`, `C_i` and a commitment to `b_i` ([`PublicShare`]). The hub
//!    relays all of them.
//! 2. **Shares.** Site `i` Shamir-shares `b_i` and `s_i` with threshold `t` over
//!    `GF(2^61 − 1)` among the sites of step 1, and sends each peer its shares
//!    encrypted under a key from X25519(`c_i`, `C_j`) (ChaCha20, HMAC-SHA256).
//! 3. **Masked input.** With `U2` = the sites whose shares it received, site `i`
//!    sends `y_i = x_i + PRG(b_i) + Σ_{j∈U2, j>i} PRG(k_ij) − Σ_{j∈U2, j<i} PRG(k_ij)`,
//!    where `k_ij = HMAC-SHA256(X25519(s_i, S_j), label ‖ round ‖ min(i,j) ‖ max(i,j))`
//!    and PRG is ChaCha20. Pairwise masks cancel in the sum; `PRG(b_i)` does not.
//! 4. **Unmasking.** The hub closes input collection once: survivors `U3` (input
//!    arrived) and dropped `U2 \ U3`. Each survivor sends its shares of `b_k` for
//!    every survivor `k` and of `s_d` for every dropped `d` — never both for one
//!    site. From `t` such reveals the hub rebuilds each `b_k` (checked against the
//!    commitment) and each `s_d` (checked against `S_d`), subtracts `PRG(b_k)` and
//!    the masks between dropped and surviving sites, and gets `Σ_{k∈U3} x_k`.
//!
//! **Why shares rather than revealing seeds directly.** The simpler design — a
//! survivor reveals its pairwise seed with each dropped site, and each survivor its
//! own `b_i` — needs every survivor to answer in step 4 and lets a hub that lies
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
//! its revealed key.
//!
//! # Threat model (who colludes with whom breaks what)
//!
//! - **Honest-but-curious hub, alone:** sees each `y_i`, which is uniformly
//!   distributed given everything else it sees (`tests/indistinguishability.rs`
//!   checks this statistically), and learns only the sum of the survivors' inputs.
//! - **Hub + a set `C` of sites, `|C| < t`:** learns the inputs of `C` (it has
//!   them) and the sum of the honest survivors' inputs, nothing else; so hub + one
//!   site learns nothing about a third site's input beyond the sum minus its own.
//! - **Hub + all but one site:** learns the remaining site's input as the sum
//!   minus theirs. This is inherent to releasing a sum; disclosure control
//!   (minimum sites, noise in `oncofed-privacy`) must handle it, not this crate.
//! - **Hub + `t` or more sites:** can pool their shares to rebuild any `b_i` or
//!   `s_i` and unmask an individual site. Choose `t` large; the crate requires
//!   `t > n/2`, and `n − t` is the number of dropouts tolerated.
//! - **Malicious hub** (lies about dropouts, splits sites into groups): each
//!   honest site reveals once and only one kind of share per owner, and `t > n/2`
//!   keeps two disjoint groups from both unmasking; but without Bonawitz's
//!   consistency round (sites signing the survivor set and checking `t`
//!   signatures) a malicious hub colluding with sites can still do more than above.
//!   The hub can also drop sites at will: that changes whose inputs are summed, so
//!   the released result must state the survivor count.
//! - **Key substitution:** the hub relays public keys. Their authenticity must
//!   come from the sites' Ed25519 signatures on OncoFed's envelopes (`oncofed-crypto`),
//!   outside this crate; without them a hub could replace keys and read shares.
//! - **One vector per session:** masks are never reused; each vector (or each
//!   Newton iteration) needs a fresh round, since two vectors under the same mask
//!   would reveal their difference. The API enforces it (each step runs once).
//! - **Not covered:** sites sending wrong or out-of-range values (integrity of
//!   inputs; a site can distort the sum arbitrarily), a site sending wrong shares
//!   (detected at reconstruction through the commitment or public key, which aborts
//!   the round rather than identifying the culprit), availability (fewer than `t`
//!   survivors aborts the round), side channels, and secrets lingering in
//!   memory (X25519 secrets are zeroized on drop; seeds and shares are not).
//!
//! # Example: one round, three sites, site 2 drops out
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

pub use codec::{FixedPoint, encode_counts};
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
