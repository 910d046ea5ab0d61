//! Answering analysis steps at a site: rows under consent, the site's own
//! disclosure minimums, and masked vectors (secure aggregation).
//!
//! A run's rows and its secure-aggregation sessions live in memory between the
//! steps of the run (a run takes seconds to minutes) and are dropped on
//! `Finish`, or after [`RUN_TTL`] if the hub never finishes the run. Nothing of a
//! run is written to disk.

use crate::{ConsentGate, FactFilter, SharedStore, with_store};
use oncofed_analysis::AnalysisLimits;
use oncofed_analysis::rows::{PatientData, Row, build_row};
use oncofed_analysis::site::{compute, vector_len};
use oncofed_model::{Demographics, Fact, FactKind, Pseudonym, Purpose, SecurityLevel};
use oncofed_protocol::QueryId;
use oncofed_protocol::analysis::{AnalysisReply, AnalysisRequest, AnalysisStep, Variable};
use oncofed_secagg::{FixedPoint, RoundId, SiteSession};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a run's state is kept without a `Finish`.
pub const RUN_TTL: Duration = Duration::from_secs(3600);

/// The fixed-point encoding every analysis vector uses (hub and sites agree).
pub const CODEC: FixedPoint = FixedPoint::DEFAULT;

struct SiteRun {
    request: AnalysisRequest,
    rows: Vec<Row>,
    sessions: HashMap<RoundId, SiteSession>,
    started: Instant,
}

/// The site's open analysis runs. Cheap to clone.
#[derive(Clone, Default)]
pub struct AnalysisRuns {
    runs: Arc<Mutex<HashMap<QueryId, SiteRun>>>,
}

fn lock(runs: &AnalysisRuns) -> std::sync::MutexGuard<'_, HashMap<QueryId, SiteRun>> {
    runs.runs.lock().unwrap_or_else(|p| p.into_inner())
}

impl AnalysisRuns {
    /// Number of runs held (for tests and status).
    pub fn open_runs(&self) -> usize {
        lock(self).len()
    }
}

/// Whether a fact can matter to the request (keeps memory to what the run reads).
fn relevant(request: &AnalysisRequest, fact: &Fact) -> bool {
    match fact.kind {
        FactKind::Diagnosis => true,
        FactKind::Observation => request.analysis.variables().iter().any(|v| {
            matches!(v, Variable::Observation { system, code } if *system == fact.code.system && *code == fact.code.code)
        }),
        FactKind::Molecular => request
            .analysis
            .variables()
            .iter()
            .any(|v| matches!(v, Variable::Molecular { .. })),
        _ => false,
    }
}

/// The store queries that fetch every fact the request can read (through the
/// store's indexes, not a scan of all facts).
fn fact_filters(request: &AnalysisRequest) -> Vec<FactFilter> {
    let mut filters = vec![FactFilter {
        kind: Some(FactKind::Diagnosis),
        ..FactFilter::default()
    }];
    for v in request.analysis.variables() {
        match v {
            Variable::Observation { system, code } => filters.push(FactFilter {
                kind: Some(FactKind::Observation),
                system: Some(system),
                code_prefix: Some(code),
                ..FactFilter::default()
            }),
            Variable::Molecular { .. } => filters.push(FactFilter {
                kind: Some(FactKind::Molecular),
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
        let mut facts: HashMap<Pseudonym, Vec<Fact>> = HashMap::new();
        for filter in fact_filters(&req) {
            for f in s.facts(&filter)? {
                if demo.contains_key(&f.pseudonym) && relevant(&req, &f.fact) {
                    facts.entry(f.pseudonym).or_default().push(f.fact);
                }
            }
        }
        Ok::<_, oncofed_store::StoreError>((demo, facts))
    })
    .await
    .map_err(|e| {
        tracing::warn!(error = %e, "analysis: store failed");
        "site store error".to_string()
    })?;
    let (demo, mut facts) = patients;
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
        };
        if let Some(row) = build_row(request, &patient) {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Runs one analysis step of run `run_id`. Errors are reasons for the hub,
/// without personal data.
pub async fn answer_analysis(
    runs: &AnalysisRuns,
    store: &SharedStore,
    gate: &ConsentGate,
    run_id: &QueryId,
    step: AnalysisStep,
) -> Result<AnalysisReply, String> {
    match step {
        AnalysisStep::Prepare {
            request,
            min_rows,
            max_parameter_ratio,
        } => {
            lock(runs).retain(|_, r| r.started.elapsed() < RUN_TTL);
            let rows = load_rows(store, gate, &request).await?;
            // The site's own minimums hold whatever the hub asks for.
            let level = SecurityLevel::of_dataset(request.categories());
            let own = AnalysisLimits::for_level(level);
            let limits = AnalysisLimits {
                min_rows_per_site: own.min_rows_per_site.max(min_rows),
                max_parameter_ratio: own.max_parameter_ratio.min(max_parameter_ratio),
                ..own
            };
            limits
                .check_site(rows.len() as u64, request.analysis.parameters())
                .map_err(|e| e.to_string())?;
            tracing::info!(run = %run_id, rows = rows.len(), "analysis run admitted");
            lock(runs).insert(
                run_id.clone(),
                SiteRun {
                    request,
                    rows,
                    sessions: HashMap::new(),
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
            tokio::task::spawn_blocking(move || {
                let mut guard = lock(&runs);
                let run = guard
                    .get_mut(&run_id)
                    .ok_or_else(|| "unknown analysis run at this site".to_string())?;
                secure_step(run, step)
            })
            .await
            .map_err(|_| "analysis step failed at the site".to_string())?
        }
    }
}

fn secure_step(run: &mut SiteRun, step: AnalysisStep) -> Result<AnalysisReply, String> {
    match step {
        AnalysisStep::Keys {
            index,
            threshold,
            rounds,
        } => {
            if rounds.len() > 256 || !run.sessions.is_empty() {
                return Err("keys refused: too many rounds, or keys already opened".into());
            }
            let mut shares = Vec::with_capacity(rounds.len());
            for round in rounds {
                let (session, public) =
                    SiteSession::new(oncofed_secagg::SiteId(index), round.clone(), threshold);
                run.sessions.insert(round, session);
                shares.push(public);
            }
            Ok(AnalysisReply::Ready { shares })
        }
        AnalysisStep::Share { keys } => {
            let mut out = Vec::with_capacity(keys.len());
            for round_keys in keys {
                let round = round_keys
                    .first()
                    .map(|k| k.round.clone())
                    .ok_or("empty key list")?;
                let s = run
                    .sessions
                    .get_mut(&round)
                    .ok_or("unknown secure-aggregation round")?;
                out.push(s.share_keys(&round_keys).map_err(|e| e.to_string())?);
            }
            Ok(AnalysisReply::Shares { shares: out })
        }
        AnalysisStep::Mask {
            round,
            inbox,
            computation,
        } => {
            let vector = compute(&run.rows, &run.request.analysis, &computation)
                .map_err(|e| e.to_string())?;
            if vector.len() != vector_len(&run.request.analysis, &computation) {
                return Err("vector layout mismatch".into());
            }
            let encoded = CODEC.encode(&vector).map_err(|e| e.to_string())?;
            let s = run
                .sessions
                .get_mut(&round)
                .ok_or("unknown secure-aggregation round")?;
            let input = s.mask(&inbox, &encoded).map_err(|e| e.to_string())?;
            Ok(AnalysisReply::Masked { input })
        }
        AnalysisStep::Reveal { request } => {
            let s = run
                .sessions
                .get_mut(&request.round)
                .ok_or("unknown secure-aggregation round")?;
            let reveal = s.reveal(&request).map_err(|e| e.to_string())?;
            // A revealed session is spent: drop it so its secrets leave memory.
            run.sessions.remove(&request.round);
            Ok(AnalysisReply::Revealed { reveal })
        }
        AnalysisStep::Prepare { .. } | AnalysisStep::Finish => Err("step handled elsewhere".into()),
    }
}
