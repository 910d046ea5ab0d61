//! Issue 11, attack 3 at the site, the run-plan half: a hub that names absurd
//! computations (a `u32::MAX` horizon would make `vec![0.0; horizon + 1]` 34 GB at
//! the site), or that computes the same cohort twice, once with and once without
//! a site. The site's own bounds refuse the first before anything is allocated,
//! its repeat rule the second; the hub gets only the constant refusal text. A
//! binned run's grid must hold every bin's end, so no site refuses for a
//! reason that depends on its rows (the grid-omission probe).

mod support;

use oncofed_crypto::SigningKeyPair;
use oncofed_node::agent::{AgentConfig, AnalysisRuns, SiteBounds, admit_site_set, cohort_digest};
use oncofed_protocol::QueryId;
use oncofed_protocol::analysis::{
    Analysis, AnalysisReply, AnalysisRequest, AnalysisStep, Computation, IndexEvent, Survival,
    Ties, Variable,
};
use oncofed_protocol::plan::RunPlan;
use oncofed_secagg::{REFUSAL_TEXT, RoundId};
use support::{Agent, Node, agent_config, ingested_site_1};

fn request(analysis: Analysis) -> AnalysisRequest {
    AnalysisRequest {
        project: "p1".into(),
        index: IndexEvent { icd10: "C".into() },
        cohort: None,
        analysis,
        epsilon: None,
        wait_seconds: None,
        tolerance: None,
        max_iter: None,
    }
}

fn km(horizon_days: u32) -> Analysis {
    Analysis::KaplanMeier {
        survival: Survival::binned(horizon_days),
        groups: None,
        interval_days: 30,
    }
}

/// The hub's key, pinned by the test site and signing its run plans.
static HUB: std::sync::LazyLock<SigningKeyPair> =
    std::sync::LazyLock::new(SigningKeyPair::generate);

/// A plan for `run` over `analysis` with the hub's bounds.
fn plan(run: &QueryId, analysis: Analysis) -> RunPlan {
    RunPlan {
        run: run.clone(),
        request: request(analysis),
        max_rounds: 48,
        max_grid_points: 3651,
        max_abs_beta: 20.0,
    }
}

fn prepare_with(plan: RunPlan, key: &SigningKeyPair) -> AnalysisStep {
    AnalysisStep::Prepare {
        request: plan.request.clone(),
        min_rows: 0,
        max_parameter_ratio: 1.0,
        plan: Box::new(plan.sign(key).unwrap()),
    }
}

fn prepare(run: &QueryId, analysis: Analysis) -> AnalysisStep {
    prepare_with(plan(run, analysis), &HUB)
}

fn config(node: &Node) -> AgentConfig {
    agent_config(node, SigningKeyPair::generate(), &[], &HUB)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_unbounded_horizon_is_refused() {
    let (trustee, _cohort, node, _) = ingested_site_1(1, 300, 7).await;
    let agent = Agent::new(&trustee, &node, config(&node));
    let runs = AnalysisRuns::default();
    let step = |run: QueryId, s: AnalysisStep| agent.step(&runs, &run, s);
    let refused = Err(REFUSAL_TEXT.to_string());

    // A Prepare whose horizon is beyond the site's bound: refused, nothing held.
    let absurd = QueryId::random();
    assert_eq!(
        step(absurd.clone(), prepare(&absurd, km(u32::MAX))).await,
        refused
    );
    assert_eq!(runs.open_runs(), 0);
    // The refusal came before the run was recorded: the run id is still fresh.
    assert_eq!(
        step(absurd.clone(), prepare(&absurd, km(3650))).await,
        Ok(AnalysisReply::Admitted)
    );

    // An admitted KM run, then Mask steps outside the bounds or the admitted
    // analysis: each refused before the site computes (on the unbounded code the
    // first would allocate 34 GB, the second overflow `2 * grid * groups`).
    let run = QueryId::random();
    assert_eq!(
        step(run.clone(), prepare(&run, km(3650))).await,
        Ok(AnalysisReply::Admitted)
    );
    let too_many: Vec<RoundId> = (0..=SiteBounds::DEFAULT.max_rounds)
        .map(|i| RoundId::new(format!("{run}/{i}")).unwrap())
        .collect();
    let keys = |rounds: Vec<RoundId>| AnalysisStep::Keys {
        index: 0,
        threshold: 1,
        rounds,
    };
    assert_eq!(step(run.clone(), keys(too_many)).await, refused);
    let round = RoundId::new(format!("{run}/0")).unwrap();
    assert!(matches!(
        step(run.clone(), keys(vec![round.clone()])).await,
        Ok(AnalysisReply::Ready { .. })
    ));
    let big_grid: Vec<f64> = (0..=SiteBounds::DEFAULT.max_grid_points)
        .map(|d| d as f64)
        .collect();
    let bins = vec![0.0, 256.0, 3651.0];
    for computation in [
        Computation::EventDays {
            horizon_days: u32::MAX,
        },
        // Beyond the admitted horizon, though within the site's bound.
        Computation::EventDays { horizon_days: 3651 },
        Computation::KmCounts {
            grid: vec![1.0, 2.0],
            groups: usize::MAX,
            levels: vec![],
            bins: bins.clone(),
        },
        Computation::KmCounts {
            grid: big_grid.clone(),
            groups: 1,
            levels: vec![],
            bins: bins.clone(),
        },
        // Per-day sums in a binned run (issue 11, item 3).
        Computation::KmCounts {
            grid: vec![1.0, 2.0],
            groups: 1,
            levels: vec![],
            bins: vec![],
        },
        Computation::EventDays { horizon_days: 3650 },
        // Bins that do not cover the admitted horizon.
        Computation::ExitCounts {
            edges: vec![0.0, 1.0, 2.0],
            levels: Vec::new(),
        },
        // Not a computation of the admitted (KM) analysis.
        Computation::CoxSums {
            grid: vec![1.0],
            beta: vec![1.0],
            ties: Ties::Efron,
            bins: bins.clone(),
            strata: Vec::new(),
        },
        Computation::GlmStep { beta: vec![0.5] },
    ] {
        let mask = AnalysisStep::Mask {
            round: round.clone(),
            inbox: vec![],
            computation: computation.clone(),
        };
        assert_eq!(step(run.clone(), mask).await, refused, "{computation:?}");
    }
}

/// The grid-omission probe (issue 11, "what was shown" 4): a grid that left
/// out day d was refused by exactly the sites with a death on day d, which so
/// named themselves. On time bins the site refuses a grid without every bin's
/// end before it reads a row (the same answer at every site), and on a grid
/// with every bin's end no site's rows can make the computation fail.
#[test]
fn red_team_the_grid_omission_probe_gets_the_same_answer_from_every_site() {
    use oncofed_analysis::rows::Row;
    let cox = Analysis::Cox {
        survival: Survival::binned(99),
        covariates: vec![Variable::Age],
        ties: Ties::Efron,
        stratify_by_site: false,
        strata: None,
        robust: false,
    };
    let bins = vec![0.0, 10.0, 40.0, 100.0];
    let sums = |grid: Vec<f64>| Computation::CoxSums {
        grid,
        beta: vec![0.0],
        ties: Ties::Efron,
        bins: bins.clone(),
        strata: Vec::new(),
    };
    let bounds = SiteBounds::DEFAULT;
    // day 9 (the end of bin [0, 10)) omitted: refused by the bounds, which
    // never see the site's rows
    assert!(
        bounds
            .check_computation(&cox, &sums(vec![39.0, 99.0]))
            .is_err()
    );
    let full = sums(vec![9.0, 39.0, 99.0]);
    assert_eq!(bounds.check_computation(&cox, &full), Ok(()));
    let row = |time: f64, event: bool| Row {
        time,
        event,
        dead: event,
        values: vec![60.0],
        entry: 0.0,
    };
    let with_death_in_the_bin = vec![row(3.0, true), row(50.0, false)];
    let without = vec![row(12.0, true), row(50.0, false)];
    for rows in [with_death_in_the_bin, without] {
        assert!(oncofed_analysis::site::compute(&rows, &cox, &full).is_ok());
    }
}

#[test]
fn site_bounds_refuse_absurd_coefficients_and_vectors() {
    let b = SiteBounds::DEFAULT;
    let cox = Analysis::Cox {
        survival: Survival::default(),
        covariates: vec![Variable::Age, Variable::Female],
        ties: Ties::Efron,
        stratify_by_site: false,
        strata: None,
        robust: false,
    };
    let sums = |beta: Vec<f64>, points: usize| Computation::CoxSums {
        // a binned grid holds every bin's end (here the one bin's, day 3650)
        grid: (0..points - 1).map(|d| d as f64).chain([3650.0]).collect(),
        beta,
        ties: Ties::Efron,
        bins: vec![0.0, 3651.0],
        strata: Vec::new(),
    };
    assert_eq!(
        b.check_computation(&cox, &sums(vec![0.1, -0.3], 500)),
        Ok(())
    );
    for bad in [
        sums(vec![0.1], 500),
        sums(vec![0.1, 21.0], 500),
        sums(vec![f64::NAN, 0.0], 500),
        sums(vec![0.0, 0.0], b.max_grid_points + 1),
    ] {
        assert!(b.check_computation(&cox, &bad).is_err(), "{bad:?}");
    }
    // 64 covariates on a full daily grid: within the grid bound, beyond the
    // vector bound (2 × 36,501 × (1 + 64 + 64²) values).
    let wide = Analysis::Cox {
        survival: Survival::default(),
        covariates: vec![Variable::Age; 64],
        ties: Ties::Efron,
        stratify_by_site: false,
        strata: None,
        robust: false,
    };
    assert!(
        b.check_computation(&wide, &sums(vec![0.0; 64], b.max_grid_points))
            .is_err()
    );
    assert!(b.check_request(&request(km(36_501))).is_err());
    assert!(b.check_request(&request(km(36_500))).is_ok());
}

#[test]
fn red_team_same_computation_in_two_runs_is_refused() {
    let node = Node::new();
    let names = |s: &[&str]| s.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let cohort = cohort_digest(&request(km(3650)));
    // Another analysis (and project) over the same cohort is the same cohort:
    // every analysis releases its counts.
    let mut other = request(Analysis::Describe {
        variables: vec![Variable::Age],
        edges: vec![],
        strata: None,
    });
    other.project = "p2".into();
    assert_eq!(cohort_digest(&other), cohort);
    other.index.icd10 = "C34".into();
    assert_ne!(cohort_digest(&other), cohort);

    let all = names(&["site-1", "site-2", "site-3", "site-4"]);
    let without_site_4 = names(&["site-1", "site-2", "site-3"]);
    // Run 1 over four sites binds the cohort; its further rounds, and a repeat
    // over the identical set (any order), are confirmed.
    assert_eq!(admit_site_set(&node.store, &cohort, &all), Ok(true));
    assert_eq!(admit_site_set(&node.store, &cohort, &all), Ok(true));
    let mut shuffled = all.clone();
    shuffled.reverse();
    assert_eq!(admit_site_set(&node.store, &cohort, &shuffled), Ok(true));
    // Run 2 without site-4: its difference to run 1 would be site-4's vector.
    assert_eq!(
        admit_site_set(&node.store, &cohort, &without_site_4),
        Ok(false)
    );
    // A refused set is not recorded, so asking again does not make it bound.
    assert_eq!(
        admit_site_set(&node.store, &cohort, &without_site_4),
        Ok(false)
    );
    // A different cohort is bound on its own.
    let c34 = cohort_digest(&other);
    assert_eq!(admit_site_set(&node.store, &c34, &without_site_4), Ok(true));
    assert_eq!(admit_site_set(&node.store, &c34, &all), Ok(false));
}

/// A step outside the hub's signed plan: a Prepare whose plan another key
/// signed, or that is for another run, or whose request is not the plan's; and,
/// in an admitted run, a Mask beyond the plan's grid (though within the site's
/// own bounds) or over more rounds than its budget. All refused, constant text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_steps_outside_the_signed_plan_are_refused() {
    let (trustee, _cohort, node, _) = ingested_site_1(1, 300, 8).await;
    let agent = Agent::new(&trustee, &node, config(&node));
    let runs = AnalysisRuns::default();
    let step = |run: QueryId, s: AnalysisStep| agent.step(&runs, &run, s);
    let refused = Err(REFUSAL_TEXT.to_string());
    let run = QueryId::random();
    let forged = prepare_with(plan(&run, km(3650)), &SigningKeyPair::generate());
    assert_eq!(step(run.clone(), forged).await, refused);
    let other_run = prepare(&QueryId::random(), km(3650));
    assert_eq!(step(run.clone(), other_run).await, refused);
    let AnalysisStep::Prepare {
        min_rows,
        max_parameter_ratio,
        plan: signed,
        ..
    } = prepare(&run, km(3650))
    else {
        unreachable!()
    };
    let swapped = AnalysisStep::Prepare {
        request: request(km(36_000)),
        min_rows,
        max_parameter_ratio,
        plan: signed,
    };
    assert_eq!(step(run.clone(), swapped).await, refused);
    assert_eq!(runs.open_runs(), 0);

    // The genuine plan, with a tight grid and round budget.
    let mut tight = plan(&run, km(3650));
    tight.max_grid_points = 10;
    tight.max_rounds = 2;
    assert_eq!(
        step(run.clone(), prepare_with(tight, &HUB)).await,
        Ok(AnalysisReply::Admitted)
    );
    let rounds = |n: usize| AnalysisStep::Keys {
        index: 0,
        threshold: 1,
        rounds: (0..n)
            .map(|i| RoundId::new(format!("{run}/{i}")).unwrap())
            .collect(),
    };
    assert_eq!(step(run.clone(), rounds(3)).await, refused);
    assert!(matches!(
        step(run.clone(), rounds(2)).await,
        Ok(AnalysisReply::Ready { .. })
    ));
    let mask = AnalysisStep::Mask {
        round: RoundId::new(format!("{run}/0")).unwrap(),
        inbox: vec![],
        computation: Computation::KmCounts {
            grid: (0..11).map(f64::from).collect(),
            groups: 1,
            levels: vec![],
            bins: vec![0.0, 3651.0],
        },
    };
    assert_eq!(step(run.clone(), mask).await, refused);
}

/// The site's bounds are its own configuration: a site configured for at most
/// 365 days refuses a run the hub's plan allows, before reading any row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sites_configured_bounds_hold_within_a_valid_plan() {
    let (trustee, _cohort, node, _) = ingested_site_1(1, 300, 9).await;
    let mut config = config(&node);
    config.bounds.max_horizon_days = 365;
    let agent = Agent::new(&trustee, &node, config);
    let runs = AnalysisRuns::default();
    let run = QueryId::random();
    let reply = agent.step(&runs, &run, prepare(&run, km(3650))).await;
    assert_eq!(reply, Err(REFUSAL_TEXT.to_string()));
    let reply = agent.step(&runs, &run, prepare(&run, km(365))).await;
    assert_eq!(reply, Ok(AnalysisReply::Admitted));
}

/// Issue 11, item 4: analysis releases were charged only to the hub's ledgers
/// (the hub's word). Each run with ε is now charged to the site's own lifetime
/// ledger at Prepare, before a row is read; past the site's budget the run is
/// refused with the constant text, whatever the hub's budgets say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_analysis_releases_exhaust_the_sites_own_lifetime_budget() {
    let (trustee, _cohort, node, _) = ingested_site_1(1, 300, 7).await;
    let mut cfg = config(&node);
    cfg.lifetime_epsilon = 0.25;
    let agent = Agent::new(&trustee, &node, cfg);
    let runs = AnalysisRuns::default();
    let step = |run: QueryId, s: AnalysisStep| agent.step(&runs, &run, s);
    let with_epsilon = |run: &QueryId| {
        let mut p = plan(run, km(3650));
        p.request.epsilon = Some(0.1);
        prepare_with(p, &HUB)
    };
    for _ in 0..2 {
        let run = QueryId::random();
        assert_eq!(
            step(run.clone(), with_epsilon(&run)).await,
            Ok(AnalysisReply::Admitted)
        );
    }
    // 0.2 spent of 0.25: a third release of 0.1 is refused
    let run = QueryId::random();
    assert_eq!(
        step(run.clone(), with_epsilon(&run)).await,
        Err(REFUSAL_TEXT.to_string())
    );
    // a release without ε (exact counts, a hub configured without DP) is not
    // charged and still runs
    let run = QueryId::random();
    assert_eq!(
        step(run.clone(), prepare(&run, km(3650))).await,
        Ok(AnalysisReply::Admitted)
    );
    assert!(
        (oncofed_node::agent::lifetime_spent(&node.store)
            .await
            .unwrap()
            .epsilon
            - 0.2)
            .abs()
            < 1e-9
    );
}

#[test]
fn site_bounds_admit_fine_gray_sums_only_in_a_fine_gray_run_with_a_censoring_curve() {
    let b = SiteBounds::DEFAULT;
    let survival = Survival {
        endpoint: oncofed_protocol::analysis::Endpoint::ProgressionFree,
        ..Survival::binned(99)
    };
    let fine_gray = Analysis::FineGray {
        survival: survival.clone(),
        covariates: vec![Variable::Age],
    };
    let cox = Analysis::Cox {
        survival,
        covariates: vec![Variable::Age],
        ties: Ties::Breslow,
        stratify_by_site: false,
        strata: None,
        robust: true,
    };
    let bins = vec![0.0, 10.0, 40.0, 100.0];
    let sums = |grid: Vec<f64>, g: Vec<f64>, beta: f64, bins: Vec<f64>| Computation::FineGraySums {
        grid,
        censoring_survival: g,
        beta: vec![beta],
        bins,
    };
    let grid = vec![9.0, 39.0, 99.0];
    let ok = sums(grid.clone(), vec![1.0, 0.9, 0.7], 0.3, bins.clone());
    assert_eq!(b.check_computation(&fine_gray, &ok), Ok(()));
    let gram = Computation::FineGrayResidualGram {
        grid: grid.clone(),
        censoring_survival: vec![1.0, 0.9, 0.7],
        beta: vec![0.3],
        bins: bins.clone(),
    };
    assert_eq!(b.check_computation(&fine_gray, &gram), Ok(()));
    assert!(b.check_computation(&cox, &ok).is_err());
    assert!(b.check_computation(&cox, &gram).is_err());
    for bad in [
        // a bin's end off the grid, exact days
        sums(vec![39.0, 99.0], vec![1.0, 0.9], 0.3, bins.clone()),
        sums(grid.clone(), vec![1.0, 0.9, 0.7], 0.3, Vec::new()),
        // G above 1, zero, not 1 first, rising, of the wrong length
        sums(grid.clone(), vec![1.0, 1.1, 0.7], 0.3, bins.clone()),
        sums(grid.clone(), vec![1.0, 0.9, 0.0], 0.3, bins.clone()),
        sums(grid.clone(), vec![0.9, 0.9, 0.7], 0.3, bins.clone()),
        sums(grid.clone(), vec![1.0, 0.7, 0.9], 0.3, bins.clone()),
        sums(grid.clone(), vec![1.0, 0.9], 0.3, bins.clone()),
        // an absurd coefficient
        sums(grid.clone(), vec![1.0, 0.9, 0.7], 21.0, bins.clone()),
    ] {
        assert!(b.check_computation(&fine_gray, &bad).is_err(), "{bad:?}");
    }
}
