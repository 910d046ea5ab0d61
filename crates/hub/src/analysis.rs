//! Analysis runs: the hub side of secure aggregation and the driver's federation.
//!
//! A run is: admission (`Prepare`: every registered site selects its rows under
//! consent and checks its own minimums), key set-up for all planned rounds at once
//! (`Keys`, `Share`: two round trips), then per aggregation round three round
//! trips (`Mask`, `Confirm`, `Reveal`). The hub holds one
//! `oncofed_secagg::AggregationRound` per round and only ever decodes sums.
//!
//! The hub is not trusted by the sites (malicious-server model, see
//! `oncofed_secagg`): it relays each site's keys as the site signed them, the
//! sites check them against their own roster and compute their own threshold
//! `max(n_min, ⌊2n/3⌋ + 1)` (the hub asks for the same), and before revealing,
//! every survivor signs the round's split (`Confirm`) and gets all signatures.
//! Steps travel as ordinary sealed tasks through the site channel
//! ([`steps`]), so sites still only make outbound requests.
//!
//! A site that refuses at `Prepare` (below its minimums, outside its bounds) or
//! does not answer before the admission timeout sits out; the run goes on
//! without it if enough sites remain, and the result names it with the rule
//! (`RunInfo::sat_out`).
//!
//! # A site that leaves mid-run (issue 13, item 5)
//!
//! Iterative fits need the same sites in every round, and a result over a site
//! set next to another over the same cohort without one site discloses that
//! site's contribution. So a site may leave only while nothing with its data
//! has been revealed:
//!
//! - A site that fails (no answer within `analysis_step_timeout`, or a
//!   refusal) at a round's `Mask` step **before any sum of the run was
//!   revealed** (rounds run one after the other, so in practice at the first
//!   round, the Totals) leaves the run: the round closes without it through the
//!   secure-aggregation dropout recovery (the survivors reveal shares of its
//!   mask secret, never of its self-mask, so its late input stays masked and
//!   is refused anyway), and every later round runs on the same survivors. Every
//!   sum the hub ever decodes is then over one site set. It needs at least
//!   `max(t, min_sites)` survivors, `t` the secure-aggregation threshold the
//!   sites fixed for all sites admitted; below that the run fails. The result
//!   names the site with the round, step and time (`RunInfo::left`), and the
//!   audit trail holds an `analysis.site_left` entry.
//! - A site that fails at `Mask` after a sum was revealed, or at `Confirm` or
//!   `Reveal` (its masked input is in the round's split), fails the run with a
//!   reason saying so: the fit would mix site sets, and re-running without it
//!   would difference it out. Nothing is released and no budget is charged.
//! - The hub is not trusted with this decision: each survivor signs a split
//!   only if its survivor set is the run's one survivor set
//!   (`oncofed_secagg::RunParticipant::confirm`) and the cohort's site set
//!   under the sites' repeat rule (`oncofed_node`'s `agent::plan`), which then
//!   binds the cohort to the survivors: the same cohort over the full set is
//!   refused later, exactly as for any other pair of site sets.

mod steps;

use crate::routes::audit;
use crate::{ApiError, AppState};
use chrono::Utc;
use oncofed_analysis::result::{SatOut, SiteLeft};
use oncofed_analysis::{AnalysisError, AnalysisLimits, Federation};
use oncofed_model::SecurityLevel;
use oncofed_protocol::QueryId;
use oncofed_protocol::analysis::{AnalysisReply, AnalysisRequest, AnalysisStep, Computation};
use oncofed_protocol::plan::{PlanLimits, RunPlan};
use oncofed_secagg::{
    AggregationRound, EncryptedShare, MaskedInput, RoundId, SignedPublicShare, SitePolicy,
    WideFixedPoint,
};
use std::collections::{BTreeMap, HashMap};
use steps::{NO_ANSWER, computation_name, dispatch, issue, rule_of};

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
                oncofed_protocol::analysis::Analysis::CellClassifier { .. } => {
                    ": lower training.rounds, or ask the admin for a larger budget"
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
        Analysis::Glm { .. } | Analysis::CellClassifier { .. } => 0,
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
    /// Positions in `sites` of the sites still taking part, ascending: all
    /// admitted sites until one leaves at a `Mask` step.
    active: Vec<usize>,
    /// Sites that refused admission or did not answer, with the reason.
    sat_out: Vec<SatOut>,
    /// Admitted sites that left before any sum with their data was revealed.
    left: Vec<SiteLeft>,
    /// Whether a sum of this run has been revealed: from then on every active
    /// site's data are in a released sum, and none may leave.
    revealed: bool,
    /// Fewest active sites a round may close with: the secure-aggregation
    /// threshold of the admitted sites and the run's minimum site count.
    min_active: usize,
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
        // A project approved through an application runs on the sites that
        // accepted it only (a declining site dropped out).
        let allowed = state
            .inner
            .db
            .project_sites(&request.project)
            .map_err(federation_error)?;
        let registered: Vec<String> = state
            .inner
            .db
            .sites()
            .map_err(federation_error)?
            .into_iter()
            .map(|(s, _)| s)
            .filter(|s| allowed.as_ref().is_none_or(|a| a.contains(s)))
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
            active: Vec::new(),
            left: Vec::new(),
            revealed: false,
            min_active: limits.min_sites,
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
        fed.active = (0..fed.sites.len()).collect();
        fed.min_active = threshold.max(limits.min_sites);
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
        for (_, reply) in fed.expect_all(keys_steps, "key set-up (keys)")? {
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
        for (i, (_, reply)) in fed
            .expect_all(share_steps, "key set-up (share)")?
            .into_iter()
            .enumerate()
        {
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

    /// Sends one step per site and requires every site's success, in site
    /// order; a failure names the site and `at` (the round and step).
    fn expect_all(
        &self,
        steps: Vec<(String, AnalysisStep)>,
        at: &str,
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
                    "site {site} stopped taking part at {at}: {reason}"
                ))),
            })
            .collect()
    }

    /// The sites that sat out the run (refused at admission or did not
    /// answer), each with its reason, for the result's `RunInfo`.
    pub fn sat_out(&self) -> &[SatOut] {
        &self.sat_out
    }

    /// The admitted sites that left the run (at a `Mask` step, before any sum
    /// with their data was revealed), for the result's `RunInfo`.
    pub fn left(&self) -> &[SiteLeft] {
        &self.left
    }

    /// The sites whose data are in the run's sums (the admitted ones minus any
    /// that left), by name: the contributors of its release (`crate::ledger`).
    pub fn contributing_sites(&self) -> Vec<String> {
        self.active_sites().into_iter().map(|(_, s)| s).collect()
    }

    /// The active sites as (secure-aggregation index, name).
    fn active_sites(&self) -> Vec<(usize, String)> {
        self.active
            .iter()
            .map(|&k| (k, self.sites[k].clone()))
            .collect()
    }

    /// Sites that failed round `round`'s `Mask` step leave the run, if they
    /// may: only while no sum has been revealed (so no released figure ever
    /// held their data) and only if enough sites remain to close the round.
    /// Recorded in the audit trail (and, if the run completes, in its result)
    /// whether or not the run can go on.
    fn leave(&mut self, round: usize, failed: Vec<(String, String)>) -> Result<(), AnalysisError> {
        let named = failed
            .iter()
            .map(|(site, reason)| format!("site {site} ({})", rule_of(reason)))
            .collect::<Vec<_>>()
            .join(", ");
        if self.revealed {
            return Err(AnalysisError::Federation(format!(
                "{named} stopped taking part at round {round} (mask) after sums with its data were revealed: \
                 the run cannot finish without it (the fit would mix site sets, and a result without it next to \
                 the sums with it would disclose its contribution)"
            )));
        }
        let at = Utc::now();
        for (site, reason) in &failed {
            self.active.retain(|&k| self.sites[k] != *site);
            self.left.push(SiteLeft {
                site: site.clone(),
                round,
                step: "mask".into(),
                at,
                reason: rule_of(reason),
            });
        }
        let remaining: Vec<String> = self.active_sites().into_iter().map(|(_, s)| s).collect();
        audit_blocking(
            self.state,
            "analysis.site_left",
            &self.run_id,
            serde_json::json!({
                "round": round, "step": "mask", "at": at,
                "left": failed.iter().map(|(s, r)| serde_json::json!({"site": s, "reason": rule_of(r)})).collect::<Vec<_>>(),
                "remaining": remaining,
            }),
        )?;
        if self.active.len() < self.min_active {
            return Err(AnalysisError::Federation(format!(
                "{named} stopped taking part at round {round} (mask); the {} remaining sites are fewer \
                 than the {} a round needs (the secure-aggregation threshold and the minimum site count)",
                self.active.len(),
                self.min_active
            )));
        }
        tracing::warn!(run = %self.run_id, round, left = %named, remaining = self.active.len(), "a site left the run before any revealed sum; going on with the remaining sites");
        Ok(())
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
    /// The sites whose data the sums hold: the admitted ones minus any that
    /// left before a sum was revealed.
    fn sites(&self) -> usize {
        self.active.len()
    }

    /// The sites' agents add their noise shares to a DP describe's counts
    /// before masking (`oncofed_analysis::site::add_noise_share`).
    fn noised_at_sites(&self) -> bool {
        true
    }

    /// The active sites by their secure-aggregation index (their position
    /// among the admitted sites), for a cell classifier's per-site evaluation.
    fn site_slots(&self) -> Vec<(usize, String)> {
        self.active_sites()
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
            .active_sites()
            .into_iter()
            .map(|(k, s)| {
                let inbox = self.inboxes[i]
                    .get(&oncofed_secagg::SiteId(k as u32))
                    .cloned()
                    .unwrap_or_default();
                (
                    s,
                    AnalysisStep::Mask {
                        round: round.clone(),
                        inbox,
                        computation: computation.clone(),
                    },
                )
            })
            .collect();
        let timeout = self.state.inner.config.analysis_step_timeout;
        let mut inputs: Vec<MaskedInput> = Vec::new();
        let mut failed = Vec::new();
        for (site, reply) in dispatch(self.state, self.handle, &self.run_id, steps, timeout)? {
            match reply {
                Ok(AnalysisReply::Masked { input }) => inputs.push(input),
                Ok(_) => return Err(AnalysisError::Protocol("expected a masked vector")),
                Err(reason) => failed.push((site, reason)),
            }
        }
        if !failed.is_empty() {
            self.leave(i, failed)?;
        }
        let agg = &mut self.rounds[i].1;
        for input in inputs {
            agg.add_masked(input).map_err(federation_error)?;
        }
        // Closes the inputs once: the sites that left are the round's dropped
        // sites, whose masks the survivors' reveals remove.
        let request = agg.close_inputs().map_err(federation_error)?;
        // Consistency round: every survivor signs the split; all signatures go
        // to every survivor, which reveals only with `t` valid ones.
        let steps = self
            .active_sites()
            .into_iter()
            .map(|(_, s)| {
                (
                    s,
                    AnalysisStep::Confirm {
                        request: request.clone(),
                    },
                )
            })
            .collect();
        let mut signatures = Vec::with_capacity(self.active.len());
        for (_, reply) in self.expect_all(steps, &format!("round {i} (confirm)"))? {
            let AnalysisReply::Confirmed { signature } = reply else {
                return Err(AnalysisError::Protocol("expected a survivor signature"));
            };
            signatures.push(signature);
        }
        let steps = self
            .active_sites()
            .into_iter()
            .map(|(_, s)| {
                (
                    s,
                    AnalysisStep::Reveal {
                        request: request.clone(),
                        signatures: signatures.clone(),
                    },
                )
            })
            .collect();
        // From here the hub may hold this round's sum: no active site may
        // leave the run any more (conservatively, even if the reveal fails).
        self.revealed = true;
        let revealed = self.expect_all(steps, &format!("round {i} (reveal)"))?;
        let agg = &mut self.rounds[i].1;
        for (_, reply) in revealed {
            let AnalysisReply::Revealed { reveal } = reply else {
                return Err(AnalysisError::Protocol("expected revealed shares"));
            };
            agg.add_reveal(reveal).map_err(federation_error)?;
        }
        let sum = agg.finish().map_err(federation_error)?;
        if agg.survivors() != Some(self.active.len()) {
            return Err(AnalysisError::Protocol(
                "the round's survivors are not the run's sites",
            ));
        }
        let sites: Vec<String> = self.active_sites().into_iter().map(|(_, s)| s).collect();
        audit_blocking(
            self.state,
            "analysis.round",
            &self.run_id,
            serde_json::json!({
                "round": i, "computation": computation_name(&computation),
                "length": len, "sites": sites,
            }),
        )?;
        let values = CODEC
            .decode_sum(&sum, self.active.len())
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

/// Converts a driver error for the API: disclosure refusals are 403 with the rule.
pub fn api_error(e: &AnalysisError) -> ApiError {
    match e {
        AnalysisError::Invalid(m) => ApiError::Invalid(m.clone()),
        AnalysisError::Disclosure(_) => ApiError::Refused(e.to_string()),
        _ => ApiError::internal(e),
    }
}
