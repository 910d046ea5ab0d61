//! Plaintext mode on Febrl4 through the trust centre: site-1 pseudonymises
//! dataset4a, site-2 dataset4b, and a pair counts as linked when both records got
//! the same research pseudonym. Febrl's social-security numbers are not KVNRs and
//! its sex is unknown, so the trust centre compares names, birth date and address
//! only (the library figure in `oncofed-linkage` also uses the number), and
//! birth dates that are not valid dates are missing rather than compared by part.
//! Run with `--nocapture` for the figures.

mod linkage_common;

use chrono::NaiveDate;
use linkage_common::{ADMIN, Server, TOKEN_A, TOKEN_B};
use oncofed_idat::{Address, IdentifyingData};
use oncofed_linkage::Record;
use oncofed_linkage::febrl::{entity, febrl4_paths, load, quality};
use oncofed_model::Sex;
use oncofed_trustee_api::{MAX_BATCH, PseudonymiseItem, TrusteeClient};
use std::collections::HashMap;

fn idat(r: &Record) -> IdentifyingData {
    let date = match (r.birth_year, r.birth_month, r.birth_day) {
        (Some(y), Some(m), Some(d)) => NaiveDate::from_ymd_opt(y.into(), m.into(), d.into()),
        _ => None,
    };
    IdentifyingData {
        given: vec![r.given.clone()],
        family: Some(r.family.clone()),
        birth_name: None,
        birth_date: date,
        sex: Sex::Unknown,
        address: Some(Address {
            lines: vec![format!("{} {}", r.street, r.house_number)],
            postal_code: Some(r.postal_code.clone()),
            city: Some(r.city.clone()),
            country: None,
        }),
        kvnr: None,
    }
}

async fn send(client: &TrusteeClient, records: &[Record]) -> Vec<String> {
    let items: Vec<PseudonymiseItem> = records
        .iter()
        .map(|r| PseudonymiseItem {
            local_id: r.id.clone(),
            idat: idat(r),
        })
        .collect();
    let mut out = Vec::new();
    for chunk in items.chunks(MAX_BATCH) {
        let pairs = client.pseudonymise(chunk.to_vec()).await.unwrap();
        out.extend(pairs.into_iter().map(|p| p.research.to_string()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn febrl4_plaintext_through_the_trust_centre() {
    let (pa, pb) = febrl4_paths();
    let (a, b) = (load(&pa).unwrap(), load(&pb).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let ra = send(&server.site(TOKEN_A), &a).await;
    let rb = send(&server.site(TOKEN_B), &b).await;
    let index: HashMap<&str, usize> = ra
        .iter()
        .enumerate()
        .map(|(i, r)| (r.as_str(), i))
        .collect();
    let pairs: Vec<(usize, usize)> = rb
        .iter()
        .enumerate()
        .filter_map(|(j, r)| index.get(r.as_str()).map(|&i| (i, j)))
        .collect();
    let q = quality(&a, &b, pairs.iter().copied());
    // The queue: how many items are true pairs a reviewer would confirm.
    let list = server.linkage(ADMIN).review_list(1000).await.unwrap();
    let true_items: Vec<(usize, usize)> = list
        .items
        .iter()
        .filter(|it| entity(&it.new.local_id) == entity(&it.earlier.local_id))
        .map(|it| {
            let find = |set: &[Record], id: &str| set.iter().position(|r| r.id == id).unwrap();
            (find(&a, &it.earlier.local_id), find(&b, &it.new.local_id))
        })
        .collect();
    let reviewed = quality(
        &a,
        &b,
        pairs.iter().copied().chain(true_items.iter().copied()),
    );
    println!(
        "plaintext through the trust centre on Febrl4: automatic precision {:.4} recall {:.4} \
         F1 {:.4}; {} possible matches queued, {} of them true pairs; after review recall {:.4} F1 {:.4}",
        q.precision,
        q.recall,
        q.f1,
        list.pending,
        true_items.len(),
        reviewed.recall,
        reviewed.f1
    );
    assert!(q.precision >= 0.995 && q.recall >= 0.79, "{q:?}");
    // Measured: automatic P 1.0000 R 0.7950 F1 0.8858 (the vetoes send 802 true
    // pairs, and nothing else, to review); with them R 0.9554. Issue 9 (no
    // automatic merge of two people: birth-date veto, names that must each agree
    // at Jaro–Winkler 0.85, no match across towns) moved 72 true pairs from
    // automatic to review; the bound was 0.8 before. The rest: Febrl's invalid birth dates
    // cannot be IDAT dates, so those records lose three fields and two blocking passes.
    assert!(reviewed.recall >= 0.95, "{reviewed:?}");
    server.shutdown().await;
}
