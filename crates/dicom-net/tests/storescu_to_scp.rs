//! dcmtk's `storescu` (the reference SCU) sends into our SCP.

mod support;

use dicom_core::Tag;
use oncofed_dicom_net::{RefusalKind, ScpConfig};
use oncofed_test_peers::{peer, storescu};
use std::sync::Arc;
use support::{Collect, Refuse, differences, scp_config, start};

/// Every pydicom test file storescu accepts arrives once, under its SOP
/// Instance UID, with the data set it was sent with and a rebuilt meta group.
#[test]
fn every_file_storescu_sends_arrives_identical() {
    if peer("storescu").is_none() {
        return;
    }
    let sink = Arc::new(Collect::default());
    let scp = start(scp_config(&["DCMTK"]), sink.clone());
    let port = scp.local_addr().port();
    let mut sent = Vec::new();
    let mut not_sent = Vec::new();
    for file in support::dcm_files() {
        let before = sink.objects.lock().unwrap().len();
        let started = std::time::Instant::now();
        let ts = support::file_transfer_syntax(&file).unwrap_or_default();
        let proposal = support::storescu_proposal(&ts);
        let (ok, output) = storescu("DCMTK", "ONCOFED", port, &["-R", proposal], &[&file]);
        let after = sink.objects.lock().unwrap().len();
        let took = started.elapsed();
        if took > std::time::Duration::from_secs(2) {
            println!("{}: {took:?}", file.display());
        }
        if ok && after == before + 1 {
            sent.push(file);
        } else {
            assert_eq!(after, before, "{}: {output}", file.display());
            not_sent.push((file, output));
        }
    }
    drop(scp);
    let objects = sink.objects.lock().unwrap();
    println!(
        "storescu sent {} files; did not send {}: {:?}",
        sent.len(),
        not_sent.len(),
        not_sent
            .iter()
            .map(|(f, _)| f.file_name().unwrap())
            .collect::<Vec<_>>()
    );
    // storescu refuses files without a meta group or SOP class; every other
    // file must arrive.
    assert!(sent.len() >= 60, "only {} sent: {not_sent:#?}", sent.len());
    let mut mismatched = Vec::new();
    for (file, (object, origin)) in sent.iter().zip(objects.iter()) {
        let original = oncofed_dicom::read::open(file).unwrap();
        assert_eq!(origin.calling_ae, "DCMTK");
        assert!(origin.peer_addr.ip().is_loopback());
        let uid = |o: &dicom_object::InMemDicomObject| {
            o.get(Tag(0x0008, 0x0018))
                .map(|e| e.value().to_str().unwrap().into_owned())
        };
        assert_eq!(uid(object), uid(&original), "{}", file.display());
        let meta = object.meta();
        // The meta group is rebuilt from the command, which storescu fills
        // from the data set (a few pydicom files disagree in their own meta).
        assert_eq!(
            Some(meta.media_storage_sop_instance_uid().to_owned()),
            uid(&original)
        );
        assert_eq!(meta.source_application_entity_title(), Some("DCMTK"));
        let diff = differences(object, &original);
        if !diff.is_empty() {
            mismatched.push(format!(
                "{} ({} → {}): {diff:?}",
                file.display(),
                original.meta().transfer_syntax(),
                meta.transfer_syntax()
            ));
        }
    }
    assert!(mismatched.is_empty(), "{mismatched:#?}");
}

/// A calling AE title not in the list is rejected: storescu fails and
/// nothing reaches the sink; the default (empty list) rejects everyone.
#[test]
fn unknown_calling_ae_is_rejected() {
    if peer("storescu").is_none() {
        return;
    }
    let file = support::pydicom_test_files().join("CT_small.dcm");
    for config in [scp_config(&["DCMTK"]), scp_config(&[])] {
        let sink = Arc::new(Collect::default());
        let scp = start(config, sink.clone());
        let (ok, output) = storescu(
            "INTRUDER",
            "ONCOFED",
            scp.local_addr().port(),
            &[],
            &[&file],
        );
        assert!(!ok, "{output}");
        assert!(
            output.contains("Calling AE Title Not Recognized"),
            "{output}"
        );
        assert!(sink.objects.lock().unwrap().is_empty());
    }
}

/// A wrong called AE title is rejected with its own reason.
#[test]
fn wrong_called_ae_is_rejected() {
    if peer("storescu").is_none() {
        return;
    }
    let file = support::pydicom_test_files().join("CT_small.dcm");
    let scp = start(
        ScpConfig {
            ae_title: "OTHER".into(),
            ..scp_config(&["DCMTK"])
        },
        Collect::default(),
    );
    let (ok, output) = storescu("DCMTK", "ONCOFED", scp.local_addr().port(), &[], &[&file]);
    assert!(
        !ok && output.contains("Called AE Title Not Recognized"),
        "{output}"
    );
}

/// A sink's refusal becomes the failure status of its kind, which storescu
/// reports; the SCP goes on serving.
#[test]
fn sink_refusal_is_the_status_storescu_reports() {
    if peer("storescu").is_none() {
        return;
    }
    let file = support::pydicom_test_files().join("CT_small.dcm");
    for (kind, shown) in [
        (RefusalKind::OutOfResources, "Refused: OutOfResources"),
        (RefusalKind::CannotUnderstand, "Error: CannotUnderstand"),
        (
            RefusalKind::DataSetMismatch,
            "Error: DataSetDoesNotMatchSOPClass",
        ),
    ] {
        let scp = start(scp_config(&["DCMTK"]), Refuse(kind));
        let port = scp.local_addr().port();
        let (_, output) = storescu("DCMTK", "ONCOFED", port, &[], &[&file]);
        assert!(output.contains(shown), "{kind:?}: {output}");
        // Still serving: a second association is answered the same way.
        let (_, again) = storescu("DCMTK", "ONCOFED", port, &[], &[&file]);
        assert!(again.contains(shown), "{again}");
    }
}

/// A data set over the size limit is read, dropped and refused with 0xA700.
#[test]
fn object_over_the_size_limit_is_refused() {
    if peer("storescu").is_none() {
        return;
    }
    let file = support::pydicom_test_files().join("CT_small.dcm");
    let sink = Arc::new(Collect::default());
    let scp = start(
        ScpConfig {
            max_object_bytes: 10_000,
            ..scp_config(&["DCMTK"])
        },
        sink.clone(),
    );
    let (_, output) = storescu("DCMTK", "ONCOFED", scp.local_addr().port(), &[], &[&file]);
    assert!(output.contains("Refused: OutOfResources"), "{output}");
    assert!(sink.objects.lock().unwrap().is_empty());
}

/// C-ECHO (Verification) is answered.
#[test]
fn echo_is_answered() {
    if peer("echoscu").is_none() {
        return;
    }
    let scp = start(scp_config(&["DCMTK"]), Collect::default());
    let out = std::process::Command::new("echoscu")
        .args(["-aet", "DCMTK", "-aec", "ONCOFED", "127.0.0.1"])
        .arg(scp.local_addr().port().to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}
