//! `oncofed labels`: simulate experts over a ground truth, measure agreement,
//! list the queue, adjudicate it and write the validated set, as a lab would.

mod support;

use std::fmt::Write as _;
use support::{oncofed, run_ok};

const CLASSES: [&str; 8] = [
    "myeloblast",
    "promyelocyte",
    "myelocyte",
    "segmented-neutrophil",
    "lymphocyte",
    "monocyte",
    "eosinophil",
    "erythroblast",
];

/// A ground truth in `oncofed synth`'s layout: 400 cells over the eight
/// classes (blast-rich), of two smears.
fn truth_csv() -> String {
    let mut text = String::from("smear_id,cell_id,true_label,person_id,entity\n");
    for i in 0..400 {
        let class = CLASSES[if i % 3 == 0 { 0 } else { i % 8 }];
        let _ = writeln!(text, "s{},c{i:04},{class},p{},aml", i % 2, i % 2);
    }
    text
}

#[test]
fn labels_commands_take_annotations_to_a_validated_set() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    std::fs::write(p("truth.csv"), truth_csv()).unwrap();

    let sim = run_ok(&[
        "labels",
        "simulate",
        "--truth",
        &p("truth.csv"),
        "--experts",
        "dr-a:0.9,dr-b:0.85,dr-c:0.8",
        "--seed",
        "7",
        "--out",
        &p("ann.csv"),
        "--json",
    ]);
    assert_eq!(
        (sim["cells"].as_u64(), sim["annotations"].as_u64()),
        (Some(400), Some(1200))
    );
    let first = std::fs::read(p("ann.csv")).unwrap();
    run_ok(&[
        "labels",
        "simulate",
        "--truth",
        &p("truth.csv"),
        "--experts",
        "dr-a:0.9,dr-b:0.85,dr-c:0.8",
        "--seed",
        "7",
        "--out",
        &p("again.csv"),
        "--json",
    ]);
    assert_eq!(
        first,
        std::fs::read(p("again.csv")).unwrap(),
        "same seed, same file"
    );

    let agreement = run_ok(&[
        "labels",
        "agreement",
        "--annotations",
        &p("ann.csv"),
        "--json",
    ]);
    assert_eq!(agreement["pairs"].as_array().unwrap().len(), 3);
    let kappa = agreement["fleiss"]["kappa"].as_f64().unwrap();
    assert!(kappa > 0.4 && kappa < 0.9, "{kappa}");
    let text = oncofed()
        .args(["labels", "agreement", "--annotations", &p("ann.csv")])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("Cohen's kappa per pair") && text.contains("95% CI"),
        "{text}"
    );

    let queue = run_ok(&["labels", "queue", "--annotations", &p("ann.csv"), "--json"]);
    let queued = queue["queue"].as_array().unwrap();
    assert!(!queued.is_empty() && queued.len() < 400, "{}", queued.len());
    // Most disputed first.
    let shares: Vec<f64> = queued
        .iter()
        .map(|q| q["agreement"].as_f64().unwrap())
        .collect();
    assert!(shares.windows(2).all(|w| w[0] <= w[1]));

    // An adjudicator settles every queued cell with dr-a's label.
    let mut adj = String::from("cell_id,adjudicator,label,at,note\n");
    for q in queued {
        let label = q["labels"]["dr-a"].as_str().unwrap();
        let _ = writeln!(
            adj,
            "{},dr-z,{label},2026-12-05T10:00:00Z,\"reviewed, agreed\"",
            q["cell_id"].as_str().unwrap()
        );
    }
    std::fs::write(p("adj.csv"), &adj).unwrap();
    let done = run_ok(&[
        "labels",
        "validate",
        "--annotations",
        &p("ann.csv"),
        "--adjudications",
        &p("adj.csv"),
        "--out",
        &p("validated.csv"),
        "--json",
    ]);
    assert_eq!(done["summary"]["validated"], 400);
    assert_eq!(done["summary"]["queued"], 0);
    assert_eq!(
        done["summary"]["by_method"]["adjudicated"].as_u64(),
        Some(queued.len() as u64)
    );
    let validated = std::fs::read_to_string(p("validated.csv")).unwrap();
    assert!(validated.starts_with("cell_id,label,method,experts,agreement,adjudicator,at\n"));
    assert_eq!(validated.lines().count(), 401);
    assert!(
        validated.contains(",adjudicated,dr-a;dr-b;dr-c,"),
        "{validated}"
    );

    // Majority rule without adjudications: fewer cells queued.
    let majority = run_ok(&[
        "labels",
        "validate",
        "--annotations",
        &p("ann.csv"),
        "--rule",
        "majority",
        "--out",
        &p("majority.csv"),
        "--json",
    ]);
    assert!(majority["summary"]["queued"].as_u64().unwrap() < queued.len() as u64);
    assert!(
        majority["summary"]["by_method"]["majority"]
            .as_u64()
            .unwrap()
            > 0
    );

    // An annotator cannot adjudicate.
    let cell = queued[0]["cell_id"].as_str().unwrap();
    std::fs::write(
        p("bad.csv"),
        format!("cell_id,adjudicator,label,at,note\n{cell},dr-b,monocyte,2026-12-05T10:00:00Z,\n"),
    )
    .unwrap();
    let out = oncofed()
        .args([
            "labels",
            "validate",
            "--annotations",
            &p("ann.csv"),
            "--adjudications",
            &p("bad.csv"),
            "--out",
            &p("x.csv"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("adjudicator dr-b also labelled this cell"),
        "{err}"
    );

    // A broken annotations file names file, line and field.
    std::fs::write(
        p("broken.csv"),
        "cell_id,expert,label,at\nc1,dr-a,blastoid,2026-12-05T10:00:00Z\n",
    )
    .unwrap();
    let out = oncofed()
        .args(["labels", "agreement", "--annotations", &p("broken.csv")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.csv, line 2, field label"), "{err}");
}

#[test]
fn labels_help_explains_the_policy() {
    let out = oncofed()
        .args(["labels", "validate", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("--min-experts") && help.contains("majority"),
        "{help}"
    );
    assert!(help.contains("must not have labelled the cell"), "{help}");
}
