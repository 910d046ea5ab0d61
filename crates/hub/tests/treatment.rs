//! Issue 12, items 3 and 4: treatment variables, progression-free survival and
//! a treatment as the time origin.
//! A Cox model on age and "an antineoplastic drug (ATC L01) before the index
//! date or within 90 days after it", of overall and of progression-free
//! survival, run through the hub over three synthetic sites, equals the same
//! model fitted on the pooled rows the sites select (the rows that
//! `load_rows` gives each site, concatenated, through the same driver).

mod support;

use oncofed_analysis::rows::Row;
use oncofed_analysis::site::compute;
use oncofed_analysis::{AnalysisError, AnalysisLimits, AnalysisResult, Federation};
use oncofed_hub_api::HubClient;
use oncofed_model::SecurityLevel;
use oncofed_protocol::analysis::{
    Analysis, AnalysisRequest, Computation, Endpoint, IndexEvent, Origin, RunState, Survival, Ties,
    Variable,
};
use support::{RESEARCHER, approve_for_alice, federation_with_hub};

/// All rows in one place, summed exactly.
struct Pooled {
    rows: Vec<Row>,
    analysis: Analysis,
}

impl Federation for Pooled {
    fn sites(&self) -> usize {
        1
    }
    fn sum(&mut self, c: Computation, _len: usize) -> Result<Vec<f64>, AnalysisError> {
        compute(&self.rows, &self.analysis, &c)
    }
}

/// Runs `request` through the hub and on the pooled rows the sites select;
/// returns (rows, events, treated) after checking the fits agree to 1e-6.
async fn federated_equals_pooled(
    fed: &support::Federation,
    hub: &support::Hub,
    request: &AnalysisRequest,
) -> (u64, u64, usize) {
    let done = HubClient::new(&hub.url, RESEARCHER)
        .analyze_to_end(request)
        .await
        .unwrap();
    assert_eq!(done.state, RunState::Done, "{:?}", done.error);
    let AnalysisResult::Cox(federated) = serde_json::from_value(done.result.unwrap()).unwrap()
    else {
        panic!("not a Cox result")
    };
    assert_eq!(federated.terms, ["age", "tx:atc:L01@90"]);
    let mut rows = Vec::new();
    for site in &fed.sites {
        rows.extend(
            oncofed_node::agent::load_rows(&site.store, &site.gate, request)
                .await
                .unwrap(),
        );
    }
    let treated = rows.iter().filter(|r| r.values[1] == 1.0).count();
    assert!(
        treated > 0 && treated < rows.len(),
        "the variable must vary"
    );
    let limits = AnalysisLimits {
        min_sites: 1,
        ..AnalysisLimits::for_level(SecurityLevel::Pseudonymised)
    };
    let analysis = request.analysis.clone();
    let AnalysisResult::Cox(pooled) =
        oncofed_analysis::run(request, &limits, &mut Pooled { rows, analysis }).unwrap()
    else {
        panic!("not a Cox result")
    };
    for (f, p) in federated.estimates.iter().zip(&pooled.estimates) {
        let scale = p.coef.abs().max(p.std_error);
        assert!(
            (f.coef - p.coef).abs() / scale < 1e-6,
            "{} vs {}",
            f.coef,
            p.coef
        );
        assert!((f.std_error - p.std_error).abs() / p.std_error < 1e-6);
    }
    (pooled.run.rows, pooled.run.events, treated)
}

/// Issue 12, items 3 and 4: a treatment covariate, and progression-free
/// survival from the MII onco course observations the synthetic sites now
/// carry (a progression or recurrence before every later therapy line).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cox_models_with_a_treatment_covariate_and_a_pfs_endpoint_equal_the_pooled_fit() {
    let (fed, hub, _dir, _key) = federation_with_hub(3, 1500, 23).await;
    let _agents = fed.run_agents(&hub, &[0, 1, 2]);
    approve_for_alice(&hub, "tx", "treatment covariate").await;
    let mut figures = Vec::new();
    let first_l01: Origin = "tx:atc:L01".parse().unwrap();
    for (endpoint, origin) in [
        (Endpoint::Overall, Origin::IndexDiagnosis),
        (Endpoint::ProgressionFree, Origin::IndexDiagnosis),
        (Endpoint::Overall, first_l01),
    ] {
        let request = AnalysisRequest {
            project: "tx".into(),
            index: IndexEvent { icd10: "C".into() },
            cohort: None,
            analysis: Analysis::Cox {
                survival: Survival {
                    endpoint,
                    origin: origin.clone(),
                    ..Survival::default()
                },
                covariates: vec![Variable::Age, "tx:atc:L01".parse().unwrap()],
                ties: Ties::Efron,
                stratify_by_site: false,
                strata: None,
                robust: false,
            },
            epsilon: None,
            wait_seconds: Some(60),
            tolerance: None,
            max_iter: None,
        };
        let (rows, events, treated) = federated_equals_pooled(&fed, &hub, &request).await;
        eprintln!(
            "{} from {origin}: {rows} rows, {events} events, {treated} treated with ATC L01 within 90 days",
            endpoint.as_str()
        );
        figures.push((rows, events));
    }
    // the same rows; progression adds events to the deaths; from the first
    // L01 only the patients who had one
    assert_eq!(figures[0].0, figures[1].0);
    assert!(figures[1].1 > figures[0].1, "{figures:?}");
    assert!(figures[2].0 < figures[0].0, "{figures:?}");
}
