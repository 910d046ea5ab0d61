//! The shared edge as an operator and an outsider meet it: request ids in
//! headers and error bodies, Prometheus text with per-route counts, and
//! `/metrics` refused to callers on other hosts.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use oncofed_service::Edge;
use oncofed_tls::Peer;
use std::sync::Arc;
use tower::ServiceExt;

fn app(edge: &Edge) -> Router {
    let router = Router::new()
        .route("/v1/items/{id}", get(|| async { "item" }))
        .route(
            "/v1/broken",
            get(|| async {
                (
                    StatusCode::BAD_REQUEST,
                    axum::Json(serde_json::json!({"code": "invalid", "message": "no"})),
                )
            }),
        );
    edge.wrap(router)
}

fn from(remote: &str, uri: &str) -> Request<Body> {
    let mut request = Request::get(uri).body(Body::empty()).unwrap();
    request.extensions_mut().insert(ConnectInfo(Peer {
        remote: remote.parse().unwrap(),
        tls: false,
        client_uris: Arc::from(Vec::new()),
    }));
    request
}

async fn body(response: axum::response::Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_errors_quote_it() {
    let edge = Edge::new("test");
    let ok = app(&edge)
        .oneshot(from("127.0.0.1:1", "/v1/items/7"))
        .await
        .unwrap();
    let id = ok.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 16);
    let bad = app(&edge)
        .oneshot(from("127.0.0.1:1", "/v1/broken"))
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let id = bad.headers()["x-request-id"].to_str().unwrap().to_owned();
    let json: serde_json::Value = serde_json::from_str(&body(bad).await).unwrap();
    assert_eq!(json["request_id"], id.as_str());
    assert_eq!(json["code"], "invalid");
    // A caller's own plain id is kept (to follow a request across services);
    // anything else is replaced.
    let mut mine = from("127.0.0.1:1", "/v1/items/1");
    mine.headers_mut()
        .insert("x-request-id", "site-1.poll-42".parse().unwrap());
    let kept = app(&edge).oneshot(mine).await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "site-1.poll-42");
    let mut odd = from("127.0.0.1:1", "/v1/items/1");
    odd.headers_mut()
        .insert("x-request-id", "<script>".parse().unwrap());
    let replaced = app(&edge).oneshot(odd).await.unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "<script>");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_for_loopback_only() {
    let edge = Edge::new("test");
    let waiting = edge.gauge("tasks_waiting", "Tasks waiting for a site");
    waiting.set(3);
    for id in ["1", "2", "3"] {
        let uri = format!("/v1/items/{id}");
        app(&edge).oneshot(from("127.0.0.1:1", &uri)).await.unwrap();
    }
    app(&edge)
        .oneshot(from("127.0.0.1:1", "/v1/broken"))
        .await
        .unwrap();
    let metrics = app(&edge)
        .oneshot(from("[::1]:1", "/metrics"))
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = body(metrics).await;
    // One series per route template, not per item id.
    assert!(
        text.contains(r#"oncofed_test_http_requests_total{route="/v1/items/{id}",method="GET",status="200"} 3"#),
        "{text}"
    );
    assert!(text.contains(r#"status="400"} 1"#), "{text}");
    assert!(
        text.contains("oncofed_test_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("oncofed_test_tasks_waiting 3"), "{text}");
    // Another host, or no connection information at all: refused.
    let outside = app(&edge)
        .oneshot(from("10.1.2.3:1", "/metrics"))
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::FORBIDDEN);
    let unknown = Request::get("/metrics").body(Body::empty()).unwrap();
    assert_eq!(
        app(&edge).oneshot(unknown).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    // Unless the operator allows it.
    let public = Edge::new("test2").with_public_metrics(true);
    let outside = app(&public)
        .oneshot(from("10.1.2.3:1", "/metrics"))
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::OK);
}
