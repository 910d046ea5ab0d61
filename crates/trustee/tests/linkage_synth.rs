//! Trust-centre linkage (exact keys, then probabilistic) on the generator's
//! multi-site ground truth: two sites pseudonymise their copies of a synthetic
//! cohort (typos, married names with the birth name kept, day/month swaps,
//! missing insurance numbers); a cross-site pair is predicted linked when both
//! records got the same research pseudonym. Run with `--nocapture` for the figures.

mod linkage_common;

use linkage_common::{ADMIN, Server, TOKEN_A, TOKEN_B};
use oncofed_idat::{IdentifyingData, normalise_name};
use oncofed_synth::{MultiSiteRates, SynthConfig, person};
use oncofed_trustee_api::{MAX_BATCH, PseudonymiseItem, TrusteeClient};
use std::collections::HashMap;

async fn send(client: &TrusteeClient, items: Vec<PseudonymiseItem>) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in items.chunks(MAX_BATCH) {
        let pairs = client.pseudonymise(chunk.to_vec()).await.unwrap();
        out.extend(pairs.into_iter().map(|p| p.research.to_string()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthetic_multi_site_cohort_through_the_trust_centre() {
    let persons = 4000;
    let cfg = SynthConfig {
        persons,
        sites: 2,
        multi_site: MultiSiteRates {
            two_sites: 0.3,
            three_sites: 0.0,
        },
        ..SynthConfig::default()
    };
    // (true person, item) per site.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..persons {
        let p = person(&cfg, i);
        for rec in p.sites {
            let item = PseudonymiseItem {
                local_id: rec.local_id,
                idat: rec.identity,
            };
            if rec.site.as_str() == "site-1" {
                a.push((p.person_id.clone(), item));
            } else {
                b.push((p.person_id.clone(), item));
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let ra = send(
        &server.site(TOKEN_A),
        a.iter().map(|(_, i)| i.clone()).collect(),
    )
    .await;
    let rb = send(
        &server.site(TOKEN_B),
        b.iter().map(|(_, i)| i.clone()).collect(),
    )
    .await;

    // Each person has at most one record per site, so a true pair is a person at both.
    let in_a: HashMap<&str, &IdentifyingData> =
        a.iter().map(|(p, i)| (p.as_str(), &i.idat)).collect();
    let truth: Vec<(&IdentifyingData, &IdentifyingData)> = b
        .iter()
        .filter_map(|(p, i)| in_a.get(p.as_str()).map(|x| (*x, &i.idat)))
        .collect();
    // How many of them the exact keys alone (insurance number, or first given
    // name + family name + birth date + sex) could link.
    let exact = truth
        .iter()
        .filter(|(x, y)| {
            let key = |d: &IdentifyingData| {
                (
                    d.given.first().map(|g| normalise_name(g)),
                    d.family.as_deref().map(normalise_name),
                    d.birth_date,
                    d.sex,
                )
            };
            (x.kvnr.is_some() && x.kvnr == y.kvnr) || key(x) == key(y)
        })
        .count();
    let by_research: HashMap<&str, Vec<&str>> =
        ra.iter()
            .zip(&a)
            .fold(HashMap::new(), |mut m, (r, (p, _))| {
                m.entry(r.as_str()).or_default().push(p.as_str());
                m
            });
    let (mut predicted, mut tp) = (0usize, 0usize);
    for (r, (p, _)) in rb.iter().zip(&b) {
        for q in by_research.get(r.as_str()).into_iter().flatten() {
            predicted += 1;
            tp += usize::from(*q == p.as_str());
        }
    }
    let precision = tp as f64 / predicted.max(1) as f64;
    let recall = tp as f64 / truth.len().max(1) as f64;
    let f1 = 2.0 * precision * recall / (precision + recall);
    let pending = server.linkage(ADMIN).review_list(1).await.unwrap().pending;
    println!(
        "trust centre on the synthetic cohort ({} + {} records, {} true pairs): \
         precision {precision:.4} recall {recall:.4} F1 {f1:.4}, {pending} possible matches queued; \
         exact keys alone could link {exact}",
        a.len(),
        b.len(),
        truth.len()
    );
    assert!(
        precision >= 0.995 && recall >= 0.98,
        "P {precision} R {recall}"
    );
    server.shutdown().await;
}
