//! Issue 12, item 3: categorical covariates (`cat:<variable>:<levels>`, the
//! first level the reference), one-hot encoded at the sites. A federated fit
//! with a categorical covariate equals the pooled fit on the same 0/1 columns
//! built by hand, and lifelines on `pd.get_dummies(..., drop_first=True)`; a
//! level under the minimum cell is refused by name; a categorical variable
//! where it has no meaning is refused.

mod support;

use support::{InMemory, lung_peer, lung_sites, request};

use oncofed_analysis::result::RegressionResult;
use oncofed_analysis::rows::{PatientData, Row, variable_value};
use oncofed_analysis::{AnalysisError, AnalysisLimits, AnalysisResult, driver, run};
use oncofed_model::{
    CodeSystem, Coding, DataCategory, Demographics, Fact, FactKind, FactValue, SecurityLevel, Sex,
    VitalStatus,
};
use oncofed_protocol::analysis::{Analysis, Family, Level, Outcome, Survival, Ties, Variable};

const ECOG: &str = "cat:obs:loinc:89247-1:0,1,2,3";

fn ecog(levels: &str) -> Variable {
    format!("cat:obs:loinc:89247-1:{levels}").parse().unwrap()
}

/// Distinct stand-in variables for hand-built columns (the rows carry the values).
fn column(name: &str) -> Variable {
    Variable::Observation {
        system: CodeSystem::Snomed,
        code: name.into(),
        window_days: None,
    }
}

/// The same rows with the ECOG value (last column) replaced by one 0/1
/// column per level in `others` (the reference left out).
fn dummies(sites: &[Vec<Row>], others: &[f64]) -> Vec<Row> {
    sites
        .iter()
        .flatten()
        .map(|r| {
            let (&e, head) = r.values.split_last().unwrap();
            let mut values = head.to_vec();
            values.extend(others.iter().map(|&l| f64::from(u8::from(e == l))));
            Row {
                values,
                ..r.clone()
            }
        })
        .collect()
}

fn regression(r: AnalysisResult) -> RegressionResult {
    match r {
        AnalysisResult::Cox(r) | AnalysisResult::Glm(r) => r,
        _ => panic!("not a regression"),
    }
}

/// Runs the analysis `fed` holds under `limits`.
fn run_on(limits: &AnalysisLimits, mut fed: InMemory) -> Result<AnalysisResult, AnalysisError> {
    run(&request(fed.analysis.clone()), limits, &mut fed)
}

/// The regression fit of the analysis `fed` holds under `limits`.
fn fit(limits: &AnalysisLimits, fed: InMemory) -> RegressionResult {
    regression(run_on(limits, fed).unwrap())
}

/// The largest absolute difference of two fits' coefficients and standard errors.
fn max_abs_diff(a: &RegressionResult, b: &RegressionResult) -> f64 {
    let mut worst = 0.0f64;
    for (a, b) in a.estimates.iter().zip(&b.estimates) {
        worst = worst
            .max((a.coef - b.coef).abs())
            .max((a.std_error - b.std_error).abs());
    }
    worst
}

/// The largest error of `result` against the peer's `coef` and `se`: of a
/// coefficient relative to `max(|coef|, SE)`, of an SE relative to the SE.
fn max_relative_diff(result: &RegressionResult, peer: &serde_json::Value) -> f64 {
    let mut worst = 0.0f64;
    for (i, e) in result.estimates.iter().enumerate() {
        let (coef, se) = (
            peer["coef"][i].as_f64().unwrap(),
            peer["se"][i].as_f64().unwrap(),
        );
        worst = worst
            .max((e.coef - coef).abs() / coef.abs().max(se))
            .max((e.std_error - se).abs() / se);
    }
    worst
}

/// Each site's rows with only the first and third values (age and ECOG).
fn age_and_ecog(sites: &[Vec<Row>]) -> Vec<Vec<Row>> {
    sites
        .iter()
        .map(|s| {
            s.iter()
                .map(|r| Row {
                    values: vec![r.values[0], r.values[2]],
                    ..r.clone()
                })
                .collect()
        })
        .collect()
}

fn cox(covariates: Vec<Variable>) -> Analysis {
    Analysis::Cox {
        // exact days: the peer fits the raw lung times
        survival: Survival {
            exact_times: true,
            ..Survival::default()
        },
        covariates,
        ties: Ties::Efron,
        stratify_by_site: false,
        strata: None,
        robust: false,
    }
}

/// Cox with Efron ties on the default survival settings.
fn default_cox(covariates: Vec<Variable>) -> Analysis {
    Analysis::Cox {
        survival: Survival::default(),
        covariates,
        ties: Ties::Efron,
        stratify_by_site: false,
        strata: None,
        robust: false,
    }
}

/// A test limit that admits lung's single ECOG-3 row.
fn min_cell_one() -> AnalysisLimits {
    AnalysisLimits {
        min_cell: 1,
        ..AnalysisLimits::for_level(SecurityLevel::Pseudonymised)
    }
}

/// Cox on lung with age + sex + ECOG as a categorical (reference 0) over 3
/// sites equals the pooled fit on hand-built ECOG dummies (exact sums), and
/// lifelines on `pd.get_dummies(drop_first=True)` to 1e-6.
#[test]
fn cox_with_categorical_ecog_equals_hand_built_dummies_and_lifelines() {
    let sites = lung_sites(&["age", "sex", "ph.ecog"]);
    let analysis = cox(vec![Variable::Age, Variable::Female, ecog("0,1,2,3")]);
    assert_eq!(analysis.parameters(), 5);
    let limits = min_cell_one();
    let fed = fit(&limits, InMemory::new(sites.clone(), analysis));
    assert_eq!(
        fed.terms,
        [
            "age",
            "female",
            "obs:loinc:89247-1=1",
            "obs:loinc:89247-1=2",
            "obs:loinc:89247-1=3"
        ]
    );
    assert_eq!(fed.references, ["obs:loinc:89247-1=0"]);

    let by_hand = cox(vec![
        Variable::Age,
        Variable::Female,
        column("e1"),
        column("e2"),
        column("e3"),
    ]);
    let pooled = fit(
        &AnalysisLimits {
            min_sites: 1,
            ..limits
        },
        InMemory::new(vec![dummies(&sites, &[1.0, 2.0, 3.0])], by_hand),
    );
    let worst_hand = max_abs_diff(&fed, &pooled);
    eprintln!("categorical vs hand-built dummies: max |Δ| (coef, SE) {worst_hand:.2e}");
    assert!(worst_hand < 1e-10, "{worst_hand:e}");

    let peer = &lung_peer()["cox_efron_ecog_categorical"];
    assert_eq!(peer["n"], 227);
    let worst_peer = max_relative_diff(&fed, peer);
    let loglik = peer["loglik"].as_f64().unwrap();
    eprintln!(
        "categorical vs lifelines: max relative |Δ| (coef, SE) {worst_peer:.2e}, loglik {:.2e}",
        (fed.loglik - loglik).abs()
    );
    assert!(worst_peer < 1e-6, "{worst_peer:e}");
    assert!((fed.loglik - loglik).abs() < 1e-6);

    // over the secure-aggregation codec (each site vector rounded to 2^-48)
    let analysis = cox(vec![Variable::Age, Variable::Female, ecog("0,1,2,3")]);
    let codec = fit(
        &limits,
        InMemory {
            sites,
            analysis,
            resolution: driver::CODEC_RESOLUTION,
        },
    );
    let worst_codec = max_relative_diff(&codec, peer);
    eprintln!("categorical over the codec vs lifelines: max relative |Δ| {worst_codec:.2e}");
    assert!(worst_codec < 1e-6, "{worst_codec:e}");
}

/// Under the default limits (minimum cell 3) lung's single ECOG-3 row makes
/// its level too small: refused by name before any fit.
#[test]
fn an_ecog_level_under_the_minimum_cell_is_refused_by_name() {
    let sites = lung_sites(&["age", "sex", "ph.ecog"]);
    let analysis = cox(vec![Variable::Age, Variable::Female, ecog("0,1,2,3")]);
    let limits = AnalysisLimits::for_level(SecurityLevel::Pseudonymised);
    let err = run_on(&limits, InMemory::new(sites.clone(), analysis)).unwrap_err();
    assert_eq!(
        err,
        AnalysisError::Disclosure(
            "level obs:loinc:89247-1=3 has fewer than 3 rows: merge it or drop it".into()
        )
    );
    // the refusal comes from the totals round, before any time grid or fit
    // (two small levels are named together)
    let analysis = cox(vec![Variable::Age, ecog("0,1,2,3,4")]);
    let err = run_on(&limits, InMemory::new(age_and_ecog(&sites), analysis)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused by disclosure control: levels obs:loinc:89247-1=3, obs:loinc:89247-1=4 have fewer than 3 rows each: merge them or drop them"
    );
}

/// Logistic regression of death on age, sex and ECOG 0/1/2 (reference 0)
/// over 3 sites equals the pooled fit on hand-built dummies. A row whose value
/// is not a listed level never reaches the sums: the site leaves it out (see
/// the next test), and rows that did would not add up and are refused.
#[test]
fn glm_with_a_categorical_covariate_equals_hand_built_dummies() {
    // the single ECOG-3 row (who died) would separate the outcome: levels 0-2,
    // and the site leaves the ECOG-3 row out as it would a missing value
    let all = lung_sites(&["age", "sex", "ph.ecog"]);
    let sites: Vec<Vec<Row>> = all
        .iter()
        .map(|s| s.iter().filter(|r| r.values[2] < 3.0).cloned().collect())
        .collect();
    let limits = AnalysisLimits::for_level(SecurityLevel::Pseudonymised);
    for family in [Family::Binomial, Family::Poisson] {
        let analysis = Analysis::Glm {
            outcome: Outcome::Deceased,
            covariates: vec![Variable::Age, Variable::Female, ecog("0,1,2")],
            family,
        };
        assert_eq!(analysis.parameters(), 5);
        let fed = fit(&limits, InMemory::new(sites.clone(), analysis));
        assert_eq!(
            fed.terms,
            [
                "intercept",
                "age",
                "female",
                "obs:loinc:89247-1=1",
                "obs:loinc:89247-1=2"
            ]
        );
        assert_eq!(fed.references, ["obs:loinc:89247-1=0"]);
        let by_hand = Analysis::Glm {
            outcome: Outcome::Deceased,
            covariates: vec![Variable::Age, Variable::Female, column("e1"), column("e2")],
            family,
        };
        let pooled = fit(
            &AnalysisLimits {
                min_sites: 1,
                ..limits
            },
            InMemory::new(vec![dummies(&sites, &[1.0, 2.0])], by_hand),
        );
        let worst = max_abs_diff(&fed, &pooled);
        eprintln!("{family:?} GLM categorical vs hand-built dummies: max |Δ| {worst:.2e}");
        assert!(worst < 1e-10, "{worst:e}");
    }
    // rows holding an unlisted value (a site that did not leave them out)
    // do not add up to the rows: refused, not silently taken as the reference
    let analysis = Analysis::Glm {
        outcome: Outcome::Deceased,
        covariates: vec![Variable::Age, ecog("0,1,2")],
        family: Family::Binomial,
    };
    let err = run_on(&limits, InMemory::new(age_and_ecog(&all), analysis)).unwrap_err();
    assert!(
        matches!(&err, AnalysisError::Federation(m) if m.contains("level counts")),
        "{err}"
    );
}

/// At the site a categorical covariate's value is its inner variable's, kept
/// only when it is a listed level: any other value leaves the row out, as a
/// missing value does (complete cases).
#[test]
fn a_value_outside_the_levels_leaves_the_row_out() {
    let index = "2020-01-01".parse().unwrap();
    let patient = |grade: &str| PatientData {
        demographics: Demographics {
            sex: Sex::Female,
            birth_year: Some(1950),
            vital_status: VitalStatus::Alive,
            death_date: None,
            last_contact: Some("2021-01-01".parse().unwrap()),
        },
        facts: vec![Fact {
            kind: FactKind::Observation,
            code: Coding::new(CodeSystem::Loinc, "89247-1"),
            modifier: None,
            value: FactValue::Code(Coding::new(CodeSystem::Ecog, grade)),
            start: Some(index),
            end: None,
            category: DataCategory::Clinical,
            level: SecurityLevel::Pseudonymised,
        }],
        variants: Vec::new(),
    };
    let v = ecog("0,1,2");
    assert_eq!(variable_value(&v, &patient("2"), index), Some(2.0));
    assert_eq!(variable_value(&v, &patient("0"), index), Some(0.0));
    assert_eq!(variable_value(&v, &patient("4"), index), None);
    let mut none = patient("1");
    none.facts.clear();
    assert_eq!(variable_value(&v, &none, index), None);
}

/// Names print and parse back; malformed forms, bad levels and a categorical
/// variable where it has no meaning are refused with a clear message.
#[test]
fn categorical_names_parse_back_and_misuse_is_refused() {
    for name in [
        ECOG,
        "cat:age:60,40,80",
        "cat:dx:C34.1:0,1",
        "cat:tx:atc:L01@30:0,1",
        "cat:obs:loinc:89247-1:1,0.5,-2",
    ] {
        let v: Variable = name.parse().unwrap();
        assert_eq!(v.name(), name);
        assert_eq!(v.name().parse::<Variable>().unwrap(), v);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<Variable>(&json).unwrap(), v);
    }
    let v: Variable = ECOG.parse().unwrap();
    assert_eq!(
        v,
        Variable::Categorical {
            variable: Box::new(Variable::Observation {
                system: CodeSystem::Loinc,
                code: "89247-1".into(),
                window_days: None,
            }),
            levels: [0.0, 1.0, 2.0, 3.0].map(Level).to_vec(),
        }
    );
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"var":"categorical","variable":{"var":"observation","system":"loinc","code":"89247-1"},"levels":[0.0,1.0,2.0,3.0]}"#
    );
    assert_eq!(v.base().name(), "obs:loinc:89247-1");
    assert_eq!(v.columns(), 3);
    assert_eq!(
        "cat:gene:EGFR:0,1".parse::<Variable>().unwrap().category(),
        DataCategory::Genetic
    );
    // a shorthand level prints in its canonical form
    assert_eq!(
        "cat:age:+1,2.50".parse::<Variable>().unwrap().name(),
        "cat:age:1,2.5"
    );
    for bad in [
        "cat:",
        "cat:age",
        "cat:obs:loinc:89247-1:0,x",
        "cat:obs:loinc:89247-1:",
        "cat:nope:0,1",
        "cat:cat:age:0,1:0,1",
    ] {
        assert!(bad.parse::<Variable>().is_err(), "{bad}");
    }

    let check =
        |analysis: Analysis| driver::validate(&request(analysis)).map_err(|e| e.to_string());
    let cox_with = |v: &str| check(default_cox(vec![v.parse().unwrap()]));
    assert_eq!(cox_with(ECOG), Ok(()));
    let levels = |v: &str| {
        cox_with(v).unwrap_err().contains(
            "a categorical variable needs 2 to 16 distinct finite levels, the reference first",
        )
    };
    assert!(levels("cat:obs:loinc:89247-1:0"));
    assert!(levels("cat:obs:loinc:89247-1:0,1,1"));
    assert!(levels("cat:obs:loinc:89247-1:0,-0"));
    assert!(levels("cat:obs:loinc:89247-1:0,inf"));
    assert!(levels("cat:obs:loinc:89247-1:0,NaN"));
    assert!(levels(&format!(
        "cat:age:{}",
        (0..17).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
    )));
    // the inner variable is checked as any variable
    assert!(cox_with("cat:dx:not-icd:0,1").is_err());
    // nested through JSON
    let nested = Variable::Categorical {
        variable: Box::new(v.clone()),
        levels: vec![Level(0.0), Level(1.0)],
    };
    assert!(
        check(default_cox(vec![nested]))
            .unwrap_err()
            .contains("cannot be categorical")
    );

    let refused = |analysis: Analysis, place: &str| {
        let e = check(analysis).unwrap_err();
        assert!(
            e.contains("a categorical variable (cat:...) cannot be") && e.contains(place),
            "{e}"
        );
    };
    refused(
        Analysis::Describe {
            variables: vec![v.clone()],
            edges: vec![],
            strata: None,
        },
        "describe variable 1",
    );
    refused(
        Analysis::Describe {
            variables: vec![Variable::Age],
            edges: vec![],
            strata: Some(v.clone()),
        },
        "the describe strata",
    );
    refused(
        Analysis::KaplanMeier {
            survival: Survival::default(),
            groups: Some(v.clone()),
            interval_days: 30,
        },
        "Kaplan-Meier grouping",
    );
    refused(
        Analysis::Glm {
            outcome: Outcome::Variable {
                variable: v.clone(),
            },
            covariates: vec![Variable::Age],
            family: Family::Binomial,
        },
        "GLM outcome",
    );
    // a project approved for a variable admits it as a categorical too (the
    // same facts are read), not another variable made categorical
    let approved = oncofed_protocol::plan::PlanLimits {
        variables: Some(vec![v.base().clone()]),
        ..Default::default()
    };
    let cox_of = |c: Variable| request(default_cox(vec![c]));
    assert!(approved.admits(&cox_of(v.clone())).is_ok());
    assert!(approved.admits(&cox_of(ecog("2,0"))).is_ok());
    assert!(
        approved
            .admits(&cox_of("cat:age:50,60".parse().unwrap()))
            .is_err()
    );
    // the fuzz target's seed (fuzz/seeds/analysis/cox-categorical.json)
    // validates, and its names parse back (the target's property)
    let seed: oncofed_protocol::analysis::AnalysisRequest = serde_json::from_str(include_str!(
        "../../../fuzz/seeds/analysis/cox-categorical.json"
    ))
    .unwrap();
    driver::validate(&seed).unwrap();
    assert_eq!(seed.analysis.parameters(), 5);
    for v in seed.analysis.variables() {
        assert_eq!(v.name().parse::<Variable>().unwrap(), v);
    }
    // coefficients, not covariates, are bounded: 5 covariates of 16 levels
    // are 75 coefficients
    let wide = format!(
        "cat:age:{}",
        (0..16).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
    );
    let e = check(default_cox(
        (0..5)
            .map(|i| {
                let mut w: Variable = wide.parse().unwrap();
                if let Variable::Categorical { variable, .. } = &mut w {
                    **variable = column(&format!("c{i}"));
                }
                w
            })
            .collect(),
    ))
    .unwrap_err();
    assert!(e.contains("at most 64 coefficients"), "{e}");
}
