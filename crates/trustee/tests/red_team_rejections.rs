//! Red-team regression (issue 9, defect 6): malformed query strings and path
//! parameters were answered by axum in plain text, not with the trust centre's
//! JSON error body.

mod linkage_common;

use linkage_common::{ADMIN, Server, TOKEN_A};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_query_and_path_rejections_are_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let http = oncofed_tls::http_client();
    let cases = [
        ("GET", "/v1/admin/review?limit=Erika", ADMIN, 400),
        ("GET", "/v1/admin/review?limit=-", ADMIN, 400),
        ("POST", "/v1/deletions/not-a-number/done", TOKEN_A, 404),
        ("POST", "/v1/admin/recontact/Mustermann/approve", ADMIN, 404),
    ];
    for (method, path, token, status) in cases {
        let resp = http
            .request(method.parse().unwrap(), format!("{}{path}", server.url))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status, "{method} {path}");
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "{path}: {content_type}"
        );
        let body: serde_json::Value = resp.json().await.unwrap();
        assert!(body["code"].is_string(), "{path}: {body}");
        let text = body.to_string();
        assert!(
            !text.contains("Erika") && !text.contains("Mustermann"),
            "the value sent is not echoed: {text}"
        );
    }
    server.shutdown().await;
}
