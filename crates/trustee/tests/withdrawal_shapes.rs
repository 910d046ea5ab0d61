//! Withdrawals of every shape produce the deletion and sample-destruction
//! orders (issue 10, case 7 and "what to build" 3): the OncoFed `withdrawal`
//! code, an MII Komplettwiderruf with `urn:oid:` or bare-OID `policy.uri`, a
//! bare root deny without codes under a Komplettwiderruf policy, and a gICS
//! withdrawal marked only by its template type. A bare deny without any
//! withdrawal marker is a refusal: it denies everything but orders nothing.
//! Also the consent check with a fact's date of origin (collection window).

mod common;

use chrono::NaiveDate;
use common::{clients, item, oncofed_withdrawal, person, start_centre};
use oncofed_model::{DataCategory, Purpose, Sex};
use oncofed_trustee_api::{ConsentDecision, ConsentQuestion, PseudonymPair, TrusteeClient};
use serde_json::{Value, json};

const ADMIN: &str = "admin-token-withdrawal-shapes-0123456789";
const MII: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3";

fn site_token(site: &str) -> String {
    format!("{site}-token-withdrawal-shapes-0123456789")
}

async fn start(dir: &std::path::Path) -> String {
    start_centre(dir.join("tc"), 7, ADMIN, &["site-1", "site-2"], site_token).await
}

fn code(arc: u16) -> Value {
    json!([{"coding": [{"system": MII, "code": format!("2.16.840.1.113883.3.1937.777.24.5.3.{arc}")}]}])
}

/// A broad consent 1.7.2 from 2024: PATDAT and BIOMAT (genetic opt-in).
fn broad_consent() -> Value {
    let permits: Vec<Value> = [6, 7, 8, 9, 19, 20, 22, 23]
        .iter()
        .map(|&a| json!({"type": "permit", "period": {"start": "2024-01-10"}, "code": code(a)}))
        .collect();
    json!({"resourceType": "Consent", "id": "bc", "status": "active", "dateTime": "2024-01-10",
           "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2079"}],
           "provision": {"type": "deny", "period": {"start": "2024-01-10"}, "provision": permits}})
}

/// Two sites holding the same person with a broad consent on record.
async fn setup(url: &str) -> (Vec<TrusteeClient>, TrusteeClient, Vec<PseudonymPair>) {
    let sites = clients(url, &["site-1", "site-2"], site_token);
    let staff = TrusteeClient::new(url, ADMIN).unwrap();
    let mut held = Vec::new();
    for (i, s) in sites.iter().enumerate() {
        let karl = person("Karl", "Beispiel", (1948, 5, 6), Sex::Male);
        let mine = s.pseudonymise(vec![item(&format!("k{i}"), karl)]).await;
        held.extend(mine.unwrap());
    }
    staff
        .record_consent_as_staff(&held[0].site, broad_consent())
        .await
        .unwrap();
    (sites, staff, held)
}

async fn genetic(site: &TrusteeClient, held: &PseudonymPair, date: &str) -> ConsentDecision {
    let q = ConsentQuestion {
        pseudonym: held.site.clone(),
        category: DataCategory::Genetic,
        origin: None,
    };
    let on = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    site.check_consent(Purpose::Research, on, vec![q])
        .await
        .unwrap()[0]
}

/// Records `withdrawal` and checks: both sites get one deletion order, the
/// biobank one sample-destruction order, genetic data is denied as withdrawn.
async fn assert_withdrawal_orders(withdrawal: Value) {
    let dir = tempfile::tempdir().unwrap();
    let url = start(dir.path()).await;
    let (sites, staff, held) = setup(&url).await;
    assert_eq!(
        genetic(&sites[0], &held[0], "2025-06-01").await,
        ConsentDecision::Permit
    );
    assert!(sites[0].deletion_orders().await.unwrap().is_empty());
    staff
        .record_consent_as_staff(&held[1].site, withdrawal)
        .await
        .unwrap();
    for (s, h) in sites.iter().zip(&held) {
        let orders = s.deletion_orders().await.unwrap();
        assert_eq!(orders.len(), 1, "one deletion order per site");
        assert_eq!(orders[0].pseudonym, h.site);
    }
    let samples = staff.sample_destructions().await.unwrap();
    assert_eq!(samples.len(), 1, "one sample-destruction order");
    assert_eq!(samples[0].pseudonyms.len(), 2);
    assert_eq!(
        genetic(&sites[0], &held[0], "2026-06-01").await,
        ConsentDecision::DenyWithdrawn
    );
}

#[tokio::test]
async fn red_team_withdrawal_by_oncofed_code_orders_deletion() {
    assert_withdrawal_orders(oncofed_withdrawal()).await;
}

#[tokio::test]
async fn red_team_bare_root_deny_komplettwiderruf_orders_deletion() {
    assert_withdrawal_orders(
        json!({"resourceType": "Consent", "id": "w", "status": "active", "dateTime": "2026-03-01",
        "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2722"}],
        "provision": {"type": "deny", "period": {"start": "2026-03-01"}}}),
    )
    .await;
}

#[tokio::test]
async fn red_team_bare_oid_komplettwiderruf_orders_deletion() {
    let denies: Vec<Value> = [1, 18, 26, 30]
        .iter()
        .map(|&a| json!({"type": "deny", "period": {"start": "2026-03-01"}, "code": code(a)}))
        .collect();
    assert_withdrawal_orders(
        json!({"resourceType": "Consent", "id": "w", "status": "active", "dateTime": "2026-03-01",
        "policy": [{"uri": "2.16.840.1.113883.3.1937.777.24.2.2722"}],
        "provision": {"type": "deny", "period": {"start": "2026-03-01"}, "provision": denies}}),
    )
    .await;
}

#[tokio::test]
async fn red_team_gics_template_withdrawal_orders_deletion() {
    assert_withdrawal_orders(json!({"resourceType": "Consent", "id": "w", "status": "active",
        "dateTime": "2026-03-01T09:30:00+01:00",
        "category": [{"coding": [{"system": "http://loinc.org", "code": "57016-8"}]},
                     {"coding": [{"system": "http://fhir.de/ConsentManagement/CodeSystem/ResultType", "code": "document"}]},
                     {"coding": [{"system": "http://fhir.de/ConsentManagement/CodeSystem/TemplateType", "code": "WITHDRAWAL"}]}],
        "policy": [{"uri": "urn:uuid:6c3c6f8e-4f0e-4b8e-9d55-0a4c2f1e7b21"}],
        "provision": {"type": "deny", "period": {"start": "2026-03-01T09:30:00+01:00", "end": "3000-01-01T00:00:00+01:00"}}}))
    .await;
}

/// A bare deny without a withdrawal marker is a refusal: everything is denied
/// from its date (issue 10, case 1), but no deletion is ordered.
#[tokio::test]
async fn red_team_bare_root_deny_refusal_denies_everything_orders_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = start(dir.path()).await;
    let (sites, staff, held) = setup(&url).await;
    staff
        .record_consent_as_staff(
            &held[0].site,
            json!({"resourceType": "Consent", "id": "r", "status": "active", "dateTime": "2026-03-01",
                   "provision": {"type": "deny"}}),
        )
        .await
        .unwrap();
    assert_eq!(
        genetic(&sites[0], &held[0], "2026-06-01").await,
        ConsentDecision::DenyObjection
    );
    assert!(sites[0].deletion_orders().await.unwrap().is_empty());
    assert!(staff.sample_destructions().await.unwrap().is_empty());
}

/// The consent check takes a fact's date of origin: data collected inside the
/// broad consent's five-year collection window is permitted, data of a later
/// origin is not, and an older client without the origin is answered as
/// before for the date of use (issue 10, case 6).
#[tokio::test]
async fn red_team_collection_window_at_the_trust_centre() {
    let dir = tempfile::tempdir().unwrap();
    let url = start(dir.path()).await;
    let (sites, _staff, held) = setup(&url).await;
    let ask = |origin: Option<&str>| ConsentQuestion {
        pseudonym: held[0].site.clone(),
        category: DataCategory::Clinical,
        origin: origin.map(|o| NaiveDate::parse_from_str(o, "%Y-%m-%d").unwrap()),
    };
    let on = NaiveDate::from_ymd_opt(2032, 6, 1).unwrap();
    let answers = sites[0]
        .check_consent(
            Purpose::Research,
            on,
            vec![ask(Some("2025-05-05")), ask(Some("2029-02-01")), ask(None)],
        )
        .await
        .unwrap();
    assert_eq!(
        answers,
        vec![
            ConsentDecision::Permit,
            ConsentDecision::DenyObjection,
            ConsentDecision::DenyObjection
        ]
    );
}
