//! Architecture invariants from ARCHITECTURE.md, checked over `cargo metadata`.
//!
//! A failure here means a dependency edge was added that the design forbids:
//! read ARCHITECTURE.md ("Architecture invariants") before changing this test.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Workspace crate → its direct dependencies (normal and build, not dev).
fn workspace_graph() -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut graph = BTreeMap::new();
    for pkg in meta["packages"].as_array().unwrap() {
        let deps = pkg["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].as_str() != Some("dev"))
            .map(|d| d["name"].as_str().unwrap().to_owned())
            .collect();
        graph.insert(pkg["name"].as_str().unwrap().to_owned(), deps);
    }
    graph
}

/// Every crate reachable from `from` through non-dev dependencies (workspace crates only).
fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_owned()];
    while let Some(c) = todo.pop() {
        for d in graph.get(&c).into_iter().flatten() {
            if graph.contains_key(d) && seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn identifying_data_never_reaches_model_or_store() {
    let g = workspace_graph();
    for krate in [
        "oncofed-model",
        "oncofed-store",
        "oncofed-protocol",
        "oncofed-privacy",
        "oncofed-hub",
        "oncofed-hub-api",
    ] {
        assert!(g.contains_key(krate), "{krate} missing from the workspace");
        assert!(
            !reachable(&g, krate).contains("oncofed-idat"),
            "{krate} must not depend on oncofed-idat (identifying data stays out of research stores)"
        );
    }
}

#[test]
fn services_do_not_depend_on_each_other() {
    let g = workspace_graph();
    let services = ["oncofed-node", "oncofed-trustee", "oncofed-hub"];
    for a in services {
        let r = reachable(&g, a);
        for b in services.iter().filter(|b| **b != a) {
            assert!(
                !r.contains(*b),
                "{a} must not depend on {b}; talk through its -api crate"
            );
        }
    }
}

#[test]
fn api_crates_do_not_compile_a_service() {
    let g = workspace_graph();
    for api in ["oncofed-trustee-api", "oncofed-hub-api"] {
        assert!(g.contains_key(api), "{api} missing from the workspace");
        let r = reachable(&g, api);
        for service in ["oncofed-node", "oncofed-trustee", "oncofed-hub"] {
            assert!(
                !r.contains(service),
                "{api} must not depend on {service}: callers of a service use its wire types and client without compiling it"
            );
        }
    }
}

#[test]
fn only_the_crypto_crate_touches_signature_libraries() {
    let g = workspace_graph();
    for (krate, deps) in &g {
        if krate != "oncofed-crypto" {
            assert!(
                !deps.contains("ed25519-dalek"),
                "{krate} must sign and verify through oncofed-crypto"
            );
        }
    }
}

#[test]
fn only_the_tls_crate_touches_tls_libraries() {
    let g = workspace_graph();
    for (krate, deps) in &g {
        if krate != "oncofed-tls" {
            for lib in [
                "rustls",
                "tokio-rustls",
                "rcgen",
                "rustls-webpki",
                "rustls-pki-types",
            ] {
                assert!(
                    !deps.contains(lib),
                    "{krate} must configure TLS through oncofed-tls, not {lib}"
                );
            }
        }
    }
}

#[test]
fn the_research_store_does_not_pull_in_analyses() {
    let g = workspace_graph();
    let reach = reachable(&g, "oncofed-store");
    for heavy in [
        "oncofed-protocol",
        "oncofed-secagg",
        "oncofed-stats",
        "oncofed-analysis",
    ] {
        assert!(
            !reach.contains(heavy),
            "oncofed-store must not depend on {heavy}: it needs only the criteria language (oncofed-criteria)"
        );
    }
}

#[test]
fn model_is_the_bottom_layer() {
    let g = workspace_graph();
    assert!(
        reachable(&g, "oncofed-model").is_empty(),
        "oncofed-model must not depend on other workspace crates"
    );
}

#[test]
fn the_cli_does_not_reach_into_stores() {
    let g = workspace_graph();
    let direct = &g["oncofed"];
    for forbidden in ["oncofed-store", "rusqlite"] {
        assert!(
            !direct.contains(forbidden),
            "the CLI must not depend on {forbidden} directly; call the node or trustee crate"
        );
    }
}

#[test]
fn the_test_cluster_starter_and_the_peer_harness_are_dev_only() {
    // `oncofed-test-pg` runs initdb and pg_ctl, `oncofed-test-peers` starts
    // Orthanc and dcmtk: no shipped crate may depend on either.
    // The browser harness is itself dev-only (`publish = false`) and may use
    // the peer harness; no crate may depend on it outside its dev-dependencies.
    for (krate, deps) in workspace_graph() {
        assert!(
            !deps.contains("oncofed-browser"),
            "{krate} depends on the dev-only browser harness"
        );
        if krate == "oncofed-browser" {
            continue;
        }
        for dev_only in ["oncofed-test-pg", "oncofed-test-peers"] {
            assert!(!deps.contains(dev_only), "{krate} depends on {dev_only}");
        }
    }
}

#[test]
fn only_the_binary_depends_on_the_test_kit() {
    let g = workspace_graph();
    for (krate, deps) in &g {
        if krate != "oncofed" {
            assert!(
                !deps.contains("oncofed-testkit"),
                "{krate} must not depend on oncofed-testkit outside [dev-dependencies]: the kit starts throw-away federations for the demo, benches and tests"
            );
        }
    }
}

#[test]
fn label_validation_is_a_leaf_over_the_model() {
    // Expert validation (R14) is pure bookkeeping over CSV: sites, the hub
    // and the models call it, never the other way round.
    let g = workspace_graph();
    let reach = reachable(&g, "oncofed-validation");
    assert!(
        reach.iter().all(|c| c == "oncofed-model"),
        "oncofed-validation may depend on oncofed-model only, found {reach:?}"
    );
}
