//! The patients' portal's store on both backends: access codes (once, locked,
//! expired, replaced), usage reports per person, the audit index and the
//! person's view.

use super::{Backend, idat, item, keys, site};
use crate::db::access_codes::{self, MAX_FAILURES, PersonRef, Redeemed};
use crate::db::patients::{index_event, person_view, record_usage};
use crate::db::pseudonymise;
use oncofed_model::Sex;
use oncofed_trustee_api::{UsageKind, UsageReport};

/// A code works once; wrong tries lock it; it expires; a new one replaces it.
pub(super) fn access_codes_work_once_lock_and_expire(b: &dyn Backend) {
    let k = keys();
    let mut conn = b.conn();
    let p = pseudonymise(
        &mut conn,
        &k,
        &site("uk-a"),
        &[item(
            &k,
            "1",
            &idat("Ute", "Lang", (1961, 4, 2), Sex::Female, None),
        )],
    )
    .unwrap();
    let who = PersonRef::SitePseudonym(p[0].site.as_str().to_owned());
    let by_local = PersonRef::LocalId {
        site: "uk-a".into(),
        local_id: "1".into(),
    };
    let unknown = PersonRef::LocalId {
        site: "uk-b".into(),
        local_id: "1".into(),
    };
    assert!(
        access_codes::issue(&mut conn, &unknown, "uk-b", 1_000, 60)
            .unwrap()
            .is_none(),
        "another site's local id names nobody"
    );
    let first = access_codes::issue(&mut conn, &who, "admin", 1_000, 60)
        .unwrap()
        .unwrap();
    let second = access_codes::issue(&mut conn, &by_local, "uk-a", 1_001, 60)
        .unwrap()
        .unwrap();
    assert_eq!(first.person, second.person);
    assert_eq!(
        access_codes::redeem(&mut conn, &first.code, 1_002).unwrap(),
        Redeemed::Locked,
        "replaced by the newer code"
    );
    assert_eq!(
        access_codes::redeem(&mut conn, &second.code, 1_002).unwrap(),
        Redeemed::SignedIn {
            code: second.id,
            person: second.person
        }
    );
    assert_eq!(
        access_codes::redeem(&mut conn, &second.code, 1_003).unwrap(),
        Redeemed::Used
    );
    let third = access_codes::issue(&mut conn, &who, "admin", 2_000, 60)
        .unwrap()
        .unwrap();
    let last = third.code.chars().last().unwrap();
    let wrong = format!(
        "{}{}",
        &third.code[..18],
        if last == 'A' { 'B' } else { 'A' }
    );
    for i in 1..=MAX_FAILURES {
        let expected = if i < MAX_FAILURES {
            Redeemed::Invalid
        } else {
            Redeemed::Locked
        };
        assert_eq!(
            access_codes::redeem(&mut conn, &wrong, 2_001).unwrap(),
            expected
        );
    }
    assert_eq!(
        access_codes::redeem(&mut conn, &third.code, 2_002).unwrap(),
        Redeemed::Locked
    );
    let fourth = access_codes::issue(&mut conn, &who, "admin", 3_000, 60)
        .unwrap()
        .unwrap();
    assert_eq!(
        access_codes::redeem(&mut conn, &fourth.code, 3_060).unwrap(),
        Redeemed::Expired
    );
    // Nothing of a code is stored in clear.
    let all = super::dump(&mut conn);
    for c in [&first.code, &second.code, &third.code, &fourth.code] {
        assert!(!all.contains(c.as_str()) && !all.contains(&c.replace('-', "")));
    }
}

/// Usage reports count per person of the calling site's domain, once per use;
/// the view shows them with the indexed audit entries, for that person only.
pub(super) fn usage_reports_and_the_view_are_per_person(b: &dyn Backend) {
    let k = keys();
    let mut conn = b.conn();
    let p = pseudonymise(
        &mut conn,
        &k,
        &site("uk-a"),
        &[
            item(
                &k,
                "1",
                &idat("Ute", "Lang", (1961, 4, 2), Sex::Female, None),
            ),
            item(
                &k,
                "2",
                &idat("Bernd", "Kurz", (1950, 1, 9), Sex::Male, None),
            ),
        ],
    )
    .unwrap();
    let report = UsageReport {
        project: "p1".into(),
        kind: UsageKind::ImageDelivery,
        date: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        pseudonyms: vec![p[0].site.clone(), p[0].site.clone()],
    };
    let (persons, unknown) = record_usage(&mut conn, &site("uk-a"), &report, 5).unwrap();
    assert_eq!((persons.len(), unknown), (1, 0), "the same use once");
    let (persons_b, unknown_b) = record_usage(&mut conn, &site("uk-b"), &report, 5).unwrap();
    assert_eq!(
        (persons_b.len(), unknown_b),
        (0, 2),
        "not uk-b's pseudonyms"
    );
    index_event(&mut conn, &persons, 7, "usage.reported", 5).unwrap();
    let a = person_view(&mut conn, persons[0]).unwrap().unwrap();
    assert_eq!(a.usage.len(), 1);
    assert_eq!(a.usage[0].project, "p1");
    assert_eq!(a.events.len(), 1);
    assert_eq!(a.events[0].audit_seq, 7);
    assert_eq!(a.sites, ["uk-a"]);
    let other: i64 = {
        let mut tx = conn.read_tx().unwrap();
        tx.query_one(
            "SELECT person_id FROM site_pseudonyms WHERE pseudonym = ?1",
            crate::db::params![p[1].site.as_str()],
            |r| r.get(0),
        )
        .unwrap()
    };
    let bview = person_view(&mut conn, other).unwrap().unwrap();
    assert!(bview.usage.is_empty() && bview.events.is_empty());
}
