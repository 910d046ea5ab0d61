//! Labels from outside the node: an expert panel's validated label set
//! (`oncofed labels validate`, issue 15 item 3) imported under the site's
//! keyed cell ids, and a registered model's predictions on the site's cells
//! (inference at the site, item 4). Both land as label rows and recount the
//! smears' facts, so a new smear's blast percentage follows.

use super::train::{Prediction, write_labels, write_predictions};
use super::{CellKeys, training_cells};
use crate::imaging::ObjectArchive;
use crate::{ConsentGate, SharedStore};
use oncofed_learn::ModelSpec;
use oncofed_store::{CellLabelRow, LabelRole};
use oncofed_validation::ValidatedLabel;
use serde::Serialize;

/// Why labels could not be imported or predicted; texts name the row, never
/// a lab id (those can point back to a person at the lab).
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// A label names a cell the site does not hold.
    #[error(
        "validated set row {row}: the cell is not stored at this site (ingest its batch first, or check that the set belongs to this site); nothing was imported"
    )]
    UnknownCell {
        /// 1-based data row of the set.
        row: usize,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] oncofed_store::StoreError),
    /// Cells could not be loaded (store, consent, archive).
    #[error(transparent)]
    Training(#[from] super::train::TrainingError),
    /// The model does not run on these cells.
    #[error("the model could not classify the cells: {0}")]
    Model(String),
}

/// What an import or a classification did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LabelReport {
    /// Labels written.
    pub labels: usize,
    /// Smear facts recomputed.
    pub facts: usize,
}

/// Imports a validated label set: each row becomes the cell's `validated`
/// label (expert field: the adjudicator or the annotators, method with the
/// agreement), all in one transaction; a row naming a cell this site does not
/// hold fails the whole import.
pub async fn import_validated(
    store: &SharedStore,
    keys: &CellKeys,
    labels: &[ValidatedLabel],
) -> Result<LabelReport, LabelError> {
    let rows: Vec<CellLabelRow> = labels
        .iter()
        .map(|l| CellLabelRow {
            cell_key: keys.cell(&l.cell_id),
            expert: l.adjudicator.clone().unwrap_or_else(|| l.experts.join(";")),
            label: l.label,
            role: LabelRole::Validated,
            method: Some(format!("{} agreement={:.3}", l.method.code(), l.agreement)),
            at: l.at,
        })
        .collect();
    let wanted: Vec<String> = rows.iter().map(|r| r.cell_key.clone()).collect();
    let held = crate::with_store(store, move |s| s.cells_by_key(&wanted)).await?;
    let held: std::collections::HashSet<String> = held.into_iter().map(|c| c.cell_key).collect();
    if let Some(i) = rows.iter().position(|r| !held.contains(&r.cell_key)) {
        return Err(LabelError::UnknownCell { row: i + 1 });
    }
    let n = rows.len();
    let facts = write_labels(store, rows).await?;
    Ok(LabelReport { labels: n, facts })
}

/// Runs a registered model on every consented cell of the site and stores
/// its predictions (role `model`, expert = the registry id); returns the
/// count and the facts recomputed.
pub async fn classify_cells(
    store: &SharedStore,
    archive: &ObjectArchive,
    gate: &ConsentGate,
    model_id: &str,
    spec: &ModelSpec,
    params: &[f32],
) -> Result<LabelReport, LabelError> {
    let cells = training_cells(store, archive, gate, spec.input_size).await?;
    if cells.is_empty() {
        return Ok(LabelReport::default());
    }
    let size = spec.input_size;
    let mut images = oncofed_cnn::Dataset::new(size);
    for c in &cells {
        images
            .push_rgb(size, size, &c.pixels, None)
            .map_err(|e| LabelError::Model(e.to_string()))?;
    }
    let (spec, params) = (spec.clone(), params.to_vec());
    let predicted =
        tokio::task::spawn_blocking(move || oncofed_cnn::predict(&spec, &params, &images))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
            .map_err(|e| LabelError::Model(e.to_string()))?;
    let predictions: Vec<Prediction> = cells
        .iter()
        .zip(predicted)
        .map(|(c, (class, _))| Prediction {
            cell_key: c.cell_key.clone(),
            class,
        })
        .collect();
    let facts = write_predictions(store, model_id, Some("oncofed-cnn/v1"), &predictions).await?;
    Ok(LabelReport {
        labels: predictions.len(),
        facts,
    })
}
