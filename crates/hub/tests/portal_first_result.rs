//! Issue 17, item 3, in a real browser: from an application's submission to
//! the first released Kaplan–Meier curve, timed. A federation of three sites
//! with a synthetic cohort (real trust centre, real agents); the admin has
//! registered the researcher's institution and every site admin has opted
//! into approval by policy. The researcher fills in the application, uploads
//! the ethics vote, submits; the hub's written policy approves it at once;
//! the researcher opens the new project, runs Kaplan–Meier and waits for the
//! curve. Every page is a screenshot and an axe-core audit. The time is
//! printed (FDPG's published turnaround is weeks to months), never asserted.
//!
//! Skips (printing why) when chromium or chromedriver is missing, unless
//! `ONCOFED_REQUIRE_PEERS` is set.

use oncofed_browser::Browser;
use oncofed_hub_api::HubClient;
use oncofed_protocol::application::Stage;
use oncofed_synth::SynthConfig;
use oncofed_testkit::{Cohort, LocalFederation};
use std::time::{Duration, Instant};

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_by_policy_to_the_first_km_curve_in_the_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let cohort = Cohort::generate(3, 900, 23);
    let dir = tempfile::tempdir().unwrap();
    let sites: Vec<_> = (1..=3).map(SynthConfig::site_id).collect();
    let mut fed = LocalFederation::builder(dir.path(), sites.clone())
        .tls(false)
        .start()
        .await
        .unwrap();
    for (i, input) in cohort.site_dirs(3).iter().enumerate() {
        let (service, _) = fed.ingest_site(i, input).await.unwrap();
        fed.connect_site(i, &service, 1).await.unwrap();
    }
    let hub = fed.hub_url().to_owned();
    fed.admin()
        .register_institution("uk-demo", "Universitätsklinikum Demo", &["researcher"])
        .await
        .unwrap();
    for site in &sites {
        let token = fed.user_token(&format!("site-admin-{site}")).unwrap();
        HubClient::new(&hub, &token)
            .policy_opt_in(true)
            .await
            .unwrap();
    }
    let pdf = dir.path().join("ethics-vote.pdf");
    std::fs::write(&pdf, PDF).unwrap();

    let mut w = browser.walk("first-result").await.unwrap();
    w.set_base(&hub).unwrap();
    w.goto("/portal/login?lang=en").await.unwrap();
    w.fill("#user", "researcher").await.unwrap();
    w.fill("#token", &fed.user_token("researcher").unwrap())
        .await
        .unwrap();
    w.submit("main form.stack").await.unwrap();
    assert_eq!(w.path().await.unwrap(), "/portal");

    w.goto("/portal/applications/new").await.unwrap();
    w.fill("#title", "Overall survival after a lung-cancer diagnosis")
        .await
        .unwrap();
    w.fill("#summary", "Does survival differ between women and men?")
        .await
        .unwrap();
    for site in &sites {
        w.set_checked(&format!("#site-{site}"), true).await.unwrap();
    }
    w.fill("#epsilon", "0.5").await.unwrap();
    w.fill("#duration_days", "180").await.unwrap();
    w.find("#ethics")
        .await
        .unwrap()
        .send_keys(pdf.to_str().unwrap())
        .await
        .expect("choose the ethics vote file");
    w.step("application").await.unwrap();

    let submitted = Instant::now();
    w.click("button[name=intent][value=submit]").await.unwrap();
    let path = w.path().await.unwrap();
    let id = path.rsplit('/').next().unwrap().to_owned();
    assert!(id.starts_with("app-"), "{path}");
    w.expect_text("main", "Every rule of the policy held")
        .await
        .unwrap();
    let approved = submitted.elapsed();
    w.step("approved-by-policy").await.unwrap();

    // The project exists under the application's id; run Kaplan–Meier by sex.
    w.goto(&format!("/portal/projects/{id}")).await.unwrap();
    w.step("project").await.unwrap();
    w.fill("#km-index", "C34").await.unwrap();
    w.fill("#km-groups", "female").await.unwrap();
    w.fill("#km-epsilon", "0.1").await.unwrap();
    w.submit("#km-form").await.unwrap();
    let run_page = w.path().await.unwrap();
    assert!(
        run_page.starts_with("/portal/runs/"),
        "the KM form was refused: {}",
        w.text("main").await.unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if w.exists("#km-figure svg[role='img']").await.unwrap() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no KM curve after 2 minutes: {}",
            w.text("main").await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        w.goto(&run_page).await.unwrap();
    }
    let first_result = submitted.elapsed();
    w.step("first-km-result").await.unwrap();
    println!(
        "submission to approval by policy: {} ms; submission to the first released KM curve: {} ms",
        approved.as_millis(),
        first_result.as_millis()
    );
    w.finish().await.unwrap();

    let app = fed.researcher().application(&id).await.unwrap();
    assert_eq!(app.stage, Stage::Approved);
    let audit = fed.auditor().audit_export().await.unwrap();
    assert!(
        audit.contains("auto-approval"),
        "the approval cites the policy"
    );
}
