//! The tables `oncofed analyze` prints for people (`--json` prints the result
//! itself): one function per result kind, kept apart from the command's
//! options and request building in `analyze.rs`.

use oncofed_analysis::AnalysisResult;
use oncofed_analysis::cif::CifResult;
use oncofed_analysis::result::{
    Cell, DescribeResult, KmCurve, KmResult, MedianStatus, RegressionResult,
};
use oncofed_protocol::analysis::Endpoint;

fn show(c: &Cell) -> String {
    c.map_or_else(|| "<suppressed>".into(), |n| n.to_string())
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

/// A released result for people.
pub fn render(result: &AnalysisResult) -> String {
    let run = result.run();
    let mut out = format!(
        "{} sites, {} rows, {} events, {} secure-aggregation rounds{}{}\n",
        run.sites,
        run.rows,
        run.events,
        run.rounds,
        run.epsilon
            .map_or(String::new(), |e| format!(", ε = {e} spent")),
        match (run.admission_seconds, run.aggregation_seconds) {
            (Some(a), Some(r)) => format!(" (admission {a:.1} s, rounds {r:.1} s)"),
            _ => String::new(),
        }
    );
    if !run.sat_out.is_empty() {
        let sites: Vec<String> = run
            .sat_out
            .iter()
            .map(|s| format!("{} ({})", s.site, s.reason))
            .collect();
        out.push_str(&format!("sat out: {}\n", sites.join("; ")));
    }
    if !run.left.is_empty() {
        let sites: Vec<String> = run
            .left
            .iter()
            .map(|s| {
                format!(
                    "{} at round {} ({}), {} ({}); the result is over the other sites",
                    s.site,
                    s.round,
                    s.step,
                    s.at.format("%Y-%m-%d %H:%M:%S UTC"),
                    s.reason
                )
            })
            .collect();
        out.push_str(&format!("left: {}\n", sites.join("; ")));
    }
    match run.endpoint {
        Some(Endpoint::ProgressionFree) => {
            out.push_str("endpoint: progression-free survival (progression, recurrence or death)\n")
        }
        Some(Endpoint::RecurrenceFree) => {
            out.push_str("endpoint: recurrence-free survival (recurrence or death)\n")
        }
        _ => {}
    }
    if let Some(origin) = &run.origin {
        out.push_str(&format!(
            "time origin: the first {origin} on or after the index diagnosis\n"
        ));
    }
    match &run.time_bins {
        Some(t) if t.exact => out.push_str("times: exact days (approved for this project)\n"),
        Some(t) => out.push_str(&format!(
            "times: {} bins of at least {} exits each, the narrowest {} days (estimates are exact for the binned times; bin edges in --json)\n",
            t.bins, t.min_exits, t.narrowest_days
        )),
        None => {}
    }
    match result {
        AnalysisResult::Cox(r) | AnalysisResult::FineGray(r) | AnalysisResult::Glm(r) => {
            out.push_str(&regression(r))
        }
        AnalysisResult::Km(r) => out.push_str(&km(r)),
        AnalysisResult::Cif(r) => out.push_str(&cif_table(r)),
        AnalysisResult::Describe(r) => out.push_str(&describe(r)),
        AnalysisResult::CellClassifier(r) => out.push_str(&cell_classifier(r)),
    }
    out
}

/// A cell classifier's release: the model, its rounds and its evaluation per site.
pub fn cell_classifier(r: &oncofed_analysis::driver::cells::CellClassifierResult) -> String {
    let mut out = format!(
        "model {} ({}), id {}\n{} training, {} validation, {} held-out cells; best round {} of {}{}\n",
        r.model.name,
        r.model.algorithm,
        r.model.id,
        r.cells.training,
        r.cells.validation,
        r.cells.test,
        r.best_round,
        r.history.iter().filter(|h| h.trained).count(),
        if r.stopped_early {
            " (stopped early)"
        } else {
            ""
        }
    );
    if let Some((last, trained)) = r.round_seconds.split_last()
        && !trained.is_empty()
    {
        out.push_str(&format!(
            "rounds at the hub: {:.2} s each on average while training, {:.2} s for the validation-only round (secure aggregation and one forward pass)\n",
            trained.iter().sum::<f64>() / trained.len() as f64,
            last
        ));
    }
    if let Some(dp) = &r.model.dp {
        out.push_str(&format!(
            "client-level DP: clip {}, noise multiplier {:.3}, ({:.3}, {:e})-DP\n",
            dp.clip_norm, dp.noise_multiplier, dp.epsilon, dp.delta
        ));
    }
    out.push_str(&format!(
        "{:<12} {:>8} {:>9} {:>9} {:>7}\n",
        "site", "cells", "accuracy", "macro-F1", "ECE"
    ));
    for s in &r.sites {
        match &s.evaluation {
            Some(e) => out.push_str(&format!(
                "{:<12} {:>8} {:>9.3} {:>9.3} {:>7.3}\n",
                s.site, e.n, e.accuracy, e.macro_f1, e.ece
            )),
            None => out.push_str(&format!(
                "{:<12} {}\n",
                s.site,
                s.note.as_deref().unwrap_or("withheld")
            )),
        }
    }
    let p = &r.pooled;
    out.push_str(&format!(
        "{:<12} {:>8} {:>9.3} {:>9.3} {:>7.3}\n",
        "all sites", p.n, p.accuracy, p.macro_f1, p.ece
    ));
    out
}

fn regression(r: &RegressionResult) -> String {
    let ratio = if r.model.starts_with("cox") {
        "HR"
    } else if r.model.starts_with("fine-gray") {
        // the subdistribution hazard ratio
        "SHR"
    } else if r.model.contains("poisson") {
        "RR"
    } else {
        "OR"
    };
    let mut out = format!(
        "{}: log-likelihood {:.4}, {} Newton iterations\n{:<24} {:>10} {:>9} {:>9} {:>8} {:>10}  95% CI ({ratio})\n",
        r.model, r.loglik, r.iterations, "term", "coef", ratio, "SE", "z", "p"
    );
    for (term, e) in r.terms.iter().zip(&r.estimates) {
        out.push_str(&format!(
            "{term:<24} {:>10.5} {:>9.4} {:>9.5} {:>8.3} {:>10.3e}  {:.4} – {:.4}\n",
            e.coef,
            e.exp_coef,
            e.std_error,
            e.z,
            e.p_value,
            e.ci_lower.exp(),
            e.ci_upper.exp()
        ));
    }
    if !r.references.is_empty() {
        out.push_str(&format!(
            "reference level{}: {}\n",
            if r.references.len() > 1 { "s" } else { "" },
            r.references.join(", ")
        ));
    }
    out
}

fn km(r: &KmResult) -> String {
    let mut out = String::new();
    for c in &r.curves {
        out.push_str(&format!(
            "{}: n {}, events {}, {}\n  {:>6} {:>8} {:>17} {:>8} {:>9}\n",
            c.label,
            show(&c.n),
            show(&c.events),
            median(c),
            "day",
            "S(t)",
            "95% CI",
            "at risk",
            "censored"
        ));
        for s in &c.steps {
            out.push_str(&format!(
                "  {:>6.0} {:>8.4} {:>8.4}–{:<8.4} {:>8} {:>9}\n",
                s.time,
                s.survival,
                s.ci_lower,
                s.ci_upper,
                show(&s.at_risk),
                show(&s.censored)
            ));
        }
    }
    if r.run.epsilon.is_some() {
        out.push_str(
            "numbers at risk and censored are withheld in a differentially private release (n and events are noised)\n",
        );
    }
    if let Some(t) = &r.logrank {
        out.push_str(&format!(
            "log-rank: chi² {:.4}, df {}, p {:.4e}\n",
            t.chi2, t.df, t.p_value
        ));
    }
    out
}

/// "median 310 days (95% CI 285 – 363)", with "not reached" or "withheld
/// (<rule>)" for a median or bound without a value ("-" in results released
/// before the status existed).
fn median(c: &KmCurve) -> String {
    let (lower, upper) = match &c.median_ci_status {
        Some((l, u)) => (Some(l), Some(u)),
        None => (None, None),
    };
    if let Some(MedianStatus::Withheld { rule }) = &c.median_status
        && lower == c.median_status.as_ref()
        && upper == lower
    {
        return format!("median withheld ({rule}), its 95% CI with it");
    }
    let time = |value: Option<f64>, status: Option<&MedianStatus>| match (value, status) {
        (Some(v), _) => format!("{v:.0}"),
        (None, Some(s)) if *s != MedianStatus::Reached => s.to_string(),
        (None, _) => "-".to_string(),
    };
    let median = match (c.median, &c.median_status) {
        (Some(m), _) => format!("{m:.0} days"),
        (None, Some(s)) if *s != MedianStatus::Reached => s.to_string(),
        (None, _) => "- days".to_string(),
    };
    format!(
        "median {median} (95% CI {} – {})",
        time(c.median_ci.0, lower),
        time(c.median_ci.1, upper)
    )
}

fn describe(r: &DescribeResult) -> String {
    let mut out = String::new();
    for v in &r.variables {
        out.push_str(&format!(
            "{}: n {}, mean {}, SD {}",
            v.name,
            show(&v.n),
            opt(v.mean, 3),
            opt(v.sd, 3)
        ));
        if let Some(q) = v.quartiles {
            out.push_str(&format!(
                ", quartiles {:.2} / {:.2} / {:.2}",
                q[0], q[1], q[2]
            ));
        }
        out.push('\n');
        for (i, c) in v.histogram.iter().enumerate() {
            out.push_str(&format!(
                "  [{}, {}{}  {}\n",
                r.edges[i],
                r.edges[i + 1],
                if i + 2 == r.edges.len() { "]" } else { ")" },
                show(c)
            ));
        }
    }
    if let Some((name, zero, one)) = &r.strata {
        out.push_str(&format!(
            "{name}=0: {}   {name}=1: {}\n",
            show(zero),
            show(one)
        ));
    }
    out
}

/// "lower–upper" of a 95% interval, "-" where there is none (incidence 0 or 1).
fn interval(lower: Option<f64>, upper: Option<f64>) -> String {
    match (lower, upper) {
        (Some(l), Some(u)) => format!("{l:>8.4}–{u:<8.4}"),
        _ => format!("{:>8} {:<8}", "-", ""),
    }
}

/// One block per group: n and both event counts, then the released steps
/// with their 95% intervals; Gray's tests at the end when there are groups.
pub fn cif_table(r: &CifResult) -> String {
    let mut out = String::new();
    for c in &r.curves {
        out.push_str(&format!(
            "{}: n {}, events {}, competing deaths {}\n  {:>6} {:>10} {:>17} {:>9} {:>10} {:>17} {:>8}\n",
            c.label,
            show(&c.n),
            show(&c.events),
            show(&c.competing),
            "day",
            "incidence",
            "95% CI",
            "SE",
            "competing",
            "95% CI",
            "at risk"
        ));
        for s in &c.steps {
            out.push_str(&format!(
                "  {:>6.0} {:>10.4} {} {:>9.4} {:>10.4} {} {:>8}\n",
                s.time,
                s.incidence,
                interval(s.ci_lower, s.ci_upper),
                s.std_error,
                s.competing_incidence,
                interval(s.competing_ci_lower, s.competing_ci_upper),
                show(&s.at_risk)
            ));
        }
    }
    if r.run.epsilon.is_some() {
        out.push_str(
            "numbers at risk are withheld in a differentially private release (n and event counts are noised)\n",
        );
    }
    for (what, test) in [
        ("event of interest", &r.gray_test),
        ("competing event", &r.gray_test_competing),
    ] {
        if let Some(t) = test {
            out.push_str(&format!(
                "Gray's test ({what}): chi² {:.4}, df {}, p {:.4e}\n",
                t.chi2, t.df, t.p_value
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn km_result(curves: Vec<KmCurve>, sat_out: serde_json::Value) -> AnalysisResult {
        let run = serde_json::json!({
            "sites": 3, "rows": 120, "events": 60, "rounds": 2, "sat_out": sat_out,
        });
        AnalysisResult::Km(KmResult {
            run: serde_json::from_value(run).unwrap(),
            interval_days: 30,
            curves,
            logrank: None,
        })
    }

    fn curve(
        median: Option<f64>,
        ci: (Option<f64>, Option<f64>),
        status: Option<(MedianStatus, MedianStatus, MedianStatus)>,
    ) -> KmCurve {
        KmCurve {
            label: "all".into(),
            n: Some(40),
            events: Some(20),
            median,
            median_ci: ci,
            median_status: status.as_ref().map(|s| s.0.clone()),
            median_ci_status: status.map(|s| (s.1, s.2)),
            steps: Vec::new(),
        }
    }

    #[test]
    fn the_table_names_a_site_that_left_with_round_step_and_time() {
        let mut result = km_result(vec![curve(None, (None, None), None)], serde_json::json!([]));
        result.run_mut().left = vec![
            serde_json::from_value(serde_json::json!({
                "site": "site-4", "round": 0, "step": "mask",
                "at": "2026-12-03T20:00:00Z", "reason": "no answer before the step timeout",
            }))
            .unwrap(),
        ];
        let text = render(&result);
        assert!(
            text.contains(
                "left: site-4 at round 0 (mask), 2026-12-03 20:00:00 UTC (no answer before the step timeout); the result is over the other sites\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_table_tells_not_reached_from_withheld_and_names_sites_that_sat_out() {
        use MedianStatus::{NotReached, Reached};
        let after = MedianStatus::Withheld {
            rule: "fewer than 3 events after the median".into(),
        };
        let text = render(&km_result(
            vec![
                curve(
                    Some(310.0),
                    (Some(285.0), None),
                    Some((Reached, Reached, NotReached)),
                ),
                curve(
                    None,
                    (None, None),
                    Some((NotReached, NotReached, NotReached)),
                ),
                curve(
                    None,
                    (None, None),
                    Some((after.clone(), after.clone(), after)),
                ),
                curve(None, (None, None), None),
            ],
            serde_json::json!([{"site": "site-3", "reason": "fewer than 10 complete rows at this site"}]),
        ));
        assert!(
            text.contains("sat out: site-3 (fewer than 10 complete rows at this site)\n"),
            "{text}"
        );
        assert!(
            text.contains("median 310 days (95% CI 285 – not reached)"),
            "{text}"
        );
        assert!(
            text.contains("median not reached (95% CI not reached – not reached)"),
            "{text}"
        );
        assert!(
            text.contains(
                "median withheld (fewer than 3 events after the median), its 95% CI with it"
            ),
            "{text}"
        );
        // a result released before the status existed
        assert!(text.contains("median - days (95% CI - – -)"), "{text}");
        let none = render(&km_result(Vec::new(), serde_json::json!([])));
        assert!(!none.contains("sat out"), "{none}");
    }

    #[test]
    fn the_cif_table_shows_intervals_and_grays_tests() {
        use oncofed_analysis::cif::{CifCurve, CifStep, GrayTest};
        let step = |time: f64, f1: f64, ci: Option<(f64, f64)>| CifStep {
            time,
            incidence: f1,
            std_error: 0.02,
            ci_lower: ci.map(|c| c.0),
            ci_upper: ci.map(|c| c.1),
            competing_incidence: 0.1,
            competing_std_error: 0.01,
            competing_ci_lower: Some(0.08),
            competing_ci_upper: Some(0.125),
            at_risk: Some(80),
        };
        let mut result = CifResult {
            run: serde_json::from_value(serde_json::json!({
                "sites": 3, "rows": 120, "events": 60, "rounds": 2, "sat_out": [],
            }))
            .unwrap(),
            interval_days: 90,
            curves: vec![CifCurve {
                label: "female=1".into(),
                n: Some(60),
                events: Some(30),
                competing: Some(10),
                steps: vec![step(0.0, 0.0, None), step(90.0, 0.25, Some((0.2118, 0.29)))],
            }],
            gray_test: Some(GrayTest {
                chi2: 9.5888,
                df: 2,
                p_value: 8.276e-3,
            }),
            gray_test_competing: None,
        };
        let text = render(&AnalysisResult::Cif(result.clone()));
        assert!(text.contains("0.2500   0.2118–0.2900"), "{text}");
        assert!(text.contains("0.1000   0.0800–0.1250"), "{text}");
        assert!(text.contains("0.0000        -"), "{text}");
        assert!(
            text.contains("Gray's test (event of interest): chi² 9.5888, df 2, p 8.2760e-3"),
            "{text}"
        );
        assert!(!text.contains("competing event)"), "{text}");
        result.gray_test = None;
        assert!(!cif_table(&result).contains("Gray"));
        // --json carries the test and the bounds
        let json = serde_json::to_value(AnalysisResult::Cif(result)).unwrap();
        let json = json.to_string();
        assert!(json.contains("\"ci_lower\":0.2118"), "{json}");
        assert!(!json.contains("gray_test"), "{json}");
    }

    #[test]
    fn a_fine_gray_table_shows_subdistribution_hazard_ratios() {
        let result: AnalysisResult = serde_json::from_value(serde_json::json!({
            "type": "fine-gray",
            "run": {"sites": 3, "rows": 600, "events": 441, "rounds": 14, "sat_out": []},
            "model": "fine-gray (subdistribution hazards, crr variance)",
            "terms": ["female"],
            "estimates": [{"coef": 0.4276, "exp_coef": 1.5335, "std_error": 0.1234, "z": 3.4656,
                "p_value": 5.29e-4, "ci_lower": 0.1858, "ci_upper": 0.6694}],
            "loglik": -1520.25,
            "iterations": 4
        }))
        .unwrap();
        let text = render(&result);
        assert!(text.contains("95% CI (SHR)"), "{text}");
        assert!(
            text.contains("fine-gray (subdistribution hazards, crr variance)"),
            "{text}"
        );
        assert!(text.contains("female"), "{text}");
    }
}
