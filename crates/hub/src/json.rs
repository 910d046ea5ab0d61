//! The hub's JSON body extractor: every refusal is the hub's own JSON error
//! body ([`ApiError`]) instead of axum's plain-text rejection, so clients parse
//! one error shape and get a message that says what to fix.
//!
//! Bodies are limited by the router's `DefaultBodyLimit`
//! ([`MAX_JSON_BODY`] for researcher and admin routes). The hub's request types
//! hold criteria, analysis requests and project descriptions, never personal
//! data, so serde's message (which may quote the offending token) is returned
//! with the path of the field it concerns.

use crate::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Largest JSON body a researcher or admin route reads. The largest legitimate
/// body is a feasibility request at the criteria limits (64 leaves, depth 8:
/// a few KB) or an analysis request with a few hundred histogram edges.
pub const MAX_JSON_BODY: usize = 64 << 10;

/// A JSON request body (or response) whose rejections are [`ApiError`]s.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(format!(
                    "the body is larger than this route accepts ({MAX_JSON_BODY} bytes)"
                ))
            } else {
                ApiError::Invalid("the request body could not be read; send it again".into())
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Whether the request declares a JSON body (`application/json` or `…+json`).
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json")
            || sub.len() > 5 && sub.as_bytes()[sub.len() - 5..].eq_ignore_ascii_case(b"+json"))
}

/// Deserialises `bytes` as `T`; the error names the field path and what is wrong.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    use serde_json::error::Category;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => ApiError::Invalid(format!(
                "the body is not valid JSON: {inner}; send one JSON object"
            )),
            Category::Data if path == "." => ApiError::Invalid(format!(
                "the body does not have the expected fields: {inner}"
            )),
            Category::Data => ApiError::Invalid(format!("field `{path}`: {inner}")),
        }
    })?;
    de.end().map_err(|e| {
        ApiError::Invalid(format!(
            "the body has data after its JSON value: {e}; send exactly one JSON object"
        ))
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Req {
        name: String,
        inner: Inner,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
    }

    fn message(e: ApiError) -> String {
        match e {
            ApiError::Invalid(m) => m,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field_and_the_problem() {
        let m = message(parse::<Req>(br#"{"name": "x", "inner": {"n": 300}}"#).unwrap_err());
        assert!(m.starts_with("field `inner.n`"), "{m}");
        let m = message(parse::<Req>(br#"{"name": "x"}"#).unwrap_err());
        assert!(m.contains("missing field `inner`"), "{m}");
        let m = message(parse::<Req>(b"{\"name\": ").unwrap_err());
        assert!(m.contains("not valid JSON"), "{m}");
        let m = message(parse::<Req>(br#"{"name":"x","inner":{"n":1}} {}"#).unwrap_err());
        assert!(m.contains("data after its JSON value"), "{m}");
        assert!(parse::<Req>(br#"{"name":"x","inner":{"n":1}}"#).is_ok());
    }

    #[test]
    fn only_json_content_types_are_accepted() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        for (value, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/problem+json", true),
            ("application/+json", false),
            ("text/plain", false),
            ("application/jsonx", false),
            ("json", false),
        ] {
            h.insert(header::CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json(&h), ok, "{value}");
        }
    }
}
