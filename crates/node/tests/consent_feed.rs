//! The consent snapshot against an adversary on the path to the trust centre
//! (issue 13, item 6): a man in the middle who forges, alters, replays, rolls
//! back or gaps feed pages, or cuts the node off; and the proof that the
//! snapshot answers exactly as the trust centre does.

mod support;

use chrono::NaiveDate;
use oncofed_crypto::{PublicKey, SignedEnvelope, SigningKeyPair};
use oncofed_model::{DataCategory, Pseudonym, Purpose};
use oncofed_node::{
    ConsentGate, FactFilter, FactQuery, GateError, QueryError, QueryService, SyncError,
};
use oncofed_trustee_api::{ConsentItem, ConsentQuestion, FeedError, FeedPage, TrusteeClient};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{Cohort, Node, Trustee, ingested_site_1};

/// What the man in the middle does to `GET /v1/consent-feed`.
#[derive(Clone)]
enum Mitm {
    /// Forwards faithfully.
    Pass,
    /// Re-signs the page, with a nonce-true content, under its own key, and
    /// serves that key as the trust centre's.
    Forge(Box<SigningKeyPair>),
    /// Flips one byte of the signed payload (a withdrawal becomes inactive).
    Tamper,
    /// Answers with the first page it ever forwarded.
    Replay,
    /// Rewrites the request's `since` before forwarding (rollback or gap).
    Since(u64),
    /// Answers 503, as if the trust centre were down.
    Down,
}

/// A proxy in front of `upstream` that attacks the feed as `mode` says.
struct Proxy {
    url: String,
    mode: Arc<Mutex<Mitm>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        use axum::extract::Request;
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        let mode = Arc::new(Mutex::new(Mitm::Pass));
        let recorded: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        let client = oncofed_tls::http_client();
        let state = mode.clone();
        let app = axum::Router::new().fallback(move |req: Request| {
            let (client, upstream, mode, recorded) = (
                client.clone(),
                upstream.clone(),
                state.lock().unwrap().clone(),
                recorded.clone(),
            );
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 64 << 20).await.unwrap();
                let feed = parts.uri.path() == "/v1/consent-feed";
                if let (Mitm::Forge(key), "/v1/consent-feed/key") = (&mode, parts.uri.path()) {
                    return axum::Json(json!({"public_key": key.public_key()})).into_response();
                }
                let mut uri = parts.uri.to_string();
                if feed {
                    match &mode {
                        Mitm::Down => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
                        Mitm::Replay => {
                            if let Some(old) = recorded.lock().unwrap().clone() {
                                return ([("content-type", "application/json")], old)
                                    .into_response();
                            }
                        }
                        Mitm::Since(n) => {
                            let query = parts.uri.query().unwrap_or_default();
                            let rest: Vec<&str> = query
                                .split('&')
                                .filter(|kv| !kv.starts_with("since="))
                                .collect();
                            uri = format!("/v1/consent-feed?since={n}&{}", rest.join("&"));
                        }
                        _ => {}
                    }
                }
                let mut forward = client
                    .request(parts.method, format!("{upstream}{uri}"))
                    .header("content-type", "application/json")
                    .body(body);
                if let Some(auth) = parts.headers.get("authorization") {
                    forward = forward.header("authorization", auth);
                }
                let answer = forward.send().await.unwrap();
                let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
                let mut bytes = answer.bytes().await.unwrap().to_vec();
                if feed && status.is_success() {
                    recorded
                        .lock()
                        .unwrap()
                        .get_or_insert_with(|| bytes.clone());
                    let mut envelope: SignedEnvelope = serde_json::from_slice(&bytes).unwrap();
                    match &mode {
                        Mitm::Forge(key) => {
                            let mut page: Value = serde_json::from_str(&envelope.payload).unwrap();
                            // The attacker's page: every consent on record erased (opt-out permits).
                            for entry in page["entries"].as_array_mut().unwrap() {
                                entry["consents"] = json!([]);
                            }
                            envelope = SignedEnvelope::seal(&page, key).unwrap();
                        }
                        Mitm::Tamper if envelope.payload.contains("\"active\"") => {
                            envelope.payload =
                                envelope.payload.replacen("\"active\"", "\"inactive\"", 1);
                        }
                        Mitm::Tamper => envelope.payload.push(' '),
                        _ => {}
                    }
                    bytes = serde_json::to_vec(&envelope).unwrap();
                }
                (status, [("content-type", "application/json")], bytes).into_response()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, mode }
    }

    fn set(&self, mode: Mitm) {
        *self.mode.lock().unwrap() = mode;
    }
}

fn clinical() -> FactQuery {
    FactQuery {
        filter: FactFilter {
            category: Some(DataCategory::Clinical),
            ..Default::default()
        },
        purpose: Purpose::Research,
        date: None,
    }
}

/// The trust centre's key, read directly (as an operator configures it).
async fn real_key(trustee: &Trustee) -> PublicKey {
    trustee.client("site-1").consent_feed_key().await.unwrap()
}

/// A withdrawal dated after every synthetic consent.
fn withdrawal() -> Value {
    json!({"resourceType": "Consent", "status": "active", "dateTime": "2026-01-02",
           "provision": {"type": "deny", "code": [{"coding": [
               {"system": "urn:oncofed:consent-policy", "code": "withdrawal"}]}]}})
}

/// Site-1's local id → pseudonym.
async fn pseudonyms(trustee: &Trustee, cohort: &Cohort) -> HashMap<String, Pseudonym> {
    let ids: Vec<String> = cohort.truth().local_ids("site-1").into_keys().collect();
    let pairs = trustee.client("site-1").resolve(ids.clone()).await.unwrap();
    ids.into_iter()
        .zip(pairs)
        .map(|(id, p)| (id, p.unwrap().site))
        .collect()
}

/// The withdrawal of the first released patient, recorded by site-1; returns
/// their pseudonym.
async fn withdraw_one(trustee: &Trustee, cohort: &Cohort, released: &Pseudonym) -> Pseudonym {
    let local_id = pseudonyms(trustee, cohort)
        .await
        .into_iter()
        .find(|(_, p)| p == released)
        .unwrap()
        .0;
    let item = ConsentItem {
        local_id,
        consent: withdrawal(),
    };
    assert_eq!(
        trustee
            .client("site-1")
            .submit_consents(vec![item])
            .await
            .unwrap(),
        1
    );
    released.clone()
}

#[tokio::test]
async fn red_team_forged_or_tampered_pages_are_refused_and_release_nothing() {
    let (trustee, _cohort, node, _) = ingested_site_1(1, 40, 11).await;
    let proxy = Proxy::start(trustee.url().to_owned()).await;
    let key = real_key(&trustee).await;
    for attack in [
        Mitm::Forge(Box::new(SigningKeyPair::generate())),
        Mitm::Tamper,
    ] {
        proxy.set(attack);
        let gate = Arc::new(
            ConsentGate::new(trustee.client_via(&proxy.url, "site-1"), Duration::ZERO)
                .with_trustee_key(key),
        );
        assert!(matches!(
            gate.sync().await,
            Err(SyncError::Refused(FeedError::BadSignature))
        ));
        let q = QueryService::new(node.store.clone(), gate.clone());
        let refused = q.facts(&clinical()).await.unwrap_err();
        assert!(
            matches!(refused, QueryError::Consent(GateError::FeedRefused { .. })),
            "{refused}"
        );
        assert!(refused.to_string().contains("no data is released"));
        assert_eq!(
            gate.status().version,
            0,
            "nothing of a refused page was applied"
        );
        assert!(gate.status().pages_refused >= 2);
    }
    // The same path, faithful: the pinned key verifies and data flows.
    proxy.set(Mitm::Pass);
    let gate = ConsentGate::new(trustee.client_via(&proxy.url, "site-1"), Duration::ZERO)
        .with_trustee_key(key);
    let q = QueryService::new(node.store.clone(), Arc::new(gate));
    assert!(!q.facts(&clinical()).await.unwrap().facts.is_empty());
    // Without a configured key, the key is pinned from the first contact.
    let unpinned = ConsentGate::new(trustee.client_via(&proxy.url, "site-1"), Duration::ZERO);
    assert!(unpinned.sync().await.unwrap() >= 40);
}

#[tokio::test]
async fn red_team_a_key_pinned_on_first_use_is_remembered_across_restarts() {
    let (trustee, _cohort, _node, _) = ingested_site_1(1, 10, 18).await;
    let proxy = Proxy::start(trustee.url().to_owned()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trustee-feed-key.pub");
    let gate = |remember: bool| {
        let gate = ConsentGate::new(trustee.client_via(&proxy.url, "site-1"), Duration::ZERO);
        if remember {
            gate.with_key_file(file.clone()).unwrap()
        } else {
            gate
        }
    };
    // First start, faithful path: the key is fetched, pinned and remembered.
    assert!(gate(true).sync().await.unwrap() >= 10);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        real_key(&trustee).await.to_string()
    );
    // Later starts behind a forger serving its own key: the remembered key refuses it.
    proxy.set(Mitm::Forge(Box::new(SigningKeyPair::generate())));
    assert!(matches!(
        gate(true).sync().await,
        Err(SyncError::Refused(FeedError::BadSignature))
    ));
    // The documented limit: with neither a configured nor a remembered key, the
    // first contact is trusted, forger included (hence --trustee-key).
    assert!(gate(false).sync().await.is_ok());
    // A file that holds no key is refused at start, not silently replaced.
    std::fs::write(&file, "not a key").unwrap();
    assert!(
        ConsentGate::new(trustee.client("site-1"), Duration::ZERO)
            .with_key_file(file.clone())
            .is_err()
    );
}

#[tokio::test]
async fn red_team_replayed_rolled_back_or_gapped_pages_are_refused() {
    let (trustee, cohort, node, _) = ingested_site_1(1, 40, 13).await;
    let proxy = Proxy::start(trustee.url().to_owned()).await;
    let gate = Arc::new(
        ConsentGate::new(trustee.client_via(&proxy.url, "site-1"), Duration::ZERO)
            .with_trustee_key(real_key(&trustee).await)
            .with_max_staleness(Duration::ZERO),
    );
    let q = QueryService::new(node.store.clone(), gate.clone());
    let before = q.facts(&clinical()).await.unwrap();
    let held = gate.status().version;
    assert!(held > 0);
    let victim = withdraw_one(&trustee, &cohort, &before.facts[0].pseudonym).await;

    // Replay: the page recorded at the first sync (version 0, old nonce), which
    // still shows the victim's consents from before the withdrawal.
    proxy.set(Mitm::Replay);
    assert!(matches!(
        gate.sync().await,
        Err(SyncError::Refused(FeedError::NotOurs))
    ));
    // Rollback: the request rewritten to start at 0; the trust centre signs that
    // honestly, and the node refuses it for starting before its version.
    proxy.set(Mitm::Since(0));
    assert!(matches!(
        gate.sync().await,
        Err(SyncError::Refused(FeedError::Rollback { since: 0, .. }))
    ));
    // Gap: rewritten to start after the node's version, skipping the withdrawal.
    proxy.set(Mitm::Since(held + 1));
    assert!(matches!(
        gate.sync().await,
        Err(SyncError::Refused(FeedError::Gap { .. }))
    ));
    // With a zero staleness bound a refused renewal releases nothing at all.
    assert!(matches!(
        q.facts(&clinical()).await,
        Err(QueryError::Consent(GateError::FeedRefused { .. }))
    ));
    assert_eq!(gate.status().version, held, "refused pages changed nothing");

    // The faithful page brings the withdrawal.
    proxy.set(Mitm::Pass);
    let after = q.facts(&clinical()).await.unwrap();
    assert!(after.facts.iter().all(|f| f.pseudonym != victim));
    assert!(gate.status().version > held);
}

#[tokio::test]
async fn red_team_a_stale_snapshot_without_the_trust_centre_releases_nothing() {
    let (trustee, _cohort, node, _) = ingested_site_1(1, 30, 14).await;
    let proxy = Proxy::start(trustee.url().to_owned()).await;
    let key = real_key(&trustee).await;
    let gate = |bound| {
        Arc::new(
            ConsentGate::new(trustee.client_via(&proxy.url, "site-1"), Duration::ZERO)
                .with_trustee_key(key)
                .with_max_staleness(bound),
        )
    };
    let (tolerant, strict) = (gate(Duration::from_secs(3600)), gate(Duration::ZERO));
    let (tq, sq) = (
        QueryService::new(node.store.clone(), tolerant.clone()),
        QueryService::new(node.store.clone(), strict.clone()),
    );
    let released = tq.facts(&clinical()).await.unwrap().facts.len();
    assert!(released > 0);
    assert_eq!(sq.facts(&clinical()).await.unwrap().facts.len(), released);

    proxy.set(Mitm::Down);
    // Within its bound the snapshot answers; past it (here: at once) nothing.
    assert_eq!(tq.facts(&clinical()).await.unwrap().facts.len(), released);
    let refused = sq.facts(&clinical()).await.unwrap_err();
    assert!(
        matches!(
            refused,
            QueryError::Consent(GateError::TrusteeUnavailable { .. })
        ),
        "{refused}"
    );
    assert!(
        strict.question_counts().1 > 0,
        "refusals are counted for /metrics"
    );

    // Never synced and unreachable: nothing, whatever the bound.
    let fresh = gate(Duration::from_secs(3600));
    let q = QueryService::new(node.store.clone(), fresh);
    let refused = q.facts(&clinical()).await.unwrap_err().to_string();
    assert!(
        refused.contains("not yet synced") && refused.contains("no data is released"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_withdrawal_is_honoured_at_the_next_sync_before_its_deletion_order_runs() {
    let (trustee, cohort, node, _) = ingested_site_1(1, 40, 15).await;
    let client = trustee.client("site-1");
    // A long sync interval: only the explicit sync (the poller's) renews.
    let gate = Arc::new(ConsentGate::new(client.clone(), Duration::from_secs(3600)));
    let q = QueryService::new(node.store.clone(), gate.clone());
    let before = q.facts(&clinical()).await.unwrap();
    let victim = withdraw_one(&trustee, &cohort, &before.facts[0].pseudonym).await;
    gate.sync().await.unwrap();
    let after = q.facts(&clinical()).await.unwrap();
    assert!(
        after.facts.iter().all(|f| f.pseudonym != victim),
        "withdrawn person released"
    );
    assert!(!after.facts.is_empty());
    for category in DataCategory::ALL {
        let permitted = gate
            .permitted(Purpose::Feasibility, today(), [(victim.clone(), category)])
            .await
            .unwrap();
        assert!(permitted.is_empty(), "{category:?}");
    }
    // The deletion order exists but has not run: the data is still stored.
    let orders = client.deletion_orders().await.unwrap();
    assert!(orders.iter().any(|o| o.pseudonym == victim));
    let stored = node
        .store
        .lock()
        .unwrap()
        .existing_patients(std::slice::from_ref(&victim))
        .unwrap();
    assert_eq!(
        stored.len(),
        1,
        "the person's data is still there; consent alone withholds it"
    );
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Consents of the shapes the engine tells apart, for a few patients on top
/// of the synthetic ones: MII broad consent with windows, partial withdrawal,
/// genetic refusal, objection, data periods.
fn extra_consents() -> Vec<Value> {
    let mdat = "2.16.840.1.113883.3.1937.777.24.5.3.8";
    let collect = "2.16.840.1.113883.3.1937.777.24.5.3.6";
    let code = |system: &str, c: &str| json!([{"coding": [{"system": system, "code": c}]}]);
    let mii = "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3";
    let oncofed = "urn:oncofed:consent-policy";
    vec![
        json!({"resourceType": "Consent", "status": "active", "dateTime": "2021-03-01",
               "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.1791"}],
               "provision": {"type": "deny", "period": {"start": "2021-03-01", "end": "2051-03-01"},
                 "provision": [
                   {"type": "permit", "period": {"start": "2021-03-01", "end": "2026-03-01"}, "code": code(mii, collect)},
                   {"type": "permit", "period": {"start": "2021-03-01", "end": "2051-03-01"}, "code": code(mii, mdat)}]}}),
        json!({"resourceType": "Consent", "status": "active", "dateTime": "2024-05-01",
               "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2721"}],
               "provision": {"type": "deny", "provision": [{"type": "deny", "period": {"start": "2024-05-01"}, "code": code(mii, mdat)}]}}),
        json!({"resourceType": "Consent", "status": "active", "dateTime": "2023-06-01T09:00:00+02:00",
               "provision": {"type": "deny", "code": code(oncofed, "genetic-research")}}),
        json!({"resourceType": "Consent", "status": "active", "dateTime": "2022-01-01",
               "provision": {"type": "permit", "dataPeriod": {"start": "2022-01-01", "end": "2024-12-31"}, "code": code(oncofed, "genetic-research")}}),
        json!({"resourceType": "Consent", "status": "active", "dateTime": "2025-02-01",
               "provision": {"type": "deny", "period": {"end": "2027-12-31"}, "code": code(oncofed, "gdng-objection")}}),
        json!({"resourceType": "Consent", "status": "entered-in-error", "dateTime": "2025-02-01",
               "provision": {"type": "deny", "code": code(oncofed, "withdrawal")}}),
    ]
}

/// Equivalence: for every (person, category, purpose, date, origin) question
/// over the synthetic cohort's consents and the shapes above, the node's local
/// answer equals the trust centre's `POST /v1/consents/check` answer.
#[tokio::test]
async fn the_snapshot_answers_exactly_as_the_trust_centre_checks() {
    let trustee = Trustee::with_sites(1).await;
    let cohort = Cohort::generate(1, 120, 16);
    let node = Node::new();
    let client = trustee.client("site-1");
    node.ingest_clean(&client, &[cohort.site_dir("site-1")])
        .await;
    let psn = pseudonyms(&trustee, &cohort).await;
    let mut local: Vec<&String> = psn.keys().collect();
    local.sort();
    // Extra consents: patient i gets shapes i, i+1 (mod n): pairs interact.
    let shapes = extra_consents();
    let items: Vec<ConsentItem> = local
        .iter()
        .take(2 * shapes.len())
        .enumerate()
        .flat_map(|(i, id)| {
            [i, i + 1].map(|k| ConsentItem {
                local_id: (*id).clone(),
                consent: shapes[k % shapes.len()].clone(),
            })
        })
        .collect();
    client.submit_consents(items).await.unwrap();

    let gate = ConsentGate::new(client.clone(), Duration::from_secs(3600));
    let mut persons: Vec<Pseudonym> = psn.values().cloned().collect();
    persons.sort();
    // Pseudonyms the trust centre never issued: DenyUnknown on both sides.
    persons.extend((0..3u8).map(|b| Pseudonym::from_digest(&[b; 10])));
    let dates = [
        day(2020, 6, 1),
        day(2024, 1, 1),
        day(2026, 1, 1),
        day(2031, 6, 1),
        day(2052, 1, 1),
    ];
    let origins = [
        None,
        Some(day(2019, 1, 1)),
        Some(day(2023, 6, 1)),
        Some(day(2026, 2, 1)),
        Some(day(2030, 1, 1)),
    ];
    let (mut asked, mut permits) = (0usize, 0usize);
    for purpose in [Purpose::Research, Purpose::Feasibility] {
        for date in dates {
            let questions: Vec<ConsentQuestion> = persons
                .iter()
                .flat_map(|p| {
                    DataCategory::ALL.into_iter().flat_map(move |category| {
                        origins.map(|origin| ConsentQuestion {
                            pseudonym: p.clone(),
                            category,
                            origin,
                        })
                    })
                })
                .collect();
            let local = gate
                .permitted_facts(
                    purpose,
                    date,
                    questions
                        .iter()
                        .map(|q| (q.pseudonym.clone(), q.category, q.origin)),
                )
                .await
                .unwrap();
            for chunk in questions.chunks(oncofed_trustee_api::MAX_BATCH) {
                let central = client
                    .check_consent(purpose, date, chunk.to_vec())
                    .await
                    .unwrap();
                for (q, d) in chunk.iter().zip(central) {
                    let here = local.contains(&(q.pseudonym.clone(), q.category, q.origin));
                    assert_eq!(
                        here,
                        d.permits(),
                        "{q:?} {purpose} {date}: trust centre says {d:?}"
                    );
                    asked += 1;
                    permits += usize::from(here);
                }
            }
        }
    }
    // The comparison must have teeth: both answers occur in quantity.
    assert!(asked > 30_000, "{asked}");
    assert!(
        permits > asked / 10 && permits < asked * 9 / 10,
        "{permits} of {asked}"
    );
}

/// The page a node receives names only its own site; its pseudonyms are the
/// ones the trust centre issued to it.
#[tokio::test]
async fn a_page_names_the_calling_site_and_its_pseudonyms_only() {
    let (trustee, cohort, _node, _) = ingested_site_1(2, 30, 17).await;
    let ours: std::collections::HashSet<Pseudonym> =
        pseudonyms(&trustee, &cohort).await.into_values().collect();
    let client: TrusteeClient = trustee.client("site-1");
    let nonce = "0123456789abcdef0123";
    let signed = client.consent_feed(0, nonce, None).await.unwrap();
    let page = FeedPage::verify(&signed, &real_key(&trustee).await, nonce, None, 0).unwrap();
    assert_eq!(page.site.as_str(), "site-1");
    let named: std::collections::HashSet<Pseudonym> = page
        .entries
        .iter()
        .flat_map(|e| e.pseudonyms.clone())
        .collect();
    assert_eq!(named, ours);
}
