//! A whole round in one process, with every message passed through JSON.

#![allow(dead_code)]

use oncofed_secagg::{AggregationRound, RoundId, SecAggError, SiteId, SiteSession};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Serialises and parses a message, as the hub and agent will.
pub fn wire<T: Serialize + DeserializeOwned>(msg: T) -> T {
    serde_json::from_str(&serde_json::to_string(&msg).unwrap()).unwrap()
}

pub fn ids(n: usize) -> Vec<SiteId> {
    (0..n as u32).map(SiteId).collect()
}

/// Runs a round over `inputs.len()` sites with threshold `t`. Sites in
/// `no_shares` drop after publishing keys; sites in `dropped` after sending
/// shares (their masked input is computed but never delivered).
pub fn run_round_with(
    round: &str,
    inputs: &[Vec<u64>],
    t: usize,
    no_shares: &[usize],
    dropped: &[usize],
) -> Result<Vec<u64>, SecAggError> {
    let round = RoundId::new(round)?;
    let ids = ids(inputs.len());
    let mut hub = AggregationRound::new(round.clone(), &ids, t)?;
    let mut sessions = Vec::new();
    for &id in &ids {
        let (s, public) = SiteSession::new(id, round.clone(), t);
        hub.add_share(wire(public))?;
        sessions.push(s);
    }
    let keys = wire(hub.close_keys()?);
    for (i, s) in sessions.iter_mut().enumerate() {
        let shares = s.share_keys(&keys)?;
        if !no_shares.contains(&i) {
            hub.add_encrypted_shares(s.site(), wire(shares))?;
        }
    }
    let inboxes = wire(hub.close_shares()?);
    for (i, s) in sessions.iter_mut().enumerate() {
        if no_shares.contains(&i) {
            continue;
        }
        let masked = s.mask(&inboxes[&s.site()], &inputs[i])?;
        if !dropped.contains(&i) {
            hub.add_masked(wire(masked))?;
        }
    }
    let request = wire(hub.close_inputs()?);
    for (i, s) in sessions.iter_mut().enumerate() {
        if !dropped.contains(&i) && !no_shares.contains(&i) {
            hub.add_reveal(wire(s.reveal(&request)?))?;
        }
    }
    hub.finish()
}

pub fn run_round(
    inputs: &[Vec<u64>],
    t: usize,
    dropped: &[usize],
) -> Result<Vec<u64>, SecAggError> {
    run_round_with("query-1/iter-0", inputs, t, &[], dropped)
}

/// The element-wise wrapping sum of the inputs of the sites not in `skip`.
pub fn plain_sum(inputs: &[Vec<u64>], skip: &[usize]) -> Vec<u64> {
    let mut sum = vec![0u64; inputs[0].len()];
    for (_, v) in inputs.iter().enumerate().filter(|(i, _)| !skip.contains(i)) {
        for (a, b) in sum.iter_mut().zip(v) {
            *a = a.wrapping_add(*b);
        }
    }
    sum
}
