//! Signed site requests, checked before the body is read.
//!
//! A site signs method, path with query, a timestamp and the SHA-256 of the
//! body (`oncofed_crypto::request_message`), and sends that digest ahead of the
//! body in [`DIGEST_HEADER`]. The hub therefore refuses, in this order and
//! without reading a single body byte:
//!
//! 1. missing or malformed headers (site, timestamp, signature, digest);
//! 2. a timestamp more than [`MAX_CLOCK_SKEW_SECS`] from the hub's clock, or
//!    earlier than the hub's start (the replay memory lives in memory only, so
//!    a request captured before a restart would otherwise be fresh again; a
//!    site whose clock runs late waits that long after a restart);
//! 3. an unregistered site;
//! 4. a declared `Content-Length` above the route's limit (413);
//! 5. a signature already used within the window (replay, see [`crate::replay`]);
//! 6. a signature that does not verify over the claimed digest;
//! 7. a large body when too many body bytes are already in flight, from all
//!    sites or from this one (503 with `Retry-After`, see [`BodyBudget`]).
//!
//! Only then is the body read, up to the route's limit, hashed as it arrives and
//! compared with the signed digest. So a forged request costs the hub a header
//! parse and at most one signature check, whatever body it announces; the bodies
//! the hub holds in memory are bounded by the budget and belong to requests
//! signed by a registered site key.
//!
//! Per-route limits are the type parameter: [`SiteRequest`] (default) accepts at
//! most [`SMALL_SITE_BODY`] bytes (polls send none); the results route uses
//! `SiteRequest<MAX_RESULT_BODY>`.

use crate::{
    ApiError, AppState, MAX_CLOCK_SKEW_SECS, SIGNATURE_HEADER, SITE_HEADER, TIMESTAMP_HEADER,
};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use oncofed_crypto::{PublicKey, Signature};
use oncofed_model::SiteId;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Header with the hex SHA-256 of the body, covered by the signature. May be
/// left out only when the body is empty.
pub const DIGEST_HEADER: &str = "x-oncofed-content-sha256";

/// Body limit of site routes that expect no body (the task poll).
pub const SMALL_SITE_BODY: usize = 1 << 10;

/// Largest body a site may post to `/v1/site/results`. A feasibility outcome with
/// its sketch is ~10 KB; a masked analysis vector costs ~20 bytes of JSON per
/// entry, and a Cox round on a ten-year daily grid with a dozen covariates has a
/// few hundred thousand entries.
pub const MAX_RESULT_BODY: usize = 64 << 20;

/// Bodies above this size draw on the [`BodyBudget`]; smaller ones (polls,
/// feasibility outcomes) never wait for it.
const BUDGETED_ABOVE: usize = 64 << 10;

/// Suggested wait for a site refused by the body budget.
const BUSY_RETRY_SECS: u64 = 2;

/// A request from a registered site whose signature over method, path,
/// timestamp and body verified, with a body of at most `LIMIT` bytes.
#[derive(Debug)]
pub struct SiteRequest<const LIMIT: usize = SMALL_SITE_BODY> {
    /// The calling site.
    pub site: SiteId,
    /// The request body.
    pub body: Bytes,
    /// The body's share of the [`BodyBudget`], released when the handler is done.
    _permit: Option<BodyPermit>,
}

/// Caps the bytes of large site bodies held at once, so that concurrent large
/// posts cannot exhaust the hub's memory: all sites together hold at most the
/// configured budget, and one site at most one maximal body
/// ([`MAX_RESULT_BODY`]), so a single (compromised or faulty) site cannot take
/// the budget from the others. Counted in KiB permits of semaphores; a request
/// that does not fit is refused at once with 503 and `Retry-After` (the agent
/// retries), never queued: a queue would hold connections open without bound.
/// Only requests whose signature verified get here, so the per-site map holds
/// registered sites only.
#[derive(Debug)]
pub struct BodyBudget {
    total: Arc<Semaphore>,
    total_kib: u32,
    sites: std::sync::Mutex<std::collections::HashMap<String, Arc<Semaphore>>>,
}

/// A reservation in the [`BodyBudget`], released on drop.
#[derive(Debug)]
pub struct BodyPermit {
    _site: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
}

/// KiB permits of one site: one maximal body.
const SITE_KIB: u32 = (MAX_RESULT_BODY / 1024) as u32;

impl BodyBudget {
    /// A budget of `bytes` for all sites, raised to one [`MAX_RESULT_BODY`] so
    /// that every acceptable body fits when nothing else is in flight.
    pub fn new(bytes: usize) -> Self {
        let kib = u32::try_from(bytes.max(MAX_RESULT_BODY).div_ceil(1024)).unwrap_or(u32::MAX);
        let kib = kib.min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        Self {
            total: Arc::new(Semaphore::new(kib as usize)),
            total_kib: kib,
            sites: std::sync::Mutex::default(),
        }
    }

    /// Reserves room for a body of `bytes` from `site`, or refuses with 503 and
    /// `Retry-After`.
    pub fn try_reserve(&self, site: &str, bytes: usize) -> Result<BodyPermit, ApiError> {
        let want = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .max(1);
        let busy = |whose: &str| ApiError::Busy {
            message: format!(
                "the hub is receiving too many large bodies from {whose} at once; send again after Retry-After seconds"
            ),
            retry_after_secs: BUSY_RETRY_SECS,
        };
        let own = {
            let mut sites = self.sites.lock().unwrap_or_else(|p| p.into_inner());
            sites
                .entry(site.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(SITE_KIB as usize)))
                .clone()
        };
        let site_permit = own
            .try_acquire_many_owned(want.min(SITE_KIB))
            .map_err(|_| busy("this site"))?;
        let total_permit = self
            .total
            .clone()
            .try_acquire_many_owned(want.min(self.total_kib))
            .map_err(|_| busy("all sites"))?;
        Ok(BodyPermit {
            _site: site_permit,
            _total: total_permit,
        })
    }
}

/// Why a site request was refused, as told to the caller. Unknown site and bad
/// signature read the same, so the answer does not reveal which sites exist.
mod why {
    // CLOCK names the window in words.
    const _: () = assert!(crate::MAX_CLOCK_SKEW_SECS == 120);
    pub const HEADERS: &str = "send the x-oncofed-site, x-oncofed-timestamp (Unix seconds), \
        x-oncofed-signature (base64) and, with a body, x-oncofed-content-sha256 (hex SHA-256) headers";
    pub const CLOCK: &str =
        "the timestamp is more than 120 s from the hub's clock; check the site's clock (NTP)";
    pub const SIGNATURE: &str =
        "the signature does not verify with the site's registered key; check the site id and key";
    pub const REPLAY: &str =
        "this signed request was already received; sign every request afresh (add a nonce)";
    pub const DIGEST: &str = "the body does not match its signed digest; send it again";
    pub const CERTIFICATE: &str = "this hub requires mutual TLS for sites: connect with the \
        site's client certificate (urn:oncofed:site:<id>, issued by the federation CA)";
    pub const BEFORE_START: &str = "the request was signed before the hub started; sign it afresh \
        (if this persists, the site's clock runs late: check NTP)";
}

/// The signed-request headers, parsed.
struct Signed {
    site: SiteId,
    timestamp: i64,
    signature: Signature,
    /// The claimed body digest; `None` promises an empty body.
    digest: Option<String>,
    /// The declared body length, if any.
    length: Option<u64>,
}

fn parse_headers(headers: &HeaderMap) -> Result<Signed, ApiError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let bad = || ApiError::SiteUnauthorized(why::HEADERS);
    let site: SiteId = text(SITE_HEADER)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let timestamp: i64 = text(TIMESTAMP_HEADER)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let signature: Signature = text(SIGNATURE_HEADER)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let digest = match headers.get(DIGEST_HEADER) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| bad())?.to_owned()),
    };
    let length = match headers.get(header::CONTENT_LENGTH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| ApiError::Invalid("Content-Length is not a number".into()))?,
        ),
    };
    Ok(Signed {
        site,
        timestamp,
        signature,
        digest,
        length,
    })
}

/// Under mutual TLS, whether the connection's verified client certificate names
/// `site`: a site's signing key alone does not authenticate it then, and one
/// site's certificate cannot carry another site's requests.
fn certificate_names(parts: &axum::http::request::Parts, state: &AppState, site: &SiteId) -> bool {
    if !state
        .inner
        .config
        .tls
        .as_ref()
        .is_some_and(|t| t.is_mutual())
    {
        return true;
    }
    let named = parts
        .extensions
        .get::<axum::extract::ConnectInfo<oncofed_tls::Peer>>()
        .is_some_and(|axum::extract::ConnectInfo(peer)| peer.is_site(site.as_str()));
    if !named {
        tracing::warn!(%site, "refused a site request without that site's certificate");
    }
    named
}

impl<const LIMIT: usize> FromRequest<AppState> for SiteRequest<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let signed = parse_headers(&parts.headers)?;
        let now = chrono::Utc::now().timestamp();
        oncofed_crypto::check_request_time(signed.timestamp, now, MAX_CLOCK_SKEW_SECS)
            .map_err(|_| ApiError::SiteUnauthorized(why::CLOCK))?;
        if signed.timestamp < state.inner.started_unix {
            return Err(ApiError::SiteUnauthorized(why::BEFORE_START));
        }
        if !certificate_names(&parts, state, &signed.site) {
            return Err(ApiError::SiteUnauthorized(why::CERTIFICATE));
        }
        let key = state
            .site_key(signed.site.as_str())
            .ok_or(ApiError::SiteUnauthorized(why::SIGNATURE))?;
        let too_large = || {
            ApiError::PayloadTooLarge(format!(
                "this route accepts site bodies of at most {LIMIT} bytes"
            ))
        };
        if signed.length.is_some_and(|n| n > LIMIT as u64) {
            return Err(too_large());
        }
        // Without a digest header the signature covers the empty body, so any
        // body byte would fail the check: read none.
        let (digest, limit) = match &signed.digest {
            Some(d) => (d.clone(), LIMIT),
            None if signed.length.unwrap_or(0) == 0 => (oncofed_crypto::body_digest(b""), 0),
            None => return Err(ApiError::SiteUnauthorized(why::HEADERS)),
        };
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let sig_bytes = signed.signature.to_bytes();
        if state.replay().seen(signed.site.as_str(), &sig_bytes, now) {
            return Err(ApiError::SiteUnauthorized(why::REPLAY));
        }
        verify(&key, parts.method.as_str(), path, &signed, &digest, now)?;
        record(state, &signed, &sig_bytes, now)?;
        let announced = signed.length.map_or(limit, |n| n as usize);
        let permit = if announced > BUDGETED_ABOVE {
            Some(
                state
                    .inner
                    .body_budget
                    .try_reserve(signed.site.as_str(), announced)?,
            )
        } else {
            None
        };
        let (body, actual) = read_limited(body, limit, announced.min(limit))
            .await
            .map_err(|e| match e {
                ReadError::TooLarge => too_large(),
                ReadError::Broken => {
                    ApiError::Invalid("the request body could not be read; send it again".into())
                }
            })?;
        if actual != digest {
            tracing::warn!(site = %signed.site, "site body does not match its signed digest");
            return Err(ApiError::SiteUnauthorized(why::DIGEST));
        }
        Ok(Self {
            site: signed.site,
            body,
            _permit: permit,
        })
    }
}

fn verify(
    key: &PublicKey,
    method: &str,
    path: &str,
    signed: &Signed,
    digest: &str,
    now: i64,
) -> Result<(), ApiError> {
    oncofed_crypto::verify_request_digest(
        key,
        method,
        path,
        signed.timestamp,
        digest,
        &signed.signature,
        now,
        MAX_CLOCK_SKEW_SECS,
    )
    .map_err(|e| {
        tracing::warn!(site = %signed.site, error = %e, "site request refused");
        match e {
            oncofed_crypto::CryptoError::RequestDigest => ApiError::SiteUnauthorized(why::HEADERS),
            _ => ApiError::SiteUnauthorized(why::SIGNATURE),
        }
    })
}

/// Remembers a verified signature; a second use within the window is a replay.
fn record(state: &AppState, signed: &Signed, sig: &[u8; 64], now: i64) -> Result<(), ApiError> {
    match state
        .replay()
        .record(signed.site.as_str(), sig, signed.timestamp, now)
    {
        Ok(()) => Ok(()),
        Err(crate::replay::Refused::Replayed) => {
            tracing::warn!(site = %signed.site, "replayed site request refused");
            Err(ApiError::SiteUnauthorized(why::REPLAY))
        }
        Err(crate::replay::Refused::Full { retry_after_secs }) => {
            tracing::warn!(site = %signed.site, "replay memory of this site is full");
            Err(ApiError::Busy {
                message: "this site sent more signed requests than the hub remembers per clock window; send again after Retry-After seconds".into(),
                retry_after_secs,
            })
        }
    }
}

enum ReadError {
    TooLarge,
    Broken,
}

/// Reads at most `limit` bytes of `body`, returning them with their hex SHA-256.
async fn read_limited(
    mut body: Body,
    limit: usize,
    expect: usize,
) -> Result<(Bytes, String), ReadError> {
    let mut buf = Vec::with_capacity(expect);
    let mut hasher = Sha256::new();
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let Ok(data) = frame.map_err(|_| ReadError::Broken)?.into_data() else {
            continue; // trailers
        };
        if buf.len() + data.len() > limit {
            return Err(ReadError::TooLarge);
        }
        hasher.update(&data);
        buf.extend_from_slice(&data);
    }
    Ok((Bytes::from(buf), hex::encode(hasher.finalize())))
}

#[cfg(test)]
#[path = "site_request_tests.rs"]
mod tests;
