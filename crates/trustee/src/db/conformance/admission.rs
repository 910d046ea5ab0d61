//! Tombstones against a site and a namesake on both backends: staff admit one
//! refused record, and the admission opens no other door; the tombstone filter
//! is rebuilt when lost and grows with the erasures.

use super::withdrawal::{stored_rows, traces, withdrawal, withdrawn};
use super::{consent, count, item, keys, site};
use crate::db::admissions::{Admission, AdmitError, admit};
use crate::db::{Refusal, insert_admin_consent, params, pseudonymise, pseudonymise_each};
use crate::keys::Keys;
use oncofed_idat::IdentifyingData;

/// Registers the withdrawn person at `uk-a` as `w-a`, withdraws and erases them.
/// Returns their store row and research pseudonym.
fn erased_person(conn: &mut crate::db::Conn, k: &Keys) -> (i64, oncofed_model::Pseudonym) {
    let a = pseudonymise(conn, k, &site("uk-a"), &[item(k, "w-a", &withdrawn(true))]).unwrap();
    insert_admin_consent(conn, a[0].site.as_str(), &consent(withdrawal())).unwrap();
    assert_eq!(crate::db::deletions::sweep(conn, k).unwrap().erased, 1);
    let row = count(
        conn,
        "SELECT person_id FROM local_ids WHERE site = 'uk-a' AND local_id = 'w-a'",
        params![],
    );
    (row, a[0].research.clone())
}

/// A namesake of the withdrawn person: same names, sex and postal code, born a
/// day later, no insurance number. The tombstone cannot tell them apart.
fn namesake() -> IdentifyingData {
    let mut v = withdrawn(false);
    v.birth_date = chrono::NaiveDate::from_ymd_opt(1937, 11, 20);
    v
}

fn send(
    conn: &mut crate::db::Conn,
    k: &Keys,
    at: &str,
    local: &str,
    v: &IdentifyingData,
) -> Result<oncofed_trustee_api::PseudonymPair, Refusal> {
    pseudonymise_each(conn, k, &site(at), &[item(k, local, v)])
        .unwrap()
        .remove(0)
}

fn admission<'a>(site: &'a str, local_id: &'a str, idat: &'a IdentifyingData) -> Admission<'a> {
    Admission {
        site,
        local_id,
        idat,
        reviewer: "A. Schmidt",
        reason: "passport checked: another birth date",
    }
}

/// The site's namesake is refused; staff admit that one record; sent again it
/// is a person of its own. The admission holds for that site, local id and
/// identity only, an audit failure stores nothing, and refusals by local id or
/// insurance number cannot be admitted.
pub(super) fn staff_admit_one_refused_namesake_and_nothing_else(b: &dyn super::Backend) {
    let k = keys();
    let mut conn = b.conn();
    let (withdrawn_row, withdrawn_research) = erased_person(&mut conn, &k);
    let n = namesake();
    assert!(matches!(
        send(&mut conn, &k, "uk-b", "n-1", &n),
        Err(Refusal::Withdrawn {
            admissible: true,
            ..
        })
    ));
    let before = stored_rows(&mut conn);

    // An admission whose audit entry fails is not stored.
    let failed = admit(&mut conn, &k, &admission("uk-b", "n-1", &n), 1, |_| {
        Err("audit trail unavailable")
    })
    .unwrap();
    assert_eq!(failed, Err("audit trail unavailable"));
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM tombstone_admissions",
            params![]
        ),
        0
    );
    assert!(send(&mut conn, &k, "uk-b", "n-1", &n).is_err());

    let met = admit(&mut conn, &k, &admission("uk-b", "n-1", &n), 2, |_| {
        Ok::<_, ()>(())
    })
    .unwrap()
    .unwrap();
    assert_eq!(met, withdrawn_row);
    // The admission keeps no IDAT.
    assert_eq!(traces(&mut conn), Vec::<&str>::new());
    assert_eq!(stored_rows(&mut conn), before);

    // Not at another site, not under another local id, not with other IDAT
    // (the withdrawn person's own, without the number) under the admitted id.
    assert!(send(&mut conn, &k, "uk-c", "n-1", &n).is_err());
    assert!(send(&mut conn, &k, "uk-b", "n-2", &n).is_err());
    assert!(send(&mut conn, &k, "uk-b", "n-1", &withdrawn(false)).is_err());
    assert_eq!(stored_rows(&mut conn), before, "a refused record left rows");

    // The admitted record itself: a person of its own, found again.
    let pair = send(&mut conn, &k, "uk-b", "n-1", &n).expect("admitted");
    assert_ne!(pair.research, withdrawn_research);
    assert_eq!(send(&mut conn, &k, "uk-b", "n-1", &n).unwrap(), pair);

    // Nothing to admit: registered already, or refused by nothing.
    let other = super::idat(
        "Erika",
        "Muster",
        (1960, 2, 3),
        oncofed_model::Sex::Female,
        None,
    );
    for (s, local, v) in [("uk-b", "n-1", &n), ("uk-b", "erika", &other)] {
        let r = admit(&mut conn, &k, &admission(s, local, v), 3, |_| {
            Ok::<_, ()>(())
        });
        assert!(matches!(r, Err(AdmitError::NotRefused)), "{s}/{local}");
    }
    // Final: the withdrawn person's local id, and their insurance number.
    let final_ones = [
        ("uk-a", "w-a", withdrawn(false), "local_id"),
        ("uk-d", "w-d", withdrawn(true), "idat.kvnr"),
    ];
    for (s, local, v, why) in &final_ones {
        let r = admit(&mut conn, &k, &admission(s, local, v), 4, |_| {
            Ok::<_, ()>(())
        });
        assert!(
            matches!(r, Err(AdmitError::Final { field, .. }) if field == *why),
            "{s}/{local}"
        );
        assert!(matches!(
            send(&mut conn, &k, s, local, v),
            Err(Refusal::Withdrawn {
                admissible: false,
                ..
            })
        ));
    }
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM tombstone_admissions",
            params![]
        ),
        1
    );
}

/// The filter that spares the tombstone lookups: a store that lost it (or was
/// written before it) rebuilds it and still refuses; erasures past its size
/// grow it, and every key stays found.
pub(super) fn the_tombstone_filter_is_rebuilt_and_grows(b: &dyn super::Backend) {
    let k = keys();
    let mut conn = b.conn();
    let (row, _) = erased_person(&mut conn, &k);
    let mut tx = conn.write_tx().unwrap();
    tx.execute(
        "DELETE FROM meta WHERE name = 'tombstone_filter'",
        params![],
    )
    .unwrap();
    tx.commit().unwrap();
    assert!(send(&mut conn, &k, "uk-b", "n-1", &namesake()).is_err());
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM meta WHERE name = 'tombstone_filter'",
            params![]
        ),
        1
    );

    // More keys than the smallest filter holds (4,096), as erasures add them.
    let many: Vec<crate::keys::BlockingKey> = (0u32..5_000)
        .map(|i| {
            use sha2::{Digest, Sha256};
            Sha256::digest(i.to_le_bytes()).into()
        })
        .collect();
    let mut tx = conn.write_tx().unwrap();
    for key in &many {
        tx.execute(
            "INSERT INTO blocking_keys (key, person_id) VALUES (?1, ?2)",
            params![&key[..], row],
        )
        .unwrap();
    }
    crate::db::tombstones::add(&mut tx, &many).unwrap();
    let filter = crate::db::tombstones::load(&mut tx).unwrap();
    tx.commit().unwrap();
    assert!(many.iter().all(|key| filter.may_contain(key)));
    let probes = k.tombstone_probes(&oncofed_linkage::Record::from_idat("", &withdrawn(false)));
    assert!(probes.iter().all(|p| filter.may_contain(p)));
    assert!(send(&mut conn, &k, "uk-b", "n-2", &namesake()).is_err());
    let blob = count(
        &mut conn,
        "SELECT CAST(length(value) AS BIGINT) FROM meta WHERE name = 'tombstone_filter'",
        params![],
    );
    assert!(
        blob > 8 * 1024 + 12,
        "the filter did not grow: {blob} bytes"
    );
}
