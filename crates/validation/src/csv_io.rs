//! The CSV files of expert validation (formats agreed in issue 15):
//!
//! | file | header |
//! |---|---|
//! | annotations | `cell_id,expert,label,at` |
//! | adjudications | `cell_id,adjudicator,label,at,note` |
//! | validated label set | `cell_id,label,method,experts,agreement,adjudicator,at` |
//! | synthetic truth (read only) | `smear_id,cell_id,true_label,person_id,entity` |
//!
//! Columns are found by name (extra columns are ignored); labels are
//! [`CellClass`] codes, times RFC 3339, `experts` is `;`-separated. Every
//! reader takes a `source` name that its errors cite with line and field;
//! the `*_file` variants use the path.

use crate::{
    Adjudication, Annotation, Method, TruthCell, ValidatedLabel, ValidationError, check_name,
};
use chrono::{DateTime, SecondsFormat, Utc};
use oncofed_model::CellClass;
use std::io::{Read, Write};
use std::path::Path;

/// The annotations header.
pub const ANNOTATIONS_HEADER: &str = "cell_id,expert,label,at";
/// The adjudications header.
pub const ADJUDICATIONS_HEADER: &str = "cell_id,adjudicator,label,at,note";
/// The validated-set header.
pub const VALIDATED_HEADER: &str = "cell_id,label,method,experts,agreement,adjudicator,at";
/// The synthetic-truth header.
pub const TRUTH_HEADER: &str = "smear_id,cell_id,true_label,person_id,entity";

/// A CSV record with its columns resolved by name.
struct Row<'a> {
    source: &'a str,
    line: u64,
    record: csv::StringRecord,
    columns: &'a [(&'static str, usize)],
}

impl Row<'_> {
    fn field_error(&self, field: &'static str, problem: impl Into<String>) -> ValidationError {
        ValidationError::Field {
            file: self.source.to_string(),
            line: self.line,
            field,
            problem: problem.into(),
        }
    }

    fn raw(&self, field: &'static str) -> &str {
        self.columns
            .iter()
            .find(|(name, _)| *name == field)
            .and_then(|&(_, i)| self.record.get(i))
            .unwrap_or("")
    }

    fn text(&self, field: &'static str) -> Result<String, ValidationError> {
        let value = self.raw(field).trim();
        if value.is_empty() {
            return Err(self.field_error(field, "empty"));
        }
        Ok(value.to_string())
    }

    fn name(&self, field: &'static str) -> Result<String, ValidationError> {
        let value = self.text(field)?;
        check_name(&value).map_err(|p| self.field_error(field, p))?;
        Ok(value)
    }

    fn class(&self, field: &'static str) -> Result<CellClass, ValidationError> {
        let value = self.text(field)?;
        value
            .parse()
            .map_err(|e: oncofed_model::UnknownCode| self.field_error(field, e.to_string()))
    }

    fn time(&self, field: &'static str) -> Result<DateTime<Utc>, ValidationError> {
        let value = self.text(field)?;
        DateTime::parse_from_rfc3339(&value)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                self.field_error(
                    field,
                    format!("{value:?} is not an RFC 3339 time ({e}), e.g. 2026-12-04T09:30:00Z"),
                )
            })
    }
}

/// Reads every record of `reader`, resolving `required` columns by name, and
/// maps each with `parse`.
fn read_rows<T>(
    reader: impl Read,
    source: &str,
    required: &[&'static str],
    optional: &[&'static str],
    header: &'static str,
    mut parse: impl FnMut(&Row<'_>) -> Result<T, ValidationError>,
) -> Result<Vec<T>, ValidationError> {
    let csv_error = |e: csv::Error| ValidationError::Csv {
        file: source.to_string(),
        line: e.position().map_or(0, csv::Position::line),
        message: match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                format!("{len} fields where the header has {expected_len}")
            }
            csv::ErrorKind::Utf8 { .. } => "not UTF-8".to_string(),
            _ => e.to_string(),
        },
    };
    let mut csv = csv::ReaderBuilder::new().from_reader(reader);
    let names = csv.headers().map_err(csv_error)?.clone();
    let mut columns = Vec::new();
    for &column in required.iter().chain(optional) {
        match names.iter().position(|h| h.trim() == column) {
            Some(i) => columns.push((column, i)),
            None if required.contains(&column) => {
                return Err(ValidationError::MissingColumn {
                    file: source.to_string(),
                    column,
                    expected: header,
                });
            }
            None => {}
        }
    }
    let mut out = Vec::new();
    for record in csv.records() {
        let record = record.map_err(csv_error)?;
        let row = Row {
            source,
            line: record.position().map_or(0, csv::Position::line),
            record,
            columns: &columns,
        };
        out.push(parse(&row)?);
    }
    Ok(out)
}

fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>, ValidationError> {
    std::fs::File::open(path)
        .map(std::io::BufReader::new)
        .map_err(|source| ValidationError::Io {
            file: path.to_path_buf(),
            source,
        })
}

fn time_text(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Writes rows through the csv writer, mapping errors to `source`.
fn write_rows<W: Write>(
    writer: W,
    source: &str,
    header: &str,
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(), ValidationError> {
    let io_error = |e: std::io::Error| ValidationError::Io {
        file: source.into(),
        source: e,
    };
    let csv_error = |e: csv::Error| ValidationError::Csv {
        file: source.to_string(),
        line: 0,
        message: e.to_string(),
    };
    let mut csv = csv::Writer::from_writer(writer);
    csv.write_record(header.split(',')).map_err(csv_error)?;
    for row in rows {
        csv.write_record(&row).map_err(csv_error)?;
    }
    csv.flush().map_err(io_error)
}

fn create(path: &Path) -> Result<std::io::BufWriter<std::fs::File>, ValidationError> {
    std::fs::File::create(path)
        .map(std::io::BufWriter::new)
        .map_err(|source| ValidationError::Io {
            file: path.to_path_buf(),
            source,
        })
}

/// Reads an annotations CSV (`cell_id,expert,label,at`).
pub fn read_annotations(
    reader: impl Read,
    source: &str,
) -> Result<Vec<Annotation>, ValidationError> {
    read_rows(
        reader,
        source,
        &["cell_id", "expert", "label", "at"],
        &[],
        ANNOTATIONS_HEADER,
        |row| {
            Ok(Annotation {
                cell_id: row.text("cell_id")?,
                expert: row.name("expert")?,
                label: row.class("label")?,
                at: row.time("at")?,
            })
        },
    )
}

/// Reads an annotations CSV file.
pub fn read_annotations_file(path: &Path) -> Result<Vec<Annotation>, ValidationError> {
    read_annotations(open(path)?, &path.display().to_string())
}

/// Writes annotations in the order given.
pub fn write_annotations(
    writer: impl Write,
    source: &str,
    annotations: &[Annotation],
) -> Result<(), ValidationError> {
    write_rows(
        writer,
        source,
        ANNOTATIONS_HEADER,
        annotations.iter().map(|a| {
            vec![
                a.cell_id.clone(),
                a.expert.clone(),
                a.label.code().to_string(),
                time_text(&a.at),
            ]
        }),
    )
}

/// Writes an annotations CSV file.
pub fn write_annotations_file(
    path: &Path,
    annotations: &[Annotation],
) -> Result<(), ValidationError> {
    write_annotations(create(path)?, &path.display().to_string(), annotations)
}

/// Reads an adjudications CSV (`cell_id,adjudicator,label,at,note`; `note`
/// may be missing or empty).
pub fn read_adjudications(
    reader: impl Read,
    source: &str,
) -> Result<Vec<Adjudication>, ValidationError> {
    read_rows(
        reader,
        source,
        &["cell_id", "adjudicator", "label", "at"],
        &["note"],
        ADJUDICATIONS_HEADER,
        |row| {
            Ok(Adjudication {
                cell_id: row.text("cell_id")?,
                adjudicator: row.name("adjudicator")?,
                label: row.class("label")?,
                at: row.time("at")?,
                note: row.raw("note").to_string(),
            })
        },
    )
}

/// Reads an adjudications CSV file.
pub fn read_adjudications_file(path: &Path) -> Result<Vec<Adjudication>, ValidationError> {
    read_adjudications(open(path)?, &path.display().to_string())
}

/// Writes adjudications in the order given.
pub fn write_adjudications(
    writer: impl Write,
    source: &str,
    adjudications: &[Adjudication],
) -> Result<(), ValidationError> {
    write_rows(
        writer,
        source,
        ADJUDICATIONS_HEADER,
        adjudications.iter().map(|a| {
            vec![
                a.cell_id.clone(),
                a.adjudicator.clone(),
                a.label.code().to_string(),
                time_text(&a.at),
                a.note.clone(),
            ]
        }),
    )
}

/// Writes an adjudications CSV file.
pub fn write_adjudications_file(
    path: &Path,
    adjudications: &[Adjudication],
) -> Result<(), ValidationError> {
    write_adjudications(create(path)?, &path.display().to_string(), adjudications)
}

/// Reads a validated label set.
pub fn read_validated(
    reader: impl Read,
    source: &str,
) -> Result<Vec<ValidatedLabel>, ValidationError> {
    read_rows(
        reader,
        source,
        &[
            "cell_id",
            "label",
            "method",
            "experts",
            "agreement",
            "adjudicator",
            "at",
        ],
        &[],
        VALIDATED_HEADER,
        |row| {
            let method: Method = row
                .text("method")?
                .parse()
                .map_err(|p: String| row.field_error("method", p))?;
            let experts = row
                .text("experts")?
                .split(';')
                .map(|e| {
                    check_name(e).map_err(|p| row.field_error("experts", p))?;
                    Ok(e.to_string())
                })
                .collect::<Result<Vec<_>, ValidationError>>()?;
            let agreement: f64 = row
                .text("agreement")?
                .parse()
                .ok()
                .filter(|a: &f64| (0.0..=1.0).contains(a))
                .ok_or_else(|| row.field_error("agreement", "expected a share from 0 to 1"))?;
            let adjudicator = match row.raw("adjudicator").trim() {
                "" if method == Method::Adjudicated => {
                    return Err(row.field_error("adjudicator", "empty for an adjudicated label"));
                }
                "" => None,
                _ if method != Method::Adjudicated => {
                    return Err(
                        row.field_error("adjudicator", format!("set, but the method is {method}"))
                    );
                }
                _ => Some(row.name("adjudicator")?),
            };
            Ok(ValidatedLabel {
                cell_id: row.text("cell_id")?,
                label: row.class("label")?,
                method,
                experts,
                agreement,
                adjudicator,
                at: row.time("at")?,
            })
        },
    )
}

/// Reads a validated label set file.
pub fn read_validated_file(path: &Path) -> Result<Vec<ValidatedLabel>, ValidationError> {
    read_validated(open(path)?, &path.display().to_string())
}

/// Writes a validated label set in the order given.
pub fn write_validated(
    writer: impl Write,
    source: &str,
    labels: &[ValidatedLabel],
) -> Result<(), ValidationError> {
    write_rows(
        writer,
        source,
        VALIDATED_HEADER,
        labels.iter().map(|l| {
            vec![
                l.cell_id.clone(),
                l.label.code().to_string(),
                l.method.code().to_string(),
                l.experts.join(";"),
                l.agreement.to_string(),
                l.adjudicator.clone().unwrap_or_default(),
                time_text(&l.at),
            ]
        }),
    )
}

/// Writes a validated label set file.
pub fn write_validated_file(path: &Path, labels: &[ValidatedLabel]) -> Result<(), ValidationError> {
    write_validated(create(path)?, &path.display().to_string(), labels)
}

/// Reads the cells and true classes of a synthetic ground-truth CSV (only
/// `cell_id` and `true_label` are used; the other columns are not read).
/// A cell id that appears twice is refused (its truth would be ambiguous).
pub fn read_truth(reader: impl Read, source: &str) -> Result<Vec<TruthCell>, ValidationError> {
    let mut seen = std::collections::HashMap::new();
    read_rows(
        reader,
        source,
        &["cell_id", "true_label"],
        &[],
        TRUTH_HEADER,
        |row| {
            let cell_id = row.text("cell_id")?;
            if let Some(first) = seen.insert(cell_id.clone(), row.line) {
                return Err(row.field_error(
                    "cell_id",
                    format!("{cell_id:?} appears twice (first on line {first})"),
                ));
            }
            Ok(TruthCell {
                cell_id,
                class: row.class("true_label")?,
            })
        },
    )
}

/// Reads a synthetic ground-truth CSV file.
pub fn read_truth_file(path: &Path) -> Result<Vec<TruthCell>, ValidationError> {
    read_truth(open(path)?, &path.display().to_string())
}
