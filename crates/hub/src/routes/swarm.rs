//! The swarm relay (issue 15, item 5): sites exchange sealed swarm-learning
//! messages (`oncofed-swarm` envelopes) through the hub without the hub
//! learning any update or model, for runs a researcher started inside an
//! approved project (`routes::swarm_runs`) and only between their participants.
//!
//! Sites make only outbound, signed requests, as on the task channel
//! ([`SiteRequest`]). The hub checks each envelope's header — the run in the
//! path, the sender is the signing site, the addressee a registered site, the
//! size within [`MAX_SWARM_MESSAGE`] — and stores its bytes as they came; it
//! never parses or opens them. A site fetches only the messages addressed to
//! it. Every post is audited (sender, run, and per message round, attempt,
//! kind, addressee and size), and every fetch that hands out messages (as a
//! task claim is); empty polls are not, so polling does not grow the trail.

use super::{audit, blocking};
use crate::db::SwarmRow;
use crate::query::{ApiPath, ApiQuery};
use crate::site_request::{MAX_RESULT_BODY, SiteRequest};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use oncofed_swarm::{Envelope, Kind};
use serde::{Deserialize, Serialize};

/// Largest ciphertext of one message: a model of `oncofed_swarm::MAX_PARAMS`
/// parameters (32 MiB) with its header; in base64 JSON it stays below
/// [`MAX_RESULT_BODY`].
pub const MAX_SWARM_MESSAGE: usize = 40 << 20;

/// Most messages in one post (a site sends at most one per peer per step).
pub const MAX_POST_MESSAGES: usize = 1024;

/// Most messages one run may hold: a run of 10 sites exchanges about 120
/// per round; this bounds what a faulty site can make the hub store.
pub const MAX_RUN_MESSAGES: u64 = 1_000_000;

/// Most ciphertext bytes one run may hold.
pub const MAX_RUN_BYTES: u64 = 8 << 30;

/// Most messages handed out per fetch, and their bytes (at least one is).
const MAX_FETCH_MESSAGES: usize = 256;
const MAX_FETCH_BYTES: usize = 40 << 20;

/// `POST`, `GET /v1/swarm/{run}/messages`.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/swarm/{run}/messages", get(fetch).post(post))
}

/// The answer to a post: the sequence numbers the messages were stored under.
#[derive(Debug, Serialize, Deserialize)]
pub struct Posted {
    /// One per posted envelope, in order.
    pub seqs: Vec<u64>,
}

/// One fetched message.
#[derive(Debug, Serialize, Deserialize)]
pub struct Delivered {
    /// Its sequence number: fetch with `after` = the highest handled.
    pub seq: u64,
    /// The envelope as its sender posted it.
    pub envelope: Envelope,
}

#[derive(Deserialize)]
struct FetchParams {
    #[serde(default)]
    after: u64,
}

/// Stores the posted envelopes (a JSON array) for their addressees.
async fn post(
    State(state): State<AppState>,
    ApiPath(run): ApiPath<String>,
    req: SiteRequest<MAX_RESULT_BODY>,
) -> Result<Json<Posted>, ApiError> {
    oncofed_swarm::valid_run(&run).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let envelopes: Vec<Envelope> = serde_json::from_slice(&req.body)
        .map_err(|_| ApiError::Invalid("body must be a JSON array of swarm envelopes".into()))?;
    if envelopes.is_empty() || envelopes.len() > MAX_POST_MESSAGES {
        return Err(ApiError::Invalid(format!(
            "post 1 to {MAX_POST_MESSAGES} envelopes at a time"
        )));
    }
    let site = req.site.to_string();
    let r = run.clone();
    let participants = blocking(&state, move |s| super::swarm_runs::participants(s, &r)).await?;
    if !participants.contains(&site) {
        return Err(ApiError::Invalid(
            "this site is not a participant of the run".into(),
        ));
    }
    let mut rows = Vec::with_capacity(envelopes.len());
    for (i, e) in envelopes.into_iter().enumerate() {
        let invalid = |what: &str| ApiError::Invalid(format!("envelope {i}: {what}"));
        e.validate().map_err(|err| invalid(&err.to_string()))?;
        if e.run != run {
            return Err(invalid("names another run than the path"));
        }
        if e.from != site {
            return Err(invalid("the sender is not the signing site"));
        }
        if e.to == site || state.site_key(&e.to).is_none() {
            return Err(invalid("the addressee is not another registered site"));
        }
        if !participants.contains(&e.to) {
            return Err(invalid("the addressee is not a participant of the run"));
        }
        if e.ciphertext.len() > MAX_SWARM_MESSAGE {
            return Err(ApiError::PayloadTooLarge(format!(
                "envelope {i}: a swarm message holds at most {MAX_SWARM_MESSAGE} bytes"
            )));
        }
        rows.push(SwarmRow {
            seq: 0,
            run: e.run,
            round: e.round,
            attempt: e.attempt,
            sender: e.from,
            recipient: e.to,
            kind: e.kind.as_str().to_owned(),
            ciphertext: e.ciphertext,
        });
    }
    let posted = blocking(&state, move |s| {
        let details: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "round": r.round, "attempt": r.attempt, "kind": r.kind,
                    "to": r.recipient, "bytes": r.ciphertext.len(),
                })
            })
            .collect();
        // Audited before storing: no message is stored unaudited.
        audit(
            s,
            &site,
            "swarm.posted",
            &run,
            serde_json::json!({ "messages": details }),
        )?;
        s.inner
            .db
            .put_swarm_messages(&run, &rows, MAX_RUN_MESSAGES, MAX_RUN_BYTES, Utc::now())
            .map_err(ApiError::internal)?
            .ok_or_else(|| {
                ApiError::TooManyRequests(format!(
                    "this run holds the most messages or bytes the hub stores for one run ({MAX_RUN_MESSAGES} messages, {MAX_RUN_BYTES} bytes)"
                ))
            })
    })
    .await?;
    Ok(Json(Posted { seqs: posted }))
}

/// Hands the calling site the messages of `run` addressed to it after `after`.
async fn fetch(
    State(state): State<AppState>,
    ApiPath(run): ApiPath<String>,
    ApiQuery(params): ApiQuery<FetchParams>,
    req: SiteRequest,
) -> Result<Json<Vec<Delivered>>, ApiError> {
    oncofed_swarm::valid_run(&run).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let site = req.site.to_string();
    let delivered = blocking(&state, move |s| {
        if !super::swarm_runs::participants(s, &run)?.contains(&site) {
            return Err(ApiError::Invalid(
                "this site is not a participant of the run".into(),
            ));
        }
        let rows = s
            .inner
            .db
            .swarm_messages(&run, &site, params.after, MAX_FETCH_MESSAGES)
            .map_err(ApiError::internal)?;
        let mut out = Vec::with_capacity(rows.len());
        let mut bytes = 0;
        for r in rows {
            bytes += r.ciphertext.len();
            if !out.is_empty() && bytes > MAX_FETCH_BYTES {
                break;
            }
            let kind = match r.kind.as_str() {
                "key" => Kind::Key,
                "update" => Kind::Update,
                "model" => Kind::Model,
                "hash" => Kind::Hash,
                _ => {
                    return Err(ApiError::internal(
                        "a stored swarm message has an unknown kind",
                    ));
                }
            };
            out.push(Delivered {
                seq: r.seq,
                envelope: Envelope {
                    run: r.run,
                    round: r.round,
                    attempt: r.attempt,
                    from: r.sender,
                    to: r.recipient,
                    kind,
                    ciphertext: r.ciphertext,
                },
            });
        }
        if let (Some(first), Some(last)) = (out.first(), out.last()) {
            audit(
                s,
                &site,
                "swarm.fetched",
                &run,
                serde_json::json!({ "messages": out.len(), "first": first.seq, "last": last.seq }),
            )?;
        }
        Ok(out)
    })
    .await?;
    Ok(Json(delivered))
}
