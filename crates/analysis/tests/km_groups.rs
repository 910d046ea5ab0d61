//! Issue 12, item 2: Kaplan–Meier by a categorical variable with any number of
//! levels, each level named, and the k-group log-rank test, against the
//! pooled lifelines figures (`multivariate_logrank_test`) on the NCCTG lung
//! data by ECOG (levels 0–3) split over 3 sites.

mod support;

use support::{InMemory, lung_peer, lung_sites, request};

use oncofed_analysis::{AnalysisError, AnalysisLimits, AnalysisResult, run};
use oncofed_model::{CodeSystem, SecurityLevel};
use oncofed_protocol::analysis::{Analysis, Survival, Variable};

fn ecog() -> Variable {
    Variable::Observation {
        system: CodeSystem::Loinc,
        code: "89247-1".into(),
        window_days: None,
    }
}

fn km_by_ecog() -> Analysis {
    Analysis::KaplanMeier {
        survival: Survival {
            horizon_days: 3650,
            exact_times: true,
            endpoint: Default::default(),
            origin: Default::default(),
            entry: None,
        },
        groups: Some(ecog()),
        interval_days: 30,
    }
}

#[test]
fn km_by_ecog_gives_one_named_curve_per_level_and_the_k_group_logrank_of_lifelines() {
    let peer = lung_peer();
    let sites = lung_sites(&["ph.ecog"]);
    let rows: usize = sites.iter().map(Vec::len).sum();
    // lung has one patient with ECOG 3: allowed here only with a cell of 1
    let limits = AnalysisLimits {
        min_cell: 1,
        km_min_events: 1,
        ..AnalysisLimits::for_level(SecurityLevel::Pseudonymised)
    };
    let analysis = km_by_ecog();
    let mut fed = InMemory::new(sites.clone(), analysis.clone());
    let AnalysisResult::Km(km) = run(&request(analysis.clone()), &limits, &mut fed).unwrap() else {
        panic!("not a KM result")
    };
    let labels: Vec<&str> = km.curves.iter().map(|c| c.label.as_str()).collect();
    let name = ecog().name();
    assert_eq!(
        labels,
        (0..4).map(|l| format!("{name}={l}")).collect::<Vec<_>>()
    );
    let n: u64 = km.curves.iter().map(|c| c.n.unwrap()).sum();
    assert_eq!(n as usize, rows);
    let logrank = km.logrank.expect("a k-group log-rank");
    let want = &peer["logrank_ecog"];
    let chi2 = want["chi2"].as_f64().unwrap();
    eprintln!(
        "k-group log-rank by ECOG: ours chi2 {} df {}, lifelines chi2 {chi2} df {}",
        logrank.chi2, logrank.df, want["df"]
    );
    assert!((logrank.chi2 - chi2).abs() < 1e-8 * chi2.max(1.0));
    assert_eq!(logrank.df as u64, want["df"].as_u64().unwrap());
    assert!((logrank.p_value - want["p"].as_f64().unwrap()).abs() < 1e-10);

    // Under the default cell of 3 the single ECOG-3 patient's level is refused
    // by name.
    let limits = AnalysisLimits::for_level(SecurityLevel::Pseudonymised);
    let mut fed = InMemory::new(sites, analysis.clone());
    let err = run(&request(analysis), &limits, &mut fed).unwrap_err();
    assert!(
        matches!(&err, AnalysisError::Disclosure(m) if m.contains(&format!("{name}=3"))),
        "{err}"
    );
}
