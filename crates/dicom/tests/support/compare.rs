//! Attribute-by-attribute comparison of two de-identified versions of one
//! input: every attribute of the input and the outputs, by its path into
//! sequences (`(0008,1115)[0]/(0008,1140)[1]/(0008,1155)`), and what each
//! tool did to it (kept, removed, emptied, replaced, added).

#![allow(dead_code)] // each test binary uses its own part

use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_object::InMemDicomObject;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

/// A value as compared: text (trimmed of padding), a digest of bytes, or a
/// sequence's item count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// Zero length (or only padding).
    Empty,
    /// A textual value, trimmed of `\0` and spaces.
    Text(String),
    /// Binary: length and a hash of the bytes.
    Bytes(usize, u64),
    /// A sequence with this many items.
    Seq(usize),
}

/// One attribute at a path.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The attribute's own tag (the path's last step).
    pub tag: Tag,
    /// Its VR as read.
    pub vr: VR,
    /// Its value.
    pub val: Val,
}

/// Every attribute of `ds`, by path, sequences included.
pub fn flatten(ds: &InMemDicomObject) -> BTreeMap<String, Leaf> {
    let mut out = BTreeMap::new();
    walk(ds, "", &mut out);
    out
}

fn walk(ds: &InMemDicomObject, prefix: &str, out: &mut BTreeMap<String, Leaf>) {
    for e in ds.iter() {
        let tag = e.tag();
        if tag.element() == 0 {
            continue; // group lengths
        }
        let path = format!("{prefix}({:04X},{:04X})", tag.group(), tag.element());
        let val = match e.value() {
            Value::Sequence(seq) => {
                for (i, item) in seq.items().iter().enumerate() {
                    walk(item, &format!("{path}[{i}]/"), out);
                }
                if seq.items().is_empty() {
                    Val::Empty
                } else {
                    Val::Seq(seq.items().len())
                }
            }
            Value::PixelSequence(px) => {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                let mut len = 0;
                for f in px.fragments() {
                    f.hash(&mut h);
                    len += f.len();
                }
                Val::Bytes(len, h.finish())
            }
            Value::Primitive(p) => match super::text(e) {
                Some(t) if textual(e.vr()) || !t.is_empty() && t.len() < 200 => {
                    if t.is_empty() {
                        Val::Empty
                    } else {
                        Val::Text(t)
                    }
                }
                _ => {
                    let bytes = p.to_bytes();
                    if bytes.is_empty() {
                        Val::Empty
                    } else {
                        let mut h = std::collections::hash_map::DefaultHasher::new();
                        bytes.hash(&mut h);
                        Val::Bytes(bytes.len(), h.finish())
                    }
                }
            },
        };
        out.insert(
            path,
            Leaf {
                tag,
                vr: e.vr(),
                val,
            },
        );
    }
}

fn textual(vr: VR) -> bool {
    !matches!(
        vr,
        VR::OB
            | VR::OW
            | VR::OF
            | VR::OD
            | VR::OL
            | VR::OV
            | VR::UN
            | VR::US
            | VR::SS
            | VR::UL
            | VR::SL
            | VR::FL
            | VR::FD
            | VR::AT
            | VR::SV
            | VR::UV
    )
}

/// What a tool did to the attribute at one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Act {
    /// Present with the input's value.
    Kept,
    /// Absent from the output.
    Removed,
    /// Present, zero length (or a sequence without items).
    Emptied,
    /// Present with another, non-empty value.
    Replaced,
    /// Absent from the input, present in the output.
    Added,
}

impl Act {
    /// Lower-case name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Act::Kept => "kept",
            Act::Removed => "removed",
            Act::Emptied => "emptied",
            Act::Replaced => "replaced",
            Act::Added => "added",
        }
    }
}

/// What was done at `path`, given the input's and an output's attributes.
pub fn act(input: Option<&Leaf>, output: Option<&Leaf>) -> Option<Act> {
    match (input, output) {
        (None, None) => None,
        (None, Some(_)) => Some(Act::Added),
        (Some(_), None) => Some(Act::Removed),
        (Some(i), Some(o)) if o.val == Val::Empty && i.val != Val::Empty => Some(Act::Emptied),
        // A sequence kept with items: the items' attributes say the rest.
        (Some(i), Some(o))
            if i.val == o.val || matches!((&i.val, &o.val), (Val::Seq(_), Val::Seq(_))) =>
        {
            Some(Act::Kept)
        }
        (Some(_), Some(_)) => Some(Act::Replaced),
    }
}

/// The path of the sequence item holding `path`'s attribute, if nested:
/// `(0008,1115)[0]/(0008,1155)` → `(0008,1115)`.
pub fn parent(path: &str) -> Option<&str> {
    let cut = path.rfind('/')?;
    let item = &path[..cut];
    Some(&item[..item.rfind('[')?])
}

/// Whether an attribute is absent or empty in `out`, or its parent sequence
/// is (its fate was then decided by the parent's).
pub fn gone_with_parent(path: &str, out: &BTreeMap<String, Leaf>) -> bool {
    let mut p = parent(path);
    while let Some(up) = p {
        match out.get(up) {
            None => return true,
            Some(l) if l.val == Val::Empty => return true,
            Some(_) => p = parent(up),
        }
    }
    false
}
