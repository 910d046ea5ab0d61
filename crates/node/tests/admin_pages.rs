//! The site admin's pages at the node (issue 17, item 4), over real HTTP:
//! sign-in with the node's API token (and nothing else), an ingest run with
//! its errors after a bad batch, the quality trend after two reports, the
//! quarantine, and sign-out only with the session's CSRF token.

mod support;

use oncofed_node::admin_pages::AdminPages;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;
use support::{Node, Trustee};

const TOKEN: &str = "node-api-token-0123456789abcdef";

fn bundle_line(id: &str, lab: Option<serde_json::Value>) -> String {
    let mut entries = vec![json!({
        "fullUrl": format!("urn:uuid:{id}"),
        "resource": {"resourceType": "Patient", "id": id, "gender": "female", "birthDate": "1961-04-03",
                     "name": [{"use": "official", "family": "Schmidt", "given": ["Hannelore"]}]},
        "request": {"method": "PUT", "url": format!("Patient/{id}")}
    })];
    if let Some(value) = lab {
        entries.push(json!({
            "fullUrl": format!("urn:uuid:obs-{id}"),
            "resource": {"resourceType": "Observation", "id": format!("obs-{id}"), "status": "final",
                         "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
                         "subject": {"reference": format!("urn:uuid:{id}")},
                         "effectiveDateTime": "2024-02-01",
                         "valueQuantity": {"value": value, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"}},
            "request": {"method": "PUT", "url": format!("Observation/obs-{id}")}
        }));
    }
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries}).to_string()
}

fn cookie_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

/// An urlencoded form body (the values here are tokens of [A-Za-z0-9-]).
fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..at + 64].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_runs_quality_trends_and_sign_in_at_the_node() {
    let trustee = Trustee::with_sites(1).await;
    let client = trustee.client("site-1");
    let node = Node::new();
    let data = tempfile::tempdir().unwrap();

    // A first batch: three good bundles, one whose lab value is no number.
    let first = data.path().join("batch-1.ndjson");
    let lines = [
        bundle_line("p1", Some(json!(12.1))),
        bundle_line("p2", Some(json!(11.0))),
        bundle_line("p3", Some(json!("twelve"))),
        bundle_line("p4", None),
    ];
    std::fs::write(&first, lines.join("\n")).unwrap();
    let report = node.ingest(&client, &[first]).await.unwrap();
    assert_eq!(
        (report.units_ok, report.units_failed),
        (3, 1),
        "{:?}",
        report.errors
    );
    oncofed_node::quality::report_and_record(&node.store)
        .await
        .unwrap();

    // A second batch: a lab value for p4, and p5 without a birth date, so
    // the completeness of `patient.birth_year` falls.
    let second = data.path().join("batch-2.ndjson");
    let mut p5: serde_json::Value = serde_json::from_str(&bundle_line("p5", None)).unwrap();
    p5["entry"][0]["resource"]
        .as_object_mut()
        .unwrap()
        .remove("birthDate");
    std::fs::write(
        &second,
        [bundle_line("p4", Some(json!(13.0))), p5.to_string()].join("\n"),
    )
    .unwrap();
    node.ingest_clean(&client, &[second]).await;
    oncofed_node::quality::report_and_record(&node.store)
        .await
        .unwrap();

    // The node API with the admin pages, on loopback.
    let gate = std::sync::Arc::new(oncofed_node::ConsentGate::new(
        client,
        std::time::Duration::from_secs(60),
    ));
    let service = oncofed_node::QueryService::new(node.store.clone(), gate);
    let pages = AdminPages::new(
        node.store.clone(),
        TOKEN,
        false,
        Some("https://hub.example.org".into()),
    );
    let state = oncofed_node::serve::ApiState::new(service, TOKEN).with_admin_pages(pages);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(oncofed_node::serve::launch(
        state,
        listener,
        None,
        false,
        std::future::pending(),
    ));
    oncofed_tls::install_crypto_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // No session: every page sends the browser to the sign-in form.
    for path in [
        "/admin",
        "/admin/ingest",
        "/admin/quality",
        "/admin/quarantine",
        "/admin/withdrawals",
    ] {
        let r = http.get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(r.headers()[LOCATION], "/admin/login");
    }

    // Sign-in needs the form's pre-session and the node's token.
    let r = http.get(format!("{url}/admin/login")).send().await.unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let pre = cookie_of(&r, "oncofed_node_sign_in").expect("pre-session cookie");
    let form = csrf_in(&r.text().await.unwrap());
    let r = http
        .post(format!("{url}/admin/login"))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form_body(&[("csrf", form.as_str()), ("token", TOKEN)]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no pre-session cookie");
    let r = http
        .post(format!("{url}/admin/login"))
        .header(COOKIE, &pre)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form_body(&[("csrf", form.as_str()), ("token", "guess")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "wrong token");
    assert!(cookie_of(&r, "oncofed_node").is_none());
    let pre = cookie_of(&r, "oncofed_node_sign_in").unwrap();
    let form = csrf_in(&r.text().await.unwrap());
    let r = http
        .post(format!("{url}/admin/login"))
        .header(COOKIE, &pre)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form_body(&[("csrf", form.as_str()), ("token", TOKEN)]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = cookie_of(&r, "oncofed_node").expect("session cookie");
    let page = |path: &'static str| {
        let http = http.clone();
        let url = url.clone();
        let session = session.clone();
        async move {
            let r = http
                .get(format!("{url}{path}"))
                .header(COOKIE, session)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.text().await.unwrap()
        }
    };

    // The ingest runs: the bad batch's error names file and line, not the value.
    let ingest = page("/admin/ingest").await;
    assert!(ingest.contains("batch-1.ndjson"), "{ingest}");
    assert!(ingest.contains("line 3"), "{ingest}");
    assert!(
        !ingest.contains("Schmidt") && !ingest.contains("Hannelore") && !ingest.contains("1961"),
        "no personal data"
    );
    assert!(ingest.contains("<th scope=\"col\""));
    let runs = node.store.lock().unwrap().ingest_runs(10).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        (
            runs[1].units_accepted,
            runs[1].units_rejected,
            runs[1].errors_total
        ),
        (3, 1, 1)
    );
    assert_eq!((runs[0].units_accepted, runs[0].units_rejected), (2, 0));
    assert_eq!(runs[0].source, "fhir");

    // The quality trend: two reports, birth-year completeness down from 100 % to 75 %.
    let quality = page("/admin/quality").await;
    assert!(quality.contains("patient.birth_year"), "{quality}");
    assert!(
        quality.contains("▼ -25.0"),
        "the trend shows the fall: {quality}"
    );
    let history = oncofed_node::quality::history(&node.store, 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (history[1].point.patients, history[0].point.patients),
        (3, 4)
    );

    // The other pages render; projects link to the hub portal.
    assert!(page("/admin/quarantine").await.contains("<h1>"));
    assert!(page("/admin/withdrawals").await.contains("<h1>"));
    assert!(
        page("/admin/projects")
            .await
            .contains("https://hub.example.org/portal/site/ledger")
    );
    let overview = page("/admin").await;
    assert!(overview.contains("/admin/ingest"));

    // The JSON API is unchanged: the token, not the session cookie.
    let r = http
        .post(format!("{url}/v1/query"))
        .header(COOKIE, &session)
        .json(&json!({"purpose": "research", "date": "2026-01-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Sign-out: without the session's CSRF token refused, with it the session ends.
    let r = http
        .post(format!("{url}/admin/logout"))
        .header(COOKIE, &session)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form_body(&[("csrf", "0".repeat(64).as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let csrf = csrf_in(&overview);
    let r = http
        .post(format!("{url}/admin/logout"))
        .header(COOKIE, &session)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form_body(&[("csrf", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = http
        .get(format!("{url}/admin"))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the old session cookie is worthless");
}
