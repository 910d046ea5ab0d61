//! Side by side with the Python peers: scikit-learn's `cohen_kappa_score` and
//! `confusion_matrix`, statsmodels' `cohens_kappa` (with its standard error
//! and 95 % CI) and `fleiss_kappa`, on simulated annotations of 600 cells by
//! three experts (one of whom skipped every tenth cell, so that Fleiss' κ has
//! cells to leave out). Every figure agrees to 1e-9.
//!
//! The peer Python is `ONCOFED_PYTHON` or the workspace's `.venv`
//! (`scripts/setup-peers`; scikit-learn and statsmodels from
//! `scripts/peers/requirements.txt`). Without it the test skips with a printed
//! reason, unless `ONCOFED_REQUIRE_PEERS` is set, where it fails.

mod support;

use oncofed_validation::{AnnotationSet, SimulatedExpert, agreement, csv_io, simulate_annotations};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The peer Python if it has scikit-learn and statsmodels.
fn peer_python() -> Option<PathBuf> {
    let python = oncofed_test_peers::python();
    let ok = Command::new(&python)
        .args(["-c", "import sklearn, statsmodels"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    let why = format!(
        "{} with scikit-learn and statsmodels is missing; run scripts/setup-peers",
        python.display()
    );
    assert!(
        !oncofed_test_peers::peers_required(),
        "ONCOFED_REQUIRE_PEERS is set: {why}"
    );
    println!("skipped: {why}");
    None
}

fn close(ours: f64, theirs: &serde_json::Value, what: &str) {
    let theirs = theirs
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: no number"));
    assert!(
        (ours - theirs).abs() < 1e-9,
        "{what}: ours {ours}, peer {theirs}"
    );
}

#[test]
fn kappas_agree_with_scikit_learn_and_statsmodels() {
    let Some(python) = peer_python() else {
        return;
    };
    let truth = support::truth(600, 21);
    let experts = SimulatedExpert::parse_list("dr-a:0.92,dr-b:0.85,dr-c:0.75", 2026).unwrap();
    let mut annotations = simulate_annotations(&experts, &truth, support::start());
    let skipped: Vec<String> = truth
        .iter()
        .step_by(10)
        .map(|c| c.cell_id.clone())
        .collect();
    annotations.retain(|a| !(a.expert == "dr-c" && skipped.contains(&a.cell_id)));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("annotations.csv");
    csv_io::write_annotations_file(&path, &annotations).unwrap();

    let set = AnnotationSet::new(csv_io::read_annotations_file(&path).unwrap()).unwrap();
    let ours = agreement(&set);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/kappa_peer.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kappa_peer.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let pairs = peer["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 3);
    for (mine, theirs) in ours.pairs.iter().zip(pairs) {
        let what = format!("{} × {}", mine.expert_a, mine.expert_b);
        assert_eq!(theirs["a"], mine.expert_a.as_str());
        assert_eq!(theirs["b"], mine.expert_b.as_str());
        assert_eq!(theirs["n"], mine.cells, "{what}");
        let k = mine.cohen.as_ref().unwrap();
        let kappa = k.kappa.unwrap();
        close(
            kappa,
            &theirs["sklearn_kappa"],
            &format!("{what} sklearn kappa"),
        );
        close(
            kappa,
            &theirs["kappa"],
            &format!("{what} statsmodels kappa"),
        );
        close(
            k.std_error.unwrap(),
            &theirs["std_kappa"],
            &format!("{what} SE"),
        );
        let [lo, hi] = k.ci95.unwrap();
        close(lo, &theirs["ci"][0], &format!("{what} CI low"));
        close(hi, &theirs["ci"][1], &format!("{what} CI high"));
        let codes: Vec<&str> = mine.confusion.classes.iter().map(|c| c.code()).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        // The peer orders classes by code; ours by CellClass: compare by name.
        let peer_codes: Vec<&str> = theirs["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(peer_codes, sorted, "{what}");
        for (i, a) in codes.iter().enumerate() {
            for (j, b) in codes.iter().enumerate() {
                let pi = peer_codes.iter().position(|c| c == a).unwrap();
                let pj = peer_codes.iter().position(|c| c == b).unwrap();
                assert_eq!(
                    theirs["confusion"][pi][pj], mine.confusion.counts[i][j],
                    "{what} confusion {a} × {b}"
                );
            }
        }
        println!(
            "{what}: n {} kappa {kappa:.6} SE {:.6} (sklearn {}, statsmodels {})",
            k.n,
            k.std_error.unwrap(),
            theirs["sklearn_kappa"],
            theirs["kappa"]
        );
    }

    let fleiss = ours.fleiss.as_ref().unwrap();
    assert_eq!(fleiss.experts_per_cell, 3);
    assert_eq!(fleiss.cells, 540);
    assert_eq!(fleiss.cells_excluded, 60);
    assert_eq!(peer["fleiss"]["m"], 3);
    assert_eq!(peer["fleiss"]["cells"], 540);
    close(
        fleiss.kappa.unwrap(),
        &peer["fleiss"]["kappa"],
        "Fleiss kappa",
    );
    let per_class = peer["fleiss"]["per_class"].as_object().unwrap();
    assert_eq!(per_class.len(), fleiss.per_class.len());
    for c in &fleiss.per_class {
        close(
            c.kappa.unwrap(),
            &per_class[c.class.code()],
            &format!("Fleiss kappa_j of {}", c.class),
        );
    }
    println!(
        "Fleiss kappa over {} cells: {:.6} (statsmodels {})",
        fleiss.cells,
        fleiss.kappa.unwrap(),
        peer["fleiss"]["kappa"]
    );
}
