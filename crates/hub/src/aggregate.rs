//! From the sites' sealed outcomes to what a researcher may see.

use crate::AppState;
use crate::db::{QueryRow, TaskRow};
use chrono::{DateTime, Utc};
use oncofed_crypto::SignedEnvelope;
use oncofed_model::SiteId;
use oncofed_privacy::{Released, SiteAnswer, Sketch, dedup_ratio, release_total};
use oncofed_protocol::TaskOutcome;
use oncofed_protocol::api::{FeasibilityResponse, QueryStatus, SiteStatus, TaskState};

/// The outcome inside a stored envelope (verified when it was received).
pub(crate) fn outcome(task: &TaskRow) -> Option<TaskOutcome> {
    let envelope: SignedEnvelope = serde_json::from_str(task.outcome.as_deref()?).ok()?;
    serde_json::from_str(&envelope.payload).ok()
}

/// Applies the hub's disclosure rules to the answers so far.
///
/// The figures cover the sites that answered; while that is a strict subset of
/// the sites the query went to (interim answers, or a final answer after some
/// failed), [`release_total`] releases them only when the breakdown rule holds
/// for that subset itself, so no interim figure is one site's count.
///
/// Sketches count only for sites whose count was released: a suppressed site's
/// patients are not in the total (its count says "too few to show"), and the
/// de-duplication ratio scales the sum of released, noised counts, so the hub never
/// releases a sketch estimate itself (it would carry no noise).
pub fn release(
    state: &AppState,
    query: &QueryRow,
    tasks: &[TaskRow],
    now: DateTime<Utc>,
) -> FeasibilityResponse {
    let mut answers = Vec::new();
    let mut sketches: Vec<Sketch> = Vec::new();
    for task in tasks.iter().filter(|t| t.state == TaskState::Succeeded) {
        let Some(o) = outcome(task) else { continue };
        let Ok(oncofed_protocol::TaskAnswer::Feasibility(answer)) = o.result else {
            continue;
        };
        if answer.count != Released::Suppressed {
            sketches.push(answer.sketch);
        }
        answers.push(SiteAnswer {
            site: o.site,
            count: answer.count,
        });
    }
    let refs: Vec<&Sketch> = sketches.iter().collect();
    let queried: Vec<SiteId> = tasks
        .iter()
        .filter_map(|t| SiteId::new(t.site.clone()).ok())
        .collect();
    let released = release_total(
        &answers,
        &queried,
        dedup_ratio(&refs),
        &state.inner.config.disclosure,
    );
    let all_final = tasks
        .iter()
        .all(|t| !matches!(t.state, TaskState::Queued | TaskState::Claimed));
    let all_succeeded = tasks.iter().all(|t| t.state == TaskState::Succeeded);
    let status = if all_succeeded {
        QueryStatus::Complete
    } else if all_final || now >= query.deadline {
        QueryStatus::Partial
    } else {
        QueryStatus::Running
    };
    FeasibilityResponse {
        query_id: query.query_id.clone(),
        status,
        criteria: query.description.clone(),
        total: released.total,
        per_site: released
            .per_site
            .map(|v| v.into_iter().collect::<Vec<(SiteId, Released)>>()),
        withheld: released.withheld.map(|w| w.to_string()),
        sites: tasks
            .iter()
            .filter_map(|t| {
                Some(SiteStatus {
                    site: SiteId::new(t.site.clone()).ok()?,
                    state: t.state,
                    attempts: t.attempts,
                })
            })
            .collect(),
    }
}
