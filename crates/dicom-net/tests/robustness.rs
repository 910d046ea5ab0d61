//! The SCP against our own SCU and against bytes no DICOM peer would send:
//! limits hold, a failing sink or a broken peer never stops the SCP, and it
//! stops when told.

mod support;

use dicom_object::{FileDicomObject, InMemDicomObject};
use dicom_ul::ClientAssociationOptions;
use dicom_ul::pdu::{PDataValue, PDataValueType, Pdu};
use oncofed_dicom_net::{
    Destination, Origin, Outcome, ScpConfig, SinkRefusal, StoreScu, StoreSink, status,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{Collect, differences, scp_config, start};

fn object(name: &str) -> FileDicomObject<InMemDicomObject> {
    dicom_object::open_file(support::pydicom_test_files().join(name)).unwrap()
}

fn to(scp: &oncofed_dicom_net::RunningScp) -> Destination {
    Destination {
        address: scp.local_addr().to_string(),
        called_ae: "ONCOFED".into(),
    }
}

fn scu(calling: &str) -> StoreScu {
    StoreScu {
        calling_ae: calling.into(),
        ..StoreScu::default()
    }
}

#[test]
fn our_scu_to_our_scp_round_trip() {
    let sink = Arc::new(Collect::default());
    let scp = start(scp_config(&["NODE"]), sink.clone());
    let sent = [
        object("CT_small.dcm"),
        object("MR_small_bigendian.dcm"),
        object("JPEG2000.dcm"),
        object("image_dfl.dcm"),
        object("rtplan.dcm"),
    ];
    let report = scu("NODE").send(&to(&scp), &sent).unwrap();
    assert_eq!(report.stored(), sent.len(), "{report:?}");
    let received = sink.objects.lock().unwrap();
    for (a, (b, origin)) in sent.iter().zip(received.iter()) {
        assert_eq!(origin.calling_ae, "NODE");
        assert!(differences(a, b).is_empty(), "{:?}", differences(a, b));
        assert_eq!(b.meta().source_application_entity_title(), Some("NODE"));
    }
}

/// Panics on the first object, refuses the second, takes the rest.
struct Moody(AtomicUsize);

impl StoreSink for Moody {
    fn store(&self, _: FileDicomObject<InMemDicomObject>, _: &Origin) -> Result<(), SinkRefusal> {
        match self.0.fetch_add(1, Ordering::SeqCst) {
            0 => panic!("a sink bug"),
            1 => Err(SinkRefusal::new(
                oncofed_dicom_net::RefusalKind::NotAuthorized,
                "no consent",
            )),
            _ => Ok(()),
        }
    }
}

#[test]
fn a_panicking_sink_is_a_processing_failure_and_the_scp_goes_on() {
    let scp = start(scp_config(&["NODE"]), Moody(AtomicUsize::new(0)));
    let objects = [
        object("CT_small.dcm"),
        object("MR_small.dcm"),
        object("rtplan.dcm"),
    ];
    let report = scu("NODE").send(&to(&scp), &objects).unwrap();
    let outcomes: Vec<_> = report.outcomes.iter().map(|(_, o)| o.clone()).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Failed(status::PROCESSING_FAILURE),
            Outcome::Failed(status::NOT_AUTHORIZED),
            Outcome::Stored(0)
        ]
    );
}

#[test]
fn associations_over_the_limit_are_rejected_until_one_ends() {
    let scp = start(
        ScpConfig {
            max_associations: 1,
            ..scp_config(&["NODE"])
        },
        Collect::default(),
    );
    let hold = || {
        ClientAssociationOptions::new()
            .calling_ae_title("NODE")
            .called_ae_title("ONCOFED")
            .with_abstract_syntax("1.2.840.10008.1.1")
            .establish(scp.local_addr())
    };
    let first = hold().unwrap();
    let second = hold();
    let error = second.expect_err("over the limit").to_string();
    assert!(error.contains("rejected"), "{error}");
    first.release().unwrap();
    // The slot frees when the first association's thread ends.
    assert!(oncofed_test_peers::wait_until(
        Duration::from_secs(5),
        || { hold().map(|a| a.release()).is_ok() }
    ));
}

#[test]
fn garbage_and_malformed_messages_end_only_their_association() {
    let sink = Arc::new(Collect::default());
    let scp = start(scp_config(&["NODE"]), sink.clone());
    // Not DICOM at all: the connection is closed.
    for garbage in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &[0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        &[0x04; 64],
        &[],
    ] {
        let mut stream = TcpStream::connect(scp.local_addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = stream.write_all(garbage);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        // at most an A-ASSOCIATE-RJ or A-ABORT, never an acceptance
        assert!(
            answer.first().is_none_or(|t| *t == 0x03 || *t == 0x07),
            "{answer:?}"
        );
    }
    // A proper association, then a command set that is not one: A-ABORT.
    let mut association = ClientAssociationOptions::new()
        .calling_ae_title("NODE")
        .called_ae_title("ONCOFED")
        .with_presentation_context("1.2.840.10008.5.1.4.1.1.2", vec!["1.2.840.10008.1.2.1"])
        .establish(scp.local_addr())
        .unwrap();
    let pc = association.presentation_contexts()[0].id;
    association
        .send(&Pdu::PData {
            data: vec![PDataValue {
                presentation_context_id: pc,
                value_type: PDataValueType::Command,
                is_last: true,
                data: vec![0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3],
            }],
        })
        .unwrap();
    assert!(matches!(association.receive(), Ok(Pdu::AbortRQ { .. })));
    // A data fragment with no command before it: A-ABORT as well.
    let mut association = ClientAssociationOptions::new()
        .calling_ae_title("NODE")
        .called_ae_title("ONCOFED")
        .with_presentation_context("1.2.840.10008.5.1.4.1.1.2", vec!["1.2.840.10008.1.2.1"])
        .establish(scp.local_addr())
        .unwrap();
    let pc = association.presentation_contexts()[0].id;
    association
        .send(&Pdu::PData {
            data: vec![PDataValue {
                presentation_context_id: pc,
                value_type: PDataValueType::Data,
                is_last: true,
                data: vec![0; 16],
            }],
        })
        .unwrap();
    assert!(matches!(association.receive(), Ok(Pdu::AbortRQ { .. })));
    // The SCP still serves.
    let report = scu("NODE")
        .send(&to(&scp), &[object("CT_small.dcm")])
        .unwrap();
    assert_eq!(report.stored(), 1);
    assert_eq!(sink.objects.lock().unwrap().len(), 1);
}

#[test]
fn a_sop_class_not_offered_is_not_sent() {
    let scp = start(scp_config(&["NODE"]), Collect::default());
    let mut odd = object("CT_small.dcm");
    let uid = "1.2.840.10008.5.1.4.1.2.2.1"; // Study Root Q/R FIND: not storage
    odd.meta_mut().media_storage_sop_class_uid = uid.into();
    odd.put(dicom_core::DataElement::new(
        dicom_core::Tag(0x0008, 0x0016),
        dicom_core::VR::UI,
        dicom_core::PrimitiveValue::from(uid),
    ));
    let report = scu("NODE")
        .send(&to(&scp), &[odd, object("MR_small.dcm")])
        .unwrap();
    assert!(
        matches!(report.outcomes[0].1, Outcome::NotSent(_)),
        "{report:?}"
    );
    assert_eq!(report.outcomes[1].1, Outcome::Stored(0));
}

#[test]
fn stop_returns_promptly() {
    // On a loopback address no other test here listens on: once stopped, the
    // port is free, and a parallel test's listener given the same port on
    // 127.0.0.1 would otherwise answer the connect below (seen once in CI).
    let config = ScpConfig {
        bind: "127.0.0.2:0".parse().unwrap(),
        ..scp_config(&["NODE"])
    };
    let scp = start(config, Collect::default());
    let addr = scp.local_addr();
    let started = Instant::now();
    scp.stop().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn invalid_configuration_is_refused() {
    for config in [
        ScpConfig {
            ae_title: "A\\B".into(),
            ..ScpConfig::default()
        },
        ScpConfig {
            ae_title: "SEVENTEEN_LETTERS".into(),
            ..ScpConfig::default()
        },
        ScpConfig {
            max_associations: 0,
            ..ScpConfig::default()
        },
        ScpConfig {
            allowed_calling_aes: vec!["   ".into()],
            ..ScpConfig::default()
        },
    ] {
        assert!(oncofed_dicom_net::StoreScp::bind(config, Collect::default()).is_err());
    }
    let defaults = ScpConfig::default();
    assert!(defaults.bind.ip().is_loopback() && defaults.allowed_calling_aes.is_empty());
}
