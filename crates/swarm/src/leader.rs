//! The merge leader of each round and attempt, from public facts alone.
//!
//! **Rule.** Let `seed = SHA-256("oncofed-swarm/v1 leader" ‖ run ‖ (name ‖
//! run key) for every participant in name order)`. For round `r`, rank the
//! participants by `SHA-256(seed ‖ r (u32 BE) ‖ name)` ascending (ties, which
//! would need a SHA-256 collision, by name). Attempt `a` of round `r` is led by
//! the participant at rank `a`; the sites ranked before it (the leaders of
//! earlier attempts, presumed dropped) do not contribute to attempt `a`.
//!
//! **Why the hub cannot steer it.** Every input is something each site has
//! verified itself: the run id, the round number, and the participants' names
//! with their run keys, each signed under the site's own roster. The run keys
//! are drawn by the sites after the run id is fixed, so choosing the run id does
//! not choose the leaders; the hub can neither add a participant (it cannot sign
//! for one) nor name another leader (a plan or a merged model from anyone else
//! is refused). All the hub can do is withhold messages, which stalls a round
//! until the sites retry with the next attempt's leader — the same outcome as a
//! leader that drops out. (A participant that publishes its run key last could
//! grind its own key to raise its rank; a leader learns the individual updates
//! sealed to it, so a federation that fears a site colluding with the hub should
//! combine swarm rounds with secure aggregation instead.)

use crate::seal::put_str;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The participants of `run` ranked for `round`: index `a` leads attempt `a`.
pub fn leader_order(run: &str, round: u32, keys: &BTreeMap<String, [u8; 32]>) -> Vec<String> {
    let mut seed = Sha256::new();
    let mut buf = b"oncofed-swarm/v1 leader".to_vec();
    put_str(&mut buf, run);
    for (name, key) in keys {
        put_str(&mut buf, name);
        buf.extend_from_slice(key);
    }
    seed.update(&buf);
    let seed: [u8; 32] = seed.finalize().into();
    let mut ranked: Vec<([u8; 32], &String)> = keys
        .keys()
        .map(|name| {
            let mut h = Sha256::new();
            h.update(seed);
            h.update(round.to_be_bytes());
            let mut n = Vec::new();
            put_str(&mut n, name);
            h.update(&n);
            (h.finalize().into(), name)
        })
        .collect();
    ranked.sort();
    ranked.into_iter().map(|(_, n)| n.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaders_rotate_and_depend_on_every_key() {
        let mut keys: BTreeMap<String, [u8; 32]> = (0..5u8)
            .map(|i| (format!("site-{i}"), [i + 1; 32]))
            .collect();
        let order = leader_order("run", 0, &keys);
        assert_eq!(order.len(), 5);
        assert_eq!(order, leader_order("run", 0, &keys), "deterministic");
        let firsts: std::collections::BTreeSet<String> = (0..40)
            .map(|r| leader_order("run", r, &keys)[0].clone())
            .collect();
        assert_eq!(firsts.len(), 5, "every site leads some round in 40");
        let before: Vec<Vec<String>> = (0..8).map(|r| leader_order("run", r, &keys)).collect();
        keys.insert("site-0".into(), [99; 32]);
        let after: Vec<Vec<String>> = (0..8).map(|r| leader_order("run", r, &keys)).collect();
        assert_ne!(before, after, "a changed key changes the order");
    }
}
