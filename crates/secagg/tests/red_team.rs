//! The red team's attacks on secure aggregation by a malicious hub (issue 11,
//! "What was shown" items 1–3), replayed at the crate's public API as the hub
//! would run them against honest sites. Each attack succeeded against the
//! semi-honest API (sites took index, threshold and peers from the hub, signed
//! nothing, revealed on the hub's word, and kept no record of runs); each test
//! asserts the attack is now refused, and with the constant refusal text.

#[allow(dead_code)]
#[path = "common/guarded.rs"]
mod guarded;

use guarded::{Fed, expected, honest_round, input, keyed, split};
use oncofed_crypto::SigningKeyPair;
use oncofed_secagg::{
    AggregationRound, MemoryLedger, REFUSAL_TEXT, Refusal, Roster, RoundId, RunParticipant,
    SecAggError, SignedPublicShare, SiteId, SitePolicy, SiteSession, SurvivorSignature,
    keys_message, survivors_message,
};

fn refused<T: std::fmt::Debug>(r: Result<T, Refusal>) -> Refusal {
    let e = r.expect_err("the attack step must be refused");
    assert_eq!(
        e.to_string(),
        REFUSAL_TEXT,
        "refusals towards the hub are constant"
    );
    e
}

/// The guarded path still aggregates exactly, also with a dropout it tolerates
/// (without this, every refusal below could be a broken protocol).
#[test]
fn honest_hub_gets_exact_sums_with_and_without_a_dropout() {
    for n in [3, 5, 10] {
        assert_eq!(honest_round(n, &[]).unwrap(), expected(n, &[]), "n = {n}");
    }
    // n = 5: t = 4, one dropout tolerated; n = 10: t = 7, three.
    assert_eq!(honest_round(5, &[3]).unwrap(), expected(5, &[3]));
    assert_eq!(
        honest_round(10, &[0, 4, 9]).unwrap(),
        expected(10, &[0, 4, 9])
    );
    assert!(
        honest_round(5, &[1, 3]).is_err(),
        "two dropouts of 5 is below t = 4"
    );
}

/// Attack 1a: `Keys{threshold: 1}` and only the target's own key relayed. The
/// target used to share with itself at t = 1 and reveal its self-mask seed's
/// only share, so the hub read its vector. Now n = 1 < n_min is refused before
/// any share leaves the site.
#[test]
fn red_team_threshold_one_with_only_the_targets_key_is_refused() {
    let fed = Fed::new(3);
    let mut target = fed.participant(0, "run-a");
    let round = RoundId::new("run-a/0").unwrap();
    let mut ledger = MemoryLedger::default();
    let own = target
        .open(&mut ledger, SiteId(0), 1, std::slice::from_ref(&round))
        .unwrap();
    let e = refused(target.share(&[own]));
    assert!(e.detail().contains("threshold is 3"), "{}", e.detail());
    assert_eq!(target.threshold(), None);
}

/// Attack 1b: the hub invents the n − 1 peers (it runs their sessions and masks
/// zeros). It may use the real sites' names and indices, but not their keys:
/// shares signed by the hub's key are refused, as are names off the roster.
#[test]
fn red_team_invented_peers_are_refused() {
    for n in [3, 10] {
        let fed = Fed::new(n);
        let mut target = fed.participant(0, "run-b");
        let round = RoundId::new("run-b/0").unwrap();
        let mut ledger = MemoryLedger::default();
        let mut relayed = target
            .open(
                &mut ledger,
                SiteId(0),
                n / 2 + 1,
                std::slice::from_ref(&round),
            )
            .unwrap();
        let hub_key = SigningKeyPair::generate();
        for i in 1..n {
            let (_, share) = SiteSession::new(SiteId(i as u32), round.clone(), n / 2 + 1);
            let signer = fed.names[i].clone();
            let signature = hub_key.sign(&keys_message("run-b", &signer, &share));
            relayed.push(SignedPublicShare {
                share,
                signer,
                signature,
            });
        }
        let e = refused(target.share(std::slice::from_ref(&relayed)));
        assert!(e.detail().contains("not signed"), "{}", e.detail());
        // Peers under invented names, signed by keys the hub made up.
        let mut fake_roster = Roster::new();
        fake_roster
            .insert(fed.names[0].clone(), fed.keys[0].public_key())
            .unwrap();
        relayed.truncate(1);
        for i in 1..n {
            let key = SigningKeyPair::generate();
            let (_, share) = SiteSession::new(SiteId(i as u32), round.clone(), 2);
            let signer = format!("ghost-{i}");
            let signature = key.sign(&keys_message("run-b", &signer, &share));
            relayed.push(SignedPublicShare {
                share,
                signer,
                signature,
            });
        }
        let e = refused(target.share(std::slice::from_ref(&relayed)));
        assert!(e.detail().contains("roster"), "{}", e.detail());
    }
}

/// Attack 2: threshold 1. `check_threshold` accepted n = 1, t = 1, so the hub
/// could open a round at t = 1; and sites used whatever `t` the hub sent. Now t
/// = 1 is refused everywhere, and a site's threshold is its own rule,
/// `max(n_min, ⌊2n/3⌋ + 1)`, whatever smaller `t` the hub asks for.
#[test]
fn red_team_threshold_one_is_refused_and_the_hubs_threshold_is_not_used() {
    let round = RoundId::new("run-c/0").unwrap();
    assert!(AggregationRound::new(round.clone(), &[SiteId(0)], 1).is_err());
    let (mut alone, own) = SiteSession::new(SiteId(0), round.clone(), 1);
    assert!(matches!(
        alone.share_keys(&[own]),
        Err(SecAggError::InvalidThreshold { .. })
    ));
    assert!(SitePolicy::default().threshold(1).is_err());
    assert!(SitePolicy { min_sites: 1 }.threshold(1).is_err());
    for n in [3, 5, 10] {
        let fed = Fed::new(n);
        let k = keyed(&fed, "run-c", 1);
        let want = SitePolicy::default().threshold(n).unwrap();
        for s in &k.sites {
            assert_eq!(s.threshold(), Some(want), "n = {n}");
        }
    }
}

/// Attack 3: the hub tells the target and honest group A "site 0 survived" and
/// honest group B "site 0 dropped", and a colluding site signs both. A then
/// reveals shares of `b_0`, B shares of `s_0`; with the colluder's own shares
/// the hub needs `t` of each to unmask site 0's input `y_0`. Before, sites
/// revealed on the hub's word (n = 3, t = 2: target + colluder gave `b_0`,
/// site 2 + colluder gave `s_0`). Now a site reveals only with `t` survivor
/// signatures on its own split, and honest sites sign one split per round.
/// Every way of dividing the honest sites between the two splits is tried.
#[test]
fn red_team_split_survivor_views_with_one_colluder_cannot_unmask_a_third_site() {
    for n in [3, 5, 11] {
        let fed = Fed::new(n);
        let k0 = keyed(&fed, "run-d", 2);
        let t = k0.sites[0].threshold().unwrap();
        let colluder = 1;
        let honest: Vec<usize> = (2..n).collect();
        for cut in 0..=honest.len() {
            let mut k = keyed(&fed, "run-d", 2);
            for (i, s) in k.sites.iter_mut().enumerate() {
                s.mask(&k.round, &k.inboxes[&SiteId(i as u32)], &input(i))
                    .unwrap();
            }
            let alive = split(&k.round, n, &[]);
            let dead = split(&k.round, n, &[0]);
            let (group_a, group_b) = honest.split_at(cut);
            let mut sigs: Vec<SurvivorSignature> = Vec::new();
            for &i in std::iter::once(&0).chain(group_a) {
                sigs.extend(k.sites[i].confirm(&alive).ok());
            }
            for &i in group_b {
                sigs.extend(k.sites[i].confirm(&dead).ok());
            }
            for request in [&alive, &dead] {
                let msg = survivors_message("run-d", &fed.names[colluder], request);
                sigs.push(SurvivorSignature {
                    round: k.round.clone(),
                    site: SiteId(colluder as u32),
                    signature: fed.keys[colluder].sign(&msg),
                });
            }
            // Shares the hub gathers: the colluder's own one of each secret plus
            // every honest reveal it obtains.
            let (mut self_mask, mut mask_key) = (1, 1);
            for &i in std::iter::once(&0).chain(group_a) {
                let r = k.sites[i].reveal(&mut k.ledgers[i], &alive, &sigs);
                if let Ok(r) = r {
                    self_mask += r.self_mask_shares.iter().any(|s| s.owner == SiteId(0)) as usize;
                } else {
                    refused(r);
                }
            }
            for &i in group_b {
                let r = k.sites[i].reveal(&mut k.ledgers[i], &dead, &sigs);
                if let Ok(r) = r {
                    mask_key += r.mask_key_shares.iter().any(|s| s.owner == SiteId(0)) as usize;
                } else {
                    refused(r);
                }
            }
            assert!(
                self_mask < t || mask_key < t,
                "n = {n}, t = {t}, split at {cut}: the hub holds {self_mask} shares of b_0 and {mask_key} of s_0"
            );
        }
    }
}

/// Attack 4: the same computation twice, once with and once without a site,
/// the difference being that site's vector. Before, a new `Prepare` replaced a
/// run and `Keys` was accepted again once its sessions were spent. Now (a) a run
/// id is keyed once per site, recorded in its durable ledger, so a fresh
/// participant for the same run (a new `Prepare`, a restart) cannot key it
/// again; (b) within a run, the survivor set of the first unmasking is fixed,
/// so a later round "without" a site is refused; (c) a round is revealed once.
#[test]
fn red_team_repeating_a_run_with_and_without_a_site_is_refused() {
    let n = 5;
    let fed = Fed::new(n);
    let run = "run-e";
    let rounds: Vec<RoundId> = (0..2)
        .map(|i| RoundId::new(format!("{run}/{i}")).unwrap())
        .collect();
    let mut sites: Vec<RunParticipant> = (0..n).map(|i| fed.participant(i, run)).collect();
    let mut ledgers = vec![MemoryLedger::default(); n];
    let mut signed: Vec<Vec<SignedPublicShare>> = vec![Vec::new(); 2];
    for (i, (s, l)) in sites.iter_mut().zip(&mut ledgers).enumerate() {
        for (r, share) in s
            .open(l, SiteId(i as u32), 4, &rounds)
            .unwrap()
            .into_iter()
            .enumerate()
        {
            signed[r].push(share);
        }
    }
    // (a) Keys again for the same run: refused by the same participant and by a
    // fresh one (as after a new Prepare) that shares the site's ledger.
    refused(sites[0].open(&mut ledgers[0], SiteId(0), 4, &rounds));
    let mut again = fed.participant(0, run);
    let e = refused(again.open(&mut ledgers[0], SiteId(0), 4, &rounds));
    assert!(e.detail().contains("already recorded"), "{}", e.detail());
    let mut inboxes = vec![Vec::new(); 2 * n];
    for s in &mut sites {
        for (r, list) in s.share(&signed).unwrap().into_iter().enumerate() {
            for e in list {
                inboxes[r * n + e.to.0 as usize].push(e);
            }
        }
    }
    for r in 0..2 {
        for (i, s) in sites.iter_mut().enumerate() {
            s.mask(&rounds[r], &inboxes[r * n + i], &input(0)).unwrap();
        }
    }
    // Round 0 with every site: consistent, signed, revealed.
    let with = split(&rounds[0], n, &[]);
    let sigs: Vec<_> = sites
        .iter_mut()
        .map(|s| s.confirm(&with).unwrap())
        .collect();
    for (s, l) in sites.iter_mut().zip(&mut ledgers) {
        s.reveal(l, &with, &sigs).unwrap();
    }
    // (c) The same round revealed again: refused.
    refused(sites[0].reveal(&mut ledgers[0], &with, &sigs));
    // (b) Round 1, same computation, "without" site 2: no honest site signs it.
    let without = split(&rounds[1], n, &[2]);
    for i in [0, 1, 3, 4] {
        let e = refused(sites[i].confirm(&without));
        assert!(e.detail().contains("survivor set"), "{}", e.detail());
    }
}

/// The consistency round itself: a site reveals only with `t` signatures that
/// verify under the roster keys of distinct survivors, over exactly the split
/// it signed. Forged, duplicated, non-survivor and other-split signatures do not
/// count; the genuine `t` do.
#[test]
fn consistency_round_counts_only_valid_distinct_survivor_signatures_on_one_split() {
    let n = 5;
    let fed = Fed::new(n);
    let mut k = keyed(&fed, "run-f", 2);
    for (i, s) in k.sites.iter_mut().enumerate() {
        s.mask(&k.round, &k.inboxes[&SiteId(i as u32)], &input(i))
            .unwrap();
    }
    let t = k.sites[0].threshold().unwrap();
    assert_eq!(t, 4);
    let request = split(&k.round, n, &[4]);
    let other = split(&k.round, n, &[3]);
    let genuine: Vec<SurvivorSignature> = (0..3)
        .map(|i| k.sites[i].confirm(&request).unwrap())
        .collect();
    // A second, different split for the same round is not signed.
    refused(k.sites[0].confirm(&other));
    let forged = SurvivorSignature {
        round: k.round.clone(),
        site: SiteId(3),
        signature: SigningKeyPair::generate().sign(&survivors_message(
            "run-f",
            &fed.names[3],
            &request,
        )),
    };
    let other_split = SurvivorSignature {
        round: k.round.clone(),
        site: SiteId(3),
        signature: fed.keys[3].sign(&survivors_message("run-f", &fed.names[3], &other)),
    };
    let dropped_site = SurvivorSignature {
        round: k.round.clone(),
        site: SiteId(4),
        signature: fed.keys[4].sign(&survivors_message("run-f", &fed.names[4], &request)),
    };
    let mut bad = genuine.clone();
    bad.extend([forged, other_split, dropped_site, genuine[0].clone()]);
    let e = refused(k.sites[0].reveal(&mut k.ledgers[0], &request, &bad));
    assert!(
        e.detail().contains("3 valid survivor signatures, 4 needed"),
        "{}",
        e.detail()
    );
    let mut good = genuine;
    good.push(k.sites[3].confirm(&request).unwrap());
    let reveal = k.sites[0]
        .reveal(&mut k.ledgers[0], &request, &good)
        .unwrap();
    assert_eq!(reveal.mask_key_shares.len(), 1);
}

/// A ledger that cannot record: the run counters cannot be kept durably.
struct BrokenLedger;

impl oncofed_secagg::Ledger for BrokenLedger {
    fn record_once(&mut self, _: &str) -> Result<bool, String> {
        Err("disk full".into())
    }
}

/// Without its durable ledger a site keys nothing and reveals nothing (fail
/// closed), and it signs no split for a round it has not masked yet.
#[test]
fn sites_fail_closed_without_their_ledger_and_sign_no_split_before_masking() {
    let fed = Fed::new(3);
    let mut site = fed.participant(0, "run-g");
    let round = RoundId::new("run-g/0").unwrap();
    let e = refused(site.open(
        &mut BrokenLedger,
        SiteId(0),
        3,
        std::slice::from_ref(&round),
    ));
    assert!(e.detail().contains("ledger unavailable"), "{}", e.detail());
    let mut k = keyed(&fed, "run-g", 3);
    let request = split(&k.round, 3, &[]);
    refused(k.sites[0].confirm(&request));
    for (i, s) in k.sites.iter_mut().enumerate() {
        s.mask(&k.round, &k.inboxes[&SiteId(i as u32)], &input(i))
            .unwrap();
    }
    let sigs: Vec<_> = k
        .sites
        .iter_mut()
        .map(|s| s.confirm(&request).unwrap())
        .collect();
    let e = refused(k.sites[0].reveal(&mut BrokenLedger, &request, &sigs));
    assert!(e.detail().contains("ledger unavailable"), "{}", e.detail());
    // The session is spent: no second chance with a working ledger.
    refused(k.sites[0].reveal(&mut k.ledgers[0], &request, &sigs));
    k.sites[1]
        .reveal(&mut k.ledgers[1], &request, &sigs)
        .unwrap();
}
