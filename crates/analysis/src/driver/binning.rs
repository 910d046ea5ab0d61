//! Time bins for survival analyses (issue 11, item 3): no sum the hub sees
//! covers fewer than k persons, k the security level's minimum cell.
//!
//! An exact Cox or Kaplan–Meier fit sums over risk sets and tied deaths per
//! event day. A day with one death hands the hub that patient's covariates
//! (the tied sums at β = 0), and two risk sets that differ by one censored
//! patient hand it theirs. So the sites move every time to the last day of a
//! bin, and the hub asks for sums only on bins that hold **0 or ≥ k exits,
//! 0 or ≥ k deaths and 0 or ≥ k censorings** across the federation. Every risk
//! set is then a union of whole bins, the difference of any two risk sets is
//! whole bins (≥ k exits), every tied-death sum covers ≥ k deaths, and the
//! difference between a bin's exits and its tied deaths (what an Efron fit's
//! sums give away: the bin's censored rows) covers ≥ k censorings. The
//! censoring rule was added after a review found that a bin of 10 exits with
//! 9 deaths let the hub subtract the tied-death sums from the risk-set
//! difference and read the one censored patient's covariates.
//!
//! The bins are found from counts only ([`Computation::ExitCounts`]: exits and
//! deaths per bin, masked like every vector): [`COARSE_BINS`] dyadic bins over
//! the horizon, merged until each is valid, then halved, one round per level
//! and at most [`MAX_REFINEMENTS`] levels, where both halves stay valid. The
//! hub learns the pooled exit and death counts of the bins it tried, never a
//! covariate sum over them; a bin narrower than the final ones is never asked
//! for anything else.

use super::Rounds;
use crate::AnalysisError;
use crate::result::TimeBins;
use oncofed_protocol::analysis::Computation;

/// Bins over the horizon at the start (before merging).
pub const COARSE_BINS: u32 = 16;

/// Halving rounds at most; with the coarse width of a 10-year horizon (256
/// days) the narrowest possible bin is 4 days.
pub const MAX_REFINEMENTS: usize = 6;

/// Bins with their pooled exit and death counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Bins {
    /// Edges in days, `0 = edges[0] < … < edges[b] = horizon + 1`.
    pub edges: Vec<f64>,
    /// Exits (deaths and censorings) per bin.
    pub exits: Vec<u64>,
    /// Deaths per bin.
    pub deaths: Vec<u64>,
}

impl Bins {
    /// The last day of every bin: the grid of the binned fit. Every bin, not
    /// only those with deaths, so that no site's death is ever off the grid: a
    /// site then never refuses for a reason that depends on its data (the
    /// grid-omission probe, where the sites with a death on an omitted day
    /// refused and so named themselves). Bins without deaths add nothing to
    /// the estimates.
    pub fn grid(&self) -> Vec<f64> {
        self.edges[1..].iter().map(|e| e - 1.0).collect()
    }

    /// What the result states about the binning.
    pub fn describe(&self) -> TimeBins {
        TimeBins {
            exact: false,
            bins: self.exits.len(),
            min_exits: self
                .exits
                .iter()
                .copied()
                .filter(|&e| e > 0)
                .min()
                .unwrap_or(0),
            narrowest_days: self
                .edges
                .windows(2)
                .map(|w| (w[1] - w[0]) as u32)
                .min()
                .unwrap_or(0),
            edges: self.edges.clone(),
        }
    }
}

/// A bin may be summed over: nobody, or at least `k` exits of which at least
/// `k` deaths or none and at least `k` censorings or none.
fn valid(exits: u64, deaths: u64, k: u64) -> bool {
    let censored = exits.saturating_sub(deaths);
    (exits == 0 || exits >= k) && (deaths == 0 || deaths >= k) && (censored == 0 || censored >= k)
}

/// Merges neighbouring bins until every bin is [`valid`]; `None` when even
/// one bin over the whole follow-up is not (fewer than k deaths in all).
pub fn merge(edges: &[f64], exits: &[u64], deaths: &[u64], k: u64) -> Option<Bins> {
    let mut out = Bins {
        edges: vec![edges[0]],
        exits: Vec::new(),
        deaths: Vec::new(),
    };
    let (mut acc_exits, mut acc_deaths) = (0u64, 0u64);
    for i in 0..exits.len() {
        acc_exits += exits[i];
        acc_deaths += deaths[i];
        if acc_exits >= k && valid(acc_exits, acc_deaths, k) {
            out.edges.push(edges[i + 1]);
            out.exits.push(acc_exits);
            out.deaths.push(acc_deaths);
            (acc_exits, acc_deaths) = (0, 0);
        }
    }
    let end = edges[edges.len() - 1];
    if out.exits.is_empty() {
        // nothing closed: one bin over everything, if that is valid
        out.edges.push(end);
        out.exits.push(acc_exits);
        out.deaths.push(acc_deaths);
    } else {
        // the rest (too few to close a bin) joins the last closed bin
        *out.edges.last_mut()? = end;
        *out.exits.last_mut()? += acc_exits;
        *out.deaths.last_mut()? += acc_deaths;
    }
    // joining may have left the last bin with 1..k deaths: merge backwards
    while out.exits.len() > 1 {
        let last = out.exits.len() - 1;
        if valid(out.exits[last], out.deaths[last], k) {
            break;
        }
        let (e, d) = (out.exits.pop()?, out.deaths.pop()?);
        out.edges.remove(last);
        out.exits[last - 1] += e;
        out.deaths[last - 1] += d;
    }
    if out.exits.len() == 1 && !valid(out.exits[0], out.deaths[0], k) {
        return None;
    }
    Some(out)
}

/// The coarse dyadic edges over `[0, horizon + 1)`.
pub fn coarse_edges(horizon: u32) -> Vec<f64> {
    let end = u64::from(horizon) + 1;
    let width = end.div_ceil(u64::from(COARSE_BINS)).next_power_of_two();
    let mut edges: Vec<f64> = (0..end).step_by(width as usize).map(|e| e as f64).collect();
    edges.push(end as f64);
    edges
}

fn whole(x: f64) -> u64 {
    x.round().max(0.0) as u64
}

/// One count round on `edges`: exits and deaths per bin.
fn counts(rounds: &mut Rounds<'_>, edges: &[f64]) -> Result<(Vec<u64>, Vec<u64>), AnalysisError> {
    let v = rounds.sum(Computation::ExitCounts {
        edges: edges.to_vec(),
    })?;
    let b = edges.len() - 1;
    let (rows, events) = rounds.totals;
    crate::plausibility::check_exit_counts(&v[..b], &v[b..], rows, events)?;
    Ok((
        v[..b].iter().map(|x| whole(*x)).collect(),
        v[b..].iter().map(|x| whole(*x)).collect(),
    ))
}

/// Finds the bins of a survival analysis over `horizon` days for minimum
/// cell `k`: the coarse count round, the merge, and up to
/// [`MAX_REFINEMENTS`] halving rounds.
pub(super) fn time_bins(
    rounds: &mut Rounds<'_>,
    horizon: u32,
    k: u64,
) -> Result<Bins, AnalysisError> {
    let k = k.max(1);
    let edges = coarse_edges(horizon);
    let (exits, deaths) = counts(rounds, &edges)?;
    let mut bins = merge(&edges, &exits, &deaths, k).ok_or_else(|| {
        AnalysisError::Disclosure(format!(
            "no time bin can be released: the follow-up has fewer than {k} events, or fewer than {k} censorings but some"
        ))
    })?;
    for _ in 0..MAX_REFINEMENTS {
        let split: Vec<bool> = (0..bins.exits.len())
            .map(|i| bins.edges[i + 1] - bins.edges[i] >= 2.0 && bins.exits[i] >= 2 * k)
            .collect();
        if !split.contains(&true) {
            break;
        }
        let mut proposed = vec![bins.edges[0]];
        for (i, &s) in split.iter().enumerate() {
            let (lo, hi) = (bins.edges[i], bins.edges[i + 1]);
            if s {
                proposed.push(lo + ((hi - lo) / 2.0).floor());
            }
            proposed.push(hi);
        }
        let (exits, deaths) = counts(rounds, &proposed)?;
        let mut next = Bins {
            edges: vec![bins.edges[0]],
            exits: Vec::new(),
            deaths: Vec::new(),
        };
        let mut j = 0;
        let mut changed = false;
        for &s in &split {
            let halves_valid =
                s && valid(exits[j], deaths[j], k) && valid(exits[j + 1], deaths[j + 1], k);
            if halves_valid {
                changed = true;
                for h in 0..2 {
                    next.edges.push(proposed[j + h + 1]);
                    next.exits.push(exits[j + h]);
                    next.deaths.push(deaths[j + h]);
                }
            } else {
                let n = if s { 2 } else { 1 };
                next.edges.push(proposed[j + n]);
                next.exits.push(exits[j..j + n].iter().sum());
                next.deaths.push(deaths[j..j + n].iter().sum());
            }
            j += if s { 2 } else { 1 };
        }
        bins = next;
        if !changed {
            break;
        }
    }
    Ok(bins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_edges_cover_the_horizon_in_dyadic_bins() {
        let e = coarse_edges(3650);
        assert_eq!(e[0], 0.0);
        assert_eq!(e[1], 256.0);
        assert_eq!(*e.last().unwrap(), 3651.0);
        assert_eq!(coarse_edges(0), vec![0.0, 1.0]);
        assert_eq!(
            coarse_edges(15),
            (0..=16).map(f64::from).collect::<Vec<_>>()
        );
    }

    #[test]
    fn merging_leaves_no_bin_with_one_to_k_minus_one_exits_or_deaths() {
        let edges: Vec<f64> = (0..=6).map(f64::from).collect();
        let exits = [1, 5, 0, 2, 4, 1];
        let deaths = [1, 2, 0, 1, 0, 1];
        let b = merge(&edges, &exits, &deaths, 3).unwrap();
        for (e, d) in b.exits.iter().zip(&b.deaths) {
            assert!(valid(*e, *d, 3), "{b:?}");
        }
        assert_eq!(b.exits.iter().sum::<u64>(), 13);
        assert_eq!(b.deaths.iter().sum::<u64>(), 5);
        assert_eq!(*b.edges.last().unwrap(), 6.0);
        // two deaths in all can never be released with k = 3
        assert!(merge(&edges, &exits, &[0, 1, 0, 0, 0, 1], 3).is_none());
        // no deaths at all: one valid bin (the fit then reports no events)
        assert!(merge(&edges, &exits, &[0; 6], 3).is_some());
    }

    #[test]
    fn a_bin_never_holds_one_to_k_minus_one_censorings() {
        // 10 exits with 9 deaths: the tied-death sums and the risk-set
        // difference would isolate the one censored patient
        let edges: Vec<f64> = (0..=4).map(f64::from).collect();
        let exits = [10, 4, 3, 5];
        let deaths = [9, 4, 0, 3];
        let b = merge(&edges, &exits, &deaths, 3).unwrap();
        for (e, d) in b.exits.iter().zip(&b.deaths) {
            let censored = e - d;
            assert!(censored == 0 || censored >= 3, "{b:?}");
        }
        assert_eq!(b.exits.iter().sum::<u64>(), 22);
        // all deaths but one censoring in the whole follow-up: nothing releasable
        assert!(merge(&edges[..2], &[10], &[9], 3).is_none());
    }
}
