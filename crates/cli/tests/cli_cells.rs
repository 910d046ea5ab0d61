//! Cell-image batches through the `oncofed` binary (issue 15, item 1): `node
//! ingest --cells DIR` takes a lab's batch (a whole-field BCCD image cut by its
//! boxes, two microscopy images), a folder holding `smears.csv` and
//! `cells.csv` among the paths is taken as a batch too, a batch with an
//! undecodable file is rejected with its row, and `node quality` counts the
//! cells. Every `--json` output is parsed.

mod support;

use std::path::Path;
use support::{oncofed, run_ok};

fn data() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

const SMEARS: &str = "smear_id,patient_id,family,given,birth_date,sex,specimen,stain,scanner,magnification,collected\n\
    S-1,p-1,Beispiel,Frieda,1960-04-04,female,peripheral-blood,May-Grünwald-Giemsa,Metafer 4,100x,2024-03-01\n\
    S-2,p-2,Beispiel,Greta,1972-08-19,female,bone-marrow,May-Grünwald-Giemsa,Metafer 4,100x,2024-03-02\n";

fn batch(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let bccd = data().join("bccd-blood-cells/BloodImage_00000.jpg");
    std::os::unix::fs::symlink(&bccd, dir.join("field.jpg")).unwrap();
    let micro = data().join("images-microscopy");
    for f in ["skimage-ihc.png", "cbc-blood-smear-test.jpg"] {
        std::os::unix::fs::symlink(micro.join(f), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("smears.csv"), SMEARS).unwrap();
    // The first two boxes of BloodImage_00000.xml (a WBC and an RBC).
    std::fs::write(
        dir.join("cells.csv"),
        "smear_id,cell_id,file,label,x,y,width,height\n\
         S-1,c-1,field.jpg,leukocyte,259,176,232,200\n\
         S-1,c-2,field.jpg,erythrocyte,77,335,107,100\n\
         S-2,c-3,skimage-ihc.png,myeloblast,,,,\n\
         S-2,c-4,cbc-blood-smear-test.jpg,,,,,\n",
    )
    .unwrap();
}

#[test]
fn cell_batches_ingest_by_flag_or_folder_and_bad_ones_name_their_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    let (_served, url) = support::site_1_trust_centre(dir.path());
    batch(&dir.path().join("batch"));
    let node = |extra: &[&str]| {
        let (data_dir, token) = (d("n1"), d("site-1.token"));
        let mut args = vec!["node", "ingest", "--data-dir", &data_dir, "--trustee", &url];
        args.extend(["--token-file", token.as_str(), "--json"]);
        args.extend(extra);
        oncofed().args(&args).output().unwrap()
    };

    let batch_dir = d("batch");
    let out = node(&["--cells", &batch_dir]);
    assert!(out.status.success(), "{}", support::text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cells = &report["cells"][0];
    assert_eq!(
        (cells["smears"].as_u64(), cells["cells"].as_u64()),
        (Some(2), Some(4)),
        "{report}"
    );
    assert_eq!(cells["cropped"], 2);
    assert_eq!(
        cells["per_class"],
        serde_json::json!({"erythrocyte": 1, "leukocyte": 1, "myeloblast": 1, "unlabelled": 1})
    );
    assert_eq!(cells["patients_new"], 2);

    // The folder among the paths is recognised as a batch; the same batch again changes nothing.
    let out = node(&[&batch_dir]);
    assert!(out.status.success(), "{}", support::text(&out));
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["cells"][0]["cells"], 4);
    assert_eq!(again["cells"][0]["patients_new"], 0);
    let quality = run_ok(&["node", "quality", "--data-dir", &d("n1"), "--json"]);
    assert_eq!(
        (
            quality["cells"]["smears"].as_u64(),
            quality["cells"]["cells"].as_u64()
        ),
        (Some(2), Some(4))
    );

    // An undecodable file: rejected with its row, exit code 2, nothing more stored.
    std::fs::write(dir.path().join("batch/broken.png"), b"not a png").unwrap();
    let mut csv = std::fs::read_to_string(dir.path().join("batch/cells.csv")).unwrap();
    csv.push_str("S-2,c-5,broken.png,,,,,\n");
    std::fs::write(dir.path().join("batch/cells.csv"), csv).unwrap();
    let out = node(&["--cells", &batch_dir]);
    assert_eq!(out.status.code(), Some(2), "{}", support::text(&out));
    let failed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = failed["errors"][0].as_str().unwrap();
    assert!(
        error.contains("cells.csv row 6") && error.contains("broken.png"),
        "{error}"
    );
    assert!(
        !error.contains("Frieda") && !error.contains("Greta"),
        "{error}"
    );
    let quality = run_ok(&["node", "quality", "--data-dir", &d("n1"), "--json"]);
    assert_eq!(quality["cells"]["cells"], 4);
    assert_eq!(quality["cells"]["undecodable_files"], 1);
}

/// A released cell classifier as `oncofed analyze train-cells --save-model`
/// writes it (untrained parameters: only the path through the site counts here).
fn model_file(path: &Path) -> oncofed_learn::ModelRecord {
    use oncofed_analysis::driver::cells::{CellClassifierResult, CellTotals};
    use oncofed_learn::{EvalAccumulator, Evaluation, ModelRecord, ModelSpec};
    let spec = ModelSpec::differential();
    let params = spec.initial_params(3);
    let mut acc = EvalAccumulator::new(8, 10);
    acc.add(0, &[0.9, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        .unwrap();
    let pooled = Evaluation::from_counts(&spec.classes, 10, &acc.into_vector()).unwrap();
    let record = ModelRecord::new(
        "cli-test",
        spec,
        &params,
        "FedAvg",
        vec![],
        vec![],
        "test",
        vec![],
        None,
    );
    let run: oncofed_analysis::result::RunInfo = serde_json::from_value(serde_json::json!({
        "sites": 3, "rows": 30, "events": 0, "rounds": 4
    }))
    .unwrap();
    let result = oncofed_analysis::AnalysisResult::CellClassifier(Box::new(CellClassifierResult {
        run,
        cells: CellTotals {
            persons: 30,
            training: 100,
            validation: 10,
            test: 20,
        },
        model: record.clone(),
        params,
        history: vec![],
        best_round: 0,
        stopped_early: false,
        round_seconds: vec![],
        pooled,
        sites: vec![],
    }));
    std::fs::write(path, serde_json::to_vec(&result).unwrap()).unwrap();
    record
}

#[test]
fn validated_labels_import_and_a_released_model_classifies_the_sites_cells() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    let (_served, url) = support::site_1_trust_centre(dir.path());
    batch(&dir.path().join("batch"));
    let (data_dir, token) = (d("n1"), d("site-1.token"));
    run_ok(&[
        "node",
        "ingest",
        "--data-dir",
        &data_dir,
        "--trustee",
        &url,
        "--token-file",
        &token,
        "--cells",
        &d("batch"),
        "--json",
    ]);
    // The panel's validated set, with the lab's cell ids as in cells.csv.
    let header = "cell_id,label,method,experts,agreement,adjudicator,at\n";
    std::fs::write(
        d("validated.csv"),
        format!(
            "{header}c-3,myeloblast,consensus,dr-a;dr-b,1,,2024-03-05T10:00:00Z\n\
             c-4,lymphocyte,adjudicated,dr-a;dr-b,0.5,dr-c,2024-03-05T10:00:00Z\n"
        ),
    )
    .unwrap();
    let imported = run_ok(&[
        "node",
        "import-labels",
        "--data-dir",
        &data_dir,
        "--validated",
        &d("validated.csv"),
        "--json",
    ]);
    assert_eq!(imported["labels"], 2, "{imported}");
    assert!(imported["facts"].as_u64().unwrap() > 0, "{imported}");
    // A set naming a cell this site lacks lands nothing and names the row.
    std::fs::write(
        d("foreign.csv"),
        format!(
            "{header}c-3,myeloblast,consensus,dr-a;dr-b,1,,2024-03-05T10:00:00Z\n\
             c-99,monocyte,consensus,dr-a;dr-b,1,,2024-03-05T10:00:00Z\n"
        ),
    )
    .unwrap();
    let out = oncofed()
        .args([
            "node",
            "import-labels",
            "--data-dir",
            &data_dir,
            "--validated",
            &d("foreign.csv"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = support::text(&out);
    assert!(text.contains("row 2") && !text.contains("c-99"), "{text}");

    // A released model runs on every consented cell of the site.
    let record = model_file(&dir.path().join("model.json"));
    let classify = |model: &str| {
        oncofed()
            .args([
                "node",
                "classify-cells",
                "--data-dir",
                &data_dir,
                "--trustee",
                &url,
            ])
            .args(["--token-file", &token, "--model", model, "--json"])
            .output()
            .unwrap()
    };
    let out = classify(&d("model.json"));
    assert!(out.status.success(), "{}", support::text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["labels"], 4, "{report}");
    // Parameters that do not match the record's hash are refused.
    let mut tampered: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d("model.json")).unwrap()).unwrap();
    tampered["params"][0] = serde_json::json!(0.5);
    std::fs::write(d("tampered.json"), serde_json::to_vec(&tampered).unwrap()).unwrap();
    let out = classify(&d("tampered.json"));
    assert!(!out.status.success());
    assert!(
        support::text(&out).contains("do not match the registry record's hash"),
        "{}",
        support::text(&out)
    );
    assert_eq!(record.name, "cli-test");
}
