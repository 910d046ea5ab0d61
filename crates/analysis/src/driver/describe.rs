//! The describe release: moments, histograms, quartiles and strata from the
//! summed describe vector, with the optional discrete-Laplace noise. Kept apart
//! from the round-driving code in `driver.rs` so each file stays readable.

use super::whole;
use crate::result::{DescribeResult, RunInfo, VariableSummary, cell};
use crate::{AnalysisError, AnalysisLimits, dp};
use oncofed_protocol::analysis::Variable;

/// Releases a describe run from its summed vector `v`.
pub(super) fn describe(
    v: Vec<f64>,
    variables: &[Variable],
    edges: &[f64],
    strata: &Option<Variable>,
    limits: &AnalysisLimits,
    dp: Option<(f64, bool)>,
    run: RunInfo,
) -> Result<DescribeResult, AnalysisError> {
    let k = variables.len();
    let bins = if edges.len() >= 2 { edges.len() + 1 } else { 0 };
    // The released counts: n per variable, the histograms, the strata.
    let mut counts: Vec<f64> = (0..k).map(|i| v[3 * i]).collect();
    counts.extend_from_slice(&v[3 * k..3 * k + k * bins]);
    let strata_at = 3 * k + k * bins;
    if strata.is_some() {
        counts.extend_from_slice(&v[strata_at..strata_at + 2]);
    }
    let mut run = run;
    let epsilon = dp.map(|(e, _)| e);
    let released: Vec<u64> = if let Some((_, true)) = dp {
        // The sites added their shares of the noise before masking: the sums
        // (and the Totals' rows and events) arrive noised, the hub never held
        // the exact counts, and only rounding is left (post-processing).
        counts.iter().map(|&c| whole(c)).collect()
    } else if let Some(e) = epsilon {
        // The run's rows and events are counts of people too: exact beside noised
        // counts, two releases with and without a criterion would show the exact
        // difference (issue 11). They join the noised vector.
        counts.push(run.rows as f64);
        counts.push(run.events as f64);
        // Adding or removing one person changes each variable's n by 1, one bin
        // per histogram by 1, one stratum by 1, rows by 1 and events by at most 1:
        // L1 sensitivity k + k·[bins] + [strata] + 2.
        let sensitivity =
            (k + if bins > 0 { k } else { 0 } + usize::from(strata.is_some()) + 2) as f64;
        let mut noised = dp::noise_counts(&counts, sensitivity, e)?;
        run.events = noised.pop().unwrap_or(0);
        run.rows = noised.pop().unwrap_or(0);
        noised
    } else {
        counts.iter().map(|&c| whole(c)).collect()
    };
    let mut out = Vec::new();
    for (i, var) in variables.iter().enumerate() {
        let n_true = v[3 * i];
        let n = cell(released[i], limits.min_cell);
        let hist: Vec<u64> = if bins > 0 {
            released[k + i * bins..k + (i + 1) * bins].to_vec()
        } else {
            Vec::new()
        };
        let (mean, sd) = match (n, epsilon) {
            (None, _) => (None, None),
            (Some(_), None) => {
                let (s, ss) = (v[3 * i + 1], v[3 * i + 2]);
                let mean = s / n_true;
                let var = if n_true > 1.0 {
                    ((ss - n_true * mean * mean) / (n_true - 1.0)).max(0.0)
                } else {
                    f64::NAN
                };
                (Some(mean), var.is_finite().then(|| var.sqrt()))
            }
            // Under DP the moments come from the noised histogram (post-processing).
            (Some(_), Some(_)) => histogram_moments(edges, &hist),
        };
        out.push(VariableSummary {
            name: var.name(),
            n,
            mean,
            sd,
            histogram: hist
                .iter()
                .take(bins.saturating_sub(2))
                .map(|&c| cell(c, limits.min_cell))
                .collect(),
            outside: (bins > 0).then(|| {
                (
                    cell(hist[bins - 2], limits.min_cell),
                    cell(hist[bins - 1], limits.min_cell),
                )
            }),
            quartiles: (bins > 0 && n.is_some())
                .then(|| quartiles(edges, &hist[..bins - 2]))
                .flatten(),
        });
    }
    let strata = strata.as_ref().map(|s| {
        let at = released.len() - 2;
        (
            s.name(),
            cell(released[at], limits.min_cell),
            cell(released[at + 1], limits.min_cell),
        )
    });
    Ok(DescribeResult {
        run,
        edges: edges.to_vec(),
        variables: out,
        strata,
    })
}

/// Mean and SD from a histogram (bin midpoints), for DP releases.
fn histogram_moments(edges: &[f64], hist: &[u64]) -> (Option<f64>, Option<f64>) {
    let inner = &hist[..hist.len().saturating_sub(2)];
    let n: u64 = inner.iter().sum();
    if n < 2 {
        return (None, None);
    }
    let mids: Vec<f64> = edges.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    let mean = inner
        .iter()
        .zip(&mids)
        .map(|(&c, m)| c as f64 * m)
        .sum::<f64>()
        / n as f64;
    let var = inner
        .iter()
        .zip(&mids)
        .map(|(&c, m)| c as f64 * (m - mean).powi(2))
        .sum::<f64>()
        / (n as f64 - 1.0);
    (Some(mean), Some(var.sqrt()))
}

/// Quartiles by linear interpolation within the bins of `edges`.
fn quartiles(edges: &[f64], hist: &[u64]) -> Option<[f64; 3]> {
    let n: u64 = hist.iter().sum();
    if n == 0 {
        return None;
    }
    let q = |p: f64| {
        let target = p * n as f64;
        let mut below = 0.0;
        for (i, &c) in hist.iter().enumerate() {
            let c = c as f64;
            if c > 0.0 && below + c >= target {
                let frac = (target - below) / c;
                return edges[i] + frac * (edges[i + 1] - edges[i]);
            }
            below += c;
        }
        edges[edges.len() - 1]
    };
    Some([q(0.25), q(0.5), q(0.75)])
}
