//! The withdrawal cascade (R6): sites fetch and confirm deletion orders, staff list
//! and confirm sample-destruction orders. Every step is in the audit trail.
//!
//! | method and path | caller | what |
//! |---|---|---|
//! | `GET /v1/deletions` | site | open deletion orders of the caller's domain |
//! | `POST /v1/deletions/{id}/done` | site | receipt for one of its orders |
//! | `GET /v1/admin/sample-destructions` | staff | every sample-destruction order |
//! | `POST /v1/admin/sample-destructions/{id}/done` | staff | the biobank destroyed them |
//!
//! Orders are issued by [`crate::db::deletions::sweep`], which every listing runs
//! first, so a withdrawal turns into orders at the next poll of any site. The same
//! sweep erases the withdrawn person's IDAT ([`crate::db::deletions::erase`]);
//! after an erasing sweep the store's clean-up runs (a truncating WAL checkpoint on
//! SQLite, `VACUUM` of the erased tables on PostgreSQL).

use crate::AppState;
use crate::auth::{SiteCaller, StaffCaller};
use crate::db::deletions::{self, ReceiptOutcome};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::json::ApiJson;
use crate::routes::{audit, blocking};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use oncofed_model::SiteId;
use oncofed_trustee_api::{DeletionConfirmed, DeletionOrders, DeletionReceipt, SampleDestructions};
use serde_json::json;

/// The deletion routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/deletions", get(list))
        .route("/v1/deletions/{id}/done", post(done))
        .route("/v1/admin/sample-destructions", get(list_samples))
        .route(
            "/v1/admin/sample-destructions/{id}/done",
            post(samples_done),
        )
}

/// Issues orders for withdrawals recorded since the last sweep and audits them.
pub(crate) async fn sweep(state: &AppState) -> Result<(), ApiError> {
    if !state.inner.db.read(deletions::sweep_due).await? {
        return Ok(());
    }
    let keys = state.inner.keys.clone();
    let issued = state
        .inner
        .db
        .write(move |conn| deletions::sweep(conn, &keys))
        .await?;
    if issued.erased > 0 {
        tracing::info!(
            persons = issued.erased,
            "erased the identifying data of withdrawn persons"
        );
        state.inner.db.after_erasure().await;
    }
    audit_issued(state, issued).await
}

/// Issues orders for withdrawn persons `site` registered after their withdrawal.
async fn catch_up(state: &AppState, site: &SiteId) -> Result<(), ApiError> {
    let site = site.clone();
    let missing = state
        .inner
        .db
        .read(move |conn| deletions::missing_orders(conn, &site))
        .await?;
    if missing.is_empty() {
        return Ok(());
    }
    let keys = state.inner.keys.clone();
    let issued = state
        .inner
        .db
        .write(move |conn| deletions::issue_missing(conn, &keys, &missing))
        .await?;
    audit_issued(state, issued).await
}

async fn audit_issued(state: &AppState, issued: deletions::Issued) -> Result<(), ApiError> {
    if issued.deletions.is_empty() && issued.samples.is_empty() {
        return Ok(());
    }
    let audit_state = state.clone();
    let ordered = blocking(move || {
        let state = audit_state;
        // (site pseudonym, audit seq): indexed under the person below, for the
        // person's page in the patients' portal.
        let mut ordered = Vec::with_capacity(issued.deletions.len());
        for (id, site, pseudonym, consent) in &issued.deletions {
            let entry = state
                .inner
                .audit
                .append(
                    "trustee",
                    "deletion.ordered",
                    pseudonym,
                    json!({"order": id, "site": site, "reason": "withdrawal", "consent_row": consent}),
                )
                .map_err(|e| {
                    tracing::error!(error = %e, "audit append failed");
                    ApiError::Internal
                })?;
            ordered.push((pseudonym.clone(), entry.seq));
        }
        for (id, consent) in &issued.samples {
            audit::record(
                &state,
                "trustee",
                "samples.destruction-ordered",
                &format!("sample-destruction/{id}"),
                json!({"order": id, "reason": "withdrawal", "consent_row": consent}),
            )?;
        }
        tracing::info!(
            deletions = issued.deletions.len(),
            samples = issued.samples.len(),
            "withdrawal cascade issued orders"
        );
        Ok::<_, ApiError>(ordered)
    })
    .await??;
    let now = crate::db::now();
    state
        .inner
        .db
        .write(move |conn| {
            let pseudonyms: Vec<String> = ordered.iter().map(|(p, _)| p.clone()).collect();
            let persons: std::collections::HashMap<String, i64> =
                crate::db::patients::persons_of_pseudonyms(conn, &pseudonyms)?
                    .into_iter()
                    .collect();
            for (pseudonym, seq) in &ordered {
                if let Some(person) = persons.get(pseudonym) {
                    crate::db::patients::index_event(
                        conn,
                        &[*person],
                        *seq,
                        "deletion.ordered",
                        now,
                    )?;
                }
            }
            Ok(())
        })
        .await?;
    Ok(())
}

async fn list(
    State(state): State<AppState>,
    SiteCaller(site): SiteCaller,
) -> Result<Json<DeletionOrders>, ApiError> {
    sweep(&state).await?;
    catch_up(&state, &site).await?;
    let orders = state
        .inner
        .db
        .read(move |conn| deletions::open_orders(conn, &site))
        .await?;
    Ok(Json(DeletionOrders { orders }))
}

async fn done(
    State(state): State<AppState>,
    SiteCaller(site): SiteCaller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(receipt): ApiJson<DeletionReceipt>,
) -> Result<Json<DeletionConfirmed>, ApiError> {
    let (site_db, receipt_db) = (site.clone(), receipt.clone());
    let outcome = state
        .inner
        .db
        .write(move |conn| deletions::record_receipt(conn, &site_db, id, &receipt_db))
        .await?;
    match outcome {
        ReceiptOutcome::NoSuchOrder => Err(ApiError::NotFound),
        ReceiptOutcome::Invalid(problem) => Err(ApiError::invalid("receipt", problem)),
        ReceiptOutcome::AlreadyDone => Ok(Json(DeletionConfirmed { recorded: false })),
        ReceiptOutcome::Recorded => {
            let audit_state = state.clone();
            blocking(move || {
                audit::record(
                    &audit_state,
                    site.as_str(),
                    "deletion.confirmed",
                    &format!("deletion/{id}"),
                    json!({
                        "order": id,
                        "patients_deleted": receipt.patients_deleted,
                        "facts_deleted": receipt.facts_deleted,
                        "images_deleted": receipt.images_deleted,
                        "remaining": receipt.remaining,
                        "deleted_at": receipt.deleted_at,
                        "digest": receipt.digest,
                    }),
                )
            })
            .await??;
            tracing::info!(order = id, "deletion confirmed by site");
            Ok(Json(DeletionConfirmed { recorded: true }))
        }
    }
}

async fn list_samples(
    State(state): State<AppState>,
    StaffCaller(staff): StaffCaller,
) -> Result<Json<SampleDestructions>, ApiError> {
    sweep(&state).await?;
    let items = state.inner.db.read(deletions::sample_destructions).await?;
    let (audit_state, n) = (state.clone(), items.len());
    blocking(move || {
        audit::record(
            &audit_state,
            &staff,
            "samples.listed",
            "sample-destructions",
            json!({"orders": n}),
        )
    })
    .await??;
    Ok(Json(SampleDestructions { items }))
}

async fn samples_done(
    State(state): State<AppState>,
    StaffCaller(staff): StaffCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<DeletionConfirmed>, ApiError> {
    let staff_db = staff.clone();
    let recorded = state
        .inner
        .db
        .write(move |conn| deletions::confirm_samples(conn, id, &staff_db))
        .await?
        .ok_or(ApiError::NotFound)?;
    if recorded {
        let audit_state = state.clone();
        blocking(move || {
            audit::record(
                &audit_state,
                &staff,
                "samples.destroyed",
                &format!("sample-destruction/{id}"),
                json!({"order": id}),
            )
        })
        .await??;
    }
    Ok(Json(DeletionConfirmed { recorded }))
}
