//! Re-contact through the trust centre (issue 5, item 5; R5): a stated reason, two
//! distinct people, the person's consent, and only the treating site ever sees it.

mod common;

use common::{person, refusal as status_of, start_centre};
use oncofed_model::{Pseudonym, Sex};
use oncofed_trustee::hash_token;
use oncofed_trustee_api::{RecontactReason, RecontactRequest, RecontactState, TrusteeClient};
use serde_json::json;

const ADMIN: &str = "admin-token-recontact-0123456789abcdef";
const ALICE: &str = "alice-token-recontact-0123456789abcdef";
const BOB: &str = "bob-token-recontact-0123456789abcdef";

fn site_token(site: &str) -> String {
    format!("{site}-token-recontact-0123456789abcdef")
}

async fn start(dir: &std::path::Path) -> String {
    let data = dir.join("tc");
    std::fs::create_dir_all(&data).unwrap();
    // Staff come from the staff file in the data directory, read at start.
    std::fs::write(
        data.join("staff"),
        format!(
            "# trust-centre staff\nalice:{}\nbob:{}\n",
            hash_token(ALICE),
            hash_token(BOB)
        ),
    )
    .unwrap();
    start_centre(data, 4, ADMIN, &["site-1", "site-2"], site_token).await
}

/// An MII broad consent permitting re-contact about additional findings (….5.3.31) only.
fn recontact_consent() -> serde_json::Value {
    json!({"resourceType": "Consent", "status": "active", "dateTime": "2025-01-01",
           "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2079"}],
           "provision": {"type": "deny", "period": {"start": "2025-01-01"}, "provision": [
               {"type": "permit", "period": {"start": "2025-01-01"},
                "code": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3",
                                      "code": "2.16.840.1.113883.3.1937.777.24.5.3.31"}]}]}]}})
}

fn request(p: &Pseudonym, reason_code: RecontactReason, reason: &str) -> RecontactRequest {
    RecontactRequest {
        pseudonym: p.clone(),
        reason_code,
        reason: reason.into(),
    }
}

fn entries(export: &str, action: &str) -> Vec<serde_json::Value> {
    export
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("entry").cloned())
        .filter(|e| e["action"] == action)
        .collect()
}

#[tokio::test]
async fn recontact_needs_a_reason_two_people_and_consent_and_reaches_only_the_treating_site() {
    let dir = tempfile::tempdir().unwrap();
    let url = start(dir.path()).await;
    let site1 = TrusteeClient::new(&url, &site_token("site-1")).unwrap();
    let site2 = TrusteeClient::new(&url, &site_token("site-2")).unwrap();
    let (alice, bob, admin) = (
        TrusteeClient::new(&url, ALICE).unwrap(),
        TrusteeClient::new(&url, BOB).unwrap(),
        TrusteeClient::new(&url, ADMIN).unwrap(),
    );
    let item = |id: &str, given: &str| {
        common::item(id, person(given, "Beispiel", (1966, 7, 1), Sex::Female))
    };
    let at1 = site1
        .pseudonymise(vec![item("p1", "Petra"), item("q1", "Quirin")])
        .await
        .unwrap();
    let at2 = site2.pseudonymise(vec![item("p2", "Petra")]).await.unwrap();
    let (p, q) = (at1[0].site.clone(), at1[1].site.clone());
    assert_eq!(
        at1[0].research, at2[0].research,
        "site-2 holds the same person"
    );
    admin
        .record_consent_as_staff(&p, recontact_consent())
        .await
        .unwrap();

    // A reason is required; sites and unknown tokens are not staff; unknown persons are 404.
    let finding = "Incidental finding: pathogenic BRCA2 variant in research sequencing";
    assert_eq!(
        status_of(
            alice
                .request_recontact(&request(&p, RecontactReason::IncidentalFinding, "  "))
                .await
                .unwrap_err()
        ),
        400
    );
    assert_eq!(
        status_of(
            site1
                .request_recontact(&request(&p, RecontactReason::IncidentalFinding, finding))
                .await
                .unwrap_err()
        ),
        401
    );
    let stranger = Pseudonym::from_digest(&[9; 10]);
    assert_eq!(
        status_of(
            alice
                .request_recontact(&request(
                    &stranger,
                    RecontactReason::IncidentalFinding,
                    finding
                ))
                .await
                .unwrap_err()
        ),
        404
    );

    // Filed by alice: pending, invisible to every site.
    let filed = alice
        .request_recontact(&request(&p, RecontactReason::IncidentalFinding, finding))
        .await
        .unwrap();
    assert_eq!(filed.state, RecontactState::Pending);
    assert_eq!(filed.approvals, vec!["alice"]);
    assert!(site1.recontacts().await.unwrap().is_empty());
    // The requester approving again is still one person.
    let again = alice.approve_recontact(filed.id).await.unwrap();
    assert_eq!(again.state, RecontactState::Pending);
    assert_eq!(again.approvals, vec!["alice"]);
    assert!(site1.recontacts().await.unwrap().is_empty());
    // A second, distinct person releases it.
    let released = bob.approve_recontact(filed.id).await.unwrap();
    assert_eq!(released.state, RecontactState::Released);
    assert_eq!(released.approvals, vec!["alice", "bob"]);
    assert_eq!(
        status_of(bob.approve_recontact(9_999).await.unwrap_err()),
        404
    );

    // Only the treating site (whose pseudonym was named) sees it, with the reason.
    let seen = site1.recontacts().await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].pseudonym, p);
    assert_eq!(seen[0].reason, finding);
    assert_eq!(seen[0].reason_code, RecontactReason::IncidentalFinding);
    assert_eq!(
        seen[0].local_ids,
        vec!["p1"],
        "the site finds its own patient"
    );
    assert!(
        site2.recontacts().await.unwrap().is_empty(),
        "another site holding the same person must not see it"
    );
    // A token that is no site's (a researcher's, say) gets nothing.
    let researcher = TrusteeClient::new(&url, "researcher-token-from-the-hub-0123456789").unwrap();
    assert_eq!(status_of(researcher.recontacts().await.unwrap_err()), 401);

    // Consent decides: no re-contact consent at all, or one for another purpose.
    let no_consent = alice
        .request_recontact(&request(&q, RecontactReason::IncidentalFinding, finding))
        .await
        .unwrap();
    assert_eq!(no_consent.state, RecontactState::RefusedByConsent);
    let after = bob.approve_recontact(no_consent.id).await.unwrap();
    assert_eq!(after.state, RecontactState::RefusedByConsent);
    let other_purpose = bob
        .request_recontact(&request(
            &p,
            RecontactReason::FurtherStudies,
            "Invitation to the follow-up study",
        ))
        .await
        .unwrap();
    assert_eq!(other_purpose.state, RecontactState::RefusedByConsent);
    assert_eq!(site1.recontacts().await.unwrap().len(), 1);

    // A withdrawal after filing stops a pending request at its second approval.
    let pending = bob
        .request_recontact(&request(
            &p,
            RecontactReason::IncidentalFinding,
            "Second finding",
        ))
        .await
        .unwrap();
    assert_eq!(pending.state, RecontactState::Pending);
    admin
        .record_consent_as_staff(
            &at2[0].site,
            json!({"resourceType": "Consent", "status": "active", "dateTime": "2026-02-01",
                   "provision": {"type": "deny", "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "withdrawal"}]}]}}),
        )
        .await
        .unwrap();
    let stopped = alice.approve_recontact(pending.id).await.unwrap();
    assert_eq!(stopped.state, RecontactState::RefusedByConsent);
    assert_eq!(site1.recontacts().await.unwrap().len(), 1);

    // Every step is audited; the reason text is not in the trail, only its hash.
    let export = admin.audit_export().await.unwrap();
    let requested = entries(&export, "recontact.requested");
    assert_eq!(requested.len(), 4);
    assert_eq!(requested[0]["actor"], "alice");
    assert_eq!(requested[0]["details"]["state"], "pending");
    assert!(!export.contains("BRCA2"));
    let approved = entries(&export, "recontact.approved");
    assert_eq!(
        approved
            .iter()
            .map(|e| e["actor"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["bob", "alice"]
    );
    // Alice's second approval of her own request, Bob's on a refused one.
    assert_eq!(entries(&export, "recontact.approval-ignored").len(), 2);
    // Delivered once, however often the site fetches.
    assert_eq!(entries(&export, "recontact.delivered").len(), 1);
}
