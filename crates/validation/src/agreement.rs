//! Agreement of an expert panel: Cohen's κ and a confusion matrix for every
//! pair of experts, Fleiss' κ overall and per class.

use crate::AnnotationSet;
use crate::kappa::{self, CategoryKappa, CohenKappa, Confusion};
use oncofed_model::CellClass;
use serde::Serialize;
use std::collections::BTreeMap;

/// Two experts compared over the cells both labelled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairAgreement {
    /// The first expert (rows of the confusion matrix).
    pub expert_a: String,
    /// The second expert (columns).
    pub expert_b: String,
    /// Cells both labelled.
    pub cells: usize,
    /// Cohen's κ with observed and expected agreement and its 95 % CI; `None`
    /// when the two experts share no cell.
    pub cohen: Option<CohenKappa>,
    /// Labels of A against labels of B.
    pub confusion: Confusion,
}

/// Fleiss' κ over the cells with the panel's usual number of experts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleissReport {
    /// m: the number of experts per cell used (the most common count among
    /// cells with at least two experts; the larger on a tie).
    pub experts_per_cell: usize,
    /// Cells with exactly m experts: those Fleiss' κ is computed over.
    pub cells: usize,
    /// Cells left out because they had a different number of experts (fewer,
    /// including a single one, or more). Cohen's κ per pair still uses them.
    pub cells_excluded: usize,
    /// Mean observed agreement P̄.
    pub observed: f64,
    /// Chance agreement P̄_e.
    pub expected: f64,
    /// Fleiss' κ; `None` when undefined.
    pub kappa: Option<f64>,
    /// Why κ is undefined, when it is.
    pub undefined: Option<String>,
    /// Fleiss' per-category κ_j for each class used.
    pub per_class: Vec<CategoryKappa>,
    /// The rule above in words, for the reader of the output.
    pub note: String,
}

/// Everything [`agreement`] measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgreementReport {
    /// Cells labelled by at least one expert.
    pub cells: usize,
    /// Labels counted (an expert's latest per cell).
    pub annotations: usize,
    /// The experts, in name order.
    pub experts: Vec<String>,
    /// How many cells have 1, 2, ... experts.
    pub experts_per_cell: BTreeMap<usize, usize>,
    /// Every pair of experts, in name order.
    pub pairs: Vec<PairAgreement>,
    /// Fleiss' κ, when some cell has two or more experts.
    pub fleiss: Option<FleissReport>,
}

/// Measures the agreement of the experts in `set`.
///
/// Fleiss' κ needs the same number of ratings per cell: it is computed over
/// the cells with exactly m experts, m being the most common count among the
/// cells with at least two (the larger count on a tie); the other cells are
/// counted in [`FleissReport::cells_excluded`] and named in its note.
pub fn agreement(set: &AnnotationSet) -> AgreementReport {
    let experts = set.experts();
    let mut experts_per_cell: BTreeMap<usize, usize> = BTreeMap::new();
    for (_, by_expert) in set.cells() {
        *experts_per_cell.entry(by_expert.len()).or_default() += 1;
    }
    let mut pairs = Vec::new();
    for (i, a) in experts.iter().enumerate() {
        for b in &experts[i + 1..] {
            let labels: Vec<(CellClass, CellClass)> = set
                .cells()
                .filter_map(|(_, m)| Some((m.get(a)?.label, m.get(b)?.label)))
                .collect();
            let confusion = Confusion::from_pairs(&labels);
            pairs.push(PairAgreement {
                expert_a: a.clone(),
                expert_b: b.clone(),
                cells: labels.len(),
                cohen: kappa::cohen(&confusion),
                confusion,
            });
        }
    }
    let m = experts_per_cell
        .iter()
        .filter(|&(&m, _)| m >= 2)
        .max_by_key(|&(&m, &count)| (count, m))
        .map(|(&m, _)| m);
    let fleiss = m.and_then(|m| {
        let subjects: Vec<Vec<CellClass>> = set
            .cells()
            .filter(|(_, by_expert)| by_expert.len() == m)
            .map(|(_, by_expert)| by_expert.values().map(|a| a.label).collect())
            .collect();
        let f = kappa::fleiss(&subjects).ok()?;
        let excluded = set.len() - subjects.len();
        let note = if excluded == 0 {
            format!(
                "over all {} cells, each labelled by {m} experts",
                f.subjects
            )
        } else {
            format!(
                "over the {} cells labelled by exactly {m} experts (the most common count); \
                 {excluded} cells with another number of experts left out",
                f.subjects
            )
        };
        Some(FleissReport {
            experts_per_cell: m,
            cells: f.subjects,
            cells_excluded: excluded,
            observed: f.observed,
            expected: f.expected,
            kappa: f.kappa,
            undefined: f.undefined,
            per_class: f.categories,
            note,
        })
    });
    AgreementReport {
        cells: set.len(),
        annotations: set.annotation_count(),
        experts,
        experts_per_cell,
        pairs,
        fleiss,
    }
}
