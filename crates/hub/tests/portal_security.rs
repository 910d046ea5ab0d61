//! The portal's sign-in, session and CSRF rules through a real browser
//! (headless Debian chromium, `oncofed-browser`), over plain HTTP and under
//! the federation's TLS: the sign-in page passes the axe-core audit, a user
//! signs in with their token, the session cookie is HttpOnly and
//! SameSite=Strict (and `Secure`, `__Host-` prefixed, under TLS) and never
//! visible to the page's scripts, a foreign site's form posted from the same
//! browser carries no session, a POST with the session but without or with a
//! wrong CSRF token is refused, and signing out ends the session.
//!
//! `crates/hub/tests/portal_sign_in.rs` checks the same rules with plain
//! HTTP requests; this file checks that a browser sees them as intended.

use axum::response::Html;
use oncofed_browser::{Browser, Walk};
use oncofed_model::SiteId;
use oncofed_testkit::LocalFederation;
use reqwest::header::{COOKIE, LOCATION};
use reqwest::redirect::Policy;

async fn federation(dir: &std::path::Path, tls: bool) -> LocalFederation {
    LocalFederation::builder(dir, vec![SiteId::new("site-a").unwrap()])
        .tls(tls)
        .start()
        .await
        .unwrap()
}

/// A client for direct requests: no redirects followed, trusting the
/// federation's CA under TLS.
fn direct(fed: &LocalFederation) -> reqwest::Client {
    oncofed_tls::install_crypto_provider();
    oncofed_testkit::pki::client_tls(fed.pki.as_deref(), None)
        .client_for(
            fed.hub_url(),
            reqwest::Client::builder().redirect(Policy::none()),
        )
        .unwrap()
}

/// Signs `user` in through the sign-in form (the walk is on any page).
async fn sign_in(walk: &mut Walk, user: &str, token: &str) {
    walk.goto("/portal/login").await.unwrap();
    walk.fill("#user", user).await.unwrap();
    walk.fill("#token", token).await.unwrap();
    walk.submit("main form.stack").await.unwrap();
    assert_eq!(walk.path().await.unwrap(), "/portal");
}

/// A page of another site (the same browser, another origin) with a form
/// posting to the hub's sign-out: a cross-site request forgery attempt.
async fn foreign_site(target: String) -> String {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><title>Elsewhere</title></head><body><main>\
         <h1>Win a prize</h1><form method=\"post\" action=\"{target}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\">Claim</button></form></main></body></html>",
        "0".repeat(64)
    );
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { Html(page) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    // `localhost` is another site than the hub's `127.0.0.1` for SameSite.
    format!("http://localhost:{port}/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_sessions_are_httponly_strict_csrf_bound_and_end_on_sign_out() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fed = federation(dir.path(), false).await;
    let token = fed.user_token("researcher").unwrap();
    let mut walk = browser.walk("security-http").await.unwrap();
    walk.set_base(fed.hub_url()).unwrap();

    // Not signed in: the portal sends the browser to the sign-in page, which
    // passes the accessibility audit in both languages.
    walk.goto("/portal").await.unwrap();
    assert_eq!(walk.path().await.unwrap(), "/portal/login");
    walk.expect_text("h1", "Anmeldung").await.unwrap();
    walk.step("sign-in").await.unwrap();
    walk.goto("/portal/login?lang=en").await.unwrap();
    walk.expect_text("h1", "Sign in").await.unwrap();
    walk.step("sign-in-en").await.unwrap();

    // A wrong token: the form again, with an alert, and no session (back in
    // German: `?lang=` is remembered in a cookie).
    walk.goto("/portal/login?lang=de").await.unwrap();
    walk.fill("#user", "researcher").await.unwrap();
    walk.fill("#token", "guessed").await.unwrap();
    walk.submit("main form.stack").await.unwrap();
    walk.expect_text("[role=alert]", "fehlgeschlagen")
        .await
        .unwrap();
    assert!(walk.cookie("oncofed_hub").await.unwrap().is_none());
    walk.step("sign-in-failed").await.unwrap();

    walk.timed("before sign-in");
    sign_in(&mut walk, "researcher", &token).await;
    walk.timed("sign-in");
    walk.expect_text("header .who", "researcher").await.unwrap();
    walk.step("home").await.unwrap();

    let session = walk
        .cookie("oncofed_hub")
        .await
        .unwrap()
        .expect("a session cookie");
    assert!(session.http_only, "{session:?}");
    assert_eq!(session.same_site.as_deref(), Some("Strict"));
    assert_eq!(session.path.as_deref(), Some("/"));
    assert!(!session.secure, "plain HTTP: no Secure flag");
    // HttpOnly as the page sees it: its scripts cannot read the session.
    let visible = walk
        .execute("return document.cookie;", vec![])
        .await
        .unwrap();
    assert!(
        !visible
            .as_str()
            .unwrap_or_default()
            .contains(&session.value),
        "{visible}"
    );

    // Direct requests with the browser's session cookie but no or a wrong
    // CSRF token: refused, and the session lives on.
    let http = direct(&fed);
    let url = format!("{}/portal/logout", fed.hub_url());
    let jar = format!("oncofed_hub={}", session.value);
    let r = http
        .post(&url)
        .header(COOKIE, &jar)
        .form(&[("other", "x")])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_client_error(),
        "no CSRF field: {}",
        r.status()
    );
    let r = http
        .post(&url)
        .header(COOKIE, &jar)
        .form(&[("csrf", "0".repeat(64))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a wrong CSRF token");

    // A foreign site's form posted from this browser: SameSite=Strict keeps
    // the cookie home, so the hub sees no session and signs nobody out.
    let foreign = foreign_site(url.clone()).await;
    walk.goto(&foreign).await.unwrap();
    walk.submit("form").await.unwrap();
    walk.goto("/portal").await.unwrap();
    assert_eq!(walk.path().await.unwrap(), "/portal", "still signed in");
    walk.expect_text("header .who", "researcher").await.unwrap();

    // Signing out through the page's own form ends the session.
    walk.submit("header form.inline").await.unwrap();
    walk.timed("sign-out");
    walk.goto("/portal").await.unwrap();
    assert_eq!(walk.path().await.unwrap(), "/portal/login");
    walk.step("signed-out").await.unwrap();
    let r = http
        .get(format!("{}/portal", fed.hub_url()))
        .header(COOKIE, &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the old session cookie opens nothing");
    assert_eq!(r.headers()[LOCATION], "/portal/login");

    walk.finish().await.unwrap();
    fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_tls_the_session_cookie_is_secure_and_host_prefixed() {
    let Some(browser) = Browser::start_accepting_insecure_certs().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fed = federation(dir.path(), true).await;
    assert!(fed.hub_url().starts_with("https://"));
    let token = fed.user_token("committee-1").unwrap();
    let mut walk = browser.walk("security-tls").await.unwrap();
    walk.set_base(fed.hub_url()).unwrap();

    walk.goto("/portal/login").await.unwrap();
    walk.step("sign-in").await.unwrap();
    sign_in(&mut walk, "committee-1", &token).await;
    walk.step("home").await.unwrap();

    let cookies = walk.cookies().await.unwrap();
    assert!(
        cookies.iter().all(|c| c.name != "oncofed_hub"),
        "under TLS only the __Host- cookie: {cookies:?}"
    );
    let session = walk
        .cookie("__Host-oncofed_hub")
        .await
        .unwrap()
        .expect("a __Host- session cookie");
    assert!(session.secure && session.http_only, "{session:?}");
    assert_eq!(session.same_site.as_deref(), Some("Strict"));
    assert_eq!(session.path.as_deref(), Some("/"));

    // The session is bound to its CSRF token under TLS too.
    let http = direct(&fed);
    let r = http
        .post(format!("{}/portal/logout", fed.hub_url()))
        .header(COOKIE, format!("__Host-oncofed_hub={}", session.value))
        .form(&[("csrf", "0".repeat(64))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    walk.submit("header form.inline").await.unwrap();
    walk.goto("/portal").await.unwrap();
    assert_eq!(walk.path().await.unwrap(), "/portal/login");
    walk.finish().await.unwrap();
    fed.shutdown().await.unwrap();
}
