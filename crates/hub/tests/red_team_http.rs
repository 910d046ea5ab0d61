//! Issue 9's HTTP-layer defects of the hub, each reproduced against a running
//! hub over real connections (the extractor-level tests with byte-counting
//! bodies are in `src/site_request_tests.rs`).

mod support;

use oncofed_crypto::SigningKeyPair;
use oncofed_protocol::api::ApiErrorBody;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use support::{ADMIN, AUDITOR, Hub, RESEARCHER};

async fn hub(tune: impl FnOnce(&mut oncofed_hub::HubConfig)) -> (Hub, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path().join("hub"), SigningKeyPair::generate(), tune).await;
    (hub, dir)
}

/// A POST of `body` as `content_type` to the hub's `route`, with bearer `token`.
async fn post(
    http: &reqwest::Client,
    hub: &Hub,
    route: &str,
    token: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    http.post(format!("{}{route}", hub.url))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Registers `site-1` with a fresh key, as an admin would.
async fn register(hub: &Hub) -> SigningKeyPair {
    let key = SigningKeyPair::generate();
    let resp = oncofed_tls::http_client()
        .post(format!("{}/v1/admin/sites", hub.url))
        .bearer_auth(ADMIN)
        .json(&json!({ "site": "site-1", "public_key": key.public_key() }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    key
}

/// The error body of a refusal: it must be the hub's JSON, whatever went wrong.
async fn error_body(resp: reqwest::Response) -> (u16, ApiErrorBody) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("HTTP {status}: not the hub's JSON error body: {text:?}"));
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_site_results_body_not_read_before_signature_over_tcp() {
    let (hub, _dir) = hub(|_| {}).await;
    register(&hub).await;
    // 60 MB announced, zero signature, no body byte sent: a hub that reads the
    // body first waits for it forever; this one answers from the headers.
    let addr = hub.url.trim_start_matches("http://");
    let ts = chrono::Utc::now().timestamp();
    let zero = oncofed_crypto::Signature::from_bytes(&[0; 64]);
    let head = format!(
        "POST /v1/site/results HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nx-oncofed-site: site-1\r\nx-oncofed-timestamp: {ts}\r\n\
         x-oncofed-signature: {zero}\r\nx-oncofed-content-sha256: {}\r\n\r\n",
        60 << 20,
        "0".repeat(64)
    );
    let addr = addr.to_owned();
    let text = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        // A guard against a hang, not a timing assertion: the answer needs no body.
        conn.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        conn.write_all(head.as_bytes()).unwrap();
        let (mut answer, mut buf) = (Vec::new(), [0; 4096]);
        while !answer.contains(&b'}') {
            match conn.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) => panic!("the hub waited for the 60 MB body ({e})"),
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap();
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(text.contains("signature does not verify"), "{text}");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_signed_site_request_replay_refused() {
    let (hub, _dir) = hub(|_| {}).await;
    let key = register(&hub).await;
    let path = "/v1/site/tasks?wait=0&nonce=7";
    let ts = chrono::Utc::now().timestamp();
    let signature = oncofed_crypto::sign_request(&key, "GET", path, ts, b"");
    let send = || {
        oncofed_tls::http_client()
            .get(format!("{}{path}", hub.url))
            .header("x-oncofed-site", "site-1")
            .header("x-oncofed-timestamp", ts.to_string())
            .header("x-oncofed-signature", signature.to_string())
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    let (status, body) = error_body(send().await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(
        body.message.contains("already received"),
        "{}",
        body.message
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_429_without_retry_after() {
    let (hub, _dir) = hub(|c| {
        c.limits = oncofed_privacy::QueryBudget {
            per_minute: 1,
            per_week: 10,
        };
    })
    .await;
    let criteria = json!({ "diagnosis": { "icd10": "C50" } });
    let (first, _) = support::feasibility(&hub, RESEARCHER, criteria.clone(), 0).await;
    assert_eq!(first, 200);
    let resp = oncofed_tls::http_client()
        .post(format!("{}/v1/feasibility", hub.url))
        .bearer_auth(RESEARCHER)
        .json(&json!({ "criteria": criteria, "wait_seconds": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "one query a minute: {retry}");
    let (_, body) = error_body(resp).await;
    assert_eq!(body.code, "rate_limited");
    hub.stop().await;
}

fn analysis_request() -> Value {
    use oncofed_protocol::analysis::{Analysis, AnalysisRequest, IndexEvent, Variable};
    serde_json::to_value(AnalysisRequest {
        project: "p1".into(),
        index: IndexEvent {
            icd10: "C50".into(),
        },
        cohort: None,
        analysis: Analysis::Describe {
            variables: vec![Variable::Age],
            edges: vec![],
            strata: None,
        },
        epsilon: None,
        wait_seconds: Some(0),
        tolerance: None,
        max_iter: None,
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_analyses_have_no_rate_limit_or_quota() {
    let (hub, _dir) = hub(|c| {
        c.analysis_runs = oncofed_privacy::QueryBudget {
            per_minute: 2,
            per_week: 100,
        };
    })
    .await;
    let http = oncofed_tls::http_client();
    let project = oncofed_protocol::analysis::Project {
        id: "p1".into(),
        title: "rate limit".into(),
        researchers: vec!["alice".into()],
        categories: BTreeSet::from([oncofed_model::DataCategory::Clinical]),
        epsilon_budget: 1.0,
        plan: Default::default(),
    };
    let resp = http
        .post(format!("{}/v1/admin/projects", hub.url))
        .bearer_auth(ADMIN)
        .json(&project)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let post = || {
        http.post(format!("{}/v1/analyses", hub.url))
            .bearer_auth(RESEARCHER)
            .json(&analysis_request())
            .send()
    };
    for _ in 0..2 {
        let resp = post().await.unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }
    let resp = post().await.unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let (_, body) = error_body(resp).await;
    assert!(body.message.contains("too many"), "{}", body.message);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_json_rejections_are_plain_text() {
    let (hub, _dir) = hub(|_| {}).await;
    let http = oncofed_tls::http_client();
    let routes = [
        ("/v1/feasibility", RESEARCHER),
        ("/v1/analyses", RESEARCHER),
        ("/v1/admin/sites", ADMIN),
        ("/v1/admin/projects", ADMIN),
    ];
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(100 << 10));
    let cases: [(&str, &str, String, u16); 5] = [
        ("bad JSON", "application/json", "{".into(), 400),
        ("no fields", "application/json", "{}".into(), 400),
        ("wrong type", "application/json", "[1, 2]".into(), 400),
        ("wrong content type", "text/plain", "{}".into(), 415),
        ("too large", "application/json", big, 413),
    ];
    for (route, token) in routes {
        for (what, content_type, body, expected) in &cases {
            let resp = post(&http, &hub, route, token, content_type, body.clone()).await;
            let (status, err) = error_body(resp).await;
            assert_eq!(status, *expected, "{route} {what}: {}", err.message);
            assert!(!err.code.is_empty() && !err.message.is_empty());
        }
    }
    // A malformed query string gets the same JSON body.
    let resp = http
        .get(format!("{}/v1/analyses/x?wait=soon", hub.url))
        .bearer_auth(RESEARCHER)
        .send()
        .await
        .unwrap();
    let (status, err) = error_body(resp).await;
    assert_eq!((status, err.code.as_str()), (400, "invalid_request"));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_body_parsed_before_role_check() {
    let (hub, _dir) = hub(|_| {}).await;
    let http = oncofed_tls::http_client();
    let wrong_roles = [
        ("/v1/feasibility", ADMIN),
        ("/v1/feasibility", AUDITOR),
        ("/v1/analyses", ADMIN),
        ("/v1/analyses", AUDITOR),
        ("/v1/admin/sites", RESEARCHER),
        ("/v1/admin/sites", AUDITOR),
        ("/v1/admin/projects", RESEARCHER),
        ("/v1/admin/projects", AUDITOR),
    ];
    for (route, token) in wrong_roles {
        for body in ["{", "{}", "not json at all"] {
            let resp = post(&http, &hub, route, token, "application/json", body).await;
            let (status, err) = error_body(resp).await;
            assert_eq!((status, err.code.as_str()), (403, "forbidden"), "{route}");
        }
        // No token at all: 401, also before the body.
        let resp = http
            .post(format!("{}{route}", hub.url))
            .body("{")
            .send()
            .await
            .unwrap();
        assert_eq!(error_body(resp).await.0, 401);
    }
    hub.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_hub_db_world_readable() {
    use std::os::unix::fs::PermissionsExt;
    let (hub, dir) = hub(|_| {}).await;
    register(&hub).await; // something written, so the WAL exists
    let data = dir.path().join("hub");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data directory");
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(mode(&path), 0o600, "{name}");
        seen.insert(name);
    }
    for required in ["hub.db", "audit.db", "sketch.secret"] {
        assert!(seen.contains(required), "{required} missing: {seen:?}");
    }
    hub.stop().await;
}

/// Issue 11, item 2 at the hub: the approval fixes what a run may compute. A
/// project approved for `describe` of age only, horizons up to 365 days, refuses
/// a KM analysis, a describe of another variable, and an absurd plan at approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_outside_the_approved_plan_are_refused() {
    use oncofed_protocol::analysis::{Project, Variable};
    use oncofed_protocol::plan::PlanLimits;
    let (hub, _dir) = hub(|_| {}).await;
    let http = oncofed_tls::http_client();
    let approve = |plan: PlanLimits| {
        let project = Project {
            id: "p1".into(),
            title: "approved plan".into(),
            researchers: vec!["alice".into()],
            categories: BTreeSet::from([oncofed_model::DataCategory::Clinical]),
            epsilon_budget: 1.0,
            plan,
        };
        http.post(format!("{}/v1/admin/projects", hub.url))
            .bearer_auth(ADMIN)
            .json(&project)
            .send()
    };
    let absurd = PlanLimits {
        max_horizon_days: u32::MAX,
        ..PlanLimits::default()
    };
    assert_eq!(approve(absurd).await.unwrap().status(), 400);
    let narrow = PlanLimits {
        kinds: vec!["describe".into()],
        variables: Some(vec![Variable::Age]),
        max_horizon_days: 365,
        ..PlanLimits::default()
    };
    let resp = approve(narrow).await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let post = |body: Value| {
        http.post(format!("{}/v1/analyses", hub.url))
            .bearer_auth(RESEARCHER)
            .json(&body)
            .send()
    };
    let with = |analysis: oncofed_protocol::analysis::Analysis| {
        let mut body = analysis_request();
        body["analysis"] = serde_json::to_value(analysis).unwrap();
        body
    };
    let km = with(oncofed_protocol::analysis::Analysis::KaplanMeier {
        survival: Default::default(),
        groups: None,
        interval_days: 30,
    });
    let female = with(oncofed_protocol::analysis::Analysis::Describe {
        variables: vec![Variable::Female],
        edges: vec![],
        strata: None,
    });
    for (body, why) in [(km, "'km'"), (female, "variable")] {
        let resp = post(body).await.unwrap();
        assert_eq!(resp.status(), 403, "{why}");
        let (_, body) = error_body(resp).await;
        assert!(body.message.contains(why), "{}", body.message);
    }
    // Within the plan: accepted (the run itself then waits for sites).
    let resp = post(analysis_request()).await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    hub.stop().await;
}
