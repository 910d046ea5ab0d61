//! The disagreement queue and the validated label set.
//!
//! A [`ValidationPolicy`] says when the annotators' labels suffice: at least
//! `min_experts` experts labelled the cell, and they agree under the [`Rule`]
//! (all of them, or more than half). Cells that fail go to the
//! [`disagreement_queue`] for an adjudicator. An [`Adjudication`] always
//! overrides the annotators, whatever they said; its adjudicator must not be
//! one of the cell's annotators.

use crate::{Adjudication, AnnotationSet, Method, ValidatedLabel, ValidationError};
use chrono::{DateTime, Utc};
use oncofed_model::CellClass;
use serde::Serialize;
use std::collections::BTreeMap;

/// How many annotators must agree for a label to stand without adjudication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// Every annotator gave the same label (the conservative default: any
    /// dispute goes to an adjudicator).
    #[default]
    Unanimous,
    /// Strictly more than half of the annotators gave the label.
    Majority,
}

impl std::str::FromStr for Rule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "unanimous" => Ok(Self::Unanimous),
            "majority" => Ok(Self::Majority),
            other => Err(format!(
                "unknown rule {other:?}: expected unanimous or majority"
            )),
        }
    }
}

/// When annotations make a validated label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ValidationPolicy {
    /// Experts who must have labelled a cell (default 2, at least 1).
    pub min_experts: usize,
    /// Unanimous (default) or majority.
    pub rule: Rule,
}

impl Default for ValidationPolicy {
    fn default() -> Self {
        Self {
            min_experts: 2,
            rule: Rule::Unanimous,
        }
    }
}

/// Why a cell waits for an adjudicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueReason {
    /// The experts gave different labels and the rule is not met.
    Disagreement,
    /// Fewer experts than the policy's minimum labelled the cell.
    TooFewExperts,
}

/// A cell in the disagreement queue, with what each expert said.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueEntry {
    /// The cell.
    pub cell_id: String,
    /// Why it is queued.
    pub reason: QueueReason,
    /// Each expert's label, in expert order.
    pub labels: BTreeMap<String, CellClass>,
    /// The share of experts giving the most frequent label (lower = more
    /// disputed).
    pub agreement: f64,
    /// How many different labels the experts gave.
    pub distinct_labels: usize,
}

/// The validated set, the queue and a summary, from one policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Validation {
    /// The policy applied.
    pub policy: ValidationPolicy,
    /// Validated labels in cell-id order.
    pub labels: Vec<ValidatedLabel>,
    /// Cells still waiting for an adjudicator, most disputed first.
    pub queue: Vec<QueueEntry>,
    /// Counts.
    pub summary: ValidationSummary,
}

/// What a validation produced, in numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationSummary {
    /// Cells any expert labelled.
    pub cells: usize,
    /// Cells with a validated label.
    pub validated: usize,
    /// Cells in the queue.
    pub queued: usize,
    /// Validated labels by method.
    pub by_method: BTreeMap<Method, usize>,
    /// Validated labels by class.
    pub by_class: BTreeMap<CellClass, usize>,
    /// Queued cells by reason (disagreement / too few experts).
    pub queued_disagreement: usize,
    /// Queued cells with too few experts.
    pub queued_too_few_experts: usize,
}

/// The latest adjudication per cell, after checking every adjudication against
/// the annotations (adjudicator not an annotator, cell annotated).
fn adjudications_by_cell<'a>(
    set: &AnnotationSet,
    adjudications: &'a [Adjudication],
) -> Result<BTreeMap<&'a str, &'a Adjudication>, ValidationError> {
    let mut latest: BTreeMap<&str, &Adjudication> = BTreeMap::new();
    for adj in adjudications {
        let Some(annotators) = set.cell(&adj.cell_id) else {
            return Err(ValidationError::AdjudicationWithoutAnnotations {
                cell_id: adj.cell_id.clone(),
                adjudicator: adj.adjudicator.clone(),
            });
        };
        if annotators.contains_key(&adj.adjudicator) {
            return Err(ValidationError::AdjudicatorIsAnnotator {
                cell_id: adj.cell_id.clone(),
                adjudicator: adj.adjudicator.clone(),
            });
        }
        match latest.get(adj.cell_id.as_str()) {
            Some(old) if old.at > adj.at => {}
            Some(old) if old.at == adj.at && old.label != adj.label => {
                return Err(ValidationError::ConflictingAdjudications {
                    cell_id: adj.cell_id.clone(),
                    at: adj.at.to_rfc3339(),
                });
            }
            _ => {
                latest.insert(adj.cell_id.as_str(), adj);
            }
        }
    }
    Ok(latest)
}

/// Applies `policy` and `adjudications` to `set`: the validated labels, the
/// queue and the summary. Deterministic: labels in cell-id order, the queue
/// most disputed first (lowest agreement, then most experts, then cell id).
pub fn validate(
    set: &AnnotationSet,
    adjudications: &[Adjudication],
    policy: ValidationPolicy,
) -> Result<Validation, ValidationError> {
    if policy.min_experts == 0 {
        return Err(ValidationError::Policy(
            "min_experts must be at least 1".into(),
        ));
    }
    let decided = adjudications_by_cell(set, adjudications)?;
    let mut labels = Vec::new();
    let mut queue = Vec::new();
    for (cell_id, by_expert) in set.cells() {
        let experts: Vec<String> = by_expert.keys().cloned().collect();
        let votes = by_expert.values().map(|a| a.label);
        let share_of = |label: CellClass| {
            votes.clone().filter(|&l| l == label).count() as f64 / experts.len() as f64
        };
        if let Some(adj) = decided.get(cell_id) {
            labels.push(ValidatedLabel {
                cell_id: cell_id.to_string(),
                label: adj.label,
                method: Method::Adjudicated,
                agreement: share_of(adj.label),
                experts,
                adjudicator: Some(adj.adjudicator.clone()),
                at: adj.at,
            });
            continue;
        }
        let mut counts: BTreeMap<CellClass, usize> = BTreeMap::new();
        for l in votes.clone() {
            *counts.entry(l).or_default() += 1;
        }
        // The most frequent label; on a tie the first in class order (only
        // used for the queue's agreement, a tie never validates).
        let (top, top_count) = counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(&c, &n)| (c, n))
            .unwrap_or((CellClass::Other, 0));
        let n = experts.len();
        let agreement = top_count as f64 / n.max(1) as f64;
        let method = if counts.len() == 1 {
            Some(Method::Consensus)
        } else if policy.rule == Rule::Majority && 2 * top_count > n {
            Some(Method::Majority)
        } else {
            None
        };
        let reason = if n < policy.min_experts {
            Some(QueueReason::TooFewExperts)
        } else if method.is_none() {
            Some(QueueReason::Disagreement)
        } else {
            None
        };
        match (reason, method) {
            (None, Some(method)) => labels.push(ValidatedLabel {
                cell_id: cell_id.to_string(),
                label: top,
                method,
                agreement,
                experts,
                adjudicator: None,
                at: by_expert
                    .values()
                    .map(|a| a.at)
                    .max()
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
            }),
            (reason, _) => queue.push(QueueEntry {
                cell_id: cell_id.to_string(),
                reason: reason.unwrap_or(QueueReason::Disagreement),
                labels: by_expert
                    .iter()
                    .map(|(e, a)| (e.clone(), a.label))
                    .collect(),
                agreement,
                distinct_labels: counts.len(),
            }),
        }
    }
    queue.sort_by(|a, b| {
        a.agreement
            .total_cmp(&b.agreement)
            .then(b.labels.len().cmp(&a.labels.len()))
            .then(a.cell_id.cmp(&b.cell_id))
    });
    let mut by_method = BTreeMap::new();
    let mut by_class = BTreeMap::new();
    for l in &labels {
        *by_method.entry(l.method).or_default() += 1;
        *by_class.entry(l.label).or_default() += 1;
    }
    let too_few = queue
        .iter()
        .filter(|q| q.reason == QueueReason::TooFewExperts)
        .count();
    let summary = ValidationSummary {
        cells: set.len(),
        validated: labels.len(),
        queued: queue.len(),
        by_method,
        by_class,
        queued_disagreement: queue.len() - too_few,
        queued_too_few_experts: too_few,
    };
    Ok(Validation {
        policy,
        labels,
        queue,
        summary,
    })
}

/// The cells waiting for an adjudicator under `policy`, most disputed first
/// (see [`validate`], which computes it along with the validated set).
pub fn disagreement_queue(
    set: &AnnotationSet,
    adjudications: &[Adjudication],
    policy: ValidationPolicy,
) -> Result<Vec<QueueEntry>, ValidationError> {
    validate(set, adjudications, policy).map(|v| v.queue)
}
