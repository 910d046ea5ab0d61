//! Our SCU sends to dcmtk's `storescp` (the reference SCP); what it writes
//! matches what was sent.

mod support;

use dicom_object::{FileDicomObject, InMemDicomObject};
use oncofed_dicom_net::{Destination, Outcome, StoreScu};
use oncofed_test_peers::{peer, wait_until};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;
use support::differences;

/// A storescp in a temporary directory, killed on drop.
struct StoreScp {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    log: tempfile::NamedTempFile,
}

impl StoreScp {
    fn start() -> StoreScp {
        let dir = tempfile::tempdir().unwrap();
        let log = tempfile::NamedTempFile::new().unwrap();
        let port = oncofed_test_peers::free_port();
        let child = Command::new("storescp")
            // every transfer syntax dcmtk knows; files named by SOP Instance UID
            .args(["-v", "-aet", "STORESCP", "+xa", "-uf", "-od"])
            .arg(dir.path())
            .arg(port.to_string())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        let listening = wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(listening, "storescp did not listen on {port}");
        StoreScp {
            child,
            port,
            dir,
            log,
        }
    }

    fn received(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    }
}

impl Drop for StoreScp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pydicom files with a readable meta group of a Storage SOP Class that
/// dicom-rs reads (the broken-on-purpose ones are left out).
fn sendable() -> Vec<(PathBuf, FileDicomObject<InMemDicomObject>)> {
    support::dcm_files()
        .into_iter()
        .filter(|p| support::file_transfer_syntax(p).is_some())
        // Broken on purpose (no SOP class; storescu refuses them too), and
        // dicom-rs takes tens of seconds to refuse them in a debug build.
        .filter(|p| !p.ends_with("SC_rgb_jpeg.dcm") && !p.ends_with("UN_sequence.dcm"))
        .filter_map(|p| {
            let object = dicom_object::OpenFileOptions::new().open_file(&p).ok()?;
            let class = object.meta().media_storage_sop_class_uid().to_owned();
            oncofed_dicom_net::syntax::is_storage_sop_class(class.trim_end_matches('\0'))
                .then_some((p, object))
        })
        .collect()
}

#[test]
fn scu_delivers_to_storescp() {
    if peer("storescp").is_none() {
        return;
    }
    let files = sendable();
    assert!(files.len() >= 50, "{} sendable files", files.len());
    // One object per SOP Instance UID (a few pydicom files share one).
    let instance = |o: &FileDicomObject<InMemDicomObject>| {
        o.get(dicom_core::Tag(0x0008, 0x0018))
            .map(|e| e.value().to_str().unwrap_or_default().into_owned())
    };
    let mut objects: Vec<(PathBuf, FileDicomObject<InMemDicomObject>)> = Vec::new();
    for (path, object) in files {
        if !objects
            .iter()
            .any(|(_, o)| instance(o) == instance(&object))
        {
            objects.push((path, object));
        }
    }
    let scp = StoreScp::start();
    let scu = StoreScu {
        calling_ae: "ONCOFED".into(),
        ..StoreScu::default()
    };
    let destination = Destination {
        address: format!("127.0.0.1:{}", scp.port),
        called_ae: "STORESCP".into(),
    };
    let to_send: Vec<_> = objects.iter().map(|(_, o)| o.clone()).collect();
    let report = scu.send(&destination, &to_send).unwrap_or_else(|e| {
        let log = std::fs::read_to_string(scp.log.path()).unwrap_or_default();
        let tail: String = log.lines().rev().take(15).collect::<Vec<_>>().join("\n");
        panic!("{e}\nstorescp log (last lines, newest first):\n{tail}")
    });
    let failures: Vec<_> = report.failures().collect();
    let log = std::fs::read_to_string(scp.log.path()).unwrap_or_default();
    for line in log
        .lines()
        .filter(|l| l.starts_with("E:") || l.starts_with("W:"))
    {
        println!("storescp: {line}");
    }
    println!(
        "stored {} of {}; not stored: {failures:?}",
        report.stored(),
        to_send.len()
    );
    // storescp stores every object but the pydicom files broken on purpose
    // that dcmtk cannot parse (storescu refuses to send them too): badVR.dcm
    // (an invalid VR), priv_SQ.dcm (a private sequence in implicit VR),
    // rtdose_rle*.dcm (odd-length OW pixel data); it answers 0xC000.
    for ((path, _), (uid, outcome)) in objects.iter().zip(&report.outcomes) {
        if !matches!(outcome, Outcome::Stored(_)) {
            let broken = [
                "badVR.dcm",
                "priv_SQ.dcm",
                "rtdose_rle.dcm",
                "rtdose_rle_1frame.dcm",
            ]
            .iter()
            .any(|name| path.ends_with(name));
            assert!(
                broken && *outcome == Outcome::Failed(0xC000),
                "{}: {uid}: {outcome:?}",
                path.display()
            );
        }
    }
    let received = scp.received();
    let mut mismatched = Vec::new();
    for ((path, sent), (uid, outcome)) in objects.iter().zip(&report.outcomes) {
        // Files sharing a UID overwrite each other at storescp.
        let shared = report.outcomes.iter().filter(|(u, _)| u == uid).count() > 1;
        if !matches!(outcome, Outcome::Stored(0)) || shared {
            continue;
        }
        let file = received
            .iter()
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .ends_with(uid.as_str())
            })
            .unwrap_or_else(|| panic!("{uid} ({}) not written by storescp", path.display()));
        let got = oncofed_dicom::read::open(file).unwrap();
        // A native object may go in another native syntax the peer prefers;
        // a compressed or deflated one goes as it is.
        let (got_ts, sent_ts) = (got.meta().transfer_syntax(), sent.meta().transfer_syntax());
        let native = oncofed_dicom_net::syntax::is_native;
        let trim = |t: &str| t.trim_end_matches('\0').to_owned();
        assert!(
            got_ts == sent_ts || (native(&trim(got_ts)) && native(&trim(sent_ts))),
            "{}: {sent_ts} arrived as {got_ts}",
            path.display()
        );
        let diff = differences(&got, sent);
        if !diff.is_empty() {
            mismatched.push(format!("{}: {diff:?}", path.display()));
        }
    }
    assert!(mismatched.is_empty(), "{mismatched:#?}");
}

/// An unreachable or refusing destination is an error, not a panic.
#[test]
fn refused_association_is_an_error() {
    if peer("storescp").is_none() {
        return;
    }
    let scp = StoreScp::start();
    let object =
        dicom_object::open_file(support::pydicom_test_files().join("CT_small.dcm")).unwrap();
    let scu = StoreScu::default();
    // storescp checks nothing by default; a closed port refuses.
    let closed = Destination {
        address: format!("127.0.0.1:{}", oncofed_test_peers::free_port()),
        called_ae: "STORESCP".into(),
    };
    assert!(scu.send(&closed, std::slice::from_ref(&object)).is_err());
    let open = Destination {
        address: format!("127.0.0.1:{}", scp.port),
        called_ae: "STORESCP".into(),
    };
    assert_eq!(scu.send(&open, &[object]).unwrap().stored(), 1);
}
