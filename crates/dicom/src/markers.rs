//! The attributes that say what de-identification did (PS3.15 E.1.1 and
//! PS3.3 C.12.1): Patient Identity Removed, De-identification Method and its
//! Code Sequence (CID 7050), Longitudinal Temporal Information Modified and
//! Burned In Annotation.

use crate::profile::{BASIC_PROFILE_CODE, ProfileOption};
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;
use std::collections::BTreeSet;

/// Writes the markers into `out` for `options`. `burned_in` is the input's
/// Burned In Annotation (0028,0301): it is carried over as it was, since
/// only the pixel cleaner may say that no burned-in text is left.
pub(crate) fn write(
    out: &mut InMemDicomObject,
    options: &BTreeSet<ProfileOption>,
    burned_in: Option<&InMemElement>,
) {
    out.put(DataElement::new(
        Tag(0x0012, 0x0062),
        VR::CS,
        PrimitiveValue::from("YES"),
    ));
    let codes: Vec<(&str, &str)> = std::iter::once(BASIC_PROFILE_CODE)
        .chain(options.iter().map(|o| o.code()))
        .collect();
    // LO holds 64 characters per value: one value per applied profile/option.
    let method: Vec<String> =
        std::iter::once("OncoFed DICOM PS3.15 E.1-1 de-identification".to_owned())
            .chain(codes.iter().map(|(_, meaning)| truncate(meaning, 64)))
            .collect();
    out.put(DataElement::new(
        Tag(0x0012, 0x0063),
        VR::LO,
        PrimitiveValue::from(method.join("\\")),
    ));
    let items: Vec<InMemDicomObject> = codes
        .iter()
        .map(|&(value, meaning)| code_item(value, meaning))
        .collect();
    out.put(DataElement::new(
        Tag(0x0012, 0x0064),
        VR::SQ,
        DataSetSequence::new(items, Length::UNDEFINED),
    ));
    let temporal = if options.contains(&ProfileOption::RetainLongitudinalModifiedDates) {
        "MODIFIED"
    } else if options.contains(&ProfileOption::RetainLongitudinalFullDates) {
        "UNMODIFIED"
    } else {
        "REMOVED"
    };
    out.put(DataElement::new(
        Tag(0x0028, 0x0303),
        VR::CS,
        PrimitiveValue::from(temporal),
    ));
    if let Some(e) = burned_in {
        out.put(e.clone());
    }
}

/// Records that Clean Pixel Data (PS3.15 E.3.1) was applied to `out`:
/// Burned In Annotation (0028,0301) set to NO, and the option's CID 7050
/// code (113101) added to De-identification Method Code Sequence
/// (0012,0064) and its meaning to De-identification Method (0012,0063),
/// each once, beside what [`write`] put there. Call it after
/// de-identification: [`write`] rebuilds both attributes from the options.
pub(crate) fn record_clean_pixel_data(out: &mut InMemDicomObject) {
    let (value, meaning) = ProfileOption::CleanPixelData.code();
    out.put(DataElement::new(
        Tag(0x0028, 0x0301),
        VR::CS,
        PrimitiveValue::from("NO"),
    ));
    let mut items: Vec<InMemDicomObject> = out
        .get(Tag(0x0012, 0x0064))
        .and_then(|e| e.items())
        .map(<[InMemDicomObject]>::to_vec)
        .unwrap_or_default();
    let present = items.iter().any(|item| {
        item.get(Tag(0x0008, 0x0100))
            .and_then(|e| e.value().to_str().ok())
            .is_some_and(|v| v.trim_end_matches(['\0', ' ']) == value)
    });
    if !present {
        items.push(code_item(value, meaning));
    }
    out.put(DataElement::new(
        Tag(0x0012, 0x0064),
        VR::SQ,
        DataSetSequence::new(items, Length::UNDEFINED),
    ));
    let meaning = truncate(meaning, 64);
    let method = out
        .get(Tag(0x0012, 0x0063))
        .and_then(|e| e.value().to_str().ok())
        .map(|m| m.trim_end_matches(['\0', ' ']).to_owned())
        .filter(|m| !m.is_empty());
    let method = match method {
        Some(m) if m.split('\\').any(|v| v == meaning) => m,
        Some(m) => format!("{m}\\{meaning}"),
        None => meaning,
    };
    out.put(DataElement::new(
        Tag(0x0012, 0x0063),
        VR::LO,
        PrimitiveValue::from(method),
    ));
}

/// One item of a CID 7050 code sequence (coding scheme DCM).
fn code_item(value: &str, meaning: &str) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        DataElement::new(Tag(0x0008, 0x0100), VR::SH, PrimitiveValue::from(value)),
        DataElement::new(Tag(0x0008, 0x0102), VR::SH, PrimitiveValue::from("DCM")),
        DataElement::new(
            Tag(0x0008, 0x0104),
            VR::LO,
            PrimitiveValue::from(truncate(meaning, 64)),
        ),
    ])
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
