//! The fixed layouts of the summed vectors the hub decodes: Cox sums and
//! aggregates, GLM start and steps, Kaplan–Meier counts.

use crate::AnalysisError;
use oncofed_stats::{CoxAggregate, CoxSiteSums, GlmAggregate, GlmStart, KmCounts, Ties};

/// Cox sums as one vector: events, s0, s1, s2, tied_s0, tied_s1, tied_s2, event_xb, event_x.
pub fn flatten_cox_sums(s: &CoxSiteSums) -> Vec<f64> {
    let mut out = Vec::new();
    for part in [
        &s.events, &s.s0, &s.s1, &s.s2, &s.tied_s0, &s.tied_s1, &s.tied_s2,
    ] {
        out.extend_from_slice(part);
    }
    out.push(s.event_xb);
    out.extend_from_slice(&s.event_x);
    out
}

/// Inverse of [`flatten_cox_sums`] for `p` coefficients and `t` grid points.
pub fn unflatten_cox_sums(
    v: &[f64],
    p: usize,
    t: usize,
    ties: Ties,
) -> Result<CoxSiteSums, AnalysisError> {
    let mut s = CoxSiteSums::zeros(p, t, ties);
    let mut rest = v;
    for part in [
        &mut s.events,
        &mut s.s0,
        &mut s.s1,
        &mut s.s2,
        &mut s.tied_s0,
        &mut s.tied_s1,
        &mut s.tied_s2,
    ] {
        let n = part.len();
        let (head, tail) = split(rest, n)?;
        part.copy_from_slice(head);
        rest = tail;
    }
    let (xb, tail) = split(rest, 1)?;
    s.event_xb = xb[0];
    let (x, tail) = split(tail, p)?;
    s.event_x.copy_from_slice(x);
    if !tail.is_empty() {
        return Err(AnalysisError::Protocol("cox sums vector too long"));
    }
    Ok(s)
}

fn split(v: &[f64], n: usize) -> Result<(&[f64], &[f64]), AnalysisError> {
    if v.len() < n {
        return Err(AnalysisError::Protocol("summed vector too short"));
    }
    Ok(v.split_at(n))
}

/// The summed [`Computation::CoxStratum`] vector as a [`CoxAggregate`].
pub fn unflatten_cox_aggregate(v: &[f64], p: usize) -> Result<CoxAggregate, AnalysisError> {
    let (head, rest) = split(v, 2)?;
    let (gradient, hessian) = split(rest, p)?;
    Ok(CoxAggregate {
        loglik: head[0],
        events: head[1],
        gradient: gradient.to_vec(),
        hessian: hessian.to_vec(),
    })
}

/// The summed [`Computation::GlmStart`] vector.
pub fn unflatten_glm_start(v: &[f64], p: usize) -> Result<GlmStart, AnalysisError> {
    let (xtwx, xtwz) = split(v, p * p)?;
    Ok(GlmStart {
        xtwx: xtwx.to_vec(),
        xtwz: xtwz.to_vec(),
    })
}

/// The summed [`Computation::GlmStep`] vector.
pub fn unflatten_glm(v: &[f64], p: usize) -> Result<GlmAggregate, AnalysisError> {
    let (head, rest) = split(v, 3)?;
    let (score, information) = split(rest, p)?;
    Ok(GlmAggregate {
        n: head[0],
        loglik: head[1],
        deviance: head[2],
        score: score.to_vec(),
        information: information.to_vec(),
    })
}

/// The summed [`Computation::KmCounts`] vector, one [`KmCounts`] per group.
/// Counts are sums of whole numbers, so rounding removes the fixed-point error.
pub fn unflatten_km(v: &[f64], t: usize, groups: usize) -> Result<Vec<KmCounts>, AnalysisError> {
    if v.len() != 2 * t * groups {
        return Err(AnalysisError::Protocol(
            "km counts vector has the wrong length",
        ));
    }
    let whole = |x: &f64| x.round().max(0.0) as u64;
    Ok(v.chunks(2 * t)
        .map(|c| KmCounts {
            at_risk: c[..t].iter().map(whole).collect(),
            events: c[t..].iter().map(whole).collect(),
        })
        .collect())
}
