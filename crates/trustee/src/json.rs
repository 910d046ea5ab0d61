//! A JSON body extractor whose errors name the field but never quote the input.
//!
//! axum's own `Json` rejection repeats serde's message, which can contain the
//! offending value (`invalid type: string "Erika"`, `unknown variant ...`): identifying
//! data in an error body. This one reports the path (`items[2].idat.birth_date`)
//! and a fixed description; only serde's "missing field" message, which names a
//! field of our schema, is passed through.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use std::fmt::Write;

/// A JSON request body, deserialised with privacy-safe errors.
pub(crate) struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::BodyTooLarge
            } else {
                ApiError::invalid("body", "could not be read")
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

/// Deserialises `bytes` as `T`, mapping errors to [`ApiError::InvalidRequest`].
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => v,
        Err(e) => return Err(describe(e.path(), e.inner())),
    };
    de.end().map_err(|e| {
        ApiError::invalid(
            "body",
            &format!("trailing data at line {}, column {}", e.line(), e.column()),
        )
    })?;
    Ok(value)
}

fn describe(path: &serde_path_to_error::Path, e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::invalid(
            "body",
            &format!("not valid JSON (line {}, column {})", e.line(), e.column()),
        ),
        Category::Data => {
            let field = render_path(path);
            let msg = e.to_string();
            // "missing field `name` at line ..": `name` is one of our field names.
            match msg
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split_once('`'))
            {
                Some((name, _)) if is_safe_name(name) => {
                    ApiError::invalid(field, &format!("missing field `{name}`"))
                }
                _ => ApiError::invalid(field, "invalid value"),
            }
        }
    }
}

fn is_safe_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// Renders a path with indices and schema field names only; any segment that
/// could come from the input (an arbitrary map key) becomes `?`.
fn render_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => {
                let _ = write!(out, "[{index}]");
            }
            Segment::Map { key } | Segment::Enum { variant: key } if is_safe_name(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            _ => out.push_str(if out.is_empty() { "?" } else { ".?" }),
        }
    }
    if out.is_empty() { "body".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oncofed_trustee_api::PseudonymiseRequest;

    fn message(body: &str) -> String {
        match parse::<PseudonymiseRequest>(body.as_bytes()) {
            Err(ApiError::InvalidRequest(m)) => m,
            other => panic!("expected invalid_request, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn errors_name_paths_not_values() {
        let m = message(
            r#"{"items": [{"local_id": "p1", "idat": {"given": ["Erika"], "sex": "Mustermann"}}]}"#,
        );
        assert_eq!(m, "items[0].idat.sex: invalid value");
        let m = message(
            r#"{"items": [{"local_id": "p1", "idat": {"sex": "female", "birth_date": "Erika-1964"}}]}"#,
        );
        assert_eq!(m, "items[0].idat.birth_date: invalid value");
        let m = message(
            r#"{"items": [{"local_id": "p1", "idat": {"sex": "female", "kvnr": "Erika"}}]}"#,
        );
        assert_eq!(m, "items[0].idat.kvnr: invalid value");
        let m = message(r#"{"items": [{"idat": {"sex": "female"}}]}"#);
        assert_eq!(m, "items[0]: missing field `local_id`");
        assert!(message(r#"{"items": [Erika"#).starts_with("body: not valid JSON"));
        assert!(message(r#"{"items": []} Erika"#).starts_with("body: trailing data"));
    }
}
