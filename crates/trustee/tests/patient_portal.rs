//! The patients' portal (issue 17, item 5) through HTTP as a browser sends it:
//! one-time codes (once, locked after wrong tries, expired), whose data a
//! session sees (its own only, whatever the request names), CSRF, and that each
//! choice reaches the consent decisions sites get, the withdrawal cascade and
//! the audit trail.

mod common;

use chrono::NaiveDate;
use common::{item, person};
use oncofed_model::{DataCategory, Pseudonym, Purpose, Sex, SiteId};
use oncofed_trustee::{PseudonymKey, SiteRegistry, TrusteeConfig, hash_token};
use oncofed_trustee_api::{
    ConsentDecision, ConsentQuestion, TrusteeClient, UsageKind, UsageReport,
};
use reqwest::StatusCode;
use std::time::Duration;

const ADMIN: &str = "admin-token-portal-0123456789abcdef";

fn site_token(site: &str) -> String {
    format!("{site}-token-portal-0123456789abcdef")
}

/// A trust centre with two sites, the admin token and the given code validity.
async fn start(dir: &std::path::Path, validity: Duration) -> String {
    let sites = ["site-1", "site-2"];
    let hashes: Vec<(SiteId, String)> = sites
        .iter()
        .map(|s| (SiteId::new(*s).unwrap(), hash_token(&site_token(s))))
        .collect();
    let registry =
        SiteRegistry::from_hashes(hashes.iter().map(|(s, h)| (s.clone(), h.as_str()))).unwrap();
    let config = TrusteeConfig::new(
        dir.join("tc"),
        PseudonymKey::from_bytes(vec![6; 32]).unwrap(),
        registry,
    )
    .unwrap()
    .with_admin_token_hash(&hash_token(ADMIN))
    .unwrap()
    .with_access_code_validity(validity);
    oncofed_testkit::service::trustee(config, Default::default())
        .await
        .unwrap()
        .detach()
}

/// The federation of a test: the trust centre, two sites' clients, staff, and
/// two persons A and B registered at site-1 (A also at site-2).
struct Fixture {
    _dir: tempfile::TempDir,
    url: String,
    site1: TrusteeClient,
    site2: TrusteeClient,
    staff: TrusteeClient,
    a: Pseudonym,
    a2: Pseudonym,
    b: Pseudonym,
}

async fn fixture(validity: Duration) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = start(dir.path(), validity).await;
    let site1 = TrusteeClient::new(&url, &site_token("site-1")).unwrap();
    let site2 = TrusteeClient::new(&url, &site_token("site-2")).unwrap();
    let staff = TrusteeClient::new(&url, ADMIN).unwrap();
    let ute = person("Ute", "Lang", (1961, 4, 2), Sex::Female);
    let pairs = site1
        .pseudonymise(vec![
            item("A-1", ute.clone()),
            item("B-1", person("Bernd", "Kurz", (1950, 1, 9), Sex::Male)),
        ])
        .await
        .unwrap();
    let a2 = site2.pseudonymise(vec![item("A-2", ute)]).await.unwrap();
    Fixture {
        _dir: dir,
        url,
        site1,
        site2,
        staff,
        a: pairs[0].site.clone(),
        a2: a2[0].site.clone(),
        b: pairs[1].site.clone(),
    }
}

/// A browser: a cookie jar, no redirects followed (the tests read them).
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: std::collections::BTreeMap<String, String>,
}

fn form_encode(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Browser {
    fn new(base: &str) -> Self {
        oncofed_tls::install_crypto_provider();
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: Default::default(),
        }
    }

    fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Keeps the response's cookies (and drops expired ones); every session
    /// cookie must be `HttpOnly; SameSite=Strict`.
    fn keep_cookies(&mut self, resp: &reqwest::Response) {
        for v in resp.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap();
            let (pair, attrs) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if name.starts_with("oncofed_patient") {
                assert!(attrs.contains("HttpOnly"), "{text}");
                assert!(attrs.contains("SameSite=Strict"), "{text}");
            }
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = self.cookie_header() {
            req = req.header("cookie", c);
        }
        let resp = req.send().await.unwrap();
        self.keep_cookies(&resp);
        (resp.status(), resp.text().await.unwrap())
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_encode(fields));
        if let Some(c) = self.cookie_header() {
            req = req.header("cookie", c);
        }
        let resp = req.send().await.unwrap();
        self.keep_cookies(&resp);
        (resp.status(), resp.text().await.unwrap())
    }

    /// Signs in with `code` through the sign-in form (its CSRF token).
    async fn sign_in(&mut self, code: &str) -> (StatusCode, String) {
        let (_, form) = self.get("/patient/login").await;
        let csrf = csrf_of(&form);
        self.post("/patient/login", &[("csrf", &csrf), ("code", code)])
            .await
    }

    /// The page's CSRF token.
    async fn csrf(&mut self) -> String {
        let (status, html) = self.get("/patient").await;
        assert_eq!(status, StatusCode::OK, "{html}");
        csrf_of(&html)
    }

    /// Posts a choice with the session's CSRF token; expects the redirect back.
    async fn choose(&mut self, path: &str, choice: &str) {
        let csrf = self.csrf().await;
        let (status, _) = self
            .post(path, &[("csrf", &csrf), ("choice", choice)])
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path} {choice}");
    }
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\"").expect("a CSRF field");
    let rest = &html[at..];
    let v = rest.find("value=\"").unwrap() + 7;
    rest[v..v + rest[v..].find('"').unwrap()].to_owned()
}

async fn code_for(f: &Fixture, p: &Pseudonym) -> String {
    f.staff.issue_access_code_as_staff(p).await.unwrap().code
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// The decision site-1 gets for `p`'s data of `category`, asked the way a site asks.
async fn decision(site: &TrusteeClient, p: &Pseudonym, category: DataCategory) -> ConsentDecision {
    site.check_consent(
        Purpose::Research,
        today(),
        vec![ConsentQuestion {
            pseudonym: p.clone(),
            category,
            origin: None,
        }],
    )
    .await
    .unwrap()[0]
}

#[tokio::test]
async fn a_code_signs_in_once_and_never_again() {
    let f = fixture(oncofed_trustee::DEFAULT_ACCESS_CODE_VALIDITY).await;
    let code = code_for(&f, &f.a).await;
    assert_eq!(code.len(), 19, "XXXX-XXXX-XXXX-XXXX");
    let mut first = Browser::new(&f.url);
    let (status, _) = first.sign_in(&code.to_lowercase().replace('-', " ")).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "typed in lower case with spaces"
    );
    let (status, page) = first.get("/patient").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Meine Daten in der Forschung"), "{page}");
    let mut second = Browser::new(&f.url);
    let (status, page) = second.sign_in(&code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("schon benutzt"), "{page}");
    // Without a session the page sends to the sign-in.
    let (status, _) = second.get("/patient").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn wrong_codes_lock_the_code_after_five_tries() {
    let f = fixture(oncofed_trustee::DEFAULT_ACCESS_CODE_VALIDITY).await;
    let code = code_for(&f, &f.a).await;
    let last = code.chars().last().unwrap();
    let wrong = format!("{}{}", &code[..18], if last == 'A' { 'B' } else { 'A' });
    let mut b = Browser::new(&f.url);
    for attempt in 1..=5 {
        let (status, page) = b.sign_in(&wrong).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        if attempt < 5 {
            assert!(page.contains("stimmt nicht"), "attempt {attempt}");
        }
    }
    let (status, page) = b.sign_in(&code).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the right code after the lock"
    );
    assert!(page.contains("gesperrt"), "{page}");
    // A new code replaces it and works.
    let fresh = code_for(&f, &f.a).await;
    assert_eq!(b.sign_in(&fresh).await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_expired_code_fails() {
    let f = fixture(Duration::ZERO).await;
    let code = code_for(&f, &f.a).await;
    let mut b = Browser::new(&f.url);
    let (status, page) = b.sign_in(&code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("abgelaufen"), "{page}");
}

#[tokio::test]
async fn a_session_shows_and_changes_its_own_person_only() {
    let f = fixture(oncofed_trustee::DEFAULT_ACCESS_CODE_VALIDITY).await;
    let report = |p: &Pseudonym, project: &str| UsageReport {
        project: project.into(),
        kind: UsageKind::SequenceDelivery,
        date: today(),
        pseudonyms: vec![p.clone()],
    };
    assert_eq!(
        f.site1
            .report_usage(&report(&f.a, "proj-a"))
            .await
            .unwrap()
            .recorded,
        1
    );
    assert_eq!(
        f.site1
            .report_usage(&report(&f.b, "proj-b"))
            .await
            .unwrap()
            .recorded,
        1
    );
    // A site reports on its own domain only: site-2 cannot name site-1's pseudonym of B.
    let foreign = f.site2.report_usage(&report(&f.b, "proj-x")).await.unwrap();
    assert_eq!((foreign.recorded, foreign.unknown), (0, 1));

    let mut a = Browser::new(&f.url);
    a.sign_in(&code_for(&f, &f.a).await).await;
    let mut b = Browser::new(&f.url);
    b.sign_in(&code_for(&f, &f.b).await).await;
    let (_, page_a) = a.get("/patient").await;
    assert!(
        page_a.contains("proj-a") && !page_a.contains("proj-b"),
        "{page_a}"
    );
    // Parameters naming B (row ids, pseudonyms) change nothing: the session decides.
    for query in [
        format!("?person=2&pseudonym={}", f.b),
        "?person_id=1&id=2&code=2".to_owned(),
        format!("?done=research&subject={}", f.b),
    ] {
        let (status, page) = a.get(&format!("/patient{query}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("proj-a") && !page.contains("proj-b"),
            "{query}"
        );
    }
    // No route takes an id.
    for path in [
        "/patient/2",
        "/patient/1/withdraw",
        &format!("/patient/{}", f.b),
    ] {
        assert_eq!(a.get(path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    // A's form with B's pseudonym and row id objects for A only.
    let csrf = a.csrf().await;
    let b_str = f.b.to_string();
    let (status, _) = a
        .post(
            "/patient/research",
            &[
                ("csrf", &csrf),
                ("choice", "object"),
                ("pseudonym", &b_str),
                ("person", "2"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        decision(&f.site1, &f.a, DataCategory::Clinical).await,
        ConsentDecision::DenyObjection
    );
    assert_eq!(
        decision(&f.site1, &f.b, DataCategory::Clinical).await,
        ConsentDecision::Permit
    );
    // B's CSRF token is no good in A's session.
    let b_csrf = b.csrf().await;
    let (status, _) = a
        .post("/patient/genetic", &[("csrf", &b_csrf), ("choice", "yes")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, page_b) = b.get("/patient").await;
    assert!(page_b.contains("proj-b") && !page_b.contains("proj-a"));
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused() {
    let f = fixture(oncofed_trustee::DEFAULT_ACCESS_CODE_VALIDITY).await;
    let mut a = Browser::new(&f.url);
    a.sign_in(&code_for(&f, &f.a).await).await;
    for (path, fields) in [
        ("/patient/research", vec![("choice", "object")]),
        (
            "/patient/genetic",
            vec![("choice", "yes"), ("csrf", "forged")],
        ),
        ("/patient/recontact", vec![("choice", "yes")]),
        ("/patient/withdraw", vec![("confirm", "yes")]),
        ("/patient/logout", vec![]),
    ] {
        let (status, _) = a.post(path, &fields).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        decision(&f.site1, &f.a, DataCategory::Clinical).await,
        ConsentDecision::Permit
    );
    assert!(f.site1.deletion_orders().await.unwrap().is_empty());
    // A sign-in without the sign-in form's token (a foreign page's) is refused.
    let code = code_for(&f, &f.b).await;
    let mut foreign = Browser::new(&f.url);
    let (status, _) = foreign.post("/patient/login", &[("code", &code)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        foreign.sign_in(&code).await.0,
        StatusCode::SEE_OTHER,
        "the code is unspent"
    );
}

#[tokio::test]
async fn choices_change_the_decisions_sites_get() {
    let f = fixture(oncofed_trustee::DEFAULT_ACCESS_CODE_VALIDITY).await;
    let mut a = Browser::new(&f.url);
    a.sign_in(&code_for(&f, &f.a).await).await;
    assert_eq!(
        decision(&f.site1, &f.a, DataCategory::Clinical).await,
        ConsentDecision::Permit
    );
    assert_eq!(
        decision(&f.site1, &f.a, DataCategory::Genetic).await,
        ConsentDecision::DenyNoOptIn
    );
    a.choose("/patient/genetic", "yes").await;
    assert_eq!(
        decision(&f.site1, &f.a, DataCategory::Genetic).await,
        ConsentDecision::Permit
    );
    a.choose("/patient/research", "object").await;
    for (site, p) in [(&f.site1, &f.a), (&f.site2, &f.a2)] {
        assert_eq!(
            decision(site, p, DataCategory::Clinical).await,
            ConsentDecision::DenyObjection
        );
        // The objection leaves the genetic opt-in alone.
        assert_eq!(
            decision(site, p, DataCategory::Genetic).await,
            ConsentDecision::Permit
        );
    }
    // The signed consent feed carries the objection to site-2's snapshot.
    let key = f.site2.consent_feed_key().await.unwrap();
    let nonce = "portal-feed-nonce-0001";
    let signed = f.site2.consent_feed(0, nonce, None).await.unwrap();
    let site2 = SiteId::new("site-2").unwrap();
    let page =
        oncofed_trustee_api::FeedPage::verify(&signed, &key, nonce, Some(&site2), 0).unwrap();
    let entry = page
        .entries
        .iter()
        .rfind(|e| e.pseudonyms.contains(&f.a2))
        .expect("A is in site-2's feed");
    assert_eq!(
        oncofed_trustee_api::decide(
            entry.consents.as_deref(),
            DataCategory::Clinical,
            Purpose::Research,
            today(),
            None
        ),
        ConsentDecision::DenyObjection
    );
    a.choose("/patient/research", "allow").await;
    assert_eq!(
        decision(&f.site1, &f.a, DataCategory::Clinical).await,
        ConsentDecision::Permit
    );
    a.choose("/patient/recontact", "yes").await;
    let (_, page) = a.get("/patient?done=recontact").await;
    assert!(page.contains("Ihre Entscheidung ist gespeichert"), "{page}");
    assert!(
        page.contains("Zustimmung zur erneuten Kontaktaufnahme"),
        "{page}"
    );
    // B is untouched.
    assert_eq!(
        decision(&f.site1, &f.b, DataCategory::Genetic).await,
        ConsentDecision::DenyNoOptIn
    );
}

#[tokio::test]
async fn withdrawal_asks_for_confirmation_then_orders_deletion_everywhere() {
    let f = fixture(oncofed_trustee::DEFAULT_ACCESS_CODE_VALIDITY).await;
    let mut a = Browser::new(&f.url);
    a.sign_in(&code_for(&f, &f.a).await).await;
    let (status, page) = a.get("/patient/withdraw").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_of(&page);
    let (status, _) = a.post("/patient/withdraw", &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no confirmation");
    assert!(f.site1.deletion_orders().await.unwrap().is_empty());
    let (status, _) = a
        .post("/patient/withdraw", &[("csrf", &csrf), ("confirm", "yes")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        decision(&f.site1, &f.a, DataCategory::Clinical).await,
        ConsentDecision::DenyWithdrawn
    );
    let orders1 = f.site1.deletion_orders().await.unwrap();
    let orders2 = f.site2.deletion_orders().await.unwrap();
    assert_eq!(
        orders1.iter().map(|o| &o.pseudonym).collect::<Vec<_>>(),
        vec![&f.a]
    );
    assert_eq!(
        orders2.iter().map(|o| &o.pseudonym).collect::<Vec<_>>(),
        vec![&f.a2]
    );
    let (_, page) = a.get("/patient").await;
    assert!(page.contains("Löschauftrag erteilt"), "{page}");
    assert!(
        !page.contains("id=\"genetic\""),
        "no more choices after a withdrawal"
    );
    // Choices after the withdrawal are refused.
    let csrf = csrf_of(&page);
    let (status, _) = a
        .post("/patient/genetic", &[("csrf", &csrf), ("choice", "yes")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_audit_trail_records_each_action_without_personal_data() {
    let f = fixture(oncofed_trustee::DEFAULT_ACCESS_CODE_VALIDITY).await;
    let code = code_for(&f, &f.a).await;
    let mut a = Browser::new(&f.url);
    a.sign_in(&code).await;
    a.choose("/patient/genetic", "yes").await;
    a.choose("/patient/recontact", "no").await;
    a.choose("/patient/research", "object").await;
    let csrf = a.csrf().await;
    a.post("/patient/withdraw", &[("csrf", &csrf), ("confirm", "yes")])
        .await;
    let export = f.staff.audit_export().await.unwrap();
    let entries: Vec<serde_json::Value> = export
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("entry").cloned())
        .collect();
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "patient.access-code.issued",
        "patient.signed-in",
        "patient.genetic-opt-in",
        "patient.recontact-no",
        "patient.research-objection",
        "patient.withdrawal",
        "deletion.ordered",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    for e in entries.iter().filter(|e| {
        e["action"]
            .as_str()
            .is_some_and(|a| a.starts_with("patient."))
    }) {
        let text = e.to_string();
        for secret in [
            "Ute",
            "Lang",
            "1961",
            "A-1",
            "A-2",
            &code,
            &code.replace('-', ""),
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    // The person's page lists the entries with their place in the trail.
    let (_, page) = a.get("/patient").await;
    assert!(page.contains("Sie haben der Forschung mit Ihren Erbgut-Daten zugestimmt."));
    assert!(
        page.contains("angewiesen, Ihre Forschungsdaten zu löschen"),
        "{page}"
    );
}

/// The walk "patient" in a real browser (chromium, headless): sign in with a
/// code, read, opt in to genetic research, agree to re-contact, object to
/// research use, withdraw with confirmation; a screenshot and an axe-core audit
/// (no serious or critical violation) at every step.
#[tokio::test]
async fn walk_patient() {
    let Some(browser) = oncofed_browser::Browser::start().await else {
        return; // skipped, reason printed (chromium missing, ONCOFED_REQUIRE_PEERS unset)
    };
    let f = fixture(oncofed_trustee::DEFAULT_ACCESS_CODE_VALIDITY).await;
    f.site1
        .report_usage(&UsageReport {
            project: "lung-cohort-2026".into(),
            kind: UsageKind::SequenceDelivery,
            date: today(),
            pseudonyms: vec![f.a.clone()],
        })
        .await
        .unwrap();
    let code = code_for(&f, &f.a).await;
    let mut walk = browser.walk("patient").await.unwrap();
    walk.goto(&format!("{}/patient/login", f.url))
        .await
        .unwrap();
    walk.step("sign-in").await.unwrap();
    walk.fill("#code", &code).await.unwrap();
    walk.submit("form#login").await.unwrap();
    walk.expect_text("h1", "Meine Daten in der Forschung")
        .await
        .unwrap();
    walk.expect_text("#usage", "lung-cohort-2026")
        .await
        .unwrap();
    walk.expect_text("#genetic-heading", "Erbgut")
        .await
        .unwrap();
    walk.step("overview").await.unwrap();
    walk.submit("form#genetic").await.unwrap();
    walk.expect_text("#saved", "gespeichert").await.unwrap();
    walk.step("genetic-opt-in").await.unwrap();
    walk.submit("form#recontact").await.unwrap();
    walk.expect_text("#saved", "gespeichert").await.unwrap();
    walk.step("recontact-yes").await.unwrap();
    walk.submit("form#research").await.unwrap();
    walk.expect_text("#saved", "gespeichert").await.unwrap();
    walk.step("research-objection").await.unwrap();
    assert_eq!(
        decision(&f.site1, &f.a, DataCategory::Clinical).await,
        ConsentDecision::DenyObjection
    );
    assert_eq!(
        decision(&f.site1, &f.a, DataCategory::Genetic).await,
        ConsentDecision::Permit
    );
    // English too.
    walk.goto(&format!("{}/patient?lang=en", f.url))
        .await
        .unwrap();
    walk.expect_text("h1", "My data in research").await.unwrap();
    walk.step("overview-english").await.unwrap();
    walk.goto(&format!("{}/patient?lang=de", f.url))
        .await
        .unwrap();
    walk.click("#withdraw-link").await.unwrap();
    walk.expect_text("h1", "widerrufen").await.unwrap();
    walk.step("withdraw-confirm").await.unwrap();
    walk.set_checked("#confirm", true).await.unwrap();
    walk.submit("form#withdraw").await.unwrap();
    walk.expect_text("#saved", "Widerruf ist gespeichert")
        .await
        .unwrap();
    walk.expect_text("#deletions", "Löschauftrag")
        .await
        .unwrap();
    walk.step("withdrawn").await.unwrap();
    assert_eq!(f.site1.deletion_orders().await.unwrap().len(), 1);
    walk.finish().await.unwrap();
}
