//! The one error type of the crate: where (file, line, field) and what.

use std::fmt;
use std::path::PathBuf;

/// A VCF/BCF input the reader refuses, or an I/O failure while reading or
/// writing one.
///
/// It names the file, the 1-based line (the record number in a BCF) and the
/// field (`POS`, `FORMAT/AD`, `INFO/CSQ`, `header`), and says what is wrong
/// in a fixed text: it never quotes genotype or sample data, only field names
/// and counts, so it can be logged and shown to the submitting lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VcfError {
    /// The file being read (`<memory>` for [`crate::VcfReader::from_bytes`]).
    pub file: PathBuf,
    /// 1-based line of a text VCF, record number of a BCF; `None` for whole-file problems.
    pub line: Option<u64>,
    /// The field at fault: a column name (`POS`, `REF`), `FORMAT/AD`, `INFO/CSQ`, or `header`.
    pub field: Option<String>,
    /// What is wrong, and where useful how to fix it.
    pub message: String,
}

impl VcfError {
    /// An error about the whole file.
    pub(crate) fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        VcfError {
            file: file.into(),
            line: None,
            field: None,
            message: message.into(),
        }
    }

    /// An error about one field on one line.
    pub(crate) fn at(
        file: impl Into<PathBuf>,
        line: u64,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        VcfError {
            file: file.into(),
            line: Some(line),
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

impl fmt::Display for VcfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, " field {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for VcfError {}

/// A field-level problem found while parsing one line, before the file and
/// line are known; [`FieldError::locate`] turns it into a [`VcfError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn locate(self, file: &std::path::Path, line: u64) -> VcfError {
        VcfError::at(file, line, self.field, self.message)
    }
}
