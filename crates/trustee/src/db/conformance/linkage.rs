//! Linkage on both backends: exact and probabilistic links across sites, resolve,
//! the review queue with a merge, and PPRL.

use super::{Backend, consent, idat, item, keys, site};
use crate::db::{check_consents, insert_site_consents, pseudonymise, resolve};
use crate::linkage::api::Decision;
use crate::linkage::pprl::{self, Submitted};
use crate::linkage::review;
use oncofed_linkage::pprl::Clk;
use oncofed_model::{DataCategory, Purpose, Sex};
use oncofed_trustee_api::{ConsentDecision, ConsentQuestion};

/// Same person across sites → same research pseudonym; different insurance
/// numbers → different persons; a known local id keeps its person whatever IDAT
/// comes; resolve answers known ids and `None` for unknown ones.
pub(super) fn the_same_person_at_two_sites_is_one_person_and_resolves(b: &dyn Backend) {
    let k = keys();
    let mut conn = b.conn();
    let m = |given: &str, kvnr| idat(given, "Muster", (1960, 5, 6), Sex::Male, kvnr);
    let a = pseudonymise(
        &mut conn,
        &k,
        &site("uk-a"),
        &[
            item(&k, "1", &m("Max", None)),
            item(&k, "2", &m("Moritz", Some((b'A', 1)))),
        ],
    )
    .unwrap();
    let bb = pseudonymise(
        &mut conn,
        &k,
        &site("uk-b"),
        &[
            item(&k, "x", &m("MAX", Some((b'B', 2)))),
            item(&k, "y", &m("Mauritius", Some((b'A', 1)))),
            item(&k, "z", &m("Max", Some((b'C', 3)))),
        ],
    )
    .unwrap();
    assert_eq!(a[0].research, bb[0].research, "scored link on names");
    assert_eq!(a[1].research, bb[1].research, "insurance-number link");
    assert_ne!(a[0].research, bb[2].research, "different insurance numbers");
    assert_ne!(a[0].site, bb[0].site, "site domains differ");
    // Re-pseudonymisation with changed IDAT keeps the person.
    let again = pseudonymise(
        &mut conn,
        &k,
        &site("uk-a"),
        &[item(&k, "1", &m("Erich", None))],
    );
    assert_eq!(again.unwrap()[0], a[0]);
    // A fresh connection (another process) sees the same.
    let mut other = b.conn();
    let resolved = resolve(&mut other, &k, &site("uk-b"), &["y".into(), "nope".into()]).unwrap();
    assert_eq!(resolved, vec![Some(bb[1].clone()), None]);
}

/// An insurance-number link vetoed by sex goes to review instead; a `match`
/// decision merges the persons (local ids, pseudonyms and consents follow).
pub(super) fn a_vetoed_link_is_queued_for_review_and_a_match_merges(b: &dyn Backend) {
    let k = keys();
    let mut conn = b.conn();
    let a = pseudonymise(
        &mut conn,
        &k,
        &site("uk-a"),
        &[item(
            &k,
            "a1",
            &idat("Kim", "Weber", (1970, 1, 2), Sex::Female, Some((b'K', 4))),
        )],
    )
    .unwrap();
    let bb = pseudonymise(
        &mut conn,
        &k,
        &site("uk-b"),
        &[item(
            &k,
            "b1",
            &idat("Kim", "Weber", (1970, 1, 2), Sex::Male, Some((b'K', 4))),
        )],
    )
    .unwrap();
    assert_ne!(
        a[0].research, bb[0].research,
        "vetoed: not linked on a guess"
    );
    let withdrawal = serde_json::json!({"resourceType": "Consent", "id": "c", "status": "active",
        "dateTime": "2026-03-01", "provision": {"type": "deny", "code": [{"coding": [
            {"system": "urn:oncofed:consent-policy", "code": "gdng-objection"}]}]}});
    assert_eq!(
        insert_site_consents(
            &mut conn,
            &site("uk-b"),
            &[("b1".into(), consent(withdrawal))]
        )
        .unwrap(),
        1
    );
    let (items, total) = review::pending(&mut conn, &k, 10).unwrap();
    assert_eq!(total, 1);
    assert_eq!(items.len(), 1);
    assert!(!items[0].same_person_now);
    let id = items[0].id;
    let decided = review::decide(&mut conn, &k, id, Decision::Match, "rev", 1, |_| {
        Ok::<(), ()>(())
    })
    .unwrap()
    .unwrap();
    assert!(decided.merged);
    let ra = resolve(&mut conn, &k, &site("uk-a"), &["a1".into()]).unwrap();
    let rb = resolve(&mut conn, &k, &site("uk-b"), &["b1".into()]).unwrap();
    assert_eq!(
        ra[0].as_ref().unwrap().research,
        rb[0].as_ref().unwrap().research
    );
    assert_eq!(ra[0].as_ref().unwrap().research, decided.research);
    // uk-b's old site pseudonym now points at the survivor and its objection.
    let ask = |p: &oncofed_model::Pseudonym| ConsentQuestion {
        pseudonym: p.clone(),
        category: DataCategory::Clinical,
        origin: None,
    };
    let today = chrono::Utc::now().date_naive();
    let via_b = check_consents(
        &mut conn,
        &site("uk-b"),
        Purpose::Research,
        today,
        &[ask(&bb[0].site)],
    );
    assert_eq!(via_b.unwrap(), vec![ConsentDecision::DenyObjection]);
    let via_a = check_consents(
        &mut conn,
        &site("uk-a"),
        Purpose::Research,
        today,
        &[ask(&a[0].site)],
    );
    assert_eq!(via_a.unwrap(), vec![ConsentDecision::DenyObjection]);
    assert_eq!(review::pending(&mut conn, &k, 10).unwrap().1, 0);
    let again = review::decide(&mut conn, &k, id, Decision::Match, "rev", 2, |_| {
        Ok::<(), ()>(())
    });
    assert!(matches!(again, Err(review::DecideError::NotPending)));
}

/// PPRL: equal encodings at two sites share a link id; another encoding does not.
pub(super) fn pprl_links_across_sites_on_the_dice_coefficient(b: &dyn Backend) {
    let mut conn = b.conn();
    let clk = |byte: u8| Clk::from_bytes(&[byte; 128]);
    let rec = |id: &str, c: Clk| Submitted {
        id: id.into(),
        clk: c,
        blocks: vec![42, -1i64 as u64],
    };
    let a = pprl::submit(&mut conn, "p1", "uk-a", &[rec("r1", clk(0x0f))]).unwrap();
    let bb = pprl::submit(
        &mut conn,
        "p1",
        "uk-b",
        &[
            rec("s1", clk(0x0f)),
            rec("s2", clk(0xf0)),
            rec("s1", clk(0x0f)),
        ],
    )
    .unwrap();
    assert_eq!(a[0].dice, None);
    assert_eq!(bb[0].link_id, a[0].link_id);
    assert_eq!(bb[0].dice, Some(1.0));
    assert_ne!(bb[1].link_id, a[0].link_id);
    assert_eq!(bb[2].link_id, bb[0].link_id, "a repeat in the batch");
    // A record's link id is fixed when first submitted.
    pprl::set_threshold(&mut conn, "p1", 0.99).unwrap();
    let again = pprl::submit(&mut conn, "p1", "uk-b", &[rec("s2", clk(0x0f))]).unwrap();
    assert_eq!(again[0].link_id, bb[1].link_id);
}

/// Two connections (two trust-centre processes on one database, or the writer
/// and a second writer) pseudonymising the same person at once create one
/// person: writers are serialised (SQLite's write lock, PostgreSQL's advisory
/// lock), so no linkage decision races.
pub(super) fn concurrent_writers_on_two_connections_agree(b: &dyn Backend) {
    let k = keys();
    drop(b.conn());
    let barrier = std::sync::Barrier::new(4);
    let pairs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (k, barrier) = (&k, &barrier);
                s.spawn(move || {
                    let mut conn = b.conn();
                    barrier.wait();
                    let site = site(&format!("uk-{i}"));
                    let items: Vec<_> = (0..20)
                        .map(|n| {
                            let p = idat(
                                "Jo",
                                &format!("Nr{n}"),
                                (1970, 1, 1 + n),
                                Sex::Male,
                                Some((b'J', n as u8 % 10)),
                            );
                            item(k, &format!("{n}"), &p)
                        })
                        .collect();
                    pseudonymise(&mut conn, k, &site, &items).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for n in 0..20 {
        let research: std::collections::HashSet<_> = pairs.iter().map(|p| &p[n].research).collect();
        assert_eq!(research.len(), 1, "person {n} split across sites");
    }
}
