//! The batch manifest a lab exports: `smears.csv` and `cells.csv` (formats in
//! the module docs of [`crate::cells`]). Parsed in full before anything is
//! read or written, so that a bad row stops the batch with an error naming
//! the file, the row and the field.

use super::CellError;
use super::pixels::CropBox;
use crate::batch_csv::{date, header, records, required};
use chrono::NaiveDate;
use oncofed_model::{CellClass, Sex, Specimen};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// The smears file's header.
pub const SMEARS_HEADER: [&str; 11] = [
    "smear_id",
    "patient_id",
    "family",
    "given",
    "birth_date",
    "sex",
    "specimen",
    "stain",
    "scanner",
    "magnification",
    "collected",
];
/// The cells file's header; `x,y,width,height` may follow (a crop box).
pub const CELLS_HEADER: [&str; 4] = ["smear_id", "cell_id", "file", "label"];
/// The optional crop-box columns of the cells file.
pub const BOX_HEADER: [&str; 4] = ["x", "y", "width", "height"];

/// One smear row, identified: held in memory until the trust centre answered.
pub struct SmearEntry {
    /// 1-based line in `smears.csv`.
    pub row: usize,
    /// The lab's smear id.
    pub smear_id: String,
    /// The site-local patient id.
    pub patient_id: String,
    /// Family name.
    pub family: String,
    /// Given names.
    pub given: String,
    /// Birth date.
    pub birth_date: Option<NaiveDate>,
    /// Sex.
    pub sex: Sex,
    /// Specimen.
    pub specimen: Specimen,
    /// Stain.
    pub stain: String,
    /// Scanner or microscope.
    pub scanner: String,
    /// Magnification.
    pub magnification: String,
    /// Collection date.
    pub collected: Option<NaiveDate>,
}

impl std::fmt::Debug for SmearEntry {
    /// Names and birth dates never reach a log: only the row and the specimen.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmearEntry")
            .field("row", &self.row)
            .field("specimen", &self.specimen)
            .finish_non_exhaustive()
    }
}

/// One cell row.
#[derive(Debug)]
pub struct CellEntry {
    /// 1-based line in `cells.csv`.
    pub row: usize,
    /// The lab's smear id (a row of `smears.csv`).
    pub smear_id: String,
    /// The lab's cell id (unique in the batch).
    pub cell_id: String,
    /// The image file, inside the batch directory.
    pub file: PathBuf,
    /// The lab's label.
    pub label: Option<CellClass>,
    /// The crop box, if the file is a whole field.
    pub crop: Option<CropBox>,
}

/// Parses `smears.csv`.
pub fn smears(text: &str) -> Result<Vec<SmearEntry>, CellError> {
    let file = "smears.csv";
    let rows = records(file, text)?;
    header(file, &rows, &SMEARS_HEADER)?;
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (row, f) in rows.into_iter().skip(1) {
        if f.len() != SMEARS_HEADER.len() {
            return Err(CellError::manifest(
                file,
                row,
                "",
                format!("has {} fields, the header {}", f.len(), SMEARS_HEADER.len()),
            ));
        }
        let smear_id = required(file, row, "smear_id", &f[0])?;
        if !seen.insert(smear_id.clone()) {
            return Err(CellError::manifest(
                file,
                row,
                "smear_id",
                "appears twice in the batch",
            ));
        }
        let sex = Sex::from_fhir(f[5].trim()).ok_or_else(|| {
            CellError::manifest(file, row, "sex", "write female, male, other or unknown")
        })?;
        let specimen = f[6].parse().map_err(|e: oncofed_model::UnknownCode| {
            CellError::manifest(file, row, "specimen", e.to_string())
        })?;
        out.push(SmearEntry {
            row,
            smear_id,
            patient_id: required(file, row, "patient_id", &f[1])?,
            family: f[2].trim().to_owned(),
            given: f[3].trim().to_owned(),
            birth_date: date(file, row, "birth_date", &f[4])?,
            sex,
            specimen,
            stain: required(file, row, "stain", &f[7])?,
            scanner: required(file, row, "scanner", &f[8])?,
            magnification: required(file, row, "magnification", &f[9])?,
            collected: date(file, row, "collected", &f[10])?,
        });
    }
    Ok(out)
}

fn number(file: &str, row: usize, field: &str, text: &str) -> Result<u32, CellError> {
    text.trim()
        .parse()
        .map_err(|_| CellError::manifest(file, row, field, "not a whole number of pixels"))
}

/// Parses `cells.csv`; every smear id must be one of `smears`, every file a
/// relative path inside `dir`.
pub fn cells(
    text: &str,
    dir: &Path,
    smears: &BTreeMap<String, usize>,
) -> Result<Vec<CellEntry>, CellError> {
    let file = "cells.csv";
    let rows = records(file, text)?;
    header(file, &rows, &CELLS_HEADER)?;
    let with_box = rows[0].1.len() == 8;
    if with_box
        && rows[0].1[4..]
            .iter()
            .zip(BOX_HEADER)
            .any(|(g, w)| g.trim() != w)
    {
        return Err(CellError::manifest(
            file,
            1,
            "",
            "the optional columns after label must be x,y,width,height",
        ));
    }
    let width = if with_box { 8 } else { 4 };
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (row, f) in rows.into_iter().skip(1) {
        if f.len() != width {
            return Err(CellError::manifest(
                file,
                row,
                "",
                format!("has {} fields, the header {width}", f.len()),
            ));
        }
        let smear_id = required(file, row, "smear_id", &f[0])?;
        if !smears.contains_key(&smear_id) {
            return Err(CellError::manifest(
                file,
                row,
                "smear_id",
                "names no row of smears.csv",
            ));
        }
        let cell_id = required(file, row, "cell_id", &f[1])?;
        if !seen.insert(cell_id.clone()) {
            return Err(CellError::manifest(
                file,
                row,
                "cell_id",
                "appears twice in the batch",
            ));
        }
        let rel = PathBuf::from(required(file, row, "file", &f[2])?);
        if !rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(CellError::manifest(
                file,
                row,
                "file",
                "must be a path inside the batch directory (no '..', not absolute)",
            ));
        }
        let label = match f[3].trim() {
            "" => None,
            t => Some(t.parse().map_err(|e: oncofed_model::UnknownCode| {
                CellError::manifest(file, row, "label", e.to_string())
            })?),
        };
        let crop = if with_box && f[4..].iter().any(|v| !v.trim().is_empty()) {
            Some(CropBox {
                x: number(file, row, "x", &f[4])?,
                y: number(file, row, "y", &f[5])?,
                width: number(file, row, "width", &f[6])?,
                height: number(file, row, "height", &f[7])?,
            })
        } else {
            None
        };
        out.push(CellEntry {
            row,
            smear_id,
            cell_id,
            file: dir.join(rel),
            label,
            crop,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_keep_commas_and_errors_name_row_and_field() {
        let text = "smear_id,patient_id,family,given,birth_date,sex,specimen,stain,scanner,magnification,collected\n\
            s1,p1,\"Müller, geb. \"\"X\"\"\",Anna,1960-01-02,female,bone-marrow,MGG,Metafer 4,100x,2024-03-01\r\n";
        let s = smears(text).unwrap();
        assert_eq!(s[0].family, "Müller, geb. \"X\"");
        assert_eq!(s[0].specimen, Specimen::BoneMarrow);
        let bad = text.replace("bone-marrow", "urine");
        let e = smears(&bad).unwrap_err().to_string();
        assert!(
            e.contains("smears.csv") && e.contains("row 2") && e.contains("specimen"),
            "{e}"
        );
        assert!(!e.contains("Müller"), "{e}");
        let known = BTreeMap::from([("s1".to_owned(), 0)]);
        let cells_csv = "smear_id,cell_id,file,label,x,y,width,height\ns1,c1,a.png,myeloblast,1,2,3,4\ns1,c2,b.png,,,,,\n";
        let c = cells(cells_csv, Path::new("/b"), &known).unwrap();
        assert_eq!(c[0].crop.map(|b| b.height), Some(4));
        assert!(c[1].crop.is_none() && c[1].label.is_none());
        let e = cells(
            "smear_id,cell_id,file,label\ns1,c1,../x.png,\n",
            Path::new("/b"),
            &known,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("row 2") && e.contains("file"), "{e}");
    }
}
