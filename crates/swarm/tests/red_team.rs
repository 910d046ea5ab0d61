//! What a malicious relay (the hub) or a dropped leader can do, and what the
//! sites refuse.

mod support;

use oncofed_crypto::SigningKeyPair;
use oncofed_swarm::{
    Envelope, Header, Kind, MemoryRelay, Relay, RoundPlan, SignedRunKey, SwarmError, encode_model,
    model_hash, seal,
};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::*;
use x25519_dalek::{PublicKey, StaticSecret};

/// A relay that delivers, before every sealed envelope, a copy with one byte
/// changed (the position walks through the ciphertext and the header).
#[derive(Default)]
struct Tampering {
    inner: MemoryRelay,
    count: AtomicUsize,
}

impl Relay for Tampering {
    type Error = oncofed_swarm::Poisoned;
    fn post(&self, e: Envelope) -> Result<u64, Self::Error> {
        self.inner.post(e)
    }
    fn fetch(
        &self,
        run: &str,
        site: &str,
        after: u64,
    ) -> Result<Vec<(u64, Envelope)>, Self::Error> {
        let mut out = Vec::new();
        for (seq, e) in self.inner.fetch(run, site, after)? {
            if e.kind != Kind::Key {
                let i = self.count.fetch_add(1, Ordering::Relaxed);
                let mut t = e.clone();
                match i % 4 {
                    0 | 1 => {
                        let at = (i * 7919) % t.ciphertext.len();
                        t.ciphertext[at] ^= 1 << (i % 8);
                    }
                    2 => {
                        t.kind = if t.kind == Kind::Hash {
                            Kind::Model
                        } else {
                            Kind::Hash
                        }
                    }
                    _ => t.ciphertext.truncate(t.ciphertext.len() - 1),
                }
                out.push((seq, t));
            }
            out.push((seq, e));
        }
        Ok(out)
    }
}

#[test]
fn every_tampered_message_is_refused_and_the_rounds_still_complete() {
    let relay = Tampering::default();
    let run = "tamper";
    let mut fed = Federation::new(&relay, run, 4, 16);
    fed.pump(&relay, run, &BTreeSet::new());
    for r in 0..3 {
        let (updates, accepted) = fed.round(&relay, run, r);
        assert!(
            accepted.iter().all(Option::is_some),
            "round {r} accepted everywhere"
        );
        assert!(max_rel_diff(fed.sites[0].model(), &reference_fedavg(&updates)) <= 1e-6);
    }
    let tampered = relay.count.load(Ordering::Relaxed);
    assert!(tampered > 50);
    assert_eq!(
        fed.refusals.len(),
        tampered,
        "each tampered copy refused once"
    );
    assert!(
        fed.refusals
            .iter()
            .all(|(_, e)| matches!(e, SwarmError::Unopenable { .. })),
        "{:?}",
        fed.refusals
    );
}

#[test]
fn a_message_replayed_into_another_round_does_not_open() {
    let relay = MemoryRelay::new();
    let run = "replay";
    let mut fed = Federation::new(&relay, run, 3, 8);
    fed.pump(&relay, run, &BTreeSet::new());
    fed.round(&relay, run, 0);
    let old = relay.stored().unwrap();
    let mut accepted = vec![None; 3];
    fed.start(&relay, 1, 0, &BTreeSet::new(), &mut accepted);
    for e in old.into_iter().filter(|e| e.kind != Kind::Key) {
        let to = fed.names.iter().position(|n| *n == e.to).unwrap();
        let mut moved = e;
        moved.round = 1;
        let refused = fed.sites[to].on_message(moved).unwrap_err();
        assert!(
            matches!(refused, SwarmError::Unopenable { .. }),
            "{refused:?}"
        );
    }
    let done = fed.pump(&relay, run, &BTreeSet::new());
    assert!(done.iter().all(Option::is_some), "round 1 unaffected");
}

#[test]
fn a_run_key_not_signed_under_the_roster_key_is_refused() {
    let relay = MemoryRelay::new();
    let run = "forged";
    let mut fed = Federation::new(&relay, run, 3, 8);
    // The hub signs a key of its own for site-01 with a key it holds.
    let hub = SigningKeyPair::generate();
    let mine = StaticSecret::from([7u8; 32]);
    let initial = model_hash(fed.sites[0].model());
    let forged = SignedRunKey::sign(
        &hub,
        run,
        "site-01",
        PublicKey::from(&mine).to_bytes(),
        initial,
    );
    let envelope = |from: &str, bytes: Vec<u8>| Envelope {
        run: run.into(),
        round: 0,
        attempt: 0,
        from: from.into(),
        to: "site-00".into(),
        kind: Kind::Key,
        ciphertext: bytes,
    };
    let refused = fed.sites[0]
        .on_message(envelope("site-01", forged.to_bytes()))
        .unwrap_err();
    assert!(
        matches!(refused, SwarmError::ForgedKey { .. }),
        "{refused:?}"
    );
    // A genuine announcement of site-02 relabelled as site-01's.
    let genuine = SignedRunKey::sign(&fed.keys[2], run, "site-02", [9; 32], initial);
    let refused = fed.sites[0]
        .on_message(envelope("site-01", genuine.to_bytes()))
        .unwrap_err();
    assert!(
        matches!(refused, SwarmError::ForgedKey { .. }),
        "{refused:?}"
    );
    // A site-02 signature over a changed key.
    let mut altered = genuine.clone();
    altered.key[0] ^= 1;
    let refused = fed.sites[0]
        .on_message(envelope("site-02", altered.to_bytes()))
        .unwrap_err();
    assert!(
        matches!(refused, SwarmError::ForgedKey { .. }),
        "{refused:?}"
    );
    assert!(!fed.sites[0].ready(), "no forged key counted");
    fed.pump(&relay, run, &BTreeSet::new());
    assert!(fed.sites.iter().all(|s| s.ready()));
    // A second, genuinely signed but different key for a known site.
    let twice = SignedRunKey::sign(&fed.keys[1], run, "site-01", [5; 32], initial);
    let refused = fed.sites[0]
        .on_message(envelope("site-01", twice.to_bytes()))
        .unwrap_err();
    assert!(
        matches!(refused, SwarmError::KeyChanged { .. }),
        "{refused:?}"
    );
    let (_, accepted) = fed.round(&relay, run, 0);
    assert!(accepted.iter().all(Option::is_some));
    // A genuine announcement delivered again (a lost cursor) changes nothing;
    // one for another initial model is refused.
    let again = relay
        .stored()
        .unwrap()
        .into_iter()
        .find(|e| e.kind == Kind::Key && e.to == "site-00")
        .unwrap();
    fed.sites[0].on_message(again.clone()).unwrap();
    let other = SignedRunKey::sign(&fed.keys[1], run, "site-01", [5; 32], [0; 32]);
    let refused = fed.sites[0]
        .on_message(envelope("site-01", other.to_bytes()))
        .unwrap_err();
    assert!(
        matches!(refused, SwarmError::Participants { .. }),
        "{refused:?}"
    );
}

#[test]
fn a_leader_other_than_the_rules_is_refused() {
    let relay = MemoryRelay::new();
    let run = "leader";
    let mut fed = Federation::new(&relay, run, 5, 8);
    fed.pump(&relay, run, &BTreeSet::new());
    let leader = fed.sites[0].leader(0, 0).unwrap();
    let other = fed.names.iter().find(|n| **n != leader).unwrap().clone();
    let update = train(fed.sites[0].model(), 0, 0);
    for i in 0..5 {
        let plan = RoundPlan {
            round: 0,
            attempt: 0,
            leader: other.clone(),
        };
        let refused = fed.sites[i].start_round(&plan, update.clone()).unwrap_err();
        assert!(
            matches!(refused, SwarmError::WrongLeader { .. }),
            "{refused:?}"
        );
    }
    // A merged model sealed by a participant that is not the leader.
    let mut accepted = vec![None; 5];
    fed.start(&relay, 0, 0, &BTreeSet::new(), &mut accepted);
    let o = fed.names.iter().position(|n| *n == other).unwrap();
    let victim = (0..5).find(|i| *i != o && fed.names[*i] != leader).unwrap();
    let secret = StaticSecret::from(fed.sites[o].export().secret);
    let victim_key = fed.sites[victim].export().keys[&fed.names[victim]];
    let contributors: Vec<(String, u64)> = (0..5)
        .map(|i| (fed.names[i].clone(), train(&[0.0], i, 0).samples))
        .collect();
    let fake = seal(
        &secret,
        &victim_key,
        Header {
            run,
            round: 0,
            attempt: 0,
            from: &other,
            to: &fed.names[victim],
            kind: Kind::Model,
        },
        &encode_model(&contributors, &[1.0; 8]),
    )
    .unwrap();
    let refused = fed.sites[victim].on_message(fake).unwrap_err();
    assert!(
        matches!(refused, SwarmError::WrongLeader { .. }),
        "{refused:?}"
    );
    let done = fed.pump(&relay, run, &BTreeSet::new());
    assert!(
        done.iter().all(Option::is_some),
        "the genuine round completes"
    );
}

fn leader_drops(n: usize) {
    let relay = MemoryRelay::new();
    let run = format!("drop-{n}");
    let mut fed = Federation::new(&relay, &run, n, 12);
    fed.pump(&relay, &run, &BTreeSet::new());
    let order: Vec<String> = (0..n as u32)
        .map(|a| fed.sites[0].leader(0, a).unwrap())
        .collect();
    let dropped = fed.names.iter().position(|s| *s == order[0]).unwrap();
    let down = BTreeSet::from([dropped]);
    let mut accepted = vec![None; n];
    fed.start(&relay, 0, 0, &down, &mut accepted);
    let stalled = fed.pump(&relay, &run, &down);
    assert!(
        stalled.iter().all(Option::is_none),
        "no round without its leader"
    );
    // The agents' timeout: attempt 1, the next leader by the same rule.
    let mut accepted = vec![None; n];
    let updates = fed.start(&relay, 0, 1, &down, &mut accepted);
    for (i, a) in fed.pump(&relay, &run, &down).into_iter().enumerate() {
        accepted[i] = accepted[i].take().or(a);
    }
    let live: Vec<_> = updates
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != dropped)
        .map(|(_, u)| u.clone())
        .collect();
    let expected = reference_fedavg(&live);
    for i in (0..n).filter(|i| *i != dropped) {
        let a = accepted[i]
            .as_ref()
            .unwrap_or_else(|| panic!("site {i} accepted"));
        assert_eq!((a.attempt, &a.leader), (1, &order[1]));
        assert_eq!(a.contributors.len(), n - 1);
        assert!(max_rel_diff(fed.sites[i].model(), &expected) <= 1e-6);
    }
    assert!(fed.refusals.is_empty(), "{:?}", fed.refusals);
    // The dropped leader comes back, joins attempt 1 and ends with the same model.
    let plan = RoundPlan {
        round: 0,
        attempt: 1,
        leader: order[1].clone(),
    };
    let update = train(fed.sites[dropped].model(), dropped, 0);
    let step = fed.sites[dropped].start_round(&plan, update).unwrap();
    for e in step.outgoing {
        relay.post(e).unwrap();
    }
    let back = step
        .accepted
        .or(fed.pump(&relay, &run, &BTreeSet::new())[dropped].clone());
    assert!(back.is_some(), "the returning site accepts the round");
    assert_eq!(
        fed.sites[dropped].model(),
        fed.sites[(dropped + 1) % n].model()
    );
}

#[test]
fn a_dropped_leader_is_replaced_by_the_next_at_3_sites() {
    leader_drops(3);
}

#[test]
fn a_dropped_leader_is_replaced_by_the_next_at_10_sites() {
    leader_drops(10);
}
