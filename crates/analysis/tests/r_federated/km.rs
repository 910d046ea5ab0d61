//! Kaplan–Meier and log-rank against R's `survfit` and `survdiff` on the same
//! binned rows: `n`, `at_risk`, censored counts, S(t), CIs, medians, χ².

use super::*;

/// R's KM table of one group.
struct RCurve {
    time: Vec<f64>,
    n_risk: Vec<f64>,
    n_event: Vec<f64>,
    n_censor: Vec<f64>,
    surv: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
}

impl RCurve {
    fn new(v: &Value) -> Self {
        RCurve {
            time: floats(&v["time"]),
            n_risk: floats(&v["n_risk"]),
            n_event: floats(&v["n_event"]),
            n_censor: floats(&v["n_censor"]),
            surv: floats(&v["surv"]),
            lower: floats(&v["lower"]),
            upper: floats(&v["upper"]),
        }
    }

    /// Rows with (binned) time ≥ `t`: R's number at risk at its first time ≥ t.
    fn at_risk(&self, t: f64) -> u64 {
        let i = self.time.partition_point(|&x| x < t);
        self.n_risk.get(i).map_or(0, |&n| n as u64)
    }

    /// Rows censored in `[a, b)`.
    fn censored(&self, a: f64, b: f64) -> u64 {
        self.sum(&self.n_censor, |x| x >= a && x < b)
    }

    /// Deaths in `(a, b]`.
    fn deaths(&self, a: f64, b: f64) -> u64 {
        self.sum(&self.n_event, |x| x > a && x <= b)
    }

    fn sum(&self, counts: &[f64], within: impl Fn(f64) -> bool) -> u64 {
        self.time
            .iter()
            .zip(counts)
            .filter(|(x, _)| within(**x))
            .map(|(_, n)| *n as u64)
            .sum()
    }

    /// (S, lower, upper) at `t`: at R's last time ≤ t, (1, 1, 1) before the first.
    fn at(&self, t: f64) -> (f64, f64, f64) {
        match self.time.partition_point(|&x| x <= t) {
            0 => (1.0, 1.0, 1.0),
            i => (self.surv[i - 1], self.lower[i - 1], self.upper[i - 1]),
        }
    }

    /// The released step times by the release rule (a multiple of `interval`
    /// with at least `min_events` deaths since the last released time),
    /// worked out from R's table; day 0 first.
    fn release_times(&self, interval: f64, min_events: u64) -> Vec<f64> {
        let last_death = self
            .time
            .iter()
            .zip(&self.n_event)
            .filter(|(_, d)| **d > 0.0)
            .map(|(x, _)| *x)
            .fold(0.0, f64::max);
        let (mut out, mut previous, mut t) = (vec![0.0], 0.0, interval);
        while t <= last_death + interval {
            if self.deaths(previous, t) >= min_events.max(1) {
                out.push(t);
                previous = t;
            }
            t += interval;
        }
        out
    }
}

/// Compares a KM run grouped by `column` with survfit per level and survdiff.
pub(super) fn km_vs_r(t: &mut Table, data: &str, sites: &[Vec<Row>], column: &str, km: &KmResult) {
    let file = TempFile::csv(&format!("r-federated-km-{data}"));
    write_rows(&file, &[column], sites);
    let peer = r(&["km", &file.0.display().to_string(), &edges(&km.run), column]);
    let limits = limits();
    let min = limits.min_cell;
    let curves = peer["curves"].as_array().unwrap();
    t.section(&format!(
        "{data}: KM by {column}, {} groups, steps every {} days",
        curves.len(),
        km.interval_days
    ));
    let bins = km.run.time_bins.as_ref().unwrap();
    t.note(&format!(
        "{} rows, {} events; {} time bins (narrowest {} days, fewest exits {}); {}",
        km.run.rows, km.run.events, bins.bins, bins.narrowest_days, bins.min_exits, peer["peer"]
    ));
    t.same("curves", km.curves.len(), curves.len());
    let interval = f64::from(km.interval_days);
    let (mut steps, mut counts) = (0usize, 0usize);
    for (curve, rc) in km.curves.iter().zip(curves) {
        let level = rc["level"].as_f64().unwrap();
        let label = curve.label.clone();
        t.same(
            &format!("{label}: level"),
            label.rsplit_once('=').map(|(_, l)| l.to_string()),
            Some(level.to_string()),
        );
        let r = RCurve::new(rc);
        let n = count(&rc["n"]);
        t.same(&format!("{label}: n"), curve.n, cell(n, min));
        let events = r.sum(&r.n_event, |_| true);
        t.same(&format!("{label}: events"), curve.events, cell(events, min));
        let times: Vec<f64> = curve.steps.iter().map(|s| s.time).collect();
        t.same(
            &format!("{label}: released step times"),
            &times,
            &r.release_times(interval, limits.km_min_events),
        );
        let first = &curve.steps[0];
        t.same(
            &format!("{label}: at risk at day 0"),
            first.at_risk,
            cell(n, min),
        );
        t.same(
            &format!("{label}: S, CI at day 0"),
            (first.survival, first.ci_lower, first.ci_upper),
            (1.0, 1.0, 1.0),
        );
        counts += 4;
        let nan = f64::NAN;
        let (mut worst_s, mut worst_ci) = ((-1.0f64, nan, nan), (-1.0f64, nan, nan));
        for w in curve.steps.windows(2) {
            let (previous, step) = (&w[0], &w[1]);
            let day = step.time;
            t.same(
                &format!("{label}: at risk at day {day}"),
                step.at_risk,
                cell(r.at_risk(day), min),
            );
            t.same(
                &format!("{label}: censored in [{}, {day})", previous.time),
                step.censored,
                cell(r.censored(previous.time, day), min),
            );
            counts += 2;
            steps += 1;
            let (s, lower, upper) = r.at(day);
            let ds = (step.survival - s).abs();
            t.record("S(t)", ds);
            if ds >= worst_s.0 {
                worst_s = (ds, step.survival, s);
            }
            if ds > S_ABS || ds.is_nan() {
                t.close(
                    "S(t)",
                    &format!("{label}: S({day})"),
                    step.survival,
                    s,
                    ds,
                    S_ABS,
                );
            }
            for (ours, theirs) in [(step.ci_lower, lower), (step.ci_upper, upper)] {
                // where everyone has had the event (S = 0) the log-log band is
                // undefined: R gives NA, OncoFed the degenerate band 0 – 0
                if s == 0.0 && step.survival == 0.0 && theirs.is_nan() && ours == 0.0 {
                    continue;
                }
                let d = (ours - theirs).abs();
                t.record("CI", d);
                if d >= worst_ci.0 {
                    worst_ci = (d, ours, theirs);
                }
                if d > CI_ABS || d.is_nan() {
                    t.close(
                        "CI",
                        &format!("{label}: CI at {day}"),
                        ours,
                        theirs,
                        d,
                        CI_ABS,
                    );
                }
            }
        }
        t.close(
            "S(t)",
            &format!("{label}: S(t), worst of {} steps", curve.steps.len() - 1),
            worst_s.1,
            worst_s.2,
            worst_s.0,
            S_ABS,
        );
        t.close(
            "CI",
            &format!("{label}: log-log CI, worst bound"),
            worst_ci.1,
            worst_ci.2,
            worst_ci.0,
            CI_ABS,
        );
        // the median and its CI: where released, R's (on the same binned times)
        let released = [
            (
                "median",
                curve.median,
                curve.median_status.clone(),
                "median",
            ),
            (
                "median CI lower",
                curve.median_ci.0,
                curve.median_ci_status.clone().map(|s| s.0),
                "median_lower",
            ),
            (
                "median CI upper",
                curve.median_ci.1,
                curve.median_ci_status.clone().map(|s| s.1),
                "median_upper",
            ),
        ];
        for (what, ours, status, key) in released {
            let theirs = rc[key].as_f64();
            match status.expect("a released status") {
                MedianStatus::Reached => {
                    t.same(&format!("{label}: {what}"), ours, theirs);
                    counts += 1;
                }
                MedianStatus::NotReached => {
                    t.same(&format!("{label}: {what} not reached"), theirs, None);
                    counts += 1;
                }
                MedianStatus::Withheld { rule } => t.note(&format!(
                    "{label}: {what} withheld ({rule}); R: {}",
                    theirs.map_or("NA".into(), |x| x.to_string())
                )),
            }
        }
        t.note(&format!(
            "{label}: n {:?}, events {:?}, median {:?} ({}), {} released steps",
            curve.n,
            curve.events,
            curve.median,
            curve.median_status.as_ref().unwrap(),
            curve.steps.len() - 1
        ));
    }
    t.note(&format!(
        "{counts} released counts and medians compared exactly over {steps} steps"
    ));
    let lr = km.logrank.as_ref().expect("a k-group log-rank");
    let want = &peer["logrank"];
    let chi2 = want["chi2"].as_f64().unwrap();
    t.close(
        "log-rank χ²",
        "log-rank χ² (relative)",
        lr.chi2,
        chi2,
        (lr.chi2 - chi2).abs() / chi2,
        CHI2_REL,
    );
    t.same("log-rank df", lr.df as u64, count(&want["df"]));
    let p = want["p"].as_f64().unwrap();
    t.close(
        "log-rank p",
        "log-rank p",
        lr.p_value,
        p,
        (lr.p_value - p).abs(),
        P_ABS,
    );
    let (obs, exp) = (floats(&want["observed"]), floats(&want["expected"]));
    t.same("log-rank observed", lr.observed.clone(), obs);
    for (g, (ours, theirs)) in lr.expected.iter().zip(&exp).enumerate() {
        t.close(
            "log-rank expected",
            &format!("log-rank expected, group {g}"),
            *ours,
            *theirs,
            (ours - theirs).abs(),
            CHI2_REL * theirs.max(1.0),
        );
    }
}
