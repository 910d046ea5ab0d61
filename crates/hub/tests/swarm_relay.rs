//! The swarm relay through the real hub routes (issue 15, item 5): sites
//! train over `POST`/`GET /v1/swarm/{run}/messages`, every message reaches
//! only its addressee, and the hub's files hold no model parameter in the clear.

mod support;

use oncofed_crypto::SigningKeyPair;
use oncofed_swarm::{
    Envelope, Kind, LocalUpdate, Relay, Roster, RoundPlan, SiteConfig, SwarmSite, model_hash,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use support::{ADMIN, Hub, RESEARCHER};

/// A [`Relay`] over the hub's routes: each call is a request signed by the
/// site it acts for, as a node agent sends it. Records what was posted.
struct HubRelay {
    url: String,
    keys: BTreeMap<String, SigningKeyPair>,
    rt: tokio::runtime::Handle,
    posted: Mutex<Vec<Envelope>>,
}

#[derive(Debug, thiserror::Error)]
#[error("hub answered HTTP {0}: {1}")]
struct HubError(u16, String);

impl HubRelay {
    fn signed(
        &self,
        site: &str,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Value, HubError> {
        let key = &self.keys[site];
        let separator = if path.contains('?') { '&' } else { '?' };
        let path = format!("{path}{separator}nonce={:032x}", rand::random::<u128>());
        let ts = chrono::Utc::now().timestamp();
        let signature = oncofed_crypto::sign_request(key, method.as_str(), &path, ts, &body);
        let req = oncofed_tls::http_client()
            .request(method, format!("{}{path}", self.url))
            .header("x-oncofed-site", site)
            .header("x-oncofed-timestamp", ts.to_string())
            .header("x-oncofed-signature", signature.to_string())
            .header(
                "x-oncofed-content-sha256",
                oncofed_crypto::body_digest(&body),
            )
            .header("content-type", "application/json")
            .body(body);
        self.rt.block_on(async {
            let resp = req.send().await.map_err(|e| HubError(0, e.to_string()))?;
            let status = resp.status().as_u16();
            let text = resp
                .text()
                .await
                .map_err(|e| HubError(status, e.to_string()))?;
            if status != 200 {
                return Err(HubError(status, text));
            }
            serde_json::from_str(&text).map_err(|e| HubError(status, e.to_string()))
        })
    }

    fn post_as(&self, site: &str, run: &str, envelopes: &[Envelope]) -> Result<Value, HubError> {
        let body = serde_json::to_vec(envelopes).unwrap();
        self.signed(
            site,
            reqwest::Method::POST,
            &format!("/v1/swarm/{run}/messages"),
            body,
        )
    }
}

impl Relay for HubRelay {
    type Error = HubError;

    fn post(&self, envelope: Envelope) -> Result<u64, HubError> {
        let answer = self.post_as(
            &envelope.from,
            &envelope.run,
            std::slice::from_ref(&envelope),
        )?;
        self.posted.lock().unwrap().push(envelope);
        Ok(answer["seqs"][0].as_u64().unwrap())
    }

    fn fetch(&self, run: &str, site: &str, after: u64) -> Result<Vec<(u64, Envelope)>, HubError> {
        let path = format!("/v1/swarm/{run}/messages?after={after}");
        let answer = self.signed(site, reqwest::Method::GET, &path, Vec::new())?;
        let delivered: Vec<Value> = serde_json::from_value(answer).unwrap();
        Ok(delivered
            .into_iter()
            .map(|d| {
                let envelope: Envelope = serde_json::from_value(d["envelope"].clone()).unwrap();
                (d["seq"].as_u64().unwrap(), envelope)
            })
            .collect())
    }
}

fn train(model: &[f32], k: usize, round: u32) -> LocalUpdate {
    let params = model
        .iter()
        .enumerate()
        .map(|(j, t)| {
            t + 0.3 * (((k * 31 + j * 17) % 23) as f32 * 0.37 - 4.0 - t) + 0.01 * round as f32
        })
        .collect();
    LocalUpdate {
        params,
        samples: 10 + 9 * k as u64,
    }
}

/// Delivers pending messages until the relay is quiet; returns whether every
/// site accepted a round on the way.
fn pump(
    relay: &HubRelay,
    run: &str,
    sites: &mut [SwarmSite],
    names: &[String],
    cursors: &mut [u64],
) -> usize {
    let mut accepted = 0;
    loop {
        let mut moved = false;
        for i in 0..sites.len() {
            for (seq, env) in relay.fetch(run, &names[i], cursors[i]).unwrap() {
                assert_eq!(env.to, names[i], "a message for another site was delivered");
                moved = true;
                cursors[i] = seq;
                let step = sites[i].on_message(env).unwrap();
                for e in step.outgoing {
                    relay.post(e).unwrap();
                }
                accepted += usize::from(step.accepted.is_some());
            }
        }
        if !moved {
            return accepted;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_messages_reach_only_their_addressee_and_the_hub_stores_no_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let hub_dir = dir.path().join("hub");
    let hub = Hub::start(hub_dir.clone(), SigningKeyPair::generate(), |_| {}).await;
    let n = 3;
    // Four registered sites; the fourth (an outsider) is not in the run.
    let names: Vec<String> = (0..=n).map(|i| format!("site-{i}")).collect();
    let keys: BTreeMap<String, SigningKeyPair> = names
        .iter()
        .map(|s| (s.clone(), SigningKeyPair::generate()))
        .collect();
    let http = oncofed_tls::http_client();
    for (site, key) in &keys {
        let resp = http
            .post(format!("{}/v1/admin/sites", hub.url))
            .bearer_auth(ADMIN)
            .json(&json!({ "site": site, "public_key": key.public_key() }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    // A swarm run exists only inside an approved project that allows training.
    let project = |kinds: Vec<&str>| {
        json!({
            "id": "cells", "title": "cells", "researchers": ["alice"],
            "categories": ["clinical", "pathology"], "epsilon_budget": 1.0,
            "plan": { "kinds": kinds },
        })
    };
    let start = json!({
        "project": "cells",
        "training": oncofed_protocol::analysis::CellTraining::small("swarm-test"),
        "sites": names[..n],
    });
    let approve = |body: Value| {
        http.post(format!("{}/v1/admin/projects", hub.url))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
    };
    assert_eq!(approve(project(vec!["km"])).await.unwrap().status(), 200);
    let resp = http
        .post(format!("{}/v1/swarm/runs", hub.url))
        .bearer_auth(RESEARCHER)
        .json(&start)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        403,
        "a project without cell-classifier trains nothing"
    );
    assert_eq!(
        approve(project(vec!["cell-classifier"]))
            .await
            .unwrap()
            .status(),
        200
    );
    let grant: Value = http
        .post(format!("{}/v1/swarm/runs", hub.url))
        .bearer_auth(RESEARCHER)
        .json(&start)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run_id = grant["grant"]["run"].as_str().unwrap().to_owned();
    assert_eq!(grant["grant"]["participants"], json!(names[..n]));
    let url = hub.url.clone();
    let rt = tokio::runtime::Handle::current();
    let (models, seen, relay) = tokio::task::spawn_blocking(move || {
        let relay = HubRelay {
            url,
            keys: keys.clone(),
            rt,
            posted: Mutex::default(),
        };
        let run = run_id.as_str();
        let participants: Vec<String> = names[..n].to_vec();
        let mut roster = Roster::new();
        for (s, k) in &keys {
            roster.insert(s.clone(), k.public_key()).unwrap();
        }
        let initial: Vec<f32> = (0..256).map(|j| (j as f32 * 0.1).cos()).collect();
        let mut sites = Vec::new();
        for name in &participants {
            let config = SiteConfig {
                name: name.clone(),
                signing: keys[name].clone(),
                roster: roster.clone(),
                min_sites: 3,
            };
            let (site, out) = SwarmSite::open(config, run, &participants, initial.clone()).unwrap();
            for e in out {
                relay.post(e).unwrap();
            }
            sites.push(site);
        }
        let mut cursors = vec![0; n];
        pump(&relay, run, &mut sites, &participants, &mut cursors);
        let mut seen = vec![initial];
        for round in 0..3 {
            let leader = sites[0].leader(round, 0).unwrap();
            let plan = RoundPlan {
                round,
                attempt: 0,
                leader,
            };
            let mut updates = Vec::new();
            let mut accepted = 0;
            for (i, site) in sites.iter_mut().enumerate() {
                let update = train(site.model(), i, round);
                updates.push(update.clone());
                let step = site.start_round(&plan, update).unwrap();
                accepted += usize::from(step.accepted.is_some());
                for e in step.outgoing {
                    relay.post(e).unwrap();
                }
            }
            accepted += pump(&relay, run, &mut sites, &participants, &mut cursors);
            assert_eq!(accepted, n, "round {round} accepted at every site");
            let total: f64 = updates.iter().map(|u| u.samples as f64).sum();
            for (j, got) in sites[0].model().iter().enumerate() {
                let want = updates
                    .iter()
                    .map(|u| u.samples as f64 * f64::from(u.params[j]))
                    .sum::<f64>()
                    / total;
                assert!((f64::from(*got) - want).abs() <= 1e-6 * want.abs().max(1.0));
            }
            assert!(sites.iter().all(|s| s.model() == sites[0].model()));
            seen.extend(updates.into_iter().map(|u| u.params));
            seen.push(sites[0].model().to_vec());
        }
        // The outsider, and every participant, gets only what is addressed to it.
        let posted = relay.posted.lock().unwrap().clone();
        for name in &names[..n] {
            let got = relay.fetch(run, name, 0).unwrap();
            let want: Vec<&Envelope> = posted.iter().filter(|e| e.to == *name).collect();
            assert_eq!(got.len(), want.len(), "{name} gets exactly its messages");
            for ((_, g), w) in got.iter().zip(&want) {
                assert_eq!(g, *w, "delivered as posted");
            }
        }
        assert_eq!(
            relay.fetch(run, &names[n], 0).unwrap_err().0,
            400,
            "the outsider is not a participant and gets nothing"
        );
        // A run nobody granted carries nothing.
        let stray = posted[0].clone();
        let err = relay
            .post_as(
                &stray.from.clone(),
                "swarm-not-granted",
                &[Envelope {
                    run: "swarm-not-granted".into(),
                    ..stray
                }],
            )
            .unwrap_err();
        assert_eq!(err.0, 400, "{err}");
        // A site cannot post as another, nor to an unregistered site.
        let mut forged = posted
            .iter()
            .find(|e| e.kind == Kind::Update)
            .unwrap()
            .clone();
        let err = relay
            .post_as(&names[n], run, std::slice::from_ref(&forged))
            .unwrap_err();
        assert_eq!(err.0, 400, "{err}");
        forged.to = "site-nowhere".into();
        let err = relay
            .post_as(&forged.from.clone(), run, &[forged])
            .unwrap_err();
        assert_eq!(err.0, 400, "{err}");
        let models: Vec<Vec<f32>> = sites.iter().map(|s| s.model().to_vec()).collect();
        (models, seen, relay)
    })
    .await
    .unwrap();
    assert_eq!(models.len(), n);
    hub.stop().await;

    // What the hub stored: the ciphertexts as posted, nothing else.
    let db = rusqlite::Connection::open(hub_dir.join("hub.db")).unwrap();
    let stored: Vec<(String, Vec<u8>)> = db
        .prepare("SELECT kind, ciphertext FROM swarm_message ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let posted = relay.posted.lock().unwrap().clone();
    assert_eq!(stored.len(), posted.len());
    for ((kind, bytes), e) in stored.iter().zip(&posted) {
        assert_eq!((kind.as_str(), bytes), (e.kind.as_str(), &e.ciphertext));
    }
    // Every file the hub wrote (store, WAL, audit trail): no two consecutive
    // parameters, no model hash; single values only at chance level.
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&hub_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            files.push(std::fs::read(&path).unwrap());
        }
    }
    let all: Vec<u8> = files.concat();
    let contains = |needle: &[u8]| all.windows(needle.len()).any(|w| w == needle);
    let mut values: BTreeSet<u32> = BTreeSet::new();
    for params in &seen {
        for pair in params.windows(2) {
            let bytes = [pair[0].to_le_bytes(), pair[1].to_le_bytes()].concat();
            assert!(
                !contains(&bytes),
                "two consecutive parameters in the hub's files"
            );
        }
        assert!(
            !contains(&model_hash(params)),
            "a model hash in the hub's files"
        );
        values.extend(params.iter().map(|v| v.to_bits()));
    }
    let hits = values.iter().filter(|v| contains(&v.to_le_bytes())).count();
    let expected = values.len() as f64 * all.len() as f64 / 2f64.powi(32);
    eprintln!(
        "hub files: {} bytes; {hits} single-value hits, {expected:.3} expected by chance",
        all.len()
    );
    assert!(
        hits as f64 <= 3.0 + 4.0 * expected,
        "{hits} parameter values in the hub's files"
    );
    // The stored ciphertexts are uniform bytes (χ², df 255; 99.99th percentile ≈ 361).
    let sealed: Vec<u8> = stored
        .iter()
        .filter(|(k, _)| k != "key")
        .flat_map(|(_, b)| b.clone())
        .collect();
    let mut bins = [0u64; 256];
    for b in &sealed {
        bins[*b as usize] += 1;
    }
    let e = sealed.len() as f64 / 256.0;
    let chi2: f64 = bins.iter().map(|&o| (o as f64 - e).powi(2) / e).sum();
    eprintln!(
        "{} sealed bytes in the hub store, χ² {chi2:.1} (df 255)",
        sealed.len()
    );
    assert!(sealed.len() > 10_000 && chi2 < 361.0, "χ² {chi2}");
    // Every relay call that moved messages is in the audit trail.
    let text = String::from_utf8_lossy(&all);
    assert!(text.contains("swarm.posted") && text.contains("swarm.fetched"));
}
