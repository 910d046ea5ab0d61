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
        .map(|(value, meaning)| {
            InMemDicomObject::from_element_iter([
                DataElement::new(Tag(0x0008, 0x0100), VR::SH, PrimitiveValue::from(*value)),
                DataElement::new(Tag(0x0008, 0x0102), VR::SH, PrimitiveValue::from("DCM")),
                DataElement::new(
                    Tag(0x0008, 0x0104),
                    VR::LO,
                    PrimitiveValue::from(truncate(meaning, 64)),
                ),
            ])
        })
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

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
