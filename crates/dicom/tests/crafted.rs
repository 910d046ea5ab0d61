//! A CT made identifying the way real archives are: the name in the study
//! description, an insurance number in Other Patient IDs Sequence, a name in
//! a nested sequence, the institution, a private block with the name again.
//! After de-identification none of it is anywhere in the output.

use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_object::InMemDicomObject;
use oncofed_dicom::{Deidentifier, ProfileOption, Subject};
use std::path::PathBuf;

fn ct_small() -> dicom_object::FileDicomObject<InMemDicomObject> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/dicom-pydicom-testfiles/CT_small.dcm");
    oncofed_dicom::read::open(&path).unwrap()
}

fn put(ds: &mut InMemDicomObject, g: u16, e: u16, vr: VR, v: &str) {
    ds.put(DataElement::new(Tag(g, e), vr, PrimitiveValue::from(v)));
}

fn item(elements: &[(u16, u16, VR, &str)]) -> InMemDicomObject {
    let mut ds = InMemDicomObject::new_empty();
    for (g, e, vr, v) in elements {
        put(&mut ds, *g, *e, *vr, v);
    }
    ds
}

fn seq(ds: &mut InMemDicomObject, g: u16, e: u16, items: Vec<InMemDicomObject>) {
    ds.put(DataElement::new(
        Tag(g, e),
        VR::SQ,
        DataSetSequence::new(items, Length::UNDEFINED),
    ));
}

fn strings(ds: &InMemDicomObject, out: &mut Vec<String>) {
    for e in ds.iter() {
        match e.value() {
            Value::Sequence(s) => s.items().iter().for_each(|i| strings(i, out)),
            Value::Primitive(p) => out.push(p.to_str().into_owned().to_uppercase()),
            Value::PixelSequence(_) => {}
        }
    }
}

#[test]
fn identifiers_hidden_in_descriptions_sequences_and_private_blocks_are_removed() {
    let mut file = ct_small();
    put(&mut file, 0x0010, 0x0010, VR::PN, "Mustermann^Erika");
    put(&mut file, 0x0010, 0x0030, VR::DA, "19640812");
    put(&mut file, 0x0008, 0x0080, VR::LO, "St. Elisabeth Hospital");
    put(
        &mut file,
        0x0008,
        0x1030,
        VR::LO,
        "CT Thorax Mustermann Erika 12.08.1964",
    );
    put(
        &mut file,
        0x0008,
        0x103E,
        VR::LO,
        "Thorax nativ (St. Elisabeth Hospital)",
    );
    put(&mut file, 0x0008, 0x0050, VR::SH, "ACC99887766");
    seq(
        &mut file,
        0x0010,
        0x1002,
        vec![item(&[(0x0010, 0x0020, VR::LO, "A123456789")])],
    );
    // A name nested two levels deep: Referenced Patient Sequence in a
    // Request Attributes Sequence item.
    let mut request = item(&[(0x0040, 0x1001, VR::SH, "RP-4711-Mustermann")]);
    seq(
        &mut request,
        0x0008,
        0x1120,
        vec![item(&[(0x0010, 0x0010, VR::PN, "Mustermann^Erika")])],
    );
    seq(&mut file, 0x0040, 0x0275, vec![request]);
    put(&mut file, 0x0029, 0x0010, VR::LO, "ACME 1.0");
    put(&mut file, 0x0029, 0x1001, VR::LO, "Mustermann Erika");

    let de = Deidentifier::new(
        [
            ProfileOption::RetainLongitudinalModifiedDates,
            ProfileOption::RetainPatientCharacteristics,
            ProfileOption::CleanDescriptors,
        ],
        &[3; 32],
    )
    .unwrap();
    let subject = Subject {
        pseudonym: "PSN-1".into(),
        date_offset_days: 40,
        identifiers: vec!["Mustermann^Erika".into(), "A123456789".into()],
    };
    let (out, report) = de.deidentify(file, &subject).unwrap();
    let mut all = Vec::new();
    strings(&out, &mut all);
    for secret in [
        "MUSTERMANN",
        "ERIKA",
        "19640812",
        "12.08.1964",
        "ELISABETH",
        "ACC99887766",
        "A123456789",
        "ACME",
    ] {
        assert!(
            !all.iter().any(|s| s.contains(secret)),
            "{secret} survives: {all:?}"
        );
    }
    let text = |g, e| {
        out.get(Tag(g, e))
            .map(|e| e.value().to_str().unwrap().into_owned())
    };
    // Descriptions keep their meaning.
    assert_eq!(
        text(0x0008, 0x1030).unwrap(),
        "CT Thorax **************** **********"
    );
    assert_eq!(
        text(0x0008, 0x103E).unwrap(),
        "Thorax nativ (**********************)"
    );
    assert!(report.descriptors_cleaned >= 2, "{report:?}");
    assert!(report.private_removed >= 2, "{report:?}");
    // Markers with the options' CID 7050 codes.
    let codes: Vec<String> = match out.get(Tag(0x0012, 0x0064)).unwrap().value() {
        Value::Sequence(s) => s
            .items()
            .iter()
            .map(|i| {
                i.get(Tag(0x0008, 0x0100))
                    .unwrap()
                    .value()
                    .to_str()
                    .unwrap()
                    .into_owned()
            })
            .collect(),
        _ => panic!("not a sequence"),
    };
    assert_eq!(codes, ["113100", "113108", "113107", "113105"]);
}

#[test]
fn contradicting_options_are_refused() {
    assert!(
        Deidentifier::new(
            [
                ProfileOption::RetainLongitudinalFullDates,
                ProfileOption::RetainLongitudinalModifiedDates
            ],
            &[0; 32]
        )
        .is_err()
    );
}

/// Found by the Orthanc comparison (tests/orthanc.rs, pydicom's
/// `rtdose_rle.dcm`, every element stored under VR UN): with Modified Dates
/// the Study Date under UN was kept unshifted, and a description under UN
/// was not cleaned. Both are now read as their dictionary VR.
#[test]
fn regression_dates_and_descriptions_under_vr_un_are_shifted_and_cleaned() {
    let mut file = ct_small();
    let un = |file: &mut dicom_object::FileDicomObject<InMemDicomObject>, e: u16, v: &str| {
        file.put(DataElement::new(
            Tag(0x0008, e),
            VR::UN,
            PrimitiveValue::from(v.as_bytes().to_vec()),
        ));
    };
    un(&mut file, 0x0020, "20040119");
    un(&mut file, 0x1030, "CT Thorax Mustermann ");
    let de = Deidentifier::new(
        [
            ProfileOption::RetainLongitudinalModifiedDates,
            ProfileOption::CleanDescriptors,
        ],
        &[1; 32],
    )
    .unwrap();
    let subject = Subject {
        pseudonym: "PSN-UN".into(),
        date_offset_days: -30,
        identifiers: vec!["Mustermann".into()],
    };
    let (out, _) = de.deidentify(file, &subject).unwrap();
    let date = out.element(Tag(0x0008, 0x0020)).unwrap();
    assert_eq!(date.vr(), VR::DA);
    assert_eq!(date.value().to_str().unwrap(), "20031220");
    let description = out.element(Tag(0x0008, 0x1030)).unwrap();
    let text = description.value().to_str().unwrap().to_uppercase();
    assert!(!text.contains("MUSTERMANN"), "{text}");
}

/// Content Sequence is D (a dummy) without Clean Structured Content, so every
/// free-text value inside is dummied; its code strings used to be dummied too,
/// which left SR content items without a valid Value Type (dciodvfy: "Unrecognized
/// enumerated value <ANONYMIZED>"). Code strings are cleaned instead: the
/// structure stays valid and a name typed into one is still masked.
#[test]
fn regression_code_strings_inside_a_dummied_sequence_keep_the_structure() {
    let mut file = ct_small();
    let content = item(&[
        (0x0040, 0xA010, VR::CS, "CONTAINS"),
        (0x0040, 0xA040, VR::CS, "TEXT"),
        (0x0040, 0xA050, VR::CS, "MUSTERMANN"),
        (0x0040, 0xA160, VR::UT, "Befund Mustermann, Erika"),
    ]);
    seq(&mut file, 0x0040, 0xA730, vec![content]);
    let de = Deidentifier::new([ProfileOption::CleanDescriptors], &[1; 32]).unwrap();
    let subject = Subject {
        pseudonym: "PSN-SR".into(),
        date_offset_days: -30,
        identifiers: vec!["Mustermann".into(), "Erika".into()],
    };
    let (out, _) = de.deidentify(file, &subject).unwrap();
    let Value::Sequence(items) = out.element(Tag(0x0040, 0xA730)).unwrap().value() else {
        panic!("Content Sequence kept as a sequence");
    };
    let text = |tag: u16| {
        items.items()[0]
            .element(Tag(0x0040, tag))
            .unwrap()
            .value()
            .to_str()
            .unwrap()
            .trim()
            .to_owned()
    };
    assert_eq!(text(0xA040), "TEXT");
    assert_eq!(text(0xA010), "CONTAINS");
    assert!(!text(0xA050).contains("MUSTERMANN"));
    assert!(!text(0xA160).to_uppercase().contains("MUSTERMANN"));
}
