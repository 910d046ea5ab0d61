//! The trust centre's linkage over the whole synthetic ground truth (issue 9,
//! defect 1): every site's copy of every generated person (typos, married names
//! with the birth name kept, day/month swaps, missing insurance numbers) goes
//! through `POST /v1/pseudonyms` of a real trust centre, sites interleaved in
//! batches of 5,000. Two records are linked when they got the same research
//! pseudonym.
//!
//! - **false merges**: persons joined to another true person's research
//!   pseudonym (`Σ (distinct true persons − 1)` over pseudonyms); must be 0;
//! - **missed links**: true cross-site record pairs with different research
//!   pseudonyms (and how many of them the review queue holds);
//! - **review queue**: pending possible matches.
//!
//! CI runs 1k × 1 site, 5k × 3, 20k × 5 and the red-team cohort (20k × 1,
//! seed 11). The large run is ignored by default:
//!
//! `cargo test --release -p oncofed-trustee --test linkage_ground_truth -- --ignored --nocapture`
//!
//! runs 100k × 5; `ONCOFED_LINKAGE_SIZES=50000x3,100000x1` runs other sizes,
//! `ONCOFED_LINKAGE_SEED=7` another cohort.

mod linkage_common;

use linkage_common::{ADMIN, Server, token};
use oncofed_synth::{SynthConfig, person};
use oncofed_trustee_api::{MAX_BATCH, PseudonymiseItem};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// What one run found.
#[derive(Debug)]
struct Figures {
    persons: u64,
    sites: u32,
    records: usize,
    /// Cross-site record pairs of one true person.
    true_pairs: usize,
    /// Persons joined to another true person's research pseudonym.
    false_merges: usize,
    /// Record pairs of different true persons with one research pseudonym.
    false_pairs: usize,
    /// True pairs with different research pseudonyms.
    missed: usize,
    /// Missed pairs that a pending review item names.
    missed_in_review: usize,
    /// Pending review items.
    review: i64,
    /// Pending review items whose two records belong to two different persons.
    review_false: usize,
    /// Seconds for all pseudonymise calls.
    seconds: f64,
    /// The first falsely merged pair of ground-truth person ids, if any.
    example: Option<(String, String)>,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} persons x {} sites: {} records, {} true cross-site pairs; false merges {} \
             ({} record pairs); missed links {} ({} of them queued for review); review \
             queue {} ({} of them two different persons); {:.1} s ({:.0} records/s)",
            self.persons,
            self.sites,
            self.records,
            self.true_pairs,
            self.false_merges,
            self.false_pairs,
            self.missed,
            self.missed_in_review,
            self.review,
            self.review_false,
            self.seconds,
            self.records as f64 / self.seconds
        )
    }
}

async fn run(persons: u64, sites: u32, seed: u64) -> Figures {
    let cfg = SynthConfig {
        persons,
        sites,
        seed,
        ..SynthConfig::default()
    };
    // Per site: (true person, item).
    let mut per_site: Vec<Vec<(String, PseudonymiseItem)>> = vec![Vec::new(); sites as usize];
    for i in 0..persons {
        let p = person(&cfg, i);
        for rec in p.sites {
            let k: usize = rec.site.as_str()["site-".len()..].parse().unwrap();
            per_site[k - 1].push((
                p.person_id.clone(),
                PseudonymiseItem {
                    local_id: rec.local_id,
                    idat: rec.identity,
                },
            ));
        }
    }
    let records: usize = per_site.iter().map(Vec::len).sum();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_sites(dir.path(), sites).await;
    let clients: Vec<_> = (1..=sites).map(|k| server.site(&token(k))).collect();
    // (site index, local id) → research pseudonym; true person of each.
    let mut research: HashMap<(usize, String), String> = HashMap::with_capacity(records);
    let mut truth: HashMap<(usize, String), String> = HashMap::with_capacity(records);
    let start = Instant::now();
    let rounds = per_site
        .iter()
        .map(|v| v.len().div_ceil(MAX_BATCH))
        .max()
        .unwrap_or(0);
    for round in 0..rounds {
        for (k, items) in per_site.iter().enumerate() {
            let chunk = items.iter().skip(round * MAX_BATCH).take(MAX_BATCH);
            let batch: Vec<PseudonymiseItem> = chunk.clone().map(|(_, it)| it.clone()).collect();
            if batch.is_empty() {
                continue;
            }
            let pairs = clients[k].pseudonymise(batch).await.unwrap();
            for ((p, it), pair) in chunk.zip(pairs) {
                research.insert((k, it.local_id.clone()), pair.research.to_string());
                truth.insert((k, it.local_id.clone()), p.clone());
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();

    // False merges: true persons per research pseudonym.
    let mut by_research: HashMap<&str, Vec<&str>> = HashMap::new();
    for (key, r) in &research {
        by_research.entry(r).or_default().push(&truth[key]);
    }
    let (mut false_merges, mut false_pairs, mut example) = (0, 0, None);
    for people in by_research.values() {
        let distinct: HashSet<&str> = people.iter().copied().collect();
        false_merges += distinct.len() - 1;
        for (i, a) in people.iter().enumerate() {
            for b in &people[i + 1..] {
                if a != b {
                    false_pairs += 1;
                    example.get_or_insert_with(|| (a.to_string(), b.to_string()));
                }
            }
        }
    }
    // Missed links: records per true person.
    let mut by_person: HashMap<&str, Vec<&(usize, String)>> = HashMap::new();
    for (key, p) in &truth {
        by_person.entry(p).or_default().push(key);
    }
    // The whole queue: the API lists at most 1,000 items, so the total comes
    // from it and the pairs from the store itself (after shutdown).
    let pending = server.linkage(ADMIN).review_list(1).await.unwrap().pending;
    server.shutdown().await;
    let db = rusqlite::Connection::open(dir.path().join("data/trustee.db")).unwrap();
    let site_index = |s: String| -> usize { s["site-".len()..].parse::<usize>().unwrap() - 1 };
    let queued: HashSet<((usize, String), (usize, String))> = db
        .prepare(
            "SELECT site, local_id, other_site, other_local_id FROM review_items
             WHERE decision IS NULL",
        )
        .unwrap()
        .query_map([], |r| {
            let x = (site_index(r.get(0)?), r.get(1)?);
            let y = (site_index(r.get(2)?), r.get(3)?);
            Ok(if x <= y { (x, y) } else { (y, x) })
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(queued.len() as i64, pending, "one item per pair");
    let review_false = queued.iter().filter(|(x, y)| truth[x] != truth[y]).count();
    let (mut true_pairs, mut missed, mut missed_in_review) = (0, 0, 0);
    for keys in by_person.values() {
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                true_pairs += 1;
                if research[*a] != research[*b] {
                    missed += 1;
                    let pair = if a <= b {
                        ((*a).clone(), (*b).clone())
                    } else {
                        ((*b).clone(), (*a).clone())
                    };
                    missed_in_review += usize::from(queued.contains(&pair));
                }
            }
        }
    }
    Figures {
        persons,
        sites,
        records,
        true_pairs,
        false_merges,
        false_pairs,
        missed,
        missed_in_review,
        review: pending,
        review_false,
        seconds,
        example,
    }
}

/// The default-settings requirements: no false merge; few missed links and a
/// review queue that stays small (bounds well above the measured figures, but
/// low enough to catch a veto that refuses everything). The queue grows faster
/// than the cohort (namesakes: 0.8 % of the records at 20k x 5, 2.4 % at
/// 100k x 5, where the generator's name pools are small).
fn check(f: &Figures) {
    println!("{f}");
    assert_eq!(f.false_merges, 0, "{f}; first: {:?}", f.example);
    assert_eq!(f.false_pairs, 0, "{f}");
    assert!(
        f.missed as f64 <= 0.05 * f.true_pairs as f64,
        "too many missed links: {f}"
    );
    assert!(
        f.review as f64 <= 0.05 * f.records as f64,
        "review queue floods: {f}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ground_truth_1k_persons_1_site() {
    check(&run(1_000, 1, 42).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ground_truth_5k_persons_3_sites() {
    check(&run(5_000, 3, 42).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ground_truth_20k_persons_5_sites() {
    check(&run(20_000, 5, 42).await);
}

/// The cohort of the red-team report (`oncofed synth --sites 1 --patients 20000
/// --seed 11`), where P00004175 and P00019293 had become one patient.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ground_truth_red_team_cohort_20k_persons_1_site_seed_11() {
    check(&run(20_000, 1, 11).await);
}

/// 100k × 5 by default; `ONCOFED_LINKAGE_SIZES=PERSONSxSITES,...` for other
/// sizes, `ONCOFED_LINKAGE_SEED` for another cohort (default 42).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes; run with --release --ignored --nocapture"]
async fn ground_truth_large() {
    let sizes = std::env::var("ONCOFED_LINKAGE_SIZES").unwrap_or_else(|_| "100000x5".into());
    let seed = std::env::var("ONCOFED_LINKAGE_SEED").map_or(42, |s| s.parse().unwrap());
    for size in sizes.split(',') {
        let (n, k) = size.trim().split_once('x').expect("PERSONSxSITES");
        check(&run(n.parse().unwrap(), k.parse().unwrap(), seed).await);
    }
}
