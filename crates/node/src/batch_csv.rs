//! The CSV manifests labs export beside a batch of files (cell images,
//! sequencing files): RFC 4180 split by hand (quoted fields may hold commas and
//! line breaks; a byte-order mark is skipped) so every error names the file,
//! its 1-based line and the field, and never a value of the row.

use chrono::NaiveDate;

/// A manifest row that is wrong: file, 1-based line, field (empty for the
/// whole row) and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file} row {row}{}: {message}", if field.is_empty() { String::new() } else { format!(", field {field}") })]
pub struct ManifestError {
    /// The manifest file's name, e.g. `samples.csv`.
    pub file: String,
    /// 1-based line.
    pub row: usize,
    /// The column, empty for the whole row.
    pub field: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl ManifestError {
    /// An error at `file`, `row`, `field`.
    pub fn new(file: &str, row: usize, field: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            row,
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Splits CSV text (RFC 4180: quoted fields with `""` escapes may hold commas
/// and line breaks) into records with their 1-based starting line.
pub(crate) fn records(file: &str, text: &str) -> Result<Vec<(usize, Vec<String>)>, ManifestError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let (mut line, mut start, mut quoted, mut was_quoted) = (1, 1, false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                was_quoted = false;
                if !(record.len() == 1 && record[0].is_empty()) {
                    out.push((start, std::mem::take(&mut record)));
                }
                record.clear();
                line += 1;
                start = line;
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(ManifestError::new(
            file,
            start,
            "",
            "a quoted field is not closed",
        ));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        out.push((start, record));
    }
    Ok(out)
}

pub(crate) fn header(
    file: &str,
    rows: &[(usize, Vec<String>)],
    want: &[&str],
) -> Result<(), ManifestError> {
    let Some((_, got)) = rows.first() else {
        return Err(ManifestError::new(
            file,
            1,
            "",
            "the file is empty: it needs a header row",
        ));
    };
    if got.len() < want.len() || got.iter().zip(want).any(|(g, w)| g.trim() != *w) {
        return Err(ManifestError::new(
            file,
            1,
            "",
            format!("the header must start with {}", want.join(",")),
        ));
    }
    Ok(())
}

pub(crate) fn date(
    file: &str,
    row: usize,
    field: &str,
    text: &str,
) -> Result<Option<NaiveDate>, ManifestError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| ManifestError::new(file, row, field, "not a date: write YYYY-MM-DD"))
}

pub(crate) fn required(
    file: &str,
    row: usize,
    field: &str,
    text: &str,
) -> Result<String, ManifestError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ManifestError::new(file, row, field, "must not be empty"));
    }
    Ok(t.to_owned())
}
