//! The portal's sign-in as an attacker would try it, over plain HTTP: no page
//! without a session, no sign-in without the form's token (login CSRF), a
//! wrong token gets nothing, cookies are HttpOnly and SameSite=Strict, a POST
//! without the session's CSRF token is refused, and signing out ends the
//! session for good.

mod support;

use oncofed_crypto::SigningKeyPair;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use support::{Hub, RESEARCHER};

fn client() -> reqwest::Client {
    oncofed_tls::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of the cookie `name` a response sets.
fn cookie(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| (v.split(';').next().unwrap().to_owned(), v.to_owned()))
}

fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..at + 64].to_owned()
}

#[tokio::test]
async fn sign_in_needs_the_forms_token_and_sessions_need_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path().join("hub"), SigningKeyPair::generate(), |_| {}).await;
    let http = client();
    let url = |p: &str| format!("{}{p}", hub.url);

    // No session: the home page sends the browser to the sign-in page.
    let r = http.get(url("/portal")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[LOCATION], "/portal/login");
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");

    // The form comes with a pre-session cookie bound to its token.
    let r = http.get(url("/portal/login")).send().await.unwrap();
    let (pre, pre_flags) = cookie(&r, "oncofed_hub_sign_in").expect("pre-session cookie");
    assert!(pre_flags.contains("HttpOnly") && pre_flags.contains("SameSite=Strict"));
    let form_token = hidden_csrf(&r.text().await.unwrap());

    // A foreign page posting the form has neither cookie nor token.
    let r = http
        .post(url("/portal/login"))
        .form(&[
            ("csrf", form_token.as_str()),
            ("user", "alice"),
            ("token", RESEARCHER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "sign-in without the pre-session cookie");

    // A wrong token: no session, the form again.
    let r = http
        .post(url("/portal/login"))
        .header(COOKIE, &pre)
        .form(&[
            ("csrf", form_token.as_str()),
            ("user", "alice"),
            ("token", "guess"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(cookie(&r, "oncofed_hub").is_none());
    let (pre, _) = cookie(&r, "oncofed_hub_sign_in").unwrap();
    let form_token = hidden_csrf(&r.text().await.unwrap());

    // The right token but someone else's id: refused as well.
    let r = http
        .post(url("/portal/login"))
        .header(COOKIE, &pre)
        .form(&[
            ("csrf", form_token.as_str()),
            ("user", "root"),
            ("token", RESEARCHER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (pre, _) = cookie(&r, "oncofed_hub_sign_in").unwrap();
    let form_token = hidden_csrf(&r.text().await.unwrap());

    let r = http
        .post(url("/portal/login"))
        .header(COOKIE, &pre)
        .form(&[
            ("csrf", form_token.as_str()),
            ("user", "alice"),
            ("token", RESEARCHER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (session, flags) = cookie(&r, "oncofed_hub").expect("session cookie");
    assert!(
        flags.contains("HttpOnly") && flags.contains("SameSite=Strict"),
        "{flags}"
    );
    assert!(
        !flags.contains("Secure"),
        "plain HTTP on loopback: no Secure flag"
    );

    // The pre-session was used up: replaying the same form fails.
    let r = http
        .post(url("/portal/login"))
        .header(COOKIE, &pre)
        .form(&[
            ("csrf", form_token.as_str()),
            ("user", "alice"),
            ("token", RESEARCHER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let r = http
        .get(url("/portal"))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let home = r.text().await.unwrap();
    assert!(
        home.contains("alice") && home.contains("Forschende"),
        "{home}"
    );
    let csrf = hidden_csrf(&home);

    // Sign-out without the session's token is refused; the session lives on.
    let r = http
        .post(url("/portal/logout"))
        .header(COOKIE, &session)
        .form(&[("csrf", "0".repeat(64))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(url("/portal/logout"))
        .header(COOKIE, &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = http
        .get(url("/portal"))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        303,
        "the old cookie opens nothing after sign-out"
    );

    // Every step is in the audit trail; the token never is.
    let text = http
        .get(url("/v1/audit/export"))
        .bearer_auth(support::AUDITOR)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("portal.sign-in-failed") && text.contains("portal.sign-out"));
    assert!(!text.contains(RESEARCHER));
    hub.stop().await;
}
