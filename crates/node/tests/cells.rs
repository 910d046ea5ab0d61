//! Cell images at the site end to end (issue 15, item 1): real whole-field
//! blood images (BCCD, boxes from their Pascal VOC files) and microscopy
//! images ingest through the trust centre; metadata never reaches the archive;
//! smear facts answer the `cytology` criterion and follow label changes; the
//! consent gate hides a person's cells from training; a batch with an
//! undecodable file lands nothing; a withdrawal deletes the cell objects.

mod support;

use oncofed_criteria::Criteria;
use oncofed_model::{CellClass, Pseudonym};
use oncofed_node::ConsentGate;
use oncofed_node::cells::{self, CellSetup, Prediction, pixels};
use oncofed_node::imaging::ObjectArchive;
use oncofed_node::withdrawal::WithdrawalPoller;
use oncofed_store::{CellLabelRow, LabelRole};
use oncofed_trustee_api::TrusteeClient;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::dicom::walk;
use support::{Node, Served, write_bundle};

const TOKEN: &str = "token-of-site-1-0123456789abcdef";
const ADMIN: &str = "admin-token-0123456789abcdef-cells";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

async fn start_trustee(dir: &Path) -> Served {
    support::trustee_for_site_1(dir, TOKEN, ADMIN).await
}

/// Frieda (p-1) with an MII broad consent (MDAT covers pathology); Greta (p-2)
/// objected to research use under the GDNG opt-out: the gate denies her data.
fn fhir() -> Vec<Value> {
    let mii = |arc: u16, end: &str| {
        json!({"type": "permit", "period": {"start": "2020-01-01", "end": end},
               "code": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3",
                                     "code": format!("2.16.840.1.113883.3.1937.777.24.5.3.{arc}")}]}]})
    };
    let consent = json!({"resourceType": "Consent", "id": "bc-1", "status": "active", "dateTime": "2020-01-01",
        "patient": {"reference": "urn:uuid:p-1"},
        "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2079"}],
        "provision": {"type": "deny", "period": {"start": "2020-01-01", "end": "2049-12-31"},
            "provision": [mii(6, "2049-12-31"), mii(7, "2049-12-31"), mii(8, "2049-12-31")]}});
    let patient = |id: &str, given: &str, birth: &str| {
        json!({"fullUrl": format!("urn:uuid:{id}"),
               "resource": {"resourceType": "Patient", "id": id, "gender": "female", "birthDate": birth,
                            "name": [{"use": "official", "family": "Beispiel", "given": [given]}]},
               "request": {"method": "PUT", "url": format!("Patient/{id}")}})
    };
    vec![
        patient("p-1", "Frieda", "1960-04-04"),
        patient("p-2", "Greta", "1972-08-19"),
        json!({"fullUrl": "urn:uuid:bc-1", "resource": consent,
               "request": {"method": "PUT", "url": "Consent/bc-1"}}),
        json!({"fullUrl": "urn:uuid:obj-2",
               "resource": {"resourceType": "Consent", "id": "obj-2", "status": "active", "dateTime": "2023-01-01",
                            "patient": {"reference": "urn:uuid:p-2"},
                            "provision": {"type": "deny", "code": [{"coding": [
                                {"system": "urn:oncofed:consent-policy", "code": "gdng-objection"}]}]}},
               "request": {"method": "PUT", "url": "Consent/obj-2"}}),
    ]
}

const SMEARS_HEADER: &str = "smear_id,patient_id,family,given,birth_date,sex,specimen,stain,scanner,magnification,collected\n";

/// The boxes of a Pascal VOC file: (class, x, y, width, height). Parsed
/// minimally: `<name>` and `<bndbox>` of each `<object>`.
fn voc_boxes(xml: &str) -> Vec<(CellClass, u32, u32, u32, u32)> {
    let tag = |s: &str, t: &str| -> Option<String> {
        let start = s.find(&format!("<{t}>"))? + t.len() + 2;
        let end = s[start..].find(&format!("</{t}>"))? + start;
        Some(s[start..end].trim().to_owned())
    };
    xml.split("<object>")
        .skip(1)
        .filter_map(|o| {
            let class = match tag(o, "name")?.as_str() {
                "WBC" => CellClass::Leukocyte,
                "RBC" => CellClass::Erythrocyte,
                "Platelets" => CellClass::Platelet,
                _ => CellClass::Other,
            };
            let n = |t| tag(o, t)?.parse::<u32>().ok();
            let (x0, y0, x1, y1) = (n("xmin")?, n("ymin")?, n("xmax")?, n("ymax")?);
            // VOC boxes are 1-based and inclusive; some BCCD boxes reach the edge.
            let (x, y) = (x0.saturating_sub(1), y0.saturating_sub(1));
            (x1 > x && y1 > y).then(|| (class, x, y, x1.min(640) - x, y1.min(480) - y))
        })
        .collect()
}

/// A PNG whose tEXt chunk names Frieda.
fn png_with_name(path: &Path) {
    let rgb = image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 8) as u8, 160])
    });
    let clean = pixels::encode(&rgb).unwrap();
    let data = b"Author\0Frieda Beispiel 1960-04-04".to_vec();
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(b"tEXt");
    chunk.extend_from_slice(&data);
    let mut c = 0xffff_ffffu32;
    for &b in b"tEXt".iter().chain(&data) {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    chunk.extend_from_slice(&(!c).to_be_bytes());
    std::fs::write(path, [&clean[..33], &chunk, &clean[33..]].concat()).unwrap();
}

/// A batch: s-1 (Frieda, blood, three BCCD fields cut into cells), s-2 (Greta,
/// blood, the other BCCD fields), s-3 (Frieda, bone marrow: two microscopy
/// images labelled myeloblast and lymphocyte, and an unlabelled PNG with her
/// name in a text chunk). Returns the number of cells.
fn batch(dir: &Path) -> usize {
    let bccd = data().join("bccd-blood-cells");
    let mut jpgs: Vec<PathBuf> = std::fs::read_dir(&bccd)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    jpgs.sort();
    assert!(jpgs.len() >= 4, "BCCD images in {}", bccd.display());
    let mut cells = String::from("smear_id,cell_id,file,label,x,y,width,height\n");
    let mut n = 0;
    for (i, jpg) in jpgs.iter().enumerate() {
        let name = jpg.file_name().unwrap();
        std::os::unix::fs::symlink(jpg, dir.join(name)).unwrap();
        let smear = if i < 3 { "S-1" } else { "S-2" };
        let xml = std::fs::read_to_string(jpg.with_extension("xml")).unwrap();
        for (j, (class, x, y, w, h)) in voc_boxes(&xml).into_iter().enumerate() {
            let name = name.to_str().unwrap();
            cells.push_str(&format!(
                "{smear},{name}#{j},{name},{class},{x},{y},{w},{h}\n"
            ));
            n += 1;
        }
    }
    let micro = data().join("images-microscopy");
    for (file, label) in [
        ("skimage-ihc.png", "myeloblast"),
        ("cbc-blood-smear-test.jpg", "lymphocyte"),
    ] {
        std::os::unix::fs::symlink(micro.join(file), dir.join(file)).unwrap();
        cells.push_str(&format!("S-3,{file},{file},{label},,,,\n"));
        n += 1;
    }
    png_with_name(&dir.join("named.png"));
    cells.push_str("S-3,named,named.png,,,,,\n");
    n += 1;
    std::fs::write(dir.join("cells.csv"), cells).unwrap();
    std::fs::write(
        dir.join("smears.csv"),
        format!(
            "{SMEARS_HEADER}S-1,p-1,Beispiel,Frieda,1960-04-04,female,peripheral-blood,May-Grünwald-Giemsa,\"Olympus BX43, camera\",100x,2024-03-01\n\
             S-2,p-2,Beispiel,Greta,1972-08-19,female,peripheral-blood,May-Grünwald-Giemsa,Metafer 4,100x,2024-04-01\n\
             S-3,p-1,Beispiel,Frieda,1960-04-04,female,bone-marrow,May-Grünwald-Giemsa,Metafer 4,100x,2024-03-02\n"
        ),
    )
    .unwrap();
    n
}

async fn count(node: &Node, json: &str) -> Vec<Pseudonym> {
    let criteria: Criteria = serde_json::from_str(json).unwrap();
    criteria.validate().unwrap();
    let store = node.store.clone();
    tokio::task::spawn_blocking(move || store.lock().unwrap().feasibility(&criteria))
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|(site, _)| site)
        .collect()
}

#[tokio::test]
async fn real_cell_images_ingest_count_follow_labels_and_respect_consent() {
    let tmp = tempfile::tempdir().unwrap();
    let trustee = start_trustee(tmp.path()).await;
    let client = TrusteeClient::new(&trustee.url, TOKEN).unwrap();
    let node = Node::new();
    let bundle = tmp.path().join("site.json");
    write_bundle(&bundle, fhir());
    node.ingest_clean(&client, &[bundle]).await;
    let dir = tmp.path().join("batch");
    std::fs::create_dir(&dir).unwrap();
    let expected_cells = batch(&dir);
    assert!(cells::is_cell_batch(&dir));

    let archive = ObjectArchive::local(&node.dir.path().join("images")).unwrap();
    let setup = CellSetup::new(archive.clone(), [5; 32]);
    let report = cells::ingest_cells(&node.store, &client, &setup, &dir)
        .await
        .unwrap();
    assert_eq!(
        (report.smears, report.cells, report.patients),
        (3, expected_cells, 2)
    );
    assert_eq!(
        report.patients_new, 0,
        "both persons came with their FHIR data"
    );
    assert_eq!(report.cropped, expected_cells - 3);
    assert_eq!(report.per_class.get("myeloblast"), Some(&1));
    assert!(
        report.per_class.get("erythrocyte").is_some_and(|n| *n > 10),
        "{report:?}"
    );

    // The archive holds bare PNGs: no text chunk, no name, no lab id.
    let objects = walk(&node.dir.path().join("images").join("cells"));
    assert!(!objects.is_empty() && objects.len() <= expected_cells);
    for f in &objects {
        let bytes = std::fs::read(f).unwrap();
        assert_eq!(
            pixels::png_chunks(&bytes).unwrap(),
            ["IHDR", "IDAT", "IEND"],
            "{f:?}"
        );
        for secret in ["Frieda", "Beispiel", "1960-04-04", "BloodImage"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in {f:?}"
            );
        }
    }
    // The store keys smears and cells by keyed digests, never the lab's ids.
    let store = node.store.clone();
    let listing = tokio::task::spawn_blocking(move || store.lock().unwrap().cell_listing())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(listing.len(), expected_cells);
    assert!(
        listing
            .iter()
            .all(|l| !l.cell.cell_key.contains("BloodImage") && l.smear.smear_key != "S-1")
    );
    let s1 = setup.keys.smear("S-1");
    assert!(listing.iter().any(|l| l.smear.smear_key == s1));

    // Feasibility over the smear facts.
    let frieda = client.resolve(vec!["p-1".into()]).await.unwrap()[0]
        .clone()
        .unwrap()
        .site;
    let greta = client.resolve(vec!["p-2".into()]).await.unwrap()[0]
        .clone()
        .unwrap()
        .site;
    let mut both = vec![frieda.clone(), greta.clone()];
    both.sort();
    assert_eq!(
        count(&node, r#"{"cytology": {"specimen": "peripheral-blood"}}"#).await,
        both
    );
    assert_eq!(
        count(&node, r#"{"cytology": {"specimen": "bone-marrow"}}"#).await,
        vec![frieda.clone()]
    );
    assert_eq!(
        count(&node, r#"{"cytology": {"class": "leukocyte"}}"#).await,
        both
    );
    // S-3: one myeloblast of two classified nucleated cells.
    assert_eq!(
        count(
            &node,
            r#"{"cytology": {"blast_percent_min": 50, "blast_percent_max": 50}}"#
        )
        .await,
        vec![frieda.clone()]
    );
    assert!(
        count(&node, r#"{"cytology": {"blast_percent_min": 60}}"#)
            .await
            .is_empty()
    );
    assert!(
        count(
            &node,
            r#"{"cytology": {"specimen": "peripheral-blood", "blast_percent_min": 1}}"#
        )
        .await
        .is_empty()
    );

    // A model labels the unlabelled cell a myeloblast: S-3 recounts to 2 of 3.
    let named = setup.keys.cell("named");
    cells::write_predictions(
        &node.store,
        "model-7",
        Some("v1"),
        &[Prediction {
            cell_key: named,
            class: CellClass::Myeloblast,
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        count(&node, r#"{"cytology": {"blast_percent_min": 60}}"#).await,
        vec![frieda.clone()]
    );
    // A validated label beats the lab's: one of S-1's red cells is a myeloblast.
    let red = listing
        .iter()
        .find(|l| l.smear.smear_key == s1 && l.cell.lab_label == Some(CellClass::Erythrocyte))
        .unwrap()
        .cell
        .cell_key
        .clone();
    let validated = CellLabelRow {
        cell_key: red.clone(),
        expert: "consensus".into(),
        label: CellClass::Myeloblast,
        role: LabelRole::Validated,
        method: Some("adjudicated".into()),
        at: chrono::Utc::now(),
    };
    cells::write_labels(&node.store, vec![validated])
        .await
        .unwrap();
    assert_eq!(
        count(
            &node,
            r#"{"cytology": {"specimen": "peripheral-blood", "blast_percent_min": 1}}"#
        )
        .await,
        vec![frieda.clone()]
    );

    // Training reads only consented cells (Greta has no consent), resized, with validated labels.
    let gate = ConsentGate::new(client.clone(), Duration::from_secs(60));
    let samples = cells::training_cells(&node.store, &archive, &gate, 24)
        .await
        .unwrap();
    let frieda_cells = listing
        .iter()
        .filter(|l| l.smear.pseudonym == frieda)
        .count();
    assert_eq!(samples.len(), frieda_cells);
    assert!(
        samples
            .iter()
            .all(|s| s.pseudonym == frieda && s.pixels.len() == 24 * 24 * 3)
    );
    let labelled: Vec<_> = samples.iter().filter(|s| s.label.is_some()).collect();
    assert_eq!(labelled.len(), 1);
    assert_eq!(
        (labelled[0].cell_key.as_str(), labelled[0].label),
        (red.as_str(), Some(CellClass::Myeloblast))
    );

    // The same batch again: the same keys and objects, nothing new.
    let again = cells::ingest_cells(&node.store, &client, &setup, &dir)
        .await
        .unwrap();
    assert_eq!(again.cells, expected_cells);
    assert_eq!(
        walk(&node.dir.path().join("images").join("cells")).len(),
        objects.len()
    );
    let quality = oncofed_node::quality::report(&node.store).await.unwrap();
    assert_eq!(
        (quality.cells.smears, quality.cells.cells),
        (3, expected_cells as u64)
    );
    assert_eq!(
        quality.cells.cells_per_smear.values().sum::<u64>(),
        expected_cells as u64
    );

    // Withdrawal of Frieda: her cell objects and rows go, Greta's stay.
    let greta_objects: Vec<String> = listing
        .iter()
        .filter(|l| l.smear.pseudonym == greta)
        .map(|l| l.cell.object_key.clone())
        .collect();
    let frieda_objects: Vec<String> = listing
        .iter()
        .filter(|l| l.smear.pseudonym == frieda)
        .map(|l| l.cell.object_key.clone())
        .collect();
    let staff = TrusteeClient::new(&trustee.url, ADMIN).unwrap();
    let withdrawal = json!({"resourceType": "Consent", "id": "withdrawal-1", "status": "active", "dateTime": "2026-01-15",
        "provision": {"type": "deny", "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "withdrawal"}]}]}});
    staff
        .record_consent_as_staff(&frieda, withdrawal)
        .await
        .unwrap();
    let poller = WithdrawalPoller::new(client.clone(), node.store.clone(), Arc::new(gate))
        .with_archive(archive.clone());
    let deadline = Instant::now() + Duration::from_secs(15);
    while poller.run_once().await.unwrap() == 0 {
        assert!(Instant::now() < deadline, "no deletion order arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for key in &frieda_objects {
        assert!(
            !archive.contains(key).await.unwrap(),
            "{key} left after withdrawal"
        );
    }
    for key in &greta_objects {
        assert!(archive.contains(key).await.unwrap());
    }
    let store = node.store.clone();
    let (frieda_smears, left) = tokio::task::spawn_blocking(move || {
        let s = store.lock().unwrap();
        (
            s.smears_of(&[frieda]).unwrap().len(),
            s.cell_stats().unwrap().cells,
        )
    })
    .await
    .unwrap();
    assert_eq!((frieda_smears, left as usize), (0, greta_objects.len()));
}

#[tokio::test]
async fn a_batch_with_an_undecodable_file_lands_nothing_and_names_file_and_row() {
    let tmp = tempfile::tempdir().unwrap();
    let trustee = start_trustee(tmp.path()).await;
    let client = TrusteeClient::new(&trustee.url, TOKEN).unwrap();
    let node = Node::new();
    let dir = tmp.path().join("batch");
    std::fs::create_dir(&dir).unwrap();
    let micro = data().join("images-microscopy");
    std::os::unix::fs::symlink(micro.join("skimage-ihc.png"), dir.join("good.png")).unwrap();
    std::fs::write(
        dir.join("broken.png"),
        b"\x89PNG\r\n\x1a\nthis is not a PNG",
    )
    .unwrap();
    std::fs::write(
        dir.join("smears.csv"),
        format!("{SMEARS_HEADER}S-1,p-9,Beispiel,Hanna,1950-01-01,female,bone-marrow,MGG,Metafer 4,100x,2024-01-01\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("cells.csv"),
        "smear_id,cell_id,file,label\nS-1,c-1,good.png,myeloblast\nS-1,c-2,broken.png,\n",
    )
    .unwrap();
    let setup = CellSetup::new(
        ObjectArchive::local(&node.dir.path().join("images")).unwrap(),
        [5; 32],
    );
    let err = cells::ingest_cells(&node.store, &client, &setup, &dir)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cells.csv row 3") && err.contains("broken.png") && err.contains("file"),
        "{err}"
    );
    assert!(!err.contains("Hanna") && !err.contains("Beispiel"), "{err}");
    let quality = oncofed_node::quality::report(&node.store).await.unwrap();
    assert_eq!(
        (quality.patients, quality.cells.smears, quality.cells.cells),
        (0, 0, 0)
    );
    assert_eq!(quality.cells.undecodable_files, 1);
    assert!(
        walk(&node.dir.path().join("images")).is_empty(),
        "nothing archived"
    );
    // The trust centre never saw the person.
    assert!(client.resolve(vec!["p-9".into()]).await.unwrap()[0].is_none());

    // A crop box outside the image fails the same way, naming its row.
    std::fs::write(
        dir.join("cells.csv"),
        "smear_id,cell_id,file,label,x,y,width,height\nS-1,c-1,good.png,,500,500,20,20\n",
    )
    .unwrap();
    let err = cells::ingest_cells(&node.store, &client, &setup, &dir)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cells.csv row 2") && err.contains("crop box"),
        "{err}"
    );
}

/// A lab batch with a smear of a patient who withdrew (issue 18, the tombstone):
/// the trust centre refuses that person, the node leaves their smear and cells
/// out and lands the rest of the batch; the report counts the person.
#[tokio::test]
async fn a_withdrawn_patients_smear_is_left_out_and_the_rest_lands() {
    let tmp = tempfile::tempdir().unwrap();
    let trustee = start_trustee(tmp.path()).await;
    let client = TrusteeClient::new(&trustee.url, TOKEN).unwrap();
    let node = Node::new();
    let bundle = tmp.path().join("site.json");
    write_bundle(&bundle, fhir());
    node.ingest_clean(&client, &[bundle]).await;

    // Greta (p-2) withdraws; the site's next poll lets the trust centre sweep.
    let greta = client.resolve(vec!["p-2".into()]).await.unwrap()[0]
        .clone()
        .unwrap();
    let staff = TrusteeClient::new(&trustee.url, ADMIN).unwrap();
    let withdrawal = json!({"resourceType": "Consent", "id": "w-2", "status": "active",
        "dateTime": "2026-03-01", "provision": {"type": "deny", "code": [{"coding": [
            {"system": "urn:oncofed:consent-policy", "code": "withdrawal"}]}]}});
    staff
        .record_consent_as_staff(&greta.site, withdrawal)
        .await
        .unwrap();
    assert_eq!(client.deletion_orders().await.unwrap().len(), 1);

    let dir = tmp.path().join("batch");
    std::fs::create_dir(&dir).unwrap();
    let micro = data().join("images-microscopy");
    for file in ["skimage-ihc.png", "cbc-blood-smear-test.jpg"] {
        std::os::unix::fs::symlink(micro.join(file), dir.join(file)).unwrap();
    }
    std::fs::write(
        dir.join("smears.csv"),
        format!(
            "{SMEARS_HEADER}S-1,p-1,Beispiel,Frieda,1960-04-04,female,bone-marrow,MGG,Metafer 4,100x,2024-03-02\n\
             S-2,p-2,Beispiel,Greta,1972-08-19,female,peripheral-blood,MGG,Metafer 4,100x,2024-04-01\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("cells.csv"),
        "smear_id,cell_id,file,label\nS-1,c-1,skimage-ihc.png,myeloblast\nS-2,c-2,cbc-blood-smear-test.jpg,lymphocyte\n",
    )
    .unwrap();
    let setup = CellSetup::new(
        ObjectArchive::local(&node.dir.path().join("images")).unwrap(),
        [5; 32],
    );
    let report = cells::ingest_cells(&node.store, &client, &setup, &dir)
        .await
        .unwrap();
    assert_eq!(
        (
            report.smears,
            report.cells,
            report.patients,
            report.withdrawn
        ),
        (1, 1, 1, 1),
        "{report:?}"
    );
    assert_eq!(report.per_class.get("lymphocyte"), None, "{report:?}");
}
