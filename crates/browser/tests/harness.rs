//! The harness itself, against a tiny axum server that serves its pages with
//! the portal's exact security headers: a clean page passes the axe check,
//! a page with critical violations fails it naming the rules, screenshots
//! are PNGs of the window's size, axe runs although the page's CSP blocks
//! inline scripts, and forms, cookies and waiting work as the walks use them.
//!
//! These run in CI, where `scripts/setup-peers` installs chromium; elsewhere
//! they skip with a printed reason unless `ONCOFED_REQUIRE_PEERS` is set.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use oncofed_browser::{Browser, BrowserError};

/// The portal's Content-Security-Policy (crates/web's `secure_headers`).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A 1×1 transparent PNG.
const PIXEL: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

fn page(title: &str, body: &str) -> impl IntoResponse + use<> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\
         <body><header><p>OncoFed harness</p></header><main id=\"main\">{body}</main></body></html>"
    );
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(html),
    )
}

async fn clean() -> impl IntoResponse {
    page(
        "Clean",
        &format!(
            "<h1>A clean page</h1><p>Text with enough contrast.</p>\
             <img src=\"{PIXEL}\" alt=\"A dot\">\
             <form method=\"post\" action=\"/echo\" class=\"stack\">\
             <label for=\"who\">Name</label><input id=\"who\" name=\"who\" type=\"text\">\
             <label for=\"colour\">Colour</label>\
             <select id=\"colour\" name=\"colour\"><option value=\"red\">Red</option>\
             <option value=\"blue\">Blue</option></select>\
             <button type=\"submit\">Send</button></form>"
        ),
    )
}

async fn broken() -> impl IntoResponse {
    page(
        "Broken",
        &format!(
            "<h1>A broken page</h1><img src=\"{PIXEL}\">\
             <form method=\"post\" action=\"/echo\"><input name=\"who\" type=\"text\"></form>"
        ),
    )
}

/// An inline script the CSP must block: if it ran, the heading would change.
async fn inline_script() -> impl IntoResponse {
    page(
        "Inline",
        "<h1 id=\"h\">untouched</h1>\
         <script>document.getElementById('h').textContent = 'script ran';</script>",
    )
}

/// Echoes the posted form and sets a session-like cookie.
async fn echo(body: String) -> impl IntoResponse {
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let body = format!(
        "<h1>Received</h1><p id=\"who\">{}</p><p id=\"colour\">{}</p>\
         <a href=\"/later\">Later content</a>",
        escape(&get("who")),
        escape(&get("colour"))
    );
    let mut response = page("Received", &body).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        header::HeaderValue::from_static("harness_session=abc; HttpOnly; SameSite=Strict; Path=/"),
    );
    response
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Serves the harness's pages on a loopback port; the base URL.
async fn serve() -> String {
    let app = Router::new()
        .route("/clean", get(clean))
        .route("/broken", get(broken))
        .route("/inline", get(inline_script))
        .route("/echo", axum::routing::post(echo));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_page_passes_and_its_screenshot_is_a_png_of_the_window() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let base = serve().await;
    let mut walk = browser.walk("harness-clean").await.expect("session");
    walk.set_base(&base).expect("base");
    walk.goto("/clean").await.expect("goto");
    let report = walk
        .step("clean page")
        .await
        .expect("no serious violations");
    assert!(report.blocking().is_empty(), "{:?}", report.violations);
    assert_eq!(report.version, "4.14.1");

    let png_path = walk.dir().join("01-clean-page.png");
    let png = std::fs::read(&png_path).expect("screenshot written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG signature");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
    assert_eq!((width, height), (1280, 1000), "the window's size");
    let json = std::fs::read(walk.dir().join("01-clean-page.axe.json")).expect("axe report");
    let json: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
    assert_eq!(json["url"], format!("{base}/clean"));

    // A second step numbers on.
    walk.goto("/clean").await.expect("goto");
    walk.step("again").await.expect("passes");
    assert!(walk.dir().join("02-again.png").is_file());
    walk.finish().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn critical_violations_fail_the_step_naming_rule_impact_and_element() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let base = serve().await;
    let mut walk = browser.walk("harness-broken").await.expect("session");
    walk.goto(&format!("{base}/broken")).await.expect("goto");
    let err = walk.step("broken page").await.expect_err("must fail");
    let BrowserError::Accessibility {
        ref violations,
        ref step,
        ref url,
        ..
    } = err
    else {
        panic!("an accessibility failure, not {err}");
    };
    assert_eq!(step, "broken page");
    assert_eq!(url, &format!("{base}/broken"));
    let ids: Vec<&str> = violations.iter().map(|v| v.id.as_str()).collect();
    assert!(ids.contains(&"image-alt"), "{ids:?}");
    assert!(ids.contains(&"label"), "{ids:?}");
    assert!(violations.iter().all(|v| v.is_blocking()));
    let message = err.to_string();
    println!("{message}");
    assert!(message.contains("[critical] image-alt"), "{message}");
    assert!(message.contains("at img"), "{message}");
    assert!(message.contains("at input"), "{message}");
    // The screenshot and the full report are kept for the failing step too.
    assert!(walk.dir().join("01-broken-page.png").is_file());
    assert!(walk.dir().join("01-broken-page.axe.json").is_file());
    walk.finish().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_runs_where_the_portal_csp_blocks_inline_scripts() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let base = serve().await;
    let mut walk = browser.walk("harness-csp").await.expect("session");
    walk.goto(&format!("{base}/inline")).await.expect("goto");
    // The page's own inline script was refused by its CSP …
    assert_eq!(walk.text("#h").await.expect("heading"), "untouched");
    // … and axe, injected over WebDriver, ran all the same.
    let report = walk.step("inline").await.expect("passes");
    assert_eq!(report.version, "4.14.1");
    walk.finish().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_cookies_and_waiting_work_as_walks_use_them() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let base = serve().await;
    let mut walk = browser.walk("harness-form").await.expect("session");
    walk.set_base(&base).expect("base");
    walk.goto("/clean").await.expect("goto");
    assert!(
        walk.cookie("harness_session")
            .await
            .expect("cookies")
            .is_none()
    );
    walk.fill("#who", "Ärztin <Probe>").await.expect("fill");
    walk.select("#colour", "blue").await.expect("select");
    assert_eq!(walk.value("#colour").await.expect("value"), "blue");
    walk.submit("form.stack").await.expect("submit");
    assert_eq!(walk.path().await.expect("path"), "/echo");
    assert_eq!(
        walk.text("#who").await.expect("echo"),
        "Ärztin <Probe>",
        "typed text arrives unchanged and is shown escaped"
    );
    walk.expect_text("#colour", "blue").await.expect("colour");
    assert!(walk.expect_text("#colour", "red").await.is_err());
    walk.wait_for("a[href='/later']").await.expect("present");
    assert!(walk.exists("h1").await.expect("query"));
    assert!(!walk.exists("#nothing").await.expect("query"));
    assert!(
        walk.html()
            .await
            .expect("html")
            .contains("<h1>Received</h1>")
    );

    let cookie = walk
        .cookie("harness_session")
        .await
        .expect("cookies")
        .expect("cookie set");
    assert!(cookie.http_only);
    assert!(!cookie.secure);
    assert_eq!(cookie.same_site.as_deref(), Some("Strict"));
    assert_eq!(cookie.path.as_deref(), Some("/"));
    walk.step("received").await.expect("passes");
    walk.timed("form round trip");

    // A second walk is a separate session: it does not share the cookie.
    let other = browser.walk("harness-form-other").await.expect("session");
    other.goto(&format!("{base}/clean")).await.expect("goto");
    assert!(
        other
            .cookie("harness_session")
            .await
            .expect("cookies")
            .is_none()
    );
    other.finish().await.expect("close");
    walk.finish().await.expect("close");
}
