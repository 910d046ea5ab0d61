//! Answering analysis steps at a site: rows under consent, the site's own
//! disclosure minimums, and masked vectors (secure aggregation).
//!
//! A run's rows and its secure-aggregation sessions live in memory between the
//! steps of the run (a run takes seconds to minutes) and are dropped on
//! `Finish`, or after [`RUN_TTL`] if the hub never finishes the run. What is
//! written to disk is only the run's protocol counters, in the store's replay
//! ledger: "run prepared", "run keyed", "round revealed", each accepted once
//! ever, so a hub cannot replace a run or re-key it to compute the same thing
//! with and without a site.
//!
//! Secure aggregation follows the malicious-server model
//! ([`oncofed_secagg::RunParticipant`]): peers' keys must be signed by the keys
//! on the site's own roster ([`AgentConfig::roster`]), the threshold and the
//! fewest participants come from the site's [`AgentConfig::secagg`] policy, and
//! shares are revealed only after the consistency round. Its refusals reach the
//! hub as one constant text; the reason is logged here.
//!
//! Every run is held to the hub's signed run plan
//! ([`oncofed_protocol::plan::SignedRunPlan`], verified with the pinned hub key
//! at `Prepare`, for this run id and exactly its request) and to the site's own
//! [`SiteBounds`]; and a cohort is confirmed over one site set only
//! ([`admit_site_set`]), so it cannot be computed with and without a site.
//!
//! A site that drops out of a run leaves the run's survivors to confirm a split
//! without it (issue 13, item 5): the participant signs it only as the run's
//! one survivor set (so a site whose data were in a confirmed split cannot be
//! dropped later in the run, nor a dropped one come back), and the repeat rule
//! checks the survivors as the cohort's site set and binds the cohort to them.

use super::AgentConfig;
use super::cell_run::CellRun;
use super::plan::{SiteBounds, admit_site_set, cohort_digest};
use crate::{ConsentGate, FactFilter, SharedStore, with_store};
use oncofed_analysis::AnalysisLimits;
use oncofed_analysis::rows::{PatientData, Row, build_row, is_treatment, treatment_kind};
use oncofed_analysis::site::{compute, vector_len};
use oncofed_model::{Demographics, Fact, FactKind, Pseudonym, Purpose, SecurityLevel};
use oncofed_protocol::QueryId;
use oncofed_protocol::analysis::{
    Analysis, AnalysisReply, AnalysisRequest, AnalysisStep, Origin, Variable,
};
use oncofed_protocol::plan::RunPlan;
use oncofed_secagg::{Ledger, Refusal, RunParticipant, SiteId as AggIndex, WideFixedPoint};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a run's state is kept without a `Finish`.
pub const RUN_TTL: Duration = Duration::from_secs(3600);

/// The fixed-point encoding every analysis vector uses (hub and sites agree):
/// two ring elements per value, resolution 2⁻⁴⁸, range ±2.2·10¹² per site, so
/// the masked vector is twice the computation's `vector_len`.
pub const CODEC: WideFixedPoint = WideFixedPoint::DEFAULT;

/// How long the protocol counters of a run are kept in the replay ledger: far
/// longer than any run, so a run id is never accepted twice in practice (run ids
/// are random, so expiry never re-opens a run the hub could name).
const LEDGER_DAYS: i64 = 3650;

struct SiteRun {
    request: AnalysisRequest,
    rows: Vec<Row>,
    /// A cell classifier's cells (then `rows` is empty).
    cells: Option<CellRun>,
    /// This site's secure-aggregation index, from the `Keys` step.
    index: Option<usize>,
    participant: RunParticipant,
    /// The hub's signed plan for the run, verified at `Prepare`.
    plan: RunPlan,
    /// The site's own bounds, as configured when the run was prepared.
    bounds: SiteBounds,
    /// Roster names of the run's participants by index, from the signed keys
    /// the participant accepted (for the repeat rule's site set).
    names: BTreeMap<AggIndex, String>,
    started: Instant,
}

/// The research store's task replay ledger as the secure-aggregation
/// [`Ledger`]: the same table, the same insert-once semantics, entries prefixed
/// `secagg` so they never collide with task ids.
struct StoreLedger<'a>(&'a SharedStore);

impl Ledger for StoreLedger<'_> {
    fn record_once(&mut self, entry: &str) -> Result<bool, String> {
        let mut store = self
            .0
            .lock()
            .map_err(|_| "store lock poisoned".to_string())?;
        let until = chrono::Utc::now() + chrono::Duration::days(LEDGER_DAYS);
        store.remember_task(entry, until).map_err(|e| e.to_string())
    }
}

/// Logs a secure-aggregation refusal's reason at the site and returns the
/// constant text the hub gets.
fn refusal(run: &QueryId, e: Refusal) -> String {
    tracing::warn!(run = %run, reason = e.detail(), "secure aggregation step refused");
    e.to_string()
}

/// The site's open analysis runs. Cheap to clone.
#[derive(Clone, Default)]
pub struct AnalysisRuns {
    runs: Arc<Mutex<HashMap<QueryId, SiteRun>>>,
    /// Where the site's cell images are; without it the site takes part in
    /// no cell classifier's run.
    cells: Option<crate::imaging::ObjectArchive>,
}

fn lock(runs: &AnalysisRuns) -> std::sync::MutexGuard<'_, HashMap<QueryId, SiteRun>> {
    runs.runs.lock().unwrap_or_else(|p| p.into_inner())
}

impl AnalysisRuns {
    /// Runs that may train and score cell classifiers on the cells in `archive`.
    pub fn with_cell_archive(archive: crate::imaging::ObjectArchive) -> Self {
        Self {
            cells: Some(archive),
            ..Self::default()
        }
    }

    /// Number of runs held (for tests and status).
    pub fn open_runs(&self) -> usize {
        lock(self).len()
    }
}

/// The dated events a survival request reads besides the index diagnosis:
/// its time origin and its delayed entry.
fn survival_events(request: &AnalysisRequest) -> Vec<&Origin> {
    request
        .analysis
        .survival()
        .map(|s| std::iter::once(&s.origin).chain(&s.entry).collect())
        .unwrap_or_default()
}

/// Whether a fact can matter to the request (keeps memory to what the run reads).
fn relevant(request: &AnalysisRequest, fact: &Fact) -> bool {
    let events = survival_events(request);
    // the first contact is the first record of any kind but a diagnosis
    if fact.kind != FactKind::Diagnosis && events.contains(&&Origin::FirstContact) {
        return true;
    }
    let assessment = events
        .iter()
        .any(|e| matches!(e, Origin::FirstAssessment { .. }));
    match fact.kind {
        FactKind::Diagnosis => true,
        FactKind::Observation => {
            ((course_endpoint(request) || assessment)
                && COURSE_CODES.contains(&fact.code.code.as_str()))
                || request.analysis.variables().iter().any(|v| {
                    // a categorical covariate reads its inner variable's facts
                    matches!(v.base(), Variable::Observation { system, code, .. } if *system == fact.code.system && *code == fact.code.code)
                })
        }
        FactKind::Molecular => request
            .analysis
            .variables()
            .iter()
            .any(|v| matches!(v.base(), Variable::Molecular { .. })),
        // No analysis variable reads imaging facts yet.
        FactKind::Imaging => false,
        FactKind::Medication | FactKind::Procedure => {
            let origin = events.iter().any(|e| {
                matches!(e, Origin::FirstTreatment { system, prefix } if is_treatment(fact, *system, prefix))
            });
            origin
                || request.analysis.variables().iter().any(|v| {
                    matches!(v.base(), Variable::Treatment { system, prefix, .. } if is_treatment(fact, *system, prefix))
                })
        }
    }
}

/// SNOMED codes of the MII onco course observation (oBDS 17) and its
/// components (primary tumour, lymph nodes, distant metastases): the facts a
/// progression- or recurrence-free endpoint reads.
const COURSE_CODES: [&str; 4] = ["396432002", "277062004", "399656008", "399608002"];

/// Whether the request's survival endpoint reads the onco course.
fn course_endpoint(request: &AnalysisRequest) -> bool {
    request
        .analysis
        .survival()
        .is_some_and(|s| !s.endpoint.is_overall())
}

/// The store queries that fetch every fact the request can read (through the
/// store's indexes, not a scan of all facts).
fn fact_filters(request: &AnalysisRequest) -> Vec<FactFilter> {
    let mut filters = vec![FactFilter {
        kind: Some(FactKind::Diagnosis),
        ..FactFilter::default()
    }];
    let mut course = course_endpoint(request);
    for event in survival_events(request) {
        match event {
            Origin::FirstTreatment { system, prefix } => filters.push(FactFilter {
                kind: Some(treatment_kind(*system)),
                system: Some(*system),
                code_prefix: Some(prefix.clone()),
                ..FactFilter::default()
            }),
            Origin::FirstAssessment { .. } => course = true,
            // every record but diagnoses (already loaded): the earliest is the
            // first contact
            Origin::FirstContact => filters.extend(
                [
                    FactKind::Observation,
                    FactKind::Medication,
                    FactKind::Procedure,
                    FactKind::Molecular,
                ]
                .map(|kind| FactFilter {
                    kind: Some(kind),
                    ..FactFilter::default()
                }),
            ),
            Origin::IndexDiagnosis => {}
        }
    }
    if course {
        filters.extend(COURSE_CODES.map(|code| FactFilter {
            kind: Some(FactKind::Observation),
            system: Some(oncofed_model::CodeSystem::Snomed),
            code_prefix: Some(code.to_owned()),
            ..FactFilter::default()
        }));
    }
    for v in request.analysis.variables() {
        // a categorical covariate's facts are its inner variable's
        match v.base().clone() {
            Variable::Observation { system, code, .. } => filters.push(FactFilter {
                kind: Some(FactKind::Observation),
                system: Some(system),
                code_prefix: Some(code),
                ..FactFilter::default()
            }),
            Variable::Molecular { .. } => filters.push(FactFilter {
                kind: Some(FactKind::Molecular),
                ..FactFilter::default()
            }),
            Variable::Treatment { system, prefix, .. } => filters.push(FactFilter {
                kind: Some(treatment_kind(system)),
                system: Some(system),
                code_prefix: Some(prefix),
                ..FactFilter::default()
            }),
            _ => {}
        }
    }
    filters.dedup();
    filters
}

/// The site's complete rows for `request`: cohort criteria, then consent for
/// research use of every category the analysis reads, then completeness.
/// Public for benchmarks that fit the pooled model in one process.
pub async fn load_rows(
    store: &SharedStore,
    gate: &ConsentGate,
    request: &AnalysisRequest,
) -> Result<Vec<Row>, String> {
    let started = Instant::now();
    let req = request.clone();
    let patients = with_store(store, move |s| {
        let cohort: Option<HashSet<Pseudonym>> = match &req.cohort {
            Some(c) => Some(s.feasibility(c)?.into_iter().map(|(p, _)| p).collect()),
            None => None,
        };
        let mut demo: HashMap<Pseudonym, Demographics> = HashMap::new();
        s.for_each_patient(&mut |p| {
            if cohort.as_ref().is_none_or(|c| c.contains(&p.pseudonym)) {
                demo.insert(p.pseudonym, p.demographics);
            }
        })?;
        // Variant calls only when a variable reads them, passing calls only.
        let mut variants: HashMap<Pseudonym, Vec<oncofed_model::GeneticVariant>> = HashMap::new();
        let reads_calls = req
            .analysis
            .variables()
            .iter()
            .any(|v| matches!(v.base(), Variable::Variant { .. } | Variable::Vaf { .. }));
        if reads_calls {
            let persons: Vec<Pseudonym> = demo.keys().cloned().collect();
            for call in s.variants_of(&persons)? {
                if call.filter_pass {
                    variants
                        .entry(call.pseudonym)
                        .or_default()
                        .push(call.variant);
                }
            }
        }
        let mut facts: HashMap<Pseudonym, Vec<Fact>> = HashMap::new();
        for filter in fact_filters(&req) {
            for f in s.facts(&filter)? {
                if demo.contains_key(&f.pseudonym) && relevant(&req, &f.fact) {
                    facts.entry(f.pseudonym).or_default().push(f.fact);
                }
            }
        }
        Ok::<_, oncofed_store::StoreError>((demo, facts, variants))
    })
    .await
    .map_err(|e| {
        tracing::warn!(error = %e, "analysis: store failed");
        "site store error".to_string()
    })?;
    let (demo, mut facts, mut variants) = patients;
    let store_ms = started.elapsed().as_millis() as u64;
    let categories: BTreeSet<_> = request.categories();
    let today = chrono::Utc::now().date_naive();
    let questions: Vec<_> = demo
        .keys()
        .flat_map(|psn| categories.iter().map(move |c| (psn.clone(), *c)))
        .collect();
    let permitted = gate
        .permitted(Purpose::Research, today, questions)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "analysis: consent check failed");
            "consent service unavailable at the site".to_string()
        })?;
    let consent_ms = started.elapsed().as_millis() as u64 - store_ms;
    tracing::debug!(
        store_ms,
        consent_ms,
        patients = demo.len(),
        "analysis rows selected"
    );
    let mut rows = Vec::new();
    for (psn, demographics) in demo {
        if !categories
            .iter()
            .all(|c| permitted.contains(&(psn.clone(), *c)))
        {
            continue;
        }
        let patient = PatientData {
            demographics,
            facts: facts.remove(&psn).unwrap_or_default(),
            variants: variants.remove(&psn).unwrap_or_default(),
        };
        if let Some(row) = build_row(request, &patient) {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Runs one analysis step of run `run_id` for the site `config` describes.
/// Charges an analysis run's ε to the site's lifetime ledger; past the budget
/// (or without a readable ledger) the run is refused with the constant text,
/// the amounts only in the site's log.
async fn charge_run(
    store: &SharedStore,
    config: &AgentConfig,
    run_id: &QueryId,
    epsilon: f64,
) -> Result<(), String> {
    use super::ledger::{Charge, charge, ledger_key};
    let key = ledger_key(
        &config.secret.0,
        &format!("analysis-run {run_id}"),
        config.site.as_str(),
        "release",
    );
    match charge(store, vec![key], epsilon, config.lifetime_epsilon).await {
        Ok(Charge::Charged { spent, .. }) => {
            tracing::info!(run = %run_id, epsilon, spent, "analysis release charged to the lifetime ledger");
            Ok(())
        }
        Ok(Charge::Repeat { .. }) => Ok(()),
        Ok(Charge::Refused { spent, needed }) => {
            tracing::warn!(run = %run_id, spent, needed, budget = config.lifetime_epsilon, "analysis run refused: lifetime privacy budget");
            Err(oncofed_secagg::REFUSAL_TEXT.to_string())
        }
        Err(e) => {
            tracing::warn!(run = %run_id, error = %e, "analysis run refused: privacy ledger unavailable");
            Err(oncofed_secagg::REFUSAL_TEXT.to_string())
        }
    }
}

/// Errors are reasons for the hub, without personal data.
pub async fn answer_analysis(
    runs: &AnalysisRuns,
    store: &SharedStore,
    gate: &ConsentGate,
    config: &AgentConfig,
    run_id: &QueryId,
    step: AnalysisStep,
) -> Result<AnalysisReply, String> {
    match step {
        AnalysisStep::Prepare {
            request,
            min_rows,
            max_parameter_ratio,
            plan,
        } => {
            lock(runs).retain(|_, r| r.started.elapsed() < RUN_TTL);
            // The run's plan: signed by the pinned hub key, for this run, over
            // exactly this request; every later step is held to it.
            let plan = match plan.verify(&config.hub_key, run_id) {
                Ok(p) if p.request == request => p.clone(),
                Ok(_) => {
                    tracing::warn!(run = %run_id, "analysis run refused: request is not the plan's");
                    return Err(oncofed_secagg::REFUSAL_TEXT.to_string());
                }
                Err(reason) => {
                    tracing::warn!(run = %run_id, %reason, "analysis run refused: plan");
                    return Err(oncofed_secagg::REFUSAL_TEXT.to_string());
                }
            };
            // The site's own bounds, before anything is recorded or read.
            if let Err(reason) = config.bounds.check_request(&request) {
                tracing::warn!(run = %run_id, %reason, "analysis run refused by the site's bounds");
                return Err(oncofed_secagg::REFUSAL_TEXT.to_string());
            }
            // A cell classifier needs the site's cell archive: refused before
            // anything is recorded or charged.
            let cell_archive = match (&request.analysis, &runs.cells) {
                (Analysis::CellClassifier { training }, Some(archive)) => Some((training, archive)),
                (Analysis::CellClassifier { .. }, None) => {
                    tracing::warn!(run = %run_id, "cell classifier refused: this agent has no cell archive");
                    return Err("this site trains no cell classifiers".to_string());
                }
                _ => None,
            };
            let participant = RunParticipant::new(
                run_id.as_str(),
                config.site.as_str(),
                config.key.clone(),
                config.roster.clone(),
                config.secagg,
            )
            .map_err(|e| refusal(run_id, e))?;
            // A run id is prepared once, ever: a second Prepare must not replace
            // a run (and its survivor set) with a fresh one.
            let (ledger_store, entry) = (store.clone(), format!("secagg {run_id} prepared"));
            let fresh =
                tokio::task::spawn_blocking(move || StoreLedger(&ledger_store).record_once(&entry))
                    .await
                    .map_err(|_| "analysis step failed at the site".to_string())?;
            if fresh != Ok(true) {
                tracing::warn!(run = %run_id, ledger = ?fresh, "analysis run prepared before, or ledger unavailable");
                return Err(oncofed_secagg::REFUSAL_TEXT.to_string());
            }
            // A DP release (every release the hub makes carries ε) is charged
            // to this site's own lifetime ledger before a row is read: the
            // hub's budgets are the hub's word (issue 11, item 4). Each run is
            // a fresh release (fresh noise), so its key is the run id.
            if let Some(epsilon) = request.epsilon {
                charge_run(store, config, run_id, epsilon).await?;
            }
            let (rows, cells) = match cell_archive {
                Some((training, archive)) => {
                    let cells = CellRun::load(store, archive, gate, &request, training)
                        .await
                        .map_err(|reason| {
                            tracing::warn!(run = %run_id, %reason, "cell classifier: cells not loaded");
                            "site cells unavailable".to_string()
                        })?;
                    (Vec::new(), Some(cells))
                }
                None => (load_rows(store, gate, &request).await?, None),
            };
            let admitted = cells.as_ref().map_or(rows.len(), CellRun::persons);
            // The site's own minimums hold whatever the hub asks for.
            let level = SecurityLevel::of_dataset(request.categories());
            let own = AnalysisLimits::for_level(level);
            let limits = AnalysisLimits {
                min_rows_per_site: own.min_rows_per_site.max(min_rows),
                max_parameter_ratio: own.max_parameter_ratio.min(max_parameter_ratio),
                ..own
            };
            limits
                .check_site(admitted as u64, request.analysis.parameters())
                .map_err(|e| e.to_string())?;
            if cells.as_ref().is_some_and(|c| !c.complete()) {
                return Err(
                    "refused by disclosure control: too few persons with validated cells for a training, validation and held-out split at this site"
                        .into(),
                );
            }
            tracing::info!(run = %run_id, rows = admitted, "analysis run admitted");
            lock(runs).insert(
                run_id.clone(),
                SiteRun {
                    request,
                    rows,
                    cells,
                    index: None,
                    participant,
                    plan,
                    bounds: config.bounds,
                    names: BTreeMap::new(),
                    started: Instant::now(),
                },
            );
            Ok(AnalysisReply::Admitted)
        }
        AnalysisStep::Finish => {
            lock(runs).remove(run_id);
            Ok(AnalysisReply::Finished)
        }
        step => {
            let runs = runs.clone();
            let run_id = run_id.clone();
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                let mut guard = lock(&runs);
                let run = guard
                    .get_mut(&run_id)
                    .ok_or_else(|| "unknown analysis run at this site".to_string())?;
                secure_step(run, &store, step).map_err(|e| e.into_reason(&run_id))
            })
            .await
            .map_err(|_| "analysis step failed at the site".to_string())?
        }
    }
}

/// Why a step under way failed: a secure-aggregation refusal or the
/// computation's own reason; either reaches the hub as the one constant text,
/// the reason only the site's log.
enum StepError {
    SecAgg(Refusal),
    Compute(String),
}

impl StepError {
    fn into_reason(self, run: &QueryId) -> String {
        match self {
            StepError::SecAgg(e) => refusal(run, e),
            StepError::Compute(m) => {
                // A computation's own reason can depend on the site's rows (an
                // event time off the hub's grid): logged here, constant there.
                tracing::warn!(run = %run, reason = %m, "analysis step refused");
                oncofed_secagg::REFUSAL_TEXT.to_string()
            }
        }
    }
}

impl From<Refusal> for StepError {
    fn from(e: Refusal) -> Self {
        StepError::SecAgg(e)
    }
}

fn secure_step(
    run: &mut SiteRun,
    store: &SharedStore,
    step: AnalysisStep,
) -> Result<AnalysisReply, StepError> {
    let ledger = &mut StoreLedger(store);
    let p = &mut run.participant;
    let compute_err = |m: String| StepError::Compute(m);
    match step {
        AnalysisStep::Keys {
            index,
            threshold,
            rounds,
        } => {
            run.bounds.check_rounds(rounds.len()).map_err(compute_err)?;
            if rounds.len() > run.plan.max_rounds {
                return Err(compute_err("more rounds than the plan's budget".into()));
            }
            let shares = p.open(ledger, AggIndex(index), threshold, &rounds)?;
            run.index = Some(index as usize);
            Ok(AnalysisReply::Ready { shares })
        }
        AnalysisStep::Share { keys } => {
            let shares = p.share(&keys)?;
            // The participant accepted these keys (signed by roster sites, the
            // same in every round): their signers name the run's sites.
            run.names = keys
                .first()
                .into_iter()
                .flatten()
                .map(|k| (k.share.site, k.signer.clone()))
                .collect();
            Ok(AnalysisReply::Shares { shares })
        }
        AnalysisStep::Mask {
            round,
            inbox,
            computation,
        } => {
            // Bounds first: nothing is computed or allocated for a step outside them.
            run.bounds
                .check_computation(&run.request.analysis, &computation)
                .map_err(compute_err)?;
            run.plan
                .check_computation(&computation)
                .map_err(compute_err)?;
            let vector = match &run.cells {
                // A cell classifier's DP noise is inside its training vector.
                Some(cells) => cell_vector(cells, run.index, &run.participant, &computation)
                    .map_err(compute_err)?,
                None => {
                    let mut vector = compute(&run.rows, &run.request.analysis, &computation)
                        .map_err(|e| compute_err(e.to_string()))?;
                    // A DP describe: this site's share of the noise goes in
                    // before masking, calibrated to its threshold (the fewest
                    // sites whose sum can be unmasked), so the hub never holds
                    // the exact counts.
                    if let Some(e) = run.request.epsilon {
                        let t = run
                            .participant
                            .threshold()
                            .ok_or_else(|| compute_err("mask before the peers are known".into()))?;
                        oncofed_analysis::site::add_noise_share(
                            &mut vector,
                            &run.request.analysis,
                            &computation,
                            e,
                            t,
                        )
                        .map_err(|e| compute_err(e.to_string()))?;
                    }
                    vector
                }
            };
            if vector.len() != vector_len(&run.request.analysis, &computation) {
                return Err(compute_err("vector layout mismatch".into()));
            }
            let encoded = CODEC
                .encode(&vector)
                .map_err(|e| compute_err(e.to_string()))?;
            let input = run.participant.mask(&round, &inbox, &encoded)?;
            Ok(AnalysisReply::Masked { input })
        }
        AnalysisStep::Confirm { request } => {
            let signature = p.confirm(&request)?;
            // The repeat rule: the cohort's survivors must be the set it is bound
            // to here, or the signature (hence any reveal) is withheld.
            let sites: Option<Vec<String>> = request
                .survivors
                .iter()
                .map(|i| run.names.get(i).cloned())
                .collect();
            let sites = sites.ok_or_else(|| compute_err("survivor without a name".into()))?;
            let cohort = cohort_digest(&run.request);
            if !admit_site_set(store, &cohort, &sites).map_err(compute_err)? {
                return Err(compute_err(
                    "the cohort was computed over another site set before (repeat rule)".into(),
                ));
            }
            if !request.dropped.is_empty() {
                tracing::info!(
                    round = %request.round,
                    survivors = request.survivors.len(),
                    dropped = request.dropped.len(),
                    "confirmed a split without sites that dropped out; the cohort is bound to the survivors"
                );
            }
            Ok(AnalysisReply::Confirmed { signature })
        }
        AnalysisStep::Reveal {
            request,
            signatures,
        } => Ok(AnalysisReply::Revealed {
            reveal: p.reveal(ledger, &request, &signatures)?,
        }),
        AnalysisStep::Prepare { .. } | AnalysisStep::Finish => {
            Err(StepError::Compute("step handled elsewhere".into()))
        }
    }
}

/// A cell classifier's vector for `computation`: the totals, a training
/// round (DP noise share for the run's threshold), or the evaluation in this
/// site's block.
fn cell_vector(
    cells: &CellRun,
    index: Option<usize>,
    participant: &RunParticipant,
    computation: &oncofed_protocol::analysis::Computation,
) -> Result<Vec<f64>, String> {
    use oncofed_protocol::analysis::Computation;
    match computation {
        Computation::Totals => Ok(cells.totals()),
        Computation::Train { round } => {
            let t = participant
                .threshold()
                .ok_or("a training round before the peers are known")?;
            cells.train(round, t)
        }
        Computation::Evaluate { round, slots } => {
            let index = index.ok_or("an evaluation before the keys")?;
            cells.evaluate(round, *slots, index)
        }
        _ => Err("a statistics round in a cell classifier's run".into()),
    }
}

#[cfg(test)]
mod tests;
