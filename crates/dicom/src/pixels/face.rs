//! The face policy (PS3.15 E.3.2, Clean Recognizable Visual Features):
//! which CT, MR and PET objects image a head, so that a surface rendering of
//! their series may show a recognisable face.

use dicom_core::Tag;
use dicom_object::InMemDicomObject;

/// Body Part Examined (0018,0015) values (PS3.16 Annex L defined terms and
/// common vendor spellings, compared without spaces, `_` or `-`) of regions
/// that include the face or are imaged together with it.
const BODY_PARTS: [&str; 24] = [
    "HEAD",
    "HEADNECK",
    "NECK",
    "BRAIN",
    "SKULL",
    "FACE",
    "ORBIT",
    "EYE",
    "EAR",
    "IAC",
    "NOSE",
    "SINUS",
    "PARANASALSINUS",
    "NASOPHARYNX",
    "OROPHARYNX",
    "PHARYNX",
    "LARYNX",
    "JAW",
    "MANDIBLE",
    "MAXILLA",
    "TMJ",
    "PAROTID",
    "SELLA",
    "WHOLEBODY",
];

/// Codes of Anatomic Region Sequence (0008,2218) for the same regions: SNOMED
/// CT (scheme SCT) and the older SNOMED RT forms (scheme SRT) of the main
/// ones (PS3.16 CID 4031 Common Anatomic Regions).
const REGION_CODES: [&str; 27] = [
    "69536005",  // head
    "774007",    // head and neck
    "45048000",  // neck
    "12738006",  // brain
    "89546000",  // skull
    "89545001",  // face
    "363654007", // orbit
    "81745001",  // eye
    "117590005", // ear
    "361078006", // internal auditory canal
    "2095001",   // paranasal sinus
    "71836000",  // nasopharynx
    "54066008",  // pharynx
    "4596009",   // larynx
    "661005",    // jaw region
    "91609006",  // mandible
    "70925003",  // maxilla
    "53620006",  // temporomandibular joint
    "45289007",  // parotid gland
    "38266002",  // entire body
    "T-D1100",   // head (SRT)
    "T-D1000",   // head and neck (SRT)
    "T-D1600",   // neck (SRT)
    "T-A0100",   // brain (SRT)
    "T-11100",   // skull (SRT)
    "T-D1200",   // face (SRT)
    "T-D0010",   // entire body (SRT)
];

/// Words of Study Description, Series Description and Protocol Name (in
/// English and German) that name a head, neck or whole-body examination.
/// Matched at the start of a word, so "CCT" does not match "ACCT".
const DESCRIPTION_WORDS: [&str; 25] = [
    "HEAD",
    "BRAIN",
    "SKULL",
    "NECK",
    "FACE",
    "FACIAL",
    "ORBIT",
    "SINUS",
    "CRANI",
    "CEREBR",
    "NEURO",
    "MANDIB",
    "DENTAL",
    "WHOLE BODY",
    "WHOLEBODY",
    "KOPF",
    "SCHAEDEL",
    "SCHÄDEL",
    "HALS",
    "GESICHT",
    "KIEFER",
    "NNH",
    "CCT",
    "KRANI",
    "GANZK",
];

/// Whether `obj` is a CT, MR or PET object of a head or neck volume whose
/// series may render a recognisable face; the reason, or `None`.
///
/// The rule (documented in the crate docs): Modality CT, MR or PT, and any
/// of
/// - Body Part Examined names the head, neck, brain, skull, face or a part
///   of them, or the whole body (a whole-body PET/CT runs from the vertex
///   or the skull base down);
/// - an Anatomic Region Sequence item holds one of those regions' codes;
/// - Study Description, Series Description or Protocol Name holds a word
///   for them (English or German: HEAD, BRAIN, KOPF, SCHÄDEL, CCT, HALS,
///   NNH, GANZKÖRPER…);
/// - cheap acquisition hints: an MR Receive Coil Name (0018,1250) for the
///   head or neck, or a CT dosimetry phantom that is the 16 cm head phantom
///   (CTDIPhantom Type Code Sequence (0018,9346) code 113690).
///
/// Every object of such a series counts, a single slice included: a
/// sagittal slice or localiser shows the profile. Nothing here looks at the
/// pixels; an object whose header says none of this (an unlabelled head
/// scan) is missed, which the node's reviewers must know.
pub fn recognisable_face_risk(obj: &InMemDicomObject) -> Option<&'static str> {
    let text = |tag| {
        obj.get(tag)
            .and_then(|e| e.value().to_str().ok())
            .map(|v| v.trim_matches(['\0', ' ']).to_uppercase())
    };
    if !matches!(
        text(Tag(0x0008, 0x0060)).as_deref(),
        Some("CT" | "MR" | "PT")
    ) {
        return None;
    }
    if let Some(part) = text(Tag(0x0018, 0x0015)) {
        let part: String = part.chars().filter(|c| c.is_ascii_alphabetic()).collect();
        if BODY_PARTS.contains(&part.as_str()) {
            return Some("Body Part Examined is the head, neck or whole body");
        }
    }
    if code_in(obj, Tag(0x0008, 0x2218), &REGION_CODES) {
        return Some("Anatomic Region Sequence codes the head, neck or whole body");
    }
    for tag in [
        Tag(0x0008, 0x1030),
        Tag(0x0008, 0x103E),
        Tag(0x0018, 0x1030),
    ] {
        if text(tag).is_some_and(|t| names_head(&t)) {
            return Some("a description names a head, neck or whole-body examination");
        }
    }
    if text(Tag(0x0018, 0x1250)).is_some_and(|coil| {
        let coil = coil.replace(['_', '-'], " ");
        ["HEAD", "NECK", "BRAIN", "NEURO"]
            .iter()
            .any(|w| coil.contains(w))
    }) {
        return Some("the MR receive coil is a head or neck coil");
    }
    if code_in(obj, Tag(0x0018, 0x9346), &["113690"]) {
        return Some("the CT dose was set for the head phantom");
    }
    None
}

/// Whether an item of sequence `tag` has a Code Value among `codes`.
fn code_in(obj: &InMemDicomObject, tag: Tag, codes: &[&str]) -> bool {
    let Some(items) = obj.get(tag).and_then(|e| e.items()) else {
        return false;
    };
    items.iter().any(|item| {
        item.get(Tag(0x0008, 0x0100))
            .and_then(|e| e.value().to_str().ok())
            .is_some_and(|v| codes.contains(&v.trim_matches(['\0', ' '])))
    })
}

/// Whether `text` (upper case) holds a description word at a word start.
fn names_head(text: &str) -> bool {
    let text = text.replace(['_', '-', '^', '/', '\\', '.', ',', '(', ')'], " ");
    DESCRIPTION_WORDS.iter().any(|w| {
        text.match_indices(w).any(|(i, _)| {
            i == 0
                || text[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| !c.is_alphanumeric())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, Length, PrimitiveValue, VR};

    fn object(modality: &str, extra: &[(Tag, &str)]) -> InMemDicomObject {
        let mut obj = InMemDicomObject::from_element_iter([DataElement::new(
            Tag(0x0008, 0x0060),
            VR::CS,
            PrimitiveValue::from(modality),
        )]);
        for &(tag, v) in extra {
            obj.put(DataElement::new(tag, VR::LO, PrimitiveValue::from(v)));
        }
        obj
    }

    #[test]
    fn head_and_neck_volumes_are_found() {
        let part = Tag(0x0018, 0x0015);
        let series = Tag(0x0008, 0x103E);
        assert!(recognisable_face_risk(&object("CT", &[(part, "HEAD")])).is_some());
        assert!(recognisable_face_risk(&object("MR", &[(part, "Head_Neck")])).is_some());
        assert!(recognisable_face_risk(&object("PT", &[(part, "WHOLEBODY")])).is_some());
        assert!(recognisable_face_risk(&object("CT", &[(series, "cCT nativ 5mm")])).is_some());
        assert!(recognisable_face_risk(&object("MR", &[(series, "t1_mprage_Schädel")])).is_some());
        assert!(recognisable_face_risk(&object("CT", &[(series, "Thorax/Abdomen")])).is_none());
        assert!(recognisable_face_risk(&object("CT", &[(series, "ACCT lung")])).is_none());
        assert!(recognisable_face_risk(&object("CT", &[(part, "CHEST")])).is_none());
        // Not a volume modality: the face policy does not apply.
        assert!(recognisable_face_risk(&object("US", &[(part, "NECK")])).is_none());
        assert!(
            recognisable_face_risk(&object("MR", &[(Tag(0x0018, 0x1250), "HeadNeck_20")]))
                .is_some()
        );
        let mut coded = object("CT", &[]);
        let item = InMemDicomObject::from_element_iter([DataElement::new(
            Tag(0x0008, 0x0100),
            VR::SH,
            PrimitiveValue::from("69536005"),
        )]);
        coded.put(DataElement::new(
            Tag(0x0008, 0x2218),
            VR::SQ,
            DataSetSequence::new(vec![item], Length::UNDEFINED),
        ));
        assert!(recognisable_face_risk(&coded).is_some());
    }
}
