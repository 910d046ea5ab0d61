//! The federation's catalogue over HTTP (issue 17, R20): the admin's refresh
//! and the public HealthDCAT-AP documents.
//!
//! - `POST /v1/admin/catalogue/refresh` (admins): asks the sites, publishes,
//!   audits (`crate::catalogue::refresh`);
//! - `GET /catalogue.jsonld` (`application/ld+json`) and `GET /catalogue.ttl`
//!   (`text/turtle`): the newest published catalogue, public: it holds only
//!   figures released under disclosure control;
//! - `GET /catalogue` with `Accept: application/ld+json` or `text/turtle`
//!   answers the same documents (content negotiation); otherwise the
//!   browsable page of the portal.

use super::blocking;
use crate::auth::AsAdmin;
use crate::{ApiError, AppState};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use oncofed_protocol::CatalogueRefreshed;

/// The media type of JSON-LD.
pub const JSON_LD: &str = "application/ld+json";
/// The media type of Turtle.
pub const TURTLE: &str = "text/turtle";

/// The catalogue's data routes and the admin's refresh.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/catalogue/refresh", post(refresh))
        .route("/catalogue.jsonld", get(jsonld))
        .route("/catalogue.ttl", get(turtle))
}

async fn refresh(
    AsAdmin(user): AsAdmin,
    State(state): State<AppState>,
) -> Result<Json<CatalogueRefreshed>, ApiError> {
    crate::catalogue::refresh(&state, &user.id).await.map(Json)
}

/// The newest published catalogue, if any.
pub async fn latest(state: &AppState) -> Result<Option<crate::db::Published>, ApiError> {
    blocking(state, |s| {
        s.inner.db.latest_catalogue().map_err(ApiError::internal)
    })
    .await
}

/// A serialisation the client asked for by `Accept`, if it asked for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/ld+json`.
    JsonLd,
    /// `text/turtle`.
    Turtle,
}

impl Format {
    /// The first of JSON-LD or Turtle the `Accept` header names with a
    /// non-zero quality, in the header's order of preference; `None` when it
    /// names neither (a browser: the HTML page).
    pub fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
        let mut best: Option<(f32, usize, Self)> = None;
        for (i, part) in accept.split(',').enumerate() {
            let mut params = part.split(';');
            let media = params.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = params
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let format = match media.as_str() {
                JSON_LD => Self::JsonLd,
                TURTLE => Self::Turtle,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi)) {
                best = Some((q, i, format));
            }
        }
        best.map(|(_, _, f)| f)
    }
}

/// The catalogue in `format`, or 404 when none was published yet.
pub async fn document(state: &AppState, headers: &HeaderMap, format: Format) -> Response {
    let catalogue = match latest(state).await {
        Ok(Some(p)) => p.catalogue,
        Ok(None) => return ApiError::NotFound.into_response(),
        Err(e) => return e.into_response(),
    };
    let at = crate::catalogue::endpoints(state, headers);
    let (media, body) = match format {
        Format::JsonLd => (
            JSON_LD,
            oncofed_dcat::to_jsonld(&catalogue, &at).to_string(),
        ),
        Format::Turtle => (TURTLE, oncofed_dcat::to_turtle(&catalogue, &at)),
    };
    let mut response = (StatusCode::OK, body).into_response();
    let value =
        HeaderValue::from_str(&format!("{media}; charset=utf-8")).expect("constant media type");
    response.headers_mut().insert(header::CONTENT_TYPE, value);
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

async fn jsonld(State(state): State<AppState>, headers: HeaderMap) -> Response {
    document(&state, &headers, Format::JsonLd).await
}

async fn turtle(State(state): State<AppState>, headers: HeaderMap) -> Response {
    document(&state, &headers, Format::Turtle).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Option<Format> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        Format::negotiate(&h)
    }

    #[test]
    fn accept_picks_the_preferred_rdf_format_or_none() {
        assert_eq!(accept("application/ld+json"), Some(Format::JsonLd));
        assert_eq!(accept("text/turtle"), Some(Format::Turtle));
        assert_eq!(
            accept("text/turtle;q=0.5, application/ld+json;q=0.9"),
            Some(Format::JsonLd)
        );
        assert_eq!(
            accept("application/ld+json, text/turtle"),
            Some(Format::JsonLd)
        );
        assert_eq!(accept("text/turtle;q=0, text/html"), None);
        assert_eq!(accept("text/html,application/xhtml+xml,*/*;q=0.8"), None);
        assert_eq!(Format::negotiate(&HeaderMap::new()), None);
    }
}
