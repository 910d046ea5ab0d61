//! Tests of the parent module.

use super::*;
use crate::analysis::{Analysis, IndexEvent, Survival, Variable};

fn request(analysis: Analysis) -> AnalysisRequest {
    AnalysisRequest {
        project: "p".into(),
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
    km_on(Survival::binned(horizon_days))
}

fn km_on(survival: Survival) -> Analysis {
    Analysis::KaplanMeier {
        survival,
        groups: None,
        interval_days: 30,
    }
}

#[test]
fn residual_gram_rounds_only_in_a_robust_cox_run() {
    let cox = |robust| Analysis::Cox {
        survival: Survival::binned(3650),
        covariates: vec![Variable::Age],
        ties: crate::analysis::Ties::Efron,
        stratify_by_site: false,
        strata: None,
        robust,
    };
    let plan = |robust| RunPlan {
        run: QueryId::random(),
        request: request(cox(robust)),
        max_rounds: 48,
        max_grid_points: 3651,
        max_abs_beta: 20.0,
    };
    let gram = |beta: f64| Computation::CoxResidualGram {
        grid: vec![99.0, 3650.0],
        strata: Vec::new(),
        beta: vec![beta],
        ties: crate::analysis::Ties::Efron,
        bins: vec![0.0, 100.0, 3651.0],
    };
    assert_eq!(plan(true).check_computation(&gram(0.5)), Ok(()));
    assert!(plan(false).check_computation(&gram(0.5)).is_err());
    assert!(plan(true).check_computation(&gram(1e9)).is_err());
}

#[test]
fn fine_gray_rounds_only_in_a_fine_gray_run_with_a_censoring_curve() {
    let survival = Survival {
        endpoint: crate::analysis::Endpoint::ProgressionFree,
        ..Survival::binned(3650)
    };
    let plan = |analysis| RunPlan {
        run: QueryId::random(),
        request: request(analysis),
        max_rounds: 48,
        max_grid_points: 3651,
        max_abs_beta: 20.0,
    };
    let fine_gray = plan(Analysis::FineGray {
        survival: survival.clone(),
        covariates: vec![Variable::Age],
    });
    let cox = plan(Analysis::Cox {
        survival,
        covariates: vec![Variable::Age],
        ties: crate::analysis::Ties::Breslow,
        stratify_by_site: false,
        strata: None,
        robust: true,
    });
    let sums = |g: Vec<f64>, beta: f64, bins: Vec<f64>| Computation::FineGraySums {
        grid: vec![99.0, 3650.0],
        censoring_survival: g,
        beta: vec![beta],
        bins,
    };
    let bins = vec![0.0, 100.0, 3651.0];
    let ok = sums(vec![1.0, 0.8], 0.5, bins.clone());
    assert_eq!(fine_gray.check_computation(&ok), Ok(()));
    let gram = Computation::FineGrayResidualGram {
        grid: vec![99.0, 3650.0],
        censoring_survival: vec![1.0, 0.8],
        beta: vec![0.5],
        bins: bins.clone(),
    };
    assert_eq!(fine_gray.check_computation(&gram), Ok(()));
    // not in another run, nor with an implausible censoring curve, β,
    // exact days or a grid missing a bin's end
    assert!(cox.check_computation(&ok).is_err());
    assert!(cox.check_computation(&gram).is_err());
    for bad in [
        sums(vec![1.0, 1.2], 0.5, bins.clone()),
        sums(vec![1.0, 0.0], 0.5, bins.clone()),
        sums(vec![0.9, 0.8], 0.5, bins.clone()),
        sums(vec![0.8, 0.9], 0.5, bins.clone()),
        sums(vec![1.0], 0.5, bins.clone()),
        sums(vec![1.0, f64::NAN], 0.5, bins.clone()),
        sums(vec![1.0, 0.8], 1e9, bins.clone()),
        sums(vec![1.0, 0.8], 0.5, Vec::new()),
        sums(vec![1.0, 0.8], 0.5, vec![0.0, 50.0, 100.0, 3651.0]),
    ] {
        assert!(fine_gray.check_computation(&bad).is_err(), "{bad:?}");
    }
    assert!(
        PlanLimits::default()
            .kinds
            .contains(&"finegray".to_string())
    );
}

#[test]
fn a_plan_verifies_only_under_the_hub_key_for_its_run() {
    let hub = SigningKeyPair::generate();
    let run = QueryId::random();
    let exact = Survival {
        horizon_days: 3650,
        exact_times: true,
        endpoint: Default::default(),
        origin: Default::default(),
        entry: None,
    };
    let plan = RunPlan {
        run: run.clone(),
        request: request(km_on(exact)),
        max_rounds: 48,
        max_grid_points: 3651,
        max_abs_beta: 20.0,
    };
    let signed = plan.clone().sign(&hub).unwrap();
    assert_eq!(signed.verify(&hub.public_key(), &run), Ok(&plan));
    let other = SigningKeyPair::generate().public_key();
    assert!(signed.verify(&other, &run).is_err());
    assert!(
        signed
            .verify(&hub.public_key(), &QueryId::random())
            .is_err()
    );
    let mut altered = signed.clone();
    altered.plan.max_abs_beta = 1e9;
    assert!(altered.verify(&hub.public_key(), &run).is_err());
    // The bounds: grid, horizon of the admitted analysis, β.
    assert!(
        plan.check_computation(&Computation::EventDays { horizon_days: 3651 })
            .is_err()
    );
    assert!(
        plan.check_computation(&Computation::GlmStep { beta: vec![21.0] })
            .is_err()
    );
    assert!(
        plan.check_computation(&Computation::KmCounts {
            grid: vec![0.0; 3652],
            groups: 1,
            levels: vec![],
            bins: vec![],
        })
        .is_err()
    );
    assert!(
        plan.check_computation(&Computation::EventDays { horizon_days: 3650 })
            .is_ok()
    );
}

#[test]
fn red_team_a_binned_run_refuses_per_day_grids() {
    let plan = RunPlan {
        run: QueryId::random(),
        request: request(km(100)),
        max_rounds: 48,
        max_grid_points: 3651,
        max_abs_beta: 20.0,
    };
    let refused = |c: Computation| assert!(plan.check_computation(&c).is_err(), "{c:?}");
    refused(Computation::EventDays { horizon_days: 100 });
    refused(Computation::KmCounts {
        grid: vec![0.0, 5.0],
        groups: 1,
        levels: vec![],
        bins: vec![],
    });
    for edges in [
        vec![0.0, 50.0],
        vec![1.0, 101.0],
        vec![0.0, 50.5, 101.0],
        vec![0.0, 60.0, 50.0, 101.0],
    ] {
        refused(Computation::ExitCounts {
            edges,
            levels: Vec::new(),
        });
    }
    let bins = vec![0.0, 32.0, 64.0, 101.0];
    assert!(
        plan.check_computation(&Computation::ExitCounts {
            edges: bins.clone(),
            levels: Vec::new(),
        })
        .is_ok()
    );
    // per-level counts name whole levels 0..15 only
    for levels in [vec![0.0, 2.0], vec![15.0]] {
        assert!(
            plan.check_computation(&Computation::ExitCounts {
                edges: bins.clone(),
                levels,
            })
            .is_ok()
        );
    }
    for levels in [vec![0.5], vec![16.0], vec![2.0, 1.0], vec![-1.0]] {
        refused(Computation::ExitCounts {
            edges: bins.clone(),
            levels,
        });
    }
    assert!(
        plan.check_computation(&Computation::KmCounts {
            grid: vec![0.0, 31.0],
            groups: 1,
            levels: vec![],
            bins,
        })
        .is_ok()
    );
    // Exact days need the approval's consent.
    let exact = request(km_on(Survival {
        horizon_days: 100,
        exact_times: true,
        endpoint: Default::default(),
        origin: Default::default(),
        entry: None,
    }));
    assert!(PlanLimits::default().admits(&exact).is_err());
    let approved = PlanLimits {
        exact_times: true,
        ..PlanLimits::default()
    };
    assert!(approved.admits(&exact).is_ok());
}

#[test]
fn time_bin_ends_make_risk_sets_whole_bins() {
    let edges = [0.0, 10.0, 20.0, 31.0];
    let ends: Vec<f64> = [0.0, 9.0, 10.0, 19.0, 30.0, 45.0]
        .iter()
        .map(|&t| crate::analysis::time_bin_end(&edges, t))
        .collect();
    assert_eq!(ends, [9.0, 9.0, 19.0, 19.0, 30.0, 30.0]);
}

#[test]
fn plan_limits_admit_only_approved_kinds_variables_and_horizons() {
    let limits = PlanLimits {
        kinds: vec!["km".into(), "describe".into()],
        variables: Some(vec![Variable::Age]),
        max_horizon_days: 365,
        ..PlanLimits::default()
    };
    assert!(limits.validate().is_ok());
    assert!(limits.admits(&request(km(365))).is_ok());
    assert!(limits.admits(&request(km(366))).is_err());
    let describe = |v: Variable| Analysis::Describe {
        variables: vec![v],
        edges: vec![],
        strata: None,
    };
    assert!(limits.admits(&request(describe(Variable::Age))).is_ok());
    assert!(limits.admits(&request(describe(Variable::Female))).is_err());
    let cox = Analysis::Cox {
        survival: Survival::default(),
        covariates: vec![Variable::Age],
        ties: crate::analysis::Ties::Efron,
        stratify_by_site: false,
        strata: None,
        robust: false,
    };
    assert!(limits.admits(&request(cox)).is_err());
    for bad in [
        PlanLimits {
            max_horizon_days: u32::MAX,
            ..PlanLimits::default()
        },
        PlanLimits {
            kinds: vec!["anything".into()],
            ..PlanLimits::default()
        },
        PlanLimits {
            max_abs_beta: f64::INFINITY,
            ..PlanLimits::default()
        },
        PlanLimits {
            max_rounds: 0,
            ..PlanLimits::default()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
    // Projects approved before the plan existed read as the defaults.
    let old: PlanLimits = serde_json::from_str("{}").unwrap();
    assert_eq!(old, PlanLimits::default());
}
