//! The harmonised facts of images: one per series, one per study, and the
//! series' device facts, recomputed from the store's image rows whenever a
//! series gains objects (see `oncofed_model::FactKind::Imaging`).

use oncofed_model::{
    CodeSystem, Coding, DataCategory, Fact, FactKind, FactValue, Pseudonym, SecurityLevel,
};
use oncofed_store::{FactKey, ImageRow, StoredFact};
use std::collections::{BTreeMap, BTreeSet};

/// What the node reads from an object for its facts, besides its [`ImageRow`]:
/// device attributes the store's image table does not hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesExtras {
    /// Manufacturer (0008,0070), trimmed.
    pub manufacturer: Option<String>,
    /// Slice Thickness (0018,0050) in mm.
    pub slice_thickness_mm: Option<f64>,
}

fn coding(system: CodeSystem, code: &str) -> Coding {
    Coding::new(system, code)
}

fn fact(code: Coding, modifier: Option<Coding>, value: FactValue, row: &ImageRow) -> Fact {
    Fact {
        kind: FactKind::Imaging,
        code,
        modifier,
        value,
        start: row.study_date,
        end: None,
        category: DataCategory::Imaging,
        level: SecurityLevel::Pseudonymised,
    }
}

fn stored(pseudonym: &Pseudonym, source: String, fact: Fact) -> StoredFact {
    StoredFact {
        key: FactKey::derive(pseudonym, &source),
        pseudonym: pseudonym.clone(),
        fact,
    }
}

/// The facts of every series and study among `touched` (de-identified series
/// UIDs), computed from `rows`: all image rows of the persons concerned, those
/// already stored and those being written. `extras` holds the device
/// attributes of the series written now (a series keeps its earlier ones).
pub fn series_facts(
    rows: &[ImageRow],
    touched: &BTreeSet<String>,
    extras: &BTreeMap<String, SeriesExtras>,
) -> Vec<StoredFact> {
    let mut instances: BTreeMap<&str, (u64, &ImageRow)> = BTreeMap::new();
    let mut study_series: BTreeMap<&str, (BTreeSet<&str>, &ImageRow)> = BTreeMap::new();
    for row in rows {
        instances
            .entry(row.series_uid.as_str())
            .or_insert((0, row))
            .0 += 1;
        study_series
            .entry(row.study_uid.as_str())
            .or_insert_with(|| (BTreeSet::new(), row))
            .0
            .insert(row.series_uid.as_str());
    }
    let mut out = Vec::new();
    let mut studies: BTreeSet<&str> = BTreeSet::new();
    for (series, (count, row)) in &instances {
        if !touched.contains(*series) {
            continue;
        }
        studies.insert(row.study_uid.as_str());
        let source = format!("dicom-series/{series}");
        let body_part = row
            .body_part
            .as_deref()
            .map(|b| coding(CodeSystem::DicomBodyPart, b));
        out.push(stored(
            &row.pseudonym,
            source.clone(),
            fact(
                coding(CodeSystem::Dcm, &row.modality),
                body_part,
                FactValue::Quantity {
                    value: *count as f64,
                    unit: "{instances}".into(),
                },
                row,
            ),
        ));
        let Some(extra) = extras.get(*series) else {
            continue;
        };
        if let Some(mm) = extra.slice_thickness_mm {
            out.push(stored(
                &row.pseudonym,
                format!("{source}#SliceThickness"),
                fact(
                    coding(CodeSystem::DicomAttribute, "SliceThickness"),
                    None,
                    FactValue::Quantity {
                        value: mm,
                        unit: "mm".into(),
                    },
                    row,
                ),
            ));
        }
        if let Some(m) = &extra.manufacturer {
            out.push(stored(
                &row.pseudonym,
                format!("{source}#Manufacturer"),
                fact(
                    coding(CodeSystem::DicomAttribute, "Manufacturer"),
                    None,
                    FactValue::Code(coding(CodeSystem::DicomAttribute, m)),
                    row,
                ),
            ));
        }
    }
    for study in studies {
        let (series, row) = &study_series[study];
        out.push(stored(
            &row.pseudonym,
            format!("dicom-study/{study}"),
            fact(
                coding(CodeSystem::DicomAttribute, "NumberOfStudyRelatedSeries"),
                None,
                FactValue::Quantity {
                    value: series.len() as f64,
                    unit: "{series}".into(),
                },
                row,
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(psn: &Pseudonym, study: &str, series: &str, sop: &str) -> ImageRow {
        ImageRow {
            sop_uid: sop.into(),
            pseudonym: psn.clone(),
            study_uid: study.into(),
            series_uid: series.into(),
            modality: "CT".into(),
            body_part: Some("CHEST".into()),
            study_date: chrono::NaiveDate::from_ymd_opt(2024, 3, 1),
            object_key: format!("k{sop}"),
            bytes: 10,
            face_risk: false,
        }
    }

    #[test]
    fn counts_instances_per_series_and_series_per_study() {
        let p = Pseudonym::from_digest(&[1; 10]);
        let rows = vec![
            row(&p, "st1", "se1", "a"),
            row(&p, "st1", "se1", "b"),
            row(&p, "st1", "se2", "c"),
            row(&p, "st2", "se3", "d"),
        ];
        let touched: BTreeSet<String> = ["se1".to_owned()].into();
        let extras = BTreeMap::from([(
            "se1".to_owned(),
            SeriesExtras {
                manufacturer: Some("ACME".into()),
                slice_thickness_mm: Some(2.5),
            },
        )]);
        let facts = series_facts(&rows, &touched, &extras);
        let values: Vec<(String, FactValue)> = facts
            .iter()
            .map(|f| (f.fact.code.code.clone(), f.fact.value.clone()))
            .collect();
        assert_eq!(
            values,
            vec![
                (
                    "CT".into(),
                    FactValue::Quantity {
                        value: 2.0,
                        unit: "{instances}".into()
                    }
                ),
                (
                    "SliceThickness".into(),
                    FactValue::Quantity {
                        value: 2.5,
                        unit: "mm".into()
                    }
                ),
                (
                    "Manufacturer".into(),
                    FactValue::Code(coding(CodeSystem::DicomAttribute, "ACME"))
                ),
                (
                    "NumberOfStudyRelatedSeries".into(),
                    FactValue::Quantity {
                        value: 2.0,
                        unit: "{series}".into()
                    }
                ),
            ]
        );
        assert!(
            facts
                .iter()
                .all(|f| f.fact.category == DataCategory::Imaging)
        );
        // Keys are stable: the same series gives the same fact key again.
        let again = series_facts(&rows, &touched, &extras);
        assert_eq!(facts[0].key, again[0].key);
    }
}
