//! The application workflow over HTTP (issue 17, items 1–3): adversaries
//! through the JSON API and the portal pages, the whole manual flow, and
//! approval by policy with its audit record.
//!
//! The hub runs alone (started by `oncofed_testkit::service::hub`): the
//! workflow needs registered sites, not running ones.

use oncofed_hub::{HubConfig, Role, Users};
use oncofed_hub_api::HubClient;
use oncofed_model::{DataCategory, Purpose, SiteId};
use oncofed_protocol::application::{
    AnalysisPlan, Application, ApplicationContent, SiteDecision, Stage, Vote,
};
use oncofed_testkit::service::{Running, StopSwitch};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Instant;

/// Users: (id, role, site).
const USERS: &[(&str, Role, Option<&str>)] = &[
    ("alice", Role::Researcher, None),
    ("bob", Role::Researcher, None),
    ("office", Role::Admin, None),
    ("c1", Role::Committee, None),
    ("c2", Role::Committee, None),
    ("sa", Role::SiteAdmin, Some("site-a")),
    ("sb", Role::SiteAdmin, Some("site-b")),
    ("sc", Role::SiteAdmin, Some("site-c")),
    ("auditor", Role::Auditor, None),
];

fn token(user: &str) -> String {
    format!("{user}-token-for-the-applications-test-0123456789")
}

/// A minimal PDF (the hub checks the magic bytes, not the layout).
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

struct TestHub {
    url: String,
    _dir: tempfile::TempDir,
    _hub: Running<oncofed_hub::LaunchError>,
    http: reqwest::Client,
}

impl TestHub {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut users = Users::default();
        for (id, role, site) in USERS {
            add_user(&mut users, id, *role, *site);
        }
        let config = HubConfig::new(
            dir.path().join("hub"),
            oncofed_crypto::SigningKeyPair::generate(),
            users,
        );
        let hub = oncofed_testkit::service::hub(config, StopSwitch::default())
            .await
            .unwrap();
        let me = Self {
            url: hub.url.clone(),
            _dir: dir,
            _hub: hub,
            http: reqwest::Client::new(),
        };
        for site in ["site-a", "site-b", "site-c"] {
            let key = oncofed_crypto::SigningKeyPair::generate().public_key();
            me.client("office")
                .register_site(SiteId::new(site).unwrap(), key)
                .await
                .unwrap();
        }
        me
    }

    /// A signed-in portal session of `user`.
    async fn session(&self, user: &str) -> portal::Session {
        portal::Session::sign_in(&self.url, user, &token(user)).await
    }

    fn client(&self, user: &str) -> HubClient {
        HubClient::new(&self.url, &token(user))
    }

    /// A raw JSON call: status and body.
    async fn call(
        &self,
        user: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token(user));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let bytes = resp.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn post(&self, user: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(user, reqwest::Method::POST, path, Some(body))
            .await
    }

    async fn get(&self, user: &str, path: &str) -> (StatusCode, Value) {
        self.call(user, reqwest::Method::GET, path, None).await
    }

    /// Alice's application, submitted.
    async fn submitted(&self, content: &ApplicationContent) -> Application {
        self.client("alice")
            .apply(content, PDF.to_vec())
            .await
            .unwrap()
    }

    /// Alice's application past the formal check.
    async fn at_site_check(&self) -> Application {
        let app = self.submitted(&content()).await;
        assert_eq!(app.stage, Stage::FormalCheck);
        self.client("office")
            .formal_check(&app.id, true, "")
            .await
            .unwrap()
    }

    /// Alice's application at the committee vote (both sites accepted).
    async fn at_vote(&self) -> Application {
        let app = self.at_site_check().await;
        self.client("sa")
            .site_decision(&app.id, "site-a", &SiteDecision::Accept)
            .await
            .unwrap();
        let app = self
            .client("sb")
            .site_decision(&app.id, "site-b", &SiteDecision::Accept)
            .await
            .unwrap();
        assert_eq!(app.stage, Stage::CommitteeVote);
        app
    }
}

fn content() -> ApplicationContent {
    ApplicationContent {
        title: "Survival in NSCLC by age".into(),
        purpose: Purpose::Research,
        summary: "Does age at diagnosis change overall survival?".into(),
        categories: BTreeSet::from([DataCategory::Clinical]),
        sites: BTreeSet::from(["site-a".to_string(), "site-b".to_string()]),
        plan: AnalysisPlan {
            kinds: vec!["km".into(), "describe".into()],
            variables: None,
            max_horizon_days: 1825,
            description: "KM curves by age group".into(),
        },
        duration_days: 180,
        epsilon: 0.5,
        researchers: BTreeSet::new(),
        ethics: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn researcher_b_cannot_see_or_act_on_a_s_application() {
    let hub = TestHub::start().await;
    let app = hub.submitted(&content()).await;
    let id = &app.id;
    // the JSON routes: 404 as for an application that does not exist
    for path in [
        format!("/v1/applications/{id}"),
        format!("/v1/applications/{id}/ethics"),
    ] {
        let (status, _) = hub.get("bob", &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, list) = hub.get("bob", "/v1/applications").await;
    assert_eq!(list, json!([]));
    for path in ["submit", "acknowledge"] {
        let (status, _) = hub
            .post("bob", &format!("/v1/applications/{id}/{path}"), json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = hub
        .call(
            "bob",
            reqwest::Method::PUT,
            &format!("/v1/applications/{id}/draft"),
            Some(serde_json::to_value(content()).unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Alice herself reads it and its ethics vote
    let (status, _) = hub.get("alice", &format!("/v1/applications/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let pdf = hub
        .http
        .get(format!("{}/v1/applications/{id}/ethics", hub.url))
        .bearer_auth(token("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    assert_eq!(&pdf.bytes().await.unwrap()[..], PDF);
    // the pages
    let bob = portal::Session::sign_in(&hub.url, "bob", &token("bob")).await;
    for path in ["", "/ethics", "/print", "/edit"] {
        let status = bob
            .get_status(&format!("/portal/applications/{id}{path}"))
            .await;
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
            "{path}: {status}"
        );
    }
    let page = bob.get_text("/portal/applications").await;
    assert!(!page.contains(id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_admin_cannot_decide_for_another_site() {
    let hub = TestHub::start().await;
    let app = hub.at_site_check().await;
    let id = &app.id;
    // site-a's admin deciding for site-b
    let (status, _) = hub
        .post(
            "sa",
            &format!("/v1/applications/{id}/sites/site-b"),
            json!({"decision": "accept"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // site-c is not included: its admin does not even see the application
    let (status, _) = hub.get("sc", &format!("/v1/applications/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = hub
        .post(
            "sc",
            &format!("/v1/applications/{id}/sites/site-c"),
            json!({"decision": "accept"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // a researcher, the office and a committee member are no site admins
    for who in ["alice", "office", "c1"] {
        let (status, _) = hub
            .post(
                who,
                &format!("/v1/applications/{id}/sites/site-a"),
                json!({"decision": "accept"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
    }
    let app = hub.client("alice").application(id).await.unwrap();
    assert!(app.sites.is_empty());
    assert_eq!(app.stage, Stage::SiteCheck);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_committee_member_voting_twice_leaves_it_unapproved() {
    let hub = TestHub::start().await;
    let app = hub.at_vote().await;
    let c1 = hub.client("c1");
    c1.vote(&app.id, &Vote::Approve).await.unwrap();
    let second = c1.vote(&app.id, &Vote::Approve).await.unwrap_err();
    assert!(second.to_string().contains("counts once"), "{second}");
    let app = hub.client("alice").application(&app.id).await.unwrap();
    assert_eq!(app.stage, Stage::CommitteeVote);
    assert_eq!(app.votes.len(), 1);
    assert!(app.project.is_none());
    let (_, projects) = hub.get("office", "/v1/admin/projects").await;
    assert_eq!(projects, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_applicant_cannot_vote() {
    let hub = TestHub::start().await;
    let app = hub.at_vote().await;
    let (status, _) = hub
        .post(
            "alice",
            &format!("/v1/applications/{}/votes", app.id),
            json!({"vote": "approve"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let app = hub.client("alice").application(&app.id).await.unwrap();
    assert!(app.votes.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_the_csrf_token_is_refused() {
    let hub = TestHub::start().await;
    let app = hub.at_vote().await;
    let c1 = portal::Session::sign_in(&hub.url, "c1", &token("c1")).await;
    let path = format!("/portal/applications/{}/vote", app.id);
    let status = c1
        .post_form(&path, &[("choice", "approve"), ("text", "")])
        .await;
    assert!(status.is_client_error(), "{status}");
    let status = c1
        .post_form(
            &path,
            &[("csrf", "forged"), ("choice", "approve"), ("text", "")],
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    let app = hub.client("alice").application(&app.id).await.unwrap();
    assert!(app.votes.is_empty());
    // with the token, the same post counts
    let csrf = c1.csrf(&format!("/portal/applications/{}", app.id)).await;
    let status = c1
        .post_form(
            &path,
            &[("csrf", &csrf), ("choice", "approve"), ("text", "")],
        )
        .await;
    assert!(status.is_redirection() || status.is_success(), "{status}");
    let app = hub.client("alice").application(&app.id).await.unwrap();
    assert_eq!(app.votes.len(), 1);
}

/// Registers alice's institution and opts both sites in: what the shipped
/// policy needs besides a low-risk application.
async fn prepare_policy(hub: &TestHub) {
    hub.client("office")
        .register_institution("uk-test", "Universitätsklinikum Test", &["alice"])
        .await
        .unwrap();
    for who in ["sa", "sb"] {
        hub.client(who).policy_opt_in(true).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_failing_application_is_not_approved_automatically() {
    let hub = TestHub::start().await;
    prepare_policy(&hub).await;
    let mut c = content();
    c.epsilon = 2.0;
    c.categories.insert(DataCategory::Genetic);
    let app = hub.submitted(&c).await;
    assert_eq!(app.stage, Stage::FormalCheck);
    assert!(app.project.is_none());
    let verdict = app.policy_verdict().unwrap();
    assert_eq!(
        verdict.failed(),
        ["security-level", "no-opt-in-categories", "epsilon-cap"]
    );
    // the page says which rules failed
    let alice = portal::Session::sign_in(&hub.url, "alice", &token("alice")).await;
    let page = alice
        .get_text(&format!("/portal/applications/{}?lang=en", app.id))
        .await;
    assert!(page.contains("epsilon-cap") && page.contains("no-opt-in-categories"));
    let (_, projects) = hub.get("office", "/v1/admin/projects").await;
    assert_eq!(projects, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_passing_application_is_approved_at_once_and_the_audit_cites_the_rules() {
    let hub = TestHub::start().await;
    prepare_policy(&hub).await;
    let alice = hub.client("alice");
    let draft = alice.create_application(&content()).await.unwrap();
    alice
        .upload_ethics(&draft.id, "vote.pdf", PDF.to_vec())
        .await
        .unwrap();
    let started = Instant::now();
    let app = alice.submit_application(&draft.id).await.unwrap();
    let took = started.elapsed();
    println!(
        "submission to approval by policy: {:.1} ms (one HTTP round trip)",
        took.as_secs_f64() * 1e3
    );
    assert_eq!(app.stage, Stage::Approved);
    assert_eq!(app.project.as_deref(), Some(app.id.as_str()));
    let projects = alice.projects().await.unwrap();
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0].project.epsilon_budget, 0.5);
    let trail = hub.client("auditor").audit_export().await.unwrap();
    let approved: Vec<Value> = entries(&trail)
        .into_iter()
        .filter(|e| e["action"] == "project.approved")
        .collect();
    assert_eq!(approved.len(), 1, "{trail}");
    let policy = &approved[0]["details"]["policy"];
    assert_eq!(policy["id"], "oncofed-auto-approval");
    assert_eq!(policy["version"], 1);
    assert_eq!(policy["sha256"].as_str().unwrap().len(), 64);
    let held: Vec<&str> = policy["rules_held"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        held.contains(&"aggregate-only") && held.contains(&"epsilon-cap"),
        "{held:?}"
    );
    assert_eq!(approved[0]["actor"], "policy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manual_flow_ends_in_a_project_on_the_accepting_sites() {
    let hub = TestHub::start().await;
    let app = hub.at_site_check().await;
    let id = app.id.clone();
    hub.client("sa")
        .site_decision(
            &id,
            "site-a",
            &SiteDecision::AcceptWithConditions {
                conditions: "cite the site's registry".into(),
            },
        )
        .await
        .unwrap();
    hub.client("sb")
        .site_decision(
            &id,
            "site-b",
            &SiteDecision::Decline {
                reasons: "no capacity this year".into(),
            },
        )
        .await
        .unwrap();
    hub.client("c1").vote(&id, &Vote::Approve).await.unwrap();
    let app = hub
        .client("c2")
        .vote(
            &id,
            &Vote::ApproveWithConditions {
                conditions: "publish open access".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(app.stage, Stage::Acknowledgement);
    assert_eq!(app.terms().len(), 2);
    // the declined site does not acknowledge
    let (status, _) = hub
        .post(
            "sb",
            &format!("/v1/applications/{id}/acknowledge"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    hub.client("alice").acknowledge(&id).await.unwrap();
    let app = hub.client("sa").acknowledge(&id).await.unwrap();
    assert_eq!(app.stage, Stage::Approved);
    let (_, projects) = hub.get("office", "/v1/admin/projects").await;
    assert_eq!(projects[0]["id"], id.as_str());
    assert_eq!(projects[0]["researchers"], json!(["alice"]));
    let trail = hub.client("auditor").audit_export().await.unwrap();
    let approved = entries(&trail)
        .into_iter()
        .find(|e| e["action"] == "project.approved")
        .unwrap();
    assert_eq!(approved["details"]["sites"], json!(["site-a"]));
}

/// The whole manual flow through the pages (plain HTTP with a cookie jar):
/// every role finds the application in its inbox and decides with the form
/// its page offers, each post carrying the page's CSRF token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_walk_the_manual_flow_role_by_role() {
    let hub = TestHub::start().await;
    let app = hub.submitted(&content()).await;
    let id = app.id.clone();
    let detail = format!("/portal/applications/{id}");

    let alice = hub.session("alice").await;
    let mine = alice.get_text("/portal/applications?lang=en").await;
    assert!(
        mine.contains(&id) && mine.contains("site-a: pending"),
        "{mine}"
    );
    let print = alice.get_text(&format!("{detail}/print")).await;
    assert!(print.contains("print.css") && print.contains(&app.versions[0].sha256));

    // the office: inbox, then the formal check
    let office = hub.session("office").await;
    assert!(office.get_text("/portal/office").await.contains(&id));
    office.decide(&detail, "formal-check", "pass", "").await;

    // each site admin: their inbox, then their decision
    for (who, choice, text) in [
        ("sa", "conditions", "cite the registry"),
        ("sb", "accept", ""),
    ] {
        let s = hub.session(who).await;
        assert!(
            s.get_text("/portal/site-checks").await.contains(&id),
            "{who}"
        );
        s.decide(&detail, "site-decision", choice, text).await;
    }
    // two committee members vote
    for who in ["c1", "c2"] {
        let c = hub.session(who).await;
        assert!(c.get_text("/portal/committee").await.contains(&id), "{who}");
        c.decide(&detail, "vote", "approve", "").await;
    }
    // both sides acknowledge the terms
    for who in ["alice", "sa", "sb"] {
        let s = hub.session(who).await;
        let page = s.get_text(&format!("{detail}?lang=en")).await;
        assert!(
            page.contains("cite the registry"),
            "{who}: the terms are shown"
        );
        let csrf = s.csrf_of_form(&detail, "acknowledge").await;
        let status = s
            .post_form(&format!("{detail}/acknowledge"), &[("csrf", &csrf)])
            .await;
        assert!(status.is_redirection(), "{who}: {status}");
    }
    let page = alice.get_text(&format!("{detail}?lang=en")).await;
    assert!(page.contains("Approved"), "{page}");
    let app = hub.client("alice").application(&id).await.unwrap();
    assert_eq!(app.stage, Stage::Approved);
}

/// The entries of an exported audit trail (checkpoints left out).
fn entries(trail: &str) -> Vec<Value> {
    trail
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|l| l.get("entry").cloned())
        .collect()
}

/// A browser session of the portal over plain HTTP requests (cookie jar).
mod portal {
    use reqwest::StatusCode;

    pub struct Session {
        base: String,
        http: reqwest::Client,
    }

    impl Session {
        pub async fn sign_in(base: &str, user: &str, token: &str) -> Self {
            let http = reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let me = Self {
                base: base.to_owned(),
                http,
            };
            let csrf = me.csrf("/portal/login").await;
            let resp = me
                .http
                .post(format!("{base}/portal/login"))
                .form(&[("csrf", csrf.as_str()), ("user", user), ("token", token)])
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_redirection(), "sign-in: {}", resp.status());
            me
        }

        pub async fn get_status(&self, path: &str) -> StatusCode {
            self.http
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap()
                .status()
        }

        pub async fn get_text(&self, path: &str) -> String {
            let resp = self
                .http
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{path}");
            resp.text().await.unwrap()
        }

        /// The CSRF token of the first form on the page at `path`.
        pub async fn csrf(&self, path: &str) -> String {
            let page = self.get_text(path).await;
            let at = page
                .find("name=\"csrf\"")
                .expect("a form with a CSRF token");
            let value = &page[at..];
            let start = value.find("value=\"").unwrap() + 7;
            let end = value[start..].find('"').unwrap();
            value[start..start + end].to_owned()
        }

        /// The CSRF token of the form posting to `…/{action}` on `page`.
        pub async fn csrf_of_form(&self, page: &str, action: &str) -> String {
            let text = self.get_text(page).await;
            let at = text
                .find(&format!("/{action}\""))
                .unwrap_or_else(|| panic!("no form for {action} on {page}"));
            let rest = &text[at..];
            let value = &rest[rest.find("name=\"csrf\"").unwrap()..];
            let start = value.find("value=\"").unwrap() + 7;
            let end = value[start..].find('"').unwrap();
            value[start..start + end].to_owned()
        }

        /// Posts the decision form `action` (formal-check, site-decision, vote) of `page`.
        pub async fn decide(&self, page: &str, action: &str, choice: &str, text: &str) {
            let csrf = self.csrf_of_form(page, action).await;
            let status = self
                .post_form(
                    &format!("{page}/{action}"),
                    &[("csrf", &csrf), ("choice", choice), ("text", text)],
                )
                .await;
            assert!(status.is_redirection(), "{action}: {status}");
        }

        pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> StatusCode {
            self.http
                .post(format!("{}{path}", self.base))
                .form(fields)
                .send()
                .await
                .unwrap()
                .status()
        }
    }
}

/// Adds a user with the role (and, for a site admin, their site).
fn add_user(users: &mut Users, id: &str, role: Role, site: Option<&str>) {
    users.add_token(id, role, &token(id)).unwrap();
    if let Some(site) = site {
        users.set_site(id, site);
    }
}
