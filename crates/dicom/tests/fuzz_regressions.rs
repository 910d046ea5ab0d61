//! Inputs the `dicom` fuzz target (`fuzz/src/dicom.rs`) found, each reduced to
//! what it shows and kept here so the fix stays.

use oncofed_dicom::read::{self, ReadError};
use oncofed_dicom::{Deidentifier, ProfileOption, Subject};

/// An explicit VR little endian element with a 2-byte length.
fn element(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(group.to_le_bytes());
    out.extend(element.to_le_bytes());
    out.extend(vr);
    out.extend((value.len() as u16).to_le_bytes());
    out.extend(value);
    out
}

/// A bare data set whose SOP Class UID holds other characters than digits
/// and dots was read, given a meta group with that UID, de-identified and
/// written, and the written file did not read back ("Invalid UID in file
/// meta information group"): the node would have archived an object it
/// cannot open. Such a data set is refused at reading now.
#[test]
fn a_bare_data_set_with_a_malformed_sop_class_uid_is_refused() {
    let mut bytes = element(0x0008, 0x0016, b"UI", b"1.2.840.(\x00\x028.5.1.4.1.1.7\x00");
    bytes.extend(element(0x0008, 0x0018, b"UI", b"1.2.3.4\x00"));
    bytes.extend(element(0x0010, 0x0010, b"PN", b"Doe^John"));
    let error = read::from_bytes(&bytes).expect_err("refused");
    assert!(
        matches!(error, ReadError::InvalidUid("SOP Class UID")),
        "{error}"
    );

    // The same with a well-formed UID reads, de-identifies and reads back.
    let mut bytes = element(0x0008, 0x0016, b"UI", b"1.2.840.10008.5.1.4.1.1.7\x00");
    bytes.extend(element(0x0008, 0x0018, b"UI", b"1.2.3.4\x00"));
    bytes.extend(element(0x0010, 0x0010, b"PN", b"Doe^John"));
    let object = read::from_bytes(&bytes).unwrap();
    let (out, _) = site_deidentifier().deidentify(object, &subject()).unwrap();
    let mut written = Vec::new();
    out.write_all(&mut written).unwrap();
    read::from_bytes(&written).unwrap();
}

/// An item tag (FFFE,E000) where a data element belongs was read by
/// dicom-object as an element of VR UN, kept by the profile, and written
/// back as an item header, which no reader accepts: the output did not
/// read back. Refused at reading now.
#[test]
fn an_item_tag_among_the_data_elements_is_refused() {
    let mut bytes = element(0x0008, 0x0016, b"UI", b"1.2.840.10008.5.1.4.1.1.7\x00");
    bytes.extend(element(0x0008, 0x0018, b"UI", b"1.2.3.4\x00"));
    bytes.extend([0xFE, 0xFF, 0x00, 0xE0, 4, 0, 0, 0, b'a', b'b', b'c', b'd']);
    let error = read::from_bytes(&bytes).expect_err("refused").to_string();
    assert!(error.contains("item tag (FFFE,E000)"), "{error}");
}

/// A Part 10 file whose meta group lacks Media Storage SOP Instance UID:
/// dicom-object takes it from the data set's SOP Instance UID unchecked, so
/// an instance UID with letters reached the meta group, and the written
/// output did not read back: refused at reading now. One whose data set's
/// SOP Instance UID has two values reads (its meta group has a good one),
/// but the de-identifier put both, mapped, into the output's meta group:
/// now it maps the meta group's own UID then.
#[test]
fn a_part10_file_with_a_malformed_instance_uid_in_its_data_set_is_refused() {
    let bytes = part10_sc(b"1.2.3.x4\x00", false);
    let error = read::from_bytes(&bytes).expect_err("refused");
    assert!(
        matches!(error, ReadError::InvalidUid("SOP Instance UID")),
        "{error}"
    );
    let object = read::from_bytes(&part10_sc(b"1.2.3\\1.2.4\x00", true)).unwrap();
    let (out, _) = site_deidentifier().deidentify(object, &subject()).unwrap();
    let mut written = Vec::new();
    out.write_all(&mut written).unwrap();
    read::from_bytes(&written).unwrap();
}

fn site_deidentifier() -> Deidentifier {
    Deidentifier::new(
        [
            ProfileOption::RetainLongitudinalModifiedDates,
            ProfileOption::RetainPatientCharacteristics,
            ProfileOption::CleanDescriptors,
        ],
        &[7; 32],
    )
    .unwrap()
}

fn subject() -> Subject {
    Subject {
        pseudonym: "P1".into(),
        date_offset_days: -3,
        identifiers: vec!["Doe".into(), "John".into()],
    }
}

/// A Part 10 secondary capture (explicit VR little endian) with `instance`
/// as the data set's SOP Instance UID, and in the meta group Media Storage
/// SOP Instance UID `1.2.3.9` when `meta_instance`.
fn part10_sc(instance: &[u8], meta_instance: bool) -> Vec<u8> {
    let mut meta = Vec::new();
    meta.extend([0x02, 0x00, 0x01, 0x00, b'O', b'B', 0, 0, 2, 0, 0, 0, 0, 1]);
    meta.extend(element(
        0x0002,
        0x0002,
        b"UI",
        b"1.2.840.10008.5.1.4.1.1.7\x00",
    ));
    if meta_instance {
        meta.extend(element(0x0002, 0x0003, b"UI", b"1.2.3.9\x00"));
    }
    meta.extend(element(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\x00"));
    let mut bytes = b"DICM".to_vec();
    bytes.extend(element(
        0x0002,
        0x0000,
        b"UL",
        &(meta.len() as u32).to_le_bytes(),
    ));
    bytes.extend(meta);
    bytes.extend(element(
        0x0008,
        0x0016,
        b"UI",
        b"1.2.840.10008.5.1.4.1.1.7\x00",
    ));
    bytes.extend(element(0x0008, 0x0018, b"UI", instance));
    bytes
}

/// A UL of 2 bytes: dicom-parser reads no number from it but counts the 2
/// bytes as read, so it parses the rest 2 bytes off, where the bounds walk
/// had seen other headers; one of them declared 1.3 GB and dicom-object
/// allocated it (1.3 GB resident for a 476-byte input). Refused now.
#[test]
fn a_binary_value_of_a_partial_number_is_refused() {
    let mut bytes = element(0x0008, 0x0016, b"UI", b"1.2.840.10008.5.1.4.1.1.7\x00");
    bytes.extend(element(0x0008, 0x0018, b"UI", b"1.2.3.4\x00"));
    bytes.extend(element(0x0028, 0x0002, b"UL", &[1, 0]));
    let error = read::from_bytes(&bytes).expect_err("refused").to_string();
    assert!(error.contains("not a multiple of 4"), "{error}");
}

/// A received data set (a C-STORE's data, no file around it) that declares a
/// 4 GiB value in a few bytes is refused by the bounds check before dicom-rs
/// would allocate the declared length; a well-formed one parses.
#[test]
fn a_received_data_set_claiming_gigabytes_is_refused_before_allocation() {
    use dicom_transfer_syntax_registry::entries::EXPLICIT_VR_LITTLE_ENDIAN;
    let ts = EXPLICIT_VR_LITTLE_ENDIAN.erased();
    let mut bytes = element(0x0008, 0x0018, b"UI", b"1.2.3.4\x00");
    // (7FE0,0010) OB with a 4-byte length of 0xFFFF_FFF0 and 8 bytes of data.
    bytes.extend(0x7FE0u16.to_le_bytes());
    bytes.extend(0x0010u16.to_le_bytes());
    bytes.extend(b"OB\0\0");
    bytes.extend(0xFFFF_FFF0u32.to_le_bytes());
    bytes.extend([0u8; 8]);
    let started = std::time::Instant::now();
    assert!(read::dataset_with_ts(&bytes, &ts).is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let good = element(0x0008, 0x0018, b"UI", b"1.2.3.4\x00");
    assert!(read::dataset_with_ts(&good, &ts).is_ok());
}
