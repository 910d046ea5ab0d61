//! Data-quality report (R3): completeness per field, conformance of codes,
//! plausibility of values, computed over a node's research store.
//!
//! The checks themselves are the pure functions of [`oncofed_fhir::quality`]; this
//! module runs them over every stored row and counts. The report holds
//! pseudonyms (to find a row again) but never identifying data.

mod trend;

pub use trend::{FieldPoint, QualityTrendPoint, StoredQuality, history, report_and_record};

use crate::{SharedStore, with_store};
use oncofed_fhir::quality::{Issue, fact_issues, patient_issues};
use oncofed_model::{Demographics, FactKind, FactValue, Pseudonym, Sex, VitalStatus};
use oncofed_store::StoreError;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// How many example rows to keep per kind of issue.
const EXAMPLES: usize = 5;

/// Share of rows that have a field filled.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Completeness {
    /// Rows where the field is filled.
    pub filled: u64,
    /// Rows where it applies.
    pub total: u64,
    /// `filled / total` in percent (100 when nothing applies).
    pub percent: f64,
}

impl Completeness {
    fn count(&mut self, filled: bool) {
        self.total += 1;
        self.filled += u64::from(filled);
    }

    fn finish(&mut self) {
        self.percent = if self.total == 0 {
            100.0
        } else {
            100.0 * self.filled as f64 / self.total as f64
        };
    }
}

/// One kind of problem, how often, and a few rows that show it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IssueCount {
    /// Occurrences.
    pub count: u64,
    /// Up to five examples: the patient's pseudonym and the problem.
    pub examples: Vec<(Pseudonym, String)>,
}

/// The data-quality report of one node.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QualityReport {
    /// Patients in the store.
    pub patients: u64,
    /// Facts in the store, by kind.
    pub facts_by_kind: BTreeMap<String, u64>,
    /// Facts by category and security level, e.g. `genetic/3`.
    pub facts_by_category_level: BTreeMap<String, u64>,
    /// Completeness per field, e.g. `patient.birth_year`, `diagnosis.start`.
    pub completeness: BTreeMap<String, Completeness>,
    /// Patients with at least one diagnosis, in percent.
    pub patients_with_diagnosis_percent: f64,
    /// Problems by kind: invalid codes, implausible values, impossible dates.
    pub issues: BTreeMap<String, IssueCount>,
    /// Images: objects and bytes per modality, quarantined objects by reason.
    pub images: ImageQuality,
    /// Cell images: smears, cells, labels, cells per smear, undecodable files.
    pub cells: CellQuality,
}

/// The cell-images part of the report (issue 15).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CellQuality {
    /// Smears stored.
    pub smears: u64,
    /// Cells stored.
    pub cells: u64,
    /// Labels of every role.
    pub labels: u64,
    /// Cells per smear (by the smear's store key).
    pub cells_per_smear: BTreeMap<String, u64>,
    /// Smears with no cell (a manifest row whose cells were never exported).
    pub empty_smears: u64,
    /// Image files of cell batches that did not decode (their batches landed
    /// nothing; quarantine reason `cell-undecodable`).
    pub undecodable_files: u64,
}

/// The images part of the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImageQuality {
    /// Stored objects per modality.
    pub objects_by_modality: BTreeMap<String, u64>,
    /// Stored bytes per modality.
    pub bytes_by_modality: BTreeMap<String, u64>,
    /// Objects quarantined (not stored) by reason code.
    pub quarantined_by_reason: BTreeMap<String, u64>,
}

/// The short name an issue is counted under.
fn issue_name(issue: &Issue) -> String {
    match issue {
        Issue::CodeFormat { system, .. } => format!("invalid code ({system})"),
        Issue::CheckDigit { system, .. } => format!("wrong check digit ({system})"),
        Issue::OutOfRange { what, .. } => format!("implausible value ({what})"),
        Issue::UnexpectedUnit { what, .. } => format!("unexpected unit ({what})"),
        Issue::EndBeforeStart { .. } => "ends before it starts".into(),
        Issue::DeathBeforeBirth => "death before birth".into(),
        Issue::BeforeBirth { .. } => "dated before birth".into(),
        Issue::AfterDeath { .. } => "dated after death".into(),
        other => format!("{other}"),
    }
}

impl QualityReport {
    fn issue(&mut self, pseudonym: &Pseudonym, issue: Issue) {
        let entry = self.issues.entry(issue_name(&issue)).or_default();
        entry.count += 1;
        if entry.examples.len() < EXAMPLES {
            entry.examples.push((pseudonym.clone(), issue.to_string()));
        }
    }

    fn field(&mut self, name: &str, filled: bool) {
        self.completeness
            .entry(name.to_owned())
            .or_default()
            .count(filled);
    }
}

/// Computes the report over the whole store (one pass over patients, one over facts).
pub async fn report(store: &SharedStore) -> Result<QualityReport, StoreError> {
    with_store(store, |s| {
        let mut r = QualityReport::default();
        let mut demographics: HashMap<Pseudonym, Demographics> = HashMap::new();
        s.for_each_patient(&mut |p| {
            let d = &p.demographics;
            r.patients += 1;
            r.field("patient.sex", d.sex != Sex::Unknown);
            r.field("patient.birth_year", d.birth_year.is_some());
            r.field(
                "patient.vital_status",
                d.vital_status != VitalStatus::Unknown,
            );
            r.field("patient.last_contact", d.last_contact.is_some());
            if d.vital_status == VitalStatus::Deceased {
                r.field("patient.death_date (deceased)", d.death_date.is_some());
            }
            for issue in patient_issues(d) {
                r.issue(&p.pseudonym, issue);
            }
            demographics.insert(p.pseudonym, p.demographics);
        })?;
        let mut with_diagnosis: std::collections::HashSet<Pseudonym> = Default::default();
        s.for_each_fact(&mut |f| {
            let kind = f.fact.kind.as_str();
            *r.facts_by_kind.entry(kind.to_owned()).or_default() += 1;
            let level = format!("{}/{}", f.fact.category, u8::from(f.fact.level));
            *r.facts_by_category_level.entry(level).or_default() += 1;
            r.field(&format!("{kind}.start"), f.fact.start.is_some());
            match f.fact.kind {
                FactKind::Diagnosis => {
                    r.field("diagnosis.topography", f.fact.modifier.is_some());
                    with_diagnosis.insert(f.pseudonym.clone());
                }
                FactKind::Observation | FactKind::Molecular => {
                    r.field(&format!("{kind}.value"), f.fact.value != FactValue::None);
                }
                FactKind::Medication => r.field("medication.end", f.fact.end.is_some()),
                FactKind::Procedure => {}
                FactKind::Imaging => {
                    if f.fact.code.system == oncofed_model::CodeSystem::Dcm {
                        r.field("imaging.body_part", f.fact.modifier.is_some());
                    }
                }
            }
            for issue in fact_issues(&f.fact, demographics.get(&f.pseudonym)) {
                r.issue(&f.pseudonym, issue);
            }
        })?;
        r.completeness.values_mut().for_each(Completeness::finish);
        let images = s.image_stats()?;
        for (modality, objects, bytes) in images.by_modality {
            r.images
                .objects_by_modality
                .insert(modality.clone(), objects);
            r.images.bytes_by_modality.insert(modality, bytes);
        }
        r.images.quarantined_by_reason = images.quarantined_by_reason.into_iter().collect();
        let cells = s.cell_stats()?;
        r.cells = CellQuality {
            smears: cells.smears,
            cells: cells.cells,
            labels: cells.labels,
            empty_smears: cells
                .cells_per_smear
                .iter()
                .filter(|(_, n)| *n == 0)
                .count() as u64,
            cells_per_smear: cells.cells_per_smear.into_iter().collect(),
            undecodable_files: r
                .images
                .quarantined_by_reason
                .get(crate::cells::UNDECODABLE)
                .copied()
                .unwrap_or(0),
        };
        r.patients_with_diagnosis_percent = if r.patients == 0 {
            100.0
        } else {
            100.0 * with_diagnosis.len() as f64 / r.patients as f64
        };
        Ok(r)
    })
    .await
}

impl fmt::Display for QualityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "patients: {}  (with a diagnosis: {:.1} %)",
            self.patients, self.patients_with_diagnosis_percent
        )?;
        let facts: Vec<String> = self
            .facts_by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        writeln!(f, "facts: {}", facts.join(", "))?;
        let levels: Vec<String> = self
            .facts_by_category_level
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        writeln!(f, "category/security level: {}", levels.join(", "))?;
        writeln!(f, "\ncompleteness")?;
        for (field, c) in &self.completeness {
            writeln!(
                f,
                "  {field:<32} {:>6.1} %  ({}/{})",
                c.percent, c.filled, c.total
            )?;
        }
        let objects: Vec<String> = self
            .images
            .objects_by_modality
            .iter()
            .map(|(m, n)| format!("{m} {n}"))
            .collect();
        let quarantined: Vec<String> = self
            .images
            .quarantined_by_reason
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        if !objects.is_empty() || !quarantined.is_empty() {
            writeln!(f, "\nimages: {}", objects.join(", "))?;
            writeln!(
                f,
                "quarantined: {}",
                if quarantined.is_empty() {
                    "none".to_owned()
                } else {
                    quarantined.join(", ")
                }
            )?;
        }
        let c = &self.cells;
        if c.smears > 0 || c.undecodable_files > 0 {
            let per: Vec<u64> = c.cells_per_smear.values().copied().collect();
            writeln!(
                f,
                "\ncells: {} in {} smears ({} to {} per smear, {} smears without cells), {} labels; {} undecodable files refused",
                c.cells,
                c.smears,
                per.iter().min().copied().unwrap_or(0),
                per.iter().max().copied().unwrap_or(0),
                c.empty_smears,
                c.labels,
                c.undecodable_files
            )?;
        }
        writeln!(f, "\nissues")?;
        if self.issues.is_empty() {
            writeln!(f, "  none found")?;
        }
        for (name, i) in &self.issues {
            writeln!(f, "  {name:<40} {:>8}", i.count)?;
            for (p, text) in &i.examples {
                writeln!(f, "      e.g. {p}: {text}")?;
            }
        }
        Ok(())
    }
}
