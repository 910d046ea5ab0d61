//! The consent feed (`oncofed_trustee_api::consent_feed`): sites poll it to keep
//! their consent snapshots fresh.
//!
//! | method and path | caller | what |
//! |---|---|---|
//! | `GET /v1/consent-feed?since=N&nonce=…[&limit=M]` | site | a signed page of the caller's feed |
//! | `GET /v1/consent-feed/key` | site | the key pages are signed with |
//!
//! The caller is the site its token (and, under mutual TLS, its certificate)
//! names; the page holds that site's pseudonyms only, and the parsed consents
//! of the persons behind them (no IDAT, no local ids, no `Consent.id`). Pages
//! are signed with the trust centre's audit key under the page's own `kind`
//! (the audit trail signs checkpoints under another domain), so a node that
//! pins the key can tell a forged, altered or replayed page from a real one.

use crate::AppState;
use crate::auth::SiteCaller;
use crate::db::consent_feed;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::routes::blocking;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use oncofed_trustee_api::consent_feed::FEED_PAGE_KIND;
use oncofed_trustee_api::{
    FeedEntry, FeedKey, FeedPage, FeedRequest, MAX_FEED_PAGE, SignedFeedPage,
};

/// The consent-feed routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/consent-feed", get(feed))
        .route("/v1/consent-feed/key", get(key))
}

async fn feed(
    State(state): State<AppState>,
    SiteCaller(site): SiteCaller,
    ApiQuery(req): ApiQuery<FeedRequest>,
) -> Result<Json<SignedFeedPage>, ApiError> {
    if !FeedRequest::nonce_is_valid(&req.nonce) {
        return Err(ApiError::invalid(
            "nonce",
            "expected 16-64 characters of A-Z, a-z, 0-9, '-', '_'",
        ));
    }
    let limit = req.limit.unwrap_or(MAX_FEED_PAGE);
    if !(1..=MAX_FEED_PAGE).contains(&limit) {
        return Err(ApiError::invalid("limit", "expected 1 to 1000"));
    }
    let (site_db, since) = (site.clone(), req.since);
    let page = state
        .inner
        .db
        .read(move |conn| consent_feed::page(conn, &site_db, since, limit))
        .await?;
    if since > page.head {
        // The node holds versions this store never issued: the store was
        // restored from a backup, or the node talks to another trust centre.
        return Err(ApiError::invalid(
            "since",
            "is ahead of the feed's newest version; restart the node to rebuild its consent snapshot",
        ));
    }
    let entries = page.entries.len();
    let body = FeedPage {
        kind: FEED_PAGE_KIND.into(),
        model: oncofed_consent::MODEL_VERSION,
        site: site.clone(),
        nonce: req.nonce,
        since,
        through: page.through,
        head: page.head,
        issued_at: chrono::Utc::now().timestamp(),
        entries: page
            .entries
            .into_iter()
            .map(|(version, pseudonyms, consents)| FeedEntry {
                version,
                pseudonyms,
                consents: Some(consents),
            })
            .collect(),
    };
    let state_sign = state.clone();
    let signed = blocking(move || {
        SignedFeedPage::seal(&body, &state_sign.inner.feed_key).map_err(|e| {
            tracing::error!(error = %e, "consent feed page could not be signed");
            ApiError::Internal
        })
    })
    .await??;
    tracing::debug!(%site, since, through = page.through, entries, "served a consent feed page");
    Ok(Json(signed))
}

async fn key(State(state): State<AppState>, SiteCaller(_): SiteCaller) -> Json<FeedKey> {
    Json(FeedKey {
        public_key: state.inner.feed_key.public_key(),
    })
}
