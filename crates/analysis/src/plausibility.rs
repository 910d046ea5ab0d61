//! Plausibility checks on the hub's summed vectors (issue 11, item 5: a site
//! added 10,000 to its `rows` and the sum was accepted).
//!
//! Secure aggregation hides each site's vector, so the hub cannot check a site,
//! only the sum. These pure functions refuse sums that no federation of honest
//! sites can produce: counts that are not whole or are negative, more deaths
//! than people at risk, risk sets that grow with time, and, above all, rounds
//! that contradict each other. The `Totals` round fixes `rows` and `events`;
//! every later count round (Kaplan–Meier numbers at risk on day zero, exits per
//! time bin, GLM `n`, describe `n` and strata) must reproduce them, so a site
//! that inflates one round alone is caught by the next.
//!
//! Sums arrive through the fixed-point codec, so a real component may be off by
//! up to `sites · 2⁻⁴⁸` ([`CODEC_RESOLUTION`]); counts must be within
//! [`COUNT_TOLERANCE`] of a whole number. Real-valued sums also get a relative
//! slack of 1e-9 for the sites' own floating-point summation.
//!
//! Every refusal is [`AnalysisError::Federation`] with a text naming the rule
//! ("implausible sums: …") and never a value, so it can be logged and shown.
//!
//! # What these checks cannot catch
//!
//! A site that lies *consistently*, in every round, within plausible ranges:
//! e.g. one that invents 10,000 censored rows and reports them in `Totals`, in
//! every Kaplan–Meier count and every exit bin, or shifts its covariates. The
//! sum is then exactly what an honest federation with those extra patients
//! would send. Catching that needs each site to prove its input lies in a range
//! (cryptographic range proofs such as Prio or ACORN), which OncoFed does not
//! use; the threat model assumes sites hold their own data honestly and only
//! guards against inconsistent, impossible or out-of-range sums. The checks
//! also see only the sum, so they cannot say which site lied.

use crate::AnalysisError;
use crate::driver::CODEC_RESOLUTION;
use oncofed_protocol::analysis::Analysis;
use oncofed_stats::{CoxSiteSums, GlmAggregate, GlmStart, KmCounts, Ties};

/// Largest distance from a whole number a summed count may have (the codec's
/// rounding over at most 64 sites is far below it).
pub const COUNT_TOLERANCE: f64 = 1e-3;

/// Relative slack for real-valued sums: each site sums its rows in `f64`.
const RELATIVE: f64 = 1e-9;

fn refuse(rule: &str) -> AnalysisError {
    AnalysisError::Federation(format!("implausible sums: {rule}"))
}

/// The codec error of a sum over `sites` sites, plus the relative slack at `scale`.
fn slack(sites: usize, scale: f64) -> f64 {
    sites.max(1) as f64 * CODEC_RESOLUTION + RELATIVE * scale.abs()
}

/// `x < bound`, with NaN counted as a breach.
fn below(x: f64, bound: f64) -> bool {
    x.is_nan() || x < bound
}

/// A summed count as a whole number, or the refusal naming `what`.
fn count(x: f64, what: &str) -> Result<u64, AnalysisError> {
    let r = x.round();
    if !x.is_finite() || (x - r).abs() > COUNT_TOLERANCE || r < 0.0 {
        return Err(refuse(&format!(
            "{what} are not whole non-negative numbers"
        )));
    }
    Ok(r as u64)
}

fn counts(v: &[f64], what: &str) -> Result<Vec<u64>, AnalysisError> {
    v.iter().map(|&x| count(x, what)).collect()
}

/// The sum of counts, wide enough that a malicious sum cannot overflow it.
fn total(v: &[u64]) -> u128 {
    v.iter().map(|&x| u128::from(x)).sum()
}

/// `Totals` (`[rows, events]`): both whole, `rows ≥ 0`, `events ≤ rows`. Every
/// later round is checked against these two numbers, so they come first.
pub fn check_totals(totals: &[f64]) -> Result<(), AnalysisError> {
    let [rows, events] = totals else {
        return Err(AnalysisError::Protocol(
            "totals vector has the wrong length",
        ));
    };
    let rows = count(*rows, "rows")?;
    if count(*events, "events")? > rows {
        return Err(refuse("events exceed rows"));
    }
    Ok(())
}

/// Any summed vector of counts (`EventDays`, the raw `KmCounts` vector before
/// [`unflatten_km`](crate::site::unflatten_km), which rounds and clamps
/// negatives to zero and so would hide them): every component whole and ≥ 0.
pub fn check_whole_counts(v: &[f64], what: &str) -> Result<(), AnalysisError> {
    counts(v, what).map(|_| ())
}

/// `EventDays` (deaths per day 0..=horizon): whole, ≥ 0, and summing to the
/// `Totals` events, since every row's time is capped at the horizon.
pub fn check_event_days(days: &[f64], events: u64) -> Result<(), AnalysisError> {
    if total(&counts(days, "deaths per day")?) != u128::from(events) {
        return Err(refuse(
            "deaths per day do not sum to the events of the totals",
        ));
    }
    Ok(())
}

/// Kaplan–Meier counts per group on an ascending grid that starts at day 0
/// (as the driver's grid always does). Per group: numbers at risk
/// non-increasing, `events[j] ≤ at_risk[j]`, and `at_risk[j] − at_risk[j+1] ≥
/// events[j]` (who died at `t_j` is gone at `t_{j+1}`). Across groups: the
/// day-0 numbers at risk sum to the `Totals` rows (this is the cross-round
/// consistency that catches an inflated `rows`), and all events to at most the
/// `Totals` events. Call it after the driver's own check that a grouping
/// variable is 0/1, which refuses a day-0 shortfall with a clearer message
/// when the data, not a site, is at fault.
pub fn check_km_counts(groups: &[KmCounts], rows: u64, events: u64) -> Result<(), AnalysisError> {
    let (mut day0, mut died) = (0u128, 0u128);
    for g in groups {
        let (n, d) = (&g.at_risk, &g.events);
        if n.len() != d.len() {
            return Err(AnalysisError::Protocol("km counts of unequal length"));
        }
        for j in 0..n.len() {
            if d[j] > n[j] {
                return Err(refuse("events exceed the number at risk"));
            }
            if let Some(&next) = n.get(j + 1) {
                if next > n[j] {
                    return Err(refuse("numbers at risk increase along the grid"));
                }
                if n[j] - next < d[j] {
                    return Err(refuse("rows who died are still at risk afterwards"));
                }
            }
        }
        day0 += u128::from(n.first().copied().unwrap_or(0));
        died += total(d);
    }
    if day0 != u128::from(rows) {
        return Err(refuse(
            "numbers at risk on day zero differ from the rows of the totals",
        ));
    }
    if died > u128::from(events) {
        return Err(refuse("km events exceed the events of the totals"));
    }
    Ok(())
}

/// Exit counts per time bin (`[exits per bin, deaths per bin]`, split by the
/// caller): all whole and ≥ 0, `deaths ≤ exits` in each bin, exits summing to
/// the `Totals` rows (every row leaves follow-up in exactly one bin) and deaths
/// to the `Totals` events.
pub fn check_exit_counts(
    exits: &[f64],
    deaths: &[f64],
    rows: u64,
    events: u64,
) -> Result<(), AnalysisError> {
    if exits.len() != deaths.len() {
        return Err(AnalysisError::Protocol("exit counts of unequal length"));
    }
    let exits = counts(exits, "exits per bin")?;
    let deaths = counts(deaths, "deaths per bin")?;
    if exits.iter().zip(&deaths).any(|(e, d)| d > e) {
        return Err(refuse("deaths exceed exits in a bin"));
    }
    if total(&exits) != u128::from(rows) {
        return Err(refuse("exits do not sum to the rows of the totals"));
    }
    if total(&deaths) != u128::from(events) {
        return Err(refuse("deaths do not sum to the events of the totals"));
    }
    Ok(())
}

/// Cox risk-set sums (Breslow or Efron) at `beta` from `sites` sites: events per
/// grid point whole, ≥ 0 and at most the `Totals` events in all; `s0 > 0` where
/// there are events, `s0` non-increasing and dropping by at least the tied
/// events' weight `tied_s0` (risk sets are nested, `exp(xβ) > 0`), `0 ≤ tied_s0
/// ≤ s0`. At `β = 0` every weight is 1, so `s0` counts the risk set: whole,
/// `s0[0] ≤ rows`, and it must pass the Kaplan–Meier rules against `events`.
/// (An honest `s0` below the codec's resolution, from an extreme `xβ`, is
/// refused too: the partial likelihood would divide by zero anyway.)
pub fn check_cox_sums(
    sums: &CoxSiteSums,
    beta: &[f64],
    rows: u64,
    events: u64,
    sites: usize,
) -> Result<(), AnalysisError> {
    let t = sums.s0.len();
    let efron = sums.ties == Ties::Efron;
    if sums.events.len() != t || (efron && sums.tied_s0.len() != t) {
        return Err(AnalysisError::Protocol("cox sums of unequal length"));
    }
    let d = counts(&sums.events, "cox events")?;
    if total(&d) > u128::from(events) {
        return Err(refuse("cox events exceed the events of the totals"));
    }
    let s0 = &sums.s0;
    let tied = |j: usize| if efron { sums.tied_s0[j] } else { 0.0 };
    for j in 0..t {
        let tol = slack(sites, s0[j]);
        if below(s0[j], -tol) || (d[j] > 0 && below(s0[j], f64::MIN_POSITIVE)) {
            return Err(refuse(
                "risk-set sums are not positive where there are events",
            ));
        }
        if efron && (below(tied(j), -tol) || below(s0[j] + tol, tied(j))) {
            return Err(refuse("tied-event sums exceed the risk-set sums"));
        }
        if let Some(&next) = s0.get(j + 1)
            && below(s0[j] - next + 3.0 * tol, tied(j))
        {
            return Err(refuse("risk-set sums do not shrink along the grid"));
        }
    }
    if beta.iter().all(|&b| b == 0.0) {
        let n = counts(s0, "risk-set sums at zero coefficients")?;
        if n.first().is_some_and(|&n0| n0 > rows) {
            return Err(refuse("risk-set sums at zero coefficients exceed rows"));
        }
        if efron
            && sums
                .tied_s0
                .iter()
                .zip(&d)
                .any(|(&w, &e)| count(w, "tied").ok() != Some(e))
        {
            return Err(refuse(
                "tied-event sums at zero coefficients differ from events",
            ));
        }
        // the same shape as Kaplan–Meier counts, against a first point ≤ rows
        let km = KmCounts {
            at_risk: n,
            events: d,
        };
        let first = km.at_risk.first().copied().unwrap_or(0);
        check_km_counts(&[km], first, events)?;
    }
    Ok(())
}

/// Kaplan–Meier counts of one group with delayed entry: the numbers at risk
/// are not monotone (rows enter), but the hub knows them from the bins'
/// pooled entries and exits (`expected`, one per grid point), so each must
/// equal its expected value, and `events[j] ≤ at_risk[j]`.
pub fn check_entered_counts(km: &KmCounts, expected: &[u64]) -> Result<(), AnalysisError> {
    if km.at_risk.len() != expected.len() || km.events.len() != expected.len() {
        return Err(AnalysisError::Protocol("km counts of unequal length"));
    }
    if km.at_risk != expected {
        return Err(refuse(
            "numbers at risk differ from the bins' entries and exits",
        ));
    }
    if km.events.iter().zip(&km.at_risk).any(|(d, n)| d > n) {
        return Err(refuse("events exceed the number at risk"));
    }
    Ok(())
}

/// The sums of one stratum (grid points `from..to`) as their own sums.
fn stratum_sums(sums: &CoxSiteSums, from: usize, to: usize) -> CoxSiteSums {
    let p = sums.p;
    let efron = sums.ties == Ties::Efron;
    let part = |v: &[f64], w: usize| v.get(from * w..to * w).unwrap_or_default().to_vec();
    CoxSiteSums {
        p,
        ties: sums.ties,
        events: part(&sums.events, 1),
        s0: part(&sums.s0, 1),
        s1: part(&sums.s1, p),
        s2: part(&sums.s2, p * p),
        tied_s0: if efron {
            part(&sums.tied_s0, 1)
        } else {
            Vec::new()
        },
        tied_s1: if efron {
            part(&sums.tied_s1, p)
        } else {
            Vec::new()
        },
        tied_s2: if efron {
            part(&sums.tied_s2, p * p)
        } else {
            Vec::new()
        },
        event_xb: 0.0,
        event_x: vec![0.0; p],
    }
}

/// Cox sums of a model stratified by a variable with `strata` levels (the
/// grid repeated per stratum): each stratum's block passes
/// [`check_cox_sums`], and at `β = 0` the first risk sets of all strata sum
/// to the `Totals` rows (every row is in one stratum).
pub fn check_cox_sums_strata(
    sums: &CoxSiteSums,
    beta: &[f64],
    strata: usize,
    rows: u64,
    events: u64,
    sites: usize,
) -> Result<(), AnalysisError> {
    let t = sums.s0.len();
    if strata == 0 || !t.is_multiple_of(strata) {
        return Err(AnalysisError::Protocol("cox sums do not split into strata"));
    }
    let per = t / strata;
    let mut first = 0u128;
    for s in 0..strata {
        let block = stratum_sums(sums, s * per, (s + 1) * per);
        check_cox_sums(&block, beta, rows, events, sites)?;
        first +=
            u128::from(count(block.s0.first().copied().unwrap_or(0.0), "risk set").unwrap_or(0));
    }
    if total(&counts(&sums.events, "cox events")?) > u128::from(events) {
        return Err(refuse("cox events exceed the events of the totals"));
    }
    if beta.iter().all(|&b| b == 0.0) && first != u128::from(rows) {
        return Err(refuse("the strata's first risk sets are not every row"));
    }
    Ok(())
}

/// Cox sums with delayed entry: risk sets are not nested, so only what holds
/// at any β is checked (events whole and at most the `Totals` events, `s0 >
/// 0` where there are events, `0 ≤ tied_s0 ≤ s0`); at `β = 0` every `s0`
/// counts its risk set and must equal `expected` (from the bins' pooled
/// entries and exits, one per grid point, stratum-major), every tied sum its
/// events.
pub fn check_cox_sums_entered(
    sums: &CoxSiteSums,
    beta: &[f64],
    expected: &[u64],
    events: u64,
    sites: usize,
) -> Result<(), AnalysisError> {
    let t = sums.s0.len();
    let efron = sums.ties == Ties::Efron;
    if sums.events.len() != t || expected.len() != t || (efron && sums.tied_s0.len() != t) {
        return Err(AnalysisError::Protocol("cox sums of unequal length"));
    }
    let d = counts(&sums.events, "cox events")?;
    if total(&d) > u128::from(events) {
        return Err(refuse("cox events exceed the events of the totals"));
    }
    for (j, (&s0, &events_j)) in sums.s0.iter().zip(&d).enumerate() {
        let tol = slack(sites, s0);
        if below(s0, -tol) || (events_j > 0 && below(s0, f64::MIN_POSITIVE)) {
            return Err(refuse(
                "risk-set sums are not positive where there are events",
            ));
        }
        if efron && (below(sums.tied_s0[j], -tol) || below(s0 + tol, sums.tied_s0[j])) {
            return Err(refuse("tied-event sums exceed the risk-set sums"));
        }
    }
    if beta.iter().all(|&b| b == 0.0) {
        if counts(&sums.s0, "risk-set sums at zero coefficients")? != expected {
            return Err(refuse(
                "risk-set sums at zero coefficients differ from the bins' entries and exits",
            ));
        }
        if efron && counts(&sums.tied_s0, "tied")? != d {
            return Err(refuse(
                "tied-event sums at zero coefficients differ from events",
            ));
        }
    }
    Ok(())
}

/// Fine–Gray sums (Breslow, one point per grid time, no strata) against the
/// pooled competing-risks counts of the same grid (`events_of_interest`, one
/// per grid time, from the `CifCounts` round the censoring curve was built
/// from): the events at every grid time are exactly those counts (so at most
/// the `Totals` events); `s0 > 0` where there are events, `s0 ≥ 0`
/// elsewhere; the weighted risk sets do not grow along the grid (a row
/// leaving at t_j comes back, if competing, with weight `G(t_{j+1}−)/G(t_j−)
/// ≤ 1`); at `β = 0` the first risk set is every row and none is larger.
pub fn check_finegray_sums(
    sums: &CoxSiteSums,
    beta: &[f64],
    events_of_interest: &[u64],
    rows: u64,
    sites: usize,
) -> Result<(), AnalysisError> {
    let t = sums.s0.len();
    if sums.ties != Ties::Breslow || sums.events.len() != t || events_of_interest.len() != t {
        return Err(AnalysisError::Protocol("fine-gray sums of the wrong shape"));
    }
    let d = counts(&sums.events, "fine-gray events")?;
    if d != events_of_interest {
        return Err(refuse(
            "fine-gray events differ from the competing-risks counts",
        ));
    }
    let s0 = &sums.s0;
    for j in 0..t {
        let tol = slack(sites, s0[j]);
        if below(s0[j], -tol) || (d[j] > 0 && below(s0[j], f64::MIN_POSITIVE)) {
            return Err(refuse(
                "risk-set sums are not positive where there are events",
            ));
        }
        if let Some(&next) = s0.get(j + 1)
            && below(s0[j] + 3.0 * tol, next)
        {
            return Err(refuse("risk-set sums grow along the grid"));
        }
    }
    if beta.iter().all(|&b| b == 0.0) {
        let n = rows as f64;
        let tol = slack(sites, n);
        if s0
            .first()
            .is_some_and(|&first| (first - n).abs() > tol.max(COUNT_TOLERANCE))
        {
            return Err(refuse("the first risk set is not every row"));
        }
    }
    Ok(())
}

/// IRLS start (`XᵀWX`, `XᵀWz`) for `p` coefficients: the diagonal of `XᵀWX`
/// is a sum of `w x² ≥ 0`, so it is ≥ 0 up to the codec's rounding.
pub fn check_glm_start(start: &GlmStart, p: usize, sites: usize) -> Result<(), AnalysisError> {
    diagonal(&start.xtwx, p, sites, "start information")
}

/// A GLM step: `n` equals the `Totals` rows, the deviance (a sum of unit
/// deviances ≥ 0) and the information diagonal (sums of `w x² ≥ 0`) are ≥ 0
/// up to rounding.
pub fn check_glm_step(agg: &GlmAggregate, rows: u64, sites: usize) -> Result<(), AnalysisError> {
    if count(agg.n, "glm n")? != rows {
        return Err(refuse("glm n differs from the rows of the totals"));
    }
    if below(agg.deviance, -slack(sites, agg.n)) {
        return Err(refuse("glm deviance is negative"));
    }
    diagonal(&agg.information, agg.score.len(), sites, "glm information")
}

fn diagonal(m: &[f64], p: usize, sites: usize, what: &str) -> Result<(), AnalysisError> {
    if m.len() != p * p {
        return Err(AnalysisError::Protocol(
            "information matrix has the wrong size",
        ));
    }
    if (0..p).any(|i| below(m[i * p + i], -slack(sites, 0.0))) {
        return Err(refuse(&format!("{what} has a negative diagonal")));
    }
    Ok(())
}

/// The summed `Describe` vector for `analysis` with histogram `edges` (as in
/// the computation): per variable `n` equals the `Totals` rows and `Σx² ≥
/// (Σx)²/n` (Cauchy–Schwarz: a variance is never negative); histogram counts
/// whole, ≥ 0 and summing to `n`; strata counts whole, ≥ 0, summing to rows.
pub fn check_describe(
    v: &[f64],
    analysis: &Analysis,
    edges: &[f64],
    rows: u64,
    sites: usize,
) -> Result<(), AnalysisError> {
    let Analysis::Describe {
        variables, strata, ..
    } = analysis
    else {
        return Err(AnalysisError::Protocol(
            "describe check for another analysis",
        ));
    };
    let k = variables.len();
    let bins = if edges.len() >= 2 { edges.len() + 1 } else { 0 };
    let strata = 2 * usize::from(strata.is_some());
    if v.len() != 3 * k + k * bins + strata {
        return Err(AnalysisError::Protocol(
            "describe vector has the wrong length",
        ));
    }
    let (moments, rest) = v.split_at(3 * k);
    let (hist, strata) = rest.split_at(k * bins);
    for m in moments.chunks(3) {
        let (n, s, ss) = (count(m[0], "describe n")?, m[1], m[2]);
        if n != rows {
            return Err(refuse("describe n differs from the rows of the totals"));
        }
        let mean = if n > 0 { s / n as f64 } else { 0.0 };
        // Σx and Σx² each carry the codec error; (Σx)²/n moves by 2·mean per unit of Σx
        let tol = slack(sites, ss) + sites.max(1) as f64 * CODEC_RESOLUTION * 2.0 * mean.abs();
        if below(ss, s * mean - tol) {
            return Err(refuse("sum of squares below the square of the sum over n"));
        }
    }
    for h in hist.chunks(bins.max(1)) {
        if total(&counts(h, "histogram counts")?) != u128::from(rows) {
            return Err(refuse("histogram counts do not sum to n"));
        }
    }
    if !strata.is_empty() && total(&counts(strata, "strata counts")?) != u128::from(rows) {
        return Err(refuse("strata counts do not sum to the rows of the totals"));
    }
    Ok(())
}
