//! A federation of [`RunParticipant`]s with a real roster, for the malicious-hub
//! tests: the honest hub's whole round, and the pieces an attacking hub reuses.

use oncofed_crypto::SigningKeyPair;
use oncofed_secagg::{
    AggregationRound, EncryptedShare, MemoryLedger, Roster, RoundId, RunParticipant,
    SignedPublicShare, SiteId, SitePolicy, SurvivorSignature, UnmaskRequest, encode_counts,
};
use std::collections::BTreeMap;

/// The federation's sites: their names, signing keys and the roster every site holds.
pub struct Fed {
    pub names: Vec<String>,
    pub keys: Vec<SigningKeyPair>,
    pub roster: Roster,
}

impl Fed {
    pub fn new(n: usize) -> Self {
        let names: Vec<String> = (0..n).map(|i| format!("site-{i}")).collect();
        let keys: Vec<SigningKeyPair> = (0..n).map(|_| SigningKeyPair::generate()).collect();
        let mut roster = Roster::new();
        for (name, key) in names.iter().zip(&keys) {
            roster.insert(name.clone(), key.public_key()).unwrap();
        }
        Fed {
            names,
            keys,
            roster,
        }
    }

    /// Site `i`'s participant for `run`, with the default policy.
    pub fn participant(&self, i: usize, run: &str) -> RunParticipant {
        RunParticipant::new(
            run,
            &self.names[i],
            self.keys[i].clone(),
            self.roster.clone(),
            SitePolicy::default(),
        )
        .unwrap()
    }
}

/// A site vector of small counts, distinct per site.
pub fn input(i: usize) -> Vec<u64> {
    encode_counts(&[41 + i as u64, 7 * i as u64, 1000], 64).unwrap()
}

/// Sites keyed and shared for one round `run/0` by an honest relay: returns the
/// participants, their ledgers and each site's inbox.
pub struct Keyed {
    pub round: RoundId,
    pub sites: Vec<RunParticipant>,
    pub ledgers: Vec<MemoryLedger>,
    pub signed: Vec<SignedPublicShare>,
    pub inboxes: BTreeMap<SiteId, Vec<EncryptedShare>>,
}

pub fn keyed(fed: &Fed, run: &str, hub_threshold: usize) -> Keyed {
    let n = fed.names.len();
    let round = RoundId::new(format!("{run}/0")).unwrap();
    let mut sites: Vec<RunParticipant> = (0..n).map(|i| fed.participant(i, run)).collect();
    let mut ledgers = vec![MemoryLedger::default(); n];
    let mut signed = Vec::new();
    for (i, (s, l)) in sites.iter_mut().zip(&mut ledgers).enumerate() {
        let mut shares = s
            .open(
                l,
                SiteId(i as u32),
                hub_threshold,
                std::slice::from_ref(&round),
            )
            .unwrap();
        signed.push(shares.remove(0));
    }
    let mut per_recipient: BTreeMap<SiteId, Vec<EncryptedShare>> = BTreeMap::new();
    for s in &mut sites {
        for e in s.share(std::slice::from_ref(&signed)).unwrap().remove(0) {
            per_recipient.entry(e.to).or_default().push(e);
        }
    }
    Keyed {
        round,
        sites,
        ledgers,
        signed,
        inboxes: per_recipient,
    }
}

/// An honest hub's round over `n` sites where the sites in `drop` never send
/// their masked input: the decoded sum the hub obtains.
pub fn honest_round(n: usize, drop: &[usize]) -> Result<Vec<u64>, String> {
    let fed = Fed::new(n);
    let t = SitePolicy::default()
        .threshold(n)
        .map_err(|e| e.to_string())?;
    let mut k = keyed(&fed, "run-honest", t);
    let ids: Vec<SiteId> = (0..n as u32).map(SiteId).collect();
    let mut hub = AggregationRound::new(k.round.clone(), &ids, t).map_err(|e| e.to_string())?;
    for s in &k.signed {
        hub.add_share(s.share.clone()).map_err(|e| e.to_string())?;
    }
    hub.close_keys().map_err(|e| e.to_string())?;
    for i in 0..n {
        let from = SiteId(i as u32);
        let sent: Vec<EncryptedShare> = k
            .inboxes
            .values()
            .flatten()
            .filter(|e| e.from == from)
            .cloned()
            .collect();
        hub.add_encrypted_shares(from, sent)
            .map_err(|e| e.to_string())?;
    }
    let inboxes = hub.close_shares().map_err(|e| e.to_string())?;
    for (i, s) in k.sites.iter_mut().enumerate() {
        let masked = s
            .mask(&k.round, &inboxes[&SiteId(i as u32)], &input(i))
            .map_err(|e| e.to_string())?;
        if !drop.contains(&i) {
            hub.add_masked(masked).map_err(|e| e.to_string())?;
        }
    }
    let request = hub.close_inputs().map_err(|e| e.to_string())?;
    let survivors: Vec<usize> = (0..n).filter(|i| !drop.contains(i)).collect();
    let sigs: Vec<SurvivorSignature> = survivors
        .iter()
        .map(|&i| k.sites[i].confirm(&request))
        .collect::<Result<_, _>>()
        .map_err(|e| e.detail().to_owned())?;
    for &i in &survivors {
        let reveal = k.sites[i]
            .reveal(&mut k.ledgers[i], &request, &sigs)
            .map_err(|e| e.detail().to_owned())?;
        hub.add_reveal(reveal).map_err(|e| e.to_string())?;
    }
    hub.finish().map_err(|e| e.to_string())
}

/// The plain sum of the survivors' inputs.
pub fn expected(n: usize, drop: &[usize]) -> Vec<u64> {
    let mut sum = vec![0u64; 3];
    for i in (0..n).filter(|i| !drop.contains(i)) {
        for (a, b) in sum.iter_mut().zip(input(i)) {
            *a = a.wrapping_add(b);
        }
    }
    sum
}

/// An unmask request for `round` over sites `0..n` with `dropped` left out.
pub fn split(round: &RoundId, n: usize, dropped: &[usize]) -> UnmaskRequest {
    UnmaskRequest {
        round: round.clone(),
        survivors: (0..n)
            .filter(|i| !dropped.contains(i))
            .map(|i| SiteId(i as u32))
            .collect(),
        dropped: dropped.iter().map(|&i| SiteId(i as u32)).collect(),
    }
}
