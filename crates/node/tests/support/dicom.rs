//! Identified DICOM fixtures, written as a modality would.

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;
use std::path::{Path, PathBuf};

/// CT Image Storage.
pub const CT: &str = "1.2.840.10008.5.1.4.1.1.2";
/// MR Image Storage.
pub const MR: &str = "1.2.840.10008.5.1.4.1.1.4";

/// What a modality writes into one image's header.
pub struct Header<'a> {
    pub patient_id: &'a str,
    pub name: &'a str,
    pub birth: &'a str,
    pub sop_class: &'a str,
    pub modality: &'a str,
    pub body_part: &'a str,
    pub study_date: &'a str,
    pub study: &'a str,
    pub series: &'a str,
    pub instance: &'a str,
}

/// Writes a small identified image (8×8, 8 bit) to `path`.
pub fn image(path: &Path, h: &Header) {
    let text = |tag: Tag, vr: VR, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
    // The modality's operator typed the patient's name into the description.
    let description = format!("Staging {}", h.name.replace('^', " "));
    let mut ds = InMemDicomObject::from_element_iter([
        text(Tag(0x0008, 0x0016), VR::UI, h.sop_class),
        text(Tag(0x0008, 0x0018), VR::UI, h.instance),
        text(Tag(0x0008, 0x0020), VR::DA, h.study_date),
        text(Tag(0x0008, 0x0060), VR::CS, h.modality),
        text(Tag(0x0008, 0x0070), VR::LO, "ACME Medical"),
        text(Tag(0x0008, 0x0080), VR::LO, "Klinikum Beispielstadt"),
        text(Tag(0x0008, 0x1030), VR::LO, &description),
        text(Tag(0x0010, 0x0010), VR::PN, h.name),
        text(Tag(0x0010, 0x0020), VR::LO, h.patient_id),
        text(Tag(0x0010, 0x0030), VR::DA, h.birth),
        text(Tag(0x0010, 0x0040), VR::CS, "F"),
        text(Tag(0x0018, 0x0015), VR::CS, h.body_part),
        text(Tag(0x0018, 0x0050), VR::DS, "2.5"),
        text(Tag(0x0020, 0x000D), VR::UI, h.study),
        text(Tag(0x0020, 0x000E), VR::UI, h.series),
        text(Tag(0x0028, 0x0004), VR::CS, "MONOCHROME2"),
    ]);
    for (element, value) in [
        (0x0002, 1u16),
        (0x0010, 8),
        (0x0011, 8),
        (0x0100, 8),
        (0x0101, 8),
        (0x0102, 7),
        (0x0103, 0),
    ] {
        ds.put(DataElement::new(
            Tag(0x0028, element),
            VR::US,
            PrimitiveValue::from(value),
        ));
    }
    ds.put(DataElement::new(
        Tag(0x7FE0, 0x0010),
        VR::OB,
        PrimitiveValue::from(vec![42u8; 64]),
    ));
    let file = ds
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax("1.2.840.10008.1.2.1")
                .media_storage_sop_class_uid(h.sop_class)
                .media_storage_sop_instance_uid(h.instance),
        )
        .unwrap();
    file.write_to_file(path).unwrap();
}

/// Every file under `dir`.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Wilma Beispiel's identified chest CT (local id `w-1`, born 1958-03-09,
/// study 2024-02-20), written to `path`.
pub fn wilma_ct(path: &Path) {
    image(
        path,
        &Header {
            patient_id: "w-1",
            name: "Beispiel^Wilma",
            birth: "19580309",
            sop_class: CT,
            modality: "CT",
            body_part: "CHEST",
            study_date: "20240220",
            study: "1.2.826.0.1.3680043.2.1125.1.1",
            series: "1.2.826.0.1.3680043.2.1125.1.2",
            instance: "1.2.826.0.1.3680043.2.1125.1.3",
        },
    );
}
