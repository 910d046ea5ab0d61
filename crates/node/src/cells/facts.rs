//! The harmonised facts of a smear (see `oncofed_criteria::CytologyCriterion`):
//! kind observation, system `cytomorphology`, the specimen as modifier, the
//! collection date as start, category pathology. Per smear:
//!
//! - one count per [`CellClass`] (unit `{cells}`, zeros included, so that a
//!   recount overwrites every earlier count in place: the keys are stable);
//! - `nucleated-cells`: the classified nucleated cells (the blast
//!   percentage's denominator, [`CellClass::is_nucleated`]);
//! - `unclassified-cells`: cells without a usable label;
//! - `blast-percentage` (unit `%`): myeloblasts / nucleated cells × 100,
//!   when there is at least one classified nucleated cell.
//!
//! A cell's class for counting is its newest validated label, else the
//! submitting lab's label, else the newest model prediction: a human
//! reading beats a model's.

use oncofed_criteria::CytologyCriterion;
use oncofed_model::{
    CellClass, CodeSystem, Coding, DataCategory, Fact, FactKind, FactValue, Pseudonym,
};
use oncofed_store::{CellLabelRow, CellRow, FactKey, LabelRole, SmearRow, StoredFact};
use std::collections::BTreeMap;

/// The class a cell counts as (see the module docs), from its labels.
pub fn counted_class(cell: &CellRow, labels: &[&CellLabelRow]) -> Option<CellClass> {
    let newest = |role: LabelRole| {
        labels
            .iter()
            .filter(|l| l.role == role)
            .max_by_key(|l| l.at)
            .map(|l| l.label)
    };
    newest(LabelRole::Validated)
        .or(cell.lab_label)
        .or_else(|| newest(LabelRole::Model))
}

/// Cells per class, and the unclassified cells, of one smear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmearCounts {
    /// Cells per class.
    pub by_class: BTreeMap<CellClass, u64>,
    /// Cells without a usable label.
    pub unclassified: u64,
}

impl SmearCounts {
    /// Counts `cells` with their `labels` (any order; labels of other cells
    /// are ignored).
    pub fn of(cells: &[CellRow], labels: &[CellLabelRow]) -> Self {
        let mut by_cell: BTreeMap<&str, Vec<&CellLabelRow>> = BTreeMap::new();
        for l in labels {
            by_cell.entry(l.cell_key.as_str()).or_default().push(l);
        }
        let mut out = Self::default();
        for c in cells {
            let own = by_cell
                .get(c.cell_key.as_str())
                .map_or(&[][..], Vec::as_slice);
            match counted_class(c, own) {
                Some(class) => *out.by_class.entry(class).or_default() += 1,
                None => out.unclassified += 1,
            }
        }
        out
    }

    /// Classified nucleated cells.
    pub fn nucleated(&self) -> u64 {
        self.by_class
            .iter()
            .filter(|(c, _)| c.is_nucleated())
            .map(|(_, n)| n)
            .sum()
    }

    /// Myeloblasts / nucleated cells × 100, if any nucleated cell is classified.
    pub fn blast_percentage(&self) -> Option<f64> {
        let nucleated = self.nucleated();
        let blasts: u64 = self
            .by_class
            .iter()
            .filter(|(c, _)| c.is_blast())
            .map(|(_, n)| n)
            .sum();
        (nucleated > 0).then(|| blasts as f64 * 100.0 / nucleated as f64)
    }
}

fn fact(smear: &SmearRow, code: &str, value: f64, unit: &str) -> StoredFact {
    let pseudonym: &Pseudonym = &smear.pseudonym;
    StoredFact {
        key: FactKey::derive(pseudonym, &format!("cell-smear/{}#{code}", smear.smear_key)),
        pseudonym: pseudonym.clone(),
        fact: Fact {
            kind: FactKind::Observation,
            code: Coding::new(CodeSystem::Cytomorphology, code),
            modifier: Some(Coding::new(
                CodeSystem::Cytomorphology,
                smear.specimen.code(),
            )),
            value: FactValue::Quantity {
                value,
                unit: unit.into(),
            },
            start: smear.collected,
            end: None,
            category: DataCategory::Pathology,
            level: DataCategory::Pathology.intrinsic_level(),
        },
    }
}

/// The facts of `smear` from its counts (see the module docs).
pub fn smear_facts(smear: &SmearRow, counts: &SmearCounts) -> Vec<StoredFact> {
    let mut out: Vec<StoredFact> = CellClass::ALL
        .iter()
        .map(|c| {
            let n = counts.by_class.get(c).copied().unwrap_or(0);
            fact(smear, c.code(), n as f64, "{cells}")
        })
        .collect();
    out.push(fact(
        smear,
        CytologyCriterion::NUCLEATED_CELLS,
        counts.nucleated() as f64,
        "{cells}",
    ));
    out.push(fact(
        smear,
        CytologyCriterion::UNCLASSIFIED_CELLS,
        counts.unclassified as f64,
        "{cells}",
    ));
    if let Some(p) = counts.blast_percentage() {
        out.push(fact(smear, CytologyCriterion::BLAST_PERCENTAGE, p, "%"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use oncofed_model::Specimen;

    fn cell(key: &str, lab: Option<CellClass>) -> CellRow {
        CellRow {
            cell_key: key.into(),
            smear_key: "s".into(),
            object_key: "o".into(),
            width: 4,
            height: 4,
            lab_label: lab,
        }
    }

    fn label(key: &str, class: CellClass, role: LabelRole, hour: u32) -> CellLabelRow {
        CellLabelRow {
            cell_key: key.into(),
            expert: "dr-a".into(),
            label: class,
            role,
            method: None,
            at: Utc.with_ymd_and_hms(2024, 1, 1, hour, 0, 0).unwrap(),
        }
    }

    #[test]
    fn validated_beats_lab_beats_model_and_blasts_count_over_nucleated() {
        use CellClass::*;
        let cells = [
            cell("a", Some(Lymphocyte)),
            cell("b", None),
            cell("c", None),
            cell("d", Some(Erythrocyte)),
            cell("e", None),
        ];
        let labels = [
            label("a", Myeloblast, LabelRole::Validated, 1),
            label("a", Lymphocyte, LabelRole::Expert, 2),
            label("b", Monocyte, LabelRole::Model, 1),
            label("b", Myeloblast, LabelRole::Model, 3),
            label("c", Monocyte, LabelRole::Expert, 1), // an expert alone does not count
        ];
        let counts = SmearCounts::of(&cells, &labels);
        assert_eq!(counts.by_class.get(&Myeloblast), Some(&2));
        assert_eq!(counts.by_class.get(&Erythrocyte), Some(&1));
        assert_eq!(counts.unclassified, 2);
        assert_eq!(counts.nucleated(), 2);
        assert_eq!(counts.blast_percentage(), Some(100.0));
        let smear = SmearRow {
            smear_key: "s".into(),
            pseudonym: Pseudonym::from_digest(&[3; 10]),
            specimen: Specimen::BoneMarrow,
            stain: "MGG".into(),
            scanner: "x".into(),
            magnification: "100x".into(),
            collected: chrono::NaiveDate::from_ymd_opt(2024, 2, 1),
        };
        let facts = smear_facts(&smear, &counts);
        assert_eq!(facts.len(), CellClass::ALL.len() + 3);
        let blast = facts.last().unwrap();
        assert_eq!(blast.fact.code.code, "blast-percentage");
        assert_eq!(blast.fact.category, DataCategory::Pathology);
        // No classified nucleated cell: no percentage, counts still written.
        let none = SmearCounts::of(&[cell("x", Some(Platelet))], &[]);
        assert_eq!(none.blast_percentage(), None);
        assert_eq!(smear_facts(&smear, &none).len(), CellClass::ALL.len() + 2);
    }
}
