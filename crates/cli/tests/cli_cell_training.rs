//! Issue 15 end to end through `oncofed demo`: synthetic smears at three
//! sites, expert validation, and a cell classifier trained across the sites
//! as a hub analysis (sealed tasks, secure aggregation); the released model
//! is evaluated per site and beats the sites' own models on the other sites'
//! cells, and every update the hub stored is byte-uniform (it learned only sums).

mod support;

use serde_json::Value;
use std::path::Path;
use support::run_ok;

/// Every masked vector the sites posted to the hub (its task table), as the
/// top bytes of their ring elements: uniform if the hub learned nothing but sums.
fn masked_top_bytes(db: &Path) -> Vec<u8> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT outcome FROM task WHERE outcome IS NOT NULL")
        .unwrap();
    let outcomes: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut top = Vec::new();
    for text in outcomes {
        let envelope: Value = serde_json::from_str(&text).unwrap();
        let outcome: Value = serde_json::from_str(envelope["payload"].as_str().unwrap()).unwrap();
        let reply = &outcome["result"]["Ok"]["analysis"];
        if reply["reply"] == "masked" {
            for v in reply["input"]["values"].as_array().unwrap() {
                top.push((v.as_u64().unwrap() >> 56) as u8);
            }
        }
    }
    top
}

#[test]
fn a_cell_classifier_trains_across_the_sites_through_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let summary = run_ok(&[
        "demo",
        "--plain-http",
        // the default cohort: about 75 persons with smears per site, so that
        // every site's person-level split (7:1:2 by pseudonym hash) holds
        // validation and test persons
        "--dir",
        data.to_str().unwrap(),
        "--json",
    ]);
    let cells = &summary["cells"];
    for (site, v) in cells["validation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (&p[0], &p[1]))
    {
        assert!(v["cells"].as_u64().unwrap() > 100, "{site}: {v}");
        assert!(v["fleiss_kappa"].as_f64().unwrap() > 0.5, "{site}: {v}");
    }
    let model = &cells["federated"];
    assert!(model.is_object(), "training refused: {}", cells["refused"]);
    assert_eq!(model["model"]["algorithm"], "FedAvg");
    assert_eq!(
        model["model"]["rounds"].as_array().unwrap().len(),
        model["history"].as_array().unwrap().len()
    );
    assert_eq!(
        model["params"].as_array().unwrap().len(),
        3448,
        "the released parameters of the default network"
    );
    // eight classes: chance is 1/8; the synthetic morphology is learnable
    let pooled = model["pooled"]["accuracy"].as_f64().unwrap();
    assert!(pooled > 0.6, "pooled accuracy {pooled}");
    let sites = model["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 3);
    for s in sites {
        assert!(s["evaluation"]["n"].as_u64().unwrap() > 0, "{s}");
        assert_eq!(s["evaluation"]["confusion"].as_array().unwrap().len(), 8);
    }
    // Site shift: a site's own model does worse on the other sites' cells
    // than the federated model does on them.
    // The registry lists it, and its card names it.
    let registry = cells["registry"].as_array().unwrap();
    assert!(
        registry.iter().any(|m| m["id"] == model["model"]["id"]),
        "{registry:?}"
    );
    assert!(
        cells["model_card_head"]
            .as_str()
            .unwrap()
            .contains("# Model card: demo-differential"),
        "{}",
        cells["model_card_head"]
    );
    // Swarm: every site ended with the same model, no aggregator anywhere.
    assert_eq!(
        cells["swarm"]["identical_models"], true,
        "{}",
        cells["swarm_error"]
    );
    let comparison = cells["comparison"].as_array().unwrap();
    assert_eq!(comparison.len(), 3);
    let mean = |f: &dyn Fn(&Value) -> f64| comparison.iter().map(f).sum::<f64>() / 3.0;
    let elsewhere = mean(&|c| c["local_accuracy_elsewhere"].as_f64().unwrap());
    let federated = mean(&|c| c["federated_accuracy"].as_f64().unwrap());
    let swarm = mean(&|c| c["swarm_accuracy"].as_f64().unwrap());
    assert!(swarm > elsewhere, "swarm {swarm} against {elsewhere}");
    assert!(
        federated > elsewhere,
        "federated {federated} against local models elsewhere {elsewhere}"
    );
    // What the hub stored of every update is uniform noise (chi² of the top
    // byte, 255 df, 99.99th percentile about 361).
    let top = masked_top_bytes(&data.join("hub/hub.db"));
    assert!(top.len() > 100_000, "{} masked values", top.len());
    let mut bins = [0u64; 256];
    for b in &top {
        bins[*b as usize] += 1;
    }
    let expected = top.len() as f64 / 256.0;
    let chi2: f64 = bins
        .iter()
        .map(|&o| (o as f64 - expected).powi(2) / expected)
        .sum();
    assert!(
        chi2 < 361.0,
        "the hub's copies are not uniform: chi² {chi2}"
    );
}
