//! Issue 12, item 3: treatment variables. A Cox model of overall survival on
//! age and "an antineoplastic drug (ATC L01) before the index date or within
//! 90 days after it", run through the hub over three synthetic sites, equals
//! the same model fitted on the pooled rows the sites select (the rows that
//! `load_rows` gives each site, concatenated, through the same driver).

mod support;

use oncofed_analysis::rows::Row;
use oncofed_analysis::site::compute;
use oncofed_analysis::{AnalysisError, AnalysisLimits, AnalysisResult, Federation};
use oncofed_hub::client::HubClient;
use oncofed_model::SecurityLevel;
use oncofed_protocol::analysis::{
    Analysis, AnalysisRequest, Computation, IndexEvent, RunState, Survival, Ties, Variable,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cox_model_with_a_treatment_covariate_equals_the_pooled_fit() {
    let (fed, hub, _dir, _key) = federation_with_hub(3, 1500, 23).await;
    let _agents = fed.run_agents(&hub, &[0, 1, 2]);
    approve_for_alice(&hub, "tx", "treatment covariate").await;
    let treatment: Variable = "tx:atc:L01".parse().unwrap();
    let analysis = Analysis::Cox {
        survival: Survival::default(),
        covariates: vec![Variable::Age, treatment.clone()],
        ties: Ties::Efron,
        stratify_by_site: false,
    };
    let request = AnalysisRequest {
        project: "tx".into(),
        index: IndexEvent { icd10: "C".into() },
        cohort: None,
        analysis: analysis.clone(),
        epsilon: None,
        wait_seconds: Some(60),
        tolerance: None,
        max_iter: None,
    };
    let done = HubClient::new(&hub.url, RESEARCHER)
        .analyze_to_end(&request)
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
            oncofed_node::agent::load_rows(&site.store, &site.gate, &request)
                .await
                .unwrap(),
        );
    }
    let treated = rows.iter().filter(|r| r.values[1] == 1.0).count();
    eprintln!(
        "{} rows, {treated} treated with ATC L01 within 90 days",
        rows.len()
    );
    assert!(
        treated > 0 && treated < rows.len(),
        "the variable must vary"
    );
    let limits = AnalysisLimits {
        min_sites: 1,
        ..AnalysisLimits::for_level(SecurityLevel::Pseudonymised)
    };
    let AnalysisResult::Cox(pooled) =
        oncofed_analysis::run(&request, &limits, &mut Pooled { rows, analysis }).unwrap()
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
}
