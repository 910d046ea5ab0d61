//! The withdrawal cascade on both backends: orders, receipts, sample destruction,
//! and the erasure of the withdrawn person's identifying data.

use super::{Backend, consent, count, dump, idat, item, keys, site};
use crate::db::deletions::{self, ReceiptOutcome};
use crate::db::{
    ERASED_IDAT, Refusal, check_consents, insert_admin_consent, params, pseudonymise,
    pseudonymise_each, resolve,
};
use oncofed_idat::{Address, IdentifyingData, Kvnr};
use oncofed_model::{DataCategory, Purpose, Sex};
use oncofed_trustee_api::{ConsentDecision, ConsentQuestion, DeletionReceipt};

pub(super) fn withdrawal() -> serde_json::Value {
    serde_json::json!({"resourceType": "Consent", "id": "w", "status": "active",
        "dateTime": "2026-03-01", "provision": {"type": "deny", "code": [{"coding": [
            {"system": "urn:oncofed:consent-policy", "code": "withdrawal"}]}]}})
}

/// The withdrawn person: every value distinctive enough to search for.
pub(super) fn withdrawn(kvnr: bool) -> IdentifyingData {
    IdentifyingData {
        given: vec!["Hieronymus".into()],
        family: Some("Zwetschgenbaum".into()),
        birth_name: Some("Pflaumenhain".into()),
        birth_date: chrono::NaiveDate::from_ymd_opt(1937, 11, 19),
        sex: Sex::Male,
        address: Some(Address {
            lines: vec!["Quittenweg 77".into()],
            postal_code: Some("98765".into()),
            city: Some("Kirschhausen".into()),
            country: None,
        }),
        kvnr: kvnr.then(|| Kvnr::from_parts(b'Z', &[9; 8]).unwrap()),
    }
}

const TRACES: [&str; 7] = [
    "hieronymus",
    "zwetschgenbaum",
    "pflaumenhain",
    "1937-11-19",
    "quittenweg",
    "98765",
    "kirschhausen",
];

/// Every stored comparison record (`linkage_records`), decoded.
fn stored_records(conn: &mut crate::db::Conn) -> Vec<oncofed_linkage::Record> {
    let mut tx = conn.read_tx().unwrap();
    tx.query("SELECT record FROM linkage_records", params![], |r| {
        r.get::<Vec<u8>>(0)
    })
    .unwrap()
    .iter()
    .map(|b| oncofed_linkage::Record::from_bytes(b).expect("readable record"))
    .collect()
}

pub(super) fn traces(conn: &mut crate::db::Conn) -> Vec<&'static str> {
    let all = dump(conn).to_lowercase();
    TRACES.into_iter().filter(|t| all.contains(t)).collect()
}

/// A withdrawal orders deletion at every site holding the person, and erases the
/// person's IDAT: no value of it is left in any column of any table, no blocking
/// entry or review item names their records; other persons keep theirs. A site
/// registering the person again is refused with nothing stored (the tombstone).
pub(super) fn a_withdrawal_orders_deletions_and_erases_every_trace_of_idat(b: &dyn Backend) {
    let k = keys();
    let mut conn = b.conn();
    let w = withdrawn(true);
    let bystander = idat("Ida", "Roth", (1950, 1, 1), Sex::Female, Some((b'R', 1)));
    let a = pseudonymise(
        &mut conn,
        &k,
        &site("uk-a"),
        &[item(&k, "w-a", &w), item(&k, "keep", &bystander)],
    )
    .unwrap();
    let bb = pseudonymise(&mut conn, &k, &site("uk-b"), &[item(&k, "w-b", &w)]).unwrap();
    assert_eq!(a[0].research, bb[0].research);
    // Same insurance number, other sex: vetoed, queued for review against w-a.
    let mut other = idat("Hildegard", "Apfel", (1941, 4, 4), Sex::Female, None);
    other.kvnr = w.kvnr.clone();
    pseudonymise(&mut conn, &k, &site("uk-c"), &[item(&k, "c", &other)]).unwrap();
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM review_items", params![]),
        1
    );
    assert_eq!(traces(&mut conn).len(), TRACES.len());

    insert_admin_consent(&mut conn, a[0].site.as_str(), &consent(withdrawal())).unwrap();
    assert!(deletions::sweep_due(&mut conn).unwrap());
    let issued = deletions::sweep(&mut conn, &k).unwrap();
    assert_eq!(issued.erased, 1);
    let mut ordered: Vec<&str> = issued.deletions.iter().map(|d| d.1.as_str()).collect();
    ordered.sort_unstable();
    assert_eq!(ordered, ["uk-a", "uk-b"]);
    assert_eq!(issued.samples.len(), 1);
    assert!(!deletions::sweep_due(&mut conn).unwrap());

    assert_eq!(traces(&mut conn), Vec::<&str>::new(), "IDAT left behind");
    let of_w = "FROM linkage_blocks WHERE (site = 'uk-a' AND local_id = 'w-a')
                OR (site = 'uk-b' AND local_id = 'w-b')";
    assert_eq!(
        count(&mut conn, &format!("SELECT count(*) {of_w}"), params![]),
        0
    );
    // The comparison records are binary (the dump shows them as hex): none of
    // the withdrawn person's is left, and none decodes to their name.
    let of_w_records = of_w.replace("linkage_blocks", "linkage_records");
    assert_eq!(
        count(
            &mut conn,
            &format!("SELECT count(*) {of_w_records}"),
            params![]
        ),
        0
    );
    assert!(
        !stored_records(&mut conn)
            .iter()
            .any(|r| r.family == "zwetschgenbaum")
    );
    assert!(stored_records(&mut conn).iter().any(|r| r.family == "roth"));
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM review_items", params![]),
        0
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM local_ids WHERE idat = ?1",
            params![ERASED_IDAT]
        ),
        2
    );
    assert!(
        dump(&mut conn).contains("Roth"),
        "the bystander keeps their IDAT"
    );
    assert!(
        count(
            &mut conn,
            "SELECT count(*) FROM linkage_blocks WHERE local_id = 'keep'",
            params![]
        ) > 0
    );

    // The person stays withdrawn and resolvable; their pseudonyms keep working.
    let today = chrono::Utc::now().date_naive();
    let q = ConsentQuestion {
        pseudonym: a[0].site.clone(),
        category: DataCategory::Clinical,
        origin: None,
    };
    let d = check_consents(&mut conn, &site("uk-a"), Purpose::Research, today, &[q]).unwrap();
    assert_eq!(d, vec![ConsentDecision::DenyWithdrawn]);
    assert_eq!(
        resolve(&mut conn, &k, &site("uk-b"), &["w-b".into()]).unwrap()[0],
        Some(bb[0].clone())
    );

    // The tombstone: the site sends the IDAT again, or another site registers the
    // same identity without an insurance number: refused, nothing stored.
    let before = stored_rows(&mut conn);
    let again = pseudonymise_each(&mut conn, &k, &site("uk-a"), &[item(&k, "w-a", &w)]).unwrap();
    assert!(matches!(again[0], Err(Refusal::Withdrawn { .. })));
    let d4 = pseudonymise_each(
        &mut conn,
        &k,
        &site("uk-d"),
        &[item(&k, "w-d", &withdrawn(false))],
    )
    .unwrap();
    assert!(matches!(d4[0], Err(Refusal::Withdrawn { .. })));
    assert_eq!(stored_rows(&mut conn), before, "a refused record left rows");
    assert_eq!(traces(&mut conn), Vec::<&str>::new(), "IDAT stored again");
    assert!(
        deletions::missing_orders(&mut conn, &site("uk-d"))
            .unwrap()
            .is_empty()
    );

    // A store written before tombstones may hold a late registration (a site
    // pseudonym without an order): the catch-up still orders its deletion.
    let person = count(
        &mut conn,
        "SELECT person_id FROM local_ids WHERE site = 'uk-a' AND local_id = 'w-a'",
        params![],
    );
    let mut tx = conn.write_tx().unwrap();
    let p = crate::db::person_by_row(&mut tx, person).unwrap();
    crate::db::register_site_pseudonym(&mut tx, &k, &site("uk-old"), p).unwrap();
    tx.commit().unwrap();
    let missing = deletions::missing_orders(&mut conn, &site("uk-old")).unwrap();
    assert_eq!(missing.len(), 1);
    let late = deletions::issue_missing(&mut conn, &k, &missing).unwrap();
    assert_eq!(late.deletions.len(), 1);
    let orders = deletions::open_orders(&mut conn, &site("uk-old")).unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(
        orders[0].pseudonym,
        k.site_pseudonym(&site("uk-old"), &p.pid)
    );
    assert!(
        deletions::missing_orders(&mut conn, &site("uk-old"))
            .unwrap()
            .is_empty()
    );
}

/// Row counts of every table a pseudonymisation writes to.
pub(super) fn stored_rows(conn: &mut crate::db::Conn) -> Vec<i64> {
    [
        "persons",
        "local_ids",
        "site_pseudonyms",
        "blocking_keys",
        "linkage_blocks",
        "review_items",
        "consent_changes",
    ]
    .iter()
    .map(|t| count(conn, &format!("SELECT count(*) FROM {t}"), params![]))
    .collect()
}

/// The tombstone plays against a site that tries to bring a withdrawn person
/// back: under a new local id at the same site (the same-site veto used to make
/// that a new person), after a move, after a marriage, with another given-name
/// form, a wrong day or year of birth, names that sound alike, by insurance
/// number alone with other names. Each is refused with nothing stored. A
/// namesake born on another date (two of its parts differ), and one with
/// another insurance number, are registered as usual.
pub(super) fn a_withdrawn_person_is_refused_at_every_door(b: &dyn Backend) {
    let k = keys();
    let mut conn = b.conn();
    let w = withdrawn(true);
    let a = pseudonymise(&mut conn, &k, &site("uk-a"), &[item(&k, "w-a", &w)]).unwrap();
    insert_admin_consent(&mut conn, a[0].site.as_str(), &consent(withdrawal())).unwrap();
    assert_eq!(deletions::sweep(&mut conn, &k).unwrap().erased, 1);
    let before = stored_rows(&mut conn);

    let without_number = |f: &dyn Fn(&mut IdentifyingData)| {
        let mut v = withdrawn(false);
        f(&mut v);
        v
    };
    let moved = without_number(&|v| {
        v.address = Some(Address {
            lines: vec!["Birnenallee 3".into()],
            postal_code: Some("12345".into()),
            city: Some("Apfelstadt".into()),
            country: None,
        })
    });
    let married = without_number(&|v| v.family = Some("Mirabellenhof".into()));
    let other_given = without_number(&|v| v.given = vec!["Hieronimus".into()]);
    let born = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d);
    let wrong_day = without_number(&|v| v.birth_date = born(1937, 11, 18));
    let wrong_year = without_number(&|v| v.birth_date = born(1973, 11, 19));
    let sound_alike = without_number(&|v| {
        v.given = vec!["Hieronimus".into()];
        v.family = Some("Zwetschgenbaun".into());
    });
    let mut number_only = idat("Karl", "Korn", (1950, 1, 1), Sex::Male, None);
    number_only.kvnr = w.kvnr.clone();
    // (site, local id, IDAT, whether staff could admit the record).
    let attempts = [
        ("uk-a", "w-a-new", w.clone(), false),
        ("uk-b", "moved", moved, true),
        ("uk-b", "married", married, true),
        ("uk-c", "given", other_given, true),
        ("uk-c", "day", wrong_day, true),
        ("uk-c", "year", wrong_year, true),
        ("uk-c", "sound-alike", sound_alike, true),
        ("uk-c", "number", number_only, false),
    ];
    for (s, local, v, admissible) in &attempts {
        let out = pseudonymise_each(&mut conn, &k, &site(s), &[item(&k, local, v)]).unwrap();
        assert!(
            matches!(out[0], Err(Refusal::Withdrawn { admissible: a, .. }) if a == *admissible),
            "{s}/{local}: {:?}",
            out[0]
        );
    }
    assert_eq!(stored_rows(&mut conn), before, "a refused record left rows");
    assert_eq!(traces(&mut conn), Vec::<&str>::new());

    // Not the withdrawn person: another birth date (two parts differ); another
    // insurance number.
    let mut other_day = withdrawn(false);
    other_day.birth_date = chrono::NaiveDate::from_ymd_opt(1937, 4, 3);
    let mut other_number = withdrawn(false);
    other_number.kvnr = Some(Kvnr::from_parts(b'Y', &[1; 8]).unwrap());
    let out = pseudonymise_each(
        &mut conn,
        &k,
        &site("uk-b"),
        &[item(&k, "day", &other_day), item(&k, "nr", &other_number)],
    )
    .unwrap();
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    assert_ne!(out[0].as_ref().unwrap().research, a[0].research);
    assert_ne!(out[1].as_ref().unwrap().research, a[0].research);
}

/// Receipts are checked and recorded once; sample-destruction orders list the
/// person's pseudonyms and are confirmed once; a second sweep issues nothing.
pub(super) fn receipts_and_sample_destructions_are_recorded_once(b: &dyn Backend) {
    let k = keys();
    let mut conn = b.conn();
    let p = pseudonymise(
        &mut conn,
        &k,
        &site("uk-a"),
        &[item(
            &k,
            "1",
            &idat("Eva", "Berg", (1960, 2, 3), Sex::Female, Some((b'E', 5))),
        )],
    )
    .unwrap();
    pseudonymise(
        &mut conn,
        &k,
        &site("uk-b"),
        &[item(
            &k,
            "9",
            &idat("Eva", "Berg", (1960, 2, 3), Sex::Female, Some((b'E', 5))),
        )],
    )
    .unwrap();
    insert_admin_consent(&mut conn, p[0].site.as_str(), &consent(withdrawal())).unwrap();
    deletions::sweep(&mut conn, &k).unwrap();
    let again = deletions::sweep(&mut conn, &k).unwrap();
    assert!(again.deletions.is_empty() && again.samples.is_empty() && again.erased == 0);

    let orders = deletions::open_orders(&mut conn, &site("uk-a")).unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].pseudonym, p[0].site);
    let o = &orders[0];
    let good = DeletionReceipt::new(o, 1, 7, 0, "2026-11-28T22:00:00Z".into());
    let mut forged = good.clone();
    forged.facts_deleted = 6;
    let record = |conn: &mut crate::db::Conn, s: &str, r: &DeletionReceipt| {
        deletions::record_receipt(conn, &site(s), o.id, r).unwrap()
    };
    assert!(matches!(
        record(&mut conn, "uk-a", &forged),
        ReceiptOutcome::Invalid(_)
    ));
    let incomplete = DeletionReceipt::new(o, 1, 7, 1, "2026-11-28T22:00:00Z".into());
    assert!(matches!(
        record(&mut conn, "uk-a", &incomplete),
        ReceiptOutcome::Invalid(_)
    ));
    assert_eq!(
        record(&mut conn, "uk-b", &good),
        ReceiptOutcome::NoSuchOrder
    );
    assert_eq!(record(&mut conn, "uk-a", &good), ReceiptOutcome::Recorded);
    assert_eq!(
        record(&mut conn, "uk-a", &good),
        ReceiptOutcome::AlreadyDone
    );
    assert!(
        deletions::open_orders(&mut conn, &site("uk-a"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        deletions::open_orders(&mut conn, &site("uk-b"))
            .unwrap()
            .len(),
        1
    );

    let samples = deletions::sample_destructions(&mut conn).unwrap();
    assert_eq!(samples.len(), 1);
    let sites: Vec<&str> = samples[0]
        .pseudonyms
        .iter()
        .map(|(s, _)| s.as_str())
        .collect();
    assert_eq!(sites, ["uk-a", "uk-b"]);
    assert_eq!(
        deletions::confirm_samples(&mut conn, samples[0].id, "carol").unwrap(),
        Some(true)
    );
    assert_eq!(
        deletions::confirm_samples(&mut conn, samples[0].id, "carol").unwrap(),
        Some(false)
    );
    assert_eq!(
        deletions::confirm_samples(&mut conn, samples[0].id + 1, "carol").unwrap(),
        None
    );
    let listed = deletions::sample_destructions(&mut conn).unwrap();
    assert_eq!(listed[0].confirmed_by.as_deref(), Some("carol"));
}

/// Through the service's handle (`Db`, as `GET /v1/deletions` runs it): a sweep
/// that erased IDAT is followed by the backend's clean-up, a truncating WAL
/// checkpoint on SQLite (no byte of the IDAT left in its files) and a `VACUUM` of
/// the erased tables on PostgreSQL.
pub(super) fn the_service_cleans_up_after_an_erasure(b: &dyn Backend) {
    let k = keys();
    let db = b.db(&k.fingerprint()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let kk = k.clone();
        let p = db
            .write(move |c| {
                pseudonymise(c, &kk, &site("uk-a"), &[item(&kk, "w", &withdrawn(true))])
            })
            .await
            .unwrap();
        let row = consent(withdrawal());
        db.write(move |c| insert_admin_consent(c, p[0].site.as_str(), &row))
            .await
            .unwrap();
        let kk = k.clone();
        let issued = db.write(move |c| deletions::sweep(c, &kk)).await.unwrap();
        assert_eq!(issued.erased, 1);
        db.after_erasure().await;
    });
    drop(db);
    b.check_after_erasure(&TRACES);
    assert_eq!(traces(&mut b.conn()), Vec::<&str>::new());
}
