//! Documents, NDJSON lines and Bundles (FHIR R4 §2.36 `Bundle`, §3.1.0 JSON), and the
//! resolution of `subject` references (R4 §2.3.0.4 "Resolving references in Bundles").

// A MapError is built at most once per input and carries owned location strings;
// boxing it would only make matching on `kind` clumsier for callers.
#![allow(clippy::result_large_err)]

use crate::datatypes::{Reference, Text, text};
use crate::error::{FieldError, MapError, MapErrorKind, clip, from_json};
use crate::resource_types::Kind;
use crate::resources::{Cx, condition, medication, observation, patient, procedure};
use crate::{Batch, SubjectConsent};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;

/// Where the input came from, for error messages.
#[derive(Clone, Copy)]
struct Loc<'s> {
    source: &'s str,
    line: Option<usize>,
}

impl Loc<'_> {
    fn err(&self, entry: Option<usize>, resource_type: Option<&str>, e: FieldError) -> MapError {
        MapError {
            source: self.source.to_owned(),
            line: self.line,
            entry,
            resource_type: resource_type.map(str::to_owned),
            field: e.field,
            kind: e.kind,
        }
    }
}

/// Maps a `.json` file: one Bundle or one resource (UTF-8, an optional BOM is skipped).
///
/// `source` names the input in errors (the file name). References `Patient/<id>` are kept
/// as the local id `<id>` even when that Patient is not in this document.
pub fn map_document(bytes: &[u8], source: &str) -> Result<Batch, MapError> {
    let loc = Loc { source, line: None };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let before = &bytes[..e.valid_up_to()];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        loc.err(
            None,
            None,
            FieldError::whole(MapErrorKind::NotUtf8 { line, column }),
        )
    })?;
    if text.trim_matches(JSON_WS).is_empty() {
        return Err(loc.err(None, None, FieldError::whole(MapErrorKind::Empty)));
    }
    map_text(text, loc)
}

/// Maps one line of an `.ndjson` file (FHIR Bulk Data): one resource or one Bundle.
///
/// `line_no` is the caller's (1-based) line number, shown in errors. A blank line gives
/// an empty batch, so a trailing newline is harmless.
pub fn map_ndjson_line(line: &str, source: &str, line_no: usize) -> Result<Batch, MapError> {
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    if line.trim_matches(JSON_WS).is_empty() {
        return Ok(Batch::default());
    }
    map_text(
        line,
        Loc {
            source,
            line: Some(line_no),
        },
    )
}

/// Maps one line of an `.ndjson` file given as bytes, as [`map_ndjson_line`] does once
/// the bytes are UTF-8.
///
/// Readers that cap line length read bytes, not strings, so that a line that is not
/// UTF-8 (FHIR R4 §3.2.0.2) is one rejected line ([`MapErrorKind::NotUtf8`], naming the
/// file line and the byte column) instead of an I/O error that ends the whole file.
pub fn map_ndjson_bytes(line: &[u8], source: &str, line_no: usize) -> Result<Batch, MapError> {
    let text = std::str::from_utf8(line).map_err(|e| {
        let kind = MapErrorKind::NotUtf8 {
            line: line_no,
            column: e.valid_up_to() + 1,
        };
        let loc = Loc {
            source,
            line: Some(line_no),
        };
        loc.err(None, None, FieldError::whole(kind))
    })?;
    map_ndjson_line(text, source, line_no)
}

/// JSON whitespace (RFC 8259 §2).
const JSON_WS: &[char] = &[' ', '\t', '\n', '\r'];

fn map_text(text: &str, loc: Loc<'_>) -> Result<Batch, MapError> {
    let rt = resource_type(text).map_err(|e| match e.kind {
        // A syntax error found while looking for the type: name the Bundle entry, if any.
        MapErrorKind::Json { .. } | MapErrorKind::Truncated { .. } => match failing_entry(text) {
            Some(i) => loc.err(Some(i), None, FieldError::whole(e.kind)),
            None => loc.err(None, None, e),
        },
        _ => loc.err(None, None, e),
    })?;
    let kind = Kind::of(&rt).ok_or_else(|| {
        loc.err(
            None,
            None,
            FieldError::whole(MapErrorKind::UnknownResourceType { found: clip(&rt) }),
        )
    })?;
    let mut batch = Batch::default();
    if kind == Kind::Bundle {
        map_bundle(text, loc, &mut batch)?;
    } else {
        if kind == Kind::NotMapped {
            // Mapped types are validated by their typed parse; this one only here.
            serde_json::from_str::<IgnoredAny>(text)
                .map_err(|e| loc.err(None, Some(&rt), FieldError::whole(from_json(&e))))?;
        }
        let resolver = Resolver::default();
        let cx = Cx {
            resolver: &resolver,
            resource_type: &rt,
            full_url: None,
            source: loc.source,
            line: loc.line.unwrap_or(0),
            entry: None,
        };
        map_resource(kind, text, &cx, &mut batch).map_err(|e| loc.err(None, Some(&rt), e))?;
    }
    batch.refresh_vital_status();
    Ok(batch)
}

/// `Bundle.type` values whose entries are mapped.
const BUNDLE_TYPES: &[&str] = &["transaction", "batch", "collection", "searchset", "message"];

#[derive(Deserialize)]
struct BundleDoc<'a> {
    #[serde(borrow, default, rename = "type")]
    type_: Option<Text<'a>>,
    #[serde(borrow, default)]
    entry: Vec<Entry<'a>>,
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow, default, rename = "fullUrl")]
    full_url: Option<Text<'a>>,
    #[serde(borrow, default)]
    resource: Option<&'a RawValue>,
}

/// Maps every `Bundle.entry.resource`: Patients first (so that `urn:uuid:` references
/// resolve whatever the entry order), then the rest, in entry order.
fn map_bundle(json: &str, loc: Loc<'_>, batch: &mut Batch) -> Result<(), MapError> {
    let doc: BundleDoc<'_> = parse(json).map_err(|mut e| {
        // Name the entry of an error inside one: `entry[7].resource...` → entry 7.
        let entry = e.field.as_deref().and_then(|f| {
            let (i, rest) = f.strip_prefix("entry[")?.split_once(']')?;
            Some((i.parse().ok()?, rest.trim_start_matches('.').to_owned()))
        });
        match entry {
            Some((i, rest)) => {
                let rest = rest
                    .strip_prefix("resource")
                    .map_or(rest.as_str(), |r| r.trim_start_matches('.'));
                e.field = Some(rest.to_owned()).filter(|f| !f.is_empty());
                loc.err(Some(i), None, e)
            }
            // Syntax errors inside an entry's resource carry no index in the path.
            None => match failing_entry(json) {
                Some(i) => loc.err(Some(i), None, FieldError::whole(e.kind)),
                None => loc.err(None, Some("Bundle"), e),
            },
        }
    })?;
    let type_ = text_of(&doc.type_);
    if !BUNDLE_TYPES.contains(&type_) {
        let kind = MapErrorKind::BundleType { found: clip(type_) };
        return Err(loc.err(None, Some("Bundle"), FieldError::new("type", kind)));
    }
    // Pass 1: classify every entry, map Patients, learn which fullUrl is which Patient.
    let mut kinds = Vec::with_capacity(doc.entry.len());
    let mut resolver = Resolver::default();
    for (i, entry) in doc.entry.iter().enumerate() {
        let raw = entry
            .resource
            .ok_or_else(|| {
                loc.err(
                    Some(i),
                    None,
                    FieldError::new("resource", MapErrorKind::EntryWithoutResource),
                )
            })?
            .get();
        let rt = resource_type(raw).map_err(|e| loc.err(Some(i), None, e))?;
        let kind = Kind::of(&rt).ok_or_else(|| {
            let kind = MapErrorKind::UnknownResourceType { found: clip(&rt) };
            loc.err(Some(i), None, FieldError::new("resourceType", kind))
        })?;
        let full_url = text(&entry.full_url);
        if kind == Kind::Patient {
            let no_refs = Resolver::default();
            let cx = entry_cx(&no_refs, &rt, full_url, loc, i);
            map_resource(kind, raw, &cx, batch).map_err(|e| loc.err(Some(i), Some(&rt), e))?;
            if let (Some(url), Some(p)) = (full_url, batch.patients.last()) {
                resolver
                    .patients
                    .insert(Cow::Borrowed(url), p.local_id.clone());
            }
        }
        kinds.push((kind, rt));
    }
    // Pass 2: everything else.
    for (i, (entry, (kind, rt))) in doc.entry.iter().zip(&kinds).enumerate() {
        if *kind == Kind::Patient {
            continue;
        }
        let raw = entry.resource.map_or("", RawValue::get);
        let cx = entry_cx(&resolver, rt, text(&entry.full_url), loc, i);
        map_resource(*kind, raw, &cx, batch).map_err(|e| loc.err(Some(i), Some(rt), e))?;
    }
    Ok(())
}

/// The index of the `Bundle.entry` element in which `json` stops parsing, if it does.
fn failing_entry(json: &str) -> Option<usize> {
    use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use std::cell::Cell;
    use std::fmt;

    /// Counts complete entries; `inside` is set while the entry array is being read.
    #[derive(Clone, Copy)]
    struct Count<'c> {
        done: &'c Cell<usize>,
        inside: &'c Cell<bool>,
    }
    impl<'de> Visitor<'de> for Count<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a Bundle")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<Text<'de>>()? {
                if &*key == "entry" {
                    self.inside.set(true);
                    map.next_value_seed(self)?;
                    self.inside.set(false);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {
                self.done.set(self.done.get() + 1);
            }
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for Count<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    let (done, inside) = (Cell::new(0), Cell::new(false));
    let mut de = serde_json::Deserializer::from_str(json);
    let failed = Count {
        done: &done,
        inside: &inside,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    .is_err();
    (failed && inside.get()).then(|| done.get())
}

fn text_of<'s>(t: &'s Option<Text<'_>>) -> &'s str {
    t.as_deref().unwrap_or("")
}

fn entry_cx<'r>(
    resolver: &'r Resolver<'r>,
    rt: &'r str,
    full_url: Option<&'r str>,
    loc: Loc<'r>,
    i: usize,
) -> Cx<'r> {
    Cx {
        resolver,
        resource_type: rt,
        full_url,
        source: loc.source,
        line: loc.line.unwrap_or(0),
        entry: Some(i),
    }
}

/// Maps one resource of a known kind into `batch`.
fn map_resource(kind: Kind, raw: &str, cx: &Cx<'_>, batch: &mut Batch) -> Result<(), FieldError> {
    batch.resources += 1;
    match kind {
        Kind::Patient => patient::map(parse(raw)?, cx, batch),
        Kind::Condition => condition::map(parse(raw)?, cx, batch),
        Kind::Observation => observation::map(parse(raw)?, cx, batch),
        Kind::Procedure => procedure::map(parse(raw)?, cx, batch),
        Kind::Medication => medication::map(parse(raw)?, cx, batch),
        Kind::Consent => {
            #[derive(Deserialize)]
            struct Consent<'a> {
                #[serde(borrow, default)]
                patient: Option<Reference<'a>>,
            }
            let c: Consent<'_> = parse(raw)?;
            let hint = "a Consent needs a patient referencing its Patient";
            let subject = cx.subject(&c.patient, "patient", hint)?;
            let resource = parse(raw)?;
            // The trust centre's own parser and rules: what it would refuse with 400 is
            // refused here, naming the element, so that only this unit is rejected.
            oncofed_consent::parse_consent(&resource).map_err(|e| {
                FieldError::new(e.field, MapErrorKind::InvalidConsent { problem: e.problem })
            })?;
            batch.consents.push(SubjectConsent { subject, resource });
            Ok(())
        }
        Kind::Bundle | Kind::NotMapped => {
            *batch
                .not_mapped
                .entry(cx.resource_type.to_owned())
                .or_default() += 1;
            Ok(())
        }
    }
}

/// Parses `raw` into `T`; on failure parses again, tracking the path, to name the element.
fn parse<'a, T: Deserialize<'a>>(raw: &'a str) -> Result<T, FieldError> {
    serde_json::from_str(raw).map_err(|first| {
        let mut de = serde_json::Deserializer::from_str(raw);
        match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(e) => {
                // `?` stands for a key serde had not finished reading.
                let path = e.path().to_string();
                let path = path.trim_end_matches('?').trim_end_matches('.');
                let field = (!path.is_empty()).then(|| path.to_owned());
                FieldError {
                    field,
                    kind: from_json(e.inner()),
                }
            }
            Ok(_) => FieldError::whole(from_json(&first)),
        }
    })
}

/// The `resourceType` of a JSON object: read from the first member when it is there
/// (as in every exporter we know), else by a full parse.
fn resource_type(raw: &str) -> Result<Cow<'_, str>, FieldError> {
    let fast = || {
        let s = raw
            .trim_start_matches(JSON_WS)
            .strip_prefix('{')?
            .trim_start_matches(JSON_WS);
        let s = s
            .strip_prefix("\"resourceType\"")?
            .trim_start_matches(JSON_WS);
        let s = s
            .strip_prefix(':')?
            .trim_start_matches(JSON_WS)
            .strip_prefix('"')?;
        let t = &s[..s.find('"')?];
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(t)
    };
    if let Some(t) = fast() {
        return Ok(Cow::Borrowed(t));
    }
    if !raw.trim_start_matches(JSON_WS).starts_with('{') {
        return Err(FieldError::whole(MapErrorKind::NotAnObject));
    }
    #[derive(Deserialize)]
    struct Head<'a> {
        #[serde(borrow, default, rename = "resourceType")]
        resource_type: Option<Text<'a>>,
    }
    let head: Head<'_> = parse(raw)?;
    match head.resource_type {
        Some(t) if !t.is_empty() => Ok(t.0),
        _ => Err(FieldError::whole(MapErrorKind::MissingResourceType)),
    }
}

/// Checks a FHIR `id` (R4 §2.24.0.1: `[A-Za-z0-9\-\.]{1,64}`) without echoing it.
pub(crate) fn check_id(id: &str, field: &str) -> Result<String, FieldError> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok {
        Ok(id.to_owned())
    } else {
        Err(FieldError::new(field, MapErrorKind::InvalidId))
    }
}

/// Resolves references to Patients: `urn:uuid:` (and other) fullUrls of Patient entries
/// in the same Bundle, and `Patient/<id>` anywhere.
#[derive(Default)]
pub(crate) struct Resolver<'a> {
    /// `Bundle.entry.fullUrl` of each Patient entry → its local id.
    patients: HashMap<Cow<'a, str>, String>,
}

impl Resolver<'_> {
    /// The local patient id a reference element (`subject`, `patient`) points to.
    pub fn subject(
        &self,
        r: Option<&Reference<'_>>,
        field: &str,
        hint: &'static str,
    ) -> Result<String, FieldError> {
        let r = r.ok_or_else(|| FieldError::new(field, MapErrorKind::Missing { hint }))?;
        let field = format!("{field}.reference");
        let s = text(&r.reference)
            .ok_or_else(|| FieldError::new(&*field, MapErrorKind::Missing { hint }))?;
        if let Some(id) = self.patients.get(s) {
            return Ok(id.clone());
        }
        if s.starts_with("urn:uuid:") {
            return Err(FieldError::new(field, MapErrorKind::UnresolvedReference));
        }
        match s.strip_prefix("Patient/") {
            Some(id) => check_id(id, &field),
            None => Err(FieldError::new(field, MapErrorKind::ReferenceFormat)),
        }
    }
}
