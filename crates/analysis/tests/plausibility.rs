//! Plausibility checks on summed vectors (issue 11, item 5): honest sums from
//! `site::compute` over two sites pass every check, also after the codec's
//! rounding; a site inflating one round is refused by the next; each rule
//! refuses its own breach with a text that names the rule and holds no value.

use oncofed_analysis::AnalysisError;
use oncofed_analysis::driver::CODEC_RESOLUTION;
use oncofed_analysis::plausibility::*;
use oncofed_analysis::rows::Row;
use oncofed_analysis::site::{
    compute, unflatten_cox_sums, unflatten_glm, unflatten_glm_start, unflatten_km,
};
use oncofed_protocol::analysis::{
    Analysis, Computation, Family, Outcome, Survival, Ties, Variable,
};
use oncofed_stats::{CoxSiteSums, KmCounts};

const SITES: usize = 2;

/// (time, event, age, female) per row, one list per site.
fn site_data() -> [Vec<(f64, bool, f64, f64)>; SITES] {
    [
        vec![
            (10.0, true, 60.0, 1.0),
            (20.0, false, 55.0, 0.0),
            (35.0, true, 70.0, 1.0),
            (35.0, true, 48.0, 0.0),
            (50.0, false, 66.0, 1.0),
        ],
        vec![
            (5.0, false, 62.0, 0.0),
            (20.0, true, 58.0, 1.0),
            (40.0, true, 73.0, 0.0),
            (95.0, false, 51.0, 1.0),
        ],
    ]
}

/// Each site's rows with `values` chosen from (age, female).
fn rows(values: fn(f64, f64) -> Vec<f64>) -> Vec<Vec<Row>> {
    site_data()
        .iter()
        .map(|site| {
            site.iter()
                .map(|&(time, event, age, female)| Row {
                    time,
                    event,
                    dead: event,
                    values: values(age, female),
                    entry: 0.0,
                })
                .collect()
        })
        .collect()
}

/// The sum over sites of each site's vector (what secure aggregation returns).
fn summed(sites: &[Vec<Row>], analysis: &Analysis, computation: &Computation) -> Vec<f64> {
    let vectors: Vec<Vec<f64>> = sites
        .iter()
        .map(|rows| compute(rows, analysis, computation).unwrap())
        .collect();
    (0..vectors[0].len())
        .map(|i| vectors.iter().map(|v| v[i]).sum())
        .collect()
}

/// The exit-count layout `[exits per bin, deaths per bin]` of one site, 30-day bins.
fn exit_vector(rows: &[Row], bins: usize) -> Vec<f64> {
    let mut v = vec![0.0; 2 * bins];
    for r in rows {
        let b = ((r.time / 30.0) as usize).min(bins - 1);
        v[b] += 1.0;
        v[bins + b] += f64::from(u8::from(r.event));
    }
    v
}

fn km() -> Analysis {
    Analysis::KaplanMeier {
        survival: Survival::default(),
        groups: None,
        interval_days: 30,
    }
}

fn cox(ties: Ties) -> Analysis {
    Analysis::Cox {
        survival: Survival::default(),
        covariates: vec![Variable::Age],
        ties,
        stratify_by_site: false,
        strata: None,
        robust: false,
    }
}

/// Totals, event grid, KM counts and exit counts over `sites` (KM rows).
struct Survivals {
    totals: Vec<f64>,
    grid: Vec<f64>,
    km: Vec<KmCounts>,
    km_raw: Vec<f64>,
    exits: Vec<f64>,
}

fn survivals(sites: &[Vec<Row>], totals: Vec<f64>) -> Survivals {
    let analysis = km();
    let days = summed(
        sites,
        &analysis,
        &Computation::EventDays { horizon_days: 100 },
    );
    check_event_days(&days, totals[1] as u64).unwrap();
    let grid: Vec<f64> = std::iter::once(0.0)
        .chain((1..days.len()).filter(|&d| days[d] > 0.5).map(|d| d as f64))
        .collect();
    // through JSON, so the test reads exact days with or without the `bins` field
    let computation: Computation = serde_json::from_value(
        serde_json::json!({"compute": "km-counts", "grid": grid, "groups": 1}),
    )
    .unwrap();
    let km_raw = summed(sites, &analysis, &computation);
    let km = unflatten_km(&km_raw, grid.len(), 1).unwrap();
    let exits = sites
        .iter()
        .map(|r| exit_vector(r, 4))
        .fold(vec![0.0; 8], |a, v| {
            a.iter().zip(&v).map(|(x, y)| x + y).collect()
        });
    Survivals {
        totals,
        grid,
        km,
        km_raw,
        exits,
    }
}

fn totals_of(sites: &[Vec<Row>]) -> Vec<f64> {
    summed(sites, &km(), &Computation::Totals)
}

fn rule(e: Result<(), AnalysisError>) -> String {
    match e {
        Err(AnalysisError::Federation(m)) => {
            assert!(m.starts_with("implausible sums: "), "{m}");
            assert!(!m.chars().any(|c| c.is_ascii_digit()), "a value in {m}");
            m
        }
        other => panic!("expected a federation refusal, got {other:?}"),
    }
}

fn cox_sums(ties: Ties, beta: Vec<f64>, grid: &[f64]) -> CoxSiteSums {
    let sites = rows(|age, _| vec![age]);
    let grid = grid[1..].to_vec(); // the event days
    let t = grid.len();
    let computation: Computation = serde_json::from_value(serde_json::json!({
        "compute": "cox-sums", "grid": grid, "beta": beta, "ties": ties
    }))
    .unwrap();
    let v = summed(&sites, &cox(ties), &computation);
    unflatten_cox_sums(&v, 1, t, ties).unwrap()
}

#[test]
fn honest_sums_pass_every_check() {
    let sites = rows(|_, _| vec![]);
    let s = survivals(&sites, totals_of(&sites));
    let (n, d) = (s.totals[0] as u64, s.totals[1] as u64);
    assert_eq!((n, d), (9, 5));
    check_totals(&s.totals).unwrap();
    check_whole_counts(&s.km_raw, "km counts").unwrap();
    check_km_counts(&s.km, n, d).unwrap();
    check_exit_counts(&s.exits[..4], &s.exits[4..], n, d).unwrap();
    for ties in [Ties::Breslow, Ties::Efron] {
        for beta in [vec![0.0], vec![0.03], vec![-0.05]] {
            check_cox_sums(&cox_sums(ties, beta.clone(), &s.grid), &beta, n, d, SITES).unwrap();
        }
    }
    let glm = glm();
    let sites = rows(|age, _| vec![age]);
    let start = summed(&sites, &glm, &Computation::GlmStart);
    check_glm_start(&unflatten_glm_start(&start, 2).unwrap(), 2, SITES).unwrap();
    for beta in [vec![0.0, 0.0], vec![-3.0, 0.05]] {
        let v = summed(&sites, &glm, &Computation::GlmStep { beta });
        check_glm_step(&unflatten_glm(&v, 2).unwrap(), n, SITES).unwrap();
    }
    let (describe, edges, v) = describe();
    check_describe(&v, &describe, &edges, n, SITES).unwrap();
    // the codec moves each component by up to sites · 2^-48
    let jitter = |v: &[f64]| -> Vec<f64> {
        let e = SITES as f64 * CODEC_RESOLUTION;
        v.iter()
            .enumerate()
            .map(|(i, x)| x + if i % 2 == 0 { e } else { -e })
            .collect()
    };
    check_describe(&jitter(&v), &describe, &edges, n, SITES).unwrap();
    check_exit_counts(&jitter(&s.exits[..4]), &jitter(&s.exits[4..]), n, d).unwrap();
    let mut c = cox_sums(Ties::Efron, vec![0.0], &s.grid);
    c.s0 = jitter(&c.s0);
    c.tied_s0 = jitter(&c.tied_s0);
    check_cox_sums(&c, &[0.0], n, d, SITES).unwrap();
}

/// Describe age by sex: the analysis, its edges, and its honest sum over the
/// sites' (age, female) rows.
fn describe() -> (Analysis, Vec<f64>, Vec<f64>) {
    let edges = vec![40.0, 60.0, 80.0];
    let analysis = Analysis::Describe {
        variables: vec![Variable::Age],
        edges: edges.clone(),
        strata: Some(Variable::Female),
    };
    let v = summed(
        &rows(|age, female| vec![age, female]),
        &analysis,
        &Computation::Describe {
            edges: edges.clone(),
        },
    );
    (analysis, edges, v)
}

/// Logistic regression of death on age.
fn glm() -> Analysis {
    Analysis::Glm {
        outcome: Outcome::Deceased,
        covariates: vec![Variable::Age],
        family: Family::Binomial,
    }
}

#[test]
fn red_team_a_site_adding_10000_to_its_rows_is_refused() {
    let sites = rows(|_, _| vec![]);
    let mut a = compute(&sites[0], &km(), &Computation::Totals).unwrap();
    let b = compute(&sites[1], &km(), &Computation::Totals).unwrap();
    a[0] += 10_000.0;
    let lied = vec![a[0] + b[0], a[1] + b[1]];
    // alone, the inflated totals are plausible: more rows, as many events
    check_totals(&lied).unwrap();
    let (n, d) = (lied[0] as u64, lied[1] as u64);
    assert_eq!(n, 10_009);
    // every later round the site answers honestly contradicts it
    let s = survivals(&sites, lied);
    let m = rule(check_km_counts(&s.km, n, d));
    assert!(m.contains("day zero"), "{m}");
    let m = rule(check_exit_counts(&s.exits[..4], &s.exits[4..], n, d));
    assert!(m.contains("exits do not sum"), "{m}");
    let (describe, edges, v) = describe();
    rule(check_describe(&v, &describe, &edges, n, SITES));
    // and the honest totals pass the same checks
    let honest = totals_of(&sites);
    check_km_counts(&s.km, honest[0] as u64, d).unwrap();
    check_exit_counts(&s.exits[..4], &s.exits[4..], honest[0] as u64, d).unwrap();
}

#[test]
fn each_count_rule_refuses_its_breach() {
    assert!(rule(check_totals(&[3.0, 4.0])).contains("events exceed rows"));
    assert!(rule(check_totals(&[3.5, 1.0])).contains("whole"));
    assert!(rule(check_totals(&[-2.0, 0.0])).contains("whole"));
    assert!(rule(check_whole_counts(&[1.0, -1.0], "km counts")).contains("km counts"));
    assert!(rule(check_event_days(&[0.0, 2.0, 1.0], 2)).contains("deaths per day"));
    let km = |at_risk: Vec<u64>, events: Vec<u64>| vec![KmCounts { at_risk, events }];
    check_km_counts(&km(vec![5, 4, 2], vec![0, 1, 2]), 5, 3).unwrap();
    assert!(rule(check_km_counts(&km(vec![5, 6], vec![0, 1]), 5, 1)).contains("increase"));
    assert!(rule(check_km_counts(&km(vec![5, 4], vec![2, 0]), 5, 2)).contains("still at risk"));
    assert!(rule(check_km_counts(&km(vec![5, 2], vec![0, 3]), 5, 3)).contains("exceed the number"));
    assert!(rule(check_km_counts(&km(vec![5, 4], vec![0, 1]), 5, 0)).contains("km events"));
    check_exit_counts(&[2.0, 3.0], &[1.0, 3.0], 5, 4).unwrap();
    assert!(rule(check_exit_counts(&[2.0, 3.0], &[3.0, 0.0], 5, 3)).contains("deaths exceed"));
    assert!(rule(check_exit_counts(&[2.0, 3.0], &[1.0, 0.0], 5, 2)).contains("deaths do not"));
    assert!(rule(check_exit_counts(&[2.0, 2.5], &[1.0, 0.0], 5, 1)).contains("exits per bin"));
}

#[test]
fn each_regression_rule_refuses_its_breach() {
    let sites = rows(|_, _| vec![]);
    let s = survivals(&sites, totals_of(&sites));
    let (n, d) = (s.totals[0] as u64, s.totals[1] as u64);
    let honest = cox_sums(Ties::Efron, vec![0.03], &s.grid);
    let mut c = honest.clone();
    c.s0[1] = c.s0[0] + 1.0;
    assert!(rule(check_cox_sums(&c, &[0.03], n, d, SITES)).contains("shrink"));
    let mut c = honest.clone();
    c.tied_s0[0] = c.s0[0] * 2.0;
    assert!(rule(check_cox_sums(&c, &[0.03], n, d, SITES)).contains("tied-event"));
    let mut c = honest.clone();
    c.s0[2] = -1.0;
    assert!(rule(check_cox_sums(&c, &[0.03], n, d, SITES)).contains("not positive"));
    let mut c = honest.clone();
    c.events[0] += 10.0;
    assert!(rule(check_cox_sums(&c, &[0.03], n, d, SITES)).contains("cox events"));
    let mut c = cox_sums(Ties::Breslow, vec![0.0], &s.grid);
    c.s0[0] += 10_000.0;
    assert!(rule(check_cox_sums(&c, &[0.0], n, d, SITES)).contains("exceed rows"));
    c.s0[0] -= 9_999.5;
    assert!(rule(check_cox_sums(&c, &[0.0], n, d, SITES)).contains("whole"));

    let glm = glm();
    let v = summed(
        &rows(|age, _| vec![age]),
        &glm,
        &Computation::GlmStep {
            beta: vec![0.0, 0.0],
        },
    );
    let honest = unflatten_glm(&v, 2).unwrap();
    assert!(rule(check_glm_step(&honest, n + 10_000, SITES)).contains("glm n"));
    let mut g = honest.clone();
    g.deviance = -1.0;
    assert!(rule(check_glm_step(&g, n, SITES)).contains("deviance"));
    let mut g = honest.clone();
    g.information[3] = -1e-3;
    assert!(rule(check_glm_step(&g, n, SITES)).contains("diagonal"));

    let (describe, edges, v) = describe();
    let mut w = v.clone();
    w[2] = w[1] * w[1] / w[0] - 1.0; // Σx² below (Σx)²/n
    assert!(rule(check_describe(&w, &describe, &edges, n, SITES)).contains("sum of squares"));
    let mut w = v.clone();
    w[4] += 1.0; // one histogram count more
    assert!(rule(check_describe(&w, &describe, &edges, n, SITES)).contains("histogram"));
    let mut w = v.clone();
    w[8] += 1.0; // one stratum count more
    assert!(rule(check_describe(&w, &describe, &edges, n, SITES)).contains("strata"));
}
