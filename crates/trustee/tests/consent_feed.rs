//! `GET /v1/consent-feed` from the sites' side, as an adversarial site would
//! probe it: each site reads its own pseudonyms only, never IDAT, local ids or
//! `Consent.id`; versions only grow; pages chain; a staff-recorded withdrawal
//! reaches every site holding the person.

mod common;
mod linkage_common;

use common::{clients, item, oncofed_withdrawal, person, resident, start_centre, status_of};
use oncofed_crypto::PublicKey;
use oncofed_model::{DataCategory, Pseudonym, Purpose, Sex};
use oncofed_trustee_api::{ConsentDecision, ConsentItem, FeedPage, TrusteeClient, decide};
use std::collections::HashSet;

const ADMIN: &str = "admin-token-0123456789abcdef-feed";
const SITES: [&str; 2] = ["site-a", "site-b"];

fn token(site: &str) -> String {
    format!("token-of-{site}-0123456789abcdef")
}

const NONCE: &str = "feed-test-nonce-0123";

/// Fetches and verifies one page for `client` at version `since`.
async fn page(
    client: &TrusteeClient,
    key: &PublicKey,
    since: u64,
    limit: Option<usize>,
) -> FeedPage {
    let signed = client.consent_feed(since, NONCE, limit).await.unwrap();
    FeedPage::verify(&signed, key, NONCE, None, since).unwrap()
}

/// Every pseudonym named from version 0 on.
async fn named(client: &TrusteeClient, key: &PublicKey) -> HashSet<Pseudonym> {
    page(client, key, 0, None)
        .await
        .entries
        .into_iter()
        .flat_map(|e| e.pseudonyms)
        .collect()
}

/// Erika at both sites (same IDAT: one person), Max at site-b only, Lena at site-a only.
async fn federation() -> (tempfile::TempDir, String, Vec<TrusteeClient>, TrusteeClient) {
    let tmp = tempfile::tempdir().unwrap();
    let url = start_centre(tmp.path().join("tc"), 3, ADMIN, &SITES, token).await;
    let sites = clients(&url, &SITES, token);
    let erika = || person("Erika", "Mustermann", (1964, 8, 12), Sex::Female);
    sites[0]
        .pseudonymise(vec![
            item("a-erika", erika()),
            item(
                "a-lena",
                person("Lena", "Schmidt", (1990, 1, 2), Sex::Female),
            ),
        ])
        .await
        .unwrap();
    sites[1]
        .pseudonymise(vec![
            item("b-erika", erika()),
            item("b-max", person("Max", "Meier", (1950, 5, 6), Sex::Male)),
        ])
        .await
        .unwrap();
    let staff = TrusteeClient::new(&url, ADMIN).unwrap();
    (tmp, url, sites, staff)
}

#[tokio::test]
async fn red_team_a_site_reads_its_own_pseudonyms_only_and_no_identifying_data() {
    let (_tmp, _url, sites, _staff) = federation().await;
    let key = sites[0].consent_feed_key().await.unwrap();
    let resolve = |c: &TrusteeClient, ids: &[&str]| {
        let (c, ids) = (
            c.clone(),
            ids.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        );
        async move {
            c.resolve(ids)
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.unwrap().site)
                .collect::<HashSet<_>>()
        }
    };
    let a_own = resolve(&sites[0], &["a-erika", "a-lena"]).await;
    let b_own = resolve(&sites[1], &["b-erika", "b-max"]).await;
    assert_eq!(named(&sites[0], &key).await, a_own);
    assert_eq!(named(&sites[1], &key).await, b_own);
    assert!(
        a_own.is_disjoint(&b_own),
        "the same person has another pseudonym at each site"
    );

    // A consent site-a records (with its own identifiers inside) reaches site-b
    // as the parsed decision content only.
    let mut consent = oncofed_withdrawal();
    consent["id"] = serde_json::json!("site-a-consent-4711");
    consent["patient"] = serde_json::json!({"reference": "Patient/a-erika"});
    consent["organization"] = serde_json::json!([{"display": "Klinikum A"}]);
    sites[0]
        .submit_consents(vec![ConsentItem {
            local_id: "a-erika".into(),
            consent,
        }])
        .await
        .unwrap();
    for client in &sites {
        let raw = client.consent_feed(0, NONCE, None).await.unwrap().payload;
        for secret in [
            "Erika",
            "Mustermann",
            "1964-08-12",
            "Lena",
            "Max",
            "a-erika",
            "b-erika",
            "b-max",
            "a-lena",
            "site-a-consent-4711",
            "Klinikum",
            "Patient/",
        ] {
            assert!(!raw.contains(secret), "{secret} in a feed page");
        }
    }
    let b_page = page(&sites[1], &key, 0, None).await;
    assert_eq!(b_page.site.as_str(), "site-b");
    let withdrawn: Vec<_> = b_page
        .entries
        .iter()
        .filter(|e| e.consents.as_ref().is_some_and(|c| !c.is_empty()))
        .collect();
    assert_eq!(
        withdrawn.len(),
        1,
        "site-b learns the withdrawal of the person it holds"
    );
    assert!(b_own.contains(&withdrawn[0].pseudonyms[0]));

    // No token, or an unknown one: nothing.
    let stranger =
        TrusteeClient::new(sites[0].base_url(), "not-a-registered-token-0123456789").unwrap();
    assert_eq!(status_of(stranger.consent_feed(0, NONCE, None).await), 401);
    assert_eq!(status_of(stranger.consent_feed_key().await), 401);
}

#[tokio::test]
async fn versions_grow_pages_chain_and_a_person_keeps_one_entry() {
    let (_tmp, _url, sites, staff) = federation().await;
    let key = sites[0].consent_feed_key().await.unwrap();
    let whole = page(&sites[0], &key, 0, None).await;
    assert_eq!(whole.through, whole.head);
    assert_eq!(whole.entries.len(), 2);

    // One entry per page, chained from `through` to the head: the same entries.
    let (mut since, mut chained) = (0, Vec::new());
    loop {
        let p = page(&sites[0], &key, since, Some(1)).await;
        assert!(p.entries.len() <= 1);
        chained.extend(p.entries);
        since = p.through;
        if p.through == p.head {
            break;
        }
    }
    assert_eq!(chained, whole.entries);

    // Staff record a withdrawal for the person behind site-b's pseudonym: both
    // sites get a newer entry, and the person's old entry is gone.
    let erika_b = sites[1].resolve(vec!["b-erika".into()]).await.unwrap()[0]
        .clone()
        .unwrap()
        .site;
    staff
        .record_consent_as_staff(&erika_b, oncofed_withdrawal())
        .await
        .unwrap();
    for (client, n) in sites.iter().zip([2, 2]) {
        let after = page(client, &key, 0, None).await;
        assert!(after.head > whole.head);
        assert_eq!(after.entries.len(), n, "one entry per person");
        let newer = page(client, &key, whole.head, None).await;
        assert_eq!(newer.entries.len(), 1, "only the withdrawn person changed");
        assert_eq!(newer.entries[0].version, after.head);
    }

    // A node claiming a version the feed never issued is told to resync.
    let ahead = sites[0].consent_feed(whole.head + 1_000, NONCE, None).await;
    assert_eq!(status_of(ahead), 400);
    // A malformed nonce or limit is refused.
    assert_eq!(
        status_of(sites[0].consent_feed(0, "short", None).await),
        400
    );
    assert_eq!(
        status_of(
            sites[0]
                .consent_feed(0, "bad nonce with spaces!", None)
                .await
        ),
        400
    );
    assert_eq!(
        status_of(sites[0].consent_feed(0, NONCE, Some(0)).await),
        400
    );
    assert_eq!(
        status_of(sites[0].consent_feed(0, NONCE, Some(1_001)).await),
        400
    );
}

/// A clerical-review merge joins a person site-2 holds to one site-1 withdrew:
/// site-2's feed then carries the withdrawal under the pseudonym its data is
/// stored with (the merged-away person's), so its snapshot withholds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linkage_merge_brings_the_survivors_consents_to_every_pseudonym() {
    use linkage_common::{ADMIN, Server, TOKEN_A, TOKEN_B};
    use oncofed_trustee_api::linkage::api::Decision;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let (a, b) = (server.site(TOKEN_A), server.site(TOKEN_B));
    let key = a.consent_feed_key().await.unwrap();
    let erika = || resident("Erika", "Mustermann", (1961, 4, 12), Sex::Female);
    a.pseudonymise(vec![item("loc-a1", erika())]).await.unwrap();
    // Another given name: a possible match, queued for review, a new person for now.
    let elke = b
        .pseudonymise(vec![item(
            "loc-b2",
            resident("Elke", "Mustermann", (1961, 4, 12), Sex::Female),
        )])
        .await
        .unwrap()[0]
        .site
        .clone();
    a.submit_consents(vec![ConsentItem {
        local_id: "loc-a1".into(),
        consent: oncofed_withdrawal(),
    }])
    .await
    .unwrap();
    let before = page(&b, &key, 0, None).await;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    let elke_entry = before
        .entries
        .iter()
        .find(|e| e.pseudonyms.contains(&elke))
        .unwrap();
    assert_eq!(
        decide(
            elke_entry.consents.as_deref(),
            DataCategory::Clinical,
            Purpose::Research,
            day,
            None
        ),
        ConsentDecision::Permit,
        "before the merge Elke is someone else"
    );

    let staff = server.linkage(ADMIN);
    let list = staff.review_list(10).await.unwrap();
    assert_eq!(list.pending, 1);
    assert!(
        staff
            .review_decide(list.items[0].id, Decision::Match, "A. Reviewer")
            .await
            .unwrap()
            .merged
    );

    let after = page(&b, &key, before.through, None).await;
    let merged = after
        .entries
        .iter()
        .find(|e| e.pseudonyms.contains(&elke))
        .expect("merge in the feed");
    assert_eq!(
        decide(
            merged.consents.as_deref(),
            DataCategory::Clinical,
            Purpose::Research,
            day,
            None
        ),
        ConsentDecision::DenyWithdrawn
    );
    assert_eq!(after.site.as_str(), "site-2");
}
