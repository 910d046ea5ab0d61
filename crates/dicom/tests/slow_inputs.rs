//! Reading is bounded in time: pydicom files that once took seconds to
//! minutes in `read::open` (a denial of service at a site's SCP and folder
//! ingest) are read, or refused, quickly.

mod support;

use std::time::{Duration, Instant};

/// How long one read may take; generous for a debug build on a shared machine.
const LIMIT: Duration = Duration::from_secs(3);

#[test]
fn slow_pydicom_files_are_read_quickly() {
    let dir = support::pydicom_test_files();
    for name in ["UN_sequence.dcm", "SC_rgb_jpeg.dcm"] {
        let path = dir.join(name);
        let start = Instant::now();
        let outcome = oncofed_dicom::read::open(&path);
        let took = start.elapsed();
        eprintln!(
            "{name}: {took:?}, {}",
            match &outcome {
                Ok(_) => "read".to_owned(),
                Err(e) => format!("refused: {e}"),
            }
        );
        assert!(took < LIMIT, "{name} took {took:?}");
    }
}

/// An explicit VR little endian element header with a 4-byte length.
fn long_header(group: u16, element: u16, vr: &[u8; 2], len: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(group.to_le_bytes());
    out.extend(element.to_le_bytes());
    out.extend(vr);
    out.extend([0, 0]);
    out.extend(len.to_le_bytes());
    out
}

fn refused_quickly(bytes: &[u8], expect: &str) {
    let start = Instant::now();
    let outcome = oncofed_dicom::read::from_bytes(bytes);
    let took = start.elapsed();
    let error = outcome.expect_err("refused").to_string();
    assert!(error.contains(expect), "{error}");
    assert!(took < Duration::from_millis(500), "took {took:?}");
}

#[test]
fn a_declared_length_beyond_the_input_is_refused_before_allocation() {
    // A bare data set: SOP Class UID, then an OB declaring almost 4 GiB.
    let mut bytes = Vec::new();
    bytes.extend([0x08, 0x00, 0x16, 0x00, b'U', b'I', 2, 0, b'1', 0]);
    bytes.extend(long_header(0x0009, 0x0010, b"OB", 0xFFFF_FFF0));
    bytes.extend([0; 16]);
    refused_quickly(&bytes, "declares 4294967280 bytes where 16 are left");
}

#[test]
fn a_file_meta_element_longer_than_the_file_is_refused() {
    // DICM, group length, then a Transfer Syntax UID declaring 4 GiB (the
    // meta reader reads it as a 4-byte-length element because of its VR).
    let mut bytes = b"DICM".to_vec();
    bytes.extend([0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
    bytes.extend(100u32.to_le_bytes());
    bytes.extend(long_header(0x0002, 0x0010, b"UN", 0xFFFF_FF00));
    bytes.extend([b'1'; 20]);
    refused_quickly(&bytes, "declares 4294967040 bytes");
}

#[test]
fn sequences_nested_beyond_the_limit_are_refused() {
    let depth = oncofed_dicom::read::MAX_SEQUENCE_DEPTH + 1;
    let mut bytes = Vec::new();
    bytes.extend([0x08, 0x00, 0x16, 0x00, b'U', b'I', 2, 0, b'1', 0]);
    for _ in 0..depth {
        bytes.extend(long_header(0x0040, 0xA730, b"SQ", u32::MAX));
        bytes.extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    refused_quickly(&bytes, "nested deeper than 32 levels");
    // A million levels (20 MB): dicom-object's builder recurses once per level.
    let mut deep = bytes[..10].to_vec();
    for _ in 0..1_000_000 {
        deep.extend_from_slice(&bytes[10..30]);
    }
    refused_quickly(&deep, "nested deeper");
}

#[test]
fn a_stray_item_delimiter_is_refused_not_a_panic() {
    // Inside a sequence's item: an item delimiter ends the item, a second one
    // "ends" the sequence, then an item starts where no sequence is open.
    let mut bytes = Vec::new();
    bytes.extend([0x08, 0x00, 0x16, 0x00, b'U', b'I', 2, 0, b'1', 0]);
    bytes.extend(long_header(0x0040, 0xA730, b"SQ", u32::MAX));
    bytes.extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    bytes.extend([0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
    bytes.extend([0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
    bytes.extend([0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
    refused_quickly(&bytes, "delimiter");
}
