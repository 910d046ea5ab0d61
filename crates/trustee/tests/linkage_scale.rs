//! Trust-centre linkage at scale (ignored by default): two Febrl-format CSVs
//! (e.g. from `oncofed-linkage`'s `synth_export DIR 1600000`, about 1 M records
//! each) are pseudonymised through the service over HTTP in batches of
//! `MAX_BATCH`, site 1 first, then site 2, with exact keys and probabilistic
//! linkage on the blocking index in the trust-centre store. Sex is not in the
//! format (unknown on both sides). Prints records/s per 100,000, quality against
//! the ids, the review queue and what it is worth (the recall once every item
//! is decided correctly, `review_queue`), the store size and peak RSS, and a
//! Markdown table of the throughput curve.
//!
//! `ONCOFED_LINKAGE_A=/tmp/linkscale/a.csv ONCOFED_LINKAGE_B=/tmp/linkscale/b.csv
//!  cargo test --release -p oncofed-trustee --test linkage_scale -- --ignored --nocapture`
//!
//! `ONCOFED_LINKAGE_LIMIT=200000` takes only the first records of each file;
//! `ONCOFED_LINKAGE_POSTGRES=1` puts the store on a PostgreSQL database of the
//! test cluster (`oncofed-test-pg`, installed by `scripts/setup-peers`) instead
//! of SQLite.

mod linkage_common;
#[path = "linkage_scale/review_queue.rs"]
mod review_queue;

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

/// One line of the throughput curve.
struct Lap {
    site: &'static str,
    /// Records of this site sent so far.
    sent: usize,
    /// Records in the store after this lap (both sites).
    stored: usize,
    records_per_s: f64,
    load: String,
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn send(
    client: &TrusteeClient,
    site: &'static str,
    records: &[Record],
    kvnrs: &[Option<Kvnr>],
    before: usize,
    laps: &mut Vec<Lap>,
) -> Vec<String> {
    let mut out = Vec::with_capacity(records.len());
    let (start, mut lap) = (Instant::now(), Instant::now());
    let mut lap_start = 0;
    for (chunk, numbers) in records.chunks(MAX_BATCH).zip(kvnrs.chunks(MAX_BATCH)) {
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
        if out.len() - lap_start >= 100_000 || out.len() == records.len() {
            let rate = (out.len() - lap_start) as f64 / lap.elapsed().as_secs_f64();
            println!(
                "{site}: {} records, last {} at {rate:.0} records/s",
                out.len(),
                out.len() - lap_start
            );
            laps.push(Lap {
                site,
                sent: out.len(),
                stored: before + out.len(),
                records_per_s: rate,
                load: load_average(),
            });
            lap_start = out.len();
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
    let (mut a, mut b) = (load(pa.as_ref()).unwrap(), load(pb.as_ref()).unwrap());
    let (mut ka, mut kb) = (kvnrs(&pa), kvnrs(&pb));
    assert_eq!((ka.len(), kb.len()), (a.len(), b.len()));
    if let Some(limit) = std::env::var("ONCOFED_LINKAGE_LIMIT")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        for v in [&mut a, &mut b] {
            v.truncate(limit);
        }
        for v in [&mut ka, &mut kb] {
            v.truncate(limit);
        }
    }
    let postgres = std::env::var_os("ONCOFED_LINKAGE_POSTGRES").is_some();
    println!(
        "insurance numbers: {} of {} and {} of {}",
        ka.iter().flatten().count(),
        a.len(),
        kb.iter().flatten().count(),
        b.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let pg = if postgres {
        // The test cluster's client blocks: off the async workers.
        Some(
            tokio::task::spawn_blocking(oncofed_test_pg::database)
                .await
                .unwrap()
                .expect("PostgreSQL asked for"),
        )
    } else {
        None
    };
    let server = Server::start_with(dir.path(), 2, pg.as_ref().map(|d| d.url.as_str())).await;
    let mut laps = Vec::new();
    let t = Instant::now();
    let ra = send(&server.site(TOKEN_A), "site-1", &a, &ka, 0, &mut laps).await;
    let rb = send(&server.site(TOKEN_B), "site-2", &b, &kb, a.len(), &mut laps).await;
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
    let q = quality(&a, &b, pairs.iter().copied());
    let pending = server.linkage(ADMIN).review_list(1).await.unwrap().pending;
    // The queue's worth: what a reviewer deciding every item correctly adds.
    let queued = tokio::task::block_in_place(|| match &pg {
        Some(db) => db
            .client()
            .query(review_queue::PENDING, &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect(),
        None => {
            let conn = rusqlite::Connection::open_with_flags(
                dir.path().join("data/trustee.db"),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            let mut stmt = conn.prepare(review_queue::PENDING).unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<review_queue::Item>>()
        }
    });
    let worth = review_queue::assess(&a, &b, &ra, &rb, &queued);
    // Whether those no decision joins ever met in a block (one scan of the index).
    let met = match (&pg, worth.apart_pairs.is_empty()) {
        (_, true) => 0,
        (Some(db), false) => tokio::task::block_in_place(|| {
            let rows = db.client().query(review_queue::BLOCK_ROWS, &[]).unwrap();
            let rows = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2)));
            review_queue::in_one_block(&a, &b, &worth.apart_pairs, rows)
        }),
        (None, false) => {
            let conn = rusqlite::Connection::open_with_flags(
                dir.path().join("data/trustee.db"),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            let mut stmt = conn.prepare(review_queue::BLOCK_ROWS).unwrap();
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .map(Result::unwrap);
            review_queue::in_one_block(&a, &b, &worth.apart_pairs, rows)
        }
    };
    let db_mib = match &pg {
        Some(db) => {
            let bytes: i64 = tokio::task::block_in_place(|| {
                db.client()
                    .query_one("SELECT pg_database_size(current_database())", &[])
                    .unwrap()
                    .get(0)
            });
            bytes as f64 / 1048576.0
        }
        None => std::fs::metadata(dir.path().join("data/trustee.db"))
            .map_or(0.0, |m| m.len() as f64 / 1048576.0),
    };
    println!(
        "{} x {} records in {total:.1} s ({:.0} records/s); precision {:.4} recall {:.4} F1 {:.4}; \
         {pending} possible matches queued; store ({}) {db_mib:.0} MiB; peak RSS (test process \
         incl. server and the records) {:.0} MiB",
        a.len(),
        b.len(),
        (a.len() + b.len()) as f64 / total,
        q.precision,
        q.recall,
        q.f1,
        if postgres { "PostgreSQL" } else { "SQLite" },
        peak_rss_mib()
    );
    println!(
        "review queue: {} items pair the two files, {} of them the same person not linked; \
         recall once every item is decided correctly {:.4}; true pairs still apart then: {} \
         that the library's scores call a match, {} a possible match, {} a non-match",
        worth.cross_file,
        worth.cross_file_true,
        worth.recall_after_review,
        worth.apart[0],
        worth.apart[1],
        worth.apart[2]
    );
    // `ONCOFED_LINKAGE_SHOW=N`: N queued pairs of the same person, side by side
    // with the library's score (synthetic records only).
    let show: usize = std::env::var("ONCOFED_LINKAGE_SHOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let cfg = oncofed_linkage::Config::default();
    for (x, y) in worth.queued_true.iter().take(show) {
        let sims = oncofed_linkage::probabilistic::compare(x, y, &cfg);
        let s = oncofed_linkage::probabilistic::score(&sims, &cfg.weights);
        println!(
            "queued, same person, library score {s:.3}: {} {} {sims:?}",
            x.id, y.id
        );
    }
    println!(
        "of those apart, {met} shared a block with their partner (candidates, so lost by the \
         decision or the one item per record), {} never did (lost by blocking)",
        worth.apart_pairs.len() - met
    );
    println!(
        "\n| site | records of the site | records in the store | records/s (last lap) | load average |"
    );
    println!("|---|---:|---:|---:|---|");
    for l in &laps {
        println!(
            "| {} | {} | {} | {:.0} | {} |",
            l.site, l.sent, l.stored, l.records_per_s, l.load
        );
    }
    println!(
        "\n{} × {} through the service ({}): {total:.0} s, {:.0} records/s; precision {:.4}, \
         recall {:.4}, F1 {:.4}; {pending} queued for review",
        a.len(),
        b.len(),
        if postgres { "PostgreSQL" } else { "SQLite" },
        (a.len() + b.len()) as f64 / total,
        q.precision,
        q.recall,
        q.f1
    );
    server.shutdown().await;
    // Dropping the test database connects to the cluster: a blocking client.
    tokio::task::block_in_place(|| drop(pg));
}
