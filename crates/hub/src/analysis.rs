//! Analysis runs: the hub side of secure aggregation and the driver's federation.
//!
//! A run is: admission (`Prepare`: every registered site selects its rows under
//! consent and checks its own minimums), key set-up for all planned rounds at once
//! (`Keys`, `Share`: two round trips), then per aggregation round two round trips
//! (`Mask`, `Confirm`, `Reveal`). The hub holds one
//! `oncofed_secagg::AggregationRound` per round and only ever decodes sums.
//!
//! The hub is not trusted by the sites (malicious-server model, see
//! `oncofed_secagg`): it relays each site's keys as the site signed them, the
//! sites check them against their own roster and compute their own threshold
//! `max(n_min, ⌊2n/3⌋ + 1)` (the hub asks for the same), and before revealing,
//! every survivor signs the round's split (`Confirm`) and gets all signatures. Steps travel as ordinary sealed tasks through
//! the site channel, so sites still only make outbound requests.
//!
//! A site that refuses at `Prepare` (below its minimums, outside its bounds) or
//! does not answer before the admission timeout sits out; the run goes on
//! without it if enough sites remain, and the result names it with the rule
//! (`RunInfo::sat_out`).
//!
//! Iterative fits need the same sites in every round: a site that fails after
//! admission stops the run (its masks are still removable through the dropout
//! recovery, so the round's sum stays private, but the fit would mix site sets).

use crate::aggregate::outcome;
use crate::db::TaskRow;
use crate::routes::audit;
use crate::{ApiError, AppState};
use chrono::Utc;
use oncofed_analysis::result::SatOut;
use oncofed_analysis::{AnalysisError, AnalysisLimits, Federation};
use oncofed_crypto::SignedEnvelope;
use oncofed_model::{SecurityLevel, SiteId};
use oncofed_protocol::analysis::{AnalysisReply, AnalysisRequest, AnalysisStep, Computation};
use oncofed_protocol::api::TaskState;
use oncofed_protocol::plan::{PlanLimits, RunPlan};
use oncofed_protocol::{QueryId, Task, TaskAnswer, TaskId, TaskKind};
use oncofed_secagg::{
    AggregationRound, EncryptedShare, RoundId, SignedPublicShare, SitePolicy, WideFixedPoint,
};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The aggregation rounds the hub keys for a run of `request` (keys are set up
/// for all of them at once, and the signed plan's `max_rounds` is this
/// number): the most the driver may use for it
/// ([`AnalysisLimits::planned_rounds_for`]: the time-bin rounds, and for Cox
/// and GLM the Newton evaluations at the request's `max_iter`). Refused when
/// the project's approved plan allows fewer (`plan.max_rounds`).
pub fn planned_rounds(
    request: &AnalysisRequest,
    limits: &AnalysisLimits,
    project: &PlanLimits,
) -> Result<usize, AnalysisError> {
    let rounds = limits.planned_rounds_for(request)?;
    if rounds > project.max_rounds {
        return Err(AnalysisError::Invalid(format!(
            "this {} run may need {rounds} aggregation rounds, more than the project's round budget of {} (plan.max_rounds){}",
            request.analysis.kind(),
            project.max_rounds,
            match &request.analysis {
                oncofed_protocol::analysis::Analysis::Cox { .. }
                | oncofed_protocol::analysis::Analysis::FineGray { .. }
                | oncofed_protocol::analysis::Analysis::Glm { .. } => {
                    ": lower max_iter, or ask the admin for a larger budget"
                }
                _ => ": ask the admin for a larger budget",
            }
        )));
    }
    Ok(rounds)
}

/// Largest |β| per coefficient a run's plan allows: beyond it exp(β·x) is
/// dominated by one patient, which would isolate them in a risk-set sum.
pub const PLAN_MAX_ABS_BETA: f64 = 20.0;

/// The plan the hub signs for run `run_id` of `request`: its `rounds` (the
/// keyed ones, [`planned_rounds`]), grids no longer than one point per day of the horizon (or the
/// request's histogram edges) and coefficients, each within the project's
/// approved limits.
fn run_plan(
    run_id: &QueryId,
    request: &AnalysisRequest,
    project: &PlanLimits,
    rounds: usize,
) -> RunPlan {
    use oncofed_protocol::analysis::Analysis;
    let max_grid_points = match &request.analysis {
        Analysis::KaplanMeier { survival, .. }
        | Analysis::CumulativeIncidence { survival, .. }
        | Analysis::Cox { survival, .. }
        | Analysis::FineGray { survival, .. } => survival.horizon_days as usize + 1,
        Analysis::Describe { edges, .. } => edges.len(),
        Analysis::Glm { .. } => 0,
    };
    RunPlan {
        run: run_id.clone(),
        request: request.clone(),
        max_rounds: rounds.min(project.max_rounds),
        max_grid_points,
        max_abs_beta: PLAN_MAX_ABS_BETA.min(project.max_abs_beta),
    }
}

/// The encoding of every analysis vector (the sites use the same): two ring
/// elements per value (resolution 2⁻⁴⁸), so a masked vector of a computation
/// of `len` values has `2 · len` elements and decodes to `len` values.
const CODEC: WideFixedPoint = WideFixedPoint::DEFAULT;

/// The disclosure limits for a request, from the hub's configuration.
pub fn limits_for(state: &AppState, request: &AnalysisRequest) -> AnalysisLimits {
    let level = SecurityLevel::of_dataset(request.categories());
    state.inner.config.analysis_limits[level as usize - 1]
}

fn federation_error(e: impl std::fmt::Display) -> AnalysisError {
    AnalysisError::Federation(e.to_string())
}

/// The sites of one run, as the driver sees them.
pub struct HubFederation<'a> {
    state: &'a AppState,
    handle: &'a tokio::runtime::Handle,
    run_id: QueryId,
    /// Admitted sites; position = secure-aggregation index.
    sites: Vec<String>,
    /// Sites that refused admission or did not answer, with the reason.
    sat_out: Vec<SatOut>,
    rounds: Vec<(RoundId, AggregationRound)>,
    inboxes: Vec<BTreeMap<oncofed_secagg::SiteId, Vec<EncryptedShare>>>,
    next: usize,
}

impl<'a> HubFederation<'a> {
    /// Admission and key set-up. Blocking (drives the async steps on `handle`).
    pub fn prepare(
        state: &'a AppState,
        handle: &'a tokio::runtime::Handle,
        run_id: QueryId,
        request: &AnalysisRequest,
        limits: &AnalysisLimits,
        project: &PlanLimits,
    ) -> Result<Self, AnalysisError> {
        let registered: Vec<String> = state
            .inner
            .db
            .sites()
            .map_err(federation_error)?
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        let planned = planned_rounds(request, limits, project)?;
        let plan = run_plan(&run_id, request, project, planned)
            .sign(&state.inner.config.key)
            .map_err(federation_error)?;
        let step = AnalysisStep::Prepare {
            request: request.clone(),
            min_rows: limits.min_rows_per_site,
            max_parameter_ratio: limits.max_parameter_ratio,
            plan: Box::new(plan),
        };
        let replies = dispatch(
            state,
            handle,
            &run_id,
            registered
                .iter()
                .map(|s| (s.clone(), step.clone()))
                .collect(),
            state.inner.config.analysis_admission_timeout,
        )?;
        let mut sites = Vec::new();
        let mut refusals = Vec::new();
        for (site, reply) in replies {
            match reply {
                Ok(AnalysisReply::Admitted) => sites.push(site),
                Ok(_) => refusals.push((site, "unexpected reply".to_string())),
                Err(reason) if reason == NO_ANSWER => {
                    refusals.push((site, "no answer before the admission timeout".to_string()))
                }
                Err(reason) => refusals.push((site, reason)),
            }
        }
        audit_blocking(
            state,
            "analysis.admission",
            &run_id,
            serde_json::json!({ "admitted": sites, "refused": refusals.clone() }),
        )?;
        let mut fed = Self {
            state,
            handle,
            run_id: run_id.clone(),
            sites,
            sat_out: refusals
                .iter()
                .map(|(site, reason)| SatOut {
                    site: site.clone(),
                    reason: rule_of(reason),
                })
                .collect(),
            rounds: Vec::new(),
            inboxes: Vec::new(),
            next: 0,
        };
        if fed.sites.len() < limits.min_sites {
            let reasons: Vec<String> = refusals
                .iter()
                .map(|(site, reason)| format!("{site}: {reason}"))
                .collect();
            return Err(AnalysisError::Disclosure(format!(
                "fewer than {} sites can take part ({})",
                limits.min_sites,
                reasons.join("; ")
            )));
        }
        // The sites' own rule (they use theirs if it is higher, and a round
        // reconstructed with fewer shares than they require would fail).
        let threshold = SitePolicy {
            min_sites: limits.min_sites,
        }
        .threshold(fed.sites.len())
        .map_err(federation_error)?;
        let ids: Vec<oncofed_secagg::SiteId> = (0..fed.sites.len() as u32)
            .map(oncofed_secagg::SiteId)
            .collect();
        let round_ids: Vec<RoundId> = (0..planned)
            .map(|i| RoundId::new(format!("{run_id}/{i}")))
            .collect::<Result<_, _>>()
            .map_err(federation_error)?;
        for r in &round_ids {
            let agg =
                AggregationRound::new(r.clone(), &ids, threshold).map_err(federation_error)?;
            fed.rounds.push((r.clone(), agg));
        }
        let keys_steps = fed
            .sites
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    s.clone(),
                    AnalysisStep::Keys {
                        index: i as u32,
                        threshold,
                        rounds: round_ids.clone(),
                    },
                )
            })
            .collect();
        let mut signed: Vec<BTreeMap<oncofed_secagg::SiteId, SignedPublicShare>> =
            vec![BTreeMap::new(); fed.rounds.len()];
        for (_, reply) in fed.expect_all(keys_steps)? {
            let AnalysisReply::Ready { shares } = reply else {
                return Err(AnalysisError::Protocol("expected public keys"));
            };
            if shares.len() != fed.rounds.len() {
                return Err(AnalysisError::Protocol("wrong number of public keys"));
            }
            for (((_, agg), share), by_site) in fed.rounds.iter_mut().zip(shares).zip(&mut signed) {
                agg.add_share(share.share.clone())
                    .map_err(federation_error)?;
                by_site.insert(share.share.site, share);
            }
        }
        // Relay every round's keys as the sites signed them.
        let mut keys = Vec::with_capacity(fed.rounds.len());
        for ((_, agg), by_site) in fed.rounds.iter_mut().zip(&signed) {
            let relayed = agg
                .close_keys()
                .map_err(federation_error)?
                .iter()
                .filter_map(|p| by_site.get(&p.site).cloned())
                .collect::<Vec<_>>();
            keys.push(relayed);
        }
        let share_steps = fed
            .sites
            .iter()
            .map(|s| (s.clone(), AnalysisStep::Share { keys: keys.clone() }))
            .collect();
        for (i, (_, reply)) in fed.expect_all(share_steps)?.into_iter().enumerate() {
            let AnalysisReply::Shares { shares } = reply else {
                return Err(AnalysisError::Protocol("expected encrypted shares"));
            };
            if shares.len() != fed.rounds.len() {
                return Err(AnalysisError::Protocol("wrong number of share lists"));
            }
            for ((_, agg), s) in fed.rounds.iter_mut().zip(shares) {
                agg.add_encrypted_shares(oncofed_secagg::SiteId(i as u32), s)
                    .map_err(federation_error)?;
            }
        }
        for (_, agg) in &mut fed.rounds {
            fed.inboxes
                .push(agg.close_shares().map_err(federation_error)?);
        }
        Ok(fed)
    }

    /// Sends one step per site and requires every site's success, in site order.
    fn expect_all(
        &self,
        steps: Vec<(String, AnalysisStep)>,
    ) -> Result<Vec<(String, AnalysisReply)>, AnalysisError> {
        let timeout = self.state.inner.config.analysis_step_timeout;
        let mut replies = dispatch(self.state, self.handle, &self.run_id, steps, timeout)?;
        let order: HashMap<&String, usize> =
            self.sites.iter().enumerate().map(|(i, s)| (s, i)).collect();
        replies.sort_by_key(|(s, _)| order.get(s).copied().unwrap_or(usize::MAX));
        replies
            .into_iter()
            .map(|(site, r)| match r {
                Ok(reply) => Ok((site, reply)),
                Err(reason) => Err(AnalysisError::Federation(format!(
                    "site {site} stopped taking part: {reason}"
                ))),
            })
            .collect()
    }

    /// The sites that sat out the run (refused at admission or did not
    /// answer), each with its reason, for the result's `RunInfo`.
    pub fn sat_out(&self) -> &[SatOut] {
        &self.sat_out
    }

    /// Tells the sites to drop the run's state (not awaited).
    pub fn finish(&self) {
        let steps = self
            .sites
            .iter()
            .map(|s| (s.clone(), AnalysisStep::Finish))
            .collect();
        if let Err(e) = issue(self.state, &self.run_id, steps) {
            tracing::warn!(error = %e, "could not send finish to the sites");
        }
    }
}

impl Federation for HubFederation<'_> {
    fn sites(&self) -> usize {
        self.sites.len()
    }

    /// The sites' agents add their noise shares to a DP describe's counts
    /// before masking (`oncofed_analysis::site::add_noise_share`).
    fn noised_at_sites(&self) -> bool {
        true
    }

    fn sum(&mut self, computation: Computation, len: usize) -> Result<Vec<f64>, AnalysisError> {
        let i = self.next;
        if i >= self.rounds.len() {
            return Err(AnalysisError::Federation(format!(
                "the run needs more than its {} planned aggregation rounds",
                self.rounds.len()
            )));
        }
        self.next += 1;
        let round = self.rounds[i].0.clone();
        let steps = self
            .sites
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let inbox = self.inboxes[i]
                    .get(&oncofed_secagg::SiteId(k as u32))
                    .cloned()
                    .unwrap_or_default();
                (
                    s.clone(),
                    AnalysisStep::Mask {
                        round: round.clone(),
                        inbox,
                        computation: computation.clone(),
                    },
                )
            })
            .collect();
        let masked = self.expect_all(steps)?;
        let agg = &mut self.rounds[i].1;
        for (_, reply) in masked {
            let AnalysisReply::Masked { input } = reply else {
                return Err(AnalysisError::Protocol("expected a masked vector"));
            };
            agg.add_masked(input).map_err(federation_error)?;
        }
        let request = agg.close_inputs().map_err(federation_error)?;
        // Consistency round: every survivor signs the split; all signatures go
        // to every survivor, which reveals only with `t` valid ones.
        let steps = self
            .sites
            .iter()
            .map(|s| {
                (
                    s.clone(),
                    AnalysisStep::Confirm {
                        request: request.clone(),
                    },
                )
            })
            .collect();
        let mut signatures = Vec::with_capacity(self.sites.len());
        for (_, reply) in self.expect_all(steps)? {
            let AnalysisReply::Confirmed { signature } = reply else {
                return Err(AnalysisError::Protocol("expected a survivor signature"));
            };
            signatures.push(signature);
        }
        let steps = self
            .sites
            .iter()
            .map(|s| {
                (
                    s.clone(),
                    AnalysisStep::Reveal {
                        request: request.clone(),
                        signatures: signatures.clone(),
                    },
                )
            })
            .collect();
        let revealed = self.expect_all(steps)?;
        let agg = &mut self.rounds[i].1;
        for (_, reply) in revealed {
            let AnalysisReply::Revealed { reveal } = reply else {
                return Err(AnalysisError::Protocol("expected revealed shares"));
            };
            agg.add_reveal(reveal).map_err(federation_error)?;
        }
        let sum = agg.finish().map_err(federation_error)?;
        audit_blocking(
            self.state,
            "analysis.round",
            &self.run_id,
            serde_json::json!({
                "round": i, "computation": computation_name(&computation),
                "length": len, "sites": self.sites,
            }),
        )?;
        let values = CODEC
            .decode_sum(&sum, self.sites.len())
            .map_err(federation_error)?;
        if values.len() != len {
            return Err(AnalysisError::Protocol("sum has the wrong length"));
        }
        Ok(values)
    }
}

fn audit_blocking(
    state: &AppState,
    action: &str,
    run_id: &QueryId,
    details: serde_json::Value,
) -> Result<(), AnalysisError> {
    audit(state, "hub", action, run_id.as_str(), details)
        .map_err(|_| AnalysisError::Federation("the audit trail is unavailable".into()))
}

/// Seals and queues one task per (site, step); returns the task ids.
fn issue(
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

fn computation_name(c: &Computation) -> &'static str {
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
const NO_ANSWER: &str = "no answer before the step timeout";

/// A site's refusal as released in the result: the rule alone, without the
/// error kind's prefix the site's text starts with. Sites word refusals as
/// rules, never counts ([`AnalysisLimits::check_site`], the one constant
/// secure-aggregation refusal); kept to one line of bounded length in case a
/// site says more.
fn rule_of(reason: &str) -> String {
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
type SiteReply = (String, Result<AnalysisReply, String>);

/// Issues the steps and waits (up to the step timeout) for every site's outcome.
/// A site that does not answer in time counts as failed.
fn dispatch(
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

/// Converts a driver error for the API: disclosure refusals are 403 with the rule.
pub fn api_error(e: &AnalysisError) -> ApiError {
    match e {
        AnalysisError::Invalid(m) => ApiError::Invalid(m.clone()),
        AnalysisError::Disclosure(_) => ApiError::Refused(e.to_string()),
        _ => ApiError::internal(e),
    }
}
