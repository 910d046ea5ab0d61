//! Code forms accepted by validation.

use super::*;

#[test]
fn code_forms() {
    let ok = |f: Form, c: &str| f.check(c).is_ok();
    assert!(
        ok(Form::Icd10, "C")
            && ok(Form::Icd10, "C92")
            && ok(Form::Icd10, "C92.0")
            && ok(Form::Icd10, "C92.01")
    );
    assert!(
        !ok(Form::Icd10, "c92")
            && !ok(Form::Icd10, "C92.0.1")
            && !ok(Form::Icd10, "C92' OR 1=1 --")
    );
    assert!(
        ok(Form::Morphology, "986")
            && ok(Form::Morphology, "9861/3")
            && !ok(Form::Morphology, "98/3")
    );
    for good in [
        "718-7", "21908-9", "89247-1", "59847-4", "11150-0", "6690-2", "777-3", "2160-0",
    ] {
        assert!(ok(Form::Loinc, good), "{good}");
    }
    assert_eq!(
        Form::Loinc.check("718-6"),
        Err(CriteriaErrorKind::CheckDigit)
    );
    assert_eq!(
        Form::Loinc.check("11150-2"),
        Err(CriteriaErrorKind::CheckDigit)
    );
    assert!(!ok(Form::Loinc, "718") && !ok(Form::Loinc, "-7") && !ok(Form::Loinc, "LA9633-4"));
    assert!(ok(Form::Ucum, "10*3/uL") && !ok(Form::Ucum, "g dL") && !ok(Form::Ucum, ""));
    assert!(ok(Form::Hgnc, "HGNC:76") && !ok(Form::Hgnc, "FLT3") && !ok(Form::Hgnc, "HGNC:"));
    assert!(ok(Form::Atc, "L") && ok(Form::Atc, "L01XC") && ok(Form::Atc, "L01XC24"));
    assert!(
        ok(Form::Atc, "L01X")
            && !ok(Form::Atc, "L0")
            && !ok(Form::Atc, "L01XC2")
            && !ok(Form::Atc, "l01")
    );
    assert!(
        ok(Form::Ops, "8-805")
            && ok(Form::Ops, "5-38a.1")
            && ok(Form::Ops, "8-80")
            && !ok(Form::Ops, "8805")
    );
    for good in ["0", "0is", "I", "IA1", "IIIC", "IV", "IVB"] {
        assert!(ok(Form::StageGroup, good), "{good}");
    }
    assert!(
        !ok(Form::StageGroup, "V") && !ok(Form::StageGroup, "IIID") && !ok(Form::StageGroup, "3")
    );
    assert!(
        ok(Form::Tnm(TnmAxis::T), "T1a")
            && ok(Form::Tnm(TnmAxis::T), "pT2")
            && ok(Form::Tnm(TnmAxis::N), "N0")
    );
    assert!(
        !ok(Form::Tnm(TnmAxis::T), "N1")
            && !ok(Form::Tnm(TnmAxis::M), "M1 ")
            && !ok(Form::Tnm(TnmAxis::M), "1")
    );
}

#[test]
fn dicom_forms() {
    let ok = |f: Form, c: &str| f.check(c).is_ok();
    for good in ["CT", "MR", "PT", "US", "RTSTRUCT", "A1B2C3D4E5F6G7H8"] {
        assert!(ok(Form::Modality, good), "{good}");
    }
    for bad in ["", "ct", "C T", "CT-1", "A1B2C3D4E5F6G7H8I"] {
        assert!(!ok(Form::Modality, bad), "{bad}");
    }
    for good in ["CHEST", "head", "HEAD_NECK", "ABDOMEN PELVIS", "L SPINE"] {
        assert!(ok(Form::BodyPart, good), "{good}");
    }
    for bad in [
        "",
        " CHEST",
        "CHEST ",
        "CHEST'",
        "ABCDEFGHIJKLMNOPQ",
        "BRUST\u{e4}",
    ] {
        assert!(!ok(Form::BodyPart, bad), "{bad}");
    }
}
