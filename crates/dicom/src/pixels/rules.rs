//! The rule table of burned-in regions: which rectangles of which
//! devices' images carry text (the idea of CTP's DicomPixelAnonymizer
//! script, in a format of OncoFed's own). JSON, read with `serde_json`,
//! which the crate already compiles for the profile table, so the table
//! adds no build cost; JSON has no comments, so each rule carries its
//! `source`.
//!
//! ```json
//! { "rules": [ {
//!     "name": "acme-sonoscope-640x480",
//!     "source": "where the regions were measured",
//!     "modality": "US",
//!     "manufacturer": { "contains": "acme" },
//!     "model": { "equals": "SonoScope 5" },
//!     "rows": 480, "columns": 640,
//!     "regions": [[0, 0, 640, 56]]
//! } ] }
//! ```
//!
//! `modality`, `manufacturer` and `model` are optional (absent: any);
//! `contains` is a case-insensitive substring, `equals` the exact value
//! (padding trimmed). Rows and Columns must equal the image's. Regions are
//! `[x, y, width, height]` in pixels, inside the image size of the rule.

use super::Region;
use dicom_core::Tag;
use dicom_object::InMemDicomObject;
use serde::Deserialize;
use std::path::Path;

/// Why a rule table could not be loaded; names the file and the rule.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file could not be read.
    #[error("{file}: cannot read the rule table: {source}")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a rule table (bad JSON or a missing field).
    #[error("{file}: line {line}, column {column}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// What serde found.
        message: String,
    },
    /// A rule is well-formed JSON but cannot be right.
    #[error("{file}: rule {rule:?}: {problem}")]
    Rule {
        /// The file.
        file: String,
        /// The rule's name (or its position, if it has no name).
        rule: String,
        /// What is wrong with it.
        problem: RuleProblem,
    },
}

/// What is wrong with one rule of a table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleProblem {
    /// No regions.
    #[error("it has no regions; remove it or add one")]
    NoRegions,
    /// A region is empty or reaches past the image size of the rule.
    #[error("region {index} ({region}) is empty or outside {columns}x{rows}")]
    RegionOutside {
        /// Position of the region in the rule.
        index: usize,
        /// The region.
        region: Region,
        /// The rule's Columns.
        columns: usize,
        /// The rule's Rows.
        rows: usize,
    },
    /// An empty match string would match every device.
    #[error("an empty {0} match matches every device; leave the field out instead")]
    EmptyMatch(&'static str),
    /// Two rules share a name.
    #[error("its name is used by an earlier rule")]
    DuplicateName,
}

/// How a text attribute of the object is matched.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum TextMatch {
    /// Case-insensitive substring.
    Contains(String),
    /// The exact value, trailing padding trimmed.
    Equals(String),
}

impl TextMatch {
    fn matches(&self, value: Option<&str>) -> bool {
        let Some(value) = value else {
            return false;
        };
        match self {
            Self::Contains(s) => value.to_lowercase().contains(&s.to_lowercase()),
            Self::Equals(s) => value == s,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Self::Contains(s) | Self::Equals(s) => s.trim().is_empty(),
        }
    }
}

/// One rule: the regions burned in on one kind of device at one image size.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A unique name, quoted in reports.
    #[serde(default)]
    pub name: String,
    /// Where the regions come from.
    pub source: String,
    /// Modality (0008,0060), exact; absent: any.
    #[serde(default)]
    pub modality: Option<String>,
    /// Manufacturer (0008,0070); absent: any.
    #[serde(default)]
    pub manufacturer: Option<TextMatch>,
    /// Manufacturer's Model Name (0008,1090); absent: any.
    #[serde(default)]
    pub model: Option<TextMatch>,
    /// Rows (0028,0010), exact.
    pub rows: usize,
    /// Columns (0028,0011), exact.
    pub columns: usize,
    /// The rectangles to blank.
    pub regions: Vec<Region>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    rules: Vec<Rule>,
}

/// The attributes rules are matched on, read once per object.
pub(crate) struct Device {
    modality: Option<String>,
    manufacturer: Option<String>,
    model: Option<String>,
}

impl Device {
    pub fn read(obj: &InMemDicomObject) -> Self {
        let text = |tag| {
            obj.get(tag)
                .and_then(|e| e.value().to_str().ok())
                .map(|v| v.trim_matches(['\0', ' ']).to_owned())
        };
        Self {
            modality: text(Tag(0x0008, 0x0060)),
            manufacturer: text(Tag(0x0008, 0x0070)),
            model: text(Tag(0x0008, 0x1090)),
        }
    }
}

impl Rule {
    /// Whether the rule applies to `device` at `columns`×`rows`.
    pub(crate) fn matches(&self, device: &Device, columns: usize, rows: usize) -> bool {
        self.rows == rows
            && self.columns == columns
            && self
                .modality
                .as_deref()
                .is_none_or(|m| device.modality.as_deref() == Some(m))
            && self
                .manufacturer
                .as_ref()
                .is_none_or(|m| m.matches(device.manufacturer.as_deref()))
            && self
                .model
                .as_ref()
                .is_none_or(|m| m.matches(device.model.as_deref()))
    }

    fn check(&self) -> Result<(), RuleProblem> {
        if self.regions.is_empty() {
            return Err(RuleProblem::NoRegions);
        }
        for (what, m) in [("manufacturer", &self.manufacturer), ("model", &self.model)] {
            if m.as_ref().is_some_and(TextMatch::is_empty) {
                return Err(RuleProblem::EmptyMatch(what));
            }
        }
        for (index, &region) in self.regions.iter().enumerate() {
            let inside = region.width > 0
                && region.height > 0
                && region
                    .x
                    .checked_add(region.width)
                    .is_some_and(|r| r <= self.columns)
                && region
                    .y
                    .checked_add(region.height)
                    .is_some_and(|b| b <= self.rows);
            if !inside {
                return Err(RuleProblem::RegionOutside {
                    index,
                    region,
                    columns: self.columns,
                    rows: self.rows,
                });
            }
        }
        Ok(())
    }
}

/// Parses and checks a rule table; `file` names it in errors.
pub(crate) fn parse(json: &str, file: &str) -> Result<Vec<Rule>, RulesError> {
    let table: Table = serde_json::from_str(json).map_err(|e| RulesError::Syntax {
        file: file.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let mut names = std::collections::BTreeSet::new();
    for (i, rule) in table.rules.iter().enumerate() {
        let label = if rule.name.is_empty() {
            format!("#{}", i + 1)
        } else {
            rule.name.clone()
        };
        let fail = |problem| RulesError::Rule {
            file: file.to_owned(),
            rule: label.clone(),
            problem,
        };
        rule.check().map_err(fail)?;
        if !rule.name.is_empty() && !names.insert(rule.name.as_str()) {
            return Err(fail(RuleProblem::DuplicateName));
        }
    }
    Ok(table.rules)
}

/// Reads and checks the rule table at `path`.
pub(crate) fn load(path: &Path) -> Result<Vec<Rule>, RulesError> {
    let file = path.display().to_string();
    let json = std::fs::read_to_string(path).map_err(|source| RulesError::Io {
        file: file.clone(),
        source,
    })?;
    parse(&json, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_loads() {
        let rules = parse(super::super::DEFAULT_RULES, "regions.json").unwrap();
        assert!(rules.len() >= 4);
        assert!(rules.iter().all(|r| !r.source.trim().is_empty()));
    }

    #[test]
    fn errors_name_the_file_and_the_rule() {
        let json = r#"{"rules": [{"name": "wide", "source": "s", "rows": 10, "columns": 10,
            "regions": [[5, 0, 6, 2]]}]}"#;
        let e = parse(json, "site.json").unwrap_err().to_string();
        assert!(
            e.contains("site.json") && e.contains("\"wide\"") && e.contains("outside"),
            "{e}"
        );
        let e = parse(r#"{"rules": [{"source": "s"}]}"#, "x.json")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.json: line 1"), "{e}");
        let json = r#"{"rules": [{"source": "s", "rows": 1, "columns": 1, "regions": [[0,0,1,1]],
            "model": {"contains": " "}}]}"#;
        let e = parse(json, "y.json").unwrap_err().to_string();
        assert!(
            e.contains("rule \"#1\"") && e.contains("empty model"),
            "{e}"
        );
    }

    #[test]
    fn matching_is_substring_without_case_or_exact() {
        let rule = |m: TextMatch| Rule {
            name: "r".into(),
            source: "s".into(),
            modality: Some("US".into()),
            manufacturer: Some(m),
            model: None,
            rows: 4,
            columns: 5,
            regions: vec![Region::new(0, 0, 1, 1)],
        };
        let device = Device {
            modality: Some("US".into()),
            manufacturer: Some("ACME Medical".into()),
            model: None,
        };
        assert!(rule(TextMatch::Contains("acme".into())).matches(&device, 5, 4));
        assert!(!rule(TextMatch::Contains("acme".into())).matches(&device, 4, 5));
        assert!(rule(TextMatch::Equals("ACME Medical".into())).matches(&device, 5, 4));
        assert!(!rule(TextMatch::Equals("acme medical".into())).matches(&device, 5, 4));
        let other = Device {
            modality: Some("CT".into()),
            ..device
        };
        assert!(!rule(TextMatch::Contains("acme".into())).matches(&other, 5, 4));
    }
}
