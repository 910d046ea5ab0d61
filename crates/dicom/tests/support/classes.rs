//! The named, explained classes of difference between OncoFed's
//! de-identification and Orthanc's `/anonymize` (2021b).

#![allow(dead_code)] // each test binary uses its own part

use super::compare::{Act, Leaf};
use dicom_core::Tag;

/// A class of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Placeholder.
    Todo,
}

impl Class {
    /// Short name for tables.
    pub fn name(self) -> &'static str {
        "todo"
    }
}

/// The class of a difference at `path`, or `None` if it is unexplained.
pub fn classify(
    _research: bool,
    _path: &str,
    _tag: Tag,
    _input: Option<&Leaf>,
    _ours: (Option<Act>, Option<&Leaf>),
    _theirs: (Option<Act>, Option<&Leaf>),
) -> Option<Class> {
    None
}
