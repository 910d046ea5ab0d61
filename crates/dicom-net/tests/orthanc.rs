//! Orthanc, a PACS, as the peer in both directions: it sends an instance
//! into our SCP (REST `POST /modalities/{name}/store`) and receives a
//! C-STORE from our SCU (checked through REST `/instances`).

mod support;

use oncofed_dicom_net::{Destination, Outcome, StoreScu};
use oncofed_test_peers::Orthanc;
use std::sync::Arc;
use support::{Collect, differences, scp_config, start};

#[test]
fn orthanc_sends_into_our_scp() {
    let sink = Arc::new(Collect::default());
    let scp = start(scp_config(&["ORTHANC"]), sink.clone());
    let Some(orthanc) = Orthanc::builder()
        .aet("ORTHANC")
        .modality("oncofed", "ONCOFED", scp.local_addr().port())
        .start_or_skip()
    else {
        return;
    };
    let files = ["CT_small.dcm", "MR_small_jp2klossless.dcm", "image_dfl.dcm"];
    for name in files {
        let file = support::pydicom_test_files().join(name);
        let id = orthanc.upload_file(&file).unwrap();
        let answer = orthanc
            .store_to("oncofed", &id)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(answer["FailedInstancesCount"], 0, "{name}: {answer}");
    }
    let objects = sink.objects.lock().unwrap();
    assert_eq!(objects.len(), files.len());
    for (name, (object, origin)) in files.iter().zip(objects.iter()) {
        assert_eq!(origin.calling_ae, "ORTHANC");
        let original =
            oncofed_dicom::read::open(&support::pydicom_test_files().join(name)).unwrap();
        assert_eq!(
            object.meta().media_storage_sop_instance_uid(),
            original.meta().media_storage_sop_instance_uid(),
        );
        // Orthanc may send a native object in another native syntax; the
        // data set is the same either way.
        let diff = differences(object, &original);
        assert!(diff.is_empty(), "{name}: {diff:?}");
    }
}

#[test]
fn our_scu_delivers_to_orthanc() {
    // Orthanc accepts C-STORE only from the modalities it lists.
    let Some(orthanc) = Orthanc::builder()
        .modality("oncofed", "ONCOFED", oncofed_test_peers::free_port())
        .start_or_skip()
    else {
        return;
    };
    assert!(orthanc.instances().unwrap().is_empty());
    let names = ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "rtplan.dcm"];
    let objects: Vec<_> = names
        .iter()
        .map(|n| dicom_object::open_file(support::pydicom_test_files().join(n)).unwrap())
        .collect();
    let destination = Destination {
        address: format!("127.0.0.1:{}", orthanc.dicom_port),
        called_ae: orthanc.aet.clone(),
    };
    let scu = StoreScu {
        calling_ae: "ONCOFED".into(),
        ..StoreScu::default()
    };
    let report = scu.send(&destination, &objects).unwrap();
    assert_eq!(report.stored(), names.len(), "{report:?}");
    let ids = orthanc.instances().unwrap();
    assert_eq!(ids.len(), names.len());
    let mut held = Vec::new();
    for id in &ids {
        let tags = orthanc
            .get_json(&format!("/instances/{id}/simplified-tags"))
            .unwrap();
        held.push(tags["SOPInstanceUID"].as_str().unwrap().to_owned());
        // The file Orthanc keeps holds the data set we sent.
        let bytes = orthanc.download(id).unwrap();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        let kept = oncofed_dicom::read::open(file.path()).unwrap();
        let sent = objects
            .iter()
            .find(|o| support::instance_uid(o) == support::instance_uid(&kept))
            .expect("an object we sent");
        let diff = differences(&kept, sent);
        assert!(diff.is_empty(), "{id}: {diff:?}");
    }
    for (uid, outcome) in &report.outcomes {
        assert_eq!(*outcome, Outcome::Stored(0));
        assert!(held.contains(uid), "{uid} not in Orthanc: {held:?}");
    }

    // An AE Orthanc does not list is refused.
    let stranger = StoreScu {
        calling_ae: "STRANGER".into(),
        ..StoreScu::default()
    };
    assert!(stranger.send(&destination, &objects[..1]).is_err());
}
