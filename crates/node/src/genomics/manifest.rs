//! `samples.csv`, the manifest of a sequencing batch: one row per sample column
//! of each VCF/BCF file, naming the person it belongs to.

use crate::batch_csv::{ManifestError, date, header, records, required};
use crate::persons::BatchPerson;
use chrono::NaiveDate;
use oncofed_model::{Sex, VariantOrigin};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// The manifest's file name.
pub const SAMPLES_FILE: &str = "samples.csv";

/// The manifest's header.
pub const SAMPLES_HEADER: [&str; 9] = [
    "file",
    "sample",
    "patient_id",
    "family",
    "given",
    "birth_date",
    "sex",
    "collected",
    "origin",
];

/// One row: a sample column of a file and its person.
pub struct SampleEntry {
    /// The file, inside the batch directory.
    pub file: PathBuf,
    /// The column's name in the file's header: the lab's sample id (IDAT).
    pub sample: String,
    /// The person (identifying data, held until the trust centre answered).
    pub person: BatchPerson,
    /// When the sample was taken.
    pub collected: Option<NaiveDate>,
    /// The submitting pipeline's declaration, when given.
    pub origin: Option<VariantOrigin>,
}

impl std::fmt::Debug for SampleEntry {
    /// Sample ids and names never reach a log: only the row.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleEntry")
            .field("row", &self.person.row)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Parses `samples.csv` in full: every row or an error naming row and field.
/// A (file, sample) pair appears once; files are paths inside `dir`.
pub fn samples(
    text: &str,
    dir: &Path,
) -> Result<BTreeMap<PathBuf, Vec<SampleEntry>>, ManifestError> {
    let file = SAMPLES_FILE;
    let rows = records(file, text)?;
    header(file, &rows, &SAMPLES_HEADER)?;
    let mut out: BTreeMap<PathBuf, Vec<SampleEntry>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for (row, f) in rows.into_iter().skip(1) {
        if f.len() != SAMPLES_HEADER.len() {
            return Err(ManifestError::new(
                file,
                row,
                "",
                format!(
                    "has {} fields, the header {}",
                    f.len(),
                    SAMPLES_HEADER.len()
                ),
            ));
        }
        let rel = PathBuf::from(required(file, row, "file", &f[0])?);
        if !rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(ManifestError::new(
                file,
                row,
                "file",
                "must be a path inside the batch directory (no '..', not absolute)",
            ));
        }
        let sample = required(file, row, "sample", &f[1])?;
        if !seen.insert((rel.clone(), sample.clone())) {
            return Err(ManifestError::new(
                file,
                row,
                "sample",
                "this file's sample column appears twice in the manifest",
            ));
        }
        let sex = Sex::from_fhir(f[6].trim()).ok_or_else(|| {
            ManifestError::new(file, row, "sex", "write female, male, other or unknown")
        })?;
        let origin = match f[8].trim() {
            "" => None,
            t => Some(
                t.parse()
                    .map_err(|e: String| ManifestError::new(file, row, "origin", e))?,
            ),
        };
        let entry = SampleEntry {
            file: dir.join(&rel),
            sample,
            person: BatchPerson {
                row,
                patient_id: required(file, row, "patient_id", &f[2])?,
                family: f[3].trim().to_owned(),
                given: f[4].trim().to_owned(),
                birth_date: date(file, row, "birth_date", &f[5])?,
                sex,
            },
            collected: date(file, row, "collected", &f[7])?,
            origin,
        };
        out.entry(entry.file.clone()).or_default().push(entry);
    }
    if out.is_empty() {
        return Err(ManifestError::new(
            file,
            2,
            "",
            "no sample rows: list each file's sample columns",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "file,sample,patient_id,family,given,birth_date,sex,collected,origin\n";

    #[test]
    fn rows_group_by_file_and_errors_name_row_and_field() {
        let text = format!(
            "{HEAD}a.vcf,T1,P1,Muster,Erika,1960-01-02,female,2024-01-05,somatic\n\
             a.vcf,N1,P1,Muster,Erika,1960-01-02,female,2024-01-05,somatic\n\
             b.vcf.gz,G7,P2,Roe,Jan,,male,,\n"
        );
        let m = samples(&text, Path::new("/batch")).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[Path::new("/batch/a.vcf")].len(), 2);
        assert_eq!(m[Path::new("/batch/b.vcf.gz")][0].origin, None);
        for (bad, field) in [
            ("../x.vcf,T,P,a,b,,female,,", "field file"),
            ("a.vcf,T,P,a,b,,woman,,", "field sex"),
            ("a.vcf,T,P,a,b,,female,2024-13-01,", "field collected"),
            ("a.vcf,T,P,a,b,,female,,inherited", "field origin"),
            ("a.vcf,,P,a,b,,female,,", "field sample"),
        ] {
            let e = samples(&format!("{HEAD}{bad}\n"), Path::new("/b")).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("row 2") && text.contains(field),
                "{bad}: {text}"
            );
            assert!(!text.contains("P,a,b"), "no values in errors: {text}");
        }
        let twice = format!("{HEAD}a.vcf,T,P,a,b,,female,,\na.vcf,T,P,a,b,,female,,\n");
        assert!(
            samples(&twice, Path::new("/b"))
                .unwrap_err()
                .to_string()
                .contains("row 3")
        );
    }
}
