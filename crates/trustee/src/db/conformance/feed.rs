//! The consent feed's change log on both backends.

use super::{Backend, consent, idat, item, keys, site};
use crate::db::consent_feed::page;
use crate::db::{insert_site_consents, params, pseudonymise};
use oncofed_model::Sex;
use serde_json::json;

/// Registrations and consents append to the log in version order; a page
/// holds only the asking site's pseudonyms; a person has one log row; a
/// short page says how far it got.
pub(super) fn the_feed_pages_a_sites_persons_in_version_order(b: &dyn Backend) {
    let k = keys();
    let mut conn = b.conn();
    let (uk_a, uk_b) = (site("uk-a"), site("uk-b"));
    let ida = idat("Ida", "Roth", (1950, 1, 1), Sex::Female, Some((b'R', 1)));
    let emil = idat("Emil", "Sand", (1951, 2, 2), Sex::Male, Some((b'S', 2)));
    let a = pseudonymise(
        &mut conn,
        &k,
        &uk_a,
        &[item(&k, "1", &ida), item(&k, "2", &emil)],
    )
    .unwrap();
    let b_side = pseudonymise(&mut conn, &k, &uk_b, &[item(&k, "9", &ida)]).unwrap();

    let first = page(&mut conn, &uk_a, 0, 10).unwrap();
    assert_eq!(first.entries.len(), 2);
    assert!(first.entries.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(first.through, first.head);
    let pseudonyms: Vec<_> = first.entries.iter().flat_map(|e| e.1.clone()).collect();
    assert!(pseudonyms.contains(&a[0].site) && pseudonyms.contains(&a[1].site));
    assert!(
        !pseudonyms.contains(&b_side[0].site),
        "another site's pseudonym"
    );
    let at_b = page(&mut conn, &uk_b, 0, 10).unwrap();
    assert_eq!(at_b.entries.len(), 1);
    assert_eq!(at_b.entries[0].1, vec![b_side[0].site.clone()]);

    // A consent for Ida: one new entry after the last page, at both sites.
    let objection = json!({"resourceType": "Consent", "status": "active", "dateTime": "2026-03-01",
        "provision": {"type": "deny", "code": [{"coding": [
            {"system": "urn:oncofed:consent-policy", "code": "gdng-objection"}]}]}});
    insert_site_consents(&mut conn, &uk_a, &[("1".into(), consent(objection))]).unwrap();
    let next = page(&mut conn, &uk_a, first.through, 10).unwrap();
    assert_eq!(next.entries.len(), 1);
    assert_eq!(next.entries[0].1, vec![a[0].site.clone()]);
    assert_eq!(
        next.entries[0].2.len(),
        1,
        "the consent travels with the entry"
    );
    assert!(next.entries[0].0 > first.through);
    assert_eq!(
        page(&mut conn, &uk_b, at_b.through, 10)
            .unwrap()
            .entries
            .len(),
        1
    );

    // One row per person; a page of one stops at its entry.
    let mut tx = conn.read_tx().unwrap();
    let rows: i64 = tx
        .query_one("SELECT COUNT(*) FROM consent_changes", params![], |r| {
            r.get(0)
        })
        .unwrap();
    drop(tx);
    assert_eq!(rows, 2);
    let short = page(&mut conn, &uk_a, 0, 1).unwrap();
    assert_eq!(short.entries.len(), 1);
    assert_eq!(short.through, short.entries[0].0);
    assert!(short.through < short.head);
}
