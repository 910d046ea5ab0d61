//! Which objects need Clean Pixel Data (PS3.15 E.3.1): those whose pixels
//! may carry identifying text.

use dicom_core::Tag;
use dicom_object::InMemDicomObject;

/// Why an object's pixels may carry burned-in identifying text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum BurnedInRisk {
    /// Burned In Annotation (0028,0301) is YES.
    BurnedInAnnotation,
    /// Ultrasound (Modality US or a US SOP class): the scanner prints the
    /// patient header into the image, whatever Burned In Annotation says.
    Ultrasound,
    /// Secondary Capture (any SC SOP class): captured screens, scanned
    /// documents, dose reports.
    SecondaryCapture,
    /// A screenshot or derived screen capture under another SOP class
    /// (Image Type or Series Description says so).
    ScreenCapture,
}

impl std::fmt::Display for BurnedInRisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::BurnedInAnnotation => "Burned In Annotation is YES",
            Self::Ultrasound => "ultrasound",
            Self::SecondaryCapture => "secondary capture",
            Self::ScreenCapture => "screen capture",
        })
    }
}

/// SOP Class UIDs (PS3.4 B.5) of ultrasound: US Image, US Multi-frame
/// Image (and their retired forms), Enhanced US Volume, Photoacoustic.
const ULTRASOUND_CLASSES: [&str; 6] = [
    "1.2.840.10008.5.1.4.1.1.6.1",
    "1.2.840.10008.5.1.4.1.1.3.1",
    "1.2.840.10008.5.1.4.1.1.6",
    "1.2.840.10008.5.1.4.1.1.3",
    "1.2.840.10008.5.1.4.1.1.6.2",
    "1.2.840.10008.5.1.4.1.1.6.3",
];

/// Secondary Capture Image Storage; the multi-frame SC classes are
/// `.7.1`–`.7.4` below it.
const SECONDARY_CAPTURE: &str = "1.2.840.10008.5.1.4.1.1.7";

/// Words of Image Type (0008,0008) and Series Description (0008,103E) that
/// vendors use for captured screens (GE "SCREEN SAVE", Siemens "Patient
/// Protocol" and dose reports, "SCREENSHOT", "SNAPSHOT").
const SCREEN_WORDS: [&str; 6] = [
    "SCREEN SAVE",
    "SCREENSHOT",
    "SCREEN CAPTURE",
    "SNAPSHOT",
    "DOSE REPORT",
    "PATIENT PROTOCOL",
];

/// Whether `obj` needs Clean Pixel Data, and why (PS3.15 E.3.1: the pixels
/// of these objects often carry the patient's name, dates and numbers).
///
/// The rule, in order:
/// 1. Burned In Annotation (0028,0301) = YES;
/// 2. ultrasound: Modality (0008,0060) US, or a US SOP Class UID
///    (0008,0016, else the file meta's);
/// 3. any Secondary Capture SOP class (`1.2.840.10008.5.1.4.1.1.7` and its
///    multi-frame classes `.7.1`–`.7.4`);
/// 4. a screen capture under another class: Image Type or Series
///    Description holds SCREEN SAVE, SCREENSHOT, SCREEN CAPTURE, SNAPSHOT,
///    DOSE REPORT or PATIENT PROTOCOL.
///
/// Burned In Annotation = NO is believed only for other objects (CT, MR,
/// PET…, which have no annotation in the pixels by design): ultrasound
/// scanners and capture software write NO while printing the name.
pub fn burned_in_risk(
    obj: &InMemDicomObject,
    meta_sop_class: Option<&str>,
) -> Option<BurnedInRisk> {
    let text = |tag| {
        obj.get(tag)
            .and_then(|e| e.value().to_str().ok())
            .map(|v| v.trim_matches(['\0', ' ']).to_ascii_uppercase())
    };
    if text(Tag(0x0028, 0x0301)).as_deref() == Some("YES") {
        return Some(BurnedInRisk::BurnedInAnnotation);
    }
    let class = text(Tag(0x0008, 0x0016))
        .filter(|c| !c.is_empty())
        .or_else(|| meta_sop_class.map(|c| c.trim_matches(['\0', ' ']).to_owned()))
        .unwrap_or_default();
    if text(Tag(0x0008, 0x0060)).as_deref() == Some("US")
        || ULTRASOUND_CLASSES.contains(&class.as_str())
    {
        return Some(BurnedInRisk::Ultrasound);
    }
    if class == SECONDARY_CAPTURE
        || class
            .strip_prefix(SECONDARY_CAPTURE)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|rest| matches!(rest, "1" | "2" | "3" | "4"))
    {
        return Some(BurnedInRisk::SecondaryCapture);
    }
    let screen = [Tag(0x0008, 0x0008), Tag(0x0008, 0x103E)]
        .into_iter()
        .filter_map(text)
        .any(|v| {
            let v = v.replace(['\\', '_'], " ");
            SCREEN_WORDS.iter().any(|w| v.contains(w))
        });
    screen.then_some(BurnedInRisk::ScreenCapture)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, PrimitiveValue, VR};

    fn object(elements: &[(Tag, VR, &str)]) -> InMemDicomObject {
        InMemDicomObject::from_element_iter(
            elements
                .iter()
                .map(|&(t, vr, v)| DataElement::new(t, vr, PrimitiveValue::from(v))),
        )
    }

    #[test]
    fn the_decision_table() {
        let modality = Tag(0x0008, 0x0060);
        let class = Tag(0x0008, 0x0016);
        let bia = Tag(0x0028, 0x0301);
        let ct = "1.2.840.10008.5.1.4.1.1.2";
        type Case<'a> = (&'a [(Tag, VR, &'a str)], Option<BurnedInRisk>);
        let cases: [Case; 8] = [
            (&[(modality, VR::CS, "CT"), (class, VR::UI, ct)], None),
            (&[(modality, VR::CS, "CT"), (bia, VR::CS, "NO")], None),
            (
                &[(modality, VR::CS, "CT"), (bia, VR::CS, "YES")],
                Some(BurnedInRisk::BurnedInAnnotation),
            ),
            (
                &[(modality, VR::CS, "US"), (bia, VR::CS, "NO")],
                Some(BurnedInRisk::Ultrasound),
            ),
            (
                &[(class, VR::UI, "1.2.840.10008.5.1.4.1.1.3.1")],
                Some(BurnedInRisk::Ultrasound),
            ),
            (
                &[(class, VR::UI, "1.2.840.10008.5.1.4.1.1.7.4")],
                Some(BurnedInRisk::SecondaryCapture),
            ),
            (&[(class, VR::UI, "1.2.840.10008.5.1.4.1.1.77.1")], None),
            (
                &[
                    (modality, VR::CS, "CT"),
                    (
                        Tag(0x0008, 0x0008),
                        VR::CS,
                        "DERIVED\\SECONDARY\\SCREEN SAVE",
                    ),
                ],
                Some(BurnedInRisk::ScreenCapture),
            ),
        ];
        for (elements, want) in cases {
            assert_eq!(
                burned_in_risk(&object(elements), None),
                want,
                "{elements:?}"
            );
        }
        assert_eq!(
            burned_in_risk(&object(&[]), Some("1.2.840.10008.5.1.4.1.1.7")),
            Some(BurnedInRisk::SecondaryCapture)
        );
    }
}
