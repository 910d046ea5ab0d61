//! Issue 12, item 4: refusals name their cause. A Kaplan–Meier `--by` level
//! under the minimum cell, or a value that is no level, is refused by name
//! instead of silently dropping rows, and a singular information matrix names the term (a constant covariate).

mod support;

use support::{InMemory, request};

use oncofed_analysis::rows::Row;
use oncofed_analysis::{AnalysisError, AnalysisLimits, run};
use oncofed_model::{CodeSystem, SecurityLevel};
use oncofed_protocol::analysis::{Analysis, Family, Outcome, Survival, Ties, Variable};

/// 60 rows over 2 sites: time, event, and the given covariate columns.
fn sites(values: impl Fn(usize) -> Vec<f64>) -> Vec<Vec<Row>> {
    let rows: Vec<Row> = (0..60)
        .map(|i| Row {
            time: (10 + (i * 37) % 500) as f64,
            event: i % 3 != 0,
            dead: i % 3 != 0,
            values: values(i),
            entry: 0.0,
        })
        .collect();
    vec![rows[..30].to_vec(), rows[30..].to_vec()]
}

fn run_on(analysis: Analysis, sites: Vec<Vec<Row>>) -> Result<(), AnalysisError> {
    let request = request(analysis.clone());
    let limits = AnalysisLimits::for_level(SecurityLevel::Pseudonymised);
    run(&request, &limits, &mut InMemory::new(sites, analysis)).map(|_| ())
}

fn grade() -> Variable {
    Variable::Observation {
        system: CodeSystem::Snomed,
        code: "grade".into(),
        window_days: None,
    }
}

#[test]
fn km_by_a_variable_with_small_or_fractional_levels_is_refused_by_name() {
    let analysis = Analysis::KaplanMeier {
        survival: Survival::default(),
        groups: Some(grade()),
        interval_days: 30,
    };
    // grade 0/1/2: three curves (the rows of grade 2 were dropped without a
    // word before issue 12)
    run_on(analysis.clone(), sites(|i| vec![(i % 3) as f64])).unwrap();
    // one row of grade 3: refused, naming the level
    let err = run_on(
        analysis.clone(),
        sites(|i| vec![if i == 7 { 3.0 } else { (i % 3) as f64 }]),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AnalysisError::Disclosure(_)), "{text}");
    assert!(text.contains(&format!("{}=3", grade().name())), "{text}");
    // a value that is no level at all
    let err = run_on(analysis, sites(|i| vec![(i % 2) as f64 + 0.5])).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, AnalysisError::Invalid(_)) && text.contains(&grade().name()),
        "{text}"
    );
    assert!(text.contains("not whole numbers"), "{text}");
}

#[test]
fn a_constant_covariate_is_named_in_the_singular_information_error() {
    let covariates = vec![Variable::Age, Variable::Female];
    let cox = Analysis::Cox {
        survival: Survival::default(),
        covariates: covariates.clone(),
        ties: Ties::Efron,
        stratify_by_site: false,
        strata: None,
        robust: false,
    };
    // Female is 1 in every row: no information about its coefficient
    let rows = sites(|i| vec![40.0 + (i % 17) as f64, 1.0]);
    let text = run_on(cox, rows.clone()).unwrap_err().to_string();
    assert!(
        text.contains("singular at term female") || text.contains("singular at term Female"),
        "{text}"
    );
    let glm = Analysis::Glm {
        outcome: Outcome::Deceased,
        covariates,
        family: Family::Binomial,
    };
    let text = run_on(glm, rows).unwrap_err().to_string();
    assert!(text.contains("singular at term"), "{text}");
    assert!(text.contains(&Variable::Female.name()), "{text}");
}
