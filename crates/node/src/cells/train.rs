//! What the rest of the site does with stored cells: label them (experts,
//! validation, a model's predictions), keep the smear facts in step with the
//! labels, and load consented cells with their pixels for training at the site.

use super::facts::{SmearCounts, smear_facts};
use super::{CellError, smears_of_cells};
use crate::imaging::ObjectArchive;
use crate::{ConsentGate, GateError, SharedStore};
use chrono::{DateTime, NaiveDate, Utc};
use oncofed_model::{CellClass, DataCategory, Pseudonym, Purpose, Specimen};
use oncofed_store::{
    CellLabelRow, CellRow, LabelRole, ResearchStore, SmearRow, StoreError, StoredFact, WriteBatch,
};
use std::collections::{BTreeMap, HashSet};

/// The facts of `smears`, counted over `cells` (all cells of those smears)
/// and their `labels`.
pub(super) fn facts_of(
    smears: &[SmearRow],
    cells: &[CellRow],
    labels: &[CellLabelRow],
) -> Vec<StoredFact> {
    let mut by_smear: BTreeMap<&str, Vec<CellRow>> = BTreeMap::new();
    for c in cells {
        by_smear
            .entry(c.smear_key.as_str())
            .or_default()
            .push(c.clone());
    }
    smears
        .iter()
        .flat_map(|s| {
            let own = by_smear
                .get(s.smear_key.as_str())
                .map_or(&[][..], Vec::as_slice);
            smear_facts(s, &SmearCounts::of(own, labels))
        })
        .collect()
}

/// Recomputes the facts of the smears `smear_keys` from the store's cells and
/// labels, plus `labels` written in the same transaction. Inside the caller's
/// store lock.
fn recount(
    s: &mut dyn ResearchStore,
    smear_keys: &[String],
    labels: Vec<CellLabelRow>,
) -> Result<usize, StoreError> {
    let wanted: HashSet<&str> = smear_keys.iter().map(String::as_str).collect();
    let smears: Vec<SmearRow> = s
        .all_smears()?
        .into_iter()
        .filter(|r| wanted.contains(r.smear_key.as_str()))
        .collect();
    let cells = s.cells_of(smear_keys)?;
    let cell_keys: Vec<String> = cells.iter().map(|c| c.cell_key.clone()).collect();
    let mut all_labels = s.cell_labels_of(&cell_keys)?;
    // The new labels replace stored ones of the same (cell, role, expert).
    all_labels.retain(|old| {
        !labels.iter().any(|new| {
            new.cell_key == old.cell_key && new.role == old.role && new.expert == old.expert
        })
    });
    all_labels.extend(labels.iter().cloned());
    let facts = facts_of(&smears, &cells, &all_labels);
    let n = facts.len();
    s.write(&WriteBatch {
        facts,
        cell_labels: labels,
        ..Default::default()
    })?;
    Ok(n)
}

/// Recomputes the per-smear facts (class counts, blast percentage) of the
/// smears `smear_keys` from their stored cells and labels, in one
/// transaction. Call after labels changed by other means than
/// [`write_labels`]. Returns the facts written.
pub async fn recount_smear_facts(
    store: &SharedStore,
    smear_keys: Vec<String>,
) -> Result<usize, StoreError> {
    crate::with_store(store, move |s| recount(s, &smear_keys, Vec::new())).await
}

/// Stores `labels` (expert readings, adjudications, validated labels, model
/// predictions; one per cell, role and expert, replacing an earlier one) and
/// recounts the facts of the smears they touch, in one transaction. A label
/// of a cell the store does not hold fails the whole call. Returns the facts
/// written.
pub async fn write_labels(
    store: &SharedStore,
    labels: Vec<CellLabelRow>,
) -> Result<usize, StoreError> {
    crate::with_store(store, move |s| {
        let keys: Vec<String> = labels.iter().map(|l| l.cell_key.clone()).collect();
        let cells = cells_by_key(s, &keys)?;
        let smears = smears_of_cells(&cells);
        recount(s, &smears, labels)
    })
    .await
}

/// The stored cells among `keys`.
fn cells_by_key(s: &dyn ResearchStore, keys: &[String]) -> Result<Vec<CellRow>, StoreError> {
    s.cells_by_key(keys)
}

/// One prediction of a model for a stored cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The cell ([`CellSample::cell_key`]).
    pub cell_key: String,
    /// The predicted class.
    pub class: CellClass,
}

/// Writes a model's predictions (inference at the site) as labels with role
/// `model`, expert `model_id` (its registry id), method `model_version`, and
/// recounts the touched smears' facts, so that a new smear gets its blast
/// percentage from the model when no human label is there.
pub async fn write_predictions(
    store: &SharedStore,
    model_id: &str,
    model_version: Option<&str>,
    predictions: &[Prediction],
) -> Result<usize, StoreError> {
    let at: DateTime<Utc> = Utc::now();
    let labels = predictions
        .iter()
        .map(|p| CellLabelRow {
            cell_key: p.cell_key.clone(),
            expert: model_id.to_owned(),
            label: p.class,
            role: LabelRole::Model,
            method: model_version.map(str::to_owned),
            at,
        })
        .collect();
    write_labels(store, labels).await
}

/// The part of the person-level split a person's cells belong to: fixed per
/// person (a hash of the site pseudonym, 7 : 1 : 2), so every run at the site
/// holds out the same persons and no person's cells are on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SplitPart {
    /// Local training.
    Training,
    /// Validation loss (early stopping).
    Validation,
    /// Held out for evaluation.
    Test,
}

/// Which part of the split `person`'s cells are in.
pub fn split_part(person: &Pseudonym) -> SplitPart {
    use sha2::{Digest, Sha256};
    let d = Sha256::new()
        .chain_update(b"oncofed cell split v1\0")
        .chain_update(person.as_str().as_bytes())
        .finalize();
    match d[0] % 10 {
        0..=6 => SplitPart::Training,
        7 => SplitPart::Validation,
        _ => SplitPart::Test,
    }
}

/// One consented cell ready for a model: its keys, its smear's specimen, its
/// pixels and its validated label.
#[derive(Debug, Clone, PartialEq)]
pub struct CellSample {
    /// The cell's store key.
    pub cell_key: String,
    /// Its smear's store key.
    pub smear_key: String,
    /// The person's site pseudonym (for per-person splits).
    pub pseudonym: Pseudonym,
    /// Bone marrow or peripheral blood.
    pub specimen: Specimen,
    /// `size × size × 3` RGB bytes, row-major (resized with a triangle filter).
    pub pixels: Vec<u8>,
    /// The newest validated label; `None` for cells not validated (usable for
    /// inference, not as ground truth).
    pub label: Option<CellClass>,
}

/// Why cells could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The consent gate could not answer (it fails closed).
    #[error("no cells were loaded: {0}")]
    Consent(#[from] GateError),
    /// An archived image is missing or does not decode.
    #[error(transparent)]
    Cell(#[from] CellError),
}

/// The site's cells whose person's consent permits research use of pathology
/// data collected on the smear's date (today), with pixels resized to
/// `size × size` RGB and their validated labels, in smear-key then cell-key
/// order. `size` 0 is taken as 1.
pub async fn training_cells(
    store: &SharedStore,
    archive: &ObjectArchive,
    gate: &ConsentGate,
    size: u32,
) -> Result<Vec<CellSample>, TrainingError> {
    let listing = crate::with_store(store, |s| s.cell_listing()).await?;
    let today: NaiveDate = Utc::now().date_naive();
    let asked: Vec<(Pseudonym, DataCategory, Option<NaiveDate>)> = listing
        .iter()
        .map(|l| {
            (
                l.smear.pseudonym.clone(),
                DataCategory::Pathology,
                l.smear.collected,
            )
        })
        .collect();
    let permitted = gate
        .permitted_facts(Purpose::Research, today, asked)
        .await?;
    let size = size.max(1);
    let mut out = Vec::new();
    for l in listing {
        let question = (
            l.smear.pseudonym.clone(),
            DataCategory::Pathology,
            l.smear.collected,
        );
        if !permitted.contains(&question) {
            continue;
        }
        let bytes = archive
            .get(&l.cell.object_key)
            .await
            .map_err(CellError::Archive)?;
        let key = l.cell.cell_key.clone();
        let pixels = tokio::task::spawn_blocking(move || resize(&bytes, size))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
            .map_err(|message| CellError::Image {
                row: 0,
                path: format!("archive object of cell {key}").into(),
                message,
            })?;
        out.push(CellSample {
            cell_key: l.cell.cell_key,
            smear_key: l.smear.smear_key,
            pseudonym: l.smear.pseudonym,
            specimen: l.smear.specimen,
            pixels,
            label: l.validated,
        });
    }
    Ok(out)
}

/// The PNG `bytes` as `size × size` RGB bytes.
fn resize(bytes: &[u8], size: u32) -> Result<Vec<u8>, String> {
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .map_err(|e| format!("the archived image does not decode: {e}"))?
        .to_rgb8();
    Ok(image::imageops::resize(&img, size, size, image::imageops::FilterType::Triangle).into_raw())
}
