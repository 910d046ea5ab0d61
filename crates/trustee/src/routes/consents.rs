//! `POST /v1/consents` (register FHIR Consents for a site's patients) and
//! `POST /v1/consents/check` (batch decisions; rules in [`crate::consent`]).
//! Site nodes no longer ask per query: they answer from a snapshot kept by the
//! consent feed (`crate::routes::consent_feed`) with the same decision function;
//! the check stays for tools and as the reference the snapshot is tested against.

use crate::AppState;
use crate::auth::SiteCaller;
use crate::consent::parse_consent;
use crate::db::{ConsentRow, check_consents, insert_site_consents};
use crate::error::{ApiError, check_batch};
use crate::json::ApiJson;
use crate::routes::{blocking, pseudonyms::check_local_id};
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Json, Router};
use oncofed_trustee_api::{
    ConsentCheckRequest, ConsentCheckResponse, ConsentSubmission, ConsentSubmissionResponse,
    MAX_BATCH,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Body limits: 32 MiB of Consents per batch (an MII broad consent is 2–6 KiB),
/// 200 bytes per check question.
const SUBMIT_BODY_LIMIT: usize = 32 * 1024 * 1024;
const CHECK_BODY_LIMIT: usize = MAX_BATCH * 200;

/// The consent routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/consents",
            post(submit).layer(DefaultBodyLimit::max(SUBMIT_BODY_LIMIT)),
        )
        .route(
            "/v1/consents/check",
            post(check).layer(DefaultBodyLimit::max(CHECK_BODY_LIMIT)),
        )
}

/// Validates a Consent and prepares it for storage; errors name `field_prefix` and
/// the element within the resource.
pub(crate) fn prepare_consent(field_prefix: &str, consent: &Value) -> Result<ConsentRow, ApiError> {
    let parsed = parse_consent(consent)
        .map_err(|e| ApiError::invalid(format_args!("{field_prefix}.{}", e.field), e.problem))?;
    let mut resource = String::new();
    write_canonical(consent, &mut resource);
    let content_hash = Sha256::digest(resource.as_bytes()).into();
    Ok(ConsentRow {
        resource_id: parsed.resource_id,
        content_hash,
        resource,
    })
}

/// Writes JSON with object keys sorted and no whitespace, so that the same resource
/// hashes the same whatever key order or formatting it arrived in.
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, val)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(val, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, val) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(val, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

async fn submit(
    State(state): State<AppState>,
    SiteCaller(site): SiteCaller,
    ApiJson(req): ApiJson<ConsentSubmission>,
) -> Result<Json<ConsentSubmissionResponse>, ApiError> {
    check_batch(req.items.len())?;
    let rows = blocking(move || {
        req.items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                check_local_id(format_args!("items[{i}].local_id"), &item.local_id)?;
                Ok((
                    item.local_id,
                    prepare_consent(&format!("items[{i}].consent"), &item.consent)?,
                ))
            })
            .collect::<Result<Vec<_>, ApiError>>()
    })
    .await??;
    let n = rows.len();
    let site_for_db = site.clone();
    let stored = state
        .inner
        .db
        .write(move |conn| insert_site_consents(conn, &site_for_db, &rows))
        .await?;
    tracing::info!(site = %site, received = n, stored, "registered consents");
    Ok(Json(ConsentSubmissionResponse { stored }))
}

async fn check(
    State(state): State<AppState>,
    SiteCaller(site): SiteCaller,
    ApiJson(req): ApiJson<ConsentCheckRequest>,
) -> Result<Json<ConsentCheckResponse>, ApiError> {
    check_batch(req.items.len())?;
    let decisions = state
        .inner
        .db
        .read(move |conn| check_consents(conn, &site, req.purpose, req.date, &req.items))
        .await?;
    Ok(Json(ConsentCheckResponse { decisions }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_ignores_key_order_and_whitespace() {
        let a: Value =
            serde_json::from_str(r#"{"b": [1, {"y": "ä", "x": null}], "a": "q\""}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":"q\"","b":[1,{"x":null,"y":"ä"}]}"#).unwrap();
        let (mut sa, mut sb) = (String::new(), String::new());
        write_canonical(&a, &mut sa);
        write_canonical(&b, &mut sb);
        assert_eq!(sa, sb);
        assert_eq!(sa, r#"{"a":"q\"","b":[1,{"x":null,"y":"ä"}]}"#);
    }
}
