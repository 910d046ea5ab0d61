//! The contribution ledger (R19, issue 17 item 4) end to end: a trust centre,
//! the hub and four sites, one of them (site-4) with only eight persons.
//!
//! - A feasibility answer is recorded per site at release, coarsened: the large
//!   sites with a rounded count, the small one **suppressed**.
//! - An analysis run credits only the sites whose data are in its sums (the
//!   small site sits out), with persons `not-split` (secure aggregation).
//! - A site admin of site-1 reads site-1's ledger on the page, as CSV and as
//!   JSON, and the JSON API; asking for site-2's is refused (403) on every
//!   path, and nothing of site-2 shows in their exports. Auditors see all.

mod support;

use oncofed_hub::Role;
use oncofed_hub_api::HubClient;
use oncofed_protocol::analysis::{Analysis, AnalysisRequest, IndexEvent, RunState, Variable};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use support::*;

const SITE1_ADMIN: &str = "site-1-admin-token-0123456789";
const SITE2_ADMIN: &str = "site-2-admin-token-0123456789";

/// A federation of three full sites and a fourth with the first eight persons
/// of its export only.
async fn small_fourth_site() -> Federation {
    let cohort = tempfile::tempdir().unwrap();
    let config = oncofed_synth::SynthConfig {
        seed: 1717,
        sites: 4,
        persons: 1200,
        ..Default::default()
    };
    let out = cohort.path().join("out");
    oncofed_synth::generate(&config, &out, &mut |_| {}).unwrap();
    let small = cohort.path().join("site-4-small");
    std::fs::create_dir_all(&small).unwrap();
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(out.join("site-4")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ndjson") {
            let text = std::fs::read_to_string(&path).unwrap();
            lines.extend(text.lines().map(str::to_owned));
        }
    }
    lines.sort();
    lines.truncate(8);
    std::fs::write(small.join("bundles-00000.ndjson"), lines.join("\n") + "\n").unwrap();
    Federation::ingest(
        cohort,
        vec![
            out.join("site-1"),
            out.join("site-2"),
            out.join("site-3"),
            small,
        ],
    )
    .await
}

fn browser() -> reqwest::Client {
    oncofed_tls::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Signs `user` in through the portal's form; returns the session cookie.
async fn sign_in(http: &reqwest::Client, hub: &Hub, user: &str, token: &str) -> String {
    let r = http
        .get(format!("{}/portal/login", hub.url))
        .send()
        .await
        .unwrap();
    let pre = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("oncofed_hub_sign_in="))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .expect("pre-session cookie");
    let html = r.text().await.unwrap();
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = html[at..at + 64].to_owned();
    let r = http
        .post(format!("{}/portal/login", hub.url))
        .header(COOKIE, &pre)
        .form(&[("csrf", csrf.as_str()), ("user", user), ("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "sign-in of {user}");
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("oncofed_hub="))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .expect("session cookie")
}

async fn get(http: &reqwest::Client, hub: &Hub, session: &str, path: &str) -> (u16, String) {
    let r = http
        .get(format!("{}{path}", hub.url))
        .header(COOKIE, session)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn entries_of<'a>(ledger: &'a Value, site: &str, kind: &str) -> Vec<&'a Value> {
    ledger["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["site"] == site && e["kind"] == kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_is_coarsened_and_each_site_admin_sees_only_their_site() {
    let fed = small_fourth_site().await;
    let dir = tempfile::tempdir().unwrap();
    let key = oncofed_crypto::SigningKeyPair::generate();
    // A per-site minimum of 100: the small site (8 persons, noise b = 10) cannot
    // reach it, the full sites (about 300 persons) do.
    let hub = fed
        .hub(dir.path(), key, |c| {
            c.disclosure.min_site_count_for_breakdown = 100;
            c.users
                .add_token("sam", Role::SiteAdmin, SITE1_ADMIN)
                .unwrap();
            c.users.set_site("sam", "site-1");
            c.users
                .add_token("tess", Role::SiteAdmin, SITE2_ADMIN)
                .unwrap();
            c.users.set_site("tess", "site-2");
        })
        .await;
    let _agents = fed.run_agents(&hub, &[0, 1, 2, 3]);

    // A feasibility answer over every cancer diagnosis.
    let (status, body) =
        feasibility(&hub, RESEARCHER, json!({"diagnosis": {"icd10": "C"}}), 30).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "complete", "{body}");

    // An analysis run in a project: the small site sits out (under its
    // minimum rows), so only the three full sites are credited.
    approve_for_alice(&hub, "ledger", "Contribution ledger").await;
    let alice = HubClient::new(&hub.url, RESEARCHER);
    let run = alice
        .analyze_to_end(&AnalysisRequest {
            project: "ledger".into(),
            index: IndexEvent { icd10: "C".into() },
            cohort: None,
            analysis: Analysis::Describe {
                variables: vec![Variable::Age],
                edges: (3..=9).map(|d| f64::from(d * 10)).collect(),
                strata: None,
            },
            epsilon: None,
            wait_seconds: Some(120),
            tolerance: None,
            max_iter: None,
        })
        .await
        .unwrap();
    assert_eq!(run.state, RunState::Done, "{:?}", run.error);

    // The auditor's view over every site (JSON API).
    let all = HubClient::new(&hub.url, AUDITOR)
        .contribution_ledger(None)
        .await
        .unwrap();
    eprintln!(
        "ledger: {}",
        serde_json::to_string_pretty(&all["summary"]).unwrap()
    );
    for site in ["site-1", "site-2", "site-3"] {
        let f = entries_of(&all, site, "feasibility");
        assert_eq!(f.len(), 1, "{site}: {all}");
        let persons = f[0]["persons"]
            .as_u64()
            .unwrap_or_else(|| panic!("{site}: {}", f[0]));
        assert!(
            persons >= 100 && persons.is_multiple_of(10),
            "{site}: {persons}"
        );
        assert_eq!(f[0]["rows"], "none");
        assert_eq!(f[0]["sites_in_result"], 4);
        let a = entries_of(&all, site, "analysis");
        assert_eq!(a.len(), 1, "{site}: {all}");
        assert_eq!(a[0]["persons"], "not-split");
        assert_eq!(a[0]["project"], "ledger");
        assert_eq!(a[0]["sites_in_result"], 3);
    }
    let small = entries_of(&all, "site-4", "feasibility");
    assert_eq!(small.len(), 1);
    assert_eq!(
        small[0]["persons"], "suppressed",
        "fewer than k persons: {}",
        small[0]
    );
    assert!(
        entries_of(&all, "site-4", "analysis").is_empty(),
        "a site that sat out is not credited"
    );
    let summary: Vec<&Value> = all["summary"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["site"] == "site-4")
        .collect();
    assert_eq!(summary.len(), 1);
    assert_eq!(
        (
            summary[0]["persons"].as_u64(),
            summary[0]["persons_suppressed"].as_u64()
        ),
        (Some(0), Some(1))
    );

    // The site admin of site-1 through the JSON API: their own site only.
    let sam = HubClient::new(&hub.url, SITE1_ADMIN);
    let own = sam.contribution_ledger(None).await.unwrap();
    assert_eq!(own["site"], "site-1");
    assert!(
        own["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["site"] == "site-1")
    );
    assert_eq!(own["entries"].as_array().unwrap().len(), 2);
    let err = sam
        .contribution_ledger(Some("site-2"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("403") || err.to_lowercase().contains("forbidden"),
        "{err}"
    );
    // A researcher has no ledger at all.
    assert!(alice.contribution_ledger(None).await.is_err());

    // The same through the portal: page, CSV and JSON.
    let http = browser();
    let session = sign_in(&http, &hub, "sam", SITE1_ADMIN).await;
    let (status, page) = get(&http, &hub, &session, "/portal/site/ledger").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("site-1") && !page.contains("site-2"),
        "{page}"
    );
    assert!(page.contains("<th scope=\"col\""));
    let (status, csv) = get(&http, &hub, &session, "/portal/site/ledger.csv").await;
    assert_eq!(status, 200);
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.contains(",site-1,")), "{csv}");
    let (status, summary_csv) = get(
        &http,
        &hub,
        &session,
        "/portal/site/ledger.csv?view=summary",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        summary_csv.starts_with("site,project,period,results"),
        "{summary_csv}"
    );
    let (status, json) = get(&http, &hub, &session, "/portal/site/ledger.json").await;
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["site"], "site-1");
    for path in [
        "/portal/site/ledger?site=site-2",
        "/portal/site/ledger.csv?site=site-2",
        "/portal/site/ledger.csv?site=site-2&view=summary",
        "/portal/site/ledger.json?site=site-2",
    ] {
        let (status, body) = get(&http, &hub, &session, path).await;
        assert_eq!(status, 403, "{path}");
        assert!(!body.contains("site-2,"), "{path}: {body}");
    }
    let (status, projects) = get(&http, &hub, &session, "/portal/site/projects").await;
    assert_eq!(status, 200);
    assert!(
        projects.contains("ledger") && projects.contains("Contribution ledger"),
        "{projects}"
    );

    // Site-2's admin sees site-2 and not site-1.
    let session2 = sign_in(&http, &hub, "tess", SITE2_ADMIN).await;
    let (_, csv2) = get(&http, &hub, &session2, "/portal/site/ledger.csv").await;
    assert!(
        csv2.lines().skip(1).all(|l| l.contains(",site-2,")) && !csv2.contains("site-1"),
        "{csv2}"
    );
    assert_eq!(
        get(
            &http,
            &hub,
            &session2,
            "/portal/site/ledger.json?site=site-1"
        )
        .await
        .0,
        403
    );

    // A researcher's browser gets no ledger page.
    let researcher = sign_in(&http, &hub, "alice", RESEARCHER).await;
    assert_eq!(
        get(&http, &hub, &researcher, "/portal/site/ledger").await.0,
        403
    );
    assert_eq!(
        get(&http, &hub, &researcher, "/portal/site/projects")
            .await
            .0,
        403
    );

    // The exports are audited with who took which site's ledger.
    let trail = HubClient::new(&hub.url, AUDITOR)
        .audit_export()
        .await
        .unwrap();
    assert!(trail.contains("portal.ledger-exported"));
    assert!(trail.contains("ledger.read"));
}
