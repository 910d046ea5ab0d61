//! Red-team defect 1 (issue 9): the trust centre merged two different people.
//!
//! A different sex, a different birth date, or two different local ids from the
//! same site must never link automatically, on any path (insurance number, name
//! key, probabilistic score): at most a clerical-review item, which staff may
//! still confirm. End to end against a real trust centre.

mod common;
mod linkage_common;

use chrono::NaiveDate;
use common::{item, resident};
use linkage_common::{ADMIN, Server, TOKEN_A, TOKEN_B};
use oncofed_idat::{Address, IdentifyingData, Kvnr};
use oncofed_model::Sex;
use oncofed_trustee_api::linkage::api::Decision;
use oncofed_trustee_api::{PseudonymPair, TrusteeClient};

fn address(postal_code: &str) -> Option<Address> {
    Some(Address {
        lines: Vec::new(),
        postal_code: Some(postal_code.into()),
        city: None,
        country: None,
    })
}

/// The first record of the red-team report.
fn christian() -> IdentifyingData {
    IdentifyingData {
        given: vec!["Christian".into(), "Florian".into()],
        family: Some("Maier".into()),
        birth_name: None,
        birth_date: NaiveDate::from_ymd_opt(1941, 10, 6),
        sex: Sex::Male,
        address: address("48143"),
        kvnr: Some(Kvnr::new("K905350313").unwrap()),
    }
}

/// The second record: another person (other sex, other birth date) whose birth
/// name sounds like the first one's family name, at the same postal code.
fn christiane() -> IdentifyingData {
    IdentifyingData {
        given: vec!["Christiane".into(), "Lena".into()],
        family: Some("Wolff".into()),
        birth_name: Some("Mayer".into()),
        birth_date: NaiveDate::from_ymd_opt(1941, 10, 21),
        sex: Sex::Female,
        address: address("48143"),
        kvnr: None,
    }
}

/// A complete record with an insurance number and an address.
fn erika() -> IdentifyingData {
    IdentifyingData {
        kvnr: Some(Kvnr::new("A123456780").unwrap()),
        ..resident("Erika", "Mustermann", (1961, 4, 12), Sex::Female)
    }
}

async fn one(client: &TrusteeClient, local_id: &str, idat: IdentifyingData) -> PseudonymPair {
    let mut pairs = client
        .pseudonymise(vec![item(local_id, idat)])
        .await
        .unwrap();
    pairs.remove(0)
}

async fn pending(server: &Server) -> i64 {
    server.linkage(ADMIN).review_list(10).await.unwrap().pending
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_birth_name_does_not_merge_two_people() {
    // As reported: one site, one call per record, on a fresh trust centre.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let site = server.site(TOKEN_A);
    let first = one(&site, "p1", christian()).await;
    let second = one(&site, "p2", christiane()).await;
    assert_ne!(first.site, second.site, "two people, one site pseudonym");
    assert_ne!(first.research, second.research, "two people, one person");
    server.shutdown().await;

    // Across two sites (so the same-site rule cannot be what keeps them apart),
    // and in one batch.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let first = one(&server.site(TOKEN_A), "p1", christian()).await;
    let second = one(&server.site(TOKEN_B), "q1", christiane()).await;
    assert_ne!(first.research, second.research, "merged across sites");
    let both = server
        .site(TOKEN_A)
        .pseudonymise(vec![item("x1", christiane()), item("x2", christian())])
        .await
        .unwrap();
    assert_ne!(both[0].research, both[1].research, "merged within a batch");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_sex_disagreement_never_links_automatically() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let a = one(&server.site(TOKEN_A), "a1", erika()).await;
    // Everything equal, the insurance number too, but the sex: the number alone
    // (exact path) must not merge them; staff see it.
    let mut other = erika();
    other.sex = Sex::Male;
    let b = one(&server.site(TOKEN_B), "b1", other).await;
    assert_ne!(a.research, b.research);
    assert_eq!(pending(&server).await, 1, "the pair waits for review");
    // Unknown sex is missing, not a disagreement: linked.
    let mut unknown = erika();
    unknown.sex = Sex::Unknown;
    unknown.kvnr = None;
    let c = one(&server.site(TOKEN_B), "b2", unknown).await;
    assert_eq!(a.research, c.research, "unknown sex does not veto");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_birth_date_disagreement_never_links_automatically() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let (site_a, site_b) = (server.site(TOKEN_A), server.site(TOKEN_B));
    let a = one(&site_a, "a1", erika()).await;
    // One day off, same insurance number, name and address.
    let mut next_day = erika();
    next_day.birth_date = NaiveDate::from_ymd_opt(1961, 4, 13);
    let b = one(&site_b, "b1", next_day).await;
    assert_ne!(
        a.research, b.research,
        "insurance number linked another date"
    );
    // Day and month transposed (12.04. vs 04.12.), no insurance number: a
    // likely keying error, but two dates; review, not an automatic merge.
    let mut swapped = erika();
    swapped.birth_date = NaiveDate::from_ymd_opt(1961, 12, 4);
    swapped.kvnr = None;
    let c = one(&site_b, "b2", swapped).await;
    assert_ne!(
        a.research, c.research,
        "day/month swap linked automatically"
    );
    assert_eq!(pending(&server).await, 2);
    // Staff may confirm the swap: the merge is a person's decision.
    let staff = server.linkage(ADMIN);
    let list = staff.review_list(10).await.unwrap();
    let item = list
        .items
        .iter()
        .find(|it| it.new.local_id == "b2")
        .expect("the swap is queued");
    let decided = staff
        .review_decide(item.id, Decision::Match, "Dr. R. Prüfer")
        .await
        .unwrap();
    assert_eq!(decided.research_pseudonym, a.research);
    // The person now holds two birth dates; a third record with the first
    // one's date but the swapped one's site must not be linked by score past
    // the swapped record either (same site b, other local id).
    let d = one(&site_b, "b3", erika()).await;
    assert_ne!(d.research, a.research, "second local id of site b linked");
    server.shutdown().await;
}

/// The one birth-date disagreement that links: day and month transposed where
/// the same insurance number and the same names vouch for the person
/// (`oncofed_linkage::swap_vouched_for`). Anything less still goes to review.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_links_only_when_number_and_names_vouch_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let (site_a, site_b) = (server.site(TOKEN_A), server.site(TOKEN_B));
    let a = one(&site_a, "a1", erika()).await;
    // Same number, another given name, swapped date: review.
    let mut other_name = erika();
    other_name.given = vec!["Erna".into()];
    other_name.birth_date = NaiveDate::from_ymd_opt(1961, 12, 4);
    let b = one(&site_b, "b1", other_name).await;
    assert_ne!(
        a.research, b.research,
        "the number alone vouched for a swap"
    );
    assert_eq!(pending(&server).await, 1);
    // Same number and names, swapped date: the same person, linked.
    let mut swapped = erika();
    swapped.birth_date = NaiveDate::from_ymd_opt(1961, 12, 4);
    let c = one(&site_b, "b2", swapped).await;
    assert_eq!(a.research, c.research, "a vouched-for swap went to review");
    assert_eq!(pending(&server).await, 1, "nothing queued for the swap");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_two_local_ids_of_one_site_never_link_automatically() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let site = server.site(TOKEN_A);
    let a = one(&site, "a1", erika()).await;
    // Identical IDAT under another local id of the same site: a duplicate in
    // the site's system, or two people the site keeps apart. Not ours to merge.
    let b = one(&site, "a2", erika()).await;
    assert_ne!(a.research, b.research);
    assert_ne!(a.site, b.site);
    // Without the insurance number (name-key path) and with a typo (score path).
    let mut no_number = erika();
    no_number.kvnr = None;
    let c = one(&site, "a3", no_number.clone()).await;
    let mut typo = no_number;
    typo.family = Some("Musterman".into());
    let d = one(&site, "a4", typo).await;
    for other in [&b, &c, &d] {
        assert_ne!(a.research, other.research);
    }
    assert!(pending(&server).await >= 3, "duplicates go to review");
    // The same local id again is the same patient, whatever it holds now.
    let again = one(&site, "a1", erika()).await;
    assert_eq!(again, a);
    // Another site's identical record still links (the insurance number
    // belongs to the first person that registered it).
    let e = one(&server.site(TOKEN_B), "b1", erika()).await;
    assert_eq!(e.research, a.research, "identical record at another site");
    server.shutdown().await;
}
