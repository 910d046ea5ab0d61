//! Pseudonym domains (issue 5, item 6): a tree of domains with their own alphabet,
//! length and check character, batch pseudonymisation, resolution, access per site.
//!
//! The throughput figure for BENCHMARKS.md:
//! `cargo test --release -p oncofed-trustee --test domains -- --ignored --nocapture`

mod common;

use common::{start_centre, status_of};
use oncofed_trustee::domains::check;
use oncofed_trustee_api::{CheckDigit, DomainSpec, TrusteeClient};
use std::collections::HashSet;

const ADMIN: &str = "admin-token-domains-0123456789abcdef";

fn site_token(site: &str) -> String {
    format!("{site}-token-domains-0123456789abcdef")
}

async fn start(dir: &std::path::Path) -> String {
    start_centre(dir.join("tc"), 3, ADMIN, &["site-1", "site-2"], site_token).await
}

fn spec(name: &str, parent: Option<&str>) -> DomainSpec {
    DomainSpec {
        name: name.into(),
        parent: parent.map(Into::into),
        site: None,
        alphabet: None,
        length: None,
        check: None,
    }
}

fn digits(s: &str) -> Vec<u8> {
    s.bytes().map(|b| b - b'0').collect()
}

#[tokio::test]
async fn domain_tree_settings_batches_and_access() {
    let dir = tempfile::tempdir().unwrap();
    let url = start(dir.path()).await;
    let staff = TrusteeClient::new(&url, ADMIN).unwrap();
    let site1 = TrusteeClient::new(&url, &site_token("site-1")).unwrap();
    let site2 = TrusteeClient::new(&url, &site_token("site-2")).unwrap();

    // root → site → project; settings inherited where not given.
    let root = staff.create_domain(&spec("oncofed", None)).await.unwrap();
    assert_eq!(
        (root.depth, root.length, root.check),
        (0, 12, CheckDigit::LuhnModN)
    );
    let site_domain = staff
        .create_domain(&DomainSpec {
            site: Some("site-1".into()),
            alphabet: Some("0123456789".into()),
            length: Some(10),
            check: Some(CheckDigit::Damm),
            ..spec("site-1", Some("oncofed"))
        })
        .await
        .unwrap();
    assert_eq!(site_domain.depth, 1);
    let biobank = staff
        .create_domain(&DomainSpec {
            check: Some(CheckDigit::Verhoeff),
            ..spec("site-1.biobank", Some("site-1"))
        })
        .await
        .unwrap();
    assert_eq!(
        (
            biobank.depth,
            biobank.site.as_deref(),
            biobank.alphabet.as_str(),
            biobank.length
        ),
        (2, Some("site-1"), "0123456789", 10)
    );
    let dna = staff
        .create_domain(&DomainSpec {
            site: Some("site-2".into()),
            alphabet: Some("ACGT".into()),
            length: Some(16),
            check: Some(CheckDigit::LuhnModN),
            ..spec("site-2.dna", Some("oncofed"))
        })
        .await
        .unwrap();
    assert_eq!(dna.depth, 1);

    // Refusals: a fourth level, unknown parent, Damm over letters, odd Luhn base,
    // another site under a bound ancestor, unregistered site, duplicate, sites creating.
    for bad in [
        spec("too-deep", Some("site-1.biobank")),
        spec("orphan", Some("nope")),
        DomainSpec {
            alphabet: Some("ABCDEFGHIJ".into()),
            check: Some(CheckDigit::Damm),
            ..spec("letters", Some("oncofed"))
        },
        DomainSpec {
            alphabet: Some("ABCDEFGHI".into()),
            check: Some(CheckDigit::LuhnModN),
            ..spec("odd", Some("oncofed"))
        },
        DomainSpec {
            site: Some("site-2".into()),
            ..spec("hijack", Some("site-1"))
        },
        DomainSpec {
            site: Some("site-9".into()),
            ..spec("ghost", Some("oncofed"))
        },
        spec("site-1", Some("oncofed")),
        spec("Bad Name", None),
    ] {
        assert_eq!(status_of(staff.create_domain(&bad).await), 400, "{bad:?}");
    }
    assert_eq!(
        status_of(site1.create_domain(&spec("mine", None)).await),
        401
    );
    let names: Vec<String> = staff
        .domains()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["oncofed", "site-1", "site-2.dna", "site-1.biobank"]);

    // A full batch from the domain's site: shape, check digit, distinct, repeatable.
    let values: Vec<String> = (0..10_000).map(|i| format!("SAMPLE-{i:06}")).collect();
    let psn = site1
        .domain_pseudonyms("site-1.biobank", values.clone())
        .await
        .unwrap();
    assert_eq!(psn.len(), 10_000);
    assert!(
        psn.iter()
            .all(|p| p.len() == 11 && check::verhoeff_valid(&digits(p)))
    );
    assert_eq!(psn.iter().collect::<HashSet<_>>().len(), 10_000);
    let mixed: Vec<String> = vec![values[17].clone(), "NEW-1".into(), values[17].clone()];
    let again = site1
        .domain_pseudonyms("site-1.biobank", mixed)
        .await
        .unwrap();
    assert_eq!(again[0], psn[17]);
    assert_eq!(again[2], psn[17]);
    assert!(!psn.contains(&again[1]));
    // The same value in the parent domain gets an unrelated pseudonym (Damm-checked).
    let parent = site1
        .domain_pseudonyms("site-1", vec![values[17].clone()])
        .await
        .unwrap();
    assert_ne!(parent[0], psn[17]);
    assert_eq!(check::damm(&digits(&parent[0])), 0);

    // Access: another site sees no such domain, the root is staff-only, limits hold.
    assert_eq!(
        status_of(
            site2
                .domain_pseudonyms("site-1.biobank", vec!["x".into()])
                .await
        ),
        404
    );
    assert_eq!(
        status_of(site1.domain_pseudonyms("oncofed", vec!["x".into()]).await),
        404
    );
    assert_eq!(
        status_of(
            site1
                .domain_pseudonyms("site-1", (0..10_001).map(|i| i.to_string()).collect())
                .await
        ),
        400
    );
    assert_eq!(
        status_of(site1.domain_pseudonyms("site-1", vec![String::new()]).await),
        400
    );
    let dna_psn = site2
        .domain_pseudonyms("site-2.dna", vec!["tumour-7".into()])
        .await
        .unwrap();
    assert_eq!(dna_psn[0].len(), 17);
    assert!(dna_psn[0].bytes().all(|c| b"ACGT".contains(&c)));

    // Resolve: staff only; a mistyped pseudonym fails its check digit.
    let mut typo = psn[5].clone().into_bytes();
    typo[3] = if typo[3] == b'9' { b'0' } else { typo[3] + 1 };
    let resolved = staff
        .domain_resolve(
            "site-1.biobank",
            vec![
                psn[5].clone(),
                String::from_utf8(typo).unwrap(),
                "12345678901".into(),
            ],
        )
        .await
        .unwrap();
    assert_eq!(resolved[0].as_deref(), Some(values[5].as_str()));
    assert_eq!(resolved[1], None);
    assert_eq!(resolved[2], None);
    assert_eq!(
        status_of(
            site1
                .domain_resolve("site-1.biobank", vec![psn[5].clone()])
                .await
        ),
        401
    );

    // A small space (10^6) collides often at 10,000 values; every value still gets
    // its own pseudonym, and resolving returns each value.
    staff
        .create_domain(&DomainSpec {
            alphabet: Some("0123456789".into()),
            length: Some(6),
            check: Some(CheckDigit::None),
            ..spec("tiny", Some("oncofed"))
        })
        .await
        .unwrap();
    let tiny = staff
        .domain_pseudonyms("tiny", values.clone())
        .await
        .unwrap();
    assert_eq!(tiny.iter().collect::<HashSet<_>>().len(), values.len());
    let back = staff.domain_resolve("tiny", tiny).await.unwrap();
    assert!(
        back.iter()
            .zip(&values)
            .all(|(b, v)| b.as_deref() == Some(v.as_str()))
    );
}

/// Pseudonyms per second through `POST /v1/domains/{name}/pseudonyms`, 10,000 per
/// call over loopback HTTP, new values and repeated values. Run in release mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
async fn batch_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let url = start(dir.path()).await;
    let staff = TrusteeClient::new(&url, ADMIN).unwrap();
    staff
        .create_domain(&DomainSpec {
            site: Some("site-1".into()),
            alphabet: Some("0123456789".into()),
            length: Some(10),
            check: Some(CheckDigit::Damm),
            ..spec("bench", None)
        })
        .await
        .unwrap();
    let site = TrusteeClient::new(&url, &site_token("site-1")).unwrap();
    let calls = 100;
    let batches: Vec<Vec<String>> = (0..calls)
        .map(|c| (0..10_000).map(|i| format!("LAB-{c:03}-{i:05}")).collect())
        .collect();
    let start = std::time::Instant::now();
    for b in &batches {
        site.domain_pseudonyms("bench", b.clone()).await.unwrap();
    }
    let new_rate = (calls * 10_000) as f64 / start.elapsed().as_secs_f64();
    let start = std::time::Instant::now();
    for b in &batches {
        site.domain_pseudonyms("bench", b.clone()).await.unwrap();
    }
    let repeat_rate = (calls * 10_000) as f64 / start.elapsed().as_secs_f64();
    println!(
        "domain batch API, {} values in {calls} calls of 10,000: new {new_rate:.0}/s, repeated {repeat_rate:.0}/s",
        calls * 10_000
    );
}
