//! Applying Table E.1-1 and the options to a data set, recursively.

use crate::clean::DescriptorCleaner;
use crate::dates::{shift_da, shift_dt};
use crate::profile::{Action, BasicAction, ProfileOption, table};
use crate::uid::UidMapper;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use dicom_object::mem::InMemElement;
use dicom_object::{FileDicomObject, InMemDicomObject};
use std::collections::BTreeSet;

/// The person an object belongs to, as the node knows them after linkage.
#[derive(Debug, Clone)]
pub struct Subject {
    /// Written to Patient ID and Patient's Name: the person's research
    /// pseudonym at this site (or the project's pseudonym on delivery).
    pub pseudonym: String,
    /// Days added to every date of this person (negative: earlier). One
    /// offset per person, the same at every site and in every run, so the
    /// intervals between a person's studies survive to the day.
    pub date_offset_days: i32,
    /// The person's identifying strings (names, identifiers, birth date in
    /// the header and the trust centre's IDAT), masked in free text when
    /// descriptors are cleaned.
    pub identifiers: Vec<String>,
}

/// What de-identification did to one object: counts, never values.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeidReport {
    /// Attributes removed (X), private ones included.
    pub removed: usize,
    /// Of those, private attributes.
    pub private_removed: usize,
    /// Attributes emptied (Z) or replaced by a dummy (D).
    pub replaced: usize,
    /// UIDs replaced by keyed ones (U).
    pub uids: usize,
    /// Dates shifted by the person's offset.
    pub dates_shifted: usize,
    /// Dates that could not be shifted (odd forms) and were emptied.
    pub dates_emptied: usize,
    /// Free-text values in which identifying content was masked.
    pub descriptors_cleaned: usize,
}

/// Why an object could not be de-identified.
#[derive(Debug, thiserror::Error)]
pub enum DeidError {
    /// Two options that contradict each other were asked for.
    #[error("the options {0:?} and {1:?} exclude each other; choose one")]
    ConflictingOptions(ProfileOption, ProfileOption),
    /// An option that acts on pixels was asked of the attribute walk.
    #[error("{0:?} is applied to pixel data by the pixel cleaner, not here")]
    PixelOption(ProfileOption),
}

/// De-identifies data sets under one set of options and one UID key.
#[derive(Debug, Clone)]
pub struct Deidentifier {
    options: BTreeSet<ProfileOption>,
    uids: UidMapper,
}

/// OncoFed's Implementation Class UID (PS3.7 D.3.3.2), a `2.25.` UID from
/// the UUID 437b376c-b721-4903-b477-fe6873f1c449, drawn once for OncoFed.
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.89698052377034895815737155507104891977";

/// OncoFed's Implementation Version Name (at most 16 characters).
pub const IMPLEMENTATION_VERSION_NAME: &str = "ONCOFED_0_1";

/// Attributes written by the profile itself (markers), never copied from input.
const MARKERS: [u32; 5] = [
    0x0012_0062,
    0x0012_0063,
    0x0012_0064,
    0x0028_0303,
    0x0028_0301,
];

impl Deidentifier {
    /// A de-identifier applying the Basic Profile with `options`, replacing
    /// UIDs under `uid_key` (unless UIDs are retained).
    pub fn new(
        options: impl IntoIterator<Item = ProfileOption>,
        uid_key: &[u8; 32],
    ) -> Result<Self, DeidError> {
        let options: BTreeSet<ProfileOption> = options.into_iter().collect();
        let (full, modified) = (
            ProfileOption::RetainLongitudinalFullDates,
            ProfileOption::RetainLongitudinalModifiedDates,
        );
        if options.contains(&full) && options.contains(&modified) {
            return Err(DeidError::ConflictingOptions(full, modified));
        }
        if options.contains(&ProfileOption::CleanPixelData) {
            return Err(DeidError::PixelOption(ProfileOption::CleanPixelData));
        }
        Ok(Self {
            options,
            uids: UidMapper::new(uid_key),
        })
    }

    /// The options applied (for the markers and reports).
    pub fn options(&self) -> &BTreeSet<ProfileOption> {
        &self.options
    }

    /// De-identifies `file`: the data set walked with the profile, Patient ID
    /// and Patient's Name set to the pseudonym, the markers written, and the
    /// file meta group rebuilt (new SOP Instance UID, no application entity
    /// titles, no private meta information).
    pub fn deidentify(
        &self,
        file: FileDicomObject<InMemDicomObject>,
        subject: &Subject,
    ) -> Result<(FileDicomObject<InMemDicomObject>, DeidReport), DeidError> {
        let mut meta = file.meta().clone();
        let mut dataset = file.into_inner();
        // Pixel Data has no row in Table E.1-1 (retained): moved to the
        // output as it is rather than copied by the walk, which for a large
        // object was a copy of hundreds of megabytes.
        let pixels = dataset.take(PIXEL_DATA);
        let (mut names, mut phrases) = (Vec::new(), Vec::new());
        self.withheld_values(&dataset, &mut names, &mut phrases);
        let cleaner =
            DescriptorCleaner::new(subject.identifiers.iter().chain(&names).map(String::as_str))
                .with_phrases(phrases.iter().map(String::as_str));
        let mut walk = Walk {
            de: self,
            subject,
            cleaner,
            report: DeidReport::default(),
        };
        let mut out = walk.dataset(&dataset, false);
        let pseudonym = subject.pseudonym.as_str();
        out.put(DataElement::new(
            Tag(0x0010, 0x0020),
            VR::LO,
            PrimitiveValue::from(pseudonym),
        ));
        out.put(DataElement::new(
            Tag(0x0010, 0x0010),
            VR::PN,
            PrimitiveValue::from(pseudonym),
        ));
        crate::markers::write(&mut out, &self.options, dataset.get(Tag(0x0028, 0x0301)));
        if let Some(pixels) = pixels {
            out.put(pixels);
        }
        // Only one UID may go into the meta group: a SOP Instance UID of two
        // values, or one read as bytes (`49\\46\\…`), made a file no reader
        // accepts (found by fuzzing); the meta group's own UID, mapped, then.
        let sop_instance = out.get(Tag(0x0008, 0x0018)).and_then(|e| {
            e.value()
                .to_str()
                .ok()
                .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b == b'.' || b.is_ascii_digit()))
        });
        meta.media_storage_sop_instance_uid = match sop_instance {
            Some(uid) => uid,
            None if self.options.contains(&ProfileOption::RetainUids) => {
                meta.media_storage_sop_instance_uid
            }
            None => self.uids.map(&meta.media_storage_sop_instance_uid),
        };
        // The file is OncoFed's writing now: its implementation identifies
        // OncoFed, not the modality or archive that wrote the original.
        meta.implementation_class_uid = IMPLEMENTATION_CLASS_UID.to_owned();
        meta.implementation_version_name = Some(IMPLEMENTATION_VERSION_NAME.to_owned());
        meta.source_application_entity_title = None;
        meta.sending_application_entity_title = None;
        meta.receiving_application_entity_title = None;
        meta.private_information_creator_uid = None;
        meta.private_information = None;
        let mut file = out.with_exact_meta(meta);
        file.update_meta(|_| {});
        Ok((file, walk.report))
    }
}

impl Deidentifier {
    /// The values in `ds` (sequences included) of text attributes the
    /// profile removes or replaces: person names (PN) in `names`, everything
    /// else telling (a letter, or five digits) in `phrases`. Clean
    /// Descriptors masks them wherever free text repeats them.
    fn withheld_values(
        &self,
        ds: &InMemDicomObject,
        names: &mut Vec<String>,
        phrases: &mut Vec<String>,
    ) {
        for e in ds.iter() {
            if let Value::Sequence(seq) = e.value() {
                for item in seq.items() {
                    self.withheld_values(item, names, phrases);
                }
                continue;
            }
            let tag = e.tag();
            let id = (u32::from(tag.group()) << 16) | u32::from(tag.element());
            let withheld = tag.group() % 2 == 1
                || matches!(
                    table().rule(id).map(|r| r.action(&self.options)),
                    Some(Action::Basic(b)) if !matches!(b, BasicAction::Keep | BasicAction::ReferencesWithUids | BasicAction::Uid)
                );
            if !withheld {
                continue;
            }
            // Text under VR UN (see `un_as_text`) is withheld text too.
            let (vr, text) = match un_as_text(e) {
                Some((vr, text)) => (vr, std::borrow::Cow::Owned(text)),
                None => match e.value().to_str() {
                    Ok(text) => (e.vr(), text),
                    Err(_) => continue,
                },
            };
            if !is_text(vr) {
                continue;
            }
            for value in text.split('\\').map(|v| v.trim_matches(['\0', ' '])) {
                let digits = value.bytes().filter(u8::is_ascii_digit).count();
                if !(value.chars().any(char::is_alphabetic) || digits >= 5) {
                    continue;
                }
                let list = if vr == VR::PN {
                    &mut *names
                } else {
                    &mut *phrases
                };
                if !list.iter().any(|v| v == value) {
                    list.push(value.to_owned());
                }
            }
        }
    }
}

struct Walk<'a> {
    de: &'a Deidentifier,
    subject: &'a Subject,
    cleaner: DescriptorCleaner,
    report: DeidReport,
}

impl Walk<'_> {
    /// A cleaned copy of `ds`. `strict` inside a sequence replaced by a dummy
    /// (D on a sequence, e.g. Content Sequence without Clean Structured
    /// Content): every free-text value the table does not name is dummied too.
    fn dataset(&mut self, ds: &InMemDicomObject, strict: bool) -> InMemDicomObject {
        let mut out = InMemDicomObject::new_empty();
        for element in ds.iter() {
            let tag = element.tag();
            let id = (u32::from(tag.group()) << 16) | u32::from(tag.element());
            if tag.element() == 0x0000 || MARKERS.contains(&id) {
                continue; // group lengths go stale; markers are written anew
            }
            if tag.group() % 2 == 1 {
                self.report.removed += 1;
                self.report.private_removed += 1;
                continue;
            }
            // Overlays (60xx) and curves (50xx), xx even 00–1E, are graphics:
            // without Clean Graphics the whole plane goes, not only its data
            // (a plane without data would be an invalid module).
            if is_graphics_group(tag.group()) {
                self.report.removed += 1;
                continue;
            }
            let action = match table().rule(id) {
                Some(rule) => rule.action(&self.de.options),
                // Code strings (CS: ≤ 16 upper-case characters, defined
                // terms such as an SR item's Value Type or Relationship Type)
                // keep the content item valid; they are cleaned, not dummied,
                // so an identifying word in one is still masked.
                None if strict && element.vr() == VR::CS => Action::Basic(BasicAction::Clean),
                None if strict && is_text(element.vr()) => Action::Basic(BasicAction::Dummy),
                None => Action::Keep,
            };
            if let Some(kept) = self.apply(element, action, strict) {
                out.put(kept);
            }
        }
        out
    }

    fn apply(&mut self, e: &InMemElement, action: Action, strict: bool) -> Option<InMemElement> {
        let (tag, vr) = (e.tag(), e.vr());
        match action {
            Action::Basic(BasicAction::Remove) => {
                self.report.removed += 1;
                None
            }
            Action::Basic(BasicAction::Empty | BasicAction::Either { dummy: false, .. }) => {
                self.report.replaced += 1;
                Some(empty(tag, vr))
            }
            Action::Basic(BasicAction::Dummy | BasicAction::Either { dummy: true, .. }) => {
                self.report.replaced += 1;
                match e.value() {
                    Value::Sequence(seq) => Some(self.sequence(e, seq, true)),
                    _ => Some(dummy(tag, vr)),
                }
            }
            Action::Basic(BasicAction::Uid) => self.uid(e),
            Action::Basic(BasicAction::Keep | BasicAction::ReferencesWithUids) | Action::Keep => {
                Some(self.keep(e, strict))
            }
            Action::Basic(BasicAction::Clean) | Action::Clean(_) => {
                Some(self.clean(e, action, strict))
            }
        }
    }

    fn keep(&mut self, e: &InMemElement, strict: bool) -> InMemElement {
        match e.value() {
            Value::Sequence(seq) => self.sequence(e, seq, strict),
            _ => e.clone(),
        }
    }

    fn sequence(
        &mut self,
        e: &InMemElement,
        seq: &DataSetSequence<InMemDicomObject>,
        strict: bool,
    ) -> InMemElement {
        let items: Vec<InMemDicomObject> = seq
            .items()
            .iter()
            .map(|item| self.dataset(item, strict))
            .collect();
        DataElement::new(
            e.tag(),
            VR::SQ,
            DataSetSequence::new(items, Length::UNDEFINED),
        )
    }

    /// A U attribute: each UID replaced by its keyed one, written as UI. A
    /// UID stored under another VR (UN or OB from an implicit-VR writer that
    /// did not know the tag) is read from its bytes; a value that is no UID
    /// at all is removed rather than kept.
    fn uid(&mut self, e: &InMemElement) -> Option<InMemElement> {
        if self.de.options.contains(&ProfileOption::RetainUids) {
            return Some(e.clone());
        }
        if let Value::Sequence(seq) = e.value() {
            return Some(self.sequence(e, seq, false));
        }
        let empty_ui = e.vr() == VR::UI
            && e.value()
                .to_str()
                .is_ok_and(|t| t.trim_end_matches(['\0', ' ']).is_empty());
        if empty_ui {
            return Some(e.clone()); // an empty (type 2) UID stays empty
        }
        let Some(text) = uid_text(e) else {
            self.report.removed += 1;
            return None;
        };
        let mapped: Vec<String> = text.split('\\').map(|u| self.de.uids.map(u)).collect();
        self.report.uids += mapped.len();
        Some(DataElement::new(
            e.tag(),
            VR::UI,
            PrimitiveValue::from(mapped.join("\\")),
        ))
    }

    fn clean(&mut self, e: &InMemElement, action: Action, strict: bool) -> InMemElement {
        if let Value::Sequence(seq) = e.value() {
            return self.sequence(e, seq, strict);
        }
        let dates = action == Action::Clean(ProfileOption::RetainLongitudinalModifiedDates);
        let tag = e.tag();
        // A value under VR UN (an explicit-VR writer that did not know the
        // tag) is cleaned as its dictionary VR; read as bytes, a date would
        // pass unshifted and a description uncleaned. One that cannot be
        // read so is emptied: a C attribute is never kept unexamined.
        let (vr, text) = match un_as_text(e) {
            Some((vr, text)) => (vr, std::borrow::Cow::Owned(text)),
            None if e.vr() == VR::UN => {
                self.report.replaced += 1;
                return empty(tag, VR::UN);
            }
            None => match e.value().to_str() {
                Ok(text) => (e.vr(), text),
                Err(_) => return e.clone(),
            },
        };
        let offset = self.subject.date_offset_days;
        match vr {
            VR::DA | VR::DT if dates => {
                let shifted = if vr == VR::DA {
                    shift_da(&text, offset)
                } else {
                    shift_dt(&text, offset)
                };
                match shifted {
                    Ok(v) => {
                        self.report.dates_shifted += 1;
                        DataElement::new(tag, vr, PrimitiveValue::from(v))
                    }
                    Err(_) if text.trim_end_matches(['\0', ' ']).is_empty() => e.clone(),
                    Err(_) => {
                        self.report.dates_emptied += 1;
                        empty(tag, vr)
                    }
                }
            }
            // A time of day moves with nothing when dates move by whole days.
            VR::TM => e.clone(),
            vr if is_text(vr) => {
                let (cleaned, changed) = self.cleaner.clean(&text);
                if changed {
                    self.report.descriptors_cleaned += 1;
                    DataElement::new(tag, vr, PrimitiveValue::from(cleaned))
                } else {
                    e.clone()
                }
            }
            _ => e.clone(),
        }
    }
}

/// The UID(s) of a U attribute as text: a UI value, or the bytes of a UN/OB
/// value when they spell UIDs (digits, dots, `\\` between values).
fn uid_text(e: &InMemElement) -> Option<String> {
    let text = match (e.vr(), e.value()) {
        (VR::UI, v) => v.to_str().ok()?.into_owned(),
        (_, Value::Primitive(PrimitiveValue::U8(bytes))) => {
            String::from_utf8(bytes.to_vec()).ok()?
        }
        _ => return None,
    };
    let text = text.trim_end_matches(['\0', ' ']).to_owned();
    let valid = !text.is_empty()
        && text.split('\\').all(|u| {
            !u.is_empty() && u.len() <= 64 && u.bytes().all(|c| c.is_ascii_digit() || c == b'.')
        });
    valid.then_some(text)
}

/// Pixel Data (7FE0,0010).
const PIXEL_DATA: Tag = Tag(0x7FE0, 0x0010);

/// An element stored under VR UN whose bytes are text: its VR from the
/// standard dictionary and the text (PS3.5 6.2.2: UN holds the value as the
/// known VR would encode it).
fn un_as_text(e: &InMemElement) -> Option<(VR, String)> {
    if e.vr() != VR::UN {
        return None;
    }
    let vr = StandardDataDictionary.by_tag(e.tag())?.vr().exact()?;
    let Value::Primitive(PrimitiveValue::U8(bytes)) = e.value() else {
        return None;
    };
    if !is_text_or_date(vr) {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    Some((vr, text.to_owned()))
}

fn is_text_or_date(vr: VR) -> bool {
    is_text(vr) || matches!(vr, VR::DA | VR::DT | VR::TM)
}

/// A repeating curve (50xx) or overlay (60xx) group, xx even in 00–1E.
fn is_graphics_group(group: u16) -> bool {
    matches!(group & 0xFF00, 0x5000 | 0x6000) && group & 0x00FF <= 0x1E && group.is_multiple_of(2)
}

/// Free-text and identifier VRs: what may carry a name or a number.
fn is_text(vr: VR) -> bool {
    matches!(
        vr,
        VR::AE | VR::CS | VR::LO | VR::LT | VR::PN | VR::SH | VR::ST | VR::UC | VR::UT | VR::UR
    )
}

fn empty(tag: Tag, vr: VR) -> InMemElement {
    if vr == VR::SQ {
        return DataElement::new(
            tag,
            VR::SQ,
            DataSetSequence::new(Vec::<InMemDicomObject>::new(), Length::UNDEFINED),
        );
    }
    DataElement::new(tag, vr, PrimitiveValue::Empty)
}

/// A non-zero-length dummy consistent with `vr`, holding nothing of the input.
fn dummy(tag: Tag, vr: VR) -> InMemElement {
    let text = |s: &str| DataElement::new(tag, vr, PrimitiveValue::from(s));
    match vr {
        VR::AE | VR::CS | VR::LO | VR::LT | VR::PN | VR::SH | VR::ST | VR::UC | VR::UT => {
            text("ANONYMIZED")
        }
        VR::DA => text("19000101"),
        VR::DT => text("19000101000000"),
        VR::TM => text("000000"),
        VR::AS => text("000D"),
        VR::DS | VR::IS => text("0"),
        VR::US => DataElement::new(tag, vr, PrimitiveValue::from(0u16)),
        VR::SS => DataElement::new(tag, vr, PrimitiveValue::from(0i16)),
        VR::UL => DataElement::new(tag, vr, PrimitiveValue::from(0u32)),
        VR::SL => DataElement::new(tag, vr, PrimitiveValue::from(0i32)),
        VR::FL => DataElement::new(tag, vr, PrimitiveValue::from(0f32)),
        VR::FD => DataElement::new(tag, vr, PrimitiveValue::from(0f64)),
        // UIDs get a U rule in the table; URIs, binary and tags: empty.
        _ => empty(tag, vr),
    }
}
