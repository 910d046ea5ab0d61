//! Security headers for every response and the vendored static assets.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The Content Security Policy of every page: scripts and styles only from
/// the service itself (no inline script, no `style` attribute), no framing,
/// forms only back to the service.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

const HTMX: &str = include_str!("../assets/htmx.min.js");
const CSS: &str = include_str!("../assets/portal.css");

/// Middleware (`axum::middleware::from_fn(secure_headers)`) adding the CSP,
/// `nosniff`, `no-referrer` (ids in URLs never leave), `DENY` framing and,
/// except for `/static/`, `Cache-Control: no-store` (pages with health data
/// must not stay in shared or browser caches).
pub async fn secure_headers(request: Request, next: Next) -> Response {
    let is_static = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    if !is_static {
        set(header::CACHE_CONTROL, "no-store");
    }
    response
}

/// `/static/portal.css` and `/static/htmx.min.js`, compiled into the binary
/// (nothing to deploy beside it, nothing fetched from a CDN).
pub fn assets_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/static/htmx.min.js",
            get(|| async { asset("text/javascript; charset=utf-8", HTMX) }),
        )
        .route(
            "/static/portal.css",
            get(|| async { asset("text/css; charset=utf-8", CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    #[tokio::test]
    async fn pages_get_the_policy_and_assets_are_served() {
        let app = assets_router::<()>()
            .route("/p", get(|| async { "page" }))
            .layer(axum::middleware::from_fn(secure_headers));
        let page = app
            .clone()
            .oneshot(Request::get("/p").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let h = page.headers();
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], CONTENT_SECURITY_POLICY);
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let js = app
            .oneshot(
                Request::get("/static/htmx.min.js")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(js.status(), 200);
        assert!(
            js.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        assert_eq!(js.headers()[header::CACHE_CONTROL], "public, max-age=3600");
    }
}
