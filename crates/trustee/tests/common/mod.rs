//! Shared set-up for the trust-centre tests that hold their own key and tokens:
//! a trust centre on 127.0.0.1:0 running until the test ends, IDAT and items,
//! the status of a refusal. (The linkage tests start theirs with
//! `linkage_common::Server`, from files as the command line does.)
#![allow(dead_code)]

use chrono::NaiveDate;
use oncofed_idat::{Address, IdentifyingData};
use oncofed_model::{Sex, SiteId};
use oncofed_trustee::{PseudonymKey, SiteRegistry, TrusteeConfig, hash_token};
use oncofed_trustee_api::{PseudonymiseItem, TrusteeClient, TrusteeError};
use std::path::PathBuf;

/// Starts a trust centre storing in `data`, with the pseudonym key `[key; 32]`,
/// the given sites (each with bearer token `token(site)`) and the admin token;
/// it runs until the test ends. Returns its base URL.
pub async fn start_centre(
    data: PathBuf,
    key: u8,
    admin: &str,
    sites: &[&str],
    token: impl Fn(&str) -> String,
) -> String {
    let hashes: Vec<(SiteId, String)> = sites
        .iter()
        .map(|s| (SiteId::new(*s).unwrap(), hash_token(&token(s))))
        .collect();
    let registry =
        SiteRegistry::from_hashes(hashes.iter().map(|(s, h)| (s.clone(), h.as_str()))).unwrap();
    let config = TrusteeConfig::new(
        data,
        PseudonymKey::from_bytes(vec![key; 32]).unwrap(),
        registry,
    )
    .unwrap()
    .with_admin_token_hash(&hash_token(admin))
    .unwrap();
    oncofed_testkit::service::trustee(config, Default::default())
        .await
        .unwrap()
        .detach()
}

/// One client per site, each with its `token(site)`.
pub fn clients(url: &str, sites: &[&str], token: impl Fn(&str) -> String) -> Vec<TrusteeClient> {
    sites
        .iter()
        .map(|s| TrusteeClient::new(url, &token(s)).unwrap())
        .collect()
}

/// IDAT with one given name, no address and no insurance number.
pub fn person(given: &str, family: &str, (y, m, d): (i32, u32, u32), sex: Sex) -> IdentifyingData {
    IdentifyingData {
        given: vec![given.into()],
        family: Some(family.into()),
        birth_name: None,
        birth_date: NaiveDate::from_ymd_opt(y, m, d),
        sex,
        address: None,
        kvnr: None,
    }
}

/// [`person`] living at Hauptstraße 5, 50667 Köln.
pub fn resident(given: &str, family: &str, born: (i32, u32, u32), sex: Sex) -> IdentifyingData {
    IdentifyingData {
        address: Some(Address {
            lines: vec!["Hauptstraße 5".into()],
            postal_code: Some("50667".into()),
            city: Some("Köln".into()),
            country: None,
        }),
        ..person(given, family, born, sex)
    }
}

pub fn item(local_id: &str, idat: IdentifyingData) -> PseudonymiseItem {
    PseudonymiseItem {
        local_id: local_id.into(),
        idat,
    }
}

/// The HTTP status of a refusal; anything else fails the test.
pub fn refusal(e: TrusteeError) -> u16 {
    match e {
        TrusteeError::Rejected { status, .. } => status,
        other => panic!("expected a refusal, got {other}"),
    }
}

/// [`refusal`] of a result that must be one.
pub fn status_of<T: std::fmt::Debug>(r: Result<T, TrusteeError>) -> u16 {
    match r {
        Err(e) => refusal(e),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A withdrawal by the OncoFed `withdrawal` code on a root deny, of 2026-03-01.
pub fn oncofed_withdrawal() -> serde_json::Value {
    serde_json::json!({"resourceType": "Consent", "id": "w", "status": "active", "dateTime": "2026-03-01",
        "provision": {"type": "deny", "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "withdrawal"}]}]}})
}
