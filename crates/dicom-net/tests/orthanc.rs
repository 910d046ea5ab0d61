//! Orthanc, a PACS, as the peer in both directions: it sends an instance
//! into our SCP (REST `POST /modalities/{name}/store`) and receives a
//! C-STORE from our SCU (checked through REST `/instances`).

mod support;

use oncofed_dicom_net::{Destination, Outcome, StoreScu};
use std::sync::Arc;
use support::orthanc::Orthanc;
use support::{Collect, differences, peer, scp_config, start};

const ORTHANC: &str = "/usr/sbin/Orthanc";

#[test]
fn orthanc_sends_into_our_scp() {
    let Some(binary) = peer(ORTHANC) else {
        return;
    };
    let sink = Arc::new(Collect::default());
    let scp = start(scp_config(&["ORTHANC"]), sink.clone());
    let orthanc = Orthanc::start(&binary, "oncofed", "ONCOFED", scp.local_addr().port());
    let files = ["CT_small.dcm", "MR_small_jp2klossless.dcm", "image_dfl.dcm"];
    for name in files {
        let file = support::pydicom_test_files().join(name);
        let id = orthanc.upload(&file);
        let answer = orthanc
            .post("/modalities/oncofed/store", id.as_bytes())
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
    let Some(binary) = peer(ORTHANC) else {
        return;
    };
    // Orthanc accepts C-STORE only from the modalities it lists.
    let orthanc = Orthanc::start(&binary, "oncofed", "ONCOFED", support::free_port());
    assert!(orthanc.instances().is_empty());
    let names = ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "rtplan.dcm"];
    let objects: Vec<_> = names
        .iter()
        .map(|n| dicom_object::open_file(support::pydicom_test_files().join(n)).unwrap())
        .collect();
    let destination = Destination {
        address: format!("127.0.0.1:{}", orthanc.dicom_port),
        called_ae: orthanc.aet.into(),
    };
    let scu = StoreScu {
        calling_ae: "ONCOFED".into(),
        ..StoreScu::default()
    };
    let report = scu.send(&destination, &objects).unwrap();
    assert_eq!(report.stored(), names.len(), "{report:?}");
    let ids = orthanc.instances();
    assert_eq!(ids.len(), names.len());
    let mut held = Vec::new();
    for id in &ids {
        let tags = orthanc
            .get(&format!("/instances/{id}/simplified-tags"))
            .unwrap();
        held.push(tags["SOPInstanceUID"].as_str().unwrap().to_owned());
        // The file Orthanc keeps holds the data set we sent.
        let bytes = orthanc.get_bytes(&format!("/instances/{id}/file"));
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
