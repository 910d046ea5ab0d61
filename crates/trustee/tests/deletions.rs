//! The trust centre's side of the withdrawal cascade (issue 5, item 4): orders per
//! site, once per withdrawal; a site that registers the person later is refused
//! (the tombstone, issue 18); receipts are checked; sample-destruction orders for
//! the biobank.

mod common;

use common::{clients, oncofed_withdrawal as withdrawal, person, start_centre, status_of};
use oncofed_model::Sex;
use oncofed_trustee_api::{DeletionReceipt, PseudonymiseItem, TrusteeClient};
use serde_json::json;

const ADMIN: &str = "admin-token-deletions-0123456789abcdef";
const SITES: [&str; 3] = ["site-1", "site-2", "site-3"];

fn site_token(site: &str) -> String {
    format!("{site}-token-deletions-0123456789abcdef")
}

fn item(local_id: &str, given: &str) -> PseudonymiseItem {
    common::item(local_id, person(given, "Beispiel", (1950, 2, 3), Sex::Male))
}

#[tokio::test]
async fn orders_once_per_withdrawal_per_site_and_refuses_late_registrations() {
    let dir = tempfile::tempdir().unwrap();
    let url = start_centre(dir.path().join("tc"), 6, ADMIN, &SITES, site_token).await;
    let sites = clients(&url, &SITES, site_token);
    let staff = TrusteeClient::new(&url, ADMIN).unwrap();
    let p1 = sites[0]
        .pseudonymise(vec![item("a", "Paul"), item("b", "Otto")])
        .await
        .unwrap();
    let p2 = sites[1]
        .pseudonymise(vec![item("x", "Paul")])
        .await
        .unwrap();

    // Nothing to do before a withdrawal; a consent that is no withdrawal orders nothing.
    assert!(sites[0].deletion_orders().await.unwrap().is_empty());
    staff
        .record_consent_as_staff(
            &p1[1].site,
            json!({"resourceType": "Consent", "status": "active", "dateTime": "2026-03-01",
                   "provision": {"type": "deny", "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "gdng-objection"}]}]}}),
        )
        .await
        .unwrap();
    assert!(sites[0].deletion_orders().await.unwrap().is_empty());

    // A withdrawal recorded through site-2's pseudonym orders deletion at both sites.
    staff
        .record_consent_as_staff(&p2[0].site, withdrawal())
        .await
        .unwrap();
    let o1 = sites[0].deletion_orders().await.unwrap();
    let o2 = sites[1].deletion_orders().await.unwrap();
    assert_eq!(o1.len(), 1);
    assert_eq!(o1[0].pseudonym, p1[0].site);
    assert_eq!(o2.len(), 1);
    assert_eq!(o2[0].pseudonym, p2[0].site);
    assert!(sites[2].deletion_orders().await.unwrap().is_empty());

    // The same withdrawal again, sent by a site, orders nothing new.
    sites[0]
        .submit_consents(vec![oncofed_trustee_api::ConsentItem {
            local_id: "a".into(),
            consent: withdrawal(),
        }])
        .await
        .unwrap();
    assert_eq!(sites[0].deletion_orders().await.unwrap(), o1);

    // Receipts: the digest must match, nothing may remain, only the own order.
    let good = DeletionReceipt::new(&o1[0], 1, 7, 0, "2026-11-28T22:00:00Z".into());
    let mut forged = good.clone();
    forged.facts_deleted = 6;
    assert_eq!(
        status_of(sites[0].confirm_deletion(o1[0].id, &forged).await),
        400
    );
    let incomplete = DeletionReceipt::new(&o1[0], 1, 7, 1, "2026-11-28T22:00:00Z".into());
    assert_eq!(
        status_of(sites[0].confirm_deletion(o1[0].id, &incomplete).await),
        400
    );
    assert_eq!(
        status_of(sites[1].confirm_deletion(o1[0].id, &good).await),
        404
    );
    assert!(sites[0].confirm_deletion(o1[0].id, &good).await.unwrap());
    assert!(!sites[0].confirm_deletion(o1[0].id, &good).await.unwrap());
    assert!(sites[0].deletion_orders().await.unwrap().is_empty());

    // site-3 registers the person after the withdrawal (the tombstone): refused
    // alone with a per-record error naming no value; the other record of the batch
    // is registered; nothing of the refused one is stored, so no order is due.
    let p3 = sites[2]
        .pseudonymise_each(vec![item("z", "Paul"), item("y", "Ulrich")])
        .await
        .unwrap();
    let refused = p3[0].as_ref().unwrap_err();
    assert_eq!(refused.code, oncofed_trustee_api::ItemError::WITHDRAWN);
    assert!(
        refused.message.starts_with("items[0]: "),
        "{}",
        refused.message
    );
    for value in ["Paul", "paul", "Beispiel", "1950"] {
        assert!(!refused.message.contains(value), "{}", refused.message);
    }
    assert!(p3[1].is_ok());
    assert!(sites[2].deletion_orders().await.unwrap().is_empty());
    assert_eq!(
        sites[2].resolve(vec!["z".into()]).await.unwrap(),
        vec![None],
        "the refused record was stored"
    );

    // One sample-destruction order, listing the person's pseudonyms at both sites.
    let samples = staff.sample_destructions().await.unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].pseudonyms.len(), 2);
    assert_eq!(status_of(sites[0].sample_destructions().await), 401);
    assert_eq!(
        status_of(staff.confirm_sample_destruction(samples[0].id + 1).await),
        404
    );
}

/// A namesake of a withdrawn person, refused by the tombstone, is admitted by
/// staff over HTTP (audited without local id or IDAT) and then registered as a
/// person of their own; only the admin token may admit, and a record nothing
/// refuses or one of the withdrawn person's own local ids cannot be admitted.
#[tokio::test]
async fn staff_admit_a_refused_namesake_and_the_site_sends_it_again() {
    use oncofed_trustee_api::linkage::api::AdmissionRequest;
    use oncofed_trustee_api::linkage::client::LinkageClient;
    let dir = tempfile::tempdir().unwrap();
    let url = start_centre(dir.path().join("tc"), 7, ADMIN, &SITES, site_token).await;
    let sites = clients(&url, &SITES, site_token);
    let staff = TrusteeClient::new(&url, ADMIN).unwrap();
    let p1 = sites[0]
        .pseudonymise(vec![item("a", "Paul")])
        .await
        .unwrap();
    staff
        .record_consent_as_staff(&p1[0].site, withdrawal())
        .await
        .unwrap();
    assert_eq!(sites[0].deletion_orders().await.unwrap().len(), 1);

    // Another Paul Beispiel born the same day, at site-2: refused, and the
    // message says that staff can admit a different person.
    let refused = sites[1]
        .pseudonymise_each(vec![item("namesake", "Paul")])
        .await
        .unwrap()
        .remove(0)
        .unwrap_err();
    assert_eq!(refused.code, oncofed_trustee_api::ItemError::WITHDRAWN);
    assert!(refused.message.contains("admit"), "{}", refused.message);

    let request = |local_id: &str, given: &str| AdmissionRequest {
        site: "site-2".into(),
        local_id: local_id.into(),
        idat: person(given, "Beispiel", (1950, 2, 3), Sex::Male),
        reviewer: "A. Schmidt".into(),
        reason: "ID card: another place of birth".into(),
    };
    let site_client = LinkageClient::new(&url, &site_token("site-2")).unwrap();
    assert_eq!(
        status_of(site_client.admit(&request("namesake", "Paul")).await),
        401
    );
    let linkage = LinkageClient::new(&url, ADMIN).unwrap();
    // Nothing refuses Otto Beispiel; site-1's `a` was the withdrawn person's.
    assert_eq!(
        status_of(linkage.admit(&request("otto", "Otto")).await),
        400
    );
    let mut theirs = request("a", "Paul");
    theirs.site = "site-1".into();
    assert_eq!(status_of(linkage.admit(&theirs).await), 400);
    let mut blank = request("namesake", "Paul");
    blank.reviewer = " ".into();
    assert_eq!(status_of(linkage.admit(&blank).await), 400);

    let admitted = linkage.admit(&request("namesake", "Paul")).await.unwrap();
    assert_eq!(
        (admitted.site.as_str(), admitted.local_id.as_str()),
        ("site-2", "namesake")
    );
    let pair = sites[1]
        .pseudonymise(vec![item("namesake", "Paul")])
        .await
        .unwrap();
    assert_ne!(pair[0].research, p1[0].research);
    // Still refused anywhere else.
    let again = sites[2]
        .pseudonymise_each(vec![item("namesake", "Paul")])
        .await
        .unwrap();
    assert!(again[0].is_err());

    let export = staff.audit_export().await.unwrap();
    assert!(
        export.contains("linkage.tombstone.admitted"),
        "admission not audited"
    );
    for secret in ["namesake", "Paul", "Beispiel", "1950", "ID card"] {
        assert!(!export.contains(secret), "audit trail leaks {secret}");
    }
}
