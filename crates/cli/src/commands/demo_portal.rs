//! The portal part of `oncofed demo` (issue 17): the hub publishes its
//! HealthDCAT-AP catalogue from the sites' coarsened summaries; a researcher
//! of a registered institution applies for a project (aggregate analyses,
//! clinical data, ε within the cap) at sites that opted into approval by
//! policy, the hub's written policy approves it at submission, and the first
//! Kaplan–Meier curve is released in the new project — the time from
//! submission to that result is measured; a patient gets a one-time access
//! code from their treating site and signs in to the trust centre's pages.
//! The same flows run in a real browser in the tests
//! (`crates/hub/tests/portal_first_result.rs`, `crates/trustee/tests/patient_portal.rs`).

use oncofed_hub_api::HubClient;
use oncofed_model::{DataCategory, Purpose};
use oncofed_protocol::CatalogueRefreshed;
use oncofed_protocol::analysis::{
    Analysis, AnalysisRequest, IndexEvent, RunState, Survival, Variable,
};
use oncofed_protocol::application::{AnalysisPlan, ApplicationContent, Stage};
use oncofed_testkit::LocalFederation;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

/// A stand-in ethics vote (the hub checks that an upload is a PDF).
const ETHICS_PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// What the demo did through the portal's flows.
#[derive(Debug, Serialize)]
pub struct DemoPortal {
    /// Where a browser signs in (`/portal/login`).
    pub portal: String,
    /// The catalogue's addresses (page, Turtle, JSON-LD) and what the refresh published.
    pub catalogue_url: String,
    /// What the catalogue refresh published.
    pub catalogue: CatalogueRefreshed,
    /// The application's id (also the project's).
    pub application: String,
    /// Its stage after submission (`approved` when the policy held).
    pub stage: Stage,
    /// Milliseconds from submission to approval by policy.
    pub approval_ms: u128,
    /// Milliseconds from submission to the first released Kaplan–Meier curve
    /// (`None` when the run was refused).
    pub first_result_ms: Option<u128>,
    /// Why the first run was refused, if it was.
    pub refused: Option<String>,
    /// The patient part.
    pub patient: DemoPatient,
}

/// A patient's way in.
#[derive(Debug, Serialize)]
pub struct DemoPatient {
    /// Where the patient signs in.
    pub sign_in: String,
    /// When the code expires (RFC 3339).
    pub code_expires_at: String,
    /// Whether signing in with the code opened the patient's page.
    pub signed_in: bool,
    /// Whether the same code worked a second time (it must not).
    pub reused_code_accepted: bool,
}

/// Runs the portal flows over a running federation whose sites answer.
pub async fn run(fed: &LocalFederation, cohort: &Path) -> anyhow::Result<DemoPortal> {
    let hub = fed.hub_url().to_owned();
    let catalogue = fed.admin().refresh_catalogue().await?;

    let admin = fed.admin();
    admin
        .register_institution("uk-demo", "Universitätsklinikum Demo", &["researcher"])
        .await?;
    for site in &fed.sites {
        let token = fed.user_token(&format!("site-admin-{site}"))?;
        HubClient::with_tls(&hub, &token, &fed.people_tls())?
            .policy_opt_in(true)
            .await?;
    }
    let content = ApplicationContent {
        title: "Overall survival after a cancer diagnosis, by sex".into(),
        purpose: Purpose::Research,
        summary: "Does overall survival after a cancer diagnosis differ between women and men?"
            .into(),
        categories: BTreeSet::from([DataCategory::Clinical]),
        sites: fed.sites.iter().map(|s| s.as_str().to_owned()).collect(),
        plan: AnalysisPlan {
            kinds: vec!["km".into(), "describe".into()],
            description: "Kaplan–Meier curves of overall survival by sex.".into(),
            ..AnalysisPlan::default()
        },
        duration_days: 180,
        epsilon: 0.5,
        researchers: BTreeSet::new(),
        ethics: None,
    };
    let researcher = fed.researcher();
    let submitted = Instant::now();
    let application = researcher.apply(&content, ETHICS_PDF.to_vec()).await?;
    let approval_ms = submitted.elapsed().as_millis();
    let (first_result_ms, refused) = if application.stage == Stage::Approved {
        let response = researcher
            .analyze_to_end(&AnalysisRequest {
                project: application.id.clone(),
                index: IndexEvent { icd10: "C".into() },
                cohort: None,
                analysis: Analysis::KaplanMeier {
                    survival: Survival::default(),
                    groups: Some(Variable::Female),
                    interval_days: 90,
                },
                epsilon: None,
                wait_seconds: Some(60),
                tolerance: None,
                max_iter: None,
            })
            .await?;
        if response.state == RunState::Done {
            (Some(submitted.elapsed().as_millis()), None)
        } else {
            (
                None,
                Some(response.error.unwrap_or_else(|| "not released".into())),
            )
        }
    } else {
        (
            None,
            Some(format!("not approved by policy: {:?}", application.stage)),
        )
    };

    let patient = patient(fed, cohort).await?;
    Ok(DemoPortal {
        portal: format!("{hub}/portal/login"),
        catalogue_url: format!("{hub}/catalogue"),
        catalogue,
        application: application.id,
        stage: application.stage,
        approval_ms,
        first_result_ms,
        refused,
        patient,
    })
}

/// Site 1 issues a one-time code for one of its patients (by its own local
/// id); the patient signs in at the trust centre, and the code fails a
/// second time.
async fn patient(fed: &LocalFederation, cohort: &Path) -> anyhow::Result<DemoPatient> {
    let site = fed.sites[0].as_str();
    let linkage = std::fs::read_to_string(cohort.join("ground-truth/linkage.csv"))?;
    let local_id = linkage
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[1] == site)
        .map(|f| f[2].to_owned())
        .ok_or_else(|| anyhow::anyhow!("no person of {site} in the cohort's linkage truth"))?;
    let code = fed.trustee_client(0)?.issue_access_code(&local_id).await?;
    let base = fed.trustee_url().to_owned();
    let http = fed.people_tls().client_for(
        &base,
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()),
    )?;
    let signed_in = sign_in(&http, &base, &code.code).await?;
    let reused = sign_in(&http, &base, &code.code).await?;
    Ok(DemoPatient {
        sign_in: format!("{base}{}", code.sign_in_path),
        code_expires_at: code.expires_at,
        signed_in,
        reused_code_accepted: reused,
    })
}

/// Signs in with `code` as a browser without JavaScript does; true when the
/// patient's page opened.
async fn sign_in(http: &reqwest::Client, base: &str, code: &str) -> anyhow::Result<bool> {
    let form = http.get(format!("{base}/patient/login")).send().await?;
    let cookie = form
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.contains("oncofed_patient_sign_in="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("the patient sign-in page set no form cookie"))?;
    let html = form.text().await?;
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .ok_or_else(|| anyhow::anyhow!("the patient sign-in form has no CSRF field"))?
        .to_owned();
    let answer = http
        .post(format!("{base}/patient/login"))
        .header(reqwest::header::COOKIE, cookie)
        .form(&[("csrf", csrf.as_str()), ("code", code)])
        .send()
        .await?;
    let session = answer
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.contains("oncofed_patient=") && !v.contains("Max-Age=0"))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let Some(session) = session else {
        return Ok(false);
    };
    let page = http
        .get(format!("{base}/patient"))
        .header(reqwest::header::COOKIE, session)
        .send()
        .await?;
    Ok(page.status().is_success())
}

/// Prints the portal part.
pub fn print(p: &DemoPortal) {
    println!("portal (issue 17): {}", p.portal);
    println!(
        "  catalogue (HealthDCAT-AP): {} datasets from {} of {} sites, {} withheld by the release rule; {} (.ttl, .jsonld)",
        p.catalogue.datasets,
        p.catalogue.sites_answered,
        p.catalogue.sites_asked,
        p.catalogue.withheld,
        p.catalogue_url
    );
    println!(
        "  application {}: {:?} by the written policy {} ms after submission",
        p.application, p.stage, p.approval_ms
    );
    match (p.first_result_ms, &p.refused) {
        (Some(ms), _) => println!(
            "  first Kaplan–Meier curve released {:.1} s after submission (FDPG: weeks to months)",
            ms as f64 / 1000.0
        ),
        (None, Some(why)) => println!("  first Kaplan–Meier run refused: {why}"),
        (None, None) => {}
    }
    println!(
        "  patient: one-time code from site 1 (valid until {}), signed in at {}: {}; the same code again: {}",
        p.patient.code_expires_at,
        p.patient.sign_in,
        if p.patient.signed_in { "yes" } else { "NO" },
        if p.patient.reused_code_accepted {
            "ACCEPTED (wrong)"
        } else {
            "refused"
        }
    );
}
