//! Sending analysis steps to the sites and collecting their answers: each
//! step is an ordinary sealed task per site, so sites only ever make outbound
//! requests; the hub waits for the step's outcomes up to a timeout.

use super::federation_error;
use crate::AppState;
use crate::aggregate::outcome;
use crate::db::TaskRow;
use chrono::Utc;
use oncofed_analysis::AnalysisError;
use oncofed_crypto::SignedEnvelope;
use oncofed_model::SiteId;
use oncofed_protocol::analysis::{AnalysisReply, AnalysisStep, Computation};
use oncofed_protocol::api::TaskState;
use oncofed_protocol::{QueryId, Task, TaskAnswer, TaskId, TaskKind};
use std::collections::HashMap;
use std::time::Duration;

/// Seals and queues one task per (site, step); returns the task ids.
pub(super) fn issue(
    state: &AppState,
    run_id: &QueryId,
    steps: Vec<(String, AnalysisStep)>,
) -> Result<Vec<(String, TaskId)>, AnalysisError> {
    let cfg = &state.inner.config;
    let now = Utc::now();
    let expires_at = now + chrono::Duration::from_std(cfg.task_ttl).map_err(federation_error)?;
    let mut rows = Vec::with_capacity(steps.len());
    let mut ids = Vec::with_capacity(steps.len());
    for (site, step) in steps {
        let task = Task {
            task_id: TaskId::random(),
            query_id: run_id.clone(),
            site: SiteId::new(site.clone()).map_err(federation_error)?,
            kind: TaskKind::Analysis {
                step: Box::new(step),
            },
            issued_at: now,
            expires_at,
        };
        let envelope = SignedEnvelope::seal(&task, &cfg.key).map_err(federation_error)?;
        ids.push((site.clone(), task.task_id.clone()));
        rows.push(TaskRow {
            task_id: task.task_id,
            query_id: run_id.clone(),
            site,
            state: TaskState::Queued,
            attempts: 0,
            envelope: serde_json::to_string(&envelope).map_err(federation_error)?,
            expires_at,
            outcome: None,
        });
    }
    state
        .inner
        .db
        .insert_tasks(&rows)
        .map_err(federation_error)?;
    for (site, _) in &ids {
        state.wakeup(site).notify_one();
    }
    Ok(ids)
}

pub(super) fn computation_name(c: &Computation) -> &'static str {
    match c {
        Computation::Totals => "totals",
        Computation::EventDays { .. } => "event-days",
        Computation::ExitCounts { .. } => "exit-counts",
        Computation::GroupLevels => "group-levels",
        Computation::KmCounts { .. } => "km-counts",
        Computation::CifCounts { .. } => "cif-counts",
        Computation::CoxSums { .. } => "cox-sums",
        Computation::CoxResidualGram { .. } => "cox-residual-gram",
        Computation::FineGraySums { .. } => "finegray-sums",
        Computation::FineGrayResidualGram { .. } => "finegray-residual-gram",
        Computation::CoxStratum { .. } => "cox-stratum",
        Computation::GlmStart => "glm-start",
        Computation::GlmStep { .. } => "glm-step",
        Computation::Describe { .. } => "describe",
        Computation::Train { .. } => "train",
        Computation::Evaluate { .. } => "evaluate",
    }
}

fn step_name(step: &AnalysisStep) -> &'static str {
    match step {
        AnalysisStep::Prepare { .. } => "prepare",
        AnalysisStep::Keys { .. } => "keys",
        AnalysisStep::Share { .. } => "share",
        AnalysisStep::Mask { .. } => "mask",
        AnalysisStep::Confirm { .. } => "confirm",
        AnalysisStep::Reveal { .. } => "reveal",
        AnalysisStep::Finish => "finish",
    }
}

/// The reason a site that did not answer in time is given.
pub(super) const NO_ANSWER: &str = "no answer before the step timeout";

/// A site's refusal as released in the result: the rule alone, without the
/// error kind's prefix the site's text starts with. Sites word refusals as
/// rules, never counts ([`AnalysisLimits::check_site`], the one constant
/// secure-aggregation refusal); kept to one line of bounded length in case a
/// site says more.
pub(super) fn rule_of(reason: &str) -> String {
    const MAX_CHARS: usize = 200;
    let rule = reason
        .strip_prefix("refused by disclosure control: ")
        .unwrap_or(reason);
    let line: String = rule
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_CHARS)
        .collect();
    line.trim().to_string()
}

/// One site's reply to a step, or why it has none.
pub(super) type SiteReply = (String, Result<AnalysisReply, String>);

/// Issues the steps and waits (up to the step timeout) for every site's outcome.
/// A site that does not answer in time counts as failed.
pub(super) fn dispatch(
    state: &AppState,
    handle: &tokio::runtime::Handle,
    run_id: &QueryId,
    steps: Vec<(String, AnalysisStep)>,
    timeout: Duration,
) -> Result<Vec<SiteReply>, AnalysisError> {
    if steps.is_empty() {
        return Ok(Vec::new());
    }
    let started = std::time::Instant::now();
    let kind = step_name(&steps[0].1);
    let ids = issue(state, run_id, steps)?;
    let issued_ms = started.elapsed().as_millis() as u64;
    let task_ids: Vec<TaskId> = ids.iter().map(|(_, t)| t.clone()).collect();
    let rows = handle.block_on(async {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let notified = state.inner.results.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let rows = state
                .inner
                .db
                .tasks_by_id(&task_ids)
                .map_err(federation_error)?;
            let done = rows
                .iter()
                .all(|r| !matches!(r.state, TaskState::Queued | TaskState::Claimed));
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if done || left.is_zero() {
                return Ok::<_, AnalysisError>(rows);
            }
            let _ = tokio::time::timeout(left.min(Duration::from_secs(1)), notified).await;
        }
    })?;
    tracing::debug!(
        run = %run_id,
        step = kind,
        sites = task_ids.len(),
        issued_ms,
        total_ms = started.elapsed().as_millis() as u64,
        "analysis step dispatched and answered"
    );
    let by_id: HashMap<TaskId, TaskRow> =
        rows.into_iter().map(|r| (r.task_id.clone(), r)).collect();
    Ok(ids
        .into_iter()
        .map(|(site, task_id)| {
            let reply = match by_id.get(&task_id) {
                Some(row) if row.state == TaskState::Succeeded => {
                    match outcome(row).map(|o| o.result) {
                        Some(Ok(TaskAnswer::Analysis(reply))) => Ok(*reply),
                        _ => Err("unreadable answer".to_string()),
                    }
                }
                Some(row) if row.state == TaskState::Failed => {
                    Err(match outcome(row).map(|o| o.result) {
                        Some(Err(reason)) => reason,
                        _ => "failed".to_string(),
                    })
                }
                _ => Err(NO_ANSWER.to_string()),
            };
            (site, reply)
        })
        .collect())
}
