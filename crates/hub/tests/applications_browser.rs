//! The application flow in a real browser (issue 17): one walk per role
//! through the manual flow — the researcher writes and submits with the
//! ethics upload, the office passes it, two site admins decide, two
//! committee members vote, both sides acknowledge, the project is approved —
//! and one walk in which the policy approves at submission, timed. Every
//! step is a screenshot and an axe-core audit (`oncofed-browser`).
//!
//! Skips (printing why) when chromium or chromedriver is missing, unless
//! `ONCOFED_REQUIRE_PEERS` is set.

use oncofed_browser::{Browser, Walk};
use oncofed_hub::{HubConfig, Role, Users};
use oncofed_hub_api::HubClient;
use oncofed_model::SiteId;
use oncofed_protocol::application::Stage;
use oncofed_testkit::service::{Running, StopSwitch};

const USERS: &[(&str, Role, Option<&str>)] = &[
    ("alice", Role::Researcher, None),
    ("office", Role::Admin, None),
    ("c1", Role::Committee, None),
    ("c2", Role::Committee, None),
    ("sa", Role::SiteAdmin, Some("site-a")),
    ("sb", Role::SiteAdmin, Some("site-b")),
];

fn token(user: &str) -> String {
    format!("{user}-token-for-the-browser-walks-0123456789")
}

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

struct TestHub {
    url: String,
    dir: tempfile::TempDir,
    _hub: Running<oncofed_hub::LaunchError>,
}

async fn start() -> TestHub {
    let dir = tempfile::tempdir().unwrap();
    let mut users = Users::default();
    for (id, role, site) in USERS {
        users.add_token(*id, *role, &token(id)).unwrap();
        if let Some(site) = site {
            users.set_site(*id, *site);
        }
    }
    let config = HubConfig::new(
        dir.path().join("hub"),
        oncofed_crypto::SigningKeyPair::generate(),
        users,
    );
    let hub = oncofed_testkit::service::hub(config, StopSwitch::default())
        .await
        .unwrap();
    let office = HubClient::new(&hub.url, &token("office"));
    for site in ["site-a", "site-b"] {
        let key = oncofed_crypto::SigningKeyPair::generate().public_key();
        office
            .register_site(SiteId::new(site).unwrap(), key)
            .await
            .unwrap();
    }
    std::fs::write(dir.path().join("ethics-vote.pdf"), PDF).unwrap();
    TestHub {
        url: hub.url.clone(),
        dir,
        _hub: hub,
    }
}

async fn sign_in(browser: &Browser, hub: &TestHub, walk: &str, user: &str) -> Walk {
    let mut w = browser.walk(walk).await.unwrap();
    w.goto(&format!("{}/portal/login?lang=en", hub.url))
        .await
        .unwrap();
    w.step("sign-in").await.unwrap();
    w.fill("#user", user).await.unwrap();
    w.fill("#token", &token(user)).await.unwrap();
    w.submit("main form").await.unwrap();
    w
}

/// The researcher fills in the form, uploads the ethics vote and submits.
async fn researcher_submits(w: &mut Walk, hub: &TestHub, title: &str, epsilon: &str) -> String {
    w.goto(&format!("{}/portal/applications/new?lang=en", hub.url))
        .await
        .unwrap();
    w.fill("#title", title).await.unwrap();
    w.fill("#summary", "Does age at diagnosis change overall survival?")
        .await
        .unwrap();
    w.set_checked("#site-site-a", true).await.unwrap();
    w.set_checked("#site-site-b", true).await.unwrap();
    w.fill("#epsilon", epsilon).await.unwrap();
    w.fill("#duration_days", "180").await.unwrap();
    let pdf = hub.dir.path().join("ethics-vote.pdf");
    w.find("#ethics")
        .await
        .unwrap()
        .send_keys(pdf.to_str().unwrap())
        .await
        .expect("choose the ethics vote file");
    w.step("application-form").await.unwrap();
    w.click("button[name=intent][value=submit]").await.unwrap();
    let path = w.path().await.unwrap();
    let id = path.rsplit('/').next().unwrap().to_owned();
    assert!(id.starts_with("app-"), "{path}");
    id
}

/// Opens the application, chooses `choice`, writes `text` and posts the
/// decision form `form` (formal-check, site-decision, vote).
async fn decide(
    w: &mut Walk,
    hub: &TestHub,
    inbox: &str,
    id: &str,
    form: &str,
    choice: &str,
    text: &str,
) {
    w.goto(&format!("{}{inbox}?lang=en", hub.url))
        .await
        .unwrap();
    w.expect_text("main", id).await.unwrap();
    w.step("inbox").await.unwrap();
    w.click(&format!("a[href='/portal/applications/{id}']"))
        .await
        .unwrap();
    w.step("application").await.unwrap();
    w.set_checked(&format!("#choice-{choice}"), true)
        .await
        .unwrap();
    if !text.is_empty() {
        w.fill("#decision-text", text).await.unwrap();
    }
    w.submit(&format!("form[action$='/{form}']")).await.unwrap();
    w.step("decided").await.unwrap();
}

async fn acknowledge(w: &mut Walk, hub: &TestHub, id: &str) {
    w.goto(&format!("{}/portal/applications/{id}?lang=en", hub.url))
        .await
        .unwrap();
    w.expect_text("main", "Acknowledge the terms")
        .await
        .unwrap();
    w.step("terms").await.unwrap();
    w.submit("form[action$='/acknowledge']").await.unwrap();
    w.step("acknowledged").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_walks_the_application_to_approval() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let hub = start().await;

    let mut researcher = sign_in(&browser, &hub, "applications-researcher", "alice").await;
    let id = researcher_submits(&mut researcher, &hub, "Survival in NSCLC by age", "2").await;
    researcher
        .goto(&format!("{}/portal/applications/{id}?lang=en", hub.url))
        .await
        .unwrap();
    researcher
        .expect_text("main", "Formal check")
        .await
        .unwrap();
    researcher.step("submitted").await.unwrap();

    let mut office = sign_in(&browser, &hub, "applications-office", "office").await;
    decide(
        &mut office,
        &hub,
        "/portal/office",
        &id,
        "formal-check",
        "pass",
        "",
    )
    .await;
    office.finish().await.unwrap();

    for (who, choice, text) in [
        ("sa", "conditions", "cite the site's registry"),
        ("sb", "accept", ""),
    ] {
        let mut site = sign_in(&browser, &hub, &format!("applications-site-{who}"), who).await;
        decide(
            &mut site,
            &hub,
            "/portal/site-checks",
            &id,
            "site-decision",
            choice,
            text,
        )
        .await;
        site.finish().await.unwrap();
    }
    for who in ["c1", "c2"] {
        let mut member = sign_in(
            &browser,
            &hub,
            &format!("applications-committee-{who}"),
            who,
        )
        .await;
        decide(
            &mut member,
            &hub,
            "/portal/committee",
            &id,
            "vote",
            "approve",
            "",
        )
        .await;
        member.finish().await.unwrap();
    }
    acknowledge(&mut researcher, &hub, &id).await;
    for who in ["sa", "sb"] {
        let mut site = sign_in(&browser, &hub, &format!("applications-ack-{who}"), who).await;
        acknowledge(&mut site, &hub, &id).await;
        site.finish().await.unwrap();
    }
    researcher
        .goto(&format!("{}/portal/applications/{id}?lang=en", hub.url))
        .await
        .unwrap();
    researcher.expect_text("main", "Approved").await.unwrap();
    researcher.step("approved").await.unwrap();
    researcher
        .goto(&format!(
            "{}/portal/applications/{id}/print?lang=en",
            hub.url
        ))
        .await
        .unwrap();
    researcher.step("print").await.unwrap();
    researcher.finish().await.unwrap();
    let app = HubClient::new(&hub.url, &token("alice"))
        .application(&id)
        .await
        .unwrap();
    assert_eq!(app.stage, Stage::Approved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_approves_in_the_browser_at_submission() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let hub = start().await;
    HubClient::new(&hub.url, &token("office"))
        .register_institution("uk-test", "Universitätsklinikum Test", &["alice"])
        .await
        .unwrap();
    for who in ["sa", "sb"] {
        let mut site = sign_in(&browser, &hub, &format!("applications-opt-in-{who}"), who).await;
        site.goto(&format!("{}/portal/applications/policy?lang=en", hub.url))
            .await
            .unwrap();
        site.step("policy").await.unwrap();
        site.submit("form[action$='/policy/opt-in']").await.unwrap();
        site.goto(&format!("{}/portal/applications/policy?lang=en", hub.url))
            .await
            .unwrap();
        site.expect_text("main", "takes part").await.unwrap();
        site.step("opted-in").await.unwrap();
        site.finish().await.unwrap();
    }
    let mut researcher = sign_in(&browser, &hub, "applications-policy-researcher", "alice").await;
    researcher.timed("sign-in");
    let id = researcher_submits(&mut researcher, &hub, "KM in NSCLC (policy)", "0.5").await;
    let took = researcher.timed("form filled, submitted and approved by policy");
    researcher
        .goto(&format!("{}/portal/applications/{id}?lang=en", hub.url))
        .await
        .unwrap();
    researcher.expect_text("main", "Approved").await.unwrap();
    researcher
        .expect_text("main", "Every rule of the policy held")
        .await
        .unwrap();
    researcher.step("approved-by-policy").await.unwrap();
    println!(
        "browser: submission to approval by policy (filling the form included) {} ms",
        took.as_millis()
    );
    researcher.finish().await.unwrap();
    let app = HubClient::new(&hub.url, &token("alice"))
        .application(&id)
        .await
        .unwrap();
    assert_eq!(app.stage, Stage::Approved);
}
