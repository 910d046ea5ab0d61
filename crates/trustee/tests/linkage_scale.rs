//! Trust-centre linkage at scale (ignored by default): two Febrl-format CSVs
//! (e.g. from `oncofed-linkage`'s `synth_export DIR 1600000`, about 1 M records
//! each) are pseudonymised through the service, site 1 first, then site 2, with
//! exact keys and probabilistic linkage on the blocking keys stored in the
//! trust-centre database. Sex is not in the format (unknown on both sides). Prints records/s per 100,000, quality against the ids,
//! the review queue, the store size and peak RSS.
//!
//! `ONCOFED_LINKAGE_A=/tmp/linkscale/a.csv ONCOFED_LINKAGE_B=/tmp/linkscale/b.csv
//!  cargo test --release -p oncofed-trustee --test linkage_scale -- --ignored --nocapture`

mod linkage_common;

use chrono::NaiveDate;
use linkage_common::{ADMIN, Server, TOKEN_A, TOKEN_B};
use oncofed_idat::{Address, IdentifyingData, Kvnr};
use oncofed_linkage::Record;
use oncofed_linkage::febrl::{load, quality};
use oncofed_model::Sex;
use oncofed_trustee_api::{MAX_BATCH, PseudonymiseItem, TrusteeClient};
use std::collections::HashMap;
use std::time::Instant;

/// The insurance numbers of a Febrl-format CSV (column 11), in record order:
/// `synth_export` writes KVNRs there, which `febrl::load` keeps as digits only.
fn kvnrs(path: &str) -> Vec<Option<Kvnr>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.rsplit(',').next().and_then(|k| Kvnr::new(k.trim()).ok()))
        .collect()
}

fn idat(r: &Record, kvnr: Option<Kvnr>) -> IdentifyingData {
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
        kvnr,
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

async fn send(
    client: &TrusteeClient,
    site: &str,
    records: &[Record],
    kvnrs: &[Option<Kvnr>],
) -> Vec<String> {
    let mut out = Vec::with_capacity(records.len());
    let (start, mut lap) = (Instant::now(), Instant::now());
    for (n, (chunk, numbers)) in records
        .chunks(MAX_BATCH)
        .zip(kvnrs.chunks(MAX_BATCH))
        .enumerate()
    {
        let items: Vec<PseudonymiseItem> = chunk
            .iter()
            .zip(numbers)
            .map(|(r, k)| PseudonymiseItem {
                local_id: r.id.clone(),
                idat: idat(r, k.clone()),
            })
            .collect();
        let pairs = client.pseudonymise(items).await.unwrap();
        out.extend(pairs.into_iter().map(|p| p.research.to_string()));
        if (n + 1) % 20 == 0 {
            println!(
                "{site}: {} records, last 100,000 at {:.0} records/s",
                out.len(),
                100_000.0 / lap.elapsed().as_secs_f64()
            );
            lap = Instant::now();
        }
    }
    println!(
        "{site}: {} records in {:.1} s ({:.0} records/s)",
        out.len(),
        start.elapsed().as_secs_f64(),
        out.len() as f64 / start.elapsed().as_secs_f64()
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "takes minutes; run with --ignored and two CSVs"]
async fn million_by_million_through_the_trust_centre() {
    let path = |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.into());
    let (pa, pb) = (
        path("ONCOFED_LINKAGE_A", "/tmp/linkscale/a.csv"),
        path("ONCOFED_LINKAGE_B", "/tmp/linkscale/b.csv"),
    );
    let (a, b) = (load(pa.as_ref()).unwrap(), load(pb.as_ref()).unwrap());
    let (ka, kb) = (kvnrs(&pa), kvnrs(&pb));
    assert_eq!((ka.len(), kb.len()), (a.len(), b.len()));
    println!(
        "insurance numbers: {} of {} and {} of {}",
        ka.iter().flatten().count(),
        a.len(),
        kb.iter().flatten().count(),
        b.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let t = Instant::now();
    let ra = send(&server.site(TOKEN_A), "site-1", &a, &ka).await;
    let rb = send(&server.site(TOKEN_B), "site-2", &b, &kb).await;
    let total = t.elapsed().as_secs_f64();
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
    let q = quality(&a, &b, pairs);
    let pending = server.linkage(ADMIN).review_list(1).await.unwrap().pending;
    let db_mib = std::fs::metadata(dir.path().join("data/trustee.db"))
        .map_or(0.0, |m| m.len() as f64 / 1048576.0);
    println!(
        "{} x {} records in {total:.1} s ({:.0} records/s); precision {:.4} recall {:.4} F1 {:.4}; \
         {pending} possible matches queued; trustee.db {db_mib:.0} MiB; peak RSS (test process \
         incl. server and the records) {:.0} MiB",
        a.len(),
        b.len(),
        (a.len() + b.len()) as f64 / total,
        q.precision,
        q.recall,
        q.f1,
        peak_rss_mib()
    );
    server.shutdown().await;
}
