//! The named, explained classes of difference between OncoFed's
//! de-identification and Orthanc 1.10's `/anonymize` (its "2021b" profile,
//! `OrthancFramework/Sources/DicomParsing/DicomModification_Anonymization2021b.impl.h`).
//! A difference that fits none of them is unexplained and fails the test.
//! The reasons are spelled out in `docs/dicom-orthanc-comparison.md`.

#![allow(dead_code)] // each test binary uses its own part

use super::compare::{Act, Leaf, Val};
use dicom_core::{Tag, VR};
use oncofed_dicom::ProfileOption;
use oncofed_dicom::profile::{Action, table};
use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

/// A class of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// The PS3.15 markers: ours writes De-identification Method (0012,0063)
    /// with its Code Sequence (0012,0064, CID 7050) and Longitudinal
    /// Temporal Information Modified (0028,0303); Orthanc 1.10 writes only
    /// Patient Identity Removed (0012,0062).
    Markers,
    /// A D code (or a choice with D, which we apply as D): we write a
    /// dummy, Orthanc empties (it applies every D as Z) or leaves an empty
    /// value empty.
    DummyWhereOrthancEmpties,
    /// D on a sequence (Content Sequence, Verifying Observer Sequence): we
    /// keep the structure with dummy text and keyed UIDs inside, Orthanc
    /// empties the sequence.
    DummySequence,
    /// A choice with X (X/Z, X/D, X/Z/D): Orthanc removes, we keep the
    /// attribute present (dummy or empty), which keeps type 1/2 attributes
    /// and the IOD valid.
    OrthancChoosesRemove,
    /// A row (or a stricter code) of the current Table E.1-1 (vendored,
    /// 2024) that Orthanc's 2021b list lacks: Orthanc keeps the value.
    NewerTableRow,
    /// Overlays (60xx) and curves (50xx): "TODO" in Orthanc's 2021b list,
    /// kept; we remove the whole plane (no Clean Graphics).
    OverlaysNotImplemented,
    /// A UID stored under VR UN: Orthanc's UID mapping acts on UI elements
    /// only and keeps it; we read the bytes and replace it.
    UidUnderUnKept,
    /// Research run: we shift dates by the person's offset and keep times
    /// of day; Orthanc cannot shift, so it removes or empties them.
    ShiftedNotRemoved,
    /// Research run: Clean Descriptors; we mask identifying content in the
    /// text, Orthanc can only keep it verbatim (`Keep`).
    DescriptorCleaned,
    /// Research run: Orthanc's `Keep` on a sequence keeps its items
    /// verbatim; we apply the table inside the items.
    KeptSequenceUncleaned,
}

impl Class {
    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Class::Markers => "markers differ",
            Class::DummyWhereOrthancEmpties => "D: our dummy / Orthanc empty",
            Class::DummySequence => "D on a sequence: we dummy inside / Orthanc empties it",
            Class::OrthancChoosesRemove => "X/Z/D choice: Orthanc X / we Z or D",
            Class::NewerTableRow => "row newer than 2021b: Orthanc keeps",
            Class::OverlaysNotImplemented => "overlays 60xx: Orthanc keeps (TODO in 2021b)",
            Class::UidUnderUnKept => "UID under VR UN: Orthanc keeps",
            Class::ShiftedNotRemoved => "dates: we shift / Orthanc removes or empties",
            Class::DescriptorCleaned => "descriptors: we clean / Orthanc keeps verbatim",
            Class::KeptSequenceUncleaned => "kept sequence: we clean inside / Orthanc verbatim",
        }
    }
}

/// Rows of the vendored table (2024) that Orthanc's 2021b list does not
/// have: Instance Creation Date/Time, Contrast/Bolus Start/Stop Time,
/// Observation DateTime.
const NEWER_ROWS: [u32; 5] = [
    0x0008_0012,
    0x0008_0013,
    0x0018_1042,
    0x0018_1043,
    0x0040_A032,
];

const MARKERS: [u32; 4] = [0x0012_0062, 0x0012_0063, 0x0012_0064, 0x0028_0303];

/// The Basic Profile code of a tag as the vendored table spells it
/// ("X/Z/D", "D", ...).
fn code(id: u32) -> Option<&'static str> {
    static CODES: OnceLock<HashMap<u32, String>> = OnceLock::new();
    CODES
        .get_or_init(|| {
            let json = include_str!("../../profile/confidentiality_profile_attributes.json");
            let rows: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
            rows.iter()
                .filter_map(|r| {
                    let id = u32::from_str_radix(r["id"].as_str()?, 16).ok()?;
                    Some((id, r["basicProfile"].as_str()?.to_owned()))
                })
                .collect()
        })
        .get(&id)
        .map(String::as_str)
}

fn research_action(id: u32) -> Option<Action> {
    let options: BTreeSet<ProfileOption> = [
        ProfileOption::RetainLongitudinalModifiedDates,
        ProfileOption::RetainPatientCharacteristics,
        ProfileOption::CleanDescriptors,
    ]
    .into_iter()
    .collect();
    table().rule(id).map(|r| r.action(&options))
}

/// The path's first tag: `(0040,0275)[0]/(0040,0009)` → 0x00400275.
fn top(path: &str) -> u32 {
    let g = u32::from_str_radix(&path[1..5], 16).unwrap_or(0);
    let e = u32::from_str_radix(&path[6..10], 16).unwrap_or(0);
    (g << 16) | e
}

/// The class of a difference at `path` (attribute `tag`), given the input's
/// attribute and what ours and Orthanc did; `None` if it is unexplained.
pub fn classify(
    research: bool,
    path: &str,
    tag: Tag,
    input: Option<&Leaf>,
    (ours, ours_leaf): (Option<Act>, Option<&Leaf>),
    (theirs, _): (Option<Act>, Option<&Leaf>),
) -> Option<Class> {
    use Act::*;
    let id = (u32::from(tag.group()) << 16) | u32::from(tag.element());
    let input_empty = input.is_some_and(|l| l.val == Val::Empty);
    let withheld = matches!(ours, Some(Removed | Emptied | Replaced));
    let code = code(id).unwrap_or("");
    if MARKERS.contains(&top(path)) {
        return Some(Class::Markers);
    }
    if matches!(tag.group() & 0xFF00, 0x5000 | 0x6000) && ours == Some(Removed) {
        return (theirs == Some(Kept)).then_some(Class::OverlaysNotImplemented);
    }
    if NEWER_ROWS.contains(&id) && theirs == Some(Kept) && withheld {
        return Some(Class::NewerTableRow);
    }
    if input.is_some_and(|l| l.vr == VR::UN) && theirs == Some(Kept) && withheld {
        return Some(Class::UidUnderUnKept).filter(|_| code.contains('U'));
    }
    if research {
        let nested = path.contains('/');
        match research_action(id) {
            Some(Action::Clean(ProfileOption::RetainLongitudinalModifiedDates))
                if matches!(theirs, Some(Removed | Emptied)) =>
            {
                // Kept by us: a time of day, or a value already empty. A
                // non-empty date kept unshifted would be our bug.
                let kept_ok = ours == Some(Kept)
                    && (input_empty || input.is_some_and(|l| !matches!(l.vr, VR::DA | VR::DT)));
                if withheld || kept_ok {
                    return Some(Class::ShiftedNotRemoved);
                }
            }
            Some(Action::Clean(ProfileOption::CleanDescriptors))
                if theirs == Some(Kept) && ours == Some(Replaced) =>
            {
                return Some(Class::DescriptorCleaned);
            }
            _ if nested && theirs == Some(Kept) && withheld => {
                return Some(Class::KeptSequenceUncleaned);
            }
            _ => {}
        }
    }
    let is_seq = ours_leaf.is_some_and(|l| matches!(l.val, Val::Seq(_)));
    if code.contains('D') && is_seq && ours == Some(Kept) && theirs == Some(Emptied) {
        return Some(Class::DummySequence);
    }
    let present =
        matches!(ours, Some(Replaced | Emptied)) || (ours == Some(Kept) && (input_empty || is_seq));
    if code.contains('X') && code.contains('/') && theirs == Some(Removed) && present {
        return Some(Class::OrthancChoosesRemove);
    }
    let orthanc_empty = theirs == Some(Emptied) || (theirs == Some(Kept) && input_empty);
    if code.contains('D') && ours == Some(Replaced) && orthanc_empty {
        return Some(Class::DummyWhereOrthancEmpties);
    }
    None
}
